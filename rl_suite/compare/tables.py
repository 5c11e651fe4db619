"""Summaries of aligned rows: final regret at the env's common ``T`` with bootstrap CIs, markdown and CSV.

Every interval is a percentile bootstrap over seeds (Efron & Tibshirani 1993) from the one engine of
:mod:`rl_suite.stats` (:func:`rl_suite.stats.bootstrap_ci`); the interquartile mean follows Agarwal et al.,
"Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rl_suite.compare.loading import EMPTY, INCOMPLETE, INCOMPLETE_METRICS, Group, status_counts
from rl_suite.errors import UserError
from rl_suite.regret import fit_exponent_at
from rl_suite.stats import bootstrap_ci, iqm, mean

#: Line and band statistics ``compare_runs`` accepts.
STATISTICS = ("mean", "iqm")

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


def statistic_fn(name: str) -> Statistic:
    """The statistic called ``name`` (``mean`` or ``iqm``); anything else is a :class:`UserError`."""
    if name not in STATISTICS:
        raise UserError(f"statistic must be one of {', '.join(STATISTICS)}, got {name!r}")
    return iqm if name == "iqm" else mean


def _exponent_ci(group: Group, reps: int, random_state: int | None) -> tuple[float, float]:
    """Bootstrap interval of the exponent: resample seeds (whole curves), average their curves, refit."""

    def exponent_of_mean(x: np.ndarray, axis: int = 0) -> np.ndarray:
        return fit_exponent_at(group.exponent_ts, np.mean(x, axis=axis))

    lo, hi = bootstrap_ci(group.exponent_points, exponent_of_mean, reps, random_state=random_state)
    return float(lo), float(hi)


def summarise(group: Group, reps: int = 2000, random_state: int | None = 0) -> dict[str, Any]:
    """One table row: final regret at ``T`` (mean, IQM, CIs, std), exponent with CI, wall time, throughput.

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


# --------------------------------------------------------------------------- markdown
def fmt(value: float | None, like: float | None = None) -> str:
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


def with_ci(row: dict[str, Any], key: str, low: str, high: str) -> str:
    """``point [low, high]`` of a row, the ends printed with the point's precision."""
    point = row.get(key)
    return f"{fmt(point)} [{fmt(row.get(low), point)}, {fmt(row.get(high), point)}]"


def _exponent_cell(row: dict[str, Any]) -> str:
    if row["regret_exponent"] is None:
        return "n/a (R(T) ≤ 0)"
    lo, hi = row["regret_exponent_ci_low"], row["regret_exponent_ci_high"]
    return f"{row['regret_exponent']:.2f} [{lo:.2f}, {hi:.2f}]"


def _total_cell(row: dict[str, Any], key: str) -> str:
    """A run-total cell: ratios with three decimals, counts as integers; ``-`` where the group lacks it."""
    if f"{key}_mean" not in row:
        return "-"
    point, lo, hi = row[f"{key}_mean"], row[f"{key}_ci_low"], row[f"{key}_ci_high"]
    if key.startswith("ratio"):
        return f"{point:.3f} [{lo:.3f}, {hi:.3f}]"
    return f"{point:,.0f} [{lo:,.0f}, {hi:,.0f}]"


def _t_line(env_rows: list[dict[str, Any]]) -> str:
    """The header line that says at which ``T`` every row of an env reports its final regret."""
    steps = env_rows[0]["steps"]
    longest = max(r["steps_longest"] for r in env_rows)
    line = f"Final regret at T = {steps:,} for every row"
    if longest > steps:
        line += f"; its runs have {steps:,} to {longest:,} steps, so all are cut to the common T = {steps:,}"
    return line + ".\n\n"


def markdown(
    rows: list[dict[str, Any]], skipped: list[tuple[str, str]], statistic: str, notes: list[str] | None = None
) -> str:
    """The final-regret tables, one per env, then the runs cut, left out, or used only in part.

    Args:
        rows: the table rows (:func:`summarise`).
        skipped: ``(path, kind)`` of every run left out.
        statistic: the plotted statistic (named in the closing line).
        notes: one line per run left out for a reason beyond its status, or used only in part.
    """
    out = io.StringIO()
    for env_id in sorted({r["env_id"] for r in rows}):
        env_rows = [r for r in rows if r["env_id"] == env_id]
        constrained = any("violations_mean" in r for r in env_rows)
        totals = [k for k in RUN_TOTALS if any(f"{k}_mean" in r for r in env_rows)]
        out.write(f"### {env_id}\n\n")
        out.write(_t_line(env_rows))
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
                with_ci(r, "final_regret_mean", "final_regret_ci_low", "final_regret_ci_high"),
                with_ci(r, "final_regret_iqm", "final_regret_iqm_ci_low", "final_regret_iqm_ci_high"),
                fmt(r["final_regret_std"]),
                _exponent_cell(r),
                fmt(r["wall_time_s_mean"]),
                fmt(r["steps_per_s"]),
            ]
            if constrained:
                cells += [
                    with_ci(r, "violations_mean", "violations_ci_low", "violations_ci_high"),
                    with_ci(
                        r, "violation_amount_mean", "violation_amount_ci_low", "violation_amount_ci_high"
                    ),
                ]
            cells += [_total_cell(r, k) for k in totals]
            out.write("| " + " | ".join(cells) + " |\n")
        cut = [r for r in env_rows if r["truncated_runs"]]
        if cut:
            lines = "; ".join(
                f"{r['agent']}: {r['truncated_runs']} of {r['n_seeds']} runs cut from up to "
                f"{r['steps_longest']:,} steps"
                for r in cut
            )
            out.write(f"\n\\* runs of different lengths were cut to the shortest ({lines}).\n")
        out.write("\n")
    out.write(
        f"Curves and bands: {statistic} over seeds with percentile-bootstrap 95 % intervals. The exponent is "
        "the log-log slope of the mean R(t) over the last decade of T (0.5 ~ sqrt(T) regret, 1 = linear).\n"
    )
    if skipped:
        n = len(skipped)
        line = f"\nSkipped {n} run{'s' if n != 1 else ''}: {status_counts(skipped)}"
        if any(s in INCOMPLETE or s == INCOMPLETE_METRICS for _, s in skipped):
            line += " — use --include-incomplete to include unfinished runs"
        if any(s == EMPTY for _, s in skipped):
            line += f" ({EMPTY}: fewer than 2 recorded steps)"
        out.write(line + ".\n")
    if notes:
        out.write("\n" + "".join(f"- {n}\n" for n in notes))
    return out.getvalue()


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``table.csv``: :data:`CSV_COLUMNS` (+ violation, extra and run-total columns), one row each."""
    columns = list(CSV_COLUMNS)
    if any("violations_mean" in r for r in rows):
        columns += VIOLATION_COLUMNS
    columns += EXTRA_COLUMNS
    columns += [c for r in rows for c in r if c not in columns]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
