"""MultiArmedBandit-v0: exact gaps, validation, the Lai-Robbins constant."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401
from rl_suite.envs.bandits.multi_armed import MultiArmedBandit, bernoulli_kl
from rl_suite.errors import UserError


def test_gaps_are_exact() -> None:
    env = gym.make("rl_suite/MultiArmedBandit-v0", means=[0.2, 0.7, 0.5])
    obs, info = env.reset(seed=0)
    assert obs == 0 and info["optimal_value"] == 0.7
    for arm, gap in [(0, 0.5), (1, 0.0), (2, 0.2)]:
        _, reward, _, _, info = env.step(arm)
        assert info["regret"] == pytest.approx(gap)
        assert info["optimal_value"] == 0.7 and info["optimal_action"] == 1
        assert reward in (0.0, 1.0)
    assert env.unwrapped.n_arms == 3


def test_means_from_instance_seed() -> None:
    a, b = MultiArmedBandit(instance_seed=0), MultiArmedBandit(instance_seed=1)
    assert a.means.shape == (10,) and ((a.means >= 0) & (a.means <= 1)).all()
    assert not np.array_equal(a.means, b.means)
    assert np.array_equal(a.means, MultiArmedBandit(instance_seed=0).means)


def test_empirical_means() -> None:
    env = MultiArmedBandit(means=[0.3, 0.8], horizon=100_000)
    env.reset(seed=0)
    assert np.mean([env.step(1)[1] for _ in range(5000)]) == pytest.approx(0.8, abs=0.02)
    g = MultiArmedBandit(means=[-1.0, 2.0], reward_noise="gaussian", noise_sd=0.5, horizon=100_000)
    g.reset(seed=0)
    r = np.array([g.step(0)[1] for _ in range(5000)])
    assert r.mean() == pytest.approx(-1.0, abs=0.03) and r.std() == pytest.approx(0.5, rel=0.05)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"n_arms": 1}, "n_arms must be in"),
        ({"means": [0.5]}, "at least 2"),
        ({"means": [0.2, 1.5]}, "Bernoulli means must lie in \\[0, 1\\]"),
        ({"means": ["a", "b"]}, "means must be a list of numbers"),
        ({"means": [0.1, 0.2], "n_arms": 3}, "n_arms=3 disagrees with 2 means"),
        ({"reward_noise": "beta"}, "reward_noise must be one of"),
        ({"noise_sd": -1}, "noise_sd must be > 0"),
        ({"horizon": 0}, "horizon must be >= 1"),
    ],
)
def test_bad_knobs(kwargs: dict, pattern: str) -> None:
    with pytest.raises(UserError, match=pattern):
        MultiArmedBandit(**kwargs)


def test_bernoulli_kl_hand_values() -> None:
    assert bernoulli_kl(np.array([0.5]), 0.5)[0] == 0.0
    expected = 0.2 * math.log(0.2 / 0.5) + 0.8 * math.log(0.8 / 0.5)
    assert bernoulli_kl(np.array([0.2]), 0.5)[0] == pytest.approx(expected)
    assert bernoulli_kl(np.array([0.0]), 0.5)[0] == pytest.approx(math.log(2))


def test_solve_lai_robbins() -> None:
    sol = MultiArmedBandit(means=[0.2, 0.5]).solve()
    json.dumps(sol)
    assert sol["optimal_arm"] == 1 and sol["optimal_value_per_round"] == 0.5
    assert sol["gaps"] == pytest.approx([0.3, 0.0])
    kl = 0.2 * math.log(0.2 / 0.5) + 0.8 * math.log(0.8 / 0.5)
    assert sol["lai_robbins_constant"] == pytest.approx(0.3 / kl)
    g = MultiArmedBandit(means=[0.0, 1.0, 0.5], reward_noise="gaussian", noise_sd=2.0).solve()
    assert g["lai_robbins_constant"] == pytest.approx(2 * 4 / 1.0 + 2 * 4 / 0.5)
