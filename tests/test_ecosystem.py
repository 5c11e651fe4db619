"""The suite works wherever a Gymnasium env is expected: SB3 on defaults, vector envs, the CLI's arguments.

* SB3 PPO trains on every registered id made with ``gym.make(id)`` and no arguments (no adapter: the
  constrained envs' default actions are Box vectors that SB3's Gaussian policy can emit).
* Every id runs in Gymnasium's SyncVectorEnv and AsyncVectorEnv (fork, forkserver and spawn) and in SB3's
  SubprocVecEnv. Each mode runs in its own subprocess (``tests/ecosystem_vector_check.py``) with a deadline,
  so a hang (e.g. a forked child deadlocking on torch's thread pool) fails instead of blocking; the five
  subprocesses start together when this module starts and run beside the PPO tests.
* The CLI passes through every argument an env accepts, including those the toy-text adapters forward to
  Gymnasium (``is_slippery``, ``map_name``, ...), through ``solve``, ``train`` and ``analyze``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from rl_suite import registry
from rl_suite.cli import main

IDS = registry.env_ids()
MODES = ("sync", "async-fork", "async-forkserver", "async-spawn", "sb3-subproc")
WORKER = Path(__file__).resolve().parent / "ecosystem_vector_check.py"
#: Seconds a mode may take for all ids (about 5-60 s alone on 2 cores; they run side by side).
DEADLINE = 300.0
FROZEN = "rl_suite/FrozenLakeFiniteHorizon-v0"


@pytest.fixture(scope="module")
def vector_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[subprocess.Popen, Path]]]:
    """Start one subprocess per vectorisation mode, all at once; the vector tests collect them."""
    folder = tmp_path_factory.mktemp("vector")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    runs: dict[str, tuple[subprocess.Popen, Path]] = {}
    for mode in MODES:
        log = folder / f"{mode}.log"
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [sys.executable, str(WORKER), mode], stdout=fh, stderr=subprocess.STDOUT, cwd=folder, env=env
            )
        runs[mode] = (proc, log)
    yield runs
    for proc, _ in runs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------------------------ SB3 on defaults
@pytest.mark.parametrize("env_id", IDS)
def test_sb3_ppo_trains_on_default_env(env_id: str, vector_runs: dict) -> None:
    """(``vector_runs`` starts the vector-env subprocesses, which then run beside these tests.)"""
    from stable_baselines3 import PPO

    env = gym.make(env_id)  # default arguments, no adapter
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(128)
    assert model.num_timesteps >= 128
    action, _ = model.predict(env.observation_space.sample(), deterministic=True)
    env.reset(seed=1)
    info = env.step(action)[4]
    assert np.isfinite(info["regret"])
    env.close()


# ------------------------------------------------------------------------------------------ vector envs
@pytest.mark.parametrize("mode", MODES)
def test_every_id_runs_vectorised(mode: str, vector_runs: dict[str, tuple[subprocess.Popen, Path]]) -> None:
    proc, log = vector_runs[mode]
    start = time.monotonic()
    try:
        proc.wait(timeout=max(1.0, DEADLINE - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    text = log.read_text()
    done = [line.split()[1] for line in text.splitlines() if line.startswith("ok ")]
    pending = [i for i in IDS if i not in done]
    assert proc.returncode == 0 and not pending, (
        f"{mode}: stopped (rc {proc.returncode}) at {pending[:1]} after {len(done)} ids; "
        f"log tail:\n{text[-2000:]}"
    )


# ------------------------------------------------------------------------------------------ CLI arguments
def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_solve_passes_toy_text_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "solve", FROZEN, "--set", "is_slippery=false")
    assert code == 0
    deterministic = json.loads(out)
    code, out, _ = cli(capsys, "solve", FROZEN)
    slippery = json.loads(out)
    assert deterministic["optimal_value"] == pytest.approx(1.0)
    assert slippery["optimal_value"] < 1.0
    code, out, _ = cli(capsys, "solve", FROZEN, "--set", "map_name=8x8", "--set", "is_slippery=false")
    assert code == 0 and json.loads(out)["n_states"] == 64
    code, out, _ = cli(capsys, "solve", FROZEN, "--set", "desc=[SFF, FHF, FFG]", "--set", "is_slippery=false")
    assert code == 0 and json.loads(out)["n_states"] == 9
    code, out, _ = cli(capsys, "solve", "rl_suite/TaxiFiniteHorizon-v0", "--set", "is_rainy=true")
    assert code == 0 and json.loads(out)["n_states"] == 500


def test_wrong_env_argument_lists_what_is_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "solve", FROZEN, "--set", "is_slipery=false")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "env.is_slipery is not an argument" in lines[0]
    assert "allowed: name, horizon, desc, map_name, is_slippery" in lines[0]
    code, _, err = cli(capsys, "solve", "rl_suite/TaxiFiniteHorizon-v0", "--set", "map_name=8x8")
    assert code == 2 and "is_rainy" in err and "map_name" in err.split("allowed:")[0]


def test_tiger_discount_one_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "solve", "rl_suite/Tiger-v0", "--set", "discount=1")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "γ = 1 (undiscounted, finite horizon)" in lines[0] and "leave discount out" in lines[0]


def test_train_and_analyze_pass_toy_text_arguments(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ("--env", FROZEN, "--agent", "mdp-oracle", "--set", "env.is_slippery=false")
    code, _, err = cli(
        capsys, "train", *args, "--set", "env.horizon=10", "-n", "30", "--out", str(tmp_path), "-q"
    )
    assert code == 0, err
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    config = (run / "config.yaml").read_text()
    assert "is_slippery: false" in config
    code, _, err = cli(capsys, "train", *args, "--set", "env.map_nam=8x8", "-n", "5", "--out", str(tmp_path))
    assert code == 2 and "allowed:" in err and "map_name" in err
    code, out, err = cli(
        capsys, "analyze", FROZEN, "--set", "is_slippery=false", "--set", "horizon=10", "--max-k", "2",
        "--repeat-probability", "0", "--out", str(tmp_path / "analysis"),
    )  # fmt: skip
    assert code == 0, err
    assert "written to" in out
