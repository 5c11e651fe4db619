"""Machinery shared by the bandit envs: one batch program for a single env and its vector form.

A bandit instance is described by a *core*: pure array functions that turn standard normals into the
round's observations and arm means, and means plus normals into rewards. The single env and the vector
env call the very same functions — the single env on a batch of one — and draw their randomness in the
same fixed order, so stream ``i`` of a vector env reset with seed ``s`` is bit-identical to a single env
reset with seed ``s + i``:

* ``reset`` draws ``context_normals`` standard normals: the first round's context;
* every ``step`` draws ``1 + context_normals`` standard normals in one call: first the reward noise of
  the round just played, then the next round's context.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector.utils import batch_space

from rl_suite.errors import UserError
from rl_suite.spaces import discrete_action, discrete_actions
from rl_suite.state import (
    Check,
    State,
    StateError,
    array,
    check_state,
    generator_state,
    integer,
    mapping,
    new_generator,
    number,
    optional,
    plain_copy,
    rng_state,
    sequence,
    set_rng_state,
)
from rl_suite.streams import NormalBlocks
from rl_suite.validation import check_int

_SQRT_HALF = math.sqrt(0.5)


def ndtr(z: np.ndarray) -> np.ndarray:
    """Φ(z), the standard normal CDF, elementwise: ``erfc(−z/√2)/2`` (Abramowitz & Stegun 1964, 26.2.29).

    One ``math.erfc`` a number (the C library's, accurate to an ulp or two in both tails): the same value
    for an entry whatever the size of the array it comes in, which keeps a vector env's streams equal to
    single envs when it computes many rounds at once. It agrees with ``scipy.special.ndtr`` to 1e-14
    relative error away from the far tails, and costs no import: ``scipy.special`` takes ~0.4 s to load.
    """
    arr = np.asarray(z, dtype=np.float64)
    erfc, c = math.erfc, -_SQRT_HALF
    return np.array([0.5 * erfc(c * v) for v in arr.ravel().tolist()], dtype=np.float64).reshape(arr.shape)


REWARD_NOISES = ("bernoulli", "gaussian")
#: A vector env computes up to this many rounds ahead in one call of its core (not past the episode's end)...
ROUNDS_AHEAD = 64
#: ...as long as their observations and round state take at most this many floats.
AHEAD_FLOATS = 1 << 17

ObsT = TypeVar("ObsT")


def round_state(env: Any, checks: dict[str, Check]) -> State | None:
    """The attributes ``_<key>`` of ``env`` for the keys of ``checks`` (``None`` before the first reset)."""
    values = {key: getattr(env, f"_{key}") for key in checks}
    return None if any(v is None for v in values.values()) else plain_copy(values)


def restore_round(env: Any, checks: dict[str, Check], values: State | None) -> None:
    """Set the attributes ``_<key>`` of ``env`` from a checked :func:`round_state` (``None``: not reset)."""
    for key in checks:
        setattr(env, f"_{key}", None if values is None else values[key])


class BanditCore(ABC):
    """The pure batch math of one bandit instance (shared by every stream of a vector env).

    Attributes:
        n_arms: Number of arms K.
        context_normals: Standard normals one stream draws for one round's context.
        reward_noise: ``"bernoulli"`` or ``"gaussian"``.
        noise_sd: σ of Gaussian rewards (unused for Bernoulli).
    """

    n_arms: int
    context_normals: int
    reward_noise: str
    noise_sd: float

    @abstractmethod
    def observe(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Build one round of every stream from its normals.

        Args:
            z: ``(R, context_normals)`` standard normals, one row per stream.

        Returns:
            The ``(R, *obs_shape)`` observations and the ``(R, K)`` arm means.
        """

    def rewards(self, means: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Draw the rewards of the arms played from one standard normal per stream.

        Gaussian: ``μ + σ·z``. Bernoulli: ``1{Φ(z) < μ}`` — ``Φ(z)`` is uniform on (0, 1), so this is a
        Bernoulli(μ) draw that uses the same single normal.

        Args:
            means: ``(R,)`` means of the arms played.
            z: ``(R,)`` standard normals.

        Returns:
            ``(R,)`` float64 rewards.
        """
        return self.rewards_from(means, self.reward_draws(z))

    def reward_draws(self, z: np.ndarray) -> np.ndarray:
        """What :meth:`rewards_from` takes of standard normals: ``z`` (Gaussian) or ``Φ(z)`` (Bernoulli).

        Elementwise and independent of the arm played, so a vector env computes it for many rounds at once.
        """
        return z if self.reward_noise == "gaussian" else ndtr(z)

    def rewards_from(self, means: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The rewards of the arms played from :meth:`reward_draws` ``w``: ``μ + σ·w``, or ``1{w < μ}``."""
        if self.reward_noise == "gaussian":
            return means + self.noise_sd * w
        return (w < means).astype(np.float64)


class BanditEnv(gym.Env[ObsT, np.int64]):
    """A single bandit env over a :class:`BanditCore` (subclasses build the core and document it).

    The env is the R = 1 case of the core's batch program: it calls the same functions as the vector env
    on arrays with a leading axis of one.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012  (gym.Env declares an instance attribute)
    core: BanditCore
    n_arms: int
    horizon: int

    def _setup(
        self,
        core: BanditCore,
        horizon: Any,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any] | None = None,
        step_normals: int = 1,
    ) -> None:
        self.core = core
        self.n_arms = core.n_arms
        self.horizon = check_int("horizon", horizon, 1)
        self.observation_space = observation_space
        self.action_space = gym.spaces.Discrete(core.n_arms) if action_space is None else action_space
        self._draw_shape = (1, step_normals + core.context_normals)
        self._t = 0
        self._means: np.ndarray | None = None
        self._best = 0.0
        self._opt = 0

    def _observe(self, z: np.ndarray) -> ObsT:
        obs, means = self.core.observe(z)
        self._means = means
        opt = int(means.argmax())  # R = 1: the flat argmax is the row's
        self._opt = opt
        self._best = float(means[0, opt])
        return obs[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[ObsT, dict]:
        """Start an episode: seed ``self.np_random`` (if ``seed`` is given) and draw the first round.

        Args:
            seed: Seed of the context and reward-noise stream (the instance is fixed by the constructor).
            options: Unused.

        Returns:
            The first observation and ``{"optimal_value": max_a μ}`` of that round.
        """
        super().reset(seed=seed)
        self._t = 0
        obs = self._observe(self.np_random.standard_normal((1, self.core.context_normals)))
        return obs, {"optimal_value": self._best}

    def step(self, action: int | np.integer[Any]) -> tuple[ObsT, float, bool, bool, dict[str, Any]]:
        """Play one arm.

        Args:
            action: The arm, an integer in ``[0, n_arms)``.

        Returns:
            ``(obs, reward, terminated, truncated, info)``: the next round's observation, the reward,
            ``False``, whether the horizon is reached, and ``info`` with the exact ``regret`` of the arm
            played, ``optimal_value``, ``expected_reward`` and ``optimal_action``.

        Raises:
            UserError: The action is not an arm, or :meth:`reset` was not called first.
        """
        means = self._means
        if means is None:
            raise UserError("call reset() before step()")
        a = discrete_action(action, self.n_arms)
        z = self.np_random.standard_normal(self._draw_shape)
        mean = float(means[0, a])
        reward = float(self.core.rewards(means[:, a], z[:, 0])[0])
        best = self._best
        info = {
            "regret": best - mean,
            "optimal_value": best,
            "expected_reward": mean,
            "optimal_action": self._opt,
        }
        self._t += 1
        return self._observe(z[:, 1:]), reward, False, self._t >= self.horizon, info

    # ------------------------------------------------------------------ state
    def _round_checks(self) -> dict[str, Check]:
        """The current round's entries, as :meth:`_observe` leaves them in ``self._<key>``."""
        return {"means": array((1, self.n_arms)), "best": number(), "opt": integer(0, self.n_arms)}

    def _restore_round(self, values: State | None) -> None:
        restore_round(self, self._round_checks(), values)

    def get_state(self) -> State:
        """The env's dynamic state as plain data (see :class:`rl_suite.state.StatefulEnv`).

        Entries: ``rng`` (``np_random``), ``t`` (rounds played this episode) and ``round``, the current
        round (its arm means and optimum; ``None`` before the first reset). The instance itself (θ, the
        means, ...) is rebuilt by the constructor and is not saved.

        ``set_state(get_state())`` on an env made with the same constructor arguments, after one
        ``reset()``, makes every later step bit-identical to this env's (observations, rewards,
        ``terminated``, ``truncated`` and every ``info`` value), also in the middle of an episode.
        """
        return {
            "rng": rng_state(self.np_random),
            "t": self._t,
            "round": round_state(self, self._round_checks()),
        }

    def set_state(self, state: State) -> None:
        """Restore a :meth:`get_state` of an env built with the same arguments; see there for the contract.

        Raises:
            StateError: The state does not fit this env (a missing entry, a wrong type or shape); nothing
                is changed then.
        """
        checks = {
            "rng": generator_state(type(self.np_random.bit_generator).__name__),
            "t": integer(0),
            "round": optional(mapping(self._round_checks())),
        }
        values = check_state(state, checks, type(self).__name__)
        set_rng_state(self.np_random, values["rng"])
        self._t = values["t"]
        self._restore_round(values["round"])


class BanditVectorEnv(gym.vector.VectorEnv):
    """R streams of one bandit instance as one array program (Gymnasium ``SAME_STEP`` autoreset).

    All streams share the instance (its ``instance_seed``) and differ by their noise seed; their episodes
    have the same horizon, so they end together. On the last step of an episode ``truncated`` is all
    ``True``, the observation returned is the first of the next episode (each stream's generator
    continues, it is not reseeded), ``info["final_obs"]`` holds the ``(R, ...)`` last observations and
    ``info["final_info"]`` the step's info, each with its ``_final_obs`` / ``_final_info`` mask.
    """

    metadata: dict[str, Any] = {  # noqa: RUF012  (gym.vector.VectorEnv declares an instance attribute)
        "render_modes": [],
        "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP,
    }

    def _setup(self, single: BanditEnv[Any], num_envs: Any) -> None:
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
        self._no_streams = np.zeros(self.num_envs, dtype=bool)  # copied, never handed out
        self._normals: NormalBlocks | None = None  # every stream's generator, its normals drawn ahead
        # Rounds computed ahead (_next_round): the step normals, observations and round state of each, as
        # (m, R, ...) arrays; how many were played; where their normals start in the block.
        self._ahead: tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]] | None = None
        self._ahead_used = 0
        self._ahead_start = 0
        shape = single.observation_space.shape
        self._round_floats = (math.prod(shape) if shape else 1) + 2 * self.n_arms
        self._means: np.ndarray | None = None
        self._best: np.ndarray | None = None
        self._opt: np.ndarray | None = None
        self._t = 0

    def __getattr__(self, name: str) -> Any:
        # The single env's public attributes (theta, means, bounds, solve) are the vector env's too.
        if name.startswith("_") or name == "single_env":
            raise AttributeError(name)
        return getattr(self.single_env, name)

    def _draw(self, n: int) -> np.ndarray:
        """The next ``n`` standard normals of every stream, ``(R, n)``, as ``standard_normal(n)`` gives them.

        Each stream draws them a block at a time (:class:`~rl_suite.streams.NormalBlocks`); :meth:`_rewind`
        puts every generator back where drawing round by round would have left it (before its state is read
        or replaced).
        """
        self._drop_ahead()
        assert self._normals is not None  # set by reset
        return self._normals.take(n)

    def _rewind(self) -> list[np.random.Generator]:
        """Drop the normals drawn ahead, each generator left as if it had drawn only the normals served."""
        assert self._normals is not None
        self._drop_ahead()
        return self._normals.settle()

    def _drop_ahead(self) -> None:
        """Forget the rounds computed ahead but not played; the next draw serves their normals again."""
        if self._ahead is not None:
            width = self._ahead[0].shape[-1] + self.core.context_normals  # normals of one round
            assert self._normals is not None
            self._normals.served = self._ahead_start + self._ahead_used * width
            self._ahead = None

    def _next_round(
        self, step_normals: int, transform: Callable[[np.ndarray], np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """This step's ``(R, step_normals)`` normals and the next round's observation, now the current round.

        The same values as ``z = self._draw(step_normals + context_normals)`` followed by
        ``self._observe(z[:, step_normals:])``, computed for up to :data:`ROUNDS_AHEAD` rounds at once: a
        round's context does not depend on the actions played, and the core computes every row from that
        row's normals alone, so one call on ``m·R`` rows gives each round what ``m`` calls on ``R`` rows
        would. Rounds are never computed past the episode's end, and any other draw (a reset, a state read)
        first gives back the normals of the rounds not played (:meth:`_drop_ahead`).
        """
        ahead = self._ahead
        if ahead is None or self._ahead_used == ahead[1].shape[0]:
            R, c, width = self.num_envs, self.core.context_normals, step_normals + self.core.context_normals
            m = max(1, min(ROUNDS_AHEAD, self.horizon - self._t, AHEAD_FLOATS // (R * self._round_floats)))
            z = self._draw(m * width).reshape(R, m, width).transpose(1, 0, 2)  # (m, R, width)
            obs, fields = self._rounds(np.ascontiguousarray(z[:, :, step_normals:]).reshape(m * R, c))
            steps = z[:, :, :step_normals]
            ahead = (
                steps if transform is None else transform(steps),
                obs.reshape(m, R, *obs.shape[1:]),
                tuple(f.reshape(m, R, *f.shape[1:]) for f in fields),
            )
            assert self._normals is not None
            self._ahead, self._ahead_used, self._ahead_start = ahead, 0, self._normals.served - m * width
        j = self._ahead_used
        self._ahead_used = j + 1
        self._set_round(tuple(f[j] for f in ahead[2]))
        return ahead[0][j], ahead[1][j]

    def _rounds(self, z: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Observations and round state of ``(N, context_normals)`` rows of normals (N streams or rounds).

        The round state is what :meth:`_set_round` takes: each row's arm means, best arm and best mean.
        """
        obs, means = self.core.observe(z)
        opt = means.argmax(axis=1)
        return obs, (means, opt, means[np.arange(means.shape[0]), opt])

    def _set_round(self, fields: tuple[np.ndarray, ...]) -> None:
        """Make ``fields`` (one round of every stream, from :meth:`_rounds`) the current round."""
        self._means, self._opt, self._best = fields

    def _observe(self, z: np.ndarray) -> np.ndarray:
        obs, fields = self._rounds(z)
        self._set_round(fields)
        return obs

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Seed every stream and draw its first round.

        Args:
            seed: ``s`` seeds stream ``i`` with ``s + i`` (Gymnasium's convention); a list gives one seed
                per stream; ``None`` keeps the streams' generators (fresh random ones on the first reset).
            options: Unused.

        Returns:
            The ``(R, ...)`` first observations and ``{"optimal_value": (R,) array}``.

        Raises:
            UserError: A list of seeds whose length is not ``num_envs``.
        """
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise UserError(f"reset got {len(seeds)} seeds for {self.num_envs} sub-envs")
        if self._normals is None or seed is not None:
            self._normals = NormalBlocks([seeding.np_random(s)[0] for s in seeds])
            self._ahead = None  # the new generators have drawn nothing
        self._t = 0
        obs = self._observe(self._draw(self.core.context_normals))
        assert self._best is not None  # set by _observe
        return obs, {"optimal_value": self._best.copy()}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Play one arm per stream.

        Args:
            actions: ``(R,)`` integers in ``[0, n_arms)``.

        Returns:
            ``(obs, rewards, terminated, truncated, info)`` as ``(R, ...)`` arrays; ``info`` holds ``(R,)``
            arrays ``regret`` (exact), ``optimal_value``, ``expected_reward`` and ``optimal_action``.

        Raises:
            UserError: An action is not an arm, or :meth:`reset` was not called first.
        """
        if self._means is None:
            raise UserError("call reset() before step()")
        a = discrete_actions(actions, self.n_arms, self.num_envs)
        means = self._means[self._rows, a]
        best, opt = self._best, self._opt
        w, obs = self._next_round(1, self.core.reward_draws)
        rewards = self.core.rewards_from(means, w[:, 0])
        info: dict[str, Any] = {
            "regret": best - means,
            "optimal_value": best,
            "expected_reward": means,
            "optimal_action": opt,
        }
        return self._end_step(obs, rewards, info)

    def _end_step(
        self, obs: np.ndarray, rewards: np.ndarray, info: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Count the round and, at the horizon, autoreset every stream in the same step (``SAME_STEP``)."""
        self._t += 1
        done = self._t >= self.horizon
        no = self._no_streams
        if done:
            mask = ~no
            info["final_info"] = dict(info)
            info["_final_info"] = mask
            info["final_obs"] = obs
            info["_final_obs"] = mask.copy()
            self._t = 0
            obs = self._observe(self._draw(self.core.context_normals))
            return obs, rewards, no.copy(), ~no, info
        return obs, rewards, no.copy(), no.copy(), info  # fresh arrays: a caller may write to them

    # ------------------------------------------------------------------ state
    def _round_checks(self) -> dict[str, Check]:
        """The current round's ``(R, ...)`` entries, as :meth:`_observe` leaves them in ``self._<key>``."""
        R, K = self.num_envs, self.n_arms
        return {"means": array((R, K)), "best": array((R,)), "opt": array((R,), np.int64, 0, K)}

    def _restore_round(self, values: State | None) -> None:
        restore_round(self, self._round_checks(), values)

    def get_state(self) -> State:
        """The vector env's dynamic state as plain data (see :class:`rl_suite.state.StatefulEnv`).

        Entries: ``rngs`` (every stream's generator; ``None`` before the first reset), ``t`` (rounds played
        this episode) and ``round``, the current round of every stream (``None`` before the first reset).
        The instance is rebuilt by the constructor and is not saved.

        ``set_state(get_state())`` on a vector env made with the same arguments, after one ``reset()``,
        makes every later step bit-identical to this one's (every array of the step and of ``info``),
        also in the middle of an episode.
        """
        rngs = None if self._normals is None else [rng_state(g) for g in self._rewind()]
        return {"rngs": rngs, "t": self._t, "round": round_state(self, self._round_checks())}

    def set_state(self, state: State) -> None:
        """Restore a :meth:`get_state` of a vector env built with the same arguments (same ``num_envs``).

        Raises:
            StateError: The state does not fit this env (a missing entry, a wrong type or shape); nothing
                is changed then.
        """
        checks = {
            "rngs": optional(sequence(generator_state(), self.num_envs)),
            "t": integer(0),
            "round": optional(mapping(self._round_checks())),
        }
        values = check_state(state, checks, type(self).__name__)
        rngs = values["rngs"]
        if (rngs is None) != (values["round"] is None):
            raise StateError(f"{type(self).__name__} state: rngs and round must both be set or both be null")
        self._normals = None if rngs is None else NormalBlocks([new_generator(r) for r in rngs])
        self._ahead = None
        self._t = values["t"]
        self._restore_round(values["round"])
