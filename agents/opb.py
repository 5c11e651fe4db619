"""OPB: the optimistic–pessimistic bandit for stage-wise constrained multi-armed bandits.

Pacchiano, Ghavamzadeh, Bartlett & Jiang, "Stochastic Bandits with Linear Constraints", AISTATS 2021
(the multi-armed specialisation of OPLB, regret ``Õ(√(KT)/(τ − c₀))``). Every round:

1. confidence intervals around each arm's mean reward and mean cost (radius ``β_a``);
2. optimistic rewards ``U^r_a = r̂_a + α_r β_a`` and pessimistic costs ``U^c_a = min(ĉ_a + α_c β_a, 1)``,
   except the known safe arm, whose cost is ``c₀`` exactly;
3. play ``π_t = argmax_{π∈Δ_K} π·U^r  s.t.  π·U^c ≤ τ`` — an LP solved exactly in closed form (a mixture
   of at most two arms, :func:`rl_suite.exact.lp.best_feasible_mixture`); it is always feasible through
   the safe arm, and while every ``U^c`` bounds its true cost the policy's true expected cost is ``≤ τ``.

``α_c = 1`` keeps the constraint; ``α_r > 1`` is the proof's device (``"theory"``: ``1 + 2/(τ − c₀)``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, ConstrainedBanditAgent
from rl_suite.agents.kernels import anytime_mean_radius
from rl_suite.contracts import ConstrainedMABModel, StochasticBandit
from rl_suite.errors import UserError
from rl_suite.exact.lp import best_feasible_mixture


class OPBConfig(AgentConfig):
    """Settings of OPB; the defaults are the authors' constants with an anytime confidence radius."""

    alpha_r: float | Literal["theory", "authors"] = "authors"
    """Reward-radius multiplier: ``"theory"`` = 1 + 2/(τ − c₀) (the regret proof), ``"authors"`` = 1 + 1/τ
    (the authors' code), or a number ≥ 0 (1 is plain optimism)."""
    alpha_c: float = Field(1.0, ge=0.0)
    """Cost-radius multiplier (pessimism); ≥ 1 keeps the zero-violation guarantee."""
    delta: float = Field(0.01, gt=0.0, lt=1.0)
    """Failure probability of the confidence intervals (union bound over arms and rounds)."""
    cap_rewards: bool = False
    """Clip optimistic rewards at 1 as the authors' code does. Off by default: the clip undoes the α_r
    inflation the regret proof relies on, and OPB can then keep mixing the safe arm with one expensive arm
    it has already tried instead of exploring the others (linear regret on some instances)."""
    R: float | Literal["auto"] = "auto"
    """Sub-Gaussian constant of the reward and cost noise; ``"auto"`` reads ``env.unwrapped.noise_sd_bound``
    (0.5 for Bernoulli, σ for Gaussian)."""


class OPB(ConstrainedBanditAgent[OPBConfig]):
    """Optimistic–pessimistic bandit (OPB) with the exact two-arm LP each round.

    Reference: Pacchiano, Ghavamzadeh, Bartlett & Jiang, AISTATS 2021 (arXiv 2006.10185), §5; the
    constants of their code ``pacchiano/constrainedBandits``.

    Needs ``rl_suite/ConstrainedMAB-v0`` (context-free, policy actions; the ``"arm"`` action mode is not
    enough as OPB plays mixtures). State over R streams: ``counts``, ``reward_means`` and ``cost_means``,
    each ``(R, K)``.
    """

    Config = OPBConfig
    requires = ConstrainedMABModel
    state_keys = ("counts", "reward_means", "cost_means")

    def _init_state(self) -> None:
        self._require_context_free()
        if self.action_kind != "simplex":
            raise UserError(
                "OPB plays mixtures of arms: it needs action_mode='distribution' (a PolicyWeights or "
                "Simplex action space), "
                f"got {self.action_space}"
            )
        cfg = self.config
        self.tau, self.safe_cost = self._constraint()
        safe_arm = self.contract(ConstrainedMABModel).safe_arm
        #: ``(R,)`` index of the known safe arm.
        self.safe_arm = np.broadcast_to(np.asarray(safe_arm, dtype=np.int64), (self.num_envs,)).copy()
        #: ``(R,)`` reward-radius multiplier α_r.
        self.alpha_r = self._reward_inflation(cfg.alpha_r)
        self.noise = self._auto(cfg.R, "R", StochasticBandit, lambda env: env.noise_sd_bound)
        shape = (self.num_envs, self.n_arms)
        self.counts = np.zeros(shape)
        self.reward_means = np.zeros(shape)
        self.cost_means = np.zeros(shape)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``(R, K)`` optimistic reward and pessimistic cost indices of the current round."""
        cfg = self.config
        t = self.counts.sum(axis=1) + 1.0
        # An arm never played gets the radius of one sample around the estimate 0 (as the authors' code).
        beta = anytime_mean_radius(np.maximum(self.counts, 1.0), t, self.noise, cfg.delta)
        upper_r = self.reward_means + self.alpha_r[:, None] * beta
        if cfg.cap_rewards:
            np.minimum(upper_r, 1.0, out=upper_r)
        upper_c = np.minimum(self.cost_means + cfg.alpha_c * beta, 1.0)
        upper_c[self.counts == 0] = 1.0
        upper_c[self._rows, self.safe_arm] = self.safe_cost
        return upper_r, upper_c

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: the LP over the pessimistic feasible set, optimistic objective (exact, ≤ 2 arms).
        upper_r, upper_c = self.bounds()
        policy, _ = best_feasible_mixture(upper_r, upper_c, self.tau)
        return policy

    def _learn(
        self, obs: np.ndarray, actions: np.ndarray, arms: np.ndarray, rewards: np.ndarray, costs: np.ndarray
    ) -> None:
        # ALGO LOGIC: running means of the arm the env sampled from π_t.
        idx = (self._rows, arms)
        n = self.counts[idx] + 1.0
        self.counts[idx] = n
        self.reward_means[idx] += (rewards - self.reward_means[idx]) / n
        self.cost_means[idx] += (costs - self.cost_means[idx]) / n
