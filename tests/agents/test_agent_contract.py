"""The SB3-shaped contract, for every agent of ``rl_suite.registry.AGENTS`` on one env it supports.

Each agent runs on the env of its ``configs/<agent>__<family>.yaml`` preset, with the preset's settings made
small (``SMALL_ENV``, ``CASES``) so that every case takes well under a second:

* (a) ``predict`` on one observation returns an action of ``env.action_space`` (deterministic or not),
  and deterministic ``predict`` repeated gives the same action (ties broken without the agent's random
  stream);
* (b) seeding: two agents built with the same seed on envs reset with the same seed record identical
  metrics over ``learn(50)`` (the :class:`~rl_suite.regret.RegretRecorder`'s ``drain()``); for the agents
  that draw from their own random stream (``[random]`` ids) another seed records another stream, for the
  ``[deterministic]`` ones only the equality is asserted. (An agent's first ``learn`` resets its env with
  the agent's seed, so another seed changes the env's draws as well as the agent's.)
* (c) ``learn(n)`` takes exactly n env steps when the agent says ``exact_budget = True``.

Save → load round trips are in test_agent_checkpoints.py.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml

from rl_suite import registry
from rl_suite.agents.base import Agent
from rl_suite.config import agent_class
from rl_suite.regret import RegretRecorder
from tests.helpers import same

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
STEPS, SEED, OTHER_SEED = 50, 3, 4

#: Env kwargs laid over a preset's to make the env small (ids not listed keep the preset's kwargs).
SMALL_ENV: dict[str, dict[str, Any]] = {
    "rl_suite/LinearContextualBandit-v0": {"dim": 3, "n_arms": 4},
    "rl_suite/SORTuning-v0": {"m": 4, "horizon": 50, "instance_seed": 0},
    "rl_suite/DiabolicalCombLock-v0": {"horizon": 3, "n_actions": 4},
    "rl_suite/RLHFSequence-v0": {"vocab_size": 3, "response_length": 3, "n_prompts": 6, "sft_steps": 30},
    # the junction next to the start: at length 3, 50 steps of a fresh policy rarely reach it, and every
    # seed records the same (all-missed) episodes
    "rl_suite/TMaze-v0": {"length": 1},
}
SB3_SMALL = {"device": "cpu", "hyperparams": {"n_steps": 25, "batch_size": 25, "n_epochs": 1}}
SEQ_SMALL = {"device": "cpu", "batch_prompts": 3}

#: agent: (family of the preset, settings laid over the preset's, draws from its own random stream).
#: Deterministic agents choose without a random draw: oracles, a fixed arm, and the optimistic agents that
#: solve an LP or plan without random tie-breaking.
CASES: dict[str, tuple[str, dict[str, Any], bool]] = {
    "linucb": (registry.LINEAR_BANDIT, {}, True),  # random tie-breaking
    "linucb-hybrid": (registry.LINEAR_BANDIT, {}, True),
    "oful": (registry.LINEAR_BANDIT, {}, True),
    "suplinucb": (registry.LINEAR_BANDIT, {}, False),  # no random draw: widest arm, argmax
    "ds-oful": (registry.LINEAR_BANDIT, {}, True),  # random tie-breaking
    "disbe-lucb": (registry.LINEAR_BANDIT, {"n_agents": 3}, True),  # random tie-breaking
    "sa-lasso-bandit": (registry.LINEAR_BANDIT, {}, True),
    "lin-ts": (registry.LINEAR_BANDIT, {}, True),
    "epsilon-greedy": (registry.LINEAR_BANDIT, {}, True),
    "ucb1": (registry.MULTI_ARMED_BANDIT, {}, True),
    "bernoulli-ts": (registry.MULTI_ARMED_BANDIT, {}, True),
    "opb": (registry.CONSTRAINED_MAB, {}, False),
    "oplb": (registry.CONSTRAINED_LINEAR, {}, False),
    "safe-linucb": (registry.SAFE_LINEAR, {}, False),
    "lagrangian": (registry.CONSTRAINED_MAB, {}, True),  # its base, ucb1, breaks ties at random
    "tsallis-inf": (registry.MULTI_ARMED_BANDIT, {}, True),
    "tsallis-inf-cb": (registry.SOLVER_TUNING, {"bins": 3}, True),
    "chebcb": (registry.SOLVER_TUNING, {}, True),
    "exp3": (registry.SOLVER_TUNING, {}, True),
    "fixed-arm": (registry.MULTI_ARMED_BANDIT, {}, False),
    "instance-oracle": (registry.SOLVER_TUNING, {}, False),
    "lsvi-ucb": (registry.LINEAR_MDP, {}, True),
    "eps-lsvi": (registry.BLOCK_MDP, {}, True),
    "briee-lite": (registry.BLOCK_MDP, {"update_every": 5, "train_steps": 10}, True),
    "ucbvi": (registry.TABULAR_MDP, {}, True),
    "mdp-oracle": (registry.LINEAR_MDP, {}, False),
    "window-ucbvi": (registry.POMDP, {}, False),
    "omle-lite": (registry.POMDP, {"n_models": 4}, True),
    "belief-planner": (registry.POMDP, {}, False),
    "sqirl": (registry.TABULAR_MDP, {}, True),
    "gorp": (registry.TABULAR_MDP, {}, True),
    "ppo": (registry.MULTI_ARMED_BANDIT, SB3_SMALL, True),
    "a2c": (registry.TABULAR_MDP, {"device": "cpu"}, True),
    "dqn": (registry.LINEAR_BANDIT, {"device": "cpu", "hyperparams": {"learning_starts": 10}}, True),
    "recurrent-ppo": (registry.POMDP, SB3_SMALL, True),
    "ppo-framestack": (registry.POMDP, SB3_SMALL, True),
    "rebel": (registry.RLHF, SEQ_SMALL, True),
    "a-star-po": (registry.RLHF, SEQ_SMALL, True),
    "grpo": (registry.RLHF, {**SEQ_SMALL, "num_generations": 2}, True),
    "rloo": (registry.RLHF, SEQ_SMALL, True),
    "online-dpo": (registry.RLHF, SEQ_SMALL, True),
    "dpo": (registry.RLHF, {**SEQ_SMALL, "n_pairs": 32}, True),
    "ipo": (registry.RLHF, {**SEQ_SMALL, "n_pairs": 32}, True),
    "chi-po": (registry.RLHF, {**SEQ_SMALL, "n_pairs": 32}, True),
    "reward-model": (registry.RLHF, {**SEQ_SMALL, "best_of": 2}, True),
}


def _id(name: str) -> str:
    kind = "deterministic" if name in CASES and not CASES[name][2] else "random"
    return f"{name}[{kind}]"


AGENTS = [pytest.param(a.name, id=_id(a.name)) for a in registry.AGENTS]


def _over(base: dict[str, Any], small: dict[str, Any]) -> dict[str, Any]:
    """``small`` laid over ``base``, dict values (``hyperparams``) merged one level down."""
    out = dict(base)
    for key, value in small.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


@functools.cache
def _case(name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(env id, env kwargs, agent settings): the agent's preset, made small."""
    family, small, _ = CASES[name]
    preset = yaml.safe_load((CONFIGS / f"{name}__{family}.yaml").read_text())
    env = dict(preset["env"])
    env_id = env.pop("id")
    settings = {k: v for k, v in preset["agent"].items() if k != "name"}
    return env_id, {**env, **SMALL_ENV.get(env_id, {})}, _over(settings, small)


def _env(name: str) -> RegretRecorder:
    env_id, kwargs, _ = _case(name)
    registry.register_envs()
    constrained = registry.env_entry(env_id).family in registry.CONSTRAINED_FAMILIES
    return RegretRecorder(gym.make(env_id, **kwargs), constrained=constrained)


@functools.cache
def _run(name: str, seed: int, replica: int = 0) -> tuple[Agent, RegretRecorder, np.ndarray]:
    """An agent built with ``seed`` on an env reset with ``seed``, after ``learn(STEPS)``, and its metrics.

    ``replica`` tells apart independent runs of the same seed.
    """
    entry = registry.agent_entry(name)
    if entry.requires and importlib.util.find_spec(entry.requires.replace("-", "_")) is None:
        pytest.skip(f"{name} needs {entry.requires}")
    env = _env(name)
    env.reset(seed=seed)
    agent = agent_class(name)(env, _case(name)[2], seed=seed)
    agent.learn(STEPS)
    return agent, env, env.drain()


def test_every_registered_agent_has_a_small_preset_case() -> None:
    assert set(CASES) == {a.name for a in registry.AGENTS}
    for name in CASES:
        env_id, _, _ = _case(name)
        assert registry.env_entry(env_id).family == CASES[name][0], name
        registry.check_pairing(name, env_id)


def _observation(name: str) -> Any:
    """A first observation of the agent's env (reset with a seed of its own)."""
    return _env(name).reset(seed=SEED + 100)[0]


@pytest.mark.parametrize("name", AGENTS)
def test_predict_returns_an_action_of_the_space(name: str) -> None:
    agent, _, _ = _run(name, SEED)
    space = _env(name).action_space
    for deterministic in (True, False):
        action = agent.predict(_observation(name), deterministic=deterministic)
        assert space.contains(action), (deterministic, action, space)


@pytest.mark.parametrize("name", AGENTS)
def test_deterministic_predict_repeats_itself(name: str) -> None:
    agent, _, _ = _run(name, SEED)
    obs = _observation(name)
    first = agent.predict(obs, deterministic=True)
    for _ in range(4):
        again = agent.predict(obs, deterministic=True)
        assert same(again, first), (first, again)


@pytest.mark.parametrize("name", AGENTS)
def test_same_seed_same_metrics_other_seed_other_metrics(name: str) -> None:
    _, env, metrics = _run(name, SEED)
    _, _, twin = _run(name, SEED, replica=1)
    assert metrics.shape == (env.total_steps, len(env.columns)) and env.total_steps >= STEPS
    np.testing.assert_array_equal(metrics, twin)
    if CASES[name][2]:
        _, _, other = _run(name, OTHER_SEED)
        assert not np.array_equal(metrics, other)


@pytest.mark.parametrize("name", AGENTS)
def test_learn_takes_exactly_n_steps_when_the_agent_says_so(name: str) -> None:
    agent, env, metrics = _run(name, SEED)
    assert env.total_steps == agent.num_timesteps == len(metrics)
    if type(agent).exact_budget:
        assert env.total_steps == STEPS
    else:  # SB3 finishes its rollout
        assert env.total_steps >= STEPS
