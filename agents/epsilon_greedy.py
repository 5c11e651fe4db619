"""ε-greedy: explore uniformly with probability ε, otherwise play the best arm by the current estimates.

The baseline every bandit algorithm is measured against (Sutton & Barto 2018, §2.2; the decaying
``ε_n``-greedy of Auer, Cesa-Bianchi & Fischer 2002, Thm. 3). With a fixed ε it keeps exploring forever,
so its regret grows linearly (about ``ε · mean gap`` per round) — the reference line for a sublinear
algorithm. Estimates:

* on the linear bandit (``(K, d)`` arm features) ridge regressions as in LinUCB, one per arm
  (``disjoint``) or one shared θ (``shared``); ``auto`` reads ``env.unwrapped.model``;
* on the context-free multi-armed bandit (``Discrete(1)`` observations) plain sample means (0 for arms
  not yet played, as Sutton & Barto).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import rls_update, sherman_morrison
from rl_suite.contracts import StochasticBandit


class EpsilonGreedyConfig(AgentConfig):
    """Settings of ε-greedy."""

    epsilon: float = Field(0.1, ge=0.0, le=1.0)
    """Exploration probability ε ∈ [0, 1] of the ``constant`` schedule."""
    schedule: Literal["constant", "inverse_t"] = "constant"
    """``constant``: ε every round. ``inverse_t``: ``ε_t = min(1, c·K/t)`` at round t (Auer et al. 2002's
    ``ε_n = min(1, cK/(d²n))`` with the unknown gap d folded into c), so the first ``c·K`` rounds explore
    uniformly and exploration then decays like 1/t."""
    c: float = Field(1.0, gt=0.0)
    """Scale c > 0 of the ``inverse_t`` schedule."""
    lam: float = Field(1.0, gt=0.0)
    """Ridge regularisation λ > 0 of the linear estimates (unused on the multi-armed bandit)."""
    model: Literal["auto", "shared", "disjoint"] = "auto"
    """Linear estimates: ``disjoint`` θ_a per arm, ``shared`` θ; ``auto`` reads ``env.unwrapped.model``."""
    tie_breaking: Literal["random", "first"] = "random"
    """Among arms with exactly equal estimates pick uniformly at random or the lowest index."""


class EpsilonGreedy(BanditAgent[EpsilonGreedyConfig]):
    """ε-greedy on ridge estimates or sample means.

    References: Sutton & Barto, "Reinforcement Learning: An Introduction", 2nd ed. 2018, §2.2; Auer,
    Cesa-Bianchi & Fischer, "Finite-time Analysis of the Multiarmed Bandit Problem", Machine Learning 47,
    2002, §3.

    Works on both bandit envs of the suite. ``predict(obs, deterministic=True)`` is greedy; learning
    explores.
    """

    Config = EpsilonGreedyConfig
    requires = StochasticBandit

    def _init_state(self) -> None:
        cfg = self.config
        R, K = self.num_envs, self.n_arms
        #: ``"mab"`` (sample means), ``"shared"`` or ``"disjoint"`` (ridge).
        self.model = "mab" if self.obs_shape == () else None
        if self.model == "mab":
            self._require_context_free()
            self.means = np.zeros((R, K))
            self.counts = np.zeros((R, K))
            self.state_keys = ("means", "counts")
            return
        d = self._arm_feature_dim()
        self.model = self._linear_model(cfg.model)
        arms = () if self.model == "shared" else (K,)
        self.Ainv = np.broadcast_to(np.eye(d) / cfg.lam, (R, *arms, d, d)).copy()
        self.theta = np.zeros((R, *arms, d))
        self.state_keys = ("Ainv", "theta")

    def epsilon_now(self) -> float:
        """ε of the coming round (round ``t = num_timesteps + 1``)."""
        cfg = self.config
        if cfg.schedule == "constant":
            return cfg.epsilon
        t = self.num_timesteps + 1
        return min(1.0, cfg.c * self.n_arms / t)

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: greedy on the estimates; with probability ε a uniformly random arm instead.
        if self.model == "mab":
            scores = self.means
        elif self.model == "shared":
            scores = np.vecdot(obs, self.theta[:, None, :])
        else:
            scores = np.vecdot(obs, self.theta)
        greedy = self._argmax(scores, self.config.tie_breaking)
        if deterministic:
            return greedy
        R = self.num_envs
        explore = self.rng.random(R) < self.epsilon_now()
        random_arms = self.rng.integers(self.n_arms, size=R)
        return np.where(explore, random_arms, greedy)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        idx = self._arm_index(actions)
        r = rewards[idx[0]]
        if self.model == "mab":
            # ALGO LOGIC: incremental sample mean μ̂ += (r − μ̂)/n.
            self.counts[idx] += 1.0
            self.means[idx] += (r - self.means[idx]) / self.counts[idx]
            return
        # ALGO LOGIC: ridge update of the played features (as LinUCB).
        x = obs[idx]
        where = idx[0] if self.model == "shared" else idx
        Ainv, _, gain = sherman_morrison(self.Ainv[where], x)
        self.Ainv[where] = Ainv
        self.theta[where] = rls_update(self.theta[where], gain, x, r)
