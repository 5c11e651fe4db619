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
import os
import pickle
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite import __version__, registry
from rl_suite.config import RunConfig, agent_class, config_hash, dump_yaml, parse_run_config, resolve
from rl_suite.errors import UserError
from rl_suite.regret import RegretRecorder, fit_regret_exponent
from rl_suite.store import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    SUMMARY,
    MetricsWriter,
    RunRecord,
    atomic_write_text,
    read_run,
    truncate_metrics,
    write_json,
)
from rl_suite.tracking import Progress, Tracker, make_tracker

#: Number of points per run sent to the tracker (the local store keeps every step).
TRACKED_POINTS = 500
#: Checkpoint folders kept per run (the newest ones).
KEEP_CHECKPOINTS = 2
_AGENT_FILE = "agent.ckpt"
_ENV_FILE = "env.pkl"
_STATE_FILE = "state.json"


#: What ``run_trial`` returns: the run folder read back (DESIGN.md's name for it).
RunResult = RunRecord


class RunInterrupted(Exception):
    """Raised inside a run when SIGTERM/SIGINT arrives; the run is saved as ``interrupted``."""


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that determine results (read from metadata, nothing is imported)."""
    out: dict[str, str | None] = {"rl_suite": __version__, "python": sys.version.split()[0]}
    for name in ("numpy", "scipy", "gymnasium", "stable-baselines3", "torch", "pydantic"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_sha() -> str | None:
    """The git commit of the rl_suite source tree, or ``None`` outside a checkout."""
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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_dir(cfg: RunConfig) -> Path:
    """Create ``<out>/<env>__<agent>__s<seed>__<timestamp>`` (never reusing an existing folder)."""
    env_name = cfg.env.id.split("/")[-1]
    who = cfg.label or cfg.agent.name
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    base = Path(cfg.out) / f"{env_name}__{who}__s{cfg.seed}__{stamp}"
    for i in range(1000):
        path = base if i == 0 else base.with_name(f"{base.name}-{i}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise UserError(f"could not create a new run folder next to {base}")


def _peak_memory_mb() -> dict[str, float]:
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        out["peak_cuda_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


# --------------------------------------------------------------------------- checkpoints
def _checkpoints(run_dir: Path) -> list[Path]:
    root = run_dir / CHECKPOINT
    if not root.is_dir():
        return []
    done = [p for p in root.glob("step-*") if (p / _STATE_FILE).is_file()]
    return sorted(done, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder of a run (its ``state.json`` is written last)."""
    found = _checkpoints(run_dir)
    return found[-1] if found else None


def _save_checkpoint(run_dir: Path, agent: Any, env: RegretRecorder, state: dict[str, Any]) -> None:
    path = run_dir / CHECKPOINT / f"step-{env.total_steps:012d}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    agent.save(path / _AGENT_FILE)
    with (path / _ENV_FILE).open("wb") as fh:
        pickle.dump(env.unwrapped, fh, protocol=pickle.HIGHEST_PROTOCOL)
    write_json(path / _STATE_FILE, state)  # last: marks the checkpoint complete
    for old in _checkpoints(run_dir)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)


def _restore_env(env: RegretRecorder, path: Path) -> None:
    with (path / _ENV_FILE).open("rb") as fh:
        saved = pickle.load(fh)
    env.unwrapped.__dict__.update(saved.__dict__)


# --------------------------------------------------------------------------- the run
def run_trial(config: RunConfig | dict[str, Any], progress: Progress | None = None) -> RunResult:
    """Train one (env, agent, seed) run and write its run folder.

    Args:
        config: a :class:`RunConfig` or the equivalent mapping (validated and resolved here).
        progress: receives the number of steps done after every chunk (e.g. a progress bar).

    Returns:
        The run folder and its final summary. ``summary["status"]`` is ``completed``, or ``interrupted``
        if SIGINT/SIGTERM stopped it (it can be resumed). Errors inside the run mark it ``failed`` (with
        the error in the summary and the traceback in ``error.log``) and are re-raised.
    """
    cfg = resolve(config)
    run_dir = new_run_dir(cfg)
    resolved = cfg.model_dump(mode="json")
    meta = {"versions": package_versions(), "git_sha": git_sha(), "config_hash": config_hash(cfg)}
    atomic_write_text(run_dir / CONFIG, dump_yaml({**resolved, **meta}))
    return _execute(cfg, run_dir, checkpoint=None, progress=progress)


def resume_trial(run_dir: str | Path, progress: Progress | None = None) -> RunResult:
    """Continue an interrupted run from its last checkpoint, in the same folder.

    Rows of ``metrics.csv`` after the checkpoint are dropped and recomputed, so the finished run equals an
    uninterrupted one with the same seed (exactly, for rl_suite's own agents). A completed run is returned
    as it is.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise UserError(f"no such run folder: {run_dir}")
    record = read_run(run_dir)
    if record.status == "completed":
        return record
    if record.status == "running":
        raise UserError(f"run {run_dir} is still running (pid {record.summary.get('pid')}); stop it first")
    raw = record.config()
    for key in ("versions", "git_sha", "config_hash"):
        raw.pop(key, None)
    cfg = resolve(parse_run_config(raw))
    return _execute(cfg, run_dir, checkpoint=latest_checkpoint(run_dir), progress=progress)


def _execute(cfg: RunConfig, run_dir: Path, checkpoint: Path | None, progress: Progress | None) -> RunResult:
    env = make_env(cfg)
    cls = agent_class(cfg.agent.name)
    metrics_path = run_dir / METRICS
    wall_offset = 0.0
    started_at = _now()
    if checkpoint is not None:
        started_at = read_run(run_dir).summary.get("started_at") or started_at
        state = _read_state(checkpoint)
        env.reset()
        _restore_env(env, checkpoint)
        env.restore_counters(state["recorder"])
        agent = cls.load(checkpoint / _AGENT_FILE, env)
        truncate_metrics(metrics_path, env.total_steps)
        wall_offset = float(state["wall_time_s"])
    else:
        agent = cls(env, cfg.agent.settings, seed=cfg.seed)
        metrics_path.unlink(missing_ok=True)
    curve = _load_curve(metrics_path) if checkpoint is not None else []

    resolved = cfg.model_dump(mode="json")
    tracker: Tracker = make_tracker(cfg.track, run_dir, run_dir.name, resolved, cfg.wandb.model_dump())
    writer = MetricsWriter(metrics_path, env.columns)
    stride = max(1, cfg.total_steps // TRACKED_POINTS)
    summary: dict[str, Any] = {
        "status": "running",
        "error": None,
        "env_id": cfg.env.id,
        "agent": cfg.agent.name,
        "label": cfg.label or cfg.agent.name,
        "seed": cfg.seed,
        "total_steps": cfg.total_steps,
        "steps_done": env.total_steps,
        "cumulative_regret": env.cumulative_regret,
        "cumulative_reward": env.cumulative_reward,
        "regret_exponent": None,
        "wall_time_s": wall_offset,
        "steps_per_s": None,
        "config_hash": config_hash(cfg),
        "rl_suite_version": __version__,
        "started_at": started_at,
        "updated_at": _now(),
        "finished_at": None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    if env.columns[-1] == "violation":
        summary.update(violations=env.violations, violation_amount=env.violation_amount)
    write_json(run_dir / SUMMARY, summary)

    cum_col = env.columns.index("cumulative_regret")
    start = time.perf_counter()
    exit_code = 0
    with _signals_raise():
        try:
            while env.total_steps < cfg.total_steps:
                agent.learn(min(cfg.checkpoint_every, cfg.total_steps - env.total_steps))
                before = summary["steps_done"]
                rows = env.drain()
                writer.append(rows)
                curve.append(rows[:, cum_col].copy())
                _track_rows(tracker, rows, stride)
                wall = wall_offset + time.perf_counter() - start
                _save_checkpoint(
                    run_dir,
                    agent,
                    env,
                    {"steps": env.total_steps, "recorder": env.counters(), "wall_time_s": wall},
                )
                _update_summary(summary, env, wall)
                _agent_diagnostics(summary, tracker, agent, env.total_steps)
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
            summary["error"] = f"{type(exc).__name__}: {exc}"
            (run_dir / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
            exit_code = 1
            raise
        finally:
            writer.close()
            summary["finished_at"] = _now() if summary["status"] != "running" else None
            summary["updated_at"] = _now()
            summary.update(_peak_memory_mb())
            write_json(run_dir / SUMMARY, summary)
            if summary["status"] == "completed" and cfg.track:
                _track_plot(tracker, run_dir)
            tracker.finish(summary, exit_code=exit_code)
            env.close()
    return RunRecord(run_dir, summary)


def _read_state(checkpoint: Path) -> dict[str, Any]:
    import json

    return json.loads((checkpoint / _STATE_FILE).read_text(encoding="utf-8"))


def _load_curve(metrics_path: Path) -> list[np.ndarray]:
    if not metrics_path.exists():
        return []
    cum = RunRecord(metrics_path.parent, {}).metrics().get("cumulative_regret")
    return [cum] if cum is not None and cum.size else []


def _update_summary(summary: dict[str, Any], env: RegretRecorder, wall: float) -> None:
    summary.update(
        steps_done=env.total_steps,
        cumulative_regret=env.cumulative_regret,
        cumulative_reward=env.cumulative_reward,
        wall_time_s=wall,
        steps_per_s=env.total_steps / wall if wall > 0 else None,
        updated_at=_now(),
    )
    if "violations" in summary:
        summary.update(violations=env.violations, violation_amount=env.violation_amount)


def _env_summary(env: RegretRecorder) -> dict[str, Any]:
    """Totals an env reports about the whole run (``env.unwrapped.run_summary()``, e.g. solver tuning)."""
    run_summary = getattr(env.unwrapped, "run_summary", None)
    return dict(run_summary()) if callable(run_summary) else {}


def _agent_diagnostics(summary: dict[str, Any], tracker: Tracker, agent: Any, step: int) -> None:
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
def _signals_raise() -> Any:
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
