"""SupLinUCB: LinUCB made analysable by stages of independent samples (Chu, Li, Reyzin & Schapire 2011).

Chu, Li, Reyzin & Schapire, "Contextual Bandits with Linear Payoff Functions", AISTATS 2011 (Algorithms 1
and 2). The agent keeps ``S = ⌈ln T⌉`` ridge regressions, one per stage ``s``, each fitted only on the
rounds that stage chose (BaseLinUCB on the index set ``Ψ^s``). Every round starts at stage 1 with all arms
``Â_1 = [K]`` and, at stage ``s`` with widths ``w_a = (α + 1)·‖x_a‖_{A_s⁻¹}`` and estimates ``ŝ_a = θ̂_sᵀx_a``:

* (a) every width ``≤ 1/√T``: play ``argmax_{a ∈ Â_s} ŝ_a + w_a`` and learn nothing;
* (b) else every width ``≤ 2^{-s}``: keep
  ``Â_{s+1} = {a ∈ Â_s : ŝ_a + w_a ≥ max_{a'} (ŝ_{a'} + w_{a'}) − 2^{1−s}}`` and go to stage ``s + 1``;
* (c) else play an arm of ``Â_s`` with ``w_a > 2^{-s}`` and add the round to stage s's regression only.

Regret ``O(√(T d ln³(K T ln T / δ)))`` with probability ``1 − δ`` (Chu et al. 2011, abstract and
Thm. 1). Zhang, He, Fan & Gu ("On the Interplay Between Misspecification and Sub-optimality Gap in Linear
Contextual Bandits", ICML 2023, arXiv 2303.09390) show that this peeling also gives a gap-dependent
*constant* regret ``Õ(d²/Δ)``, without knowing the minimal gap Δ, when the misspecification is
``ζ ≤ Õ(Δ/√d)``; their SupLinUCB listing has the same three cases with their own radius β(l).

What was verified, and what is a choice here:

* Verified: the regret bound (Chu et al.'s abstract) and the structure of the three cases (Zhang et al.'s
  SupLinUCB listing, read in full in the first author's PhD thesis, ch. 4: exploration on ``‖x‖ ≥ 2^{-l}``,
  elimination with margin ``3β(l)2^{-l}``, an exploit case that learns nothing). As recalled from Chu et
  al.'s Alg. 1-2, not re-read here (their full text was not available): BaseLinUCB's ridge
  ``A = I_d + Σ_{τ∈Ψ} x_τ x_τᵀ`` (λ = 1, kept as ``lam``), the width ``(α + 1)·sqrt(xᵀA⁻¹x)`` with
  ``α = sqrt(ln(2TK/δ)/2)`` (public re-implementations use the same ``sqrt(ln(2TK/δ)/2) + 1``), the width
  thresholds ``1/√T`` and ``2^{-s}`` and the margin ``2^{1−s}``. ``alpha`` may be set to a number instead
  (the theoretical value is conservative: ≈ 2.8 at T = 10⁴, K = 10).
* Case (c) may play *any* arm with a wide interval; the arm with the widest interval is played here (as
  Zhang et al.'s listing does), which is deterministic.
* ``S = ⌈ln T⌉`` stages (natural log), so ``2^{-S} < 1/√T`` and case (a) is reached before the stages
  run out; if a round still passes every stage (possible when ``horizon`` is small), it is played as in
  case (a).
* The ``disjoint`` model (one θ*_a per arm) is SupLinUCB on the block features ``e_a ⊗ x``: the Gram
  matrix is block diagonal, so every stage keeps one ridge regression per arm and a round chosen in case
  (c) updates only the played arm's block of that stage.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import rls_update, sherman_morrison, ucb_width
from rl_suite.contracts import LinearBanditModel


def suplinucb_alpha(horizon: int, n_arms: int, delta: float) -> float:
    """BaseLinUCB's ``α = sqrt(ln(2TK/δ)/2)`` (Chu et al. 2011, Thm. 1); the width is ``(α + 1)‖x‖_{A⁻¹}``.

    Args:
        horizon: The number of rounds T the analysis is tuned for (≥ 1).
        n_arms: The number of arms K (≥ 1).
        delta: Failure probability in (0, 1).

    Returns:
        ``α`` (2.757 for T = 10⁴, K = 10, δ = 0.05).
    """
    if horizon < 1 or n_arms < 1 or not 0.0 < delta < 1.0:
        raise ValueError(f"need horizon, n_arms >= 1 and delta in (0, 1), got {horizon}, {n_arms}, {delta}")
    return math.sqrt(math.log(2.0 * horizon * n_arms / delta) / 2.0)


def suplinucb_stages(horizon: int) -> int:
    """The number of stages ``S = ⌈ln T⌉`` (at least 1) of SupLinUCB (Chu et al. 2011, Alg. 2)."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    return max(1, math.ceil(math.log(horizon)))


def suplinucb_step(
    ucb: np.ndarray, width: np.ndarray, active: np.ndarray, stage: int, horizon: int
) -> tuple[str, int | np.ndarray]:
    """One stage of SupLinUCB's arm selection for one round (Chu et al. 2011, Alg. 2, cases a-c).

    Args:
        ucb: ``(K,)`` upper bounds ``ŝ_a + w_a`` of this stage.
        width: ``(K,)`` widths ``w_a`` of this stage.
        active: ``(K,)`` bool, the arms ``Â_s`` still in play.
        stage: ``s`` (1-based).
        horizon: T.

    Returns:
        ``("exploit", arm)`` (case a: play, learn nothing), ``("eliminate", new_active)`` (case b: go on to
        stage ``s + 1`` with the arms kept) or ``("explore", arm)`` (case c: play the widest arm with
        ``w_a > 2^{-s}`` and learn at this stage).
    """
    w = np.where(active, width, -np.inf)
    if w.max() <= 1.0 / math.sqrt(horizon):
        return "exploit", int(np.where(active, ucb, -np.inf).argmax())
    if w.max() <= 2.0**-stage:
        top = np.where(active, ucb, -np.inf).max()
        return "eliminate", active & (ucb >= top - 2.0 ** (1 - stage))
    return "explore", int(w.argmax())


class SupLinUCBConfig(AgentConfig):
    """Settings of SupLinUCB; defaults are the paper's (λ = 1, the theoretical α, δ = 0.05)."""

    horizon: int = Field(10_000, ge=2)
    """The number of rounds T the algorithm is tuned for: ``⌈ln T⌉`` stages, the exploit width ``1/√T``
    and the theoretical α. Set it to the run's ``total_steps`` for the paper's algorithm."""
    alpha: Annotated[float, Field(ge=0.0)] | Literal["theory"] = "theory"
    """BaseLinUCB's α (the width is ``(α + 1)‖x‖_{A⁻¹}``); ``"theory"`` is ``sqrt(ln(2TK/δ)/2)``."""
    delta: float = Field(0.05, gt=0.0, lt=1.0)
    """Failure probability δ of the theoretical α."""
    lam: float = Field(1.0, gt=0.0)
    """Ridge regularisation of every stage's regression (the paper's BaseLinUCB uses 1)."""
    model: Literal["auto", "shared", "disjoint"] = "auto"
    """``shared`` θ on per-arm features or ``disjoint`` θ_a per arm (block features, see the module
    docstring); ``auto`` reads ``env.unwrapped.model``."""


class SupLinUCB(BanditAgent[SupLinUCBConfig]):
    """SupLinUCB (Chu, Li, Reyzin & Schapire, AISTATS 2011, Alg. 2) over BaseLinUCB (Alg. 1).

    Needs ``(K, d)`` arm-feature observations (``rl_suite/LinearContextualBandit-v0``). State: one ridge
    regression per stage, ``Ainv (R, S, [K,] d, d)`` and ``theta (R, S, [K,] d)``, and the number of
    rounds each stage has learned from, ``stage_counts (R, S)``. The R streams are run one after another
    (each round's stages and eliminated arms differ per stream).
    """

    Config = SupLinUCBConfig
    requires = LinearBanditModel
    state_keys = ("Ainv", "theta", "stage_counts")

    def _init_state(self) -> None:
        cfg = self.config
        R, K, d = self.num_envs, self.n_arms, self._arm_feature_dim()
        #: ``"shared"`` or ``"disjoint"``.
        self.model = self._linear_model(cfg.model)
        #: The number of stages S.
        self.n_stages = suplinucb_stages(cfg.horizon)
        #: The α in use.
        self.alpha = suplinucb_alpha(cfg.horizon, K, cfg.delta) if cfg.alpha == "theory" else float(cfg.alpha)
        arms = () if self.model == "shared" else (K,)
        S = self.n_stages
        self.Ainv = np.broadcast_to(np.eye(d) / cfg.lam, (R, S, *arms, d, d)).copy()
        self.theta = np.zeros((R, S, *arms, d))
        self.stage_counts = np.zeros((R, S), dtype=np.int64)
        #: Stage (0-based) whose regression learns from this round, per stream; -1: none (case a).
        self._learn_stage = np.full(R, -1, dtype=np.int64)

    def _stage_scores(self, r: int, s: int, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(ucb, width)`` of every arm at stage ``s`` (0-based) of stream ``r``."""
        width = ucb_width(self.Ainv[r, s], obs) * (self.alpha + 1.0)
        theta = self.theta[r, s]
        est = obs @ theta if self.model == "shared" else np.vecdot(obs, theta)
        return est + width, width

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: Chu et al. 2011, Alg. 2 — stages 1..S: exploit (a), eliminate (b) or explore (c).
        horizon = self.config.horizon
        actions = np.empty(self.num_envs, dtype=np.int64)
        for r in range(self.num_envs):
            active = np.ones(self.n_arms, dtype=bool)
            learn, arm = -1, -1
            for s in range(self.n_stages):
                ucb, width = self._stage_scores(r, s, obs[r])
                case, out = suplinucb_step(ucb, width, active, s + 1, horizon)
                if case == "eliminate":
                    assert isinstance(out, np.ndarray)
                    active = out
                    continue
                arm = int(out)
                learn = s if case == "explore" else -1
                break
            else:  # every stage eliminated: play the last stage's optimistic arm, learn nothing
                arm = int(np.where(active, ucb, -np.inf).argmax())
            actions[r], self._learn_stage[r] = arm, learn
        return actions

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: only the stage that chose the round in case (c) learns from it (Alg. 2, Ψ^s update).
        for r in np.flatnonzero(self._learn_stage >= 0):
            s, a = int(self._learn_stage[r]), int(actions[r])
            where = (r, s) if self.model == "shared" else (r, s, a)
            x = obs[r, a]
            Ainv, _, gain = sherman_morrison(self.Ainv[where], x)
            self.Ainv[where] = Ainv
            self.theta[where] = rls_update(self.theta[where], gain, x, float(rewards[r]))
            self.stage_counts[r, s] += 1
        self._learn_stage[:] = -1
