"""Opt-in: rl-zoo3's command line trains PPO on every registered id with default arguments.

Run with ``pytest -m rlzoo tests/test_rlzoo.py`` where ``rl_zoo3`` is importable (``pip install rl_zoo3``);
skipped otherwise, and not part of the default run (``-m 'not rlzoo'`` in pyproject's ``addopts``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rl_suite import registry

pytestmark = pytest.mark.rlzoo


@pytest.mark.parametrize("env_id", registry.env_ids())
def test_rl_zoo3_trains_ppo(env_id: str, tmp_path: Path) -> None:
    pytest.importorskip("rl_zoo3")
    cmd = [
        sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", env_id, "--gym-packages", "rl_suite",
        "-n", "128", "--seed", "0", "--log-folder", str(tmp_path), "--eval-freq", "-1",
        "--hyperparams", "n_steps:64", "batch_size:64", "n_epochs:1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(tmp_path.glob("ppo/*/*.zip")), proc.stdout[-2000:]
