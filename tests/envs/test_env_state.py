"""Every registered env (and vector env) saves and restores its dynamic state as plain data.

The contract: ``B.set_state(A.get_state())`` on a fresh env ``B`` made with the same arguments, after one
``B.reset()``, makes every later step of ``B`` bit-identical to ``A``'s — here with the state taken in the
middle of an episode and carried through :func:`~rl_suite.state.write_state` / ``read_state`` (JSON + .npz).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rl_suite.envs
from rl_suite import registry
from rl_suite.spaces import Simplex
from rl_suite.state import StateError, StatefulEnv, read_state, write_state

ENVS_DIR = Path(rl_suite.envs.__path__[0])
#: (env id, vector?): every registered env, and the vector form of those with a vector entry point.
CASES = [(e.id, False) for e in registry.ENVS] + [(e.id, True) for e in registry.ENVS if e.vector_entry_point]
CASE_IDS = [f"{i.split('/')[-1]}-{'vector' if v else 'single'}" for i, v in CASES]
#: Steps taken before the state is saved, and compared after it is restored.
BEFORE, AFTER = 37, 100
NUM_ENVS = 3

# Bandits default to 1000 rounds per episode: 25 makes the 37 + 100 steps cross episode ends, with the
# state saved mid-episode. Solver tuning solves every system it plays (a 16-unknown Laplacian, 25
# systems). RLHF: π_ref's SFT dominates construction (20 steps suffice here), and 3 rounds per episode put
# prompt draws inside episodes.
_BANDIT = {"horizon": 25}
SMALL: dict[str, dict[str, Any]] = {
    "rl_suite/LinearContextualBandit-v0": _BANDIT,
    "rl_suite/MultiArmedBandit-v0": _BANDIT,
    "rl_suite/ConstrainedMAB-v0": _BANDIT,
    "rl_suite/StagewiseConstrainedLinearBandit-v0": _BANDIT,
    "rl_suite/SafeLinearBandit-v0": _BANDIT,
    "rl_suite/SORTuning-v0": {"m": 4, "horizon": 25},
    "rl_suite/SSORCGTuning-v0": {"m": 4, "horizon": 25},
    # The toy-text adapters default to 100-200 steps per episode: 30 puts episode ends inside the run.
    "rl_suite/FrozenLakeFiniteHorizon-v0": {"horizon": 30},
    "rl_suite/CliffWalkingFiniteHorizon-v0": {"horizon": 30},
    "rl_suite/TaxiFiniteHorizon-v0": {"horizon": 30},
    "rl_suite/RLHFSequence-v0": {"n_prompts": 8, "sft_steps": 20, "horizon": 3},
    "rl_suite/RLHFToken-v0": {"n_prompts": 8, "sft_steps": 20, "horizon": 3},
}


# ----------------------------------------------------------------------------------------------- helpers


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Bit-identical nested values: same types, same keys, equal arrays of the same dtype and shape."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{path}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        assert a.tobytes() == b.tobytes(), f"{path}: arrays differ"
    else:
        assert a == b or (a != a and b != b), f"{path}: {a!r} != {b!r}"


def make(env_id: str, vector: bool) -> Any:
    kwargs = SMALL.get(env_id, {})
    if vector:
        return gym.make_vec(env_id, num_envs=NUM_ENVS, vectorization_mode="vector_entry_point", **kwargs)
    return gym.make(env_id, **kwargs)


def actions(env: Any, vector: bool) -> Iterator[Any]:
    """Valid random actions, seeded: batched simplex spaces are plain boxes, so sample their rows."""
    single = env.single_action_space if vector else env.action_space
    single.seed(7)
    env.action_space.seed(7)
    while True:
        if vector and isinstance(single, Simplex):
            yield np.stack([single.sample() for _ in range(NUM_ENVS)])
        else:
            yield env.action_space.sample()


def play(env: Any, acts: Iterator[Any], n: int, vector: bool) -> list[Any]:
    """``n`` steps; a single env is reset (without seed) when its episode ends, a vector env autoresets."""
    out: list[Any] = []
    for _ in range(n):
        step = env.step(next(acts))
        out.append(step)
        if not vector and (step[2] or step[3]):
            out.append(env.reset())
    return out


def saved_env(env_id: str, vector: bool) -> tuple[Any, Iterator[Any]]:
    env = make(env_id, vector)
    env.reset(seed=123)
    acts = actions(env, vector)
    play(env, acts, BEFORE, vector)
    return env, acts


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) of a nested state, containers included (a path is a tuple of keys/indices)."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))


def replaced(state: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    out = copy.deepcopy(state)
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = new
    return out


def damaged(value: Any) -> list[Any]:
    """Values that cannot stand where ``value`` stood: wrong type, wrong shape or dtype, wrong length."""
    if isinstance(value, np.ndarray):
        wrong_dtype = np.float32 if value.dtype != np.float32 else np.float64
        return [np.zeros((*value.shape, 2), value.dtype), value.astype(wrong_dtype), value.tolist()]
    if isinstance(value, list):
        return [value[:-1], "x"]
    if isinstance(value, dict):
        return ["x"]
    if isinstance(value, str):
        return [5]
    return ["x"]


# ----------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("env_id", "vector"), CASES, ids=CASE_IDS)
def test_state_restores_bit_identical_steps(env_id: str, vector: bool, tmp_path: Path) -> None:
    a, acts = saved_env(env_id, vector)
    state = a.unwrapped.get_state()
    write_state(state, tmp_path, "env")
    back = read_state(tmp_path, "env")
    b = make(env_id, vector)
    b.reset()
    assert isinstance(b.unwrapped, StatefulEnv)
    b.unwrapped.set_state(back)
    assert_same(b.unwrapped.get_state(), a.unwrapped.get_state(), "state")
    todo = [next(acts) for _ in range(AFTER)]
    assert_same(play(b, iter(todo), AFTER, vector), play(a, iter(todo), AFTER, vector), "steps")
    if hasattr(a.unwrapped, "run_summary"):  # solver tuning: totals over every step, before the save too
        assert_same(b.unwrapped.run_summary(), a.unwrapped.run_summary(), "run_summary")


def _plain(value: Any, path: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), f"{path}: key {k!r}"
            _plain(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _plain(v, f"{path}[{i}]")
    elif isinstance(value, np.ndarray):
        assert value.dtype != object, f"{path}: object array"
    else:
        assert value is None or type(value) in (bool, int, float, str), f"{path}: {type(value).__name__}"


@pytest.mark.parametrize(("env_id", "vector"), CASES, ids=CASE_IDS)
def test_state_is_plain_data(env_id: str, vector: bool) -> None:
    env = make(env_id, vector)
    _plain(env.unwrapped.get_state(), "before reset")  # a state exists before the first reset too
    env.reset(seed=0)
    _plain(env.unwrapped.get_state(), "state")


@pytest.mark.parametrize(("env_id", "vector"), CASES, ids=CASE_IDS)
def test_damaged_state_is_one_line_state_error(env_id: str, vector: bool) -> None:
    env, _ = saved_env(env_id, vector)
    u = env.unwrapped
    state = u.get_state()
    bad: list[tuple[str, Any]] = [("not a mapping", [state]), ("extra key", {**state, "extra": 1})]
    bad += [(f"without {k!r}", {j: v for j, v in state.items() if j != k}) for k in state]
    for path, value in leaves(state):
        if path:
            bad += [(f"{path} = {type(w).__name__}", replaced(state, path, w)) for w in damaged(value)]
    for what, damaged_state in bad:
        try:
            u.set_state(damaged_state)
        except StateError as err:
            assert "\n" not in str(err) and str(err).startswith(type(u).__name__), f"{what}: {err}"
        else:
            pytest.fail(f"{what}: no StateError")
        assert_same(u.get_state(), state, f"after {what}")  # checked before anything is restored


def test_state_of_another_env_is_refused() -> None:
    bandit, _ = saved_env("rl_suite/MultiArmedBandit-v0", False)
    mdp = make("rl_suite/LayeredLureMDP-v0", False)
    mdp.reset()
    with pytest.raises(StateError, match="LayeredLureMDP state has no entry 'h'"):
        mdp.unwrapped.set_state(bandit.unwrapped.get_state())
    wide = gym.make("rl_suite/MultiArmedBandit-v0", n_arms=3)
    wide.reset()
    with pytest.raises(StateError, match=r"round\.means has shape \(1, 10\), expected \(1, 3\)"):
        wide.unwrapped.set_state(bandit.unwrapped.get_state())


def test_pomdp_reference_cut_by_wall_time_travels_with_the_state(tmp_path: Path) -> None:
    # max_seconds=0 stops PBVI after its first sweep: the reference V* then depends on wall time.
    kwargs = {"pbvi_options": {"max_seconds": 0.0}}
    a = gym.make("rl_suite/RockSample-v0", **kwargs)
    a.reset(seed=3)
    acts = actions(a, False)
    play(a, acts, BEFORE, False)
    state = a.unwrapped.get_state()
    assert state["reference"] is not None
    _plain(state, "state")
    write_state(state, tmp_path, "env")
    b = gym.make("rl_suite/RockSample-v0", **kwargs)
    b.reset()
    # What a cut at another moment gives: another reference value and other α-vectors.
    b.unwrapped._solution = {**b.unwrapped.solve(), "optimal_value": -1.0}
    b.unwrapped._pbvi.alphas = b.unwrapped._pbvi.alphas[:1]
    b.unwrapped.set_state(read_state(tmp_path, "env"))
    assert_same(b.unwrapped.solve(), a.unwrapped.solve(), "solve")
    assert_same(b.unwrapped.pbvi_solution().alphas, a.unwrapped.pbvi_solution().alphas, "alphas")
    todo = [next(acts) for _ in range(AFTER)]
    assert_same(play(b, iter(todo), AFTER, False), play(a, iter(todo), AFTER, False), "steps")
    bad = replaced(state, ("reference", "pbvi", "alphas"), np.zeros((2, 3)))
    message = r"reference\.pbvi\.alphas has shape \(2, 3\), expected \(any, 257\)"
    with pytest.raises(StateError, match=message):
        b.unwrapped.set_state(bad)


_BANNED_MODULES = {"pickle", "cloudpickle", "dill", "marshal", "shelve"}


def _violations(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] in _BANNED_MODULES)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _BANNED_MODULES:
            yield f"from {node.module} import"
        elif isinstance(node, ast.Name) and node.id in _BANNED_MODULES | {"eval", "exec"}:
            yield node.id
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "update"
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "__dict__"
        ):
            yield "__dict__.update"


def test_no_env_module_loads_code_from_data() -> None:
    files = sorted(ENVS_DIR.rglob("*.py"))
    assert len(files) > 20
    found = {
        str(p.relative_to(ENVS_DIR)): bad
        for p in files
        if (bad := sorted(set(_violations(ast.parse(p.read_text(encoding="utf-8"))))))
    }
    assert found == {}
    for p in files:  # no spelling that the AST walk could miss (``importlib.import_module("pickle")``)
        text = p.read_text(encoding="utf-8")
        assert '"pickle"' not in text and "'pickle'" not in text and "__dict__.update" not in text, p
