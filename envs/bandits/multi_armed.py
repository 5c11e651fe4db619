"""The stochastic multi-armed bandit: fixed arm means, no context."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite.envs.bandits._core import (
    REWARD_NOISES,
    BanditCore,
    BanditEnv,
    BanditVectorEnv,
    check_choice,
    check_int,
    check_positive,
)
from rl_suite.errors import UserError
from rl_suite.registry import MULTI_ARMED_BANDIT


class MultiArmedCore(BanditCore):
    """Constant means; the observation is always 0."""

    context_normals = 0

    def __init__(self, means: np.ndarray, reward_noise: str, noise_sd: float) -> None:
        self.means, self.n_arms = means, means.size
        self.reward_noise, self.noise_sd = reward_noise, noise_sd

    def observe(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(R, 0)`` normals → ``(R,)`` zero observations and ``(R, K)`` means."""
        R = z.shape[0]
        return np.zeros(R, dtype=np.int64), np.broadcast_to(self.means, (R, self.n_arms))


def bernoulli_kl(p: np.ndarray, q: float) -> np.ndarray:
    """``KL(Ber(p) ‖ Ber(q))`` elementwise (with ``0 ln 0 = 0``)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / q), 0.0)
        b = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return a + b


class MultiArmedBandit(BanditEnv[np.int64]):
    """K-armed stochastic bandit with exact per-round regret.

    ## Description
    The classic stochastic bandit: arm ``a`` pays i.i.d. rewards with mean ``μ_a``. The means are given
    (``means``) or drawn uniformly from ``[0, 1]`` with ``instance_seed``.

    ## Action Space
    ``Discrete(n_arms)``: the arm to play.

    ## Observation Space
    ``Discrete(1)``: always 0 (there is no context).

    ## Rewards
    Bernoulli(``μ_a``) or ``μ_a + σ·N(0, 1)``. ``info`` of every step carries ``regret``
    (exact gap ``μ* − μ_{a_t}``), ``optimal_value`` (``μ*``), ``expected_reward`` and ``optimal_action``.

    ## Episode End
    Never terminates; truncates after ``horizon`` rounds.

    ## Arguments
    * ``n_arms`` (10): number of arms K ≥ 2 (taken from ``means`` when those are given).
    * ``reward_noise`` ("bernoulli"): ``"bernoulli"`` or ``"gaussian"``.
    * ``means`` (None): the arm means; Bernoulli means must lie in ``[0, 1]``.
    * ``noise_sd`` (1.0): σ of Gaussian rewards.
    * ``horizon`` (1000): rounds per episode.
    * ``instance_seed`` (0): draws the means when none are given.

    ## Attributes
    ``means``; ``noise_sd_bound`` (σ, or 0.5 for Bernoulli).

    ## Reference
    Lattimore & Szepesvári, "Bandit Algorithms", Cambridge University Press 2020, ch. 4 and 16
    (the Lai–Robbins lower bound reported by :meth:`solve`).

    ## Version History
    * v0: initial version.
    """

    family = MULTI_ARMED_BANDIT

    def __init__(
        self,
        n_arms: int = 10,
        reward_noise: str = "bernoulli",
        means: Any = None,
        noise_sd: float = 1.0,
        horizon: int = 1000,
        instance_seed: int = 0,
    ) -> None:
        self.reward_noise = check_choice("reward_noise", reward_noise, REWARD_NOISES)
        self.noise_sd = check_positive("noise_sd", noise_sd)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        if means is None:
            n_arms = check_int("n_arms", n_arms, 2)
            self.means = np.random.default_rng(self.instance_seed).uniform(0.0, 1.0, n_arms)
        else:
            try:
                self.means = np.array(means, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                raise UserError(f"means must be a list of numbers, got {means!r}") from None
            if self.means.size < 2 or not np.isfinite(self.means).all():
                raise UserError(f"means must hold at least 2 finite numbers, got {means!r}")
            if n_arms != 10 and n_arms != self.means.size:  # 10 is the default: the means decide
                raise UserError(f"n_arms={n_arms} disagrees with {self.means.size} means")
        if self.reward_noise == "bernoulli" and ((self.means < 0).any() or (self.means > 1).any()):
            raise UserError("Bernoulli means must lie in [0, 1]")
        self.noise_sd_bound = self.noise_sd if self.reward_noise == "gaussian" else 0.5
        core = MultiArmedCore(self.means, self.reward_noise, self.noise_sd)
        self._setup(core, horizon, gym.spaces.Discrete(1))

    def solve(self) -> dict[str, Any]:
        """The exact optimum (best arm and mean), the gaps, and the Lai–Robbins regret constant.

        Any consistent policy has ``Regret(T) ≥ (C + o(1))·ln T`` with ``C = Σ_{Δ_a>0} Δ_a / KL(μ_a, μ*)``
        for Bernoulli arms and ``C = Σ_{Δ_a>0} 2σ²/Δ_a`` for Gaussian arms (Lai & Robbins 1985).
        """
        best = int(self.means.argmax())
        mu_star = float(self.means[best])
        gaps = mu_star - self.means
        pos = gaps > 0
        if self.reward_noise == "bernoulli":
            if mu_star >= 1.0:
                constant = 0.0 if not pos.any() else math.inf
            else:
                constant = float((gaps[pos] / bernoulli_kl(self.means[pos], mu_star)).sum())
        else:
            constant = float((2 * self.noise_sd**2 / gaps[pos]).sum())
        return {
            "env": "MultiArmedBandit-v0",
            "reward_noise": self.reward_noise,
            "means": self.means.tolist(),
            "optimal_arm": best,
            "optimal_value_per_round": mu_star,
            "gaps": gaps.tolist(),
            "random_policy_value_per_round": float(self.means.mean()),
            "lai_robbins_constant": constant,
            "asymptotic_regret": "Regret(T) >= (C + o(1)) ln T with C = lai_robbins_constant",
        }


class MultiArmedBanditVectorEnv(BanditVectorEnv):
    """R seeds of :class:`MultiArmedBandit` as one array program (bit-identical per seed)."""

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        self._setup(MultiArmedBandit(**kwargs), num_envs)
