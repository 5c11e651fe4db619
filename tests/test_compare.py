"""Comparison statistics against hand values, and the report files on synthetic run folders."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rl_suite.compare import (
    CSV_COLUMNS,
    EXTRA_COLUMNS,
    VIOLATION_COLUMNS,
    bootstrap_ci,
    compare_runs,
    iqm,
    load_groups,
    mean,
    plot_single_run,
    read_curves,
    time_grid,
)
from rl_suite.errors import UserError
from rl_suite.regret import fit_exponent_at
from rl_suite.store import read_run

LINEAR = "rl_suite/LinearContextualBandit-v0"
MAB = "rl_suite/MultiArmedBandit-v0"
REPORT_FILES = ("regret.png", "regret.svg", "table.md", "table.csv", "report.json")


def make_run(
    tmp_path: Path,
    env_id: str,
    agent: str,
    seed: int,
    regret_per_step: np.ndarray,
    status: str = "completed",
    *,
    violation: np.ndarray | None = None,
    partial_line: bool = False,
    wall_time_s: float = 2.0,
) -> Path:
    """Write one run folder in the run-store format: summary.json, config.yaml, metrics.csv."""
    regret = np.asarray(regret_per_step, dtype=np.float64)
    path = tmp_path / f"{env_id.split('/')[-1]}__{agent}__s{seed}__20260101-000000"
    path.mkdir(parents=True)
    cum = np.cumsum(regret)
    summary = {
        "status": status,
        "env_id": env_id,
        "agent": agent,
        "seed": seed,
        "total_steps": regret.size,
        "steps_done": regret.size,
        "cumulative_regret": float(cum[-1]) if cum.size else 0.0,
        "wall_time_s": wall_time_s,
    }
    if violation is not None:
        summary["violations"] = int((violation > 0).sum())
        summary["violation_amount"] = float(violation.sum())
    (path / "summary.json").write_text(json.dumps(summary))
    (path / "config.yaml").write_text(f"env: {{id: {env_id}}}\nagent: {{name: {agent}}}\nseed: {seed}\n")
    columns = ["step", "episode", "reward", "regret", "cumulative_regret"]
    if violation is not None:
        columns += ["cost", "violation"]
    lines = [",".join(columns)]
    for t in range(regret.size):
        row = [str(t + 1), "0", "0.5", repr(float(regret[t])), repr(float(cum[t]))]
        if violation is not None:
            row += ["0.1", repr(float(violation[t]))]
        lines.append(",".join(row))
    text = "\n".join(lines) + "\n"
    if partial_line:
        text += f"{regret.size + 1},0,0.5,0.2"  # what a kill in the middle of a write leaves
    (path / "metrics.csv").write_text(text)
    return path


def power_law_increments(scale: float, exponent: float, steps: int) -> np.ndarray:
    """Per-step regret whose cumulative sum is exactly ``scale * t**exponent``."""
    t = np.arange(0, steps + 1, dtype=np.float64)
    return np.diff(scale * t**exponent)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- statistics kernels
def test_iqm_hand_values() -> None:
    assert float(iqm(np.arange(1, 9))) == pytest.approx(4.5)  # middle half of 1..8 is 3, 4, 5, 6
    outliers = np.array([-500.0, 2, 3, 4, 5, 6, 7, 1000.0])
    assert float(iqm(outliers)) == pytest.approx(4.5)  # the outliers are trimmed away
    assert float(mean(outliers)) == pytest.approx(527 / 8)
    assert np.allclose(iqm(np.array([[1.0, 10], [2, 20], [3, 30], [4, 40]]), axis=0), [2.5, 25])
    assert np.allclose(iqm(np.array([[1.0, 2, 3, 100]]), axis=1), [2.5])
    assert float(iqm(np.array([1.0, 2.0, 9.0]))) == pytest.approx(4.0)  # n < 4: nothing to trim


def test_bootstrap_ci_brackets_the_estimate_and_is_reproducible() -> None:
    x = np.random.default_rng(0).normal(10.0, 1.0, size=50)
    lo, hi = bootstrap_ci(x, mean, reps=2000, random_state=3)
    assert lo < x.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * x.std() / np.sqrt(50), rel=0.2)  # normal-theory width
    assert (lo, hi) == bootstrap_ci(x, mean, reps=2000, random_state=3)
    assert (lo, hi) != bootstrap_ci(x, mean, reps=2000, random_state=4)
    ilo, ihi = bootstrap_ci(x, iqm, reps=500, random_state=0)
    assert ilo < float(iqm(x)) < ihi
    narrow = bootstrap_ci(x, mean, reps=2000, confidence=0.5, random_state=3)
    assert lo < narrow[0] < narrow[1] < hi


def test_bootstrap_ci_per_time_point() -> None:
    x = np.random.default_rng(1).normal(size=(20, 1))
    curves = np.hstack([x, 2 * x + 5, np.zeros((20, 1))])  # (n seeds, T time points)
    lo, hi = bootstrap_ci(curves, mean, reps=1000, random_state=0)
    assert lo.shape == hi.shape == (3,)
    assert np.all(lo <= curves.mean(axis=0)) and np.all(curves.mean(axis=0) <= hi)
    assert hi[1] - lo[1] == pytest.approx(2 * (hi[0] - lo[0]))  # same resamples in every column
    assert lo[2] == hi[2] == 0.0
    # One index matrix, resampled in blocks: a column's interval does not depend on its neighbours.
    lo0, hi0 = bootstrap_ci(curves[:, 0], mean, reps=1000, random_state=0)
    assert (float(lo0), float(hi0)) == pytest.approx((lo[0], hi[0]))


def test_bootstrap_ci_degenerate_inputs() -> None:
    one_lo, one_hi = bootstrap_ci(np.array([4.0]), mean)
    assert float(one_lo) == float(one_hi) == 4.0
    lo, hi = bootstrap_ci(np.array([[1.0, 2.0, 3.0]]), iqm)
    assert np.array_equal(lo, [1, 2, 3]) and np.array_equal(hi, [1, 2, 3])
    with pytest.raises(ValueError, match="at least one sample"):
        bootstrap_ci(np.array([]), mean)
    with pytest.raises(ValueError, match="reps"):
        bootstrap_ci(np.ones(3), mean, reps=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(np.ones(3), mean, confidence=1.0)


def test_batched_exponent_fit_matches_per_curve_polyfit() -> None:
    ts = np.array([1, 2, 5, 10, 50, 100])
    rng = np.random.default_rng(0)
    values = rng.uniform(0.5, 2.0, size=(4, ts.size)) * ts**0.7
    values[1, :3] = 0.0  # left out of the fit
    values[3, :5] = 0.0  # a single positive point: slope 0
    expected = []
    for v in values:
        keep = v > 0
        expected.append(np.polyfit(np.log(ts[keep]), np.log(v[keep]), 1)[0] if keep.sum() >= 2 else 0.0)
    assert np.allclose(fit_exponent_at(ts, values), expected, atol=1e-10)
    assert float(fit_exponent_at(ts, 3 * ts**0.5)) == pytest.approx(0.5)


def test_time_grid() -> None:
    g = time_grid(10**6, log_x=True)
    assert g[0] == 1 and g[-1] == 10**6 and len(g) <= 400 and np.all(np.diff(g) > 0)
    g = time_grid(12_345, log_x=False)
    assert g[0] == 1 and g[-1] == 12_345 and len(g) <= 400
    assert list(time_grid(5, log_x=False)) == [1, 2, 3, 4, 5]
    assert list(time_grid(3, log_x=True)) == [1, 2, 3]


# --------------------------------------------------------------------------- numbers in the report
def test_report_numbers_match_hand_computation(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for seed, scale in enumerate([1.0, 2.0, 3.0, 10.0]):
        make_run(runs, LINEAR, "sqrt-agent", seed, power_law_increments(scale, 0.5, 2000))
        make_run(runs, LINEAR, "linear-agent", seed, np.full(2000, 0.1 * (seed + 1)), wall_time_s=seed + 1)
    report = compare_runs([runs], tmp_path / "report", reps=500)
    rows = {r["agent"]: r for r in report.rows}
    sq, lin = rows["sqrt-agent"], rows["linear-agent"]

    finals = np.array([1.0, 2.0, 3.0, 10.0]) * np.sqrt(2000)
    assert sq["n_seeds"] == 4 and sq["steps"] == 2000
    assert sq["final_regret_mean"] == pytest.approx(finals.mean())
    assert sq["final_regret_iqm"] == pytest.approx(2.5 * np.sqrt(2000))  # trims 1 and 10
    assert sq["final_regret_std"] == pytest.approx(finals.std(ddof=1))
    assert sq["final_regret_ci_low"] <= sq["final_regret_mean"] <= sq["final_regret_ci_high"]
    assert sq["final_regret_ci_low"] >= finals.min() and sq["final_regret_ci_high"] <= finals.max()
    assert sq["regret_exponent"] == pytest.approx(0.5, abs=1e-6)
    assert sq["regret_exponent_ci_low"] == pytest.approx(0.5, abs=1e-6)  # every resample is c*sqrt(t)
    assert sq["regret_exponent_ci_high"] == pytest.approx(0.5, abs=1e-6)
    assert lin["regret_exponent"] == pytest.approx(1.0, abs=1e-6)
    assert lin["final_regret_mean"] == pytest.approx(2000 * (0.1 + 0.2 + 0.3 + 0.4) / 4)
    assert sq["wall_time_s_mean"] == 2.0 and sq["steps_per_s"] == pytest.approx(4 * 2000 / 8.0)
    assert lin["wall_time_s_mean"] == 2.5 and lin["steps_per_s"] == pytest.approx(4 * 2000 / 10.0)
    assert "violations_mean" not in sq

    for name in REPORT_FILES:
        assert report.files[name] == tmp_path / "report" / name
        assert report.files[name].stat().st_size > 0
    parsed = read_csv(tmp_path / "report" / "table.csv")
    assert list(parsed[0]) == [*CSV_COLUMNS, *EXTRA_COLUMNS]
    by_agent = {r["agent"]: r for r in parsed}
    assert by_agent["sqrt-agent"]["env_id"] == LINEAR and by_agent["sqrt-agent"]["n_seeds"] == "4"
    for key in CSV_COLUMNS[2:]:
        assert float(by_agent["linear-agent"][key]) == pytest.approx(lin[key])
    md = (tmp_path / "report" / "table.md").read_text()
    assert f"### {LINEAR}" in md
    assert "| linear-agent | 4 | 2,000 | 500.0 [" in md and "| 1.00 [1.00, 1.00] |" in md
    assert md.index("| sqrt-agent") < md.index("| linear-agent")  # lowest final regret first
    assert report.to_markdown() == md
    data = json.loads((tmp_path / "report" / "report.json").read_text())
    assert data["rows"] == report.rows and data["skipped"] == []
    used = {(g["env_id"], g["agent"]): g["paths"] for g in data["runs"]}
    assert len(used[(LINEAR, "sqrt-agent")]) == 4
    assert all(Path(p).is_dir() for p in used[(LINEAR, "linear-agent")])


def test_report_is_deterministic_and_iqm_changes_only_the_plot(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for seed in range(5):
        make_run(tmp_path / "runs", LINEAR, "noisy", seed, rng.uniform(0, 1, 300))
    a = compare_runs([tmp_path / "runs"], tmp_path / "a", reps=300)
    b = compare_runs([tmp_path / "runs"], tmp_path / "b", reps=300, statistic="iqm", log_x=True, log_y=True)
    assert a.rows == b.rows
    assert "iqm over seeds" in b.to_markdown()


def test_violation_columns_and_second_panel(tmp_path: Path) -> None:
    viol = np.zeros(200)
    viol[:20] = 0.05
    for seed in range(3):
        make_run(
            tmp_path / "runs",
            "rl_suite/ConstrainedBandit-v0",
            "safe",
            seed,
            np.full(200, 0.1),
            violation=viol,
        )
    make_run(tmp_path / "runs", LINEAR, "plain", 0, np.full(100, 0.2))
    report = compare_runs(
        [tmp_path / "runs"], tmp_path / "r", reps=100, log_x=True, log_y=True, statistic="iqm"
    )
    row = next(r for r in report.rows if r["agent"] == "safe")
    assert row["violations_mean"] == 20 and row["violations_ci_low"] == row["violations_ci_high"] == 20
    assert row["violation_amount_mean"] == pytest.approx(1.0)
    assert "violations_mean" not in next(r for r in report.rows if r["agent"] == "plain")
    parsed = read_csv(tmp_path / "r" / "table.csv")
    assert list(parsed[0]) == [*CSV_COLUMNS, *VIOLATION_COLUMNS, *EXTRA_COLUMNS]
    safe = next(r for r in parsed if r["agent"] == "safe")
    assert float(safe["violation_amount_mean"]) == pytest.approx(1.0)
    assert next(r for r in parsed if r["agent"] == "plain")["violations_mean"] == ""
    assert "violating steps [95% CI]" in (tmp_path / "r" / "table.md").read_text()
    svg = (tmp_path / "r" / "regret.svg").read_text()
    assert "cumulative violating rounds" in svg  # the second row of panels
    assert "constraint violations" in svg


def test_plot_has_a_panel_per_env_with_labels_and_legend(tmp_path: Path) -> None:
    for seed in range(3):
        make_run(tmp_path / "runs", LINEAR, "linucb", seed, np.full(50, 0.1 * (seed + 1)))
        make_run(tmp_path / "runs", MAB, "linucb", seed, np.full(50, 0.2))
        make_run(tmp_path / "runs", MAB, "ucb1", seed, np.full(50, 0.3))
    report = compare_runs([tmp_path / "runs"], tmp_path / "r", reps=100, title="a title")
    svg = (tmp_path / "r" / "regret.svg").read_text()
    for text in (LINEAR, MAB, "rounds t", "cumulative regret R(t)", "linucb (n=3)", "ucb1 (n=3)", "a title"):
        assert text in svg
    assert "violating" not in svg
    assert report.files["regret.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_single_run(tmp_path: Path) -> None:
    viol = np.zeros(40)
    viol[::4] = 0.5
    run = read_run(make_run(tmp_path, LINEAR, "linucb", 0, np.full(40, 0.1), violation=viol))
    plot_single_run(run, tmp_path / "one.png")
    assert (tmp_path / "one.png").read_bytes()[:4] == b"\x89PNG"
    (run.path / "metrics.csv").unlink()
    plot_single_run(run, tmp_path / "empty.svg")  # no steps: an empty panel, not an error
    assert "no recorded steps" in (tmp_path / "empty.svg").read_text()


# --------------------------------------------------------------------------- which runs are used
def test_incomplete_runs_are_skipped_and_reported_then_included(tmp_path: Path) -> None:
    make_run(tmp_path, LINEAR, "a", 0, np.full(100, 0.5))
    make_run(tmp_path, LINEAR, "a", 1, np.full(60, 0.5), status="interrupted")
    make_run(tmp_path, LINEAR, "a", 2, np.full(80, 0.5), status="failed")
    report = compare_runs([tmp_path], tmp_path / "r1", reps=100)
    assert report.rows[0]["n_seeds"] == 1 and report.rows[0]["steps"] == 100
    assert sorted(s for _, s in report.skipped) == ["failed", "interrupted"]
    assert "Skipped 2 runs: 1 failed, 1 interrupted — use --include-incomplete" in report.to_markdown()
    data = json.loads((tmp_path / "r1" / "report.json").read_text())
    assert sorted(s["status"] for s in data["skipped"]) == ["failed", "interrupted"]

    report = compare_runs([tmp_path], tmp_path / "r2", reps=100, include_incomplete=True)
    row = report.rows[0]
    assert row["n_seeds"] == 3 and report.skipped == []
    assert row["steps"] == 60 and row["truncated_runs"] == 2 and row["steps_longest"] == 100
    assert row["final_regret_mean"] == pytest.approx(30.0)


def test_runs_of_different_lengths_are_cut_to_the_shortest(tmp_path: Path) -> None:
    for seed, steps in enumerate([500, 300, 400]):
        make_run(tmp_path, LINEAR, "a", seed, np.full(steps, 1.0))
    report = compare_runs([tmp_path], tmp_path / "r", reps=100)
    row = report.rows[0]
    assert row["steps"] == 300 and row["final_regret_mean"] == pytest.approx(300.0)
    assert row["final_regret_std"] == 0.0 and row["truncated_runs"] == 2
    md = report.to_markdown()
    assert "| 300* |" in md and "2 of 3 runs cut from up to 500 steps" in md


def test_runs_without_steps_are_skipped(tmp_path: Path) -> None:
    make_run(tmp_path, LINEAR, "a", 0, np.full(30, 0.5))
    make_run(tmp_path, LINEAR, "a", 1, np.zeros(0), status="failed")
    (make_run(tmp_path, LINEAR, "b", 0, np.zeros(1), status="failed") / "metrics.csv").unlink()
    report = compare_runs([tmp_path], tmp_path / "r", reps=50, include_incomplete=True)
    assert [(r["agent"], r["n_seeds"]) for r in report.rows] == [("a", 1)]
    assert sorted(s for _, s in report.skipped) == ["empty", "empty"]
    assert "fewer than 2 recorded steps" in report.to_markdown()


def test_only_incomplete_runs_is_a_user_error(tmp_path: Path) -> None:
    make_run(tmp_path, LINEAR, "a", 0, np.full(10, 0.5), status="interrupted")
    make_run(tmp_path, LINEAR, "a", 1, np.full(10, 0.5), status="failed")
    with pytest.raises(UserError, match=r"no completed runs to compare \(1 failed, 1 interrupted\); use --"):
        compare_runs([tmp_path], tmp_path / "r")
    with pytest.raises(UserError, match="no completed runs"):
        load_groups([tmp_path])
    groups, skipped = load_groups([tmp_path], include_incomplete=True)
    assert list(groups) == [(LINEAR, "a")] and [r.seed for r in groups[(LINEAR, "a")]] == [0, 1]
    assert skipped == []


def test_bad_paths_and_arguments_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such run folder"):
        compare_runs([tmp_path / "nope"], tmp_path / "r")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no runs under"):
        compare_runs([tmp_path / "empty"], tmp_path / "r")
    make_run(tmp_path / "x", LINEAR, "a", 0, np.full(30, 0.1))
    with pytest.raises(UserError, match="statistic must be one of mean, iqm, got 'median'"):
        compare_runs([tmp_path / "x"], tmp_path / "r", statistic="median")
    with pytest.raises(UserError, match="reps must be >= 1"):
        compare_runs([tmp_path / "x"], tmp_path / "r", reps=0)
    assert not (tmp_path / "r").exists()


def test_partial_last_line_is_dropped(tmp_path: Path) -> None:
    make_run(tmp_path, LINEAR, "a", 0, np.full(50, 1.0), partial_line=True)
    report = compare_runs([tmp_path], tmp_path / "r", reps=50)
    assert report.rows[0]["steps"] == 50
    assert report.rows[0]["final_regret_mean"] == pytest.approx(50.0)


def test_groups_by_env_and_label(tmp_path: Path) -> None:
    make_run(tmp_path / "x", LINEAR, "a", 0, np.full(30, 0.1))
    make_run(tmp_path / "y", MAB, "a", 0, np.full(30, 0.2))
    labelled = make_run(tmp_path / "y", MAB, "a", 1, np.full(30, 0.3))
    summary = json.loads((labelled / "summary.json").read_text())
    (labelled / "summary.json").write_text(json.dumps({**summary, "label": "a-tuned"}))
    progress: list[tuple[int, int]] = []
    report = compare_runs(
        [tmp_path / "x", tmp_path / "y"],
        tmp_path / "r",
        reps=50,
        progress=lambda d, t: progress.append((d, t)),
    )
    assert [(r["env_id"], r["agent"]) for r in report.rows] == [(LINEAR, "a"), (MAB, "a"), (MAB, "a-tuned")]
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_import_is_light() -> None:
    import subprocess

    code = "import sys, rl_suite.compare; print('matplotlib' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_runs_of_one_env_id_with_different_settings_are_not_pooled(tmp_path: Path) -> None:
    for seed in range(2):
        for model, scale in (("disjoint", 1.0), ("shared", 3.0)):
            path = make_run(tmp_path / model, LINEAR, "linucb", seed, np.full(50, 0.1 * scale))
            (path / "config.yaml").write_text(
                f"env: {{id: {LINEAR}, dim: 4, model: {model}}}\nagent: {{name: linucb}}\nseed: {seed}\n"
            )
    groups, _ = load_groups([tmp_path])
    assert sorted(groups) == [
        (f"{LINEAR} [model=disjoint]", "linucb"),
        (f"{LINEAR} [model=shared]", "linucb"),
    ]
    assert all(len(runs) == 2 for runs in groups.values())
    report = compare_runs([tmp_path], tmp_path / "report")
    finals = {r["env_id"]: r["final_regret_mean"] for r in report.rows}
    assert finals[f"{LINEAR} [model=shared]"] == pytest.approx(3 * finals[f"{LINEAR} [model=disjoint]"])


# --------------------------------------------------------------------------- aggregate across envs
SAFE = "rl_suite/SafeLinearBandit-v0"
AGGREGATE_FILES = (
    "aggregate.png",
    "aggregate.svg",
    "aggregate.md",
    "aggregate.csv",
    "poi.csv",
    "aggregate.json",
)


def make_aggregate_runs(root: Path) -> None:
    """3 envs x {good, bad} x 4 seeds: final regret 10 + seed (good) and 20 + seed (bad) on every env."""
    for env_id in (MAB, LINEAR, SAFE):
        for seed in range(4):
            make_run(root, env_id, "good", seed, np.full(10, 1.0 + 0.1 * seed))
            make_run(root, env_id, "bad", seed, np.full(10, 2.0 + 0.1 * seed))


def test_aggregate_report_numbers_match_hand_computation(tmp_path: Path) -> None:
    make_aggregate_runs(tmp_path / "runs")
    make_run(tmp_path / "runs", MAB, "one-env-only", 0, np.full(10, 1.0))
    report = compare_runs([tmp_path / "runs"], tmp_path / "report", reps=300, aggregate=True)
    agg = report.aggregate
    assert agg is not None and agg.tasks == sorted([MAB, LINEAR, SAFE])
    assert agg.dropped == ["one-env-only"]  # stratification needs every env
    rows = {r["agent"]: r for r in agg.rows}
    # 12 scores of good: 10, 11, 12, 13 three times each; the IQM trims the three 10s and three 13s.
    assert rows["good"]["iqm"] == pytest.approx(11.5) and rows["good"]["mean"] == pytest.approx(11.5)
    assert rows["bad"]["iqm"] == pytest.approx(21.5) and rows["bad"]["runs_per_task"] == 4
    assert 10 <= rows["good"]["iqm_ci_low"] <= 11.5 <= rows["good"]["iqm_ci_high"] <= 13
    assert [r["agent"] for r in agg.rows] == ["good", "bad"]  # lowest IQM first
    poi = {(p["x"], p["y"]): p for p in agg.poi}
    assert (poi[("good", "bad")]["p"], poi[("good", "bad")]["ci_low"]) == (1.0, 1.0)
    assert poi[("bad", "good")]["p"] == 0.0
    # The IQM-over-time curve ends at the final IQM; regret grows linearly, so halfway it is half.
    curve = agg.curves["good"]["iqm"]
    assert curve[-1] == pytest.approx(11.5) and curve[len(curve) // 2 - 1] == pytest.approx(5.75)
    assert agg.profiles["bad"]["fraction"][-1] == 1.0 and agg.profiles["bad"]["fraction"][0] == 0.0
    for name in AGGREGATE_FILES:
        assert report.files[name] == tmp_path / "report" / name and report.files[name].stat().st_size > 0
    table = read_csv(tmp_path / "report" / "aggregate.csv")
    assert [r["agent"] for r in table] == ["good", "bad"] and float(table[0]["iqm"]) == pytest.approx(11.5)
    assert len(read_csv(tmp_path / "report" / "poi.csv")) == 2
    md = (tmp_path / "report" / "aggregate.md").read_text()
    assert "### Aggregate over 3 envs" in md and "not normalised" in md
    assert "| good | - | 1.00 [1.00, 1.00] |" in md and "Left out (no runs on some env): one-env-only" in md
    data = json.loads((tmp_path / "report" / "aggregate.json").read_text())
    assert data["rows"] == agg.rows and data["random_state"] == 0


def test_aggregate_normalised_by_a_reference_agent(tmp_path: Path) -> None:
    from rl_suite.compare import aggregate_groups, align, read_curves

    make_aggregate_runs(tmp_path / "runs")
    grouped, _ = load_groups([tmp_path / "runs"])
    groups = [align(e, a, [read_curves(r) for r in runs], log_x=False) for (e, a), runs in grouped.items()]
    agg = aggregate_groups(groups, reps=200, normalise_by="good")  # the numbers, without the plots
    rows = {r["agent"]: r for r in agg.rows}
    assert rows["good"]["mean"] == pytest.approx(1.0)  # the reference's mean is 1 on every env
    assert rows["bad"]["mean"] == pytest.approx(21.5 / 11.5)
    assert agg.curves["good"]["iqm"][-1] == pytest.approx(1.0)
    assert "mean final regret of good" in agg.to_markdown()
    with pytest.raises(UserError, match=r"--normalise-by 'nope' is not an agent.*good"):
        compare_runs([tmp_path / "runs"], tmp_path / "r2", aggregate=True, normalise_by="nope")
    with pytest.raises(UserError, match="add --aggregate"):
        compare_runs([tmp_path / "runs"], tmp_path / "r3", normalise_by="good")
    assert not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()


def test_cli_compare_aggregate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rl_suite.cli import main

    make_aggregate_runs(tmp_path / "runs")
    out = tmp_path / "report"
    args = ["compare", str(tmp_path / "runs"), "--out", str(out), "--aggregate", "--normalise-by", "bad"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--reps", "100", "--track"])  # wandb is disabled in tests: the logging path runs
    stdout = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "### Aggregate over 3 envs" in stdout and "P(row has lower regret than column)" in stdout
    assert f"aggregate.png: {out / 'aggregate.png'}" in stdout


# --------------------------------------------------------------------------- rows, copies, damage, T
def edit_summary(path: Path, **changes: object) -> None:
    """Change keys of a run folder's summary.json (``None`` removes a key)."""
    summary = json.loads((path / "summary.json").read_text())
    summary.update(changes)
    summary = {k: v for k, v in summary.items() if v is not None}
    (path / "summary.json").write_text(json.dumps(summary))


def with_settings(path: Path, agent_settings: dict[str, object], **changes: object) -> Path:
    """Make a hand-made folder a format-2 one with the given agent settings in its summary."""
    edit_summary(path, format=2, env_kwargs={}, agent_settings=agent_settings, **changes)
    return path


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


def trial(
    out: Path, seed: int, alpha: float, label: str | None = None, steps: int = 150, **settings: object
) -> Path:
    from rl_suite.runner import run_trial

    config = {
        "env": {"id": LINEAR, "dim": 3, "n_arms": 4},
        "agent": {"name": "linucb", "alpha": alpha, **settings},
        "seed": seed,
        "total_steps": steps,
        "out": str(out),
        "label": label,
    }
    return run_trial(config).path


def test_different_agent_settings_never_share_a_row(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for seed in range(2):
        for alpha in (0.5, 2.0):
            trial(runs, seed, alpha)
            trial(runs, seed, alpha, label="tuned", lam=2.0)  # a user label: still one row per setting
    report = compare_runs([runs], tmp_path / "r", reps=50)
    rows = {r["agent"]: r["n_seeds"] for r in report.rows}
    assert rows == {
        "linucb [alpha=0.5]": 2,
        "linucb [alpha=2.0]": 2,
        "tuned [alpha=0.5]": 2,
        "tuned [alpha=2.0]": 2,
    }
    md = report.to_markdown()
    assert "| linucb [alpha=0.5] | 2 |" in md and "| tuned [alpha=2.0] | 2 |" in md
    # A label only names a run: the same settings and seed under another label are the same run.
    same = trial(runs, 0, 0.5, label="renamed")
    report = compare_runs([runs], tmp_path / "r2", reps=50)
    assert "renamed" not in {r["agent"] for r in report.rows}
    assert report.skipped == [(str(same), "duplicate")]


def test_one_label_on_two_agents_names_the_agents(tmp_path: Path) -> None:
    with_settings(make_run(tmp_path, LINEAR, "linucb", 0, np.full(30, 0.1)), {"alpha": 1.0}, label="best")
    with_settings(make_run(tmp_path, LINEAR, "oful", 0, np.full(30, 0.2)), {"alpha": 1.0}, label="best")
    with_settings(make_run(tmp_path, MAB, "ucb1", 0, np.full(30, 0.2)), {"c": 1.0}, label="best")
    report = compare_runs([tmp_path], tmp_path / "r", reps=20)
    assert sorted((r["env_id"], r["agent"]) for r in report.rows) == [
        (LINEAR, "best [agent=linucb]"),
        (LINEAR, "best [agent=oful]"),
        (MAB, "best"),  # on its own env nothing needs telling apart
    ]


def test_a_copied_run_folder_is_counted_once(tmp_path: Path) -> None:
    import shutil

    runs = tmp_path / "runs"
    original = trial(runs, 0, 1.0)
    trial(runs, 1, 1.0)
    copy = runs / (original.name + "-copy")
    shutil.copytree(original, copy)
    report = compare_runs([runs], tmp_path / "r", reps=50)
    assert [r["n_seeds"] for r in report.rows] == [2]
    assert report.skipped == [(str(copy), "duplicate")]
    lines = [line for line in report.to_markdown().splitlines() if str(copy) in line]
    assert len(lines) == 1 and "dropped" in lines[0] and str(original) in lines[0]
    assert "config_hash" in lines[0] and "seed 0" in lines[0]
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["skipped"][0]["status"] == "duplicate" and str(original) in data["skipped"][0]["reason"]
    assert len(data["notes"]) == 1 and data["runs"][0]["seeds"] == [0, 1]


def test_the_most_complete_copy_is_kept(tmp_path: Path) -> None:
    def copy_of(name: str, steps: int, status: str, started: str) -> Path:
        path = make_run(tmp_path / name, LINEAR, "a", 0, np.full(steps, 0.5), status=status)
        return with_settings(path, {}, config_hash="abc", started_at=started)

    done = copy_of("a", 100, "completed", "2026-01-01T00:00:00+00:00")
    later = copy_of("b", 100, "completed", "2026-01-02T00:00:00+00:00")
    copy_of("c", 120, "interrupted", "2025-12-31T00:00:00+00:00")  # more steps and older, not completed
    report = compare_runs([tmp_path], tmp_path / "r", reps=20, include_incomplete=True)
    assert report.rows[0]["n_seeds"] == 1
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["runs"][0]["paths"] == [str(done)]  # equally complete: the copy started first stands
    reasons = {Path(s["path"]).parent.name: s["reason"] for s in data["skipped"]}
    assert "it is completed, this one is interrupted" in reasons["c"]
    assert "started first" in reasons["b"] and str(done) in reasons["b"]
    assert later.exists()


def test_runs_with_short_or_gapped_metrics_are_left_out_or_cut_at_the_gap(tmp_path: Path) -> None:
    make_run(tmp_path, LINEAR, "a", 0, np.full(100, 1.0))
    short = make_run(tmp_path, LINEAR, "a", 1, np.full(100, 1.0))
    lines = (short / "metrics.csv").read_text().splitlines(keepends=True)
    (short / "metrics.csv").write_text("".join(lines[:61]))  # header + 60 of 100 steps
    gap = make_run(tmp_path, LINEAR, "a", 2, np.full(100, 1.0))
    lines = (gap / "metrics.csv").read_text().splitlines(keepends=True)
    (gap / "metrics.csv").write_text("".join(lines[:41] + lines[42:]))  # step 41 is missing

    report = compare_runs([tmp_path], tmp_path / "r1", reps=20)
    assert report.rows[0]["n_seeds"] == 1 and report.rows[0]["steps"] == 100
    assert sorted(report.skipped) == [(str(short), "incomplete metrics"), (str(gap), "incomplete metrics")]
    md = report.to_markdown()
    assert "metrics end at step 60 but the summary says 100 steps were done" in md
    assert "gap or repeat after step 40" in md and "--include-incomplete uses its first 40 steps" in md

    report = compare_runs([tmp_path], tmp_path / "r2", reps=20, include_incomplete=True)
    row = report.rows[0]
    assert row["n_seeds"] == 3 and report.skipped == []
    assert row["steps"] == 40 and row["final_regret_mean"] == pytest.approx(40.0)
    assert any(str(gap) in n and "used its first 40 steps" in n for n in report.notes)


def test_curves_are_indexed_by_the_step_column(tmp_path: Path) -> None:
    regret = np.linspace(0.0, 1.0, 200)
    make_run(tmp_path / "ordered", LINEAR, "a", 0, regret)
    shuffled = make_run(tmp_path / "shuffled", LINEAR, "a", 0, regret)
    header, *rows = (shuffled / "metrics.csv").read_text().splitlines(keepends=True)
    order = np.random.default_rng(0).permutation(len(rows))
    (shuffled / "metrics.csv").write_text(header + "".join(rows[i] for i in order))  # every row intact

    curves = read_curves(read_run(shuffled))
    assert np.allclose(curves.cumulative_regret, np.cumsum(regret))
    a = compare_runs([tmp_path / "ordered"], tmp_path / "a", reps=50).rows[0]
    b = compare_runs([tmp_path / "shuffled"], tmp_path / "b", reps=50).rows[0]
    assert b["final_regret_mean"] == pytest.approx(regret.sum())
    assert b["regret_exponent"] == pytest.approx(a["regret_exponent"])


def test_every_row_of_an_env_reports_regret_at_the_same_t(tmp_path: Path) -> None:
    for seed in range(2):
        make_run(tmp_path, LINEAR, "long", seed, np.full(300, 1.0))
        make_run(tmp_path, LINEAR, "short", seed, np.full(120, 1.0))
    make_run(tmp_path, MAB, "other", 0, np.full(50, 1.0))
    report = compare_runs([tmp_path], tmp_path / "r", reps=20)
    rows = {r["agent"]: r for r in report.rows}
    assert rows["long"]["steps"] == rows["short"]["steps"] == 120
    assert rows["long"]["final_regret_mean"] == pytest.approx(120.0)
    assert rows["other"]["steps"] == 50  # another env keeps its own T
    md = report.to_markdown()
    assert "Final regret at T = 120 for every row; its runs have 120 to 300 steps" in md
    assert "Final regret at T = 50 for every row." in md
    assert json.loads((tmp_path / "r" / "report.json").read_text())["steps"] == {LINEAR: 120, MAB: 50}


def test_damaged_runs_are_listed_and_the_rest_compared(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs, LINEAR, "a", 0, np.full(30, 0.5))
    bad_summary = make_run(runs, LINEAR, "a", 1, np.full(30, 0.5))
    (bad_summary / "summary.json").write_text("{not json")
    bad_metrics = make_run(runs, LINEAR, "a", 2, np.full(30, 0.5))
    with (bad_metrics / "metrics.csv").open("a") as fh:
        fh.write("31,0,oops,0.5,16\n")
    bad_config = make_run(runs, LINEAR, "a", 3, np.full(30, 0.5))
    (bad_config / "config.yaml").write_text("env: [unclosed\n")
    before = tree_state(runs)

    report = compare_runs([runs], tmp_path / "r", reps=20)
    assert report.rows[0]["n_seeds"] == 1
    kinds = dict(report.skipped)
    assert kinds == {str(bad_summary): "damaged", str(bad_metrics): "damaged", str(bad_config): "damaged"}
    notes = "\n".join(report.notes)
    assert "summary.json is not valid JSON" in notes and "metrics.csv is damaged" in notes
    assert "config.yaml is not valid YAML" in notes
    assert all("\n" not in n for n in report.notes)
    assert tree_state(runs) == before  # nothing written into the run folders

    for path in runs.iterdir():
        if path.name.endswith("s0__20260101-000000"):
            (path / "summary.json").write_text("[]")
    with pytest.raises(UserError, match=r"^no usable runs to compare \(4 damaged\); first: ") as err:
        compare_runs([runs], tmp_path / "r2")
    assert "\n" not in str(err.value)


def test_older_format_folders_are_read_from_their_config(tmp_path: Path) -> None:
    old = make_run(tmp_path, LINEAR, "linucb", 0, np.full(40, 0.5))
    (old / "config.yaml").write_text(f"env: {{id: {LINEAR}, dim: 3}}\nagent: {{name: linucb, alpha: 1.0}}\n")
    new = make_run(tmp_path, LINEAR, "linucb", 1, np.full(40, 0.5))
    edit_summary(new, format=2, env_kwargs={"dim": 3}, agent_settings={"alpha": 1.0})
    (new / "config.yaml").unlink()  # a format-2 folder carries its settings in the summary
    report = compare_runs([tmp_path], tmp_path / "r", reps=20)
    assert [(r["env_id"], r["agent"], r["n_seeds"]) for r in report.rows] == [(LINEAR, "linucb", 2)]

    (old / "config.yaml").unlink()
    report = compare_runs([tmp_path], tmp_path / "r2", reps=20)
    assert report.skipped == [(str(old), "older format")]
    (line,) = report.notes
    assert line.startswith(f"older format: {old} was written by an older run-store format")
    assert f"rl-suite train --resume {old}" in line


def test_out_must_be_a_folder_outside_the_runs(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", LINEAR, "a", 0, np.full(30, 0.5))
    (tmp_path / "taken").write_text("not a folder")
    with pytest.raises(UserError, match=r"--out .*taken is an existing file; the report needs a folder"):
        compare_runs([tmp_path / "runs"], tmp_path / "taken")
    with pytest.raises(UserError, match="is inside the run folder"):
        compare_runs([tmp_path / "runs"], run / "report")
    assert not (run / "report").exists()


def test_per_env_intervals_are_the_aggregate_bootstrap_on_one_env(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for seed in range(6):
        make_run(tmp_path, LINEAR, "good", seed, rng.uniform(0, 1, 50))
        make_run(tmp_path, LINEAR, "bad", seed, rng.uniform(0.5, 1.5, 50))
    report = compare_runs([tmp_path], tmp_path / "r", reps=400, aggregate=True, random_state=5)
    assert report.aggregate is not None
    agg = {r["agent"]: r for r in report.aggregate.rows}
    for row in report.rows:
        a = agg[row["agent"]]
        assert (row["final_regret_ci_low"], row["final_regret_ci_high"]) == (
            a["mean_ci_low"],
            a["mean_ci_high"],
        )
        assert (row["final_regret_iqm_ci_low"], row["final_regret_iqm_ci_high"]) == pytest.approx(
            (a["iqm_ci_low"], a["iqm_ci_high"])
        )


def test_cli_compare_in_a_subprocess(tmp_path: Path) -> None:
    import subprocess

    runs = tmp_path / "runs"
    for alpha in (0.5, 2.0):
        trial(runs, 0, alpha, steps=100)
    out = tmp_path / "report"
    cmd = [sys.executable, "-m", "rl_suite", "compare", str(runs), "--out", str(out), "--reps", "50"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| linucb [alpha=0.5] | 1 |" in done.stdout and "| linucb [alpha=2.0] | 1 |" in done.stdout
    assert "Final regret at T = 100 for every row." in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    (tmp_path / "file").write_text("")
    cmd[cmd.index(str(out))] = str(tmp_path / "file")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: --out {tmp_path / 'file'} is an existing file; the report needs a folder"
    ]
