"""Helpers shared by the test modules: seeded rollouts, exact comparison, agents learning on record, and
small sweep files.

Import them as ``from tests.helpers import ...`` (``tests`` is a package).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite.agents.base import Agent


def same(a: Any, b: Any) -> bool:
    """Exact equality of nested values: tuples, lists, dicts, numpy arrays and scalars, to the last bit."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return (
            isinstance(b, (tuple, list))
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    return bool(np.array_equal(a, b))


def rollout(
    env: gym.Env,
    seed: int,
    steps: int,
    action: Callable[[int], Any],
    info_keys: tuple[str, ...] = ("regret",),
    *,
    until_done: bool = False,
) -> list[tuple[Any, ...]]:
    """A trajectory of ``env`` from ``reset(seed=seed)`` under the actions ``action(t)``, t = 0, 1, ...

    The first entry is ``(obs, *info[k])`` of the reset, then one ``(obs, reward, terminated, truncated,
    *info[k])`` per step, for the keys ``k`` of ``info_keys`` that the info holds; everything is copied. At an
    episode's end the rollout stops when ``until_done``, else resets (unseeded) and goes on, ``steps`` steps
    in all. Compare two with :func:`same`.
    """

    def keys(info: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(copy.deepcopy(info[k]) for k in info_keys if k in info)

    obs, info = env.reset(seed=seed)
    out = [(np.array(obs), *keys(info))]
    for t in range(steps):
        obs, reward, terminated, truncated, info = env.step(action(t))
        out.append((np.array(obs), reward, terminated, truncated, *keys(info)))
        if terminated or truncated:
            if until_done:
                break
            obs, _ = env.reset()
    return out


def play(agent: Agent, steps: int, keys: tuple[str, ...] = ("regret",)) -> Any:
    """``agent.learn(steps)``, recording ``info[key]`` of every step.

    Returns:
        One float array per key, ``(steps,)`` for a single env or ``(steps, R)`` for R streams: the array
        itself for one key, a tuple of them for several.
    """
    seen: list[list[np.ndarray]] = [[] for _ in keys]

    def record(_agent: Agent, info: dict[str, Any]) -> None:
        for values, key in zip(seen, keys, strict=True):
            values.append(np.array(info[key], dtype=np.float64))

    agent.learn(steps, callback=record)
    out = tuple(np.array(values, dtype=np.float64) for values in seen)
    return out[0] if len(keys) == 1 else out


def assert_resumes_identically(
    make_agent: Callable[[], Agent],
    path: Path,
    before: int,
    after: int,
    keys: tuple[str, ...] = ("regret",),
) -> tuple[Agent, Agent]:
    """Learning ``before`` steps, saving, loading on the same env and learning ``after`` more is one run.

    An agent of ``make_agent()`` (each call builds a fresh env and agent) learns ``before`` steps, is saved to
    ``path`` and loaded on its own env, and learns ``after`` steps; a second ``make_agent()`` learns
    ``before + after`` straight. Their per-step ``info[key]`` (:func:`play`) must agree to the last bit.

    Returns:
        ``(resumed, straight)``, for the caller's further comparisons of their state.
    """
    first = make_agent()
    got_before = play(first, before, keys)
    first.save(path)
    resumed = type(first).load(path, first.env)
    got_after = play(resumed, after, keys)
    straight = make_agent()
    want = play(straight, before + after, keys)
    if len(keys) == 1:
        got_before, got_after, want = (got_before,), (got_after,), (want,)
    for key, b, a, w in zip(keys, got_before, got_after, want, strict=True):
        np.testing.assert_array_equal(np.concatenate([b, a]), w, err_msg=key)
    assert resumed.num_timesteps == straight.num_timesteps == before + after
    return resumed, straight


def two_seed_sweep(name: str, total_steps: int, *agents: str) -> str:
    """A sweep file's text: ``agents`` on a 3-dimensional, 4-arm linear bandit, seeds 0 and 1."""
    lines = [f"name: {name}", f"total_steps: {total_steps}", "seeds: 0-1", "envs:"]
    lines += ["  - id: rl_suite/LinearContextualBandit-v0", "    dim: 3", "    n_arms: 4", "agents:"]
    return "\n".join([*lines, *(f"  - name: {agent}" for agent in agents)]) + "\n"
