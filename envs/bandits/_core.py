"""Machinery shared by the bandit envs: one batch program for a single env and its vector form.

A bandit instance is described by a *core*: pure array functions that turn standard normals into the
round's observation and arm means, and means plus a normal into rewards. The single env and the vector
env call the very same functions — the single env on a batch of one — and draw their randomness in the
same fixed order (one ``standard_normal`` call per round and stream: the reward noise of this round, then
the normals of the next round's context), so stream ``i`` of a vector env reset with seed ``s`` is
bit-identical to a single env reset with seed ``s + i``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector.utils import batch_space
from scipy.special import ndtr

from rl_suite.errors import UserError
from rl_suite.spaces import discrete_action, discrete_actions

REWARD_NOISES = ("bernoulli", "gaussian")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Validate a string knob against its allowed values."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise UserError(f"{name} must be one of {allowed}, got {value!r}")
    return str(value)


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """Validate an integer knob in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UserError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise UserError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_float(name: str, value: Any, low: float = 0.0, strict: bool = True) -> float:
    """Validate a finite float knob ``> low`` (or ``>= low`` when not ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UserError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < low or (strict and value == low):
        raise UserError(f"{name} must be {'>' if strict else '>='} {low}, got {value}")
    return value


class BanditCore(ABC):
    """The pure batch math of one bandit instance (shared by all streams of a vector env)."""

    n_arms: int
    #: Standard normals one stream needs to draw one round's context.
    context_normals: int
    #: ``"bernoulli"`` or ``"gaussian"``.
    reward_noise: str
    #: σ of Gaussian rewards.
    noise_sd: float

    @abstractmethod
    def observe(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Turn ``(R, context_normals)`` normals into the round's observations and ``(R, K)`` arm means."""

    def rewards(self, means: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Rewards of the chosen arms: ``(R,)`` means and ``(R,)`` standard normals."""
        if self.reward_noise == "gaussian":
            return means + self.noise_sd * z
        # Φ(z) is uniform on (0, 1), so this is a Bernoulli(mean) draw from the same normal.
        return (ndtr(z) < means).astype(np.float64)


class BanditEnv(gym.Env):
    """A single bandit env over a :class:`BanditCore` (subclasses build the core and document it)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    core: BanditCore

    def _setup(self, core: BanditCore, horizon: int, observation_space: gym.Space) -> None:
        self.core = core
        self.n_arms = core.n_arms
        self.horizon = check_int("horizon", horizon, 1)
        self.observation_space = observation_space
        self.action_space = gym.spaces.Discrete(core.n_arms)
        self._step_normals = 1 + core.context_normals
        self._t = 0
        self._obs: np.ndarray | None = None
        self._means = np.zeros((1, core.n_arms))
        self._best = 0.0
        self._opt = 0

    def _observe(self, z: np.ndarray) -> Any:
        obs, means = self.core.observe(z)
        self._obs, self._means = obs, means
        self._opt = int(means[0].argmax())
        self._best = float(means[0, self._opt])
        return obs[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Start an episode: draw the first round's context from ``self.np_random``."""
        super().reset(seed=seed)
        self._t = 0
        obs = self._observe(self.np_random.standard_normal((1, self.core.context_normals)))
        return obs, {"optimal_value": self._best}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Play one arm; ``info["regret"]`` is the exact gap of that arm in this round."""
        a = discrete_action(action, self.core.n_arms)
        if self._obs is None:
            raise UserError("call reset() before step()")
        mean = self._means[0, a]
        z = self.np_random.standard_normal((1, self._step_normals))
        reward = float(self.core.rewards(self._means[:, a], z[:, 0])[0])
        info = {
            "regret": self._best - float(mean),
            "optimal_value": self._best,
            "expected_reward": float(mean),
            "optimal_action": self._opt,
        }
        self._t += 1
        obs = self._observe(z[:, 1:])
        return obs, reward, False, self._t >= self.horizon, info


class BanditVectorEnv(gym.vector.VectorEnv):
    """R streams of one bandit instance as one array program (Gymnasium ``SAME_STEP`` autoreset).

    All streams share the instance (its ``instance_seed``) and differ by their noise seed; their episodes
    have the same horizon, so they end together. On the last step of an episode ``truncated`` is all
    ``True``, the observation returned is the first of the next episode, and ``info["final_obs"]`` holds
    the last one (Gymnasium's same-step convention).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": [],
        "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP,
    }

    def _setup(self, single: BanditEnv, num_envs: int) -> None:
        self.num_envs = check_int("num_envs", num_envs, 1)
        self.single_env = single
        self.core = single.core
        self.horizon = single.horizon
        self.n_arms = single.n_arms
        self.single_observation_space = single.observation_space
        self.single_action_space = single.action_space
        self.observation_space = batch_space(single.observation_space, self.num_envs)
        self.action_space = batch_space(single.action_space, self.num_envs)
        self._rows = np.arange(self.num_envs)
        self._rngs: list[np.random.Generator] | None = None
        self._obs: np.ndarray | None = None
        self._t = 0

    def __getattr__(self, name: str) -> Any:
        # Instance attributes of the single env (theta, means, bounds) are the vector env's too.
        if name.startswith("_") or name == "single_env":
            raise AttributeError(name)
        return getattr(self.single_env, name)

    def _draw(self, n: int) -> np.ndarray:
        assert self._rngs is not None
        return np.stack([g.standard_normal(n) for g in self._rngs])

    def _observe(self, z: np.ndarray) -> np.ndarray:
        obs, means = self.core.observe(z)
        self._obs, self._means = obs, means
        self._opt = means.argmax(axis=1)
        self._best = means[self._rows, self._opt]
        return obs

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Seed stream ``i`` with ``seed + i`` (or ``seed[i]``) and draw every stream's first context."""
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise UserError(f"reset got {len(seeds)} seeds for {self.num_envs} sub-envs")
        if self._rngs is None or seed is not None:
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        self._t = 0
        obs = self._observe(self._draw(self.core.context_normals))
        return obs, {"optimal_value": self._best.copy()}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Play one arm per stream; ``info`` holds ``(R,)`` arrays of exact regrets and optima."""
        a = discrete_actions(actions, self.core.n_arms, self.num_envs)
        if self._obs is None:
            raise UserError("call reset() before step()")
        means = self._means[self._rows, a]
        z = self._draw(1 + self.core.context_normals)
        rewards = self.core.rewards(means, z[:, 0])
        info: dict[str, Any] = {
            "regret": self._best - means,
            "optimal_value": self._best.copy(),
            "expected_reward": means,
            "optimal_action": self._opt.copy(),
        }
        self._t += 1
        obs = self._observe(z[:, 1:])
        done = self._t >= self.horizon
        truncated = np.full(self.num_envs, done)
        if done:
            info["final_obs"] = obs
            info["_final_obs"] = truncated.copy()
            self._t = 0
            obs = self._observe(self._draw(self.core.context_normals))
        return obs, rewards, np.zeros(self.num_envs, dtype=bool), truncated, info
