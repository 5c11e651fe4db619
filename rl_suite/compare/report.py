"""The entry point of a comparison: read the runs, summarise each row, write plots, tables and report.json."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_suite.compare.aggregate import AggregateReport, aggregate_groups, write_aggregate
from rl_suite.compare.loading import Group, LeftOut, align, common_steps, load_runs, report_entries
from rl_suite.compare.plots import plot_groups
from rl_suite.compare.tables import markdown, statistic_fn, summarise, write_csv
from rl_suite.errors import UserError
from rl_suite.store import write_json

#: Files every comparison writes, by name.
REPORT_FILES = ("regret.png", "regret.svg", "table.md", "table.csv", "report.json")


@dataclass
class CompareReport:
    """What :func:`compare_runs` produced."""

    rows: list[dict[str, Any]]
    """One row per (env, agent): the numbers of ``table.csv`` (:data:`~rl_suite.compare.CSV_COLUMNS` etc.)."""
    left_out: list[LeftOut] = field(default_factory=list)
    """Every run folder not used, with why."""
    files: dict[str, Path] = field(default_factory=dict)
    """Written files by name: ``regret.png``, ``regret.svg``, ``table.md``, ``table.csv``, ``report.json``."""
    statistic: str = "mean"
    """The statistic of the plotted lines and bands."""
    aggregate: AggregateReport | None = None
    """Statistics across envs, when asked for (``aggregate=True``)."""
    partial: list[str] = field(default_factory=list)
    """One line per run used only up to its first missing step (``include_incomplete``)."""

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``(run folder, kind)`` of the runs left out: a status, ``empty``, ``duplicate``, ``damaged``..."""
        return [(x.path, x.kind) for x in self.left_out]

    @property
    def notes(self) -> list[str]:
        """One line per run left out for more than its status, and per run used only in part.

        A dropped copy names the copy that is counted and why; damage names the file and what is wrong.
        """
        return [x.line() for x in self.left_out if x.reason] + self.partial

    def to_markdown(self) -> str:
        """The final-regret tables, one per env, plus notes on cut, skipped and dropped runs."""
        return markdown(self.rows, self.skipped, self.statistic, self.notes)


def _check_out(out: Path, folders: list[Path]) -> None:
    """The report folder must lie outside every run folder: a comparison never writes into a run."""
    target = out.resolve()
    for f in folders:
        run = f.resolve()
        if target == run or run in target.parents:
            raise UserError(f"--out {out} is inside the run folder {f}; write the report somewhere else")


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
    ``table.csv`` (one row per (env, agent), final regret at the env's common ``T``), and ``report.json``
    (the rows, the runs left out with why, and the run folders used). Run folders are only read.

    Args:
        run_dirs: run folders, or folders searched recursively for runs.
        out_dir: the report folder (created; it must not be a file or lie inside a run folder).
        statistic: ``mean`` or ``iqm`` — the plotted line and band (the table has both).
        log_x: logarithmic t axis (and log-spaced curve sampling).
        log_y: logarithmic regret axis.
        include_incomplete: also use interrupted, failed and running runs, and runs whose metrics stop short
            of ``steps_done`` or skip a step (up to the first missing step).
        reps: bootstrap resamples for every interval.
        random_state: seed of every bootstrap (reports are reproducible).
        title: figure title.
        progress: ``progress(done, total)`` is called as each row is summarised.
        aggregate: also write statistics across envs (:func:`~rl_suite.compare.aggregate_groups`):
            ``aggregate.md``, ``aggregate.csv``, ``poi.csv``, ``aggregate.json``, ``aggregate.png`` and
            ``aggregate.svg``.
        normalise_by: with ``aggregate``, divide each env's regrets by this agent's mean on that env.

    Returns:
        The :class:`CompareReport`.

    Raises:
        UserError: a path does not exist or holds no run, no usable run is left, ``out_dir`` is a file or
            inside a run folder, or ``statistic``/``reps`` is invalid.
    """
    statistic_fn(statistic)
    if reps < 1:
        raise UserError(f"reps must be >= 1, got {reps}")
    if normalise_by is not None and not aggregate:
        raise UserError("--normalise-by applies to the aggregate report; add --aggregate")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is an existing file; the report needs a folder")
    loaded = load_runs(run_dirs, include_incomplete)
    _check_out(out, loaded.folders)
    steps = common_steps(loaded.groups)
    groups: list[Group] = []
    rows: list[dict[str, Any]] = []
    for i, ((env, label), curves) in enumerate(loaded.groups.items()):
        groups.append(align(env, label, curves, log_x, steps[env]))
        rows.append(summarise(groups[-1], reps, random_state))
        if progress is not None:
            progress(i + 1, len(loaded.groups))
    # The aggregate is computed first, so that a bad --normalise-by fails before any file is written.
    agg = aggregate_groups(groups, reps, random_state, normalise_by) if aggregate else None
    out.mkdir(parents=True, exist_ok=True)
    files = {name: out / name for name in REPORT_FILES}
    plot_groups(
        groups, files["regret.png"], files["regret.svg"], statistic, log_x, log_y, reps, random_state, title
    )
    report = CompareReport(
        rows=rows,
        left_out=loaded.left_out,
        files=files,
        statistic=statistic,
        aggregate=agg,
        partial=loaded.partial,
    )
    if agg is not None:
        files.update(write_aggregate(agg, out))
    files["table.md"].write_text(report.to_markdown(), encoding="utf-8")
    write_csv(files["table.csv"], rows)
    write_json(
        files["report.json"],
        {
            "statistic": statistic,
            "confidence": 0.95,
            "reps": reps,
            "random_state": random_state,
            "steps": steps,
            "rows": rows,
            **report_entries(loaded.left_out, groups),
            "notes": report.notes,
        },
    )
    return report


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a ``report.json`` written by :func:`compare_runs`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
