"""The layered lure MDP generator: the lure depth sets min_k; sticky version; bad arguments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.envs.layered import LayeredLureMDP
from rl_suite.errors import UserError
from rl_suite.exact import tabular
from rl_suite.exact.effective_horizon import min_k


@pytest.mark.parametrize("depth", [3, 4])
def test_lure_depth_sets_min_k(depth: int) -> None:
    for seed in range(6):
        env = LayeredLureMDP(lure_depth=depth, instance_seed=seed)
        assert env.min_k == depth
        assert env.solve()["min_k"] == depth
        assert min_k(*env.model()) == depth


def test_lure_is_greedy_on_q_random_and_lock_is_optimal() -> None:
    env = LayeredLureMDP(lure_depth=3, slip=0.0, reward_density=0.0, instance_seed=1)
    P, R, _ = env.model()
    # With no slip and no background reward: V* = 1 (the lock), the lure pays 0.6 and traps.
    assert env.optimal_value() == pytest.approx(1.0)
    lure = int(np.flatnonzero(R[0, 0] == 0.6)[0])
    assert P[0, 0, lure, env.n_states - 1] == 1.0
    Q_rand = tabular.policy_evaluation(P, R, np.full((6, 5, 2), 0.5))[0]
    assert Q_rand[0, 0].argmax() == lure  # the lock is worth 1/A² = 0.25 < 0.6 to the random policy


def test_sticky_version_observes_the_state_and_cannot_beat_the_plain_mdp() -> None:
    plain = LayeredLureMDP(lure_depth=2, instance_seed=3)
    sticky = gym.make("rl_suite/LayeredLureMDP-v0", lure_depth=2, instance_seed=3, repeat_probability=0.25)
    base = sticky.unwrapped
    assert base.n_states == 5 * 2 and sticky.observation_space == gym.spaces.Discrete(5)
    assert base.optimal_value() <= plain.optimal_value() + 1e-12
    obs, info = sticky.reset(seed=0)
    for _ in range(6):
        assert obs == info["state"] // 2
        obs, _, _, _, info = sticky.step(sticky.action_space.sample())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_states": 2}, "n_states"),
        ({"lure_depth": 7}, "lure_depth must be <= horizon=6"),
        ({"slip": 1.5}, "slip must be in"),
        ({"repeat_probability": 1.0}, r"repeat_probability must be a number in \[0, 1\)"),
        ({"lure_reward": -1.0}, "lure_reward"),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises((UserError, ValueError), match=message):
        LayeredLureMDP(**kwargs)
