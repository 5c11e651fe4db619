"""`rl-suite analyze`: the effective-horizon analysis of an env given by id, written to the run store.

The application side of :mod:`rl_suite.exact.effective_horizon`: it loads an env of the suite, a Gymnasium
toy-text id or a MiniGrid level id (:func:`finite_model`), runs the exact kernels on its model and its
sticky-action version (:func:`analyze`) and writes the report under the run store (:func:`write_report`).
It belongs to the CLI layer (``tests/test_layers.py``): the kernels themselves load no env and write
nothing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite import registry
from rl_suite.config import make_env_checked
from rl_suite.envs.minigrid import MiniGridFiniteHorizon
from rl_suite.envs.toy_text.adapters import ToyTextFiniteHorizon, supported_toy_envs
from rl_suite.errors import UserError
from rl_suite.exact.effective_horizon import (
    EffectiveHorizonReport,
    analyze_model,
    check_k,
    check_repeat_probability,
    sticky_model,
)
from rl_suite.store import atomic_write_text, write_json

__all__ = ["analyze", "finite_model", "write_report"]


def finite_model(env_or_id: Any, **kwargs: Any) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """``(name, P, R, ρ)`` of an env of the suite, a Gymnasium toy-text id or a MiniGrid level id.

    Args:
        env_or_id: An env instance (with ``model()`` on it or its unwrapped env), an ``rl_suite/...`` id,
            a toy-text id (``"FrozenLake-v1"``) or a MiniGrid id (``"MiniGrid-Empty-5x5-v0"``).
        **kwargs: Env arguments (e.g. ``horizon``).

    Returns:
        The name and the ``(H, S, A, S)``, ``(H, S, A)``, ``(S,)`` model.

    Raises:
        UserError: The env has no finite model.
    """
    env = env_or_id
    name = getattr(getattr(env, "spec", None), "id", None) or type(env).__name__
    if isinstance(env_or_id, str):
        env, name = _make(env_or_id, kwargs), env_or_id
    elif kwargs:
        raise UserError("env arguments go with an env id, not with an env instance")
    holder = env if callable(getattr(env, "model", None)) else getattr(env, "unwrapped", env)
    model = holder.model() if callable(getattr(holder, "model", None)) else None
    if not (isinstance(model, tuple) and len(model) == 3 and np.ndim(model[0]) == 4):
        raise UserError(
            f"{name} has no finite MDP model (env.unwrapped.model() -> (P, R, rho)); analyze works on the "
            "suite's tabular_mdp and linear_mdp envs, Gymnasium toy-text ids and MiniGrid level ids"
        )
    P, R, rho = (np.asarray(x, dtype=np.float64) for x in model)
    return name, P, R, rho


def _make(env_id: str, kwargs: dict[str, Any]) -> Any:
    bare = env_id.split(":", 1)[-1]
    if bare.startswith("MiniGrid-"):
        return _construct(MiniGridFiniteHorizon, bare, level=bare, **kwargs)
    if not bare.startswith(f"{registry.NAMESPACE}/"):
        if bare in supported_toy_envs():
            return _construct(ToyTextFiniteHorizon, bare, name=bare, **kwargs)
        if bare in gym.registry and bare.split("/", 1)[-1] not in {
            e.id.split("/", 1)[1] for e in registry.ENVS
        }:
            raise UserError(
                f"{bare} has no finite MDP model; analyze works on the suite's tabular_mdp and linear_mdp "
                "envs, Gymnasium toy-text ids and MiniGrid level ids"
            )
    return make_env_checked(env_id, kwargs).unwrapped


def _construct(cls: Any, label: str, **kwargs: Any) -> Any:
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"env {label}: {str(exc).splitlines()[0]}") from None


def analyze(
    env_or_id: Any, max_k: int = 5, repeat_probability: float = 0.25, **kwargs: Any
) -> EffectiveHorizonReport:
    """Analyse the effective horizon of an env and of its sticky-action version.

    Args:
        env_or_id: An env with a finite model, an ``rl_suite/...`` id, a Gymnasium toy-text id or a
            MiniGrid level id (see :func:`finite_model`).
        max_k: Largest k analysed (≥ 1).
        repeat_probability: p of the sticky-action version in ``[0, 1)`` (0 skips it).
        **kwargs: Env arguments when an id is given.

    Returns:
        The report; ``report.sticky`` holds the sticky-action analysis.

    Raises:
        UserError: No finite model, ``max_k`` ≤ 0, or ``repeat_probability`` outside ``[0, 1)``.
    """
    max_k = check_k(max_k)
    p = check_repeat_probability(repeat_probability)
    name, P, R, rho = finite_model(env_or_id, **kwargs)
    report = analyze_model(P, R, rho, name, max_k)
    if p > 0:
        sticky = analyze_model(*sticky_model(P, R, rho, p), name=f"{name} (sticky p={p:g})", max_k=max_k)
        report.repeat_probability, report.sticky = p, sticky
    return report


def write_report(report: EffectiveHorizonReport, out: str | Path = "runs") -> Path:
    """Write the report to ``<out>/<env>__analyze__<timestamp>/`` as ``effective_horizon.{md,json}``.

    Args:
        report: What :func:`analyze` returned.
        out: Parent folder (the run store's, ``runs/`` by default).

    Returns:
        The folder written.
    """
    name = report.env.split("/")[-1].split(" ")[0]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder = Path(out) / f"{name}__analyze__{stamp}"
    folder.mkdir(parents=True, exist_ok=False)
    atomic_write_text(folder / "effective_horizon.md", report.to_markdown())
    write_json(folder / "effective_horizon.json", report.to_dict())
    return folder
