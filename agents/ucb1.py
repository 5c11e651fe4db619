"""UCB1: the index policy of Auer, Cesa-Bianchi & Fischer (2002) for the context-free multi-armed bandit.

After playing every arm once, play ``argmax_a μ̂_a + c·sqrt(2 ln t / n_a)`` (t rounds so far, ``n_a`` pulls
of arm a). With ``c = 1`` and rewards in [0, 1] the expected regret is at most
``8 Σ_{a: Δ_a > 0} ln T / Δ_a + (1 + π²/3) Σ_a Δ_a`` (their Thm. 1).

Noise scale: the bonus is the Hoeffding radius for rewards in [0, 1], i.e. ½-sub-Gaussian noise. For
Gaussian (or σ-sub-Gaussian) rewards scale it with the noise: ``c = 2σ`` gives the same guarantee (``c = 1``
on noise sd σ ≪ ½ over-explores, on σ ≫ ½ under-explores and can lock onto a bad arm).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import ucb1_index


class UCB1Config(AgentConfig):
    """Settings of UCB1; the default is the paper's index."""

    c: float = Field(1.0, ge=0.0)
    """Scale c ≥ 0 of the bonus ``sqrt(2 ln t / n_a)``: 1 for rewards in [0, 1] (the paper); ``2σ`` for
    Gaussian rewards of noise sd σ."""
    normalise: bool = False
    """Measure rewards in units of their running mean magnitude: the index becomes
    ``μ̂_a/s + c·sqrt(2 ln t/n_a)`` with ``s`` = mean |reward| so far — UCB1 on normalised costs (e.g. the
    iteration counts of the solver-tuning envs, whose rewards are ``−iterations``)."""
    tie_breaking: Literal["random", "first"] = "random"
    """Among arms with exactly equal indices (e.g. the unplayed arms at the start) pick uniformly at random
    or the lowest index."""


class UCB1(BanditAgent[UCB1Config]):
    """UCB1, the upper-confidence-bound index policy.

    Reference: Auer, Cesa-Bianchi & Fischer, "Finite-time Analysis of the Multiarmed Bandit Problem",
    Machine Learning 47, 2002, Fig. 1.

    Needs a context-free bandit (``Discrete(1)`` observations: ``rl_suite/MultiArmedBandit-v0``). State over
    R streams: ``means (R, K)`` and ``counts (R, K)``.
    """

    Config = UCB1Config
    state_keys = ("means", "counts", "abs_reward_sum")

    def _init_state(self) -> None:
        self._require_context_free()
        self.means = np.zeros((self.num_envs, self.n_arms))
        self.counts = np.zeros((self.num_envs, self.n_arms))
        self.abs_reward_sum = np.zeros(self.num_envs)

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: unplayed arms first (index +inf), then the largest upper confidence index.
        t = self.counts.sum(axis=1)
        means = self.means
        if self.config.normalise:
            means = means / np.maximum(self.abs_reward_sum / np.maximum(t, 1.0), 1e-12)[:, None]
        scores = ucb1_index(means, self.counts, t, self.config.c)
        return self._argmax(scores, self.config.tie_breaking)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: incremental sample mean of the played arm.
        idx = self._arm_index(actions)
        self.counts[idx] += 1.0
        self.means[idx] += (rewards[idx[0]] - self.means[idx]) / self.counts[idx]
        self.abs_reward_sum += np.abs(rewards)
