"""rl_suite.stats: aggregate kernels against hand-computed values, and against rliable 1.2.0.

The reference values below were computed once with rliable 1.2.0 + arch 7.2 + pandas 2.3.3 (rliable does
not import with pandas 3, so it is not a dependency), on the fixed inputs ``A``, ``B`` and ``C``, with
``reps=300`` and ``np.random.seed(7)`` before each call — rliable's stratified resampling draws from
numpy's global generator, whatever its ``random_state`` argument says. Regret is lower-is-better, so the
probability of improvement is rliable's on ``-A, -B`` and the profile is ``1 -`` rliable's score
distribution. The script that produced them is reproduced in the report of issue 10.
"""

from __future__ import annotations

import numpy as np
import pytest

from rl_suite import stats

# fmt: off
A = np.array([[44.217, 27.006, 24.922], [9.117, 18.079, 22.732], [22.524, 18.029, 4.327],
              [13.926, 8.991, 75.839], [13.574, 18.513, 11.284], [24.389, 27.945, 12.125],
              [6.49, 14.667, 19.963], [23.628, 4.277, 37.994], [6.927, 9.756, 12.573],
              [6.266, 15.019, 9.397]])
B = np.array([[50.139, 19.881, 33.799], [34.078, 13.203, 37.169], [42.874, 35.552, 6.816],
              [11.866, 20.574, 28.459], [14.671, 37.827, 32.312], [27.442, 7.394, 46.034],
              [9.92, 19.865, 34.821], [10.074, 45.942, 15.794], [15.869, 35.027, 13.074],
              [29.06, 71.249, 22.391]])
C = np.array([
    [
        [0.237, 1.358, 3.633, 5.069, 6.764],
        [0.94, 1.834, 3.762, 4.763, 6.791],
        [0.539, 1.61, 3.968, 4.052, 5.193],
    ],
    [
        [0.087, 0.322, 2.144, 2.883, 4.161],
        [1.983, 3.448, 4.579, 5.389, 6.976],
        [0.022, 0.546, 3.458, 6.349, 7.304],
    ],
    [
        [1.333, 1.469, 2.41, 2.474, 3.384],
        [0.559, 1.099, 3.149, 4.584, 4.603],
        [1.361, 3.624, 6.44, 6.513, 7.58],
    ],
    [
        [0.478, 1.031, 1.8, 2.734, 3.248],
        [0.362, 1.475, 2.36, 2.634, 3.295],
        [0.214, 5.334, 5.645, 7.213, 7.807],
    ],
    [
        [1.202, 2.108, 3.449, 4.832, 5.177],
        [0.42, 0.425, 0.991, 3.235, 4.646],
        [0.411, 0.499, 0.816, 1.81, 1.819],
    ],
    [
        [0.184, 0.807, 3.537, 5.621, 5.926],
        [1.056, 1.371, 1.656, 2.645, 2.675],
        [2.72, 2.815, 4.924, 5.301, 5.778],
    ],
    [
        [0.952, 1.12, 1.461, 1.945, 2.421],
        [0.39, 0.64, 2.229, 2.462, 2.717],
        [1.914, 3.059, 3.33, 4.073, 4.726],
    ],
    [
        [0.855, 1.346, 2.004, 3.704, 5.45],
        [9.411, 13.812, 14.949, 15.47, 16.183],
        [2.201, 2.715, 2.937, 5.258, 6.227],
    ],
    [
        [1.942, 2.525, 4.043, 6.938, 8.115],
        [3.547, 4.315, 4.474, 5.215, 5.277],
        [1.439, 1.594, 2.384, 3.839, 4.682],
    ],
    [
        [0.24, 0.39, 0.432, 1.489, 2.227],
        [0.999, 2.135, 2.408, 2.544, 2.619],
        [0.198, 1.986, 2.122, 2.709, 3.377],
    ],
])
# fmt: on
REPS, SEED, TOL = 300, 7, 1e-6


# --------------------------------------------------------------------------- hand-computed values
def test_iqm_trims_a_quarter_of_all_runs_and_tasks_pooled() -> None:
    # 8 scores: floor(0.25 * 8) = 2 cut at each end -> mean(3, 4, 5, 6).
    scores = np.array([[8.0, 1.0], [2.0, 7.0], [3.0, 6.0], [4.0, 5.0]])
    assert stats.aggregate_iqm(scores) == pytest.approx(4.5)
    # 4 scores: one cut at each end -> mean(2, 3).
    assert stats.aggregate_iqm(np.array([[1.0, 2.0], [3.0, 40.0]])) == pytest.approx(2.5)


def test_mean_is_the_mean_of_per_task_means() -> None:
    assert stats.aggregate_mean(np.array([[1.0, 10.0], [3.0, 30.0]])) == pytest.approx(11.0)


def test_aggregates_keep_the_time_axis() -> None:
    curves = np.stack([A, 2 * A], axis=-1)  # (runs, tasks, 2)
    np.testing.assert_allclose(
        stats.aggregate_iqm(curves), [stats.aggregate_iqm(A), 2 * stats.aggregate_iqm(A)]
    )


def test_probability_of_lower_counts_pairs_and_half_ties() -> None:
    x, y = np.array([[1.0], [3.0]]), np.array([[2.0], [3.0]])
    # pairs (1,2) (1,3) win, (3,2) loses, (3,3) ties: 2.5 / 4.
    assert stats.probability_of_lower(x, y) == pytest.approx(0.625)
    assert stats.probability_of_lower(y, x) == pytest.approx(0.375)
    assert stats.probability_of_lower(A, A) == pytest.approx(0.5)
    two_tasks = (np.array([[1.0, 5.0]]), np.array([[2.0, 4.0]]))
    assert stats.probability_of_lower(*two_tasks) == pytest.approx(0.5)  # (1 + 0) / 2


def test_profile_is_the_fraction_of_runs_at_or_below_tau() -> None:
    np.testing.assert_allclose(
        stats.profile(np.array([[1.0, 2.0], [3.0, 4.0]]), [0.0, 2.0, 4.0]), [0, 0.5, 1]
    )


def test_normalise_makes_the_reference_mean_one_per_task() -> None:
    ref = np.array([[1.0, 10.0], [3.0, 30.0]])
    out = stats.normalise({"ref": ref, "x": np.array([[4.0, 40.0]])}, "ref")
    np.testing.assert_allclose(out["ref"].mean(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(out["x"], [[2.0, 2.0]])
    curves = stats.normalise({"ref": np.stack([ref / 2, ref], axis=-1)}, "ref")["ref"]
    np.testing.assert_allclose(curves[..., -1].mean(axis=0), [1.0, 1.0])  # scaled by the final point
    with pytest.raises(ValueError, match="not among the agents"):
        stats.normalise({"x": ref}, "ref")
    with pytest.raises(ValueError, match="non-positive mean regret"):
        stats.normalise({"ref": np.zeros((2, 2))}, "ref")


def test_mean_reduces_one_axis() -> None:
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    np.testing.assert_allclose(stats.mean(x), [2.0, 4.0])  # (1 + 3)/2, (2 + 6)/2
    np.testing.assert_allclose(stats.mean(x, axis=1), [1.5, 4.5])  # (1 + 2)/2, (3 + 6)/2


def test_tau_grid_spans_every_agents_scores() -> None:
    # pooled scores 1, 3, 2, 5: min 1, max 5, 5 points → 1, 2, 3, 4, 5
    grid = stats.tau_grid({"a": np.array([[1.0, 3.0]]), "b": np.array([[2.0, 5.0]])}, points=5)
    np.testing.assert_allclose(grid, [1.0, 2.0, 3.0, 4.0, 5.0])
    # all scores equal (2): the grid is [2, 2 + 1]
    np.testing.assert_allclose(stats.tau_grid({"a": np.full((1, 2), 2.0)}, points=3), [2.0, 2.5, 3.0])


def test_stratified_indices_draw_runs_within_each_task() -> None:
    # score = 10·run + task: a resample keeps the task (score mod 10) of every cell and draws its run
    scores = 10.0 * np.arange(3)[:, None] + np.arange(2)[None, :]  # (3 runs, 2 tasks)
    idx = stats.stratified_indices(scores.shape, 4, np.random.RandomState(0))
    runs = np.random.RandomState(0).randint(0, 3, size=(4, 3, 2))  # one draw per cell, in this order
    np.testing.assert_array_equal(idx[0], runs)
    resampled = scores[idx]
    assert resampled.shape == (4, 3, 2)
    np.testing.assert_array_equal(resampled % 10, np.broadcast_to([0.0, 1.0], (4, 3, 2)))
    np.testing.assert_array_equal(resampled // 10, runs)


def test_bootstrap_of_one_run_per_task_has_no_spread_and_intervals_cover_the_point() -> None:
    one = stats.stratified_bootstrap(A[:1], stats.batched_mean, reps=50)
    assert one.low == pytest.approx(one.point) and one.high == pytest.approx(one.point)
    iv = stats.stratified_bootstrap(A, stats.batched_iqm, reps=200, random_state=1)
    assert iv.low < iv.point < iv.high
    again = stats.stratified_bootstrap(A, stats.batched_iqm, reps=200, random_state=1)
    assert (again.low, again.high) == (iv.low, iv.high)


def test_stratified_resamples_never_mix_tasks() -> None:
    # Task j's scores all lie in [j, j + 1): a resample that mixed tasks would leave that band.
    scores = np.arange(3)[None, :] + np.linspace(0, 0.9, 10)[:, None]
    iv = stats.profile_interval(scores, [0.95, 1.95], reps=200)
    np.testing.assert_allclose(iv.low, [1 / 3, 2 / 3])
    np.testing.assert_allclose(iv.high, [1 / 3, 2 / 3])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: stats.aggregate_iqm(np.ones(3)), "n_runs"),
        (lambda: stats.stratified_bootstrap(A, stats.batched_mean, reps=0), "reps"),
        (lambda: stats.stratified_bootstrap(A, stats.batched_mean, confidence=1.0), "confidence"),
        (lambda: stats.probability_of_lower(A, B[:, :2]), "same tasks"),
    ],
)
def test_bad_input_is_one_clear_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------- rliable 1.2.0 references
def test_iqm_and_mean_with_intervals_match_rliable() -> None:
    iqm = stats.stratified_bootstrap(A, stats.batched_iqm, reps=REPS, random_state=SEED)
    assert float(iqm.point) == pytest.approx(15.9868125, abs=TOL)
    assert float(iqm.low) == pytest.approx(12.4179875, abs=TOL)
    assert float(iqm.high) == pytest.approx(20.1826421875, abs=TOL)
    mean = stats.stratified_bootstrap(A, stats.batched_mean, reps=REPS, random_state=SEED)
    assert float(mean.point) == pytest.approx(18.816533333333336, abs=TOL)
    assert float(mean.low) == pytest.approx(14.250845, abs=TOL)
    assert float(mean.high) == pytest.approx(24.2644925, abs=TOL)


def test_probability_of_improvement_matches_rliable() -> None:
    poi = stats.probability_of_lower_interval(A, B, reps=REPS, random_state=SEED)
    assert float(poi.point) == pytest.approx(0.7133333333333334, abs=TOL)
    assert float(poi.low) == pytest.approx(0.5698333333333334, abs=TOL)
    assert float(poi.high) == pytest.approx(0.84175, abs=TOL)


def test_performance_profile_matches_rliable() -> None:
    # rliable: profile (score > tau) = [0.7, 1/3, 0.1, 1/15]; ours is 1 - that, with the interval flipped.
    taus = [10.0, 20.0, 30.0, 40.0]
    iv = stats.profile_interval(A, taus, reps=REPS, random_state=SEED)
    np.testing.assert_allclose(1 - iv.point, [0.7, 1 / 3, 0.1, 1 / 15], atol=TOL)
    np.testing.assert_allclose(1 - iv.high, [0.5, 1 / 6, 0.0, 0.0], atol=TOL)
    np.testing.assert_allclose(1 - iv.low, [13 / 15, 0.5, 7 / 30, 1 / 6], atol=TOL)


def test_iqm_over_time_matches_rliable() -> None:
    iv = stats.stratified_bootstrap(C, stats.batched_iqm, reps=REPS, random_state=SEED)
    np.testing.assert_allclose(iv.point, [0.831, 1.6735, 2.955, 4.056, 4.916625], atol=TOL)
    np.testing.assert_allclose(
        iv.low, [0.5524046875, 1.276678125, 2.5108453125, 3.3133078125, 4.0577859375], atol=TOL
    )
    np.testing.assert_allclose(
        iv.high, [1.2666296875, 2.1856765625, 3.5139859375, 4.826075, 5.82260625], atol=TOL
    )


# --------------------------------------------------------------------------- the per-env bootstrap
def test_iqm_equals_scipy_trim_mean() -> None:
    from scipy.stats import trim_mean

    x = np.random.default_rng(0).normal(size=(9, 7, 5))
    for axis in range(3):
        np.testing.assert_allclose(stats.iqm(x, axis=axis), trim_mean(x, 0.25, axis=axis), rtol=0, atol=1e-12)
    assert float(stats.iqm(np.array([1.0, 2.0, 9.0]))) == pytest.approx(4.0)  # n < 4: the mean
    with pytest.raises(ValueError, match="at least one sample"):
        stats.iqm(np.zeros((0, 3)))


def test_bootstrap_ci_is_the_stratified_bootstrap_with_one_stratum() -> None:
    x = A[:, 0]
    lo, hi = stats.bootstrap_ci(x, stats.iqm, reps=REPS, random_state=SEED)
    iv = stats.stratified_bootstrap(x[:, None], stats.batched_iqm, reps=REPS, random_state=SEED)
    assert (float(lo), float(hi)) == pytest.approx((float(iv.low), float(iv.high)), abs=1e-12)
    # Without trailing axes, resampling whole runs draws exactly the indices of rliable's stratification.
    whole = stats.stratified_bootstrap(A, stats.batched_mean, reps=REPS, random_state=SEED, whole_runs=True)
    assert float(whole.low) == pytest.approx(14.250845, abs=TOL)
    assert float(whole.high) == pytest.approx(24.2644925, abs=TOL)


def test_whole_runs_keep_each_curve_together() -> None:
    # Runs c and 2c: a resample of whole curves has a mean curve proportional to c (last/first point = 5);
    # rliable's per-point resampling mixes the runs point by point and breaks the proportion.
    c = np.array([1.0, 2.0, 5.0])
    curves = np.stack([c, 2 * c, 3 * c])[:, None, :]  # (runs, 1 task, points)

    def last_over_first(b: np.ndarray) -> np.ndarray:
        m = b.mean(axis=1)[:, 0]
        return m[:, -1] / m[:, 0]

    whole = stats.stratified_bootstrap(curves, last_over_first, reps=200, random_state=0, whole_runs=True)
    assert float(whole.low) == pytest.approx(5.0) and float(whole.high) == pytest.approx(5.0)
    mixed = stats.stratified_bootstrap(curves, last_over_first, reps=200, random_state=0)
    assert float(mixed.low) < 5.0 < float(mixed.high)
    lo, hi = stats.bootstrap_ci(curves[:, 0], stats.mean, reps=200, random_state=0)
    iv = stats.stratified_bootstrap(curves, stats.batched_mean, reps=200, random_state=0, whole_runs=True)
    np.testing.assert_allclose(lo, iv.low)
    np.testing.assert_allclose(hi, iv.high)


def test_bootstrap_ci_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        stats.bootstrap_ci(np.array([]))
    with pytest.raises(ValueError, match="reps"):
        stats.bootstrap_ci(np.ones(3), reps=0)
    with pytest.raises(ValueError, match="confidence"):
        stats.bootstrap_ci(np.ones(3), confidence=1.0)
    lo, hi = stats.bootstrap_ci(np.array([4.0]))
    assert float(lo) == float(hi) == 4.0
