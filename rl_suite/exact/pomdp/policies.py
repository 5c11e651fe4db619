"""The exact value of a POMDP policy: history-dependent, finite-window and memoryless; the best window policy.

A policy's value is computed by branching on observations (the policy picks the actions), so it is exact
for the policy given; :func:`best_window_policy` searches window policies with it. Conventions:
:mod:`rl_suite.exact.pomdp`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg  # noqa: F401  (sp.linalg.spsolve)

from rl_suite.exact.pomdp.solvers import (
    BRANCH_EPS,
    BeliefTreePlan,
    History,
    HistoryPolicy,
    POMDPModel,
    as_model,
    belief_tree_plan,
)

# ------------------------------------------------------------------------- history-policy evaluation


def _expected_reward(m: POMDPModel, J: np.ndarray, acts: np.ndarray) -> float:
    """``Σ_k Σ_s J[k, s]·R[s, acts[k]]``: the expected reward of one step of a policy evaluation.

    Raises:
        ValueError: An action is outside ``[0, A)``.
    """
    if ((acts < 0) | (acts >= m.n_actions)).any():
        raise ValueError(f"the policy returned an action outside [0, {m.n_actions})")
    return float((J * m.R.T[acts]).sum())


def evaluate_history_policy(
    model: POMDPModel | dict[str, Any],
    policy: HistoryPolicy,
    horizon: int | None = None,
    max_branches: int = 1_000_000,
) -> float:
    """Exact expected (discounted) return of a deterministic history-dependent policy.

    The history after ``t`` steps is the flat tuple ``(o_0, a_0, o_1, a_1, ..., a_{t-1}, o_t)``; the
    policy maps it to an action. The evaluation branches on observations only (the actions are the
    policy's), carrying the joint ``P(s_t, history)``: at most ``O^{H+1}`` leaves. Mass that reaches a
    terminal state leaves the tree (it earns nothing more).

    Args:
        model: The POMDP.
        policy: ``history -> action``.
        horizon: Steps to evaluate; defaults to the model's (required for a discounted model, whose value
            is then truncated after ``horizon`` steps).
        max_branches: Largest number of live histories allowed on one step.

    Returns:
        ``E[Σ_{t<H} γ^t r_t]``.

    Raises:
        ValueError: No horizon, more than ``max_branches`` live histories, or the policy returns an
            action outside ``[0, A)``.
    """
    m = as_model(model)
    H = m.horizon if horizon is None else int(horizon)
    if H is None:
        raise ValueError("evaluate_history_policy needs a horizon for a discounted model")
    joint0 = m.b0[:, None] * m.Z0
    obs0 = np.flatnonzero(joint0.sum(axis=0) > BRANCH_EPS)
    hist: list[History] = [(int(o),) for o in obs0]
    J = joint0[:, obs0].T.copy()
    alive = np.ones(m.n_states) if m.terminal is None else (~m.terminal).astype(np.float64)
    total, disc = 0.0, 1.0
    for t in range(H):
        if not hist:
            break
        acts = np.array([policy(h) for h in hist])
        total += disc * _expected_reward(m, J, acts)
        disc *= m.gamma
        if t == H - 1:
            break
        new_hist: list[History] = []
        new_J = []
        for a in np.unique(acts):
            idx = np.flatnonzero(acts == a)
            pred = m.predict(J[idx], int(a)) * alive
            for o in np.flatnonzero(m.Z[a].max(axis=0) > 0):
                nj = pred * m.Z[a, :, o]
                mass = nj.sum(axis=1)
                for k in np.flatnonzero(mass > BRANCH_EPS):
                    new_hist.append((*hist[idx[k]], int(a), int(o)))
                    new_J.append(nj[k])
        if len(new_hist) > max_branches:
            raise ValueError(
                f"{len(new_hist)} > max_branches={max_branches} histories after {t + 1} steps; evaluate a "
                "shorter horizon, or a memoryless policy with evaluate_memoryless_policy"
            )
        hist = new_hist
        J = np.array(new_J) if new_J else np.zeros((0, m.n_states))
    return total


def evaluate_window_policy(
    model: POMDPModel | dict[str, Any],
    policy: Callable[[int, History], int],
    window: int,
    horizon: int | None = None,
) -> float:
    """Exact expected return of a deterministic finite-window policy ``a_h = π(h, x_h)``.

    ``x_h = (o_{h−w}, a_{h−w}, …, a_{h−1}, o_h)`` is the last ``window`` observation–action pairs and the
    current observation (shorter at the start). Since the action depends on ``(h, x_h)`` only, the pair
    (state, window) is a Markov chain: the evaluation carries the joint ``P(s_h, x_h)`` per distinct window
    instead of per history, so its cost is ``O(H · #windows · O · S²)`` rather than ``O(O^H)``. It equals
    :func:`evaluate_history_policy` on ``history -> π(len(history) // 2, history[-(2w+1):])``.

    Args:
        model: The POMDP.
        policy: ``(h, window) -> action``.
        window: w ≥ 0.
        horizon: Steps to evaluate; defaults to the model's (required for a discounted model).

    Returns:
        ``E[Σ_{t<H} γ^t r_t]``.

    Raises:
        ValueError: No horizon, or the policy returns an action outside ``[0, A)``.
    """
    m = as_model(model)
    H = m.horizon if horizon is None else int(horizon)
    if H is None:
        raise ValueError("evaluate_window_policy needs a horizon for a discounted model")
    keep = 2 * int(window) + 1
    joint0 = m.b0[:, None] * m.Z0
    layer: dict[History, np.ndarray] = {
        (int(o),): joint0[:, o].copy() for o in np.flatnonzero(joint0.sum(axis=0) > BRANCH_EPS)
    }
    alive = np.ones(m.n_states) if m.terminal is None else (~m.terminal).astype(np.float64)
    support = m.obs_support()
    total, disc = 0.0, 1.0
    for t in range(H):
        if not layer:
            break
        windows = list(layer)
        J = np.array([layer[x] for x in windows])
        acts = np.array([policy(t, x) for x in windows], dtype=np.int64)
        total += disc * _expected_reward(m, J, acts)
        disc *= m.gamma
        if t == H - 1:
            break
        nxt: dict[History, np.ndarray] = {}
        for a in np.unique(acts):
            idx = np.flatnonzero(acts == a)
            pred = m.predict(J[idx], int(a)) * alive
            for o in support[a]:
                nj = pred * m.Z[a, :, o]
                for k in np.flatnonzero(nj.sum(axis=1) > BRANCH_EPS):
                    x2 = (*windows[idx[k]], int(a), int(o))[-keep:]
                    nxt[x2] = nxt[x2] + nj[k] if x2 in nxt else nj[k]
        layer = nxt
    return total


@dataclass
class WindowPolicyResult:
    """Best deterministic finite-window policy found by :func:`best_window_policy`."""

    window: int
    value: float
    """Exact value ``V^π`` of the policy found: a lower bound on the best window-w value."""
    table: dict[tuple[int, History], int]
    """``(h, x_h) -> action`` on the windows the policy reaches (others follow ``base``)."""
    base: Callable[[int, History], int]
    """The policy of the windows not in the table (the lifted window − 1 policy, or action 0)."""
    sweeps: int
    evaluations: int
    seconds: float
    previous: WindowPolicyResult | None = None
    """The ``window − 1`` result the search started from (``None`` for ``window = 0``)."""

    def policy(self, h: int, window: History) -> int:
        """The action at step ``h`` in window ``x_h``."""
        return self.table.get((h, window), self.base(h, window))


def projected_window_policy(
    plan: BeliefTreePlan, m: POMDPModel, window: int
) -> dict[tuple[int, History], int]:
    """The optimal policy projected onto windows: ``π(h, x) = argmax_a Σ P(n) Q*_h(n, a)``.

    The sum runs over the belief-tree nodes ``n`` of step h whose history ends in window ``x``, weighted by
    their probability under the optimal policy. Where one window identifies the belief (T-maze with
    ``w ≥ L``) this is the optimal policy itself.
    """
    keep = 2 * int(window) + 1
    joint0 = m.b0 @ m.Z0
    layer: dict[tuple[int, History], float] = {
        (int(plan.root[o]), (int(o),)): float(joint0[o]) for o in range(joint0.size) if plan.root[o] >= 0
    }
    out: dict[tuple[int, History], int] = {}
    for h in range(len(plan.Q)):
        votes: dict[History, np.ndarray] = {}
        for (node, x), p in layer.items():
            votes[x] = votes.get(x, 0.0) + p * plan.Q[h][node]
        for x, q in votes.items():
            out[(h, x)] = int(np.argmax(q))
        if h == len(plan.Q) - 1:
            break
        nxt: dict[tuple[int, History], float] = {}
        for (node, x), p in layer.items():
            a = out[(h, x)]
            belief = plan.beliefs[h][node]
            pred = m.predict(belief[None, :], a)[0]
            for o in range(m.n_observations):
                child = int(plan.child[h][node, a, o])
                po = float(pred @ m.Z[a, :, o])
                if child >= 0 and p * po > BRANCH_EPS:
                    key = (child, (*x, a, o)[-keep:])
                    nxt[key] = nxt.get(key, 0.0) + p * po
        layer = nxt
    return out


def _window_ascent(
    m: POMDPModel,
    window: int,
    horizon: int | None,
    base: Callable[[int, History], int],
    max_sweeps: int,
) -> tuple[float, dict[tuple[int, History], int], int, int]:
    """A coordinate ascent of :func:`best_window_policy` from ``base``: value, table, sweeps, evaluations."""
    table: dict[tuple[int, History], int] = {}
    reached: set[tuple[int, History]] = set()

    def policy(h: int, x: History) -> int:
        reached.add((h, x))
        a = table.get((h, x))
        return base(h, x) if a is None else a

    value, evaluations, sweeps = evaluate_window_policy(m, policy, window, horizon), 1, 0
    for _ in range(max_sweeps):
        sweeps += 1
        improved = False
        for key in sorted(reached, key=lambda k: (-k[0], k[1])):  # the last step first
            current = policy(*key)
            for a in range(m.n_actions):
                if a == current:
                    continue
                table[key] = a
                v = evaluate_window_policy(m, policy, window, horizon)
                evaluations += 1
                if v > value + 1e-12:
                    value, current, improved = v, a, True
            table[key] = current
        if not improved:
            break
    return value, table, sweeps, evaluations


def best_window_policy(
    model: POMDPModel | dict[str, Any],
    window: int,
    horizon: int | None = None,
    max_sweeps: int = 100,
    plan: BeliefTreePlan | None = None,
) -> WindowPolicyResult:
    """Coordinate ascent over deterministic window policies ``a_h = π(h, x_h)``, evaluated exactly.

    The best finite-window policy of a POMDP is NP-hard to find in general (it is a memoryless policy of
    the (state, window) chain), so this is a local search from two starts: the best ``window − 1`` policy
    found, lifted to ``window`` (it reads the shorter suffix of ``x_h``; ``window = 0`` starts from action
    0), and the optimal policy projected onto windows (:func:`projected_window_policy`, when the belief
    tree fits). From each it sweeps the reachable ``(h, x_h)`` from the last step back to the first and
    switches an action whenever :func:`evaluate_window_policy` says the value rises, until a sweep changes
    nothing; the better end point is returned. Its value is exact for the policy returned, so it is a
    *lower bound* on the best window-w value, and it never falls as ``window`` grows.

    Args:
        model: The POMDP (finite horizon, or ``horizon`` given).
        window: w ≥ 0.
        horizon: Steps to evaluate; defaults to the model's.
        max_sweeps: Sweeps per start before stopping.
        plan: The model's :func:`belief_tree_plan` (computed here when ``None`` and the tree fits).

    Returns:
        The policy, its exact value and the search's cost (over every window ``0 .. w`` searched); the
        results of the smaller windows are chained in ``previous``.
    """
    m = as_model(model)
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    t0 = time.perf_counter()
    if plan is None and m.horizon is not None and (horizon is None or horizon == m.horizon):
        try:
            plan = belief_tree_plan(m)
        except ValueError:
            plan = None
    prev = None
    best_table: dict[tuple[int, History], int]
    if window == 0:
        lifted: Callable[[int, History], int] = lambda h, x: 0  # noqa: E731
        sweeps = evaluations = 0
        best_value, best_table, best_base = -np.inf, {}, lifted
    else:
        prev = best_window_policy(m, window - 1, horizon, max_sweeps, plan)
        keep = 2 * window - 1
        lifted = lambda h, x: prev.policy(h, x[-keep:])  # noqa: E731
        sweeps, evaluations = prev.sweeps, prev.evaluations
        best_value, best_table, best_base = prev.value, {}, lifted
    starts: list[Callable[[int, History], int]] = [lifted]
    if plan is not None:
        projected = projected_window_policy(plan, m, window)
        starts.append(lambda h, x: projected.get((h, x), lifted(h, x)))
    for base in starts:
        value, table, n_sweeps, n_evals = _window_ascent(m, window, horizon, base, max_sweeps)
        sweeps, evaluations = sweeps + n_sweeps, evaluations + n_evals
        if value > best_value:
            best_value, best_table, best_base = value, table, base
    seconds = time.perf_counter() - t0
    return WindowPolicyResult(
        window, float(best_value), best_table, best_base, sweeps, evaluations, seconds, previous=prev
    )


def evaluate_memoryless_policy(model: POMDPModel | dict[str, Any], table: Any) -> float:
    """Exact value of a deterministic memoryless policy ``a = table[o]`` (also for infinite horizons).

    The pair (state, current observation) is a Markov chain under such a policy, so its value solves
    ``V(s, o) = R[s, π(o)] + γ Σ_{s', o'} T[π(o)][s, s'] Z[π(o), s', o'] V(s', o')``: by backward recursion
    for a finite horizon, and by one sparse linear solve of size ``S·O`` for the discounted form. Terminal
    states earn nothing (they are absorbing with zero reward).

    Args:
        model: The POMDP.
        table: ``(O,)`` actions, one per observation.

    Returns:
        ``Σ_{s, o} b0(s) Z0(s, o) V_0(s, o)``.

    Raises:
        ValueError: ``table`` has the wrong shape or holds actions outside ``[0, A)``.
    """
    m = as_model(model)
    S, n_obs, A = m.n_states, m.n_observations, m.n_actions
    pi = np.asarray(table, dtype=np.int64)
    if pi.shape != (n_obs,) or ((pi < 0) | (pi >= A)).any():
        raise ValueError(f"table must hold {n_obs} actions in [0, {A}), got {table!r}")
    r = m.R[:, pi]  # (S, O): reward of (s, o)
    start = m.b0[:, None] * m.Z0  # (S, O): law of (s_0, o_0)
    if m.horizon is not None:
        V = np.zeros((S, n_obs))
        for _ in range(m.horizon):
            nxt = np.empty((S, n_obs))
            for a in np.unique(pi):  # E[V(s', o') | s, a] for the observations that pick a
                nxt[:, pi == a] = m.back(int(a), (m.Z[a] * V).sum(axis=1))[:, None]
            V = r + m.gamma * nxt
        return float((start * V).sum())
    rows, cols, vals = [], [], []
    for o in range(n_obs):
        a = int(pi[o])
        coo = sp.coo_array(m.T[a])  # entries (s, s') of T[a]
        for o2 in range(n_obs):
            w = coo.data * m.Z[a, coo.col, o2]
            keep = w > 0
            rows.append(coo.row[keep] * n_obs + o)
            cols.append(coo.col[keep] * n_obs + o2)
            vals.append(w[keep])
    M = sp.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(S * n_obs, S * n_obs)
    )
    V = sp.linalg.spsolve((sp.eye_array(S * n_obs) - m.gamma * M).tocsc(), r.reshape(-1))
    return float((start.reshape(-1) * V).sum())


def memoryless_policies(n_observations: int, n_actions: int) -> list[HistoryPolicy]:
    """All ``A^O`` deterministic memoryless policies (functions of the current observation only).

    Args:
        n_observations: O.
        n_actions: A.

    Returns:
        One history policy per observation→action table, in lexicographic order of the tables.
    """
    tables = np.stack(np.meshgrid(*[np.arange(n_actions)] * n_observations, indexing="ij"), -1)
    return [_memoryless(tuple(int(x) for x in t)) for t in tables.reshape(-1, n_observations)]


def _memoryless(table: tuple[int, ...]) -> HistoryPolicy:
    """The history policy ``h -> table[h[-1]]`` (the action of the current observation)."""
    return lambda h: table[h[-1]]
