"""LinUCB with hybrid linear models (Li, Chu, Langford & Schapire, WWW 2010, Algorithm 2).

The expected reward of arm ``a`` is ``zᵀβ* + xᵀθ*_a``: a parameter ``β*`` shared by all arms on features
``z`` plus a parameter ``θ*_a`` per arm on features ``x``. Here both feature vectors are the arm's row of
the observation (``z = x``, ``k = d``): the shared part learns what every arm has in common — all of it
on the env's ``shared`` model — and each θ_a the arm's own deviation.

The estimates are exactly the joint ridge regression (every coordinate regularised by λ) on
``φ = [z; e_a ⊗ x]``: ``A0`` is the Schur complement of the per-arm blocks,
``A0 = λI + Σ z zᵀ − Σ_a B_aᵀ A_a⁻¹ B_a``, which is why the update must first *remove* the chosen arm's old
contribution, then update the arm, then add the contribution back with the *new* ``A_a⁻¹`` — and why the
cross term of the width uses ``A0⁻¹`` (kernels.hybrid_width_sq). tests/agents/test_bandit_agents.py checks
β̂, θ̂_a and the width against the brute-force joint ridge solution.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import (
    hybrid_estimates,
    hybrid_width_sq,
    linucb_theory_alpha,
    ridge_inverse,
    sherman_morrison,
)
from rl_suite.contracts import LinearBanditModel


class HybridLinUCBConfig(AgentConfig):
    """Settings of hybrid LinUCB; defaults as for disjoint LinUCB (α = 1, λ = 1: the paper's identity)."""

    alpha: Annotated[float, Field(ge=0.0)] | Literal["theory"] = 1.0
    """Exploration constant α ≥ 0 multiplying ``sqrt(s_a)``; ``"theory"`` uses ``1 + sqrt(ln(2/δ)/2)``."""
    delta: float = Field(0.05, gt=0.0, lt=1.0)
    """Failure probability δ of the theoretical α (used only with ``alpha="theory"``)."""
    lam: float = Field(1.0, gt=0.0)
    """Ridge regularisation λ > 0 of both the shared block (``A0 = λI_k``) and every arm (``A_a = λI_d``)."""
    tie_breaking: Literal["random", "first"] = "random"
    """Among arms with exactly equal scores pick uniformly at random (the paper) or the lowest index."""


class HybridLinUCB(BanditAgent[HybridLinUCBConfig]):
    """LinUCB with hybrid linear models (Li et al., WWW 2010, Algorithm 2; arXiv:1003.0146).

    Needs ``(K, d)`` arm-feature observations (``rl_suite/LinearContextualBandit-v0``). State over R
    streams: the shared block ``A0 (R, k, k)`` with its inverse and ``b0 (R, k)``, and per arm
    ``Ainv (R, K, d, d)``, ``B (R, K, d, k)``, ``b (R, K, d)``.
    """

    Config = HybridLinUCBConfig
    requires = LinearBanditModel
    state_keys = ("A0", "A0inv", "b0", "Ainv", "B", "b")

    def _init_state(self) -> None:
        cfg = self.config
        R, K, d = self.num_envs, self.n_arms, self._arm_feature_dim()
        k = d  # shared features z = the arm's row x
        #: The exploration constant in use (``alpha``, or the theoretical value for ``"theory"``).
        self.alpha = linucb_theory_alpha(cfg.delta) if cfg.alpha == "theory" else float(cfg.alpha)
        self.A0 = np.broadcast_to(np.eye(k) * cfg.lam, (R, k, k)).copy()
        self.A0inv = np.broadcast_to(np.eye(k) / cfg.lam, (R, k, k)).copy()
        self.b0 = np.zeros((R, k))
        self.Ainv = np.broadcast_to(np.eye(d) / cfg.lam, (R, K, d, d)).copy()
        self.B = np.zeros((R, K, d, k))
        self.b = np.zeros((R, K, d))

    def estimates(self) -> tuple[np.ndarray, np.ndarray]:
        """Current ``(β̂ (R, k), θ̂ (R, K, d))`` (Alg. 2, lines 5 and 13)."""
        return hybrid_estimates(self.A0inv, self.b0, self.Ainv, self.B, self.b)

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: p_a = zᵀβ̂ + xᵀθ̂_a + α·sqrt(s_a) (Alg. 2, lines 5-14), with z = x.
        beta, theta = self.estimates()
        scores = hybrid_width_sq(self.A0inv, self.Ainv, self.B, obs, obs)
        np.sqrt(scores, out=scores)
        scores *= self.alpha
        scores += np.vecdot(obs, beta[:, None, :]) + np.vecdot(obs, theta)
        return self._argmax(scores, self.config.tie_breaking)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: Alg. 2, lines 17-23, in this order.
        idx = self._arm_index(actions)
        s = idx[0]  # the streams
        x, r = obs[idx], rewards[s]  # (R, d) and (R,); (d,) and () for a single stream
        z = x  # shared features, k = d
        Ainv, B, b = self.Ainv[idx], self.B[idx], self.b[idx]
        # 1. remove the arm's old contribution from the shared block: A0 += BᵀA⁻¹B, b0 += BᵀA⁻¹b
        BtAinv = np.matmul(np.swapaxes(B, -1, -2), Ainv)
        A0 = self.A0[s] + np.matmul(BtAinv, B)
        b0 = self.b0[s] + np.matvec(BtAinv, b)
        # 2. update the arm: A += x xᵀ (Sherman–Morrison on its inverse), B += x zᵀ, b += r x
        Ainv, _, _ = sherman_morrison(Ainv, x)
        B = B + x[..., :, None] * z[..., None, :]
        b = b + r[..., None] * x
        # 3. add it back with the NEW A⁻¹: A0 += z zᵀ − BᵀA⁻¹B, b0 += r z − BᵀA⁻¹b
        BtAinv = np.matmul(np.swapaxes(B, -1, -2), Ainv)
        A0 += z[..., :, None] * z[..., None, :] - np.matmul(BtAinv, B)
        b0 += r[..., None] * z - np.matvec(BtAinv, b)
        self.A0[s] = 0.5 * (A0 + np.swapaxes(A0, -1, -2))
        self.A0inv[s] = ridge_inverse(self.A0[s])  # A0 changes by more than rank one: re-invert (k³)
        self.b0[s] = b0
        self.Ainv[idx], self.B[idx], self.b[idx] = Ainv, B, b
