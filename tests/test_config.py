"""Config parsing, overrides, resolution and the one-line errors for malformed configs."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rl_suite import registry
from rl_suite.config import (
    SweepConfig,
    apply_overrides,
    config_hash,
    env_signature_defaults,
    parse_override,
    parse_run_config,
    parse_seeds,
    resolve,
)
from rl_suite.errors import UserError

LINEAR = "rl_suite/LinearContextualBandit-v0"
MAB = "rl_suite/MultiArmedBandit-v0"


def base(**top: Any) -> dict[str, Any]:
    return {"env": {"id": LINEAR, "dim": 4, "n_arms": 3}, "agent": {"name": "linucb"}, **top}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0-4", [0, 1, 2, 3, 4]), ("7", [7]), ("0,3,5", [0, 3, 5]), ("0-2,10", [0, 1, 2, 10]), ("1,1", [1])],
)
def test_parse_seeds(text: str, expected: list[int]) -> None:
    assert parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "-1", "0..4", "1-2-3"])
def test_parse_seeds_rejects(text: str) -> None:
    with pytest.raises(UserError, match="seed"):
        parse_seeds(text)


def test_parse_override_types() -> None:
    assert parse_override("agent.alpha=0.5") == (["agent", "alpha"], 0.5)
    assert parse_override("env.model=shared") == (["env", "model"], "shared")
    assert parse_override("total_steps=100") == (["total_steps"], 100)
    assert parse_override("track=true") == (["track"], True)
    assert parse_override("env.means=[0.1, 0.9]") == (["env", "means"], [0.1, 0.9])
    for bad in ("alpha", "=3", "a..b=1", ".a=1"):
        with pytest.raises(UserError, match="--set"):
            parse_override(bad)


def test_apply_overrides_creates_sections_and_does_not_mutate() -> None:
    data = base()
    out = apply_overrides(data, ["agent.alpha=2", "env.dim=6", "wandb.project=p"])
    assert out["agent"]["alpha"] == 2 and out["env"]["dim"] == 6 and out["wandb"] == {"project": "p"}
    assert "alpha" not in data["agent"]
    with pytest.raises(UserError, match="is a value, not a section"):
        apply_overrides({**data, "seed": 0}, ["seed.x=1"])


def test_resolve_fills_every_default() -> None:
    cfg = resolve(base())
    assert set(cfg.env.kwargs) == set(env_signature_defaults(LINEAR))
    assert cfg.env.kwargs["dim"] == 4
    from rl_suite.agents.linucb import LinUCB

    assert set(cfg.agent.settings) == set(LinUCB.Config.model_fields)
    # Resolving is idempotent and the hash ignores where the run is written.
    again = resolve(cfg.model_dump())
    assert again == cfg
    assert config_hash(cfg) == config_hash(cfg.model_copy(update={"out": "elsewhere", "track": True}))
    assert config_hash(cfg) != config_hash(cfg.model_copy(update={"seed": 1}))


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (base(totl_steps=5), r"unknown key 'totl_steps'; allowed: env, agent, seed, total_steps"),
        (base(total_steps="many"), r"total_steps: .*integer.*'many'"),
        (base(total_steps=-5), r"total_steps: .*greater than or equal to 1.*-5"),
        (base(seed=-1), r"seed: .*greater than or equal to 0"),
        (base(device="gpu"), r"device must be auto, cpu, cuda"),
        ({"agent": {"name": "linucb"}}, r"env is required"),
        ({**base(), "env": {"id": "rl_suite/Nope-v0"}}, r"unknown env id 'rl_suite/Nope-v0'"),
        ({**base(), "agent": {"name": "linucbb"}}, r"unknown agent 'linucbb'; did you mean 'linucb'"),
        (
            {**base(), "agent": {"name": "linucb", "alphaa": 1}},
            r"unknown key 'agent.alphaa'; allowed: .*alpha",
        ),
        ({**base(), "agent": {"name": "linucb", "alpha": "big"}}, r"agent.alpha"),
        ({**base(), "env": {"id": LINEAR, "dimm": 3}}, r"env.dimm is not an argument of .*; allowed: .*dim"),
        ({**base(), "env": {"id": LINEAR, "dim": 0}}, r"env: .*dim"),
        ({**base(), "env": {"id": MAB}}, r"agent 'linucb' does not support rl_suite/MultiArmedBandit-v0"),
        (base(device="cuda"), r"--device cuda applies to torch agents"),
    ],
)
def test_bad_configs_are_one_line_user_errors(data: dict[str, Any], pattern: str) -> None:
    with pytest.raises(UserError, match=pattern) as info:
        resolve(data)
    assert "\n" not in str(info.value)


def test_sweep_expands_grid_in_order() -> None:
    sweep = SweepConfig.model_validate(
        {
            "name": "t",
            "envs": [{"id": LINEAR}, {"id": MAB}],
            "agents": [{"name": "epsilon-greedy"}, {"name": "ppo"}],
            "seeds": "0-2",
        }
    )
    runs = sweep.runs()
    assert len(runs) == 12
    assert [(r.env.id, r.agent.name, r.seed) for r in runs[:4]] == [
        (LINEAR, "epsilon-greedy", 0),
        (LINEAR, "epsilon-greedy", 1),
        (LINEAR, "epsilon-greedy", 2),
        (LINEAR, "ppo", 0),
    ]
    assert {r.out for r in runs} == {"runs/t"}


@pytest.mark.parametrize(("seeds", "expected"), [(7, [7]), ("7", [7]), ([3, 1], [3, 1]), (0, [0])])
def test_a_sweep_takes_one_seed_as_a_number(seeds: Any, expected: list[int]) -> None:
    """``--set seeds=0`` parses to the integer 0: it is the one seed 0, as ``seeds: "0"`` is."""
    grid: dict[str, Any] = {"envs": [{"id": LINEAR}], "agents": [{"name": "linucb"}]}
    assert [r.seed for r in SweepConfig.model_validate({**grid, "seeds": seeds}).runs()] == expected
    with pytest.raises(ValidationError):
        SweepConfig.model_validate({**grid, "seeds": -1})


# --------------------------------------------------------------------------- property-based
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 40),
    st.floats(-2, 2),
    st.just(float("nan")),
    st.text(max_size=6),
    st.lists(st.integers(-2, 3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
_top_keys = st.sampled_from(["seed", "total_steps", "device", "checkpoint_every", "label", "track", "bogus"])
_env_keys = st.sampled_from(["dim", "n_arms", "model", "reward_noise", "noise_sd", "context", "horizon", "x"])
_agent_keys = st.sampled_from(["alpha", "lam", "refresh_every", "tie_breaking", "nope"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    top=st.dictionaries(_top_keys, _values, max_size=3),
    env=st.dictionaries(_env_keys, _values, max_size=3),
    agent=st.dictionaries(_agent_keys, _values, max_size=2),
    env_id=st.sampled_from([LINEAR, MAB, "bogus", 3, None]),
    agent_name=st.sampled_from(["linucb", "ucb1", "nope", None]),
)
def test_malformed_configs_never_crash(
    top: dict, env: dict, agent: dict, env_id: Any, agent_name: Any
) -> None:
    data = {"env": {"id": env_id, **env}, "agent": {"name": agent_name, **agent}, **top}
    try:
        cfg = resolve(data)
    except UserError as exc:
        assert "\n" not in str(exc)
        assert str(exc)
    else:
        assert cfg.total_steps >= 1 and cfg.seed >= 0


def test_parse_run_config_rejects_non_mapping_sections() -> None:
    with pytest.raises(UserError, match="env"):
        parse_run_config({"env": "rl_suite/LinearContextualBandit-v0", "agent": {"name": "linucb"}})


def test_env_signature_defaults_match_class() -> None:
    from rl_suite.envs.bandits.linear import LinearContextualBandit

    params = inspect.signature(LinearContextualBandit.__init__).parameters
    assert env_signature_defaults(LINEAR)["dim"] == params["dim"].default


@pytest.mark.parametrize("entry", [e for e in registry.ENVS if e.kwargs], ids=lambda e: e.id)
def test_resolve_keeps_the_arguments_an_id_fixes(entry: registry.EnvEntry) -> None:
    # A run config of rl_suite/TaxiFiniteHorizon-v0 once trained on FrozenLake: the class default won.
    import gymnasium as gym

    from rl_suite.runner import make_env

    cfg = resolve({"env": {"id": entry.id}, "agent": {"name": "ppo"}})
    assert dict(entry.kwargs).items() <= cfg.env.kwargs.items()
    ours, theirs = make_env(cfg), gym.make(entry.id)
    assert ours.observation_space == theirs.observation_space
    assert ours.unwrapped.get_state().keys() == theirs.unwrapped.get_state().keys()
    ours.close()
    theirs.close()
