"""MiniGrid levels enumerated into finite-horizon MDPs: state count and V* by hand on Empty-5x5."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.envs.minigrid import MiniGridFiniteHorizon, enumerate_level
from rl_suite.errors import UserError


def test_empty_5x5_enumeration_matches_hand_counts() -> None:
    table = enumerate_level("MiniGrid-Empty-5x5-v0", 3, 0)
    # 3x3 free cells minus the goal = 8 cells x 4 directions, plus the absorbing goal and failure states.
    assert table["next"].shape == (34, 3)
    assert table["reward"].sum() == 2  # forward into the goal from its two neighbours facing it
    assert table["full"][0][1, 1].tolist() == [10, 0, 0]  # agent at (1, 1) facing east


@pytest.mark.parametrize(("horizon", "value"), [(4, 0.0), (5, 1.0), (20, 1.0)])
def test_empty_5x5_optimal_value_by_hand(horizon: int, value: float) -> None:
    # Shortest path from (1,1) facing east to the goal at (3,3): forward, forward, right, forward, forward.
    env = MiniGridFiniteHorizon(horizon=horizon)
    assert env.optimal_value() == pytest.approx(value)
    if horizon == 5:
        plan = [2, 2, 1, 2, 2]
        env.reset(seed=0)
        total = 0.0
        for a in plan:
            _, r, _, _, info = env.step(a)
            total += r
            assert info["regret"] == 0.0
        assert total == 1.0


def test_observation_kinds_and_sticky_version() -> None:
    assert MiniGridFiniteHorizon(observation="egocentric").observation_space.shape == (7, 7, 3)
    assert MiniGridFiniteHorizon(observation="state").observation_space == gym.spaces.Discrete(34)
    env = gym.make("rl_suite/MiniGridFiniteHorizon-v0", repeat_probability=0.25, horizon=20)
    base = env.unwrapped
    assert base.n_states == 34 * 3 and env.observation_space.shape == (5, 5, 3)
    assert 0.99 < base.optimal_value() < 1.0  # sticky forward moves can cost the goal within 20 steps
    obs, _ = env.reset(seed=1)
    assert obs.dtype == np.uint8 and env.observation_space.contains(obs)


def test_bad_levels_are_one_line_errors() -> None:
    with pytest.raises(UserError, match="unknown MiniGrid level"):
        MiniGridFiniteHorizon(level="MiniGrid-Nope-v0")
    with pytest.raises(UserError, match=r"n_actions must be in 1\.\.7"):
        MiniGridFiniteHorizon(n_actions=8)
    with pytest.raises(UserError, match="more than 10 reachable states"):
        enumerate_level("MiniGrid-Empty-5x5-v0", 3, 0, max_states=10)
