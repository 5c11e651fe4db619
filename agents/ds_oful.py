"""DS-OFUL: OFUL that regresses only on rounds of large uncertainty (Zhang, He, Fan & Gu, ICML 2023).

Zhang, He, Fan & Gu, "On the Interplay Between Misspecification and Sub-optimality Gap in Linear
Contextual Bandits", ICML 2023, arXiv 2303.09390 — Data Selection OFUL. Each round:

1. ``U = λI + Σ_{i∈C} x_i x_iᵀ`` and ``θ = U⁻¹ Σ_{i∈C} r_i x_i`` over the selected rounds ``C`` only;
2. play ``x_k = argmax_x xᵀθ + β‖x‖_{U⁻¹}``;
3. add the round to ``C`` iff ``‖x_k‖_{U⁻¹} ≥ Γ`` (the width *before* the update, without β).

Rounds whose played features the model is already sure about are discarded, so ``|C| ≤ Õ(d/Γ²)`` stays
finite; with misspecification ζ the confidence radius grows like ``ζ·sqrt(|C|)`` instead of ``ζ·sqrt(t)``.
With ``Γ = Θ̃(Δ/√d)`` (Δ the minimal sub-optimality gap) and ``ζ ≤ Õ(Δ/√d)`` the regret is a constant
``Õ(d²/Δ)`` with high probability; ``Γ = 0`` is OFUL with the fixed radius β.

What was verified, in the paper's full text as reprinted in chapter 4 of the first author's PhD thesis
(UCLA; the algorithm listing, the upper-bound theorem and the experiments):

* the three lines above, ``C₀ = ∅``, ``U₀ = λI``, ``θ₀ = 0``, and that the threshold compares the
  chosen arm's ``‖x_k‖_{U_k⁻¹}`` (no β) with Γ;
* the theorem's constants: ``λ = B⁻²``, ``Γ = Δ/(2√d ι₁)`` with
  ``ι₁ = (24 + 18R) ln((72 + 54R) L B √d / Δ) + sqrt(8R² ln(1/δ))``, and
  ``β = 1 + 4√d ι₂ + R sqrt(2d ι₃)``, ``ι₂ = ln(3LB/Γ)``, ``ι₃ = ln((1 + 16L²B²Γ⁻² ι₂)/δ)``, under
  ``2√d ζ ι₁ ≤ Δ`` (:func:`theory_threshold`, :func:`theory_radius`; they are valid but very conservative:
  Γ ≈ 2·10⁻⁴ for d = 8, Δ = 0.2);
* the experiments' practice, which the defaults follow: β and λ grid-searched in {1, 3, 10} and
  ``Γ ≈ Δ/√d`` (Γ = 0.05 for Δ ≈ 0.18, d = 16 was their best; a Γ near Δ failed).

The ``disjoint`` model (one θ*_a per arm) is DS-OFUL on the block features ``e_a ⊗ x``: the Gram matrix is
block diagonal, ``‖φ_a‖_{U⁻¹} = ‖x‖_{U_a⁻¹}``, so each arm keeps its own ridge regression and a selected
round updates the played arm's only.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import rls_update, sherman_morrison, ucb_width
from rl_suite.contracts import LinearBanditModel, StochasticBandit
from rl_suite.errors import UserError


def theory_iota1(gap: float, d: int, R: float, L: float, B: float, delta: float) -> float:
    """``ι₁ = (24 + 18R) ln((72 + 54R) L B √d / Δ) + sqrt(8R² ln(1/δ))`` of DS-OFUL's theorem.

    Args:
        gap: The minimal sub-optimality gap Δ > 0.
        d: Feature dimension.
        R: Sub-Gaussian constant of the noise.
        L: Bound on ``‖x‖``.
        B: Bound on ``‖θ*‖``.
        delta: Failure probability in (0, 1).

    Returns:
        ``ι₁``.
    """
    if gap <= 0.0 or d < 1 or not 0.0 < delta < 1.0:
        raise ValueError(f"need gap > 0, d >= 1, delta in (0, 1), got {gap}, {d}, {delta}")
    return (24.0 + 18.0 * R) * math.log((72.0 + 54.0 * R) * L * B * math.sqrt(d) / gap) + math.sqrt(
        8.0 * R * R * math.log(1.0 / delta)
    )


def theory_threshold(gap: float, d: int, R: float, L: float, B: float, delta: float) -> float:
    """DS-OFUL's theoretical threshold ``Γ = Δ/(2√d ι₁)`` (:func:`theory_iota1`)."""
    return gap / (2.0 * math.sqrt(d) * theory_iota1(gap, d, R, L, B, delta))


def theory_radius(gamma: float, d: int, R: float, L: float, B: float, delta: float) -> float:
    """DS-OFUL's theoretical radius ``β = 1 + 4√d ι₂ + R sqrt(2d ι₃)``.

    With ``ι₂ = ln(3LB/Γ)`` and ``ι₃ = ln((1 + 16L²B²Γ⁻² ι₂)/δ)``.

    Args:
        gamma: The threshold Γ > 0.
        d: Feature dimension.
        R: Sub-Gaussian constant of the noise.
        L: Bound on ``‖x‖``.
        B: Bound on ``‖θ*‖``.
        delta: Failure probability in (0, 1).

    Returns:
        ``β``.
    """
    if gamma <= 0.0 or d < 1 or not 0.0 < delta < 1.0:
        raise ValueError(f"need gamma > 0, d >= 1, delta in (0, 1), got {gamma}, {d}, {delta}")
    iota2 = math.log(3.0 * L * B / gamma)
    iota3 = math.log((1.0 + 16.0 * L * L * B * B * iota2 / (gamma * gamma)) / delta)
    return 1.0 + 4.0 * math.sqrt(d) * iota2 + R * math.sqrt(2.0 * d * iota3)


def selected(width: np.ndarray, gamma: float) -> np.ndarray:
    """DS-OFUL's data selection: which rounds enter the regression, ``‖x_k‖_{U⁻¹} ≥ Γ`` (elementwise)."""
    return np.asarray(width) >= gamma


class DSOFULConfig(AgentConfig):
    """Settings of DS-OFUL; defaults follow the paper's experiments (β = λ = 1 from its grids, Γ = 0.05)."""

    gamma: Annotated[float, Field(ge=0.0)] | Literal["theory"] = 0.05
    """The data-selection threshold Γ ≥ 0 on ``‖x_k‖_{U⁻¹}``; the paper sets ``Γ ≈ Δ/√d`` in practice
    (0.05 for Δ ≈ 0.18, d = 16). 0 keeps every round (OFUL with the fixed radius β). ``"theory"`` is the
    theorem's ``Δ/(2√d ι₁)`` and needs ``gap``."""
    beta: Annotated[float, Field(ge=0.0)] | Literal["theory"] = 1.0
    """The confidence radius β of the optimistic score; ``"theory"`` is the theorem's value for Γ."""
    lam: float = Field(1.0, gt=0.0)
    """Ridge regularisation λ > 0 (``U₀ = λI``; the theorem uses ``B⁻²``, the experiments {1, 3, 10})."""
    gap: float | None = Field(None, gt=0.0)
    """The minimal sub-optimality gap Δ, only for ``gamma="theory"`` (the algorithm assumes it known)."""
    delta: float = Field(0.05, gt=0.0, lt=1.0)
    """Failure probability δ of the theoretical Γ and β."""
    model: Literal["auto", "shared", "disjoint"] = "auto"
    """``shared`` θ on per-arm features or ``disjoint`` θ_a per arm (block features, see the module
    docstring); ``auto`` reads ``env.unwrapped.model``."""
    tie_breaking: Literal["random", "first"] = "random"
    """Among arms with exactly equal scores pick uniformly at random or the lowest index."""

    @model_validator(mode="after")
    def _gap_for_theory(self) -> DSOFULConfig:
        if self.gamma == "theory" and self.gap is None:
            raise ValueError("gamma='theory' needs the minimal gap: set gap (e.g. --set agent.gap=0.2)")
        return self


class DSOFUL(BanditAgent[DSOFULConfig]):
    """DS-OFUL, Data Selection OFUL (Zhang, He, Fan & Gu, ICML 2023, arXiv 2303.09390).

    Needs ``(K, d)`` arm-feature observations (``rl_suite/LinearContextualBandit-v0``). State:
    ``Ainv (R, [K,] d, d)``, ``theta (R, [K,] d)`` of the regression on the selected rounds, and
    ``n_selected (R,)``, the size ``|C|`` of the selected set.
    """

    Config = DSOFULConfig
    requires = LinearBanditModel
    state_keys = ("Ainv", "theta", "n_selected")

    def _init_state(self) -> None:
        cfg = self.config
        R, K, d = self.num_envs, self.n_arms, self._arm_feature_dim()
        #: ``"shared"`` or ``"disjoint"``.
        self.model = self._linear_model(cfg.model)
        if cfg.gamma == "theory" or cfg.beta == "theory":
            env = self.contract(LinearBanditModel, "gamma or beta 'theory'", "set gamma and beta to numbers")
            noise = float(self.contract(StochasticBandit).noise_sd_bound)
            bounds = (noise, float(env.feature_norm_bound), float(env.theta_norm_bound), cfg.delta)
        #: The threshold Γ and radius β in use.
        if cfg.gamma == "theory":
            assert cfg.gap is not None  # the config validator demands it
            self.gamma = theory_threshold(cfg.gap, d, *bounds)
        else:
            self.gamma = float(cfg.gamma)
        if cfg.beta == "theory":
            if self.gamma <= 0.0:
                raise UserError("ds-oful: beta='theory' needs gamma > 0 (or gamma='theory' with gap)")
            self.beta = theory_radius(self.gamma, d, *bounds)
        else:
            self.beta = float(cfg.beta)
        arms = () if self.model == "shared" else (K,)
        self.Ainv = np.broadcast_to(np.eye(d) / cfg.lam, (R, *arms, d, d)).copy()
        self.theta = np.zeros((R, *arms, d))
        self.n_selected = np.zeros(R, dtype=np.int64)

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: x_k = argmax_x xᵀθ + β‖x‖_{U⁻¹} (line 6).
        scores = ucb_width(self.Ainv, obs)
        scores *= self.beta
        theta = self.theta[:, None, :] if self.model == "shared" else self.theta
        scores += np.vecdot(obs, theta)
        return self._argmax(scores, self.config.tie_breaking)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: regress on the round only if ‖x_k‖_{U⁻¹} ≥ Γ (line 8); U, θ are those it played with.
        rows = self._rows
        x = obs[rows, actions]
        Ainv = self.Ainv if self.model == "shared" else self.Ainv[rows, actions]
        width = np.sqrt(np.maximum(np.vecdot(x, np.matvec(Ainv, x)), 0.0))
        keep = np.flatnonzero(selected(width, self.gamma))
        if keep.size == 0:
            return
        streams, arms = keep, actions[keep]
        where = (streams,) if self.model == "shared" else (streams, arms)
        new, _, gain = sherman_morrison(self.Ainv[where], x[keep])
        self.Ainv[where] = new
        self.theta[where] = rls_update(self.theta[where], gain, x[keep], rewards[keep])
        self.n_selected[keep] += 1
