"""Sweeps survive interruption: Ctrl-C a sweep, run the same command again, and only the missing runs run.

The skip/resume rule lives in :func:`rl_suite.sweep.plan` and is shared by every backend; these tests use
the local backend (the Ray one is covered by ``tests/test_ray_backend.py`` behind ``-m ray``).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rl_suite import sweep as sweep_mod
from rl_suite.errors import UserError
from rl_suite.runner import run_trial
from rl_suite.store import find_runs
from rl_suite.sweep import BackendOptions, JobOutcome, check_backend, execute, load_sweep, plan, run_sweep

SWEEP = """\
name: resume_test
total_steps: {steps}
checkpoint_every: {every}
seeds: 0-2
out: {out}
envs:
  - id: rl_suite/MultiArmedBandit-v0
    n_arms: 5
agents:
  - name: ucb1
  - name: epsilon-greedy
"""


def write_sweep(tmp_path: Path, steps: int = 2000, every: int = 1000) -> tuple[Path, Path]:
    out = tmp_path / "runs"
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.format(steps=steps, every=every, out=out))
    return path, out


def fingerprint(run_dir: Path) -> str:
    """Hash of a finished run folder's summary and metrics (what must not change on a re-run)."""
    h = hashlib.sha256()
    for name in ("summary.json", "metrics.csv"):
        h.update((run_dir / name).read_bytes())
    return h.hexdigest()


def statuses(out: Path) -> dict[str, str]:
    return {str(r.path): r.status for r in find_runs([out])} if out.exists() else {}


def test_sigint_then_rerun_completes_only_the_missing_runs(tmp_path: Path) -> None:
    # The sweep is interrupted once two runs have completed and a third has checkpointed.
    path, out = write_sweep(tmp_path, steps=10_000, every=500)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RL_SUITE_QUIET": "1"}
    cmd = [sys.executable, "-m", "rl_suite", "sweep", str(path), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        found = _summaries(out)
        done = [p for p, (s, _) in found.items() if s == "completed"]
        started = [p for p, (s, steps) in found.items() if s == "running" and 0 < steps < 10_000]
        if len(done) >= 2 and started:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.01)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert "run the same command again" in stderr
    first = statuses(out)
    completed = {p: fingerprint(Path(p)) for p, s in first.items() if s == "completed"}
    stopped = [p for p, s in first.items() if s == "interrupted"]
    assert 2 <= len(completed) < 6
    # The cell in flight (the three seeds of one agent, run as one batch) recorded that it was stopped.
    assert len(stopped) == 3

    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"6 runs ({len(completed)} already completed)" in again.stdout
    assert f"{6 - len(completed)} completed, {len(completed)} skipped, 0 failed" in again.stdout
    final = statuses(out)
    assert len(final) == 6 and set(final.values()) == {"completed"}  # the interrupted run resumed in place
    for p, digest in completed.items():
        assert fingerprint(Path(p)) == digest  # finished run folders are untouched
    for p in stopped:  # the resumed run ends where an uninterrupted run of its config ends
        summary = json.loads((Path(p) / "summary.json").read_text())
        config = next(r.config() for r in find_runs([out]) if str(r.path) == p)
        for provenance in ("versions", "git_sha", "config_hash"):
            config.pop(provenance, None)
        straight = run_trial({**config, "out": str(tmp_path / "straight")})
        assert summary["cumulative_regret"] == straight.summary["cumulative_regret"]


def _summaries(out: Path) -> dict[str, tuple[str, int]]:
    """``{run folder: (status, steps done)}`` as written so far."""
    found = {}
    for f in out.glob("*/summary.json") if out.exists() else []:
        try:
            summary = json.loads(f.read_text())
            found[str(f.parent)] = (summary["status"], int(summary["steps_done"]))
        except (OSError, ValueError, KeyError):
            continue  # being written
    return found


def test_keyboard_interrupt_in_a_job_stops_the_sweep_and_the_rerun_skips_finished_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, out = write_sweep(tmp_path)
    spec = load_sweep(path)
    real = sweep_mod._attempt
    calls = {"n": 0}

    def third_is_interrupted(job: sweep_mod.Job) -> JobOutcome:
        calls["n"] += 1
        if calls["n"] == 3:
            return JobOutcome(job, "interrupted", job.path)  # what execute_job returns on Ctrl-C
        return real(job)

    monkeypatch.setattr(sweep_mod, "_attempt", third_is_interrupted)
    one_by_one = BackendOptions(batch=False)  # every run through _attempt, one seed after the other
    first = run_sweep(spec, options=one_by_one)
    assert [o.status for o in first.outcomes] == ["completed", "completed", "interrupted"]
    done = {p: fingerprint(Path(p)) for p, s in statuses(out).items() if s == "completed"}
    assert len(done) == 2

    monkeypatch.setattr(sweep_mod, "_attempt", real)
    jobs = plan(spec.runs())
    assert [j.action for j in jobs] == ["skip", "skip", "run", "run", "run", "run"]
    second = list(execute(jobs, options=one_by_one))
    assert [o.status for o in second] == ["skipped"] * 2 + ["completed"] * 4
    assert {p: fingerprint(Path(p)) for p in done} == done
    assert len(find_runs([out])) == 6
    # A third pass has nothing left to do.
    assert {j.action for j in plan(spec.runs())} == {"skip"}


def test_a_changed_config_is_not_skipped(tmp_path: Path) -> None:
    path, _ = write_sweep(tmp_path)
    run_sweep(load_sweep(path, ["seeds=0-0"]))
    assert [j.action for j in plan(load_sweep(path, ["seeds=0-0"]).runs())] == ["skip", "skip"]
    changed = plan(load_sweep(path, ["seeds=0-0", "total_steps=3000"]).runs())
    assert [j.action for j in changed] == ["run", "run"]


def test_failed_runs_are_retried_up_to_max_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = write_sweep(tmp_path)
    spec = load_sweep(path, ["seeds=0-0"])
    real = sweep_mod._attempt
    failures = {"left": 1}

    def flaky(job: sweep_mod.Job) -> JobOutcome:
        if failures["left"] > 0:
            failures["left"] -= 1
            return JobOutcome(job, "failed", None, "RuntimeError: node lost")
        return real(job)

    monkeypatch.setattr(sweep_mod, "_attempt", flaky)
    result = run_sweep(spec, options=BackendOptions(max_retries=1))
    assert [(o.status, o.attempts) for o in result.outcomes] == [("completed", 2), ("completed", 1)]
    failures["left"] = 1
    no_retry = run_sweep(load_sweep(path, ["seeds=1-1"]), options=BackendOptions(max_retries=0))
    assert [o.status for o in no_retry.outcomes] == ["failed", "completed"]
    assert not no_retry.ok


def test_backend_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="unknown sweep backend 'slurm'; available: local, ray"):
        check_backend("slurm", 1)
    with pytest.raises(UserError, match="--gpus-per-trial, --address apply to --backend ray only"):
        check_backend("local", 1, BackendOptions(gpus_per_trial=1, address="auto"))
    with pytest.raises(UserError, match="--max-retries must be >= 0"):
        check_backend("local", 1, BackendOptions(max_retries=-1))
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(UserError, match=r'pip install "rl_suite\[ray\]"'):
        check_backend("ray", None)


def test_cli_without_ray_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rl_suite.cli import main

    path, out = write_sweep(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(path), "--backend", "ray"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert err == ['error: the ray backend needs Ray: pip install "rl_suite[ray]"']
    assert not out.exists()  # nothing planned, nothing written
