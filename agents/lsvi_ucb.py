"""LSVI-UCB: least-squares value iteration with an optimistic bonus, for linear MDPs.

Jin, Yang, Wang & Jordan, "Provably Efficient Reinforcement Learning with Linear Function Approximation",
COLT 2020: regret Õ(√(d³H³T)). Before every episode, for h = H−1 … 0,

    Λ_h = λI + Σ_τ φ_τ φ_τᵀ,   w_h = Λ_h⁻¹ Σ_τ φ_τ [r_τ + V_{h+1}(s'_τ)],
    Q_h(s, a) = w_hᵀφ(s, a) + β‖φ(s, a)‖_{Λ_h⁻¹},   V_h(s) = max_a min(Q_h(s, a), H − h),

then act greedily on Q_h during the episode. Implementation choices (rl_suite's unless attributed):

* Λ⁻¹ by Sherman–Morrison (``refresh_every`` re-inverts exactly);
* **finite-state sufficient statistics** when observations are ``Discrete(S)``: ``b_r = Σ φ r`` and
  ``M = Σ φ e_{s'}ᵀ`` make the target sum ``b_r + M V_{h+1}``, so an episode costs O(H(SAd² + dS)) however
  many episodes came before (the paper form grows linearly with k). ``path="generic"`` keeps the paper's
  form (stored ``φ(s'_τ, ·)``) for any observation space; both give the same regret;
* ``stationary`` pools the statistics of all steps when the env's P and r do not depend on h (one Λ);
* clipping only inside the backup, acting on the unclipped Q with random tie-breaking (acting on the
  clipped Q makes every action tie at the cap and exploration stalls);
* bonuses: ``"hoeffding"`` β√q (the paper) or ``"bernstein"`` β√q + H·q (rlberry's simplified Bernstein),
  ``q = φᵀΛ⁻¹φ``; ``beta="theory"`` is ``d·H·sqrt(log(2dT/δ))`` (far too conservative for demos).

With ``epsilon > 0`` and ``beta = 0`` it is ε-greedy LSVI, the baseline without optimism (:class:`EpsLSVI`).
Features come from the env: ``env.unwrapped.features`` ``(S, A, d)`` or ``(H, S, A, d)``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, EpisodicAgent
from rl_suite.agents.kernels import ridge_inverse, sherman_morrison
from rl_suite.contracts import BlockMDPDecoder, FiniteMDPModel, LinearMDPModel, Requirement
from rl_suite.errors import UserError


class LSVIUCBConfig(AgentConfig):
    """Settings of LSVI-UCB; the defaults (β = 1, pooled when stationary) are practical, not theoretical."""

    lam: float = Field(1.0, gt=0.0)
    """Ridge λ of every Gram matrix."""
    beta: float | Literal["theory"] = 1.0
    """Bonus scale β ≥ 0, or ``"theory"`` = d·H·sqrt(log(2dT/δ)) with T = ``horizon_episodes``·H."""
    bonus: Literal["hoeffding", "bernstein"] = "hoeffding"
    """``"hoeffding"``: β√q (Jin et al.); ``"bernstein"``: β√q + H·q (rlberry's simplified Bernstein)."""
    delta: float = Field(0.05, gt=0.0, lt=1.0)
    """Failure probability of ``beta="theory"``."""
    horizon_episodes: int = Field(1000, ge=1)
    """K used by ``beta="theory"`` (T = K·H)."""
    stationary: bool | Literal["auto"] = "auto"
    """Pool the statistics of all steps (one Λ); ``"auto"`` reads ``env.unwrapped.stationary``."""
    path: Literal["auto", "finite", "generic"] = "auto"
    """``"finite"``: sufficient statistics over a finite state space; ``"generic"``: the paper's stored
    transitions; ``"auto"``: finite when observations are ``Discrete(S)``."""
    epsilon: float = Field(0.0, ge=0.0, le=1.0)
    """Probability of a uniformly random action (ε-greedy LSVI with β = 0)."""
    refresh_every: int = Field(0, ge=0)
    """Re-invert every Gram matrix exactly every this many episodes (0: never)."""
    decoder: Literal["none", "oracle"] = "none"
    """``"oracle"``: on a rich-observation block MDP, act on the latent state the env's own decoder
    (``env.unwrapped.decode``) reads from each observation, with one-hot features φ(z, a) per step — the
    oracle-latent reference for representation learners such as BRIEE (Zhang et al., ICML 2022)."""


def _positive(value: Any, name: str) -> int:
    if value is None or int(value) < 1:
        raise UserError(f"LSVI-UCB needs env.unwrapped.{name} (a positive integer), got {value!r}")
    return int(value)


class LSVIUCB(EpisodicAgent[LSVIUCBConfig]):
    """LSVI-UCB on a linear MDP with known features (and ε-greedy LSVI with ``beta=0, epsilon>0``).

    Reference: Jin, Yang, Wang & Jordan, COLT 2020, Algorithm 1.

    Needs an episodic env that exposes ``features`` (``(S, A, d)`` or ``(H, S, A, d)``), ``horizon`` and
    ``Discrete(S)`` observations (``rl_suite/SimplexLinearMDP-v0``, ``rl_suite/LinearChainLock-v0``). One
    stream (a single env).
    """

    # Annotated: BRIEE-lite (a subclass) has its own settings model, not an LSVIUCBConfig.
    Config: ClassVar[type[AgentConfig]] = LSVIUCBConfig
    #: Known features, or (with ``decoder='oracle'``) a block MDP's decoder.
    requires: ClassVar[Requirement] = (LinearMDPModel, BlockMDPDecoder)

    def _init_state(self) -> None:
        cfg = self.config
        self._init_counters()
        self._decode = None
        model: FiniteMDPModel
        if cfg.decoder == "oracle":
            block = self.contract(BlockMDPDecoder, "decoder='oracle'")
            block.decode(self.observation_space.sample())  # fails now, in one line, if the env cannot decode
            self._decode = block.decode
            S_lat, A = int(block.n_states), self.n_arms
            onehot = np.eye(S_lat * A).reshape(S_lat, A, S_lat * A)
            feats = np.broadcast_to(onehot, (int(block.horizon), S_lat, A, S_lat * A))
            model = block
        else:
            linear = self.contract(LinearMDPModel)
            feats = linear.features
            model = linear
        H = _positive(model.horizon, "horizon")
        feats = np.asarray(feats, dtype=np.float64)
        if feats.ndim == 3:
            feats = np.broadcast_to(feats, (H, *feats.shape))
        if feats.ndim != 4 or feats.shape[0] != H:
            raise UserError(f"features must be (S, A, d) or (H={H}, S, A, d), got {feats.shape}")
        #: ``(H, S, A, d)`` features.
        self.features = feats
        self.H, self.S, self.A, self.d = (int(x) for x in feats.shape)
        if self.A != self.n_arms:
            raise UserError(f"features have {self.A} actions but the action space has {self.n_arms}")
        stationary = model.stationary if cfg.stationary == "auto" else cfg.stationary
        self.pooled = bool(stationary)
        finite = isinstance(self.observation_space, gym.spaces.Discrete) or self._decode is not None
        if cfg.path == "finite" and not finite:
            raise UserError(f"path='finite' needs Discrete(S) observations, got {self.observation_space}")
        self.finite = finite if cfg.path == "auto" else cfg.path == "finite"
        if cfg.beta == "theory":
            T = cfg.horizon_episodes * self.H
            self.beta = self.d * self.H * math.sqrt(math.log(2 * self.d * T / cfg.delta))
        else:
            self.beta = float(cfg.beta)
        G = 1 if self.pooled else self.H
        self.Linv = np.broadcast_to(np.eye(self.d) / cfg.lam, (G, self.d, self.d)).copy()
        self.gram = np.broadcast_to(np.eye(self.d) * cfg.lam, (G, self.d, self.d)).copy()
        self.b_r = np.zeros((G, self.d))
        self.M = np.zeros((G, self.d, self.S))
        #: Generic path: every transition's group, φ(s, a), reward and φ(s', ·).
        self.gen_group = np.zeros(0, dtype=np.int64)
        self.gen_phi = np.zeros((0, self.d))
        self.gen_rew = np.zeros(0)
        self.gen_next = np.zeros((0, self.A, self.d))
        self.Q = np.zeros((self.H, self.S, self.A))
        self._pending: list[tuple[int, np.ndarray, float, np.ndarray]] = []
        self.state_keys = (
            "Linv",
            "gram",
            "b_r",
            "M",
            "gen_group",
            "gen_phi",
            "gen_rew",
            "gen_next",
            "episodes",
            "step_h",
            "Q",
        )
        self._plan()

    # ------------------------------------------------------------------ planning
    def _group(self, h: int) -> int:
        return 0 if self.pooled else h

    def _optimistic(self, g: int, phi: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``(..., A)`` optimistic Q of features ``phi`` ``(..., A, d)`` with weights w and group g's Λ⁻¹."""
        Q = phi @ w
        if self.beta > 0 or self.config.bonus == "bernstein":
            # Not kernels.ucb_width: its matmul + vecdot sums in another order than this einsum, which would
            # change the bits of Q (and the Bernstein term needs q itself, not the width squared).
            q = np.maximum(np.einsum("...ad,de,...ae->...a", phi, self.Linv[g], phi), 0.0)
            Q = Q + self.beta * np.sqrt(q)
            if self.config.bonus == "bernstein":
                Q = Q + self.H * q
        return Q

    def _plan(self) -> None:
        """Backward least-squares value iteration with optimism: fills ``self.Q`` (H, S, A)."""
        V_next = np.zeros(self.S)
        w_next: np.ndarray | None = None
        for h in range(self.H - 1, -1, -1):
            g = self._group(h)
            if self.finite:
                target = self.b_r[g] + self.M[g] @ V_next
            else:
                sel = self.gen_group == g
                values = np.zeros(int(sel.sum()))
                if w_next is not None and values.size:
                    q_next = self._optimistic(self._group(h + 1), self.gen_next[sel], w_next)
                    values = np.minimum(q_next, self.H - h - 1).max(axis=1)
                target = self.gen_phi[sel].T @ (self.gen_rew[sel] + values)
            w = self.Linv[g] @ target
            self.Q[h] = self._optimistic(g, self.features[h], w)
            V_next = np.minimum(self.Q[h], self.H - h).max(axis=1)  # clip only inside the backup
            w_next = w

    # ------------------------------------------------------------------ acting and learning
    def _state(self, obs: Any) -> int:
        """The state index of an observation (the decoded latent state with ``decoder="oracle"``)."""
        if self._decode is not None:
            return int(self._decode(obs))
        return int(np.asarray(obs).reshape(-1)[0])

    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        # ALGO LOGIC: greedy on the unclipped optimistic Q of this step (ε-greedy when epsilon > 0).
        s = self._state(obs)
        if not deterministic and self.config.epsilon > 0 and self.rng.random() < self.config.epsilon:
            return int(self.rng.integers(self.A))
        return int(self._argmax(self.Q[h, s][None], "first" if deterministic else "random")[0])

    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        # ALGO LOGIC: rank-one Gram update and sufficient statistics; re-plan at the end of the episode.
        s, s_next = self._state(obs), self._state(next_obs)
        g = self._group(h)
        x = self.features[h, s, action]
        self.Linv[g] = sherman_morrison(self.Linv[g], x)[0]
        self.gram[g] += np.outer(x, x)
        self.b_r[g] += reward * x
        self.M[g][:, s_next] += x
        if not self.finite:  # the paper's form keeps every transition (flushed once per episode)
            self._pending.append((g, x, reward, self.features[min(h + 1, self.H - 1), s_next]))
        if done:
            self._flush()
            every = self.config.refresh_every
            if every and int(self.episodes[0]) % every == 0:
                self.Linv = ridge_inverse(self.gram)
            self._plan()

    def _flush(self) -> None:
        """Move this episode's stored transitions (generic path) into the state arrays."""
        if not self._pending:
            return
        groups, phis, rews, nexts = zip(*self._pending, strict=True)
        self.gen_group = np.concatenate([self.gen_group, np.asarray(groups, dtype=np.int64)])
        self.gen_phi = np.concatenate([self.gen_phi, np.asarray(phis)])
        self.gen_rew = np.concatenate([self.gen_rew, np.asarray(rews)])
        self.gen_next = np.concatenate([self.gen_next, np.asarray(nexts)])
        self._pending = []

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        self._flush()  # a checkpoint mid-episode keeps the episode's transitions (planning is unchanged)
        return {}


class EpsLSVIConfig(LSVIUCBConfig):
    """ε-greedy LSVI: no optimism (β = 0), uniform exploration with probability ε."""

    beta: float | Literal["theory"] = 0.0
    """Bonus scale (0: no optimism)."""
    epsilon: float = Field(0.1, ge=0.0, le=1.0)
    """Probability of a uniformly random action."""


class EpsLSVI(LSVIUCB):
    """ε-greedy least-squares value iteration: the linear-MDP baseline without optimism."""

    Config = EpsLSVIConfig
