"""Exact learning curves in the runner (``eval_every``): evaluations.csv, summary fields, resume, compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rl_suite.compare.learning import compare_policy_regret
from rl_suite.errors import UserError
from rl_suite.runner import resume_trial, run_trial
from rl_suite.store import EVALUATIONS, METRICS, SUMMARY, read_metrics

LURE = "rl_suite/LayeredLureMDP-v0"


def config(tmp_path: Path, agent: str = "ucbvi", **top: Any) -> dict[str, Any]:
    return {
        "env": {"id": LURE, "lure_depth": 2},
        "agent": {"name": agent},
        "seed": 2,
        "total_steps": 1200,
        "checkpoint_every": 500,
        "out": str(tmp_path / "runs"),
        **top,
    }


def test_optimal_policy_reaches_epsilon_at_the_first_evaluation(tmp_path: Path) -> None:
    result = run_trial(config(tmp_path, agent="mdp-oracle", eval_every=300, eval_epsilon=0.0))
    s = result.summary
    assert s["steps_to_epsilon"] == 300
    assert s["final_policy_regret"] == pytest.approx(0.0, abs=1e-12)
    assert s["uniform_policy_regret"] > 0
    evals = read_metrics(result.path / EVALUATIONS)
    assert evals["step"].tolist() == [300, 600, 900, 1200]
    assert np.allclose(evals["policy_regret"], 0.0)


@pytest.mark.parametrize(
    ("agent", "settings"),
    [("ucbvi", {}), ("sqirl", {"episodes_per_timestep": 4}), ("ppo", {"hyperparams": {"n_steps": 64}})],
)
def test_evaluation_never_changes_training(tmp_path: Path, agent: str, settings: dict[str, Any]) -> None:
    base = config(tmp_path, agent=agent, total_steps=700, checkpoint_every=250)
    base["agent"].update(settings)
    if agent == "ppo":
        base["device"] = "cpu"
    plain = run_trial(base)
    evaluated = run_trial({**base, "eval_every": 70})
    a = (plain.path / METRICS).read_bytes()
    b = (evaluated.path / METRICS).read_bytes()
    assert a == b
    assert "final_policy_regret" not in plain.summary
    steps = read_metrics(evaluated.path / EVALUATIONS)["step"].tolist()
    assert steps == list(range(70, 701, 70))
    assert plain.summary["config_hash"] == evaluated.summary["config_hash"]


def test_resume_cuts_evaluations_back_to_the_checkpoint(tmp_path: Path) -> None:
    done = run_trial(config(tmp_path, eval_every=100))
    full = (done.path / EVALUATIONS).read_text()
    # Pretend the run was killed after its second-to-last checkpoint: drop the last one, mark it interrupted.
    ckpts = sorted((done.path / "checkpoint").iterdir())
    shutil.rmtree(ckpts[-1])
    summary = json.loads((done.path / SUMMARY).read_text())
    summary["status"] = "interrupted"
    (done.path / SUMMARY).write_text(json.dumps(summary))
    resumed = resume_trial(done.path)
    assert resumed.summary["status"] == "completed"
    assert (done.path / EVALUATIONS).read_text() == full
    assert resumed.summary["steps_to_epsilon"] == done.summary["steps_to_epsilon"]


def test_unsupported_env_fails_before_the_first_step(tmp_path: Path) -> None:
    cfg = config(tmp_path, eval_every=10)
    cfg["env"] = {"id": "rl_suite/RLHFToken-v0"}
    cfg["agent"] = {"name": "ppo"}
    cfg["device"] = "cpu"
    with pytest.raises(UserError, match="policy evaluation supports"):
        run_trial(cfg)


def test_compare_policy_regret(tmp_path: Path) -> None:
    for seed in (0, 1):
        run_trial(config(tmp_path, seed=seed, eval_every=200))
        run_trial(config(tmp_path, agent="mdp-oracle", seed=seed, eval_every=200))
    run_trial(config(tmp_path, seed=5))  # no evaluations: left out with a reason
    report = compare_policy_regret([tmp_path / "runs"], tmp_path / "report", reps=200, aggregate=True)
    rows = {r["agent"]: r for r in report.rows}
    assert rows["mdp-oracle"]["steps_to_epsilon"] == 200
    assert rows["mdp-oracle"]["reached"] == 2
    assert rows["ucbvi"]["seeds"] == 2
    assert report.aggregate_rows is not None and len(report.aggregate_rows) == 2
    assert (tmp_path / "report" / "policy_regret.png").stat().st_size > 0
    assert any("eval_every" in x.reason for x in report.left_out)
    assert "steps-to-ε" in report.to_markdown()


def test_memoryless_sb3_agent_on_a_pomdp(tmp_path: Path) -> None:
    cfg = config(tmp_path, agent="ppo", total_steps=256, checkpoint_every=128, eval_every=128, device="cpu")
    cfg["env"] = {"id": "rl_suite/Tiger-v0"}
    cfg["agent"]["hyperparams"] = {"n_steps": 64}
    result = run_trial(cfg)
    evals = read_metrics(result.path / EVALUATIONS)
    assert evals["step"].tolist() == [128, 256]
    assert np.isfinite(evals["policy_regret"]).all()
    assert (evals["policy_regret"] >= -1e-9).all()


def test_constrained_bandit_writes_policy_violation(tmp_path: Path) -> None:
    cfg = config(tmp_path, agent="opb", total_steps=200, checkpoint_every=100, eval_every=100)
    cfg["env"] = {"id": "rl_suite/ConstrainedMAB-v0"}
    result = run_trial(cfg)
    header = (result.path / EVALUATIONS).read_text().splitlines()[0]
    assert header == "step,policy_value,policy_regret,policy_violation"
    evals = read_metrics(result.path / EVALUATIONS)
    assert evals["step"].tolist() == [100, 200]
    assert np.isfinite(evals["policy_regret"]).all()
    assert (evals["policy_violation"] >= 0).all()
    assert np.isfinite(result.summary["final_policy_regret"])
    assert result.summary["final_policy_violation"] == evals["policy_violation"][-1]


def test_compare_reports_the_final_policy_violation(tmp_path: Path) -> None:
    for seed in (0, 1):
        cfg = config(tmp_path, agent="opb", seed=seed, total_steps=200, checkpoint_every=100, eval_every=100)
        cfg["env"] = {"id": "rl_suite/ConstrainedMAB-v0"}
        run_trial(cfg)
    report = compare_policy_regret([tmp_path / "runs"], tmp_path / "report", reps=200)
    (row,) = report.rows
    runs = [p for p in (tmp_path / "runs").iterdir() if (p / EVALUATIONS).is_file()]
    finals = [read_metrics(p / EVALUATIONS)["policy_violation"][-1] for p in runs]
    assert len(finals) == 2
    assert row["final_policy_violation"] == pytest.approx(np.mean(finals))
    assert row["violation_low"] <= row["final_policy_violation"] <= row["violation_high"]
    assert "mean violation" in report.to_markdown()
    assert "final_policy_violation" in (tmp_path / "report" / "table.csv").read_text().splitlines()[0]


def test_a_copy_with_evaluations_is_the_one_counted(tmp_path: Path) -> None:
    # eval_every does not change training, so it is not part of the run identity: of two copies of one run,
    # compare counts the one with exact evaluations (whichever was written first).
    plain = run_trial(config(tmp_path, out=str(tmp_path / "a")))
    evaluated = run_trial(config(tmp_path, out=str(tmp_path / "b"), eval_every=300))
    assert plain.summary["config_hash"] == evaluated.summary["config_hash"]
    report = compare_policy_regret([tmp_path / "a", tmp_path / "b"], tmp_path / "report", reps=100)
    assert report.rows[0]["seeds"] == 1
    dropped = [x for x in report.left_out if x.kind == "duplicate"]
    assert len(dropped) == 1 and str(plain.path) in dropped[0].line()
    assert "exact policy evaluations" in dropped[0].line()


@pytest.mark.parametrize(
    ("agent", "settings"),
    [("ppo-framestack", {"frame_stack": 2}), ("recurrent-ppo", {})],
)
def test_memory_sb3_agents_on_a_pomdp(tmp_path: Path, agent: str, settings: dict[str, Any]) -> None:
    cfg = config(tmp_path, agent=agent, total_steps=128, checkpoint_every=128, eval_every=64, device="cpu")
    cfg["env"] = {"id": "rl_suite/Tiger-v0", "max_steps": 4}
    cfg["agent"].update(settings, hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 1})
    result = run_trial(cfg)
    evals = read_metrics(result.path / EVALUATIONS)
    assert evals["step"].tolist() == [64, 128]
    assert np.isfinite(evals["policy_regret"]).all()
    assert (evals["policy_regret"] >= -1e-9).all()
