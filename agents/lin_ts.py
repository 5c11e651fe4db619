"""Linear Thompson sampling (Agrawal & Goyal, ICML 2013, Algorithm 1).

Reference: Agrawal & Goyal, "Thompson Sampling for Contextual Bandits with Linear Payoffs", ICML 2013
(arXiv:1209.3352).

Each round samples ``θ̃ ~ N(θ̂, v² V⁻¹)`` around the ridge estimate and plays ``argmax_a x_aᵀθ̃``. The paper's
scale ``v = R·sqrt((24/ε)·d·ln(1/δ))`` makes the analysis work (regret Õ(d²/√ε · T^{(1+ε)/2})) but explores
far more than needed in practice; the default here is the practical ``v = 0.25`` and ``v="theory"`` gives
the paper's value (kernels.lin_ts_theory_scale).

Models as in OFUL (agents/oful.py): ``shared`` draws one θ̃ (a Cholesky factor of ``V⁻¹`` per round);
``disjoint`` is the block model ``e_a ⊗ x`` whose posterior factorises over arms, so the sampled scores are
independent, ``x_aᵀθ̃_a ~ N(x_aᵀθ̂_a, v² ‖x_a‖²_{V_a⁻¹})``, and one normal draw per arm is the exact sample.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import lin_ts_theory_scale, rls_update, sherman_morrison, ucb_width
from rl_suite.contracts import LinearBanditModel, StochasticBandit


class LinTSConfig(AgentConfig):
    """Settings of linear Thompson sampling; ε, δ only matter for ``v="theory"``."""

    v: Annotated[float, Field(ge=0.0)] | Literal["theory"] = 0.25
    """Posterior scale v ≥ 0 (θ̃ ~ N(θ̂, v²V⁻¹)); ``"theory"`` is Agrawal & Goyal's
    ``R·sqrt((24/ε)·d·ln(1/δ))`` with d the dimension of the (joint) parameter."""
    epsilon: float = Field(0.5, gt=0.0, lt=1.0)
    """The paper's ε ∈ (0, 1) in the theoretical v (regret Õ(d²/√ε · T^{(1+ε)/2})); ``1/ln T`` gives
    Õ(d²√T)."""
    delta: float = Field(0.05, gt=0.0, lt=1.0)
    """Failure probability δ in the theoretical v."""
    R: Annotated[float, Field(ge=0.0)] | Literal["auto"] = "auto"
    """Sub-Gaussian constant of the noise for the theoretical v; ``auto`` reads
    ``env.unwrapped.noise_sd_bound``."""
    lam: float = Field(1.0, gt=0.0)
    """Ridge regularisation λ > 0 (``V_0 = λI``; the paper uses 1)."""
    model: Literal["auto", "shared", "disjoint"] = "auto"
    """``shared`` θ on per-arm features or ``disjoint`` θ_a per arm; ``auto`` reads
    ``env.unwrapped.model``."""
    tie_breaking: Literal["random", "first"] = "random"
    """Among arms with exactly equal scores pick uniformly at random or the lowest index."""


class LinTS(BanditAgent[LinTSConfig]):
    """Linear Thompson sampling (Agrawal & Goyal, ICML 2013, Algorithm 1; arXiv:1209.3352).

    Needs ``(K, d)`` arm-feature observations (``rl_suite/LinearContextualBandit-v0``).
    ``predict(obs, deterministic=True)`` plays greedily on the posterior mean θ̂; learning samples.
    """

    Config = LinTSConfig
    requires = LinearBanditModel
    state_keys = ("Ainv", "theta")

    def _init_state(self) -> None:
        cfg = self.config
        R, K, d = self.num_envs, self.n_arms, self._arm_feature_dim()
        #: ``"shared"`` or ``"disjoint"``.
        self.model = self._linear_model(cfg.model)
        shared = self.model == "shared"
        if cfg.v == "theory":
            noise = self._auto(cfg.R, "R", StochasticBandit, lambda env: env.noise_sd_bound)
            dim = d if shared else K * d
            v = [lin_ts_theory_scale(r, dim, cfg.epsilon, cfg.delta) for r in noise]
        else:
            v = [float(cfg.v)] * R
        #: The posterior scale in use, per stream ``(R,)``.
        self.v = np.asarray(v, dtype=np.float64)
        arms = () if shared else (K,)
        self.Ainv = np.broadcast_to(np.eye(d) / cfg.lam, (R, *arms, d, d)).copy()
        self.theta = np.zeros((R, *arms, d))

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: sample θ̃ ~ N(θ̂, v²V⁻¹), play argmax_a x_aᵀθ̃ (Alg. 1, lines 3-4).
        shared = self.model == "shared"
        theta = self.theta
        if not deterministic:
            if shared:
                xi = self.rng.standard_normal(theta.shape)
                theta = theta + self.v[:, None] * np.matvec(_cholesky(self.Ainv), xi)
            else:
                z = self.rng.standard_normal(obs.shape[:-1])
                scores = np.vecdot(obs, theta) + self.v[:, None] * ucb_width(self.Ainv, obs) * z
                return self._argmax(scores, self.config.tie_breaking)
        scores = np.vecdot(obs, theta[:, None, :] if shared else theta)
        return self._argmax(scores, self.config.tie_breaking)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: ridge update of the played features (Alg. 1, lines 5-6).
        idx = self._arm_index(actions)
        x, r = obs[idx], rewards[idx[0]]
        where = idx[0] if self.model == "shared" else idx
        Ainv, _, gain = sherman_morrison(self.Ainv[where], x)
        self.Ainv[where] = Ainv
        self.theta[where] = rls_update(self.theta[where], gain, x, r)


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """Factors ``C`` with ``C Cᵀ = cov`` of ``(..., d, d)`` covariances.

    Cholesky; or, if round-off made a covariance indefinite, its square root with eigenvalues clipped at 0.
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, q = np.linalg.eigh(0.5 * (cov + np.swapaxes(cov, -1, -2)))
        return q * np.sqrt(np.maximum(w, 0.0))[..., None, :]
