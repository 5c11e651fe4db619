"""Every input a user (or a damaged disk) can get wrong ends in one ``error:`` line and exit status 2.

Two parts: a list of malformed inputs tried one by one through the command line, and a property-based test
that damages a run folder at random (truncate, flip bytes, delete or empty any file) and then runs
``compare`` and ``train --resume``: one clear line or a correct result, never a traceback, and a run that
was refused is left exactly as it was.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rl_suite.cli import main
from rl_suite.runner import run_trial
from rl_suite.store import metrics_problem, read_run

LINEAR = "rl_suite/LinearContextualBandit-v0"
TRAIN = ["train", "--env", LINEAR, "--agent", "linucb", "-n", "50", "-q"]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the CLI in this process: (exit status, stderr). An unexpected exception fails the test."""
    capsys.readouterr()
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:  # main always exits
        code = 0
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def compare_one_line_or_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``compare`` over ``tmp_path/runs`` either works or refuses in one line."""
    args = ["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--include-incomplete"]
    code, err = run_cli([*args, "-q"], capsys)
    if code != 0:
        assert_one_line(code, err)


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A linear-bandit run with two checkpoints, marked interrupted as a kill would leave it."""
    out = tmp_path_factory.mktemp("pristine")
    run = run_trial(
        {"env": {"id": LINEAR, "dim": 4, "n_arms": 4}, "agent": {"name": "linucb"}, "total_steps": 3000,
         "checkpoint_every": 1000, "out": str(out / "runs")}
    )  # fmt: skip
    summary = json.loads((run.path / "summary.json").read_text())
    summary["status"] = "interrupted"
    (run.path / "summary.json").write_text(json.dumps(summary))
    return run.path


def copy_run(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "runs" / src.name
    shutil.copytree(src, dst)
    return dst


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- malformed inputs, one by one
def _write(rel: str, data: bytes) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        (run / rel).write_bytes(data)

    return damage


def _every_checkpoint(name: str, data: bytes | None) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        for path in run.glob(f"checkpoint/step-*/{name}"):
            if data is None:
                path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
            else:
                path.write_bytes(data)

    return damage


def _delete(rel: str) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        (run / rel).unlink()

    return damage


#: Damage to a run folder that must make ``train --resume`` refuse in one line (and leave the folder alone).
RUN_DAMAGE: dict[str, Callable[[Path], None]] = {
    "summary.json empty": _write("summary.json", b""),
    "summary.json is []": _write("summary.json", b"[]"),
    "summary.json wrong types": _write("summary.json", b'{"status": 5, "env_id": [], "seed": "x"}'),
    "summary.json binary": _write("summary.json", bytes(range(256))),
    "summary.json unknown status": _write(
        "summary.json",
        json.dumps(
            {
                "status": "weird",
                "env_id": LINEAR,
                "agent": "linucb",
                "seed": 0,
                "total_steps": 3,
                "steps_done": 1,
            }
        ).encode(),
    ),
    "config.yaml missing": _delete("config.yaml"),
    "config.yaml not YAML": _write("config.yaml", b"env: [unclosed\n"),
    "config.yaml a list": _write("config.yaml", b"- 1\n- 2\n"),
    "config.yaml edited": _write(
        "config.yaml", b"env: {id: rl_suite/LinearContextualBandit-v0}\nagent: {name: linucb}\n"
    ),
    "config.yaml unknown key": _write("config.yaml", b"env: {id: x}\nagent: {name: linucb}\nbogus: 1\n"),
    "metrics.csv binary": _write("metrics.csv", b"\xff\xfe\x00garbage"),
    "metrics.csv bad header": _write("metrics.csv", b"a,b,c\n1,2,3\n"),
    "metrics.csv non-numeric row": _write(
        "metrics.csv", b"step,episode,reward,regret,cumulative_regret\nx,y\n"
    ),
    "metrics.csv truncated before checkpoints": _write(
        "metrics.csv", b"step,episode,reward,regret,cumulative_regret\n1,0,0.1,0.2,0.2\n"
    ),
    "every agent checkpoint truncated": _every_checkpoint("agent.ckpt", None),
    "every agent checkpoint empty": _every_checkpoint("agent.ckpt", b""),
    "every env state truncated": _every_checkpoint("env.npz", None),
    "every env state not JSON": _every_checkpoint("env.json", b"{not json"),
    "every state.json corrupt": _every_checkpoint("state.json", b"\x00\x01"),
    "every state.json without checksums": _every_checkpoint("state.json", b'{"steps": 1000}'),
    "legacy pickled env": lambda run: [
        (p / "env.pkl").write_bytes(b"\x80\x04N.") for p in run.glob("checkpoint/step-*")
    ],
}


@pytest.mark.parametrize("case", sorted(RUN_DAMAGE))
def test_damaged_run_folder_resume_is_one_line_and_untouched(
    case: str, interrupted_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(interrupted_run, tmp_path)
    RUN_DAMAGE[case](run)
    before = snapshot(run)
    assert_one_line(*run_cli(["train", "--resume", str(run), "-q"], capsys))
    assert snapshot(run) == before


@pytest.mark.parametrize("case", sorted(k for k in RUN_DAMAGE if k.startswith(("summary", "config"))))
def test_damaged_run_alone_compare_is_one_line(
    case: str, interrupted_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(interrupted_run, tmp_path)
    RUN_DAMAGE[case](run)
    before = snapshot(run)
    compare_one_line_or_ok(tmp_path, capsys)
    assert snapshot(run) == before


def _train(*extra: str) -> list[str]:
    return [*TRAIN, *extra]


#: (command line, what the one line must mention); ``{tmp}`` is a temporary folder.
CLI_CASES: list[tuple[list[str], str]] = [
    (_train("--set", "agent.alpha=.inf"), "agent.alpha"),
    (_train("--set", "agent.alpha=.nan"), "agent.alpha"),
    (_train("--set", "env.dim=1000000000"), "1000000000"),
    (_train("--workers", "0"), "--workers"),
    (_train("--seeds", ""), "seeds"),
    (_train("--seeds", "3-1"), "seed"),
    (_train("--seeds", "a"), "seeds"),
    (_train("--set", "agent.alpha=-1"), "alpha"),
    (_train("--set", "agent.bogus=1"), "bogus"),
    (_train("--set", "env.bogus=1"), "bogus"),
    (_train("--set", "total_steps=0"), "total_steps"),
    (_train("--set", "=1"), "--set"),
    (_train("--device", "cuda"), "cuda"),
    (_train("--device", "tpu"), "device"),
    (_train("--force"), "--force"),
    (["train", "--env", "rl_suite/Nope-v0", "--agent", "linucb", "-q"], "Nope"),
    (["train", "--env", LINEAR, "--agent", "nope", "-q"], "nope"),
    (["train", "--env", "rl_suite/MultiArmedBandit-v0", "--agent", "linucb", "-q"], "linucb"),
    (["train", "--config", "{tmp}/missing.yaml", "-q"], "missing.yaml"),
    (["train", "--resume", "{tmp}/nowhere", "-q"], "nowhere"),
    (["train", "--resume", "{tmp}", "-q"], "not a run folder"),
    (["compare", "{tmp}/nowhere"], "nowhere"),
    (["compare", "{tmp}"], "no runs"),
    (["sweep", "{tmp}/missing.yaml"], "missing.yaml"),
    (["sweep", "{tmp}/empty_seeds.yaml"], "seed"),
    (["sweep", "{tmp}/inf.yaml"], "inf"),
    (["sweep", "{tmp}/empty_seeds.yaml", "--workers", "0"], "--workers"),
    (["solve", "rl_suite/Nope-v0"], "Nope"),
    (["solve", LINEAR, "--set", "dim=-3"], "dim"),
    (["train", "--env", LINEAR, "--agent", "linucb", "--out", "{tmp}/afile", "-n", "10", "-q"], "afile"),
]


@pytest.mark.parametrize("args, mentions", CLI_CASES, ids=[" ".join(a[1:6]) for a, _ in CLI_CASES])
def test_malformed_command_line_is_one_line(
    args: list[str], mentions: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("not a folder")
    body = "name: s\nenvs: [{id: rl_suite/LinearContextualBandit-v0}]\nagents: [{name: linucb}]\n"
    (tmp_path / "empty_seeds.yaml").write_text(body + "seeds: []\n")
    (tmp_path / "inf.yaml").write_text(body + "seeds: 0\nagents: [{name: linucb, alpha: .inf}]\n")
    line = assert_one_line(*run_cli([a.replace("{tmp}", str(tmp_path)) for a in args], capsys))
    assert mentions in line, line
    assert not (tmp_path / "afile").is_dir()


def test_compare_out_pointing_at_a_file(
    interrupted_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_run(interrupted_run, tmp_path)
    (tmp_path / "report").write_text("a file")
    args = ["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--include-incomplete"]
    assert "report" in assert_one_line(*run_cli(args, capsys))


def test_failure_before_the_first_step_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rl_suite.agents.linucb import LinUCB

    def broken_init(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("cannot build")

    monkeypatch.setattr(LinUCB, "__init__", broken_init)
    with pytest.raises(RuntimeError):
        run_trial({"env": {"id": LINEAR}, "agent": {"name": "linucb"}, "out": str(tmp_path / "runs")})
    (run,) = [read_run(p) for p in (tmp_path / "runs").iterdir()]
    assert run.status == "failed" and run.summary["error"] == "RuntimeError: cannot build"
    assert run.summary["steps_done"] == 0
    args = ["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "report")]
    code, err = run_cli(args, capsys)
    assert_one_line(code, err)
    assert "failed" in err  # nothing to compare, and it says why


# --------------------------------------------------------------------------- random damage (hypothesis)
FILES = [
    "summary.json",
    "metrics.csv",
    "config.yaml",
    "owner.json",
    "checkpoint/NEWEST/agent.ckpt",
    "checkpoint/NEWEST/env.json",
    "checkpoint/NEWEST/env.npz",
    "checkpoint/NEWEST/state.json",
    "checkpoint/OLDEST/agent.ckpt",
    "checkpoint/OLDEST/env.npz",
    "checkpoint/OLDEST/state.json",
]


def damage_file(path: Path, op: str, where: float, byte: int) -> None:
    data = path.read_bytes()
    at = int(where * max(len(data) - 1, 0))
    if op == "truncate":
        path.write_bytes(data[:at])
    elif op == "flip" and data:
        path.write_bytes(data[:at] + bytes([data[at] ^ (byte or 1)]) + data[at + 1 :])
    elif op == "delete":
        path.unlink()
    elif op == "empty":
        path.write_bytes(b"")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    damages=st.lists(
        st.tuples(
            st.sampled_from(FILES),
            st.sampled_from(["truncate", "flip", "delete", "empty"]),
            st.floats(0, 1),
            st.integers(0, 255),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_random_damage_gives_one_line_or_a_correct_result(
    damages: list[tuple[str, str, float, int]],
    interrupted_run: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp_path = tmp_path_factory.mktemp("damaged")
    run = copy_run(interrupted_run, tmp_path)
    ckpts = sorted(p.name for p in (run / "checkpoint").iterdir())
    for rel, op, where, byte in damages:
        path = run / rel.replace("NEWEST", ckpts[-1]).replace("OLDEST", ckpts[0])
        if path.exists():
            damage_file(path, op, where, byte)
    before = snapshot(run)

    compare_one_line_or_ok(tmp_path, capsys)
    assert snapshot(run) == before  # compare never writes into a run folder

    code, err = run_cli(["train", "--resume", str(run), "-q"], capsys)
    if code != 0:
        assert_one_line(code, err)
        assert snapshot(run) == before  # a refused resume leaves the run as it was
    else:  # resumed from a checkpoint that verified: a whole, correct run
        done = read_run(run)
        assert done.status == "completed"
        steps = done.metrics()["step"]
        assert metrics_problem(steps, 3000) is None
        # ... that ends exactly where the undamaged run ended (it had completed before being relabelled).
        assert done.summary["cumulative_regret"] == read_run(interrupted_run).summary["cumulative_regret"]
