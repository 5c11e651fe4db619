"""ToyTextFiniteHorizon: V* against an independent value iteration on Gymnasium's own P tables."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rl_suite.envs.toy_text import ToyTextFiniteHorizon, supported_toy_envs
from rl_suite.errors import UserError

CASES = [
    ("FrozenLake-v1", 100, {}),
    ("FrozenLake-v1", 100, {"is_slippery": False}),
    ("FrozenLake8x8-v1", 60, {}),
    ("CliffWalking-v1", 100, {}),
    ("CliffWalkingSlippery-v1", 50, {}),
    ("Taxi-v4", 30, {}),
    ("Taxi-v4", 30, {"is_rainy": True}),
]


def toy(name: str, kwargs: dict):
    return gym.make(name, **kwargs).unwrapped


def value_iteration_on_gym_table(P: dict, n_states: int, horizon: int) -> list[list[float]]:
    """Finite-horizon optimal values on Gymnasium's P: a terminating transition ends the return."""
    V = [[0.0] * n_states for _ in range(horizon + 1)]
    for h in reversed(range(horizon)):
        for s in range(n_states):
            V[h][s] = max(
                sum(p * (r + (0.0 if done else V[h + 1][s2])) for p, s2, r, done in outcomes)
                for outcomes in P[s].values()
            )
    return V


def reachable_live_states(P: dict, starts: list[int]) -> set[int]:
    """States an episode can be in before it terminates (search along positive-probability outcomes)."""
    seen, stack = set(starts), list(starts)
    while stack:
        s = stack.pop()
        for outcomes in P[s].values():
            for p, s2, _, done in outcomes:
                if p > 0 and not done and s2 not in seen:
                    seen.add(s2)
                    stack.append(s2)
    return seen


@pytest.mark.parametrize(("name", "horizon", "kwargs"), CASES, ids=str)
def test_v_star_equals_value_iteration_on_gymnasium_p(name: str, horizon: int, kwargs: dict) -> None:
    env = ToyTextFiniteHorizon(name, horizon=horizon, **kwargs)
    ref = toy(name, kwargs)
    S = ref.observation_space.n
    V = value_iteration_on_gym_table(ref.P, S, horizon)
    rho = ref.initial_state_distrib
    expected = sum(rho[s] * V[0][s] for s in range(S))
    assert env.optimal_value() == pytest.approx(expected, abs=1e-9)
    live = sorted(reachable_live_states(ref.P, [s for s in range(S) if rho[s] > 0]))
    np.testing.assert_allclose(env.V_star[:, live], np.array(V)[:, live], atol=1e-9, rtol=0)
    assert not env.terminal_states[live].any()


def test_default_horizons_and_known_optima() -> None:
    assert {"FrozenLake-v1", "CliffWalking-v1", "Taxi-v4"} <= set(supported_toy_envs())
    assert ToyTextFiniteHorizon("FrozenLake-v1").horizon == 100
    assert ToyTextFiniteHorizon("Taxi-v4").horizon == 200
    # Deterministic worlds: the shortest paths (6 moves to the goal; 13 steps of -1 along the cliff).
    assert ToyTextFiniteHorizon("FrozenLake-v1", is_slippery=False).optimal_value() == 1.0
    assert ToyTextFiniteHorizon("CliffWalking-v1").optimal_value() == -13.0
    assert ToyTextFiniteHorizon("FrozenLake-v1", horizon=5, is_slippery=False).optimal_value() == 0.0


@pytest.mark.parametrize(
    ("name", "kwargs"), [("FrozenLake-v1", {}), ("CliffWalkingSlippery-v1", {})], ids=str
)
def test_steps_are_outcomes_of_the_gymnasium_table(name: str, kwargs: dict) -> None:
    env = ToyTextFiniteHorizon(name, horizon=40, **kwargs)
    ref = toy(name, kwargs)
    rng = np.random.default_rng(0)
    hits = 0
    for seed in range(20):
        s, info = env.reset(seed=seed)
        for _ in range(40):
            a = int(rng.integers(4))
            s2, r, term, _, info = env.step(a)
            if env.terminal_states[s]:
                assert (s2, r) == (s, 0.0) and info["terminal"]
            else:
                assert any(p > 0 and (s2, r) == (t, rew) for p, t, rew, _ in ref.P[s][a])
                hits += 1
            assert not term and info["regret"] >= 0
            s = s2
    assert hits > 100


def test_regrets_sum_in_expectation_to_the_policy_gap() -> None:
    env = ToyTextFiniteHorizon("FrozenLake-v1", horizon=15)
    rng = np.random.default_rng(3)
    totals = []
    for seed in range(3000):
        env.reset(seed=seed)
        totals.append(sum(env.step(int(rng.integers(4)))[4]["regret"] for _ in range(15)))
    totals = np.array(totals)
    gap = env.optimal_value() - env.policy_value(np.full((15, 16, 4), 0.25))
    assert gap > 0.1
    assert abs(totals.mean() - gap) < 4 * totals.std() / np.sqrt(totals.size)


def test_bad_names_and_kwargs_raise_user_errors() -> None:
    with pytest.raises(UserError, match=r"name must be one of .*got 'Blackjack-v1'"):
        ToyTextFiniteHorizon("Blackjack-v1")
    with pytest.raises(UserError, match=r"got 'FrozenLake-v0'"):
        ToyTextFiniteHorizon("FrozenLake-v0")
    with pytest.raises(UserError, match="slipery"):
        ToyTextFiniteHorizon("FrozenLake-v1", is_slipery=False)
    with pytest.raises(UserError, match="fickle_passenger"):
        ToyTextFiniteHorizon("Taxi-v4", fickle_passenger=True)
    with pytest.raises(UserError, match="horizon must be >= 1, got 0"):
        ToyTextFiniteHorizon("Taxi-v4", horizon=0)
    with pytest.raises(UserError, match="render_mode"):
        ToyTextFiniteHorizon("CliffWalking-v1", render_mode="ansi")
