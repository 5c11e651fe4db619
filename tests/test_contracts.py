"""The typed agent–env contract: every env satisfies its family's contract, agents read only through it,
the registry derives pairings from it, and an agent's settings are validated once on the way to it."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rl_suite import contracts, registry
from rl_suite.agents.base import Agent, ArrayAgent, BanditAgent, EpisodicAgent
from rl_suite.cli import main
from rl_suite.config import resolve
from rl_suite.errors import UserError

SUITE_IDS = registry.env_ids()
LINEAR = "rl_suite/LinearContextualBandit-v0"
MAB = "rl_suite/MultiArmedBandit-v0"


# --------------------------------------------------------------------------- every env keeps its contract
def _hints(contract: Any) -> dict[str, Any]:
    """Member name -> annotated type (a property's return type; methods map to ``callable``)."""
    from rl_suite.exact import pomdp as exact_pomdp
    from rl_suite.rlhf.task import RLHFTask
    from rl_suite.sequence_policy import SequencePolicy

    names = {"exact_pomdp": exact_pomdp, "RLHFTask": RLHFTask, "SequencePolicy": SequencePolicy, "np": np}
    out: dict[str, Any] = {}
    for klass in reversed(contract.__mro__):
        if not getattr(klass, "_is_protocol", False) or klass is typing.Protocol:
            continue
        out.update(typing.get_type_hints(klass, localns=names))
        for member, value in vars(klass).items():
            if isinstance(value, property):
                out[member] = typing.get_type_hints(value.fget, localns=names)["return"]
            elif callable(value) and not member.startswith("_"):
                out[member] = callable
    return out


def _conforms(value: Any, tp: Any) -> bool:
    if tp is callable:
        return callable(value)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, t) for t in typing.get_args(tp))
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        return isinstance(value, tuple) and len(value) == len(args) and all(map(_conforms, value, args))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, (bool, np.bool_))
    if tp is int:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if tp is float:
        return isinstance(value, (float, np.floating))
    return isinstance(value, tp)


def test_every_family_has_a_contract_entry() -> None:
    assert {e.family for e in registry.ENVS} <= set(registry.FAMILY_CONTRACTS)


#: Ids whose family has a contract (the rlhf_token family's agents read nothing beyond the Gymnasium API).
CONTRACT_IDS = [i for i in SUITE_IDS if registry.FAMILY_CONTRACTS[registry.env_entry(i).family] is not None]


def test_only_gymnasium_families_lack_a_contract() -> None:
    assert {registry.env_entry(i).family for i in set(SUITE_IDS) - set(CONTRACT_IDS)} <= {"rlhf_token"}


@pytest.mark.parametrize("env_id", CONTRACT_IDS)
def test_every_env_satisfies_its_family_contract(env_id: str) -> None:
    contract = registry.FAMILY_CONTRACTS[registry.env_entry(env_id).family]
    assert contract is not None
    env = gym.make(env_id)
    base = env.unwrapped
    assert isinstance(base, contract)
    hints = _hints(contract)
    assert set(hints) == set(contracts.members(contract))
    for member, tp in hints.items():
        value = getattr(base, member)
        assert _conforms(value, tp), f"{env_id}: {member} = {value!r} is not {tp}"
    # Through the wrappers (gym.make's checkers, the regret recorder) the agent sees the same env.
    assert contracts.view(env, contract, "test") is base
    env.close()


def test_contracts_build_on_each_other() -> None:
    c = contracts
    assert set(c.members(c.StochasticBandit)) < set(c.members(c.LinearBanditModel))
    assert c.satisfies(c.StagewiseLinearModel, c.ConstrainedLinearModel)
    assert c.satisfies(c.ConstrainedLinearModel, c.LinearBanditModel)
    assert not c.satisfies(c.ConstrainedMABModel, c.LinearBanditModel)
    assert c.satisfies(c.BlockMDPDecoder, (c.LinearMDPModel, c.BlockMDPDecoder))
    assert not c.satisfies(None, c.StochasticBandit) and c.satisfies(None, None)
    assert registry.CONSTRAINED_FAMILIES == (
        registry.CONSTRAINED_MAB,
        registry.CONSTRAINED_LINEAR,
        registry.SAFE_LINEAR,
    )
    assert registry.envs_providing(c.LinearBanditModel) == [
        LINEAR,
        "rl_suite/StagewiseConstrainedLinearBandit-v0",
        "rl_suite/SafeLinearBandit-v0",
    ]


# --------------------------------------------------------------------------- vector envs
def test_a_vector_env_gives_the_common_value_or_one_per_stream() -> None:
    same = gym.make_vec(MAB, num_envs=3, vectorization_mode="vector_entry_point", reward_noise="gaussian")
    view = contracts.view(same, contracts.RewardNoiseModel, "test")
    assert view.reward_noise == "gaussian" and view.noise_sd_bound == same.unwrapped.single_env.noise_sd_bound
    sds = (0.1, 0.2)
    mixed = gym.vector.SyncVectorEnv(
        [lambda s=s: gym.make(LINEAR, n_arms=3, dim=2, reward_noise="gaussian", noise_sd=s) for s in sds]
    )
    view = contracts.view(mixed, contracts.LinearBanditModel, "test")
    np.testing.assert_array_equal(view.noise_sd_bound, sds)
    assert view.model == gym.make(LINEAR).unwrapped.model  # common to both streams
    assert contracts.find(mixed, contracts.SolverTuning) is None
    # An agent's "auto" bound is the per-stream array.
    oful = registry.load_entry_point(registry.agent_entry("oful").entry_point)(mixed)
    np.testing.assert_array_equal(oful.noise_bound, sds)


# --------------------------------------------------------------------------- agents read through it
def test_every_agent_declares_its_contract_or_its_families() -> None:
    for entry in registry.AGENTS:
        cls = registry.load_entry_point(entry.entry_point)
        assert issubclass(cls, Agent), entry.name
        if cls.requires is None:
            assert entry.only is not None, f"{entry.name} reads nothing from the env: list its families"
            continue
        derived = {f for f, c in registry.FAMILY_CONTRACTS.items() if contracts.satisfies(c, cls.requires)}
        assert derived, entry.name
        # A list only narrows what the contract allows (spaces the contract cannot see).
        assert set(entry.families) <= derived, entry.name


def test_the_loops_are_siblings() -> None:
    assert issubclass(BanditAgent, ArrayAgent) and issubclass(EpisodicAgent, ArrayAgent)
    assert not issubclass(EpisodicAgent, BanditAgent)
    ucbvi = registry.load_entry_point(registry.agent_entry("ucbvi").entry_point)
    opb = registry.load_entry_point(registry.agent_entry("opb").entry_point)
    assert not hasattr(ucbvi, "_update") and not hasattr(opb, "_update")


def test_a_missing_contract_is_one_line_naming_what_is_missing_and_who_has_it() -> None:
    lagrangian = registry.load_entry_point(registry.agent_entry("lagrangian").entry_point)
    with pytest.raises(UserError) as exc:
        lagrangian(gym.make(MAB))
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("Lagrangian needs a stage-wise constrained env (env.unwrapped.noise_sd_bound, tau")
    assert "MultiArmedBandit does not provide (it lacks tau, safe_cost)" in msg
    assert msg.endswith(
        "envs that provide it: rl_suite/ConstrainedMAB-v0, rl_suite/StagewiseConstrainedLinearBandit-v0, "
        "rl_suite/SafeLinearBandit-v0"
    )


def test_pairings_come_from_the_contracts() -> None:
    assert registry.agent_entry("linucb").only is None
    assert registry.agent_entry("linucb").families == (
        registry.LINEAR_BANDIT,
        registry.CONSTRAINED_LINEAR,
        registry.SAFE_LINEAR,
    )
    assert registry.agent_entry("lagrangian").families == registry.CONSTRAINED_FAMILIES
    assert registry.agent_entry("rebel").families == (registry.RLHF,)  # not the token face
    with pytest.raises(
        UserError, match=r"linucb supports linear_bandit, .*; agents for this env: .*ucb1"
    ) as e:
        registry.check_pairing("linucb", MAB)
    assert "\n" not in str(e.value)


# --------------------------------------------------------------------------- the config resolved once
class _Counting:
    """Counts pydantic validations of one model class (``__init__`` and ``model_validate`` both)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def validate_python(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.validate_python(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_agent_settings_are_validated_once_from_the_command_line_to_the_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rl_suite.agents.linucb import LinUCB, LinUCBConfig

    counter = _Counting(LinUCBConfig.__pydantic_validator__)
    monkeypatch.setattr(LinUCBConfig, "__pydantic_validator__", counter)
    built: list[Any] = []
    monkeypatch.setattr(
        LinUCB, "_init_state", lambda self, f=LinUCB._init_state: (built.append(self), f(self))[1]
    )
    args = ["train", "--env", LINEAR, "--agent", "linucb", "--set", "agent.alpha=0.5", "--total-steps", "20"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path), "-q"])
    assert (exit_info.value.code or 0) == 0, capsys.readouterr().err
    assert counter.calls == 1
    assert len(built) == 1 and isinstance(built[0].config, LinUCBConfig) and built[0].config.alpha == 0.5


def test_resolve_hands_over_the_typed_settings_and_reuses_them() -> None:
    from rl_suite.agents.linucb import LinUCB, LinUCBConfig

    cfg = resolve({"env": {"id": LINEAR, "n_arms": 3, "dim": 2}, "agent": {"name": "linucb", "alpha": 0.5}})
    typed = cfg.agent.typed_settings
    assert isinstance(typed, LinUCBConfig) and typed.alpha == 0.5
    assert resolve(cfg.model_copy(update={"seed": 3})).agent.typed_settings is typed
    agent = LinUCB(gym.make(LINEAR, n_arms=3, dim=2), typed)
    assert agent.config is typed  # an instance is not validated again
    assert LinUCB(gym.make(LINEAR, n_arms=3, dim=2), {"alpha": 0.5}).config == typed  # dicts still work
    # Changed settings are validated again.
    again = resolve(cfg.model_copy(update={"agent": cfg.agent.model_copy(update={"alpha": 2.0})}))
    assert again.agent.typed_settings.alpha == 2.0  # type: ignore[attr-defined]
