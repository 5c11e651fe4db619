"""Exact learning curves: policy regret ``V* − V^π`` of the current greedy policy against env steps.

``rl-suite compare --metric policy_regret`` reads each run's ``evaluations.csv`` (written when the run had
``eval_every`` set; see :mod:`rl_suite.evaluation`) and draws, per env, one curve per agent with a bootstrap
95 % band over seeds (:func:`rl_suite.stats.bootstrap_ci`). Runs are found, deduplicated and grouped
exactly as for regret (:func:`rl_suite.compare.loading.load_runs`); a run without evaluations is left out
with a one-line reason. Curves of a row are cut to the evaluation steps every run of the row has, up to
the env's common ``T``.

The table gives, per (env, agent): the final policy regret (statistic and 95 % CI) and **steps-to-ε** —
the first evaluated step with ``policy_regret <= ε·(V* − V^unif)`` (ε: the runs' ``eval_epsilon``): its
median over seeds with a bootstrap 95 % CI (a seed that never reached it counts as ``inf``), and the
fraction of seeds that reached it. With ``aggregate=True`` the envs are pooled per agent: the final policy
regret normalised by ``V* − V^unif`` (0 optimal, 1 uniformly random), IQM and mean with 95 % CIs over runs
stratified by env (:func:`rl_suite.stats.stratified_bootstrap`), and the fraction of runs that reached ε.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl_suite.compare.loading import LeftOut, common_steps, load_runs, report_entries
from rl_suite.compare.plots import _style_axes, agent_colors, band
from rl_suite.compare.tables import statistic_fn
from rl_suite.errors import UserError
from rl_suite.stats import bootstrap_ci, iqm
from rl_suite.store import EVALUATIONS, RunRecord, read_metrics, write_json

#: Files a policy-regret comparison writes, by name.
LEARNING_FILES = ("policy_regret.png", "policy_regret.svg", "table.md", "table.csv", "report.json")
#: Where a run left out for lack of evaluations is told to look.
NO_EVALUATIONS = "no evaluations"


@dataclass
class LearningRow:
    """The evaluated runs of one (env, agent) row."""

    env_id: str
    label: str
    runs: list[RunRecord]
    steps: np.ndarray
    """Evaluation steps common to every run of the row."""
    curves: np.ndarray
    """``(n_seeds, len(steps))`` policy regret."""
    scales: np.ndarray
    """``(n_seeds,)`` ``V* − V^unif`` of each run (NaN where the run did not record it)."""
    reached: np.ndarray
    """``(n_seeds,)`` steps-to-ε of each run (``inf``: not within the row's steps)."""
    epsilon: float
    violations: np.ndarray | None = None
    """``(n_seeds,)`` mean constraint violation of each run's last evaluated policy (constrained bandits)."""


@dataclass
class LearningReport:
    """What :func:`compare_policy_regret` produced."""

    rows: list[dict[str, Any]]
    left_out: list[LeftOut] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    statistic: str = "mean"
    aggregate_rows: list[dict[str, Any]] | None = None

    @property
    def aggregate(self) -> None:
        """The regret comparison's aggregate report: none here (see :attr:`aggregate_rows`)."""
        return None

    def to_markdown(self) -> str:
        """One table per env: final policy regret and steps-to-ε; then the aggregate and notes."""
        out: list[str] = []
        for env in sorted({r["env"] for r in self.rows}):
            out += [
                f"### {env} — exact policy regret V* − V^π",
                "",
                f"| agent | seeds | last step | final policy regret ({self.statistic}) | 95% CI "
                "| steps-to-ε (median) | 95% CI | reached | ε |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for r in (x for x in self.rows if x["env"] == env):
                out.append(
                    f"| {r['agent']} | {r['seeds']} | {r['last_step']} | {r['final_policy_regret']:.4g} "
                    f"| [{r['final_low']:.4g}, {r['final_high']:.4g}] | {_steps(r['steps_to_epsilon'])} "
                    f"| [{_steps(r['steps_low'])}, {_steps(r['steps_high'])}] "
                    f"| {r['reached']}/{r['seeds']} | {r['epsilon']:g} |"
                )
            out.append("")
            constrained = [x for x in self.rows if x["env"] == env and "final_policy_violation" in x]
            if constrained:
                out += [
                    f"Final policy's mean violation max(0, E_π[cost] − τ) ({self.statistic}, 95% CI):",
                    "",
                    "| agent | violation | 95% CI |",
                    "|---|---|---|",
                    *(
                        f"| {r['agent']} | {r['final_policy_violation']:.4g} "
                        f"| [{r['violation_low']:.4g}, {r['violation_high']:.4g}] |"
                        for r in constrained
                    ),
                    "",
                ]
        if self.aggregate_rows:
            out += [
                "### All envs — final policy regret / (V* − V^unif) (0: optimal, 1: uniform policy)",
                "",
                "| agent | runs | envs | IQM | 95% CI | mean | 95% CI | reached ε |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for r in self.aggregate_rows:
                out.append(
                    f"| {r['agent']} | {r['runs']} | {r['envs']} | {r['iqm']:.4g} "
                    f"| [{r['iqm_low']:.4g}, {r['iqm_high']:.4g}] | {r['mean']:.4g} "
                    f"| [{r['mean_low']:.4g}, {r['mean_high']:.4g}] | {r['reached']:.0%} |"
                )
            out.append("")
        notes = [x.line() for x in self.left_out]
        if notes:
            out += ["Left out:", *(f"- {n}" for n in notes), ""]
        return "\n".join(out)


def _steps(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{int(x)}"


def read_evaluations(run: RunRecord) -> dict[str, np.ndarray] | None:
    """A run's ``evaluations.csv`` as ``{column: array}``, or ``None`` when it has none."""
    path = run.path / EVALUATIONS
    if not path.is_file():
        return None
    data = read_metrics(path)
    return data if data["step"].size and "policy_regret" in data else None


def _median(x: np.ndarray, axis: int = 0) -> np.ndarray:
    return np.median(x, axis=axis)


def _row(
    env: str, label: str, runs: list[RunRecord], evals: list[dict[str, np.ndarray]], T: int
) -> LearningRow:
    common = set(evals[0]["step"].astype(np.int64).tolist())
    for e in evals[1:]:
        common &= set(e["step"].astype(np.int64).tolist())
    steps = np.array(sorted(s for s in common if s <= T), dtype=np.int64)
    curves = (
        np.stack([e["policy_regret"][np.searchsorted(e["step"].astype(np.int64), steps)] for e in evals])
        if steps.size
        else np.zeros((len(runs), 0))
    )
    eps = float(runs[0].summary.get("eval_epsilon", 0.01))
    scales = np.array([float(r.summary.get("uniform_policy_regret") or np.nan) for r in runs])
    reached = np.full(len(runs), np.inf)
    for i, run in enumerate(runs):
        s = run.summary.get("steps_to_epsilon")
        if isinstance(s, int) and s <= T:
            reached[i] = s
    violations = None
    if steps.size and all("policy_violation" in e for e in evals):
        at = steps[-1]
        violations = np.array(
            [e["policy_violation"][np.searchsorted(e["step"].astype(np.int64), at)] for e in evals]
        )
    return LearningRow(env, label, runs, steps, curves, scales, reached, eps, violations)


def compare_policy_regret(
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
    aggregate: bool = False,
) -> LearningReport:
    """Compare the exact learning curves of every evaluated run under ``run_dirs``; write into ``out_dir``.

    Writes ``policy_regret.png``/``.svg``, ``table.md``, ``table.csv`` and ``report.json``.

    Raises:
        UserError: no run has evaluations (train with ``--set eval_every=N``), or as for regret.
    """
    stat = statistic_fn(statistic)
    if reps < 1:
        raise UserError(f"reps must be >= 1, got {reps}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is an existing file; the report needs a folder")
    loaded = load_runs(run_dirs, include_incomplete)
    for f in loaded.folders:
        if out.resolve() == f.resolve() or f.resolve() in out.resolve().parents:
            raise UserError(f"--out {out} is inside the run folder {f}; write the report somewhere else")
    T = common_steps(loaded.groups)
    left_out = list(loaded.left_out)
    rows: list[LearningRow] = []
    for (env, label), curves in loaded.groups.items():
        runs, evals = [], []
        for c in curves:
            e = read_evaluations(c.run)
            if e is None:
                reason = f"{c.run.path} has no {EVALUATIONS}; train it with --set eval_every=N"
                left_out.append(LeftOut(str(c.run.path), NO_EVALUATIONS, reason))
                continue
            runs.append(c.run)
            evals.append(e)
        if runs:
            rows.append(_row(env, label, runs, evals, T[env]))
    rows = [r for r in rows if r.steps.size]
    if not rows:
        raise UserError(
            "no run under the given folders has exact evaluations; train with --set eval_every=N "
            "(e.g. 1% of total_steps) to record evaluations.csv"
        )
    table = [_summarise(r, stat, reps, random_state) for r in rows]
    agg = _aggregate(rows, reps, random_state) if aggregate else None
    out.mkdir(parents=True, exist_ok=True)
    files = {name: out / name for name in LEARNING_FILES}
    _plot(
        rows,
        files["policy_regret.png"],
        files["policy_regret.svg"],
        statistic,
        log_x,
        log_y,
        reps,
        random_state,
        title,
    )
    report = LearningReport(table, left_out, files, statistic, agg)
    files["table.md"].write_text(report.to_markdown(), encoding="utf-8")
    with files["table.csv"].open("w", encoding="utf-8", newline="") as fh:
        columns = list(dict.fromkeys(k for row in table for k in row))  # violation columns: constrained rows
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(table)
    write_json(
        files["report.json"],
        {
            "metric": "policy_regret",
            "statistic": statistic,
            "confidence": 0.95,
            "reps": reps,
            "random_state": random_state,
            "rows": table,
            "aggregate": agg,
            **report_entries(left_out, rows),
        },
    )
    return report


def _summarise(row: LearningRow, stat: Any, reps: int, random_state: int | None) -> dict[str, Any]:
    final = row.curves[:, -1]
    lo, hi = bootstrap_ci(final, stat, reps, random_state=random_state)
    # Seeds that never reached ε are censored at a sentinel beyond the last step (inf again afterwards).
    last = float(row.steps[-1])
    censored = np.where(np.isfinite(row.reached), row.reached, 2.0 * last + 1.0)
    slo, shi = (
        float(x) if x <= last else math.inf
        for x in bootstrap_ci(censored, _median, reps, random_state=random_state)
    )
    return {
        "env": row.env_id,
        "agent": row.label,
        "seeds": len(row.runs),
        "last_step": int(row.steps[-1]),
        "final_policy_regret": float(stat(final, axis=0)),
        "final_low": float(lo),
        "final_high": float(hi),
        "epsilon": row.epsilon,
        "steps_to_epsilon": float(np.median(row.reached)),
        "steps_low": float(slo),
        "steps_high": float(shi),
        "reached": int(np.isfinite(row.reached).sum()),
        "reached_fraction": float(np.isfinite(row.reached).mean()),
        **_violation_summary(row, stat, reps, random_state),
    }


def _violation_summary(row: LearningRow, stat: Any, reps: int, random_state: int | None) -> dict[str, Any]:
    """The final policy's mean violation ``max(0, E_π[cost] − τ)`` (statistic and 95 % CI), where recorded."""
    if row.violations is None or not np.isfinite(row.violations).all():
        return {}
    lo, hi = bootstrap_ci(row.violations, stat, reps, random_state=random_state)
    return {
        "final_policy_violation": float(stat(row.violations, axis=0)),
        "violation_low": float(lo),
        "violation_high": float(hi),
    }


def _aggregate(rows: list[LearningRow], reps: int, random_state: int | None) -> list[dict[str, Any]]:
    from rl_suite.stats import batched_iqm, batched_mean, stratified_bootstrap

    out = []
    for label in sorted({r.label for r in rows}):
        mine = [r for r in rows if r.label == label]
        scores = [r.curves[:, -1] / r.scales for r in mine]
        flat = np.concatenate(scores)
        entry: dict[str, Any] = {"agent": label, "runs": int(flat.size), "envs": len(mine)}
        same = len({x.size for x in scores}) == 1
        for name, fn, batched in (("iqm", iqm, batched_iqm), ("mean", np.mean, batched_mean)):
            if same:  # runs resampled within each env (rliable's stratified bootstrap)
                interval = stratified_bootstrap(
                    np.stack(scores, axis=1), batched, reps, random_state=random_state
                )
                point, lo, hi = interval.point, interval.low, interval.high
            else:
                point = fn(flat, axis=0)
                lo, hi = bootstrap_ci(flat, fn, reps, random_state=random_state)
            entry[name] = float(np.asarray(point))
            entry[f"{name}_low"], entry[f"{name}_high"] = float(np.asarray(lo)), float(np.asarray(hi))
        entry["reached"] = float(np.mean(np.concatenate([np.isfinite(r.reached) for r in mine])))
        out.append(entry)
    return out


def _plot(
    rows: list[LearningRow],
    path_png: Path,
    path_svg: Path,
    statistic: str,
    log_x: bool,
    log_y: bool,
    reps: int,
    random_state: int | None,
    title: str | None,
) -> None:
    from matplotlib.figure import Figure

    stat = statistic_fn(statistic)
    envs = sorted({r.env_id for r in rows})
    ncols = min(3, len(envs))
    nrows = math.ceil(len(envs) / ncols)
    fig = Figure(figsize=(6.2 * ncols, 4.4 * nrows + (0.4 if title else 0.0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    colors = agent_colors(r.label for r in rows)
    for i, env in enumerate(envs):
        ax = axes[i // ncols, i % ncols]
        ax.set_visible(True)
        y_max = 0.0
        for r in sorted((x for x in rows if x.env_id == env), key=lambda x: x.label):
            center = stat(r.curves, axis=0)
            lo, hi = bootstrap_ci(r.curves, stat, reps, random_state=random_state)
            label = f"{r.label} (n={len(r.runs)})"
            band(ax, r.steps, center, lo, hi, color=colors[r.label], label=label, marker=".")
            y_max = max(y_max, float(np.max(hi)))
        ax.set_title(env, fontsize=13)
        ax.set_xlabel("env steps", fontsize=12)
        ax.set_ylabel("policy regret V* − V^π (exact)", fontsize=12)
        _style_axes(ax, log_x, log_y, y_positive=y_max > 0)
        ax.legend(title=f"{statistic} ± 95% CI", fontsize=10, title_fontsize=10)
    if title:
        fig.suptitle(title, fontsize=14)
    fig.savefig(path_png, dpi=150)
    fig.savefig(path_svg)
