"""LinUCB with disjoint linear models (Li, Chu, Langford & Schapire, WWW 2010, Algorithm 1).

Each arm ``a`` has its own ridge regression ``θ̂_a = A_a⁻¹ b_a`` with ``A_a = λI + Σ x xᵀ`` over the rounds
it was played, and the agent plays the arm with the highest upper confidence bound

    ``p_a = θ̂_aᵀ x_a + α · sqrt(x_aᵀ A_a⁻¹ x_a)``.

The state is stacked arrays over seeds and arms, ``Ainv (R, K, d, d)`` and ``theta (R, K, d)``; a round
costs one batched matrix-vector product to score all arms and a Sherman–Morrison + recursive-least-squares
update of the chosen arm only (agents/kernels.py). Tie-breaking ``"random"`` is the paper's; ``"first"``
matches MABWiser and contextualbandits (benchmarks/bench_linucb.py checks that all three choose the same
arms).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import (
    linucb_theory_alpha,
    ridge_inverse,
    rls_update,
    sherman_morrison,
    ucb_width,
)
from rl_suite.contracts import LinearBanditModel


class LinUCBConfig(AgentConfig):
    """Settings of LinUCB with disjoint models; defaults are the paper's (α and λ as in common use, 1.0)."""

    alpha: Annotated[float, Field(ge=0.0)] | Literal["theory"] = 1.0
    """Exploration constant α ≥ 0 multiplying the width ``‖x‖_{A⁻¹}``; ``"theory"`` uses the paper's
    ``1 + sqrt(ln(2/δ)/2)`` (2.36 at δ = 0.05). 1.0 is the practical default of MABWiser, contextualbandits
    and TF-Agents."""
    delta: float = Field(0.05, gt=0.0, lt=1.0)
    """Failure probability δ of the theoretical α (used only with ``alpha="theory"``)."""
    lam: float = Field(1.0, gt=0.0)
    """Ridge regularisation λ > 0: every ``A_a`` starts at ``λI`` (the paper uses 1)."""
    refresh_every: int = Field(0, ge=0)
    """Every this many updates of an arm, recompute its ``A_a⁻¹`` exactly from ``A_a`` (symmetrised) and
    ``θ_a = A_a⁻¹ b_a``, removing Sherman–Morrison round-off; 0 never does (keeps no ``A_a``, fastest)."""
    tie_breaking: Literal["random", "first"] = "random"
    """Among arms with exactly equal scores pick uniformly at random (the paper) or the lowest index."""


class LinUCB(BanditAgent[LinUCBConfig]):
    """LinUCB with disjoint linear models (Li et al. 2010, Algorithm 1).

    Reference: Li, Chu, Langford & Schapire, "A Contextual-Bandit Approach to Personalized News Article
    Recommendation", WWW 2010 (arXiv:1003.0146).

    Needs ``(K, d)`` arm-feature observations (``rl_suite/LinearContextualBandit-v0``; on its ``shared``
    model every arm still learns its own θ_a from its own rows). Built on a ``VectorEnv`` of R sub-envs it
    runs R independent streams in one array program.
    """

    Config = LinUCBConfig
    requires = LinearBanditModel

    def _init_state(self) -> None:
        cfg = self.config
        R, K, d = self.num_envs, self.n_arms, self._arm_feature_dim()
        #: The exploration constant in use (``alpha``, or the theoretical value for ``"theory"``).
        self.alpha = linucb_theory_alpha(cfg.delta) if cfg.alpha == "theory" else float(cfg.alpha)
        self.Ainv = np.broadcast_to(np.eye(d) / cfg.lam, (R, K, d, d)).copy()
        self.theta = np.zeros((R, K, d))
        self.state_keys = ("Ainv", "theta")
        if cfg.refresh_every:
            # The exact statistics, kept only to refresh the inverses.
            self.A = np.broadcast_to(np.eye(d) * cfg.lam, (R, K, d, d)).copy()
            self.b = np.zeros((R, K, d))
            self.counts = np.zeros((R, K), dtype=np.int64)
            self.state_keys += ("A", "b", "counts")

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: p_a = θ_aᵀx_a + α‖x_a‖_{A_a⁻¹} for every arm (Alg. 1, lines 8-9), then argmax.
        scores = ucb_width(self.Ainv, obs)
        scores *= self.alpha
        scores += np.vecdot(self.theta, obs)
        return self._argmax(scores, self.config.tie_breaking)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: only the chosen arm's statistics change (Alg. 1, lines 12-13), in O(d²).
        idx = self._arm_index(actions)
        x, r = obs[idx], rewards[idx[0]]
        Ainv, _, gain = sherman_morrison(self.Ainv[idx], x)
        self.Ainv[idx] = Ainv
        self.theta[idx] = rls_update(self.theta[idx], gain, x, r)
        if self.config.refresh_every:
            self._refresh(idx, x, r)

    def _refresh(self, idx: tuple, x: np.ndarray, r: np.ndarray) -> None:
        """Keep ``A_a``, ``b_a`` exactly and, every ``refresh_every`` updates of an arm, re-invert it."""
        self.A[idx] += x[..., :, None] * x[..., None, :]
        self.b[idx] += r[..., None] * x
        self.counts[idx] += 1
        due = np.flatnonzero(self.counts[idx] % self.config.refresh_every == 0)
        if due.size:
            streams, arms = np.atleast_1d(idx[0])[due], np.atleast_1d(idx[1])[due]
            Ainv = ridge_inverse(self.A[streams, arms])
            self.Ainv[streams, arms] = Ainv
            self.theta[streams, arms] = np.matvec(Ainv, self.b[streams, arms])
