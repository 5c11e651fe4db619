"""rl_suite.regret: the curve kernels and the recorder against values computed by hand."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rl_suite.regret import (
    RegretRecorder,
    cumulative_regret,
    exponent_grid,
    fit_exponent_at,
    fit_regret_exponent,
)

E = math.e


def test_cumulative_regret_by_hand() -> None:
    # running sums 0.5, 0.5 + 0, 0.5 + 1.5, 2 + 2
    np.testing.assert_allclose(cumulative_regret([0.5, 0.0, 1.5, 2.0]), [0.5, 0.5, 2.0, 4.0])
    # along the last axis, one curve per row; ints become float64
    out = cumulative_regret(np.array([[1, 1], [2, 3]]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[1.0, 2.0], [2.0, 5.0]])


def test_exponent_grid_by_hand() -> None:
    # T = 100, one decade: geomspace(10, 100, 3) = 10, 31.62, 100 → 10, 32, 100
    assert exponent_grid(100, 1.0, 3).tolist() == [10, 32, 100]
    # T = 5, two decades: 5/100 < 1 so t starts at 1; 5^(0, 1/3, 2/3, 1) = 1, 1.71, 2.92, 5 → 1, 2, 3, 5
    assert exponent_grid(5, 2.0, 4).tolist() == [1, 2, 3, 5]
    # T = 4, 10 points 4^(k/9) = 1, 1.17, 1.36, 1.59, 1.85, 2.16, 2.52, 2.94, 3.43, 4 round to 1..4 (unique)
    assert exponent_grid(4, 1.0, 10).tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="at least 2 steps"):
        exponent_grid(1)
    with pytest.raises(ValueError, match="decades must be > 0"):
        exponent_grid(10, decades=0.0)


def test_fit_exponent_at_by_hand() -> None:
    # log t = 0, 1, 2 and log v = 0, 1, 4: x̄ = 1, ȳ = 5/3, slope = Σ dx·dy / Σ dx² =
    # ((−1)(−5/3) + 0 + (1)(7/3)) / 2 = 4/2 = 2. One curve gives a 0-d array.
    slope = fit_exponent_at(np.array([1.0, E, E**2]), np.array([1.0, E, E**4]))
    assert slope.shape == () and float(slope) == pytest.approx(2.0)
    # a batch: the non-positive point is left out (the same slope 2); one positive point left → 0
    ts = np.array([1.0, E, E**2, E**3])
    values = np.array([[1.0, E, E**4, -1.0], [0.0, 5.0, 0.0, 0.0]])
    np.testing.assert_allclose(fit_exponent_at(ts, values), [2.0, 0.0])


def test_fit_regret_exponent_by_hand() -> None:
    t = np.arange(1, 1001, dtype=np.float64)
    assert fit_regret_exponent(3.0 * np.sqrt(t)) == pytest.approx(0.5)  # R(t) = 3·t^0.5
    assert fit_regret_exponent(0.1 * t) == pytest.approx(1.0)  # linear regret
    assert fit_regret_exponent(np.zeros(10)) == 0.0  # flat zero regret
    with pytest.raises(ValueError, match="1-D with at least 2 points"):
        fit_regret_exponent(np.ones(1))


class _Scripted(gym.Env):
    """Two-step episodes with scripted rewards, regrets and (optionally) costs."""

    observation_space = gym.spaces.Discrete(1)
    action_space = gym.spaces.Discrete(2)
    STEPS = (
        (1.0, 0.25, 0.5, 0.0),
        (0.0, 0.5, 1.0, 0.5),
        (1.0, 0.0, 0.0, 0.0),
    )  # reward, regret, cost, violation

    def __init__(self) -> None:
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        return 0, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        reward, regret, cost, violation = self.STEPS[self.t]
        self.t += 1
        return 0, reward, self.t == 2, False, {"regret": regret, "cost": cost, "violation": violation}


def test_recorder_rows_and_counters_by_hand() -> None:
    env = RegretRecorder(_Scripted(), constrained=True)
    assert env.columns == ("step", "episode", "reward", "regret", "cumulative_regret", "cost", "violation")
    env.reset(seed=0)
    env.step(0)
    env.step(1)  # the episode ends after two steps
    env.reset()
    env.step(0)
    assert env.pending == 3
    # step, episode, reward, regret, cumulative regret (0.25, 0.25 + 0.5, 0.75 + 0), cost, violation
    np.testing.assert_array_equal(
        env.drain(),
        [
            [1, 0, 1.0, 0.25, 0.25, 0.5, 0.0],
            [2, 0, 0.0, 0.5, 0.75, 1.0, 0.5],
            [3, 1, 1.0, 0.0, 0.75, 0.0, 0.0],
        ],
    )
    assert env.pending == 0 and env.drain().shape == (0, 7)
    assert env.counters() == {
        "total_steps": 3,
        "episode": 1,
        "cumulative_regret": 0.75,
        "cumulative_reward": 2.0,
        "violations": 1,
        "violation_amount": 0.5,
    }
