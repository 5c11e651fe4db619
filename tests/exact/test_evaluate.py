"""Exact policy evaluation (rl_suite.exact.evaluate and the dispatcher rl_suite.evaluation)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.errors import UserError
from rl_suite.evaluation import make_evaluator, steps_to_epsilon
from rl_suite.exact import evaluate, tabular
from rl_suite.exact.pomdp import evaluate_window_policy


def test_two_state_mdp_by_hand() -> None:
    # Two states, two actions, H = 2, deterministic: action a moves to state a; reward 1 for (s=1, a=1),
    # 0.5 for (s=0, a=0), else 0. Start in state 0.
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = 1.0
    R = np.array([[0.5, 0.0], [0.0, 1.0]])
    rho = np.array([1.0, 0.0])
    # V*: h=1: V(0) = 0.5, V(1) = 1; h=0 from s=0: max(0.5 + 0.5, 0 + 1) = 1.
    stay = np.zeros((2, 2), dtype=np.int64)  # always action 0: 0.5 + 0.5
    move = np.ones((2, 2), dtype=np.int64)  # always action 1: 0 + 1
    # Uniform: h=1: V(0) = 0.25, V(1) = 0.5; h=0 from 0: 0.5·(0.5 + 0.25) + 0.5·(0 + 0.5) = 0.625.
    for policy, value in ((stay, 1.0), (move, 1.0)):
        result = evaluate.finite_mdp(P, R, rho, policy, horizon=2)
        assert result.value == pytest.approx(value)
        assert result.optimal == pytest.approx(1.0)
        assert result.uniform == pytest.approx(0.625)
        assert result.regret == pytest.approx(0.0)
        assert result.within(0.0)
    bad = np.array([[1, 1], [0, 0]])  # move to 1, then take 0 there: 0 + 0
    result = evaluate.finite_mdp(P, R, rho, bad, horizon=2)
    assert result.value == pytest.approx(0.0)
    assert result.regret == pytest.approx(1.0)
    assert not result.within(0.5)  # 1 > 0.5 · (1 − 0.625)


def test_finite_mdp_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    H, S, A = 5, 4, 3
    P = rng.dirichlet(np.ones(S), size=(H, S, A))
    R = rng.random((H, S, A))
    rho = rng.dirichlet(np.ones(S))
    policy = rng.integers(A, size=(H, S))
    exact = evaluate.finite_mdp(P, R, rho, policy).value
    n = 40_000
    s = rng.choice(S, size=n, p=rho)
    ret = np.zeros(n)
    for h in range(H):
        a = policy[h, s]
        ret += R[h, s, a]
        cdf = np.cumsum(P[h, s, a], axis=1)
        s = np.minimum((cdf < rng.random((n, 1))).sum(axis=1), S - 1)
    z = (ret.mean() - exact) / (ret.std(ddof=1) / np.sqrt(n))
    assert abs(z) < 3.0, (ret.mean(), exact, z)


def test_bandit_and_rlhf_values() -> None:
    means = np.array([[0.1, 0.9], [0.5, 0.2]])
    result = evaluate.bandit(means, np.array([1, 1]))
    assert result.value == pytest.approx(0.55)
    assert result.optimal == pytest.approx(0.7)
    assert result.uniform == pytest.approx(0.425)
    ref = np.array([[0.5, 0.25, 0.25]])
    rewards = np.array([[0.0, 1.0, 0.5]])
    from rl_suite.exact import kl

    best = evaluate.rlhf(kl.optimal_policy(ref, rewards, 0.5), ref, rewards, 0.5)
    assert best.regret == pytest.approx(0.0, abs=1e-12)
    assert evaluate.rlhf(ref, ref, rewards, 0.5).regret > 0


class _Table:
    """A fake agent: a fixed (H, S) table read through the observations the env shows."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        return self.table[h, np.asarray(observations, dtype=np.int64).reshape(-1)]


def test_dispatcher_on_an_env_matches_the_env_policy_value() -> None:
    env = gym.make("rl_suite/LayeredLureMDP-v0", lure_depth=2)
    base = env.unwrapped
    evaluator = make_evaluator(env)
    table = np.random.default_rng(1).integers(base.n_actions, size=(base.horizon, base.n_states))
    result = evaluator(_Table(table))
    assert result.value == pytest.approx(base.policy_value(table))
    assert result.optimal == pytest.approx(base.optimal_value())
    assert evaluator(_Table(np.asarray(base.pi_star))).regret == pytest.approx(0.0, abs=1e-12)


def test_random_emissions_never_touch_the_env_stream() -> None:
    env = gym.make("rl_suite/DiabolicalCombLock-v0")
    env.reset(seed=3)
    before = env.unwrapped.np_random.bit_generator.state
    make_evaluator(env)
    assert env.unwrapped.np_random.bit_generator.state == before


class _Window:
    """A fake window agent: a window policy behind the ``history_policy`` interface of window-ucbvi."""

    def __init__(self, window: int, n_actions: int) -> None:
        self.config = type("C", (), {"window": window})()
        self.n_actions = n_actions

    def choose(self, h: int, x: tuple[int, ...]) -> int:
        return (hash(x) + h) % self.n_actions

    def history_policy(self, history: tuple[int, ...]) -> int:
        w = self.config.window
        return self.choose(len(history) // 2, history[-(2 * w + 1) :])


def test_pomdp_window_policy_matches_evaluate_window_policy() -> None:
    env = gym.make("rl_suite/Tiger-v0")
    base = env.unwrapped
    agent = _Window(1, base.pomdp.n_actions)
    result = make_evaluator(env)(agent)
    expected = evaluate_window_policy(base.pomdp, agent.choose, 1, base.max_steps)
    assert result.value == pytest.approx(expected)
    assert result.optimal == pytest.approx(base.optimal_value())


def test_unsupported_env_is_one_line_naming_the_families() -> None:
    env = gym.make("rl_suite/ConstrainedMAB-v0")
    with pytest.raises(UserError, match="tabular_mdp") as err:
        make_evaluator(env)
    assert "\n" not in str(err.value)


def test_steps_to_epsilon() -> None:
    assert steps_to_epsilon([10, 20, 30], [0.5, 0.005, 0.0], 1.0, 0.01) == 20
    assert steps_to_epsilon([10, 20, 30], [0.5, 0.005, 0.0], 1.0, 0.0) == 30
    assert steps_to_epsilon([10, 20], [0.5, 0.4], 1.0, 0.01) is None
    assert tabular.PROB_ATOL > 0


def test_agents_expose_their_policy_without_side_effects() -> None:
    from rl_suite.config import agent_class

    env = gym.make("rl_suite/FrozenLakeFiniteHorizon-v0")
    ppo = agent_class("ppo")(env, {"device": "cpu", "hyperparams": {"n_steps": 64}}, seed=0)
    obs = np.arange(16)
    actions = ppo.policy_actions(obs, 3)
    probs = ppo.policy_probs(obs, 3)
    assert actions.shape == (16,) and probs is not None and probs.shape == (16, 4)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == actions).all()
    bandit = gym.make("rl_suite/MultiArmedBandit-v0")
    ucb = agent_class("ucb1")(bandit, None, seed=0)
    ucb.learn(50)
    before = ucb.rng.bit_generator.state
    assert ucb.policy_actions(np.zeros(3, dtype=np.int64), 0).shape == (3,)
    assert ucb.rng.bit_generator.state == before
