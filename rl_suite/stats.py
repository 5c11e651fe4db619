"""Aggregate statistics across envs: IQM, stratified bootstrap, probability of improvement, profiles.

The estimators are those of Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical
Precipice", NeurIPS 2021, as implemented by their library ``rliable`` 1.2 (google-research/rliable), here
in plain numpy so that rl_suite does not inherit rliable's ``arch``/``pandas<3`` pins. Scores are
**cumulative regrets, lower is better**, laid out as rliable lays them out: an array of shape
``(n_runs, n_tasks[, n_points])`` per agent, where a task is one env (instance) of the comparison.

Stratified bootstrap (rliable's ``StratifiedBootstrap``): every resample draws, independently for each
task, ``n_runs`` runs with replacement from that task's runs; tasks are never resampled. Resample ``b``
uses the run indices ``RandomState(random_state).randint(0, n_runs, size=(reps, *scores.shape))[b]``,
which is exactly the stream ``rliable`` consumes from numpy's *global* generator (``np.random.choice`` in
``StratifiedBootstrap.update_indices``) after ``np.random.seed(random_state)``. Intervals are percentile
intervals (``np.percentile``, linear interpolation), like ``arch``'s ``conf_int(method="percentile")``.
So with the same seed the intervals equal rliable's to floating-point precision (``tests/test_stats.py``
pins values computed with rliable 1.2.0 + arch 7.2). Note that rliable's own ``random_state`` argument does
not reach its stratified resampling, which draws from the global generator.

:func:`stratified_bootstrap` is the one bootstrap of rl_suite: the per-env intervals of a comparison
(:func:`bootstrap_ci`, seeds resampled within one env, whole curves at a time) are the same estimator with a
single stratum, so an agent's interval on one env is the interval its aggregate over that one env would get.
The percentile interval itself is Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13.

Everything here is a pure function of arrays; :mod:`rl_suite.compare` reads runs and calls it. Nothing here
imports scipy (the IQM is a partition and a mean), so a comparison does not pay scipy's import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: A batched aggregate: ``(b, n_runs, n_tasks, *rest) -> (b, *out)``.
BatchedStatistic = Callable[[np.ndarray], np.ndarray]
#: A statistic reducing one axis: ``f(x, axis=...)``, e.g. :func:`mean` or :func:`iqm`.
Statistic = Callable[..., Any]

#: Resampled values held in memory at once by a bootstrap (bounds memory for long curves).
_BLOCK_VALUES = 4_000_000


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile bootstrap interval (arrays of the statistic's shape)."""

    point: np.ndarray
    low: np.ndarray
    high: np.ndarray


# --------------------------------------------------------------------------- point aggregates
def _as_scores(scores: np.ndarray, name: str = "scores") -> np.ndarray:
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n_runs >= 1, n_tasks >= 1, ...), got {x.shape}")
    return x


def iqm(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50 % along ``axis`` (Agarwal et al., NeurIPS 2021).

    This is ``scipy.stats.trim_mean(x, 0.25)`` — rliable's IQM — computed the way scipy computes it (a
    partition around the two cut points, then the mean of the middle slice), without importing scipy:
    ``floor(n / 4)`` values are cut at each end. With fewer than four samples nothing is trimmed and it
    equals the mean.

    Args:
        x: samples.
        axis: the axis to reduce.

    Returns:
        ``x`` reduced along ``axis``.

    Raises:
        ValueError: ``x`` has no samples along ``axis``.
    """
    a = np.asarray(x, dtype=np.float64)
    n = a.shape[axis]
    if n == 0:
        raise ValueError(f"iqm needs at least one sample along axis {axis}, got shape {a.shape}")
    cut = n // 4
    if cut:
        a = np.partition(a, (cut, n - cut - 1), axis=axis)
    middle = [slice(None)] * a.ndim
    middle[axis] = slice(cut, n - cut)
    return np.asarray(np.mean(a[tuple(middle)], axis=axis))


def mean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Arithmetic mean along ``axis`` (the statistic twin of :func:`iqm`)."""
    return np.asarray(np.mean(np.asarray(x, dtype=np.float64), axis=axis))


def batched_iqm(x: np.ndarray) -> np.ndarray:
    """IQM of each batch entry over runs and tasks together: ``(b, n, m, *rest) -> (b, *rest)``.

    The interquartile mean is ``scipy.stats.trim_mean(..., 0.25)`` of all ``n * m`` scores pooled
    (rliable ``metrics.aggregate_iqm``): it cuts ``floor(0.25 * n * m)`` scores at each end.
    """
    b, n, m = x.shape[:3]
    return iqm(x.reshape(b, n * m, *x.shape[3:]), axis=1)


def batched_mean(x: np.ndarray) -> np.ndarray:
    """Mean over tasks of the per-task mean over runs: ``(b, n, m, *rest) -> (b, *rest)``.

    rliable ``metrics.aggregate_mean``; with equal runs per task it is the pooled mean.
    """
    return x.mean(axis=1).mean(axis=1)


def aggregate_iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean over all runs and tasks of ``scores`` (``(n_runs, n_tasks, *rest)``).

    Args:
        scores: one agent's scores; trailing axes (e.g. time) are kept.

    Returns:
        An array of shape ``rest`` (a 0-d array for a ``(n_runs, n_tasks)`` matrix).
    """
    return batched_iqm(_as_scores(scores)[None])[0]


def aggregate_mean(scores: np.ndarray) -> np.ndarray:
    """Mean over tasks of the mean over runs (rliable ``aggregate_mean``), trailing axes kept."""
    return batched_mean(_as_scores(scores)[None])[0]


def probability_of_lower(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X < Y): the chance that a run of X has lower regret than a run of Y on the same task, averaged.

    Per task this is the Mann–Whitney statistic ``#{x_i < y_j} + 0.5 #{x_i = y_j}`` over the
    ``n_x * n_y`` pairs, divided by the number of pairs; the result is its mean over tasks. It equals
    rliable's ``probability_of_improvement(-x, -y)`` (rliable's scores are higher-is-better).

    Args:
        x: ``(n_x, n_tasks)`` or batched ``(b, n_x, n_tasks)`` regrets of X.
        y: ``(n_y, n_tasks)`` or batched ``(b, n_y, n_tasks)`` regrets of Y (same tasks).

    Returns:
        A probability in ``[0, 1]`` (0-d), or one per batch entry.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    single = x.ndim == 2
    if single:
        x, y = x[None], y[None]
    if x.ndim != 3 or y.ndim != 3 or x.shape[2] != y.shape[2] or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must be (n_runs, n_tasks) over the same tasks, got {x.shape} and {y.shape}"
        )
    xi, yj = x[:, :, None, :], y[:, None, :, :]
    pairs = (xi < yj).astype(np.float64) + 0.5 * (xi == yj)
    per_task = pairs.mean(axis=(1, 2))
    out = per_task.mean(axis=1)
    return out[0] if single else out


def profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Performance profile for regret: the fraction of all runs (over tasks) with score ``<= tau``.

    This is rliable's score distribution (``mean(scores > tau)``) turned around for a lower-is-better
    score: ``profile(x, taus) == 1 - score_distributions(x, taus)``.

    Args:
        scores: ``(n_runs, n_tasks)`` or batched ``(b, n_runs, n_tasks)``.
        taus: thresholds.

    Returns:
        ``(len(taus),)``, or ``(b, len(taus))`` for batched input.
    """
    x = np.asarray(scores, dtype=np.float64)
    t = np.asarray(taus, dtype=np.float64)
    single = x.ndim == 2
    if single:
        x = x[None]
    out = (x[..., None] <= t).mean(axis=(1, 2))
    return out[0] if single else out


def normalise(scores: dict[str, np.ndarray], reference: str) -> dict[str, np.ndarray]:
    """Divide every agent's scores on each task by the reference agent's mean score on that task.

    After this the reference agent's mean regret is 1 on every task, so tasks with very different regret
    scales weigh the same in IQM, mean and profiles. Trailing axes (time) share the task's constant, the
    reference's mean *final* score (its last point along the trailing axes).

    Args:
        scores: agent -> ``(n_runs, n_tasks[, n_points])``.
        reference: the agent whose per-task mean becomes 1.

    Returns:
        A new dict with the normalised arrays.

    Raises:
        ValueError: ``reference`` is not an agent of ``scores``, or its mean regret on a task is not
            positive.
    """
    if reference not in scores:
        raise ValueError(f"reference agent {reference!r} not among the agents: {', '.join(sorted(scores))}")
    ref = _as_scores(scores[reference])
    final = ref.reshape(ref.shape[0], ref.shape[1], -1)[:, :, -1]
    scale = final.mean(axis=0)
    if np.any(scale <= 0):
        bad = ", ".join(str(i) for i in np.flatnonzero(scale <= 0))
        raise ValueError(
            f"{reference!r} has non-positive mean regret on task(s) {bad}; cannot normalise by it"
        )
    shape = (1, -1) + (1,) * (ref.ndim - 2)
    return {k: _as_scores(v) / scale.reshape(shape) for k, v in scores.items()}


# --------------------------------------------------------------------------- stratified bootstrap
def stratified_indices(
    shape: tuple[int, ...], reps: int, rs: np.random.RandomState
) -> tuple[np.ndarray, ...]:
    """Indices selecting ``reps`` stratified resamples of an array of ``shape = (n_runs, n_tasks, *rest)``.

    The run index is drawn for every cell — ``rs.randint(0, n_runs, size=(reps, *shape))`` — and the task
    (and trailing) indices stay fixed, exactly as rliable's ``StratifiedBootstrap.update_indices`` does
    (``np.random.choice(n_runs, shape)`` per resample; one call here draws the same stream). For
    ``(n_runs, n_tasks, n_points)`` curves this means every time point is resampled on its own, as in
    rliable's sample-efficiency curves; each point's interval is the per-point stratified interval.
    """
    runs = rs.randint(0, shape[0], size=(reps, *shape))
    rest = np.ogrid[tuple(slice(k) for k in shape[1:])]
    return (runs, *rest)


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(values, [alpha, 100.0 - alpha], axis=0)
    return lo, hi


def _check(reps: int, confidence: float) -> None:
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def stratified_bootstrap(
    scores: np.ndarray,
    statistic: BatchedStatistic,
    reps: int = 2000,
    confidence: float = 0.95,
    random_state: int | None = 0,
    *,
    whole_runs: bool = False,
) -> Interval:
    """Point estimate and stratified percentile bootstrap interval of an aggregate.

    The percentile bootstrap (Efron & Tibshirani 1993, ch. 13) with rliable's stratification: runs are
    resampled within each task, tasks never (Agarwal et al., NeurIPS 2021). Resamples are drawn and
    evaluated in blocks, so memory stays bounded for long curves; the indices are one stream of
    ``RandomState(random_state)``, so the result does not depend on the block size.

    Args:
        scores: ``(n_runs, n_tasks, *rest)`` — one agent's runs on every task.
        statistic: a batched aggregate, e.g. :func:`batched_iqm` or :func:`batched_mean`.
        reps: bootstrap resamples (rliable's default is 50 000; 2 000 gives two stable digits).
        confidence: interval coverage.
        random_state: seed of the resampling (see the module docstring for rliable parity).
        whole_runs: resample a run's trailing axes together (a resampled run keeps its whole curve, which
            a statistic of the curve's shape, such as a fitted regret exponent, needs). The default draws a
            run for every trailing point on its own, as rliable's sample-efficiency curves do. Without
            trailing axes both draw the same indices.

    Returns:
        The :class:`Interval`.
    """
    _check(reps, confidence)
    x = _as_scores(scores)
    point = statistic(x[None])[0]
    rs = np.random.RandomState(random_state)
    drawn = x.shape[:2] if whole_runs else x.shape
    block = max(1, _BLOCK_VALUES // max(1, x.size))
    values = np.concatenate(
        [statistic(x[stratified_indices(drawn, min(block, reps - i), rs)]) for i in range(0, reps, block)]
    )
    lo, hi = _percentile_interval(values, confidence)
    return Interval(np.asarray(point), np.asarray(lo), np.asarray(hi))


def bootstrap_ci(
    samples: np.ndarray,
    statistic: Statistic = mean,
    reps: int = 2000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of ``statistic`` over the first axis (the seeds) of one env's runs.

    This is :func:`stratified_bootstrap` with one stratum and ``whole_runs=True``: every resample draws
    ``n`` seeds with replacement and keeps each drawn seed's whole row, so with ``(n, T)`` curves every
    time point gets its own interval from the same resamples (Efron & Tibshirani 1993, ch. 13).

    Args:
        samples: ``(n,)`` or ``(n, ...)`` — one row per seed.
        statistic: ``f(x, axis=...)`` reducing the seed axis (:func:`mean`, :func:`iqm`, or any such
            function, e.g. a regret exponent refitted to the mean curve).
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
    iv = stratified_bootstrap(
        x[:, None],
        lambda b: np.asarray(statistic(b[:, :, 0], axis=1)),
        reps,
        confidence,
        random_state,
        whole_runs=True,
    )
    return iv.low, iv.high


def probability_of_lower_interval(
    x: np.ndarray, y: np.ndarray, reps: int = 2000, confidence: float = 0.95, random_state: int | None = 0
) -> Interval:
    """P(X < Y) with the interval of rliable's ``StratifiedIndependentBootstrap``.

    Each resample draws X's runs, then Y's runs, within every task, independently (indices from
    ``RandomState(random_state)`` in that order, resample after resample — rliable's order).

    Args:
        x: ``(n_x, n_tasks)`` regrets of X.
        y: ``(n_y, n_tasks)`` regrets of Y.
        reps: bootstrap resamples.
        confidence: interval coverage.
        random_state: seed of the resampling.

    Returns:
        The :class:`Interval` (0-d arrays).
    """
    _check(reps, confidence)
    x, y = _as_scores(x, "x"), _as_scores(y, "y")
    (nx, m), (ny, my) = x.shape, y.shape
    if m != my:
        raise ValueError(f"x and y must cover the same tasks, got {m} and {my}")
    rs = np.random.RandomState(random_state)
    ix = np.empty((reps, nx, m), dtype=np.int64)
    iy = np.empty((reps, ny, m), dtype=np.int64)
    for b in range(reps):
        ix[b] = rs.randint(0, nx, size=(nx, m))
        iy[b] = rs.randint(0, ny, size=(ny, m))
    tasks = np.arange(m)
    values = probability_of_lower(x[ix, tasks], y[iy, tasks])
    lo, hi = _percentile_interval(values, confidence)
    return Interval(np.asarray(probability_of_lower(x, y)), np.asarray(lo), np.asarray(hi))


def profile_interval(
    scores: np.ndarray,
    taus: np.ndarray,
    reps: int = 2000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> Interval:
    """Performance profile (:func:`profile`) with stratified bootstrap intervals at every ``tau``."""
    t = np.asarray(taus, dtype=np.float64)
    return stratified_bootstrap(scores, lambda b: profile(b, t), reps, confidence, random_state)


def tau_grid(scores: dict[str, np.ndarray], points: int = 81) -> np.ndarray:
    """Thresholds spanning every agent's scores, from the smallest to the largest, evenly spaced."""
    pooled = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in scores.values()])
    lo, hi = float(pooled.min()), float(pooled.max())
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, points)
