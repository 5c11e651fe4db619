"""The run store: one folder per run, readable without rl_suite's runner being alive.

Layout (a documented public format; see README "The run store")::

    <out>/<env>__<agent>__s<seed>__<timestamp>/
      config.yaml     the fully resolved config, package versions and git sha
      metrics.csv     per-step rows (step, episode, reward, regret, cumulative_regret[, cost, violation]),
                      appended in chunks; a kill can at worst leave one partial last line, which readers drop
      summary.json    written atomically; top-level status, env_id, agent, seed, total_steps,
                      steps_done, cumulative_regret, wall_time_s (+ violations, violation_amount;
                      + agent_diagnostics for agents that report them, e.g. the Lagrangian wrapper)
      checkpoint/     agent + env state at the last checkpoint, for ``rl-suite train --resume``

``status`` is ``running`` while the writer is alive, then ``completed``, ``interrupted`` or ``failed``.
A run whose writer died without saying so (SIGKILL, power loss) still reads ``running`` on disk;
:attr:`RunRecord.status` reports it as ``interrupted`` once its process is gone.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import socket
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rl_suite.errors import UserError
from rl_suite.state import read_json_object

SUMMARY = "summary.json"
CONFIG = "config.yaml"
METRICS = "metrics.csv"
#: Exact evaluations of the current policy (``eval_every``): ``step,policy_value,policy_regret``.
EVALUATIONS = "evaluations.csv"
CHECKPOINT = "checkpoint"

STATUSES = ("running", "completed", "interrupted", "failed")
#: Version of the run-folder format this rl_suite writes (1: before settings and ownership were recorded).
FORMAT = 2
#: Lock file of a run folder (held by the one process that writes it) and the file naming that process.
LOCK = ".lock"
OWNER = "owner.json"
#: Longest folder-name component :func:`safe_name` returns.
MAX_NAME = 80


def safe_name(text: str, max_len: int = MAX_NAME) -> str:
    """``text`` made safe as one folder-name component, still readable.

    Path separators, ``..``, control and shell-special characters become ``_``; leading dots are dropped (no
    hidden or relative names); a name longer than ``max_len`` is cut and keeps a short hash of the whole,
    so different long names stay different. Never empty.
    """
    name = re.sub(r"[^A-Za-z0-9._+=@-]", "_", str(text))
    name = re.sub(r"\.{2,}", "_", name).lstrip(".")
    if len(name) > max_len:
        digest = hashlib.sha256(str(text).encode()).hexdigest()[:8]
        name = f"{name[: max_len - 9]}-{digest}"
    return name or "_"


def inside(path: Path, root: Path) -> bool:
    """True when ``path`` resolves inside ``root`` (symlinks followed)."""
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return False
    return True


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file and a rename, so readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_path(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if Path(path).is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def now() -> str:
    """The current UTC time as an ISO-8601 string (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically write ``data`` as indented JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


class RunBusy(UserError):
    """Another process holds the run folder (or the sweep claim) this one wanted to write."""


class FileLockNB:
    """A non-blocking exclusive ``flock`` on one file, released by :meth:`release` or when the process dies.

    The OS drops the lock with the file descriptor, so a killed holder never leaves a stale lock behind.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock; ``False`` at once when another open file holds it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the lock go (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def lock_is_held(path: str | Path) -> bool | None:
    """Whether some process holds the lock at ``path``: ``None`` when there is no lock file (nothing written).

    Probes with a shared lock on a read-only descriptor, so the check never creates or changes a file.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return False


class RunLock:
    """The exclusive OS-level lock of one run folder (``<run>/.lock``), held while a process writes it.

    :meth:`acquire` never waits: a folder held by another live process raises :class:`RunBusy` naming that
    process (from ``owner.json``: pid, host, since when).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._lock = FileLockNB(self.run_dir / LOCK)

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._lock.held

    def acquire(self) -> RunLock:
        """Take the lock, or raise :class:`RunBusy`. Nothing else is written until :meth:`record_owner`."""
        if not self._lock.try_acquire():
            raise RunBusy(
                f"run {self.run_dir} is being written by another process ({owner_text(self.run_dir)}); "
                "wait for it to finish or stop it first"
            )
        return self

    def record_owner(self) -> None:
        """Write ``owner.json`` (pid, host, since when): called by the holder just before it writes."""
        write_json(self.run_dir / OWNER, {"pid": os.getpid(), "host": socket.gethostname(), "since": now()})

    def release(self) -> None:
        """Let the lock go (idempotent)."""
        self._lock.release()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def owner_text(run_dir: Path) -> str:
    """``pid P on host H since T`` from a run folder's ``owner.json``, or what is known without it."""
    try:
        owner = json.loads((Path(run_dir) / OWNER).read_text(encoding="utf-8"))
        return f"pid {owner['pid']} on host {owner['host']} since {owner['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "owner unknown"


class Claim(FileLockNB):
    """A sweep's claim on one run identity, so that two sweeps over one folder never run a pair twice.

    An OS lock on ``<out>/.claims/<config_hash>.lock``, held by the process executing that run for as long as
    it runs: another sweep's :meth:`try_acquire` returns ``False`` at once and it skips the run as running
    elsewhere.
    """

    def __init__(self, out: str | Path, config_hash: str) -> None:
        root = Path(out) / ".claims"
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root / f"{safe_name(config_hash)}.lock")


class MetricsWriter:
    """Append-only CSV writer for per-step metrics: one ``write`` + ``flush`` per chunk."""

    def __init__(self, path: Path, columns: tuple[str, ...], int_columns: int = 2) -> None:
        self.path = Path(path)
        self.columns = columns
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fh = self.path.open("a", encoding="utf-8", newline="")
        if new:
            self._fh.write(",".join(columns) + "\n")
            self._fh.flush()
        # The first int_columns (step and episode) are integers; everything else keeps 10 significant digits.
        self._line = ",".join(["%d"] * int_columns + ["%.10g"] * (len(columns) - int_columns)) + "\n"

    def append(self, rows: np.ndarray) -> None:
        """Append ``rows`` (shape ``(n, len(columns))``) and flush them to the OS.

        The chunk is formatted by one ``%`` over the whole block (about 3x faster than ``np.savetxt``),
        which keeps logging well under 10 % of a LinUCB round.
        """
        n = rows.shape[0]
        if n == 0:
            return
        self._fh.write((self._line * n) % tuple(rows.ravel().tolist()))
        self._fh.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if not self._fh.closed:
            self._fh.close()


def truncate_metrics(path: Path, max_step: int) -> None:
    """Drop every row with ``step > max_step`` (and any partial line), atomically. Used on resume."""
    path = Path(path)
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    keep = lines[:1]
    for line in lines[1:]:
        if not line.endswith("\n"):
            break
        if int(float(line.split(",", 1)[0])) > max_step:
            break
        keep.append(line)
    atomic_write_text(path, "".join(keep))


@dataclass
class RunRecord:
    """A run folder read back from disk."""

    path: Path
    summary: dict[str, Any]

    @property
    def status(self) -> str:
        """``completed``, ``failed``, ``interrupted``, or ``running`` while its writer may be alive.

        A summary that still says ``running`` is ``interrupted`` once nobody holds the folder's lock (the
        OS drops it when the writer dies, however it dies). Folders written before locks existed, or whose
        writer ran on another host, fall back to the pid: a dead pid on this host means ``interrupted``; a
        writer on another host cannot be checked from here and stays ``running``.
        """
        status = str(self.summary.get("status", "interrupted"))
        if status != "running":
            return status
        if self.summary.get("host") not in (None, socket.gethostname()):
            return status
        held = lock_is_held(self.path / LOCK)
        if held is not None:
            return "running" if held else "interrupted"
        pid = self.summary.get("pid")
        if isinstance(pid, int) and not _pid_alive(pid):
            return "interrupted"
        return status

    @property
    def env_id(self) -> str:
        """The env id the run trained on."""
        return str(self.summary["env_id"])

    @property
    def agent(self) -> str:
        """The agent's short name."""
        return str(self.summary["agent"])

    @property
    def label(self) -> str:
        """The name runs are grouped by in comparisons (the agent name unless the config set a label)."""
        return str(self.summary.get("label") or self.summary["agent"])

    @property
    def seed(self) -> int:
        """The run's seed."""
        return int(self.summary["seed"])

    @property
    def config_hash(self) -> str | None:
        """Fingerprint of the resolved config (seed included): runs with the same hash are the same run."""
        value = self.summary.get("config_hash")
        return None if value is None else str(value)

    @property
    def format(self) -> int:
        """Run-store format version of the folder (1: written before settings were in the summary)."""
        value = self.summary.get("format", 1)
        return value if isinstance(value, int) and not isinstance(value, bool) else 1

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """The resolved env arguments (from the summary; older folders: from ``config.yaml``)."""
        return self._settings("env_kwargs", "env", "id")

    @property
    def agent_settings(self) -> dict[str, Any]:
        """The resolved agent settings (from the summary; older folders: from ``config.yaml``)."""
        return self._settings("agent_settings", "agent", "name")

    def _settings(self, key: str, section: str, name_key: str) -> dict[str, Any]:
        value = self.summary.get(key)
        if isinstance(value, dict):
            return dict(value)
        raw = self.config().get(section)
        if not isinstance(raw, dict):
            raise UserError(f"{self.path / CONFIG} has no {section} section")
        return {k: v for k, v in raw.items() if k != name_key}

    def config(self) -> dict[str, Any]:
        """The resolved config the run was started with (a damaged file is a one-line :class:`UserError`)."""
        path = self.path / CONFIG
        if not path.is_file():
            raise UserError(f"run {self.path} has no {CONFIG}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise UserError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise UserError(f"{path} must hold a mapping, got {type(data).__name__}")
        return data

    def metrics(self) -> dict[str, np.ndarray]:
        """Per-step metrics as ``{column: array}``; a partial last line (from a kill) is dropped.

        Raises:
            UserError: the file is missing, has no ``step`` column, or holds a line that is not numbers.
        """
        return read_metrics(self.path / METRICS)


def read_metrics(path: Path) -> dict[str, np.ndarray]:
    """Read a ``metrics.csv``: ``{column: array}``, a partial last line dropped, damage one line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"run {path.parent} has no {METRICS}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is damaged (not UTF-8 text)") from None
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    header, _, body = text.partition("\n")
    columns = header.strip().split(",")
    if not columns or columns[0] != "step" or len(set(columns)) != len(columns):
        raise UserError(f"{path} is damaged: its header must start with 'step', got {header[:60]!r}")
    if not body.strip():
        data = np.empty((0, len(columns)))
    else:
        try:
            data = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2)
        except ValueError as exc:
            raise UserError(f"{path} is damaged: {str(exc).splitlines()[0]}") from None
        if data.shape[1] != len(columns):
            raise UserError(f"{path} is damaged: rows have {data.shape[1]} fields for {len(columns)} columns")
    return {c: data[:, i] for i, c in enumerate(columns)}


def contiguous_steps(steps: np.ndarray) -> int:
    """How many leading rows of a ``step`` column read ``1, 2, ..., k`` (the rows that can be trusted)."""
    bad = np.flatnonzero(steps != np.arange(1, steps.size + 1))
    return int(bad[0]) if bad.size else int(steps.size)


def metrics_problem(steps: np.ndarray, steps_done: int | None) -> str | None:
    """Why a run's ``step`` column cannot be trusted, or ``None`` when it is ``1, 2, ..., steps_done``.

    Args:
        steps: the ``step`` column of ``metrics.csv``.
        steps_done: the steps the summary says were done (``None``: only check the steps are contiguous).
    """
    n = steps.size
    at = contiguous_steps(steps)
    if at < n:
        prev = int(steps[at - 1]) if at > 0 else 0
        return f"metrics have a gap or repeat after step {prev} (row {at + 2} has step {steps[at]:.0f})"
    if steps_done is not None and n != steps_done:
        return f"metrics end at step {n} but the summary says {steps_done} steps were done"
    return None


#: Summary keys every run folder has, and their types.
REQUIRED_SUMMARY: dict[str, type | tuple[type, ...]] = {
    "status": str,
    "env_id": str,
    "agent": str,
    "seed": int,
    "total_steps": int,
    "steps_done": int,
}


def read_run(path: str | Path) -> RunRecord:
    """Read one run folder; a folder without a valid ``summary.json`` is a one-line :class:`UserError`."""
    path = Path(path)
    summary_path = path / SUMMARY
    if not summary_path.is_file():
        raise UserError(f"{path} is not a run folder (no {SUMMARY})")
    summary = read_json_object(summary_path)
    for key, typ in REQUIRED_SUMMARY.items():
        value = summary.get(key)
        if not isinstance(value, typ) or isinstance(value, bool):
            raise UserError(f"{summary_path} is damaged: {key!r} is {value!r}")
    if summary["status"] not in STATUSES:
        raise UserError(f"{summary_path} is damaged: unknown status {summary['status']!r}")
    return RunRecord(path=path, summary=summary)


def find_runs(paths: Iterable[str | Path]) -> list[RunRecord]:
    """Every run under ``paths``: each path is a run folder or a folder searched recursively.

    Raises :class:`UserError` for a path that does not exist or holds no run at all.
    """
    runs: list[RunRecord] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise UserError(f"no such run folder: {p}")
        if (p / SUMMARY).is_file():
            runs.append(read_run(p))
            continue
        found = sorted(s.parent for s in p.rglob(SUMMARY))
        if not found:
            raise UserError(f"no runs under {p} (looked for */{SUMMARY})")
        runs.extend(read_run(f) for f in found)
    return runs
