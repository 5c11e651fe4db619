"""The rl-suite command line: the happy paths end to end, and one clear line + exit 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rl_suite.cli import main
from rl_suite.store import find_runs

LINEAR = "rl_suite/LinearContextualBandit-v0"
MAB = "rl_suite/MultiArmedBandit-v0"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def assert_one_line_error(code: int, err: str, pattern: str) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    import re

    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture
def yaml_file(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / "cfg.yaml"
        path.write_text(text)
        return path

    return write


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["train", "--env", "rl_suite/LinearContextualBandt-v0", "--agent", "linucb"], "did you mean"),
        (["train", "--env", "CartPole-v1", "--agent", "linucb"], "unknown env id 'CartPole-v1'"),
        (["train", "--env", LINEAR, "--agent", "lin-ucb"], "unknown agent 'lin-ucb'; did you mean 'linucb'"),
        (["train", "--env", MAB, "--agent", "linucb"], "does not support rl_suite/MultiArmedBandit-v0"),
        (["train", "--env", LINEAR, "--agent", "linucb", "--total-steps", "-5"], "total_steps"),
        (
            ["train", "--env", LINEAR, "--agent", "linucb", "--set", "agent.alhpa=1"],
            "unknown key 'agent.alhpa'",
        ),
        (["train", "--env", LINEAR, "--agent", "linucb", "--set", "env.dim=-3"], "dim"),
        (["train", "--env", LINEAR, "--agent", "linucb", "--set", "oops"], "--set 'oops' not understood"),
        (["train", "--env", LINEAR, "--agent", "linucb", "--seeds", "5-1"], "seed range"),
        (
            ["train", "--env", LINEAR, "--agent", "linucb", "--config", "missing.yaml"],
            "config file not found",
        ),
        (["train", "--resume", "no/such/run"], "no such run folder"),
        (["compare", "no/such/dir"], "no such run folder: no/such/dir"),
        (["solve", "rl_suite/Nope-v0"], "unknown env id"),
        (["solve", LINEAR, "--set", "dimm=3"], "env.dimm is not an argument"),
        (["sweep", "missing.yaml"], "config file not found"),
        (["train", "--env", LINEAR], "missing --agent"),
        (["train", "--nope"], "No such option"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], pattern: str
) -> None:
    code, _, err = cli(capsys, *args)
    assert_one_line_error(code, err, pattern)


def test_bad_yaml_key_and_type(capsys: pytest.CaptureFixture[str], yaml_file) -> None:
    path = yaml_file(f"env: {{id: {LINEAR}}}\nagent: {{name: linucb}}\ntotal_stepz: 10\n")
    code, _, err = cli(capsys, "train", "--config", str(path))
    assert_one_line_error(code, err, "unknown key 'total_stepz'; allowed: env, agent")
    path = yaml_file(f"env: {{id: {LINEAR}}}\nagent: {{name: linucb, alpha: lots}}\n")
    code, _, err = cli(capsys, "train", "--config", str(path))
    assert_one_line_error(code, err, "agent.alpha")
    path = yaml_file("env: [unclosed\n")
    code, _, err = cli(capsys, "train", "--config", str(path))
    assert_one_line_error(code, err, "not valid YAML")


def test_compare_of_empty_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = cli(capsys, "compare", str(tmp_path))
    assert_one_line_error(code, err, "no runs under")


def test_console_script_reports_errors_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rl_suite", "train", "--env", "nope", "--agent", "linucb"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown env id 'nope'")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["train", "compare", "solve", "sweep", "envs", "agents", "analyze"])
def test_help_shows_an_example(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = cli(capsys, command, "--help")
    assert code == 0
    assert "Example" in out and "rl-suite " + command in out


def test_envs_and_agents_list_everything(capsys: pytest.CaptureFixture[str]) -> None:
    from rl_suite import registry

    _, out, _ = cli(capsys, "envs")
    for env_id in registry.env_ids():
        assert env_id.split("/")[1][:12] in out
    _, out, _ = cli(capsys, "agents")
    for name in registry.agent_names():
        assert name in out


def test_solve_prints_the_optimum(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "solve", MAB, "--set", "means=[0.2, 0.7, 0.5]")
    assert code == 0
    solution = json.loads(out)
    text = json.dumps(solution)
    assert "0.7" in text
    code, out, _ = cli(capsys, "solve", LINEAR, "--set", "env.dim=3", "--set", "n_arms=2")
    assert code == 0
    assert json.loads(out)


def test_train_seeds_then_compare(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "runs"
    common = ["--total-steps", "1500", "--out", str(out), "--set", "env.dim=4", "--set", "env.n_arms=3"]
    code, stdout, err = cli(capsys, "train", "--env", LINEAR, "--agent", "linucb", "--seeds", "0-2", *common)
    assert code == 0, err
    assert "LinearContextualBandit-v0__linucb__s2__" in stdout.replace("\n", "")
    code, _, err = cli(
        capsys, "train", "--env", LINEAR, "--agent", "epsilon-greedy", "--seeds", "0,1", *common
    )
    assert code == 0, err
    runs = find_runs([out])
    assert sorted((r.agent, r.seed) for r in runs) == [
        ("epsilon-greedy", 0),
        ("epsilon-greedy", 1),
        ("linucb", 0),
        ("linucb", 1),
        ("linucb", 2),
    ]
    report = tmp_path / "report"
    code, stdout, err = cli(capsys, "compare", str(out), "--out", str(report), "--log-x")
    assert code == 0, err
    for name in ("regret.png", "regret.svg", "table.md", "table.csv"):
        assert (report / name).is_file()
    assert "linucb" in stdout and "epsilon-greedy" in stdout


def test_train_with_workers_runs_in_parallel(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "runs"
    code, _, err = cli(
        capsys,
        "train",
        "--env",
        MAB,
        "--agent",
        "ucb1",
        "--seeds",
        "0-1",
        "--workers",
        "2",
        "--total-steps",
        "500",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert len(find_runs([out])) == 2


def test_sweep_skips_completed_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    out = tmp_path / "sweep_runs"
    sweep.write_text(
        "name: tiny\n"
        f"out: {out}\n"
        "total_steps: 400\n"
        "seeds: 0-1\n"
        f"envs:\n  - id: {MAB}\n    n_arms: 3\n"
        "agents:\n  - name: ucb1\n  - name: epsilon-greedy\n    epsilon: 0.2\n"
    )
    code, stdout, err = cli(capsys, "sweep", str(sweep))
    assert code == 0, err
    assert "4 completed" in stdout
    assert len(find_runs([out])) == 4
    code, stdout, err = cli(capsys, "sweep", str(sweep))
    assert code == 0, err
    assert "0 completed, 4 skipped" in stdout
    assert len(find_runs([out])) == 4
    code, stdout, err = cli(capsys, "sweep", str(sweep), "--set", "seeds=0-2")
    assert code == 0, err
    assert "2 completed, 4 skipped" in stdout


def test_constrained_sweep_then_compare_shows_violations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, yaml_file
) -> None:
    out = tmp_path / "runs"
    sweep = yaml_file(
        "name: c\ntotal_steps: 1500\nseeds: 0-1\n"
        f"out: {out}\n"
        "envs:\n  - id: rl_suite/ConstrainedMAB-v0\n    instance_seed: 10\n    reward_noise: gaussian\n"
        "agents:\n  - name: opb\n  - name: opb\n    label: opb-theory\n    alpha_r: theory\n"
        "  - name: ucb1\n    c: 0.2\n  - name: lagrangian\n"
    )
    code, _, err = cli(capsys, "sweep", str(sweep), "--workers", "1")
    assert code == 0, err
    runs = find_runs([out])
    assert sorted({r.label for r in runs}) == ["lagrangian", "opb", "opb-theory", "ucb1"]
    lagrangian = next(r for r in runs if r.label == "lagrangian")
    assert set(lagrangian.summary["agent_diagnostics"]) >= {
        "last_iterate_violation",
        "averaged_iterate_violation",
    }
    report = tmp_path / "report"
    code, _, err = cli(capsys, "compare", str(out), "--out", str(report))
    assert code == 0, err
    rows = {r["agent"]: r for r in json.loads((report / "report.json").read_text())["rows"]}
    assert rows["opb"]["violations_mean"] == 0 == rows["opb-theory"]["violations_mean"]
    assert rows["ucb1"]["violations_mean"] > 1000 and rows["ucb1"]["final_regret_mean"] < 0
    assert rows["ucb1"]["regret_exponent"] is None
    table = (report / "table.md").read_text()
    assert "violating steps [95% CI]" in table and "n/a (R(T) ≤ 0)" in table
    assert "constraint violations" in (report / "regret.svg").read_text()


def test_solve_discounted_tiger_prints_the_pbvi_value(capsys: pytest.CaptureFixture[str]) -> None:
    """A discount alone selects the classic infinite-horizon Tiger (SARSOP's bounds: 19.3711-19.3721)."""
    code, stdout, err = cli(capsys, "solve", "rl_suite/Tiger-v0", "--set", "discount=0.95")
    assert code == 0, err
    solution = json.loads(stdout)
    assert solution["horizon"] is None
    assert solution["reference"] == "pbvi"
    assert 19.3711 <= solution["optimal_value"] <= 19.3721
    finite = ["--set", "discount=0.95", "--set", "horizon=3"]
    code, stdout, err = cli(capsys, "solve", "rl_suite/Tiger-v0", *finite)
    assert code == 0, err
    assert json.loads(stdout)["optimal_value"] == pytest.approx(2.3098, abs=1e-4)


def test_solve_constrained_envs(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, err = cli(capsys, "solve", "rl_suite/ConstrainedMAB-v0", "--set", "preset=paper4arm")
    assert code == 0, err
    assert json.loads(stdout)["optimal_value_per_round"] == pytest.approx(0.7)
    code, _, err = cli(
        capsys, "solve", "rl_suite/ConstrainedMAB-v0", "--set", "preset=paper4arm", "--set", "tau=0"
    )
    assert_one_line_error(code, err, r"tau=0 must exceed the cost of the known safe action")


def test_solver_tuning_sweep_then_compare_reports_iterations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, yaml_file
) -> None:
    out = tmp_path / "runs"
    sweep = yaml_file(
        "name: s\ntotal_steps: 80\nseeds: 0-1\n"
        f"out: {out}\n"
        "envs:\n  - id: rl_suite/SORTuning-v0\n    m: 4\n    horizon: 80\n"
        "agents:\n  - name: tsallis-inf\n  - name: chebcb\n  - name: instance-oracle\n"
    )
    code, _, err = cli(capsys, "sweep", str(sweep), "--workers", "1")
    assert code == 0, err
    runs = find_runs([out])
    oracle = next(r for r in runs if r.agent == "instance-oracle")
    for key in (
        "total_iterations",
        "best_fixed_omega",
        "best_fixed_iterations",
        "instance_optimal_iterations",
    ):
        assert key in oracle.summary
    assert oracle.summary["ratio_to_instance_optimal"] == 1.0
    assert oracle.summary["cumulative_regret"] == 0.0
    report = tmp_path / "report"
    code, _, err = cli(capsys, "compare", str(out), "--out", str(report))
    assert code == 0, err
    table = (report / "table.md").read_text()
    assert "ratio to best fixed [95% CI]" in table and "total iterations [95% CI]" in table
    rows = {r["agent"]: r for r in json.loads((report / "report.json").read_text())["rows"]}
    assert rows["instance-oracle"]["ratio_to_instance_optimal_mean"] == 1.0
    code, stdout, err = cli(capsys, "solve", "rl_suite/SORTuning-v0", "--set", "m=4", "--set", "horizon=30")
    assert code == 0, err
    assert json.loads(stdout)["best_fixed_iterations"] > 0
