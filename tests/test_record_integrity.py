"""Records a researcher can trust, through the command line: one row per setting, each run counted once, one
writer per run folder, metrics checked against their steps, nothing unpickled, nothing written outside
``--out``, and every damaged input ending in one line."""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from rl_suite.runner import run_trial
from rl_suite.store import find_runs, metrics_problem, read_run

LINEAR = "rl_suite/LinearContextualBandit-v0"
SMALL = ["--set", "env.dim=4", "--set", "env.n_arms=4"]


def cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WANDB_MODE": "disabled", "RL_SUITE_QUIET": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rl_suite", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def cli_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The CLI run in this process (the imports are paid once): (exit status, stderr)."""
    from rl_suite.cli import main

    capsys.readouterr()
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``error: ...`` line of a refused command (exit 2, no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def write_sweep(path: Path, out: Path, seeds: str, total_steps: int, **extra: Any) -> Path:
    sweep = {
        "name": "integrity",
        "envs": [{"id": LINEAR, "dim": 4, "n_arms": 4}],
        "agents": extra.pop("agents", [{"name": "linucb"}, {"name": "lin-ts"}][:1]),
        "seeds": seeds,
        "total_steps": total_steps,
        "checkpoint_every": extra.pop("checkpoint_every", 1000),
        "out": str(out),
        **extra,
    }
    path.write_text(yaml.safe_dump(sweep), encoding="utf-8")
    return path


def completed_by_hash(out: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for run in find_runs([out]):
        if run.status == "completed":
            found.setdefault(str(run.config_hash), []).append(run.path)
    return found


# --------------------------------------------------------------------------- 1. settings never pooled
def test_two_agent_settings_are_two_rows(tmp_path: Path) -> None:
    for alpha in ("0.5", "2.0"):
        proc = cli(
            "train", "--env", LINEAR, "--agent", "linucb", "--seeds", "0", "-n", "300", *SMALL,
            "--set", f"agent.alpha={alpha}", "--out", str(tmp_path / "runs"), "-q",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    summaries = [r.summary for r in find_runs([tmp_path / "runs"])]
    assert sorted(s["agent_settings"]["alpha"] for s in summaries) == [0.5, 2.0]
    proc = cli("compare", str(tmp_path / "runs"), "--out", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "report" / "report.json").read_text())["rows"]
    assert len(rows) == 2
    labels = " ".join(str(r["agent"]) for r in rows)
    assert "alpha=0.5" in labels and "alpha=2" in labels


# --------------------------------------------------------------------------- 2. the same run counted once
def test_same_config_and_seed_trained_twice_counts_once(tmp_path: Path) -> None:
    for _ in range(2):
        proc = cli(
            "train", "--env", LINEAR, "--agent", "linucb", "--seeds", "3", "-n", "300", *SMALL,
            "--out", str(tmp_path / "runs"), "-q",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    assert len(find_runs([tmp_path / "runs"])) == 2
    proc = cli("compare", str(tmp_path / "runs"), "--out", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads((tmp_path / "report" / "report.json").read_text())["rows"]
    assert row["n_seeds"] == 1
    assert "duplicate" in (proc.stdout + proc.stderr).lower()


def test_two_sweeps_started_together_run_each_pair_once(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    sweep = write_sweep(
        tmp_path / "sweep.yaml", out, "0-2", 20_000, agents=[{"name": "linucb"}, {"name": "lin-ts"}]
    )
    env = {**os.environ, "WANDB_MODE": "disabled"}
    cmd = [sys.executable, "-m", "rl_suite", "sweep", str(sweep), "-q"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)]
    procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    for p in procs:
        p.communicate(timeout=300)
        assert p.returncode == 0
    done = completed_by_hash(out)
    assert len(done) == 6 and all(len(paths) == 1 for paths in done.values()), done
    assert len(find_runs([out])) == 6  # no duplicate folder of any status


# --------------------------------------------------------------------------- 3. one writer per run
def _interrupted_sweep_run(tmp_path: Path, total: int = 30_000) -> tuple[Path, Path]:
    """A sweep file and its one run, SIGKILLed after its first checkpoints."""
    out = tmp_path / "runs"
    sweep = write_sweep(tmp_path / "sweep.yaml", out, "0", total, checkpoint_every=2000)
    proc = subprocess.Popen([sys.executable, "-m", "rl_suite", "sweep", str(sweep), "-q"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ckpts = list(out.glob("*/checkpoint/step-*/state.json"))
        if len(ckpts) >= 2:
            break
        assert proc.poll() is None, "the sweep finished before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (run,) = find_runs([out])
    assert run.status == "interrupted"
    return sweep, run.path


def test_two_sweeps_over_an_interrupted_run_resume_it_once(tmp_path: Path) -> None:
    sweep, run_dir = _interrupted_sweep_run(tmp_path)
    env = {**os.environ, "WANDB_MODE": "disabled"}
    cmd = [sys.executable, "-m", "rl_suite", "sweep", str(sweep), "-q"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)]
    procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    (run,) = find_runs([tmp_path / "runs"])
    assert run.path == run_dir and run.status == "completed"
    steps = run.metrics()["step"]
    assert metrics_problem(steps, run.summary["steps_done"]) is None
    assert steps.size == 30_000
    assert not (run_dir / "error.log").exists()
    said = "".join(o + e for o, e in outs)
    assert "running elsewhere" in said or "1 skipped" in said


def test_second_writer_gets_one_line(tmp_path: Path) -> None:
    from rl_suite.store import RunLock

    run = run_trial(
        {"env": {"id": LINEAR, "dim": 4, "n_arms": 4}, "agent": {"name": "linucb"}, "total_steps": 300,
         "out": str(tmp_path / "runs")}
    )  # fmt: skip
    summary = json.loads((run.path / "summary.json").read_text())
    summary["status"] = "interrupted"
    (run.path / "summary.json").write_text(json.dumps(summary))
    with RunLock(run.path):
        line = one_line_error(cli("train", "--resume", str(run.path), "-q"))
    assert "being written by another process" in line and str(os.getpid()) in line


def test_dead_owner_on_another_host_is_taken_over_with_force(tmp_path: Path) -> None:
    _, run_dir = _interrupted_sweep_run(tmp_path, total=20_000)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.update(status="running", host="another-host", pid=4242)
    (run_dir / "summary.json").write_text(json.dumps(summary))
    line = one_line_error(cli("train", "--resume", str(run_dir), "-q"))
    assert "another-host" in line and "--force" in line
    proc = cli("train", "--resume", str(run_dir), "--force", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "pid 4242 on host another-host" in proc.stderr
    assert read_run(run_dir).status == "completed"


# --------------------------------------------------------------------------- 4. metrics checked
def test_truncated_metrics_never_leave_a_gap(tmp_path: Path) -> None:
    _, run_dir = _interrupted_sweep_run(tmp_path, total=40_000)
    metrics = run_dir / "metrics.csv"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(lines[:31]))  # header + 30 rows: before every checkpoint
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    line = one_line_error(cli("train", "--resume", str(run_dir), "-q"))
    assert "gap" in line and "metrics.csv" in line
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before  # untouched


def test_resume_falls_back_to_a_checkpoint_the_metrics_reach(tmp_path: Path) -> None:
    _, run_dir = _interrupted_sweep_run(tmp_path, total=40_000)
    ckpts = sorted((run_dir / "checkpoint").glob("step-*"))
    assert len(ckpts) == 2
    older = int(ckpts[0].name.split("-")[1])
    metrics = run_dir / "metrics.csv"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(lines[: older + 1 + 7]))  # reaches the older checkpoint only
    proc = cli("train", "--resume", str(run_dir), "-q")
    assert proc.returncode == 0, proc.stderr
    run = read_run(run_dir)
    assert run.status == "completed"
    assert metrics_problem(run.metrics()["step"], 40_000) is None


def test_compare_flags_a_completed_run_with_short_metrics(tmp_path: Path) -> None:
    run = run_trial(
        {"env": {"id": LINEAR, "dim": 4, "n_arms": 4}, "agent": {"name": "linucb"}, "total_steps": 1200,
         "out": str(tmp_path / "runs")}
    )  # fmt: skip
    other = run_trial(
        {"env": {"id": LINEAR, "dim": 4, "n_arms": 4}, "agent": {"name": "linucb"}, "total_steps": 1200,
         "seed": 1, "out": str(tmp_path / "runs")}
    )  # fmt: skip
    lines = (run.path / "metrics.csv").read_text().splitlines(keepends=True)
    (run.path / "metrics.csv").write_text("".join(lines[:32]))
    proc = cli("compare", str(tmp_path / "runs"), "--out", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr
    said = proc.stdout + proc.stderr
    assert run.path.name in said and other.path.name not in said.split("left out")[-1]
    (row,) = json.loads((tmp_path / "report" / "report.json").read_text())["rows"]
    assert row["n_seeds"] == 1 and row["steps"] == 1200


# --------------------------------------------------------------------------- 5. nothing unpickled
class _Payload:
    """Unpickling this touches the marker file: proof that something executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _plant(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(_Payload(marker)))


def _fix_checksums(run_dir: Path) -> None:
    """Recompute every checkpoint's recorded checksums, as an attacker would, so loaders face the payload."""
    import hashlib

    for state_path in run_dir.glob("checkpoint/step-*/state.json"):
        try:
            state = json.loads(state_path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in state_path.parent.iterdir()}
        files.pop("state.json")
        state["files"] = files
        state_path.write_text(json.dumps(state))


AGENT_RUNS = {
    "linucb": ([LINEAR, "linucb", "--set", "env.dim=4", "--set", "env.n_arms=4"], 3000, 1000),
    "ppo": (
        ["rl_suite/MultiArmedBandit-v0", "ppo", "--set", "agent.hyperparams.n_steps=64",
         "--set", "agent.hyperparams.batch_size=32"],
        400, 128,
    ),
    "rebel": (
        ["rl_suite/RLHFSequence-v0", "rebel", "--config", "configs/rebel__rlhf.yaml", "--seeds", "0"],
        300, 100,
    ),
}  # fmt: skip


@pytest.mark.parametrize("agent", sorted(AGENT_RUNS))
def test_pickle_payload_in_any_file_never_executes(
    tmp_path: Path, agent: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    (env_id, name, *extra), total, every = AGENT_RUNS[agent]
    root = Path(__file__).resolve().parent.parent
    args = ["train", "--env", env_id, "--agent", name, *extra, "--out", str(tmp_path / "runs"), "-q"]
    args += ["-n", str(total), "--set", f"checkpoint_every={every}"]
    proc = cli(*args, cwd=root)
    assert proc.returncode == 0, proc.stderr
    (run,) = find_runs([tmp_path / "runs"])
    summary = json.loads((run.path / "summary.json").read_text())
    summary["status"] = "interrupted"  # as if killed: resume must open the checkpoint
    (run.path / "summary.json").write_text(json.dumps(summary))
    pristine = tmp_path / "pristine"
    shutil.copytree(run.path, pristine)
    marker = tmp_path / "EXECUTED"
    files = sorted(p.relative_to(pristine) for p in pristine.rglob("*") if p.is_file())
    assert any("checkpoint" in str(f) for f in files)
    for rel in files:
        shutil.rmtree(run.path)
        shutil.copytree(pristine, run.path)
        _plant(run.path / rel, marker)
        _fix_checksums(run.path)
        code, err = cli_in_process(["train", "--resume", str(run.path), "-q"], capsys)
        assert code in (0, 2) and "Traceback" not in err, (rel, err)
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), (rel, err)
        assert not marker.exists(), f"unpickled {rel} on resume"
    # All at once, and a sweep re-run over the folder.
    shutil.rmtree(run.path)
    shutil.copytree(pristine, run.path)
    for rel in files:
        _plant(run.path / rel, marker)
    one_line_error(cli("train", "--resume", str(run.path), "-q", cwd=root))
    proc = cli("compare", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "-q", cwd=root)
    one_line_error(proc)  # nothing readable is left to compare
    assert not marker.exists()


def test_sweep_rerun_over_a_planted_run_never_executes_it(tmp_path: Path) -> None:
    sweep, run_dir = _interrupted_sweep_run(tmp_path, total=20_000)
    marker = tmp_path / "EXECUTED"
    for path in run_dir.glob("checkpoint/step-*/*"):
        if path.name != "state.json":
            _plant(path, marker)
    _fix_checksums(run_dir)
    proc = cli("sweep", str(sweep), "-q")
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert "could not resume" in proc.stderr
    done = completed_by_hash(tmp_path / "runs")
    assert sum(len(v) for v in done.values()) == 1  # started again in a new folder, once


# --------------------------------------------------------------------------- 6. paths
@pytest.mark.parametrize("label", ["x/../../../ESC", "../../ESC", "/tmp/ESC", "..", "é" * 300])
def test_labels_never_escape_out(tmp_path: Path, label: str) -> None:
    out = tmp_path / "deep" / "runs"
    proc = cli(
        "train", "--env", LINEAR, "--agent", "linucb", "-n", "50", *SMALL, "--label", label,
        "--out", str(out), "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run,) = find_runs([out])
    assert run.path.parent == out and run.summary["label"] == label
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep"]
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["runs"]


def test_sanitiser_in_process(tmp_path: Path) -> None:
    from rl_suite.store import inside, safe_name

    for text in ["x/../../../ESC", "..", ".", "", "a\x00b", "é" * 300, "C:\\win", "~/x", "a" * 500]:
        name = safe_name(text)
        assert name and "/" not in name and "\\" not in name and ".." not in name and "\x00" not in name
        assert not name.startswith(".") and len(name) <= 80
        assert inside(tmp_path / name, tmp_path)
    assert safe_name("a" * 500) != safe_name("a" * 499)
    assert safe_name("linucb-hybrid") == "linucb-hybrid"
    run = run_trial(
        {"env": {"id": LINEAR, "dim": 4, "n_arms": 4}, "agent": {"name": "linucb"}, "total_steps": 20,
         "label": "a\x00b/../..", "out": str(tmp_path / "runs")}
    )  # fmt: skip
    assert run.path.parent == tmp_path / "runs"


def test_sweep_labels_never_escape_out(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "runs"
    sweep = write_sweep(
        tmp_path / "sweep.yaml", out, "0", 50, agents=[{"name": "linucb", "label": "x/../../../ESC"}]
    )
    proc = cli("sweep", str(sweep), "-q")
    assert proc.returncode == 0, proc.stderr
    (run,) = find_runs([out])
    assert run.path.parent == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "sweep.yaml"]


# --------------------------------------------------------------------------- SIGKILLs at random moments
def test_twenty_sigkills_then_two_sweeps(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    agents = [{"name": "linucb"}, {"name": "lin-ts"}]
    sweep = write_sweep(tmp_path / "sweep.yaml", out, "0-1", 30_000, agents=agents, checkpoint_every=700)
    env = {**os.environ, "WANDB_MODE": "disabled"}
    cmd = [sys.executable, "-m", "rl_suite", "sweep", str(sweep), "-q"]
    rng = random.Random(0)
    for _ in range(20):
        # Kill at a random moment once the sweep is writing (a new checkpoint has appeared).
        seen = {str(p.parent) for p in out.glob("*/checkpoint/step-*/state.json")}
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if {str(p.parent) for p in out.glob("*/checkpoint/step-*/state.json")} - seen:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.03))  # within the next few chunks and checkpoint writes
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    killed = find_runs([out])
    assert killed and any(r.status != "completed" for r in killed)  # the kills landed mid-run
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)]
    time.sleep(0.3)  # the second starts while the first re-runs
    procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    runs = find_runs([out])  # every folder with a summary loads
    done = completed_by_hash(out)
    assert len(done) == 4 and all(len(v) == 1 for v in done.values()), done
    assert all(r.status == "completed" for r in runs), [(r.path.name, r.status) for r in runs]
    # Resumed many times, each run ends exactly where an uninterrupted one does.
    for run in runs:
        straight = run_trial(
            {"env": {"id": LINEAR, "dim": 4, "n_arms": 4}, "agent": {"name": run.agent}, "seed": run.seed,
             "total_steps": 30_000, "checkpoint_every": 700, "out": str(tmp_path / "straight")}
        )  # fmt: skip
        assert run.summary["cumulative_regret"] == straight.summary["cumulative_regret"]
        a, b = run.metrics(), read_run(straight.path).metrics()
        assert np.array_equal(a["step"], b["step"]) and np.array_equal(a["regret"], b["regret"])
    proc = cli("compare", str(out), "--out", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "report" / "report.json").read_text())["rows"]
    assert sorted(r["n_seeds"] for r in rows) == [2, 2]
