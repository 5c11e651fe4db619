"""The stage-wise constrained multi-armed bandit (Pacchiano, Ghavamzadeh, Bartlett & Jiang, AISTATS 2021)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite.envs.bandits._core import REWARD_NOISES
from rl_suite.envs.constrained._core import (
    ACTION_MODES,
    ConstrainedBanditEnv,
    ConstrainedBanditVectorEnv,
    PolicyCore,
    check_bool,
    check_threshold,
    check_unit_interval,
    policy_action_space,
)
from rl_suite.errors import UserError
from rl_suite.exact.lp import best_feasible_mixture, best_feasible_mixture_linprog
from rl_suite.validation import check_choice, check_int, check_positive

#: Instances: drawn at random, the 4-arm example of the authors' code, or the means given.
PRESETS = ("random", "paper4arm")
#: The 4-arm example of the authors' code (arm 0 is the known safe arm, c₀ = 0).
PAPER4ARM_REWARDS = (0.1, 0.2, 0.4, 0.7)
PAPER4ARM_COSTS = (0.0, 0.4, 0.5, 0.2)


class ConstrainedMABCore(PolicyCore):
    """Fixed reward and cost means; the observation is always 0 and no context normals are drawn."""

    context_normals = 0

    def __init__(
        self, table: np.ndarray, tau: float, action_mode: str, reward_noise: str, noise_sd: float
    ) -> None:
        self.table, self.tau, self.action_mode = table, tau, action_mode
        self.n_arms = int(table.shape[1])
        self.reward_noise, self.noise_sd = reward_noise, noise_sd
        self._batch = self._tile(1)

    def _tile(self, R: int) -> np.ndarray:
        batch = np.tile(self.table, (R, 1, 1))
        batch.flags.writeable = False
        return batch

    def observe(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(R,)`` zeros and the ``(R, 2, K)`` fixed means (a read-only array reused across rounds)."""
        R = z.shape[0]
        if self._batch.shape[0] != R:
            self._batch = self._tile(R)
        return np.zeros(R, dtype=np.int64), self._batch


def _means(name: str, values: Any) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a list of numbers, got {values!r}") from None
    if arr.ndim != 1 or arr.size < 2:
        raise UserError(f"{name} must be a flat list of at least 2 numbers, got {values!r}")
    check_unit_interval(name, arr)
    return arr


class ConstrainedMAB(ConstrainedBanditEnv):
    """K-armed bandit with a stage-wise constraint on the expected cost, and exact regret.

    ## Description
    Arm ``a`` pays a reward with mean ``r_a`` and incurs a cost with mean ``c_a`` (both in ``[0, 1]``). Every
    round the learner commits to a policy ``π ∈ Δ_K`` whose expected cost must stay under the threshold:
    ``π·c ≤ τ`` (Pacchiano et al. 2021's in-expectation stage-wise constraint). One arm, the *safe arm*
    ``s``, has a cost ``c₀ = c_s < τ`` the learner is told. The env samples ``a ∼ π`` and returns the
    reward and cost of that arm. The comparator is the best feasible policy,
    ``π* = argmax_{π∈Δ_K} π·r  s.t.  π·c ≤ τ``, computed exactly (a mixture of at most two arms).

    ## Action Space
    ``"distribution"`` mode (default): :class:`~rl_suite.spaces.PolicyWeights` ``(K)``, declared as
    ``Box(0, 1, (K,), float32)``: non-negative weights ``w`` that the env normalises into the policy
    ``π = w / Σw`` (any finite ``w ≥ 0`` is accepted, so SB3's Gaussian policies — whose actions SB3 clips
    to the box —, random samples of the space and probability vectors all work; the all-zero vector is the
    uniform policy; NaN or a negative entry is a one-line error naming the value). The regret is that of
    the normalised policy. With
    ``strict_simplex=True`` the space is :class:`~rl_suite.spaces.Simplex` ``(K)`` and only probability
    vectors (entries ≥ 0 summing to 1 within 1e-6) are accepted. ``"arm"`` mode: ``Discrete(K)``, a pure arm
    (the policy is its one-hot vector).

    ## Observation Space
    ``Discrete(1)``: always ``0`` (no context).

    ## Rewards
    Bernoulli(``r_a``) rewards and Bernoulli(``c_a``) costs, or Gaussian ``r_a + σz`` / ``c_a + σz'``
    (``reward_noise="gaussian"``; the authors' code clips Gaussian draws to ``[0, 1]``, which moves the means,
    so it is not done here — the regret stays exact). ``info`` of every step: ``regret = V* − π·r``
    (negative when an infeasible policy earns more than the feasible optimum), ``optimal_value`` (``V*``),
    ``expected_reward`` (``π·r``), ``expected_cost`` (``π·c``), ``cost`` (the sampled cost),
    ``violation`` (``max(0, π·c − τ)``), ``optimal_cost`` and ``arm`` (the sampled arm).

    ## Episode End
    Never terminates; truncates after ``horizon`` rounds.

    ## Arguments
    * ``preset`` ("random"): ``"random"`` draws ``r, c ~ U(0, 1)^K`` from ``instance_seed``, takes the
      cheapest arm as the safe arm and ``τ = c_min + (c_max − c_min)·U`` (the authors'
      ``random_mab_problems.py``); ``"paper4arm"`` is their 4-arm example ``r = (.1, .2, .4, .7)``,
      ``c = (0, .4, .5, .2)``, safe arm 0 (``τ`` defaults to 0.5). Ignored when means are given.
    * ``reward_means``, ``cost_means`` (None): the means, in ``[0, 1]`` (give both or neither).
    * ``tau`` (None): the threshold; must exceed the safe arm's cost. ``None``: the preset's.
    * ``safe_arm`` (None): index of the known safe arm; ``None``: the cheapest arm.
    * ``n_arms`` (10): K for the random preset.
    * ``action_mode`` ("distribution"): ``"distribution"`` or ``"arm"``.
    * ``strict_simplex`` (False): refuse policy weights that do not sum to 1 instead of normalising them.
    * ``reward_noise`` ("bernoulli"): ``"bernoulli"`` or ``"gaussian"``; ``noise_sd`` (0.1): σ of the
      Gaussian noise.
    * ``horizon`` (1000), ``instance_seed`` (0).

    ## Attributes
    ``reward_means``, ``cost_means``, ``tau``, ``safe_arm``, ``safe_cost`` (``c₀``), ``optimal_policy``,
    ``optimal_value``, ``noise_sd_bound`` (R of the noise: σ, or 0.5 for Bernoulli).

    ## Vectorized environment
    ``gymnasium.make_vec(id, num_envs=R, vectorization_mode="vector_entry_point", **kwargs)``: R noise
    streams of the instance, stream ``i`` bit-identical to this env reset with seed ``seed + i``.

    ## Reference
    Pacchiano, Ghavamzadeh, Bartlett & Jiang, "Stochastic Bandits with Linear Constraints", AISTATS 2021
    (arXiv 2006.10185); their code ``pacchiano/constrainedBandits``.

    ## Version History
    * v0: initial version.
    """

    def __init__(
        self,
        preset: str = "random",
        reward_means: list[float] | None = None,
        cost_means: list[float] | None = None,
        tau: float | None = None,
        safe_arm: int | None = None,
        n_arms: int = 10,
        action_mode: str = "distribution",
        reward_noise: str = "bernoulli",
        noise_sd: float = 0.1,
        horizon: int = 1000,
        instance_seed: int = 0,
        strict_simplex: bool = False,
    ) -> None:
        self.preset = check_choice("preset", preset, PRESETS)
        self.strict_simplex = check_bool("strict_simplex", strict_simplex)
        self.action_mode = check_choice("action_mode", action_mode, ACTION_MODES)
        self.reward_noise = check_choice("reward_noise", reward_noise, REWARD_NOISES)
        self.noise_sd = check_positive("noise_sd", noise_sd)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        if (reward_means is None) != (cost_means is None):
            raise UserError("give both reward_means and cost_means, or neither (to use a preset)")
        default_tau: float
        if reward_means is not None:
            r, c = _means("reward_means", reward_means), _means("cost_means", cost_means)
            if r.size != c.size:
                raise UserError(f"got {r.size} reward_means but {c.size} cost_means")
            default_tau = float("nan")
        elif self.preset == "paper4arm":
            r, c = np.array(PAPER4ARM_REWARDS), np.array(PAPER4ARM_COSTS)
            default_tau = 0.5
        else:
            K = check_int("n_arms", n_arms, 2)
            rng = np.random.default_rng(self.instance_seed)
            r, c = rng.random(K), rng.random(K)
            default_tau = float(c.min() + (c.max() - c.min()) * rng.random())
        K = r.size
        if safe_arm is None:
            safe_arm = int(c.argmin())
        self.safe_arm = check_int("safe_arm", safe_arm, 0)
        if self.safe_arm >= K:
            raise UserError(f"safe_arm={self.safe_arm} is not an arm: expected an index in [0, {K})")
        self.safe_cost = float(c[self.safe_arm])
        if tau is None:
            if np.isnan(default_tau):
                raise UserError("tau is required when reward_means and cost_means are given")
            tau = default_tau
        self.tau = check_threshold(tau, self.safe_cost, f"arm {self.safe_arm}")
        r.flags.writeable = False
        c.flags.writeable = False
        self.reward_means, self.cost_means = r, c
        self.n_arms = K
        self.noise_sd_bound = self.noise_sd if self.reward_noise == "gaussian" else 0.5
        self.optimal_policy, value = best_feasible_mixture(r, c, self.tau)
        self.optimal_value = float(value)
        table = np.stack([r, c])
        core = ConstrainedMABCore(table, self.tau, self.action_mode, self.reward_noise, self.noise_sd)
        core.strict_simplex = self.strict_simplex
        space = policy_action_space(K, self.action_mode, self.strict_simplex)
        self._setup_constrained(core, horizon, gym.spaces.Discrete(1), space)

    def solve(self) -> dict[str, Any]:
        """The exact optimum, by linear programming (scipy HiGHS) and checked against the closed form.

        Returns:
            A JSON-serialisable dict: the means, ``tau``, the safe arm and its cost, ``optimal_policy``,
            ``optimal_value_per_round``, ``optimal_cost_per_round``, whether the constraint is active, the
            unconstrained best arm and its value (what an agent that ignores the constraint chases), and
            ``theory_alpha_r = 1 + 2/(τ − c₀)``.
        """
        policy, value = best_feasible_mixture_linprog(self.reward_means, self.cost_means, self.tau)
        if abs(value - self.optimal_value) > 1e-9:  # pragma: no cover - a bug in one of the two solvers
            raise RuntimeError(f"LP value {value} disagrees with the closed form {self.optimal_value}")
        free = int(self.reward_means.argmax())
        return {
            "env": "rl_suite/ConstrainedMAB-v0",
            "reward_means": self.reward_means.tolist(),
            "cost_means": self.cost_means.tolist(),
            "tau": self.tau,
            "safe_arm": self.safe_arm,
            "safe_cost": self.safe_cost,
            "optimal_policy": np.round(policy, 12).tolist(),
            "optimal_value_per_round": value,
            "optimal_cost_per_round": float(policy @ self.cost_means),
            "constraint_active": bool(self.cost_means[free] > self.tau),
            "unconstrained_best_arm": free,
            "unconstrained_value_per_round": float(self.reward_means[free]),
            "theory_alpha_r": 1.0 + 2.0 / (self.tau - self.safe_cost),
        }


class ConstrainedMABVectorEnv(ConstrainedBanditVectorEnv):
    """R noise streams of one :class:`ConstrainedMAB` as one array program (bit-identical per seed).

    Args:
        num_envs: Number of streams R ≥ 1.
        **kwargs: The arguments of :class:`ConstrainedMAB`.
    """

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        self._setup(ConstrainedMAB(**kwargs), num_envs)
