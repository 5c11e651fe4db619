"""The RLHF sequence agents on rl_suite/RLHFSequence-v0: runs, learning, metrics, checkpoints, errors."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rl_suite import registry
from rl_suite.config import agent_class
from rl_suite.errors import UserError
from rl_suite.regret import RegretRecorder
from rl_suite.runner import run_trial

ENV = "rl_suite/RLHFSequence-v0"
#: A small sandbox: V=3, L=3 (27 responses), 6 prompts, a quickly trained SFT reference.
SMALL = {"task": "target_string", "vocab_size": 3, "response_length": 3, "n_prompts": 6, "sft_steps": 30}
AGENTS = [a.name for a in registry.AGENTS if registry.RLHF in a.families]
GRPO_NAMES = ("reward", "reward_std", "frac_reward_zero_std", "kl", "entropy", "completions/mean_length")
COSTS = ("cost/generations", "cost/generated_tokens", "cost/offline_generations", "cost/policy_fwd")
FAST = {"rm_pairs": 64, "rm_epochs": 5}


def _env(**kw: object) -> RegretRecorder:
    registry.register_envs()
    return RegretRecorder(gym.make(ENV, **{**SMALL, **kw}))


def test_all_nine_agents_are_registered_for_rlhf() -> None:
    assert set(AGENTS) == {
        "rebel", "a-star-po", "grpo", "rloo", "online-dpo", "dpo", "ipo", "chi-po", "reward-model"
    }  # fmt: skip


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_runs_through_run_trial(name: str, tmp_path: Path) -> None:
    settings = {"device": "cpu", "batch_prompts": 3}
    if name in ("dpo", "ipo", "chi-po"):
        settings["n_pairs"] = 32
    result = run_trial(
        {
            "env": {"id": ENV, **SMALL},
            "agent": {"name": name, **settings},
            "total_steps": 40,
            "checkpoint_every": 17,  # chunks end in the middle of rounds
            "out": str(tmp_path),
        }
    )
    assert result.summary["status"] == "completed"
    assert result.summary["steps_done"] == 40
    metrics = result.metrics()
    assert len(metrics["regret"]) == 40
    assert np.all(metrics["regret"] >= -1e-9)
    diag = result.summary["agent_diagnostics"]
    for key in (*GRPO_NAMES, *COSTS, "loss", "time/step_s", "mem/peak_bytes", "num_tokens"):
        assert key in diag, key
    assert diag["cost/generated_tokens"] >= diag["cost/generations"] * 3
    if name != "reward-model":
        assert "grad_norm" in diag and 0.0 <= diag["suboptimality"] < 2.0


@pytest.mark.parametrize(
    ("name", "settings", "gens_per_round"),
    [
        ("rebel", {"eta": 10.0, "kl_coef": 0.1}, 2),
        ("a-star-po", {"beta2": 0.1}, 1),
        ("grpo", {"num_generations": 4, "beta": 0.1, "lr": 0.3}, 4),
        ("rloo", {"num_generations": 4, "beta": 0.1, "lr": 0.3}, 4),
        ("online-dpo", {"beta": 0.1}, 2),
    ],
)
def test_online_agents_reduce_the_exact_suboptimality(name: str, settings: dict, gens_per_round: int) -> None:
    env = _env()
    agent = agent_class(name)(env, {"device": "cpu", "batch_prompts": 6, **settings}, seed=0)
    start = agent.exact_metrics()["suboptimality"]
    agent.learn(6 * gens_per_round * 25)
    end = agent.diagnostics()["suboptimality"]
    assert agent.rounds == 25
    assert agent.costs["cost/generations"] == 6 * gens_per_round * 25
    assert end < 0.5 * start, (start, end)
    # the env's per-step regret is the exact suboptimality of the attached policy at that prompt
    gaps = env.unwrapped.policy_suboptimality(agent.policy, temperature=agent.config.temperature)
    assert float(np.mean(gaps)) == pytest.approx(end, rel=1e-4, abs=1e-6)


def test_a_star_po_counts_its_offline_stage_and_one_sample_per_prompt() -> None:
    agent = agent_class("a-star-po")(_env(), {"device": "cpu", "n_value_samples": 8}, seed=0)
    n_prompts = agent.task.prompts.shape[0]
    assert agent.costs["cost/offline_generations"] == 8 * n_prompts
    assert agent.v_star.shape == (n_prompts,)
    agent.learn(8)
    assert agent.costs["cost/generations"] == 8 and agent.rounds == 1
    assert agent.costs["cost/ref_fwd"] == 8


def test_learned_reward_model_pipeline_from_the_cli(tmp_path: Path) -> None:
    from rl_suite.cli import main

    args = [
        "train",
        "--env",
        ENV,
        "--agent",
        "rebel",
        "--total-steps",
        "32",
        "--out",
        str(tmp_path),
        "--quiet",
    ]
    for key, value in {**SMALL, **{f"agent.{k}": v for k, v in FAST.items()}}.items():
        args += ["--set", f"{key if '.' in key else 'env.' + key}={value}"]
    args += ["--set", "agent.reward_model=learned", "--set", "agent.device=cpu"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code in (0, None)
    (summary,) = tmp_path.glob("*/summary.json")
    diag = json.loads(summary.read_text())["agent_diagnostics"]
    assert diag["cost/offline_generations"] == 2 * FAST["rm_pairs"]
    assert diag["cost/preference_queries"] == FAST["rm_pairs"]
    assert diag["cost/rm_calls"] == 32


def test_learned_reward_model_ranks_like_the_gold_reward() -> None:
    # A sharp BT judge (temperature 0.1 on rewards in [0, 1]) so that 400 pairs carry enough signal.
    env = _env(preference_temperature=0.1)
    agent = agent_class("rloo")(env, {"device": "cpu", "reward_model": "learned", "rm_pairs": 400}, seed=0)
    assert agent.reward_net is not None and agent.rm_stats["rm/accuracy"] > 0.75
    task = agent.task
    responses = torch.as_tensor(task.all_responses())
    corr = []
    for i in range(task.prompts.shape[0]):
        prompts = torch.as_tensor(np.repeat(task.prompts[i : i + 1], len(responses), 0))
        learned = agent.score(prompts, responses).numpy()
        gold = task.reward(prompts.numpy(), responses.numpy())
        corr.append(np.corrcoef(learned, gold)[0, 1])
    assert np.mean(corr) > 0.75, corr


def test_checkpoint_resume_is_bit_for_bit(tmp_path: Path) -> None:
    cls = agent_class("rebel")
    env_a = _env()
    a = cls(env_a, {"device": "cpu", "batch_prompts": 3}, seed=3)
    a.learn(9)  # mid-round (rounds are 6 generations)
    a.save(tmp_path / "agent.ckpt")
    env_b = copy.deepcopy(env_a)
    b = cls.load(tmp_path / "agent.ckpt", env_b)
    a.learn(20)
    b.learn(20)
    ra, rb = env_a.drain(), env_b.drain()
    np.testing.assert_array_equal(ra[-20:], rb[-20:])
    for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["reward-model", "dpo"])
def test_checkpoint_is_tensors_and_plain_values(tmp_path: Path, name: str) -> None:
    settings = {"device": "cpu", "batch_prompts": 3, **({"n_pairs": 16} if name == "dpo" else {})}
    agent = agent_class(name)(_env(), settings, seed=0)
    agent.learn(7)  # a round is pending
    agent.save(tmp_path / "agent.ckpt")
    state = torch.load(tmp_path / "agent.ckpt", weights_only=True)  # no pickled objects to allow

    def leaves(value: object) -> list[object]:
        if isinstance(value, dict):
            return [x for v in value.values() for x in leaves(v)]
        if isinstance(value, (list, tuple)):
            return [x for v in value for x in leaves(v)]
        return [value]

    assert all(v is None or type(v) in (bool, int, float, str, torch.Tensor) for v in leaves(state))
    assert state["round"] is not None  # the pending round is saved as tensors
    assert state["class"] == f"{type(agent).__module__}:{type(agent).__qualname__}"
    loaded = type(agent).load(tmp_path / "agent.ckpt", _env())
    assert loaded._round is not None and loaded._round.stepped == agent._round.stepped
    np.testing.assert_array_equal(loaded._round.prompt_index, agent._round.prompt_index)
    assert loaded._round.prompt_index.dtype == np.int64 and loaded._round.gold.dtype == np.float64


def test_offline_dpo_respects_the_dataset_and_logs_dpo_metrics() -> None:
    agent = agent_class("chi-po")(_env(), {"device": "cpu", "n_pairs": 40, "batch_pairs": 10}, seed=0)
    assert len(agent.data) == 40
    assert agent.costs["cost/offline_generations"] == 80
    agent.learn(8 * 5)
    diag = agent.diagnostics()
    assert diag["epoch"] == pytest.approx(5 * 10 / 40)
    for key in ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"):
        assert key in diag


def test_mismatched_preference_dataset_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "prefs.npz"
    prompts = np.zeros((4, 2), dtype=np.int64)
    np.savez(path, prompts=prompts, chosen=np.zeros((4, 5), dtype=np.int64), rejected=np.zeros((4, 3)))
    with pytest.raises(UserError, match=r"chosen must have shape \(n, 3\)"):
        agent_class("dpo")(_env(), {"device": "cpu", "dataset_path": str(path)}, seed=0)
    np.savez(path, prompts=prompts, chosen=np.zeros((3, 3), dtype=np.int64), rejected=np.zeros((4, 3)))
    with pytest.raises(UserError, match="same number of rows"):
        agent_class("dpo")(_env(), {"device": "cpu", "dataset_path": str(path)}, seed=0)


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [("dpo", "beta", 0.0), ("chi-po", "beta", -1.0), ("a-star-po", "beta2", 0.0), ("rebel", "eta", 0.0),
     ("grpo", "num_generations", 1), ("rebel", "reward_model", "oracle")],
)  # fmt: skip
def test_bad_settings_are_one_line_errors(name: str, key: str, value: object, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=f"agent.{key}"):
        run_trial({"env": {"id": ENV, **SMALL}, "agent": {"name": name, key: value}, "out": str(tmp_path)})


def test_wrong_env_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="does not support"):
        registry.check_pairing("rebel", "rl_suite/MultiArmedBandit-v0")
    with pytest.raises(UserError, match="RLHFSequence-v0"):
        agent_class("grpo")(gym.make("rl_suite/MultiArmedBandit-v0"), {"device": "cpu"})


def test_predict_returns_a_response() -> None:
    agent = agent_class("grpo")(_env(), {"device": "cpu"}, seed=0)
    prompt = agent.task.prompts[0]
    y = agent.predict(prompt)
    assert y.shape == (3,) and y.dtype == np.int64
    with pytest.raises(UserError, match="one prompt"):
        agent.predict(np.zeros(5, dtype=np.int64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run_with_bf16() -> None:
    agent = agent_class("a-star-po")(_env(), {"device": "cuda", "bf16": True, "beta2": 0.1}, seed=0)
    assert next(agent.policy.parameters()).device.type == "cuda"
    agent.learn(32)
    diag = agent.diagnostics()
    assert diag["mem/peak_bytes"] > 0 and np.isfinite(diag["loss"])


def test_track_offline_writes_the_completions_table(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", OMP_NUM_THREADS="1", RL_SUITE_QUIET="1")
    cmd = [sys.executable, "-m", "rl_suite", "train", "--env", ENV, "--agent", "grpo", "--total-steps", "32",
           "--out", str(tmp_path / "runs"), "--track", "--wandb-project", "rl-suite-tests", "--quiet",
           "--set", "agent.device=cpu", "--set", "agent.num_generations=4"]  # fmt: skip
    cmd += [arg for k, v in SMALL.items() for arg in ("--set", f"env.{k}={v}")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tables = list((tmp_path / "runs").rglob("agent/completions_*.table.json"))
    assert tables, sorted(str(p) for p in (tmp_path / "runs").rglob("*"))[:50]
    table = json.loads(tables[-1].read_text())
    assert table["columns"] == ["step", "prompt", "completion", "reward", "gold_reward"]
    assert len(table["data"]) == 8
    history = list((tmp_path / "runs").rglob("offline-run-*/run-*.wandb"))
    assert history and b"agent/frac_reward_zero_std" in history[0].read_bytes()
