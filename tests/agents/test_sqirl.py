"""SQIRL (llm_policy_opt spec §3.2, §3.5 S2) and GORP: kernels, k vs min_k on a fixed instance, regressors."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.agents.gorp import GORP
from rl_suite.agents.sqirl import SQIRL, TabularRegressor, fitted_q_targets, time_features
from rl_suite.errors import UserError
from rl_suite.runner import run_trial

LURE = "rl_suite/LayeredLureMDP-v0"


def test_fitted_q_targets_by_hand() -> None:
    q_next = np.array([[[1.0, 3.0], [0.0, 9.0]], [[2.0, -1.0], [5.0, 5.0]]])  # (N=2, k=2, A=2)
    t = fitted_q_targets(q_next, np.array([0.5, 1.0]), np.array([False, True]))
    np.testing.assert_allclose(t, [[3.5], [1.0]])  # head 1's target bootstraps from head 0; 0 at the end


def test_tabular_regressor_averages_and_backs_up() -> None:
    reg = TabularRegressor(horizon=2, n_states=2, n_actions=2, k=2)
    data = {
        "obs": np.array([0, 0, 0, 1]),
        "h": np.array([0, 0, 0, 1]),
        "action": np.array([0, 0, 1, 1]),
        "reward": np.array([0.0, 1.0, 0.5, 2.0]),
        "return": np.array([2.0, 3.0, 0.5, 2.0]),
        "next_obs": np.array([1, 1, 0, 0]),
        "last": np.array([False, False, False, True]),
    }
    reg.fit(data)
    q = reg.predict(np.array([0, 1]), np.array([0, 1]))
    np.testing.assert_allclose(q[0, 0], [2.5, 0.5])  # head 0: mean returns-to-go of (h0, s0, ·)
    np.testing.assert_allclose(q[1, 0], [2.0, 2.0])  # an untried action takes its state's mean
    # head 1 at (h0, s0, a0): mean reward 0.5 + max_a head0(h1, s1, a) = 2.0; a1 goes to s0 at h1 (unseen).
    np.testing.assert_allclose(q[0, 1], [2.5, 0.5])


def test_time_features_are_one_hot_in_time() -> None:
    x = time_features(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1, 0]), 2)
    np.testing.assert_allclose(x, [[0, 0, 1, 2], [3, 4, 0, 0]])


def _greedy_value(agent: SQIRL) -> float:
    return agent.env.unwrapped.policy_value(agent.policy_table())


@pytest.mark.parametrize("regressor", ["tabular", "linear"])
def test_k_at_least_min_k_is_optimal_and_below_is_not(regressor: str) -> None:
    env = gym.make(LURE, lure_depth=3, instance_seed=0)
    base = env.unwrapped
    assert base.min_k == 3
    v_star = base.optimal_value()
    for k, solved in [(1, False), (2, False), (3, True), (4, True)]:
        agent = SQIRL(env, {"episodes_per_timestep": 64, "planning_depth": k, "regressor": regressor}, seed=0)
        agent.learn(64 * base.horizon * base.horizon)
        assert int(agent.timestep[0]) == base.horizon  # every step learned
        assert (_greedy_value(agent) >= v_star - 1e-9) == solved, k


def test_sqirl_logs_the_papers_keys_through_the_runner(tmp_path: Path) -> None:
    result = run_trial(
        {
            "env": {"id": LURE, "lure_depth": 2},
            "agent": {"name": "sqirl", "episodes_per_timestep": 4, "planning_depth": 2, "restart": True},
            "total_steps": 300,
            "out": str(tmp_path),
        }
    )
    assert result.status == "completed"
    keys = set(result.summary["agent_diagnostics"])
    assert {
        "rollout/exploration_rate",
        "train/loss_0",
        "train/loss_1",
        "train/loss",
        "rollout/ep_rew_mean",
    } <= keys
    assert "time/fps" in keys


def test_mlp_regressor_solves_minigrid_empty_from_images() -> None:
    env = gym.make("rl_suite/MiniGridFiniteHorizon-v0", horizon=8)
    base = env.unwrapped
    cfg = {
        "episodes_per_timestep": 32,
        "regressor": "mlp",
        "learning_rate": 3e-3,
        "n_epochs": 20,
        "device": "cpu",
    }
    agent = SQIRL(env, cfg, seed=0)
    agent.learn(32 * 8 * 8)
    obs = np.stack([base._observe(s, 0) for s in range(base.n_states)])
    policy = np.stack([agent.greedy_actions(obs, h) for h in range(8)])
    assert base.policy_value(policy) == pytest.approx(base.optimal_value())


def test_cnn_regressor_runs_and_refuses_flat_observations() -> None:
    env = gym.make("rl_suite/MiniGridFiniteHorizon-v0", horizon=4)
    agent = SQIRL(env, {"episodes_per_timestep": 2, "regressor": "cnn", "device": "cpu"}, seed=0)
    agent.learn(40)
    assert np.isfinite(agent.diagnostics()["train/loss_0"])
    with pytest.raises(UserError, match="regressor='cnn' needs"):
        SQIRL(gym.make(LURE), {"regressor": "cnn"})
    with pytest.raises(UserError, match="regressor='tabular' needs Discrete"):
        SQIRL(env, {"regressor": "tabular"})


def test_gorp_solves_a_deterministic_lure_with_k_equal_to_its_depth() -> None:
    env = gym.make(LURE, lure_depth=3, slip=0.0, reward_density=0.0, instance_seed=2)
    base = env.unwrapped
    for k, solved in [(2, False), (3, True)]:
        agent = GORP(env, {"planning_depth": k, "episodes_per_action_sequence": 32}, seed=0)
        agent.learn(32 * 2**k * base.horizon * base.horizon)
        value = base.policy_value(agent.policy_table(base.n_states))
        assert (value >= base.optimal_value() - 1e-9) == solved, k
