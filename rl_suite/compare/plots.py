"""Plots: cumulative-regret curves with bootstrap bands per env, and one run's curve.

matplotlib is imported inside the functions, so importing :mod:`rl_suite.compare` stays light. The plots
are drawn on a bare :class:`matplotlib.figure.Figure` (Agg renderer), never through pyplot, so they neither
need a display nor change the backend of a notebook that calls them. Bands are percentile bootstraps over
seeds (Efron & Tibshirani 1993) from :func:`rl_suite.stats.bootstrap_ci`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rl_suite.compare.loading import Group, read_curves
from rl_suite.compare.tables import statistic_fn
from rl_suite.stats import bootstrap_ci
from rl_suite.store import RunRecord

#: Panels per row of the plot before it wraps.
_MAX_COLS = 3


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


def band(ax: Any, grid: np.ndarray, center: np.ndarray, lo: np.ndarray, hi: np.ndarray, **kw: Any) -> Any:
    """Draw ``center`` as a line and ``[lo, hi]`` as a band of the same colour; returns the line."""
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
                band(ax, g.grid, center, lo, hi, color=colors[g.label], label=f"{g.label} (n={len(g.runs)})")
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
            band(vax, g.grid, center, lo, hi, color=colors[g.label], label=g.label)
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
