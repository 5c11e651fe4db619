"""Finding, validating, deduplicating and grouping runs; their curves indexed by the ``step`` column.

A comparison reads run folders and never writes into them. Every folder found is either used or left out
with a one-line reason (:class:`LeftOut`): unreadable (``damaged``), written by an older run-store format
without its settings (``older format``), a second copy of a run already counted (``duplicate``), not
finished (its status), metrics that do not reach ``steps_done`` or skip or repeat a step
(``incomplete metrics``), or fewer than two recorded steps (``empty``). Only when nothing usable is left is
that a :class:`~rl_suite.errors.UserError`.

Runs are grouped by env (its id, plus the env arguments that differ between runs of that id) and by agent
(its label, plus the agent settings that differ between runs of that label on that env), so two different
settings never share a row. Within an env every run is cut to the env's common length ``T`` — the
shortest run of the env — so that every row of its table reports regret at the same ``T``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl_suite.errors import UserError
from rl_suite.regret import exponent_grid, fit_regret_exponent
from rl_suite.store import (
    CONFIG,
    EVALUATIONS,
    METRICS,
    SUMMARY,
    RunRecord,
    contiguous_steps,
    metrics_problem,
    read_run,
)

#: Most points a curve is evaluated at (plots and bands).
GRID_POINTS = 400
#: Run statuses ``include_incomplete`` lets in.
INCOMPLETE = ("interrupted", "failed", "running")
#: Why a run was left out, besides its status.
EMPTY = "empty"
DAMAGED = "damaged"
DUPLICATE = "duplicate"
INCOMPLETE_METRICS = "incomplete metrics"
OLDER_FORMAT = "older format"


@dataclass(frozen=True)
class LeftOut:
    """A run folder a comparison did not use, and why."""

    path: str
    kind: str
    """A run status (``interrupted``, ``failed``, ``running``) or :data:`EMPTY`, :data:`DAMAGED`,
    :data:`DUPLICATE`, :data:`INCOMPLETE_METRICS`, :data:`OLDER_FORMAT`."""
    reason: str = ""
    """One line saying what is wrong and what to do; empty for a run left out for its status only."""

    def line(self) -> str:
        """The one-line note of the report."""
        return f"{self.kind}: {self.reason}" if self.reason else f"{self.kind}: {self.path}"


@dataclass
class RunCurves:
    """The two columns a comparison needs from one run's metrics, indexed by step (``[t - 1]`` is step t)."""

    run: RunRecord
    cumulative_regret: np.ndarray
    violation: np.ndarray | None


@dataclass
class Group:
    """The runs of one (env, agent) row, cut to their env's common length and sampled on a time grid."""

    env_id: str
    label: str
    runs: list[RunRecord]
    steps: int
    """``T``: the common length of the env's runs (its shortest run); every run is cut to it."""
    lengths: list[int]
    """Each run's own number of recorded steps."""
    grid: np.ndarray
    """1-based times at which the curves are sampled (at most :data:`GRID_POINTS`, ending at ``T``)."""
    curves: np.ndarray
    """``(n_seeds, len(grid))`` cumulative regret at the grid times."""
    exponent: float
    """Regret exponent of the mean curve (:func:`rl_suite.regret.fit_regret_exponent`, last decade)."""
    exponent_ts: np.ndarray
    """Times the exponent fit uses (:func:`rl_suite.regret.exponent_grid`)."""
    exponent_points: np.ndarray
    """``(n_seeds, len(exponent_ts))`` cumulative regret at those times, for the exponent's interval."""
    violations: np.ndarray | None = None
    """``(n_seeds,)`` number of violating steps up to ``T`` (constrained envs)."""
    violation_amount: np.ndarray | None = None
    """``(n_seeds,)`` summed violation amount up to ``T``."""
    violation_curves: np.ndarray | None = None
    """``(n_seeds, len(grid))`` cumulative number of violating steps at the grid times."""


@dataclass
class LoadedRuns:
    """What :func:`load_runs` found: the usable runs by row, and every run left out."""

    groups: dict[tuple[str, str], list[RunCurves]]
    """(env name, agent name) -> the row's runs, sorted by key and, within a row, by (seed, path)."""
    left_out: list[LeftOut] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    """One line per run used only in part (``include_incomplete``: cut at its first missing step)."""
    folders: list[Path] = field(default_factory=list)
    """Every run folder found (used or not)."""

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``(path, kind)`` of every run left out."""
        return [(x.path, x.kind) for x in self.left_out]


def report_entries(left_out: Iterable[LeftOut], groups: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
    """The ``skipped`` and ``runs`` lists of a ``report.json``.

    What was left out, and which runs each row pooled (``groups`` have ``env_id``, ``label`` and ``runs``).
    """
    return {
        "skipped": [{"path": x.path, "status": x.kind, "reason": x.reason} for x in left_out],
        "runs": [
            {
                "env_id": g.env_id,
                "agent": g.label,
                "seeds": [r.seed for r in g.runs],
                "paths": [str(r.path) for r in g.runs],
            }
            for g in groups
        ],
    }


# --------------------------------------------------------------------------- finding run folders
def find_run_folders(run_dirs: Iterable[str | Path]) -> list[Path]:
    """Run folders under ``run_dirs``: each path is a run folder or a folder searched recursively.

    A run folder holds a ``summary.json`` or a ``metrics.csv`` (one without a summary is reported as damaged
    rather than silently ignored). The same folder reached twice is listed once.

    Raises:
        UserError: a path does not exist, is not a folder, or holds no run at all.
    """
    folders: dict[Path, Path] = {}
    for p in map(Path, run_dirs):
        if not p.exists():
            raise UserError(f"no such run folder: {p}")
        if not p.is_dir():
            raise UserError(f"{p} is not a folder; give run folders or folders that hold runs")
        if (p / SUMMARY).is_file() or (p / METRICS).is_file():
            found = [p]
        else:
            found = sorted({f.parent for name in (SUMMARY, METRICS) for f in p.rglob(name)})
            if not found:
                raise UserError(f"no runs under {p} (looked for */{SUMMARY})")
        for f in found:
            folders.setdefault(f.resolve(), f)
    return list(folders.values())


def _read_summary(path: Path) -> RunRecord | LeftOut:
    if not (path / SUMMARY).is_file():
        reason = f"{path} has {METRICS} but no {SUMMARY} (a run that is just starting, or a damaged folder)"
        return LeftOut(str(path), DAMAGED, reason)
    try:
        return read_run(path)
    except UserError as exc:
        return LeftOut(str(path), DAMAGED, str(exc))


def run_settings(run: RunRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(env arguments, agent settings)`` of a run: from its summary, or from ``config.yaml`` (read once).

    Raises:
        UserError: the settings are not in the summary and ``config.yaml`` is missing, damaged or lacks them.
    """
    s = run.summary
    if isinstance(s.get("env_kwargs"), dict) and isinstance(s.get("agent_settings"), dict):
        return run.env_kwargs, run.agent_settings
    config = run.config()
    out: list[dict[str, Any]] = []
    for key, section, name_key in (("env_kwargs", "env", "id"), ("agent_settings", "agent", "name")):
        if isinstance(s.get(key), dict):
            out.append(dict(s[key]))
            continue
        raw = config.get(section)
        if not isinstance(raw, dict):
            raise UserError(f"{run.path / CONFIG} has no {section} section")
        out.append({k: v for k, v in raw.items() if k != name_key})
    return out[0], out[1]


def _settings_or_left_out(run: RunRecord) -> tuple[dict[str, Any], dict[str, Any]] | LeftOut:
    try:
        return run_settings(run)
    except UserError as exc:
        damaged = LeftOut(str(run.path), DAMAGED, str(exc))
    if run.format >= 2:
        return damaged
    config = run.path / CONFIG
    if config.is_file():
        try:
            run.config()
        except UserError:
            return damaged  # unreadable, not merely old
        lacks = f"its {CONFIG} has no env or agent section"
    else:
        lacks = f"it has no {CONFIG}"
    return LeftOut(
        str(run.path),
        OLDER_FORMAT,
        f"{run.path} was written by an older run-store format: its {SUMMARY} has no env/agent settings and "
        f"{lacks}; re-run it, or run `rl-suite train --resume {run.path}` to rewrite its summary",
    )


# --------------------------------------------------------------------------- duplicates
def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def run_identity(run: RunRecord, env_kwargs: dict[str, Any], agent_settings: dict[str, Any]) -> str:
    """What makes two folders the same run: the summary's ``config_hash``, else a hash of the settings.

    Folders of older formats without a ``config_hash`` are fingerprinted by (env id, env arguments, agent,
    agent settings, seed, total steps). The seed is part of both.
    """
    if run.config_hash is not None:
        return f"config_hash {run.config_hash} and seed {run.seed}"
    payload = [
        run.env_id,
        env_kwargs,
        run.agent,
        agent_settings,
        run.seed,
        run.summary["total_steps"],
    ]
    digest = hashlib.sha256(_canonical(payload).encode()).hexdigest()[:16]
    return f"settings (hash {digest}) and seed {run.seed}"


def _completeness(run: RunRecord) -> tuple[bool, int, bool]:
    """Completed first, then more steps done, then exactly evaluated (``eval_every``: not in the identity)."""
    evaluated = run.summary.get("eval_every") is not None and (run.path / EVALUATIONS).is_file()
    return run.status == "completed", int(run.summary["steps_done"]), evaluated


def _started(run: RunRecord) -> str:
    return str(run.summary.get("started_at") or "")


def _why_kept(kept: RunRecord, dropped: RunRecord) -> str:
    (k_done, k_steps, k_eval), (d_done, d_steps, d_eval) = _completeness(kept), _completeness(dropped)
    if k_done != d_done:
        return f"it is completed, this one is {dropped.status}"
    if k_steps != d_steps:
        return f"it has more steps done ({k_steps:,} > {d_steps:,})"
    if k_eval != d_eval:
        return "it has exact policy evaluations (eval_every), this one has none"
    if _started(kept) != _started(dropped):
        return f"the copies are equally complete and it was started first ({_started(kept)})"
    return "the copies are equally complete; the first by path is kept"


def deduplicate(
    runs: list[tuple[RunRecord, str]],
) -> tuple[list[RunRecord], list[LeftOut]]:
    """Count each run once: among folders of the same identity keep the most complete one.

    The most complete is the completed one, then the one with the most steps done, then the one with exact
    policy evaluations (``eval_every`` does not change training, so it is not part of the identity); among
    equally complete
    copies the one started first (the run that later copies repeat), then the first by path.

    Args:
        runs: ``(run, identity)`` pairs (:func:`run_identity`), in path order.

    Returns:
        ``(kept, dropped)``; each dropped copy has one line naming the copy that was kept and why.
    """
    best: dict[str, RunRecord] = {}
    for run, ident in runs:
        if ident not in best:
            best[ident] = run
            continue
        mine, theirs = _completeness(run), _completeness(best[ident])
        if mine > theirs or (mine == theirs and _started(run) < _started(best[ident])):
            best[ident] = run
    kept_ids = {id(r) for r in best.values()}
    dropped = [
        LeftOut(
            str(run.path),
            DUPLICATE,
            f"dropped {run.path}: same {ident} as {best[ident].path}, which is counted "
            f"({_why_kept(best[ident], run)})",
        )
        for run, ident in runs
        if id(run) not in kept_ids
    ]
    return [r for r, _ in runs if id(r) in kept_ids], dropped


# --------------------------------------------------------------------------- metrics by step
def read_curves(run: RunRecord) -> RunCurves:
    """Read the cumulative regret (and violation) of one run by step, up to its first missing step.

    A run without ``metrics.csv`` gives empty curves (so a plot of it can say so).

    Raises:
        UserError: the metrics file is damaged or has no ``cumulative_regret`` column.
    """
    if not (run.path / METRICS).exists():
        return RunCurves(run, np.zeros(0), None)
    return _curves_by_step(run, None)[0]


def _curves_by_step(run: RunRecord, steps_done: int | None) -> tuple[RunCurves, str | None]:
    """The run's curves indexed by step, cut before the first step that is missing or repeated.

    Rows are put in ``step`` order first, so the values at time ``t`` are those of the row whose ``step``
    is ``t``, wherever that row is in the file. Returns the curves and what is wrong with the steps (or
    ``None``; :func:`rl_suite.store.metrics_problem`).
    """
    metrics = run.metrics()
    if "cumulative_regret" not in metrics:
        raise UserError(f"{run.path / METRICS} is damaged: it has no cumulative_regret column")
    steps = metrics["step"]
    order = np.argsort(steps, kind="stable") if np.any(np.diff(steps) < 0) else slice(None)
    steps = steps[order]
    problem = metrics_problem(steps, steps_done)
    n = contiguous_steps(steps)
    cum = metrics["cumulative_regret"][order][:n]
    viol = metrics.get("violation")
    return RunCurves(run, cum, None if viol is None else viol[order][:n]), problem


def _check_curves(run: RunRecord, include_incomplete: bool) -> RunCurves | LeftOut | tuple[RunCurves, str]:
    """A run's curves, or why it is left out; with a note when only a prefix of it is used."""
    steps_done = int(run.summary["steps_done"])
    path = str(run.path)
    if not (run.path / METRICS).is_file():
        if steps_done < 2:
            return LeftOut(path, EMPTY)
        return LeftOut(path, DAMAGED, f"{run.path} has no {METRICS} but {steps_done:,} steps were done")
    completed = run.status == "completed"
    try:
        curves, problem = _curves_by_step(run, steps_done if completed else None)
    except UserError as exc:
        return LeftOut(path, DAMAGED, str(exc))
    n = curves.cumulative_regret.size
    if problem is None and not completed and n < steps_done:
        # An unfinished run's metrics may run ahead of its summary (written first), never behind it.
        problem = f"metrics end at step {n} but the summary says {steps_done} steps were done"
    if problem is not None:
        if not include_incomplete:
            return LeftOut(
                path,
                INCOMPLETE_METRICS,
                f"{run.path}: {problem}; --include-incomplete uses its first {n:,} steps",
            )
        if n >= 2:
            return curves, f"partly used: {run.path}: {problem}; used its first {n:,} steps"
    if n < 2:
        return LeftOut(path, EMPTY)
    return curves


# --------------------------------------------------------------------------- names and groups
def _cell(key: str, value: str | None) -> str:
    return f"{key}={'-' if value is None else value}".replace("'", "")


def varying_names(items: list[tuple[str, str, dict[str, Any]]]) -> dict[str, str]:
    """Name each item ``base [k=v, ...]`` with the settings that differ between items of the same base.

    Args:
        items: ``(key, base name, settings)``.

    Returns:
        ``{key: name}``; an item whose base is shared only with items of equal settings keeps its base.
    """
    by_base: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for key, base, settings in items:
        by_base.setdefault(base, []).append((key, settings))
    names: dict[str, str] = {}
    for base, members in by_base.items():
        canon = [{k: _canonical(v) for k, v in s.items()} for _, s in members]
        keys = sorted({k for c in canon for k in c})
        varying = [k for k in keys if len({c.get(k) for c in canon}) > 1]
        for key, settings in members:
            shown = [_cell(k, repr(settings[k]) if k in settings else None) for k in varying]
            names[key] = f"{base} [{', '.join(shown)}]" if shown else base
    return names


def env_names(runs: Iterable[RunRecord]) -> dict[str, str]:
    """Name each run's env: its id, plus ``[k=v, ...]`` for the env arguments that differ between runs of it.

    Args:
        runs: the runs to compare (their settings must be readable, :func:`run_settings`).

    Returns:
        ``{run path: env name}``.
    """
    return varying_names([(str(r.path), r.env_id, run_settings(r)[0]) for r in runs])


def agent_names(runs: Iterable[tuple[RunRecord, dict[str, Any]]]) -> dict[str, str]:
    """Name each run's agent on one env: its label plus the settings that differ between runs of that label.

    The label is the agent name unless the run set one. The agent name itself counts as a setting, so two
    agents under one label are told apart too.

    Args:
        runs: ``(run, agent settings)`` of the runs of one env.

    Returns:
        ``{run path: agent name}``.
    """
    items = []
    for run, settings in runs:
        merged = settings if "agent" in settings else {"agent": run.agent, **settings}
        items.append((str(run.path), run.label, merged))
    return varying_names(items)


def _nothing_left(left_out: list[LeftOut]) -> str:
    counts = status_counts([(x.path, x.kind) for x in left_out])
    if any(x.kind in INCOMPLETE or x.kind == INCOMPLETE_METRICS for x in left_out):
        return f"no completed runs to compare ({counts}); use --include-incomplete to include unfinished ones"
    reasons = [x for x in left_out if x.reason]
    if reasons:
        return f"no usable runs to compare ({counts}); first: {reasons[0].reason}"
    return f"no runs with at least 2 recorded steps to compare ({counts})"


def status_counts(skipped: list[tuple[str, str]]) -> str:
    """``1 failed, 2 interrupted``: how many runs were left out for each reason, sorted by reason."""
    counts: dict[str, int] = {}
    for _, status in skipped:
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none found"


def load_runs(run_dirs: Iterable[str | Path], include_incomplete: bool = False) -> LoadedRuns:
    """Find, validate, deduplicate and group the runs under ``run_dirs`` (read only).

    Args:
        run_dirs: run folders, or folders searched recursively for runs.
        include_incomplete: also use interrupted, failed and still-running runs, and runs whose metrics stop
            short or skip a step (up to their first missing step).

    Returns:
        The :class:`LoadedRuns`.

    Raises:
        UserError: a path does not exist or holds no run, or no usable run is left.
    """
    folders = find_run_folders(run_dirs)
    left_out: list[LeftOut] = []
    readable: list[tuple[RunRecord, str]] = []
    settings: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for folder in folders:
        run = _read_summary(folder)
        if isinstance(run, LeftOut):
            left_out.append(run)
            continue
        found = _settings_or_left_out(run)
        if isinstance(found, LeftOut):
            left_out.append(found)
            continue
        settings[str(run.path)] = found
        readable.append((run, run_identity(run, *found)))
    kept, dropped = deduplicate(readable)
    left_out += dropped
    allowed = ("completed", *INCOMPLETE) if include_incomplete else ("completed",)
    usable: list[RunCurves] = []
    partial: list[str] = []
    for run in kept:
        status = run.status
        if status not in allowed:
            left_out.append(LeftOut(str(run.path), status))
            continue
        checked = _check_curves(run, include_incomplete)
        if isinstance(checked, LeftOut):
            left_out.append(checked)
        elif isinstance(checked, tuple):
            usable.append(checked[0])
            partial.append(checked[1])
        else:
            usable.append(checked)
    if not usable:
        raise UserError(_nothing_left(left_out))
    envs = varying_names([(str(c.run.path), c.run.env_id, settings[str(c.run.path)][0]) for c in usable])
    agents: dict[str, str] = {}
    for env in set(envs.values()):
        members = [c.run for c in usable if envs[str(c.run.path)] == env]
        agents.update(agent_names((r, settings[str(r.path)][1]) for r in members))
    groups: dict[tuple[str, str], list[RunCurves]] = {}
    for c in usable:
        key = str(c.run.path)
        groups.setdefault((envs[key], agents[key]), []).append(c)
    ordered = {k: sorted(v, key=lambda c: (c.run.seed, str(c.run.path))) for k, v in sorted(groups.items())}
    return LoadedRuns(groups=ordered, left_out=left_out, partial=partial, folders=folders)


def load_groups(
    run_dirs: Iterable[str | Path], include_incomplete: bool = False
) -> tuple[dict[tuple[str, str], list[RunRecord]], list[tuple[str, str]]]:
    """Find the runs under ``run_dirs`` and group them by (env, agent) (:func:`load_runs`, runs only).

    Returns:
        ``(groups, skipped)``: groups sorted by key, each run list sorted by seed; ``skipped`` holds
        ``(path, kind)`` of every run left out.

    Raises:
        UserError: a path does not exist or holds no run, or no usable run is left.
    """
    loaded = load_runs(run_dirs, include_incomplete)
    return {k: [c.run for c in v] for k, v in loaded.groups.items()}, loaded.skipped


# --------------------------------------------------------------------------- alignment
def time_grid(steps: int, log_x: bool, points: int = GRID_POINTS) -> np.ndarray:
    """At most ``points`` distinct 1-based times in ``[1, steps]``, log- or evenly spaced.

    Args:
        steps: the last time ``T`` (always included).
        log_x: log-spaced (dense at small ``t``, for log x axes) instead of evenly spaced.
        points: most points returned.

    Returns:
        Increasing int64 times.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    raw = np.geomspace(1, steps, points) if log_x else np.linspace(1, steps, points)
    return np.unique(np.concatenate([np.round(raw).astype(np.int64), [steps]]))


def align(env_id: str, label: str, runs: list[RunCurves], log_x: bool, steps: int | None = None) -> Group:
    """Cut a row's runs to ``T`` and sample them on the plotting and exponent grids.

    Args:
        env_id: the row's env name.
        label: the row's agent name.
        runs: each run's curves by step (every one with at least ``T >= 2`` steps).
        log_x: log-spaced plotting grid.
        steps: ``T``, the env's common length (default: the shortest of ``runs``).

    Returns:
        The aligned :class:`Group`.
    """
    lengths = [c.cumulative_regret.size for c in runs]
    steps = min(lengths) if steps is None else steps
    if steps > min(lengths):
        raise ValueError(f"cannot cut runs of {min(lengths)} steps to T = {steps}")
    grid = time_grid(steps, log_x)
    ts = exponent_grid(steps)
    cums = [c.cumulative_regret[:steps] for c in runs]
    mean_curve = np.sum(cums, axis=0) / len(cums)
    group = Group(
        env_id=env_id,
        label=label,
        runs=[c.run for c in runs],
        steps=steps,
        lengths=lengths,
        grid=grid,
        curves=np.stack([c[grid - 1] for c in cums]),
        exponent=fit_regret_exponent(mean_curve, decades=1.0),
        exponent_ts=ts,
        exponent_points=np.stack([c[ts - 1] for c in cums]),
    )
    if all(c.violation is not None for c in runs):
        viol = [c.violation[:steps] for c in runs if c.violation is not None]
        group.violations = np.array([(v > 0).sum() for v in viol], dtype=np.float64)
        group.violation_amount = np.array([v.sum() for v in viol], dtype=np.float64)
        group.violation_curves = np.stack([np.cumsum(v > 0)[grid - 1] for v in viol]).astype(np.float64)
    return group


def common_steps(groups: dict[tuple[str, str], list[RunCurves]]) -> dict[str, int]:
    """``T`` of each env: the fewest steps any of its runs recorded."""
    out: dict[str, int] = {}
    for (env, _), runs in groups.items():
        n = min(c.cumulative_regret.size for c in runs)
        out[env] = min(out.get(env, n), n)
    return out
