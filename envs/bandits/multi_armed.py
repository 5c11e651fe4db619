"""The stochastic multi-armed bandit: fixed arm means, no context, exact gaps."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite.envs.bandits._core import REWARD_NOISES, BanditCore, BanditEnv, BanditVectorEnv
from rl_suite.errors import UserError
from rl_suite.validation import check_choice, check_int, check_positive

#: ``n_arms``'s default: when ``means`` are given and ``n_arms`` is left here, the means decide.
_DEFAULT_N_ARMS = 10


class MultiArmedCore(BanditCore):
    """Constant means; the observation is always 0 and no context normals are drawn."""

    context_normals = 0

    def __init__(self, means: np.ndarray, reward_noise: str, noise_sd: float) -> None:
        self.means, self.n_arms = means, int(means.size)
        self.reward_noise, self.noise_sd = reward_noise, noise_sd
        self._batch = self._tile(1)

    def _tile(self, R: int) -> np.ndarray:
        batch = np.tile(self.means, (R, 1))
        batch.flags.writeable = False
        return batch

    def observe(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the round's observations and means (neither depends on ``z``).

        Args:
            z: ``(R, 0)`` standard normals.

        Returns:
            ``(R,)`` int64 zeros and the ``(R, K)`` means (a read-only array reused across rounds).
        """
        R = z.shape[0]
        if self._batch.shape[0] != R:
            self._batch = self._tile(R)
        return np.zeros(R, dtype=np.int64), self._batch


def bernoulli_kl(p: Any, q: float) -> np.ndarray:
    """``KL(Ber(p) ‖ Ber(q))`` elementwise, with ``0·ln 0 = 0`` (``+inf`` where ``q`` cannot produce ``p``).

    Args:
        p: Means of the first distribution(s), in ``[0, 1]``.
        q: Mean of the second distribution, in ``[0, 1]``.

    Returns:
        The divergences, an array shaped like ``p``.
    """
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / q), 0.0)
        b = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return a + b


class MultiArmedBandit(BanditEnv[np.int64]):
    """K-armed stochastic bandit with exact per-round regret.

    ## Description
    The classic stochastic bandit: arm ``a`` pays i.i.d. rewards with mean ``μ_a``. The means are given
    (``means``) or drawn i.i.d. uniform on ``[0, 1]`` from ``instance_seed``. Randomness comes only from
    ``self.np_random``: each ``step`` draws one standard normal ``z``, the reward noise of the arm played
    (Bernoulli: ``1{Φ(z) < μ_a}``; Gaussian: ``μ_a + σ·z``); ``reset`` draws nothing.

    ## Action Space
    ``Discrete(n_arms)``: the arm to play.

    ## Observation Space
    ``Discrete(1)``: always ``0`` (there is no context).

    ## Rewards
    Bernoulli(``μ_a``) or ``μ_a + σ·N(0, 1)``. ``info`` of every step carries ``regret`` (the exact gap
    ``μ* − μ_{a_t}``), ``optimal_value`` (``μ*``), ``expected_reward`` (``μ_{a_t}``) and ``optimal_action``;
    ``reset``'s info carries ``optimal_value``.

    ## Episode End
    Never terminates; truncates after ``horizon`` rounds.

    ## Arguments
    * ``n_arms`` (10): number of arms K ≥ 2. With ``means`` given it must equal ``len(means)`` unless left
      at its default.
    * ``reward_noise`` ("bernoulli"): ``"bernoulli"`` or ``"gaussian"``.
    * ``means`` (None): the arm means (at least 2 finite numbers; in ``[0, 1]`` for Bernoulli rewards).
    * ``noise_sd`` (1.0): σ of Gaussian rewards (ignored for Bernoulli).
    * ``horizon`` (1000): rounds per episode.
    * ``instance_seed`` (0): seed of the drawn means (unused when ``means`` are given).

    ## Attributes
    * ``means``: the true arm means (a read-only array); ``n_arms``, ``reward_noise``, ``noise_sd``,
      ``horizon``: the knobs.
    * ``noise_sd_bound``: R of R-sub-Gaussian reward noise (σ, or 0.5 for Bernoulli rewards).

    ## Vectorized environment
    ``gymnasium.make_vec(id, num_envs=R, vectorization_mode="vector_entry_point", **kwargs)`` gives a
    :class:`MultiArmedBanditVectorEnv`: R noise streams of the same arms as one array program, stream ``i``
    bit-identical to this env reset with seed ``seed + i``.

    ## Reference
    Lattimore & Szepesvári, "Bandit Algorithms", Cambridge University Press 2020, ch. 4 and 16; Lai &
    Robbins, "Asymptotically Efficient Adaptive Allocation Rules", Adv. Appl. Math. 1985 (the constant
    reported by :meth:`solve`).

    ## Version History
    * v0: initial version.
    """

    def __init__(
        self,
        n_arms: int = _DEFAULT_N_ARMS,
        reward_noise: str = "bernoulli",
        means: list[float] | None = None,
        noise_sd: float = 1.0,
        horizon: int = 1000,
        instance_seed: int = 0,
    ) -> None:
        n_arms = check_int("n_arms", n_arms, 2)
        self.reward_noise = check_choice("reward_noise", reward_noise, REWARD_NOISES)
        self.noise_sd = check_positive("noise_sd", noise_sd)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        if means is None:
            values = np.random.default_rng(self.instance_seed).uniform(0.0, 1.0, n_arms)
        else:
            try:
                values = np.array(means, dtype=np.float64)
            except (TypeError, ValueError):
                raise UserError(f"means must be a list of numbers, got {means!r}") from None
            if values.ndim != 1 or values.size < 2 or not np.isfinite(values).all():
                raise UserError(f"means must be a flat list of at least 2 finite numbers, got {means!r}")
            if n_arms not in (_DEFAULT_N_ARMS, values.size):
                raise UserError(f"n_arms={n_arms} disagrees with the {values.size} means given")
        if self.reward_noise == "bernoulli" and ((values < 0).any() or (values > 1).any()):
            raise UserError(f"means must lie in [0, 1] for Bernoulli rewards, got {values.tolist()}")
        values.flags.writeable = False
        self.means = values
        self.noise_sd_bound = self.noise_sd if self.reward_noise == "gaussian" else 0.5
        self._setup(MultiArmedCore(values, self.reward_noise, self.noise_sd), horizon, gym.spaces.Discrete(1))

    def solve(self) -> dict[str, Any]:
        """Describe the exact optimum: best arm and mean, the gaps, and the Lai–Robbins regret constant.

        Any consistent policy has ``Regret(T) ≥ (C + o(1))·ln T`` with ``C = Σ_{a: Δ_a>0} Δ_a / KL(μ_a, μ*)``
        for Bernoulli arms and ``C = Σ_{a: Δ_a>0} 2σ²/Δ_a`` for Gaussian arms (Lai & Robbins 1985); an
        asymptotically optimal policy (KL-UCB, Thompson sampling) attains ``Regret(T) ≈ C·ln T``.

        Returns:
            A JSON-serialisable dict with ``means``, ``optimal_arm``, ``optimal_value_per_round``, ``gaps``,
            ``random_policy_value_per_round`` and ``lai_robbins_constant``.
        """
        best = int(self.means.argmax())
        mu_star = float(self.means[best])
        gaps = mu_star - self.means
        pos = gaps > 0
        if self.reward_noise == "bernoulli":
            # KL(μ_a, 1) = +inf for μ_a < 1: a sure best arm is told apart at no asymptotic cost.
            constant = float((gaps[pos] / bernoulli_kl(self.means[pos], mu_star)).sum())
        else:
            constant = float((2 * self.noise_sd**2 / gaps[pos]).sum())
        return {
            "env": "rl_suite/MultiArmedBandit-v0",
            "reward_noise": self.reward_noise,
            "means": self.means.tolist(),
            "optimal_arm": best,
            "optimal_value_per_round": mu_star,
            "gaps": gaps.tolist(),
            "random_policy_value_per_round": float(self.means.mean()),
            "lai_robbins_constant": constant,
            "asymptotic_regret": "Regret(T) ≈ C·ln T with C = lai_robbins_constant (Lai-Robbins lower bound)",
        }


class MultiArmedBanditVectorEnv(BanditVectorEnv):
    """R noise streams of one :class:`MultiArmedBandit` as one array program (bit-identical per seed).

    All streams share the arms (``means`` or ``instance_seed``); stream ``i`` is bit-identical to
    ``MultiArmedBandit(**kwargs)`` reset with seed ``seed + i`` and fed the same actions. Autoreset is
    Gymnasium's ``SAME_STEP``: every step is a real round.

    Args:
        num_envs: Number of streams R ≥ 1.
        **kwargs: The arguments of :class:`MultiArmedBandit`.
    """

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        self._setup(MultiArmedBandit(**kwargs), num_envs)
