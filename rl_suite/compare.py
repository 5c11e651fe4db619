"""Compare runs: cumulative-regret curves with bootstrap bands, a final-regret table, regret exponents.

Runs are grouped by (env id, label) — the label is the agent name unless the run config set one. Within a
group every run is cut to the shortest run's length ``T``; curves are evaluated on at most
:data:`GRID_POINTS` times so that plotting and bootstrapping stay cheap for long runs. Confidence
intervals are percentile bootstraps over seeds (Efron & Tibshirani 1993); the interquartile mean (IQM,
the 25 % trimmed mean) follows Agarwal et al., "Deep RL at the Edge of the Statistical Precipice",
NeurIPS 2021; with ``aggregate=True`` the envs are also pooled, rliable-style (:func:`aggregate_groups`,
kernels in :mod:`rl_suite.stats`). The regret exponent is the log–log slope of the mean curve over the
last decade of ``T`` (:func:`rl_suite.regret.fit_regret_exponent`); its interval resamples seeds and
refits the mean curve.

matplotlib and scipy are imported inside the functions, so ``import rl_suite.compare`` stays light. The
plots are drawn on a bare :class:`matplotlib.figure.Figure` (Agg renderer), never through pyplot, so they
neither need a display nor change the backend of a notebook that calls them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl_suite.errors import UserError
from rl_suite.regret import exponent_grid, fit_exponent_at, fit_regret_exponent
from rl_suite.stats import iqm, mean
from rl_suite.store import METRICS, RunRecord, find_runs, write_json

#: Most points a curve is evaluated at (plots and bands).
GRID_POINTS = 400
#: Line and band statistics ``compare_runs`` accepts.
STATISTICS = ("mean", "iqm")
#: Run statuses ``include_incomplete`` lets in.
INCOMPLETE = ("interrupted", "failed", "running")
#: Status recorded for a run that has fewer than two recorded steps (nothing to draw or fit).
EMPTY = "empty"
#: Resampled values a bootstrap holds in memory at once (bounds memory for long curves and many seeds).
_BOOTSTRAP_BLOCK = 4_000_000
#: Panels per row of the plot before it wraps.
_MAX_COLS = 3

#: Columns of ``table.csv`` in order; the violation columns appear when some group has them.
CSV_COLUMNS = (
    "env_id",
    "agent",
    "n_seeds",
    "steps",
    "final_regret_mean",
    "final_regret_ci_low",
    "final_regret_ci_high",
    "final_regret_iqm",
    "final_regret_iqm_ci_low",
    "final_regret_iqm_ci_high",
    "final_regret_std",
    "regret_exponent",
    "regret_exponent_ci_low",
    "regret_exponent_ci_high",
    "wall_time_s_mean",
    "steps_per_s",
)
VIOLATION_COLUMNS = (
    "violations_mean",
    "violations_ci_low",
    "violations_ci_high",
    "violation_amount_mean",
    "violation_amount_ci_low",
    "violation_amount_ci_high",
)
#: Run totals an env reports in ``summary.json`` (the solver-tuning envs' iterations and ratios); each gets
#: ``_mean``, ``_ci_low`` and ``_ci_high`` columns when every run of a group has it.
RUN_TOTALS = ("total_iterations", "ratio_to_best_fixed", "ratio_to_instance_optimal")
#: Trailing bookkeeping columns: how many runs were longer than ``steps`` and cut, and the longest length.
EXTRA_COLUMNS = ("truncated_runs", "steps_longest")

Statistic = Callable[..., Any]


# --------------------------------------------------------------------------- statistics kernels
def statistic_fn(name: str) -> Statistic:
    """The statistic called ``name`` (``mean`` or ``iqm``); anything else is a :class:`UserError`."""
    if name not in STATISTICS:
        raise UserError(f"statistic must be one of {', '.join(STATISTICS)}, got {name!r}")
    return iqm if name == "iqm" else mean


def bootstrap_ci(
    samples: np.ndarray,
    statistic: Statistic = mean,
    reps: int = 2000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of ``statistic`` over the first axis (the seeds).

    One index matrix of shape ``(reps, n)`` is drawn up front; ``statistic`` is then applied to the
    resampled data along axis 1, in blocks of resamples so that memory stays bounded for long curves.
    The result therefore does not depend on the block size, only on ``random_state``.

    Args:
        samples: ``(n,)`` or ``(n, ...)`` — one row per seed; with ``(n, T)`` every column (time point)
            gets its own interval.
        statistic: ``f(x, axis=...)`` reducing the seed axis (``mean``, ``iqm``, or any such function).
        reps: number of resamples.
        confidence: coverage of the interval, in ``(0, 1)``.
        random_state: seed of the resampling (fixed by default, so reports are reproducible).

    Returns:
        ``(low, high)``, each with the shape of ``statistic(samples, axis=0)``. A single seed has no
        spread: both ends are its value.

    Raises:
        ValueError: no samples, ``reps < 1``, or ``confidence`` outside ``(0, 1)``.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"bootstrap needs at least one sample, got shape {x.shape}")
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = x.shape[0]
    if n == 1:
        value = np.asarray(statistic(x, axis=0))
        return value, value.copy()
    idx = np.random.default_rng(random_state).integers(0, n, size=(reps, n))
    block = max(1, _BOOTSTRAP_BLOCK // max(1, x.size))
    stats = np.concatenate(
        [np.asarray(statistic(x[idx[i : i + block]], axis=1)) for i in range(0, reps, block)]
    )
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha], axis=0)
    return lo, hi


# --------------------------------------------------------------------------- loading and alignment
@dataclass
class Group:
    """The runs of one (env, label), cut to a common length and sampled on a time grid."""

    env_id: str
    label: str
    runs: list[RunRecord]
    steps: int
    """``T``: the shortest run's number of recorded steps; every run is cut to it."""
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
class CompareReport:
    """What :func:`compare_runs` produced."""

    rows: list[dict[str, Any]]
    """One row per (env, label): the numbers of ``table.csv`` (:data:`CSV_COLUMNS` and friends)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(run folder, status)`` of the runs left out: not completed, or ``empty`` (< 2 recorded steps)."""
    files: dict[str, Path] = field(default_factory=dict)
    """Written files by name: ``regret.png``, ``regret.svg``, ``table.md``, ``table.csv``, ``report.json``."""
    statistic: str = "mean"
    """The statistic of the plotted lines and bands."""
    aggregate: AggregateReport | None = None
    """Statistics across envs, when asked for (``aggregate=True``)."""

    def to_markdown(self) -> str:
        """The final-regret tables, one per env, plus notes on truncated and skipped runs."""
        return _markdown(self.rows, self.skipped, self.statistic)


def load_groups(
    run_dirs: Iterable[str | Path], include_incomplete: bool = False
) -> tuple[dict[tuple[str, str], list[RunRecord]], list[tuple[str, str]]]:
    """Find the runs under ``run_dirs`` and group them by (env, label).

    The env of a group is its id, followed by the constructor arguments that tell apart runs of the same id
    with different settings (``rl_suite/SORTuning-v0 [shift=low]``), so two instances of one env id in a
    sweep are never pooled.

    Args:
        run_dirs: run folders, or folders searched recursively for runs (:func:`rl_suite.store.find_runs`).
        include_incomplete: also keep interrupted, failed and still-running runs (their curves are cut
            to the shortest run of their group).

    Returns:
        ``(groups, skipped)``: groups sorted by key, each run list sorted by seed; ``skipped`` holds
        ``(path, status)`` of every run left out.

    Raises:
        UserError: a path does not exist or holds no run, or no run is left to compare.
    """
    runs = find_runs(run_dirs)
    allowed = ("completed", *INCOMPLETE) if include_incomplete else ("completed",)
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    skipped: list[tuple[str, str]] = []
    kept: list[RunRecord] = []
    for run in runs:
        status = run.status
        if status not in allowed:
            skipped.append((str(run.path), status))
            continue
        kept.append(run)
    names = env_names(kept)
    for run in kept:
        groups.setdefault((names[str(run.path)], run.label), []).append(run)
    if not groups:
        raise UserError(_nothing_left(skipped))
    return {k: sorted(v, key=lambda r: (r.seed, str(r.path))) for k, v in sorted(groups.items())}, skipped


def env_names(runs: Iterable[RunRecord]) -> dict[str, str]:
    """Name each run's env: its id, plus ``[k=v, ...]`` for the env arguments that differ between runs of it.

    Args:
        runs: the runs to compare.

    Returns:
        ``{run path: env name}``.
    """
    runs = list(runs)
    kwargs: dict[str, dict[str, Any]] = {}
    for run in runs:
        try:
            env = dict(run.config().get("env") or {})
        except (OSError, ValueError):
            env = {}
        env.pop("id", None)
        kwargs[str(run.path)] = {k: repr(v) for k, v in env.items()}
    names: dict[str, str] = {}
    for env_id in {r.env_id for r in runs}:
        same = [r for r in runs if r.env_id == env_id]
        keys = sorted({k for r in same for k in kwargs[str(r.path)]})
        varying = [k for k in keys if len({kwargs[str(r.path)].get(k) for r in same}) > 1]
        for r in same:
            kw = kwargs[str(r.path)]
            extra = ", ".join(f"{k}={kw.get(k, '-')}".replace("'", "") for k in varying)
            names[str(r.path)] = f"{env_id} [{extra}]" if extra else env_id
    return names


def _nothing_left(skipped: list[tuple[str, str]]) -> str:
    counts = _status_counts(skipped)
    if any(s in INCOMPLETE for _, s in skipped):
        return f"no completed runs to compare ({counts}); use --include-incomplete to include unfinished ones"
    return f"no runs with at least 2 recorded steps to compare ({counts})"


def _status_counts(skipped: list[tuple[str, str]]) -> str:
    counts: dict[str, int] = {}
    for _, status in skipped:
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none found"


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


@dataclass
class RunCurves:
    """The two columns a comparison needs from one run's metrics (the rest is dropped on reading)."""

    run: RunRecord
    cumulative_regret: np.ndarray
    violation: np.ndarray | None


def read_curves(run: RunRecord) -> RunCurves:
    """Read the cumulative regret (and violation) columns of one run; a run without metrics is empty."""
    if not (run.path / METRICS).exists():
        return RunCurves(run, np.zeros(0), None)
    try:
        metrics = run.metrics()
    except ValueError as exc:  # np.loadtxt on a malformed row
        raise UserError(f"cannot read {run.path / METRICS}: {exc}") from None
    if "cumulative_regret" not in metrics:
        raise UserError(f"{run.path / METRICS} has no cumulative_regret column")
    return RunCurves(run, metrics["cumulative_regret"], metrics.get("violation"))


def align(env_id: str, label: str, runs: list[RunCurves], log_x: bool) -> Group:
    """Cut a group's runs to the shortest one and sample them on the plotting and exponent grids.

    Args:
        env_id: the group's env.
        label: the group's label.
        runs: each run's curves (every one with at least 2 steps).
        log_x: log-spaced plotting grid.

    Returns:
        The aligned :class:`Group`.
    """
    lengths = [c.cumulative_regret.size for c in runs]
    steps = min(lengths)
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


# --------------------------------------------------------------------------- the table
def _exponent_ci(group: Group, reps: int, random_state: int | None) -> tuple[float, float]:
    """Bootstrap interval of the exponent: resample seeds, average their curves, refit."""

    def exponent_of_mean(x: np.ndarray, axis: int = 0) -> np.ndarray:
        return fit_exponent_at(group.exponent_ts, np.mean(x, axis=axis))

    lo, hi = bootstrap_ci(group.exponent_points, exponent_of_mean, reps, random_state=random_state)
    return float(lo), float(hi)


def _exponent_cell(row: dict[str, Any]) -> str:
    if row["regret_exponent"] is None:
        return "n/a (R(T) ≤ 0)"
    lo, hi = row["regret_exponent_ci_low"], row["regret_exponent_ci_high"]
    return f"{row['regret_exponent']:.2f} [{lo:.2f}, {hi:.2f}]"


def summarise(group: Group, reps: int = 2000, random_state: int | None = 0) -> dict[str, Any]:
    """One table row: final regret (mean, IQM, CIs, std), exponent with CI, wall time, throughput.

    Args:
        group: an aligned group.
        reps: bootstrap resamples.
        random_state: seed of every bootstrap in the row.

    Returns:
        The row as a dict keyed by :data:`CSV_COLUMNS` (+ :data:`VIOLATION_COLUMNS` when the group
        records violations, + :data:`EXTRA_COLUMNS`).
    """
    final = group.curves[:, -1]
    lo, hi = bootstrap_ci(final, mean, reps, random_state=random_state)
    ilo, ihi = bootstrap_ci(final, iqm, reps, random_state=random_state)
    exp_lo, exp_hi = _exponent_ci(group, reps, random_state)
    walls = np.array([float(r.summary.get("wall_time_s") or 0.0) for r in group.runs])
    # Throughput counts every step a run did (not only the common T), over the runs' summed wall time.
    steps_done = sum(
        int(r.summary.get("steps_done") or n) for r, n in zip(group.runs, group.lengths, strict=True)
    )
    row: dict[str, Any] = {
        "env_id": group.env_id,
        "agent": group.label,
        "n_seeds": len(group.runs),
        "steps": group.steps,
        "final_regret_mean": float(final.mean()),
        "final_regret_ci_low": float(lo),
        "final_regret_ci_high": float(hi),
        "final_regret_iqm": float(iqm(final)),
        "final_regret_iqm_ci_low": float(ilo),
        "final_regret_iqm_ci_high": float(ihi),
        "final_regret_std": float(final.std(ddof=1)) if final.size > 1 else 0.0,
        "regret_exponent": float(group.exponent),
        "regret_exponent_ci_low": exp_lo,
        "regret_exponent_ci_high": exp_hi,
        "wall_time_s_mean": float(walls.mean()),
        "steps_per_s": float(steps_done / walls.sum()) if walls.sum() > 0 else None,
    }
    if final.mean() <= 0:
        # A log-log slope needs positive regret; R(T) <= 0 means the agent beat the comparator (an
        # infeasible agent on a constrained env), and no exponent is reported.
        row.update(regret_exponent=None, regret_exponent_ci_low=None, regret_exponent_ci_high=None)
    if group.violations is not None and group.violation_amount is not None:
        vlo, vhi = bootstrap_ci(group.violations, mean, reps, random_state=random_state)
        alo, ahi = bootstrap_ci(group.violation_amount, mean, reps, random_state=random_state)
        row.update(
            violations_mean=float(group.violations.mean()),
            violations_ci_low=float(vlo),
            violations_ci_high=float(vhi),
            violation_amount_mean=float(group.violation_amount.mean()),
            violation_amount_ci_low=float(alo),
            violation_amount_ci_high=float(ahi),
        )
    for key in RUN_TOTALS:
        values = [r.summary.get(key) for r in group.runs]
        if all(isinstance(v, (int, float)) for v in values):
            x = np.asarray(values, dtype=np.float64)
            lo, hi = bootstrap_ci(x, mean, reps, random_state=random_state)
            row.update(
                {f"{key}_mean": float(x.mean()), f"{key}_ci_low": float(lo), f"{key}_ci_high": float(hi)}
            )
    row["truncated_runs"] = int(sum(n > group.steps for n in group.lengths))
    row["steps_longest"] = int(max(group.lengths))
    return row


def _fmt(value: float | None, like: float | None = None) -> str:
    """A number for a table cell: ``12,345``, ``512.3``, ``5.26``, ``0.867``, ``3.1e-05``.

    The number of decimals follows the magnitude of ``like`` (default: ``value`` itself), so that an
    estimate and its interval ends print with the same precision.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        return "0"
    ref = abs(value if like is None or math.isnan(like) else like)
    if ref >= 1000:
        return f"{value:,.0f}"
    if ref >= 10:
        return f"{value:.1f}"
    if ref >= 1:
        return f"{value:.2f}"
    if ref >= 0.01:
        return f"{value:.3f}"
    return f"{value:.2g}"


def _with_ci(row: dict[str, Any], key: str, low: str, high: str) -> str:
    point = row.get(key)
    return f"{_fmt(point)} [{_fmt(row.get(low), point)}, {_fmt(row.get(high), point)}]"


def _total_cell(row: dict[str, Any], key: str) -> str:
    """A run-total cell: ratios with three decimals, counts as integers; ``-`` where the group lacks it."""
    if f"{key}_mean" not in row:
        return "-"
    point, lo, hi = row[f"{key}_mean"], row[f"{key}_ci_low"], row[f"{key}_ci_high"]
    if key.startswith("ratio"):
        return f"{point:.3f} [{lo:.3f}, {hi:.3f}]"
    return f"{point:,.0f} [{lo:,.0f}, {hi:,.0f}]"


def _markdown(rows: list[dict[str, Any]], skipped: list[tuple[str, str]], statistic: str) -> str:
    out = io.StringIO()
    for env_id in sorted({r["env_id"] for r in rows}):
        env_rows = [r for r in rows if r["env_id"] == env_id]
        constrained = any("violations_mean" in r for r in env_rows)
        totals = [k for k in RUN_TOTALS if any(f"{k}_mean" in r for r in env_rows)]
        out.write(f"### {env_id}\n\n")
        head = [
            "agent",
            "seeds",
            "T",
            "final regret, mean [95% CI]",
            "IQM [95% CI]",
            "std",
            "exponent [95% CI]",
            "wall time (s)",
            "steps/s",
        ]
        if constrained:
            head += ["violating steps [95% CI]", "violation amount [95% CI]"]
        head += [f"{k.replace('_', ' ')} [95% CI]" for k in totals]
        out.write("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
        for r in sorted(env_rows, key=lambda r: (r["final_regret_mean"], r["agent"])):
            cells = [
                r["agent"],
                str(r["n_seeds"]),
                f"{r['steps']:,}" + ("*" if r["truncated_runs"] else ""),
                _with_ci(r, "final_regret_mean", "final_regret_ci_low", "final_regret_ci_high"),
                _with_ci(r, "final_regret_iqm", "final_regret_iqm_ci_low", "final_regret_iqm_ci_high"),
                _fmt(r["final_regret_std"]),
                _exponent_cell(r),
                _fmt(r["wall_time_s_mean"]),
                _fmt(r["steps_per_s"]),
            ]
            if constrained:
                cells += [
                    _with_ci(r, "violations_mean", "violations_ci_low", "violations_ci_high"),
                    _with_ci(
                        r, "violation_amount_mean", "violation_amount_ci_low", "violation_amount_ci_high"
                    ),
                ]
            cells += [_total_cell(r, k) for k in totals]
            out.write("| " + " | ".join(cells) + " |\n")
        cut = [r for r in env_rows if r["truncated_runs"]]
        if cut:
            notes = "; ".join(
                f"{r['agent']}: {r['truncated_runs']} of {r['n_seeds']} runs cut from up to "
                f"{r['steps_longest']:,} steps"
                for r in cut
            )
            out.write(f"\n\\* runs of different lengths were cut to the shortest ({notes}).\n")
        out.write("\n")
    out.write(
        f"Curves and bands: {statistic} over seeds with percentile-bootstrap 95 % intervals. The exponent is "
        "the log-log slope of the mean R(t) over the last decade of T (0.5 ~ sqrt(T) regret, 1 = linear).\n"
    )
    if skipped:
        n = len(skipped)
        line = f"\nSkipped {n} run{'s' if n != 1 else ''}: {_status_counts(skipped)}"
        if any(s in INCOMPLETE for _, s in skipped):
            line += " — use --include-incomplete to include unfinished runs"
        if any(s == EMPTY for _, s in skipped):
            line += f" ({EMPTY}: fewer than 2 recorded steps)"
        out.write(line + ".\n")
    return out.getvalue()


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(CSV_COLUMNS)
    if any("violations_mean" in r for r in rows):
        columns += VIOLATION_COLUMNS
    columns += EXTRA_COLUMNS
    columns += [c for r in rows for c in r if c not in columns]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------------- plots
def agent_colors(labels: Iterable[str]) -> dict[str, Any]:
    """A fixed colour per label: ``tab10`` (``tab20`` beyond ten labels) in sorted label order.

    The same label gets the same colour in every panel of a plot, and in every plot of the same labels.
    """
    import matplotlib

    unique = sorted(set(labels))
    cmap = matplotlib.colormaps["tab10" if len(unique) <= 10 else "tab20"]
    return {label: cmap(i % cmap.N) for i, label in enumerate(unique)}


def _count_label(value: float, _pos: Any = None) -> str:
    """Tick label for counts: 2500 -> 2.5k, 1000000 -> 1M."""
    a = abs(value)
    if a >= 1e9:
        return f"{value / 1e9:g}G"
    if a >= 1e6:
        return f"{value / 1e6:g}M"
    if a >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _style_axes(ax: Any, log_x: bool, log_y: bool, y_positive: bool) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.grid(True, which="major", alpha=0.35)
    ax.tick_params(labelsize=10)
    if log_x:
        ax.set_xscale("log")
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(_count_label))
    if log_y and y_positive:
        ax.set_yscale("log", nonpositive="mask")
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(_count_label))


def _band(ax: Any, grid: np.ndarray, center: np.ndarray, lo: np.ndarray, hi: np.ndarray, **kw: Any) -> Any:
    (line,) = ax.plot(grid, center, lw=2.0, **kw)
    ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.22, lw=0)
    return line


def plot_groups(
    groups: list[Group],
    path_png: str | Path,
    path_svg: str | Path | None = None,
    statistic: str = "mean",
    log_x: bool = False,
    log_y: bool = False,
    reps: int = 2000,
    random_state: int | None = 0,
    title: str | None = None,
) -> None:
    """Draw every group's curve with its bootstrap band: one panel per env, legend by label.

    Panels wrap after three envs. When some group records constraint violations, each constrained env's
    panel gets a second panel below it with the cumulative number of violating steps.

    Args:
        groups: aligned groups (any number of envs and labels).
        path_png: where the PNG goes (150 dpi).
        path_svg: where the SVG goes, if anywhere.
        statistic: ``mean`` or ``iqm`` — the line and the band's statistic.
        log_x: logarithmic t axis.
        log_y: logarithmic regret axis (non-positive values are masked).
        reps: bootstrap resamples for the bands.
        random_state: seed of the bands' bootstrap.
        title: figure title.
    """
    from matplotlib.figure import Figure

    stat = statistic_fn(statistic)
    if not groups:
        raise ValueError("plot_groups needs at least one group")
    envs = sorted({g.env_id for g in groups})
    constrained = any(g.violation_curves is not None for g in groups)
    ncols = min(_MAX_COLS, len(envs))
    block = 2 if constrained else 1
    nrows = math.ceil(len(envs) / ncols) * block
    fig = Figure(figsize=(6.2 * ncols, 4.4 * nrows + (0.4 if title else 0.0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    colors = agent_colors(g.label for g in groups)
    for i, env_id in enumerate(envs):
        row, col = (i // ncols) * block, i % ncols
        ax = axes[row, col]
        ax.set_visible(True)
        env_groups = sorted((g for g in groups if g.env_id == env_id), key=lambda g: g.label)
        lines, finals, y_max = [], [], 0.0
        for g in env_groups:
            center = stat(g.curves, axis=0)
            lo, hi = bootstrap_ci(g.curves, stat, reps, random_state=random_state)
            lines.append(
                _band(ax, g.grid, center, lo, hi, color=colors[g.label], label=f"{g.label} (n={len(g.runs)})")
            )
            finals.append(float(center[-1]))
            y_max = max(y_max, float(np.max(hi)))
        ax.set_title(env_id, fontsize=13)
        ax.set_xlabel("rounds t", fontsize=12)
        ax.set_ylabel("cumulative regret R(t)", fontsize=12)
        _style_axes(ax, log_x, log_y, y_positive=y_max > 0)
        # Legend entries top to bottom in the order the curves end, highest regret first.
        order = sorted(range(len(lines)), key=lambda k: -finals[k])
        ax.legend(
            [lines[k] for k in order],
            [lines[k].get_label() for k in order],
            title=f"{statistic} ± 95% CI",
            fontsize=10,
            title_fontsize=10,
            alignment="left",
            loc="upper left",
            framealpha=0.9,
        )
        if not constrained:
            continue
        with_viol = [g for g in env_groups if g.violation_curves is not None]
        if not with_viol:  # an unconstrained env next to constrained ones: its slot stays blank
            continue
        vax = axes[row + 1, col]
        vax.set_visible(True)
        for g in with_viol:
            assert g.violation_curves is not None
            center = stat(g.violation_curves, axis=0)
            lo, hi = bootstrap_ci(g.violation_curves, stat, reps, random_state=random_state)
            _band(vax, g.grid, center, lo, hi, color=colors[g.label], label=g.label)
        vax.legend(fontsize=10, loc="upper left", framealpha=0.9)
        vax.set_title(f"{env_id}: constraint violations", fontsize=13)
        vax.set_xlabel("rounds t", fontsize=12)
        vax.set_ylabel("cumulative violating rounds", fontsize=12)
        _style_axes(vax, log_x, False, y_positive=False)
    if title:
        fig.suptitle(title, fontsize=14)
    fig.savefig(path_png, dpi=150)
    if path_svg is not None:
        fig.savefig(path_svg)


def plot_single_run(run: RunRecord, path: str | Path) -> None:
    """Plot the cumulative-regret curve of one run (logged to wandb at the end of a tracked run).

    Constrained runs get a second panel with cumulative violating steps. A run without recorded steps
    gives an empty panel that says so, rather than an error.

    Args:
        run: the run folder, read back.
        path: the image file to write (format from its suffix, e.g. ``.png``).
    """
    from matplotlib.figure import Figure

    curves = read_curves(run)
    cum = curves.cumulative_regret
    t = np.arange(1, cum.size + 1)
    panels = 2 if curves.violation is not None else 1
    fig = Figure(figsize=(6.4, 4.2 * panels), layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    ax = axes[0]
    ax.plot(t, cum, lw=2, color=agent_colors([run.label])[run.label])
    ax.set_title(f"{run.env_id} · {run.label} · seed {run.seed}", fontsize=12)
    ax.set_xlabel("rounds t", fontsize=11)
    ax.set_ylabel("cumulative regret R(t)", fontsize=11)
    _style_axes(ax, False, False, y_positive=False)
    if cum.size == 0:
        ax.text(0.5, 0.5, "no recorded steps", ha="center", va="center", color="0.45", transform=ax.transAxes)
    if curves.violation is not None:
        axes[1].plot(t, np.cumsum(curves.violation > 0), lw=2, color="tab:red")
        axes[1].set_xlabel("rounds t", fontsize=11)
        axes[1].set_ylabel("cumulative violating rounds", fontsize=11)
        _style_axes(axes[1], False, False, y_positive=False)
    fig.savefig(path, dpi=120)


# --------------------------------------------------------------------------- aggregate across envs
#: Points of the IQM-over-time curve, as fractions of each env's ``T``.
AGGREGATE_POINTS = 50
#: Columns of ``aggregate.csv`` in order.
AGGREGATE_COLUMNS = (
    "agent",
    "n_tasks",
    "runs_per_task",
    "iqm",
    "iqm_ci_low",
    "iqm_ci_high",
    "mean",
    "mean_ci_low",
    "mean_ci_high",
)


@dataclass
class AggregateReport:
    """Statistics across envs (tasks): what ``--aggregate`` adds to a comparison.

    Scores are each run's final cumulative regret (lower is better), divided per env by the reference
    agent's mean when ``normalised_by`` is set. Intervals are stratified percentile bootstraps
    (:mod:`rl_suite.stats`, rliable's estimators).
    """

    tasks: list[str]
    """The envs pooled, in column order of the score matrices."""
    runs_per_task: dict[str, int]
    """Runs per env used for each agent (the fewest it has on any env)."""
    normalised_by: str | None
    rows: list[dict[str, Any]]
    """One row per agent, lowest IQM first (:data:`AGGREGATE_COLUMNS`)."""
    poi: list[dict[str, Any]]
    """``{x, y, p, ci_low, ci_high}``: P(a run of x has lower regret than a run of y on the same env)."""
    fractions: np.ndarray
    """Fractions of ``T`` at which the IQM-over-time curves are evaluated."""
    curves: dict[str, dict[str, list[float]]]
    """agent -> ``{iqm, ci_low, ci_high}`` over ``fractions``."""
    taus: np.ndarray
    """Thresholds of the performance profiles."""
    profiles: dict[str, dict[str, list[float]]]
    """agent -> ``{fraction, ci_low, ci_high}``: share of runs with score <= tau."""
    dropped: list[str] = field(default_factory=list)
    """Agents left out because they lack runs on some env (stratification needs every env)."""
    reps: int = 2000
    random_state: int | None = 0

    def to_markdown(self) -> str:
        """The aggregate table and the probability-of-improvement matrix."""
        return _aggregate_markdown(self)


def aggregate_groups(
    groups: list[Group],
    reps: int = 2000,
    random_state: int | None = 0,
    normalise_by: str | None = None,
) -> AggregateReport:
    """IQM and mean with stratified CIs, P(X < Y), IQM over time and performance profiles across envs.

    Args:
        groups: aligned groups of at least one env; agents are the group labels.
        reps: bootstrap resamples for every interval.
        random_state: seed of every bootstrap.
        normalise_by: divide each env's scores by this agent's mean final regret on that env.

    Returns:
        The :class:`AggregateReport`.

    Raises:
        UserError: no agent has runs on every env, or ``normalise_by`` is not one of them (or has zero
            mean regret on some env).
    """
    from rl_suite import stats

    tasks = sorted({g.env_id for g in groups})
    by_key = {(g.env_id, g.label): g for g in groups}
    labels = sorted({g.label for g in groups})
    agents = [a for a in labels if all((t, a) in by_key for t in tasks)]
    dropped = [a for a in labels if a not in agents]
    if not agents:
        raise UserError(f"--aggregate needs an agent with runs on every env ({', '.join(tasks)}); none has")
    fractions = np.linspace(0.0, 1.0, AGGREGATE_POINTS + 1)[1:]
    finals: dict[str, np.ndarray] = {}
    curves: dict[str, np.ndarray] = {}
    runs_per_task: dict[str, int] = {}
    for a in agents:
        n = min(len(by_key[(t, a)].runs) for t in tasks)
        runs_per_task[a] = n
        finals[a] = np.stack([by_key[(t, a)].curves[:n, -1] for t in tasks], axis=1)
        per_task = []
        for t in tasks:
            g = by_key[(t, a)]
            at = fractions * g.steps
            per_task.append(np.stack([np.interp(at, g.grid, c) for c in g.curves[:n]]))
        curves[a] = np.stack(per_task, axis=1)  # (runs, tasks, points)
    if normalise_by is not None:
        if normalise_by not in agents:
            raise UserError(
                f"--normalise-by {normalise_by!r} is not an agent with runs on every env; "
                f"choose one of: {', '.join(agents)}"
            )
        try:
            finals = stats.normalise(finals, normalise_by)
            curves = stats.normalise(curves, normalise_by)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    rows = []
    for a in agents:
        q = stats.stratified_bootstrap(finals[a], stats.batched_iqm, reps, random_state=random_state)
        m = stats.stratified_bootstrap(finals[a], stats.batched_mean, reps, random_state=random_state)
        rows.append(
            {
                "agent": a,
                "n_tasks": len(tasks),
                "runs_per_task": runs_per_task[a],
                "iqm": float(q.point),
                "iqm_ci_low": float(q.low),
                "iqm_ci_high": float(q.high),
                "mean": float(m.point),
                "mean_ci_low": float(m.low),
                "mean_ci_high": float(m.high),
            }
        )
    rows.sort(key=lambda r: (r["iqm"], r["agent"]))
    order = [r["agent"] for r in rows]
    poi = []
    for x in order:
        for y in order:
            if x == y:
                continue
            iv = stats.probability_of_lower_interval(finals[x], finals[y], reps, random_state=random_state)
            poi.append(
                {"x": x, "y": y, "p": float(iv.point), "ci_low": float(iv.low), "ci_high": float(iv.high)}
            )
    taus = stats.tau_grid(finals)
    curve_out, profile_out = {}, {}
    for a in order:
        c = stats.stratified_bootstrap(curves[a], stats.batched_iqm, reps, random_state=random_state)
        curve_out[a] = {"iqm": c.point.tolist(), "ci_low": c.low.tolist(), "ci_high": c.high.tolist()}
        pr = stats.profile_interval(finals[a], taus, reps, random_state=random_state)
        profile_out[a] = {
            "fraction": pr.point.tolist(),
            "ci_low": pr.low.tolist(),
            "ci_high": pr.high.tolist(),
        }
    return AggregateReport(
        tasks=tasks,
        runs_per_task=runs_per_task,
        normalised_by=normalise_by,
        rows=rows,
        poi=poi,
        fractions=fractions,
        curves=curve_out,
        taus=taus,
        profiles=profile_out,
        dropped=dropped,
        reps=reps,
        random_state=random_state,
    )


def _score_name(agg: AggregateReport) -> str:
    if agg.normalised_by:
        return f"final regret / mean final regret of {agg.normalised_by} on the same env"
    return "final cumulative regret (not normalised)"


def _aggregate_markdown(agg: AggregateReport) -> str:
    out = io.StringIO()
    out.write(f"### Aggregate over {len(agg.tasks)} envs\n\n")
    out.write(f"Score: {_score_name(agg)}; lower is better.\n\n")
    head = ["agent", "envs", "runs/env", "IQM [95% CI]", "mean [95% CI]"]
    out.write("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
    for r in agg.rows:
        cells = [
            r["agent"],
            str(r["n_tasks"]),
            str(r["runs_per_task"]),
            _with_ci(r, "iqm", "iqm_ci_low", "iqm_ci_high"),
            _with_ci(r, "mean", "mean_ci_low", "mean_ci_high"),
        ]
        out.write("| " + " | ".join(cells) + " |\n")
    order = [r["agent"] for r in agg.rows]
    if len(order) > 1:
        cell = {(p["x"], p["y"]): f"{p['p']:.2f} [{p['ci_low']:.2f}, {p['ci_high']:.2f}]" for p in agg.poi}
        out.write("\nP(row has lower regret than column) [95% CI]\n\n")
        out.write("| X \\ Y | " + " | ".join(order) + " |\n|" + "---|" * (len(order) + 1) + "\n")
        for x in order:
            out.write(f"| {x} | " + " | ".join(cell.get((x, y), "-") for y in order) + " |\n")
    out.write(
        "\nIQM = mean of the middle 50 % of all runs of all envs; mean = mean over envs of the mean over "
        "runs. "
        f"Intervals: stratified percentile bootstrap (runs resampled within each env), {agg.reps} resamples, "
        f"random_state={agg.random_state} (Agarwal et al., NeurIPS 2021; rliable's estimators).\n"
    )
    if agg.dropped:
        out.write(f"\nLeft out (no runs on some env): {', '.join(agg.dropped)}.\n")
    return out.getvalue()


def plot_aggregate(agg: AggregateReport, path_png: str | Path, path_svg: str | Path | None = None) -> None:
    """Four panels: IQM and mean with CIs, IQM over time, performance profile, P(X < Y) matrix."""
    from matplotlib.figure import Figure

    order = [r["agent"] for r in agg.rows]
    colors = agent_colors(order)
    fig = Figure(figsize=(13.5, 10.0), layout="constrained")
    (ax_ci, ax_t), (ax_pr, ax_poi) = fig.subplots(2, 2)
    ys = np.arange(len(order))[::-1]
    for y, r in zip(ys, agg.rows, strict=True):
        for dy, key, marker in ((0.15, "iqm", "o"), (-0.15, "mean", "s")):
            ax_ci.plot(
                [r[f"{key}_ci_low"], r[f"{key}_ci_high"]],
                [y + dy] * 2,
                color=colors[r["agent"]],
                lw=6,
                alpha=0.45 if key == "mean" else 0.8,
                solid_capstyle="butt",
            )
            ax_ci.plot(r[key], y + dy, marker, color="k", ms=5)
    ax_ci.set_yticks(ys, order)
    ax_ci.set_title("IQM (upper bar) and mean (lower bar), 95% CI", fontsize=12)
    ax_ci.set_xlabel(_score_name(agg), fontsize=10)
    ax_ci.grid(True, axis="x", alpha=0.35)
    for a in order:
        c = agg.curves[a]
        _band(
            ax_t,
            agg.fractions,
            np.asarray(c["iqm"]),
            np.asarray(c["ci_low"]),
            np.asarray(c["ci_high"]),
            color=colors[a],
            label=a,
        )
    ax_t.set_title("IQM over time (95% CI)", fontsize=12)
    ax_t.set_xlabel("fraction of T", fontsize=10)
    ax_t.set_ylabel("cumulative regret" + (" (normalised)" if agg.normalised_by else ""), fontsize=10)
    ax_t.grid(True, alpha=0.35)
    ax_t.legend(fontsize=9, loc="upper left")
    for a in order:
        p = agg.profiles[a]
        ax_pr.step(agg.taus, p["fraction"], where="post", color=colors[a], lw=2, label=a)
        ax_pr.fill_between(agg.taus, p["ci_low"], p["ci_high"], step="post", color=colors[a], alpha=0.2, lw=0)
    ax_pr.set_title("Performance profile: fraction of runs with score ≤ τ", fontsize=12)
    ax_pr.set_xlabel(
        "τ (" + ("normalised regret" if agg.normalised_by else "final regret") + ")", fontsize=10
    )
    ax_pr.set_ylim(-0.02, 1.02)
    ax_pr.grid(True, alpha=0.35)
    ax_pr.legend(fontsize=9, loc="lower right")
    mat = np.full((len(order), len(order)), np.nan)
    index = {a: i for i, a in enumerate(order)}
    for p in agg.poi:
        mat[index[p["x"]], index[p["y"]]] = p["p"]
    ax_poi.imshow(mat, cmap="RdBu", vmin=0, vmax=1)
    for p in agg.poi:
        i, j = index[p["x"]], index[p["y"]]
        ax_poi.text(
            j,
            i,
            f"{p['p']:.2f}\n[{p['ci_low']:.2f}, {p['ci_high']:.2f}]",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if abs(p["p"] - 0.5) > 0.3 else "black",
        )
    ax_poi.set_xticks(range(len(order)), order, rotation=30, ha="right")
    ax_poi.set_yticks(range(len(order)), order)
    ax_poi.set_title("P(row has lower regret than column)", fontsize=12)
    fig.suptitle(f"Aggregate over {len(agg.tasks)} envs · {_score_name(agg)}", fontsize=13)
    fig.savefig(path_png, dpi=150)
    if path_svg is not None:
        fig.savefig(path_svg)


def write_aggregate(agg: AggregateReport, out: Path) -> dict[str, Path]:
    """Write ``aggregate.{md,csv,json,png,svg}`` and ``poi.csv`` into ``out``; returns them by name."""
    files = {
        name: out / name
        for name in (
            "aggregate.png",
            "aggregate.svg",
            "aggregate.md",
            "aggregate.csv",
            "poi.csv",
            "aggregate.json",
        )
    }
    plot_aggregate(agg, files["aggregate.png"], files["aggregate.svg"])
    files["aggregate.md"].write_text(agg.to_markdown(), encoding="utf-8")
    with files["aggregate.csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(AGGREGATE_COLUMNS))
        writer.writeheader()
        writer.writerows(agg.rows)
    with files["poi.csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["x", "y", "p", "ci_low", "ci_high"])
        writer.writeheader()
        writer.writerows(agg.poi)
    write_json(
        files["aggregate.json"],
        {
            "score": _score_name(agg),
            "normalised_by": agg.normalised_by,
            "tasks": agg.tasks,
            "runs_per_task": agg.runs_per_task,
            "confidence": 0.95,
            "reps": agg.reps,
            "random_state": agg.random_state,
            "rows": agg.rows,
            "probability_of_improvement": agg.poi,
            "iqm_over_time": {"fractions": agg.fractions.tolist(), "agents": agg.curves},
            "performance_profile": {"taus": agg.taus.tolist(), "agents": agg.profiles},
            "dropped": agg.dropped,
        },
    )
    return files


# --------------------------------------------------------------------------- entry point
def compare_runs(
    run_dirs: Iterable[str | Path],
    out_dir: str | Path,
    *,
    statistic: str = "mean",
    log_x: bool = False,
    log_y: bool = False,
    include_incomplete: bool = False,
    reps: int = 2000,
    random_state: int | None = 0,
    title: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    aggregate: bool = False,
    normalise_by: str | None = None,
) -> CompareReport:
    """Compare every run under ``run_dirs`` and write plots and tables into ``out_dir``.

    Writes ``regret.png`` and ``regret.svg`` (curves with bootstrap 95 % bands), ``table.md`` and
    ``table.csv`` (one row per (env, label)), and ``report.json`` (the rows, the skipped runs and the
    run folders used).

    Args:
        run_dirs: run folders, or folders searched recursively for runs.
        out_dir: the report folder (created).
        statistic: ``mean`` or ``iqm`` — the plotted line and band (the table has both).
        log_x: logarithmic t axis (and log-spaced curve sampling).
        log_y: logarithmic regret axis.
        include_incomplete: also use interrupted, failed and running runs.
        reps: bootstrap resamples for every interval.
        random_state: seed of every bootstrap (reports are reproducible).
        title: figure title.
        progress: ``progress(done, total)`` is called as each group is read and summarised.
        aggregate: also write statistics across envs (:func:`aggregate_groups`): ``aggregate.md``,
            ``aggregate.csv``, ``poi.csv``, ``aggregate.json``, ``aggregate.png`` and ``aggregate.svg``.
        normalise_by: with ``aggregate``, divide each env's regrets by this agent's mean on that env.

    Returns:
        The :class:`CompareReport`.

    Raises:
        UserError: a path does not exist or holds no run, no run is left to compare, a metrics file is
            unreadable, or ``statistic``/``reps`` is invalid.
    """
    statistic_fn(statistic)
    if reps < 1:
        raise UserError(f"reps must be >= 1, got {reps}")
    if normalise_by is not None and not aggregate:
        raise UserError("--normalise-by applies to the aggregate report; add --aggregate")
    grouped, skipped = load_groups(run_dirs, include_incomplete)
    groups: list[Group] = []
    rows: list[dict[str, Any]] = []
    for i, ((env_id, label), runs) in enumerate(grouped.items()):
        curves = []
        for run in runs:
            c = read_curves(run)
            if c.cumulative_regret.size < 2:
                skipped.append((str(run.path), EMPTY))
            else:
                curves.append(c)
        if curves:
            groups.append(align(env_id, label, curves, log_x))
            rows.append(summarise(groups[-1], reps, random_state))
        if progress is not None:
            progress(i + 1, len(grouped))
    if not groups:
        raise UserError(_nothing_left(skipped))
    # The aggregate is computed first, so that a bad --normalise-by fails before any file is written.
    agg = aggregate_groups(groups, reps, random_state, normalise_by) if aggregate else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        name: out / name for name in ("regret.png", "regret.svg", "table.md", "table.csv", "report.json")
    }
    plot_groups(
        groups, files["regret.png"], files["regret.svg"], statistic, log_x, log_y, reps, random_state, title
    )
    report = CompareReport(rows=rows, skipped=skipped, files=files, statistic=statistic, aggregate=agg)
    if agg is not None:
        files.update(write_aggregate(agg, out))
    files["table.md"].write_text(report.to_markdown(), encoding="utf-8")
    _write_csv(files["table.csv"], rows)
    write_json(
        files["report.json"],
        {
            "statistic": statistic,
            "confidence": 0.95,
            "reps": reps,
            "random_state": random_state,
            "rows": rows,
            "skipped": [{"path": p, "status": s} for p, s in skipped],
            "runs": [
                {"env_id": g.env_id, "agent": g.label, "paths": [str(r.path) for r in g.runs]} for g in groups
            ],
        },
    )
    return report


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a ``report.json`` written by :func:`compare_runs`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
