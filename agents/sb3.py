"""Stable-Baselines3 adapter: any SB3 algorithm trains through the same runner and regret recorder.

The SB3 model is built on the recorder-wrapped env the runner hands every agent, so its exact regret
curve is recorded exactly as for rl_suite's own agents and the two are directly comparable. Observations
are adapted the way SB3 expects them (matrix observations flattened, float64 cast to float32) by
:func:`sb3_env`; nothing else about the env changes.

SB3 finishes its rollout, so ``learn(n)`` may take more than n steps (:attr:`SB3Agent.exact_budget` is
``False``); a callback returning ``False`` stops it on that very step. A saved agent is its parameters and
counters only (plain data, no pickles); resuming continues from them but not bit-for-bit: the rollout or
replay buffer and the last observation are not saved, so the resumed run starts a fresh rollout.

References:
    Raffin et al., "Stable-Baselines3: Reliable Reinforcement Learning Implementations", JMLR 22, 2021.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np
from pydantic import Field, field_validator

from rl_suite.agents.base import Agent, AgentConfig, Callback
from rl_suite.agents.checkpoint import (
    FORMAT,
    CheckpointError,
    check_meta,
    class_id,
    parse_torch,
    read_json,
    read_sealed,
    reading,
    sha256,
    torch_payload,
    write_json,
    write_sealed,
)
from rl_suite.errors import UserError


class SB3Config(AgentConfig):
    """Settings of an SB3 model run through rl_suite."""

    policy: str = "auto"
    """SB3 policy name; ``auto`` picks ``MlpPolicy`` (``MlpLstmPolicy`` for recurrent PPO)."""
    device: str = "auto"
    """Torch device: ``auto`` uses CUDA when present, else CPU."""
    hyperparams: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for the SB3 constructor, e.g. ``{n_steps: 256, learning_rate: 0.0003}``."""
    verbose: int = Field(0, ge=0, le=2)
    """SB3 verbosity (0 silent, 1 info, 2 debug)."""
    frame_stack: int = Field(1, ge=1, le=64)
    """Observations stacked as the policy's input (1: none; k > 1: the last k, padded with the reset one)."""

    @field_validator("hyperparams")
    @classmethod
    def _no_reserved(cls, v: dict[str, Any]) -> dict[str, Any]:
        reserved = {"env", "seed", "device", "policy"} & set(v)
        if reserved:
            raise ValueError(f"{', '.join(sorted(reserved))} are set by rl_suite, not in hyperparams")
        return v


def sb3_env(env: gym.Env, frame_stack: int = 1) -> gym.Env:
    """Adapt an rl_suite env to what SB3 accepts: flat float32 vectors for Box observations.

    With ``frame_stack = k > 1`` the adapted observations are then stacked by Gymnasium's
    ``FrameStackObservation`` (the last k, padded at reset with the first one): a ``Discrete(n)`` observation
    becomes ``MultiDiscrete([n] * k)``, which SB3 one-hot encodes per frame.
    """
    space = env.observation_space
    if isinstance(space, gym.spaces.Box):
        if len(space.shape) > 1:
            env = gym.wrappers.FlattenObservation(env)
        flat = cast(gym.spaces.Box, env.observation_space)  # a Box, flattened or not
        if flat.dtype != np.float32:
            # Bounds are cast explicitly so that Box does not warn about lost precision.
            space32 = gym.spaces.Box(
                flat.low.astype(np.float32), flat.high.astype(np.float32), dtype=np.float32
            )
            env = gym.wrappers.TransformObservation(env, _to_float32, space32)
    if frame_stack > 1:
        env = gym.wrappers.FrameStackObservation(env, frame_stack, padding_type="reset")
    return env


def _to_float32(obs: np.ndarray) -> np.ndarray:
    return np.asarray(obs, dtype=np.float32)


def _unstacked(env: gym.Env) -> gym.Env:
    """The env under a ``FrameStackObservation`` that :func:`sb3_env` added (``env`` itself if none)."""
    return env.env if isinstance(env, gym.wrappers.FrameStackObservation) else env


def _observation_chain(env: gym.Env) -> list[gym.ObservationWrapper]:
    """The observation wrappers :func:`sb3_env` added, innermost first."""
    chain = []
    while isinstance(env, gym.ObservationWrapper):
        chain.append(env)
        env = env.env
    return chain[::-1]


class SB3Agent(Agent[SB3Config]):
    """An SB3 algorithm behind rl_suite's agent protocol. Subclasses name the algorithm."""

    Config: ClassVar[type[AgentConfig]] = SB3Config
    #: ``module:Class`` of the SB3 algorithm.
    algo_path: ClassVar[str] = ""
    #: Policy used for ``policy: auto``.
    default_policy: ClassVar[str] = "MlpPolicy"
    #: pip requirement that provides :attr:`algo_path`.
    requirement: ClassVar[str] = "stable-baselines3"
    #: SB3 finishes its rollout (``learn(500)`` with ``n_steps=2048`` takes 2048 steps); a callback that
    #: returns ``False`` stops it on that very step.
    exact_budget: ClassVar[bool] = False

    def __init__(
        self,
        env: gym.Env | gym.vector.VectorEnv,
        config: SB3Config | Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(env, config, seed)
        if isinstance(env, gym.vector.VectorEnv):
            raise UserError(f"{type(self).__name__} takes a single env; SB3 vectorises internally")
        cfg = self.config
        self.sb3_env = sb3_env(env, cfg.frame_stack)
        self._obs_chain = _observation_chain(_unstacked(self.sb3_env))
        algo = self.algo_class()
        policy = self.default_policy if cfg.policy == "auto" else cfg.policy
        try:
            self.model = algo(
                policy, self.sb3_env, seed=seed, device=cfg.device, verbose=cfg.verbose, **cfg.hyperparams
            )
        except TypeError as exc:
            raise UserError(f"agent.hyperparams: {exc}") from None
        except (ValueError, AssertionError) as exc:
            raise UserError(f"{algo.__name__} cannot run on this env: {str(exc).splitlines()[0]}") from None
        if "tensorboard_log" not in cfg.hyperparams:
            self.model.set_logger(_quiet_logger(cfg.verbose))

    @classmethod
    def algo_class(cls) -> Any:
        """Import the SB3 algorithm class (a one-line error if its package is missing)."""
        module, _, name = cls.algo_path.partition(":")
        if importlib.util.find_spec(module.split(".")[0]) is None:
            raise UserError(f"{name} needs {cls.requirement}: pip install {cls.requirement}")
        return getattr(importlib.import_module(module), name)

    @property
    def device(self) -> str:
        """The torch device the model runs on."""
        return str(self.model.device)

    def learn(self, total_steps: int, callback: Callback | None = None) -> SB3Agent:
        """Continue SB3's training for ``total_steps`` more steps (SB3 finishes its current rollout).

        ``callback(agent, info)`` runs after every env step; when it returns ``False`` SB3 stops right
        there, in the middle of a rollout if need be (the partial rollout is not trained on), and
        :attr:`num_timesteps` counts exactly the steps taken.
        """
        if total_steps < 0:
            raise UserError(f"total_steps must be >= 0, got {total_steps}")
        sb3_callback = None if callback is None else _stop_adapter(self, callback)
        self.model.learn(total_steps, callback=sb3_callback, reset_num_timesteps=False, progress_bar=False)
        self.num_timesteps = int(self.model.num_timesteps)
        return self

    def predict(self, obs: Any, deterministic: bool = True) -> Any:
        """The model's action for one raw env observation."""
        for wrapper in self._obs_chain:
            obs = wrapper.observation(obs)
        stack = self.config.frame_stack
        if stack > 1:  # one observation: the stack a fresh episode starts with (padded with it)
            obs = np.stack([np.asarray(obs)] * stack)
        action, _ = self.model.predict(obs, deterministic=deterministic)
        return int(np.asarray(action).reshape(-1)[0]) if np.asarray(action).size == 1 else action

    def _adapted_batch(self, observations: Any) -> np.ndarray:
        """Raw env observations ``(n, ...)`` as the model sees them (adapted; a fresh frame stack)."""
        batch = np.stack([self._adapt(obs) for obs in observations])
        stack = self.config.frame_stack
        return np.stack([batch] * stack, axis=1) if stack > 1 else batch

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        """``model.predict(deterministic=True)`` on a batch of adapted observations (``h`` is not seen).

        Deterministic prediction draws no random numbers, so training is unchanged.
        """
        batch = self._adapted_batch(observations)
        if self.algo_class().__name__ == "RecurrentPPO":
            starts = np.ones(batch.shape[0], dtype=bool)
            action, _ = self.model.predict(batch, state=None, episode_start=starts, deterministic=True)
        else:
            action, _ = self.model.predict(batch, deterministic=True)
        return np.asarray(action).reshape(batch.shape[0], -1)[:, 0].astype(np.int64)

    def stack_policy_actions(self, stacks: Any) -> np.ndarray:
        """Deterministic actions on frame stacks: raw env observations ``(n, k, ...)``, oldest first.

        ``k`` is ``frame_stack``; a stack at the start of an episode is padded with its first observation
        (as Gymnasium's ``FrameStackObservation(padding_type="reset")`` pads it in training).
        """
        stacks = list(stacks)
        k = self.config.frame_stack
        if any(len(stack) != k for stack in stacks):
            raise ValueError(f"frame stacks must hold frame_stack={k} observations each")
        frames = np.stack([self._adapt(obs) for stack in stacks for obs in stack])
        batch = frames.reshape(len(stacks), k, *frames.shape[1:]) if k > 1 else frames
        action, _ = self.model.predict(batch, deterministic=True)
        return np.asarray(action).reshape(len(stacks), -1)[:, 0].astype(np.int64)

    def _adapt(self, obs: Any) -> np.ndarray:
        """One raw env observation as the model sees it before stacking."""
        for wrapper in self._obs_chain:
            obs = wrapper.observation(obs)
        return np.asarray(obs)

    def policy_probs(self, observations: Any, h: int = 0) -> np.ndarray | None:
        """``(n, A)`` action probabilities of an actor-critic's policy on Discrete actions, else ``None``."""
        get_distribution = getattr(self.model.policy, "get_distribution", None)
        if get_distribution is None or not isinstance(self.env.action_space, gym.spaces.Discrete):
            return None
        if self.algo_class().__name__ == "RecurrentPPO":
            return None
        import torch

        tensor, _ = self.model.policy.obs_to_tensor(self._adapted_batch(observations))
        with torch.no_grad():
            probs = get_distribution(tensor).distribution.probs
        return np.asarray(probs.cpu().numpy(), dtype=np.float64)

    @classmethod
    def saved_files(cls, path: str | Path) -> list[Path]:
        """``path`` (the parameters) and ``<path>.json`` (settings and counters) beside it."""
        return [Path(path), _sidecar(path)]

    def save(self, path: str | Path) -> None:
        """Save the model's parameters to ``path`` and rl_suite's settings and SB3's counters beside it.

        ``path`` holds ``model.get_parameters()`` (the policy's and optimisers' state dicts: tensors and
        plain values) as a ``torch.save`` archive; ``<path>.json`` holds the config, the seed and the
        counters that SB3's schedules read (:data:`_COUNTERS`). SB3's own zip of cloudpickled fields is
        never written: what a saved agent needs beyond the parameters is rebuilt from its config.
        """
        path = Path(path)
        payload = torch_payload(self.model.get_parameters())
        write_sealed(path, payload)
        counters = {name: getattr(self.model, name) for name in _COUNTERS if hasattr(self.model, name)}
        meta = {
            "format": FORMAT,
            "class": class_id(type(self)),
            "config": self.config.model_dump(mode="json"),
            "seed": self.seed,
            "counters": {k: float(v) if k in _FLOAT_COUNTERS else int(v) for k, v in counters.items()},
            "parameters_sha256": sha256(payload),
        }
        write_json(_sidecar(path), meta)

    @classmethod
    def load(cls, path: str | Path, env: gym.Env | gym.vector.VectorEnv) -> SB3Agent:
        """Rebuild an agent saved with :meth:`save` on ``env``.

        The model is built afresh from the saved config (as ``__init__`` builds it), then gets the saved
        parameters (read with ``weights_only=True``) and counters. A missing, damaged or foreign file is
        one :class:`~rl_suite.agents.checkpoint.CheckpointError` line naming it.
        """
        path, side = Path(path), _sidecar(path)
        with reading(side):
            meta = check_meta(read_json(side), cls, side)
            config, seed, counters = meta["config"], int(meta["seed"]), dict(meta["counters"])
            digest = str(meta["parameters_sha256"])
            agent = cls(env, config, seed=seed)
        model = agent.model
        with reading(path):
            payload = read_sealed(path)
            if sha256(payload) != digest:
                raise CheckpointError(f"{path}: does not belong to {side} (written by another save)")
            model.set_parameters(parse_torch(payload, map_location="cpu"), exact_match=True)
        with reading(side):
            for name, value in counters.items():
                if name not in _COUNTERS or not hasattr(model, name):
                    raise ValueError(f"unknown counter {name!r} for {type(model).__name__}")
                kind = float if name in _FLOAT_COUNTERS else int
                if isinstance(value, bool) or not isinstance(value, (int, float)) or kind(value) != value:
                    raise ValueError(f"counter {name!r} must be a number, got {value!r}")
                setattr(model, name, kind(value))
        agent.num_timesteps = int(model.num_timesteps)
        return agent


#: Counters of SB3's algorithms that :meth:`SB3Agent.save` keeps, so that the learning-rate, clip-range and
#: exploration schedules and the target-network updates continue where they stopped (those present on the
#: model are saved; the replay buffer and the last observation are not, as with SB3's own ``save``).
_COUNTERS = (
    "num_timesteps",
    "_total_timesteps",
    "_num_timesteps_at_start",
    "_episode_num",
    "_n_updates",
    "_current_progress_remaining",
    "_n_calls",  # DQN: env steps seen by its target-update clock
    "exploration_rate",  # DQN
)
_FLOAT_COUNTERS = frozenset({"_current_progress_remaining", "exploration_rate"})


def _quiet_logger(verbose: int) -> Any:
    """An SB3 logger printing to stdout when ``verbose`` and writing no files.

    Left to itself, SB3's ``learn`` configures a logger whose folder is a fresh ``SB3-<date>`` directory
    under the system temp dir, created even when nothing is logged there; rl_suite writes only to the
    run folder, so the model gets this one instead (``tensorboard_log`` in ``hyperparams`` still makes
    SB3 log to the folder named there).
    """
    from stable_baselines3.common.logger import HumanOutputFormat, Logger

    return Logger(folder=None, output_formats=[HumanOutputFormat(sys.stdout)] if verbose else [])


def _sidecar(path: str | Path) -> Path:
    """The JSON file beside a saved SB3 agent's parameters."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _stop_adapter(agent: SB3Agent, callback: Callback) -> Any:
    """An SB3 callback that calls ``callback(agent, info)`` after every env step and stops SB3 on ``False``.

    SB3 leaves the step it stops on half done (its observation, episode and replay bookkeeping come after
    the callback); the adapter finishes that bookkeeping first, so that the next ``learn`` continues from
    the env's current observation.
    """
    from stable_baselines3.common.callbacks import BaseCallback

    class _Adapter(BaseCallback):
        def _on_step(self) -> bool:
            agent.num_timesteps = int(self.model.num_timesteps)
            if callback(agent, self.locals["infos"][0]) is not False:
                return True
            _finish_step(self.model, self.locals)
            return False

    return _Adapter()


def _finish_step(model: Any, loc: dict[str, Any]) -> None:
    """Do what SB3's ``collect_rollouts`` does after the callback for a step it is stopped on."""
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    infos, dones, new_obs = loc["infos"], loc["dones"], loc["new_obs"]
    model._update_info_buffer(infos, dones)
    if isinstance(model, OffPolicyAlgorithm):
        # The transition goes to the replay buffer (which also moves _last_obs on), the schedules advance.
        model._store_transition(
            loc["replay_buffer"], loc["buffer_actions"], new_obs, loc["rewards"], dones, infos
        )
        model._update_current_progress_remaining(model.num_timesteps, model._total_timesteps)
        model._on_step()
        model._episode_num += int(np.sum(dones))
        return
    # On-policy: the partial rollout is dropped (the next learn starts a fresh one from here).
    model._last_obs = new_obs
    model._last_episode_starts = dones
    if "lstm_states" in loc:  # sb3-contrib's RecurrentPPO
        model._last_lstm_states = loc["lstm_states"]


class PPOAgent(SB3Agent):
    """SB3 PPO (Schulman et al. 2017, "Proximal Policy Optimization Algorithms")."""

    algo_path = "stable_baselines3:PPO"


class A2CAgent(SB3Agent):
    """SB3 A2C (Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning")."""

    algo_path = "stable_baselines3:A2C"


class DQNAgent(SB3Agent):
    """SB3 DQN (Mnih et al. 2015, "Human-level control through deep reinforcement learning")."""

    algo_path = "stable_baselines3:DQN"


class RecurrentPPOAgent(SB3Agent):
    """sb3-contrib RecurrentPPO: PPO with an LSTM policy (needs ``pip install 'rl_suite[contrib]'``)."""

    algo_path = "sb3_contrib:RecurrentPPO"
    default_policy = "MlpLstmPolicy"
    requirement = "sb3-contrib"

    def recurrent_action(self, obs: Any, state: Any | None) -> tuple[int, Any]:
        """The deterministic action on one raw env observation, and the LSTM state after it.

        ``state`` is the state this method returned for the previous step of the episode, or ``None`` at
        the episode's first step (the LSTM starts from zeros, as in training after a reset). Deterministic
        prediction draws no random numbers, so reading the policy leaves training unchanged.
        """
        batch = self._adapted_batch([obs])
        start = np.array([state is None])
        action, new_state = self.model.predict(batch, state=state, episode_start=start, deterministic=True)
        return int(np.asarray(action).reshape(-1)[0]), new_state


class FrameStackConfig(SB3Config):
    """Settings of PPO on stacked observations (the memory baseline of the POMDP family)."""

    frame_stack: int = Field(4, ge=1, le=64)
    """Observations stacked as the policy's input (the last k, padded at reset with the first one)."""


class PPOFrameStackAgent(PPOAgent):
    """SB3 PPO on the last ``frame_stack`` observations (Schulman et al. 2017; stacking as Mnih et al. 2015).

    A finite-memory baseline for POMDPs: it can close a memory gap only when ``frame_stack`` covers it.
    """

    Config = FrameStackConfig
