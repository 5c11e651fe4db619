"""Comparison statistics against hand values, and the report files on synthetic run folders."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from rl_suite.compare import bootstrap_ci, compare_runs, iqm, mean, time_grid
from rl_suite.errors import UserError
from rl_suite.regret import fit_regret_exponent

ENV = "rl_suite/LinearContextualBandit-v0"


def make_run(
    root: Path,
    agent: str,
    seed: int,
    regret: np.ndarray,
    status: str = "completed",
    env_id: str = ENV,
    violation: np.ndarray | None = None,
    partial_line: bool = False,
) -> Path:
    path = root / f"{env_id.split('/')[-1]}__{agent}__s{seed}"
    path.mkdir(parents=True)
    cum = np.cumsum(regret)
    summary = {
        "status": status,
        "env_id": env_id,
        "agent": agent,
        "seed": seed,
        "total_steps": regret.size,
        "steps_done": regret.size,
        "cumulative_regret": float(cum[-1]),
        "wall_time_s": 2.0,
    }
    (path / "summary.json").write_text(json.dumps(summary))
    (path / "config.yaml").write_text(f"agent: {{name: {agent}}}\n")
    cols = ["step", "episode", "reward", "regret", "cumulative_regret"] + (
        ["cost", "violation"] if violation is not None else []
    )
    lines = [",".join(cols)]
    for t in range(regret.size):
        row = [str(t + 1), "0", "0", repr(float(regret[t])), repr(float(cum[t]))]
        if violation is not None:
            row += ["0", repr(float(violation[t]))]
        lines.append(",".join(row))
    text = "\n".join(lines) + "\n"
    if partial_line:
        text += f"{regret.size + 1},0,0,0.5"  # what a kill mid-write leaves
    (path / "metrics.csv").write_text(text)
    return path


def test_iqm_hand_values() -> None:
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # middle half of 1..8 is 3,4,5,6
    assert iqm(np.array([1, 2, 3, 4, 5, 6, 7, 1000.0])) == pytest.approx(4.5)  # outlier trimmed
    assert mean(np.array([1, 2, 3, 4, 5, 6, 7, 1000.0])) == pytest.approx(128.5)
    assert np.allclose(iqm(np.array([[1.0, 10], [2, 20], [3, 30], [4, 40]]), axis=0), [2.5, 25])


def test_bootstrap_ci_brackets_and_is_reproducible() -> None:
    x = np.random.default_rng(0).normal(10.0, 1.0, size=50)
    lo, hi = bootstrap_ci(x, mean, reps=2000, random_state=3)
    assert lo < x.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * x.std() / np.sqrt(50), rel=0.25)
    assert (lo, hi) == bootstrap_ci(x, mean, reps=2000, random_state=3)
    lo2, hi2 = bootstrap_ci(np.stack([x, 2 * x], axis=1), mean, reps=500, random_state=0)
    assert lo2.shape == (2,) and (lo2 < hi2).all()
    one_lo, one_hi = bootstrap_ci(np.array([4.0]), mean)
    assert one_lo == one_hi == 4.0
    with pytest.raises(ValueError):
        bootstrap_ci(np.array([]), mean)


def test_time_grid() -> None:
    g = time_grid(10_000, log_x=True)
    assert g[0] == 1 and g[-1] == 10_000 and len(g) <= 401 and (np.diff(g) > 0).all()
    assert list(time_grid(5, log_x=False)) == [1, 2, 3, 4, 5]


def test_report_numbers_match_hand_computation(tmp_path: Path) -> None:
    t = np.arange(1, 2001, dtype=float)
    sqrt_increments = np.diff(np.concatenate([[0.0], np.sqrt(t)]))
    for seed, scale in enumerate([1.0, 2.0, 3.0]):
        make_run(tmp_path / "runs", "sqrt-agent", seed, scale * sqrt_increments)
        make_run(tmp_path / "runs", "linear-agent", seed, np.full(2000, 0.1 * (seed + 1)))
    report = compare_runs([tmp_path / "runs"], tmp_path / "report", reps=500)
    rows = {r["agent"]: r for r in report.rows}
    sq = rows["sqrt-agent"]
    assert sq["n_seeds"] == 3 and sq["steps"] == 2000
    assert sq["final_regret_mean"] == pytest.approx(2.0 * np.sqrt(2000))
    assert sq["final_regret_iqm"] == pytest.approx(2.0 * np.sqrt(2000))  # trims a third from each side
    assert sq["regret_exponent"] == pytest.approx(0.5, abs=1e-6)
    assert sq["final_regret_ci_low"] <= sq["final_regret_mean"] <= sq["final_regret_ci_high"]
    assert rows["linear-agent"]["regret_exponent"] == pytest.approx(1.0, abs=1e-6)
    assert rows["linear-agent"]["final_regret_mean"] == pytest.approx(0.2 * 2000)
    assert sq["steps_per_s"] == pytest.approx(3 * 2000 / 6.0)

    for name in ("regret.png", "regret.svg", "table.md", "table.csv", "report.json"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    with (tmp_path / "report" / "table.csv").open() as fh:
        parsed = {r["agent"]: r for r in csv.DictReader(fh)}
    assert float(parsed["linear-agent"]["final_regret_mean"]) == pytest.approx(400.0)
    md = (tmp_path / "report" / "table.md").read_text()
    assert "| sqrt-agent | 3 | 2,000 |" in md and "0.50 [" in md


def test_exponent_kernel_matches_compare(tmp_path: Path) -> None:
    t = np.arange(1, 1001, dtype=float)
    cum = 5 * t**0.7
    assert fit_regret_exponent(cum) == pytest.approx(0.7, abs=1e-9)


def test_incomplete_runs_are_skipped_then_included(tmp_path: Path) -> None:
    make_run(tmp_path, "a", 0, np.full(100, 0.5))
    make_run(tmp_path, "a", 1, np.full(60, 0.5), status="interrupted")
    make_run(tmp_path, "a", 2, np.full(100, 0.5), status="failed")
    report = compare_runs([tmp_path], tmp_path / "r1", reps=100)
    assert report.rows[0]["n_seeds"] == 1
    assert sorted(s for _, s in report.skipped) == ["failed", "interrupted"]
    assert "Skipped 2 run(s)" in report.to_markdown()
    report = compare_runs([tmp_path], tmp_path / "r2", reps=100, include_incomplete=True)
    row = report.rows[0]
    assert row["n_seeds"] == 3 and row["steps"] == 60 and row["truncated_runs"] == 2


def test_only_incomplete_runs_is_a_user_error(tmp_path: Path) -> None:
    make_run(tmp_path, "a", 0, np.full(10, 0.5), status="interrupted")
    with pytest.raises(UserError, match="no completed runs to compare \\(1 interrupted\\)"):
        compare_runs([tmp_path], tmp_path / "r")


def test_missing_and_empty_paths(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such run folder"):
        compare_runs([tmp_path / "nope"], tmp_path / "r")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no runs under"):
        compare_runs([tmp_path / "empty"], tmp_path / "r")


def test_partial_last_line_is_dropped(tmp_path: Path) -> None:
    make_run(tmp_path, "a", 0, np.full(50, 1.0), partial_line=True)
    report = compare_runs([tmp_path], tmp_path / "r", reps=50)
    assert report.rows[0]["steps"] == 50
    assert report.rows[0]["final_regret_mean"] == pytest.approx(50.0)


def test_violations_get_columns_and_a_second_panel(tmp_path: Path) -> None:
    viol = np.zeros(200)
    viol[:20] = 0.05
    for seed in range(2):
        make_run(tmp_path, "safe", seed, np.full(200, 0.1), violation=viol)
    report = compare_runs([tmp_path], tmp_path / "r", reps=100, log_x=True, log_y=True, statistic="iqm")
    row = report.rows[0]
    assert row["violations_mean"] == 20 and row["violation_amount_mean"] == pytest.approx(1.0)
    assert "violations [95% CI]" in (tmp_path / "r" / "table.md").read_text()


def test_groups_by_env_and_label(tmp_path: Path) -> None:
    make_run(tmp_path / "x", "a", 0, np.full(30, 0.1))
    make_run(tmp_path / "y", "a", 0, np.full(30, 0.2), env_id="rl_suite/MultiArmedBandit-v0")
    report = compare_runs([tmp_path / "x", tmp_path / "y"], tmp_path / "r", reps=50)
    assert sorted(r["env_id"] for r in report.rows) == [
        "rl_suite/LinearContextualBandit-v0",
        "rl_suite/MultiArmedBandit-v0",
    ]
    with pytest.raises(UserError, match="statistic"):
        compare_runs([tmp_path / "x"], tmp_path / "r", statistic="median")
