"""MultiArmedBandit-v0: Gymnasium contract, exact gaps, draw order, validation, Lai-Robbins constant."""

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
from rl_suite.envs.bandits.multi_armed import MultiArmedBandit, bernoulli_kl
from rl_suite.errors import UserError
from rl_suite.registry import MULTI_ARMED_BANDIT

ID = "rl_suite/MultiArmedBandit-v0"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"reward_noise": "gaussian"}, {"means": [0.1, 0.9, 0.5], "horizon": 5}, {"n_arms": 3}],
    ids=str,
)
def test_check_env_passes_without_warnings(kwargs: dict) -> None:
    env = gym.make(ID, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    assert registry.env_entry(ID).family == MULTI_ARMED_BANDIT


def test_gaps_are_exact() -> None:
    env = gym.make(ID, means=[0.2, 0.7, 0.5])
    obs, info = env.reset(seed=0)
    assert obs == 0 and isinstance(obs, np.int64) and info["optimal_value"] == 0.7
    assert env.observation_space == gym.spaces.Discrete(1) and env.action_space == gym.spaces.Discrete(3)
    for arm, gap in [(0, 0.5), (1, 0.0), (2, 0.2), (1, 0.0)]:
        obs, reward, term, trunc, info = env.step(arm)
        assert info["regret"] == pytest.approx(gap, abs=1e-15)
        assert info["expected_reward"] == [0.2, 0.7, 0.5][arm]
        assert info["optimal_value"] == 0.7 and info["optimal_action"] == 1
        assert reward in (0.0, 1.0) and obs == 0 and term is False and trunc is False
        assert (info["regret"] == 0.0) == (arm == 1)
    assert env.unwrapped.n_arms == 3


def test_rewards_follow_the_documented_draw_order() -> None:
    # reset draws nothing; step t draws the t-th normal z_t of np.random.default_rng(seed).
    seed = 7
    z = np.random.default_rng(seed).standard_normal(6)
    gauss = MultiArmedBandit(means=[-1.0, 2.0], reward_noise="gaussian", noise_sd=0.5)
    gauss.reset(seed=seed)
    assert [gauss.step(t % 2)[1] for t in range(6)] == [[-1.0, 2.0][t % 2] + 0.5 * z[t] for t in range(6)]
    ber = MultiArmedBandit(means=[0.3, 0.6])
    ber.reset(seed=seed)
    assert [ber.step(1)[1] for _ in range(6)] == [float(ndtr(z[t]) < 0.6) for t in range(6)]


def test_same_seed_same_trajectory_and_seeds_differ() -> None:
    env = MultiArmedBandit(horizon=4)

    def rewards(seed: int) -> list[float]:
        env.reset(seed=seed)
        return [env.step(t % 10)[1] for t in range(40)]

    assert rewards(1) == rewards(1)
    assert rewards(1) != rewards(2)


def test_means_from_instance_seed() -> None:
    a, b = MultiArmedBandit(instance_seed=0), MultiArmedBandit(instance_seed=1)
    assert a.means.shape == (10,) and ((a.means >= 0) & (a.means <= 1)).all()
    assert np.array_equal(a.means, np.random.default_rng(0).uniform(0, 1, 10))
    assert not np.array_equal(a.means, b.means)
    a.reset(seed=3)
    assert np.array_equal(a.means, MultiArmedBandit(instance_seed=0).means)  # the noise seed leaves them
    assert MultiArmedBandit(n_arms=4).means.shape == (4,)
    assert (
        a.noise_sd_bound == 0.5 and MultiArmedBandit(reward_noise="gaussian", noise_sd=2).noise_sd_bound == 2
    )
    with pytest.raises(ValueError):
        a.means[0] = 0.5  # read-only


def test_means_given_set_n_arms() -> None:
    assert MultiArmedBandit(means=[0.1, 0.2, 0.3]).n_arms == 3
    assert MultiArmedBandit(means=[0.1, 0.2, 0.3], n_arms=3).n_arms == 3


def test_empirical_means() -> None:
    env = MultiArmedBandit(means=[0.3, 0.8], horizon=100_000)
    env.reset(seed=0)
    assert np.mean([env.step(1)[1] for _ in range(5000)]) == pytest.approx(0.8, abs=0.02)
    g = MultiArmedBandit(means=[-1.0, 2.0], reward_noise="gaussian", noise_sd=0.5, horizon=100_000)
    g.reset(seed=0)
    r = np.array([g.step(0)[1] for _ in range(5000)])
    assert r.mean() == pytest.approx(-1.0, abs=0.03) and r.std() == pytest.approx(0.5, rel=0.05)


def test_horizon_truncates() -> None:
    env = MultiArmedBandit(horizon=2)
    env.reset(seed=0)
    assert [env.step(0)[3] for _ in range(2)] == [False, True]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"n_arms": 1}, r"^n_arms must be >= 2, got 1$"),
        ({"n_arms": 2.5}, r"^n_arms must be an integer >= 2, got 2.5$"),
        ({"means": [0.5]}, r"^means must be a flat list of at least 2 finite numbers"),
        ({"means": [[0.1, 0.2]]}, r"^means must be a flat list"),
        ({"means": [0.1, float("nan")]}, r"^means must be a flat list"),
        ({"means": [0.2, 1.5]}, r"^means must lie in \[0, 1\] for Bernoulli rewards, got \[0.2, 1.5\]$"),
        ({"means": ["a", "b"]}, r"^means must be a list of numbers"),
        ({"means": [0.1, 0.2], "n_arms": 3}, r"^n_arms=3 disagrees with the 2 means given$"),
        ({"reward_noise": "beta"}, r"^reward_noise must be one of 'bernoulli', 'gaussian', got 'beta'$"),
        ({"noise_sd": -1}, r"^noise_sd must be a finite number > 0, got -1.0$"),
        ({"horizon": 0}, r"^horizon must be >= 1, got 0$"),
        ({"instance_seed": "s"}, r"^instance_seed must be an integer"),
    ],
)
def test_bad_knobs(kwargs: dict, pattern: str) -> None:
    with pytest.raises(UserError, match=pattern) as info:
        MultiArmedBandit(**kwargs)
    assert "\n" not in str(info.value)


def test_gaussian_means_may_leave_the_unit_interval() -> None:
    assert MultiArmedBandit(means=[-3.0, 5.0], reward_noise="gaussian").means.tolist() == [-3.0, 5.0]


@settings(max_examples=50, deadline=None)
@given(action=st.one_of(st.integers(-20, 20), st.floats(), st.text(max_size=2)))
def test_action_validation_property(action: object) -> None:
    env = MultiArmedBandit(means=[0.1, 0.4, 0.9])
    env.reset(seed=0)
    if type(action) is int and 0 <= action < 3:
        assert env.step(action)[4]["regret"] == pytest.approx([0.8, 0.5, 0.0][action])
    else:
        with pytest.raises(UserError, match=r"outside Discrete\(3\)"):
            env.step(action)


def test_step_before_reset() -> None:
    with pytest.raises(UserError, match=r"^call reset\(\) before step\(\)$"):
        MultiArmedBandit().step(0)


def test_bernoulli_kl_hand_values() -> None:
    assert bernoulli_kl([0.5], 0.5)[0] == 0.0
    expected = 0.2 * math.log(0.2 / 0.5) + 0.8 * math.log(0.8 / 0.5)
    assert bernoulli_kl([0.2], 0.5)[0] == pytest.approx(expected)
    assert bernoulli_kl([0.0], 0.5)[0] == pytest.approx(math.log(2))
    assert bernoulli_kl([1.0], 0.5)[0] == pytest.approx(math.log(2))
    assert bernoulli_kl([0.3], 1.0)[0] == math.inf


def test_solve_lai_robbins() -> None:
    sol = MultiArmedBandit(means=[0.2, 0.5]).solve()
    assert json.loads(json.dumps(sol)) == sol
    assert sol["optimal_arm"] == 1 and sol["optimal_value_per_round"] == 0.5
    assert sol["gaps"] == pytest.approx([0.3, 0.0]) and sol["means"] == [0.2, 0.5]
    assert sol["random_policy_value_per_round"] == pytest.approx(0.35)
    kl = 0.2 * math.log(0.2 / 0.5) + 0.8 * math.log(0.8 / 0.5)
    assert sol["lai_robbins_constant"] == pytest.approx(0.3 / kl)
    g = MultiArmedBandit(means=[0.0, 1.0, 0.5], reward_noise="gaussian", noise_sd=2.0).solve()
    assert g["lai_robbins_constant"] == pytest.approx(2 * 4 / 1.0 + 2 * 4 / 0.5)
    # A sure best arm (μ* = 1) costs nothing asymptotically: KL(μ_a, 1) = ∞.
    assert MultiArmedBandit(means=[0.4, 1.0]).solve()["lai_robbins_constant"] == 0.0
    assert MultiArmedBandit(means=[0.4, 0.4]).solve()["lai_robbins_constant"] == 0.0  # no gaps


def test_normal_cdf_kernel_matches_known_values_and_scipy() -> None:
    """Φ of the bandit envs (Bernoulli rewards, ball contexts, policy sampling): A&S 26.2 table values,
    symmetry, the limits, scipy's ndtr to 1e-14 relative error, and the same value whatever array an
    entry comes in (what keeps vector envs equal to single envs)."""
    from rl_suite.envs.bandits._core import ndtr as phi

    assert phi(np.array([0.0, -0.0]))[0] == 0.5
    # Abramowitz & Stegun (1964) Table 26.1, and Φ(1.959963984540054) = 0.975.
    np.testing.assert_allclose(
        phi(np.array([1.0, 2.0, -1.0, 3.0, 1.959963984540054])),
        [0.8413447460685429, 0.9772498680518208, 0.15865525393145707, 0.9986501019683699, 0.975],
        rtol=1e-15,
    )
    np.testing.assert_array_equal(phi(np.array([np.inf, -np.inf, 40.0, -40.0])), [1.0, 0.0, 1.0, 0.0])
    assert np.isnan(phi(np.array([np.nan])))[0]
    z = np.random.default_rng(0).standard_normal((400, 5)) * 3
    np.testing.assert_allclose(phi(z), ndtr(z), rtol=1e-14, atol=0)
    np.testing.assert_allclose(phi(z) + phi(-z), 1.0, rtol=0, atol=2e-16)
    assert phi(z).shape == z.shape and phi(z).dtype == np.float64
    assert np.array_equal(np.concatenate([phi(row) for row in z]), phi(z).ravel())
