"""The solver-tuning agents: contract on SORTuning-v0, what each achieves against the best fixed and the
instance-optimal ω on a fixed small sequence (their kernels: tests/agents/test_kernels.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite import registry
from rl_suite.agents.base import BanditAgent
from rl_suite.errors import UserError
from rl_suite.regret import RegretRecorder
from tests.helpers import assert_resumes_identically, play

SOR = "rl_suite/SORTuning-v0"
TINY = {"m": 4, "horizon": 50, "instance_seed": 0}
#: Every agent that supports the solver-tuning family, with non-default options somewhere.
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("tsallis-inf", TINY, {}),
    ("tsallis-inf", {**TINY, "contextual": False}, {"eta_scale": 1.0, "baseline": "mean"}),
    ("tsallis-inf-cb", TINY, {"bins": 3}),
    ("chebcb", TINY, {}),
    ("chebcb", TINY, {"degree": 3, "context_range": (-0.2, 0.5), "gamma_scale": 1.0}),
    ("exp3", TINY, {"gamma": 0.05}),
    ("fixed-arm", TINY, {"omega": 1.8}),
    ("instance-oracle", TINY, {}),
    ("ucb1", TINY, {"normalise": True}),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def agent_cls(name: str) -> type[BanditAgent]:
    return registry.load_entry_point(registry.agent_entry(name).entry_point)


def run(name: str, env_kwargs: dict[str, Any], settings: dict[str, Any], steps: int, seed: int = 0) -> Any:
    env = RegretRecorder(gym.make(SOR, **env_kwargs))
    agent = agent_cls(name)(env, settings, seed=seed)
    return agent, env, play(agent, steps)


def test_every_solver_pairing_is_covered() -> None:
    # The SB3 baselines on solver tuning are trained in tests/agents/test_sb3.py and tests/test_ecosystem.py.
    wanted = {
        a.name
        for a in registry.AGENTS
        if registry.SOLVER_TUNING in a.families and not a.entry_point.startswith("rl_suite.agents.sb3:")
    }
    assert wanted == {name for name, *_ in CASES}


@pytest.mark.parametrize(("name", "env_kwargs", "settings"), CASES, ids=IDS)
def test_learns_and_resumes_identically(tmp_path: Path, name: str, env_kwargs: dict, settings: dict) -> None:
    make = lambda: agent_cls(name)(RegretRecorder(gym.make(SOR, **env_kwargs)), settings, seed=0)  # noqa: E731
    resumed, _ = assert_resumes_identically(make, tmp_path / "a.npz", 30, 40)  # the 40 cross the horizon
    assert (resumed.env.drain()[:, 3] >= 0).all()  # regret column of all 70 rounds


@pytest.fixture(scope="module")
def small_sequence() -> dict[str, Any]:
    """m = 6 (n = 36), high-variance shifts, 600 systems: the best fixed ω is 1.45, ω = 1 costs 3.1x it."""
    kwargs = {"m": 6, "horizon": 600, "instance_seed": 0}
    return {"kwargs": kwargs, "solved": gym.make(SOR, **kwargs).unwrapped.solve()}


def ratios(name: str, settings: dict[str, Any], seq: dict[str, Any]) -> dict[str, float]:
    _, env, _ = run(name, seq["kwargs"], settings, 600)
    return env.unwrapped.run_summary()


def test_reference_values_of_the_small_sequence(small_sequence: dict[str, Any]) -> None:
    solved = small_sequence["solved"]
    assert solved["best_fixed_omega"] == pytest.approx(1.45)
    assert solved["total_iterations_per_fixed_omega"][0] > 3 * solved["best_fixed_iterations"]


def test_oracle_is_instance_optimal_and_fixed_arm_is_its_column(small_sequence: dict[str, Any]) -> None:
    assert ratios("instance-oracle", {}, small_sequence)["ratio_to_instance_optimal"] == 1.0
    fixed = ratios("fixed-arm", {"omega": 1.45}, small_sequence)
    assert fixed["ratio_to_best_fixed"] == 1.0


def test_learners_approach_the_best_fixed_omega(small_sequence: dict[str, Any]) -> None:
    omega1 = small_sequence["solved"]["total_iterations_per_fixed_omega"][0]
    tsallis = ratios("tsallis-inf", {}, small_sequence)
    assert tsallis["ratio_to_best_fixed"] < 1.55  # measured 1.43-1.47 over seeds
    assert tsallis["total_iterations"] < 0.5 * omega1
    exp3 = ratios("exp3", {}, small_sequence)
    assert exp3["ratio_to_best_fixed"] < 1.65  # measured 1.46-1.54


def test_the_context_helps_chebcb(small_sequence: dict[str, Any]) -> None:
    cheb = ratios("chebcb", {}, small_sequence)
    tsallis = ratios("tsallis-inf", {}, small_sequence)
    assert cheb["total_iterations"] < 0.9 * tsallis["total_iterations"]  # measured 1.18 vs 1.47
    assert cheb["ratio_to_best_fixed"] < 1.3


def test_agents_refuse_what_they_cannot_use() -> None:
    mab = gym.make("rl_suite/MultiArmedBandit-v0")
    with pytest.raises(UserError, match="ChebCB needs a scalar context"):
        agent_cls("chebcb")(mab)
    with pytest.raises(UserError, match="bins contexts"):
        agent_cls("tsallis-inf-cb")(gym.make("rl_suite/LinearContextualBandit-v0"))
    with pytest.raises(UserError, match="InstanceOracle needs a solver-tuning env"):
        agent_cls("instance-oracle")(mab)
    with pytest.raises(UserError, match="arm=25 is not an arm"):
        agent_cls("fixed-arm")(gym.make(SOR, **TINY), {"arm": 25})
