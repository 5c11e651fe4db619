"""OPLB: the optimistic–pessimistic linear bandit for stage-wise (in-expectation) linear constraints.

Pacchiano, Ghavamzadeh, Bartlett & Jiang, "Stochastic Bandits with Linear Constraints", AISTATS 2021,
regret ``Õ(d√T/(τ − c₀))``. The known safe action ``x₀`` (cost ``c₀ < τ``) splits every action
``x = ⟨x, e₀⟩e₀ + x⊥`` with ``e₀ = x₀/‖x₀‖``: the cost along ``e₀`` is known, ``(⟨x, e₀⟩/‖x₀‖)·c₀``, and only
``μ⊥`` is learned, by ridge regression of ``c − (⟨x, e₀⟩/‖x₀‖)c₀`` on ``x⊥``. Every round:

* optimistic rewards ``U^r_a = ⟨x_a, θ̂⟩ + α_r β_t ‖x_a‖_{V⁻¹}``;
* pessimistic costs ``U^c_a = (⟨x_a, e₀⟩/‖x₀‖)c₀ + ⟨x⊥_a, μ̂⊥⟩ + α_c β⊥_t ‖x⊥_a‖_{V⊥⁻¹}`` (exactly ``c₀`` for
  ``x₀``);
* play the policy ``π_t = argmax_{π∈Δ_K} π·U^r  s.t.  π·U^c ≤ τ``, solved exactly in closed form.

The paper's program puts the confidence widths on the *mean* action (``‖E_π x‖``); this implementation uses
the per-action widths ``E_π‖x‖`` instead, which bound them from above (Jensen), so the cost side stays
pessimistic (the constraint holds whenever the confidence sets do) and the reward side optimistic, and the
program becomes an LP with the same two-action closed form as OPB. β is OFUL's self-normalised radius
(Abbasi-Yadkori et al. 2011).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, ConstrainedBanditAgent
from rl_suite.agents.kernels import (
    oful_radius_det,
    rls_update,
    sherman_morrison,
    ucb_width,
)
from rl_suite.contracts import (
    ConstrainedLinearModel,
    LinearBanditModel,
    StagewiseLinearModel,
    StochasticBandit,
)
from rl_suite.errors import UserError
from rl_suite.exact.lp import best_feasible_mixture


class OPLBConfig(AgentConfig):
    """Settings of OPLB; the defaults use the env's bounds and the authors' reward inflation."""

    alpha_r: float | Literal["theory", "authors"] = "authors"
    """Reward-radius multiplier: ``"theory"`` = 1 + 2/(τ − c₀), ``"authors"`` = 1 + 1/τ, or a number ≥ 0."""
    alpha_c: float = Field(1.0, ge=0.0)
    """Cost-radius multiplier (pessimism); ≥ 1 keeps the zero-violation guarantee."""
    lam: float = Field(1.0, gt=0.0)
    """Ridge λ of both regressions."""
    delta: float = Field(0.01, gt=0.0, lt=1.0)
    """Failure probability of each confidence ellipsoid."""
    R: float | Literal["auto"] = "auto"
    """Sub-Gaussian constant of the noise; ``"auto"`` reads ``env.unwrapped.noise_sd_bound``."""
    S: float | Literal["auto"] = "auto"
    """Bound on ‖θ*‖; ``"auto"`` reads ``env.unwrapped.theta_norm_bound``."""
    S_cost: float | Literal["auto"] = "auto"
    """Bound on ‖μ*‖ (hence on ‖μ⊥‖); ``"auto"`` reads ``env.unwrapped.mu_norm_bound``."""


class OPLB(ConstrainedBanditAgent[OPLBConfig]):
    """Optimistic–pessimistic linear bandit (OPLB), in-expectation stage-wise constraint.

    Reference: Pacchiano, Ghavamzadeh, Bartlett & Jiang, AISTATS 2021 (arXiv 2006.10185), Alg. 1.

    Needs ``rl_suite/StagewiseConstrainedLinearBandit-v0`` (``(K, d)`` action features, a known safe action
    and policy actions). State over R streams: the reward regression (``Ainv``, ``theta``,
    ``log_det``) and the cost regression on ``x⊥`` (``Cinv``, ``mu_perp``, ``log_det_c``).
    """

    Config = OPLBConfig
    requires = StagewiseLinearModel
    state_keys = ("Ainv", "theta", "log_det", "Cinv", "mu_perp", "log_det_c")

    def _init_state(self) -> None:
        cfg = self.config
        d = self._arm_feature_dim()
        if self.action_kind != "simplex":
            raise UserError(
                "OPLB plays mixtures of actions: it needs action_mode='distribution' (a PolicyWeights or "
                "Simplex action "
                f"space), got {self.action_space}"
            )
        self.tau, self.safe_cost = self._constraint()
        known = self.contract(StagewiseLinearModel)
        x0 = np.asarray(known.safe_action, dtype=np.float64)
        #: Index of the safe action among each round's actions.
        self.safe_index = int(known.safe_action_index)
        #: ``(d,)`` unit vector along the safe action, and the safe action's norm.
        self.e0 = x0 / np.linalg.norm(x0)
        self.x0_norm = float(np.linalg.norm(x0))
        self.alpha_r = self._reward_inflation(cfg.alpha_r)
        self.noise = self._auto(cfg.R, "R", StochasticBandit, lambda env: env.noise_sd_bound)
        self.param_bound = self._auto(cfg.S, "S", LinearBanditModel, lambda env: env.theta_norm_bound)
        self.cost_bound = self._auto(
            cfg.S_cost, "S_cost", ConstrainedLinearModel, lambda env: env.mu_norm_bound
        )
        R = self.num_envs
        eye = np.eye(d) / cfg.lam
        self.Ainv = np.broadcast_to(eye, (R, d, d)).copy()
        self.Cinv = np.broadcast_to(eye, (R, d, d)).copy()
        self.theta = np.zeros((R, d))
        self.mu_perp = np.zeros((R, d))
        self.log_det = np.zeros(R)
        self.log_det_c = np.zeros(R)

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The known cost parts ``(⟨x, e₀⟩/‖x₀‖)·c₀`` ``(R, K)`` and orthogonal parts ``x⊥`` ``(R, K, d)``."""
        along = X @ self.e0
        known = along / self.x0_norm * self.safe_cost.reshape(-1, *([1] * (along.ndim - 1)))
        return known, X - along[..., None] * self.e0

    def bounds(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``(R, K)`` optimistic reward and pessimistic cost indices of actions ``X`` ``(R, K, d)``."""
        cfg = self.config
        beta_r = oful_radius_det(self.log_det, self.noise, self.param_bound, cfg.lam, cfg.delta)
        beta_c = oful_radius_det(self.log_det_c, self.noise, self.cost_bound, cfg.lam, cfg.delta)
        upper_r = np.vecdot(X, self.theta[:, None, :])
        upper_r += (self.alpha_r * beta_r)[:, None] * ucb_width(self.Ainv, X)
        known, X_perp = self._split(X)
        upper_c = known + np.vecdot(X_perp, self.mu_perp[:, None, :])
        upper_c += (cfg.alpha_c * beta_c)[:, None] * ucb_width(self.Cinv, X_perp)
        return upper_r, upper_c

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: optimistic objective over the pessimistic feasible policies (exact two-action LP).
        upper_r, upper_c = self.bounds(obs)
        policy, _ = best_feasible_mixture(upper_r, upper_c, self.tau)
        # Infeasible only for observations without the safe action (never from the env): play row 0.
        policy[policy.sum(axis=1) == 0, self.safe_index] = 1.0
        return policy

    def _learn(
        self, obs: np.ndarray, actions: np.ndarray, arms: np.ndarray, rewards: np.ndarray, costs: np.ndarray
    ) -> None:
        # ALGO LOGIC: ridge updates on the action the env sampled — reward on x, residual cost on x⊥.
        x = obs[self._rows, arms]
        known, x_perp = self._split(x[:, None, :])
        Ainv, s, gain = sherman_morrison(self.Ainv, x)
        self.Ainv = Ainv
        self.theta = rls_update(self.theta, gain, x, rewards)
        self.log_det += np.log(s)
        x_perp = x_perp[:, 0]
        Cinv, s_c, gain_c = sherman_morrison(self.Cinv, x_perp)
        self.Cinv = Cinv
        self.mu_perp = rls_update(self.mu_perp, gain_c, x_perp, costs - known[:, 0])
        self.log_det_c += np.log(s_c)
