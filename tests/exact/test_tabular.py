"""rl_suite.exact.tabular: backward induction, policy evaluation and greedy policies, against hand values."""

from __future__ import annotations

import numpy as np
import pytest

from rl_suite.exact import tabular

# Two states, two actions, stationary, H = 2.
#   s=0: a=0 stays (r=1);   a=1 goes to 0 or 1 with prob 1/2 (r=0)
#   s=1: a=0 stays (r=0);   a=1 goes to 0 (r=2)
P2 = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [1.0, 0.0]]])
R2 = np.array([[1.0, 0.0], [0.0, 2.0]])


def random_model(rng: np.random.Generator, H: int, S: int, A: int) -> tuple[np.ndarray, np.ndarray]:
    P = rng.dirichlet(np.ones(S), size=(H, S, A))
    return P, rng.uniform(size=(H, S, A))


def test_backward_induction_matches_hand_computation() -> None:
    # h=1: Q = R, V = (1, 2).  h=0: Q(0,·) = (1+1, 0+½·1+½·2) = (2, 1.5); Q(1,·) = (0+2, 2+1) = (2, 3).
    Q, V = tabular.backward_induction(P2, R2, horizon=2)
    np.testing.assert_allclose(Q, [[[2.0, 1.5], [2.0, 3.0]], [[1.0, 0.0], [0.0, 2.0]]], atol=1e-15)
    np.testing.assert_allclose(V, [[2.0, 3.0], [1.0, 2.0], [0.0, 0.0]], atol=1e-15)
    assert Q.shape == (2, 2, 2) and V.shape == (3, 2)
    np.testing.assert_array_equal(tabular.greedy_policy(Q), [[0, 1], [0, 1]])
    assert tabular.value_of_start(V, [0.25, 0.75]) == pytest.approx(0.25 * 2 + 0.75 * 3)


def test_discounted_backup_matches_hand_computation() -> None:
    Q, V = tabular.backward_induction(P2, R2, horizon=2, gamma=0.5)
    np.testing.assert_allclose(Q[0], [[1 + 0.5 * 1, 0 + 0.5 * 1.5], [0 + 0.5 * 2, 2 + 0.5 * 1]])
    np.testing.assert_allclose(V[0], [1.5, 2.5])
    with pytest.raises(ValueError, match="gamma"):
        tabular.backward_induction(P2, R2, horizon=2, gamma=0.0)


def test_policy_value_of_fixed_policies() -> None:
    always_one = np.ones((2, 2), dtype=int)
    # h=1: V = (0, 2); h=0: s=0: 0 + ½·0 + ½·2 = 1; s=1: 2 + V(0) = 2.
    np.testing.assert_allclose(tabular.policy_value(P2, R2, always_one, horizon=2), [[1, 2], [0, 2], [0, 0]])
    Q, V = tabular.backward_induction(P2, R2, horizon=2)
    np.testing.assert_allclose(tabular.policy_value(P2, R2, tabular.greedy_policy(Q), horizon=2), V)
    # A stochastic policy's value is linear in its probabilities at the last step.
    mix = np.full((2, 2, 2), 0.5)
    np.testing.assert_allclose(tabular.policy_value(P2, R2, mix, horizon=2)[1], [0.5, 1.0])


@pytest.mark.parametrize("seed", range(3))
def test_greedy_policy_attains_v_star_on_random_models(seed: int) -> None:
    rng = np.random.default_rng(seed)
    P, R = random_model(rng, H=6, S=7, A=3)
    Q, V = tabular.backward_induction(P, R)
    pi = tabular.greedy_policy(Q)
    np.testing.assert_allclose(tabular.policy_value(P, R, pi), V, atol=1e-12)
    np.testing.assert_allclose(tabular.policy_value(P, R, np.eye(3)[pi]), V, atol=1e-12)
    for _ in range(5):  # no policy beats V*
        other = rng.integers(0, 3, size=(6, 7))
        assert (tabular.policy_value(P, R, other) <= V + 1e-12).all()
    Q_pi, V_pi = tabular.policy_evaluation(P, R, pi)
    np.testing.assert_allclose(Q_pi, Q, atol=1e-12)
    np.testing.assert_allclose(V_pi, V, atol=1e-12)


def test_stationary_broadcast_equals_repeated_layers() -> None:
    rng = np.random.default_rng(5)
    P, R = random_model(rng, H=1, S=5, A=4)
    H = 7
    Q_s, V_s = tabular.backward_induction(P[0], R[0], horizon=H)
    Q_n, V_n = tabular.backward_induction(np.repeat(P, H, axis=0), np.repeat(R, H, axis=0))
    np.testing.assert_array_equal(Q_s, Q_n)
    np.testing.assert_array_equal(V_s, V_n)
    # A zero-stride broadcast (what env.model() returns) is accepted as is.
    Q_b, _ = tabular.backward_induction(np.broadcast_to(P[0], (H, 5, 4, 5)), R[0])
    np.testing.assert_array_equal(Q_b, Q_s)
    pi = rng.integers(0, 4, size=(H, 5))
    np.testing.assert_array_equal(
        tabular.policy_value(P[0], R[0], pi, horizon=H), tabular.policy_value(np.repeat(P, H, 0), R[0], pi)
    )


def test_random_tie_breaking_uses_every_tied_action() -> None:
    Q = np.array([[[1.0, 1.0, 0.0, 1.0]]])
    assert tabular.greedy_policy(Q)[0, 0] == 0
    rng = np.random.default_rng(0)
    picks = {int(tabular.greedy_policy(Q, rng)[0, 0]) for _ in range(60)}
    assert picks == {0, 1, 3}
    with pytest.raises(ValueError, match="tie_breaking"):
        tabular.greedy_policy(Q, "last")


@pytest.mark.parametrize(
    ("P", "R", "horizon", "match"),
    [
        (P2, R2, None, r"stationary P of shape \(2, 2, 2\) needs an explicit horizon"),
        (P2[None], R2, 3, r"horizon=3 does not match P of shape \(1, 2, 2, 2\)"),
        (P2, np.zeros((3, 2)), 2, r"R must have shape .* got \(3, 2\)"),
        (P2[:, :, :1], R2, 2, r"P must have shape \(H, S, A, S\) or \(S, A, S\), got \(2, 2, 1\)"),
        (P2 * 0.9, R2, 2, r"P of shape \(2, 2, 2\) has rows that do not sum to 1"),
        (np.stack([P2, P2 * 0.9]), R2, None, r"P of shape \(2, 2, 2, 2\) has rows that do not sum to 1"),
        (P2 - 0.5, R2, 2, r"negative"),
    ],
)
def test_bad_models_raise_value_errors_naming_shapes(P, R, horizon, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tabular.backward_induction(P, R, horizon)


def test_bad_policies_and_start_laws_raise() -> None:
    with pytest.raises(ValueError, match=r"policy must have shape \(2, 2\) .* got \(3,\)"):
        tabular.policy_value(P2, R2, np.zeros(3, dtype=int), horizon=2)
    with pytest.raises(ValueError, match=r"actions in \[0, 2\)"):
        tabular.policy_value(P2, R2, np.full((2, 2), 2), horizon=2)
    with pytest.raises(ValueError, match="must hold integers"):
        tabular.policy_value(P2, R2, np.zeros((2, 2)), horizon=2)
    with pytest.raises(ValueError, match="policy of shape"):
        tabular.policy_value(P2, R2, np.full((2, 2, 2), 0.6), horizon=2)
    with pytest.raises(ValueError, match=r"rho must have shape \(2,\)"):
        tabular.value_of_start(np.zeros((3, 2)), [1.0])
    with pytest.raises(ValueError, match="rho"):
        tabular.value_of_start(np.zeros((3, 2)), [0.7, 0.7])


def _empirical(rng: np.random.Generator, G: int, S: int, A: int) -> tuple[np.ndarray, ...]:
    trans = rng.integers(1, 5, size=(G, S, A, S)).astype(float)
    counts = trans.sum(axis=-1)
    return counts, rng.uniform(size=(G, S, A)) * counts, trans


@pytest.mark.parametrize("G", [1, 3])
def test_optimistic_backward_induction_without_bonus_is_backward_induction_on_the_empirical_model(
    G: int,
) -> None:
    H, S, A = 3, 4, 2
    counts, reward_sums, trans = _empirical(np.random.default_rng(G), G, S, A)
    Q = tabular.optimistic_backward_induction(
        counts, reward_sums, trans, lambda h, n: np.zeros_like(n), caps=np.full(H, np.inf)
    )
    P = np.broadcast_to(trans / counts[..., None], (H, S, A, S))
    R = np.broadcast_to(reward_sums / counts, (H, S, A))
    np.testing.assert_allclose(Q, tabular.backward_induction(P, R)[0], rtol=1e-12)
    sparse = tabular.optimistic_backward_induction(
        counts, reward_sums, lambda g, V: trans[g] @ V, lambda h, n: np.zeros_like(n), np.full(H, np.inf)
    )
    np.testing.assert_array_equal(sparse, Q)


def test_optimistic_backward_induction_caps_unvisited_pairs_and_the_end_state() -> None:
    H, S, A = 4, 3, 2
    counts, reward_sums, trans = _empirical(np.random.default_rng(0), 1, S, A)
    counts[0, 1, 0] = reward_sums[0, 1, 0] = 0.0
    trans[0, 1, 0] = 0.0
    caps = H - np.arange(H, dtype=float)
    Q = tabular.optimistic_backward_induction(
        counts, reward_sums, trans, lambda h, n: 0.5 / np.sqrt(np.maximum(n, 1.0)), caps, zero_state=2
    )
    assert (Q <= caps[:, None, None]).all()
    np.testing.assert_array_equal(Q[:, 1, 0], caps)  # never tried: the cap, the most still to collect
    np.testing.assert_array_equal(Q[:, 2], 0.0)
    with pytest.raises(ValueError, match="1 or H=4 groups"):
        tabular.optimistic_backward_induction(
            np.ones((2, S, A)), np.ones((2, S, A)), trans, lambda h, n: n, caps
        )
