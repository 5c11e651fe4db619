"""run_trial and the run store: the folder, streamed metrics, summaries, checkpoints, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from rl_suite.config import env_signature_defaults
from rl_suite.errors import UserError
from rl_suite.runner import latest_checkpoint, resume_trial, run_trial
from rl_suite.store import find_runs, read_run

LINEAR = "rl_suite/LinearContextualBandit-v0"


def config(tmp_path: Path, **top: Any) -> dict[str, Any]:
    return {
        "env": {"id": LINEAR, "dim": 5, "n_arms": 4, "horizon": 500},
        "agent": {"name": "linucb"},
        "seed": 3,
        "total_steps": 1200,
        "checkpoint_every": 500,
        "out": str(tmp_path / "runs"),
        **top,
    }


def test_run_folder_is_complete_and_public_format(tmp_path: Path) -> None:
    result = run_trial(config(tmp_path))
    path = result.path
    assert path.parent == tmp_path / "runs"
    assert path.name.startswith("LinearContextualBandit-v0__linucb__s3__")
    cfg = yaml.safe_load((path / "config.yaml").read_text())
    assert set(cfg["env"]) == {"id", *env_signature_defaults(LINEAR)}
    assert cfg["agent"]["name"] == "linucb" and "alpha" in cfg["agent"]
    assert {"versions", "git_sha", "config_hash"} <= set(cfg)
    assert cfg["versions"]["numpy"] == np.__version__

    summary = json.loads((path / "summary.json").read_text())
    for key, typ in {
        "status": str,
        "env_id": str,
        "agent": str,
        "seed": int,
        "total_steps": int,
        "cumulative_regret": float,
        "wall_time_s": float,
    }.items():
        assert isinstance(summary[key], typ), key
    assert summary["status"] == "completed" and summary["error"] is None
    assert summary["steps_done"] == summary["total_steps"] == 1200

    metrics = read_run(path).metrics()
    assert list(metrics) == ["step", "episode", "reward", "regret", "cumulative_regret"]
    assert np.array_equal(metrics["step"], np.arange(1, 1201))
    assert np.allclose(np.cumsum(metrics["regret"]), metrics["cumulative_regret"])
    assert metrics["cumulative_regret"][-1] == pytest.approx(summary["cumulative_regret"], rel=1e-9)
    assert metrics["episode"][-1] == 2  # horizon 500: episodes 0, 1, 2
    assert (metrics["regret"] >= 0).all()
    assert latest_checkpoint(path).name == "step-000000001200"


def test_chunk_size_does_not_change_results(tmp_path: Path) -> None:
    a = run_trial(config(tmp_path, checkpoint_every=97))
    b = run_trial(config(tmp_path, checkpoint_every=1200))
    assert a.summary["cumulative_regret"] == b.summary["cumulative_regret"]
    assert np.array_equal(read_run(a.path).metrics()["regret"], read_run(b.path).metrics()["regret"])


def test_seeds_differ_and_repeat(tmp_path: Path) -> None:
    a = run_trial(config(tmp_path, seed=1)).summary["cumulative_regret"]
    b = run_trial(config(tmp_path, seed=1)).summary["cumulative_regret"]
    c = run_trial(config(tmp_path, seed=2)).summary["cumulative_regret"]
    assert a == b != c


def test_resume_after_interrupt_in_process_matches_straight_run(tmp_path: Path) -> None:
    straight = run_trial(config(tmp_path, total_steps=2000))
    stopper = {"n": 0}
    import rl_suite.runner as runner

    original = runner.save_checkpoint

    def save_then_stop(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        stopper["n"] += 1
        if stopper["n"] == 2:
            raise KeyboardInterrupt

    runner.save_checkpoint = save_then_stop
    try:
        stopped = run_trial(config(tmp_path, total_steps=2000))
    finally:
        runner.save_checkpoint = original
    assert stopped.status == "interrupted"
    assert read_run(stopped.path).status == "interrupted"
    # The summary lags the checkpoint the interrupt hit; resume starts from the checkpoint.
    assert stopped.summary["steps_done"] == 500
    assert latest_checkpoint(stopped.path).name == "step-000000001000"
    resumed = resume_trial(stopped.path)
    assert resumed.status == "completed"
    assert resumed.summary["cumulative_regret"] == straight.summary["cumulative_regret"]
    assert np.array_equal(
        read_run(resumed.path).metrics()["regret"], read_run(straight.path).metrics()["regret"]
    )


def test_failed_run_is_marked_and_keeps_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rl_suite.agents.linucb import LinUCB

    def boom(self: Any, total_steps: int, callback: Any = None) -> Any:
        raise RuntimeError("numerical trouble")

    monkeypatch.setattr(LinUCB, "learn", boom)
    with pytest.raises(RuntimeError):
        run_trial(config(tmp_path))
    (run,) = find_runs([tmp_path / "runs"])
    assert run.status == "failed"
    assert run.summary["error"] == "RuntimeError: numerical trouble"
    assert "numerical trouble" in (run.path / "error.log").read_text()


def test_bad_config_writes_no_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        run_trial(config(tmp_path, total_steps=0))
    assert not (tmp_path / "runs").exists()


def test_resume_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such run folder"):
        resume_trial(tmp_path / "missing")
    done = run_trial(config(tmp_path))
    again = resume_trial(done.path)  # a completed run is returned untouched
    assert again.summary == done.summary


def _train_cmd(tmp_path: Path, total: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "rl_suite",
        "train",
        "--env",
        LINEAR,
        "--agent",
        "linucb",
        "--set",
        "env.dim=5",
        "--set",
        "env.n_arms=4",
        "--set",
        "checkpoint_every=2000",
        "--seeds",
        "11",
        "--total-steps",
        str(total),
        "--out",
        str(tmp_path / "runs"),
        "--quiet",
    ]


def _wait_for_checkpoints(out: Path, n: int, proc: subprocess.Popen, timeout: float = 60.0) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = list(out.glob("*/checkpoint"))
        if runs and len(list(runs[0].glob("step-*/state.json"))) >= 1:
            ckpts = sorted(runs[0].glob("step-*/state.json"))
            if int(ckpts[-1].parent.name.split("-")[1]) >= n:
                return runs[0].parent
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


def test_sigkill_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    total = 150_000
    proc = subprocess.Popen(_train_cmd(tmp_path, total), stderr=subprocess.PIPE, text=True)
    run_dir = _wait_for_checkpoints(tmp_path / "runs", 4000, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    record = read_run(run_dir)
    assert record.summary["status"] == "running"  # what the dead process left on disk ...
    assert record.status == "interrupted"  # ... is reported as interrupted, not completed
    metrics = record.metrics()  # readable up to the last flush
    assert 4000 <= metrics["step"].size < total
    assert np.array_equal(metrics["step"], np.arange(1, metrics["step"].size + 1))

    resumed = subprocess.run(
        [sys.executable, "-m", "rl_suite", "train", "--resume", str(run_dir), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    finished = read_run(run_dir)
    assert finished.status == "completed"
    assert finished.summary["steps_done"] == total

    straight = subprocess.run(_train_cmd(tmp_path / "straight", total), capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr
    (reference,) = find_runs([tmp_path / "straight" / "runs"])
    assert finished.summary["cumulative_regret"] == reference.summary["cumulative_regret"]
    full = finished.metrics()
    assert np.array_equal(full["step"], np.arange(1, total + 1))
    assert np.array_equal(full["regret"], reference.metrics()["regret"])


def test_sigterm_marks_run_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen(_train_cmd(tmp_path, 150_000), stderr=subprocess.PIPE, text=True)
    run_dir = _wait_for_checkpoints(tmp_path / "runs", 2000, proc)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert "--resume" in summary["error"]
