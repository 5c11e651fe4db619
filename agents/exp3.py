"""EXP3: exponential weights on importance-weighted loss estimates (Auer, Cesa-Bianchi, Freund & Schapire).

"The Nonstochastic Multiarmed Bandit Problem", SIAM J. Computing 32(1), 2002: play
``p = (1 − γ)·softmax(−η_t L̂) + γ/K`` and add ``ℓ_a/p_a`` to the played arm's ``L̂_a``; with the anytime
rate ``η_t = sqrt(ln K/(t K))`` the expected regret against the best fixed arm is ``O(√(T K ln K))`` for
losses in [0, 1]. Iteration counts are not in [0, 1]: as for Tsallis-INF, losses are divided by the running
scale (mean loss − 1) and offset by 1 unless ``normalise`` is off. The loss is ``−reward``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import exp3_probabilities, iteration_scale
from rl_suite.contracts import SolverTuning


class EXP3Config(AgentConfig):
    """Settings of EXP3."""

    gamma: float = Field(0.0, ge=0.0, le=1.0)
    """Uniform exploration mixed into the exponential weights."""
    eta_scale: float = Field(1.0, gt=0.0)
    """Learning rate ``η_t = eta_scale·sqrt(ln K/(t K))``."""
    normalise: bool | Literal["auto"] = "auto"
    """Losses are iteration counts: use ``(loss − 1)`` divided by (mean loss so far − 1). Off: rewards in
    [0, 1] and the loss ``1 − reward``. ``"auto"``: on for envs whose rewards are minus iteration counts."""


class EXP3(BanditAgent[EXP3Config]):
    """EXP3 over the arms, context ignored.

    Reference: Auer, Cesa-Bianchi, Freund & Schapire, SIAM J. Comput. 2002 (Exp3, written for losses).

    State over R streams: ``L_hat`` ``(R, K)``, ``rounds``, ``loss_sum``, ``last_prob`` ``(R,)``.
    """

    Config = EXP3Config
    state_keys = ("L_hat", "rounds", "loss_sum", "last_prob")

    def _init_state(self) -> None:
        self._require_context_free()
        cfg = self.config
        #: Whether losses are iteration counts (normalised by the running scale).
        tuning = self.find_contract(SolverTuning)
        self.normalise = (
            tuning is not None and bool(tuning.cost_is_iteration_count)
            if cfg.normalise == "auto"
            else cfg.normalise
        )
        R, K = self.num_envs, self.n_arms
        self.L_hat = np.zeros((R, K))
        self.rounds = np.zeros(R)
        self.loss_sum = np.zeros(R)
        self.last_prob = np.ones(R)

    def probabilities(self) -> np.ndarray:
        """The ``(R, K)`` sampling distribution of the next round."""
        cfg = self.config
        K = self.n_arms
        eta = cfg.eta_scale * np.sqrt(math.log(K) / ((self.rounds + 1.0) * K))
        L = self.L_hat
        if self.normalise:
            L = L / iteration_scale(self.loss_sum, self.rounds)[:, None]
        return exp3_probabilities(L, eta, cfg.gamma)

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: sample from the exponential weights.
        p = self.probabilities()
        arms = self._sample(p, deterministic)
        self.last_prob = p[self._rows, arms]
        return arms

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: importance-weighted loss of the played arm.
        loss = -rewards
        offset = 1.0 if self.normalise else -1.0  # loss − 1 ≥ 0, or 1 − reward
        self.L_hat[self._rows, actions] += (loss - offset) / self.last_prob
        self.rounds += 1.0
        self.loss_sum += loss
