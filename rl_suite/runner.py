"""``run_trial(config) -> RunResult``: the one function the CLI, local sweeps and Ray all call.

A run is a pure function of its resolved config: build the env, wrap it in the
:class:`~rl_suite.regret.RegretRecorder`, build the agent, then train in chunks of ``checkpoint_every``
steps. After each chunk the recorded rows are appended to ``metrics.csv``, a checkpoint (agent + env +
counters) is written, and ``summary.json`` is replaced atomically. A run killed at any point therefore
keeps every row up to its last flush, and :func:`resume_trial` continues it from the last checkpoint —
bit-for-bit for rl_suite's own agents, whose state (RNG included) is fully saved.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np

from rl_suite import __version__, registry
from rl_suite.config import RunConfig, agent_class, config_hash, dump_yaml, parse_run_config, resolve
from rl_suite.errors import UserError
from rl_suite.evaluation import Evaluator, make_evaluator, reports_violation, steps_to_epsilon
from rl_suite.regret import RegretRecorder, fit_regret_exponent
from rl_suite.state import StateError, StatefulEnv, read_json_object, read_state, write_state
from rl_suite.store import (
    CHECKPOINT,
    CONFIG,
    EVALUATIONS,
    FORMAT,
    METRICS,
    SUMMARY,
    MetricsWriter,
    RunLock,
    RunRecord,
    atomic_write_text,
    contiguous_steps,
    fsync_path,
    inside,
    now,
    read_metrics,
    read_run,
    safe_name,
    truncate_metrics,
    write_json,
)
from rl_suite.tracking import Progress, Tracker, make_tracker

#: Number of points per run sent to the tracker (the local store keeps every step).
TRACKED_POINTS = 500
#: Checkpoint folders kept per run (the newest ones).
KEEP_CHECKPOINTS = 2
_AGENT_FILE = "agent.ckpt"
#: The env's plain-data state: ``env.json`` + ``env.npz`` (:mod:`rl_suite.state`).
_ENV_STATE = "env"
#: Written last into a checkpoint: counters and a SHA-256 of every other file (what makes it complete).
_STATE_FILE = "state.json"
#: What checkpoints written before plain-data env state held (a pickle; never loaded).
_LEGACY_ENV_FILE = "env.pkl"
#: Columns of ``evaluations.csv`` (``eval_every``).
EVAL_COLUMNS = ("step", "policy_value", "policy_regret")
#: The extra column of ``evaluations.csv`` on constrained bandits: mean ``max(0, E_π[cost] − τ)``.
EVAL_VIOLATION = "policy_violation"


#: What ``run_trial`` returns: the run folder read back (an alias of :class:`~rl_suite.store.RunRecord`).
RunResult = RunRecord


class RunInterrupted(Exception):
    """Raised inside a run when SIGTERM/SIGINT arrives; the run is saved as ``interrupted``."""


@functools.cache
def _package_versions() -> tuple[tuple[str, str | None], ...]:
    out: dict[str, str | None] = {"rl_suite": __version__, "python": sys.version.split()[0]}
    for name in ("numpy", "scipy", "gymnasium", "stable-baselines3", "torch", "pydantic"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return tuple(out.items())


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that determine results (read from metadata once per process)."""
    return dict(_package_versions())


@functools.cache
def git_sha() -> str | None:
    """The git commit of the rl_suite source tree, or ``None`` outside a checkout.

    Asked once per process: the code a process runs is the code it imported.
    """
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def make_env(cfg: RunConfig) -> RegretRecorder:
    """The env of a resolved config, wrapped in the regret recorder."""
    env = gym.make(cfg.env.id, **cfg.env.kwargs)
    constrained = registry.env_entry(cfg.env.id).family in registry.CONSTRAINED_FAMILIES
    return RegretRecorder(env, constrained=constrained)


def run_dir_name(cfg: RunConfig) -> str:
    """``<env>__<agent or label>__s<seed>`` with each part made safe by :func:`rl_suite.store.safe_name`."""
    env_name = safe_name(cfg.env.id.split("/")[-1])
    return f"{env_name}__{safe_name(cfg.label or cfg.agent.name)}__s{cfg.seed}"


def new_run_dir(cfg: RunConfig) -> Path:
    """Create ``<out>/<env>__<agent>__s<seed>__<timestamp>``: a new folder, always inside ``out``."""
    out = Path(cfg.out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    base = out / f"{run_dir_name(cfg)}__{stamp}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"--out {out} is a file, not a folder") from None
    except OSError as exc:
        raise UserError(f"cannot create the run store {out}: {exc.strerror}") from None
    for i in range(1000):
        path = base if i == 0 else base.with_name(f"{base.name}-{i}")
        if not inside(path, out):  # the name is sanitised; this guards against a symlinked out
            raise UserError(f"run folder {path} would lie outside {out}")
        try:
            path.mkdir(exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise UserError(f"could not create a new run folder next to {base}")


def peak_memory_mb() -> dict[str, float]:
    """This process's peak RSS (and peak CUDA memory when torch has used a GPU), in MB."""
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        out["peak_cuda_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


# --------------------------------------------------------------------------- checkpoints
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _step_of(path: Path) -> int | None:
    parts = path.name.split("-")
    if len(parts) != 2 or parts[0] != "step" or not parts[1].isdigit():
        return None
    return int(parts[1])


def _checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint folders that declare themselves complete (their ``state.json`` exists), oldest first."""
    root = run_dir / CHECKPOINT
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir() if _step_of(p) is not None and (p / _STATE_FILE).is_file()]
    return sorted(done, key=lambda p: _step_of(p) or 0)


def verify_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint's ``state.json`` and check every file against its recorded SHA-256.

    Returns:
        The checkpoint's state (``steps``, ``recorder`` counters, ``wall_time_s``, ``files``).

    Raises:
        StateError: the marker is damaged, a file is missing or differs from its checksum, or the
            checkpoint is of the older format that stored the env as a pickle (never loaded).
    """
    if (path / _LEGACY_ENV_FILE).exists():
        raise StateError(
            f"{path} was written by an older rl_suite that pickled the env, which is never loaded"
        )
    state = read_json_object(path / _STATE_FILE, StateError)
    files = state.get("files")
    if not isinstance(files, dict) or not files or not isinstance(state.get("steps"), int):
        raise StateError(f"{path / _STATE_FILE} is damaged (no steps or checksums)")
    if not isinstance(state.get("recorder"), dict) or not isinstance(state.get("wall_time_s"), (int, float)):
        raise StateError(f"{path / _STATE_FILE} is damaged (no counters)")
    for name, digest in files.items():
        file = path / str(name)
        if safe_name(str(name)) != name or not file.is_file():
            raise StateError(f"{path} is incomplete: {name} is missing")
        if _sha256(file) != digest:
            raise StateError(f"{file} does not match its checksum (damaged)")
    return state


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint folder of a run that verifies against its checksums.

    A damaged newest checkpoint is passed over for the one before it.
    """
    for path in reversed(_checkpoints(Path(run_dir))):
        try:
            verify_checkpoint(path)
        except StateError:
            continue
        return path
    return None


def save_checkpoint(run_dir: Path, agent: Any, env: RegretRecorder, state: dict[str, Any]) -> None:
    """Write agent and env state, fsync them, then the marker with their checksums, then publish.

    The folder is built under a temporary name and renamed into place after its marker is on disk, so a
    kill at any moment leaves either the previous checkpoints or a complete new one.
    """
    root = run_dir / CHECKPOINT
    root.mkdir(exist_ok=True)
    final = root / f"step-{env.total_steps:012d}"
    tmp = root / f".{final.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    agent.save(tmp / _AGENT_FILE)
    write_state(_stateful(env).get_state(), tmp, _ENV_STATE)
    files = sorted(p for p in tmp.iterdir() if p.is_file())
    for p in files:
        fsync_path(p)
    write_json(tmp / _STATE_FILE, {**state, "files": {p.name: _sha256(p) for p in files}})
    fsync_path(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_path(root)
    for old in _checkpoints(run_dir)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)


def _stateful(env: RegretRecorder) -> StatefulEnv:
    """The env under the wrappers; every env of the suite has get_state/set_state (test_env_state.py)."""
    return cast(StatefulEnv, env.unwrapped)


def _restore_env(env: RegretRecorder, path: Path) -> None:
    state = read_state(path, _ENV_STATE)
    env.reset()
    try:
        _stateful(env).set_state(state)
    except StateError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise StateError(
            f"{path}: the env state does not fit {env.spec.id if env.spec else 'the env'} ({exc})"
        ) from None


def clean_stale_files(run_dir: Path) -> list[Path]:
    """Remove what a killed writer can leave behind: temp files and every unpublished checkpoint entry."""
    removed = [p for p in run_dir.glob(".*.tmp") if p.is_file()]
    root = run_dir / CHECKPOINT
    if root.is_dir():
        published = set(_checkpoints(run_dir))
        removed += [p for p in root.iterdir() if p not in published]
    for p in removed:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return removed


# --------------------------------------------------------------------------- the run
def run_trial(config: RunConfig | dict[str, Any], progress: Progress | None = None) -> RunResult:
    """Train one (env, agent, seed) run and write its run folder.

    Args:
        config: a :class:`RunConfig` or the equivalent mapping (validated and resolved here).
        progress: receives the number of steps done after every chunk (e.g. a progress bar).

    Returns:
        The run folder and its final summary. ``summary["status"]`` is ``completed``, or ``interrupted``
        if SIGINT/SIGTERM stopped it (it can be resumed). Errors inside the run mark it ``failed`` (with
        the error in the summary and the traceback in ``error.log``) and are re-raised; that includes a
        failure before the first step, so a run folder always has a summary.
    """
    cfg = resolve(config)
    run_dir = new_run_dir(cfg)
    lock = RunLock(run_dir).acquire()
    try:
        lock.record_owner()
        meta = {"versions": package_versions(), "git_sha": git_sha(), "config_hash": config_hash(cfg)}
        atomic_write_text(run_dir / CONFIG, dump_yaml({**cfg.model_dump(mode="json"), **meta}))
        summary = new_summary(cfg)
        try:
            env = make_env(cfg)
            agent = agent_class(cfg.agent.name)(env, cfg.agent.typed_settings, seed=cfg.seed)
            evaluator = _evaluator(cfg, env)
        except BaseException as exc:
            # A failure before the first step: the folder says so (compare lists it), then the error goes on.
            summary.update(status="failed", error=one_line(exc), finished_at=now(), updated_at=now())
            if not isinstance(exc, UserError):
                (run_dir / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
            write_json(run_dir / SUMMARY, summary)
            raise
        return _execute(cfg, run_dir, env, agent, summary, progress=progress, evaluator=evaluator)
    finally:
        lock.release()


def _evaluator(cfg: RunConfig, env: RegretRecorder) -> Evaluator | None:
    """The exact policy evaluator of the run's env when ``eval_every`` is set (a UserError where none)."""
    return None if cfg.eval_every is None else make_evaluator(env)


def resume_trial(run_dir: str | Path, progress: Progress | None = None, force: bool = False) -> RunResult:
    """Continue an interrupted run from its last good checkpoint, in the same folder.

    Everything is checked before anything is written: the folder's lock (one writer at a time), its
    summary and config, ``metrics.csv`` (which must reach the checkpoint without a gap), and the newest
    checkpoint that verifies against its checksums and loads (a damaged one falls back to the one before).
    Only then are stale temp files removed and rows after the checkpoint dropped, to be recomputed, so the
    finished run equals an uninterrupted one with the same seed (exactly, for rl_suite's own agents). A
    completed run is returned as it is; a run that cannot be resumed is left exactly as it was.

    Args:
        run_dir: the run folder.
        progress: receives the number of steps done after every chunk.
        force: take over a run whose summary says ``running`` on another host (whose process cannot be
            checked from here); what was found is printed first.

    Raises:
        UserError: one line for a folder that is not a resumable run, is being written by another process,
            or whose records cannot be reconciled.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"no such run folder: {run_dir}")
    record = read_run(run_dir)
    if record.status == "completed":
        return record
    lock = RunLock(run_dir).acquire()
    try:
        record = read_run(run_dir)  # what it says now that nobody else can write it
        s = record.summary
        # Holding the lock proves a writer on this host is gone; one on another host may not share our locks.
        if s["status"] == "running" and s.get("host") not in (None, socket.gethostname()):
            found = f"pid {s.get('pid')} on host {s.get('host')}, last update {s.get('updated_at')}"
            if not force:
                raise UserError(
                    f"run {run_dir} is marked running ({found}) and its process cannot be checked from "
                    f"here; if it is dead, take it over with: rl-suite train --resume {run_dir} --force"
                )
            print(f"taking over {run_dir}: it was marked running ({found})", file=sys.stderr)
        raw = record.config()
        for key in ("versions", "git_sha", "config_hash"):
            raw.pop(key, None)
        written = parse_run_config(raw)
        if record.format >= FORMAT and config_hash(written) != record.config_hash:
            raise UserError(f"{run_dir / CONFIG} does not match the run's config hash (edited or damaged)")
        cfg = resolve(written)
        summary = new_summary(cfg)
        summary["started_at"] = record.summary.get("started_at") or summary["started_at"]
        loaded = _load_checkpoint(cfg, run_dir)
        # Checked; from here on the folder is written.
        lock.record_owner()
        clean_stale_files(run_dir)
        if loaded is None:  # killed before its first checkpoint: start again in the same folder
            env = make_env(cfg)
            agent = agent_class(cfg.agent.name)(env, cfg.agent.typed_settings, seed=cfg.seed)
            (run_dir / METRICS).unlink(missing_ok=True)
            (run_dir / EVALUATIONS).unlink(missing_ok=True)
            evaluator = _evaluator(cfg, env)
            return _execute(cfg, run_dir, env, agent, summary, progress=progress, evaluator=evaluator)
        env, agent, state = loaded
        truncate_metrics(run_dir / METRICS, int(state["steps"]))
        truncate_metrics(run_dir / EVALUATIONS, int(state["steps"]))  # re-evaluated after the checkpoint
        return _execute(
            cfg, run_dir, env, agent, summary, progress, float(state["wall_time_s"]), _evaluator(cfg, env)
        )
    finally:
        lock.release()


def _load_checkpoint(cfg: RunConfig, run_dir: Path) -> tuple[RegretRecorder, Any, dict[str, Any]] | None:
    """Env, agent and counters from the newest checkpoint that metrics reach, verifies and loads.

    Returns ``None`` for a run killed before its first checkpoint. Reads only.

    Raises:
        UserError: checkpoints exist but none can be used without leaving a gap in the metrics.
    """
    metrics_path = run_dir / METRICS
    good = contiguous_steps(read_metrics(metrics_path)["step"]) if metrics_path.exists() else 0
    published = _checkpoints(run_dir)
    if not published:
        return None
    reasons = []
    for path in reversed(published):
        step = _step_of(path) or 0
        if step > good:
            reasons.append(
                f"{METRICS} ends at step {good}, before checkpoint {path.name}: resuming would leave a gap"
            )
            continue
        try:
            state = verify_checkpoint(path)
            env = make_env(cfg)
            try:
                _restore_env(env, path)
                env.restore_counters(state["recorder"])
                agent = agent_class(cfg.agent.name).load(path / _AGENT_FILE, env)
            except BaseException:
                env.close()
                raise
        except UserError as exc:
            reasons.append(str(exc))
            continue
        except (KeyError, TypeError, ValueError, OSError) as exc:
            reasons.append(f"{path} cannot be loaded ({one_line(exc)})")
            continue
        return env, agent, state
    raise UserError(f"run {run_dir} cannot be resumed: {reasons[0]}; start it again")


def new_summary(cfg: RunConfig) -> dict[str, Any]:
    """The ``summary.json`` of a run that is starting (status ``running``, nothing done yet)."""
    out: dict[str, Any] = {
        "format": FORMAT,
        "status": "running",
        "error": None,
        "env_id": cfg.env.id,
        "agent": cfg.agent.name,
        "label": cfg.label or cfg.agent.name,
        "seed": cfg.seed,
        "total_steps": cfg.total_steps,
        "steps_done": 0,
        "cumulative_regret": 0.0,
        "cumulative_reward": 0.0,
        "regret_exponent": None,
        "wall_time_s": 0.0,
        "steps_per_s": None,
        "config_hash": config_hash(cfg),
        "env_kwargs": cfg.env.kwargs,
        "agent_settings": cfg.agent.settings,
        "device": cfg.device,
        "rl_suite_version": __version__,
        "started_at": now(),
        "updated_at": now(),
        "finished_at": None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    if cfg.eval_every is not None:  # the exact learning curve: its last value and the first step within ε
        out.update(
            eval_every=cfg.eval_every,
            eval_epsilon=cfg.eval_epsilon,
            final_policy_regret=None,
            steps_to_epsilon=None,
        )
    return out


def _execute(
    cfg: RunConfig,
    run_dir: Path,
    env: RegretRecorder,
    agent: Any,
    summary: dict[str, Any],
    progress: Progress | None = None,
    wall_offset: float = 0.0,
    evaluator: Evaluator | None = None,
) -> RunResult:
    metrics_path = run_dir / METRICS
    curve = _load_curve(metrics_path)
    summary["device"] = str(getattr(agent, "device", cfg.device))
    resolved = cfg.model_dump(mode="json")
    tracker: Tracker = make_tracker(cfg.track, run_dir, run_dir.name, resolved, cfg.wandb.model_dump())
    writer = MetricsWriter(metrics_path, env.columns)
    stride = max(1, cfg.total_steps // TRACKED_POINTS)
    if env.columns[-1] == "violation":
        summary.update(violations=0, violation_amount=0.0)
    update_summary(summary, env, wall_offset)
    write_json(run_dir / SUMMARY, summary)
    (run_dir / "error.log").unlink(missing_ok=True)  # an earlier attempt's error is not this run's

    # Agents whose learn(n) may take more than n steps (SB3 finishes its rollout) are stopped at the budget.
    def within_budget(_agent: Any, _info: dict[str, Any]) -> bool:
        return env.total_steps < cfg.total_steps

    budget_stop = None if getattr(agent, "exact_budget", True) else within_budget
    curves = _Evaluations(run_dir / EVALUATIONS, cfg, env, agent, evaluator) if evaluator else None
    cum_col = env.columns.index("cumulative_regret")
    start = time.perf_counter()
    exit_code = 0
    with signals_raise():
        try:
            while env.total_steps < cfg.total_steps:
                chunk = min(cfg.checkpoint_every, cfg.total_steps - env.total_steps)
                if curves is None:
                    agent.learn(chunk, callback=budget_stop)
                else:
                    curves.learn(env.total_steps + chunk, budget_stop)
                    curves.flush(summary)
                before = summary["steps_done"]
                rows = env.drain()
                writer.append(rows)
                curve.append(rows[:, cum_col].copy())
                _track_rows(tracker, rows, stride)
                wall = wall_offset + time.perf_counter() - start
                save_checkpoint(
                    run_dir,
                    agent,
                    env,
                    {"steps": env.total_steps, "recorder": env.counters(), "wall_time_s": wall},
                )
                update_summary(summary, env, wall)
                record_diagnostics(summary, tracker, agent, env.total_steps)
                summary.update(_env_summary(env))
                write_json(run_dir / SUMMARY, summary)
                if progress is not None:
                    progress.advance(env.total_steps - before)
            summary["status"] = "completed"
            full = np.concatenate(curve) if curve else np.zeros(0)
            if full.size >= 2 and full[-1] > 0:  # no log-log slope for R(T) <= 0
                summary["regret_exponent"] = fit_regret_exponent(full)
        except (KeyboardInterrupt, RunInterrupted):
            summary["status"] = "interrupted"
            summary["error"] = "stopped by a signal; resume with: rl-suite train --resume " + str(run_dir)
            exit_code = 130
        except Exception as exc:
            summary["status"] = "failed"
            summary["error"] = one_line(exc)
            (run_dir / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
            exit_code = 1
            raise
        finally:
            writer.close()
            if curves is not None:
                curves.close()
            summary["finished_at"] = now() if summary["status"] != "running" else None
            summary["updated_at"] = now()
            summary.update(peak_memory_mb())
            write_json(run_dir / SUMMARY, summary)
            if summary["status"] == "completed" and cfg.track:
                _track_plot(tracker, run_dir)
            tracker.finish(summary, exit_code=exit_code)
            env.close()
    return RunRecord(run_dir, summary)


class _Evaluations:
    """The exact learning curve of a run: evaluate the current policy every ``eval_every`` steps.

    Agents with an exact budget learn in pieces that stop at multiples of ``eval_every`` (which leaves their
    training unchanged: ``learn`` continues exactly); SB3-style agents, whose ``learn(n)`` finishes a
    rollout, are evaluated from the per-step callback instead, so that their chunking is not changed. The
    rows go to ``evaluations.csv`` (append-only, flushed with each chunk, cut back to the checkpoint on
    resume), and the summary gets ``final_policy_regret`` and ``steps_to_epsilon`` (and, on the constrained
    bandits, ``final_policy_violation``).
    """

    def __init__(
        self, path: Path, cfg: RunConfig, env: RegretRecorder, agent: Any, evaluator: Evaluator
    ) -> None:
        assert cfg.eval_every is not None
        self.every, self.total, self.eps = cfg.eval_every, cfg.total_steps, cfg.eval_epsilon
        self.env, self.agent, self.evaluator = env, agent, evaluator
        old = read_metrics(path) if path.is_file() else {}
        self.steps = [int(x) for x in old.get("step", ())]
        self.regrets = [float(x) for x in old.get("policy_regret", ())]
        self.violations = [float(x) for x in old.get(EVAL_VIOLATION, ())]
        self.scale: float | None = None  # V* − V^uniform, known after the first evaluation
        self.pending: list[tuple[float, ...]] = []
        if path.is_file() and path.stat().st_size:  # resumed: keep the file's columns (older runs lack one)
            header = path.read_text(encoding="utf-8").split("\n", 1)[0]
            self.violation = EVAL_VIOLATION in header.split(",")
        else:
            self.violation = reports_violation(env)
        columns = (*EVAL_COLUMNS, EVAL_VIOLATION) if self.violation else EVAL_COLUMNS
        self.writer = MetricsWriter(path, columns, int_columns=1)

    def due(self) -> bool:
        t = self.env.total_steps
        return (t % self.every == 0 or t >= self.total) and (not self.steps or self.steps[-1] < t)

    def evaluate(self) -> None:
        result = self.evaluator(self.agent)
        t = self.env.total_steps
        self.scale = result.optimal - result.uniform
        self.steps.append(t)
        self.regrets.append(result.regret)
        row: tuple[float, ...] = (t, result.value, result.regret)
        if self.violation:
            violation = math.nan if result.violation is None else result.violation
            self.violations.append(violation)
            row += (violation,)
        self.pending.append(row)

    def learn(self, end: int, budget_stop: Any) -> None:
        """Train up to step ``end``, evaluating at every multiple of ``eval_every`` (and at the budget)."""
        env, agent = self.env, self.agent
        if getattr(agent, "exact_budget", True):
            while env.total_steps < end:
                target = min(end, (env.total_steps // self.every + 1) * self.every)
                agent.learn(target - env.total_steps, callback=budget_stop)
                if self.due():
                    self.evaluate()
            return

        def callback(a: Any, info: dict[str, Any]) -> bool:
            if self.due():
                self.evaluate()
            return budget_stop is None or budget_stop(a, info) is not False

        agent.learn(end - env.total_steps, callback=callback)

    def flush(self, summary: dict[str, Any]) -> None:
        """Append the new rows to ``evaluations.csv`` and update the summary's learning-curve fields."""
        if self.pending:
            self.writer.append(np.array(self.pending, dtype=np.float64))
            self.pending.clear()
        if self.regrets:
            summary["final_policy_regret"] = self.regrets[-1]
        if self.violations:  # constrained bandits: max(0, E_π[cost] − τ) of the last evaluated policy
            summary["final_policy_violation"] = self.violations[-1]
        if self.scale is not None:
            summary["uniform_policy_regret"] = self.scale  # V* − V^uniform: the scale of ε
            summary["steps_to_epsilon"] = steps_to_epsilon(self.steps, self.regrets, self.scale, self.eps)

    def close(self) -> None:
        self.writer.close()


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``: an error as a summary records it."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _load_curve(metrics_path: Path) -> list[np.ndarray]:
    if not metrics_path.exists():
        return []
    cum = read_metrics(metrics_path).get("cumulative_regret")
    return [cum] if cum is not None and cum.size else []


def update_summary(summary: dict[str, Any], env: RegretRecorder, wall: float) -> None:
    """Copy the recorder's running totals and the wall time into a run's summary."""
    summary.update(
        steps_done=env.total_steps,
        cumulative_regret=env.cumulative_regret,
        cumulative_reward=env.cumulative_reward,
        wall_time_s=wall,
        steps_per_s=env.total_steps / wall if wall > 0 else None,
        updated_at=now(),
    )
    if "violations" in summary:
        summary.update(violations=env.violations, violation_amount=env.violation_amount)


def _env_summary(env: RegretRecorder) -> dict[str, Any]:
    """Totals an env reports about the whole run (``env.unwrapped.run_summary()``, e.g. solver tuning)."""
    run_summary = getattr(env.unwrapped, "run_summary", None)
    return dict(run_summary()) if callable(run_summary) else {}


def record_diagnostics(summary: dict[str, Any], tracker: Tracker, agent: Any, step: int) -> None:
    """Copy an agent's ``diagnostics()`` (if it has one) into the summary and the tracker."""
    diagnostics = getattr(agent, "diagnostics", None)
    if not callable(diagnostics):
        return
    values = {k: float(v) for k, v in diagnostics().items()}
    summary["agent_diagnostics"] = values
    tracker.log({"t": step, **{f"agent/{k}": v for k, v in values.items()}})
    # Agents that learn in rounds (the RLHF sequence agents) hand over every round's metrics and tables.
    drain = getattr(agent, "drain_tracked", None)
    for row in drain() if callable(drain) else ():
        tracker.log({"t": int(row["t"]), **{f"agent/{k}": float(v) for k, v in row.items() if k != "t"}})
    tables = getattr(agent, "tracker_tables", None)
    log_table = getattr(tracker, "log_table", None)
    if callable(tables) and callable(log_table):
        for key, rows in tables().items():
            log_table(f"agent/{key}", rows)


def _track_rows(tracker: Tracker, rows: np.ndarray, stride: int) -> None:
    for row in rows[rows[:, 0] % stride == 0]:
        tracker.log(
            {
                "t": int(row[0]),
                "regret/cumulative": float(row[4]),
                "regret/instant": float(row[3]),
                "reward": float(row[2]),
            }
        )


def _track_plot(tracker: Tracker, run_dir: Path) -> None:
    from rl_suite.compare import plot_single_run

    path = run_dir / "regret.png"
    plot_single_run(read_run(run_dir), path)
    tracker.log_image("regret/plot", path)


@contextlib.contextmanager
def signals_raise() -> Any:
    """Turn SIGTERM into :class:`RunInterrupted` while a run executes (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise RunInterrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
