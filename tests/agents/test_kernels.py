"""The bandit math kernels against values computed by hand (the numbers are written out in each test)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rl_suite.agents.kernels import (
    hybrid_estimates,
    hybrid_width_sq,
    lin_ts_theory_scale,
    linucb_theory_alpha,
    oful_radius_closed,
    oful_radius_det,
    ridge_inverse,
    rls_update,
    sherman_morrison,
    ucb1_index,
    ucb_width,
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
    ],
)
def test_kernels_reject_bad_constants(call) -> None:
    with pytest.raises(ValueError):
        call()
