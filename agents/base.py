"""The agent protocol shared by every rl_suite agent, the batched bandit loop and the episodic loop.

Agents are shaped like Stable-Baselines3 models so that SB3 baselines drop in beside them:
``Agent(env, config, seed=...)``, ``learn(total_steps, callback=None) -> self``,
``predict(obs, deterministic=True) -> action``, ``save(path)``, ``Agent.load(path, env)``.
``learn`` continues where the previous call stopped (like SB3's ``reset_num_timesteps=False``), which is
how the runner checkpoints a run between chunks and resumes it bit-for-bit.

Bandit agents carry a leading batch axis: built on a Gymnasium ``VectorEnv`` of R sub-envs, every state
array has shape ``(R, ...)`` and one array program advances all R streams at once. The single-env agent is
the R = 1 case of the same code.

The classes say what they are. ``Agent[C]`` has settings of the pydantic model ``C`` and reads the env only
through its typed contract (:mod:`rl_suite.contracts`). :class:`ArrayAgent` keeps its state in numpy arrays
(one sealed ``.npz`` checkpoint); its two loops are siblings: :class:`BanditLoop` — :class:`BanditAgent`
learns from rewards, :class:`ConstrainedBanditAgent` from rewards and costs — and :class:`EpisodicAgent`,
which learns from transitions.
"""

from __future__ import annotations

import contextlib
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Generic, TypeVar, cast

import gymnasium as gym
import numpy as np
from pydantic import BaseModel, ConfigDict

from rl_suite import contracts
from rl_suite.agents.checkpoint import (
    FORMAT,
    CheckpointError,
    check_meta,
    class_id,
    open_npz,
    read_sealed,
    reading,
    write_sealed,
)
from rl_suite.agents.kernels import stagewise_reward_inflation
from rl_suite.contracts import Contract, LinearBanditModel, Requirement, SolverTuning, StagewiseConstrained
from rl_suite.errors import UserError
from rl_suite.spaces import DirectionScores, PolicyWeights, Simplex, encode_scaled

SelfAgent = TypeVar("SelfAgent", bound="Agent[Any]")
SelfArray = TypeVar("SelfArray", bound="ArrayAgent[Any]")
SelfLoop = TypeVar("SelfLoop", bound="BanditLoop[Any]")
SelfEpisodic = TypeVar("SelfEpisodic", bound="EpisodicAgent[Any]")
P = TypeVar("P")

#: Called after every environment step with the agent and the step's ``info``; returning ``False`` stops
#: ``learn`` early.
Callback = Callable[["Agent", dict[str, Any]], "bool | None"]


class AgentConfig(BaseModel):
    """Base of every agent's settings. Unknown keys are errors; field docstrings are the documentation."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_assignment=True)


#: The settings model of an ``Agent[ConfigT]``.
ConfigT = TypeVar("ConfigT", bound=AgentConfig)


def action_kind(space: gym.Space[Any], agent: str) -> str:
    """Classify a bandit action space: ``"discrete"``, ``"simplex"`` or ``"scaled"``; else a UserError."""
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    if isinstance(space, (Simplex, PolicyWeights)):
        return "simplex"
    if isinstance(space, DirectionScores):
        return "scaled"
    if (
        isinstance(space, gym.spaces.Tuple)
        and len(space) == 2
        and isinstance(space[0], gym.spaces.Discrete)
        and isinstance(space[1], gym.spaces.Box)
    ):
        return "scaled"
    raise UserError(
        f"{agent} needs a bandit action space (Discrete(K), PolicyWeights(K), Simplex(K), DirectionScores(K) "
        "or Tuple(Discrete(K), Box)), "
        f"got {space}"
    )


def arm_count(space: gym.Space[Any], kind: str) -> int:
    """Number of arms K of an action space classified by :func:`action_kind`."""
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, DirectionScores):
        return space.n
    if isinstance(space, gym.spaces.Tuple):
        head = space[0]
        assert isinstance(head, gym.spaces.Discrete)
        return int(head.n)
    assert kind == "simplex" and space.shape is not None
    return int(space.shape[0])


def _rng_for(seed: int) -> np.random.Generator:
    """The agent's own generator: a child of ``seed`` distinct from the env's stream of the same seed."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(0x5EED,)))


class Agent(ABC, Generic[ConfigT]):
    """What the runner, the CLI and the sweeps need from an agent: settings, the env it reads, checkpoints.

    ``Agent[C]`` is an agent whose settings are the pydantic model ``C`` (its :attr:`Config`): ``self.config``
    is a ``C``. An agent reads the env through :meth:`contract` only: ``env.unwrapped`` typed as one of the
    protocols of :mod:`rl_suite.contracts`.
    """

    #: The agent's pydantic settings model (the ``C`` of ``Agent[C]``).
    Config: ClassVar[type[AgentConfig]] = AgentConfig
    #: The contract of :mod:`rl_suite.contracts` the agent is written for (any one of a tuple), or ``None``
    #: when it reads nothing from the env. The registry derives the env families the agent supports from it.
    requires: ClassVar[Requirement] = None
    #: learn(n) takes exactly n env steps. An agent that cannot (SB3 finishes its rollout) sets this False
    #: and honours the callback instead: ``learn`` returns right after the step on which the callback
    #: returned ``False``, with :attr:`num_timesteps` counting exactly the steps taken.
    exact_budget: ClassVar[bool] = True

    config: ConfigT

    def __init__(
        self,
        env: gym.Env | gym.vector.VectorEnv,
        config: ConfigT | Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.env = env
        self.config = self.make_config(config)
        self.seed = int(seed)
        self.num_timesteps = 0

    @classmethod
    def make_config(cls, config: AgentConfig | Mapping[str, Any] | None) -> ConfigT:
        """The agent's settings from an instance of :attr:`Config`, a mapping, or ``None`` (the defaults).

        An instance is used as it is: it was validated when it was made (e.g. by
        :func:`rl_suite.config.resolve`, once for a whole run); a mapping is validated against :attr:`Config`.
        """
        if config is None:
            return cast(ConfigT, cls.Config())
        if isinstance(config, cls.Config):
            return cast(ConfigT, config)
        if isinstance(config, BaseModel):
            config = config.model_dump()
        return cast(ConfigT, cls.Config.model_validate(config))

    def contract(self, protocol: Contract[P], setting: str | None = None, hint: str | None = None) -> P:
        """The env typed as ``protocol`` (:func:`rl_suite.contracts.view`), the one way agents read it.

        ``env.unwrapped`` through any wrappers; on a vector env the sub-envs' common value of each member, or
        an ``(R,)`` array when they differ. An env without every member of ``protocol`` is one
        :class:`UserError` line naming what it lacks and the envs that provide it (and ``setting``, the
        setting that made the read necessary, with ``hint``, what to do instead).
        """
        return contracts.view(self.env, protocol, type(self).__name__, setting, hint)

    def find_contract(self, protocol: Contract[P]) -> P | None:
        """The env typed as ``protocol`` when it provides every member, else ``None`` (optional reads)."""
        return contracts.find(self.env, protocol)

    @abstractmethod
    def learn(self: SelfAgent, total_steps: int, callback: Callback | None = None) -> SelfAgent:
        """Interact with the env for ``total_steps`` more steps, learning as it goes."""

    @abstractmethod
    def predict(self, obs: Any, deterministic: bool = True) -> Any:
        """Return the action for ``obs`` (a batch of observations gives a batch of actions)."""

    @abstractmethod
    def save(self, path: str | Path) -> None:
        """Write everything needed to continue learning to ``path`` (plain data only, never pickles).

        Write every file through :func:`rl_suite.agents.checkpoint.write_sealed`; an agent may write
        companion files beside ``path`` (named ``path`` plus a suffix) and lists them in
        :meth:`saved_files`.
        """

    @classmethod
    @abstractmethod
    def load(cls: type[SelfAgent], path: str | Path, env: gym.Env | gym.vector.VectorEnv) -> SelfAgent:
        """Rebuild an agent saved with :meth:`save` on ``env``.

        Reading never executes code from the files, and a missing, damaged or foreign file is one
        :class:`~rl_suite.agents.checkpoint.CheckpointError` line naming it.
        """

    @classmethod
    def saved_files(cls, path: str | Path) -> list[Path]:
        """Every file :meth:`save` writes for ``path``: ``path`` itself, then any companions beside it."""
        return [Path(path)]

    # ------------------------------------------------------------------ the current policy, frozen
    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        """The current greedy policy: the deterministic action of each observation of a batch at step ``h``.

        What the exact evaluators (:mod:`rl_suite.evaluation`) read. It never draws from the learning
        stream and changes no state, so evaluating a policy while it trains leaves training unchanged. The
        default asks :meth:`predict` with ``deterministic=True`` observation by observation (a stationary
        policy: ``h`` is not used); the loops below override it.

        Args:
            observations: A batch of raw env observations (leading axis n).
            h: The step of the episode (0 for bandits).

        Returns:
            ``(n,)`` int64 actions.
        """
        return np.array(
            [int(np.asarray(self.predict(o, deterministic=True)).reshape(-1)[0]) for o in observations],
            dtype=np.int64,
        )

    def policy_probs(self, observations: Any, h: int = 0) -> np.ndarray | None:
        """``(n, A)`` action probabilities of the agent's stochastic policy, or ``None`` when it has none."""
        return None

    def policy_env_actions(self, observations: Any, h: int = 0) -> list[Any]:
        """The deterministic env action of each observation of a batch, without side effects.

        Any action space: an arm, a policy vector, a ``(direction, scale)`` pair, … — what the constrained
        bandit evaluator reads (:mod:`rl_suite.evaluation`). The default asks :meth:`predict`.
        """
        return [self.predict(o, deterministic=True) for o in observations]


class ArrayAgent(Agent[ConfigT]):
    """An agent whose whole state is named numpy arrays, saved to one sealed ``.npz`` file.

    The base of both loops, :class:`BanditLoop` (a batch of bandit streams) and :class:`EpisodicAgent` (one
    episode stream): the spaces, the stream count, the agent's own generator, tie-breaking and checkpoints.
    Subclasses implement :meth:`_init_state` and list the names of their state arrays in
    :attr:`state_keys` (saved and restored by :meth:`save` / :meth:`load`).
    """

    #: Attribute names of the numpy state arrays. An agent whose state depends on its config may set its own
    #: tuple on the instance in :meth:`_init_state` (``load`` reads the instance's).
    state_keys: tuple[str, ...] = ()

    def __init__(
        self,
        env: gym.Env | gym.vector.VectorEnv,
        config: ConfigT | Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(env, config, seed)
        if isinstance(env, gym.vector.VectorEnv):
            self.is_vector, self.num_envs = True, int(env.num_envs)
            action_space, obs_space = env.single_action_space, env.single_observation_space
        else:
            self.is_vector, self.num_envs = False, 1
            action_space, obs_space = env.action_space, env.observation_space
        #: The action and observation spaces of one stream (a vector env's ``single_*`` spaces).
        self.action_space = action_space
        self.n_arms = self._count_actions(action_space)
        self.observation_space = obs_space
        self.obs_shape: tuple[int, ...] = tuple(obs_space.shape or ())
        self.rng = _rng_for(self.seed)
        self._rows = np.arange(self.num_envs)
        self._last_obs: np.ndarray | None = None
        self._init_state()

    @abstractmethod
    def _count_actions(self, space: gym.Space[Any]) -> int:
        """Check the action space (of one sub-env) and return the number of arms or actions in it."""

    @abstractmethod
    def _init_state(self) -> None:
        """Allocate the state arrays."""

    @contextlib.contextmanager
    def _frozen(self) -> Iterator[None]:
        """Read the policy without side effects: the RNG state and every attribute binding are restored."""
        rng_state = self.rng.bit_generator.state
        attrs = dict(vars(self))
        try:
            yield
        finally:
            vars(self).clear()
            vars(self).update(attrs)
            self.rng.bit_generator.state = rng_state

    # ------------------------------------------------------------------ helpers for subclasses
    def _argmax(self, scores: np.ndarray, tie_breaking: str = "random") -> np.ndarray:
        """Row-wise argmax of ``(R, K)`` scores; ``"random"`` breaks exact ties uniformly at random."""
        best = scores.argmax(axis=1)
        if tie_breaking == "first":
            return best
        if self.num_envs == 1:
            row = scores[0]
            ties = row == row[best[0]]
            if np.count_nonzero(ties) == 1:
                return best
            idx = np.flatnonzero(ties)
            return idx[self.rng.integers(idx.size)][None]
        # Random tie-breaking over a batch: a uniform random key among the tied entries.
        ties = scores == np.take_along_axis(scores, best[:, None], axis=1)
        keys = np.where(ties, self.rng.random(scores.shape), -1.0)
        return keys.argmax(axis=1)

    def _sample(self, p: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """One arm per stream from the ``(R, K)`` distributions ``p`` (the mode when ``deterministic``)."""
        if deterministic:
            return p.argmax(axis=1)
        u = self.rng.random((p.shape[0], 1))
        return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)

    def _shape_error(self, arr: np.ndarray) -> UserError:
        """The one-line error for an observation that is neither one observation nor one per stream."""
        batch = (self.num_envs, *self.obs_shape)
        single = f"{self.obs_shape} or " if self.num_envs == 1 else ""
        return UserError(
            f"observation of shape {arr.shape} does not fit {type(self).__name__}: expected {single}{batch}"
            + (f" (one observation per stream of its {self.num_envs})" if self.num_envs > 1 else "")
        )

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> None:
        """Write config, counters, RNG state and every state array to one sealed ``.npz`` file."""
        buf = io.BytesIO()
        self.write(buf)
        write_sealed(path, buf.getvalue())

    def write(self, fh: BinaryIO) -> None:
        """Write the ``.npz`` archive :meth:`save` seals to an open binary file (no pickled objects)."""
        meta = {
            "format": FORMAT,
            "class": class_id(type(self)),
            "config": self.config.model_dump(mode="json"),
            "seed": self.seed,
            "num_envs": self.num_envs,
            "num_timesteps": self.num_timesteps,
            "rng_state": self.rng.bit_generator.state,
            "has_last_obs": self._last_obs is not None,
        }
        extra = self._extra_arrays()  # first: it may settle state (e.g. flush buffered transitions)
        arrays = {k: np.asarray(getattr(self, k)) for k in self.state_keys}
        arrays.update(extra)
        if self._last_obs is not None:
            arrays["_last_obs"] = np.asarray(self._last_obs)
        np.savez(fh, __meta__=np.array(json.dumps(meta)), allow_pickle=False, **arrays)

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        """More arrays for :meth:`save` beyond :attr:`state_keys` (e.g. a wrapped agent); none by default."""
        return {}

    def _load_extra_arrays(self, data: Any) -> None:
        """Restore what :meth:`_extra_arrays` saved, from the open ``.npz`` file."""

    @classmethod
    def load(cls: type[SelfArray], path: str | Path, env: gym.Env | gym.vector.VectorEnv) -> SelfArray:
        """Rebuild an agent written by :meth:`save` on ``env`` (which must have the same shapes)."""
        with reading(path):
            with open_npz(read_sealed(path)) as data:
                return cls.from_npz(data, env, where=str(path))

    @classmethod
    def from_npz(
        cls: type[SelfArray], data: Any, env: gym.Env | gym.vector.VectorEnv, where: str = "the file"
    ) -> SelfArray:
        """Rebuild an agent from the open ``.npz`` data that :meth:`write` produced.

        Call it inside :func:`~rl_suite.agents.checkpoint.reading` (as :meth:`load` does) so that a damaged
        archive is a one-line error.
        """
        if "__meta__" not in data.files:
            raise CheckpointError(f"{where}: not an rl_suite agent archive (it has no __meta__ entry)")
        meta = check_meta(json.loads(str(data["__meta__"])), cls, where)
        agent = cls(env, meta["config"], seed=int(meta["seed"]))
        if agent.num_envs != meta["num_envs"]:
            raise UserError(
                f"{where} holds {meta['num_envs']} streams but the env has {agent.num_envs} sub-envs"
            )
        for key in agent.state_keys:
            setattr(agent, key, data[key].copy())
        agent._load_extra_arrays(data)
        if meta["has_last_obs"]:
            agent._last_obs = data["_last_obs"].copy()
        agent.num_timesteps = int(meta["num_timesteps"])
        agent.rng.bit_generator.state = meta["rng_state"]
        return agent


class BanditLoop(ArrayAgent[ConfigT]):
    """The batched bandit loop: ``_select`` then ``_feedback`` over a leading batch axis of R streams.

    Subclasses implement :meth:`_init_state` (each state array with leading axis ``self.num_envs``),
    :meth:`_select` and :meth:`_feedback` — or, through :class:`BanditAgent`, ``_update`` on rewards and,
    through :class:`ConstrainedBanditAgent`, ``_learn`` on rewards and costs. Observations reach them with the
    batch axis first: ``(R, K, d)`` arm features for linear bandits, ``(R,)`` for the context-free
    multi-armed bandit.
    """

    def _count_actions(self, space: gym.Space[Any]) -> int:
        #: ``"discrete"`` (an arm), ``"simplex"`` (a policy over arms) or ``"scaled"`` (direction, scale).
        self.action_kind = action_kind(space, type(self).__name__)
        return arm_count(space, self.action_kind)

    # ------------------------------------------------------------------ the algorithm (subclasses)
    @abstractmethod
    def _select(self, obs: np.ndarray, deterministic: bool = False) -> Any:
        """Choose one arm per stream: ``obs`` has shape ``(R, *obs_shape)``; return ints of shape ``(R,)``."""

    @abstractmethod
    def _feedback(self, obs: np.ndarray, actions: Any, rewards: np.ndarray, info: dict[str, Any]) -> None:
        """Learn from one round; ``info`` is the env's (scalars for a single env, ``(R,)`` arrays batched)."""

    def _to_env(self, actions: Any, batched: bool) -> Any:
        """Turn what :meth:`_select` returned for R streams into env actions.

        An arm becomes itself on a ``Discrete`` space, its one-hot policy on a policy (simplex) space and
        ``(arm, 1.0)`` — the full-scale direction — on a star-convex ``(direction, scale)`` space: an
        unconstrained agent plays pure actions and ignores costs. ``batched=False`` gives the single env's
        action of stream 0, ``True`` the vector env's batch.
        """
        kind = self.action_kind
        if kind == "discrete":
            return actions if batched else int(actions[0])
        if kind == "simplex":
            onehot = np.zeros((actions.shape[0], self.n_arms))
            onehot[np.arange(actions.shape[0]), actions] = 1.0
            return onehot if batched else onehot[0]
        if isinstance(self.action_space, DirectionScores):
            scored = encode_scaled(actions, np.ones(actions.shape[0]), self.n_arms)
            return scored if batched else scored[0]
        if batched:
            return (actions, np.ones(actions.shape[0]))
        return (int(actions[0]), np.ones(1))

    # ------------------------------------------------------------------ helpers for subclasses
    def _arm_index(self, actions: np.ndarray) -> tuple[Any, Any]:
        """Index ``(streams, arms)`` of each stream's chosen arm into ``(R, K, ...)`` state arrays.

        For a batch it is the fancy index ``(arange(R), actions)``: ``state[idx]`` has shape ``(R, ...)``.
        For R = 1 it is the basic index ``(0, a)``: the stream axis is dropped and ``state[idx]`` is a
        plain view of shape ``(...)`` — the single-stream fast path, where numpy's per-call overhead on
        tiny arrays dominates. Index ``(R,)`` per-stream arrays (rewards) with ``idx[0]`` to match; the
        kernels accept any leading batch shape, so the same code serves both.
        """
        if self.num_envs == 1:
            return (0, actions[0])
        return (self._rows, actions)

    def _arm_feature_dim(self) -> int:
        """``d`` of ``(K, d)`` arm-feature observations; a one-line :class:`UserError` on any other env."""
        shape = self.obs_shape
        if len(shape) != 2 or shape[0] != self.n_arms:
            raise UserError(
                f"{type(self).__name__} needs ({self.n_arms}, d) arm-feature observations (one row per arm, "
                f"as rl_suite/LinearContextualBandit-v0 gives), got {self.observation_space}; "
                "for a context-free bandit use ucb1, bernoulli-ts or epsilon-greedy"
            )
        return int(shape[1])

    def _require_context_free(self) -> None:
        """A one-line :class:`UserError` unless observations carry no context (a ``Discrete(1)`` space)."""
        space = self.observation_space
        tuning = self.find_contract(SolverTuning)
        if tuning is not None and tuning.context_is_side_information:
            return  # the env's context may be ignored (e.g. the solver-tuning envs)
        if not (isinstance(space, gym.spaces.Discrete) and space.n == 1):
            raise UserError(
                f"{type(self).__name__} is for context-free bandits (Discrete(1) observations, as "
                f"rl_suite/MultiArmedBandit-v0 gives), got {space}; "
                "for arm features use linucb, oful, lin-ts or epsilon-greedy"
            )

    def _streams(self, value: Any) -> np.ndarray:
        """A per-stream ``(R,)`` float constant from one value (or from one value per stream)."""
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (self.num_envs,)).copy()

    def _auto(
        self, setting: float | str, field: str, protocol: Contract[P], read: Callable[[P], Any]
    ) -> np.ndarray:
        """The per-stream ``(R,)`` value of a numeric setting: itself, or for ``"auto"`` the env's.

        ``read`` takes the value from the env typed as ``protocol``, e.g. ``self._auto(cfg.R, "R",
        StochasticBandit, lambda env: env.noise_sd_bound)``; an env without it is a one-line error naming
        ``field``.
        """
        if setting == "auto":
            return self._streams(read(self.contract(protocol, f"{field}='auto'", f"set {field} to a number")))
        return self._streams(setting)

    def _linear_model(self, model: str) -> str:
        """Resolve a ``model`` setting; ``"auto"`` reads the env's :class:`LinearBanditModel` ``model``."""
        if model != "auto":
            return model
        found = self.contract(LinearBanditModel, "model='auto'", "set model explicitly").model
        if found not in ("disjoint", "shared"):
            raise UserError(
                f"{type(self).__name__}: model='auto' needs an env that says its model "
                f"(env.unwrapped.model in 'disjoint', 'shared'), got {found!r}; set model explicitly"
            )
        return str(found)

    # ------------------------------------------------------------------ SB3-shaped API
    def learn(self: SelfLoop, total_steps: int, callback: Callback | None = None) -> SelfLoop:
        """Play ``total_steps`` more rounds (per stream), updating after each."""
        if total_steps < 0:
            raise UserError(f"total_steps must be >= 0, got {total_steps}")
        env = self.env
        if self._last_obs is None:
            obs, _ = env.reset(seed=self.seed)
        else:
            obs = self._last_obs
        single = not self.is_vector
        select, feedback, to_env = self._select, self._feedback, self._to_env
        for _ in range(total_steps):
            batch = np.asarray(obs)[None] if single else obs
            actions = select(batch)
            if single:
                obs, reward, terminated, truncated, info = env.step(to_env(actions, False))
                feedback(batch, actions, np.array((reward,), dtype=np.float64), info)
                if terminated or truncated:
                    obs, _ = env.reset()
            else:
                # Vector bandit envs autoreset in the same step, so every step is a real round.
                obs, reward, terminated, truncated, info = env.step(to_env(actions, True))
                feedback(batch, actions, np.asarray(reward, dtype=np.float64), info)
            self.num_timesteps += 1
            if callback is not None and callback(self, info) is False:
                break
        self._last_obs = obs
        return self

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        """The arm :meth:`_select` picks with ``deterministic=True`` for each observation (stream 0's state).

        The RNG and every attribute binding are restored afterwards (:meth:`ArrayAgent._frozen`).
        """
        obs = np.asarray(observations)
        with self._frozen():
            batches = (np.repeat(o[None], self.num_envs, 0) for o in obs)
            out = [np.asarray(self._select(b, deterministic=True)) for b in batches]
        return np.array([int(np.asarray(a).reshape(self.num_envs, -1)[0, 0]) for a in out], dtype=np.int64)

    def policy_env_actions(self, observations: Any, h: int = 0) -> list[Any]:
        """The env action :meth:`_select` gives with ``deterministic=True`` for each observation (stream 0).

        What the constrained-bandit evaluator reads (a policy over arms, or a direction and scale). The RNG
        and every attribute binding are restored afterwards (:meth:`ArrayAgent._frozen`).
        """
        obs = np.asarray(observations)
        with self._frozen():
            return [
                self._to_env(self._select(np.repeat(o[None], self.num_envs, 0), deterministic=True), False)
                for o in obs
            ]

    def predict(self, obs: Any, deterministic: bool = True) -> Any:
        """The env action for one observation, or the batch of actions for ``(R, *obs_shape)`` observations.

        On a ``Discrete`` space that is an int (an int array for a batch); on a policy space a probability
        vector; on a star-convex space a ``(direction, scale)`` pair. An agent with R > 1 streams takes only
        a batch: one observation per stream.
        """
        arr = np.asarray(obs)
        if arr.shape == self.obs_shape and self.num_envs == 1:
            return self._to_env(self._select(arr[None], deterministic=deterministic), False)
        if arr.shape == (self.num_envs, *self.obs_shape):
            return self._to_env(self._select(arr, deterministic=deterministic), True)
        raise self._shape_error(arr)


class BanditAgent(BanditLoop[ConfigT]):
    """A bandit agent learning from rewards: two array programs, ``_select`` and ``_update``.

    Subclasses implement :meth:`_init_state`, :meth:`_select` and :meth:`_update`.
    """

    @abstractmethod
    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Choose one arm per stream: ``obs`` has shape ``(R, *obs_shape)``; return ints of shape ``(R,)``."""

    @abstractmethod
    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from one round of every stream: ``(R, *obs_shape)``, ``(R,)`` ints, ``(R,)`` floats."""

    def _feedback(self, obs: np.ndarray, actions: Any, rewards: np.ndarray, info: dict[str, Any]) -> None:
        """Learn from the round's rewards (:meth:`_update`); the rest of ``info`` is not used."""
        self._update(obs, actions, rewards)


class ConstrainedBanditAgent(BanditLoop[ConfigT]):
    """A bandit agent that learns from costs as well: for the stage-wise constrained envs.

    The env reports the arm it sampled (``info["arm"]``: from the policy played, or the direction) and the
    observed cost (``info["cost"]``); subclasses implement :meth:`_learn` on ``(R,)`` arrays of both.
    :meth:`_select` returns ``(R, K)`` policies on a policy (simplex) action space, or a pair of ``(R,)``
    directions and ``(R,)`` scales on a star-convex one.
    """

    requires: ClassVar[Requirement] = StagewiseConstrained

    def _constraint(self) -> tuple[np.ndarray, np.ndarray]:
        """``(R,)`` threshold τ and known safe cost c₀ of the env, or a one-line :class:`UserError`."""
        env = self.contract(StagewiseConstrained)
        return self._streams(env.tau), self._streams(env.safe_cost)

    def _reward_inflation(self, alpha_r: float | str) -> np.ndarray:
        """``(R,)`` reward-radius multiplier α_r of every stream (needs :meth:`_constraint`'s τ and c₀)."""
        tau, safe = self._constraint()
        return np.array([stagewise_reward_inflation(alpha_r, t, c) for t, c in zip(tau, safe, strict=True)])

    def _to_env(self, actions: Any, batched: bool) -> Any:
        if isinstance(actions, tuple):
            arms, scales = actions
            if isinstance(self.action_space, DirectionScores):
                scored = encode_scaled(arms, scales, self.n_arms)
                return scored if batched else scored[0]
            return (arms, scales) if batched else (int(arms[0]), scales[:1].copy())
        return actions if batched else actions[0]

    def _feedback(self, obs: np.ndarray, actions: Any, rewards: np.ndarray, info: dict[str, Any]) -> None:
        arms = np.atleast_1d(np.asarray(info["arm"], dtype=np.int64))
        costs = np.atleast_1d(np.asarray(info["cost"], dtype=np.float64))
        self._learn(obs, actions, arms, rewards, costs)

    @abstractmethod
    def _learn(
        self, obs: np.ndarray, actions: Any, arms: np.ndarray, rewards: np.ndarray, costs: np.ndarray
    ) -> None:
        """Learn from one round: ``actions`` as selected, the ``(R,)`` arms played, rewards and costs."""


class EpisodicAgent(ArrayAgent[ConfigT]):
    """A finite-horizon episodic agent on one env: acts with the step index h, learns from transitions.

    Subclasses implement :meth:`_init_state` (calling :meth:`_init_counters` first), :meth:`_act` (the
    action for an observation at step h) and :meth:`_transition` (learn from ``(s, a, r, s')`` at step h;
    ``done`` ends the episode, where planning agents re-plan), and keep ``episodes`` and ``step_h`` among
    their :attr:`state_keys` so that a checkpoint taken in the middle of an episode resumes at the right
    step.
    """

    episodes: np.ndarray
    step_h: np.ndarray

    def _count_actions(self, space: gym.Space[Any]) -> int:
        if not isinstance(space, gym.spaces.Discrete):
            raise UserError(f"{type(self).__name__} needs Discrete(A) actions, got {space}")
        return int(space.n)

    def _init_counters(self) -> None:
        if self.is_vector:
            raise UserError(
                f"{type(self).__name__} runs on a single env (one episode stream), not a vector env"
            )
        self.episodes = np.zeros(1)
        self.step_h = np.zeros(1, dtype=np.int64)

    @abstractmethod
    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        """The action for observation ``obs`` at step ``h`` of the episode."""

    @abstractmethod
    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        """Learn from one transition taken at step ``h``; ``done`` is the episode's last step."""

    def learn(self: SelfEpisodic, total_steps: int, callback: Callback | None = None) -> SelfEpisodic:
        """Play ``total_steps`` more steps, episode after episode (continuing where the last call stopped)."""
        if total_steps < 0:
            raise UserError(f"total_steps must be >= 0, got {total_steps}")
        env = self.env
        obs = env.reset(seed=self.seed)[0] if self._last_obs is None else self._last_obs
        for _ in range(total_steps):
            h = int(self.step_h[0])
            action = self._act(obs, h, False)
            next_obs, reward, terminated, truncated, info = env.step(action)
            done = bool(terminated or truncated)
            self.step_h[0] = 0 if done else h + 1
            if done:
                self.episodes[0] += 1
            self._transition(obs, action, float(reward), next_obs, h, done)
            obs = env.reset()[0] if done else next_obs
            self.num_timesteps += 1
            if callback is not None and callback(self, info) is False:
                break
        self._last_obs = np.asarray(obs)
        return self

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        """``_act(obs, h, deterministic=True)`` of each observation; the RNG and attributes are restored."""
        with self._frozen():
            return np.array([int(self._act(o, h, True)) for o in observations], dtype=np.int64)

    def predict(self, obs: Any, deterministic: bool = True) -> Any:
        """The action for one observation at the current step (an int), or ``(1,)`` for a batch of one."""
        arr = np.asarray(obs)
        h = int(self.step_h[0])
        if arr.shape == self.obs_shape:
            return int(self._act(arr, h, deterministic))
        if arr.shape == (1, *self.obs_shape):
            return np.array([self._act(arr[0], h, deterministic)])
        raise self._shape_error(arr)
