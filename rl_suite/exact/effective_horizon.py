"""The effective horizon of a finite-horizon MDP: exact k-QVI solvability, planning window and a proxy bound.

Laidlaw, Zhu, Russell & Dragan ("The Effective Horizon Explains Deep RL Performance in Stochastic
Environments", ICLR 2024; and Laidlaw, Russell & Dragan, "Bridging RL Theory and Practice with the
Effective Horizon", NeurIPS 2023) explain when random exploration plus regression suffices: when acting
greedily on a few Bellman backups of the *random* policy's Q-function is already optimal. The kernels
below compute, exactly, on a tabular model ``(P, R, ρ)`` (conventions of :mod:`rl_suite.exact.tabular`):

* ``Q¹ = Q^{π_rand}`` (:func:`q_random`, policy evaluation of the uniform policy);
* ``Q^{i+1}_t = R_t + P_t · max_a Q^i_{t+1}`` (:func:`q_backup`);
* ``min_k``: the least k such that every action greedy w.r.t. ``Q^k`` is optimal at every state that
  following such actions can reach (ties count as failure) (:func:`min_k`, after ``calculate_minimum_k``
  of the authors' ``EffectiveHorizon.jl/src/value_iteration.jl``);
* the effective planning window: the same test started from the immediate rewards;
* the *deterministic simple* effective-horizon bound ``H = min_k k + log_A max m_k`` with
  ``m_k = ⌈16 σ²/Δ_k² · log(2 T A^k)⌉`` (:func:`simple_effective_horizon`). It is a **proxy** for the
  stochastic paper's effective horizon, whose exact form is not reproduced here;
* greedy returns ``E_ρ V^{greedy(Q^k)}`` for k = 1..max_k, and the sticky-action version of all of it
  (:func:`sticky_model`: the state is augmented with the previous action).

:func:`analyze_model` runs everything on one model and returns an :class:`EffectiveHorizonReport`;
:func:`rl_suite.analyze.analyze` (the CLI layer) loads an env of the suite, a Gymnasium toy-text id or a
MiniGrid level id, analyses it and its sticky-action version, and writes the report to the run store.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rl_suite.errors import UserError
from rl_suite.exact import tabular

#: Absolute tolerance (relative to the reward scale) below which two action values tie.
TIE_ATOL = 1e-9
#: Below ``V* − REWARD_PRECISION`` an action counts as sub-optimal (scaled by the reward range).
REWARD_PRECISION = 1e-6


# ----------------------------------------------------------------------------------------------- kernels
def q_random(P: Any, R: Any, horizon: int | None = None) -> np.ndarray:
    """``Q^{π_rand}``: the action values of the uniformly random policy.

    Args:
        P: Transitions ``(H, S, A, S)`` (or stationary ``(S, A, S)`` with ``horizon``).
        R: Expected rewards ``(H, S, A)`` or ``(S, A)``.
        horizon: H for a stationary model.

    Returns:
        ``(H, S, A)`` action values (undiscounted).
    """
    P, R = tabular.as_finite_horizon(P, R, horizon)
    H, S, A, _ = P.shape
    return tabular.policy_evaluation(P, R, np.full((H, S, A), 1.0 / A))[0]


def q_backup(P: Any, R: Any, Q: np.ndarray, steps: int = 1) -> np.ndarray:
    """``steps`` Bellman-optimality backups: ``Q'_t = R_t + P_t · max_a Q_{t+1}``, ``Q'_{H-1} = R_{H-1}``.

    Args:
        P: Transitions ``(H, S, A, S)``.
        R: Expected rewards ``(H, S, A)``.
        Q: ``(H, S, A)`` action values to back up.
        steps: Number of backups (0 returns a copy of ``Q``).

    Returns:
        ``(H, S, A)`` backed-up values.
    """
    P, R = tabular.as_finite_horizon(P, R, None if np.ndim(P) == 4 else np.shape(Q)[0], check=False)
    Q = np.array(Q, dtype=np.float64)
    if Q.shape != R.shape:
        raise ValueError(f"Q must have shape {R.shape}, got {Q.shape}")
    for _ in range(steps):
        new = np.empty_like(Q)
        new[-1] = R[-1]
        for t in range(Q.shape[0] - 1):
            new[t] = R[t] + P[t] @ Q[t + 1].max(axis=1)
        Q = new
    return Q


def _scale(R: np.ndarray) -> float:
    """A positive reward scale for the tolerances (the largest absolute expected reward, at least 1e-12)."""
    return max(float(np.abs(R).max(initial=0.0)), 1e-12)


def greedy_sets(Q: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """All maximisers of ``Q`` along the last axis (ties within ``TIE_ATOL·scale`` count), as a bool mask."""
    return Q >= Q.max(axis=-1, keepdims=True) - TIE_ATOL * scale


def greedy_is_optimal(
    P: np.ndarray, Q: np.ndarray, Q_star: np.ndarray, V_star: np.ndarray, rho: np.ndarray, scale: float
) -> bool:
    """Whether every greedy action of ``Q`` is optimal at every state reachable by greedy actions from ρ.

    Args:
        P: ``(H, S, A, S)`` transitions.
        Q: ``(H, S, A)`` values to act greedily on.
        Q_star: ``(H, S, A)`` optimal values.
        V_star: ``(H+1, S)`` optimal state values.
        rho: ``(S,)`` start distribution.
        scale: Reward scale for the tolerances.

    Returns:
        ``True`` when greedy action on ``Q`` is optimal everywhere it can lead (ties must all be optimal).
    """
    reach = rho > 0
    sub = Q_star < V_star[:-1, :, None] - REWARD_PRECISION * scale
    for t in range(Q.shape[0]):
        g = greedy_sets(Q[t], scale) & reach[:, None]
        if (g & sub[t]).any():
            return False
        reach = (g[:, :, None] & (P[t] > 0)).any(axis=(0, 1))
    return True


def min_k(
    P: Any, R: Any, rho: Any, max_k: int = 5, start: str = "random", horizon: int | None = None
) -> int | None:
    """The least k ≤ ``max_k`` such that the MDP is k-QVI-solvable (``None`` if none is).

    Args:
        P: Transitions ``(H, S, A, S)`` (or ``(S, A, S)`` with ``horizon``).
        R: Expected rewards.
        rho: ``(S,)`` start distribution.
        max_k: Largest k tried (≥ 1).
        start: ``"random"`` starts from ``Q^{π_rand}`` (min_k); ``"rewards"`` from the immediate rewards
            (the effective planning window).
        horizon: H for a stationary model.

    Returns:
        The least such k, or ``None``.

    Raises:
        UserError: ``max_k`` < 1 or an unknown ``start``.
    """
    check_k(max_k)
    P, R = tabular.as_finite_horizon(P, R, horizon)
    rho = tabular.check_distribution(rho, P.shape[1])
    Q_star, V_star = tabular.backward_induction(P, R)
    return _first_solving_k(P, R, rho, Q_star, V_star, max_k, start)[0]


def _first_solving_k(
    P: np.ndarray,
    R: np.ndarray,
    rho: np.ndarray,
    Q_star: np.ndarray,
    V_star: np.ndarray,
    max_k: int,
    start: str,
) -> tuple[int | None, list[np.ndarray]]:
    if start == "random":
        Q = q_random(P, R)
    elif start == "rewards":
        Q = np.array(R, dtype=np.float64)
    else:
        raise UserError(f"start must be 'random' or 'rewards', got {start!r}")
    scale = _scale(R)
    seen = []
    for k in range(1, max_k + 1):
        seen.append(Q)
        if greedy_is_optimal(P, Q, Q_star, V_star, rho, scale):
            return k, seen
        Q = q_backup(P, R, Q)
    return None, seen


def effective_planning_window(
    P: Any, R: Any, rho: Any, max_k: int = 5, horizon: int | None = None
) -> int | None:
    """The effective planning window: :func:`min_k` started from the immediate rewards."""
    return min_k(P, R, rho, max_k, start="rewards", horizon=horizon)


def worst_q(P: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``(H, S, A)`` action values of the worst policy (backward induction with min instead of max)."""
    neg_Q, _ = tabular.backward_induction(P, -np.asarray(R))
    return -neg_Q


def simple_effective_horizon(
    P: Any, R: Any, rho: Any, max_k: int = 5, horizon: int | None = None
) -> tuple[float, int | None]:
    """The deterministic paper's *simple* effective-horizon bound — used here as a **proxy**.

    ``H_k = k + log_A max_{t,s} m_k(t, s)`` with ``m_k = ⌈16 σ²/Δ_k² · log(2 T A^k)⌉`` over the states
    reachable by optimal actions, where ``Δ_k(t, s)`` is the gap in ``Q^k`` between the best optimal and
    the best sub-optimal action (``H_k = ∞`` if it is not positive somewhere) and ``σ²`` is the
    Bhatia–Davis bound ``max_a (Q^{rand} − Q_worst)(Q* − Q^{rand})`` on the variance of a random rollout's
    return. ``H = min_k H_k`` (Laidlaw, Russell & Dragan, NeurIPS 2023, the code's
    ``compute_simple_effective_horizon``; the stochastic paper's own bound is not reproduced).

    Args:
        P: Transitions ``(H, S, A, S)`` (or ``(S, A, S)`` with ``horizon``).
        R: Expected rewards.
        rho: ``(S,)`` start distribution.
        max_k: Largest k tried.
        horizon: H for a stationary model.

    Returns:
        ``(H, k)``: the bound (``inf`` if no k ≤ ``max_k`` has positive gaps) and the minimising k.
    """
    check_k(max_k)
    P, R = tabular.as_finite_horizon(P, R, horizon)
    rho = tabular.check_distribution(rho, P.shape[1])
    T, S, A, _ = P.shape
    Q_star, V_star = tabular.backward_induction(P, R)
    Q_rand, Q_worst = q_random(P, R), worst_q(P, R)
    scale = _scale(R)
    optimal = Q_star >= V_star[:-1, :, None] - REWARD_PRECISION * scale
    # States reachable by optimal actions (the states GORP must decide correctly).
    reach = np.zeros((T, S), dtype=bool)
    reach[0] = rho > 0
    for t in range(T - 1):
        reach[t + 1] = ((optimal[t] & reach[t][:, None])[:, :, None] & (P[t] > 0)).any(axis=(0, 1))
    var = np.clip((Q_rand - Q_worst) * (Q_star - Q_rand), 0.0, None).max(axis=-1)
    decide = reach & ~optimal.all(axis=-1)  # states where some action is sub-optimal
    best: tuple[float, int | None] = (math.inf, None)
    Q = Q_rand
    for k in range(1, max_k + 1):
        top_opt = np.where(optimal, Q, -np.inf).max(axis=-1)
        top_sub = np.where(optimal, -np.inf, Q).max(axis=-1)
        gap = top_opt - top_sub
        if (gap[decide] > TIE_ATOL * scale).all():
            log_term = math.log(2 * T * A**k)
            m = np.ones((T, S))
            m[decide] = np.maximum(1.0, np.ceil(16 * var[decide] / gap[decide] ** 2 * log_term))
            h_k = k + math.log(float(m.max())) / math.log(A) if A > 1 else float(k)
            if h_k < best[0]:
                best = (h_k, k)
        Q = q_backup(P, R, Q)
    return best


def sticky_model(
    P: Any, R: Any, rho: Any, repeat_probability: float, horizon: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact model of sticky actions: the state is augmented with the previous action.

    Augmented state ``(s, b)`` has index ``s·A + b``. At t = 0 the chosen action is applied (the start
    states carry b = 0). At t ≥ 1, with probability ``1 − p`` the chosen action ``a`` is applied and
    with probability ``p`` the previous action ``b`` repeats, with its own reward and next state; the
    applied action becomes the next state's b (Machado et al., JAIR 2018; the stochastic effective-horizon
    paper's BRIDGE variant, ``analyze_sticky_actions.jl``).

    Args:
        P: Transitions ``(H, S, A, S)`` (or ``(S, A, S)`` with ``horizon``).
        R: Expected rewards.
        rho: ``(S,)`` start distribution.
        repeat_probability: p in ``[0, 1)``.
        horizon: H for a stationary model.

    Returns:
        ``(P', R', ρ')`` of shapes ``(H, S·A, A, S·A)``, ``(H, S·A, A)`` and ``(S·A,)``.
    """
    p = check_repeat_probability(repeat_probability)
    P, R = tabular.as_finite_horizon(P, R, horizon)
    rho = tabular.check_distribution(rho, P.shape[1])
    H, S, A, _ = P.shape
    P2 = np.zeros((H, S, A, A, S, A))  # [t, s, b, a, s', c]
    R2 = np.empty((H, S, A, A))
    eye = np.eye(A)
    for t in range(H):
        q = 0.0 if t == 0 else p
        # Applied action a (prob 1 − q): next (s', a).
        P2[t] += (1 - q) * np.einsum("sax,ac->saxc", P[t], eye)[:, None, :, :, :]
        # Repeated action b (prob q): next (s', b), whatever a was chosen.
        P2[t] += q * np.einsum("sbx,bc->sbxc", P[t], eye)[:, :, None, :, :]
        R2[t] = (1 - q) * R[t][:, None, :] + q * R[t][:, :, None]
    rho2 = np.zeros((S, A))
    rho2[:, 0] = rho
    return P2.reshape(H, S * A, A, S * A), R2.reshape(H, S * A, A), rho2.reshape(-1)


def greedy_returns(P: np.ndarray, R: np.ndarray, rho: np.ndarray, Qs: list[np.ndarray]) -> list[float]:
    """``E_ρ V^π`` of the policy uniform over the greedy actions of each ``Q`` in ``Qs``."""
    scale = _scale(R)
    out = []
    for Q in Qs:
        g = greedy_sets(Q, scale).astype(np.float64)
        pi = g / g.sum(axis=-1, keepdims=True)
        out.append(tabular.value_of_start(tabular.policy_value(P, R, pi), rho))
    return out


# ------------------------------------------------------------------------------------------- validation
def check_k(k: Any, name: str = "max_k") -> int:
    """Validate a positive integer k (``max_k`` or a planning depth); a one-line UserError otherwise."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise UserError(f"{name} must be an integer >= 1, got {k!r}")
    return int(k)


def check_repeat_probability(p: Any) -> float:
    """Validate a sticky-action repeat probability in ``[0, 1)``; a one-line UserError otherwise."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 <= p < 1:
        raise UserError(f"repeat_probability must be a number in [0, 1), got {p!r}")
    return float(p)


# -------------------------------------------------------------------------------------------- analysis
@dataclass
class EffectiveHorizonReport:
    """What :func:`analyze_model` finds about one model (and its sticky-action version).

    Attributes:
        env: Name of what was analysed.
        horizon: H.
        n_states: S (reachable states of the base model).
        n_actions: A.
        optimal_return: ``E_ρ V*``.
        random_return: ``E_ρ V^{π_rand}``.
        worst_return: The worst policy's expected return.
        min_k: Least k with k-QVI solvability (``None``: none up to ``max_k``).
        planning_window: The effective planning window (``None``: none up to ``max_k``).
        simple_horizon: The deterministic simple effective-horizon bound (a proxy; ``inf`` if undefined).
        simple_horizon_k: The k that attains it.
        greedy_returns: ``E_ρ V`` of greedy action on ``Q^k`` for k = 1..max_k.
        max_k: Largest k analysed.
        repeat_probability: p of the sticky version (0: none).
        sticky: The same analysis of the sticky-action model (``None`` when p = 0).
    """

    env: str
    horizon: int
    n_states: int
    n_actions: int
    optimal_return: float
    random_return: float
    worst_return: float
    min_k: int | None
    planning_window: int | None
    simple_horizon: float
    simple_horizon_k: int | None
    greedy_returns: list[float]
    max_k: int
    repeat_probability: float = 0.0
    sticky: EffectiveHorizonReport | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``inf`` becomes ``None``)."""
        data = asdict(self)
        for d in (data, data.get("sticky") or {}):
            if "simple_horizon" in d and not math.isfinite(d["simple_horizon"]):
                d["simple_horizon"] = None
        return data

    def rows(self) -> list[tuple[str, str, str]]:
        """``(quantity, deterministic, sticky)`` rows of the table."""

        def fmt(x: Any) -> str:
            if x is None:
                return f"none ≤ {self.max_k}"
            if isinstance(x, float):
                return "inf" if not math.isfinite(x) else f"{x:.4g}"
            return str(x)

        s = self.sticky
        rows = [
            ("states", fmt(self.n_states), fmt(s.n_states) if s else "-"),
            ("optimal return", fmt(self.optimal_return), fmt(s.optimal_return) if s else "-"),
            ("random return", fmt(self.random_return), fmt(s.random_return) if s else "-"),
            ("worst return", fmt(self.worst_return), fmt(s.worst_return) if s else "-"),
            ("min_k", fmt(self.min_k), fmt(s.min_k) if s else "-"),
            ("planning window", fmt(self.planning_window), fmt(s.planning_window) if s else "-"),
            (
                "simple H bound (proxy)",
                fmt(self.simple_horizon),
                fmt(s.simple_horizon) if s else "-",
            ),
        ]
        for k in range(self.max_k):
            rows.append(
                (
                    f"greedy return k={k + 1}",
                    fmt(self.greedy_returns[k]),
                    fmt(s.greedy_returns[k]) if s else "-",
                )
            )
        return rows

    def to_markdown(self) -> str:
        """The table as GitHub markdown (a sticky column when the sticky version was analysed)."""
        head = f"# Effective horizon of {self.env} (H={self.horizon}, A={self.n_actions})\n\n"
        if self.sticky is not None:
            lines = [f"| quantity | deterministic | sticky p={self.repeat_probability:g} |", "|---|---|---|"]
            lines += [f"| {a} | {b} | {c} |" for a, b, c in self.rows()]
        else:
            lines = ["| quantity | value |", "|---|---|"]
            lines += [f"| {a} | {b} |" for a, b, _ in self.rows()]
        note = (
            "\n\nmin_k: least k such that greedy action on k-1 Bellman backups of Q^rand is optimal at every "
            "reachable state (ties count as failure). The simple H bound is the deterministic paper's "
            "bound, a proxy for the stochastic effective horizon."
        )
        return head + "\n".join(lines) + note + "\n"


def analyze_model(
    P: Any, R: Any, rho: Any, name: str = "model", max_k: int = 5, horizon: int | None = None
) -> EffectiveHorizonReport:
    """Run every analysis on one tabular model (no sticky version; see :func:`rl_suite.analyze.analyze`).

    Args:
        P: Transitions ``(H, S, A, S)`` (or ``(S, A, S)`` with ``horizon``).
        R: Expected rewards.
        rho: ``(S,)`` start distribution.
        name: What to call it in the report.
        max_k: Largest k analysed.
        horizon: H for a stationary model.

    Returns:
        The report.
    """
    max_k = check_k(max_k)
    P, R = tabular.as_finite_horizon(P, R, horizon)
    rho = tabular.check_distribution(rho, P.shape[1])
    H, _, A, _ = P.shape
    Q_star, V_star = tabular.backward_induction(P, R)
    k, Qs = _first_solving_k(P, R, rho, Q_star, V_star, max_k, "random")
    while len(Qs) < max_k:
        Qs.append(q_backup(P, R, Qs[-1]))
    window, _ = _first_solving_k(P, R, rho, Q_star, V_star, max_k, "rewards")
    h, h_k = simple_effective_horizon(P, R, rho, max_k)
    Q_rand = Qs[0]
    reach = _reachable(P, rho)
    return EffectiveHorizonReport(
        env=name,
        horizon=H,
        n_states=int(reach.sum()),
        n_actions=A,
        optimal_return=tabular.value_of_start(V_star, rho),
        random_return=tabular.value_of_start(tabular.policy_value(P, R, np.full_like(Q_rand, 1.0 / A)), rho),
        worst_return=0.0 - tabular.value_of_start(tabular.backward_induction(P, -R)[1], rho),
        min_k=k,
        planning_window=window,
        simple_horizon=h,
        simple_horizon_k=h_k,
        greedy_returns=greedy_returns(P, R, rho, Qs),
        max_k=max_k,
    )


def _reachable(P: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """States any policy can visit within the horizon."""
    reach = rho > 0
    seen = reach.copy()
    for t in range(P.shape[0] - 1):
        reach = (P[t][reach] > 0).any(axis=(0, 1))
        seen |= reach
    return seen
