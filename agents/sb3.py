"""Stable-Baselines3 adapter: any SB3 algorithm trains through the same runner and regret recorder.

The SB3 model is built on the recorder-wrapped env the runner hands every agent, so its exact regret
curve is recorded exactly as for rl_suite's own agents and the two are directly comparable. Observations
are adapted the way SB3 expects them (matrix observations flattened, float64 cast to float32) by
:func:`sb3_env`; nothing else about the env changes.

Resuming an SB3 run continues from the saved model (policy, optimiser, counters) but not bit-for-bit:
SB3 does not save its rollout buffer or last observation, so the resumed run starts a fresh rollout.

References:
    Raffin et al., "Stable-Baselines3: Reliable Reinforcement Learning Implementations", JMLR 22, 2021.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from pydantic import Field, field_validator

from rl_suite.agents.base import Agent, AgentConfig, Callback
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
        flat = env.observation_space
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


class SB3Agent(Agent):
    """An SB3 algorithm behind rl_suite's agent protocol. Subclasses name the algorithm."""

    Config: ClassVar[type[AgentConfig]] = SB3Config
    #: ``module:Class`` of the SB3 algorithm.
    algo_path: ClassVar[str] = ""
    #: Policy used for ``policy: auto``.
    default_policy: ClassVar[str] = "MlpPolicy"
    #: pip requirement that provides :attr:`algo_path`.
    requirement: ClassVar[str] = "stable-baselines3"

    def __init__(
        self,
        env: gym.Env,
        config: AgentConfig | dict[str, Any] | None = None,
        seed: int = 0,
        _model: Any = None,
    ) -> None:
        super().__init__(env, config, seed)
        if isinstance(env, gym.vector.VectorEnv):
            raise UserError(f"{type(self).__name__} takes a single env; SB3 vectorises internally")
        cfg: SB3Config = self.config  # type: ignore[assignment]
        self.sb3_env = sb3_env(env, cfg.frame_stack)
        self._obs_chain = _observation_chain(_unstacked(self.sb3_env))
        if _model is not None:
            self.model = _model
            return
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
        """Continue SB3's training for ``total_steps`` more steps (SB3 finishes its current rollout)."""
        sb3_callback = None
        if callback is not None:
            from stable_baselines3.common.callbacks import BaseCallback

            outer = self

            class _Adapter(BaseCallback):
                def _on_step(self) -> bool:
                    return callback(outer, self.locals["infos"][0]) is not False

            sb3_callback = _Adapter()
        self.model.learn(total_steps, callback=sb3_callback, reset_num_timesteps=False, progress_bar=False)
        self.num_timesteps = int(self.model.num_timesteps)
        return self

    def predict(self, obs: Any, deterministic: bool = True) -> Any:
        """The model's action for one raw env observation."""
        for wrapper in self._obs_chain:
            obs = wrapper.observation(obs)
        stack = self.config.frame_stack  # type: ignore[attr-defined]
        if stack > 1:  # one observation: the stack a fresh episode starts with (padded with it)
            obs = np.stack([np.asarray(obs)] * stack)
        action, _ = self.model.predict(obs, deterministic=deterministic)
        return int(np.asarray(action).reshape(-1)[0]) if np.asarray(action).size == 1 else action

    def save(self, path: str | Path) -> None:
        """Save the SB3 model (zip format, at exactly ``path``) and rl_suite's config beside it."""
        path = Path(path)
        self.model.save(path)
        meta = {"config": self.config.model_dump(mode="json"), "seed": self.seed}
        path.with_name(path.name + ".json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, env: gym.Env) -> SB3Agent:  # type: ignore[override]
        """Load a model saved with :meth:`save` onto ``env``."""
        path = Path(path)
        meta_path = path.with_name(path.name + ".json")
        if not path.is_file() or not meta_path.is_file():
            raise UserError(f"no saved SB3 agent at {path}")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        adapted = sb3_env(env, int(meta["config"].get("frame_stack", 1)))
        model = cls.algo_class().load(path, env=adapted, device=meta["config"]["device"])
        agent = cls(env, meta["config"], seed=meta["seed"], _model=model)
        agent.num_timesteps = int(model.num_timesteps)
        return agent


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


class FrameStackConfig(SB3Config):
    """Settings of PPO on stacked observations (the memory baseline of the POMDP family)."""

    frame_stack: int = Field(4, ge=1, le=64)
    """Observations stacked as the policy's input (the last k, padded at reset with the first one)."""


class PPOFrameStackAgent(PPOAgent):
    """SB3 PPO on the last ``frame_stack`` observations (Schulman et al. 2017; stacking as Mnih et al. 2015).

    A finite-memory baseline for POMDPs: it can close a memory gap only when ``frame_stack`` covers it.
    """

    Config = FrameStackConfig
