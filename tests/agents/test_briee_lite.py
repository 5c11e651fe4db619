"""BRIEE-lite (mdps spec §3.3): its kernels against hand values, the decoder fit recovering the latent
partition of a small combination lock, and the agent's contract (runner, resume, one-line errors)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from pydantic import ValidationError

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.agents.briee_lite import (
    BRIEELite,
    discriminator_targets,
    fit_decoder,
    partition_purity,
    ridge_residual,
)
from rl_suite.config import resolve
from rl_suite.errors import UserError
from rl_suite.runner import run_trial
from tests.helpers import assert_resumes_identically

COMBLOCK = "rl_suite/DiabolicalCombLock-v0"


# --------------------------------------------------------------------------- kernels
def test_partition_purity_hand_values() -> None:
    true = np.array([0, 0, 1, 1, 2, 2])
    assert partition_purity(np.array([2, 2, 0, 0, 1, 1]), true) == 1.0  # a relabelling
    assert partition_purity(np.array([0, 1, 2, 2, 3, 3]), true) == 1.0  # splitting costs nothing
    assert partition_purity(np.array([0, 0, 0, 0, 1, 1]), true) == pytest.approx(4 / 6)  # merging does
    with pytest.raises(ValueError, match="differ"):
        partition_purity(np.zeros(3, dtype=int), np.zeros(4, dtype=int))


def test_ridge_residual_hand_values() -> None:
    # One feature, phi = 1 on two samples, targets 1 and 3: B = 4 / (2 + λ), residual mean of squares.
    phi = torch.ones((2, 1), dtype=torch.float64)
    F = torch.tensor([[1.0], [3.0]], dtype=torch.float64)
    B = 4.0 / 2.5
    expected = ((1.0 - B) ** 2 + (3.0 - B) ** 2) / 2
    assert float(ridge_residual(phi, F, 0.5)) == pytest.approx(expected)
    # Features that span the targets leave (almost) nothing as λ → 0.
    assert float(ridge_residual(torch.eye(2, dtype=torch.float64), F, 1e-9)) < 1e-12
    # Batched, with a padding row (zero in phi and F) that counts for nothing.
    padded_phi = torch.cat([phi, torch.zeros((1, 1), dtype=torch.float64)])[None].repeat(2, 1, 1)
    padded_F = torch.cat([F, torch.zeros((1, 1), dtype=torch.float64)])[None].repeat(2, 1, 1)
    counts = torch.tensor([2.0, 2.0], dtype=torch.float64)
    np.testing.assert_allclose(ridge_residual(padded_phi, padded_F, 0.5, counts).numpy(), [expected] * 2)


def test_discriminator_targets_are_centred_tanh_features() -> None:
    x = np.array([[0.0, 1.0], [2.0, -1.0]])
    G, c = np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([0.0, 0.1])
    raw = np.tanh(np.array([[0.0, 0.6], [2.0, 0.6]]))
    np.testing.assert_allclose(discriminator_targets(x, G, c), raw - raw.mean(axis=0))
    with pytest.raises(ValueError, match="shape mismatch"):
        discriminator_targets(x, G[:, :1], c)


def lock_data(horizon: int, n_actions: int, h: int, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """(x_h, uniform a_h, x_{h+1}, z_h) after rolling in to step h with a policy that stays alive w.p. 0.6."""
    env = gym.make(COMBLOCK, horizon=horizon, n_actions=n_actions).unwrapped
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    rows = []
    for _ in range(n):
        obs, info = env.reset()
        for t in range(h):
            z = info["latent_state"]
            good = z < 2 and rng.random() < 0.6
            obs, _, _, _, info = env.step(
                int(env.optimal_actions[t, z]) if good else int(rng.integers(n_actions))
            )
        z, a = info["latent_state"], int(rng.integers(n_actions))
        nxt, *_ = env.step(a)
        rows.append((obs, a, nxt, z))
    x, a, x2, z = (np.array(col) for col in zip(*rows, strict=True))
    return x.astype(np.float64), a, x2.astype(np.float64), z


@pytest.mark.parametrize("h", [1, 2])
def test_decoder_fit_recovers_the_latent_partition(h: int) -> None:
    """On a small lock (H=3, A=4) the fitted decoder separates A, B and C of step h (purity ≥ 0.98)."""
    x, a, x2, z = lock_data(horizon=3, n_actions=4, h=h, n=600, seed=h)
    assert set(np.unique(z)) == {0, 1, 2}
    rng = np.random.default_rng(0)
    G, c = rng.standard_normal((16, x.shape[1])) / np.sqrt(x.shape[1]), rng.uniform(-1, 1, 16)
    F = discriminator_targets(x2, G, c)
    W0 = 0.1 * rng.standard_normal((1, 3, x.shape[1])) / np.sqrt(x.shape[1])
    start = ridge_residual_of(W0[0], x, a, F)
    W, loss = fit_decoder(x[None], a[None], F[None], W0, 4, steps=150, learning_rate=0.05, ridge=0.01)
    assert loss[0] < start
    assert partition_purity(np.argmax(x @ W[0].T, axis=1), z) >= 0.98


def test_batched_fit_equals_separate_fits() -> None:
    """Problems padded into one batch give the fits each would get alone (Adam acts elementwise)."""
    x, a, x2, _ = lock_data(horizon=3, n_actions=4, h=1, n=120, seed=7)
    rng = np.random.default_rng(1)
    G, c = rng.standard_normal((8, x.shape[1])) / np.sqrt(x.shape[1]), rng.uniform(-1, 1, 8)
    F = discriminator_targets(x2, G, c)
    W0 = 0.1 * rng.standard_normal((2, 3, x.shape[1]))
    settings = {"n_actions": 4, "steps": 30, "learning_rate": 0.05, "ridge": 0.01, "sharpness": 0.003}
    alone = [
        fit_decoder(x[None, :k], a[None, :k], F[None, :k], W0[i : i + 1], **settings)
        for i, k in enumerate((120, 70))
    ]
    mask = np.ones((2, 120), dtype=bool)
    mask[1, 70:] = False
    xb, ab, Fb = np.stack([x, x]), np.stack([a, a]), np.stack([F, F])
    W, loss = fit_decoder(xb, ab, Fb, W0, mask=mask, **settings)
    for i in range(2):
        np.testing.assert_allclose(W[i], alone[i][0][0], atol=1e-8)
        np.testing.assert_allclose(loss[i], alone[i][1][0], rtol=1e-8)
    with pytest.raises(ValueError, match="shape mismatch"):
        fit_decoder(xb, ab[:, :5], Fb, W0, **settings)


def ridge_residual_of(W: np.ndarray, x: np.ndarray, a: np.ndarray, F: np.ndarray) -> float:
    q = torch.softmax(torch.as_tensor(x @ W.T), dim=1)
    onehot = torch.nn.functional.one_hot(torch.as_tensor(a), 4).double()
    phi = (q[:, :, None] * onehot[:, None, :]).reshape(len(x), -1)
    return float(ridge_residual(phi, torch.as_tensor(F), 0.01))


# --------------------------------------------------------------------------- the agent
def test_briee_lite_opens_the_h3_lock() -> None:
    """A small lock (H=3, A=4): the learned decoders are pure and the greedy policy opens the lock."""
    env = gym.make(COMBLOCK, horizon=3, n_actions=4)
    agent = BRIEELite(env, {"update_every": 10, "train_steps": 100}, seed=1)
    agent.learn(200 * 3)  # measured: 50/50 from episode 100 on (seeds 0-3 open by 100-200 episodes)
    assert agent.decoder_purity().min() >= 0.95
    probe = gym.make(COMBLOCK, horizon=3, n_actions=4)
    obs, _ = probe.reset(seed=123)
    wins = 0
    for _ in range(50):
        total = 0.0
        for h in range(3):
            obs, reward, *_ = probe.step(agent._act(obs, h, True))
            total += float(reward)
        wins += total >= 1.0
        obs, _ = probe.reset()
    assert wins >= 48


def test_briee_lite_runs_through_the_runner(tmp_path: Path) -> None:
    result = run_trial(
        {
            "env": {"id": COMBLOCK, "horizon": 3, "n_actions": 4},
            "agent": {"name": "briee-lite", "update_every": 5, "train_steps": 20},
            "total_steps": 90,
            "checkpoint_every": 45,
            "out": str(tmp_path),
        }
    )
    assert result.status == "completed"
    diagnostics = result.summary["agent_diagnostics"]
    assert diagnostics["refits"] == 6
    assert {f"decoder_purity_h{h}" for h in range(3)} <= set(diagnostics)
    assert 0.0 < diagnostics["decoder_purity_min"] <= 1.0


def test_resume_continues_identically(tmp_path: Path) -> None:
    settings = {"update_every": 4, "train_steps": 10}
    make = lambda: BRIEELite(gym.make(COMBLOCK, horizon=3, n_actions=4), settings, seed=3)  # noqa: E731
    resumed, twin = assert_resumes_identically(make, tmp_path / "a.npz", 40, 30)
    assert int(twin.refits[0]) == 5  # 70 steps = 23 episodes at H=3, a refit every 4: the refits matter
    np.testing.assert_array_equal(resumed.W, twin.W)
    np.testing.assert_array_equal(resumed.Q, twin.Q)


def test_bad_config_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="n_latent"):
        BRIEELite.make_config({"n_latent": 1})
    with pytest.raises(ValidationError, match="explore_prob"):
        BRIEELite.make_config({"explore_prob": 1.5})
    with pytest.raises(UserError, match="n_latnet"):
        resolve({"env": {"id": COMBLOCK}, "agent": {"name": "briee-lite", "n_latnet": 3}})


def test_wrong_envs_are_one_line_errors() -> None:
    with pytest.raises(UserError, match="does not support"):
        resolve({"env": {"id": "rl_suite/SimplexLinearMDP-v0"}, "agent": {"name": "briee-lite"}})
    with pytest.raises(UserError, match=r"BRIEE-lite needs an episodic block MDP with vector observations"):
        BRIEELite(gym.make("rl_suite/SimplexLinearMDP-v0"))
    with pytest.raises(UserError, match=r"BRIEE-lite needs an episodic block MDP"):
        BRIEELite(gym.make("rl_suite/MultiArmedBandit-v0"))
