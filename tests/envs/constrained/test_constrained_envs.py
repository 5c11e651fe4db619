"""The constrained envs and their exact solvers: LP optimum against linprog and brute force, hand-computed
optima, exact per-step accounting, bit-identical vector forms, and one-line errors for bad input."""

from __future__ import annotations

import itertools
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.envs.constrained.linear import StagewiseConstrainedLinearBandit
from rl_suite.envs.constrained.multi_armed import ConstrainedMAB
from rl_suite.envs.constrained.safe_linear import SafeLinearBandit
from rl_suite.errors import UserError
from rl_suite.exact.lp import (
    VIOLATION_TOL,
    best_feasible_mixture,
    best_feasible_mixture_linprog,
    star_convex_optimum,
    violation_amount,
)
from rl_suite.spaces import DirectionScores, PolicyWeights, Simplex, encode_scaled

IDS = [
    "rl_suite/ConstrainedMAB-v0",
    "rl_suite/StagewiseConstrainedLinearBandit-v0",
    "rl_suite/SafeLinearBandit-v0",
]


# --------------------------------------------------------------------------- the LP kernel
def brute_force(values: np.ndarray, costs: np.ndarray, tau: float, grid: int = 24) -> float:
    """Best value over every policy on the simplex grid with step 1/grid (a lower bound within O(1/grid))."""
    K = values.size
    best = -np.inf
    for combo in itertools.product(range(grid + 1), repeat=K - 1):
        if sum(combo) > grid:
            continue
        p = np.array([*combo, grid - sum(combo)]) / grid
        if p @ costs <= tau + 1e-12:
            best = max(best, float(p @ values))
    return best


# Means on a 1e-3 grid: the solvers agree exactly there; on arbitrary floats HiGHS's feasibility
# tolerance (1e-7) admits policies the closed form (exact) rejects.
means = st.integers(0, 1000).map(lambda i: i / 1000)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(means, min_size=2, max_size=4),
    costs=st.lists(means, min_size=4, max_size=4),
    margin=means,
)
def test_lp_optimum_equals_linprog_and_beats_brute_force(values: list, costs: list, margin: float) -> None:
    v = np.array(values, dtype=np.float64)
    c = np.array(costs[: v.size], dtype=np.float64)
    tau = float(c.min() + margin * (1.0 - c.min()))
    policy, value = best_feasible_mixture(v, c, tau)
    assert policy.sum() == pytest.approx(1.0) and (policy >= 0).all()
    assert policy @ c <= tau + 1e-12
    assert value == pytest.approx(policy @ v, abs=1e-12)
    assert np.count_nonzero(policy) <= 2
    _, lp_value = best_feasible_mixture_linprog(v, c, tau)
    assert value == pytest.approx(lp_value, abs=1e-9)
    grid_value = brute_force(v, c, tau)
    # The grid is feasible, so it cannot beat the optimum; its 1/24 mesh gets within one step of it.
    assert grid_value <= value + 1e-12
    assert value - grid_value <= (v.max() - v.min()) * 2 / 24 + 1e-12 or grid_value == -np.inf


def test_lp_hand_computed_mixture() -> None:
    # Arm 0 pays 0.2 at cost 0, arm 1 pays 1.0 at cost 1: with tau = 0.5 mix them half and half.
    policy, value = best_feasible_mixture(np.array([0.2, 1.0]), np.array([0.0, 1.0]), 0.5)
    np.testing.assert_allclose(policy, [0.5, 0.5])
    assert value == pytest.approx(0.6)
    # A feasible best arm is played alone.
    policy, value = best_feasible_mixture(np.array([0.1, 0.7, 0.4]), np.array([0.0, 0.2, 0.5]), 0.5)
    np.testing.assert_array_equal(policy, [0, 1, 0])
    assert value == pytest.approx(0.7)


def test_lp_batched_rows_equal_rowwise_and_infeasible_rows() -> None:
    rng = np.random.default_rng(3)
    V, C = rng.random((4, 3, 6)), rng.random((4, 3, 6))
    tau = rng.uniform(0.2, 0.6, (4, 3))
    P, val = best_feasible_mixture(V, C, tau)
    for i, j in np.ndindex(4, 3):
        p, v = best_feasible_mixture(V[i, j], C[i, j], tau[i, j])
        np.testing.assert_array_equal(P[i, j], p)
        assert val[i, j] == v
    p, v = best_feasible_mixture(np.array([0.5, 0.6]), np.array([0.8, 0.9]), 0.1)
    assert v == -np.inf and not p.any()


def test_star_convex_optimum_hand_computed() -> None:
    # Direction 0: r=0.9, c=0.6 -> scale 0.5 under tau=0.3 -> 0.45; direction 1: r=0.4, c=0.1 -> 0.4.
    scales, value, best = star_convex_optimum(np.array([0.9, 0.4, -0.2]), np.array([0.6, 0.1, -0.5]), 0.3)
    np.testing.assert_allclose(scales, [0.5, 1.0, 1.0])
    assert value == pytest.approx(0.45) and best == 0
    _, value, _ = star_convex_optimum(np.array([-0.1, -0.3]), np.array([0.2, 0.1]), 0.3)
    assert value == 0.0  # the safe action (scale 0) beats every direction


def test_violation_amount_ignores_round_off() -> None:
    got = violation_amount(np.array([0.5, 0.5 + VIOLATION_TOL / 2, 0.7]), 0.5)
    np.testing.assert_allclose(got, [0, 0, 0.2])


# --------------------------------------------------------------------------- ConstrainedMAB
def test_paper4arm_optimum_and_solve() -> None:
    env = ConstrainedMAB(preset="paper4arm", tau=0.5)
    assert env.safe_arm == 0 and env.safe_cost == 0.0
    np.testing.assert_array_equal(env.optimal_policy, [0, 0, 0, 1])  # arm 3 (r .7, c .2) is feasible
    out = env.solve()
    assert out["optimal_value_per_round"] == pytest.approx(0.7)
    assert out["theory_alpha_r"] == pytest.approx(1 + 2 / 0.5)
    assert not out["constraint_active"]


def test_random_preset_follows_the_authors_recipe() -> None:
    env = ConstrainedMAB(instance_seed=10)
    c = env.cost_means
    assert env.safe_arm == int(c.argmin()) and c.min() < env.tau < c.max()
    out = env.solve()
    assert out["constraint_active"] and out["unconstrained_value_per_round"] > out["optimal_value_per_round"]
    assert np.count_nonzero(out["optimal_policy"]) == 2


def test_step_accounting_is_exact() -> None:
    env = ConstrainedMAB(reward_means=[0.2, 1.0, 0.5], cost_means=[0.0, 1.0, 0.4], tau=0.5)
    env.reset(seed=0)
    pi = np.array([0.1, 0.6, 0.3])
    _, _, _, _, info = env.step(pi)
    assert info["expected_reward"] == pytest.approx(pi @ env.reward_means)
    assert info["expected_cost"] == pytest.approx(pi @ env.cost_means)
    assert info["violation"] == pytest.approx(pi @ env.cost_means - 0.5)
    assert info["regret"] == pytest.approx(env.optimal_value - pi @ env.reward_means)
    assert info["optimal_cost"] == pytest.approx(0.5)
    _, _, _, _, info = env.step(env.optimal_policy)
    assert info["regret"] == 0.0 and info["violation"] == 0.0


def test_sampled_arms_follow_the_policy() -> None:
    env = ConstrainedMAB(preset="paper4arm", tau=0.5)
    env.reset(seed=1)
    pi = np.array([0.1, 0.2, 0.3, 0.4])
    arms = np.array([env.step(pi)[4]["arm"] for _ in range(20_000)])
    freq = np.bincount(arms, minlength=4) / arms.size
    assert np.abs(freq - pi).max() < 4 * np.sqrt(0.25 / arms.size)
    zero = np.array([0.0, 1.0, 0.0, 0.0])
    assert {env.step(zero)[4]["arm"] for _ in range(200)} == {1}


def test_arm_mode_plays_pure_arms() -> None:
    env = gym.make("rl_suite/ConstrainedMAB-v0", preset="paper4arm", action_mode="arm")
    assert isinstance(env.action_space, gym.spaces.Discrete)
    env.reset(seed=0)
    info = env.step(3)[4]
    assert info["arm"] == 3 and info["expected_reward"] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"preset": "paper4arm", "tau": 0.0},
            r"tau=0 must exceed the cost of the known safe action \(arm 0: c0=0\)",
        ),
        (
            {"reward_means": [0.5, 0.6], "cost_means": [0.3, 0.4], "tau": 0.2},
            r"tau=0.2 must exceed .* c0=0.3",
        ),
        (
            {"reward_means": [0.5, 0.6], "cost_means": [0.3, 1.4], "tau": 0.5},
            r"cost_means\[1\] = 1.4 is outside the declared range \[0, 1\]",
        ),
        ({"reward_means": [0.5, -0.6], "cost_means": [0.3, 0.4], "tau": 0.5}, r"reward_means\[1\] = -0.6"),
        ({"reward_means": [0.5, 0.6], "cost_means": [0.3, 0.4, 0.1], "tau": 0.5}, "2 reward_means but 3"),
        ({"reward_means": [0.5, 0.6]}, "give both reward_means and cost_means"),
        ({"reward_means": [0.5, 0.6], "cost_means": [0.3, 0.4]}, "tau is required"),
        ({"preset": "paper4arm", "safe_arm": 4}, r"safe_arm=4 is not an arm"),
        ({"preset": "paper5arm"}, "preset must be one of"),
        ({"action_mode": "mixed"}, "action_mode must be one of"),
    ],
)
def test_bad_constructor_input_is_one_clear_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message):
        ConstrainedMAB(**kwargs)


def test_bad_policies_name_the_value() -> None:
    env = ConstrainedMAB(preset="paper4arm", strict_simplex=True)
    assert isinstance(env.action_space, Simplex)
    env.reset(seed=0)
    with pytest.raises(UserError, match=r"sum to 0.9, not 1"):
        env.step([0.3, 0.3, 0.3, 0.0])
    with pytest.raises(UserError, match=r"negative probability -0.2 at arm 1"):
        env.step([0.6, -0.2, 0.3, 0.3])
    with pytest.raises(UserError, match="non-finite"):
        env.step([np.nan, 0.5, 0.5, 0.0])
    with pytest.raises(UserError, match=r"outside Simplex\(4\)"):
        env.step([0.5, 0.5])
    with pytest.raises(UserError, match="call reset"):
        ConstrainedMAB(preset="paper4arm").step([1.0, 0, 0, 0])
    # Round-off within the tolerance is accepted and renormalised.
    env.step([0.25, 0.25, 0.25, 0.25 + 1e-9])


@pytest.mark.parametrize("env_id", IDS[:2])
def test_default_policy_weights_are_normalised(env_id: str) -> None:
    env = gym.make(env_id, horizon=50)
    space = env.action_space
    assert isinstance(space, PolicyWeights) and (space.low == 0).all() and (space.high == 1).all()
    space.seed(0)
    env.reset(seed=0)
    K = space.n
    w = np.arange(1.0, K + 1)
    info = env.step(w)[4]  # unnormalised: the policy is w / sum(w)
    strict = gym.make(env_id, horizon=50, strict_simplex=True)
    strict.reset(seed=0)
    info_strict = strict.step(w / w.sum())[4]
    assert info["regret"] == pytest.approx(info_strict["regret"], abs=1e-12)
    assert info["expected_cost"] == pytest.approx(info_strict["expected_cost"], abs=1e-12)
    for _ in range(20):  # samples of the space (and of its batched form) are valid actions
        a = space.sample()
        assert space.contains(a)
        env.step(a)
    for bad, message in (
        (np.full(K, np.nan), "non-finite"),
        (np.r_[-0.5, np.ones(K - 1)], "negative weight -0.5 at arm 0"),
        (np.ones(K + 1), r"outside PolicyWeights"),
    ):
        with pytest.raises(UserError, match=message):
            env.step(bad)
    # All zero (what SB3's clipping gives when every Gaussian coordinate is negative): the uniform policy.
    env.reset(seed=0)
    strict.reset(seed=0)
    info, info_strict = env.step(np.zeros(K))[4], strict.step(np.full(K, 1 / K))[4]
    assert info["expected_reward"] == pytest.approx(info_strict["expected_reward"], abs=1e-12)
    with pytest.raises(UserError, match="strict_simplex must be true or false"):
        gym.make(env_id, strict_simplex="no")


def test_simplex_space() -> None:
    space = Simplex(5, seed=0)
    x = space.sample()
    assert space.contains(x) and x.sum() == pytest.approx(1.0)
    assert not space.contains(2 * x) and not space.contains(np.ones(4) / 4)
    assert repr(space) == "Simplex(5)" and space == Simplex(5) and space != Simplex(4)


# --------------------------------------------------------------------------- the linear envs
def test_stagewise_linear_rounds() -> None:
    env = StagewiseConstrainedLinearBandit(dim=4, n_actions=6, tau=0.5, safe_cost=0.1)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6, 4) and env.observation_space.contains(obs)
    np.testing.assert_allclose(np.linalg.norm(obs[1:], axis=1), 1.0)
    np.testing.assert_array_equal(obs[0], env.safe_action)
    assert env.safe_action @ env.mu == pytest.approx(0.1)
    for _ in range(5):
        r, c = obs @ env.theta, obs @ env.mu
        assert ((r >= 0) & (r <= 1) & (c >= 0) & (c <= 1)).all()
        _, lp_value = best_feasible_mixture_linprog(r, c, env.tau)
        pi = np.full(6, 1 / 6)
        obs, _, _, _, info = env.step(pi)
        assert info["optimal_value"] == pytest.approx(lp_value, abs=1e-9)
        assert info["expected_cost"] == pytest.approx(pi @ c)


def test_stagewise_linear_bad_input() -> None:
    with pytest.raises(UserError, match=r"tau=0.05 must exceed .* c0=0.1"):
        StagewiseConstrainedLinearBandit(tau=0.05)
    with pytest.raises(UserError, match=r"mu has norm 2 > 1"):
        StagewiseConstrainedLinearBandit(dim=2, mu=[2.0, 0.0])
    with pytest.raises(UserError, match=r"safe_cost=0.99 is not reachable"):
        StagewiseConstrainedLinearBandit(safe_cost=0.99, tau=1.0)


def test_safe_linear_circulant_and_accounting() -> None:
    env = SafeLinearBandit(preset="circulant", dim=5, tau=0.5)
    assert env.directions.shape == (5, 5)
    np.testing.assert_allclose(env.directions[1], np.roll(env.directions[0], 1))
    np.testing.assert_allclose(env.mu, env.theta[::-1])
    out = env.solve()
    _, value, _ = star_convex_optimum(env.directions @ env.theta, env.directions @ env.mu, 0.5)
    assert out["optimal_value_per_round"] == pytest.approx(value)
    env.reset(seed=0)
    k = int(np.argmax(env.directions @ env.mu))
    info = env.step(encode_scaled(np.array([k]), np.array([1.0]), 5)[0])[4]
    assert info["violation"] == pytest.approx(max(0.0, env.directions[k] @ env.mu - 0.5))
    info = env.step(np.r_[np.eye(5)[k], -0.3])[4]  # the safe action (the scale is clipped to 0)
    assert info["expected_cost"] == 0.0 and info["violation"] == 0.0
    assert info["regret"] == pytest.approx(value)


def test_safe_linear_bad_input() -> None:
    with pytest.raises(UserError, match=r"tau=-0.1 must exceed 0"):
        SafeLinearBandit(tau=-0.1)
    with pytest.raises(UserError, match="directions has a vector of norm"):
        SafeLinearBandit(dim=2, directions=[[3.0, 0.0]])
    env = SafeLinearBandit(action_mode="tuple")
    assert isinstance(env.action_space, gym.spaces.Tuple)
    env.reset(seed=0)
    with pytest.raises(UserError, match="expected a pair"):
        env.step(3)
    info = env.step((2, np.array([0.5])))[4]
    assert info["arm"] == 2 and info["scale"] == 0.5
    env = SafeLinearBandit()
    assert isinstance(env.action_space, DirectionScores) and env.action_space.shape == (11,)
    env.reset(seed=0)
    with pytest.raises(UserError, match=r"outside DirectionScores\(10\)"):
        env.step(3)
    with pytest.raises(UserError, match="non-finite"):
        env.step(np.r_[np.ones(10), np.nan])
    scores = np.zeros(11)
    scores[[4, 7]], scores[10] = 0.9, 2.0  # tie: the first direction; the scale is clipped to 1
    info = env.step(scores)[4]
    assert info["arm"] == 4 and info["scale"] == 1.0


# --------------------------------------------------------------------------- vector forms
@pytest.mark.parametrize("env_id", IDS)
def test_vector_env_streams_equal_single_envs(env_id: str) -> None:
    R = 3
    venv = gym.make_vec(env_id, num_envs=R, vectorization_mode="vector_entry_point", horizon=25)
    singles = [gym.make(env_id, horizon=25) for _ in range(R)]
    vobs, _ = venv.reset(seed=4)
    for i, s in enumerate(singles):
        np.testing.assert_array_equal(s.reset(seed=4 + i)[0], vobs[i])
    space = venv.single_action_space
    space.seed(0)
    for t in range(40):  # crosses the horizon: SAME_STEP autoreset
        acts = [space.sample() for _ in range(R)]
        if isinstance(space, gym.spaces.Tuple):
            batch: Any = (np.array([a[0] for a in acts]), np.array([a[1][0] for a in acts]))
        else:
            batch = np.stack(acts)
        vobs, vrew, _, vtrunc, vinfo = venv.step(batch)
        for i, s in enumerate(singles):
            obs, rew, _, trunc, info = s.step(acts[i])
            assert rew == vrew[i] and trunc == vtrunc[i]
            for key in ("regret", "violation", "cost", "expected_cost", "arm"):
                assert info[key] == vinfo[key][i], (t, key)
            if trunc:
                obs, _ = s.reset()
            np.testing.assert_array_equal(obs, vobs[i])
