"""ChebCB: contextual bandit with Chebyshev-feature regression of each arm's cost and inverse-gap weighting.

Khodak, Chow, Balcan & Talwalkar, "Learning to Relax" (ICLR 2024), the learner that tracks the
instance-optimal ω (``learners/ChebCB.m``): the context is a scalar ``c ∈ [a, b]`` (the diagonal shift, the
diffusion coefficient); each arm's loss is modelled as a polynomial in ``c``, ``ℓ_i(c) ≈ θ_iᵀφ(c)`` with
Chebyshev features ``φ(c) = (T_0, …, T_{m−1})(2(c − a)/(b − a) − 1)``, fitted by ridge regression on the
rounds the arm was played; actions are drawn by SquareCB's inverse-gap weighting (Foster & Rakhlin 2020)
over the predictions, ``p_i = 1/(K + γ_t (ŷ_i − ŷ_{i*}))``, with ``γ_t = gamma_scale·√(K t)`` on losses
divided by the running scale (mean loss − 1).

Differences from the authors' MATLAB learner: ridge regression (``lam``) replaces their box-constrained
least squares with Lipschitz-derived bounds, and ``γ_t`` follows SquareCB's ``√(K t)`` schedule.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import (
    chebyshev_features,
    inverse_gap_weighting,
    iteration_scale,
    rls_update,
    sherman_morrison,
)
from rl_suite.contracts import SolverTuning
from rl_suite.errors import UserError


class ChebCBConfig(AgentConfig):
    """Settings of ChebCB; the defaults follow the authors' SOR runs (m = 6)."""

    degree: int = Field(6, ge=1)
    """Number m of Chebyshev polynomials (degree m − 1)."""
    context_range: tuple[float, float] | Literal["auto"] = "auto"
    """Context interval [a, b]; ``"auto"`` reads ``env.unwrapped.context_bounds``."""
    lam: float = Field(1.0, gt=0.0)
    """Ridge λ of every arm's regression (on losses divided by the running scale)."""
    gamma_scale: float = Field(10.0, gt=0.0)
    """Inverse-gap weighting strength: ``γ_t = gamma_scale·√(K t)`` (10 was best of 0.3, 1, 3, 10, 30 on the
    high-variance SOR sequence at T = 1000)."""


class ChebCB(BanditAgent[ChebCBConfig]):
    """ChebCB: per-arm Chebyshev ridge regression of the loss on a scalar context + inverse-gap weighting.

    Reference: Khodak, Chow, Balcan & Talwalkar, ICLR 2024 (``learners/ChebCB.m``); Foster & Rakhlin,
    "Beyond UCB", ICML 2020 (inverse-gap weighting).

    Needs a scalar context (``(1,)`` observations, e.g. ``rl_suite/SORTuning-v0`` with ``contextual=True``).
    State over R streams: ``Ainv`` ``(R, K, m, m)``, ``theta`` ``(R, K, m)``, ``rounds``, ``loss_sum``.
    """

    Config = ChebCBConfig
    requires = SolverTuning
    state_keys = ("Ainv", "theta", "rounds", "loss_sum")

    def _init_state(self) -> None:
        cfg = self.config
        if self.obs_shape != (1,):
            raise UserError(
                f"ChebCB needs a scalar context ((1,) observations), got {self.observation_space}"
            )
        bounds = (
            self.contract(SolverTuning, "context_range='auto'", "set context_range to [a, b]").context_bounds
            if cfg.context_range == "auto"
            else cfg.context_range
        )
        if bounds is None or not float(bounds[0]) < float(bounds[1]):
            raise UserError(
                f"ChebCB needs a context interval [a, b] with a < b (env.unwrapped.context_bounds or "
                f"context_range), got {bounds!r}"
            )
        self.low, self.high = float(bounds[0]), float(bounds[1])
        R, K, m = self.num_envs, self.n_arms, cfg.degree
        self.Ainv = np.broadcast_to(np.eye(m) / cfg.lam, (R, K, m, m)).copy()
        self.theta = np.zeros((R, K, m))
        self.rounds = np.zeros(R)
        self.loss_sum = np.zeros(R)

    def probabilities(self, obs: np.ndarray) -> np.ndarray:
        """The ``(R, K)`` inverse-gap-weighted distribution for the contexts ``obs`` ``(R, 1)``."""
        phi = chebyshev_features(obs[:, 0], self.low, self.high, self.config.degree)
        predicted = np.vecdot(self.theta, phi[:, None, :])  # (R, K), in scaled-loss units
        gamma = self.config.gamma_scale * np.sqrt(self.n_arms * (self.rounds + 1.0))
        return inverse_gap_weighting(predicted, gamma)

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: predicted loss per arm from the context's Chebyshev features, then IGW sampling.
        return self._sample(self.probabilities(obs), deterministic)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: ridge step of the played arm on (φ(c), (loss − 1)/scale).
        loss = -rewards
        self.rounds += 1.0
        self.loss_sum += loss
        target = (loss - 1.0) / iteration_scale(self.loss_sum, self.rounds)
        phi = chebyshev_features(obs[:, 0], self.low, self.high, self.config.degree)
        idx = self._arm_index(actions)
        Ainv, _, gain = sherman_morrison(self.Ainv[idx], phi[idx[0]])
        self.Ainv[idx] = Ainv
        self.theta[idx] = rls_update(self.theta[idx], gain, phi[idx[0]], target[idx[0]])
