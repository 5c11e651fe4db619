from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.linalg import cg

from rl_suite.envs.solver_tuning import solvers
from rl_suite.envs.solver_tuning.solvers import (
    DEFAULT_OMEGAS,
    check_omega,
    check_omega_grid,
    check_system,
    jacobi_spectral_radius,
    laplacian_2d,
    sor_iterations_grid,
    sor_propagators,
    sor_solve,
    ssor_inverse_preconditioners,
    ssor_pcg_iterations_grid,
    ssor_pcg_solve,
    young_omega,
)
from rl_suite.errors import UserError


def shifted(m: int, c: float) -> sp.csr_matrix:
    return sp.csr_matrix(laplacian_2d(m) + c * sp.identity(m * m))


def closed_form_young(m: int, c: float) -> float:
    beta = 4 * math.cos(math.pi / (m + 1)) / (4 + c)
    return 2 / (1 + math.sqrt(1 - beta**2))


def test_laplacian_matches_stencil():
    m = 4
    A = laplacian_2d(m).toarray()
    expected = np.zeros((m * m, m * m))
    for i in range(m):
        for j in range(m):
            k = i * m + j
            expected[k, k] = 4
            for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                if 0 <= i + di < m and 0 <= j + dj < m:
                    expected[k, (i + di) * m + j + dj] = -1
    np.testing.assert_array_equal(A, expected)
    assert sp.isspmatrix_csr(laplacian_2d(m))


@pytest.mark.parametrize("omega", [0.7, 1.0, 1.5, 1.9])
def test_sor_solution_matches_direct_solve(omega):
    A = shifted(6, 0.2)
    b = np.random.default_rng(1).standard_normal(36)
    exact = sla.solve(A.toarray(), b)
    res = sor_solve(A, b, omega, tol=1e-10)
    assert not res.capped
    assert res.residual < 1e-10
    assert np.linalg.norm(b - A @ res.x) / np.linalg.norm(b) < 1e-10
    np.testing.assert_allclose(res.x, exact, rtol=0, atol=1e-8 * np.abs(exact).max())


@pytest.mark.parametrize("omega", [0.8, 1.0, 1.6, 1.95])
def test_ssor_pcg_solution_matches_scipy(omega):
    A = shifted(6, -0.1)
    b = np.random.default_rng(2).standard_normal(36)
    exact = sla.solve(A.toarray(), b)
    res = ssor_pcg_solve(A, b, omega, tol=1e-10)
    assert not res.capped and 0 < res.iterations < 36
    assert np.linalg.norm(b - A @ res.x) <= 1e-10 * np.linalg.norm(b)
    x_cg, info = cg(A, b, rtol=1e-12, atol=0.0)
    assert info == 0
    np.testing.assert_allclose(res.x, x_cg, atol=1e-8 * np.abs(exact).max())
    np.testing.assert_allclose(res.x, exact, atol=1e-8 * np.abs(exact).max())


def test_pcg_with_omega_one_is_symmetric_gauss_seidel_preconditioned():
    # M_1 = (D + L) D⁻¹ (D + L)ᵀ: compare the dense inverse with a direct construction.
    A = shifted(3, 0.3).toarray()
    D = np.diag(np.diag(A))
    F = D + np.tril(A, -1)
    M = F @ np.linalg.inv(D) @ F.T
    np.testing.assert_allclose(ssor_inverse_preconditioners(A, [1.0])[0], np.linalg.inv(M), atol=1e-12)
    w = 1.4
    Fw = D + w * np.tril(A, -1)
    Mw = Fw @ np.linalg.inv(D) @ Fw.T / (w * (2 - w))
    np.testing.assert_allclose(ssor_inverse_preconditioners(A, [w])[0], np.linalg.inv(Mw), atol=1e-12)


def test_sor_propagator_maps_one_residual_to_the_next():
    A = shifted(4, 0.1)
    b = np.random.default_rng(3).standard_normal(16)
    C = sor_propagators(A, [1.3])[0]
    one = sor_solve(A, b, 1.3, tol=1e-30, max_iter=1)
    np.testing.assert_allclose(C @ b, b - A @ one.x, atol=1e-12)


def test_young_omega_needs_far_fewer_iterations_than_gauss_seidel():
    # m = 10, c = 0, b ~ N(0, I) seed 0: measured 201 steps at ω = 1 and 39 at Young's ω ≈ 1.5604.
    A = shifted(10, 0.0)
    b = np.random.default_rng(0).standard_normal(100)
    w = young_omega(A)
    assert w == pytest.approx(1.5603879212747742, abs=1e-10)
    n_gs = sor_solve(A, b, 1.0).iterations
    n_young = sor_solve(A, b, w).iterations
    assert (n_gs, n_young) == (201, 39)
    assert n_young < n_gs / 5


def test_spec_instance_at_most_negative_shift():
    # The spec's measurement at c = −0.15 (m = 10, tol 1e-8, x0 = 0): ω = 1 takes 2630 steps, Young's
    # ω ≈ 1.854; we also get 136 steps at Young's ω (the spec's 152 is for the grid point ω = 1.85).
    A = shifted(10, -0.15)
    b = np.random.default_rng(0).standard_normal(100)
    w = young_omega(A)
    assert w == pytest.approx(1.8535941503536357, abs=1e-10)
    assert round(w, 3) == 1.854
    assert sor_solve(A, b, 1.0).iterations == 2630
    assert sor_solve(A, b, w).iterations == 136
    assert sor_solve(A, b, 1.85).iterations == 152


@pytest.mark.parametrize("m", [4, 10])
@pytest.mark.parametrize("c", [-0.15, 0.0, 0.45])
def test_young_omega_matches_closed_form(m, c):
    A = shifted(m, c)
    beta = 4 * math.cos(math.pi / (m + 1)) / (4 + c)
    assert jacobi_spectral_radius(A) == pytest.approx(beta, rel=1e-12)
    assert young_omega(A) == pytest.approx(closed_form_young(m, c), rel=1e-12)
    assert young_omega(A.toarray()) == pytest.approx(closed_form_young(m, c), rel=1e-12)


def test_jacobi_radius_of_a_nonsymmetric_matrix():
    A = np.array([[2.0, 1.0, 0.0], [0.5, 2.0, 1.0], [0.0, 0.5, 2.0]])
    J = np.eye(3) - A / np.diag(A)[:, None]
    assert jacobi_spectral_radius(A) == pytest.approx(np.abs(np.linalg.eigvals(J)).max(), rel=1e-12)


def test_young_omega_refuses_a_divergent_jacobi_iteration():
    with pytest.raises(UserError, match=r"1\.5"):
        young_omega(np.array([[1.0, 1.5], [1.5, 1.0]]))


@pytest.mark.parametrize("c", [-0.15, 0.1, 0.45])
def test_sor_grid_equals_per_omega_solves(c):
    m = 6
    A = shifted(m, c)
    rng = np.random.default_rng(4)
    b = rng.standard_normal(m * m)
    x0 = rng.standard_normal(m * m) if c > 0 else None
    its, capped = sor_iterations_grid(A, b, DEFAULT_OMEGAS, 1e-8, 10_000, x0)
    ref = [sor_solve(A, b, w, 1e-8, 10_000, x0) for w in DEFAULT_OMEGAS]
    # Documented tolerance is ±1 (rounding); on these instances the counts are identical.
    np.testing.assert_array_equal(its, [r.iterations for r in ref])
    np.testing.assert_array_equal(capped, [r.capped for r in ref])
    assert its.dtype == np.int64 and capped.dtype == bool and not capped.any()


@pytest.mark.parametrize("c", [-0.15, 0.45])
def test_pcg_grid_within_one_of_per_omega_solves(c):
    A = shifted(6, c)
    b = np.random.default_rng(5).standard_normal(36)
    grid = np.linspace(0.85, 1.9, 8)
    its, capped = ssor_pcg_iterations_grid(A, b, grid)
    ref = np.array([ssor_pcg_solve(A, b, w).iterations for w in grid])
    assert np.abs(its - ref).max() <= 1
    assert (its == ref).mean() >= 0.75
    assert not capped.any()


def test_grid_caps_and_reports_capped():
    A = shifted(6, -0.15)
    b = np.ones(36)
    its, capped = sor_iterations_grid(A, b, [1.0, 1.7], tol=1e-8, max_iter=30)
    assert its.tolist() == [30, 30] and capped.all()
    res = sor_solve(A, b, 1.0, max_iter=30)
    assert res.capped and res.iterations == 30
    its_loose, capped_loose = sor_iterations_grid(A, b, [1.0, 1.7], tol=0.5, max_iter=30)
    assert not capped_loose.any() and (its_loose < 30).all()


def test_sparse_paths_agree_with_dense_paths(monkeypatch):
    A = shifted(5, 0.2)
    b = np.random.default_rng(6).standard_normal(25)
    grid = [1.0, 1.4, 1.8]
    dense_sor = sor_iterations_grid(A, b, grid)[0]
    dense_pcg = ssor_pcg_iterations_grid(A, b, grid)[0]
    dense_x = sor_solve(A, b, 1.4).x
    monkeypatch.setattr(solvers, "DENSE_MAX_N", 4)
    assert np.abs(sor_iterations_grid(A, b, grid)[0] - dense_sor).max() <= 1
    assert np.abs(ssor_pcg_iterations_grid(A, b, grid)[0] - dense_pcg).max() <= 1
    np.testing.assert_allclose(sor_solve(A, b, 1.4).x, dense_x, atol=1e-9)


def test_divergent_sor_is_capped_early():
    A = np.array([[1.0, 3.0], [3.0, 1.0]])  # indefinite: SOR diverges for every ω
    res = sor_solve(A, np.array([1.0, 0.0]), 1.0, max_iter=10_000)
    assert res.capped and res.iterations == 10_000 and not np.isfinite(res.residual)
    its, capped = sor_iterations_grid(A, np.array([1.0, 0.0]), [1.0, 1.5])
    assert its.tolist() == [10_000, 10_000] and capped.all()


def test_zero_right_hand_side_takes_no_iterations():
    A = shifted(3, 0.0)
    assert sor_solve(A, np.zeros(9), 1.5).iterations == 0
    assert ssor_pcg_solve(A, np.zeros(9), 1.5).iterations == 0
    assert sor_iterations_grid(A, np.zeros(9), [1.0, 1.5])[0].tolist() == [0, 0]
    assert ssor_pcg_iterations_grid(A, np.zeros(9), [1.0, 1.5])[0].tolist() == [0, 0]


def test_warm_start_at_the_solution_takes_no_iterations():
    A = shifted(3, 0.0)
    b = np.arange(9.0)
    x = sla.solve(A.toarray(), b)
    assert ssor_pcg_solve(A, b, 1.2, x0=x).iterations == 0
    assert ssor_pcg_iterations_grid(A, b, [1.2], x0=x)[0].tolist() == [0]


def test_check_system_accepts_dense_and_sparse():
    A, b = check_system(np.eye(3) * 2, [1, 2, 3])
    assert sp.isspmatrix_csr(A) and b.dtype == np.float64 and b.shape == (3,)
    A2, b2 = check_system(sp.coo_matrix(np.eye(3) * 2), np.ones((3, 1)))
    assert (A2 != A).nnz == 0 and b2.shape == (3,)


def test_non_square_matrix_is_refused():
    with pytest.raises(UserError, match=r"\(3, 4\)"):
        sor_solve(np.ones((3, 4)), np.ones(3), 1.0)


def test_zero_diagonal_is_refused():
    A = np.array([[2.0, 1.0], [1.0, 0.0]])
    with pytest.raises(UserError, match="index 1"):
        sor_solve(A, np.ones(2), 1.0)
    with pytest.raises(UserError, match="zero diagonal"):
        sor_iterations_grid(sp.csr_matrix(A), np.ones(2))


def test_mismatched_and_non_finite_rhs_are_refused():
    with pytest.raises(UserError, match=r"\(4,\)"):
        sor_solve(np.eye(3), np.ones(4), 1.0)
    with pytest.raises(UserError, match="nan"):
        sor_solve(np.eye(3), np.array([1.0, np.nan, 0.0]), 1.0)
    with pytest.raises(UserError, match="inf"):
        sor_solve(np.array([[1.0, np.inf], [0.0, 1.0]]), np.ones(2), 1.0)


@pytest.mark.parametrize("omega", [0.0, 2.0, 2.5, -1.0, float("nan")])
def test_omega_outside_open_interval_is_refused(omega):
    with pytest.raises(UserError, match=str(omega)):
        check_omega(omega, "sor")
    with pytest.raises(UserError, match=str(omega)):
        ssor_pcg_solve(np.eye(2) * 2, np.ones(2), omega)


def test_omega_grid_checks():
    np.testing.assert_array_equal(check_omega_grid([1.5, 1.0]), [1.5, 1.0])
    with pytest.raises(UserError, match=r"1\.5"):
        check_omega_grid([1.0, 1.5, 1.2, 1.5])
    with pytest.raises(UserError, match=r"2\.1"):
        check_omega_grid([1.0, 2.1])
    with pytest.raises(UserError, match="shape"):
        check_omega_grid([])
    with pytest.raises(UserError, match=r"1\.5"):
        sor_iterations_grid(shifted(2, 0.0), np.ones(4), [1.5, 1.5])


def test_pcg_refuses_a_nonsymmetric_matrix():
    with pytest.raises(UserError, match="symmetric"):
        ssor_pcg_solve(np.array([[2.0, 1.0], [0.0, 2.0]]), np.ones(2), 1.0)


def test_bad_tolerance_and_cap_are_refused():
    with pytest.raises(UserError, match="tol"):
        sor_solve(np.eye(2), np.ones(2), 1.0, tol=0.0)
    with pytest.raises(UserError, match="max_iter"):
        sor_solve(np.eye(2), np.ones(2), 1.0, max_iter=0)
    with pytest.raises(UserError, match=r"x0 must have shape \(2,\)"):
        sor_solve(np.eye(2), np.ones(2), 1.0, x0=np.ones(3))
