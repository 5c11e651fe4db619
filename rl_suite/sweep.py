"""Sweeps: a grid of env × agent × seed runs, executed cell by cell.

A sweep is data (``configs/sweeps/*.yaml``, see :class:`~rl_suite.config.SweepConfig`). Re-running a sweep
is safe and cheap: a run whose resolved config already has a *completed* run folder under the sweep's
output folder is skipped, and an *interrupted* one is resumed from its checkpoint, so after a crash or a
Ctrl-C the same command finishes only what is missing. Each run is claimed (an OS lock under
``<out>/.claims/``) by the process that executes it, and the skip/resume/run decision is taken under that
claim, so two sweeps started together over one file run every (config, seed) once; each reports the runs
the other holds as *running elsewhere*. An interrupted run that cannot be resumed (damaged, or written by
an older rl_suite) is left as it is and started again in a new folder.

A *cell* is one env config × one agent config with its seeds (:func:`make_cells`). :func:`execute_cell`
claims and decides each of its runs, then runs the fresh ones as one seed-batched program where the agent
has a batch axis (:mod:`rl_suite.batched`: the same run folders, bit for bit, as each seed run alone by
:func:`~rl_suite.runner.run_trial`), and everything else one run after the other in the same process.

Backends are pluggable (:data:`BACKENDS`): ``local`` runs cells in this process (``workers=1``) or in this
process and a pool of worker processes sharing one queue (forked where that is safe, else spawned:
:func:`pool_start_method`); ``ray`` hands the same cells to Ray (one task per cell, on
this machine or a cluster). Both execute the very same :func:`execute_cell`, and both get their jobs
from :func:`plan`, so the skip/resume rule above holds whichever backend ran the earlier attempt. Ray is
imported only by the ``ray`` backend (optional extra ``pip install "rl_suite[ray]"``).
"""

from __future__ import annotations

import collections
import contextlib
import glob
import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rl_suite import quiet_ray
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
    """Ray: CPUs reserved per trial, one sweep cell run as one Ray task (Ray sets the task's
    ``OMP_NUM_THREADS`` to it)."""
    gpus_per_trial: float = 0.0
    """Ray: GPUs reserved per trial, one sweep cell (fractions share a GPU; Ray sets the task's
    ``CUDA_VISIBLE_DEVICES``)."""
    storage_path: str | None = None
    """Ray: the run store's root on storage every node sees (an NFS path mounted alike on every node): the
    run folders go to ``<storage_path>/<sweep name>`` unless ``out`` is given."""
    batch: bool = True
    """Run the seeds of a cell as one batched program where the agent has a batch axis (``--no-batch``:
    one seed after the other)."""
    address: str | None = None
    """Ray: the cluster to join (``auto``, ``ray://head:10001``); default ``RAY_ADDRESS`` if set, else the
    Ray that ``ray start --head`` left running on this machine, else a Ray started for the sweep."""


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


def cell_key(config: dict[str, Any]) -> str:
    """What the runs of one sweep cell share: the whole resolved config but its seed."""
    return json.dumps({k: v for k, v in config.items() if k != "seed"}, sort_keys=True)


def make_cells(jobs: list[Job], workers: int | None = 1, per_worker: int = 1) -> list[list[Job]]:
    """Group jobs into cells (one env config x one agent config, its seeds), in plan order.

    With several workers, the largest cells are halved until there are at least ``per_worker`` times as
    many cells as workers (or every cell is one run), so that no worker is left without one. Halving costs
    time: a batched cell takes about as long for 5 seeds as for 10 (the per-step work is mostly per round,
    not per seed), so cells are split only to give every worker something to do.
    """
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(cell_key(job.config), []).append(job)
    cells = list(groups.values())
    want = per_worker * (workers or 1) if (workers or 1) > 1 else 1
    while len(cells) < want:
        largest = max(range(len(cells)), key=lambda i: len(cells[i]), default=None)
        if largest is None or len(cells[largest]) < 2:
            break
        cell = cells.pop(largest)
        half = (len(cell) + 1) // 2
        cells[largest:largest] = [cell[:half], cell[half:]]
    return cells


def execute_cell(jobs: list[Job], max_retries: int = 0, batch: bool = True) -> list[JobOutcome]:
    """Run the jobs of one cell in this process: fresh runs of a batchable agent as one batched program.

    Every job is claimed and decided as :func:`execute_job` does. The runs to start are handed to
    :func:`rl_suite.batched.run_cell_batched` when there are two or more and the agent has a batch axis
    that reproduces each seed exactly (their folders are then the ones running each seed alone writes);
    otherwise — and for resumed runs, and for retries of a failed batch — the seeds run one by one, still
    in this process. A Ctrl-C stops the cell: what did not start is reported ``interrupted``.

    Args:
        jobs: runs that differ only by their seed (see :func:`make_cells`).
        max_retries: times a failed run is started again (alone, in a new folder).
        batch: try the batched program (``False``: always one seed after the other).

    Returns:
        One outcome per job, in order.
    """
    from rl_suite.batched import NotBatchable, run_cell_batched

    jobs = list(jobs)
    outcomes: dict[int, JobOutcome] = {}
    claims: list[Claim] = []
    fresh: list[int] = []
    stopped = False
    try:
        for k, job in enumerate(jobs):
            if job.claim:
                cfg = RunConfig.model_validate(job.config)
                claim = Claim(cfg.out, config_hash(cfg))
                if not claim.try_acquire():
                    outcomes[k] = JobOutcome(
                        job, "busy", job.path, "running elsewhere (another process holds its claim)"
                    )
                    continue
                claims.append(claim)
                action, path = decide(cfg)
                job = Job(action, job.config, path, claim=False)
                jobs[k] = Job(action, jobs[k].config, path)
            if job.action == "run":
                fresh.append(k)
            elif not stopped:
                outcomes[k] = _retrying(job, max_retries)
                stopped = outcomes[k].status == "interrupted"
        if batch and len(fresh) >= 2 and not stopped:
            try:
                records = run_cell_batched([jobs[k].config for k in fresh])
            except NotBatchable:
                records = []
            except Exception:
                records = []  # the seeds run alone below, and each reports what is wrong
            for k, record in zip(fresh, records, strict=False):
                status, error = record.status, record.summary.get("error")
                outcome = JobOutcome(jobs[k], status, str(record.path), error)
                if status == "failed" and max_retries > 0:
                    outcome = _retrying(Job("run", jobs[k].config, claim=False), max_retries - 1)
                    outcome.attempts += 1
                outcomes[k] = outcome
                stopped = stopped or status == "interrupted"
        for k in fresh:
            if k not in outcomes and not stopped:
                outcomes[k] = _retrying(Job("run", jobs[k].config, claim=False), max_retries)
                stopped = outcomes[k].status == "interrupted"
    finally:
        for claim in claims:
            claim.release()
    # What a Ctrl-C kept from starting: the next sweep runs it.
    return [outcomes.get(k) or JobOutcome(job, "interrupted", job.path) for k, job in enumerate(jobs)]


def run_local(
    jobs: list[Job],
    workers: int | None = 1,
    progress: Progress | None = None,
    options: BackendOptions | None = None,
) -> Iterator[JobOutcome]:
    """The local backend: cells in this process for ``workers=1``, else in a spawn-context process pool.

    Completed runs (``skip`` jobs) are reported first; the rest run cell by cell (:func:`execute_cell`:
    a cell's seeds as one batched program where the agent allows it, else one after the other in the same
    process). A Ctrl-C stops at once in this process (the runs in flight record ``interrupted``); with a
    pool, cells already started finish and the queued ones are cancelled. Either way a re-run of the sweep
    skips every completed run.
    """
    opts = options or BackendOptions()
    workers = workers or 1
    todo = []
    for job in jobs:
        if job.action == "skip":
            if progress is not None:
                progress.advance()
            yield JobOutcome(job, "skipped", job.path)
        else:
            todo.append(job)
    cells = make_cells(todo, workers)
    if workers <= 1:
        for cell in cells:
            outcomes = execute_cell(cell, opts.max_retries, opts.batch)
            for outcome in outcomes:
                if progress is not None:
                    progress.advance()
                yield outcome
            if any(o.status == "interrupted" for o in outcomes):
                return
        return
    yield from _pool(cells, workers, opts, progress)


#: Modules whose native state does not survive a fork: once one is loaded, the pool spawns its workers.
FORK_UNSAFE = ("torch", "ray", "grpc", "jax", "tensorflow")


def pool_start_method() -> str:
    """How the local pool starts its workers: ``fork`` where that is safe, else ``spawn``.

    A forked worker starts with every module this process has imported, at once; a spawned one first
    imports rl_suite, numpy, gymnasium and its cell's env and agent (about 1 s on one core), which on a
    sweep of short runs is a large part of the wall time. Forking is safe only on Linux (macOS's system
    libraries are not fork-safe), in a process with no other thread (a lock another thread holds at the
    fork, e.g. a progress bar's writing to stderr, stays held in the child for ever) and before any of
    :data:`FORK_UNSAFE` is loaded: torch (its OpenMP pool and CUDA state do not survive a fork; PyTorch's
    docs ask for spawn), and Ray or gRPC, whose native threads and sockets a child would inherit half-made
    (a worker forked after a Ray session in the same process died at once).
    """
    unsafe = any(name in sys.modules for name in FORK_UNSAFE)
    if sys.platform.startswith("linux") and threading.active_count() == 1 and not unsafe:
        return "fork"
    return "spawn"


def _new_pool(processes: int) -> ProcessPoolExecutor:
    """A process pool started by :func:`pool_start_method` (forked workers are started now)."""
    ctx = multiprocessing.get_context(pool_start_method())
    pool = ProcessPoolExecutor(max_workers=processes, mp_context=ctx)
    if ctx.get_start_method() == "fork":
        pool.submit(os.getpid)  # forks every worker now, while this process has one thread
    return pool


#: The worker pool of :func:`local_workers` and its size, used by the local backend's sweeps in that block.
_STARTED: tuple[ProcessPoolExecutor, int] | None = None


@contextlib.contextmanager
def local_workers(workers: int | None) -> Iterator[None]:
    """Start the local backend's ``workers - 1`` worker processes now, for the sweeps run in the block.

    The CLI enters this before its progress bar starts: the bar's refresh thread would otherwise rule out
    forked workers (:func:`pool_start_method`). Outside such a block each sweep starts its own pool.
    """
    global _STARTED
    processes = (workers or 1) - 1
    if processes < 1 or _STARTED is not None:
        yield
        return
    pool = _new_pool(processes)
    _STARTED = (pool, processes)
    try:
        yield
    finally:
        _STARTED = None
        pool.shutdown(wait=True, cancel_futures=True)


def _pool(
    cells: list[list[Job]], workers: int, opts: BackendOptions, progress: Progress | None
) -> Iterator[JobOutcome]:
    """Run cells on ``workers`` processes: this one and ``workers - 1`` workers, sharing one queue.

    This process starts on the first cell while the workers start (a spawned worker imports rl_suite
    first); each worker is handed its next cell as soon as it returns one, so that nobody waits for the
    slowest. When a run of this process is interrupted (Ctrl-C), no further cell starts, the workers'
    cells in flight finish, and the cells never started are reported ``interrupted``.
    """
    queue = collections.deque(cells)
    lock = threading.Lock()
    futures: dict[Future[list[JobOutcome]], list[Job]] = {}
    started = _STARTED[0] if _STARTED is not None and _STARTED[1] == workers - 1 else None

    def feed(pool: ProcessPoolExecutor) -> None:
        with lock:
            if not queue:
                return
            cell = queue.popleft()
            fut = pool.submit(execute_cell, cell, opts.max_retries, opts.batch)
            futures[fut] = cell
        fut.add_done_callback(lambda f: feed(pool) if not f.cancelled() and f.exception() is None else None)

    def report(outcomes: list[JobOutcome]) -> Iterator[JobOutcome]:
        for outcome in outcomes:
            if progress is not None:
                progress.advance()
            yield outcome

    def take(finished: list[Future[list[JobOutcome]]]) -> Iterator[JobOutcome]:
        for f in finished:
            with lock:
                cell = futures.pop(f)
            if f.cancelled():
                yield from report([JobOutcome(j, "interrupted", j.path) for j in cell])
            elif isinstance(f.exception(), BrokenProcessPool):  # the cells left go to this process
                why = "its worker process died (killed, or out of memory); run the sweep again to resume it"
                yield from report([JobOutcome(j, "failed", j.path, why) for j in cell])
            else:
                yield from report(f.result())

    with _new_pool(workers - 1) if started is None else contextlib.nullcontext(started) as pool:
        try:
            for _ in range(workers - 1):
                feed(pool)
            while True:
                with lock:
                    cell = queue.popleft() if queue else None
                if cell is None:
                    break
                outcomes = execute_cell(cell, opts.max_retries, opts.batch)
                yield from report(outcomes)
                if any(o.status == "interrupted" for o in outcomes):
                    with lock:
                        stopped = [j for c in queue for j in c]
                        queue.clear()
                    yield from report([JobOutcome(j, "interrupted", j.path) for j in stopped])
                    break
                with lock:
                    finished = [f for f in futures if f.done()]
                yield from take(finished)
            while True:
                with lock:
                    pending = list(futures)
                if not pending:
                    break
                yield from take([next(as_completed(pending))])
        except KeyboardInterrupt:
            with lock:
                queue.clear()
                for f in futures:
                    f.cancel()
            raise


# --------------------------------------------------------------------------- the Ray backend
#: What a missing Ray says.
RAY_MISSING = 'the ray backend needs Ray: pip install "rl_suite[ray]"'


def _import_ray() -> Any:
    """Ray, imported (started or joined by :func:`rl_suite.quiet_ray.init`, with its environment).

    Raises:
        UserError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise UserError(RAY_MISSING) from None
    return ray


@contextlib.contextmanager
def _lean_head() -> Iterator[None]:
    """While open, a Ray that ``ray.init`` starts on this machine runs only what a sweep's tasks need.

    That is the GCS, the raylet with its agents, and the workers: no dashboard, no autoscaler monitor (a
    single machine has nothing to scale) and no log monitor (the sweep's driver takes no worker logs). On
    2 cores those three Python processes cost ~0.7 s of start-up and ~1 s at shutdown, where each is given
    up to 1 s to exit, one after the other. For a dashboard, start Ray with ``ray start --head`` and the
    sweep joins it. Ray then waits for its raylet to register by asking the GCS once a second; here it is
    asked every 20 ms first (:func:`_prompt_node_lookup`), ~0.5 s sooner on average. This switches Ray's
    private ``Node`` options and node lookup, each where this Ray has it (Ray 2.10 has no
    ``services.get_node``, and waits as it does); a Ray that lacks the ``Node`` hooks starts as
    ``ray.init`` starts it.
    """
    try:
        from ray._private import node, services
    except ImportError:  # pragma: no cover - a Ray without the private modules
        yield
        return
    cls: Any = node.Node  # Any: patched below whether or not Ray's types are installed
    mod: Any = services
    init, api, lookup = cls.__init__, getattr(cls, "start_api_server", None), getattr(mod, "get_node", None)
    if api is None:  # pragma: no cover - a Ray without what is patched here
        yield
        return

    def lean_init(self: Any, ray_params: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("head", args[0] if args else False):
            ray_params.no_monitor = True
            ray_params.include_log_monitor = False
        init(self, ray_params, *args, **kwargs)

    def no_api_server(self: Any, **kwargs: Any) -> None:
        return None

    cls.__init__ = lean_init
    cls.start_api_server = no_api_server
    if lookup is not None:
        mod.get_node = _prompt_node_lookup(mod)
    try:
        yield
    finally:
        cls.__init__ = init
        cls.start_api_server = api
        if lookup is not None:
            mod.get_node = lookup


def _prompt_node_lookup(services: Any, wait: float = 5.0) -> Callable[[str, str], Any]:
    """Ray's ``services.get_node``, called once the GCS lists the node as alive (polled every 20 ms).

    A head's ``ray.init`` looks up its own raylet while that raylet still waits for its agents; Ray's
    lookup then asks the GCS again only after a second. After ``wait`` seconds, or if Ray's private GCS
    client (the one ``services`` itself uses) differs from what is asked of it here, the lookup is left to
    Ray, and so are its errors.
    """
    get_node = services.get_node

    def lookup(gcs_address: str, node_id: str) -> Any:
        try:
            client = services.GcsClient(address=gcs_address)
            binary = services.NodeID.from_hex(node_id).binary()
            node = services.GetAllNodeInfoRequest.NodeSelector(node_id=binary)
            alive = services.GcsNodeInfo.GcsNodeState.ALIVE
            deadline = time.monotonic() + wait
            while not client.get_all_node_info(timeout=wait, node_selectors=[node], state_filter=alive):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
        except Exception:  # any mismatch with Ray's private API: Ray's own wait follows
            pass
        return get_node(gcs_address, node_id)

    return lookup


def _absolute_out(job: Job) -> Job:
    """The job with its ``out`` made absolute: Ray workers run in their own working directory."""
    config = {**job.config, "out": str(Path(job.config["out"]).resolve())}
    return Job(job.action, config, None if job.path is None else str(Path(job.path).resolve()))


def _ray_cell(cell: list[Job], max_retries: int, batch: bool) -> list[tuple[str, str, str, int]]:
    """The Ray task: execute one cell (:func:`execute_cell`) on a Ray worker; one row per run.

    Failed runs are retried inside the cell; Ray re-runs a task whose worker died (``max_retries``), and
    the re-run cell decides again from the disk, so completed runs are skipped.
    """
    outcomes = execute_cell(cell, max_retries, batch)
    return [(o.status, o.path or "", o.error or "", o.attempts) for o in outcomes]


def _ray_error(exc: BaseException) -> str:
    """The first sentence of a Ray error."""
    text = str(exc).strip().splitlines()
    return text[0].split(". ")[0].rstrip(".") if text else type(exc).__name__


def _no_cluster(address: str, why: str) -> UserError:
    return UserError(
        f"no Ray cluster at --address {address} ({why}); start one with `ray start --head` on the head "
        "node, or leave --address out to run on this machine"
    )


def check_address(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing listens at a ``host:port`` or ``ray://host:port`` address.

    Ray itself would retry for minutes. ``auto`` and other forms are left to Ray.

    Raises:
        UserError: the address is malformed, or no connection opens within ``timeout`` seconds.
    """
    import socket

    target = address.removeprefix("ray://")
    if address in ("auto", "local") or "://" in target:
        return
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(f"--address {address} is not auto, host:port or ray://host:port")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise _no_cluster(address, exc.strerror or type(exc).__name__) from None


def check_token(address: str) -> None:
    """Fail at once, in one line, when the Ray cluster at ``host:port`` or ``ray://host:port`` refuses us.

    A cluster started with token authentication (Ray >= 2.52; Ray 2.60's ``ray start`` turns it on by
    itself where ``~/.ray/auth_token`` exists, which any earlier ``ray.init`` on the machine writes) takes
    a driver that joins by an explicit address only with ``RAY_AUTH_MODE=token`` and the cluster's token:
    Ray sends its token to a Ray it finds on this machine, never to an address it is given. Without it
    ``ray.init`` retries for ~20 s (a Ray Client address: 30 s) and then reports a failed connection, as if
    nothing ran there. Asked first — the GCS, or the Ray Client server with a ping — the cluster refuses at
    once. A Ray Client address also needs Ray Client here (``ray[client]``: gRPC), which is said first.

    Raises:
        UserError: the cluster refuses the token (or its absence), no Ray GCS answers at the address, or
            Ray Client is not installed for a ``ray://`` address.
    """
    if address.startswith("ray://"):
        _check_client(address)
        return
    if address in ("auto", "local") or "://" in address:
        return
    try:
        from ray import _raylet
        from ray.exceptions import AuthenticationError, RpcError
    except ImportError:  # a Ray without token authentication: ray.init reports what goes wrong
        return
    raylet: Any = _raylet  # Any: its GCS client is not in Ray's type stubs
    try:
        with quiet_ray.native_log_muted():  # the refusal is said below, in one line
            raylet.GcsClient(address=address, cluster_id=None)
    except AuthenticationError:
        raise _token_refused(address) from None
    except RpcError as exc:
        raise _no_cluster(address, _ray_error(exc)) from None
    except Exception:  # an address or client this Ray's GCS client takes otherwise: ray.init decides
        return


def _check_client(address: str) -> None:
    """:func:`check_token` for a Ray Client address: Ray Client installed, and the server's ping answered."""
    try:
        import grpc
    except ImportError:
        raise UserError(
            f"--address {address} is a Ray Client address, which needs Ray Client: "
            'pip install "ray[client]" (or give the head\'s host:port)'
        ) from None
    try:
        from ray._private.grpc_utils import init_grpc_channel
        from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc
    except ImportError:  # a Ray without these: ray.init reports what goes wrong
        return
    pb2: Any = ray_client_pb2  # Any: Ray's generated messages are not in its type stubs
    ping = pb2.ClusterInfoRequest(type=pb2.ClusterInfoType.PING)
    try:
        # Ray's own channel: it carries this machine's token where RAY_AUTH_MODE=token asks for it.
        channel = init_grpc_channel(address.removeprefix("ray://"), asynchronous=False)
    except Exception:  # a Ray whose channel helper differs: ray.init decides
        return
    try:
        ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(ping, timeout=10)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            raise _token_refused(address) from None
        # anything else (a proxy, a server still starting): ray.init tries and reports
    except Exception:  # a reply this Ray's client library takes otherwise: ray.init decides
        pass
    finally:
        channel.close()


def _token_refused(address: str) -> UserError:
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        need = "this machine's token is not the cluster's"
    else:
        need = "join with RAY_AUTH_MODE=token"
    return UserError(
        f"the Ray cluster at --address {address} uses token authentication: {need}; its token is what "
        "`ray get-auth-token` prints on its head node, given here in RAY_AUTH_TOKEN or ~/.ray/auth_token"
    )


def _ray_start(ray: Any, workers: int | None, opts: BackendOptions) -> None:
    """Join ``--address`` (or ``RAY_ADDRESS``), else a Ray left running here, else start one for the sweep.

    A Ray that ``ray start --head`` left running on this machine is joined as ``ray.init()`` joins it; a
    Ray started for the sweep gets ``workers`` x ``cpus_per_trial`` CPUs.

    Raises:
        UserError: nothing answers at the address.
    """
    address = opts.address or os.environ.get("RAY_ADDRESS")
    if address:
        check_address(address)
        check_token(address)
        try:
            quiet_ray.init(ray, address=address)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            raise _no_cluster(address, _ray_error(exc)) from None
        return
    cpus = None if workers is None else max(1, int(workers * opts.cpus_per_trial + 0.999))
    try:
        with _lean_head():
            quiet_ray.init(ray, num_cpus=cpus, include_dashboard=False)
    except ValueError as exc:
        if "existing cluster" not in str(exc):
            raise
        # A Ray that `ray start --head` left running on this machine: ray.init() joins it, as it does
        # without arguments (and refuses to size it).
        quiet_ray.init(ray)


def _check_shared(ray: Any, paths: list[str]) -> None:
    """On a cluster of several nodes, check that every node sees ``paths`` (the run store).

    A probe file is written under each path here and looked for by one task on every alive node.

    Raises:
        UserError: a node cannot see one of the paths (a local folder on a multi-node cluster).
    """
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    local = [p for p in paths if "://" not in p]
    if len(nodes) < 2 or not local:
        return
    import uuid

    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probes = []
    for path in local:
        Path(path).mkdir(parents=True, exist_ok=True)
        probe = Path(path) / f".rl_suite-probe-{uuid.uuid4().hex}"
        probe.write_text("", encoding="utf-8")
        probes.append(probe)
    try:
        seen = ray.remote(num_cpus=0)(_sees)
        refs = {
            n["NodeManagerAddress"]: seen.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote([str(p) for p in probes])
            for n in nodes
        }
        for node, ref in refs.items():
            missing = ray.get(ref, timeout=120)
            if missing:
                where = str(Path(missing[0]).parent)
                raise UserError(
                    f"the Ray node at {node} cannot see {where}: on a cluster, --out (or --storage-path) "
                    "must be storage every node mounts at the same path (NFS)"
                )
    finally:
        for probe in probes:
            probe.unlink(missing_ok=True)


def _sees(paths: list[str]) -> list[str]:
    """The paths of ``paths`` that do not exist on this node (the probe task of :func:`_check_shared`)."""
    return [p for p in paths if not os.path.exists(p)]


def run_ray(
    jobs: list[Job],
    workers: int | None = None,
    progress: Progress | None = None,
    options: BackendOptions | None = None,
) -> Iterator[JobOutcome]:
    """The Ray backend: one Ray task per sweep cell, :func:`execute_cell` inside it.

    Completed runs (``skip`` jobs) never reach Ray. A task is a cell (one env config x one agent config,
    its seeds as one batched program where the agent allows it), reserving ``cpus_per_trial`` CPUs and
    ``gpus_per_trial`` GPUs; Ray keeps its worker processes across the sweep's tasks, so a worker imports
    rl_suite once per sweep (each sweep is a new Ray job, with worker processes of its own).
    At most ``workers`` cells run at once (default: as many as the cluster's free resources allow). Run
    folders go where the sweep says (made absolute, so on a cluster ``out`` must be on storage every node
    sees — checked before the first task). A Ctrl-C cancels the cells in flight (their runs are left
    ``interrupted``) and the queued ones, so re-running the sweep does the rest.

    Args:
        jobs: the planned jobs.
        workers: most cells at once (default: as many as the cluster's free resources allow).
        progress: advanced once per finished run.
        options: resources, retries and cluster address.

    Yields:
        One outcome per job (skipped ones first, then cell by cell as they finish).

    Raises:
        UserError: Ray is not installed, no cluster answers at ``--address``, a node cannot see the run
            store, or the cluster lacks the GPUs a cell asks for.
    """
    ray = _import_ray()
    opts = options or BackendOptions()
    for job in jobs:
        if job.action == "skip":
            if progress is not None:
                progress.advance()
            yield JobOutcome(job, "skipped", job.path)
    todo = [_absolute_out(j) for j in jobs if j.action != "skip"]
    if not todo:
        return
    cells = make_cells(todo, workers)
    started = not ray.is_initialized()
    if started:
        _ray_start(ray, workers, opts)  # quiet_ray.init quiets Ray's loggers
    else:  # a Ray this process had started or joined before the sweep
        quiet_ray.quiet_loggers()
    pending: dict[Any, list[Job]] = {}
    try:
        if opts.gpus_per_trial > 0:
            have = float(ray.cluster_resources().get("GPU", 0))
            if have < opts.gpus_per_trial:
                raise UserError(
                    f"--gpus-per-trial {opts.gpus_per_trial:g} but the Ray cluster has {have:g} GPU(s); "
                    "leave it out, or join a cluster with GPUs (--address)"
                )
        _check_shared(ray, sorted({str(Path(j.config["out"])) for j in todo}))
        task = ray.remote(_ray_cell).options(
            num_cpus=opts.cpus_per_trial, num_gpus=opts.gpus_per_trial, max_retries=opts.max_retries
        )
        queue = collections.deque(cells)
        limit = workers or len(cells)
        while queue or pending:
            while queue and len(pending) < limit:
                cell = queue.popleft()
                pending[task.remote(cell, opts.max_retries, opts.batch)] = cell
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                cell = pending.pop(ref)
                try:
                    rows = ray.get(ref)
                except Exception as exc:  # the worker died past its retries, or a bug outside the runs
                    error = _ray_error(exc) or "failed"
                    rows = [("failed", job.path or "", error, opts.max_retries + 1) for job in cell]
                for job, (status, path, error, attempts) in zip(cell, rows, strict=True):
                    if progress is not None:
                        progress.advance()
                    yield JobOutcome(job, status, path or job.path, error or None, attempts)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref)  # the cell's runs stop as on a Ctrl-C: interrupted, resumable
        raise
    finally:
        if started:
            ray.shutdown()


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
        _import_ray()
        if opts.storage_path is not None and "://" in opts.storage_path:
            raise UserError(
                f"--storage-path {opts.storage_path} is a URI; run folders are files: give a folder every "
                "node mounts at the same path (NFS)"
            )
        if opts.address:
            check_address(opts.address)


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
