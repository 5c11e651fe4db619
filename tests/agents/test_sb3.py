"""Stable-Baselines3 through the adapter: same runner, same regret recorder, SB3's own env checker."""

from __future__ import annotations

import importlib.util
import inspect
import warnings
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rl_suite import registry
from rl_suite.agents.sb3 import PPOAgent, sb3_env
from rl_suite.config import agent_class
from rl_suite.errors import UserError
from rl_suite.runner import run_trial
from rl_suite.spaces import PolicyWeights
from rl_suite.store import read_run

SB3_IDS = [e.id for e in registry.ENVS if e.family in registry.agent_entry("ppo").families]
TINY = {
    "ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 2},
    "a2c": {"n_steps": 8},
    "dqn": {"learning_starts": 50, "buffer_size": 1000, "train_freq": 4},
    "recurrent-ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 1},
}


@pytest.mark.parametrize("env_id", SB3_IDS)
def test_sb3_check_env_passes_on_what_sb3_sees(env_id: str) -> None:
    env = sb3_env(gym.make(env_id))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if isinstance(env.action_space, PolicyWeights):
            # Box(0, 1): negative weights are errors, so not SB3's recommended Box(-1, 1) (SB3 clips to it).
            warnings.filterwarnings("ignore", "We recommend you to use a symmetric and normalized Box")
        sb3_check_env(env, warn=True)


#: Every (agent, id) pairing the registry allows (DQN needs Discrete actions: not the constrained families).
SB3_PAIRS = [
    (agent, env_id)
    for env_id in SB3_IDS
    for agent in TINY
    if registry.env_entry(env_id).family in registry.agent_entry(agent).families
]


def test_dqn_is_refused_where_its_action_space_does_not_fit() -> None:
    refused = {(a, i) for i in SB3_IDS for a in TINY} - set(SB3_PAIRS)
    assert refused and {a for a, _ in refused} == {"dqn"}


@pytest.mark.parametrize(("agent", "env_id"), SB3_PAIRS)
def test_sb3_agents_train_through_the_runner(tmp_path: Path, agent: str, env_id: str) -> None:
    entry = registry.env_entry(env_id)
    accepts = inspect.signature(registry.load_entry_point(entry.entry_point)).parameters
    env = {"id": env_id, **({"horizon": 50} if "horizon" in accepts else {"max_steps": 50})}
    result = run_trial(
        {
            "env": env,
            "agent": {"name": agent, "hyperparams": TINY[agent]},
            "total_steps": 200,
            "checkpoint_every": 100,
            "out": str(tmp_path),
        }
    )
    assert result.status == "completed"
    metrics = read_run(result.path).metrics()
    # The budget is exact: SB3's last rollout is cut at total_steps, not finished.
    assert metrics["step"].size == result.summary["steps_done"] == 200
    assert np.array_equal(metrics["step"], np.arange(1, metrics["step"].size + 1))
    if entry.family in registry.CONSTRAINED_FAMILIES:  # only an infeasible play beats the feasible optimum
        assert (metrics["regret"][metrics["violation"] == 0] >= -1e-12).all()
    elif entry.family != registry.POMDP:  # a POMDP's "V* − return" at an episode's end can be negative
        assert (metrics["regret"] >= 0).all()
    assert result.summary["cumulative_regret"] == pytest.approx(metrics["regret"].sum())
    assert result.summary["peak_rss_mb"] > 0
    assert (result.path / "checkpoint").is_dir()


@pytest.mark.parametrize("agent", list(TINY))
def test_sb3_checkpoint_is_the_parameters_and_restores_counters(tmp_path: Path, agent: str) -> None:
    """(Identical predictions after loading, and nothing else written: test_agent_checkpoints.py.)"""
    if agent == "recurrent-ppo" and importlib.util.find_spec("sb3_contrib") is None:
        pytest.skip("needs sb3-contrib")
    cls = agent_class(agent)
    env = gym.make("rl_suite/LinearContextualBandit-v0", dim=3, n_arms=4)
    hyperparams = {**TINY[agent], **({"learning_starts": 10} if agent == "dqn" else {})}
    first = cls(env, {"hyperparams": hyperparams}, seed=1)
    first.learn(100)
    import torch

    assert first.device.startswith("cuda" if torch.cuda.is_available() else "cpu")  # device="auto"
    first.save(tmp_path / "agent.ckpt")
    assert cls.saved_files(tmp_path / "agent.ckpt") == [tmp_path / "agent.ckpt", tmp_path / "agent.ckpt.json"]
    # Only the parameters: a weights-only torch archive (the checksum line after it is ignored by torch).
    params = torch.load(tmp_path / "agent.ckpt", weights_only=True)
    assert set(params) == set(first.model.get_parameters())
    loaded = cls.load(
        tmp_path / "agent.ckpt", gym.make("rl_suite/LinearContextualBandit-v0", dim=3, n_arms=4)
    )
    assert loaded.model.num_timesteps == first.model.num_timesteps
    for name in ("_n_updates", "_episode_num", "_current_progress_remaining", "_n_calls", "exploration_rate"):
        if hasattr(first.model, name):
            assert getattr(loaded.model, name) == getattr(first.model, name), name
    lr = [g["lr"] for g in first.model.policy.optimizer.param_groups]
    assert [g["lr"] for g in loaded.model.policy.optimizer.param_groups] == lr


def test_sb3_save_never_writes_sb3s_pickled_zip(tmp_path: Path) -> None:
    agent = PPOAgent(gym.make("rl_suite/MultiArmedBandit-v0"), {"hyperparams": {"n_steps": 64}}, seed=0)
    agent.save(tmp_path / "agent.ckpt")
    with zipfile.ZipFile(tmp_path / "agent.ckpt") as archive:  # torch's archive, not SB3's "data" zip
        assert "data" not in archive.namelist()
        assert not any(name.endswith("policy.optimizer.pth") for name in archive.namelist())


def test_sb3_bad_hyperparams_are_user_errors() -> None:
    env = gym.make("rl_suite/MultiArmedBandit-v0")
    with pytest.raises(UserError, match="hyperparams"):
        PPOAgent(env, {"hyperparams": {"n_stepz": 3}})
    with pytest.raises(Exception, match="set by rl_suite"):
        PPOAgent(env, {"hyperparams": {"seed": 3}})


@pytest.mark.parametrize("verbose", [0, 1])
def test_sb3_writes_nothing_outside_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], verbose: int
) -> None:
    # SB3's default logger makes an SB3-<date> folder under the temp dir on every learn() (torch's own
    # per-user compile cache, torchinductor_<user>, is torch's to keep and not checked here).
    import tempfile

    temp, out = tmp_path / "temp", tmp_path / "runs"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    config = {
        "env": {"id": "rl_suite/MultiArmedBandit-v0"},
        "agent": {"name": "ppo", "verbose": verbose, "hyperparams": TINY["ppo"]},
        "total_steps": 200,
        "out": str(out),
    }
    assert run_trial(config).status == "completed"
    assert [p.name for p in temp.iterdir() if not p.name.startswith("torchinductor")] == []
    assert ("time/" in capsys.readouterr().out) == bool(verbose)
