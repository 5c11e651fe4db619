"""The safe linear bandit on a star-convex action set: high-probability stage-wise constraint."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite.envs.constrained._core import (
    SCALED_ACTION_MODES,
    ConstrainedBanditEnv,
    ConstrainedBanditVectorEnv,
    StarConvexCore,
    scaled_action_space,
)
from rl_suite.errors import UserError
from rl_suite.exact.lp import star_convex_optimum
from rl_suite.validation import check_choice, check_int, check_positive

#: ``"random"``: Hutchinson et al.'s random instance; ``"circulant"``: the authors' fixed instance.
PRESETS = ("random", "circulant")


class FixedDirectionsCore(StarConvexCore):
    """The same K directions every round; no context normals are drawn."""

    context_normals = 0
    reward_noise = "gaussian"

    def __init__(
        self, directions: np.ndarray, theta: np.ndarray, mu: np.ndarray, tau: float, noise_sd: float
    ) -> None:
        self.directions = directions
        self.n_arms = int(directions.shape[0])
        self.tau, self.noise_sd = tau, noise_sd
        self.table = np.stack([directions @ theta, directions @ mu])
        self._batch_obs, self._batch_table = self._tile(1)

    def _tile(self, R: int) -> tuple[np.ndarray, np.ndarray]:
        obs = np.tile(self.directions, (R, 1, 1))
        table = np.tile(self.table, (R, 1, 1))
        obs.flags.writeable = table.flags.writeable = False
        return obs, table

    def observe(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A fresh ``(R, K, d)`` copy of the directions and the ``(R, 2, K)`` full-scale means (reused)."""
        R = z.shape[0]
        if self._batch_obs.shape[0] != R:
            self._batch_obs, self._batch_table = self._tile(R)
        return self._batch_obs.copy(), self._batch_table


def _vectors(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be numbers of shape {shape}, got {value!r}") from None
    if arr.shape != shape or not np.isfinite(arr).all():
        raise UserError(f"{name} must be finite numbers of shape {shape}, got shape {arr.shape}")
    norms = np.linalg.norm(arr.reshape(-1, shape[-1]), axis=1)
    if (norms > 1.0 + 1e-12).any():
        raise UserError(f"{name} has a vector of norm {norms.max():.6g} > 1 (the declared bound); rescale it")
    return arr


def _unit(rng: np.random.Generator, *shape: int) -> np.ndarray:
    z = rng.standard_normal(shape)
    return z / np.linalg.norm(z, axis=-1, keepdims=True)


class SafeLinearBandit(ConstrainedBanditEnv):
    """Linear bandit on a star-convex action set whose played action must be safe with high probability.

    ## Description
    K unit directions ``x_k ∈ ℝ^d``; an action is a direction and a scale ``γ ∈ [0, 1]``, i.e. the point
    ``γ x_k`` of the star-convex set around the zero-cost safe action ``0`` (``γ = 0``). Reward
    ``γ⟨x_k, θ*⟩ + σz`` and cost ``γ⟨x_k, μ*⟩ + σz'`` with unknown ``θ*, μ*``. Unlike the in-expectation
    envs the *played action itself* must satisfy ``γ⟨x_k, μ*⟩ ≤ τ`` every round (a high-probability
    guarantee is about this indicator over all rounds). The comparator is the best safe action,
    ``γ*_k = min(1, τ/⟨x_k, μ*⟩)`` (1 when the cost is ≤ 0), ``V* = max(0, max_k γ*_k⟨x_k, θ*⟩)``.

    ## Action Space
    ``"scores"`` mode (default): :class:`~rl_suite.spaces.DirectionScores` ``(K)``, declared as
    ``Box(-1, 1, (K + 1,))``: K direction scores, then the scale, which SB3 and any Box agent can emit. The
    env plays direction ``argmax_k s_k`` (the first on ties) at scale ``clip(γ, 0, 1)`` (a negative scale is
    the safe action). Any finite vector of that length is accepted; NaN or infinity is a one-line error.
    ``action_mode="tuple"``: ``Tuple(Discrete(K), Box(0, 1, (1,)))``, the pair ``(direction, scale)`` (a
    scale outside ``[0, 1]`` is an error there).

    ## Observation Space
    ``Box(-1, 1, (K, d), float64)``: the directions (the same every round).

    ## Rewards
    Gaussian noise of sd ``noise_sd`` on reward and cost. ``info``: ``regret`` against the best safe action,
    ``cost`` (observed), ``expected_cost`` (``γ⟨x_k, μ*⟩``), ``violation = max(0, γ⟨x_k, μ*⟩ − τ)``,
    ``optimal_value``, ``optimal_cost``, ``expected_reward``, ``arm`` (the direction) and ``scale``.

    ## Episode End
    Never terminates; truncates after ``horizon`` rounds.

    ## Arguments
    * ``preset`` ("random"): ``"random"`` = Hutchinson et al.'s instance — K random unit directions, unit
      ``θ*, μ*`` from ``N(0, I)``, ``τ ~ U(0.25, 1)``; ``"circulant"`` = the authors' instance —
      ``θ* ∝ (0, 1, …, d−1)``, ``μ*`` its reverse, the K = d directions the cyclic shifts of
      ``(0, …, d−1)/‖·‖``, ``τ = 0.5``.
    * ``dim`` (2), ``n_directions`` (10; the circulant preset uses ``dim``): d and K.
    * ``tau`` (None): the threshold (> 0); ``None``: the preset's.
    * ``theta``, ``mu`` (``(d,)``), ``directions`` (``(K, d)``) (None): override the preset (norms ≤ 1).
    * ``action_mode`` ("scores"): ``"scores"`` or ``"tuple"`` (see Action Space).
    * ``noise_sd`` (0.1), ``horizon`` (1000), ``instance_seed`` (0).

    ## Attributes
    ``directions``, ``theta``, ``mu``, ``tau``, ``optimal_scales``, ``optimal_value``; ``model = "shared"``,
    ``theta_norm_bound``, ``mu_norm_bound``, ``feature_norm_bound``, ``noise_sd_bound``.

    ## Vectorized environment
    ``gymnasium.make_vec(id, num_envs=R, vectorization_mode="vector_entry_point", **kwargs)``.

    ## Reference
    Pacchiano, Ghavamzadeh & Bartlett, "Contextual Bandits with Stage-wise Constraints", arXiv 2401.08016
    (high-probability setting; code ``pacchiano/constrainedBandits``); Amani, Alizadeh & Thrampoulidis,
    "Linear Stochastic Bandits Under Safety Constraints", NeurIPS 2019; Hutchinson, Turan & Alizadeh,
    "Directional Optimism for Safe Linear Bandits", AISTATS 2024 (the random instance).

    ## Version History
    * v0: initial version.
    """

    model = "shared"

    def __init__(
        self,
        preset: str = "random",
        dim: int = 2,
        n_directions: int = 10,
        tau: float | None = None,
        theta: list[float] | None = None,
        mu: list[float] | None = None,
        directions: list[list[float]] | None = None,
        noise_sd: float = 0.1,
        horizon: int = 1000,
        instance_seed: int = 0,
        action_mode: str = "scores",
    ) -> None:
        self.preset = check_choice("preset", preset, PRESETS)
        self.action_mode = check_choice("action_mode", action_mode, SCALED_ACTION_MODES)
        d = check_int("dim", dim, 1)
        self.noise_sd = check_positive("noise_sd", noise_sd)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        rng = np.random.default_rng(self.instance_seed)
        if self.preset == "circulant":
            base = np.arange(d, dtype=np.float64)
            base /= np.linalg.norm(base) if d > 1 else 1.0
            X = np.stack([np.roll(base, k) for k in range(d)])
            th, m, default_tau = base, base[::-1].copy(), 0.5
        else:
            K = check_int("n_directions", n_directions, 1)
            X, th, m = _unit(rng, K, d), _unit(rng, d), _unit(rng, d)
            default_tau = float(rng.uniform(0.25, 1.0))
        if directions is not None:
            X = _vectors("directions", directions, (len(directions), d))
        if theta is not None:
            th = _vectors("theta", theta, (d,))
        if mu is not None:
            m = _vectors("mu", mu, (d,))
        if X.shape[0] < 1:
            raise UserError("directions must hold at least one direction")
        tau = default_tau if tau is None else tau
        if isinstance(tau, (bool, np.bool_)) or not isinstance(tau, (int, float, np.integer, np.floating)):
            raise UserError(f"tau must be a number, got {tau!r}")
        if not (np.isfinite(tau) and tau > 0):
            raise UserError(f"tau={tau!r} must exceed 0, the cost of the safe action (scale 0)")
        self.tau, self.dim = float(tau), d
        for arr in (X, th, m):
            arr.flags.writeable = False
        self.directions, self.theta, self.mu = X, th, m
        self.n_arms = int(X.shape[0])
        self.theta_norm_bound = float(np.linalg.norm(th))
        self.mu_norm_bound = float(np.linalg.norm(m))
        self.feature_norm_bound = float(np.linalg.norm(X, axis=1).max())
        self.noise_sd_bound = self.noise_sd
        self.safe_cost = 0.0
        core = FixedDirectionsCore(X, th, m, self.tau, self.noise_sd)
        core.action_mode = self.action_mode
        self.optimal_scales, value, best = star_convex_optimum(core.table[0], core.table[1], self.tau)
        self.optimal_value, self.optimal_direction = float(value), int(best)
        action_space = scaled_action_space(self.n_arms, self.action_mode)
        obs_space = gym.spaces.Box(-1.0, 1.0, X.shape, dtype=np.float64)
        self._setup_constrained(core, horizon, obs_space, action_space)

    def solve(self) -> dict[str, Any]:
        """The exact optimum: best direction and scale, value and cost, and every direction's safe scale."""
        rewards = self.directions @ self.theta
        costs = self.directions @ self.mu
        best = self.optimal_direction
        scale = float(self.optimal_scales[best]) if self.optimal_value > 0 else 0.0
        return {
            "env": "rl_suite/SafeLinearBandit-v0",
            "tau": self.tau,
            "optimal_direction": best,
            "optimal_scale": scale,
            "optimal_value_per_round": self.optimal_value,
            "optimal_cost_per_round": scale * float(costs[best]),
            "full_scale_rewards": rewards.tolist(),
            "full_scale_costs": costs.tolist(),
            "safe_scales": self.optimal_scales.tolist(),
            "unconstrained_value_per_round": float(max(rewards.max(), 0.0)),
        }


class SafeLinearBanditVectorEnv(ConstrainedBanditVectorEnv):
    """R noise streams of one :class:`SafeLinearBandit` (bit-identical per seed).

    Args:
        num_envs: Number of streams R ≥ 1.
        **kwargs: The arguments of :class:`SafeLinearBandit`.
    """

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        self._setup(SafeLinearBandit(**kwargs), num_envs)
