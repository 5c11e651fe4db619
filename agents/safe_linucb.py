"""Safe-LinUCB on a star-convex action set: every played action is safe with high probability.

The high-probability algorithm of Pacchiano, Ghavamzadeh & Bartlett, "Contextual Bandits with Stage-wise
Constraints" (arXiv 2401.08016; "HPLC-LUCB" in their code), in the pruned-safe-set form of Amani et al.'s
Safe-LUCB. Reward and cost share the features, so one ridge regression on the *played, scaled* vectors
``y = γ x_k`` estimates both ``θ̂`` and ``μ̂``. Every round, for each direction ``k``:

* pessimistic cost ``UCB^c_k = ⟨x_k, μ̂⟩ + β^c_t ‖x_k‖_{V⁻¹}`` and the largest scale it certifies safe,
  ``γ_k = min(1, τ / UCB^c_k)`` (1 when ``UCB^c_k ≤ τ``) — the pruned safe action set;
* optimistic reward ``UCB^r_k = ⟨x_k, θ̂⟩ + β^r_t ‖x_k‖_{V⁻¹}`` with an inflated radius
  ``β^r_t = κ·R·sqrt(ln det V_t − d ln λ + 2 ln(1/δ)) + √λ S``;
* play ``argmax_k γ_k UCB^r_k`` at scale ``γ_k`` (the safe action ``γ = 0`` if no direction promises a
  positive reward).

While ``μ*`` lies in its confidence ellipsoid (probability ``≥ 1 − δ`` for all rounds; Abbasi-Yadkori et
al. 2011) the played cost is ``γ_k⟨x_k, μ*⟩ ≤ γ_k UCB^c_k ≤ τ``. ``κ > 1`` pays for the pessimistic
shrinking: ``"gnop"`` is ``1 + 2 S_μ / τ`` (Hutchinson et al.'s GNOP inflation), ``"authors"`` is
``1 / min(1, τ)`` (the authors' code).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, ConstrainedBanditAgent
from rl_suite.agents.kernels import oful_radius_det, rls_update, sherman_morrison, ucb_width
from rl_suite.contracts import ConstrainedLinearModel, LinearBanditModel, StochasticBandit
from rl_suite.errors import UserError
from rl_suite.exact.lp import star_convex_optimum


class SafeLinUCBConfig(AgentConfig):
    """Settings of Safe-LinUCB; the defaults read the env's bounds."""

    reward_inflation: float | Literal["gnop", "authors"] = "authors"
    """κ, the multiplier of the reward radius's noise term: ``"gnop"`` = 1 + 2 S_μ/τ, ``"authors"`` =
    1/min(1, τ), or a number ≥ 0."""
    lam: float = Field(1.0, gt=0.0)
    """Ridge λ."""
    delta: float = Field(0.01, gt=0.0, lt=1.0)
    """Failure probability of the confidence ellipsoid (the constraint holds at all rounds w.p. ≥ 1 − δ)."""
    R: float | Literal["auto"] = "auto"
    """Sub-Gaussian constant of the noise; ``"auto"`` reads ``env.unwrapped.noise_sd_bound``."""
    S: float | Literal["auto"] = "auto"
    """Bound on ‖θ*‖; ``"auto"`` reads ``env.unwrapped.theta_norm_bound``."""
    S_cost: float | Literal["auto"] = "auto"
    """Bound on ‖μ*‖; ``"auto"`` reads ``env.unwrapped.mu_norm_bound``."""


class SafeLinUCB(ConstrainedBanditAgent[SafeLinUCBConfig]):
    """Safe LinUCB with pessimistic scaling of every direction and optimistic choice among them.

    Reference: Pacchiano, Ghavamzadeh & Bartlett, arXiv 2401.08016 (high-probability setting); Amani,
    Alizadeh & Thrampoulidis, "Linear Stochastic Bandits Under Safety Constraints", NeurIPS 2019.

    Needs ``rl_suite/SafeLinearBandit-v0`` (directions as ``(K, d)`` observations and ``(direction, scale)``
    actions). State over R streams: ``Ainv``, ``theta``, ``mu``, ``log_det``.
    """

    Config = SafeLinUCBConfig
    requires = ConstrainedLinearModel
    state_keys = ("Ainv", "theta", "mu", "log_det")

    def _init_state(self) -> None:
        cfg = self.config
        d = self._arm_feature_dim()
        if self.action_kind != "scaled":
            raise UserError(
                "Safe-LinUCB plays scaled directions: it needs a DirectionScores(K) or "
                "Tuple(Discrete(K), Box) action space "
                f"(rl_suite/SafeLinearBandit-v0), got {self.action_space}"
            )
        self.tau, _ = self._constraint()
        self.noise = self._auto(cfg.R, "R", StochasticBandit, lambda env: env.noise_sd_bound)
        self.param_bound = self._auto(cfg.S, "S", LinearBanditModel, lambda env: env.theta_norm_bound)
        self.cost_bound = self._auto(
            cfg.S_cost, "S_cost", ConstrainedLinearModel, lambda env: env.mu_norm_bound
        )
        if cfg.reward_inflation == "gnop":
            self.kappa = 1.0 + 2.0 * self.cost_bound / self.tau
        elif cfg.reward_inflation == "authors":
            self.kappa = 1.0 / np.minimum(1.0, self.tau)
        else:
            self.kappa = np.full(self.num_envs, float(cfg.reward_inflation))
        R = self.num_envs
        self.Ainv = np.broadcast_to(np.eye(d) / cfg.lam, (R, d, d)).copy()
        self.theta = np.zeros((R, d))
        self.mu = np.zeros((R, d))
        self.log_det = np.zeros(R)

    def bounds(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``(R, K)`` optimistic full-scale rewards and pessimistic full-scale costs of ``X``."""
        cfg = self.config
        width = ucb_width(self.Ainv, X)
        beta_c = oful_radius_det(self.log_det, self.noise, self.cost_bound, cfg.lam, cfg.delta)
        noise_term = beta_c - math.sqrt(cfg.lam) * self.cost_bound
        beta_r = self.kappa * noise_term + math.sqrt(cfg.lam) * self.param_bound
        upper_r = np.vecdot(X, self.theta[:, None, :]) + beta_r[:, None] * width
        upper_c = np.vecdot(X, self.mu[:, None, :]) + beta_c[:, None] * width
        return upper_r, upper_c

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, np.ndarray]:
        # ALGO LOGIC: certify a safe scale per direction (pessimism), then pick optimistically.
        upper_r, upper_c = self.bounds(obs)
        scales, value, best = star_convex_optimum(upper_r, upper_c, self.tau)
        gamma = np.where(value > 0, scales[self._rows, best], 0.0)
        return best, gamma

    def _learn(
        self,
        obs: np.ndarray,
        actions: tuple[np.ndarray, np.ndarray],
        arms: np.ndarray,
        rewards: np.ndarray,
        costs: np.ndarray,
    ) -> None:
        # ALGO LOGIC: one Sherman–Morrison step on y = γx, two RLS updates (reward, cost) with its gain.
        gamma = actions[1]
        y = gamma[:, None] * obs[self._rows, arms]
        Ainv, s, gain = sherman_morrison(self.Ainv, y)
        self.Ainv = Ainv
        self.theta = rls_update(self.theta, gain, y, rewards)
        self.mu = rls_update(self.mu, gain, y, costs)
        self.log_det += np.log(s)
