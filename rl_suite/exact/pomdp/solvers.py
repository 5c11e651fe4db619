"""Reference solvers for tabular POMDPs: the model, belief-tree expectimax, QMDP and PBVI.

The exact value ``V*`` of a finite-horizon model comes from the belief tree; QMDP bounds it from above
and PBVI from below (also for discounted models). The exact value of a given policy is in
:mod:`rl_suite.exact.pomdp.policies`.

Model conventions (shared with :class:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv`):

* ``T[a][s, s']``: transition law, one ``(S, S)`` matrix per action (a dense array or a SciPy sparse
  matrix; dense models are also accepted as one ``(S, A, S)`` array);
* ``Z[a, s', o]``: law of the observation emitted *after* action ``a`` lands in ``s'`` (action-dependent;
  an action-independent emission is the special case of ``A`` equal layers);
* ``Z0[s, o]``: law of the first observation, emitted by the start state at ``reset``;
* ``R[s, a]``: expected reward; ``b0``: law of the start state;
* ``terminal``: optional absorbing, zero-reward states where an episode ends;
* ``gamma``: discount (``1`` only with a finite horizon); ``horizon``: ``H`` or ``None`` (infinite).

The value of a model is ``V* = Σ_{o_0} P(o_0) V*_0(b_0 | o_0)``: the agent sees ``o_0`` before acting.

References:
    Kaelbling, Littman & Cassandra, "Planning and acting in partially observable stochastic domains",
    Artificial Intelligence 101, 1998 (belief MDP, exact value of a belief tree).
    Pineau, Gordon & Thrun, "Point-based value iteration: An anytime algorithm for POMDPs", IJCAI 2003
    (point backups, belief-set expansion by stochastic simulation with explorative action).
    Littman, Cassandra & Kaelbling, "Learning policies for partially observable environments: Scaling
    up", ICML 1995 (QMDP).
    Smith & Simmons, "Heuristic search value iteration for POMDPs", UAI 2004 (blind-policy lower bound,
    RockSample).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from rl_suite.exact import tabular

#: Probability below which a branch (observation, successor belief) is dropped.
BRANCH_EPS = 1e-14
#: Decimals kept when two beliefs (or α-vectors) are compared for equality.
DEDUPE_DECIMALS = 12

History = tuple[int, ...]
HistoryPolicy = Callable[[History], int]


@dataclass(frozen=True)
class POMDPModel:
    """A tabular POMDP in the solvers' form (see the module docstring for the conventions).

    Attributes:
        T: ``A`` transition matrices ``(S, S)``, dense ``ndarray`` or SciPy sparse (CSR).
        Z: Observation laws ``(A, S, O)``.
        R: Expected rewards ``(S, A)``.
        b0: Start-state law ``(S,)``.
        Z0: First-observation law ``(S, O)``.
        gamma: Discount in ``[0, 1]`` (1 needs a finite horizon).
        horizon: ``H``, or ``None`` for the infinite-horizon discounted problem.
        terminal: ``(S,)`` booleans of absorbing zero-reward states, or ``None``.
    """

    T: tuple[Any, ...]
    Z: np.ndarray
    R: np.ndarray
    b0: np.ndarray
    Z0: np.ndarray
    gamma: float = 1.0
    horizon: int | None = None
    terminal: np.ndarray | None = None
    _Tt: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def n_states(self) -> int:
        """S."""
        return int(self.R.shape[0])

    @property
    def n_actions(self) -> int:
        """A."""
        return int(self.R.shape[1])

    @property
    def n_observations(self) -> int:
        """O."""
        return int(self.Z.shape[2])

    @property
    def sparse(self) -> bool:
        """Whether the transitions are stored as sparse matrices."""
        return sp.issparse(self.T[0])

    def predict(self, B: np.ndarray, a: int) -> np.ndarray:
        """Push beliefs through action ``a``: ``B @ T[a]`` of shape ``(N, S)``."""
        if self.sparse:
            return np.asarray(self._Tt[a] @ B.T).T
        return B @ self.T[a]

    def back(self, a: int, V: np.ndarray) -> np.ndarray:
        """Expected next values under action ``a``: ``T[a] @ V`` for ``V`` of shape ``(S,)`` or ``(S, K)``."""
        return np.asarray(self.T[a] @ V)

    def dense_T(self) -> np.ndarray:
        """The transitions as one dense ``(S, A, S)`` array (for :mod:`rl_suite.exact.tabular`)."""
        mats = [m.toarray() if sp.issparse(m) else m for m in self.T]
        return np.stack(mats, axis=1)

    def obs_support(self) -> list[np.ndarray]:
        """Per action, the observations with positive probability in some state."""
        return [np.flatnonzero(self.Z[a].max(axis=0) > 0) for a in range(self.n_actions)]


def make_model(
    T: Any,
    Z: Any,
    R: Any,
    b0: Any,
    Z0: Any = None,
    gamma: float = 1.0,
    horizon: int | None = None,
    terminal: Any = None,
) -> POMDPModel:
    """Build a :class:`POMDPModel` from arrays (light shape checks; the envs validate user input).

    Args:
        T: ``(S, A, S)`` dense array, or a sequence of ``A`` matrices ``(S, S)`` (dense or sparse).
        Z: ``(A, S, O)`` observation laws, or ``(S, O)`` for an action-independent emission.
        R: ``(S, A)`` expected rewards.
        b0: ``(S,)`` start law.
        Z0: ``(S, O)`` first-observation law; ``None`` uses the emission of the first action's layer
            (``Z[0]``).
        gamma: Discount.
        horizon: ``H`` or ``None``.
        terminal: ``(S,)`` booleans or ``None``.

    Returns:
        The model.

    Raises:
        ValueError: Shapes that do not fit together, or ``gamma == 1`` with an infinite horizon.
    """
    R = np.asarray(R, dtype=np.float64)
    S, A = R.shape
    if isinstance(T, np.ndarray) and T.ndim == 3:
        if T.shape != (S, A, S):
            raise ValueError(f"T must have shape {(S, A, S)}, got {T.shape}")
        mats: tuple[Any, ...] = tuple(np.ascontiguousarray(T[:, a, :], dtype=np.float64) for a in range(A))
    else:
        mats = tuple(
            m.tocsr().astype(np.float64) if sp.issparse(m) else np.asarray(m, dtype=np.float64) for m in T
        )
        if len(mats) != A or any(m.shape != (S, S) for m in mats):
            raise ValueError(f"T must hold {A} matrices of shape {(S, S)}")
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim == 2:
        Z = np.broadcast_to(Z, (A, *Z.shape)).copy()
    if Z.ndim != 3 or Z.shape[:2] != (A, S):
        raise ValueError(f"Z must have shape (A, S, O) = ({A}, {S}, O), got {Z.shape}")
    Z0 = Z[0].copy() if Z0 is None else np.asarray(Z0, dtype=np.float64)
    if Z0.shape != Z.shape[1:]:
        raise ValueError(f"Z0 must have shape {Z.shape[1:]}, got {Z0.shape}")
    b0 = np.asarray(b0, dtype=np.float64)
    if b0.shape != (S,):
        raise ValueError(f"b0 must have shape ({S},), got {b0.shape}")
    gamma = float(gamma)
    if not 0.0 <= gamma <= 1.0 or (horizon is None and gamma >= 1.0):
        raise ValueError(f"gamma must be in [0, 1) for an infinite horizon and [0, 1] otherwise, got {gamma}")
    term = None if terminal is None else np.asarray(terminal, dtype=bool)
    Tt = tuple(m.T.tocsr() for m in mats) if sp.issparse(mats[0]) else ()
    return POMDPModel(mats, Z, R, b0, Z0, gamma, None if horizon is None else int(horizon), term, Tt)


def as_model(model: POMDPModel | dict[str, Any]) -> POMDPModel:
    """Accept a :class:`POMDPModel` or the dict of an env's ``model()``."""
    if isinstance(model, POMDPModel):
        return model
    keys = ("T", "Z", "R", "b0", "Z0", "gamma", "horizon", "terminal")
    fields: dict[str, Any] = {k: model.get(k) for k in keys}
    return make_model(**fields)


def initial_beliefs(m: POMDPModel) -> tuple[np.ndarray, np.ndarray]:
    """The beliefs after the first observation.

    Returns:
        ``(p, B)``: ``P(o_0)`` of the observations with positive probability ``(K,)`` and the posteriors
        ``b_0 | o_0`` ``(K, S)``.
    """
    joint = m.b0[:, None] * m.Z0
    p = joint.sum(axis=0)
    keep = p > BRANCH_EPS
    return p[keep], (joint[:, keep] / p[keep]).T


def dedupe(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique rows of ``X`` up to :data:`DEDUPE_DECIMALS` decimals: ``(rows, first index, inverse index)``."""
    _, first, inverse = np.unique(
        np.round(X, DEDUPE_DECIMALS) + 0.0, axis=0, return_index=True, return_inverse=True
    )
    return X[first], first, inverse.reshape(-1)


def sparse_matmul(X: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``X @ G``, through a CSR copy of ``X`` when it is large and mostly zero (RockSample beliefs)."""
    if X.shape[1] >= 2048 and np.count_nonzero(X) < 0.05 * X.size:
        return np.asarray(sp.csr_array(X) @ G)
    return X @ G


# --------------------------------------------------------------------------------------- belief tree


@dataclass
class BeliefTreeResult:
    """Exact finite-horizon value from :func:`belief_tree_value`.

    Attributes:
        value: ``V*`` (the expectation over the first observation).
        first_actions: Optimal first action per first observation (posterior order of
            :func:`initial_beliefs`).
        n_beliefs: Distinct beliefs per level ``0 .. H``.
        seconds: Wall time.
    """

    value: float
    first_actions: list[int]
    n_beliefs: list[int]
    seconds: float


@dataclass
class BeliefTreePlan:
    """The whole solved belief tree of :func:`belief_tree_plan`: values *and* the optimal policy.

    Nodes are the distinct beliefs of each level; an agent follows the tree by node index (no belief
    arithmetic, so no rounding can take it off the tree): start at ``root[o_0]``, act ``argmax Q[h][node]``,
    move to ``child[h][node, a, o]``.

    Attributes:
        value: ``V*`` (the expectation over the first observation).
        root: ``(O,)`` node of level 0 for each first observation (``-1``: impossible observation).
        Q: Per level ``h < H``, the ``(n_h, A)`` optimal action values of its nodes.
        child: Per level ``h < H``, ``(n_h, A, O)`` node indices of level ``h + 1`` (``-1``: the
            observation has probability 0 after that action).
        beliefs: Per level ``0 .. H``, the ``(n_h, S)`` beliefs of its nodes.
        seconds: Wall time.
    """

    value: float
    root: np.ndarray
    Q: list[np.ndarray]
    child: list[np.ndarray]
    beliefs: list[np.ndarray]
    seconds: float

    @property
    def n_beliefs(self) -> list[int]:
        """Distinct beliefs per level ``0 .. H``."""
        return [int(b.shape[0]) for b in self.beliefs]

    def node(self, history: History) -> int:
        """The node reached by ``(o_0, a_0, o_1, ..., a_{t-1}, o_t)``; ``-1`` if it leaves the tree."""
        n = int(self.root[history[0]]) if 0 <= history[0] < self.root.size else -1
        for t in range(1, len(history), 2):
            if n < 0 or t // 2 >= len(self.child):
                return -1
            n = int(self.child[t // 2][n, history[t], history[t + 1]])
        return n

    def action(self, h: int, node: int) -> int:
        """The optimal action at ``node`` of level ``h`` (ties to the lowest action)."""
        return int(self.Q[h][node].argmax())


def belief_tree_plan(model: POMDPModel | dict[str, Any], max_beliefs: int = 200_000) -> BeliefTreePlan:
    """Exact finite-horizon expectimax over the belief tree (Kaelbling et al. 1998), keeping the policy.

    The tree branches on (action, observation) with exact Bayes updates. Nodes of one level that carry
    the same belief (to 12 decimals) are merged, which keeps the search exact (the value of a node depends
    on its belief and level only) and makes it polynomial when beliefs recur (Tiger: O(h) per level).
    Without merging the cost is O((A·O)^H·S²): A·O branches per level, an O(S²) Bayes update each.

    Args:
        model: A finite-horizon model.
        max_beliefs: Largest number of distinct beliefs allowed on one level.

    Returns:
        The value, the optimal ``Q`` of every node and the child links (see :class:`BeliefTreePlan`).

    Raises:
        ValueError: The model has no finite horizon, or a level exceeds ``max_beliefs``.
    """
    t0 = time.perf_counter()
    m = as_model(model)
    if m.horizon is None:
        raise ValueError("belief_tree_value needs a finite horizon")
    H, A, n_obs, gamma = m.horizon, m.n_actions, m.n_observations, m.gamma
    support = m.obs_support()
    joint0 = m.b0[:, None] * m.Z0
    p0, B = initial_beliefs(m)
    B, _, inv0 = dedupe(B)
    root = np.full(n_obs, -1, dtype=np.int64)
    root[np.flatnonzero(joint0.sum(axis=0) > BRANCH_EPS)] = inv0
    levels = [B]
    links: list[list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]] = []
    for _ in range(H):
        B = levels[-1]
        children, edges = [], []
        for a in range(A):
            pred = m.predict(B, a)
            for o in support[a]:
                tau = pred * m.Z[a, :, o]
                p = tau.sum(axis=1)
                rows = np.flatnonzero(p > BRANCH_EPS)
                children.append(tau[rows] / p[rows, None])
                edges.append((a, int(o), rows, p[rows]))
        nxt, _, inverse = dedupe(np.concatenate(children))
        if nxt.shape[0] > max_beliefs:
            raise ValueError(f"the belief tree has {nxt.shape[0]} > max_beliefs={max_beliefs} beliefs")
        offsets = np.cumsum([0] + [c.shape[0] for c in children])
        links.append([(*e, inverse[offsets[i] : offsets[i + 1]]) for i, e in enumerate(edges)])
        levels.append(nxt)
    V = np.zeros(levels[-1].shape[0])
    Qs: list[np.ndarray] = [np.empty(0)] * H
    kids: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * H
    for h in range(H - 1, -1, -1):
        B = levels[h]
        Q = B @ m.R
        child = np.full((B.shape[0], A, n_obs), -1, dtype=np.int64)
        for a, o, rows, p, nodes in links[h]:
            Q[rows, a] += gamma * p * V[nodes]
            child[rows, a, o] = nodes
        Qs[h], kids[h] = Q, child
        V = Q.max(axis=1)
    value = float(p0 @ V[inv0])
    return BeliefTreePlan(value, root, Qs, kids, levels, time.perf_counter() - t0)


def belief_tree_value(model: POMDPModel | dict[str, Any], max_beliefs: int = 200_000) -> BeliefTreeResult:
    """Exact finite-horizon optimal value by expectimax over the belief tree (:func:`belief_tree_plan`).

    Args:
        model: A finite-horizon model.
        max_beliefs: Largest number of distinct beliefs allowed on one level.

    Returns:
        The exact value and the tree's sizes.

    Raises:
        ValueError: The model has no finite horizon, or a level exceeds ``max_beliefs``.
    """
    plan = belief_tree_plan(model, max_beliefs)
    first = [int(plan.Q[0][n].argmax()) for n in plan.root[plan.root >= 0]]
    return BeliefTreeResult(plan.value, first, plan.n_beliefs, plan.seconds)


# --------------------------------------------------------------------------------------------- QMDP


@dataclass
class QMDPResult:
    """The QMDP upper bound (Littman, Cassandra & Kaelbling 1995).

    Attributes:
        value: ``Σ_{o_0} P(o_0) max_a b_0|o_0 · Q_MDP[:, a]`` ≥ ``V*``.
        Q: ``Q_MDP`` of the underlying MDP: ``(H, S, A)`` (finite) or ``(S, A)`` (discounted).
        seconds: Wall time.
    """

    value: float
    Q: np.ndarray
    seconds: float


def qmdp(model: POMDPModel | dict[str, Any], tol: float = 1e-9, max_iter: int = 100_000) -> QMDPResult:
    """QMDP: the value of the fully observed MDP, an upper bound on ``V*`` at every belief.

    Finite horizon: ``Q_MDP`` by :func:`rl_suite.exact.tabular.backward_induction` (the suite's one backward
    induction). Infinite horizon: value iteration ``Q = R + γ·T·max_a Q`` until the sup-norm change is
    below ``tol``, then one more ``tol·γ/(1−γ)`` added to stay an upper bound.

    Args:
        model: The POMDP.
        tol: Value-iteration tolerance (discounted form).
        max_iter: Iteration cap (discounted form).

    Returns:
        The bound and ``Q_MDP``.
    """
    t0 = time.perf_counter()
    m = as_model(model)
    p0, B = initial_beliefs(m)
    if m.horizon is not None:
        H = m.horizon if m.gamma > 0 else 1
        Q, _ = tabular.backward_induction(m.dense_T(), m.R, H, gamma=max(m.gamma, 1e-300))
        Q0 = Q[0]
    else:
        V = np.zeros(m.n_states)
        slack = 0.0
        for _ in range(max_iter):
            Q = m.R + m.gamma * np.stack([m.back(a, V) for a in range(m.n_actions)], axis=1)
            V_new = Q.max(axis=1)
            delta = float(np.abs(V_new - V).max())
            V = V_new
            if delta < tol:
                slack = delta * m.gamma / (1.0 - m.gamma)
                break
        Q0 = Q
    value = float(p0 @ (B @ Q0).max(axis=1)) + (slack if m.horizon is None else 0.0)
    return QMDPResult(value, Q, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------- PBVI


@dataclass
class PBVIResult:
    """A point-based lower bound (Pineau, Gordon & Thrun 2003).

    Attributes:
        value: ``Σ_{o_0} P(o_0) max_α ⟨α, b_0|o_0⟩`` ≤ ``V*``.
        alphas: ``(K, S)`` α-vectors of the first step.
        actions: ``(K,)`` action of every α-vector.
        beliefs: ``(N, S)`` belief set.
        sweeps: Backups run (``H`` for a finite horizon).
        converged: Whether the discounted iteration met its tolerance.
        seconds: Wall time of the value iteration; ``expand_seconds`` of the belief-set expansion.
        expand_seconds: Wall time of the expansion.
    """

    value: float
    alphas: np.ndarray
    actions: np.ndarray
    beliefs: np.ndarray
    sweeps: int
    converged: bool
    seconds: float
    expand_seconds: float


def blind_alphas(m: POMDPModel, tol: float = 1e-10, max_iter: int = 100_000) -> np.ndarray:
    """Values of the blind policies "always play a" (Hauskrecht 2000; the HSVI lower bound).

    Each is the value of an actual policy, hence ``max_a ⟨α_a, b⟩ ≤ V*(b)``, and the set is uniformly
    improvable, so point backups from it increase monotonically (Smith & Simmons 2004).

    Returns:
        ``(A, S)`` α-vectors.
    """
    alphas = np.zeros((m.n_actions, m.n_states))
    for a in range(m.n_actions):
        v = np.zeros(m.n_states)
        for _ in range(max_iter):
            nv = m.R[:, a] + m.gamma * m.back(a, v)
            done = np.abs(nv - v).max() < tol
            v = nv
            if done:
                break
        alphas[a] = v
    return alphas


def _sample_rows(P: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw one index per row of the (unnormalised) probability rows ``P`` by inversion at ``u``."""
    cdf = np.cumsum(P, axis=1)
    return np.minimum((cdf <= (u * cdf[:, -1])[:, None]).sum(axis=1), P.shape[1] - 1)


def _min_sq_dist(C: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of every row of ``C`` to its nearest row of ``B``."""
    cross = sparse_matmul(C, B.T)
    d2 = (C * C).sum(axis=1)[:, None] + (B * B).sum(axis=1)[None, :] - 2.0 * cross
    return np.maximum(d2.min(axis=1), 0.0)


def expand_beliefs(m: POMDPModel, B: np.ndarray, rng: np.random.Generator, eps: float = 1e-12) -> np.ndarray:
    """One SSEA expansion of the belief set (Pineau, Gordon & Thrun 2003, §3.2).

    For every ``b ∈ B`` and every action ``a``, sample ``o ~ P(o | b, a)`` and form ``b' = τ(b, a, o)``;
    keep the ``b'`` farthest from ``B`` (Euclidean distance, computed as one matrix product; the paper
    uses L1) if it is new. ``B`` at most doubles per expansion.

    Args:
        m: The model.
        B: ``(N, S)`` current beliefs.
        rng: Source of the sampled observations.
        eps: Smallest squared distance that counts as a new belief.

    Returns:
        The ``(N', S)`` new beliefs (``N' ≤ N``), without duplicates.
    """
    N = int(B.shape[0])
    best_d = np.full(N, -1.0)
    best_b = np.zeros_like(B)
    for a in range(m.n_actions):
        pred = m.predict(B, a)
        po = pred @ m.Z[a]
        o = _sample_rows(po, rng.random(N))
        tau = pred * m.Z[a][:, o].T
        tau /= tau.sum(axis=1, keepdims=True)
        d = _min_sq_dist(tau, B)
        better = d > best_d
        best_d[better], best_b[better] = d[better], tau[better]
    new = best_b[best_d > eps]
    return dedupe(new)[0] if new.shape[0] else new


def _point_backup(
    m: POMDPModel, B: np.ndarray, alphas: np.ndarray, support: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One point-based backup of the α-set ``alphas`` at every belief of ``B`` (vectorised over ``B``).

    ``V(b) = max_a [ b·R_a + γ Σ_o max_i τ(b, a, o)·α_i ]`` with ``τ(b, a, o) = (b T_a) ⊙ Z[a, :, o]``
    the unnormalised successor; the new α-vector of ``b`` is ``R_a + γ Σ_o T_a (Z[a, :, o] ⊙ α_{i*})``.

    Returns:
        ``(V, new_alphas, actions)`` of shapes ``(N,)``, ``(N, S)``, ``(N,)``.
    """
    N, S = B.shape
    G = alphas.T
    q = B @ m.R
    choice: dict[tuple[int, int], np.ndarray] = {}
    rows = np.arange(N)
    for a in range(m.n_actions):
        pred = m.predict(B, a)
        for o in support[a]:
            scores = sparse_matmul(pred * m.Z[a, :, o], G)
            best = scores.argmax(axis=1)
            q[:, a] += m.gamma * scores[rows, best]
            choice[a, int(o)] = best
    acts = q.argmax(axis=1)
    new = np.empty((N, S))
    for a in np.unique(acts):
        idx = np.flatnonzero(acts == a)
        acc = np.zeros((S, idx.size))
        for o in support[a]:
            acc += m.Z[a, :, o][:, None] * G[:, choice[int(a), int(o)][idx]]
        new[idx] = (m.R[:, a][:, None] + m.gamma * m.back(int(a), acc)).T
    return q[rows, acts], new, acts


def pbvi(
    model: POMDPModel | dict[str, Any],
    beliefs: np.ndarray | None = None,
    n_expansions: int = 6,
    max_beliefs: int = 512,
    tol: float = 1e-6,
    max_sweeps: int = 2000,
    seed: int = 0,
    max_seconds: float | None = None,
) -> PBVIResult:
    """Point-based value iteration (Pineau, Gordon & Thrun 2003): a lower bound on ``V*``.

    Belief set: the posteriors ``b_0 | o_0``, ``b_0`` and the given ``beliefs``, then ``n_expansions``
    SSEA expansions (:func:`expand_beliefs`, seeded by ``seed``), each at most doubling the set, capped
    at ``max_beliefs`` (the given beliefs are always kept). The set is built first, then solved:

    * finite horizon: ``Γ_H = {0}`` and ``H`` point backups (one per step);
    * discounted: ``Γ`` starts at the blind-policy values (:func:`blind_alphas`), a valid lower bound;
      at a belief where the backup would lower the value the old α-vector is kept (as in Perseus, Spaan
      & Vlassis 2005), so the values on ``B`` increase monotonically (plain replacement can cycle), and
      sweeps run until
      ``max_b |V_new(b) − V_old(b)| < tol`` (or ``max_sweeps`` / ``max_seconds``; every sweep's ``Γ`` is
      still a lower bound).

    Cost per sweep: ``O(|B|·A·O·|Γ|·S)`` products plus the ``A`` transitions.

    Args:
        model: The POMDP.
        beliefs: Extra ``(N, S)`` beliefs (e.g. a grid for two-state problems).
        n_expansions: SSEA expansions.
        max_beliefs: Cap on the belief-set size.
        tol: Convergence tolerance (discounted).
        max_sweeps: Sweep cap (discounted).
        seed: Seed of the expansion's sampled observations.
        max_seconds: Wall-time cap of the discounted iteration.

    Returns:
        The lower bound, the α-vectors and the belief set.
    """
    t0 = time.perf_counter()
    m = as_model(model)
    p0, B0 = initial_beliefs(m)
    parts = [B0, m.b0[None, :]]
    if beliefs is not None:
        parts.append(np.asarray(beliefs, dtype=np.float64).reshape(-1, m.n_states))
    B = dedupe(np.concatenate(parts))[0]
    rng = np.random.default_rng(seed)
    for _ in range(n_expansions):
        if B.shape[0] >= max_beliefs:
            break
        new = expand_beliefs(m, B, rng)
        B = np.concatenate([B, new[: max_beliefs - B.shape[0]]])
    t1 = time.perf_counter()
    support = m.obs_support()
    converged = True
    if m.horizon is not None:
        alphas, acts = np.zeros((1, m.n_states)), np.zeros(1, dtype=np.int64)
        sweeps = m.horizon
        for _ in range(m.horizon):
            _, new, a = _point_backup(m, B, alphas, support)
            alphas, keep, _ = dedupe(new)
            acts = a[keep]
    else:
        alphas = blind_alphas(m)
        acts = np.arange(m.n_actions)
        old = B @ alphas.T
        V_old = old.max(axis=1)
        converged, sweeps = False, 0
        while sweeps < max_sweeps:
            V, new, a = _point_backup(m, B, alphas, support)
            worse = V < V_old  # keep the old α where the backup is worse: V increases monotonically on B
            best_old = old.argmax(axis=1)[worse]
            new[worse], a[worse], V[worse] = alphas[best_old], acts[best_old], V_old[worse]
            alphas, keep, _ = dedupe(new)
            acts = a[keep]
            old = B @ alphas.T
            sweeps += 1
            if np.abs(V - V_old).max() < tol:
                converged = True
                break
            V_old = V
            if max_seconds is not None and time.perf_counter() - t1 > max_seconds:
                break
    value = float(p0 @ (B0 @ alphas.T).max(axis=1))
    return PBVIResult(value, alphas, acts, B, sweeps, converged, time.perf_counter() - t1, t1 - t0)
