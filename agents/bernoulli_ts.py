"""Thompson sampling with Beta posteriors for Bernoulli bandits (Thompson 1933; Agrawal & Goyal 2012).

Each arm's success probability has a ``Beta(α_a, β_a)`` posterior, starting at the prior
``Beta(prior_alpha, prior_beta)``; each round draws one sample per arm and plays the largest; a reward
``r ∈ {0, 1}`` adds ``r`` to ``α_a`` and ``1 − r`` to ``β_a``. With the uniform prior the regret is
``O(Σ_a ln T / Δ_a)``, matching the Lai–Robbins rate (Agrawal & Goyal, COLT 2012; Kaufmann, Korda & Munos,
ALT 2012).

The conjugate update is only right for 0/1 rewards, so the agent refuses an env whose
``env.unwrapped.reward_noise`` is not ``"bernoulli"``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.contracts import RewardNoiseModel
from rl_suite.errors import UserError


class BernoulliTSConfig(AgentConfig):
    """Settings of Bernoulli Thompson sampling; the default is the uniform prior Beta(1, 1)."""

    prior_alpha: float = Field(1.0, gt=0.0)
    """Prior pseudo-count of successes α₀ > 0 of every arm."""
    prior_beta: float = Field(1.0, gt=0.0)
    """Prior pseudo-count of failures β₀ > 0 of every arm."""
    tie_breaking: Literal["random", "first"] = "random"
    """Among arms with exactly equal samples (or posterior means, when deterministic) pick uniformly at
    random or the lowest index."""


class BernoulliTS(BanditAgent[BernoulliTSConfig]):
    """Bernoulli Thompson sampling with Beta priors.

    References: Thompson, Biometrika 25, 1933; Agrawal & Goyal, "Analysis of Thompson Sampling for the
    Multi-armed Bandit Problem", COLT 2012.

    Needs a context-free bandit with Bernoulli rewards (``rl_suite/MultiArmedBandit-v0`` with
    ``reward_noise="bernoulli"``). ``predict(obs, deterministic=True)`` plays the largest posterior mean.
    """

    Config = BernoulliTSConfig
    requires = RewardNoiseModel
    state_keys = ("alpha", "beta")

    def _init_state(self) -> None:
        self._require_context_free()
        law = self.find_contract(RewardNoiseModel)
        if law is not None and law.reward_noise != "bernoulli":
            raise UserError(
                f"bernoulli-ts needs Bernoulli rewards (reward_noise='bernoulli'), got {law.reward_noise!r}; "
                "use ucb1 or epsilon-greedy"
            )
        shape = (self.num_envs, self.n_arms)
        self.alpha = np.full(shape, self.config.prior_alpha)
        self.beta = np.full(shape, self.config.prior_beta)

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: one posterior sample per arm, play the largest (the posterior mean if deterministic).
        if deterministic:
            scores = self.alpha / (self.alpha + self.beta)
        else:
            scores = self.rng.beta(self.alpha, self.beta)
        return self._argmax(scores, self.config.tie_breaking)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: conjugate Beta update of the played arm.
        idx = self._arm_index(actions)
        r = rewards[idx[0]]
        self.alpha[idx] += r
        self.beta[idx] += 1.0 - r
