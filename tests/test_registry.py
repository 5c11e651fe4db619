"""Contract tests over every registered env id (later families are covered automatically)."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rl_suite
from rl_suite import registry
from rl_suite.errors import UserError
from rl_suite.spaces import DirectionScores, PolicyWeights, Simplex
from tests.helpers import rollout, same

ROOT = Path(__file__).resolve().parent.parent
SUITE_IDS = sorted(i for i in gym.registry if i.startswith(f"{registry.NAMESPACE}/"))


def test_registry_and_gymnasium_agree() -> None:
    assert SUITE_IDS == registry.env_ids()
    rl_suite.register_envs()  # idempotent
    assert sorted(i for i in gym.registry if i.startswith("rl_suite/")) == SUITE_IDS


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_check_env_passes_without_warnings(env_id: str) -> None:
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    env.close()


def _rollout(env_id: str, seed: int, steps: int = 50) -> list[tuple]:
    """50 steps of the same random actions (the action space seeded with 123), reset at episodes' ends."""
    env = gym.make(env_id)
    env.action_space.seed(123)
    out = rollout(env, seed, steps, lambda _t: env.action_space.sample())
    env.close()
    return out


def _deterministic(env_id: str) -> bool:
    """A finite model with 0/1 transitions, a one-hot start and no reward noise: seeds cannot matter."""
    env = gym.make(env_id).unwrapped
    if not callable(getattr(env, "model", None)) or getattr(env, "reward_noise", "none") != "none":
        return False
    model = env.model()
    if not isinstance(model, tuple):  # e.g. a POMDP's model: its observations are noisy
        return False
    P, _, rho = model
    return bool(np.isin(P, (0.0, 1.0)).all() and np.isin(rho, (0.0, 1.0)).all())


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_same_seed_same_trajectory(env_id: str) -> None:
    assert same(_rollout(env_id, 7), _rollout(env_id, 7))
    # A deterministic env gives the same trajectory for every seed; any other must depend on the seed.
    assert same(_rollout(env_id, 7), _rollout(env_id, 8)) == _deterministic(env_id)


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_every_step_reports_exact_regret(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    constrained = registry.env_entry(env_id).family in registry.CONSTRAINED_FAMILIES
    for _ in range(20):
        _, _, term, trunc, info = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
        assert "optimal_value" in info
        if constrained:
            # Only an infeasible play can beat the best feasible one.
            assert info["violation"] >= 0.0
            assert info["violation"] > 0.0 or info["regret"] >= -1e-12
            assert {"cost", "expected_cost", "optimal_cost", "arm"} <= info.keys()
        elif registry.env_entry(env_id).family == registry.POMDP:
            # The realised "V* − return" estimator (at the episode's last step) can be negative.
            assert np.isfinite(info["regret"])
        else:
            assert info["regret"] >= 0.0
    env.close()


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_action_outside_space_is_one_clear_error(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        n = space.n
        with pytest.raises(UserError, match=rf"outside Discrete\({n}\)"):
            env.step(n)
        with pytest.raises(UserError, match="outside"):
            env.step(-1)
    elif isinstance(space, Simplex):
        with pytest.raises(UserError, match="sum to 2"):
            env.step(2 * space.sample())
        with pytest.raises(UserError, match=r"negative probability -0.5"):
            env.step(np.r_[-0.5, 1.5, np.zeros(space.n - 2)])
        with pytest.raises(UserError, match="outside Simplex"):
            env.step(np.ones(space.n + 1) / (space.n + 1))
    elif isinstance(space, PolicyWeights):
        with pytest.raises(UserError, match=r"negative weight -0.5"):
            env.step(np.r_[-0.5, 1.5, np.zeros(space.n - 2)])
        with pytest.raises(UserError, match="non-finite"):
            env.step(np.full(space.n, np.nan))
        with pytest.raises(UserError, match="outside PolicyWeights"):
            env.step(np.ones(space.n + 1))
    elif isinstance(space, DirectionScores):
        with pytest.raises(UserError, match="non-finite"):
            env.step(np.r_[np.ones(space.n), np.inf])
        with pytest.raises(UserError, match=r"outside DirectionScores"):
            env.step(np.ones(space.n))
    elif isinstance(space, gym.spaces.MultiDiscrete):
        bad = np.zeros(space.shape, dtype=np.int64)
        bad[-1] = space.nvec[-1]
        with pytest.raises(UserError, match=rf"token {space.nvec[-1]}, outside"):
            env.step(bad)
        with pytest.raises(UserError, match="outside"):
            env.step(np.zeros(space.shape[0] + 1, dtype=np.int64))
    else:
        assert isinstance(space, gym.spaces.Tuple)
        n = space[0].n
        with pytest.raises(UserError, match=rf"outside Discrete\({n}\)"):
            env.step((n, np.ones(1)))
        with pytest.raises(UserError, match=r"scale 1.5 is outside"):
            env.step((0, np.array([1.5])))


def _run_outside_repo(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def test_module_syntax_works_from_another_directory(tmp_path: Path) -> None:
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'rl_suite' not in sys.modules\n"
        "for i in ['rl_suite:rl_suite/LinearContextualBandit-v0', 'rl_suite:rl_suite/MultiArmedBandit-v0']:\n"
        "    env = gym.make(i); env.reset(seed=0); env.step(0); env.close()\n"
        "print('ok')\n"
    )
    proc = _run_outside_repo(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_async_vector_env_with_spawn(tmp_path: Path) -> None:
    code = (
        "import gymnasium as gym, numpy as np\n"
        "if __name__ == '__main__':\n"
        "    envs = gym.make_vec('rl_suite:rl_suite/LinearContextualBandit-v0', num_envs=2,\n"
        "                        vectorization_mode='async', vector_kwargs={'context': 'spawn'})\n"
        "    obs, _ = envs.reset(seed=0)\n"
        "    obs, r, term, trunc, info = envs.step(np.array([0, 1]))\n"
        "    assert obs.shape[0] == 2 and info['regret'].shape == (2,)\n"
        "    envs.close(); print('ok')\n"
    )
    script = tmp_path / "vec.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


def _readme_table(header: str) -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    start = text.index(header)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if set("".join(cells)) <= set("-: "):
            continue
        rows.append(cells)
    return rows


def test_readme_env_table_matches_registry() -> None:
    rows = _readme_table("| env id |")
    ids = [re.sub(r"[`*]", "", r[0]) for r in rows]
    assert ids == registry.env_ids()
    families = [re.sub(r"[`*]", "", r[1]) for r in rows]
    assert families == [registry.env_entry(i).family for i in ids]


def test_readme_agent_table_matches_registry() -> None:
    rows = _readme_table("| agent |")
    names = [re.sub(r"[`*]", "", r[0]) for r in rows]
    assert names == registry.agent_names()
    for row in rows:
        entry = registry.agent_entry(re.sub(r"[`*]", "", row[0]))
        listed = {f.strip() for f in re.sub(r"[`*]", "", row[1]).split(",")}
        assert listed == set(entry.families)


def test_every_agent_entry_point_imports() -> None:
    from rl_suite.agents.base import Agent

    for entry in registry.AGENTS:
        cls = registry.load_entry_point(entry.entry_point)
        assert issubclass(cls, Agent), entry.name
        assert cls.__doc__, entry.name


def test_unknown_ids_suggest_close_matches() -> None:
    with pytest.raises(UserError, match="did you mean 'rl_suite/LinearContextualBandit-v0'"):
        registry.env_entry("rl_suite/LinearContextualBandt-v0")
    with pytest.raises(UserError, match="did you mean 'linucb'"):
        registry.agent_entry("linucbb")
    with pytest.raises(UserError, match=r"agents for this env: .*ucb1"):
        registry.check_pairing("linucb", "rl_suite/MultiArmedBandit-v0")
