"""Machinery shared by the constrained bandit envs: cores (pure batch math) and the single/vector envs.

A constrained round is a table of full-scale mean rewards and mean costs, ``(R, 2, K)`` for R streams and
K actions. A *core* builds the table from standard normals (:meth:`ConstrainedCore.observe`), validates
actions, computes the exact comparator (the best *feasible* play) and plays an action. The single env is
the R = 1 case of the vector env's program, as for the unconstrained bandits
(:mod:`rl_suite.envs.bandits._core`); every step draws ``step_normals + context_normals`` standard normals
in one call: the noise of the round just played, then the next round's context.

Every step's ``info`` carries, besides ``regret`` (against the best feasible play), ``optimal_value``,
``expected_reward``: ``cost`` (the cost signal observed, noisy), ``expected_cost`` (its mean under what
was played), ``violation`` (``max(0, expected_cost − τ)``: 0 when the play was feasible), ``optimal_cost``
and ``arm`` (the arm the env sampled from the policy, or the direction played).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite.envs.bandits._core import BanditCore, BanditEnv, BanditVectorEnv, ndtr, restore_round
from rl_suite.errors import UserError
from rl_suite.exact.lp import best_feasible_mixture, star_convex_optimum, violation_amount
from rl_suite.spaces import (
    DirectionScores,
    PolicyWeights,
    Simplex,
    discrete_action,
    discrete_actions,
    scaled_direction_actions,
    scored_direction_actions,
    simplex_actions,
    weight_actions,
)
from rl_suite.state import Check, State, array, number

#: How the multi-armed and in-expectation linear envs take actions.
ACTION_MODES = ("distribution", "arm")
#: How the star-convex env takes actions: one vector of direction scores and a scale, or a pair.
SCALED_ACTION_MODES = ("scores", "tuple")


class ConstrainedCore(BanditCore):
    """Pure batch math of one constrained instance (shared by every stream of a vector env).

    ``observe`` returns ``(obs, table)`` where ``table[:, 0]`` are the ``(R, K)`` mean rewards and
    ``table[:, 1]`` the mean costs of the round's actions at full scale.

    Attributes:
        tau: The threshold τ on the expected cost of every round's play.
        step_normals: Standard normals one stream draws per step for its noise.
    """

    tau: float
    step_normals: int

    @abstractmethod
    def check_actions(self, actions: Any, num_envs: int | None) -> Any:
        """Validate the env action(s) and return the canonical batch form (R = 1 for a single env)."""

    @abstractmethod
    def optimum(self, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(R,)`` value and expected cost of the best feasible play of each stream's round."""

    @abstractmethod
    def play(self, table: np.ndarray, actions: Any, z: np.ndarray) -> dict[str, np.ndarray]:
        """Play canonical actions with ``(R, step_normals)`` normals.

        Returns ``(R,)`` arrays ``arm``, ``expected_reward``, ``expected_cost``, ``reward`` and ``cost``
        (and any extra per-step keys).
        """


class PolicyCore(ConstrainedCore):
    """In-expectation setting: the action is a policy π over the K actions; the env samples ``a ∼ π``.

    Draws three normals per step: ``Φ(z₀)`` picks the arm by inverse CDF, ``z₁`` and ``z₂`` are the reward
    and cost noise of that arm. The comparator is :func:`~rl_suite.exact.lp.best_feasible_mixture` on the
    true means.
    """

    step_normals = 3
    action_mode: str
    #: Refuse weights that are not a probability vector (within 1e-6) instead of normalising them.
    strict_simplex: bool = False

    def check_actions(self, actions: Any, num_envs: int | None) -> np.ndarray:
        """``(R, K)`` policies from weights (normalised), or one-hot rows in the ``"arm"`` action mode."""
        K = self.n_arms
        if self.action_mode == "arm":
            if num_envs is None:
                arms = np.array([discrete_action(actions, K)])
            else:
                arms = discrete_actions(actions, K, num_envs)
            policy = np.zeros((arms.size, K))
            policy[np.arange(arms.size), arms] = 1.0
            return policy
        if self.strict_simplex:
            return simplex_actions(actions, K, num_envs)
        return weight_actions(actions, K, num_envs)

    def optimum(self, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Value and cost of the best feasible mixture of every row (exact, closed form)."""
        policy, value = best_feasible_mixture(table[:, 0], table[:, 1], self.tau)
        return value, np.vecdot(policy, table[:, 1])

    def play(self, table: np.ndarray, actions: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
        """Sample ``a ∼ π`` per stream and draw its reward and cost."""
        cdf = np.cumsum(actions, axis=1)
        cdf /= cdf[:, -1:]
        arm = (cdf <= ndtr(z[:, :1])).sum(axis=1)  # < K: the last entry is exactly 1 > Φ(z)
        rows = np.arange(actions.shape[0])
        mean_r, mean_c = table[rows, 0, arm], table[rows, 1, arm]
        return {
            "arm": arm,
            "expected_reward": np.vecdot(actions, table[:, 0]),
            "expected_cost": np.vecdot(actions, table[:, 1]),
            "reward": self.rewards(mean_r, z[:, 1]),
            "cost": self.rewards(mean_c, z[:, 2]),
        }


class StarConvexCore(ConstrainedCore):
    """High-probability setting: play direction ``k`` at scale ``γ ∈ [0, 1]`` (``γ = 0`` is the safe action).

    Draws two normals per step, the Gaussian reward and cost noise. The comparator is
    :func:`~rl_suite.exact.lp.star_convex_optimum` on the true means.
    """

    step_normals = 2
    #: ``"scores"``: one vector of K direction scores and a scale; ``"tuple"``: a ``(k, γ)`` pair.
    action_mode: str = "scores"

    def check_actions(self, actions: Any, num_envs: int | None) -> tuple[np.ndarray, np.ndarray]:
        """``((R,) directions, (R,) scales)`` from score vectors, or from ``(k, γ)`` pairs."""
        if self.action_mode == "tuple":
            return scaled_direction_actions(actions, self.n_arms, num_envs)
        return scored_direction_actions(actions, self.n_arms, num_envs)

    def optimum(self, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Value and cost of the best feasible (direction, scale) of every row."""
        scales, value, best = star_convex_optimum(table[:, 0], table[:, 1], self.tau)
        rows = np.arange(table.shape[0])
        scale = np.where(value > 0, scales[rows, best], 0.0)
        return value, scale * table[rows, 1, best]

    def play(
        self, table: np.ndarray, actions: tuple[np.ndarray, np.ndarray], z: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Scaled mean reward and cost of the direction played, plus Gaussian noise."""
        k, gamma = actions
        rows = np.arange(k.size)
        mean_r, mean_c = gamma * table[rows, 0, k], gamma * table[rows, 1, k]
        return {
            "arm": k,
            "scale": gamma,
            "expected_reward": mean_r,
            "expected_cost": mean_c,
            "reward": mean_r + self.noise_sd * z[:, 0],
            "cost": mean_c + self.noise_sd * z[:, 1],
        }


def _step_info(
    core: ConstrainedCore, out: dict[str, np.ndarray], best: np.ndarray, best_cost: np.ndarray
) -> dict[str, Any]:
    info = {
        "regret": best - out["expected_reward"],
        "optimal_value": best,
        "optimal_cost": best_cost,
        "violation": violation_amount(out["expected_cost"], core.tau),
    }
    info.update((k, v) for k, v in out.items() if k != "reward")
    return info


class ConstrainedBanditEnv(BanditEnv[Any]):
    """A single constrained bandit env over a :class:`ConstrainedCore` (subclasses build the core).

    The R = 1 case of :class:`ConstrainedBanditVectorEnv`'s program; ``info`` values are Python scalars.
    """

    core: ConstrainedCore
    tau: float

    def _setup_constrained(
        self,
        core: ConstrainedCore,
        horizon: Any,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
    ) -> None:
        self._setup(core, horizon, observation_space, action_space, step_normals=core.step_normals)
        self.tau = core.tau
        self._table: np.ndarray | None = None
        self._best_cost = 0.0

    def _observe(self, z: np.ndarray) -> Any:
        obs, table = self.core.observe(z)
        self._table = table
        best, best_cost = self.core.optimum(table)
        self._means = table[:, 0]
        self._best, self._best_cost = float(best[0]), float(best_cost[0])
        return obs[0]

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Play one round.

        Args:
            action: A probability vector over the K actions (``"distribution"`` mode), an action index
                (``"arm"`` mode), or a ``(direction, scale)`` pair (star-convex env).

        Returns:
            ``(obs, reward, terminated, truncated, info)``; ``info`` carries the exact ``regret`` against the
            best feasible play, ``cost``, ``expected_cost``, ``violation`` and the keys listed in the
            module docstring.

        Raises:
            UserError: The action is outside the action space (the message names the value), or
                :meth:`reset` was not called first.
        """
        table = self._table
        if table is None:
            raise UserError("call reset() before step()")
        actions = self.core.check_actions(action, None)
        z = self.np_random.standard_normal(self._draw_shape)
        out = self.core.play(table, actions, z[:, : self.core.step_normals])
        info = _step_info(self.core, out, np.array([self._best]), np.array([self._best_cost]))
        info = {k: v[0].item() for k, v in info.items()}
        reward = float(out["reward"][0])
        self._t += 1
        obs = self._observe(z[:, self.core.step_normals :])
        return obs, reward, False, self._t >= self.horizon, info

    def _round_checks(self) -> dict[str, Check]:
        """The round's table of mean rewards and costs and its optimum (the means are the table's row 0)."""
        return {"table": array((1, 2, self.n_arms)), "best": number(), "best_cost": number()}

    def _restore_round(self, values: State | None) -> None:
        restore_round(self, self._round_checks(), values)
        self._means = None if self._table is None else self._table[:, 0]


class ConstrainedBanditVectorEnv(BanditVectorEnv):
    """R noise streams of one constrained instance as one array program (``SAME_STEP`` autoreset).

    Stream ``i`` is bit-identical to the single env reset with seed ``seed + i`` and fed the same actions.
    """

    core: ConstrainedCore

    def _setup(self, single: BanditEnv[Any], num_envs: Any) -> None:
        super()._setup(single, num_envs)
        self.tau = self.core.tau
        self._table: np.ndarray | None = None
        self._best_cost: np.ndarray | None = None

    def _rounds(self, z: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Observations and round state of ``(N, context_normals)`` rows: tables, best values and costs."""
        obs, table = self.core.observe(z)
        return obs, (table, *self.core.optimum(table))

    def _set_round(self, fields: tuple[np.ndarray, ...]) -> None:
        self._table, self._best, self._best_cost = fields
        self._means = self._table[:, 0]

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Play one round per stream; ``info`` holds ``(R,)`` arrays (see the single env's ``step``).

        Raises:
            UserError: An action is outside the action space, or :meth:`reset` was not called first.
        """
        table, best, best_cost = self._table, self._best, self._best_cost  # set together by _observe
        if table is None or best is None or best_cost is None:
            raise UserError("call reset() before step()")
        acts = self.core.check_actions(actions, self.num_envs)
        z, obs = self._next_round(self.core.step_normals)
        out = self.core.play(table, acts, z)
        info: dict[str, Any] = _step_info(self.core, out, best, best_cost)
        return self._end_step(obs, out["reward"], info)

    def _round_checks(self) -> dict[str, Check]:
        """Every stream's table of mean rewards and costs and its optimum (the means are row 0)."""
        R, K = self.num_envs, self.n_arms
        return {"table": array((R, 2, K)), "best": array((R,)), "best_cost": array((R,))}

    def _restore_round(self, values: State | None) -> None:
        restore_round(self, self._round_checks(), values)
        self._means = None if self._table is None else self._table[:, 0]


def policy_action_space(n_actions: int, action_mode: str, strict_simplex: bool = False) -> gym.Space[Any]:
    """The ``"distribution"`` mode's :class:`PolicyWeights` (``Simplex`` when strict), or ``Discrete(K)``."""
    if action_mode == "arm":
        return gym.spaces.Discrete(n_actions)
    return Simplex(n_actions) if strict_simplex else PolicyWeights(n_actions)


def scaled_action_space(n_directions: int, action_mode: str) -> gym.Space[Any]:
    """:class:`DirectionScores` (``"scores"`` mode) or ``Tuple(Discrete(K), Box(0, 1, (1,)))``."""
    if action_mode == "scores":
        return DirectionScores(n_directions)
    return gym.spaces.Tuple(
        (gym.spaces.Discrete(n_directions), gym.spaces.Box(0.0, 1.0, (1,), dtype=np.float64))
    )


def check_bool(name: str, value: Any) -> bool:
    """A flag must be ``True`` or ``False`` (not ``"false"`` or ``0``); one line naming the value if not."""
    if not isinstance(value, (bool, np.bool_)):
        raise UserError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_unit_interval(name: str, values: np.ndarray) -> None:
    """Refuse means outside the declared range ``[0, 1]``, naming the first offending entry."""
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise UserError(f"{name}[{i}] = {values[i]:.6g} is outside the declared range [0, 1]")


def check_threshold(tau: Any, safe_cost: float, what: str) -> float:
    """τ must be a finite number strictly above the safe action's known cost c₀ (so that τ − c₀ > 0)."""
    if isinstance(tau, (bool, np.bool_)) or not isinstance(tau, (int, float, np.integer, np.floating)):
        raise UserError(f"tau must be a number, got {tau!r}")
    tau = float(tau)
    if not np.isfinite(tau):
        raise UserError(f"tau must be finite, got {tau}")
    if tau <= safe_cost:
        raise UserError(
            f"tau={tau:.6g} must exceed the cost of the known safe action ({what}: c0={safe_cost:.6g}); "
            "otherwise no round has a feasible play with a margin"
        )
    return tau
