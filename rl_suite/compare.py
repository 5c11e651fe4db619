"""Compare runs: cumulative-regret curves with bootstrap bands, a final-regret table, regret exponents.

Runs are grouped by (env id, label) — the label is the agent name unless the run config set one. Within a
group every run is cut to the shortest run's length ``T``; curves are evaluated on at most
:data:`GRID_POINTS` times so that plotting and bootstrapping stay cheap for long runs. Confidence
intervals are percentile bootstraps over seeds (Efron & Tibshirani 1993); the interquartile mean (IQM,
the 25 % trimmed mean) follows Agarwal et al., "Deep RL at the Edge of the Statistical Precipice",
NeurIPS 2021. The regret exponent is the log–log slope of the mean curve over the last decade of ``T``
(:func:`rl_suite.regret.fit_regret_exponent`).

matplotlib and scipy are imported inside the functions, so ``import rl_suite.compare`` stays light.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl_suite.errors import UserError
from rl_suite.regret import exponent_grid, fit_exponent_at
from rl_suite.store import RunRecord, find_runs, write_json

#: Most points a curve is evaluated at (plots and bands).
GRID_POINTS = 400
#: Bootstrap resamples for the exponent's interval (each one is a small least-squares fit).
EXPONENT_REPS = 500
STATISTICS = ("mean", "iqm")

Statistic = Callable[..., np.ndarray]


# --------------------------------------------------------------------------- statistics kernels
def iqm(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50 % (``scipy.stats.trim_mean(x, 0.25)``)."""
    from scipy.stats import trim_mean

    return np.asarray(trim_mean(np.asarray(x, dtype=np.float64), 0.25, axis=axis))


def mean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Arithmetic mean along ``axis``."""
    return np.asarray(np.mean(np.asarray(x, dtype=np.float64), axis=axis))


def statistic_fn(name: str) -> Statistic:
    """The statistic called ``name`` (``mean`` or ``iqm``)."""
    if name not in STATISTICS:
        raise UserError(f"statistic must be one of {', '.join(STATISTICS)}, got {name!r}")
    return iqm if name == "iqm" else mean


def bootstrap_ci(
    samples: np.ndarray,
    statistic: Statistic = mean,
    reps: int = 2000,
    confidence: float = 0.95,
    random_state: int | None = 0,
    chunk: int = 250,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of ``statistic`` over the first axis (the seeds).

    Args:
        samples: ``(n,)`` or ``(n, m)`` — one row per seed; with ``(n, m)`` every column gets its interval.
        statistic: reduces along ``axis`` (``mean``, ``iqm`` or any ``f(x, axis=...)``).
        reps: number of resamples.
        confidence: coverage of the interval.
        random_state: seed of the resampling (fixed by default, so reports are reproducible).
        chunk: resamples drawn at a time (bounds memory for long curves).

    Returns:
        ``(low, high)`` with the shape of ``statistic(samples, axis=0)``. A single seed gives a zero-width
        interval at its value.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"bootstrap needs at least one sample, got shape {x.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = x.shape[0]
    if n == 1:
        value = statistic(x, axis=0)
        return value, value.copy()
    rng = np.random.default_rng(random_state)
    stats = []
    for start in range(0, reps, chunk):
        idx = rng.integers(0, n, size=(min(chunk, reps - start), n))
        stats.append(statistic(x[idx], axis=1))
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(np.concatenate(stats), [alpha, 1.0 - alpha], axis=0)
    return lo, hi


# --------------------------------------------------------------------------- loading and alignment
@dataclass
class Group:
    """Runs of one (env, label) cut to a common length."""

    env_id: str
    label: str
    runs: list[RunRecord]
    steps: int
    lengths: list[int]
    grid: np.ndarray
    curves: np.ndarray
    """``(n_seeds, len(grid))`` cumulative regret at the grid times."""
    exponent_points: np.ndarray
    """``(n_seeds, m)`` cumulative regret at the exponent fit's times."""
    exponent_ts: np.ndarray
    violations: np.ndarray | None = None
    """``(n_seeds,)`` number of violating steps up to ``steps`` (constrained envs)."""
    violation_amount: np.ndarray | None = None
    violation_curves: np.ndarray | None = None


@dataclass
class CompareReport:
    """What :func:`compare_runs` produced."""

    rows: list[dict[str, Any]]
    """One row per (env, agent): the numbers of ``table.csv``."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(run folder, status)`` of runs left out because they are not completed."""
    files: dict[str, Path] = field(default_factory=dict)
    """Written files by name: ``regret.png``, ``regret.svg``, ``table.md``, ``table.csv``, ``report.json``."""
    statistic: str = "mean"

    def to_markdown(self) -> str:
        """The final-regret tables, one per env, plus a note on skipped runs."""
        return _markdown(self.rows, self.skipped, self.statistic)


def load_groups(
    run_dirs: Iterable[str | Path], include_incomplete: bool = False
) -> tuple[dict[tuple[str, str], list[RunRecord]], list[tuple[str, str]]]:
    """Find runs and group them by (env id, label); incomplete runs are skipped unless asked for."""
    runs = find_runs(run_dirs)
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    skipped: list[tuple[str, str]] = []
    for run in runs:
        status = run.status
        if status != "completed" and not (include_incomplete and status in ("interrupted", "failed")):
            skipped.append((str(run.path), status))
            continue
        groups.setdefault((run.env_id, run.label), []).append(run)
    if not groups:
        counts = _status_counts(skipped)
        raise UserError(
            f"no completed runs to compare ({counts}); use --include-incomplete to use unfinished ones"
        )
    return dict(sorted(groups.items())), skipped


def _status_counts(skipped: list[tuple[str, str]]) -> str:
    counts: dict[str, int] = {}
    for _, status in skipped:
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none found"


def time_grid(steps: int, log_x: bool, points: int = GRID_POINTS) -> np.ndarray:
    """At most ``points`` 1-based times in ``[1, steps]``, log- or linearly spaced, ending at ``steps``."""
    raw = np.geomspace(1, steps, points) if log_x else np.linspace(1, steps, points)
    return np.unique(np.concatenate([np.round(raw).astype(np.int64), [steps]]))


def align(env_id: str, label: str, runs: list[RunRecord], log_x: bool) -> Group:
    """Read a group's metrics and cut every run to the shortest one."""
    metrics = [r.metrics() for r in runs]
    lengths = [m["cumulative_regret"].size for m in metrics]
    steps = min(lengths)
    if steps < 2:
        raise UserError(f"{env_id} / {label}: a run has fewer than 2 recorded steps ({runs[0].path})")
    grid = time_grid(steps, log_x)
    ts = exponent_grid(steps)
    curves = np.stack([m["cumulative_regret"][grid - 1] for m in metrics])
    points = np.stack([m["cumulative_regret"][ts - 1] for m in metrics])
    group = Group(env_id, label, runs, steps, lengths, grid, curves, points, ts)
    if all("violation" in m for m in metrics):
        viol = [m["violation"][:steps] for m in metrics]
        group.violations = np.array([(v > 0).sum() for v in viol], dtype=np.float64)
        group.violation_amount = np.array([v.sum() for v in viol])
        group.violation_curves = np.stack([np.cumsum(v > 0)[grid - 1] for v in viol])
    return group


# --------------------------------------------------------------------------- the table
def _exponent_ci(group: Group, reps: int, random_state: int | None) -> tuple[float, float, float]:
    point = fit_exponent_at(group.exponent_ts, group.exponent_points.mean(axis=0))
    n = group.exponent_points.shape[0]
    if n == 1:
        return point, point, point
    rng = np.random.default_rng(random_state)
    idx = rng.integers(0, n, size=(reps, n))
    resampled = group.exponent_points[idx].mean(axis=1)  # (reps, m)
    fits = np.array([fit_exponent_at(group.exponent_ts, row) for row in resampled])
    lo, hi = np.quantile(fits, [0.025, 0.975])
    return point, float(lo), float(hi)


def summarise(group: Group, reps: int, random_state: int | None) -> dict[str, Any]:
    """One table row: final regret (mean, IQM, CIs, std), exponent with CI, wall time, throughput."""
    final = group.curves[:, -1]
    lo, hi = bootstrap_ci(final, mean, reps, random_state=random_state)
    ilo, ihi = bootstrap_ci(final, iqm, reps, random_state=random_state)
    exp, exp_lo, exp_hi = _exponent_ci(group, min(reps, EXPONENT_REPS), random_state)
    walls = np.array([float(r.summary.get("wall_time_s") or 0.0) for r in group.runs])
    steps_done = sum(int(r.summary.get("steps_done") or 0) for r in group.runs)
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
        "regret_exponent": exp,
        "regret_exponent_ci_low": exp_lo,
        "regret_exponent_ci_high": exp_hi,
        "wall_time_s_mean": float(walls.mean()),
        "steps_per_s": float(steps_done / walls.sum()) if walls.sum() > 0 else None,
        "truncated_runs": int(sum(n > group.steps for n in group.lengths)),
    }
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
    return row


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _markdown(rows: list[dict[str, Any]], skipped: list[tuple[str, str]], statistic: str) -> str:
    out = io.StringIO()
    for env_id in sorted({r["env_id"] for r in rows}):
        env_rows = [r for r in rows if r["env_id"] == env_id]
        constrained = any("violations_mean" in r for r in env_rows)
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
            head += ["violations [95% CI]", "violation amount"]
        out.write("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
        for r in sorted(env_rows, key=lambda r: r["final_regret_mean"]):
            cells = [
                r["agent"],
                str(r["n_seeds"]),
                f"{r['steps']:,}" + ("*" if r["truncated_runs"] else ""),
                f"{_fmt(r['final_regret_mean'])} [{_fmt(r['final_regret_ci_low'])}, "
                f"{_fmt(r['final_regret_ci_high'])}]",
                f"{_fmt(r['final_regret_iqm'])} [{_fmt(r['final_regret_iqm_ci_low'])}, "
                f"{_fmt(r['final_regret_iqm_ci_high'])}]",
                _fmt(r["final_regret_std"]),
                f"{r['regret_exponent']:.2f} [{r['regret_exponent_ci_low']:.2f}, "
                f"{r['regret_exponent_ci_high']:.2f}]",
                _fmt(r["wall_time_s_mean"]),
                _fmt(r["steps_per_s"]),
            ]
            if constrained:
                cells += [
                    f"{_fmt(r.get('violations_mean'))} [{_fmt(r.get('violations_ci_low'))}, "
                    f"{_fmt(r.get('violations_ci_high'))}]",
                    _fmt(r.get("violation_amount_mean")),
                ]
            out.write("| " + " | ".join(cells) + " |\n")
        if any(r["truncated_runs"] for r in env_rows):
            out.write("\n\\* runs of different lengths were cut to the shortest.\n")
        out.write("\n")
    out.write(
        f"Curves and bands: {statistic} over seeds with percentile-bootstrap 95 % intervals; the exponent is "
        "the log-log slope of the mean R(t) over the last decade of T.\n"
    )
    if skipped:
        out.write(
            f"\nSkipped {len(skipped)} run(s) that did not complete ({_status_counts(skipped)}); "
            "use --include-incomplete to include them.\n"
        )
    return out.getvalue()


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------------- plots
def _colors(labels: list[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"] if len(labels) <= 10 else matplotlib.colormaps["tab20"]
    return {label: cmap(i % cmap.N) for i, label in enumerate(sorted(labels))}


def plot_groups(
    groups: list[Group],
    path_png: Path,
    path_svg: Path | None,
    statistic: str = "mean",
    log_x: bool = False,
    log_y: bool = False,
    reps: int = 2000,
    random_state: int | None = 0,
    title: str | None = None,
) -> None:
    """One panel per env: each label's curve with its bootstrap band; a violations row when present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stat = statistic_fn(statistic)
    envs = sorted({g.env_id for g in groups})
    constrained = any(g.violation_curves is not None for g in groups)
    nrows = 2 if constrained else 1
    ncols = len(envs)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(6.4 * ncols, 4.6 * nrows), squeeze=False, constrained_layout=True
    )
    colors = _colors([g.label for g in groups])
    for col, env_id in enumerate(envs):
        ax = axes[0, col]
        for g in sorted((g for g in groups if g.env_id == env_id), key=lambda g: g.label):
            center = stat(g.curves, axis=0)
            lo, hi = bootstrap_ci(g.curves, stat, reps, random_state=random_state)
            ax.plot(g.grid, center, color=colors[g.label], lw=2, label=f"{g.label} (n={len(g.runs)})")
            ax.fill_between(g.grid, lo, hi, color=colors[g.label], alpha=0.2, lw=0)
            if constrained and g.violation_curves is not None:
                vax = axes[1, col]
                vcenter = stat(g.violation_curves, axis=0)
                vlo, vhi = bootstrap_ci(g.violation_curves, stat, reps, random_state=random_state)
                vax.plot(g.grid, vcenter, color=colors[g.label], lw=2, label=g.label)
                vax.fill_between(g.grid, vlo, vhi, color=colors[g.label], alpha=0.2, lw=0)
        ax.set_title(env_id, fontsize=12)
        ax.set_xlabel("rounds t", fontsize=11)
        ax.set_ylabel(f"cumulative regret R(t), {statistic} ± 95% CI", fontsize=11)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9, loc="upper left")
        _axes_scale(ax, log_x, log_y)
        if constrained:
            vax = axes[1, col]
            vax.set_title(f"{env_id}: constraint violations", fontsize=12)
            vax.set_xlabel("rounds t", fontsize=11)
            vax.set_ylabel("cumulative violating rounds", fontsize=11)
            vax.grid(True, alpha=0.3)
            _axes_scale(vax, log_x, False)
    if title:
        fig.suptitle(title, fontsize=13)
    fig.savefig(path_png, dpi=150)
    if path_svg is not None:
        fig.savefig(path_svg)
    plt.close(fig)


def _axes_scale(ax: Any, log_x: bool, log_y: bool) -> None:
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("symlog", linthresh=1.0)


def plot_single_run(run: RunRecord, path: str | Path) -> None:
    """The cumulative-regret curve of one run (logged to wandb at the end of a tracked run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = run.metrics()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    ax.plot(m["step"], m["cumulative_regret"], lw=2, color="tab:blue")
    ax.set_title(f"{run.env_id} · {run.label} · seed {run.seed}", fontsize=11)
    ax.set_xlabel("rounds t")
    ax.set_ylabel("cumulative regret R(t)")
    ax.grid(True, alpha=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
) -> CompareReport:
    """Compare every run under ``run_dirs`` and write plots and tables into ``out_dir``.

    Writes ``regret.png``, ``regret.svg``, ``table.md``, ``table.csv`` and ``report.json``.
    ``progress(done, total)`` is called as each (env, agent) group is read and summarised.

    Raises:
        UserError: a path does not exist, holds no run, or no run completed.
    """
    statistic_fn(statistic)
    grouped, skipped = load_groups(run_dirs, include_incomplete)
    groups, rows = [], []
    for i, ((env_id, label), runs) in enumerate(grouped.items()):
        groups.append(align(env_id, label, runs, log_x))
        rows.append(summarise(groups[-1], reps, random_state))
        if progress is not None:
            progress(i + 1, len(grouped))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        name: out / name for name in ("regret.png", "regret.svg", "table.md", "table.csv", "report.json")
    }
    plot_groups(
        groups, files["regret.png"], files["regret.svg"], statistic, log_x, log_y, reps, random_state, title
    )
    report = CompareReport(rows=rows, skipped=skipped, files=files, statistic=statistic)
    files["table.md"].write_text(report.to_markdown(), encoding="utf-8")
    _write_csv(files["table.csv"], rows)
    write_json(
        files["report.json"],
        {
            "statistic": statistic,
            "rows": rows,
            "skipped": [{"path": p, "status": s} for p, s in skipped],
            "runs": {f"{g.env_id} / {g.label}": [str(r.path) for r in g.runs] for g in groups},
        },
    )
    return report


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a ``report.json`` written by :func:`compare_runs`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
