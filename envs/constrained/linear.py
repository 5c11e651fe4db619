"""The contextual linear bandit with a stage-wise expected-cost constraint (the OPLB setting)."""

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
    policy_action_space,
)
from rl_suite.errors import UserError
from rl_suite.validation import check_choice, check_int, check_positive

#: Index of the known safe action among each round's actions.
SAFE_INDEX = 0


def positive_unit_rows(z: np.ndarray) -> np.ndarray:
    """Map standard normals ``(..., d)`` to unit vectors of the positive orthant: ``|z| / ‖z‖``.

    The result is uniform on the positive part of the unit sphere; with unit ``θ, μ ≥ 0`` every mean
    ``⟨x, θ⟩`` lies in ``[0, 1]``.
    """
    a = np.abs(z)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


class LinearPolicyCore(PolicyCore):
    """Round = the fixed safe action ``x₀`` (row 0) plus ``K − 1`` fresh actions drawn from normals."""

    def __init__(
        self,
        theta: np.ndarray,
        mu: np.ndarray,
        safe_action: np.ndarray,
        n_actions: int,
        tau: float,
        action_mode: str,
        reward_noise: str,
        noise_sd: float,
    ) -> None:
        self.theta, self.mu, self.safe_action = theta, mu, safe_action
        self.n_arms, self.dim = n_actions, theta.size
        self.context_normals = (n_actions - 1) * theta.size
        self.tau, self.action_mode = tau, action_mode
        self.reward_noise, self.noise_sd = reward_noise, noise_sd
        self._params = np.stack([theta, mu], axis=1)  # (d, 2)

    def observe(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(R, K, d)`` action features and the ``(R, 2, K)`` mean rewards and costs."""
        R = z.shape[0]
        X = np.empty((R, self.n_arms, self.dim))
        X[:, SAFE_INDEX] = self.safe_action
        X[:, SAFE_INDEX + 1 :] = positive_unit_rows(z.reshape(R, self.n_arms - 1, self.dim))
        table = np.swapaxes(X @ self._params, 1, 2)
        return X, np.ascontiguousarray(table)


def _unit_param(name: str, value: Any, dim: int, rng: np.random.Generator) -> np.ndarray:
    if value is None:
        return positive_unit_rows(rng.standard_normal(dim))
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a list of {dim} numbers, got {value!r}") from None
    if arr.shape != (dim,) or not np.isfinite(arr).all():
        raise UserError(f"{name} must be {dim} finite numbers (dim={dim}), got {value!r}")
    norm = float(np.linalg.norm(arr))
    if norm > 1.0 + 1e-12:
        raise UserError(
            f"{name} has norm {norm:.6g} > 1: means ⟨x, {name}⟩ of unit features would leave the declared "
            "range [-1, 1]; rescale it"
        )
    return arr


class StagewiseConstrainedLinearBandit(ConstrainedBanditEnv):
    """Contextual linear bandit with linear costs and a per-round expected-cost constraint.

    ## Description
    Each round offers K actions with features ``x_{t,a} ∈ ℝ^d``: action 0 is the known safe action ``x₀``
    (the same every round, cost ``c₀ = ⟨x₀, μ*⟩ < τ`` told to the learner), the other ``K − 1`` are fresh
    unit vectors of the positive orthant. Rewards are ``⟨x, θ*⟩ + noise`` and costs ``⟨x, μ*⟩ + noise``
    with unknown unit ``θ*, μ* ≥ 0`` (so every mean lies in ``[0, 1]``). The learner plays a policy π over
    the round's actions and must keep ``E_π⟨x, μ*⟩ ≤ τ`` every round; the env samples ``a ∼ π``. The
    comparator is the round's best feasible policy (exact, a mixture of at most two actions) — the setting
    of OPLB (Pacchiano et al. 2021) and of the in-expectation algorithms of Pacchiano et al. 2024.

    ## Action Space
    ``"distribution"`` mode (default): :class:`~rl_suite.spaces.PolicyWeights` ``(K)``, declared as
    ``Box(0, 1, (K,), float32)``: non-negative weights ``w`` over the round's actions that the env
    normalises into the policy ``π = w / Σw`` (any finite ``w ≥ 0``; the all-zero vector is the uniform
    policy; NaN or a negative entry is a one-line error). The regret is that of the normalised policy. With
    ``strict_simplex=True`` the space is :class:`~rl_suite.spaces.Simplex` ``(K)`` and only probability
    vectors are accepted. ``"arm"`` mode: ``Discrete(K)``.

    ## Observation Space
    ``Box(0, 1, (K, d), float64)``: the round's action features; row 0 is the safe action.

    ## Rewards
    Gaussian (``reward_noise="gaussian"``, default, σ = ``noise_sd``) or Bernoulli rewards and costs.
    ``info`` as for ``ConstrainedMAB-v0``: ``regret`` against the round's best feasible policy,
    ``cost``, ``expected_cost``, ``violation = max(0, E_π⟨x, μ*⟩ − τ)``, ``optimal_value``, ``optimal_cost``,
    ``expected_reward`` and the sampled ``arm``.

    ## Episode End
    Never terminates; truncates after ``horizon`` rounds.

    ## Arguments
    * ``dim`` (5), ``n_actions`` (10): d and K (K counts the safe action).
    * ``tau`` (0.5): the threshold; must exceed ``safe_cost``.
    * ``safe_cost`` (0.1): ``c₀``; the safe action is ``x₀ = c₀ v / ⟨v, μ*⟩`` for a fixed random unit
      ``v ≥ 0`` (an error if that leaves the unit ball).
    * ``theta``, ``mu`` (None): the parameters (norm ≤ 1); ``None`` draws unit vectors ``≥ 0`` from
      ``instance_seed``.
    * ``action_mode`` ("distribution"), ``reward_noise`` ("gaussian"), ``noise_sd`` (0.1), ``horizon`` (1000),
      ``instance_seed`` (0).
    * ``strict_simplex`` (False): refuse policy weights that do not sum to 1 instead of normalising them.

    ## Attributes
    ``theta``, ``mu``, ``tau``, ``safe_action`` (``x₀``), ``safe_action_index`` (0), ``safe_cost``;
    ``model = "shared"`` and the bounds ``theta_norm_bound``, ``mu_norm_bound``, ``feature_norm_bound``,
    ``noise_sd_bound`` that the agents' ``"auto"`` settings read.

    ## Vectorized environment
    ``gymnasium.make_vec(id, num_envs=R, vectorization_mode="vector_entry_point", **kwargs)``.

    ## Reference
    Pacchiano, Ghavamzadeh, Bartlett & Jiang, "Stochastic Bandits with Linear Constraints", AISTATS 2021;
    Pacchiano, Ghavamzadeh & Bartlett, "Contextual Bandits with Stage-wise Constraints", arXiv 2401.08016.

    ## Version History
    * v0: initial version.
    """

    model = "shared"
    core: LinearPolicyCore

    def __init__(
        self,
        dim: int = 5,
        n_actions: int = 10,
        tau: float = 0.5,
        safe_cost: float = 0.1,
        theta: list[float] | None = None,
        mu: list[float] | None = None,
        action_mode: str = "distribution",
        reward_noise: str = "gaussian",
        noise_sd: float = 0.1,
        horizon: int = 1000,
        instance_seed: int = 0,
        strict_simplex: bool = False,
    ) -> None:
        self.dim = check_int("dim", dim, 2)
        self.strict_simplex = check_bool("strict_simplex", strict_simplex)
        K = check_int("n_actions", n_actions, 2)
        self.action_mode = check_choice("action_mode", action_mode, ACTION_MODES)
        self.reward_noise = check_choice("reward_noise", reward_noise, REWARD_NOISES)
        self.noise_sd = check_positive("noise_sd", noise_sd)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        rng = np.random.default_rng(self.instance_seed)
        self.theta = _unit_param("theta", theta, self.dim, rng)
        self.mu = _unit_param("mu", mu, self.dim, rng)
        if self.reward_noise == "bernoulli" and ((self.theta < 0).any() or (self.mu < 0).any()):
            raise UserError("Bernoulli rewards and costs need theta >= 0 and mu >= 0 (means in [0, 1])")
        c0 = check_positive("safe_cost", safe_cost)
        v = positive_unit_rows(rng.standard_normal(self.dim))
        along = float(v @ self.mu)
        if along <= 0 or c0 > along:
            raise UserError(
                f"safe_cost={c0:.6g} is not reachable inside the unit ball along the safe direction "
                f"(largest cost there: {max(along, 0.0):.6g}); lower safe_cost"
            )
        self.safe_action = c0 / along * v
        self.safe_action.flags.writeable = False
        self.safe_action_index = SAFE_INDEX
        self.safe_cost = float(self.safe_action @ self.mu)
        self.tau = check_threshold(tau, self.safe_cost, "the safe action x0")
        self.n_arms = K
        self.theta_norm_bound = float(np.linalg.norm(self.theta))
        self.mu_norm_bound = float(np.linalg.norm(self.mu))
        self.feature_norm_bound = 1.0
        self.noise_sd_bound = self.noise_sd if self.reward_noise == "gaussian" else 0.5
        core = LinearPolicyCore(
            self.theta,
            self.mu,
            self.safe_action,
            K,
            self.tau,
            self.action_mode,
            self.reward_noise,
            self.noise_sd,
        )
        core.strict_simplex = self.strict_simplex
        obs_space = gym.spaces.Box(0.0, 1.0, (K, self.dim), dtype=np.float64)
        space = policy_action_space(K, self.action_mode, self.strict_simplex)
        self._setup_constrained(core, horizon, obs_space, space)

    def solve(self, rounds: int = 20_000, seed: int = 0) -> dict[str, Any]:
        """Describe the instance and estimate the per-round optimum over ``rounds`` sampled contexts.

        The comparator is exact round by round; its average over contexts is estimated here.

        Args:
            rounds: Number of contexts sampled.
            seed: Seed of the sampled contexts.

        Returns:
            A JSON-serialisable dict: parameters, ``tau``, the safe action and its cost, the mean optimal
            value per round (with its standard error), the share of rounds where the constraint binds, the
            mean unconstrained value per round, and ``theory_alpha_r = 1 + 2/(τ − c₀)``.
        """
        core = self.core
        z = np.random.default_rng(seed).standard_normal((rounds, core.context_normals))
        _, table = core.observe(z)
        value, _ = core.optimum(table)
        free = table[:, 0].max(axis=1)
        return {
            "env": "rl_suite/StagewiseConstrainedLinearBandit-v0",
            "theta": self.theta.tolist(),
            "mu": self.mu.tolist(),
            "tau": self.tau,
            "safe_action": self.safe_action.tolist(),
            "safe_cost": self.safe_cost,
            "mean_optimal_value_per_round": float(value.mean()),
            "optimal_value_standard_error": float(value.std(ddof=1) / np.sqrt(rounds)),
            "share_of_rounds_constraint_binds": float((free > value + 1e-12).mean()),
            "mean_unconstrained_value_per_round": float(free.mean()),
            "theory_alpha_r": 1.0 + 2.0 / (self.tau - self.safe_cost),
            "estimated_over_rounds": rounds,
        }


class StagewiseConstrainedLinearBanditVectorEnv(ConstrainedBanditVectorEnv):
    """R noise streams of one :class:`StagewiseConstrainedLinearBandit` (bit-identical per seed).

    Args:
        num_envs: Number of streams R ≥ 1.
        **kwargs: The arguments of :class:`StagewiseConstrainedLinearBandit`.
    """

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        self._setup(StagewiseConstrainedLinearBandit(**kwargs), num_envs)
