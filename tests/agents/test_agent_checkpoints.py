"""Every registered agent's checkpoint: round trip, no code run on load, one-line errors on damage.

For each agent of ``rl_suite.registry.AGENTS`` on one env it supports (small settings):

* build, learn about 100 steps (exactly 100 unless the agent declares ``exact_budget = False``), save,
  load on a fresh env: the next deterministic predictions are identical;
* every file its ``save`` writes, replaced by a payload that creates a marker file when unpickled (raw
  pickle, a ``torch.save`` archive of it, an ``.npz`` object array; bare and with a valid checksum line):
  ``load`` is one :class:`UserError` line and the marker never appears;
* every file truncated, emptied, deleted, bit-flipped, appended to, or replaced by well-formed files of the
  wrong content or of another agent class: one :class:`UserError` line naming the file.

And SB3's learn budget: a callback returning ``False`` stops SB3 on that very step, on- and off-policy.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pathlib
import pickle
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from rl_suite import registry
from rl_suite.agents.base import Agent, ArrayAgent
from rl_suite.agents.checkpoint import (
    FORMAT,
    CheckpointError,
    class_id,
    open_npz,
    parse_json,
    parse_torch,
    read_sealed,
    seal,
    sha256,
    write_json,
    write_sealed,
)
from rl_suite.agents.rlhf_base import SequenceAgent
from rl_suite.agents.sb3 import SB3Agent
from rl_suite.config import agent_class
from rl_suite.errors import UserError
from rl_suite.regret import RegretRecorder
from tests.helpers import same

LINEAR = "rl_suite/LinearContextualBandit-v0"
MAB = "rl_suite/MultiArmedBandit-v0"
CMAB = "rl_suite/ConstrainedMAB-v0"
CLIN = "rl_suite/StagewiseConstrainedLinearBandit-v0"
SAFE = "rl_suite/SafeLinearBandit-v0"
SOR = "rl_suite/SORTuning-v0"
SIMPLEX = "rl_suite/SimplexLinearMDP-v0"
LOCK = "rl_suite/LinearChainLock-v0"
COMBLOCK = "rl_suite/DiabolicalCombLock-v0"
FROZEN = "rl_suite/FrozenLakeFiniteHorizon-v0"
LURE = "rl_suite/LayeredLureMDP-v0"
TIGER = "rl_suite/Tiger-v0"
SEQ = "rl_suite/RLHFSequence-v0"

SMALL_LIN = {"dim": 3, "n_arms": 4}
SMALL_MAB = {"n_arms": 4}
SMALL_SOR = {"m": 4, "horizon": 50, "instance_seed": 0}
SMALL_LURE = {"lure_depth": 3, "instance_seed": 0}
#: The RLHF sandbox at V=3, L=3 (27 responses), 6 prompts, a quickly trained SFT reference.
SMALL_SEQ = {"task": "target_string", "vocab_size": 3, "response_length": 3, "n_prompts": 6, "sft_steps": 30}
TINY_PPO = {"n_steps": 32, "batch_size": 32, "n_epochs": 1}
SEQ_SETTINGS = {"device": "cpu", "batch_prompts": 3}

#: One supported env (id, kwargs) and small settings per registered agent.
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "linucb": (LINEAR, SMALL_LIN, {}),
    "linucb-hybrid": (LINEAR, SMALL_LIN, {}),
    "oful": (LINEAR, SMALL_LIN, {}),
    "suplinucb": (LINEAR, SMALL_LIN, {"horizon": 100, "alpha": 0.0}),
    "ds-oful": (LINEAR, {**SMALL_LIN, "model": "shared"}, {}),
    "disbe-lucb": (LINEAR, {**SMALL_LIN, "model": "shared"}, {"n_agents": 3}),
    "sa-lasso-bandit": (LINEAR, {**SMALL_LIN, "model": "shared"}, {}),
    "lin-ts": (LINEAR, SMALL_LIN, {}),
    "epsilon-greedy": (MAB, SMALL_MAB, {}),
    "ucb1": (MAB, SMALL_MAB, {}),
    "bernoulli-ts": (MAB, SMALL_MAB, {}),
    "opb": (CMAB, {"n_arms": 5, "instance_seed": 10}, {}),
    "oplb": (CLIN, {"dim": 3, "n_actions": 5}, {}),
    "safe-linucb": (SAFE, {"instance_seed": 7, "n_directions": 5}, {}),
    "lagrangian": (CMAB, {"n_arms": 5, "instance_seed": 10}, {}),
    "tsallis-inf": (MAB, SMALL_MAB, {}),
    "tsallis-inf-cb": (SOR, SMALL_SOR, {"bins": 3}),
    "chebcb": (SOR, SMALL_SOR, {}),
    "exp3": (MAB, SMALL_MAB, {}),
    "fixed-arm": (MAB, SMALL_MAB, {}),
    "instance-oracle": (SOR, SMALL_SOR, {}),
    "lsvi-ucb": (SIMPLEX, {}, {}),
    "eps-lsvi": (LOCK, {}, {}),
    "briee-lite": (COMBLOCK, {"horizon": 3, "n_actions": 4}, {"update_every": 5, "train_steps": 10}),
    "ucbvi": (FROZEN, {}, {}),
    "mdp-oracle": (FROZEN, {}, {}),
    "window-ucbvi": (TIGER, {}, {"window": 1}),
    "omle-lite": (TIGER, {}, {"n_models": 4}),
    "belief-planner": (TIGER, {}, {}),
    "sqirl": (LURE, SMALL_LURE, {"episodes_per_timestep": 2, "planning_depth": 2, "regressor": "mlp"}),
    "gorp": (LURE, SMALL_LURE, {"planning_depth": 2, "restart": True}),
    "ppo": (LINEAR, SMALL_LIN, {"device": "cpu", "hyperparams": TINY_PPO}),
    "a2c": (FROZEN, {}, {"device": "cpu", "hyperparams": {"n_steps": 8}}),
    "dqn": (LINEAR, SMALL_LIN, {"device": "cpu", "hyperparams": {"learning_starts": 10, "buffer_size": 500}}),
    "recurrent-ppo": (TIGER, {}, {"device": "cpu", "hyperparams": TINY_PPO}),
    "ppo-framestack": (TIGER, {}, {"device": "cpu", "hyperparams": TINY_PPO}),
    "rebel": (SEQ, SMALL_SEQ, SEQ_SETTINGS),
    "a-star-po": (SEQ, SMALL_SEQ, SEQ_SETTINGS),
    "grpo": (SEQ, SMALL_SEQ, {**SEQ_SETTINGS, "num_generations": 2}),
    "rloo": (SEQ, SMALL_SEQ, SEQ_SETTINGS),
    "online-dpo": (SEQ, SMALL_SEQ, SEQ_SETTINGS),
    "dpo": (SEQ, SMALL_SEQ, {**SEQ_SETTINGS, "n_pairs": 32}),
    "ipo": (SEQ, SMALL_SEQ, {**SEQ_SETTINGS, "n_pairs": 32}),
    "chi-po": (SEQ, SMALL_SEQ, {**SEQ_SETTINGS, "n_pairs": 32}),
    "reward-model": (SEQ, SMALL_SEQ, {**SEQ_SETTINGS, "best_of": 2}),
}
NAMES = list(CASES)
STEPS = 100
#: torch warns when the weights-only reader meets a raw pickle of protocol > 2 (the payload tests do that).
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")


def _skip_if_missing(name: str) -> None:
    entry = registry.agent_entry(name)
    if entry.requires and importlib.util.find_spec(entry.requires.replace("-", "_")) is None:
        pytest.skip(f"{name} needs {entry.requires}")


def _env(name: str) -> RegretRecorder:
    env_id, kwargs, _ = CASES[name]
    registry.register_envs()
    family = registry.env_entry(env_id).family
    return RegretRecorder(gym.make(env_id, **kwargs), constrained=family in registry.CONSTRAINED_FAMILIES)


def _observations(name: str, n: int = 5) -> list[Any]:
    """Real observations of the agent's env: the reset one, then after random actions."""
    env = _env(name)
    env.action_space.seed(7)
    obs, _ = env.reset(seed=11)
    seen = [obs]
    while len(seen) < n:
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
        seen.append(obs)
    return seen


_SAVED: dict[str, list[Path]] = {}


def _train_and_save(name: str, folder: Path) -> tuple[Agent, list[Path]]:
    cls = agent_class(name)
    env = _env(name)
    agent = cls(env, CASES[name][2], seed=3)
    agent.learn(STEPS)
    if cls.exact_budget:
        assert env.total_steps == STEPS == agent.num_timesteps
    else:
        assert env.total_steps == agent.num_timesteps >= STEPS
    folder.mkdir(parents=True, exist_ok=True)
    agent.save(folder / "agent.ckpt")
    files = cls.saved_files(folder / "agent.ckpt")
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in files)  # nothing else
    _SAVED[name] = files
    return agent, files


def _saved(name: str, factory: pytest.TempPathFactory) -> list[Path]:
    """The files of a saved agent (trained once per session)."""
    if name not in _SAVED:
        _train_and_save(name, factory.mktemp(f"saved-{name}"))
    return _SAVED[name]


def _copy(files: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, folder / f.name)
    return [folder / f.name for f in files]


def _assert_one_line_error(load: Callable[[], Any], names: Path | None) -> str:
    with pytest.raises(UserError) as info:
        load()
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message
    if names is not None:
        assert str(names) in message, message
    return message


# --------------------------------------------------------------------------- coverage
def test_every_registered_agent_has_a_case() -> None:
    assert set(CASES) == {a.name for a in registry.AGENTS}
    for name, (env_id, _, _) in CASES.items():
        registry.check_pairing(name, env_id)


def test_only_sb3_agents_overshoot_the_budget() -> None:
    overshooting = {name for name in NAMES if not agent_class(name).exact_budget}
    assert overshooting == {
        a.name for a in registry.AGENTS if a.entry_point.startswith("rl_suite.agents.sb3")
    }


# --------------------------------------------------------------------------- (a) round trip
@pytest.mark.parametrize("name", NAMES)
def test_save_load_predicts_identically(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    _skip_if_missing(name)
    agent, files = _train_and_save(name, tmp_path_factory.mktemp(f"saved-{name}"))
    cls = type(agent)
    fresh = _env(name)
    fresh.reset(seed=0)
    loaded = cls.load(files[0], fresh)
    assert loaded.num_timesteps == agent.num_timesteps
    for obs in _observations(name):
        assert same(agent.predict(obs, deterministic=True), loaded.predict(obs, deterministic=True)), obs


# --------------------------------------------------------------------------- (b) pickle payloads
class _Touch:
    """Unpickling this creates ``marker`` (what an attacker's payload would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


class _Shell:
    """Unpickling this runs ``touch marker`` in a shell."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def _payloads(markers: tuple[Path, Path], cls: type) -> dict[str, bytes]:
    evil = [_Touch(markers[0]), _Shell(markers[1])]
    as_torch = io.BytesIO()
    torch.save({"format": FORMAT, "class": class_id(cls), "policy": evil, "x": torch.zeros(2)}, as_torch)
    as_npz = io.BytesIO()
    np.savez(as_npz, __meta__=np.array(evil, dtype=object), policy=np.array(evil, dtype=object))
    return {"pickle": pickle.dumps(evil), "torch": as_torch.getvalue(), "npz": as_npz.getvalue()}


def test_the_payloads_run_code_when_loaded_unsafely(tmp_path: Path) -> None:
    """The payloads are live: an unsafe reader would run them (so the safe readers' tests mean something)."""
    loaders: dict[str, Callable[[bytes], Any]] = {
        "pickle": pickle.loads,
        "torch": lambda raw: torch.load(io.BytesIO(raw), weights_only=False),
        "npz": lambda raw: np.load(io.BytesIO(raw), allow_pickle=True)["__meta__"],
    }
    for kind, load in loaders.items():
        markers = (tmp_path / f"{kind}-a", tmp_path / f"{kind}-b")
        load(_payloads(markers, Agent)[kind])
        assert markers[0].exists() and markers[1].exists(), kind


@pytest.mark.parametrize("name", NAMES)
def test_pickle_payloads_never_run(
    name: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _skip_if_missing(name)
    cls = agent_class(name)
    saved = _saved(name, tmp_path_factory)
    markers = (tmp_path / "MARKER-touch", tmp_path / "MARKER-shell")
    monkeypatch.chdir(tmp_path)  # where a relative path in a payload would land
    env = _env(name)
    case = 0
    for target in range(len(saved)):
        for kind, payload in _payloads(markers, cls).items():
            for sealed in (False, True):  # the checksum line is no protection: anyone can compute it
                files = _copy(saved, tmp_path / f"case-{case}")
                case += 1
                if sealed:
                    write_sealed(files[target], payload)
                    if issubclass(cls, SB3Agent) and target == 0:  # a forger fixes the sidecar's digest too
                        meta = parse_json(read_sealed(files[1]))
                        meta["parameters_sha256"] = sha256(payload)
                        write_json(files[1], meta)
                else:
                    files[target].write_bytes(payload)
                _assert_one_line_error(lambda f=files: cls.load(f[0], env), files[target])
                assert not markers[0].exists() and not markers[1].exists(), (kind, sealed, target)
    assert not list(tmp_path.rglob("MARKER*"))


# --------------------------------------------------------------------------- (c) damage
def _damaged(raw: bytes) -> dict[str, bytes | None]:
    """Damaged versions of a file's bytes (``None``: the file is deleted)."""
    n = len(raw)
    out: dict[str, bytes | None] = {
        "missing": None,
        "empty": b"",
        "half": raw[: n // 2],
        "one byte short": raw[:-1],
        "ten bytes": raw[:10],
        "appended": raw + b"\x00garbage",
    }
    for at in (0, n // 3, n // 2, n - 80, n - 40, n - 2):  # the last three: in the checksum line
        flipped = bytearray(raw)
        flipped[at] ^= 0x01
        out[f"flip@{at}"] = bytes(flipped)
    return out


def _pt(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _npz_variants(payload: bytes) -> dict[str, bytes]:
    """Well-formed ``.npz`` archives with the wrong content (bandit agents)."""
    with open_npz(payload) as data:
        arrays = {k: data[k] for k in data.files}
    meta = parse_json(str(arrays["__meta__"]).encode())

    def npz(meta_text: str, drop: tuple[str, ...] = ()) -> bytes:
        buf = io.BytesIO()
        rest = {k: v for k, v in arrays.items() if k != "__meta__" and k not in drop}
        np.savez(buf, __meta__=np.array(meta_text), **rest)
        return buf.getvalue()

    state_key = next((k for k in arrays if k != "__meta__"), None)
    out = {
        "meta not json": npz("{not json"),
        "meta a list": npz("[]"),
        "meta without config": npz(json.dumps({k: v for k, v in meta.items() if k != "config"})),
        "meta of another class": npz(json.dumps({**meta, "class": "rl_suite.agents.ucb1:Nope"})),
        "meta of another format": npz(json.dumps({**meta, "format": 1})),
        "bad config": npz(json.dumps({**meta, "config": {"no_such_setting": 1}})),
        "wrong streams": npz(json.dumps({**meta, "num_envs": 7})),
        "bad rng": npz(json.dumps({**meta, "rng_state": {"bit_generator": "PCG64", "state": 5}})),
        "no __meta__": _npz_without_meta(arrays),
    }
    if state_key is not None:
        out["array missing"] = npz(json.dumps(meta), drop=(state_key,))
    return out


def _npz_without_meta(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros(1), **{k: v for k, v in arrays.items() if k != "__meta__"})
    return buf.getvalue()


def _torch_variants(payload: bytes) -> dict[str, bytes]:
    """Well-formed ``torch.save`` archives with the wrong content (sequence agents)."""
    state = parse_torch(payload)
    return {
        "a list": _pt([1, 2]),
        "no policy": _pt({k: v for k, v in state.items() if k != "policy"}),
        "empty policy": _pt({**state, "policy": {}}),
        "policy a string": _pt({**state, "policy": "weights"}),
        "another class": _pt({**state, "class": "rl_suite.agents.rebel:Nope"}),
        "bad config": _pt({**state, "config": {**state["config"], "lr": -1.0}}),
        "bad rng": _pt({**state, "rng": {"bit_generator": "Nope"}}),
        "bad torch rng": _pt({**state, "torch_rng": torch.zeros(3, dtype=torch.uint8)}),
        "bad round": _pt(
            {
                **state,
                "round": {
                    "prompt_index": torch.tensor([99]),
                    "responses": torch.zeros(5, 3, dtype=torch.long),
                    "n": 1,
                    "gold": torch.zeros(5, dtype=torch.float64),
                    "stepped": 9,
                },
            }
        ),
    }


def _sb3_variants(files: list[Path]) -> list[tuple[str, int, bytes, bool]]:
    """(what, file index, payload, fix the sidecar's digest) for SB3 agents."""
    params = parse_torch(read_sealed(files[0]))
    meta = parse_json(read_sealed(files[1]))
    policy = params["policy"]
    first = next(iter(policy))
    reshaped = {**params, "policy": {**policy, first: torch.zeros(*policy[first].shape, 2)}}

    def js(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    return [
        ("no parameters", 0, _pt({}), True),
        ("a list of parameters", 0, _pt([1]), True),
        ("wrong shapes", 0, _pt(reshaped), True),
        ("parameters of another save", 0, _pt({}), False),  # the sidecar's digest does not match
        ("json not json", 1, b"{not json", False),
        ("json a list", 1, js([]), False),
        ("json no config", 1, js({k: v for k, v in meta.items() if k != "config"}), False),
        ("json other class", 1, js({**meta, "class": "rl_suite.agents.sb3:Nope"}), False),
        ("json bad config", 1, js({**meta, "config": {"hyperparams": {"n_stepz": 3}}}), False),
        ("json bad counter", 1, js({**meta, "counters": {"_no_such_counter": 1}}), False),
        ("json counter a string", 1, js({**meta, "counters": {"num_timesteps": "many"}}), False),
        ("json bad utf-8", 1, b"\xff\xfe{}", False),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_damaged_files_are_one_line_errors(
    name: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _skip_if_missing(name)
    cls = agent_class(name)
    saved = _saved(name, tmp_path_factory)
    env = _env(name)
    case = 0

    def check(target: int, raw: bytes | None, what: str, fix_digest: bool = False) -> None:
        nonlocal case
        files = _copy(saved, tmp_path / f"case-{case}")
        case += 1
        if raw is None:
            files[target].unlink()
        else:
            files[target].write_bytes(raw)
        if fix_digest:
            meta = parse_json(read_sealed(files[1]))
            meta["parameters_sha256"] = sha256(read_sealed(files[0]))
            write_json(files[1], meta)
        try:
            _assert_one_line_error(lambda: cls.load(files[0], env), files[target])
        except BaseException as exc:
            raise AssertionError(f"{name}, file {target}, {what}: {exc!r}") from exc

    for target, path in enumerate(saved):
        for what, raw in _damaged(path.read_bytes()).items():
            check(target, raw, what)
    payload = read_sealed(saved[0])
    if issubclass(cls, ArrayAgent):  # bandit, constrained and episodic agents: one .npz file
        variants = [(what, 0, raw, False) for what, raw in _npz_variants(payload).items()]
    elif issubclass(cls, SequenceAgent):
        variants = [(what, 0, raw, False) for what, raw in _torch_variants(payload).items()]
    else:
        assert issubclass(cls, SB3Agent)
        variants = _sb3_variants(saved)
    for what, target, raw, fix in variants:
        check(target, seal(raw), what, fix)
    # another agent's files in place of this one's (a different class of each checkpoint kind)
    for other in ("ucb1", "fixed-arm", "rebel", "grpo", "ppo", "a2c"):
        if other == name:
            continue
        theirs = _saved(other, tmp_path_factory)
        for target in range(min(len(saved), len(theirs))):
            check(target, theirs[target].read_bytes(), f"{other}'s file")


def test_missing_file_names_it(tmp_path: Path) -> None:
    message = _assert_one_line_error(
        lambda: agent_class("ucb1").load(tmp_path / "nothing.npz", _env("ucb1")), tmp_path / "nothing.npz"
    )
    assert "no such file" in message
    assert isinstance(CheckpointError("x"), UserError)


# --------------------------------------------------------------------------- SB3's learn budget
SB3_BUDGET = {
    "ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 1},
    "a2c": {"n_steps": 8},
    "dqn": {"learning_starts": 50, "buffer_size": 1000, "train_freq": 3},
    "recurrent-ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 1},
}


def _stop_at(env: RegretRecorder, budget: int) -> Callable[[Any, dict[str, Any]], bool]:
    return lambda _agent, _info: env.total_steps < budget


@pytest.mark.parametrize("name", list(SB3_BUDGET))
def test_sb3_stops_on_the_step_the_callback_says(name: str) -> None:
    _skip_if_missing(name)
    env = RegretRecorder(gym.make(MAB))
    agent = agent_class(name)(env, {"device": "cpu", "hyperparams": SB3_BUDGET[name]}, seed=0)
    assert agent.exact_budget is False
    agent.learn(3000, callback=_stop_at(env, 500))
    assert env.total_steps == 500 == agent.num_timesteps == agent.model.num_timesteps
    agent.learn(3000, callback=_stop_at(env, 600))  # continues from there, stops again exactly
    assert env.total_steps == 600 == agent.num_timesteps


@pytest.mark.parametrize("name", list(SB3_BUDGET))
def test_sb3_stopped_mid_rollout_continues_from_the_current_observation(name: str) -> None:
    _skip_if_missing(name)
    env = RegretRecorder(gym.make(FROZEN))
    agent = agent_class(name)(env, {"device": "cpu", "hyperparams": SB3_BUDGET[name]}, seed=0)
    for budget in (77, 154, 200):
        agent.learn(1000, callback=_stop_at(env, budget))
        assert env.total_steps == budget == agent.num_timesteps
        vec = agent.model.env
        np.testing.assert_array_equal(agent.model._last_obs, vec.buf_obs[None])
