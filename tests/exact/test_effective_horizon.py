"""Exact effective-horizon kernels (llm_policy_opt spec §3.5 S1) and the sticky model and wrapper."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.analyze import analyze
from rl_suite.errors import UserError
from rl_suite.exact import tabular
from rl_suite.exact.effective_horizon import (
    analyze_model,
    effective_planning_window,
    min_k,
    q_backup,
    q_random,
    simple_effective_horizon,
    sticky_model,
)
from rl_suite.wrappers import StickyActions


def two_step_mdp() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """s0 --a0--> s1 (actions pay 1 or 0) and s0 --a1--> s2 (both actions pay 0.6).

    Q^rand(s0) = (0.5, 0.6): greedy picks a1, which is wrong (V* = 1 through a0); one backup gives
    Q²(s0) = (1, 0.6): right. So min_k = 2.
    """
    P = np.zeros((2, 3, 2, 3))
    P[:, :, :, 0] = 1.0
    P[0, 0, 0] = np.eye(3)[1]
    P[0, 0, 1] = np.eye(3)[2]
    R = np.zeros((2, 3, 2))
    R[1, 1] = (1.0, 0.0)
    R[1, 2] = (0.6, 0.6)
    return P, R, np.eye(3)[0]


def test_hand_built_two_step_mdp_has_min_k_2() -> None:
    P, R, rho = two_step_mdp()
    np.testing.assert_allclose(q_random(P, R)[0, 0], [0.5, 0.6])
    np.testing.assert_allclose(q_backup(P, R, q_random(P, R))[0, 0], [1.0, 0.6])
    assert min_k(P, R, rho) == 2
    assert effective_planning_window(P, R, rho) == 2  # immediate rewards are 0 at s0: a tie, so fail
    report = analyze_model(P, R, rho, max_k=3)
    assert report.greedy_returns == pytest.approx([0.6, 1.0, 1.0])
    assert (report.optimal_return, report.random_return, report.worst_return) == pytest.approx((1, 0.55, 0))
    assert min_k(P, R, rho, max_k=1) is None


def test_bandit_has_min_k_1_and_window_1() -> None:
    P = np.ones((1, 1, 3, 1))
    R = np.array([[[0.2, 0.9, 0.5]]])
    rho = np.ones(1)
    assert min_k(P, R, rho) == 1
    assert effective_planning_window(P, R, rho) == 1
    h, k = simple_effective_horizon(P, R, rho)
    assert k == 1 and np.isfinite(h) and h >= 1


def brute_force_min_k(P: np.ndarray, R: np.ndarray, s0: int, max_k: int) -> int | None:
    """min_k by plain recursion: Q^rand and backups by nested loops, greedy paths by explicit search."""
    H, S, A, _ = P.shape

    def q_rand(t: int, s: int, a: int) -> float:
        if t == H:
            return 0.0
        nxt = sum(P[t, s, a, x] * np.mean([q_rand(t + 1, x, b) for b in range(A)]) for x in range(S))
        return R[t, s, a] + nxt

    def q_opt(t: int, s: int, a: int) -> float:
        if t == H:
            return 0.0
        return R[t, s, a] + sum(P[t, s, a, x] * max(q_opt(t + 1, x, b) for b in range(A)) for x in range(S))

    Q = np.array([[[q_rand(t, s, a) for a in range(A)] for s in range(S)] for t in range(H)])
    Qs = np.array([[[q_opt(t, s, a) for a in range(A)] for s in range(S)] for t in range(H)])
    for k in range(1, max_k + 1):
        ok, frontier = True, {s0}
        for t in range(H):
            nxt = set()
            for s in frontier:
                top = Q[t, s].max()
                for a in range(A):
                    if Q[t, s, a] >= top - 1e-9:
                        if Qs[t, s, a] < Qs[t, s].max() - 1e-6:
                            ok = False
                        nxt |= {x for x in range(S) if P[t, s, a, x] > 0}
            frontier = nxt
        if ok:
            return k
        new = Q.copy()
        for t, s, a in itertools.product(range(H - 1), range(S), range(A)):
            new[t, s, a] = R[t, s, a] + sum(P[t, s, a, x] * Q[t + 1, x].max() for x in range(S))
        Q = new
    return None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), S=st.integers(1, 3), A=st.integers(2, 3), H=st.integers(1, 4))
def test_min_k_matches_brute_force_on_random_tiny_mdps(seed: int, S: int, A: int, H: int) -> None:
    rng = np.random.default_rng(seed)
    # Sparse transitions and rewards on a coarse grid, so that ties and failures both occur.
    P = rng.dirichlet(np.ones(S) * 0.3, size=(H, S, A))
    P = np.where(P < 0.05, 0.0, P)
    P /= P.sum(axis=-1, keepdims=True)
    R = rng.integers(0, 3, size=(H, S, A)) / 2.0
    assert min_k(P, R, np.eye(S)[0], max_k=4) == brute_force_min_k(P, R, 0, 4)


def test_sticky_model_is_a_valid_model_with_hand_values() -> None:
    P, R, rho = two_step_mdp()
    P2, R2, rho2 = sticky_model(P, R, rho, 0.25)
    assert P2.shape == (2, 6, 2, 6) and R2.shape == (2, 6, 2)
    np.testing.assert_allclose(P2.sum(axis=-1), 1.0)
    _, V = tabular.backward_induction(P2, R2)
    # Step 0 is never sticky; at s1 (reached by a0, previous action 0) the optimal a0 is also the repeat.
    assert tabular.value_of_start(V, rho2) == pytest.approx(1.0)
    # At s2 nothing matters (0.6 either way); at s1 with previous action 1 a0 yields 0.75.
    assert V[1, 1 * 2 + 1] == pytest.approx(0.75)
    P0, R0, _ = sticky_model(P, R, rho, 0.0)
    np.testing.assert_allclose(
        tabular.backward_induction(P0, R0)[1][0, ::2], tabular.backward_induction(P, R)[1][0]
    )


def test_sticky_wrapper_reports_the_sticky_models_exact_regret() -> None:
    env = StickyActions(gym.make("rl_suite/LayeredLureMDP-v0", lure_depth=3).unwrapped, 0.25)
    base = env.unwrapped
    # Model-free check: the realised returns of the sticky optimal policy average to its exact value.
    rng = np.random.default_rng(0)
    Q, A = env.Q_star, base.n_actions
    total, regret, repeats, n = 0.0, 0.0, 0, 3000
    for ep in range(n):
        obs, info = env.reset(seed=ep)
        prev = 0
        for h in range(base.horizon):
            z = int(info.get("state", obs)) * A + prev
            a = int(Q[h, z].argmax()) if ep % 2 == 0 else int(rng.integers(A))
            obs, r, _, _, info = env.step(a)
            total += r if ep % 2 == 0 else 0.0
            regret += info["regret"] if ep % 2 == 0 else 0.0
            repeats += info["repeated"]
            prev = info["applied_action"]
    assert regret == pytest.approx(0.0, abs=1e-12)  # optimal actions: zero gap, exactly
    assert total / (n / 2) == pytest.approx(env.optimal_value(), abs=0.03)
    assert repeats / (n * (base.horizon - 1)) == pytest.approx(0.25, abs=0.02)
    assert analyze(env, repeat_probability=0).min_k == min_k(*env.model())
    with pytest.raises(UserError, match="Discrete action space"):
        StickyActions(gym.make("rl_suite/SafeLinearBandit-v0"), 0.25)


def test_sticky_wrapper_works_on_any_discrete_env() -> None:
    env = StickyActions(gym.make("CartPole-v1"), 0.5)
    env.reset(seed=0)
    _, _, _, _, info = env.step(1)
    assert info["repeated"] is False and info["applied_action"] == 1
    with pytest.raises(UserError, match="no finite model"):
        env.model()
