"""Window-UCBVI: UCBVI on the last ``w`` observation–action pairs of a POMDP (a finite-memory agent).

The agent's state at step h is the window ``x_h = (o_{h−w}, a_{h−w}, …, a_{h−1}, o_h)`` (shorter at the
start of an episode; ``w = 0`` is the current observation only). It runs UCBVI with the Hoeffding bonus
(Azar, Osband & Munos, ICML 2017, UCBVI-CH) on windows as if they were Markov states: counts
``N(x, a)``, ``N(x, a, x')`` and reward sums give ``R̂`` and ``P̂``, and after every episode, for
h = H−1 … 0,

    Q_h(x, a) = min(R̂(x, a) + γ·P̂(·|x, a)·V_{h+1} + b_h(x, a),  V^max_h),   V_h = max_a Q_h,
    b_h(x, a) = c · span · (H − h) · sqrt(L / N(x, a)),   L = ln(2·X·A·H·K/δ),

with ``span = max R − min R`` and ``V^max_h = Σ_{t<H−h} γ^t·max R`` (rewards are not in [0, 1] here, so
the bonus is scaled by the reward span); unvisited pairs get ``V^max_h``. ``X`` is the number of windows
seen so far. Terminations lead to a value-0 end state.

With ``time_indexed`` the state is ``(h, x_h)`` and every step has its own model. The window process is
not stationary: on Tiger the first observation of an episode is uninformative and a later one is not, and
a deterministic policy can use ``h`` to know what the window's oldest observation followed. The stationary
model (the default) pools windows across steps and learns faster per window; the time-indexed one can
reach better window policies (Tiger H = 10, w = 1: regret 7.5 against 19.4 for the stationary model;
:func:`~rl_suite.exact.pomdp.best_window_policy` bounds what any window-w policy can reach).

Why windows: in γ-observable POMDPs the belief forgets its start, so near-optimal policies depend on the
last L observations only (Golowich, Moitra & Rohatgi, STOC 2023); a window agent closes the
memory gap only when ``w`` covers the memory the task needs (T-maze: ``w ≥ L``).

Exact pseudo-regret. The Q-table changes only between episodes and ties are broken by a hash of
(seed, episode, window), so the policy of episode k is a deterministic function of the history. After every
re-plan its value is computed exactly by branching on observations
(:meth:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv.pseudo_regret`) and recorded in
``pseudo_regrets`` and :meth:`WindowUCBVI.diagnostics` (``summary.json`` →
``agent_diagnostics.exact_pseudo_regret``). The env's ``info["regret"]`` stays the realised "V* − return"
of every episode, the curve all agents (SB3 included) share.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, EpisodicAgent
from rl_suite.agents.kernels import ucbvi_hoeffding_bonus
from rl_suite.contracts import TabularPOMDP
from rl_suite.errors import UserError
from rl_suite.exact.tabular import optimistic_backward_induction

#: Window id of the end state (after a termination); its value is 0.
END = 0


class WindowUCBVIConfig(AgentConfig):
    """Settings of Window-UCBVI."""

    window: int = Field(1, ge=0, le=32)
    """w: past (observation, action) pairs in the state; 0 is the current observation only."""
    bonus_scale: float = Field(1.0, ge=0.0)
    """c of the Hoeffding bonus (1 is UCBVI-CH's; smaller values explore less)."""
    delta: float = Field(0.05, gt=0.0, lt=1.0)
    """Failure probability in the log term."""
    horizon_episodes: int = Field(1000, ge=1)
    """K in the log term ``ln(2XAHK/δ)``."""
    reward_span: float | Literal["auto"] = "auto"
    """``max R − min R`` scaling the bonus; ``auto`` reads the env's reward table."""
    time_indexed: bool = False
    """States are ``(h, x_h)``: a separate model per step (the window process is not stationary)."""
    exact_regret: bool = True
    """Evaluate each episode's policy exactly (skipped for good once the history tree is too big)."""


def window_of(history: tuple[int, ...], window: int) -> tuple[int, ...]:
    """The last ``window`` (observation, action) pairs and the current observation of a history."""
    return history[-(2 * window + 1) :]


class WindowUCBVI(EpisodicAgent[WindowUCBVIConfig]):
    """UCBVI-CH on finite windows of the observation–action history of a tabular POMDP.

    References: Azar, Osband & Munos, "Minimax Regret Bounds for Reinforcement Learning", ICML 2017
    (UCBVI-CH); Golowich, Moitra & Rohatgi, "Planning and Learning in Partially Observable Systems via
    Filter Stability", STOC 2023 (why finite windows suffice in observable POMDPs).
    """

    Config = WindowUCBVIConfig
    requires = TabularPOMDP

    def _init_state(self) -> None:
        cfg = self.config
        self._init_counters()
        self.pomdp_env = self.contract(TabularPOMDP)
        m = self.pomdp_env.pomdp
        self.H, self.A, self.gamma = int(self.pomdp_env.max_steps), m.n_actions, float(m.gamma)
        rmax, rmin = float(m.R.max()), float(m.R.min())
        self.span = rmax - rmin if cfg.reward_span == "auto" else float(cfg.reward_span)
        if self.span <= 0:
            raise UserError(f"window-ucbvi: reward_span must be > 0, got {self.span}")
        disc = self.gamma ** np.arange(self.H)
        #: V^max_h = Σ_{t < H−h} γ^t·max R, for h = 0 .. H (V^max_H = 0).
        self.vmax = np.append(np.cumsum(disc[::-1])[::-1] * max(rmax, 0.0), 0.0)
        self.ids: dict[tuple[int, ...], int] = {(): END}
        self.counts = np.zeros((1, self.A))
        self.rew_sum = np.zeros((1, self.A))
        self.trans = np.zeros((0, 3), dtype=np.int64)
        self.trans_n = np.zeros(0)
        self._trans_index: dict[tuple[int, int, int], int] = {}
        self.Q = np.zeros((self.H, 1, self.A))
        self.history = np.zeros(0, dtype=np.int64)
        self.pseudo_regrets = np.zeros(0)
        self.state_keys = (
            "counts", "rew_sum", "trans", "trans_n", "Q", "history", "pseudo_regrets", "episodes", "step_h"
        )  # fmt: skip
        self._plan()
        self._evaluate()

    # ------------------------------------------------------------------ windows and counts
    def _id(self, window: tuple[int, ...]) -> int:
        """The id of a window, allocating a new row of counts when it is new."""
        i = self.ids.get(window)
        if i is None:
            i = self.ids[window] = len(self.ids)
            if i >= self.counts.shape[0]:
                grow = np.zeros_like(self.counts)
                self.counts = np.concatenate([self.counts, grow])
                self.rew_sum = np.concatenate([self.rew_sum, grow])
        return i

    def _count(self, x: int, a: int, x2: int, reward: float) -> None:
        self.counts[x, a] += 1.0
        self.rew_sum[x, a] += reward
        key = (x, a, x2)
        k = self._trans_index.get(key)
        if k is None:
            k = self._trans_index[key] = len(self._trans_index)
            if k >= self.trans.shape[0]:
                self.trans = np.concatenate([self.trans, np.zeros((max(64, k), 3), dtype=np.int64)])
                self.trans_n = np.concatenate([self.trans_n, np.zeros(max(64, k))])
            self.trans[k] = key
        self.trans_n[k] += 1.0

    # ------------------------------------------------------------------ ALGO LOGIC: optimistic planning
    def _plan(self) -> None:
        """Optimistic backward induction on the empirical window model (UCBVI-CH)."""
        cfg = self.config
        n_x = len(self.ids)
        K = len(self._trans_index)
        src, act, dst = self.trans[:K, 0], self.trans[:K, 1], self.trans[:K, 2]
        w = self.trans_n[:K]
        log_term = math.log(2 * max(n_x, 1) * self.A * self.H * cfg.horizon_episodes / cfg.delta)
        self._cache: dict[tuple[int, tuple[int, ...]], int] = {}

        def next_sums(g: int, V: np.ndarray) -> np.ndarray:
            """``Σ_x2 N(x, a, x2)·V(x2)`` over the sparse transition counts, ``(n_x, A)``."""
            out = np.zeros(n_x * self.A)
            np.add.at(out, src * self.A + act, w * V[dst])
            return out.reshape(n_x, self.A)

        self.Q = optimistic_backward_induction(
            self.counts[None, :n_x],
            self.rew_sum[None, :n_x],
            next_sums,
            lambda h, n: ucbvi_hoeffding_bonus(n, self.H - h, log_term, cfg.bonus_scale, self.span),
            caps=self.vmax[: self.H],
            gamma=self.gamma,
            zero_state=END,
        )

    def _choose(self, h: int, window: tuple[int, ...]) -> int:
        """Greedy action on ``Q_h``; ties broken by a hash of (seed, episode, window) — deterministic.

        Memoised per ``(h, window)`` until the next re-plan (the exact evaluation asks for every history).
        """
        key = (h, window)
        a = self._cache.get(key)
        if a is None:
            a = self._cache[key] = self._greedy(h, window)
        return a

    def _key(self, h: int, window: tuple[int, ...]) -> tuple[int, ...]:
        """The state of window ``x_h`` at step h: ``(h, *x_h)`` when time-indexed, else ``x_h``."""
        return (h, *window) if self.config.time_indexed else window

    def _greedy(self, h: int, window: tuple[int, ...]) -> int:
        x = self.ids.get(self._key(h, window))
        known = x is not None and x < self.Q.shape[1]  # windows first seen this episode are not planned
        q = self.Q[h, x] if known else np.full(self.A, self.vmax[h])
        best = np.flatnonzero(q >= q.max() - 1e-12)
        if best.size == 1:
            return int(best[0])
        return int(best[hash((self.seed, int(self.episodes[0]), window)) % best.size])

    def history_policy(self, history: tuple[int, ...]) -> int:
        """The action of the current episode's policy after ``(o_0, a_0, ..., o_t)`` (exact evaluation)."""
        return self._choose(len(history) // 2, window_of(history, self.config.window))

    # ------------------------------------------------------------------ the episodic loop
    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        if h == 0:
            self.history = np.array([self.pomdp_env.decode_observation(obs)], dtype=np.int64)
        return self._choose(h, tuple(int(v) for v in self.history))

    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        w = self.config.window
        x = self._id(self._key(h, tuple(int(v) for v in self.history)))
        o = self.pomdp_env.decode_observation(next_obs)
        longer = np.append(self.history, (action, o))
        self.history = longer[-(2 * w + 1) :]
        terminated = done and h < self.H - 1
        x2 = END if terminated else self._id(self._key(h + 1, tuple(int(v) for v in self.history)))
        self._count(x, action, x2, reward)
        if done:
            self._plan()
            self._evaluate()

    def _evaluate(self) -> None:
        """Record the exact pseudo-regret of the policy the next episode plays (branching on observations)."""
        if not self.config.exact_regret:
            return
        r = self.pomdp_env.pseudo_regret(self._choose, window=self.config.window)
        if r is not None:
            self.pseudo_regrets = np.append(self.pseudo_regrets, r)

    def diagnostics(self) -> dict[str, float]:
        """``exact_pseudo_regret`` (sum over finished episodes), ``exact_episodes`` and ``windows`` seen."""
        done = self.pseudo_regrets[: int(self.episodes[0])]
        return {
            "exact_pseudo_regret": float(done.sum()),
            "exact_episodes": float(done.size),
            "windows": float(len(self.ids) - 1),
        }

    # ------------------------------------------------------------------ save / load
    def _extra_arrays(self) -> dict[str, np.ndarray]:
        keys = sorted(self.ids.items(), key=lambda kv: kv[1])
        width = 2 * self.config.window + 2  # room for the step of a time-indexed state
        table = np.full((len(keys), width), -1, dtype=np.int64)
        for window, i in keys:
            table[i, : len(window)] = window
        return {"window_table": table}

    def _load_extra_arrays(self, data: Any) -> None:
        table = data["window_table"]
        self.ids = {tuple(int(v) for v in row if v >= 0): i for i, row in enumerate(table)}
        K = int(np.count_nonzero(self.trans_n))
        self._trans_index = {(int(x), int(a), int(x2)): k for k, (x, a, x2) in enumerate(self.trans[:K])}
        self._cache = {}  # Q is restored as saved: the plan of the episode in progress
