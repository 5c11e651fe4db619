"""LinearContextualBandit-v0: exact regret on hand-built instances, knobs, validation, solve()."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rl_suite  # noqa: F401
from rl_suite.envs.bandits.linear import LinearContextualBandit
from rl_suite.errors import UserError

ID = "rl_suite/LinearContextualBandit-v0"


def test_hand_built_disjoint_instance_regret_is_exact() -> None:
    theta = [[0.5, 0.4], [0.5, -0.4], [0.2, 0.0]]  # d = 2: x = [1, u] with u = ±1 on the 1-D "sphere"
    env = LinearContextualBandit(dim=2, n_arms=3, theta=theta)
    obs, info = env.reset(seed=0)
    for _ in range(50):
        u = obs[0, 1]
        assert u in (-1.0, 1.0) and (obs[:, 0] == 1.0).all() and (obs == obs[0]).all()
        means = np.array([0.5 + 0.4 * u, 0.5 - 0.4 * u, 0.2])  # by hand
        assert info["optimal_value"] == pytest.approx(means.max())
        arm = int(np.random.default_rng(int(u > 0)).integers(3))
        obs, reward, term, _, info = env.step(arm)
        assert info["expected_reward"] == pytest.approx(means[arm])
        assert info["regret"] == pytest.approx(means.max() - means[arm])
        assert info["optimal_action"] == int(means.argmax())
        assert reward in (0.0, 1.0) and not term


def test_regret_zero_exactly_for_optimal_action() -> None:
    env = gym.make(ID, model="shared", dim=4, n_arms=5, reward_noise="gaussian")
    env.reset(seed=1)
    u = env.unwrapped
    for _ in range(30):
        _, _, _, _, info = env.step(u._opt)  # the optimal arm of the current round
        assert info["regret"] == 0.0
        _, _, _, _, info = env.step((u._opt + 1) % 5)
        assert info["regret"] > 0.0


def test_shared_model_hand_value() -> None:
    env = LinearContextualBandit(dim=3, n_arms=2, model="shared", theta=[0.5, 0.3, -0.4])
    obs, _ = env.reset(seed=4)
    means = obs @ np.array([0.5, 0.3, -0.4])
    _, _, _, _, info = env.step(0)
    assert info["regret"] == pytest.approx(means.max() - means[0])
    assert not np.array_equal(obs[0], obs[1])  # per-arm features


@pytest.mark.parametrize("context", ["sphere", "ball"])
def test_bernoulli_means_in_range_and_contexts_bounded(context: str) -> None:
    env = LinearContextualBandit(dim=6, n_arms=8, context=context)
    env.reset(seed=0)
    for _ in range(500):
        obs, _, _, _, info = env.step(0)
        norms = np.linalg.norm(obs[:, 1:], axis=1)
        if context == "sphere":
            assert np.allclose(norms, 1.0)
        else:
            assert (norms <= 1.0 + 1e-12).all()
        assert 0.1 - 1e-12 <= info["expected_reward"] <= 0.9 + 1e-12
        assert obs in env.observation_space


def test_empirical_reward_matches_mean() -> None:
    env = LinearContextualBandit(dim=3, n_arms=2, theta=[[0.7, 0.0, 0.0], [0.3, 0.0, 0.0]], horizon=10_000)
    env.reset(seed=0)
    rewards = [env.step(0)[1] for _ in range(4000)]
    assert np.mean(rewards) == pytest.approx(0.7, abs=0.03)
    g = LinearContextualBandit(
        dim=3, n_arms=2, theta=[[0.7, 0, 0], [0.3, 0, 0]], reward_noise="gaussian", noise_sd=2.0
    )
    g.reset(seed=0)
    rewards = np.array([g.step(1)[1] for _ in range(4000)])
    assert rewards.mean() == pytest.approx(0.3, abs=0.1) and rewards.std() == pytest.approx(2.0, rel=0.1)


def test_instance_seed_sets_theta_and_reset_seed_sets_noise() -> None:
    a, b = LinearContextualBandit(instance_seed=1), LinearContextualBandit(instance_seed=2)
    assert not np.array_equal(a.theta, b.theta)
    c = LinearContextualBandit(instance_seed=1)
    assert np.array_equal(a.theta, c.theta)
    o1, _ = a.reset(seed=5)
    o2, _ = c.reset(seed=6)
    assert not np.array_equal(o1, o2)
    assert np.allclose(np.linalg.norm(a.theta, axis=1), math.sqrt(0.25 + 0.16))
    assert a.theta_norm_bound == pytest.approx(math.sqrt(0.41))
    assert a.feature_norm_bound == pytest.approx(math.sqrt(2)) and a.noise_sd_bound == 0.5


def test_horizon_truncates() -> None:
    env = gym.make(ID, horizon=3)
    env.reset(seed=0)
    assert [env.step(0)[3] for _ in range(3)] == [False, False, True]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"dim": 1}, "dim must be in"),
        ({"dim": "3"}, "dim must be an integer"),
        ({"n_arms": 1}, "n_arms must be in"),
        ({"model": "joint"}, "model must be one of 'disjoint', 'shared'"),
        ({"reward_noise": "poisson"}, "reward_noise must be one of"),
        ({"noise_sd": 0}, "noise_sd must be > 0"),
        ({"noise_sd": float("nan")}, "noise_sd"),
        ({"context": "cube"}, "context must be one of 'sphere', 'ball', 'gaussian'"),
        ({"horizon": 0}, "horizon must be >= 1, got 0"),
        ({"instance_seed": -1}, "instance_seed must be >= 0"),
        ({"context": "gaussian"}, "Bernoulli means"),
        ({"theta": [[1.0, 0.5]] * 10}, "theta must be finite with shape"),
        ({"dim": 2, "n_arms": 2, "theta": [[0.9, 0.5], [0.5, 0.0]]}, "outside \\[0, 1\\]"),
        ({"theta": "abc"}, "theta must be"),
    ],
)
def test_bad_knobs_are_one_line_user_errors(kwargs: dict, pattern: str) -> None:
    with pytest.raises(UserError, match=pattern) as info:
        LinearContextualBandit(**kwargs)
    assert "\n" not in str(info.value)


def test_step_before_reset_and_bad_actions() -> None:
    env = LinearContextualBandit(n_arms=4)
    with pytest.raises(UserError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    for bad in (4, -1, 1.5, "a", np.array([1, 2]), None, True):
        with pytest.raises(UserError, match=r"outside Discrete\(4\)"):
            env.step(bad)
    env.step(np.int64(3))
    env.step(np.array(2))


@settings(max_examples=60, deadline=None)
@given(dim=st.integers(-3, 40), n_arms=st.integers(-3, 40), horizon=st.integers(-5, 5))
def test_knob_validation_property(dim: int, n_arms: int, horizon: int) -> None:
    ok = dim >= 2 and n_arms >= 2 and horizon >= 1
    if ok:
        env = LinearContextualBandit(dim=dim, n_arms=n_arms, horizon=horizon)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (n_arms, dim) and obs.dtype == np.float64
    else:
        with pytest.raises(UserError):
            LinearContextualBandit(dim=dim, n_arms=n_arms, horizon=horizon)


@settings(max_examples=60, deadline=None)
@given(action=st.one_of(st.integers(-100, 100), st.floats(allow_nan=True), st.text(max_size=3)))
def test_action_validation_property(action: object) -> None:
    env = LinearContextualBandit(n_arms=5)
    env.reset(seed=0)
    if isinstance(action, int) and 0 <= action < 5:
        env.step(action)
    else:
        with pytest.raises(UserError, match="outside Discrete"):
            env.step(action)


def test_solve_is_json_and_sensible() -> None:
    env = LinearContextualBandit(dim=5, n_arms=4)
    sol = env.solve(n_samples=20_000)
    json.dumps(sol)
    est = sol["optimal_value_per_round"]["estimate"]
    assert sol["random_policy_value_per_round"] < est < 0.9
    assert sol["optimal_value_per_round"]["std_error"] < 0.01
    assert sol["expected_regret_per_round_of_random_policy"] == pytest.approx(
        est - sol["random_policy_value_per_round"]
    )
    # The estimate agrees with the optimal values the env reports while stepping.
    env.reset(seed=3)
    seen = [env.step(0)[4]["optimal_value"] for _ in range(20_000)]
    assert np.mean(seen) == pytest.approx(est, abs=0.01)


def test_gaussian_context_bounds() -> None:
    env = LinearContextualBandit(dim=5, context="gaussian", reward_noise="gaussian")
    env.reset(seed=0)
    for _ in range(200):
        obs = env.step(0)[0]
        assert obs in env.observation_space
        assert np.linalg.norm(obs[0]) <= env.feature_norm_bound
