"""Sweeps: a grid of env × agent × seed runs, each one :func:`~rl_suite.runner.run_trial` call.

A sweep is data (``configs/sweeps/*.yaml``, see :class:`~rl_suite.config.SweepConfig`). Re-running a sweep
is safe and cheap: a run whose resolved config already has a *completed* run folder under the sweep's
output folder is skipped, and an *interrupted* one is resumed from its checkpoint, so after a crash or a
Ctrl-C the same command finishes only what is missing.

Backends are pluggable (:data:`BACKENDS`): ``local`` runs in this process (``workers=1``) or a
process pool; a cluster backend (Ray Tune) registers beside it without touching the runner.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rl_suite.config import (
    RunConfig,
    SweepConfig,
    apply_overrides,
    config_hash,
    load_yaml,
    parse_sweep_config,
    resolve,
)
from rl_suite.errors import UserError
from rl_suite.store import RunRecord, find_runs
from rl_suite.tracking import Progress

Action = Literal["run", "resume", "skip"]


@dataclass(frozen=True)
class Job:
    """One unit of a sweep: start a run, resume an interrupted one, or skip a completed one."""

    action: Action
    config: dict[str, Any]
    """The resolved run config (JSON-able, so it crosses process boundaries)."""
    path: str | None = None
    """The existing run folder, for ``resume`` and ``skip``."""


@dataclass
class JobOutcome:
    """What became of a job."""

    job: Job
    status: str
    path: str | None
    error: str | None = None


@dataclass
class SweepResult:
    """All outcomes of a sweep, and the folder its runs are in."""

    out: Path
    outcomes: list[JobOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Number of jobs that ended with ``status`` (``skipped`` counts already-completed runs)."""
        return sum(o.status == status for o in self.outcomes)

    @property
    def ok(self) -> bool:
        """True when every run of the grid is completed."""
        return all(o.status in ("completed", "skipped") for o in self.outcomes)


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    """Read and validate a sweep YAML file, applying ``key=value`` overrides."""
    data = apply_overrides(load_yaml(path), overrides or [])
    return parse_sweep_config(data, source=str(path))


def plan(runs: list[RunConfig]) -> list[Job]:
    """Resolve every run and decide, from what is already on disk, whether to run, resume or skip it."""
    resolved = [resolve(r) for r in runs]
    existing: dict[str, list[RunRecord]] = {}
    for out in sorted({Path(r.out) for r in resolved}):
        if out.is_dir() and any(out.rglob("summary.json")):
            for rec in find_runs([out]):
                existing.setdefault(str(rec.summary.get("config_hash")), []).append(rec)
    jobs = []
    claimed: set[str] = set()
    for cfg in resolved:
        data = cfg.model_dump(mode="json")
        records = [r for r in existing.get(config_hash(cfg), []) if str(r.path) not in claimed]
        done = [r for r in records if r.status == "completed"]
        stopped = [r for r in records if r.status == "interrupted"]
        if done:
            claimed.add(str(done[0].path))
            jobs.append(Job("skip", data, str(done[0].path)))
        elif stopped:
            claimed.add(str(stopped[-1].path))
            jobs.append(Job("resume", data, str(stopped[-1].path)))
        else:
            jobs.append(Job("run", data))
    return jobs


def execute_job(job: Job) -> JobOutcome:
    """Run one job in this process (the unit every backend executes)."""
    from rl_suite.runner import resume_trial, run_trial

    if job.action == "skip":
        return JobOutcome(job, "skipped", job.path)
    try:
        result = resume_trial(job.path) if job.action == "resume" else run_trial(job.config)
    except KeyboardInterrupt:
        return JobOutcome(job, "interrupted", job.path)
    except Exception as exc:
        return JobOutcome(job, "failed", job.path, f"{type(exc).__name__}: {exc}")
    return JobOutcome(job, result.status, str(result.path), result.summary.get("error"))


def run_local(jobs: list[Job], workers: int = 1, progress: Progress | None = None) -> Iterator[JobOutcome]:
    """The local backend: in this process for ``workers=1``, else a spawn-context process pool."""
    if workers <= 1:
        for job in jobs:
            outcome = execute_job(job)
            if progress is not None:
                progress.advance()
            yield outcome
            if outcome.status == "interrupted":
                return
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(execute_job, job) for job in jobs]
        try:
            for fut in as_completed(futures):
                if progress is not None:
                    progress.advance()
                yield fut.result()
        except KeyboardInterrupt:
            for fut in futures:
                fut.cancel()
            raise


#: Sweep backends by name: ``(jobs, workers, progress) -> outcomes``.
BACKENDS: dict[str, Callable[[list[Job], int, Progress | None], Iterator[JobOutcome]]] = {"local": run_local}


def execute(
    jobs: list[Job], backend: str = "local", workers: int = 1, progress: Progress | None = None
) -> Iterator[JobOutcome]:
    """Hand the jobs to the backend; outcomes come back as they finish."""
    check_backend(backend, workers)
    return BACKENDS[backend](jobs, workers, progress)


def check_backend(backend: str, workers: int) -> None:
    """One-line errors for an unknown backend or a worker count below 1."""
    if backend not in BACKENDS:
        raise UserError(f"unknown sweep backend {backend!r}; available: {', '.join(BACKENDS)}")
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")


def run_sweep(
    sweep: SweepConfig, backend: str = "local", workers: int = 1, progress: Progress | None = None
) -> SweepResult:
    """Plan and execute a sweep; returns every job's outcome."""
    runs = sweep.runs()
    result = SweepResult(out=Path(runs[0].out))
    result.outcomes.extend(execute(plan(runs), backend, workers, progress))
    return result
