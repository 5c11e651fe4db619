"""Vector forms: one array program, bit-identical per seed to separate single envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401
from rl_suite.envs.bandits.linear import LinearContextualBanditVectorEnv
from rl_suite.envs.bandits.multi_armed import MultiArmedBanditVectorEnv
from rl_suite.errors import UserError

CASES = [
    ("rl_suite/LinearContextualBandit-v0", {}),
    ("rl_suite/LinearContextualBandit-v0", {"model": "shared", "context": "ball", "dim": 4, "n_arms": 6}),
    ("rl_suite/LinearContextualBandit-v0", {"reward_noise": "gaussian", "context": "gaussian", "dim": 3}),
    ("rl_suite/MultiArmedBandit-v0", {}),
    ("rl_suite/MultiArmedBandit-v0", {"reward_noise": "gaussian", "means": [0.0, 1.0, -2.0]}),
]


@pytest.mark.parametrize(("env_id", "kwargs"), CASES)
def test_bit_identical_to_separate_envs(env_id: str, kwargs: dict) -> None:
    R, horizon, steps = 4, 7, 25
    venv = gym.make_vec(
        env_id, num_envs=R, vectorization_mode="vector_entry_point", horizon=horizon, **kwargs
    )
    assert isinstance(venv, (LinearContextualBanditVectorEnv, MultiArmedBanditVectorEnv))
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    singles = [gym.make(env_id, horizon=horizon, **kwargs) for _ in range(R)]
    vobs, _ = venv.reset(seed=100)
    sobs = [s.reset(seed=100 + i)[0] for i, s in enumerate(singles)]
    assert all(np.array_equal(vobs[i], sobs[i]) for i in range(R))
    rng = np.random.default_rng(0)
    for t in range(steps):
        actions = rng.integers(0, venv.single_action_space.n, R)
        vobs, vrew, vterm, vtrunc, vinfo = venv.step(actions)
        assert vinfo["regret"].shape == (R,)
        for i, env in enumerate(singles):
            obs, rew, term, trunc, info = env.step(int(actions[i]))
            assert vtrunc[i] == trunc and vterm[i] == term
            if trunc:
                assert np.array_equal(vinfo["final_obs"][i], obs)
                obs, _ = env.reset()
            assert np.array_equal(vobs[i], obs), (t, i)
            assert vrew[i] == rew
            assert vinfo["regret"][i] == info["regret"]
            assert vinfo["optimal_value"][i] == info["optimal_value"]
        assert vobs in venv.observation_space


def test_vector_env_attributes_and_errors() -> None:
    venv = gym.make_vec(
        "rl_suite/LinearContextualBandit-v0", num_envs=3, vectorization_mode="vector_entry_point"
    )
    assert venv.num_envs == 3
    assert venv.unwrapped.theta.shape == (10, 10)
    assert venv.action_space.shape == (3,)
    with pytest.raises(UserError, match="reset"):
        venv.unwrapped.step(np.zeros(3, dtype=int))
    venv.reset(seed=0)
    with pytest.raises(UserError, match="outside Discrete\\(10\\)"):
        venv.step(np.array([0, 10, 1]))
    with pytest.raises(UserError, match="3 integers"):
        venv.step(np.array([0, 1]))
    with pytest.raises(UserError, match="2 seeds for 3 sub-envs"):
        venv.reset(seed=[1, 2])
    with pytest.raises(UserError, match="num_envs must be"):
        LinearContextualBanditVectorEnv(num_envs=0)
