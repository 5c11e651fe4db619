"""The base of every POMDP env: a tabular model, a hidden state, exact or bracketed ``V*`` and episode regret.

A :class:`TabularPOMDPEnv` is a POMDP ``(S, A, O, T, Z, R, b0, Z0)`` given as arrays, with the conventions
of :mod:`rl_suite.exact.pomdp`:

* ``T[s, a, s']`` transitions (a dense ``(S, A, S)`` array, or one sparse ``(S, S)`` matrix per action for
  big models such as RockSample(7, 8));
* ``Z[a, s', o]`` observation laws: the observation is emitted by the state reached *and* the action that
  led there (Tiger's listen/open); an action-independent emission ``(S, O)`` is accepted and broadcast;
* ``Z0[s, o]`` the law of the first observation (emitted at ``reset`` by the start state);
* ``R[s, a]`` rewards (deterministic given ``(s, a)``); ``b0`` the start law;
* ``terminal``: absorbing zero-reward states where the episode *terminates*.

Two forms: **finite horizon** (``horizon=H``; undiscounted with ``discount=None`` or discounted with
``discount=γ ∈ [0, 1)``), where ``V*`` is exact by belief-tree expectimax when the tree is small enough,
and **infinite-horizon discounted** (``horizon=None, discount=γ``), where ``V*`` is bracketed by PBVI (lower,
used as the reference) and QMDP (upper), and the env truncates episodes after ``max_steps`` steps.

Regret. A per-step regret is not defined for POMDPs in general (``Q*`` lives on beliefs and the agent's
own belief is unknown to the env), so every step reports ``info["regret"] = 0`` except the episode's last
step, which reports the episode's "V* − return" estimate ``V*(b0) − Σ_t γ^t r_t`` (also in
``info["episode_regret"]``). Summing ``info["regret"]`` over an episode therefore gives this realised
regret; it is unbiased for the policy's pseudo-regret ``V*(b0) − V^π(b0)`` but noisy (average it over
episodes, or evaluate deterministic agents exactly with :meth:`TabularPOMDPEnv.policy_value`). For the
truncated discounted form the estimate has a bias of at most ``γ^N·max|R|/(1−γ)`` (``N = max_steps``),
reported by :meth:`TabularPOMDPEnv.solve`.

Exact pseudo-regret of agents. Agents whose policy is deterministic given the history within
an episode (``window-ucbvi``, ``omle-lite``, ``belief-planner``) call :meth:`TabularPOMDPEnv.pseudo_regret`
once per episode on the policy they are about to play and keep the exact ``V*(b0) − V^{π_k}(b0)``
themselves: in ``agent.pseudo_regrets`` and ``agent.diagnostics()["exact_pseudo_regret"]`` (which the runner
copies into ``summary.json`` → ``agent_diagnostics``). ``info["regret"]`` and ``metrics.csv`` keep the
realised estimate above, so that every agent, SB3 baselines included, is compared on the same curve.

Draw order (fixed, so that the same seed gives the same trajectory): ``reset`` draws two uniforms (the
start state by inversion of ``b0``, then ``o_0`` by inversion of ``Z0[s_0]``); every ``step`` draws two
(the next state by inversion of ``T[s, a]``, then the observation by inversion of ``Z[a, s']``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from rl_suite.envs._finite import sample_index
from rl_suite.errors import UserError
from rl_suite.exact import pomdp as solvers  # aliased: TabularPOMDPEnv has a `pomdp` property
from rl_suite.spaces import discrete_action
from rl_suite.state import (
    State,
    StateError,
    array,
    check_state,
    flag,
    generator_state,
    integer,
    mapping,
    number,
    optional,
    plain_copy,
    rng_state,
    set_rng_state,
)
from rl_suite.validation import check_int, check_probability

#: How far a row of a probability table may stray from summing to 1.
TABLE_ATOL = 1e-6
#: Largest S for which :func:`observability_gamma` enumerates its 2^(S-1) - 1 linear programs.
GAMMA_MAX_STATES = 12
#: Largest number of entries of an m-step emission matrix that :func:`revealing_alpha` builds.
ALPHA_MAX_ENTRIES = 4_000_000
#: Keys a ``pbvi_options`` dict may hold (see :func:`rl_suite.exact.pomdp.pbvi`).
PBVI_KEYS = ("n_expansions", "max_beliefs", "tol", "max_sweeps", "seed", "max_seconds")


def _fmt_index(idx: tuple[int, ...]) -> str:
    return ", ".join(str(int(i)) for i in idx)


def check_table(name: str, table: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Validate a probability table whose last axis holds probability vectors.

    Args:
        name: The table's name, as the user spells it (``"T"``, ``"Z"``, ``"Z0"``, ``"b0"``).
        table: The values given.
        shape: The expected shape.

    Returns:
        The table as a float64 array.

    Raises:
        UserError: Wrong shape, a negative or non-finite entry, or a row whose sum is not 1 (the message
            names the row and its sum).
    """
    try:
        arr = np.asarray(table, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be an array of probabilities of shape {shape}") from None
    if arr.shape != shape:
        raise UserError(f"{name} must have shape {shape}, got {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise UserError(f"{name}[{_fmt_index(idx)}] = {arr[idx]} is not a probability (must be in [0, 1])")
    _check_sums(name, arr.sum(axis=-1))
    return arr


def _check_sums(name: str, sums: np.ndarray) -> None:
    bad = np.abs(sums - 1.0) > TABLE_ATOL
    if bad.any():
        idx = tuple(np.argwhere(bad)[0]) if sums.ndim else ()
        where = f"{name}[{_fmt_index(idx)}, :]" if idx else name
        raise UserError(
            f"{where} sums to {float(sums[idx]):.6g}, not 1: every row of {name} must be a probability vector"
        )


def _check_transitions(T: Any, S: int, A: int) -> Any:
    """Validate ``T`` given as ``(S, A, S)`` or as ``A`` sparse ``(S, S)`` matrices; return it as given."""
    if isinstance(T, (list, tuple)) and T and all(sp.issparse(m) for m in T):
        if len(T) != A or any(m.shape != (S, S) for m in T):
            raise UserError(f"T must hold {A} sparse matrices of shape {(S, S)} (one per action)")
        mats = [sp.csr_array(m, dtype=np.float64) for m in T]
        for a, m in enumerate(mats):
            if not np.isfinite(m.data).all() or (m.data < 0).any():
                raise UserError(f"T[:, {a}, :] has a negative or non-finite entry (must be in [0, 1])")
            sums = np.asarray(m.sum(axis=1)).reshape(-1)
            bad = np.flatnonzero(np.abs(sums - 1.0) > TABLE_ATOL)
            if bad.size:
                s = int(bad[0])
                raise UserError(
                    f"T[{s}, {a}, :] sums to {sums[s]:.6g}, not 1: every row of T must be a probability "
                    "vector"
                )
        return mats
    return check_table("T", T, (S, A, S))


# ------------------------------------------------------------------------------------------ metadata


def emission_sources(m: solvers.POMDPModel) -> dict[str, np.ndarray]:
    """The ``(S, O)`` emission matrices: ``"reset"`` (``Z0``) and one per previous action (``Z[a]``)."""
    return {"reset": m.Z0, **{str(a): m.Z[a] for a in range(m.n_actions)}}


def m_step_emission_matrix(m: solvers.POMDPModel, emission: np.ndarray, steps: int) -> np.ndarray:
    """The m-step emission matrix of Liu, Chung, Szepesvári & Jin (COLT 2022), for one emission source.

    Entry ``[(a_1..a_{m-1}, o_1..o_m), s] = P(o_1..o_m | s_1 = s, a_1..a_{m-1})`` where ``o_1`` is drawn
    from ``emission[s]`` (the law set by the previous action, or ``Z0`` at reset) and ``o_{k+1}`` from
    ``Z[a_k]`` after ``T[a_k]``.

    Args:
        m: The model (dense or sparse).
        emission: ``(S, O)`` law of the first observation.
        steps: m ≥ 1.

    Returns:
        ``(A^{m-1}·O^m, S)`` matrix.
    """
    S, A = m.n_states, m.n_actions

    def future(e: np.ndarray, k: int) -> np.ndarray:
        if k == 1:
            return e.T
        blocks = []
        for o in range(e.shape[1]):
            for a in range(A):
                tail = future(m.Z[a], k - 1)  # (rows, S): laws of o_2.. from s_2
                blocks.append(e[:, o][None, :] * np.asarray(m.T[a] @ tail.T).T)
        return np.concatenate(blocks).reshape(-1, S)

    return future(emission, steps)


def revealing_alpha(m: solvers.POMDPModel, steps: int = 1) -> dict[str, float] | None:
    """σ_S of the m-step emission matrix of every emission source (Liu et al. 2022), or ``None`` if too big.

    The POMDP is m-step α-revealing when the minimum over sources is ≥ α > 0 (the agent knows its
    previous action, so each source is a separate condition; "reset" is the step-0 emission).

    Args:
        m: The model.
        steps: m.

    Returns:
        ``{source: σ_S}`` with sources ``"reset"`` and the action ids, or ``None`` when the matrices would
        exceed :data:`ALPHA_MAX_ENTRIES` entries.
    """
    S, A, n_obs = m.n_states, m.n_actions, m.n_observations
    if A ** (steps - 1) * n_obs**steps * S > ALPHA_MAX_ENTRIES:
        return None
    out = {}
    for name, e in emission_sources(m).items():
        M = m_step_emission_matrix(m, e, steps)
        sv = np.linalg.svd(M, compute_uv=False)
        out[name] = float(sv[S - 1]) if sv.size >= S else 0.0
    return out


def observability_gamma(emission: np.ndarray) -> float | None:
    """γ-observability of one emission (Golowich, Moitra & Rohatgi 2023): ``min ‖Eᵀv‖₁ / ‖v‖₁``, Σv = 0.

    Every sum-zero ``v`` is ``p − n`` with ``p, n ≥ 0`` on complementary supports; scaling makes
    ``Σp = Σn = 1`` and ``‖v‖₁ = 2``. For each split of the states (2^(S−1) − 1 up to sign) one linear
    program minimises ``‖Eᵀ(p − n)‖₁`` (``scipy.optimize.linprog``, HiGHS).

    Args:
        emission: ``(S, O)`` observation laws.

    Returns:
        γ in ``[0, 1]``, or ``None`` when ``S > GAMMA_MAX_STATES``.
    """
    S, n_obs = emission.shape
    if np.unique(emission, axis=0).shape[0] < S:
        return 0.0  # two states with the same emission: v = e_i − e_j is invisible
    if S > GAMMA_MAX_STATES:
        return None
    best = np.inf
    for mask in range(1, 2 ** (S - 1)):
        pos = np.array([(mask >> i) & 1 for i in range(S)], dtype=bool)
        D, F = emission[pos].T, emission[~pos].T
        nP, nN = D.shape[1], F.shape[1]
        eye = np.eye(n_obs)
        A_ub = np.block([[D, -F, -eye], [-D, F, -eye]])
        A_eq = np.zeros((2, nP + nN + n_obs))
        A_eq[0, :nP], A_eq[1, nP : nP + nN] = 1.0, 1.0
        c = np.r_[np.zeros(nP + nN), np.ones(n_obs)]
        res = linprog(c, A_ub=A_ub, b_ub=np.zeros(2 * n_obs), A_eq=A_eq, b_eq=[1.0, 1.0], method="highs")
        best = min(best, res.fun / 2.0)
    return float(max(best, 0.0))


# -------------------------------------------------------------------------------------------- the env


class TabularPOMDPEnv(gym.Env[np.int64, np.int64]):
    """A tabular POMDP with a hidden state, reference values and the "V* − return" regret estimator.

    ## Description
    A generic POMDP from arrays (see the module docstring for the conventions and the two forms). The
    families (Tiger, T-maze, RockSample, Heaven/Hell, revealing POMDPs) subclass it and only build arrays.

    ## Action Space
    ``Discrete(A)``.

    ## Observation Space
    ``Discrete(O)``: the current observation only. With ``obs_last_action=True``: ``Discrete(O·(A+1))``,
    the index ``(a_prev + 1)·O + o`` where ``a_prev = −1`` at reset (so ``obs % O`` is the observation and
    ``obs // O − 1`` the previous action).

    ## Rewards
    ``R[s, a]``. ``info`` of every step: ``regret`` (0, except the last step: ``V*(b0) − return``),
    ``optimal_value`` (the reference ``V*(b0)``), ``h`` (the step of the action), ``belief`` (the exact
    Bayes filter of the observations so far), and ``state`` — the hidden state, **for evaluation only, not
    for agents**. The last step adds ``episode_return`` (``Σ γ^t r_t``) and ``episode_regret``. ``reset``'s
    info carries ``state``, ``belief``, ``h`` and ``optimal_value``.

    ## Episode End
    Terminates on entering a terminal state; truncates after ``horizon`` steps (finite form) or
    ``max_steps`` steps (discounted form).

    ## Arguments
    * ``T``, ``Z``, ``R``, ``b0``: the model (see the module docstring); ``Z0`` (``None``: ``Z[0]``).
    * ``horizon`` (``None``: infinite, needs ``discount``), ``discount`` (``None``: undiscounted; else in
      ``[0, 1)``), ``terminal`` (``(S,)`` booleans), ``obs_last_action`` (``False``), ``max_steps``
      (discounted form: episode length, default the smallest N with ``γ^N·max|R|/(1−γ) ≤ 1e-3``),
      ``pbvi_options`` (overrides of the PBVI settings: any of ``n_expansions``, ``max_beliefs``, ``tol``,
      ``max_sweeps``, ``seed``, ``max_seconds``).

    ## Reference
    Kaelbling, Littman & Cassandra, "Planning and acting in partially observable stochastic domains",
    Artificial Intelligence 1998. Reference solvers: :mod:`rl_suite.exact.pomdp`.

    ## Version History
    * v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012  (gym.Env declares an instance attribute)
    #: Gymnasium id of the env (reported by :meth:`solve`).
    env_id: ClassVar[str] = ""
    #: m of the m-step revealing condition reported as ``revealing_alpha``.
    revealing_steps: int = 1
    #: Default PBVI settings of the family (overridden by ``pbvi_options``).
    pbvi_defaults: ClassVar[dict[str, Any]] = {}
    #: Cap on the beliefs of one level of the exact belief tree (finite horizon).
    belief_tree_max_beliefs: ClassVar[int] = 200_000

    def __init__(
        self,
        T: Any,
        Z: Any,
        R: Any,
        b0: Any,
        Z0: Any = None,
        horizon: int | None = 10,
        discount: float | None = None,
        terminal: Any = None,
        obs_last_action: bool = False,
        max_steps: int | None = None,
        pbvi_options: dict[str, Any] | None = None,
        action_names: tuple[str, ...] | None = None,
    ) -> None:
        R = np.asarray(R, dtype=np.float64)
        if R.ndim != 2 or not np.isfinite(R).all():
            raise UserError(f"R must be a finite (S, A) array of rewards, got shape {R.shape}")
        S, A = R.shape
        Tm = _check_transitions(T, S, A)
        Zarr = np.asarray(Z, dtype=np.float64)
        if Zarr.ndim == 2:
            Zarr = np.broadcast_to(Zarr, (A, *Zarr.shape))
        if Zarr.ndim != 3:
            raise UserError(f"Z must have shape (A, S, O) or (S, O), got {Zarr.shape}")
        Zarr = check_table("Z", Zarr, (A, S, Zarr.shape[2]))
        n_obs = Zarr.shape[2]
        Z0arr = Zarr[0] if Z0 is None else check_table("Z0", Z0, (S, n_obs))
        b0arr = check_table("b0", b0, (S,))
        if horizon is not None:
            horizon = check_int("horizon", horizon, 1)
        if discount is None:
            if horizon is None:
                raise UserError(
                    "horizon=None (infinite horizon) needs a discount in [0, 1), got discount=None"
                )
            gamma = 1.0
        else:
            if (
                not isinstance(discount, (bool, np.bool_))
                and isinstance(discount, (int, float, np.integer, np.floating))
                and discount == 1
            ):
                raise UserError(
                    "discount must be in [0, 1), got 1: for γ = 1 (undiscounted, finite horizon) leave "
                    "discount out (discount=None, the default) and set horizon"
                )
            gamma = check_probability("discount", discount, upper_open=True)
        term = np.zeros(S, dtype=bool) if terminal is None else np.asarray(terminal, dtype=bool)
        if term.shape != (S,):
            raise UserError(f"terminal must be {S} booleans, got shape {term.shape}")
        self._model = solvers.make_model(Tm, Zarr, R, b0arr, Z0arr, gamma, horizon, term)
        self._check_terminal(term)
        self.horizon, self.gamma, self.terminal = horizon, gamma, term
        self.n_states, self.n_actions, self.n_observations = S, A, n_obs
        self.max_steps = horizon if horizon is not None else self._truncation(max_steps)
        self.obs_last_action = bool(obs_last_action)
        self.action_names = tuple(action_names) if action_names else tuple(str(a) for a in range(A))
        self._pbvi_options = self._check_pbvi_options(pbvi_options)
        self.action_space = gym.spaces.Discrete(A)
        self.observation_space = gym.spaces.Discrete(n_obs * (A + 1) if self.obs_last_action else n_obs)
        self._solution: dict[str, Any] | None = None
        self._meta: dict[str, Any] | None = None
        self._s: int | None = None
        self._b = b0arr.copy()
        self._h, self._ret, self._disc, self._done = 0, 0.0, 1.0, False

    # ------------------------------------------------------------------------------------- validation

    def _check_terminal(self, terminal: np.ndarray) -> None:
        m = self._model
        for s in np.flatnonzero(terminal):
            stay = [float(m.T[a][s, s]) for a in range(m.n_actions)]
            if min(stay) < 1.0 - TABLE_ATOL or np.abs(m.R[s]).max() > 0:
                raise UserError(
                    f"terminal state {s} must be absorbing (T[{s}, a, {s}] = 1) with zero rewards"
                )

    def _truncation(self, max_steps: int | None) -> int:
        if max_steps is not None:
            return check_int("max_steps", max_steps, 1)
        rmax = float(np.abs(self._model.R).max())
        if self.gamma == 0.0 or rmax == 0.0:
            return 1
        return max(1, math.ceil(math.log(1e-3 * (1 - self.gamma) / rmax) / math.log(self.gamma)))

    def _check_pbvi_options(self, options: dict[str, Any] | None) -> dict[str, Any]:
        opts = dict(self.pbvi_defaults)
        for key, value in (options or {}).items():
            if key not in PBVI_KEYS:
                allowed = ", ".join(PBVI_KEYS)
                raise UserError(f"pbvi_options key {key!r} is not one of {allowed}")
            opts[key] = value
        return opts

    # ---------------------------------------------------------------------------------------- model

    def model(self) -> dict[str, Any]:
        """The exact model for planners (read-only arrays; see the module docstring for conventions).

        Returns:
            ``{"T", "Z", "R", "b0", "Z0", "gamma", "horizon", "terminal", "sparse"}``: ``T`` is ``(S, A, S)``
            when dense and a list of ``A`` sparse ``(S, S)`` matrices (``T[a][s, s']``) when ``sparse``;
            ``Z`` is ``(A, S', O)``; ``gamma`` is 1.0 when undiscounted; ``horizon`` is ``None`` for the
            infinite-horizon form. :func:`rl_suite.exact.pomdp.as_model` accepts this dict.
        """
        m = self._model
        T: Any = list(m.T) if m.sparse else m.dense_T()
        out = {"T": T, "Z": m.Z, "R": m.R, "b0": m.b0, "Z0": m.Z0, "terminal": m.terminal}
        for key in ("Z", "R", "b0", "Z0", "terminal"):
            out[key] = out[key].copy()
            out[key].flags.writeable = False
        if not m.sparse:
            T.flags.writeable = False
        return {**out, "gamma": m.gamma, "horizon": m.horizon, "sparse": m.sparse}

    @property
    def pomdp(self) -> solvers.POMDPModel:
        """The model in the solvers' form."""
        return self._model

    def belief_update(self, belief: np.ndarray, action: int, observation: int) -> np.ndarray:
        """Bayes filter: ``b'(s') ∝ Z[a, s', o] Σ_s b(s) T[s, a, s']``.

        Args:
            belief: ``(S,)`` current belief.
            action: The action taken.
            observation: The observation received.

        Returns:
            ``(S,)`` posterior (the prediction itself if ``o`` had probability 0).
        """
        pred = self._model.predict(np.asarray(belief, dtype=np.float64)[None, :], action)[0]
        post = pred * self._model.Z[action, :, observation]
        total = post.sum()
        return post / total if total > 0 else pred

    # ----------------------------------------------------------------------------------- references

    def _pbvi_beliefs(self) -> np.ndarray | None:
        """Extra PBVI beliefs of the family (e.g. a grid); default none."""
        return None

    def _solve_extra(self) -> dict[str, Any]:
        return {}

    def solve(self) -> dict[str, Any]:
        """Compute (once) and describe the reference values of the env.

        Finite horizon: ``V*`` exact by belief-tree expectimax when the tree fits in
        ``belief_tree_max_beliefs`` beliefs per level, else the PBVI lower bound. Discounted form: the PBVI
        lower bound. The bracket [PBVI, QMDP] is always computed.

        Returns:
            A JSON-serialisable dict: ``env``, sizes, ``horizon``, ``discount``, ``max_steps``,
            ``optimal_value`` (the value the regret uses), ``reference`` (``"belief_tree"`` or ``"pbvi"``),
            ``exact``, ``bracket`` (``lower``/``upper``/``gap``), ``belief_tree`` / ``pbvi`` / ``qmdp``
            (values, sizes, seconds), ``truncation_bias_bound`` (discounted form), ``metadata`` (see
            :meth:`pomdp_metadata`) and the family's own facts.
        """
        if self._solution is None:
            self._solution = self._compute_solution()
        return dict(self._solution)

    def _compute_solution(self) -> dict[str, Any]:
        m = self._model
        qm = solvers.qmdp(m)
        pb = self.pbvi_solution()
        tree: dict[str, Any] | None = None
        if m.horizon is not None:
            try:
                res = solvers.belief_tree_value(m, self.belief_tree_max_beliefs)
                tree = {"value": res.value, "n_beliefs": sum(res.n_beliefs), "seconds": res.seconds}
            except ValueError as err:
                tree = {"skipped": str(err)}
        exact = tree is not None and "value" in tree
        value = tree["value"] if exact and tree is not None else pb.value
        out: dict[str, Any] = {
            "env": self.env_id or type(self).__name__,
            "n_states": self.n_states,
            "n_actions": self.n_actions,
            "n_observations": self.n_observations,
            "horizon": self.horizon,
            "discount": None if self.gamma == 1.0 else self.gamma,
            "max_steps": self.max_steps,
            "optimal_value": float(value),
            "reference": "belief_tree" if exact else "pbvi",
            "exact": exact,
            "bracket": {"lower": pb.value, "upper": qm.value, "gap": qm.value - pb.value},
            "belief_tree": tree,
            "pbvi": {
                "value": pb.value,
                "n_beliefs": int(pb.beliefs.shape[0]),
                "n_alphas": int(pb.alphas.shape[0]),
                "sweeps": pb.sweeps,
                "converged": pb.converged,
                "seconds": pb.seconds,
                "expand_seconds": pb.expand_seconds,
                "options": {k: v for k, v in self._pbvi_options.items()},
            },
            "qmdp": {"value": qm.value, "seconds": qm.seconds},
            "metadata": self.pomdp_metadata(),
        }
        if self.horizon is None:
            rmax = float(np.abs(m.R).max())
            out["truncation_bias_bound"] = self.gamma**self.max_steps * rmax / (1 - self.gamma)
        out.update(self._solve_extra())
        return out

    def pbvi_solution(self) -> solvers.PBVIResult:
        """The PBVI solution with the family's settings: α-vectors and their actions (computed once).

        :meth:`solve` reports its value as the lower end of the bracket; planners (the ``belief-planner``
        agent) act with its α-vectors.
        """
        cached = getattr(self, "_pbvi", None)
        if cached is None:
            cached = solvers.pbvi(self._model, beliefs=self._pbvi_beliefs(), **self._pbvi_options)
            self._pbvi = cached
        return cached

    def optimal_value(self) -> float:
        """The reference ``V*(b0)`` that the regret uses (see :meth:`solve`)."""
        return float(self.solve()["optimal_value"])

    def policy_value(self, policy: solvers.HistoryPolicy | Any) -> float:
        """Exact expected return of a deterministic policy.

        Args:
            policy: A history policy, mapping ``(o_0, a_0, o_1, ..., a_{t-1}, o_t)`` (model observations,
                not the ``obs_last_action`` encoding) to an action — evaluated by branching on observations
                over ``horizon`` steps (discounted form: ``max_steps`` steps, refused beyond 10⁶ live
                histories) — or an ``(O,)`` array of actions, a memoryless policy, evaluated exactly for
                both forms (discounted: the infinite-horizon value) by
                :func:`~rl_suite.exact.pomdp.evaluate_memoryless_policy`.

        Returns:
            ``E[Σ_t γ^t r_t]``.

        Raises:
            UserError: The policy returns an action outside ``[0, A)`` or the history tree is too big.
        """
        try:
            if callable(policy):
                return solvers.evaluate_history_policy(self._model, policy, self.max_steps)
            return solvers.evaluate_memoryless_policy(self._model, policy)
        except ValueError as err:
            raise UserError(str(err)) from None

    def decode_observation(self, obs: Any) -> int:
        """The model observation ``o`` of an env observation (strips the ``obs_last_action`` encoding)."""
        o = int(np.asarray(obs).reshape(-1)[0])
        return o % self.n_observations if self.obs_last_action else o

    def pseudo_regret(
        self, policy: Any, max_branches: int = 100_000, window: int | None = None
    ) -> float | None:
        """Exact pseudo-regret ``V*(b0) − V^π(b0)`` of a deterministic history policy.

        This is the evaluation hook of learners whose policy is fixed within an episode (``window-ucbvi``,
        ``omle-lite``, ``belief-planner``): the value is computed by branching on observations
        (:func:`~rl_suite.exact.pomdp.evaluate_history_policy`; discounted form: truncated at
        ``max_steps``), not estimated from returns.

        Args:
            policy: ``(o_0, a_0, ..., o_t) -> action`` in model observations; with ``window = w``, a
                finite-window policy ``(h, x_h) -> action`` evaluated per window
                (:func:`~rl_suite.exact.pomdp.evaluate_window_policy`, no branch limit).
            max_branches: Largest number of live histories; beyond it the evaluation is given up.
            window: ``w`` of a finite-window policy, or ``None`` for a history policy.

        Returns:
            The pseudo-regret, or ``None`` when the history tree has more than ``max_branches`` live
            histories (then every later call returns ``None`` at once, so a too-big env costs one try).
        """
        if getattr(self, "_exact_too_big", False):
            return None
        try:
            if window is not None:
                return self.optimal_value() - solvers.evaluate_window_policy(
                    self._model, policy, window, self.max_steps
                )
            value = solvers.evaluate_history_policy(self._model, policy, self.max_steps, max_branches)
        except ValueError as err:
            if "max_branches" not in str(err):
                raise UserError(str(err)) from None
            self._exact_too_big = True
            return None
        return self.optimal_value() - value

    def pomdp_metadata(self) -> dict[str, Any]:
        """Learnability metadata of the POMDP (cached; ``None`` where too expensive to compute).

        The α of weakly-revealing POMDPs (Liu, Chung, Szepesvári & Jin, COLT 2022) and the γ of γ-observable
        POMDPs (Golowich, Moitra & Rohatgi, STOC 2023).

        Returns:
            ``revealing_alpha`` (min over emission sources of σ_S of the ``revealing_steps``-step emission
            matrix), ``revealing_steps``, ``revealing_alpha_per_source`` (1-step, per source: ``reset`` and
            each action's name), ``observability_gamma`` (min over sources) and
            ``observability_gamma_per_source``.
        """
        if self._meta is None:
            m = self._model
            names = {"reset": "reset", **{str(a): n for a, n in enumerate(self.action_names)}}
            one = _safe(revealing_alpha, m, 1)
            mm = one if self.revealing_steps == 1 else _safe(revealing_alpha, m, self.revealing_steps)
            cache: dict[bytes, float | None] = {}
            gam = {}
            for k, e in emission_sources(m).items():
                key = e.tobytes()
                if key not in cache:  # action-independent emissions: one LP family, not A + 1
                    cache[key] = observability_gamma(e)
                gam[names[k]] = cache[key]
            known = [g for g in gam.values() if g is not None]  # None: too many states to compute γ
            self._meta = {
                "revealing_steps": self.revealing_steps,
                "revealing_alpha": None if mm is None else min(mm.values()),
                "revealing_alpha_per_source": None if one is None else {names[k]: v for k, v in one.items()},
                "observability_gamma": min(known) if len(known) == len(gam) else None,
                "observability_gamma_per_source": None if None in gam.values() else gam,
            }
        return dict(self._meta)

    # --------------------------------------------------------------------------------- Gymnasium API

    def _encode(self, o: int, a_prev: int) -> np.int64:
        return np.int64((a_prev + 1) * self.n_observations + o if self.obs_last_action else o)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.int64, dict[str, Any]]:
        """Start an episode: seed ``self.np_random`` (if given), draw ``s_0 ~ b0`` and ``o_0 ~ Z0[s_0]``.

        The first call computes the reference values (:meth:`solve`), which may take a while for big models.

        Args:
            seed: Seed of the episode stream.
            options: Unused.

        Returns:
            The first observation and info with ``state`` (hidden; evaluation only), ``belief``
            (``b0 | o_0``), ``h`` (0) and ``optimal_value``.
        """
        super().reset(seed=seed)
        v = self.optimal_value()
        u = self.np_random.random(2)
        m = self._model
        s = sample_index(m.b0, float(u[0]))
        o = sample_index(m.Z0[s], float(u[1]))
        b = m.b0 * m.Z0[:, o]
        self._s, self._b = s, b / b.sum()
        self._h, self._ret, self._disc, self._done = 0, 0.0, 1.0, False
        return self._encode(o, -1), {"state": s, "belief": self._b.copy(), "h": 0, "optimal_value": v}

    def _next_state(self, s: int, a: int, u: float) -> int:
        T = self._model.T[a]
        if sp.issparse(T):
            lo, hi = T.indptr[s], T.indptr[s + 1]
            return int(T.indices[lo + sample_index(T.data[lo:hi], u)])
        return sample_index(T[s], u)

    def step(self, action: Any) -> tuple[np.int64, float, bool, bool, dict[str, Any]]:
        """Take one action.

        Args:
            action: An integer in ``[0, A)``.

        Returns:
            ``(obs, reward, terminated, truncated, info)``; see the class docstring for ``info``.

        Raises:
            UserError: The action is outside the action space, :meth:`reset` was not called, or the
                episode is over.
        """
        if self._s is None:
            raise UserError("call reset() before step()")
        if self._done:
            raise UserError(f"the episode is over after {self._h} steps; call reset()")
        a = discrete_action(action, self.n_actions)
        m = self._model
        u = self.np_random.random(2)
        s, h = self._s, self._h
        s2 = self._next_state(s, a, float(u[0]))
        o = sample_index(m.Z[a, s2], float(u[1]))
        reward = float(m.R[s, a])
        self._ret += self._disc * reward
        self._disc *= self.gamma
        self._h, self._s = h + 1, s2
        self._b = self.belief_update(self._b, a, o)
        terminated = bool(self.terminal[s2])
        truncated = not terminated and self._h >= self.max_steps
        v = self.optimal_value()
        info: dict[str, Any] = {
            "state": s2,
            "belief": self._b.copy(),
            "h": h,
            "optimal_value": v,
            "regret": 0.0,
        }
        if terminated or truncated:
            self._done = True
            info.update(episode_return=self._ret, episode_regret=v - self._ret, regret=v - self._ret)
        return self._encode(o, a), reward, terminated, truncated, info

    # ------------------------------------------------------------------------------------------ state

    def _timed_reference(self) -> bool:
        """Whether the reference values come from a PBVI run cut by its wall-time cap (not reproducible)."""
        pb: solvers.PBVIResult | None = getattr(self, "_pbvi", None)
        timed = self.horizon is None and self._pbvi_options.get("max_seconds") is not None
        return timed and self._solution is not None and pb is not None and not pb.converged

    def get_state(self) -> State:
        """The env's dynamic state as plain data (see :class:`rl_suite.state.StatefulEnv`).

        Entries: ``rng`` (``np_random``), ``s`` (the hidden state, ``None`` before the first reset),
        ``belief``, ``h``, ``ret`` and ``disc`` (the episode's discounted return so far and the current
        discount), ``done``, and ``reference``: ``None``, except when the reference values came from a PBVI
        run stopped by its ``max_seconds`` cap — a result that depends on wall time, so it is saved (the
        :meth:`solve` dict and the PBVI α-vectors) and the regret keeps the same ``V*``. Otherwise the
        model and its reference values are rebuilt by the constructor and the first reset.

        ``set_state(get_state())`` on an env made with the same constructor arguments, after one
        ``reset()``, makes every later step bit-identical to this env's (observations, rewards,
        ``terminated``, ``truncated`` and every ``info`` value), also in the middle of an episode.
        """
        reference = None
        if self._timed_reference():
            pb = self._pbvi
            reference = {
                "solution": plain_copy(self._solution),
                "pbvi": {
                    "value": pb.value,
                    "alphas": pb.alphas.copy(),
                    "actions": pb.actions.copy(),
                    "beliefs": pb.beliefs.copy(),
                    "sweeps": pb.sweeps,
                    "converged": pb.converged,
                    "seconds": pb.seconds,
                    "expand_seconds": pb.expand_seconds,
                },
            }
        return plain_copy(
            {
                "rng": rng_state(self.np_random),
                "s": self._s,
                "belief": self._b,
                "h": self._h,
                "ret": self._ret,
                "disc": self._disc,
                "done": self._done,
                "reference": reference,
            }
        )

    def set_state(self, state: State) -> None:
        """Restore a :meth:`get_state` of an env built with the same arguments; see there for the contract.

        Raises:
            StateError: The state does not fit this env (a missing entry, a wrong type or shape, a state or
                step out of range); nothing is changed then.
        """
        S = self.n_states
        pbvi = {
            "value": number(),
            "alphas": array((None, S)),
            "actions": array((None,), np.int64, 0, self.n_actions),
            "beliefs": array((None, S)),
            "sweeps": integer(0),
            "converged": flag(),
            "seconds": number(),
            "expand_seconds": number(),
        }
        checks = {
            "rng": generator_state(type(self.np_random.bit_generator).__name__),
            "s": optional(integer(0, S)),
            "belief": array((S,)),
            "h": integer(0, self.max_steps + 1),
            "ret": number(),
            "disc": number(),
            "done": flag(),
            "reference": optional(mapping({"solution": _solution_dict, "pbvi": mapping(pbvi)})),
        }
        values = check_state(state, checks, type(self).__name__)
        set_rng_state(self.np_random, values["rng"])
        self._s, self._b, self._h = values["s"], values["belief"], values["h"]
        self._ret, self._disc, self._done = values["ret"], values["disc"], values["done"]
        reference = values["reference"]
        if reference is not None:
            self._solution = reference["solution"]
            self._pbvi = solvers.PBVIResult(**reference["pbvi"])


def _solution_dict(value: Any, path: str) -> dict[str, Any]:
    """A saved :meth:`TabularPOMDPEnv.solve` dict: plain values, with a numeric ``optimal_value``."""
    if not isinstance(value, dict):
        raise StateError(f"{path} must be a mapping, got {type(value).__name__}")
    optimal = value.get("optimal_value")
    if isinstance(optimal, bool) or not isinstance(optimal, (int, float)):
        raise StateError(f"{path}.optimal_value must be a number, got {type(optimal).__name__}")
    return {**plain_copy(value), "optimal_value": float(optimal)}


def _safe(fn: Any, *args: Any) -> Any:
    """Call a metadata function; ``None`` if it fails numerically (e.g. an SVD that does not converge)."""
    try:
        return fn(*args)
    except np.linalg.LinAlgError:
        return None
