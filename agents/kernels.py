"""The math of the bandit agents: small pure numpy functions with shape checks.

Every function takes arrays with any number of leading batch axes (``...``: seeds ``R``, arms ``K``) and
never changes its inputs (except ``out=`` where a function offers it, as numpy ufuncs do). Shapes are
checked first and a mismatch raises ``ValueError`` naming the shapes. Each kernel cites the paper it
comes from; tests/agents/test_kernels.py pins them to hand-computed values.

Notation (that of Lattimore & Szepesvári 2020, ch. 19): ridge statistics ``V = λI + Σ x xᵀ`` (called
``A`` in Li et al. 2010), ``b = Σ r x``, estimate ``θ̂ = V⁻¹b``; ``Ainv`` is ``V⁻¹``; ``‖x‖_M = sqrt(xᵀ M x)``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "anytime_mean_radius",
    "chebyshev_features",
    "exp3_probabilities",
    "hybrid_estimates",
    "hybrid_width_sq",
    "inverse_gap_weighting",
    "iteration_scale",
    "lin_ts_theory_scale",
    "linucb_theory_alpha",
    "oful_radius_closed",
    "oful_radius_det",
    "ridge_inverse",
    "rls_update",
    "sherman_morrison",
    "stagewise_reward_inflation",
    "tsallis_inf_probabilities",
    "ucb1_index",
    "ucb_width",
]


def _shape_error(what: str, **shapes: tuple[int, ...]) -> ValueError:
    listed = ", ".join(f"{k}{v}" for k, v in shapes.items())
    return ValueError(f"{what}: got {listed}")


# --------------------------------------------------------------------------- ridge regression
def sherman_morrison(
    Ainv: np.ndarray, x: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-one update of a symmetric inverse: ``(A + x xᵀ)⁻¹`` from ``A⁻¹`` in O(d²).

    Sherman & Morrison (1950); the update LinUCB uses after every round (Li et al. 2010, Alg. 1):
    with ``u = A⁻¹x`` and ``s = 1 + xᵀu``,

        ``(A + x xᵀ)⁻¹ = A⁻¹ − u uᵀ / s``.

    ``s`` is also the matrix-determinant-lemma factor, ``det(A + x xᵀ) = s · det A``, so
    ``ln det`` grows by ``ln s`` (the incremental OFUL radius, :func:`oful_radius_det`). ``A⁻¹`` must be
    symmetric (ridge Gram inverses are).

    Args:
        Ainv: ``(..., d, d)`` symmetric inverses ``A⁻¹``.
        x: ``(..., d)`` the new feature vectors.
        out: where to write the new inverses (may be ``Ainv`` itself for an in-place update).

    Returns:
        ``(Ainv_new, s, gain)``: ``(..., d, d)`` the updated inverses, ``(...,)`` the factors
        ``s = 1 + xᵀA⁻¹x ≥ 1``, and ``(..., d)`` the gain ``(A + x xᵀ)⁻¹x = u / s`` that
        :func:`rls_update` needs.
    """
    d = x.shape[-1]
    if Ainv.shape[-2:] != (d, d) or Ainv.shape[:-2] != x.shape[:-1]:
        raise _shape_error(
            "sherman_morrison needs Ainv (..., d, d) and x (..., d)", Ainv=Ainv.shape, x=x.shape
        )
    if x.ndim == 1:  # one vector, scalar s: the same formula without broadcasting (single-stream hot path)
        u = Ainv @ x
        s = 1.0 + x @ u
        gain = u / s
        return np.subtract(Ainv, gain[:, None] * u, out=out), s, gain
    u = np.matvec(Ainv, x)
    s = 1.0 + np.vecdot(x, u)
    gain = u / s[..., None]
    Ainv_new = np.subtract(Ainv, gain[..., :, None] * u[..., None, :], out=out)
    return Ainv_new, s, gain


def rls_update(theta: np.ndarray, gain: np.ndarray, x: np.ndarray, r: np.ndarray | float) -> np.ndarray:
    """Recursive-least-squares step: ``θ_new = θ + gain · (r − θᵀx)``.

    With ``θ = A⁻¹b`` and ``gain = (A + x xᵀ)⁻¹x`` (from :func:`sherman_morrison`) this is exactly
    ``(A + x xᵀ)⁻¹ (b + r x)`` in O(d) instead of a matrix-vector product (Li et al. 2010, Alg. 1, written
    in the RLS form of e.g. Lattimore & Szepesvári 2020, §19.2).

    Args:
        theta: ``(..., d)`` current estimates ``A⁻¹b``.
        gain: ``(..., d)`` the gain ``(A + x xᵀ)⁻¹x``.
        x: ``(..., d)`` the feature vectors just observed.
        r: ``(...)`` rewards.

    Returns:
        ``(..., d)`` the updated estimates.
    """
    r_shape = getattr(r, "shape", ())
    if theta.shape != x.shape or gain.shape != x.shape or r_shape != x.shape[:-1]:
        raise _shape_error(
            "rls_update needs theta, gain, x (..., d) and r (...)",
            theta=theta.shape,
            gain=gain.shape,
            x=x.shape,
            r=r_shape,
        )
    if x.ndim == 1:  # one vector: scalar error, no broadcasting (single-stream hot path)
        return theta + gain * (r - theta @ x)
    err = r - np.vecdot(theta, x)
    return theta + gain * err[..., None]


def ridge_inverse(A: np.ndarray) -> np.ndarray:
    """Exact symmetric inverse of Gram matrices, ``(A⁻¹ + A⁻ᵀ)/2``, to reset Sherman–Morrison round-off.

    Used by LinUCB's periodic re-inversion (``refresh_every``) and by hybrid LinUCB's shared block, which
    changes by more than rank one per round (Li et al. 2010, Alg. 2).

    Args:
        A: ``(..., d, d)`` symmetric positive definite matrices.

    Returns:
        ``(..., d, d)`` their inverses, symmetrised.
    """
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise _shape_error("ridge_inverse needs square matrices (..., d, d)", A=A.shape)
    inv = np.linalg.inv(A)
    return 0.5 * (inv + np.swapaxes(inv, -1, -2))


# --------------------------------------------------------------------------- confidence widths
def ucb_width(Ainv: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Confidence width ``‖x‖_{A⁻¹} = sqrt(max(xᵀA⁻¹x, 0))`` of every arm's features.

    The exploration bonus of LinUCB (Li et al. 2010, Alg. 1, line 9, times α) and of OFUL (times β_t).
    The quadratic form is clipped at 0 before the square root: Sherman–Morrison round-off can make it a
    hair negative once an arm has been pulled very often.

    Args:
        Ainv: ``(..., K, d, d)`` one inverse per arm (disjoint models), or ``(..., d, d)`` one inverse
            shared by all arms (a shared parameter).
        X: ``(..., K, d)`` the arms' features.

    Returns:
        ``(..., K)`` the widths.
    """
    d = X.shape[-1]
    if X.ndim < 2 or Ainv.shape[-2:] != (d, d):
        raise _shape_error(
            "ucb_width needs X (..., K, d) and Ainv (..., [K,] d, d)", Ainv=Ainv.shape, X=X.shape
        )
    if Ainv.shape[:-2] == X.shape[:-1]:  # per arm
        U = np.matvec(Ainv, X)
    elif Ainv.shape[:-2] == X.shape[:-2]:  # shared: X A⁻¹ is (X A⁻¹)ᵀ row-wise as A⁻¹ is symmetric
        U = np.matmul(X, Ainv)
    else:
        raise _shape_error(
            "ucb_width: Ainv's batch axes fit neither X's (..., K) nor (...)", Ainv=Ainv.shape, X=X.shape
        )
    q = np.vecdot(X, U)
    np.maximum(q, 0.0, out=q)
    return np.sqrt(q, out=q)


def linucb_theory_alpha(delta: float) -> float:
    """LinUCB's exploration constant ``α = 1 + sqrt(ln(2/δ)/2)`` (Li et al. 2010, §3.1, eq. 4).

    With probability at least ``1 − δ``, ``|xᵀθ̂_a − E[r | x]| ≤ α ‖x‖_{A_a⁻¹}``; ``δ = 0.05`` gives 2.358.

    Args:
        delta: failure probability, in (0, 1).

    Returns:
        ``α``.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    return 1.0 + math.sqrt(math.log(2.0 / delta) / 2.0)


def oful_radius_det(
    log_det_ratio: np.ndarray | float, R: np.ndarray | float, S: np.ndarray | float, lam: float, delta: float
) -> np.ndarray:
    """OFUL's self-normalised confidence radius in determinant form (Abbasi-Yadkori et al. 2011, Thm. 2).

    With probability at least ``1 − δ``, for all t, ``‖θ̂_t − θ*‖_{V_t} ≤ β_t`` where

        ``β_t = R · sqrt(2 ln(det(V_t)^{1/2} det(λI)^{-1/2} / δ)) + √λ · S
              = R · sqrt(ln det V_t − ln det(λI) + 2 ln(1/δ)) + √λ · S``.

    ``log_det_ratio = ln det V_t − ln det(λI)`` is kept incrementally: it starts at 0 and every update with
    feature ``x`` adds ``ln(1 + xᵀV⁻¹x) = ln s`` (the ``s`` of :func:`sherman_morrison`, by the matrix
    determinant lemma) — never a ``det()`` per step.

    Args:
        log_det_ratio: ``(...)`` ``ln det V_t − d ln λ`` (``≥ 0``).
        R: noise sub-Gaussian constant (broadcasts against ``log_det_ratio``).
        S: bound on ``‖θ*‖₂`` (broadcasts).
        lam: ridge ``λ > 0``.
        delta: failure probability in (0, 1).

    Returns:
        ``(...)`` the radii ``β_t``.
    """
    if not 0.0 < delta < 1.0 or lam <= 0.0:
        raise ValueError(f"oful_radius_det needs lam > 0 and delta in (0, 1), got lam={lam}, delta={delta}")
    ratio = np.maximum(np.asarray(log_det_ratio, dtype=np.float64), 0.0)
    return R * np.sqrt(ratio + 2.0 * math.log(1.0 / delta)) + math.sqrt(lam) * S


def oful_radius_closed(
    t: np.ndarray | float,
    dim: int,
    R: np.ndarray | float,
    S: np.ndarray | float,
    L: np.ndarray | float,
    lam: float,
    delta: float,
) -> np.ndarray:
    """OFUL's radius in closed form (Abbasi-Yadkori et al. 2011, Thm. 2 with ``det V_t ≤ (λ + tL²/d)^d``).

        ``β_t = R · sqrt(d · ln((1 + t L²/λ) / δ)) + √λ · S``

    It never undercuts :func:`oful_radius_det` (it is the det form with the log-determinant replaced by
    its worst case), so it explores more.

    Args:
        t: ``(...)`` number of updates so far (``≥ 0``).
        dim: dimension ``d`` of the parameter.
        R: noise sub-Gaussian constant.
        S: bound on ``‖θ*‖₂``.
        L: bound on ``‖x‖₂``.
        lam: ridge ``λ > 0``.
        delta: failure probability in (0, 1).

    Returns:
        ``(...)`` the radii ``β_t``.
    """
    if not 0.0 < delta < 1.0 or lam <= 0.0 or dim < 1:
        raise ValueError(
            f"oful_radius_closed needs dim >= 1, lam > 0 and delta in (0, 1), got {dim}, {lam}, {delta}"
        )
    t = np.asarray(t, dtype=np.float64)
    return R * np.sqrt(dim * np.log((1.0 + t * np.square(L) / lam) / delta)) + math.sqrt(lam) * S


# --------------------------------------------------------------------------- hybrid LinUCB
def hybrid_estimates(
    A0inv: np.ndarray, b0: np.ndarray, Ainv: np.ndarray, B: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Hybrid LinUCB's estimates ``β̂ = A0⁻¹b0`` and ``θ̂_a = A_a⁻¹(b_a − B_a β̂)`` (Li et al. 2010, Alg. 2).

    Args:
        A0inv: ``(..., k, k)`` inverse of the shared block (the Schur complement, see the agent).
        b0: ``(..., k)`` the shared right-hand side.
        Ainv: ``(..., K, d, d)`` the arms' inverses ``A_a⁻¹``.
        B: ``(..., K, d, k)`` the arms' cross terms ``B_a = Σ x zᵀ``.
        b: ``(..., K, d)`` the arms' ``b_a = Σ r x``.

    Returns:
        ``(beta, theta)``: ``(..., k)`` and ``(..., K, d)``.
    """
    k, (K, d) = b0.shape[-1], b.shape[-2:]
    batch = b0.shape[:-1]
    if (
        A0inv.shape != (*batch, k, k)
        or Ainv.shape != (*batch, K, d, d)
        or B.shape != (*batch, K, d, k)
        or b.shape != (*batch, K, d)
    ):
        raise _shape_error(
            "hybrid_estimates needs A0inv (..., k, k), b0 (..., k), Ainv (..., K, d, d), "
            "B (..., K, d, k), b (..., K, d)",
            A0inv=A0inv.shape,
            b0=b0.shape,
            Ainv=Ainv.shape,
            B=B.shape,
            b=b.shape,
        )
    beta = np.matvec(A0inv, b0)
    theta = np.matvec(Ainv, b - np.matvec(B, beta[..., None, :]))
    return beta, theta


def hybrid_width_sq(
    A0inv: np.ndarray, Ainv: np.ndarray, B: np.ndarray, Z: np.ndarray, X: np.ndarray
) -> np.ndarray:
    """Hybrid LinUCB's squared width ``s_a`` (Li et al. 2010, Alg. 2, line 12).

    The paper's four terms

        ``s_a = zᵀA0⁻¹z − 2 zᵀA0⁻¹B_aᵀA_a⁻¹x + xᵀA_a⁻¹x + xᵀA_a⁻¹B_a A0⁻¹ B_aᵀA_a⁻¹x``

    are computed as ``(z − w)ᵀ A0⁻¹ (z − w) + xᵀA_a⁻¹x`` with ``w = B_aᵀA_a⁻¹x`` (the same value, since
    ``A_a⁻¹`` and ``A0⁻¹`` are symmetric). It equals ``φᵀ M⁻¹ φ`` of the joint ridge regression on
    ``φ = [z; e_a ⊗ x]``; clipped at 0 against round-off.

    Args:
        A0inv: ``(..., k, k)``.
        Ainv: ``(..., K, d, d)``.
        B: ``(..., K, d, k)``.
        Z: ``(..., K, k)`` each arm's shared features ``z``.
        X: ``(..., K, d)`` each arm's own features ``x``.

    Returns:
        ``(..., K)`` the values ``s_a ≥ 0``.
    """
    k, (K, d) = Z.shape[-1], X.shape[-2:]
    batch = X.shape[:-2]
    if (
        A0inv.shape != (*batch, k, k)
        or Ainv.shape != (*batch, K, d, d)
        or B.shape != (*batch, K, d, k)
        or Z.shape != (*batch, K, k)
    ):
        raise _shape_error(
            "hybrid_width_sq needs A0inv (..., k, k), Ainv (..., K, d, d), B (..., K, d, k), "
            "Z (..., K, k), X (..., K, d)",
            A0inv=A0inv.shape,
            Ainv=Ainv.shape,
            B=B.shape,
            Z=Z.shape,
            X=X.shape,
        )
    U = np.matvec(Ainv, X)  # A_a⁻¹ x
    W = np.vecmat(U, B)  # B_aᵀ A_a⁻¹ x
    D = Z - W
    s = np.vecdot(D, np.matmul(D, A0inv)) + np.vecdot(X, U)
    return np.maximum(s, 0.0, out=s)


# --------------------------------------------------------------------------- multi-armed
def ucb1_index(means: np.ndarray, counts: np.ndarray, t: np.ndarray | float, c: float = 1.0) -> np.ndarray:
    """UCB1 index ``μ̂_a + c · sqrt(2 ln t / n_a)`` (Auer, Cesa-Bianchi & Fischer 2002, Fig. 1).

    ``c = 1`` is the paper's index for rewards in [0, 1]; arms never played (``n_a = 0``) get ``+inf`` so
    that every arm is played once first.

    Args:
        means: ``(..., K)`` sample means.
        counts: ``(..., K)`` pulls per arm.
        t: ``(...)`` total pulls so far (``≥ 1`` once any arm has been played).
        c: scale of the bonus (``c ≥ 0``).

    Returns:
        ``(..., K)`` the indices.
    """
    t = np.asarray(t, dtype=np.float64)
    if means.shape != counts.shape or t.shape != means.shape[:-1]:
        raise _shape_error(
            "ucb1_index needs means, counts (..., K) and t (...)",
            means=means.shape,
            counts=counts.shape,
            t=t.shape,
        )
    log_t = np.log(np.maximum(t, 1.0))[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):  # unplayed arms: replaced by inf below
        bonus = c * np.sqrt(2.0 * log_t / counts)
    return np.where(counts > 0, means + bonus, np.inf)


# --------------------------------------------------------------------------- Thompson sampling
def lin_ts_theory_scale(R: float, dim: int, epsilon: float, delta: float) -> float:
    """Linear Thompson sampling's posterior scale ``v = R · sqrt((24/ε) · d · ln(1/δ))``.

    Agrawal & Goyal 2013 (ICML), Alg. 1 with regret Õ(d²/√ε · √(T^{1+ε})) with probability ``1 − δ``;
    ``ε ∈ (0, 1)`` trades regret for computation, ``ε = 1/ln T`` gives Õ(d²√T).

    Args:
        R: noise sub-Gaussian constant.
        dim: dimension ``d`` of the parameter.
        epsilon: the paper's ε, in (0, 1).
        delta: failure probability, in (0, 1).

    Returns:
        ``v``.
    """
    if not (0.0 < epsilon < 1.0 and 0.0 < delta < 1.0 and dim >= 1):
        raise ValueError(f"need epsilon, delta in (0, 1) and dim >= 1, got {epsilon}, {delta}, {dim}")
    return float(R) * math.sqrt(24.0 / epsilon * dim * math.log(1.0 / delta))


# --------------------------------------------------------------------------- stage-wise constraints
def stagewise_reward_inflation(alpha_r: float | str, tau: float, safe_cost: float) -> float:
    """The reward-radius multiplier ``α_r`` of the optimistic–pessimistic algorithms.

    ``"theory"``: ``1 + 2/(τ − c₀)`` (Pacchiano et al. 2021: mixing π* with the safe action makes it
    pessimistically feasible, and the extra optimism pays back the reward lost); ``"authors"``: ``1 + 1/τ``,
    the value in the authors' simulation code (written for ``c₀ = 0``); a number is used as given.

    Args:
        alpha_r: ``"theory"``, ``"authors"`` or a number ``≥ 0``.
        tau: the threshold τ.
        safe_cost: the safe action's known cost ``c₀ < τ``.

    Returns:
        ``α_r``.
    """
    if alpha_r == "theory":
        if not tau > safe_cost:
            raise ValueError(f"the theory value needs tau > c0, got tau={tau}, c0={safe_cost}")
        return 1.0 + 2.0 / (tau - safe_cost)
    if alpha_r == "authors":
        if not tau > 0:
            raise ValueError(f"the authors' value 1 + 1/tau needs tau > 0, got {tau}")
        return 1.0 + 1.0 / tau
    if isinstance(alpha_r, str):
        raise ValueError(f"alpha_r must be 'theory', 'authors' or a number, got {alpha_r!r}")
    return float(alpha_r)


def anytime_mean_radius(
    counts: np.ndarray, t: np.ndarray | float, R: np.ndarray | float, delta: float
) -> np.ndarray:
    """Confidence radius ``R · sqrt(2 ln(2 K t² / δ) / n_a)`` of K sample means, valid at every round.

    Sub-Gaussian (R) concentration of each mean plus a union bound over both tails, the K arms and the
    rounds (``Σ_t 1/t² < 2``): with probability at least ``1 − 2δ`` every arm's mean is inside its interval
    at every round (Lattimore & Szepesvári 2020, §5 and §7). Arms never played get ``+inf``.

    Args:
        counts: ``(..., K)`` samples per arm.
        t: ``(...)`` the round (``≥ 1``).
        R: sub-Gaussian constant of the noise (``(...)`` or scalar; 0.5 for values in [0, 1]).
        delta: failure probability in (0, 1).

    Returns:
        ``(..., K)`` the radii.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    counts = np.asarray(counts, dtype=np.float64)
    K = counts.shape[-1]
    t = np.maximum(np.asarray(t, dtype=np.float64), 1.0)[..., None]
    R = np.asarray(R, dtype=np.float64)
    R = R[..., None] if R.ndim else R
    with np.errstate(divide="ignore"):
        return np.where(
            counts > 0, R * np.sqrt(2.0 * np.log(2.0 * K * t * t / delta) / np.maximum(counts, 1.0)), np.inf
        )


# --------------------------------------------------------------------------- adversarial / loss-based
def tsallis_inf_probabilities(losses: np.ndarray, eta: np.ndarray | float, tol: float = 1e-12) -> np.ndarray:
    """½-Tsallis-INF's sampling distribution ``p_i = 4 (η (L̂_i − x))⁻²`` with ``Σ p_i = 1``.

    Zimmert & Seldin, "Tsallis-INF: An Optimal Algorithm for Stochastic and Adversarial Bandits", JMLR
    2021, Alg. 1 with α = ½. The normaliser ``x < min L̂`` solves ``f(x) = Σ_i 4(η(L̂_i − x))⁻² − 1 = 0``
    by Newton's method from ``x₀ = min L̂ − 2/η``, where the smallest term is exactly 1 so ``f(x₀) ≥ 0``;
    ``f`` is increasing and convex on ``x < min L̂``, so the iterates increase monotonically to the root
    (this start is rl_suite's own; Khodak et al.'s ``learners/TsallisINF.m`` runs 20 Newton steps
    from ``x = −1``).

    Args:
        losses: ``(..., K)`` cumulative importance-weighted loss estimates ``L̂``.
        eta: ``(...)`` or scalar learning rate ``η > 0``.
        tol: stop when every ``|Σ p − 1| ≤ tol``.

    Returns:
        ``(..., K)`` probabilities summing to 1.
    """
    L = np.asarray(losses, dtype=np.float64)
    eta_arr = np.asarray(eta, dtype=np.float64)[..., None] if np.ndim(eta) else float(eta)
    x = L.min(axis=-1, keepdims=True) - 2.0 / eta_arr
    for _ in range(100):
        gap = L - x  # > 0
        p = 4.0 / (eta_arr * gap) ** 2
        f = p.sum(axis=-1, keepdims=True) - 1.0
        if np.all(np.abs(f) <= tol):
            break
        fprime = (2.0 * p / gap).sum(axis=-1, keepdims=True)  # d/dx of 4 (η (L − x))⁻²
        x = x - f / fprime
    gap = L - x
    p = 4.0 / (eta_arr * gap) ** 2
    return p / p.sum(axis=-1, keepdims=True)


def exp3_probabilities(losses: np.ndarray, eta: np.ndarray | float, gamma: float = 0.0) -> np.ndarray:
    """EXP3's distribution ``(1 − γ)·softmax(−η L̂) + γ/K`` (Auer, Cesa-Bianchi, Freund & Schapire 2002).

    Args:
        losses: ``(..., K)`` cumulative importance-weighted loss estimates.
        eta: ``(...)`` or scalar learning rate.
        gamma: uniform exploration mixed in, in [0, 1].

    Returns:
        ``(..., K)`` probabilities.
    """
    L = np.asarray(losses, dtype=np.float64)
    eta_arr = np.asarray(eta, dtype=np.float64)[..., None] if np.ndim(eta) else float(eta)
    z = -eta_arr * (L - L.min(axis=-1, keepdims=True))
    w = np.exp(z)
    p = w / w.sum(axis=-1, keepdims=True)
    return (1.0 - gamma) * p + gamma / L.shape[-1]


def chebyshev_features(context: np.ndarray, low: float, high: float, degree: int) -> np.ndarray:
    """Chebyshev polynomials ``T_0 … T_{degree−1}`` of the context mapped from ``[low, high]`` to ``[−1, 1]``.

    The features of ChebCB (Khodak et al. 2024, ``learners/ChebCB.m``); contexts outside the range are
    clipped.

    Args:
        context: ``(...)`` scalar contexts.
        low: lower end of the context range.
        high: upper end (``> low``).
        degree: number of polynomials ``m ≥ 1``.

    Returns:
        ``(..., degree)`` features (``T_0 = 1``, ``T_1 = u``, ``T_{k+1} = 2u T_k − T_{k−1}``).
    """
    u = np.clip(2.0 * (np.asarray(context, dtype=np.float64) - low) / (high - low) - 1.0, -1.0, 1.0)
    out = np.empty((*u.shape, degree))
    out[..., 0] = 1.0
    if degree > 1:
        out[..., 1] = u
    for k in range(2, degree):
        out[..., k] = 2.0 * u * out[..., k - 1] - out[..., k - 2]
    return out


def inverse_gap_weighting(predicted_loss: np.ndarray, gamma: np.ndarray | float) -> np.ndarray:
    """SquareCB's inverse-gap weighting over predicted losses (Foster & Rakhlin, ICML 2020).

    ``p_i = 1 / (K + γ (ŷ_i − ŷ_{i*}))`` for ``i ≠ i* = argmin ŷ`` and the rest of the mass on ``i*``.

    Args:
        predicted_loss: ``(..., K)`` predicted losses ŷ.
        gamma: ``(...)`` or scalar exploitation strength ``γ ≥ 0``.

    Returns:
        ``(..., K)`` probabilities.
    """
    y = np.asarray(predicted_loss, dtype=np.float64)
    K = y.shape[-1]
    g = np.asarray(gamma, dtype=np.float64)[..., None] if np.ndim(gamma) else float(gamma)
    best = y.argmin(axis=-1)
    p = 1.0 / (K + g * (y - y.min(axis=-1, keepdims=True)))
    np.put_along_axis(p, best[..., None], 0.0, axis=-1)
    np.put_along_axis(p, best[..., None], 1.0 - p.sum(axis=-1, keepdims=True), axis=-1)
    return p


def iteration_scale(loss_sum: np.ndarray, rounds: np.ndarray) -> np.ndarray:
    """The running scale of iteration-count losses, ``mean loss − 1`` (at least 1e-9; 1 before any loss).

    Khodak et al. (ICLR 2024, ``learners/TsallisINF.m``) divide ``loss − 1`` by it so that iteration counts
    of any magnitude become O(1) losses.

    Args:
        loss_sum: ``(...)`` sums of the losses seen.
        rounds: ``(...)`` how many losses were seen.

    Returns:
        ``(...)`` the scales.
    """
    loss_sum = np.asarray(loss_sum, dtype=np.float64)
    mean = np.divide(loss_sum, rounds, out=np.full(loss_sum.shape, 2.0), where=np.asarray(rounds) > 0)
    return np.maximum(mean - 1.0, 1e-9)


def ucbvi_hoeffding_bonus(
    counts: np.ndarray, steps_left: int | float, log_term: float, scale: float = 1.0, span: float = 1.0
) -> np.ndarray:
    """Hoeffding bonus ``c·span·(H−h)·sqrt(L/N)`` of UCBVI-CH (Azar et al. 2017), ``N`` clipped at 1.

    Args:
        counts: Visit counts ``N(x, a)`` (any shape).
        steps_left: ``H − h``, the largest value still to collect (rewards in ``[0, span]``).
        log_term: ``L = ln(2·S·A·H·K/δ)``.
        scale: ``c`` (1 is the paper's).
        span: Reward span ``max R − min R`` (1 for rewards in ``[0, 1]``).

    Returns:
        Bonuses of the shape of ``counts``.
    """
    return scale * span * steps_left * np.sqrt(log_term / np.maximum(counts, 1.0))
