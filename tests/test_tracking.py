"""wandb is opt-in: never imported without --track, and with WANDB_MODE=offline it writes a real run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LINEAR = "rl_suite/LinearContextualBandit-v0"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(extra)
    return env


def test_wandb_is_never_imported_without_track(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from rl_suite.cli import main\n"
        "try:\n"
        f"    main(['train', '--env', '{LINEAR}', '--agent', 'linucb', '--total-steps', '300',\n"
        f"          '--out', r'{tmp_path / 'runs'}', '--quiet'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "main_mods = [m for m in sys.modules if m == 'wandb' or m.startswith('wandb.')]\n"
        "print('WANDB_IMPORTED' if main_mods else 'NO_WANDB')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "NO_WANDB"


def test_track_offline_writes_a_wandb_run_with_the_regret_metric(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rl_suite",
            "train",
            "--env",
            LINEAR,
            "--agent",
            "linucb",
            "--total-steps",
            "600",
            "--out",
            str(out),
            "--track",
            "--wandb-project",
            "rl-suite-tests",
            "--wandb-group",
            "ci",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=_env(WANDB_MODE="offline", WANDB_SILENT="true", RL_SUITE_QUIET="1"),
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    offline = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1, list((run_dir / "wandb").iterdir())
    blobs = b"".join(p.read_bytes() for p in offline[0].rglob("*") if p.is_file())
    assert b"regret/cumulative" in blobs
    assert b"rl-suite-tests" in blobs or b"ci" in blobs
    assert (run_dir / "regret.png").is_file()  # the final regret plot logged with the run
