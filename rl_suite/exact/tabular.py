"""Exact finite-horizon dynamic programming on tabular models: the one backward induction of the suite.

Every env with a finite (latent) state space reports exact regret through these kernels, and the POMDP and
SQIRL code reuse them; the UCBVI-style agents plan on their empirical model with
:func:`optimistic_backward_induction`, the same backup with a bonus and a cap. Conventions (Puterman,
"Markov Decision Processes", Wiley 1994, ch. 4):

* steps ``h = 0 .. H-1``; ``P[h, s, a, s']`` is the law of ``s_{h+1}`` given ``(s_h, a_h) = (s, a)`` and
  ``R[h, s, a]`` the *expected* reward of that step;
* a stationary model is given as ``P`` of shape ``(S, A, S)`` and ``R`` of shape ``(S, A)`` together with
  an explicit ``horizon``; it is broadcast over the H steps without being copied;
* returns are undiscounted (``gamma = 1``) unless ``gamma`` is given: ``V_h = max_a R_h + γ·P_h·V_{h+1}``
  with ``V_H ≡ 0``;
* a deterministic non-stationary policy is an ``int`` array ``(H, S)``; a stochastic one is an array
  ``(H, S, A)`` of action probabilities.

Every kernel loops over the H steps only; the work of one step is one ``(S·A, S) @ (S,)`` product, so the
cost is ``O(H·S²·A)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: Tolerance of the probability checks: rows of ``P``, the start law and stochastic policies.
PROB_ATOL = 1e-9


def _distinct_layers(x: np.ndarray) -> np.ndarray:
    """The distinct step layers of ``x``: one layer when ``x`` is a zero-stride broadcast over H."""
    return x[:1] if x.shape[0] > 1 and x.strides[0] == 0 else x


def _check_rows(name: str, x: np.ndarray, shape: tuple[int, ...] | None = None) -> None:
    """Check that the last axis of ``x`` holds probability vectors (non-negative, summing to 1).

    ``shape`` is the shape to name in the message (``x`` may be one distinct layer of a broadcast).
    """
    shape = x.shape if shape is None else shape
    if not np.isfinite(x).all() or (x < 0).any():
        raise ValueError(f"{name} of shape {shape} has negative or non-finite entries")
    err = np.abs(x.sum(axis=-1) - 1.0)
    if x.size and err.max() > PROB_ATOL:
        raise ValueError(
            f"{name} of shape {shape} has rows that do not sum to 1 (worst off by {err.max():.3g}, "
            f"tolerance {PROB_ATOL:g})"
        )


def as_finite_horizon(
    P: Any, R: Any, horizon: int | None = None, check: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a model and return it per step, as ``(H, S, A, S)`` and ``(H, S, A)`` arrays.

    Stationary inputs are broadcast with :func:`numpy.broadcast_to` (a read-only view, no copy).

    Args:
        P: Transitions ``(H, S, A, S)``, or ``(S, A, S)`` with ``horizon`` given.
        R: Expected rewards ``(H, S, A)``, or ``(S, A)`` (broadcast over H).
        horizon: H; required when ``P`` is stationary, checked against ``P`` otherwise.
        check: Whether to check that the rows of ``P`` are probability vectors (once per distinct layer).

    Returns:
        ``(P, R)`` as float64 arrays of shapes ``(H, S, A, S)`` and ``(H, S, A)``.

    Raises:
        ValueError: Shapes that do not fit together, a missing or wrong ``horizon``, rows of ``P`` that are
            not probability vectors, or non-finite rewards.
    """
    P = np.asarray(P, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    given = P.shape
    if P.ndim == 3:
        if horizon is None:
            raise ValueError(f"a stationary P of shape {given} needs an explicit horizon")
        P = np.broadcast_to(P, (int(horizon), *P.shape))
    if P.ndim != 4 or P.shape[1] != P.shape[3] or P.shape[0] < 1:
        raise ValueError(f"P must have shape (H, S, A, S) or (S, A, S), got {given}")
    H, S, A, _ = P.shape
    if horizon is not None and int(horizon) != H:
        raise ValueError(f"horizon={horizon} does not match P of shape {P.shape}")
    if R.shape == (S, A):
        R = np.broadcast_to(R, (H, S, A))
    if R.shape != (H, S, A):
        raise ValueError(
            f"R must have shape {(H, S, A)} or {(S, A)} to match P of shape {P.shape}, got {R.shape}"
        )
    if not np.isfinite(_distinct_layers(R)).all():
        raise ValueError(f"R of shape {R.shape} has non-finite entries")
    if check:
        _check_rows("P", _distinct_layers(P), given)
    return P, R


def check_distribution(rho: Any, n_states: int) -> np.ndarray:
    """Validate a start distribution over ``n_states`` states.

    Args:
        rho: Probabilities, shape ``(S,)``.
        n_states: S.

    Returns:
        ``rho`` as a float64 array.

    Raises:
        ValueError: Wrong shape, or not a probability vector.
    """
    rho = np.asarray(rho, dtype=np.float64)
    if rho.shape != (n_states,):
        raise ValueError(f"rho must have shape ({n_states},), got {rho.shape}")
    _check_rows("rho", rho)
    return rho


def _backup(P_h: np.ndarray, R_h: np.ndarray, V_next: np.ndarray, gamma: float) -> np.ndarray:
    """One Bellman backup ``R_h + γ·P_h·V_{h+1}`` of shape ``(S, A)``."""
    return R_h + gamma * (P_h @ V_next)


def backward_induction(
    P: Any, R: Any, horizon: int | None = None, gamma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal action values of a finite-horizon MDP by backward induction.

    ``V_H ≡ 0``; for ``h = H-1 .. 0``: ``Q_h = R_h + γ·P_h V_{h+1}`` and ``V_h = max_a Q_h``
    (Puterman 1994, §4.5). Undiscounted by default, as in the episodic regret literature (e.g. Jin et al.,
    "Provably Efficient RL with Linear Function Approximation", COLT 2020).

    Args:
        P: Transitions ``(H, S, A, S)``, or stationary ``(S, A, S)`` with ``horizon``.
        R: Expected rewards ``(H, S, A)`` or ``(S, A)``.
        horizon: H, required for a stationary ``P``.
        gamma: Discount factor in ``(0, 1]`` (1: undiscounted).

    Returns:
        ``(Q, V)``: ``Q*`` of shape ``(H, S, A)`` and ``V*`` of shape ``(H+1, S)`` with ``V[H] = 0``.

    Raises:
        ValueError: See :func:`as_finite_horizon`; or ``gamma`` outside ``(0, 1]``.
    """
    gamma = _check_gamma(gamma)
    P, R = as_finite_horizon(P, R, horizon)
    H, S, A, _ = P.shape
    Q = np.empty((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q[h] = _backup(P[h], R[h], V[h + 1], gamma)
        V[h] = Q[h].max(axis=1)
    return Q, V


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    return gamma


def policy_probabilities(policy: Any, horizon: int, n_states: int, n_actions: int) -> np.ndarray:
    """Turn a deterministic or stochastic non-stationary policy into ``(H, S, A)`` probabilities.

    Args:
        policy: ``int`` actions ``(H, S)`` in ``[0, A)``, or probabilities ``(H, S, A)`` (rows summing to 1).
        horizon: H.
        n_states: S.
        n_actions: A.

    Returns:
        ``(H, S, A)`` float64 action probabilities.

    Raises:
        ValueError: Wrong shape, actions outside ``[0, A)``, or rows that are not probability vectors.
    """
    pi = np.asarray(policy)
    H, S, A = horizon, n_states, n_actions
    if pi.shape == (H, S):
        if not np.issubdtype(pi.dtype, np.integer):
            raise ValueError(f"a deterministic policy of shape {pi.shape} must hold integers, got {pi.dtype}")
        if ((pi < 0) | (pi >= A)).any():
            raise ValueError(f"a deterministic policy of shape {pi.shape} must hold actions in [0, {A})")
        return (pi[..., None] == np.arange(A)).astype(np.float64)
    if pi.shape == (H, S, A):
        pi = pi.astype(np.float64)
        _check_rows("policy", pi)
        return pi
    raise ValueError(
        f"policy must have shape {(H, S)} (actions) or {(H, S, A)} (probabilities), got {pi.shape}"
    )


def policy_evaluation(
    P: Any, R: Any, policy: Any, horizon: int | None = None, gamma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Exact action and state values of a non-stationary policy.

    ``V^π_H ≡ 0``; ``Q^π_h = R_h + γ·P_h V^π_{h+1}`` and ``V^π_h(s) = Σ_a π_h(a|s) Q^π_h(s, a)``.

    Args:
        P: Transitions ``(H, S, A, S)``, or stationary ``(S, A, S)`` with ``horizon``.
        R: Expected rewards ``(H, S, A)`` or ``(S, A)``.
        policy: ``int`` actions ``(H, S)`` or probabilities ``(H, S, A)``.
        horizon: H, required for a stationary ``P``.
        gamma: Discount factor in ``(0, 1]``.

    Returns:
        ``(Q^π, V^π)`` of shapes ``(H, S, A)`` and ``(H+1, S)``.

    Raises:
        ValueError: Shapes that do not fit, or invalid probabilities.
    """
    gamma = _check_gamma(gamma)
    P, R = as_finite_horizon(P, R, horizon)
    H, S, A, _ = P.shape
    pi = policy_probabilities(policy, H, S, A)
    Q = np.empty((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q[h] = _backup(P[h], R[h], V[h + 1], gamma)
        V[h] = np.einsum("sa,sa->s", pi[h], Q[h])
    return Q, V


def policy_value(P: Any, R: Any, policy: Any, horizon: int | None = None, gamma: float = 1.0) -> np.ndarray:
    """Exact state values ``V^π`` of a non-stationary policy (see :func:`policy_evaluation`).

    Args:
        P: Transitions ``(H, S, A, S)``, or stationary ``(S, A, S)`` with ``horizon``.
        R: Expected rewards ``(H, S, A)`` or ``(S, A)``.
        policy: ``int`` actions ``(H, S)`` or probabilities ``(H, S, A)``.
        horizon: H, required for a stationary ``P``.
        gamma: Discount factor in ``(0, 1]``.

    Returns:
        ``V^π`` of shape ``(H+1, S)`` with ``V^π[H] = 0``.
    """
    return policy_evaluation(P, R, policy, horizon, gamma)[1]


def optimistic_backward_induction(
    counts: Any,
    reward_sums: Any,
    transition_counts: np.ndarray | Callable[[int, np.ndarray], np.ndarray],
    bonus: Callable[[int, np.ndarray], np.ndarray],
    caps: Any,
    gamma: float = 1.0,
    zero_state: int | None = None,
) -> np.ndarray:
    """Optimistic action values of an empirical model by backward induction (UCBVI's planning step).

    ``V_H ≡ 0``; for ``h = H-1 .. 0``, with the counts ``N = N_g`` of the step's group ``g`` (``g = h``,
    or ``g = 0`` for every step when the statistics are pooled over steps)::

        Q_h = min(R̂ + γ·P̂ V_{h+1} + b_h, cap_h)  where N > 0,  cap_h  where N = 0,   V_h = max_a Q_h,

    with ``R̂ = reward_sums_g / N`` and ``P̂ V = Σ_{x'} N_g(·, ·, x') V(x') / N`` (Azar, Osband & Munos,
    "Minimax Regret Bounds for Reinforcement Learning", ICML 2017, UCBVI). ``cap_h`` is the largest value
    still to collect from step h: it clips the optimism and is the value of pairs never tried.

    Args:
        counts: Visit counts ``N_g(x, a)``, ``(G, X, A)`` with ``G = H`` (per step) or ``G = 1`` (pooled).
        reward_sums: Reward sums of the same shape.
        transition_counts: The counts ``N_g(x, a, x')`` as a dense ``(G, X, A, X)`` array, or a function
            ``(g, V) -> Σ_{x'} N_g(·, ·, x') V(x')`` of shape ``(X, A)`` (for a sparse model).
        bonus: ``(h, N_g) -> b_h`` of shape ``(X, A)``, the exploration bonus of step h.
        caps: ``(H,)`` values ``cap_h``.
        gamma: Discount of ``P̂ V``.
        zero_state: A state whose value is 0 at every step (an absorbing end state), or ``None``.

    Returns:
        ``Q`` of shape ``(H, X, A)``.

    Raises:
        ValueError: ``counts`` has neither 1 nor ``H`` groups.
    """
    caps = np.asarray(caps, dtype=np.float64)
    H = caps.shape[0]
    G, X, A = np.shape(counts)
    if G not in (1, H):
        raise ValueError(f"counts must have 1 or H={H} groups, got shape {np.shape(counts)}")
    Q = np.empty((H, X, A))
    V_next = np.zeros(X)
    for h in range(H - 1, -1, -1):
        g = 0 if G == 1 else h
        n = counts[g]
        seen = n > 0
        safe = np.maximum(n, 1.0)
        if isinstance(transition_counts, np.ndarray):
            next_sums = transition_counts[g] @ V_next
        else:
            next_sums = transition_counts(g, V_next)
        q = reward_sums[g] / safe + gamma * next_sums / safe + bonus(h, n)
        Q[h] = np.where(seen, np.minimum(q, caps[h]), caps[h])
        if zero_state is not None:
            Q[h, zero_state] = 0.0
        V_next = Q[h].max(axis=1)
        if zero_state is not None:
            V_next[zero_state] = 0.0
    return Q


def greedy_policy(
    Q: Any, tie_breaking: str | np.random.Generator = "first", atol: float = 1e-12
) -> np.ndarray:
    """The greedy deterministic policy of action values ``Q``.

    Actions within ``atol`` of the row maximum tie.

    Args:
        Q: Action values ``(H, S, A)`` (or any ``(..., A)``).
        tie_breaking: ``"first"`` (lowest tied action) or a :class:`numpy.random.Generator` that picks
            uniformly among tied actions.
        atol: Absolute tolerance of a tie.

    Returns:
        ``int64`` actions of shape ``Q.shape[:-1]``.

    Raises:
        ValueError: ``tie_breaking`` is neither ``"first"`` nor a generator.
    """
    Q = np.asarray(Q, dtype=np.float64)
    ties = Q >= Q.max(axis=-1, keepdims=True) - atol
    if isinstance(tie_breaking, np.random.Generator):
        return np.argmax(ties * tie_breaking.random(Q.shape), axis=-1).astype(np.int64)
    if tie_breaking != "first":
        raise ValueError(f"tie_breaking must be 'first' or a numpy Generator, got {tie_breaking!r}")
    return np.argmax(ties, axis=-1).astype(np.int64)


def value_of_start(V: Any, rho: Any) -> float:
    """Expected value at the first step, ``E_{s~ρ} V_0(s)``.

    Args:
        V: State values ``(H+1, S)`` (row 0 is used) or ``(S,)``.
        rho: Start distribution ``(S,)``.

    Returns:
        ``ρ · V_0`` as a float.

    Raises:
        ValueError: ``rho`` is not a probability vector over the S states.
    """
    V = np.asarray(V, dtype=np.float64)
    V0 = V[0] if V.ndim == 2 else V
    return float(check_distribution(rho, V0.shape[0]) @ V0)
