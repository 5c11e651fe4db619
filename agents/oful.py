"""OFUL: optimism in the face of uncertainty for linear bandits (Abbasi-Yadkori, Pál & Szepesvári 2011).

OFUL plays ``argmax_a x_aᵀθ̂ + β_t ‖x_a‖_{V_t⁻¹}``: LinUCB's rule with one parameter and, instead of a
tuned α, the radius of the self-normalised confidence ellipsoid, which holds for all t with probability
``1 − δ`` (kernels.oful_radius_det, kernels.oful_radius_closed). The det form is kept incrementally:
``ln det V`` grows by ``ln s`` per update (matrix determinant lemma), so no determinant is ever computed.

Both models of ``rl_suite/LinearContextualBandit-v0`` are handled:

* ``shared`` — one θ* and a different feature row per arm: OFUL as in the paper, ``V (d×d)``.
* ``disjoint`` — one θ*_a per arm on a common context: this is OFUL on the block features
  ``φ_a = e_a ⊗ x`` (dimension ``K·d``). Their Gram matrix is block diagonal, so OFUL reduces *exactly* to
  a ridge regression per arm (as LinUCB) with one joint radius β_t, where
  ``ln det V = Σ_a ln det V_a``, the parameter bound is on the stacked ``(θ*_1, …, θ*_K)``, and the
  closed form uses dimension ``K·d``.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import (
    oful_radius_closed,
    oful_radius_det,
    rls_update,
    sherman_morrison,
    ucb_width,
)
from rl_suite.contracts import LinearBanditModel, StochasticBandit

Auto = Literal["auto"]


class OFULConfig(AgentConfig):
    """Settings of OFUL; defaults from the paper's theorem (λ = 1, δ = 0.05) and the env's true bounds."""

    lam: float = Field(1.0, gt=0.0)
    """Ridge regularisation λ > 0 (``V_0 = λI``)."""
    delta: float = Field(0.05, gt=0.0, lt=1.0)
    """Failure probability δ of the confidence ellipsoid."""
    radius: Literal["det", "closed"] = "det"
    """``det``: β_t from ``ln det V_t`` (tighter, Thm. 2); ``closed``: its worst case over t updates,
    ``R·sqrt(d ln((1 + tL²/λ)/δ)) + √λ S``."""
    R: Annotated[float, Field(ge=0.0)] | Auto = "auto"
    """Sub-Gaussian constant of the reward noise; ``auto`` reads ``env.unwrapped.noise_sd_bound``."""
    S: Annotated[float, Field(ge=0.0)] | Auto = "auto"
    """Bound on ``‖θ*‖₂`` (per arm on the disjoint model); ``auto`` reads
    ``env.unwrapped.theta_norm_bound``."""
    L: Annotated[float, Field(gt=0.0)] | Auto = "auto"
    """Bound on ``‖x‖₂`` of any arm's features (only the closed-form radius uses it); ``auto`` reads
    ``env.unwrapped.feature_norm_bound``."""
    model: Literal["auto", "shared", "disjoint"] = "auto"
    """``shared`` θ on per-arm features or ``disjoint`` θ_a per arm (see the module docstring); ``auto``
    reads ``env.unwrapped.model``."""
    tie_breaking: Literal["random", "first"] = "random"
    """Among arms with exactly equal scores pick uniformly at random or the lowest index."""


class OFUL(BanditAgent[OFULConfig]):
    """OFUL with its theoretical confidence radius β_t.

    Reference: Abbasi-Yadkori, Pál & Szepesvári, "Improved Algorithms for Linear Stochastic Bandits",
    NeurIPS 2011.

    Needs ``(K, d)`` arm-feature observations (``rl_suite/LinearContextualBandit-v0``). Regret
    ``Õ(d√T)`` with probability ``1 − δ`` when R, S, L are true bounds (the env's, by default).
    """

    Config = OFULConfig
    requires = LinearBanditModel
    state_keys = ("Ainv", "theta", "log_det_ratio", "n_updates")

    def _init_state(self) -> None:
        cfg = self.config
        R, K, d = self.num_envs, self.n_arms, self._arm_feature_dim()
        #: ``"shared"`` or ``"disjoint"``.
        self.model = self._linear_model(cfg.model)
        shared = self.model == "shared"
        #: Dimension of the (joint) parameter: d, or K·d for the disjoint block model.
        self.dim = d if shared else K * d
        #: Per-stream constants (R,): noise R, parameter bound S (of the joint parameter), feature bound L.
        self.noise_bound = self._auto(cfg.R, "R", StochasticBandit, lambda env: env.noise_sd_bound)
        self.param_bound = self._auto(cfg.S, "S", LinearBanditModel, lambda env: env.theta_norm_bound) * (
            1.0 if shared else math.sqrt(K)
        )
        self.feature_bound = (
            self._auto(cfg.L, "L", LinearBanditModel, lambda env: env.feature_norm_bound)
            if cfg.radius == "closed"
            else None
        )
        arms = () if shared else (K,)
        self.Ainv = np.broadcast_to(np.eye(d) / cfg.lam, (R, *arms, d, d)).copy()
        self.theta = np.zeros((R, *arms, d))
        #: ``ln det V_t − ln det(λI)`` per stream (summed over arms on the disjoint model).
        self.log_det_ratio = np.zeros(R)
        self.n_updates = np.zeros(R)

    def beta(self) -> np.ndarray:
        """The current radius β_t of every stream, shape ``(R,)``."""
        cfg = self.config
        if cfg.radius == "det":
            return oful_radius_det(self.log_det_ratio, self.noise_bound, self.param_bound, cfg.lam, cfg.delta)
        assert self.feature_bound is not None  # set whenever radius == "closed"
        return oful_radius_closed(
            self.n_updates,
            self.dim,
            self.noise_bound,
            self.param_bound,
            self.feature_bound,
            cfg.lam,
            cfg.delta,
        )

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: argmax_a x_aᵀθ̂ + β_t‖x_a‖_{V⁻¹} (shared) or x_aᵀθ̂_a + β_t‖x_a‖_{V_a⁻¹} (disjoint).
        scores = ucb_width(self.Ainv, obs)
        scores *= self.beta()[:, None]
        theta = self.theta[:, None, :] if self.model == "shared" else self.theta
        scores += np.vecdot(obs, theta)
        return self._argmax(scores, self.config.tie_breaking)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: ridge update of the played features; ln det V grows by ln(1 + xᵀV⁻¹x).
        idx = self._arm_index(actions)
        x, r = obs[idx], rewards[idx[0]]
        where = idx[0] if self.model == "shared" else idx
        Ainv, s, gain = sherman_morrison(self.Ainv[where], x)
        self.Ainv[where] = Ainv
        self.theta[where] = rls_update(self.theta[where], gain, x, r)
        self.log_det_ratio += np.log(s)
        self.n_updates += 1.0
