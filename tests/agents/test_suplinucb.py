"""SupLinUCB (Chu et al. 2011): kernels by hand, the stage bookkeeping, and what it must achieve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from rl_suite.agents.suplinucb import SupLinUCB, suplinucb_alpha, suplinucb_stages, suplinucb_step
from rl_suite.envs.bandits.linear import LinearContextualBandit
from rl_suite.envs.bandits.multi_armed import MultiArmedBandit
from rl_suite.errors import UserError

GAP_ENV = {"dim": 5, "n_arms": 4, "model": "shared", "reward_noise": "gaussian", "noise_sd": 0.1}


def test_alpha_by_hand() -> None:
    # ln(2·10⁴·10/0.05) = ln(4·10⁶) = 15.2018…, α = sqrt(15.2018/2) = 2.75697…
    assert suplinucb_alpha(10_000, 10, 0.05) == pytest.approx(2.7569734238004693, rel=1e-12)
    assert suplinucb_alpha(1, 1, 0.5) == pytest.approx(math.sqrt(math.log(4.0) / 2.0))
    with pytest.raises(ValueError):
        suplinucb_alpha(10, 2, 1.0)


def test_stage_count_by_hand() -> None:
    assert suplinucb_stages(10_000) == 10  # ⌈9.21⌉
    assert suplinucb_stages(3) == 2  # ⌈1.0986⌉
    assert suplinucb_stages(2) == 1 and suplinucb_stages(1) == 1


def test_step_cases_by_hand() -> None:
    active = np.array([True, True, True, False])
    # (a) every active width ≤ 1/√T = 0.1: play the best UCB among the active (arm 3 is out).
    ucb, width = np.array([0.5, 0.7, 0.6, 9.0]), np.array([0.1, 0.05, 0.0, 5.0])
    case, arm = suplinucb_step(ucb, width, active, 1, 100)
    assert (case, arm) == ("exploit", 1)
    # (b) widths ≤ 2^-2 = 0.25 at stage 2: keep UCBs ≥ max − 2^-1 = 0.9 − 0.5 = 0.4.
    case, kept = suplinucb_step(np.array([0.9, 0.41, 0.39, 2.0]), np.full(4, 0.2), active, 2, 100)
    assert case == "eliminate" and np.array_equal(kept, [True, True, False, False])
    # (c) some width > 2^-1 at stage 1: play the widest such arm.
    case, arm = suplinucb_step(np.zeros(4), np.array([0.6, 0.9, 0.2, 5.0]), active, 1, 100)
    assert (case, arm) == ("explore", 1)


def test_only_exploring_rounds_are_learned_from() -> None:
    # horizon = 100: exploit once every width is ≤ 1/√100 = 0.1 (case a), at most ⌈ln 100⌉ = 5 stages.
    env = LinearContextualBandit(**GAP_ENV, min_gap=0.2)
    agent = SupLinUCB(env, {"horizon": 100, "alpha": 0.0}, seed=0).learn(3000)
    counts = agent.stage_counts[0]
    assert counts.shape == (5,)
    assert 0 < counts.sum() < 2000  # most late rounds exploit (case a) and learn nothing
    assert counts[0] > 0 and (np.diff(np.flatnonzero(counts)) == 1).all()  # stages fill from the first
    d = env.dim
    for s in np.flatnonzero(counts):  # each stage's Gram matrix holds exactly its own rounds
        A = np.linalg.inv(agent.Ainv[0, s])
        assert np.trace(A) - d == pytest.approx(counts[s] * 2.0, rel=1e-6)  # ‖x‖² = 1 + ‖u‖² = 2


def _regret(agent_cfg: dict, env_kwargs: dict, steps: int, seed: int = 0) -> np.ndarray:
    env = LinearContextualBandit(**env_kwargs)
    out: list[float] = []
    SupLinUCB(env, agent_cfg, seed=seed).learn(steps, callback=lambda a, info: out.append(info["regret"]))
    return np.cumsum(out)


@pytest.mark.parametrize(("model", "dim", "ratio"), [("shared", 5, 0.05), ("disjoint", 3, 0.1)])
def test_well_specified_regret_flattens(model: str, dim: int, ratio: float) -> None:
    # ζ = 0, Δ = 0.3: once stage 4 (widths ≤ 1/16, margin 1/8) is learned, every arm with a gap of
    # 0.3 > 2^{2-4} is eliminated before any stage that could still play it.
    env = {**GAP_ENV, "model": model, "dim": dim, "min_gap": 0.3}
    reg = _regret({"horizon": 4000, "alpha": 0.0}, env, 4000)
    first, last = reg[999], reg[-1] - reg[2999]
    assert last < ratio * first, (first, last)


def test_theoretical_alpha_explores_longer() -> None:
    env = {**GAP_ENV, "min_gap": 0.2}
    practical = _regret({"horizon": 2000, "alpha": 0.0}, env, 2000)[-1]
    theory = _regret({"horizon": 2000}, env, 2000)[-1]
    assert theory > 1.5 * practical


@pytest.mark.parametrize("bad", [{"horizon": 1}, {"alpha": -1.0}, {"alpha": "big"}, {"delta": 1.0}, {"x": 1}])
def test_bad_settings_are_refused(bad: dict) -> None:
    env = LinearContextualBandit(dim=3, n_arms=3)
    with pytest.raises(ValidationError):
        SupLinUCB(env, bad)


def test_wrong_env_is_a_user_error() -> None:
    env = MultiArmedBandit(n_arms=3)
    with pytest.raises(UserError, match=r"SupLinUCB needs \(3, d\) arm-feature observations"):
        SupLinUCB(env)
