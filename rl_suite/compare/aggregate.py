"""Statistics across envs (``--aggregate``): IQM and mean with stratified CIs, P(X < Y), profiles.

The estimators are those of Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical
Precipice", NeurIPS 2021 (rliable's), computed by :mod:`rl_suite.stats`: the same stratified percentile
bootstrap (Efron & Tibshirani 1993) that gives the per-env intervals of the table, with one stratum per env.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl_suite import stats
from rl_suite.compare.loading import Group
from rl_suite.compare.plots import agent_colors, band
from rl_suite.compare.tables import with_ci
from rl_suite.errors import UserError
from rl_suite.store import write_json

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
    rows: list[dict[str, Any]] = []
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
            with_ci(r, "iqm", "iqm_ci_low", "iqm_ci_high"),
            with_ci(r, "mean", "mean_ci_low", "mean_ci_high"),
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
        band(
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
    for cell in agg.poi:
        mat[index[cell["x"]], index[cell["y"]]] = cell["p"]
    ax_poi.imshow(mat, cmap="RdBu", vmin=0, vmax=1)
    for cell in agg.poi:
        i, j = index[cell["x"]], index[cell["y"]]
        ax_poi.text(
            j,
            i,
            f"{cell['p']:.2f}\n[{cell['ci_low']:.2f}, {cell['ci_high']:.2f}]",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if abs(cell["p"] - 0.5) > 0.3 else "black",
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
