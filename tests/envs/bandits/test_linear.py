"""LinearContextualBandit-v0: Gymnasium contract, exact regret on hand-built instances, knobs, solve()."""

from __future__ import annotations

import json
import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite import registry
from rl_suite.envs.bandits.linear import LinearContextualBandit
from rl_suite.errors import UserError
from rl_suite.registry import LINEAR_BANDIT
from tests.helpers import rollout, same

ID = "rl_suite/LinearContextualBandit-v0"

KNOBS = [
    {},
    {"model": "shared"},
    {"reward_noise": "gaussian", "noise_sd": 0.5},
    {"context": "ball", "dim": 3, "n_arms": 4},
    {"context": "gaussian", "reward_noise": "gaussian", "model": "shared", "dim": 5},
]


@pytest.mark.parametrize("kwargs", KNOBS, ids=str)
def test_check_env_passes_without_warnings(kwargs: dict) -> None:
    env = gym.make(ID, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    assert registry.env_entry(ID).family == LINEAR_BANDIT


@pytest.mark.parametrize("kwargs", KNOBS, ids=str)
def test_spaces_and_observation_shape(kwargs: dict) -> None:
    env = LinearContextualBandit(**kwargs)
    K, d = env.n_arms, env.dim
    assert env.action_space == gym.spaces.Discrete(K)
    assert env.observation_space.shape == (K, d) and env.observation_space.dtype == np.float64
    obs, info = env.reset(seed=0)
    assert obs.shape == (K, d) and obs.dtype == np.float64 and obs in env.observation_space
    assert (obs[:, 0] == 1.0).all()
    assert info["optimal_value"] == pytest.approx((obs * env.theta).sum(axis=-1).max(), abs=1e-12)


def test_same_seed_same_trajectory_and_seeds_differ() -> None:
    a, b = gym.make(ID, horizon=5), gym.make(ID, horizon=5)
    arms = lambda t: t % a.action_space.n  # noqa: E731  (12 steps: over two resets at the horizon)
    first = rollout(a, 3, 12, arms)
    assert same(first, rollout(b, 3, 12, arms))
    assert same(first, rollout(a, 3, 12, arms))  # reseeding replays
    assert not same(first, rollout(b, 4, 12, arms))


def test_instance_seed_sets_theta_and_reset_seed_only_the_noise() -> None:
    a, b = LinearContextualBandit(instance_seed=1), LinearContextualBandit(instance_seed=2)
    assert not np.array_equal(a.theta, b.theta)
    c = LinearContextualBandit(instance_seed=1)
    assert np.array_equal(a.theta, c.theta)
    c.reset(seed=6)
    assert np.array_equal(a.theta, c.theta)  # the noise seed leaves the instance alone
    # The contexts come from the reset seed alone: two instances see the same contexts for one seed.
    assert np.array_equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
    assert not np.array_equal(a.reset(seed=5)[0], a.reset(seed=6)[0])


def test_drawn_parameters_and_bounds() -> None:
    env = LinearContextualBandit(dim=6, n_arms=4, instance_seed=3)
    assert env.theta.shape == (4, 6) and (env.theta[:, 0] == 0.5).all()
    assert np.allclose(np.linalg.norm(env.theta[:, 1:], axis=1), 0.4)
    assert env.theta_norm_bound == pytest.approx(math.sqrt(0.25 + 0.16))
    assert env.feature_norm_bound == pytest.approx(math.sqrt(2)) and env.noise_sd_bound == 0.5
    shared = LinearContextualBandit(dim=6, model="shared", reward_noise="gaussian", noise_sd=0.3)
    assert shared.theta.shape == (6,) and shared.noise_sd_bound == 0.3
    with pytest.raises(ValueError):
        env.theta[0, 0] = 1.0  # read-only: the instance cannot drift from its bounds


def test_hand_built_disjoint_instance_regret_is_exact() -> None:
    # d = 2: x = [1, u] with u = ±1 (the unit "sphere" of dimension 1).
    theta = [[0.5, 0.4], [0.5, -0.4], [0.2, 0.0]]
    table = {1.0: ([0.9, 0.1, 0.2], 0), -1.0: ([0.1, 0.9, 0.2], 1)}  # means and best arm, by hand
    gaps = {1.0: [0.0, 0.8, 0.7], -1.0: [0.8, 0.0, 0.7]}
    env = LinearContextualBandit(dim=2, n_arms=3, theta=theta)
    obs, info = env.reset(seed=0)
    seen = set()
    for t in range(60):
        u = float(obs[0, 1])
        assert u in table and (obs == np.array([1.0, u])).all()
        means, best = table[u]
        assert info["optimal_value"] == pytest.approx(0.9, abs=1e-12)
        arm = t % 3
        obs, reward, term, trunc, info = env.step(arm)
        assert info["expected_reward"] == pytest.approx(means[arm], abs=1e-12)
        assert info["regret"] == pytest.approx(gaps[u][arm], abs=1e-12)
        assert info["optimal_value"] == pytest.approx(0.9, abs=1e-12) and info["optimal_action"] == best
        assert reward in (0.0, 1.0) and term is False and trunc is False
        seen.add((u, arm))
    assert len(seen) == 6  # both contexts met with every arm


def test_hand_built_shared_instance_regret_is_exact() -> None:
    env = LinearContextualBandit(dim=2, n_arms=3, model="shared", theta=[0.5, 0.4])
    obs, _ = env.reset(seed=1)
    for t in range(40):
        u = obs[:, 1]
        assert set(u.tolist()) <= {-1.0, 1.0}
        means = 0.5 + 0.4 * u  # 0.9 or 0.1 per arm
        arm = t % 3
        obs, _, _, _, info = env.step(arm)
        assert info["expected_reward"] == pytest.approx(means[arm], abs=1e-12)
        assert info["optimal_value"] == pytest.approx(means.max(), abs=1e-12)
        assert info["regret"] == pytest.approx(means.max() - means[arm], abs=1e-12)


def test_regret_is_zero_exactly_for_the_optimal_arm_and_positive_otherwise() -> None:
    env = LinearContextualBandit(dim=4, n_arms=5, model="shared", reward_noise="gaussian")
    obs, _ = env.reset(seed=1)
    for t in range(60):
        means = obs @ env.theta
        best = int(means.argmax())
        arm = best if t % 2 else (best + 1) % 5
        obs, _, _, _, info = env.step(arm)
        assert info["optimal_action"] == best
        if arm == best:
            assert info["regret"] == 0.0
        else:
            assert info["regret"] > 0.0
            assert info["regret"] == pytest.approx(means.max() - means[arm], abs=1e-12)


def test_randomness_follows_the_documented_draw_order() -> None:
    # Disjoint, sphere, d = 4: reset draws 3 normals (the first context); each step draws 1 + 3 normals
    # (this round's reward noise, then the next context) from np.random.default_rng(seed).
    env = LinearContextualBandit(dim=4, n_arms=3, reward_noise="gaussian", noise_sd=0.5)
    seed = 11
    obs, _ = env.reset(seed=seed)
    z = np.random.default_rng(seed).standard_normal(3 + 5 * 4)
    assert np.allclose(obs[0, 1:], z[:3] / np.linalg.norm(z[:3]), rtol=0, atol=1e-15)
    for t in range(5):
        mean = float(obs[1] @ env.theta[1])
        obs, reward, _, _, _ = env.step(1)
        noise, ctx = z[3 + 4 * t], z[4 + 4 * t : 7 + 4 * t]
        assert reward == pytest.approx(mean + 0.5 * noise, abs=1e-12)
        assert np.allclose(obs[1, 1:], ctx / np.linalg.norm(ctx), rtol=0, atol=1e-15)
    # Bernoulli rewards use the same normal: reward = 1{Φ(z) < μ}.
    ber = LinearContextualBandit(dim=4, n_arms=3)
    obs, _ = ber.reset(seed=seed)
    for t in range(5):
        mean = float(obs[2] @ ber.theta[2])
        obs, reward, _, _, _ = ber.step(2)
        assert reward == float(ndtr(z[3 + 4 * t]) < mean)


@pytest.mark.parametrize("context", ["sphere", "ball"])
def test_bernoulli_means_in_range_and_contexts_bounded(context: str) -> None:
    env = LinearContextualBandit(dim=6, n_arms=8, context=context)
    obs, _ = env.reset(seed=0)
    radii = []
    for t in range(400):
        norms = np.linalg.norm(obs[:, 1:], axis=1)
        radii.append(norms[0])
        if context == "sphere":
            assert np.allclose(norms, 1.0, rtol=0, atol=1e-12)
        else:
            assert (norms <= 1.0 + 1e-12).all()
        assert np.linalg.norm(obs[0]) <= env.feature_norm_bound + 1e-12
        obs, _, _, _, info = env.step(t % 8)
        assert 0.1 - 1e-12 <= info["expected_reward"] <= info["optimal_value"] <= 0.9 + 1e-12
        assert obs in env.observation_space
    if context == "ball":
        # Uniform in the 5-ball: P(‖u‖ ≤ r) = r^5, so the median radius is 0.5^(1/5) ≈ 0.87.
        assert np.median(radii) == pytest.approx(0.5 ** (1 / 5), abs=0.05)


def test_gaussian_contexts_scale_and_bound() -> None:
    env = LinearContextualBandit(dim=5, context="gaussian", reward_noise="gaussian")
    obs, _ = env.reset(seed=0)
    us = []
    for _ in range(2000):
        assert obs in env.observation_space
        assert np.linalg.norm(obs[0]) <= env.feature_norm_bound
        us.append(obs[0, 1:])
        obs = env.step(0)[0]
    assert np.std(us) == pytest.approx(1 / math.sqrt(4), rel=0.05)  # N(0, I/(d-1))
    assert env.feature_norm_bound == pytest.approx(math.sqrt(65))


def test_empirical_reward_matches_mean() -> None:
    theta = [[0.7, 0.0, 0.0], [0.3, 0.0, 0.0]]  # constant means 0.7 and 0.3
    env = LinearContextualBandit(dim=3, n_arms=2, theta=theta, horizon=10_000)
    env.reset(seed=0)
    rewards = np.array([env.step(0)[1] for _ in range(4000)])
    assert set(np.unique(rewards)) <= {0.0, 1.0}
    assert rewards.mean() == pytest.approx(0.7, abs=0.03)
    g = LinearContextualBandit(dim=3, n_arms=2, theta=theta, reward_noise="gaussian", noise_sd=2.0)
    g.reset(seed=0)
    rewards = np.array([g.step(1)[1] for _ in range(4000)])
    assert rewards.mean() == pytest.approx(0.3, abs=0.1) and rewards.std() == pytest.approx(2.0, rel=0.1)


def test_horizon_truncates_and_never_terminates() -> None:
    env = gym.make(ID, horizon=3)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_observations_are_not_overwritten_by_later_steps() -> None:
    env = LinearContextualBandit(dim=3, n_arms=2)
    first, _ = env.reset(seed=0)
    kept = first.copy()
    second = env.step(0)[0]
    env.step(1)
    assert np.array_equal(first, kept) and not np.array_equal(first, second)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"dim": 1}, r"^dim must be >= 2, got 1$"),
        ({"dim": "3"}, r"^dim must be an integer >= 2, got '3'$"),
        ({"dim": 2.0}, r"^dim must be an integer"),
        ({"n_arms": 1}, r"^n_arms must be >= 2, got 1$"),
        ({"n_arms": True}, r"^n_arms must be an integer"),
        ({"model": "joint"}, r"^model must be one of 'disjoint', 'shared', got 'joint'$"),
        (
            {"reward_noise": "poisson"},
            r"^reward_noise must be one of 'bernoulli', 'gaussian', got 'poisson'$",
        ),
        ({"noise_sd": 0}, r"^noise_sd must be a finite number > 0, got 0.0$"),
        ({"noise_sd": float("nan")}, r"^noise_sd must be a finite number > 0"),
        ({"noise_sd": "x"}, r"^noise_sd must be a number > 0"),
        ({"context": "cube"}, r"^context must be one of 'sphere', 'ball', 'gaussian', got 'cube'$"),
        ({"horizon": 0}, r"^horizon must be >= 1, got 0$"),
        ({"instance_seed": -1}, r"^instance_seed must be >= 0, got -1$"),
        ({"context": "gaussian"}, r"^context='gaussian' is unbounded, so Bernoulli means"),
        ({"theta": [[1.0, 0.5]] * 10}, r"^theta must be finite with shape \(10, 10\)"),
        ({"model": "shared", "dim": 3, "theta": [0.5, 0.1]}, r"^theta must be finite with shape \(3,\)"),
        ({"dim": 2, "n_arms": 2, "theta": [[0.9, 0.5], [0.5, 0.0]]}, r"outside \[0, 1\]"),
        ({"dim": 2, "n_arms": 2, "theta": [[0.5, np.inf], [0.5, 0.0]]}, r"^theta must be finite"),
        ({"theta": "abc"}, r"^theta must be"),
    ],
)
def test_bad_knobs_are_one_line_user_errors(kwargs: dict, pattern: str) -> None:
    with pytest.raises(UserError, match=pattern) as info:
        LinearContextualBandit(**kwargs)
    assert "\n" not in str(info.value)


def test_theta_beyond_bernoulli_range_is_fine_for_gaussian_rewards() -> None:
    env = LinearContextualBandit(dim=2, n_arms=2, theta=[[0.9, 0.5], [0.5, 0.0]], reward_noise="gaussian")
    assert env.theta_norm_bound == pytest.approx(math.hypot(0.9, 0.5))


def test_step_before_reset_and_bad_actions() -> None:
    env = LinearContextualBandit(n_arms=4)
    with pytest.raises(UserError, match=r"^call reset\(\) before step\(\)$"):
        env.step(0)
    env.reset(seed=0)
    for bad in (4, -1, 1.5, "a", np.array([1, 2]), None, True, np.float64(1.0)):
        with pytest.raises(UserError, match=r"outside Discrete\(4\)") as info:
            env.step(bad)
        assert "\n" not in str(info.value)
    env.step(np.int64(3))
    env.step(np.array(2))
    wrapped = gym.make(ID)
    with pytest.raises(gym.error.ResetNeeded):
        wrapped.step(0)


@settings(max_examples=60, deadline=None)
@given(dim=st.integers(-3, 30), n_arms=st.integers(-3, 30), horizon=st.integers(-5, 5))
def test_knob_validation_property(dim: int, n_arms: int, horizon: int) -> None:
    if dim >= 2 and n_arms >= 2 and horizon >= 1:
        env = LinearContextualBandit(dim=dim, n_arms=n_arms, horizon=horizon)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (n_arms, dim) and obs in env.observation_space
    else:
        with pytest.raises(UserError, match=r"^(dim|n_arms|horizon) must be >= \d, got -?\d+$"):
            LinearContextualBandit(dim=dim, n_arms=n_arms, horizon=horizon)


@settings(max_examples=80, deadline=None)
@given(
    action=st.one_of(
        st.integers(-100, 100), st.floats(allow_nan=True), st.text(max_size=3), st.booleans(), st.none()
    )
)
def test_action_validation_property(action: object) -> None:
    env = LinearContextualBandit(n_arms=5)
    env.reset(seed=0)
    if type(action) is int and 0 <= action < 5:
        assert env.step(action)[4]["regret"] >= 0.0
    else:
        with pytest.raises(UserError, match=r"outside Discrete\(5\)") as info:
            env.step(action)
        assert "\n" not in str(info.value)


def test_solve_is_json_and_sensible() -> None:
    env = LinearContextualBandit(dim=5, n_arms=4)
    sol = env.solve(n_samples=20_000)
    assert json.loads(json.dumps(sol)) == sol
    assert sol["optimal_policy"] == "argmax_a <theta_a, x>" and sol["model"] == "disjoint"
    assert np.array_equal(np.array(sol["theta"]), env.theta)
    value = sol["optimal_value_per_round"]
    est = value["estimate"]
    assert value["n_samples"] == 20_000 and 0 < value["std_error"] < 0.01
    assert sol["random_policy_value_per_round"] < est < 0.9
    assert sol["random_policy_value_per_round"] == pytest.approx(0.5, abs=0.01)  # E⟨v, u⟩ = 0
    assert sol["expected_regret_per_round_of_random_policy"] == pytest.approx(
        est - sol["random_policy_value_per_round"]
    )
    # The estimate agrees with the exact optimal values the env reports while stepping.
    env.reset(seed=3)
    seen = [env.step(0)[4]["optimal_value"] for _ in range(10_000)]
    assert np.mean(seen) == pytest.approx(est, abs=5 * math.hypot(value["std_error"], np.std(seen) / 100))
    shared = LinearContextualBandit(dim=3, model="shared").solve(n_samples=100)
    assert shared["optimal_policy"] == "argmax_a <theta, x_a>" and len(shared["theta"]) == 3
