"""Run and sweep configs: pydantic models, YAML loading, dotted ``--set`` overrides, full resolution.

A run config in YAML::

    env:
      id: rl_suite/LinearContextualBandit-v0
      dim: 10            # every other key is an env constructor argument
    agent:
      name: linucb
      alpha: 1.0         # every other key is a setting of the agent's config model
    seed: 0
    total_steps: 20000

``--set env.dim=20 --set agent.alpha=0.5 --set total_steps=5000`` overrides any key (values are parsed as
YAML scalars). :func:`resolve` validates everything — env id, agent name, pairing, env arguments, agent
settings — and fills every default in, so the ``config.yaml`` a run writes is the whole truth. The agent's
settings are validated once, into the agent's typed config object (``config.agent.typed_settings``), which
the runner hands to the agent as it is; resolving a resolved config again reuses it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from rl_suite import registry
from rl_suite.errors import UserError

_DEFAULT_CHECKPOINT_EVERY = 5000


class EnvSection(BaseModel):
    """Which env to make; every key besides ``id`` is passed to its constructor."""

    model_config = ConfigDict(extra="allow")

    id: str
    """Env id, e.g. ``rl_suite/LinearContextualBandit-v0`` (see ``rl-suite envs``)."""

    @property
    def kwargs(self) -> dict[str, Any]:
        """The constructor arguments."""
        return dict(self.model_extra or {})


class AgentSection(BaseModel):
    """Which agent to train; every key besides ``name`` is a setting of the agent's config model."""

    model_config = ConfigDict(extra="allow")

    name: str
    """Agent short name, e.g. ``linucb`` (see ``rl-suite agents``)."""

    #: The settings validated into the agent's config model by :func:`resolve` (``None`` until then).
    _typed: BaseModel | None = PrivateAttr(None)

    @property
    def settings(self) -> dict[str, Any]:
        """The agent's settings."""
        return dict(self.model_extra or {})

    @property
    def typed_settings(self) -> BaseModel:
        """The settings as the agent's config object, validated once by :func:`resolve`."""
        if self._typed is None:
            raise ValueError(
                f"the settings of agent {self.name!r} are not resolved: call rl_suite.config.resolve"
            )
        return self._typed


class WandbSettings(BaseModel):
    """Weights & Biases settings, used only with ``track: true``."""

    model_config = ConfigDict(extra="forbid")

    project: str = "rl_suite"
    """wandb project."""
    entity: str | None = None
    """wandb entity (user or team); ``None`` uses your default."""
    group: str | None = None
    """Run group; ``None`` groups by ``<env>/<agent>``."""
    mode: str | None = None
    """``online``/``offline``/``disabled``; ``None`` lets the ``WANDB_MODE`` environment variable decide."""


class RunConfig(BaseModel):
    """Everything :func:`rl_suite.runner.run_trial` needs; a run is a pure function of it."""

    model_config = ConfigDict(extra="forbid")

    env: EnvSection
    """The env and its constructor arguments."""
    agent: AgentSection
    """The agent and its settings."""
    seed: int = Field(0, ge=0)
    """Seed of the env's noise stream and of the agent's own randomness."""
    total_steps: int = Field(10_000, ge=1)
    """Number of environment steps (bandit rounds) to train for."""
    out: str = "runs"
    """Parent folder of the run folder."""
    device: str = "auto"
    """Torch device for torch agents: ``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:1``."""
    checkpoint_every: int = Field(_DEFAULT_CHECKPOINT_EVERY, ge=1)
    """Steps between metric flushes and checkpoints (what a kill can lose at most)."""
    label: str | None = None
    """Name the run is grouped by in comparisons; defaults to the agent name."""
    track: bool = False
    """Log to Weights & Biases as well as to the local run store."""
    wandb: WandbSettings = Field(default_factory=WandbSettings)
    """wandb project/entity/group/mode."""
    eval_every: int | None = Field(default=None, ge=1)
    """Steps between exact evaluations of the agent's current greedy policy (``evaluations.csv``); off when
    null. Evaluation never changes training."""
    eval_epsilon: float = Field(default=0.01, ge=0.0)
    """ε of ``steps_to_epsilon``: the first evaluation with policy regret ``<= ε·(V* − V^uniform)``."""

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", v):
            raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {v!r}")
        return v


class SweepConfig(BaseModel):
    """A grid of envs × agents × seeds; every other key is shared by all its runs."""

    model_config = ConfigDict(extra="forbid")

    name: str = "sweep"
    """Name of the sweep (used for the default output folder)."""
    envs: list[EnvSection] = Field(min_length=1)
    """Envs of the grid."""
    agents: list[AgentSection] = Field(min_length=1)
    """Agents of the grid. An entry may carry ``label:`` to name it in comparisons (needed when the same
    agent appears twice with different settings); the other keys are the agent's settings."""
    seeds: list[int] | str = "0-4"
    """Seeds: a list, one seed, or a range string such as ``0-9`` or ``0,3,5``."""
    total_steps: int = Field(10_000, ge=1)
    """Steps per run."""
    out: str | None = None
    """Where the run folders go; default ``runs/<name>``."""
    device: str = "auto"
    """Torch device for torch agents."""
    checkpoint_every: int = Field(_DEFAULT_CHECKPOINT_EVERY, ge=1)
    """Steps between checkpoints."""
    track: bool = False
    """Log every run to wandb."""
    wandb: WandbSettings = Field(default_factory=WandbSettings)
    """wandb settings shared by the runs."""
    eval_every: int | None = Field(default=None, ge=1)
    """Steps between exact evaluations of each run's current greedy policy; off when null."""
    eval_epsilon: float = Field(default=0.01, ge=0.0)
    """ε of each run's ``steps_to_epsilon``."""

    @field_validator("seeds", mode="before")
    @classmethod
    def _one_seed(cls, v: Any) -> Any:
        """``seeds: 7`` (YAML, or ``--set seeds=7``) is the one seed 7."""
        return [v] if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int] | str) -> list[int] | str:
        if isinstance(v, str):
            parse_seeds(v)
        elif not v:
            raise ValueError("must list at least one seed, e.g. 0-4")
        elif any(s < 0 for s in v):
            raise ValueError("seeds must be >= 0")
        return v

    def runs(self) -> list[RunConfig]:
        """Expand the grid into run configs (env-major, then agent, then seed)."""
        seeds = parse_seeds(self.seeds) if isinstance(self.seeds, str) else list(dict.fromkeys(self.seeds))
        out = self.out or str(Path("runs") / self.name)
        wandb = self.wandb.model_copy()
        if wandb.group is None:
            wandb.group = self.name
        labelled = []
        for agent in self.agents:
            settings = agent.settings
            label = settings.pop("label", None)
            section = AgentSection(name=agent.name, **settings)
            labelled.append((section, None if label is None else str(label)))
        return [
            RunConfig(
                env=env,
                agent=agent,
                seed=seed,
                total_steps=self.total_steps,
                out=out,
                device=self.device,
                checkpoint_every=self.checkpoint_every,
                label=label,
                track=self.track,
                wandb=wandb,
                eval_every=self.eval_every,
                eval_epsilon=self.eval_epsilon,
            )
            for env in self.envs
            for agent, label in labelled
            for seed in seeds
        ]


# --------------------------------------------------------------------------- parsing helpers
def parse_seeds(text: str) -> list[int]:
    """Parse ``"0-9"``, ``"0,3,5"``, ``"7"`` or ``"0-4,10"`` into a list of non-negative seeds."""
    seeds: list[int] = []
    if not str(text).strip():
        raise UserError("seeds are empty: use e.g. 0-9, 0,3,5 or 7")
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UserError(f"seeds {text!r} not understood: use e.g. 0-9, 0,3,5 or 7")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise UserError(f"seed range {part!r} is empty: the end must be >= the start")
        seeds.extend(range(lo, hi + 1))
    return list(dict.fromkeys(seeds))


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"agent.alpha=0.5"`` into (``["agent", "alpha"]``, ``0.5``); values are YAML scalars."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*", key):
        raise UserError(f"--set {text!r} not understood: use key=value, e.g. --set agent.alpha=0.5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each dotted ``key=value`` override set (sections created as needed)."""
    out = json.loads(json.dumps(data))
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UserError(f"--set {text!r}: {part!r} is a value, not a section")
            node = child
        node[path[-1]] = value
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path`` with one-line errors for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a YAML mapping at the top level, got {type(data).__name__}")
    return data


def validation_message(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """Turn a pydantic error into one line naming the key, the problem, and what is allowed."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        where = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "config"
        if err["type"] == "extra_forbidden":
            owner: Any = model
            for p in err["loc"][:-1]:
                field = owner.model_fields.get(str(p)) if hasattr(owner, "model_fields") else None
                owner = field.annotation if field is not None else None
            allowed = ", ".join(owner.model_fields) if hasattr(owner, "model_fields") else "see docs"
            parts.append(f"unknown key {where!r}; allowed: {allowed}")
        elif err["type"] == "missing":
            parts.append(f"{where} is required")
        else:
            got = err.get("input")
            got_s = f", got {got!r}" if not isinstance(got, (dict, list)) else ""
            parts.append(f"{where}: {err['msg']}{got_s}")
    return "; ".join(parts)


def check_finite(data: Any, where: str = "") -> None:
    """Refuse non-finite numbers (``.inf``, ``.nan``) anywhere in a raw config, naming the key.

    YAML reads ``.inf`` as a float, but JSON and YAML round trips of a resolved config would not keep it
    (it would come back as ``null``), so a run could not be resumed as it was started.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            check_finite(value, f"{where}.{key}" if where else str(key))
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            check_finite(value, f"{where}[{i}]")
    elif isinstance(data, float) and not math.isfinite(data):
        raise UserError(f"{where or 'config'}: {data} is not allowed (numbers must be finite)")


def parse_run_config(data: dict[str, Any]) -> RunConfig:
    """Validate a raw mapping as a :class:`RunConfig` (structure only; see :func:`resolve`)."""
    if not isinstance(data, dict):
        raise UserError(f"config must be a mapping, got {type(data).__name__}")
    check_finite(data)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"config: {validation_message(exc, RunConfig)}") from None


def parse_sweep_config(data: dict[str, Any], source: str = "sweep") -> SweepConfig:
    """Validate a raw mapping as a :class:`SweepConfig`."""
    check_finite(data)
    try:
        return SweepConfig.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{source}: {validation_message(exc, SweepConfig)}") from None


# --------------------------------------------------------------------------- resolution
def env_signature_defaults(env_id: str) -> dict[str, Any]:
    """Constructor arguments of an env id and their defaults, exactly as ``gymnasium.make(env_id)`` uses them.

    The class signature's defaults, overlaid with the arguments the id itself fixes (e.g. ``name="Taxi"``
    for ``rl_suite/TaxiFiniteHorizon-v0``: before this overlay, a run config of that id trained on the
    class default, FrozenLake).
    """
    entry = registry.env_entry(env_id)
    cls = registry.load_entry_point(entry.entry_point)
    params = inspect.signature(cls.__init__).parameters
    defaults = {
        name: p.default
        for name, p in params.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    return {**defaults, **dict(entry.kwargs)}


def env_arguments(env_id: str, kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every argument the env accepts, with its default: its signature's and those it forwards.

    "Ask the env, not only its signature": an env class whose constructor takes ``**kwargs`` and forwards
    them (the toy-text adapters pass them to Gymnasium's FrozenLake, CliffWalking, Taxi) declares them with
    a classmethod ``extra_kwargs(**constructor_kwargs) -> {name: default}``, called with the id's fixed
    arguments and ``kwargs`` (the forwarded names may depend on them, e.g. on ``name``). Only the
    signature's defaults are filled into a resolved config (:func:`env_signature_defaults`).
    """
    entry = registry.env_entry(env_id)
    cls = registry.load_entry_point(entry.entry_point)
    allowed = env_signature_defaults(entry.id)
    extra = getattr(cls, "extra_kwargs", None)
    if callable(extra):
        forwarded = extra(**{**dict(entry.kwargs), **(kwargs or {})})
        allowed.update((k, v) for k, v in forwarded.items() if k not in allowed)
    return allowed


def agent_class(name: str) -> Any:
    """The agent class registered under ``name``."""
    return registry.load_entry_point(registry.agent_entry(name).entry_point)


def resolve(config: RunConfig | dict[str, Any]) -> RunConfig:
    """Validate a run config completely and fill in every default.

    Checks the env id (suggesting close ids), the agent name, that the agent supports the env's family,
    that every env argument exists (and its type, by building the env), and the agent settings against the
    agent's config model. Raises :class:`UserError` with one line on the first problem.

    The returned config's ``agent.typed_settings`` is the agent's config object: the runner hands it to the
    agent as it is. A config resolved before keeps its object, so the settings are validated once on the way
    from the command line to the agent.
    """
    cfg = config if isinstance(config, RunConfig) else parse_run_config(config)
    entry = registry.env_entry(cfg.env.id)
    registry.check_pairing(cfg.agent.name, entry.id)

    defaults = env_signature_defaults(entry.id)
    env_kwargs = {**{k: v for k, v in defaults.items() if v is not inspect.Parameter.empty}, **cfg.env.kwargs}
    check_env_kwargs(entry.id, env_kwargs)

    requirement = registry.agent_entry(cfg.agent.name).requires
    if requirement and importlib.util.find_spec(requirement.replace("-", "_")) is None:
        raise UserError(f"agent {cfg.agent.name!r} needs {requirement}: pip install {requirement}")
    cls = agent_class(cfg.agent.name)
    settings = dict(cfg.agent.settings)
    if "device" in cls.Config.model_fields:
        settings.setdefault("device", cfg.device)
        check_device(str(settings["device"]))
    elif cfg.device != "auto":
        raise UserError(
            f"--device {cfg.device} applies to torch agents; {cfg.agent.name} runs on numpy "
            "(leave --device at auto)"
        )
    done = cfg.agent._typed
    if done is not None and type(done) is cls.Config and done.model_dump(mode="json") == settings:
        agent_cfg = done  # resolved before (e.g. by the CLI, then by run_trial): validated once
    else:
        try:
            agent_cfg = cls.Config.model_validate(settings)
        except ValidationError as exc:
            raise UserError(f"config: {validation_message(exc, cls.Config, prefix='agent.')}") from None
    agent = AgentSection(name=cfg.agent.name, **agent_cfg.model_dump(mode="json"))
    agent._typed = agent_cfg
    return cfg.model_copy(update={"env": EnvSection(id=entry.id, **_jsonable(env_kwargs)), "agent": agent})


def check_device(device: str) -> None:
    """Refuse a CUDA device that this machine does not have (rather than train on the CPU silently)."""
    if not device.startswith("cuda"):
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        have = f"{count} CUDA device(s)" if count else "no CUDA device"
        raise UserError(f"device {device!r} is not available: this machine has {have}; use cpu or auto")


def check_env_kwargs(env_id: str, kwargs: dict[str, Any]) -> None:
    """Build the env once so that bad arguments fail before a run folder exists."""
    make_env_checked(env_id, kwargs).close()


def make_env_checked(env_id: str, kwargs: dict[str, Any]) -> Any:
    """``gymnasium.make`` with one-line errors for an unknown id, an unknown argument or a bad value."""
    import gymnasium as gym

    entry = registry.env_entry(env_id)
    allowed = env_arguments(entry.id, kwargs)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise UserError(
            f"env.{unknown[0]} is not an argument of {entry.id}; allowed: {', '.join(allowed) or 'none'}"
        )
    try:
        return gym.make(entry.id, **kwargs)
    except UserError as exc:
        raise UserError(f"env: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise UserError(f"env {entry.id}: {str(exc).splitlines()[0]}") from None
    except MemoryError as exc:
        sizes = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if isinstance(v, (int, float)))
        detail = str(exc).splitlines()[0] if str(exc) else "out of memory"
        raise UserError(
            f"env {entry.id} does not fit in memory with {sizes or 'these arguments'} ({detail})"
        ) from None


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON so tuples and numpy scalars become plain YAML-able values."""
    return json.loads(json.dumps(data, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def config_hash(cfg: RunConfig) -> str:
    """Fingerprint of what determines a run's results (not where it is written or whether it is tracked)."""
    data = cfg.model_dump(
        mode="json", exclude={"out", "track", "wandb", "label", "eval_every", "eval_epsilon"}
    )
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML text with keys in insertion order."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
