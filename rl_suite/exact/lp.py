"""Exact optima of stage-wise constrained bandit rounds: small pure kernels shared by envs and agents.

The constrained envs use them with the true means (the comparator of the regret), the optimistic–
pessimistic agents with their confidence bounds (Pacchiano, Ghavamzadeh, Bartlett & Jiang, "Stochastic
Bandits with Linear Constraints", AISTATS 2021).

* :func:`best_feasible_mixture` — ``max_{π ∈ Δ_K} π·v  s.t.  π·c ≤ τ`` in closed form: one inequality
  plus the simplex, so an optimal vertex mixes at most two arms; enumerating the single feasible arms and
  the edges that cross the constraint is exact and needs no LP solver.
* :func:`best_feasible_mixture_linprog` — the same program through scipy's HiGHS, the reference the
  closed form is tested against.
* :func:`star_convex_optimum` — the high-probability setting on a star-convex action set: direction k
  played at scale ``γ ∈ [0, 1]`` earns ``γ r_k`` at cost ``γ c_k``, so the best feasible scale is
  ``min(1, τ / c_k)`` (1 for ``c_k ≤ 0``).
"""

from __future__ import annotations

import numpy as np

#: Expected costs above ``τ`` by no more than this count as feasible (floating-point round-off of a
#: mixture computed exactly on the boundary is not a violation).
VIOLATION_TOL = 1e-9


def violation_amount(expected_cost: np.ndarray | float, tau: np.ndarray | float) -> np.ndarray:
    """``max(0, E[cost] − τ)``, with excesses up to :data:`VIOLATION_TOL` rounded to 0.

    Args:
        expected_cost: ``(...)`` expected costs of what was played.
        tau: the threshold (broadcasts).

    Returns:
        ``(...)`` the violation amounts (0 where the round was feasible).
    """
    excess = np.asarray(expected_cost, dtype=np.float64) - tau
    return np.where(excess > VIOLATION_TOL, excess, 0.0)


def best_feasible_mixture(
    values: np.ndarray, costs: np.ndarray, tau: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``max_{π ∈ Δ_K} π·v  s.t.  π·c ≤ τ`` exactly, for one or many rows.

    The feasible set is the simplex cut by one half-space, so its vertices are the arms with ``c_i ≤ τ``
    and, on every edge ``(i, j)`` with ``c_i ≤ τ < c_j``, the mixture with weight
    ``w = (τ − c_i)/(c_j − c_i)`` on ``j`` (the constraint is tight there). A linear objective attains its
    maximum at a vertex; this enumerates them all in ``O(K²)`` (Pacchiano et al. 2021, §5, the MAB case).
    Ties go to the single arm with the lowest index, then to the first pair in row-major order.

    Args:
        values: ``(..., K)`` objective coefficients (true means, or optimistic reward indices).
        costs: ``(..., K)`` cost coefficients (true cost means, or pessimistic cost indices).
        tau: threshold, a scalar or ``(...)``.

    Returns:
        ``(policy, value)``: ``(..., K)`` an optimal mixture (at most two non-zero entries) and ``(...)``
        its objective ``π·v``. Rows where no arm has ``c_i ≤ τ`` are infeasible: their policy is all
        zeros and their value ``-inf``.
    """
    v = np.asarray(values, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    if v.shape != c.shape or v.ndim < 1:
        raise ValueError(f"values and costs must have the same shape (..., K), got {v.shape} and {c.shape}")
    t = np.asarray(tau, dtype=np.float64)[..., None]
    feasible = c <= t  # (..., K)
    single = np.where(feasible, v, -np.inf)
    # Edges (i feasible, j infeasible): weight w on j makes the cost exactly tau.
    ci, cj = c[..., :, None], c[..., None, :]
    cross = feasible[..., :, None] & ~feasible[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(cross, (t[..., None] - ci) / (cj - ci), 0.0)
    pair = np.where(cross, (1.0 - w) * v[..., :, None] + w * v[..., None, :], -np.inf)
    K = v.shape[-1]
    best_single = single.argmax(axis=-1)
    single_value = np.take_along_axis(single, best_single[..., None], axis=-1)[..., 0]
    flat = pair.reshape(*pair.shape[:-2], K * K)
    best_pair = flat.argmax(axis=-1)
    pair_value = np.take_along_axis(flat, best_pair[..., None], axis=-1)[..., 0]
    use_pair = pair_value > single_value
    policy = np.zeros_like(v)
    i = np.where(use_pair, best_pair // K, best_single)
    j = best_pair % K
    wj = np.take_along_axis(w.reshape(flat.shape), best_pair[..., None], axis=-1)[..., 0]
    wj = np.where(use_pair, wj, 0.0)
    np.put_along_axis(policy, i[..., None], (1.0 - wj)[..., None], axis=-1)
    # Adding (not putting) keeps a zero weight from overwriting arm i when j == i is impossible anyway.
    np.put_along_axis(
        policy, j[..., None], np.take_along_axis(policy, j[..., None], axis=-1) + wj[..., None], axis=-1
    )
    value = np.maximum(single_value, pair_value)
    none = ~feasible.any(axis=-1)
    if none.any():
        policy[none] = 0.0
    return policy, value


def best_feasible_mixture_linprog(
    values: np.ndarray, costs: np.ndarray, tau: float
) -> tuple[np.ndarray, float]:
    """The program of :func:`best_feasible_mixture` for one row, solved by scipy's HiGHS LP solver.

    Args:
        values: ``(K,)`` objective coefficients.
        costs: ``(K,)`` cost coefficients.
        tau: the threshold.

    Returns:
        ``(policy, value)`` of an optimal solution.

    Raises:
        ValueError: the program is infeasible (no arm has ``c_i ≤ τ``).
    """
    from scipy.optimize import linprog

    v = np.asarray(values, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    K = v.size
    res = linprog(
        -v,
        A_ub=c[None, :],
        b_ub=[tau],
        A_eq=np.ones((1, K)),
        b_eq=[1.0],
        bounds=[(0.0, None)] * K,
        method="highs",
    )
    if res.status != 0:
        raise ValueError(f"the constrained program is infeasible or failed: {res.message}")
    policy = np.clip(res.x, 0.0, None)
    policy /= policy.sum()
    return policy, float(policy @ v)


def star_convex_optimum(
    rewards: np.ndarray, costs: np.ndarray, tau: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best feasible action of a star-convex action set around a zero-cost safe action.

    Direction ``k`` at scale ``γ ∈ [0, 1]`` has mean reward ``γ r_k`` and mean cost ``γ c_k``; feasibility
    ``γ c_k ≤ τ`` (with ``τ > 0``) allows ``γ_k = min(1, τ / c_k)`` (1 when ``c_k ≤ 0``), and the best action
    is ``argmax_k γ_k r_k`` — or the safe action ``γ = 0`` (value 0) when every ``γ_k r_k < 0``
    (Pacchiano et al., "Contextual Bandits with Stage-wise Constraints", 2024, high-probability setting).

    Args:
        rewards: ``(..., K)`` full-scale mean rewards ``r_k`` (or optimistic indices).
        costs: ``(..., K)`` full-scale mean costs ``c_k`` (or pessimistic indices).
        tau: threshold ``> 0`` (scalar or ``(...)``).

    Returns:
        ``(scales, value, best)``: ``(..., K)`` the largest feasible scale of each direction, ``(...)`` the
        optimal value ``max(0, max_k γ_k r_k)`` and ``(...)`` the best direction (its scale is
        ``scales[best]``, or 0 when the value is 0 because every direction loses).
    """
    r = np.asarray(rewards, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    t = np.asarray(tau, dtype=np.float64)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = np.where(c > t, t / c, 1.0)
    scored = scales * r
    best = scored.argmax(axis=-1)
    value = np.maximum(np.take_along_axis(scored, best[..., None], axis=-1)[..., 0], 0.0)
    return scales, value, best
