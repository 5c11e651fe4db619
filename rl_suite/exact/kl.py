"""The exact KL-regularised optimum over enumerated responses: pure functions of probability tables.

For each prompt ``x`` the objective is ``J_β(π; x) = E_{y~π}[r(x, y)] − β·KL(π(·|x) ‖ π_ref(·|x))``. Its
maximiser and value are closed-form (Rafailov et al. 2023, eq. 4; Brantley et al. 2025, §2):

* ``π*(y|x) = π_ref(y|x)·exp(r(x, y)/β) / Z(x)``;
* ``V*_β(x) = J_β(π*; x) = β·log Σ_y π_ref(y|x)·exp(r(x, y)/β) = β·log Z(x)``;
* ``V*_β(x) − J_β(π; x) = β·KL(π(·|x) ‖ π*(·|x)) ≥ 0`` (Gibbs' variational principle), which is how
  :func:`suboptimality` computes it: exactly non-negative, 0 only at ``π = π*``.

Every function takes ``(n, M)`` tables: ``n`` prompts × the ``M = V**L`` responses of
:meth:`~rl_suite.rlhf.task.RLHFTask.all_responses`, rows summing to 1 for probabilities.

References:
    Rafailov et al., "Direct Preference Optimization", NeurIPS 2023; Gao et al., "REBEL", NeurIPS 2024;
    Brantley et al., "Accelerating RL for LLM Reasoning with Optimal Advantage Regression", 2025.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rl_suite.errors import UserError


def _logsumexp(a: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    """``scipy.special.logsumexp``, with scipy imported on the first call, not with this module.

    Importing scipy.special takes ~0.2 s, and most processes that import this module (every sweep
    worker, through the evaluators) never call it.
    """
    from scipy.special import logsumexp

    return np.asarray(logsumexp(a, axis=axis, keepdims=keepdims))


def check_beta(beta: Any) -> float:
    """``beta`` as a float ``> 0``, or a one-line :class:`UserError`."""
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise UserError(f"beta must be a number > 0 (the KL coefficient), got {beta!r}")
    if not (np.isfinite(beta) and beta > 0):
        raise UserError(f"beta must be a finite number > 0 (the KL coefficient), got {beta}")
    return float(beta)


def _table(name: str, value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise UserError(f"{name} must be an (n_prompts, n_responses) table, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise UserError(f"{name} has shape {arr.shape}, expected {shape} like the reference probabilities")
    return arr


def _probabilities(name: str, value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    p = _table(name, value, shape)
    if not np.isfinite(p).all() or (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-5):
        raise UserError(f"{name} must hold probability rows (non-negative, each summing to 1)")
    return p / p.sum(axis=1, keepdims=True)


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)


def optimal_policy(ref_probs: Any, rewards: Any, beta: float) -> np.ndarray:
    """``π* ∝ π_ref·exp(r/β)`` per prompt.

    Args:
        ref_probs: ``(n, M)`` reference probabilities.
        rewards: ``(n, M)`` gold rewards.
        beta: KL coefficient ``β > 0``.

    Returns:
        ``(n, M)`` float64 probabilities (0 wherever ``π_ref`` is 0).
    """
    beta = check_beta(beta)
    ref = _probabilities("ref_probs", ref_probs)
    r = _table("rewards", rewards, ref.shape)
    logits = _log(ref) + r / beta
    return np.exp(logits - _logsumexp(logits, axis=1, keepdims=True))


def optimal_value(ref_probs: Any, rewards: Any, beta: float) -> np.ndarray:
    """``V*_β(x) = β·log Σ_y π_ref(y|x)·exp(r(x, y)/β)``, the optimal objective per prompt, ``(n,)``."""
    beta = check_beta(beta)
    ref = _probabilities("ref_probs", ref_probs)
    r = _table("rewards", rewards, ref.shape)
    return beta * _logsumexp(_log(ref) + r / beta, axis=1)


def kl_divergence(probs: Any, ref_probs: Any) -> np.ndarray:
    """``KL(π ‖ π_ref)`` per prompt, ``(n,)`` (``+inf`` where π puts mass outside π_ref's support)."""
    q = _probabilities("ref_probs", ref_probs)
    p = _probabilities("probs", probs, q.shape)
    support = p > 0
    with np.errstate(divide="ignore"):
        terms = np.where(support, p * (_log(np.where(support, p, 1.0)) - _log(q)), 0.0)
    return terms.sum(axis=1)


def objective(probs: Any, ref_probs: Any, rewards: Any, beta: float) -> np.ndarray:
    """``J_β(π; x) = E_π[r] − β·KL(π ‖ π_ref)`` per prompt, ``(n,)``."""
    beta = check_beta(beta)
    p = _probabilities("probs", probs)
    r = _table("rewards", rewards, p.shape)
    return (p * r).sum(axis=1) - beta * kl_divergence(p, ref_probs)


def suboptimality(probs: Any, ref_probs: Any, rewards: Any, beta: float) -> np.ndarray:
    """``V*_β(x) − J_β(π; x)`` per prompt, computed as ``β·KL(π ‖ π*)`` (exactly ``>= 0``), ``(n,)``."""
    beta = check_beta(beta)
    p = _probabilities("probs", probs)
    return beta * kl_divergence(p, optimal_policy(ref_probs, rewards, beta))
