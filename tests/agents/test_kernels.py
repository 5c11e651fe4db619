"""The bandit math kernels against values computed by hand (the numbers are written out in each test)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.polynomial import chebyshev

from rl_suite.agents.kernels import (
    anytime_mean_radius,
    chebyshev_features,
    exp3_probabilities,
    hybrid_estimates,
    hybrid_width_sq,
    inverse_gap_weighting,
    iteration_scale,
    lin_ts_theory_scale,
    linucb_theory_alpha,
    oful_radius_closed,
    oful_radius_det,
    ridge_inverse,
    rls_update,
    sherman_morrison,
    stagewise_reward_inflation,
    tsallis_inf_probabilities,
    ucb1_index,
    ucb_width,
    ucbvi_hoeffding_bonus,
)

# A = [[2, 1], [1, 2]] has det 3 and inverse (1/3)[[2, -1], [-1, 2]].
A2 = np.array([[2.0, 1.0], [1.0, 2.0]])
A2_INV = np.array([[2.0, -1.0], [-1.0, 2.0]]) / 3.0


# --------------------------------------------------------------------------- Sherman–Morrison + RLS
def test_sherman_morrison_by_hand() -> None:
    # x = e1: u = A⁻¹x = (2/3, -1/3), s = 1 + 2/3 = 5/3; A + xxᵀ = [[3, 1], [1, 2]] (det 5)
    # whose inverse is (1/5)[[2, -1], [-1, 3]]; the gain is its first column (0.4, -0.2).
    Ainv, s, gain = sherman_morrison(A2_INV[None], np.array([[1.0, 0.0]]))
    np.testing.assert_allclose(Ainv[0], [[0.4, -0.2], [-0.2, 0.6]], atol=1e-15)
    np.testing.assert_allclose(s, [5.0 / 3.0], atol=1e-15)
    np.testing.assert_allclose(gain, [[0.4, -0.2]], atol=1e-15)
    # matrix determinant lemma: det(A + xxᵀ) = s det A  (5 = 5/3 · 3)
    assert math.isclose(np.linalg.det(A2 + np.outer([1, 0], [1, 0])), s[0] * np.linalg.det(A2))


def test_sherman_morrison_equals_inverse_of_updated_matrix() -> None:
    rng = np.random.default_rng(0)
    R, d = 4, 5
    M = rng.normal(size=(R, d, d))
    A = np.eye(d) + M @ np.swapaxes(M, -1, -2)
    x = rng.normal(size=(R, d))
    Ainv, s, gain = sherman_morrison(np.linalg.inv(A), x)
    A_new = A + x[:, :, None] * x[:, None, :]
    np.testing.assert_allclose(Ainv, np.linalg.inv(A_new), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s, np.linalg.det(A_new) / np.linalg.det(A), rtol=1e-10)
    np.testing.assert_allclose(gain, np.linalg.solve(A_new, x[..., None])[..., 0], rtol=1e-10)


def test_sherman_morrison_is_pure_unless_out_is_given() -> None:
    Ainv = A2_INV[None].copy()
    sherman_morrison(Ainv, np.array([[1.0, 0.0]]))
    np.testing.assert_array_equal(Ainv, A2_INV[None])
    out, _, _ = sherman_morrison(Ainv, np.array([[1.0, 0.0]]), out=Ainv)
    assert out is Ainv
    np.testing.assert_allclose(Ainv[0], [[0.4, -0.2], [-0.2, 0.6]], atol=1e-15)


def test_rls_update_by_hand() -> None:
    # b = (1, 0) → θ = A⁻¹b = (2/3, -1/3). Observe r = 2 at x = e1: b' = (3, 0),
    # θ' = (1/5)[[2, -1], [-1, 3]] (3, 0) = (1.2, -0.6).
    theta = A2_INV @ np.array([1.0, 0.0])
    _, _, gain = sherman_morrison(A2_INV[None], np.array([[1.0, 0.0]]))
    new = rls_update(theta[None], gain, np.array([[1.0, 0.0]]), np.array([2.0]))
    np.testing.assert_allclose(new, [[1.2, -0.6]], atol=1e-15)


def test_rls_matches_ridge_solution_after_many_updates() -> None:
    rng = np.random.default_rng(1)
    d, lam, n = 6, 0.5, 300
    X = rng.normal(size=(n, d))
    r = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    Ainv, theta = np.eye(d)[None] / lam, np.zeros((1, d))
    for x, y in zip(X, r, strict=True):
        Ainv, _, gain = sherman_morrison(Ainv, x[None])
        theta = rls_update(theta, gain, x[None], np.array([y]))
    ridge = np.linalg.solve(lam * np.eye(d) + X.T @ X, X.T @ r)
    np.testing.assert_allclose(theta[0], ridge, rtol=1e-9, atol=1e-10)


def test_ridge_inverse_is_symmetric_inverse() -> None:
    inv = ridge_inverse(np.stack([A2, 2 * A2]))
    np.testing.assert_allclose(inv[0], A2_INV, atol=1e-15)
    np.testing.assert_allclose(inv[1], A2_INV / 2, atol=1e-15)
    np.testing.assert_array_equal(inv, np.swapaxes(inv, -1, -2))


# --------------------------------------------------------------------------- widths
def test_ucb_width_by_hand_per_arm_and_shared() -> None:
    # xᵀA⁻¹x with A⁻¹ = (1/3)[[2, -1], [-1, 2]]: (1, 1) → 2/3, (1, -1) → 2, (1, 0) → 2/3.
    X = np.array([[[1.0, 1.0], [1.0, -1.0], [1.0, 0.0]]])  # (R=1, K=3, d=2)
    per_arm = np.broadcast_to(A2_INV, (1, 3, 2, 2))
    expected = [[math.sqrt(2 / 3), math.sqrt(2.0), math.sqrt(2 / 3)]]
    np.testing.assert_allclose(ucb_width(per_arm, X), expected, atol=1e-15)
    np.testing.assert_allclose(ucb_width(A2_INV[None], X), expected, atol=1e-15)
    # different inverses per arm: I, 4I, I/4 on x = (1, 1): sqrt(2), sqrt(8), sqrt(1/2)
    mats = np.stack([np.eye(2), 4 * np.eye(2), np.eye(2) / 4])[None]
    X1 = np.ones((1, 3, 2))
    np.testing.assert_allclose(ucb_width(mats, X1), [[math.sqrt(2), math.sqrt(8), math.sqrt(0.5)]])


def test_ucb_width_clips_negative_quadratic_forms() -> None:
    assert ucb_width(-np.eye(2)[None], np.ones((1, 3, 2))).tolist() == [[0.0, 0.0, 0.0]]


def test_linucb_theory_alpha_by_hand() -> None:
    # 1 + sqrt(ln(2/0.05)/2) = 1 + sqrt(3.6888795/2) = 2.3581015
    assert linucb_theory_alpha(0.05) == pytest.approx(2.3581015, abs=1e-7)


# --------------------------------------------------------------------------- OFUL radius
def test_oful_radius_det_by_hand() -> None:
    # δ = e⁻² → 2 ln(1/δ) = 4; ln det ratio 5 → sqrt(9) = 3; R = 2, λ = 4, S = 0.5 → 2·3 + 2·0.5 = 7.
    assert oful_radius_det(5.0, 2.0, 0.5, 4.0, math.exp(-2.0)) == pytest.approx(7.0, abs=1e-12)
    # no data: β_0 = R sqrt(2 ln(1/δ)) + √λ S
    assert oful_radius_det(0.0, 1.0, 1.0, 1.0, 0.05) == pytest.approx(math.sqrt(2 * math.log(20)) + 1.0)


def test_oful_radius_closed_by_hand() -> None:
    # R = 0.5, d = 10, t = 100, L = 1, λ = 1, δ = 0.05, S = 1:
    # 0.5·sqrt(10·ln(101/0.05)) + 1 = 0.5·sqrt(10·7.6108528) + 1 = 0.5·8.7240202 + 1 = 5.3620101
    assert oful_radius_closed(100, 10, 0.5, 1.0, 1.0, 1.0, 0.05) == pytest.approx(5.3620101, abs=1e-6)


def test_incremental_log_det_matches_slogdet_and_closed_form_dominates() -> None:
    rng = np.random.default_rng(2)
    d, lam, L, n = 4, 2.0, 1.0, 200
    Ainv, log_det = np.eye(d)[None] / lam, 0.0
    V = lam * np.eye(d)
    for t in range(1, n + 1):
        x = rng.normal(size=d)
        x *= L * rng.random() / np.linalg.norm(x)
        Ainv, s, _ = sherman_morrison(Ainv, x[None])
        log_det += math.log(s[0])
        V += np.outer(x, x)
        assert log_det == pytest.approx(np.linalg.slogdet(V)[1] - d * math.log(lam), abs=1e-9)
        det_r = oful_radius_det(log_det, 0.5, 1.0, lam, 0.05)
        closed_r = oful_radius_closed(t, d, 0.5, 1.0, L, lam, 0.05)
        assert det_r <= closed_r


# --------------------------------------------------------------------------- hybrid
def test_hybrid_kernels_with_no_data_by_hand() -> None:
    # A0 = I, A_a = I, B = 0, b = 0: β = 0, θ = 0, s = zᵀz + xᵀx = 5 + 5 = 10 for z = x = (1, 2).
    X = np.array([[[1.0, 2.0], [0.0, 1.0]]])  # R=1, K=2, d=k=2
    A0inv, Ainv = np.eye(2)[None], np.broadcast_to(np.eye(2), (1, 2, 2, 2))
    B, b, b0 = np.zeros((1, 2, 2, 2)), np.zeros((1, 2, 2)), np.zeros((1, 2))
    np.testing.assert_allclose(hybrid_width_sq(A0inv, Ainv, B, X, X), [[10.0, 2.0]])
    beta, theta = hybrid_estimates(A0inv, b0, Ainv, B, b)
    assert beta.shape == (1, 2) and theta.shape == (1, 2, 2) and not beta.any() and not theta.any()


def test_hybrid_kernels_with_data_by_hand() -> None:
    # k = d = 1, K = 2 arms. A0⁻¹ = 0.5, b0 = 4 → β = A0⁻¹b0 = 2.
    # arm 0: A⁻¹ = 0.25, B = 1, b = 6 → θ = A⁻¹(b − Bβ) = 0.25·(6 − 2) = 1
    # arm 1: A⁻¹ = 0.5,  B = 2, b = 1 → θ = 0.5·(1 − 4) = −1.5
    A0inv, b0 = np.array([[[0.5]]]), np.array([[4.0]])
    Ainv, B = np.array([[[[0.25]], [[0.5]]]]), np.array([[[[1.0]], [[2.0]]]])
    beta, theta = hybrid_estimates(A0inv, b0, Ainv, B, np.array([[[6.0], [1.0]]]))
    np.testing.assert_allclose(beta, [[2.0]])
    np.testing.assert_allclose(theta, [[[1.0], [-1.5]]])
    # s = (z − w)ᵀA0⁻¹(z − w) + xᵀA⁻¹x with w = BᵀA⁻¹x, z = 1:
    # arm 0, x = 1: w = 1·0.25·1 = 0.25 → 0.75²·0.5 + 0.25 = 0.28125 + 0.25 = 0.53125
    # arm 1, x = 2: w = 2·0.5·2 = 2    → (−1)²·0.5 + 2·0.5·2 = 0.5 + 2 = 2.5
    s = hybrid_width_sq(A0inv, Ainv, B, np.ones((1, 2, 1)), np.array([[[1.0], [2.0]]]))
    np.testing.assert_allclose(s, [[0.53125, 2.5]])


def test_hybrid_width_equals_paper_four_term_form() -> None:
    rng = np.random.default_rng(3)
    R, K, d, k = 2, 3, 4, 5
    M0 = rng.normal(size=(R, k, k))
    A0inv = np.linalg.inv(np.eye(k) + M0 @ np.swapaxes(M0, -1, -2))
    M = rng.normal(size=(R, K, d, d))
    Ainv = np.linalg.inv(np.eye(d) + M @ np.swapaxes(M, -1, -2))
    B = rng.normal(size=(R, K, d, k))
    Z, X = rng.normal(size=(R, K, k)), rng.normal(size=(R, K, d))
    got = hybrid_width_sq(A0inv, Ainv, B, Z, X)
    for r in range(R):
        for a in range(K):
            z, x, Ai, Ba, A0i = Z[r, a], X[r, a], Ainv[r, a], B[r, a], A0inv[r]
            s = z @ A0i @ z - 2 * z @ A0i @ Ba.T @ Ai @ x + x @ Ai @ x + x @ Ai @ Ba @ A0i @ Ba.T @ Ai @ x
            assert got[r, a] == pytest.approx(s, rel=1e-10)


# --------------------------------------------------------------------------- multi-armed
def test_ucb1_index_by_hand() -> None:
    # t = 10: 0.5 + sqrt(2 ln 10 / 2) = 2.0174271; 0.2 + sqrt(2 ln 10 / 8) = 0.9587136; unplayed → inf
    idx = ucb1_index(np.array([[0.5, 0.2, 0.0]]), np.array([[2.0, 8.0, 0.0]]), np.array([10.0]))
    np.testing.assert_allclose(idx[0, :2], [2.0174271, 0.9587136], atol=1e-7)
    assert idx[0, 2] == np.inf
    half = ucb1_index(np.array([[0.5]]), np.array([[2.0]]), np.array([10.0]), c=0.5)
    assert half[0, 0] == pytest.approx(0.5 + 0.5 * 1.5174271, abs=1e-7)


def test_lin_ts_theory_scale_by_hand() -> None:
    # 0.5 · sqrt(24/0.5 · 2 · ln(e)) = 0.5 · sqrt(96) = 4.8989795
    assert lin_ts_theory_scale(0.5, 2, 0.5, math.exp(-1.0)) == pytest.approx(4.8989795, abs=1e-7)


# --------------------------------------------------------------------------- stage-wise constraints
def test_stagewise_reward_inflation_by_hand() -> None:
    # theory: 1 + 2/(τ − c₀) = 1 + 2/(0.5 − 0.1) = 1 + 5 = 6; authors: 1 + 1/τ = 1 + 1/0.5 = 3
    assert stagewise_reward_inflation("theory", 0.5, 0.1) == pytest.approx(6.0)
    assert stagewise_reward_inflation("authors", 0.5, 0.1) == pytest.approx(3.0)
    assert stagewise_reward_inflation(1.5, 0.5, 0.1) == 1.5  # a number is used as given


def test_anytime_mean_radius_by_hand() -> None:
    # R·sqrt(2 ln(2 K t²/δ) / n) with K = 2, t = 10, δ = 400·e⁻⁸: ln(2·2·100/δ) = ln(e⁸) = 8, so
    # R = 0.5, n = 4 → 0.5·sqrt(16/4) = 1; R = 1, n = 16 → sqrt(16/16) = 1; R = 1, n = 4 → 2; n = 0 → inf.
    delta = 400.0 * math.exp(-8.0)
    r = anytime_mean_radius(
        np.array([[4.0, 0.0], [16.0, 4.0]]), np.array([10.0, 10.0]), np.array([0.5, 1.0]), delta
    )
    np.testing.assert_allclose(r, [[1.0, np.inf], [1.0, 2.0]])
    # t = 0 is clipped to 1: ln(2·2·1/δ) = 8 − ln 100 = 3.3948298 → 0.5·sqrt(2·3.3948298/4) = 0.6514244
    np.testing.assert_allclose(
        anytime_mean_radius(np.array([4.0, 4.0]), 0.0, 0.5, delta), 0.6514244, atol=1e-7
    )


# --------------------------------------------------------------------------- adversarial / loss-based
def test_tsallis_inf_probabilities_by_hand() -> None:
    # p_i = 4/(η(L̂_i − x))², Σ p = 1. With η(L̂_1 − x) = √5 and η(L̂_2 − x) = 2√5: 4/5 + 4/20 = 1,
    # so L̂ = (0, √5) at η = 1 (x = −√5), and (3, 3 + √5/2) at η = 2 (only differences matter),
    # give (0.8, 0.2).
    L = np.array([[0.0, math.sqrt(5.0)], [3.0, 3.0 + math.sqrt(5.0) / 2.0]])
    np.testing.assert_allclose(tsallis_inf_probabilities(L, np.array([1.0, 2.0])), [[0.8, 0.2], [0.8, 0.2]])
    # η(L̂ − x) = (4/√3, 4): 3/4 + 1/4 = 1, so L̂ = (0, 4 − 4/√3) at η = 1 gives (0.75, 0.25)
    np.testing.assert_allclose(
        tsallis_inf_probabilities(np.array([0.0, 4.0 - 4.0 / math.sqrt(3.0)]), 1.0), [0.75, 0.25]
    )
    # equal losses: uniform
    np.testing.assert_allclose(tsallis_inf_probabilities(np.full(3, 3.0), 2.0), np.full(3, 1 / 3))


def test_tsallis_inf_probabilities_solve_the_normaliser() -> None:
    L = np.array([0.0, 1.0, 5.0])
    p = tsallis_inf_probabilities(L[None], np.array([0.5]))[0]
    # The same x by bisection on Σ_i 4 (η (L_i − x))⁻² = 1.
    lo, hi = -100.0, -1e-12
    for _ in range(200):
        x = (lo + hi) / 2
        lo, hi = (x, hi) if (4 / (0.5 * (L - x)) ** 2).sum() < 1 else (lo, x)
    np.testing.assert_allclose(p, 4 / (0.5 * (L - x)) ** 2, rtol=1e-8)
    assert p[0] > p[1] > p[2]


def test_exp3_probabilities_by_hand() -> None:
    # softmax(−ηL̂) of L̂ = (0, ln 2): η = 1 → (1, 1/2)/(3/2) = (2/3, 1/3); η = 2 → (1, 1/4)/(5/4) = (0.8, 0.2)
    L = np.array([[0.0, math.log(2.0)], [0.0, math.log(2.0)]])
    np.testing.assert_allclose(exp3_probabilities(L, np.array([1.0, 2.0])), [[2 / 3, 1 / 3], [0.8, 0.2]])
    # γ = 0.2 mixes in γ/K = 0.1: 0.8·(2/3, 1/3) + 0.1 = (0.6333333, 0.3666667)
    np.testing.assert_allclose(exp3_probabilities(L[0], 1.0, gamma=0.2), [0.6333333, 0.3666667], atol=1e-7)


def test_chebyshev_features_by_hand() -> None:
    # [low, high] = [0, 2]: context 1.5 → u = 2·1.5/2 − 1 = 0.5 = cos(π/3), so T_k(u) = cos(kπ/3):
    # 1, 0.5, 2·0.5·0.5 − 1 = −0.5, 2·0.5·(−0.5) − 0.5 = −1, 2·0.5·(−1) + 0.5 = −0.5.
    # Outside the range the context is clipped: 5 → u = 1 (all ones), −1 → u = −1 (alternating signs).
    feats = chebyshev_features(np.array([1.5, 5.0, -1.0]), 0.0, 2.0, 5)
    np.testing.assert_allclose(
        feats,
        [[1.0, 0.5, -0.5, -1.0, -0.5], [1.0, 1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0, 1.0]],
        atol=1e-15,
    )
    assert chebyshev_features(np.zeros((2, 3)), -1.0, 1.0, 1).tolist() == [[[1.0]] * 3] * 2  # (..., degree)
    c = np.array([-0.15, 0.1, 0.45])  # and numpy's Chebyshev–Vandermonde matrix on [-0.15, 0.45]
    np.testing.assert_allclose(
        chebyshev_features(c, -0.15, 0.45, 5), chebyshev.chebvander(2 * (c + 0.15) / 0.6 - 1, 4)
    )


def test_inverse_gap_weighting_by_hand() -> None:
    # ŷ = (1, 2, 3), γ = 10, K = 3: 1/(3 + 10·1) = 1/13, 1/(3 + 10·2) = 1/23, the best arm the rest:
    # 1 − 1/13 − 1/23 = 1 − 0.0769231 − 0.0434783 = 0.8795987. γ = 0 is uniform.
    q = inverse_gap_weighting(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), np.array([10.0, 0.0]))
    np.testing.assert_allclose(q, [[0.8795987, 1 / 13, 1 / 23], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    # the best arm need not be the first: ŷ = (2, 1), γ = 2 → 1/(2 + 2·1) = 1/4 on arm 0, 3/4 on arm 1
    np.testing.assert_allclose(inverse_gap_weighting(np.array([2.0, 1.0]), 2.0), [0.25, 0.75])


def test_iteration_scale_by_hand() -> None:
    # mean loss − 1: 30/10 − 1 = 2; 5/5 − 1 = 0 → clipped to 1e-9; 0.5/1 − 1 < 0 → 1e-9; no rounds yet → 1
    scale = iteration_scale(np.array([30.0, 5.0, 0.5, 0.0]), np.array([10, 5, 1, 0]))
    np.testing.assert_allclose(scale, [2.0, 1e-9, 1e-9, 1.0], rtol=0, atol=1e-15)
    assert float(iteration_scale(12.0, 4)) == 2.0  # scalars: 12/4 − 1


def test_ucbvi_hoeffding_bonus_by_hand() -> None:
    # c·span·(H−h)·sqrt(L/N): 0.5·110·3·sqrt(4/4) = 165; N = 0 is clipped to 1: 0.5·110·3·2 = 330;
    # N = 16: 165·sqrt(1/4) = 82.5.
    out = ucbvi_hoeffding_bonus(np.array([4.0, 0.0, 16.0]), steps_left=3, span=110.0, log_term=4.0, scale=0.5)
    np.testing.assert_allclose(out, [165.0, 330.0, 82.5])
    # defaults c = span = 1, H−h = 2, L = 9, any shape: 2·sqrt(9/N) for N = 1, 4, 9 and 0.25 (clipped to 1)
    out = ucbvi_hoeffding_bonus(np.array([[1.0, 4.0], [9.0, 0.25]]), 2, 9.0)
    np.testing.assert_allclose(out, [[6.0, 3.0], [2.0, 6.0]])


# --------------------------------------------------------------------------- shape checks
@pytest.mark.parametrize(
    "call",
    [
        lambda: sherman_morrison(np.zeros((2, 3, 3)), np.zeros((2, 4))),
        lambda: sherman_morrison(np.zeros((2, 3, 3)), np.zeros((3, 3))),
        lambda: rls_update(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(3)),
        lambda: ucb_width(np.zeros((2, 5, 3, 3)), np.zeros((2, 4, 3))),
        lambda: ucb_width(np.zeros((2, 4, 2, 2)), np.zeros((2, 4, 3))),
        lambda: ridge_inverse(np.zeros((2, 3))),
        lambda: hybrid_width_sq(
            np.eye(2)[None],
            np.eye(3)[None, None],
            np.zeros((1, 1, 3, 2)),
            np.zeros((1, 1, 3)),
            np.zeros((1, 1, 3)),
        ),
        lambda: ucb1_index(np.zeros((1, 3)), np.zeros((1, 2)), np.ones(1)),
    ],
)
def test_kernels_reject_mismatched_shapes(call) -> None:
    with pytest.raises(ValueError, match="got"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: linucb_theory_alpha(0.0),
        lambda: oful_radius_det(0.0, 1.0, 1.0, 0.0, 0.05),
        lambda: oful_radius_closed(1, 0, 1.0, 1.0, 1.0, 1.0, 0.05),
        lambda: lin_ts_theory_scale(1.0, 2, 1.5, 0.05),
        lambda: anytime_mean_radius(np.ones(2), 1.0, 0.5, 1.0),
    ],
)
def test_kernels_reject_bad_constants(call) -> None:
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("theory", 0.1, 0.1), "tau > c0"),
        (("authors", 0.0, 0.0), "tau > 0"),
        (("nope", 0.5, 0.1), "'theory'"),
    ],
)
def test_stagewise_reward_inflation_rejects_what_it_cannot_use(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        stagewise_reward_inflation(*args)
