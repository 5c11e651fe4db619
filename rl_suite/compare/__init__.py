"""Compare runs: cumulative-regret curves with bootstrap bands, a final-regret table, regret exponents.

Runs are read (never written) and grouped into rows by env — its id plus the env arguments that differ
between runs of that id — and by agent — its label plus the agent settings that differ between runs of
that label on that env — so two different settings never share a row (:mod:`.loading`). A run is counted
once however many copies of its folder exist; damaged, unfinished, older-format and incompletely logged
runs are left out, each with a one-line reason. Curves are indexed by the ``step`` column, and every row of
an env reports its final regret at the env's common ``T``. Curves are evaluated on at most
:data:`GRID_POINTS` times so that plotting and bootstrapping stay cheap for long runs.

Confidence intervals are percentile bootstraps over seeds (Efron & Tibshirani 1993), all from the one
bootstrap of :mod:`rl_suite.stats`; the interquartile mean (IQM, the 25 % trimmed mean) follows Agarwal et
al., "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021; with ``aggregate=True`` the envs are
also pooled, rliable-style (:func:`aggregate_groups`). The regret exponent is the log–log slope of the mean
curve over the last decade of ``T`` (:func:`rl_suite.regret.fit_regret_exponent`); its interval resamples
seeds and refits the mean curve.

Modules: :mod:`.loading` (finding, validating, deduplicating, grouping; curves by step), :mod:`.tables`
(row summaries, markdown, CSV), :mod:`.plots`, :mod:`.aggregate` (across envs) and :mod:`.report` (the
entry point :func:`compare_runs`). matplotlib is imported inside the plotting functions, so
``import rl_suite.compare`` stays light.
"""

from __future__ import annotations

from rl_suite.compare.aggregate import (
    AGGREGATE_COLUMNS,
    AGGREGATE_POINTS,
    AggregateReport,
    aggregate_groups,
    plot_aggregate,
    write_aggregate,
)
from rl_suite.compare.loading import (
    DAMAGED,
    DUPLICATE,
    EMPTY,
    GRID_POINTS,
    INCOMPLETE,
    INCOMPLETE_METRICS,
    OLDER_FORMAT,
    Group,
    LeftOut,
    LoadedRuns,
    RunCurves,
    align,
    env_names,
    load_groups,
    load_runs,
    read_curves,
    time_grid,
)
from rl_suite.compare.plots import agent_colors, plot_groups, plot_single_run
from rl_suite.compare.report import CompareReport, compare_runs, load_report
from rl_suite.compare.tables import (
    CSV_COLUMNS,
    EXTRA_COLUMNS,
    RUN_TOTALS,
    STATISTICS,
    VIOLATION_COLUMNS,
    statistic_fn,
    summarise,
)
from rl_suite.stats import bootstrap_ci, iqm, mean

__all__ = [
    "AGGREGATE_COLUMNS",
    "AGGREGATE_POINTS",
    "CSV_COLUMNS",
    "DAMAGED",
    "DUPLICATE",
    "EMPTY",
    "EXTRA_COLUMNS",
    "GRID_POINTS",
    "INCOMPLETE",
    "INCOMPLETE_METRICS",
    "OLDER_FORMAT",
    "RUN_TOTALS",
    "STATISTICS",
    "VIOLATION_COLUMNS",
    "AggregateReport",
    "CompareReport",
    "Group",
    "LeftOut",
    "LoadedRuns",
    "RunCurves",
    "agent_colors",
    "aggregate_groups",
    "align",
    "bootstrap_ci",
    "compare_runs",
    "env_names",
    "iqm",
    "load_groups",
    "load_report",
    "load_runs",
    "mean",
    "plot_aggregate",
    "plot_groups",
    "plot_single_run",
    "read_curves",
    "statistic_fn",
    "summarise",
    "time_grid",
    "write_aggregate",
]
