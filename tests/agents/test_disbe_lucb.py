"""DisBE-LUCB: its kernels against hand values, what it must achieve, its communication, bad input, and the
Ray backend (``pytest -m ray``: the same run as in one process, bit for bit).

The regret target: N = 4 agents, T = 500 rounds each, on the shared-parameter env (d = 4, K = 8, Gaussian
noise σ = 0.1), mean over 3 seeds; DisBE-LUCB's total regret stays within 3× that of one LinUCB playing all
N·T rounds (measured when written: 1.9×, 4.8 against 2.5), while it communicates 45× less than sharing
every round.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from pydantic import ValidationError

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.agents import disbe_lucb
from rl_suite.agents.disbe_lucb import (
    DisBELUCB,
    batch_end,
    choose_arms,
    design_probabilities,
    eliminate,
    loglog_batch_ends,
    upload_size,
)
from rl_suite.agents.linucb import LinUCB
from rl_suite.errors import UserError
from rl_suite.runner import run_trial
from tests.helpers import assert_resumes_identically, play

LINEAR = "rl_suite/LinearContextualBandit-v0"
SHARED = {"dim": 4, "n_arms": 8, "model": "shared", "reward_noise": "gaussian", "noise_sd": 0.1}


def make(kwargs: dict[str, Any], settings: dict[str, Any], seed: int = 0) -> DisBELUCB:
    return DisBELUCB(gym.make(LINEAR, **kwargs), settings, seed=seed)


# --------------------------------------------------------------------------- kernels
def test_eliminate_keeps_arms_whose_upper_bound_reaches_the_best_lower_bound() -> None:
    mean = np.array([1.0, 0.5, 0.2, 0.9])
    width = np.array([0.1, 0.3, 0.2, 0.0])
    # α = 1: lower bounds 0.9, 0.2, 0.0, 0.9 → best 0.9; upper bounds 1.1, 0.8, 0.4, 0.9.
    np.testing.assert_array_equal(eliminate(mean, width, 1.0), [True, False, False, True])
    # α = 2: lower 0.8, −0.1, −0.2, 0.9 → 0.9; upper 1.2, 1.1, 0.6, 0.9.
    np.testing.assert_array_equal(eliminate(mean, width, 2.0), [True, True, False, True])
    # α = 0: only the best mean survives (ties all survive).
    np.testing.assert_array_equal(eliminate(np.array([[1.0, 1.0, 0.3]]), np.ones((1, 3)), 0.0), [[1, 1, 0]])
    # Among the arms still alive only: without arm 0 (α = 1) the best lower bound is arm 3's 0.9 → {3};
    # without arms 0 and 3 it is arm 1's 0.2 → arms 1 and 2 (upper bounds 0.8, 0.4) both survive.
    np.testing.assert_array_equal(eliminate(mean, width, 1.0, np.array([0, 1, 1, 1], bool)), [0, 0, 0, 1])
    np.testing.assert_array_equal(eliminate(mean, width, 1.0, np.array([0, 1, 1, 0], bool)), [0, 1, 1, 0])
    with pytest.raises(ValueError, match="one shape"):
        eliminate(mean, width[:2], 1.0)


def test_design_probabilities_by_hand() -> None:
    # K = 4, exponent 2 ln 4: weights 1 and 0.5^(2 ln 4) = exp(−4 (ln 2)²) = 0.146342 on the survivors.
    p = design_probabilities(np.array([1.0, 0.5, 0.0, 2.0]), np.array([1, 1, 1, 0], bool))
    np.testing.assert_allclose(p, [1 / 1.146342, 0.146342 / 1.146342, 0.0, 0.0], rtol=1e-5)
    # No width anywhere: uniform over the survivors.
    np.testing.assert_allclose(design_probabilities(np.zeros(3), np.array([1, 0, 1], bool)), [0.5, 0, 0.5])


def test_choose_arms_by_hand() -> None:
    # One stream, shared θ = (1, 0), Λ⁻¹ = diag(1, 4): means x₀, widths sqrt(x₀² + 4x₁²).
    obs = np.array([[[1.0, 0.0], [0.8, 0.5], [0.0, 1.0]]])
    theta = np.array([[[1.0, 0.0]]])
    Ainv = np.diag([1.0, 4.0])[None, None]
    # means 1, 0.8, 0; widths 1, sqrt(1.64) = 1.2806, 2; α = 0.5: UCB 1.5, 1.4403, 1.0; LCB 0.5, 0.1597, −1.
    assert choose_arms(obs, theta, Ainv, 0.5, "ucb").tolist() == [0]
    # all three survive (UCB ≥ 0.5): the widest is arm 2.
    assert choose_arms(obs, theta, Ainv, 0.5, "max_width").tolist() == [2]
    # α = 0.1: LCB 0.9, 0.672, −0.2; UCB 1.1, 0.928, 0.2: arm 2 is eliminated, arm 1 is the widest left.
    assert choose_arms(obs, theta, Ainv, 0.1, "max_width").tolist() == [1]
    # Exact ties: the lowest index without keys, the largest key with them.
    tied = np.ones((1, 3, 2))
    assert choose_arms(tied, theta, Ainv, 1.0, "ucb").tolist() == [0]
    assert choose_arms(tied, theta, Ainv, 1.0, "ucb", np.array([[0.1, 0.7, 0.3]])).tolist() == [1]
    # One θ_a per arm (P = K): arm 1's own estimate makes it the best.
    per_arm = np.array([[[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]])
    eye = np.broadcast_to(np.eye(2) * 1e-6, (1, 3, 2, 2))
    assert choose_arms(obs, per_arm, eye, 1.0, "ucb").tolist() == [1]


def test_chained_elimination_and_design_draws_by_hand() -> None:
    # Λ⁻¹ = I, widths ‖x‖ = 1, sqrt(0.89) = 0.9434, 1; α = 0.2. The first estimate θ = (1, 0): means 1, 0.8,
    # 0, upper bounds 1.2, 0.9887, 0.2, best lower bound 0.8 → arm 2 goes. The second, θ = (0, 0.2): means 0,
    # 0.1, 0.2, upper bounds 0.2, 0.2887, 0.4; among arms 0 and 1 the best lower bound is −0.0887 → both stay,
    # and the highest upper bound is arm 1's (alone, the second estimate would pick arm 2).
    obs = np.array([[[1.0, 0.0], [0.8, 0.5], [0.0, 1.0]]])
    chain_theta = np.array([[[[1.0, 0.0]], [[0.0, 0.2]]]])
    chain_Ainv = np.broadcast_to(np.eye(2), (1, 2, 1, 2, 2))
    assert choose_arms(obs, chain_theta, chain_Ainv, 0.2, "ucb").tolist() == [1]
    assert choose_arms(obs, chain_theta[:, 1:], chain_Ainv[:, 1:], 0.2, "ucb").tolist() == [2]
    # design over arms 0 and 1: weights 1 and 0.89^(ln 3) (K = 3, exponent 2 ln 3 on the widths).
    p0 = 1 / (1 + 0.89 ** math.log(3))
    assert choose_arms(obs, chain_theta, chain_Ainv, 0.2, "design").tolist() == [0]  # the most likely
    keys = np.array([[p0 - 1e-6, 0.0, 0.0]])
    assert choose_arms(obs, chain_theta, chain_Ainv, 0.2, "design", keys).tolist() == [0]
    keys[0, 0] = p0 + 1e-6
    assert choose_arms(obs, chain_theta, chain_Ainv, 0.2, "design", keys).tolist() == [1]


def test_loglog_grid_by_hand() -> None:
    # T = 2 000, N = 8, d = 5: a = 2√2000 = 89.443; ⌈a·sqrt(5/8)⌉ = ⌈70.71⌉ = 71 twice, ⌊a·√71⌋ = 753, then
    # ⌊a·√753⌋ = 2 454 cut to the 1 105 rounds left.
    assert loglog_batch_ends(2000, 8, 5) == [71, 142, 895, 2000]
    assert loglog_batch_ends(10, 8, 5) == [6, 10]
    with pytest.raises(ValueError):
        loglog_batch_ends(0, 8, 5)


def test_batch_grid_doubles() -> None:
    assert [batch_end(m, 1) for m in range(5)] == [1, 3, 7, 15, 31]
    assert [batch_end(m, 3) for m in range(3)] == [3, 9, 21]
    with pytest.raises(ValueError):
        batch_end(0, 0)


def test_upload_size_is_the_smaller_of_samples_and_statistics() -> None:
    # d = 4, shared: a sample is 5 numbers, the statistics 10 + 4 = 14.
    np.testing.assert_array_equal(upload_size(np.array([0, 1, 2, 3, 100]), 4, 1), [0, 5, 10, 14, 14])
    # d = 4, K = 8 per-arm models: a sample is 6 numbers (the arm index too), the statistics 8·14 = 112.
    np.testing.assert_array_equal(upload_size(np.array([1, 18, 19]), 4, 8), [6, 108, 112])


# --------------------------------------------------------------------------- what it must achieve
def test_one_agent_sharing_every_round_is_linucb() -> None:
    """n_agents = 1, every_step: the same arms as LinUCB (Li et al. 2010, Alg. 1) on the disjoint model."""
    kwargs: dict[str, Any] = {"dim": 3, "n_arms": 4}
    for seed in range(2):
        ours = make(kwargs, {"n_agents": 1, "sharing": "every_step", "tie_breaking": "first"}, seed)
        linucb = LinUCB(gym.make(LINEAR, **kwargs), {"tie_breaking": "first"}, seed=seed)
        np.testing.assert_array_equal(play(ours, 300), play(linucb, 300))
        np.testing.assert_allclose(ours.theta, linucb.theta, atol=1e-10)


def total_regret(settings: dict[str, Any], n: int, rounds: int, seed: int) -> tuple[float, DisBELUCB]:
    agent = make({**SHARED, "horizon": n * rounds}, settings, seed)
    return float(play(agent, n * rounds).sum()), agent


def test_regret_within_a_small_constant_of_one_learner_with_little_communication() -> None:
    n, rounds, seeds = 4, 500, range(3)
    dis = [total_regret({"n_agents": n}, n, rounds, s) for s in seeds]
    one = [total_regret({"n_agents": 1, "sharing": "every_step"}, n, rounds, s)[0] for s in seeds]
    every = [total_regret({"n_agents": n, "sharing": "every_step"}, n, rounds, s) for s in seeds]
    assert np.mean([r for r, _ in dis]) <= 3.0 * np.mean(one)
    batched = dis[0][1].diagnostics()
    full = every[0][1].diagnostics()
    # ⌊log₂(T + 1)⌋ = 8 batches against T = 500 synchronisations.
    assert batched["batches"] == 8 and full["batches"] == rounds
    assert batched["communicated_scalars"] * 40 < full["communicated_scalars"]  # 844 against 38 000
    # d·N·T = 8 000 numbers would be sent by sharing raw samples every round; DisBE-LUCB sends under 1/5.
    assert batched["communicated_scalars"] < 4 * n * rounds / 5


def test_the_run_summary_counts_every_action_and_the_communication(tmp_path: Path) -> None:
    result = run_trial(
        {
            "env": {"id": LINEAR, "dim": 4, "n_arms": 5, "model": "shared"},
            "agent": {"name": "disbe-lucb", "n_agents": 3},
            "total_steps": 150,
            "checkpoint_every": 40,
            "out": str(tmp_path),
        }
    )
    summary = result.summary
    assert summary["status"] == "completed" and summary["steps_done"] == 150
    diag = summary["agent_diagnostics"]
    # 50 rounds: batches of 1, 2, 4, 8, 16 rounds end at rounds 1, 3, 7, 15, 31. Per agent and batch it
    # uploads min(5n, 14) numbers for its n samples and receives min(5·2n, 14) for the others' 2n:
    # uploads 3·(5 + 10 + 14 + 14 + 14) = 171, downloads 3·(10 + 14 + 14 + 14 + 14) = 198.
    assert diag["batches"] == 5 and diag["rounds"] == 50
    assert diag["uploaded_scalars"] == 171 and diag["downloaded_scalars"] == 198
    assert diag["communicated_scalars"] == 369


def test_resume_mid_batch_and_mid_round_continues_identically(tmp_path: Path) -> None:
    # 100 actions of 3 agents: 33 rounds and one action of the 34th, inside the batch of rounds 32-63, so
    # the agents hold samples not yet uploaded when the checkpoint is written.
    def build() -> DisBELUCB:
        return make(SHARED, {"n_agents": 3}, seed=5)

    resumed, straight = assert_resumes_identically(build, tmp_path / "a.npz", 100, 200)
    probe = build()
    play(probe, 100)
    # batch 6 began after round 31: rounds 32 and 33 of every agent, and agent 0's action in round 34
    assert probe.local_n.tolist() == [[3.0, 2.0, 2.0]] and probe.batches.tolist() == [5]
    for key in DisBELUCB.state_keys:
        np.testing.assert_array_equal(getattr(resumed, key), getattr(straight, key), err_msg=key)


# --------------------------------------------------------------------------- bad input
def test_the_loglog_grid_syncs_at_its_ends_then_doubles() -> None:
    agent = make(SHARED, {"n_agents": 2, "schedule": "loglog", "horizon": 40, "estimates": "per_batch"})
    ends = loglog_batch_ends(40, 2, 4)  # a = 2√40: ⌈12.65·√2⌉ = 18 twice, cut at 40 → [18, 36, 40]
    assert ends == [18, 36, 40]
    seen = []
    play(agent, 2 * 40)
    seen.append(int(agent.batches[0]))
    assert seen == [3] and agent.chain_theta.shape[1] == 4  # the prior and one estimate per batch
    play(agent, 2 * 7)  # past the horizon the next batch is twice the last (4 rounds → 8): ends at 48
    assert int(agent.batches[0]) == 3 and int(agent.next_sync[0]) == 48
    play(agent, 2)
    assert int(agent.batches[0]) == 4


def test_paper_style_settings_resume_identically(tmp_path: Path) -> None:
    settings = {
        "n_agents": 3,
        "schedule": "loglog",
        "horizon": 200,
        "estimates": "per_batch",
        "selection": "design",
    }

    def build() -> DisBELUCB:
        return make(SHARED, settings, seed=4)

    resumed, straight = assert_resumes_identically(build, tmp_path / "a.npz", 250, 200)
    assert isinstance(straight, DisBELUCB)
    assert int(straight.batches[0]) == 2  # batches end at rounds 33, 66 and 200; 150 rounds were played
    for key in DisBELUCB.state_keys:
        np.testing.assert_array_equal(getattr(resumed, key), getattr(straight, key), err_msg=key)


def test_bad_settings_are_rejected() -> None:
    bad_settings: list[dict[str, Any]] = [
        {"n_agents": 0},
        {"sharing": "sometimes"},
        {"first_batch": 0},
        {"backend": "dask"},
        {"schedule": "loglog"},
        {"estimates": "all"},
        {"horizon": 0},
    ]
    for bad in bad_settings:
        with pytest.raises(ValidationError):
            DisBELUCB.Config.model_validate(bad)


def test_bad_settings_through_run_trial_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="n_agents") as exc:
        run_trial(
            {"env": {"id": LINEAR}, "agent": {"name": "disbe-lucb", "n_agents": 0}, "out": str(tmp_path)}
        )
    assert "\n" not in str(exc.value)


def test_ray_backend_without_ray_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def no_ray(name: str, *args: Any) -> Any:
        return None if name == "ray" else real(name, *args)

    monkeypatch.setattr(disbe_lucb.importlib.util, "find_spec", no_ray)
    with pytest.raises(UserError, match=r"backend='ray' needs Ray .*backend='local'") as exc:
        make(SHARED, {"backend": "ray"})
    assert "\n" not in str(exc.value)


# --------------------------------------------------------------------------- Ray actors (opt-in)
@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.pop("RAY_ADDRESS", None)
    temp = tempfile.mkdtemp(prefix="rsray")  # short: Ray's socket paths must stay under ~107 characters
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1", _temp_dir=temp
    )
    yield
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.ray
@pytest.mark.usefixtures("local_ray")
@pytest.mark.parametrize(
    ("kwargs", "settings"),
    [
        (SHARED, {}),
        ({"dim": 3, "n_arms": 4}, {}),
        (SHARED, {"schedule": "loglog", "horizon": 50, "estimates": "per_batch", "selection": "design"}),
    ],
    ids=["shared", "disjoint", "loglog-per-batch-design"],
)
def test_ray_actors_give_the_same_run_as_one_process(
    kwargs: dict[str, Any], settings: dict[str, Any], tmp_path: Path
) -> None:
    runs = {}
    for backend in ("local", "ray"):
        agent = make(kwargs, {"n_agents": 3, "backend": backend, **settings}, seed=2)
        regret = play(agent, 150)
        agent.save(tmp_path / f"{backend}.npz")
        runs[backend] = (regret, agent.theta.copy(), agent.diagnostics(), agent.local_gram)
        # a checkpoint written from the actors loads back into actors and continues like the original
        loaded = DisBELUCB.load(tmp_path / f"{backend}.npz", gym.make(LINEAR, **kwargs))
        np.testing.assert_array_equal(loaded.local_gram, agent.local_gram)
        agent.close()
        loaded.close()
    local, ray_run = runs["local"], runs["ray"]
    np.testing.assert_array_equal(local[0], ray_run[0])
    np.testing.assert_array_equal(local[1], ray_run[1])
    assert local[2] == ray_run[2]
    np.testing.assert_array_equal(local[3], ray_run[3])


@pytest.mark.ray
def test_a_train_run_that_starts_ray_for_its_actors_prints_none_of_rays_lines(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    temp = tempfile.mkdtemp(prefix="rsray")  # a Ray of its own: no other Ray on the machine is joined
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_TMPDIR=temp, RL_SUITE_QUIET="1")
    command = [sys.executable, "-m", "rl_suite", "train", "--env", LINEAR, "--agent", "disbe-lucb", "--quiet"]
    command += ["--set", "agent.backend=ray", "--set", "total_steps=100", "--out", str(tmp_path / "runs")]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # Ray's INFO lines, its token notice and its warnings stay out
    assert len(list((tmp_path / "runs").glob("*/summary.json"))) == 1
