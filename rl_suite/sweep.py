"""Sweeps: a grid of env × agent × seed runs, each one :func:`~rl_suite.runner.run_trial` call.

A sweep is data (``configs/sweeps/*.yaml``, see :class:`~rl_suite.config.SweepConfig`). Re-running a sweep
is safe and cheap: a run whose resolved config already has a *completed* run folder under the sweep's
output folder is skipped, and an *interrupted* one is resumed from its checkpoint, so after a crash or a
Ctrl-C the same command finishes only what is missing. Each run is claimed (an OS lock under
``<out>/.claims/``) by the process that executes it, and the skip/resume/run decision is taken under that
claim, so two sweeps started together over one file run every (config, seed) once; each reports the runs
the other holds as *running elsewhere*. An interrupted run that cannot be resumed (damaged, or written by
an older rl_suite) is left as it is and started again in a new folder.

Backends are pluggable (:data:`BACKENDS`): ``local`` runs in this process (``workers=1``) or a
process pool; ``ray`` hands the same jobs to Ray Tune (one trial per run, on this machine or a cluster).
Both execute the very same :func:`execute_job`, and both get their jobs from :func:`plan`, so the
skip/resume rule above holds whichever backend ran the earlier attempt. Ray is imported only by the ``ray``
backend (optional extra ``pip install "rl_suite[ray]"``).
"""

from __future__ import annotations

import glob
import logging
import multiprocessing
import os
import time
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
from rl_suite.runner import resume_trial, run_dir_name, run_trial
from rl_suite.store import SUMMARY, Claim, RunBusy, RunRecord, read_run
from rl_suite.tracking import Progress

#: What a sweep does with a run: start it, resume it, skip it (completed), or leave it (``busy``: its writer
#: is alive elsewhere).
Action = Literal["run", "resume", "skip", "busy"]


@dataclass(frozen=True)
class Job:
    """One unit of a sweep: start a run, resume an interrupted one, or skip a completed one."""

    action: Action
    config: dict[str, Any]
    """The resolved run config (JSON-able, so it crosses process boundaries)."""
    path: str | None = None
    """The existing run folder, for ``resume`` and ``skip``."""
    claim: bool = True
    """Claim the run and decide again from the disk before executing (sweeps); ``False`` executes the
    action as it is (``rl-suite train`` always starts new runs)."""


@dataclass
class JobOutcome:
    """What became of a job."""

    job: Job
    status: str
    path: str | None
    error: str | None = None
    attempts: int = 1
    """How many times the job was executed (more than one after retries of a failed run)."""


@dataclass(frozen=True)
class BackendOptions:
    """How a backend places and retries runs (the ``rl-suite sweep`` flags after ``--backend``)."""

    max_retries: int = 0
    """Times a failed run is started again (a fresh run folder each time; the failed one stays)."""
    cpus_per_trial: float = 1.0
    """Ray: CPUs reserved per run (Ray also sets the trial's ``OMP_NUM_THREADS`` to it)."""
    gpus_per_trial: float = 0.0
    """Ray: GPUs reserved per run (fractions share a GPU)."""
    storage_path: str | None = None
    """Ray: where Tune keeps its experiment state [``<out>/_tune``]; on a multi-node cluster it must be
    shared storage (NFS path or ``s3://``/``gs://`` URI), like the run folders themselves."""
    address: str | None = None
    """Ray: the cluster to join (``auto``, ``ray://head:10001``); default ``RAY_ADDRESS`` if set, else a
    Ray instance started on this machine for the sweep."""


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
        """True when every run of the grid is completed (by this sweep or another)."""
        return all(o.status in ("completed", "skipped") for o in self.outcomes)


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    """Read and validate a sweep YAML file, applying ``key=value`` overrides."""
    data = apply_overrides(load_yaml(path), overrides or [])
    return parse_sweep_config(data, source=str(path))


def existing_runs(cfg: RunConfig) -> list[RunRecord]:
    """The run folders under ``cfg.out`` that hold this run (same config hash); damaged ones are passed over.

    Only folders named like this run (``<env>__<agent>__s<seed>__*``) are read, so the look-up stays cheap
    in a large run store.
    """
    out = Path(cfg.out)
    if not out.is_dir():
        return []
    want = config_hash(cfg)
    found = []
    for summary in sorted(out.glob(f"{glob.escape(run_dir_name(cfg))}__*/{SUMMARY}")):
        try:
            record = read_run(summary.parent)
        except UserError:
            continue
        if record.config_hash == want:
            found.append(record)
    return found


def decide(cfg: RunConfig) -> tuple[Action, str | None]:
    """What a sweep does with one run, from what is on disk: skip it, resume it, or start it.

    A completed run is skipped; the interrupted run that got furthest is resumed; a run whose writer is
    alive elsewhere is ``busy``; otherwise a new run starts.
    """
    records = existing_runs(cfg)
    done = [r for r in records if r.status == "completed"]
    if done:
        return "skip", str(done[0].path)
    if any(r.status == "running" for r in records):
        return "busy", str(next(r.path for r in records if r.status == "running"))
    stopped = [r for r in records if r.status == "interrupted"]
    if stopped:
        best = max(stopped, key=lambda r: (r.summary.get("steps_done", 0), str(r.path)))
        return "resume", str(best.path)
    return "run", None


def plan(runs: list[RunConfig]) -> list[Job]:
    """Resolve every run and decide from what is on disk whether to run, resume or skip it.

    The decision is taken again, under the run's claim, when a backend executes the job
    (:func:`execute_job`): the plan is what the sweep expects, the claim is what makes it so when two
    sweeps share one folder.
    """
    jobs = []
    for cfg in (resolve(r) for r in runs):
        action, path = decide(cfg)
        jobs.append(Job(action, cfg.model_dump(mode="json"), path))
    return jobs


def execute_job(job: Job, max_retries: int = 0) -> JobOutcome:
    """Run one job in this process (the unit every backend executes), retrying a failed run.

    The job's run is claimed first (:class:`~rl_suite.store.Claim`): if another process holds the claim
    the job ends ``busy`` ("running elsewhere") without touching anything; otherwise what to do is decided
    again from the disk (another sweep may have finished the run meanwhile) and the claim is held until the
    run ends.

    Args:
        job: what to do.
        max_retries: times a failed run is started again from scratch (in a new run folder).

    Returns:
        The outcome of the last attempt.
    """
    if not job.claim:
        return _retrying(job, max_retries)
    cfg = RunConfig.model_validate(job.config)
    claim = Claim(cfg.out, config_hash(cfg))
    if not claim.try_acquire():
        return JobOutcome(job, "busy", job.path, "running elsewhere (another process holds its claim)")
    try:
        action, path = decide(cfg)
        return _retrying(Job(action, job.config, path), max_retries)
    finally:
        claim.release()


def _retrying(job: Job, max_retries: int) -> JobOutcome:
    outcome = _attempt(job)
    attempts = 1
    while outcome.status == "failed" and attempts <= max_retries:
        outcome = _attempt(Job("run", job.config, claim=job.claim))
        attempts += 1
    outcome.attempts = attempts
    return outcome


def _attempt(job: Job) -> JobOutcome:
    if job.action == "skip":
        return JobOutcome(job, "skipped", job.path)
    if job.action == "busy":
        return JobOutcome(job, "busy", job.path, "running elsewhere (its run folder is locked)")
    note = None
    if job.action == "resume":
        try:
            assert job.path is not None  # plan() gives every resume job its run folder
            result = resume_trial(job.path)
            return JobOutcome(job, result.status, str(result.path), result.summary.get("error"))
        except KeyboardInterrupt:
            return JobOutcome(job, "interrupted", job.path)
        except RunBusy as exc:
            return JobOutcome(job, "busy", job.path, str(exc))
        except UserError as exc:
            # The interrupted folder cannot be resumed (damaged, older format): it is left as it is and the
            # run starts again in a new folder; compare counts the run once.
            note = f"could not resume {job.path} ({exc}); started it again"
        except Exception as exc:
            return JobOutcome(job, "failed", job.path, f"{type(exc).__name__}: {exc}")
    try:
        result = run_trial(job.config)
    except KeyboardInterrupt:
        return JobOutcome(job, "interrupted", None, note)
    except Exception as exc:
        return JobOutcome(job, "failed", None, f"{type(exc).__name__}: {exc}")
    error = result.summary.get("error")
    return JobOutcome(job, result.status, str(result.path), error or note)


def run_local(
    jobs: list[Job],
    workers: int | None = 1,
    progress: Progress | None = None,
    options: BackendOptions | None = None,
) -> Iterator[JobOutcome]:
    """The local backend: in this process for ``workers=1``, else a spawn-context process pool.

    A Ctrl-C stops at once in this process (the run in flight records ``interrupted``); with a pool, runs
    already started finish and the queued ones are cancelled. Either way a re-run of the sweep skips every
    completed run.
    """
    retries = (options or BackendOptions()).max_retries
    workers = workers or 1
    if workers <= 1:
        for job in jobs:
            outcome = execute_job(job, retries)
            if progress is not None:
                progress.advance()
            yield outcome
            if outcome.status == "interrupted":
                return
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(execute_job, job, retries) for job in jobs]
        try:
            for fut in as_completed(futures):
                if progress is not None:
                    progress.advance()
                yield fut.result()
        except KeyboardInterrupt:
            for fut in futures:
                fut.cancel()
            raise


# --------------------------------------------------------------------------- the Ray Tune backend
#: What a missing Ray says.
RAY_MISSING = 'the ray backend needs Ray Tune: pip install "rl_suite[ray]"'
#: Progress objects of running Ray sweeps, by key (a Tune callback holds the key, not the object, since
#: Tune pickles its callbacks with the experiment state).
_RAY_PROGRESS: dict[int, Progress] = {}


def _absolute_out(job: Job) -> Job:
    """The job with its ``out`` made absolute: Ray trials run in their own working directory."""
    config = {**job.config, "out": str(Path(job.config["out"]).resolve())}
    return Job(job.action, config, None if job.path is None else str(Path(job.path).resolve()))


def _ray_trial(config: dict[str, Any], jobs: list[Job]) -> None:
    """The Tune function trainable: execute one job and report its outcome.

    A failed run raises, so that Tune's ``FailureConfig(max_failures)`` retries it in a fresh worker.
    """
    from ray import tune

    outcome = execute_job(jobs[config["job"]])
    if outcome.status == "failed":
        raise RuntimeError(f"run failed: {outcome.error}")
    tune.report({"status": outcome.status, "path": outcome.path or "", "error": outcome.error or ""})


def _ray_progress_callback(key: int) -> Any:
    from ray import tune

    class AdvanceProgress(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            if key in _RAY_PROGRESS:
                _RAY_PROGRESS[key].advance()

        def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            self.on_trial_complete(iteration, trials, trial)

    return AdvanceProgress()


def run_ray(
    jobs: list[Job],
    workers: int | None = None,
    progress: Progress | None = None,
    options: BackendOptions | None = None,
) -> Iterator[JobOutcome]:
    """The Ray Tune backend: one function trial per run, ``execute_job`` inside it.

    Completed runs (``skip`` jobs) never reach Ray. Run folders go where the sweep says (made absolute,
    so on a cluster ``out`` must be on storage every node sees); Tune's own state goes to
    ``options.storage_path`` (default ``<out>/_tune``). A Ctrl-C stops Tune; finished runs keep their
    complete folders and runs in flight are left ``interrupted``, so re-running the sweep does the rest.

    Args:
        jobs: the planned jobs.
        workers: most trials at once (default: as many as the cluster's free CPUs allow).
        progress: advanced once per finished trial.
        options: resources, retries, storage and cluster address.

    Yields:
        One outcome per job (skipped ones first).

    Raises:
        UserError: Ray is not installed.
    """
    try:
        import ray
        from ray import tune
    except ImportError:
        raise UserError(RAY_MISSING) from None
    opts = options or BackendOptions()
    for job in jobs:
        if job.action == "skip":
            if progress is not None:
                progress.advance()
            yield JobOutcome(job, "skipped", job.path)
    todo = [_absolute_out(j) for j in jobs if j.action != "skip"]
    if not todo:
        return
    started = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if opts.address or os.environ.get("RAY_ADDRESS"):
            ray.init(address=opts.address, log_to_driver=False)
        else:
            cpus = None if workers is None else max(1, int(workers * opts.cpus_per_trial + 0.999))
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        started = True
    # Tune's INFO lines (result files, TensorBoard hints) would drown the sweep's own summary.
    logging.getLogger("ray.tune").setLevel(logging.WARNING)
    key = id(todo)
    if progress is not None:
        _RAY_PROGRESS[key] = progress
    storage = opts.storage_path or str(Path(todo[0].config["out"]) / "_tune")
    if "://" not in storage:
        storage = str(Path(storage).resolve())
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_ray_trial, jobs=todo),
            {"cpu": opts.cpus_per_trial, "gpu": opts.gpus_per_trial},
        )
        tuner = tune.Tuner(
            trainable,
            param_space={"job": tune.grid_search(list(range(len(todo))))},
            tune_config=tune.TuneConfig(
                max_concurrent_trials=workers,
                trial_name_creator=lambda t: _trial_name(todo[t.config["job"]]),
                trial_dirname_creator=lambda t: f"{t.config['job']:05d}_{_trial_name(todo[t.config['job']])}",
            ),
            run_config=tune.RunConfig(
                name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}",
                storage_path=storage,
                failure_config=tune.FailureConfig(max_failures=opts.max_retries),
                callbacks=[_ray_progress_callback(key)],
                verbose=0,
            ),
        )
        results = tuner.fit()
        reported: dict[int, JobOutcome] = {}
        for result in results:
            if not result.config or "job" not in result.config:  # never started (driver interrupted)
                continue
            index = int(result.config["job"])
            job = todo[index]
            metrics = result.metrics or {}
            if result.error is not None:
                text = str(result.error).strip()
                error = text.splitlines()[-1] if text else "failed"
                reported[index] = JobOutcome(job, "failed", job.path, error, attempts=opts.max_retries + 1)
            elif "status" in metrics:
                path = metrics.get("path") or job.path
                reported[index] = JobOutcome(job, str(metrics["status"]), path, metrics.get("error") or None)
        for index, job in enumerate(todo):
            # Jobs that never reported were stopped by a Ctrl-C of the driver: the next sweep redoes them.
            yield reported.get(index, JobOutcome(job, "interrupted", job.path))
    finally:
        _RAY_PROGRESS.pop(key, None)
        if started:
            ray.shutdown()


def _trial_name(job: Job) -> str:
    cfg = job.config
    return f"{cfg['env']['id'].split('/')[-1]}__{cfg.get('label') or cfg['agent']['name']}__s{cfg['seed']}"


#: A sweep backend: ``(jobs, workers, progress, options) -> outcomes``.
Backend = Callable[[list[Job], int | None, Progress | None, BackendOptions | None], Iterator[JobOutcome]]
#: Sweep backends by name.
BACKENDS: dict[str, Backend] = {"local": run_local, "ray": run_ray}


def execute(
    jobs: list[Job],
    backend: str = "local",
    workers: int | None = 1,
    progress: Progress | None = None,
    options: BackendOptions | None = None,
) -> Iterator[JobOutcome]:
    """Hand the jobs to the backend; outcomes come back as they finish."""
    check_backend(backend, workers, options)
    return BACKENDS[backend](jobs, workers, progress, options)


def check_backend(backend: str, workers: int | None, options: BackendOptions | None = None) -> None:
    """One-line errors for an unknown backend, a bad worker or retry count, or Ray flags without Ray.

    A missing Ray is reported here too, before any run is planned.
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown sweep backend {backend!r}; available: {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    opts = options or BackendOptions()
    if opts.max_retries < 0:
        raise UserError(f"--max-retries must be >= 0, got {opts.max_retries}")
    if opts.cpus_per_trial <= 0 or opts.gpus_per_trial < 0:
        raise UserError("--cpus-per-trial must be > 0 and --gpus-per-trial >= 0")
    ray_only = {
        "--cpus-per-trial": opts.cpus_per_trial != 1.0,
        "--gpus-per-trial": opts.gpus_per_trial != 0.0,
        "--storage-path": opts.storage_path is not None,
        "--address": opts.address is not None,
    }
    given = [flag for flag, set_ in ray_only.items() if set_]
    if backend != "ray" and given:
        raise UserError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to --backend ray only")
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UserError(RAY_MISSING) from None


def run_sweep(
    sweep: SweepConfig,
    backend: str = "local",
    workers: int | None = 1,
    progress: Progress | None = None,
    options: BackendOptions | None = None,
) -> SweepResult:
    """Plan and execute a sweep; returns every job's outcome."""
    runs = sweep.runs()
    result = SweepResult(out=Path(runs[0].out))
    result.outcomes.extend(execute(plan(runs), backend, workers, progress, options))
    return result
