"""Iterative linear solvers whose relaxation parameter ω is the bandit's arm.

Two methods, both as used by Khodak, Chow, Balcan and Talwalkar, "Learning to Relax: Setting Solver
Parameters Across a Sequence of Linear System Instances" (ICLR 2024; MATLAB code
``mkhodak/learning-to-relax``):

* **SOR** (successive over-relaxation, Young 1950/1954): ``x ← x + (D/ω + L)⁻¹ r`` with ``r = b − A x``,
  ``D`` the diagonal and ``L`` the strictly lower triangle of ``A``. The cost of an instance is the number of
  steps until ``‖r‖ / ‖r₀‖ < tol`` (the paper's ``solvers/sor.m``), capped at ``max_iter``.
* **SSOR-preconditioned conjugate gradient** for symmetric positive definite ``A``, with the preconditioner
  ``M_ω = (D + ωL) D⁻¹ (D + ωL)ᵀ / (ω(2 − ω))``. The cost is the number of CG iterations until
  ``‖b − A x‖ ≤ tol·‖b‖`` (MATLAB ``pcg``'s criterion, which the paper uses).

Every solver has a one-system form (``sor_solve`` / ``ssor_pcg_solve``, returning the solution) and a grid
form (``sor_iterations_grid`` / ``ssor_pcg_iterations_grid``) that returns only the iteration counts of every
ω of a grid on one system — the *counterfactual* costs a bandit env needs for exact regret. For small systems
(``n ≤ DENSE_MAX_N``) the grid form precomputes one dense ``n × n`` operator per ω (the residual propagator
``C_ω = I − A (D/ω + L)⁻¹`` for SOR, ``M_ω⁻¹`` for PCG) and advances all ω together with one batched
matrix-vector product per step, dropping the ω that have converged. It computes the same iterates as the
one-system form up to floating-point rounding, so a count can differ by one when an iterate lands within
rounding of the tolerance (not observed on the test instances). Larger systems use sparse triangular
solves.

Invalid input raises :class:`~rl_suite.errors.UserError` with one line naming the bad value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from rl_suite.errors import UserError
from rl_suite.validation import check_choice, check_int, check_positive

METHODS = ("sor", "ssor_pcg")
DENSE_MAX_N = 300
"""Systems up to this size use dense triangular solves and dense grid operators (measured: faster below)."""
DEFAULT_OMEGAS = np.linspace(1.0, 1.95, 20)
"""The paper's arm grid: 20 values of ω evenly spaced on [1, 1.95]."""


@dataclass(frozen=True)
class SolveResult:
    """The outcome of one iterative solve.

    Attributes:
        iterations: Steps taken; ``max_iter`` when the solver did not converge (``capped``).
        capped: ``True`` when the tolerance was not reached within ``max_iter`` steps (or the iteration
            diverged / broke down; then ``iterations == max_iter`` too).
        x: The last iterate.
        residual: The final relative residual (``‖r‖/‖r₀‖`` for SOR, ``‖r‖/‖b‖`` for SSOR-PCG).
    """

    iterations: int
    capped: bool
    x: np.ndarray
    residual: float


# --------------------------------------------------------------------------------------------- validation


def check_matrix(A: Any) -> sp.csr_matrix:
    """Validate a system matrix (the ``A`` half of :func:`check_system`).

    Args:
        A: A square matrix, a dense array or any scipy sparse matrix/array.

    Returns:
        ``A`` as a float64 ``csr_matrix`` (duplicates summed).

    Raises:
        UserError: ``A`` is not a non-empty square 2-D matrix, has a non-finite entry, or has a zero
            diagonal entry (SOR and SSOR divide by the diagonal).
    """
    if sp.issparse(A):
        if len(A.shape) != 2:
            raise UserError(f"A must be a square 2-D matrix, got shape {A.shape}")
        A = sp.csr_matrix(A, dtype=np.float64)
    else:
        try:
            dense = np.asarray(A, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise UserError(f"A must be a numeric matrix, got {type(A).__name__}") from exc
        if dense.ndim != 2:
            raise UserError(f"A must be a square 2-D matrix, got shape {dense.shape}")
        A = sp.csr_matrix(dense)
    if A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise UserError(f"A must be a non-empty square matrix, got shape {A.shape}")
    A.sum_duplicates()
    if not np.isfinite(A.data).all():
        raise UserError(f"A must have finite entries, got {A.data[~np.isfinite(A.data)][0]}")
    zero = np.flatnonzero(A.diagonal() == 0)
    if zero.size:
        raise UserError(
            f"A of shape {A.shape} has a zero diagonal entry at index {zero[0]} "
            "(SOR/SSOR need a nonzero diagonal)"
        )
    return A


def check_system(A: Any, b: Any) -> tuple[sp.csr_matrix, np.ndarray]:
    """Validate a linear system ``A x = b`` and return it in canonical form.

    Args:
        A: A square matrix, a dense array or any scipy sparse matrix/array.
        b: The right-hand side, shape ``(n,)`` (or ``(n, 1)``).

    Returns:
        ``A`` as a float64 ``csr_matrix`` and ``b`` as a float64 ``(n,)`` array.

    Raises:
        UserError: ``A`` is not a square 2-D matrix, ``b`` does not match it, an entry is not finite, or a
            diagonal entry of ``A`` is zero (a "singular-looking" system for SOR, which divides by it).
    """
    A = check_matrix(A)
    n = A.shape[0]
    try:
        b = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UserError(f"b must be a numeric vector, got {type(b).__name__}") from exc
    if b.shape == (n, 1):
        b = b[:, 0]
    if b.shape != (n,):
        raise UserError(f"b must have shape ({n},) to match A of shape {A.shape}, got shape {b.shape}")
    if not np.isfinite(b).all():
        raise UserError(f"b must have finite entries, got {b[~np.isfinite(b)][0]}")
    return A, b


def check_omega(omega: Any, method: str = "sor") -> float:
    """Validate one relaxation parameter.

    Args:
        omega: The value given.
        method: ``"sor"`` or ``"ssor_pcg"``; both converge (for SPD ``A``) exactly for ω in (0, 2).

    Returns:
        ``omega`` as a Python ``float``.

    Raises:
        UserError: ``method`` is unknown, or ``omega`` is not a finite number in the open interval (0, 2).
    """
    check_choice("method", method, METHODS)
    if isinstance(omega, (bool, np.bool_)) or not isinstance(omega, (int, float, np.integer, np.floating)):
        raise UserError(f"omega for {method} must be a number in (0, 2), got {omega!r}")
    value = float(omega)
    if not (np.isfinite(value) and 0.0 < value < 2.0):
        raise UserError(f"omega for {method} must be in the open interval (0, 2), got {value}")
    return value


def check_omega_grid(grid: Any) -> np.ndarray:
    """Validate a grid of relaxation parameters (the bandit's arms).

    Args:
        grid: A non-empty 1-D sequence of numbers; any order.

    Returns:
        The grid as a float64 ``(K,)`` array, in the order given.

    Raises:
        UserError: The grid is empty or not 1-D, a value is not finite or outside (0, 2), or a value
            appears twice.
    """
    try:
        arr = np.asarray(grid, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UserError(f"omega grid must be a 1-D sequence of numbers, got {grid!r}") from exc
    if arr.ndim != 1 or arr.size == 0:
        raise UserError(f"omega grid must be a non-empty 1-D sequence, got shape {arr.shape}")
    bad = arr[~(np.isfinite(arr) & (arr > 0.0) & (arr < 2.0))]
    if bad.size:
        raise UserError(f"omega grid values must be finite and in the open interval (0, 2), got {bad[0]}")
    values, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise UserError(f"omega grid must not repeat a value, got {values[counts > 1][0]} twice or more")
    return arr


def _check_x0(x0: Any, n: int) -> np.ndarray:
    if x0 is None:
        return np.zeros(n)
    try:
        x = np.asarray(x0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UserError(f"x0 must be a numeric vector, got {type(x0).__name__}") from exc
    if x.shape == (n, 1):
        x = x[:, 0]
    if x.shape != (n,):
        raise UserError(f"x0 must have shape ({n},), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise UserError(f"x0 must have finite entries, got {x[~np.isfinite(x)][0]}")
    return x.copy()


def _check_stopping(tol: Any, max_iter: Any) -> tuple[float, int]:
    return check_positive("tol", tol), check_int("max_iter", max_iter, 1)


def _check_symmetric(A: sp.csr_matrix) -> None:
    diff = abs(A - A.T)
    gap = float(diff.max()) if diff.nnz else 0.0
    scale = float(abs(A).max())
    if gap > 1e-12 * scale:
        raise UserError(f"SSOR-PCG needs a symmetric A, got max |A - A^T| = {gap:.3g}")


# --------------------------------------------------------------------------------------------- matrices


def laplacian_2d(m: int) -> sp.csr_matrix:
    """The 5-point Laplacian on an ``m × m`` grid of interior points (Dirichlet boundary, unit spacing).

    ``n = m²`` unknowns in natural row-major order: grid point ``(i, j)`` (row ``i``, column ``j``, both from
    0) is unknown ``i·m + j``. The diagonal is 4 and each grid neighbour contributes −1. This is MATLAB's
    ``delsq(numgrid('S', m + 2))`` (the paper's matrix for ``m = 10``) up to a symmetric permutation: MATLAB
    numbers the points column by column, which is the transpose of this ordering and gives the very same
    matrix, because the stencil is symmetric in the two directions.

    Args:
        m: Interior points per side, ``>= 1``.

    Returns:
        The ``(m², m²)`` symmetric positive definite matrix, float64 CSR.

    Raises:
        UserError: ``m`` is not an integer ``>= 1``.
    """
    m = check_int("m", m, 1)
    one_d = sp.diags([-np.ones(m - 1), np.full(m, 2.0), -np.ones(m - 1)], [-1, 0, 1])
    eye = sp.identity(m)
    return sp.csr_matrix(sp.kron(eye, one_d) + sp.kron(one_d, eye))


def jacobi_spectral_radius(A: Any) -> float:
    """Spectral radius β of the Jacobi iteration matrix ``J = I − D⁻¹A``.

    For symmetric ``A`` with a positive diagonal ``J`` is similar to the symmetric ``I − D^{-½} A D^{-½}``,
    so only its two extreme eigenvalues are computed (dense ``eigh`` up to :data:`DENSE_MAX_N` unknowns,
    sparse Lanczos above); otherwise all eigenvalues of the dense ``J`` are computed.

    Args:
        A: A square matrix with a nonzero diagonal (dense or scipy sparse).

    Returns:
        β = max |λ(J)|.

    Raises:
        UserError: ``A`` is not a valid system matrix (see :func:`check_system`).
    """
    A = check_matrix(A)
    n = A.shape[0]
    d = A.diagonal()
    if n == 1:
        return 0.0
    symmetric = (d > 0).all() and abs(A - A.T).max() <= 1e-12 * abs(A).max()
    if not symmetric:
        jac = np.eye(n) - A.toarray() / d[:, None]
        return float(np.abs(np.linalg.eigvals(jac)).max())
    s = 1.0 / np.sqrt(d)
    sym = sp.identity(n) - sp.csr_matrix(A.multiply(s[:, None]).multiply(s[None, :]))
    if n <= DENSE_MAX_N:
        dense = sym.toarray()
        low = sla.eigh(dense, eigvals_only=True, subset_by_index=[0, 0], check_finite=False)[0]
        high = sla.eigh(dense, eigvals_only=True, subset_by_index=[n - 1, n - 1], check_finite=False)[0]
        return float(max(abs(low), abs(high)))
    from scipy.sparse.linalg import eigsh

    vals = eigsh(sym, k=1, which="LM", return_eigenvectors=False, tol=1e-12)
    return float(np.abs(vals).max())


def young_omega_from_beta(beta: float) -> float:
    """Young's optimal SOR parameter ``ω* = 2 / (1 + √(1 − β²))`` for a Jacobi spectral radius β < 1.

    Young (1950, 1954) showed that for consistently ordered matrices (e.g. the 5-point Laplacian in natural
    order) ω* minimises the spectral radius of the SOR iteration matrix, which then equals ω* − 1.

    Args:
        beta: The spectral radius of the Jacobi iteration matrix.

    Returns:
        ω* in [1, 2).

    Raises:
        UserError: ``beta`` is not in [0, 1) (Young's formula needs a convergent Jacobi iteration).
    """
    beta = float(beta)
    if not (np.isfinite(beta) and 0.0 <= beta < 1.0):
        raise UserError(f"Young's formula needs a Jacobi spectral radius in [0, 1), got {beta}")
    return 2.0 / (1.0 + np.sqrt(1.0 - beta * beta))


def young_omega(A: Any) -> float:
    """Young's optimal SOR relaxation parameter of ``A`` (the paper's instance-optimal ω, ``omega_opt.m``).

    Args:
        A: A square matrix with a nonzero diagonal (dense or scipy sparse).

    Returns:
        ``2 / (1 + √(1 − β²))`` with β = :func:`jacobi_spectral_radius` of ``A``.

    Raises:
        UserError: ``A`` is not a valid system matrix, or β >= 1.
    """
    return young_omega_from_beta(jacobi_spectral_radius(A))


# --------------------------------------------------------------------------------------------- SOR


def _sor_matrix(A: sp.csr_matrix, omega: float) -> sp.csr_matrix:
    """``D/ω + L`` as CSR (the SOR "M" of the splitting ``A = M − N``)."""
    return sp.csr_matrix(sp.tril(A, -1) + sp.diags(A.diagonal() / omega))


def _lower_solver(lower: sp.csr_matrix) -> Any:
    """A function solving ``lower · y = r`` (and, with ``trans=True``, ``lowerᵀ · y = r``) quickly."""
    if lower.shape[0] <= DENSE_MAX_N:
        dense = lower.toarray()

        def solve_dense(r: np.ndarray, trans: bool = False) -> np.ndarray:
            return sla.solve_triangular(dense, r, lower=True, trans=1 if trans else 0, check_finite=False)

        return solve_dense
    # SuperLU on a triangular matrix in natural order with no pivoting is a plain O(nnz) substitution
    # (measured ≈10× faster than scipy's spsolve_triangular for n = 100..10⁴).
    lu = splu(sp.csc_matrix(lower), permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"Equil": False})

    def solve_sparse(r: np.ndarray, trans: bool = False) -> np.ndarray:
        return lu.solve(r, trans="T" if trans else "N")

    return solve_sparse


def _matvec(A: sp.csr_matrix) -> Any:
    if A.shape[0] <= DENSE_MAX_N:
        dense = A.toarray()
        return dense.__matmul__
    return A.__matmul__


def sor_solve(
    A: Any,
    b: Any,
    omega: float,
    tol: float = 1e-8,
    max_iter: int = 10_000,
    x0: Any = None,
) -> SolveResult:
    """Solve ``A x = b`` by successive over-relaxation (Young 1950; the paper's ``solvers/sor.m``).

    Each step is ``x ← x + (D/ω + L)⁻¹ r`` followed by ``r = b − A x`` (the residual is recomputed, not
    updated). The count is the first step ``k >= 1`` with ``‖r_k‖ / ‖r₀‖ < tol``; a zero initial residual
    needs 0 steps. A residual that stops being finite (divergence) ends the solve as ``capped``.

    Args:
        A: Square matrix with a nonzero diagonal, dense or scipy sparse.
        b: Right-hand side ``(n,)``.
        omega: Relaxation parameter in (0, 2) (ω = 1 is Gauss–Seidel).
        tol: Relative residual tolerance, ``> 0``.
        max_iter: Step cap, ``>= 1``.
        x0: Initial guess ``(n,)``; zeros when ``None``.

    Returns:
        The :class:`SolveResult`.

    Raises:
        UserError: Invalid system, ω, tolerance, cap or initial guess.
    """
    A, b = check_system(A, b)
    omega = check_omega(omega, "sor")
    tol, max_iter = _check_stopping(tol, max_iter)
    x = _check_x0(x0, A.shape[0])
    solve = _lower_solver(_sor_matrix(A, omega))
    matvec = _matvec(A)
    r = b - matvec(x)
    norm0 = float(np.linalg.norm(r))
    if norm0 == 0.0:
        return SolveResult(0, False, x, 0.0)
    rel = 1.0
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported as capped, not warned
        for k in range(1, max_iter + 1):
            x += solve(r)
            r = b - matvec(x)
            rel = float(np.linalg.norm(r)) / norm0
            if rel < tol:
                return SolveResult(k, False, x, rel)
            if not np.isfinite(rel):
                break
    return SolveResult(max_iter, True, x, rel)


def sor_propagators(A: Any, omegas: Any) -> np.ndarray:
    """Dense SOR residual propagators ``C_ω = I − A (D/ω + L)⁻¹`` for every ω of a grid.

    One SOR step maps the residual ``r`` to ``C_ω r`` exactly, so ``r_k = C_ω^k r₀``. ``ρ(C_ω)`` is the
    asymptotic convergence factor used by the paper's near-asymptotic bound.

    Args:
        A: Square matrix with a nonzero diagonal (dense or scipy sparse).
        omegas: Grid of ω in (0, 2).

    Returns:
        ``(K, n, n)`` float64 array.

    Raises:
        UserError: Invalid system or grid.
    """
    A = check_matrix(A)
    return _sor_propagators(A.toarray(), check_omega_grid(omegas))


def _sor_propagators(dense: np.ndarray, omegas: np.ndarray) -> np.ndarray:
    n = dense.shape[0]
    strict = np.tril(dense, -1)
    d = np.diag(dense)
    idx = np.arange(n)
    out = np.empty((omegas.size, n, n))
    for k, w in enumerate(omegas):
        m = strict.copy()
        m[idx, idx] = d / w
        # Mᵀ Y = Aᵀ ⇒ Yᵀ = A M⁻¹ and C = I − Yᵀ. (One triangular solve per ω: measured 3× faster than a
        # batched np.linalg.solve over all ω.)
        y = sla.solve_triangular(m, dense.T, lower=True, trans=1, check_finite=False)
        out[k] = -y.T
        out[k, idx, idx] += 1.0
    return out


def sor_iterations_grid(
    A: Any,
    b: Any,
    omegas: Any = DEFAULT_OMEGAS,
    tol: float = 1e-8,
    max_iter: int = 10_000,
    x0: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SOR iteration counts of every ω in a grid on one system (one row of the counterfactual table).

    The same counting rule as :func:`sor_solve`. For ``n <= DENSE_MAX_N`` the residual is propagated as
    ``r ← C_ω r`` for all ω at once with one batched matrix-vector product per step (see
    :func:`sor_propagators`); the counts equal :func:`sor_solve`'s up to a possible ±1 from rounding when
    a residual lands within rounding of the tolerance. Larger systems run :func:`sor_solve` per ω.

    Args:
        A: Square matrix with a nonzero diagonal (dense or scipy sparse).
        b: Right-hand side ``(n,)``.
        omegas: Grid of ω in (0, 2); default the paper's ``linspace(1, 1.95, 20)``.
        tol: Relative residual tolerance ``‖r‖/‖r₀‖``.
        max_iter: Step cap.
        x0: Initial guess; zeros when ``None``.

    Returns:
        ``(iterations, capped)``: int64 ``(K,)`` step counts (``max_iter`` where capped) and bool ``(K,)``.

    Raises:
        UserError: Invalid system, grid, tolerance, cap or initial guess.
    """
    A, b = check_system(A, b)
    grid = check_omega_grid(omegas)
    tol, max_iter = _check_stopping(tol, max_iter)
    x = _check_x0(x0, A.shape[0])
    if A.shape[0] > DENSE_MAX_N:
        results = [sor_solve(A, b, w, tol, max_iter, x) for w in grid]
        return (
            np.array([r.iterations for r in results], dtype=np.int64),
            np.array([r.capped for r in results], dtype=bool),
        )
    dense = A.toarray()
    r0 = b - dense @ x
    norm0 = float(np.linalg.norm(r0))
    if norm0 == 0.0:
        return np.zeros(grid.size, dtype=np.int64), np.zeros(grid.size, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported as capped, not warned
        return _propagate_counts(_sor_propagators(dense, grid), r0, norm0, tol, max_iter)


_BLOCK_STEPS = 8
"""Steps advanced between convergence checks in the batched SOR grid (measured best of 1, 4, 8, 16)."""


def _propagate_counts(
    props: np.ndarray, r0: np.ndarray, norm0: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """First ``k`` with ``‖C_i^k r₀‖ / norm0 < tol`` for each propagator ``C_i``, all advanced together.

    The residuals of a block of :data:`_BLOCK_STEPS` steps are kept and checked at once (the first step of
    the block below the tolerance is the count), which saves Python overhead at the price of up to
    ``_BLOCK_STEPS − 1`` wasted steps per ω; converged and diverged ω are dropped after each block.
    """
    count = props.shape[0]
    iterations = np.full(count, max_iter, dtype=np.int64)
    capped = np.ones(count, dtype=bool)
    active = np.arange(count)
    res = np.tile(r0, (count, 1))[:, :, None]
    done_steps = 0
    while done_steps < max_iter:
        steps = min(_BLOCK_STEPS, max_iter - done_steps)
        block = np.empty((steps, *res.shape))
        current = res
        for j in range(steps):
            current = np.matmul(props, current, out=block[j])
        rel = np.sqrt(np.einsum("skni,skni->sk", block, block)) / norm0
        below = rel < tol
        hit = below.any(axis=0)
        diverged = ~np.isfinite(rel).all(axis=0) & ~hit
        res = block[-1]
        if hit.any() or diverged.any():
            iterations[active[hit]] = done_steps + 1 + below[:, hit].argmax(axis=0)
            capped[active[hit]] = False
            keep = ~(hit | diverged)
            if not keep.any():
                break
            active, props, res = active[keep], props[keep], res[keep]
        done_steps += steps
    return iterations, capped


# --------------------------------------------------------------------------------------------- SSOR-PCG


def _ssor_apply(A: sp.csr_matrix, omega: float) -> Any:
    """``r ↦ M_ω⁻¹ r = ω(2 − ω) (D + ωL)⁻ᵀ D (D + ωL)⁻¹ r``."""
    lower = _sor_matrix(A, omega) * omega  # D + ωL
    solve = _lower_solver(sp.csr_matrix(lower))
    d = A.diagonal()
    scale = omega * (2.0 - omega)

    def apply(r: np.ndarray) -> np.ndarray:
        return scale * solve(d * solve(r), trans=True)

    return apply


def ssor_pcg_solve(
    A: Any,
    b: Any,
    omega: float,
    tol: float = 1e-8,
    max_iter: int = 10_000,
    x0: Any = None,
) -> SolveResult:
    """Solve SPD ``A x = b`` by conjugate gradient preconditioned with SSOR (the paper's ``ssor_pcg.m``).

    Preconditioner ``M_ω = (D + ωL) D⁻¹ (D + ωL)ᵀ / (ω(2 − ω))`` (Axelsson's SSOR preconditioner; SPD for
    ω in (0, 2) when ``A`` is SPD). The paper passes the factors in the reverse order,
    ``(D + ωL)ᵀ D⁻¹ (D + ωL)``, which is this preconditioner for the system with its unknowns numbered
    backwards; for matrices invariant under that renumbering (the shifted Laplacian, the heat-equation
    matrices) and right-hand sides whose distribution is, the iteration-count distribution is the same.

    The count follows MATLAB's ``pcg``: 0 when ``‖b − A x₀‖ <= tol·‖b‖``, otherwise the first CG iteration
    whose recursively updated residual satisfies ``‖r‖ <= tol·‖b‖`` *and* whose recomputed residual
    ``b − A x`` does too (if only the recursive one does, the recomputed residual replaces it and the
    iteration goes on). ``b = 0`` gives ``x = 0`` in 0 iterations. A breakdown (``pᵀAp <= 0`` or a
    non-finite value, e.g. ``A`` not positive definite) ends the solve as ``capped``.

    Args:
        A: Symmetric positive definite matrix, dense or scipy sparse.
        b: Right-hand side ``(n,)``.
        omega: SSOR parameter in (0, 2).
        tol: Relative residual tolerance (relative to ``‖b‖``).
        max_iter: Iteration cap.
        x0: Initial guess; zeros when ``None``.

    Returns:
        The :class:`SolveResult` (``residual`` = ``‖b − A x‖ / ‖b‖`` at the end).

    Raises:
        UserError: Invalid or non-symmetric system, ω, tolerance, cap or initial guess.
    """
    A, b = check_system(A, b)
    _check_symmetric(A)
    omega = check_omega(omega, "ssor_pcg")
    tol, max_iter = _check_stopping(tol, max_iter)
    x = _check_x0(x0, A.shape[0])
    norm_b = float(np.linalg.norm(b))
    if norm_b == 0.0:
        return SolveResult(0, False, np.zeros_like(b), 0.0)
    bound = tol * norm_b
    matvec = _matvec(A)
    precondition = _ssor_apply(A, omega)
    r = b - matvec(x)
    if np.linalg.norm(r) <= bound:
        return SolveResult(0, False, x, float(np.linalg.norm(r)) / norm_b)
    z = precondition(r)
    p = z.copy()
    rz = float(r @ z)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # breakdown → capped
        for k in range(1, max_iter + 1):
            q = matvec(p)
            pq = float(p @ q)
            if not (np.isfinite(pq) and pq > 0.0 and np.isfinite(rz)):
                break
            alpha = rz / pq
            x += alpha * p
            r -= alpha * q
            if np.linalg.norm(r) <= bound:
                true_r = b - matvec(x)
                if np.linalg.norm(true_r) <= bound:
                    return SolveResult(k, False, x, float(np.linalg.norm(true_r)) / norm_b)
                r = true_r
            z = precondition(r)
            rz_new = float(r @ z)
            p = z + (rz_new / rz) * p
            rz = rz_new
        residual = float(np.linalg.norm(b - matvec(x))) / norm_b
    return SolveResult(max_iter, True, x, residual)


def ssor_inverse_preconditioners(A: Any, omegas: Any) -> np.ndarray:
    """Dense inverse SSOR preconditioners ``M_ω⁻¹ = ω(2 − ω) (D + ωL)⁻ᵀ D (D + ωL)⁻¹`` for a grid of ω.

    Args:
        A: Symmetric matrix with a nonzero diagonal (dense or scipy sparse).
        omegas: Grid of ω in (0, 2).

    Returns:
        ``(K, n, n)`` float64 array of symmetric matrices.

    Raises:
        UserError: Invalid or non-symmetric system, or invalid grid.
    """
    A = check_matrix(A)
    _check_symmetric(A)
    return _ssor_inverses(A.toarray(), check_omega_grid(omegas))


def _ssor_inverses(dense: np.ndarray, omegas: np.ndarray) -> np.ndarray:
    n = dense.shape[0]
    strict = np.tril(dense, -1)
    d = np.diag(dense)
    idx = np.arange(n)
    eye = np.eye(n)
    out = np.empty((omegas.size, n, n))
    for k, w in enumerate(omegas):
        lower = w * strict
        lower[idx, idx] = d  # F = D + ωL
        inv = sla.solve_triangular(lower, eye, lower=True, check_finite=False)  # F⁻¹
        # F⁻ᵀ (D F⁻¹) by a second triangular solve: scipy's BLAS only, no GEMM through numpy's separately
        # bundled OpenBLAS (alternating the two stalls for milliseconds as their thread pools contend).
        out[k] = sla.solve_triangular(lower, d[:, None] * inv, lower=True, trans=1, check_finite=False)
        out[k] *= w * (2.0 - w)
    return out


def ssor_pcg_iterations_grid(
    A: Any,
    b: Any,
    omegas: Any = DEFAULT_OMEGAS,
    tol: float = 1e-8,
    max_iter: int = 10_000,
    x0: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SSOR-PCG iteration counts of every ω in a grid on one system (one counterfactual-table row).

    The same algorithm and counting rule as :func:`ssor_pcg_solve`. For ``n <= DENSE_MAX_N`` the K
    preconditioners are formed as dense matrices (:func:`ssor_inverse_preconditioners`) and the K CG runs
    advance together (one ``(K, n) @ (n, n)`` product for ``A p`` and one batched product for ``M⁻¹ r``
    per iteration); counts equal :func:`ssor_pcg_solve`'s up to a possible ±1 from rounding. Larger systems
    run :func:`ssor_pcg_solve` per ω.

    Args:
        A: Symmetric positive definite matrix (dense or scipy sparse).
        b: Right-hand side ``(n,)``.
        omegas: Grid of ω in (0, 2).
        tol: Relative residual tolerance (relative to ``‖b‖``).
        max_iter: Iteration cap.
        x0: Initial guess; zeros when ``None``.

    Returns:
        ``(iterations, capped)``: int64 ``(K,)`` and bool ``(K,)``.

    Raises:
        UserError: Invalid or non-symmetric system, grid, tolerance, cap or initial guess.
    """
    A, b = check_system(A, b)
    _check_symmetric(A)
    grid = check_omega_grid(omegas)
    tol, max_iter = _check_stopping(tol, max_iter)
    x = _check_x0(x0, A.shape[0])
    if A.shape[0] > DENSE_MAX_N:
        results = [ssor_pcg_solve(A, b, w, tol, max_iter, x) for w in grid]
        return (
            np.array([r.iterations for r in results], dtype=np.int64),
            np.array([r.capped for r in results], dtype=bool),
        )
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # breakdown is reported as capped
        return _batched_pcg(A, b, x, _ssor_inverses(A.toarray(), grid), tol, max_iter)


def _batched_pcg(
    A: sp.csr_matrix, b: np.ndarray, x0: np.ndarray, minv: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """K preconditioned CG runs on one system, one dense preconditioner inverse each.

    ``A p`` is a sparse product (no BLAS thread pool involved; see :func:`_ssor_inverses`).
    """
    count = minv.shape[0]
    iterations = np.zeros(count, dtype=np.int64)
    capped = np.zeros(count, dtype=bool)
    norm_b = float(np.linalg.norm(b))
    if norm_b == 0.0:
        return iterations, capped
    bound = tol * norm_b
    r0 = b - A @ x0
    if np.linalg.norm(r0) <= bound:
        return iterations, capped
    iterations[:] = max_iter
    capped[:] = True
    active = np.arange(count)
    x = np.tile(x0, (count, 1))
    r = np.tile(r0, (count, 1))
    z = np.matmul(minv, r[:, :, None])[:, :, 0]
    p = z.copy()
    rz = np.einsum("kn,kn->k", r, z)
    for k in range(1, max_iter + 1):
        q = (A @ p.T).T
        pq = np.einsum("kn,kn->k", p, q)
        broken = ~(np.isfinite(pq) & (pq > 0.0) & np.isfinite(rz))
        alpha = np.where(broken, 0.0, rz / np.where(broken, 1.0, pq))
        x += alpha[:, None] * p
        r -= alpha[:, None] * q
        small = np.sqrt(np.einsum("kn,kn->k", r, r)) <= bound
        small &= ~broken
        done = np.zeros_like(small)
        if small.any():
            cand = np.flatnonzero(small)
            true_r = b - (A @ x[cand].T).T
            ok = np.linalg.norm(true_r, axis=1) <= bound
            done[cand[ok]] = True
            r[cand[~ok]] = true_r[~ok]
        if done.any():
            iterations[active[done]] = k
            capped[active[done]] = False
        keep = ~(done | broken)
        if not keep.any():
            break
        if not keep.all():
            active, minv, x, r, p, rz = active[keep], minv[keep], x[keep], r[keep], p[keep], rz[keep]
        z = np.matmul(minv, r[:, :, None])[:, :, 0]
        rz_new = np.einsum("kn,kn->k", r, z)
        p = z + (rz_new / rz)[:, None] * p
        rz = rz_new
    return iterations, capped
