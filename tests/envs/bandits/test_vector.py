"""Vector forms: one array program, bit-identical per seed to separate single envs, SAME_STEP autoreset."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.envs.bandits.linear import LinearContextualBandit, LinearContextualBanditVectorEnv
from rl_suite.envs.bandits.multi_armed import MultiArmedBanditVectorEnv
from rl_suite.errors import UserError

LINEAR, MAB = "rl_suite/LinearContextualBandit-v0", "rl_suite/MultiArmedBandit-v0"
CASES = [
    (LINEAR, {}),
    (LINEAR, {"model": "shared", "context": "ball", "dim": 4, "n_arms": 6}),
    (LINEAR, {"reward_noise": "gaussian", "context": "gaussian", "dim": 3}),
    (LINEAR, {"reward_noise": "gaussian", "model": "shared", "dim": 20, "n_arms": 10}),
    (MAB, {}),
    (MAB, {"reward_noise": "gaussian", "means": [0.0, 1.0, -2.0]}),
]
KEYS = ("regret", "optimal_value", "expected_reward", "optimal_action")


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=str)
def test_bit_identical_to_separate_single_envs(env_id: str, kwargs: dict) -> None:
    R, horizon, steps = 4, 7, 23  # three autoresets inside the run
    venv = gym.make_vec(
        env_id, num_envs=R, vectorization_mode="vector_entry_point", horizon=horizon, **kwargs
    )
    assert type(venv) is (LinearContextualBanditVectorEnv if env_id == LINEAR else MultiArmedBanditVectorEnv)
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    assert venv.num_envs == R and venv.action_space == gym.spaces.MultiDiscrete([venv.n_arms] * R)
    singles = [gym.make(env_id, horizon=horizon, **kwargs) for _ in range(R)]
    assert venv.single_observation_space == singles[0].observation_space
    assert venv.single_action_space == singles[0].action_space
    vobs, vinfo = venv.reset(seed=100)
    for i, env in enumerate(singles):
        obs, info = env.reset(seed=100 + i)
        assert np.array_equal(vobs[i], obs) and vinfo["optimal_value"][i] == info["optimal_value"]
    assert vobs in venv.observation_space
    rng = np.random.default_rng(0)
    resets = 0
    for t in range(steps):
        actions = rng.integers(0, venv.n_arms, R)
        vobs, vrew, vterm, vtrunc, vinfo = venv.step(actions)
        assert vrew.shape == vterm.shape == vtrunc.shape == (R,) and vrew.dtype == np.float64
        assert all(vinfo[k].shape == (R,) for k in KEYS)
        assert vobs in venv.observation_space
        assert vtrunc.all() == ((t + 1) % horizon == 0) and not vterm.any()
        for i, env in enumerate(singles):
            obs, rew, term, trunc, info = env.step(int(actions[i]))
            assert (vterm[i], vtrunc[i]) == (term, trunc)
            assert np.array_equal(vrew[i], rew)
            for k in KEYS:
                assert np.array_equal(vinfo[k][i], info[k]), (k, t, i)
            if trunc:
                assert vinfo["_final_obs"][i] and np.array_equal(vinfo["final_obs"][i], obs)
                assert vinfo["_final_info"][i] and vinfo["final_info"]["regret"][i] == info["regret"]
                obs, _ = env.reset()  # no reseeding: the generator continues
            assert np.array_equal(vobs[i], obs), (t, i)
        resets += bool(vtrunc.all())
        assert ("final_obs" in vinfo) == bool(vtrunc.all())
    assert resets == steps // horizon


def test_list_of_seeds_and_unseeded_reset_continue_the_streams() -> None:
    kwargs = {"dim": 3, "n_arms": 2, "horizon": 50}
    venv = LinearContextualBanditVectorEnv(num_envs=3, **kwargs)
    singles = [LinearContextualBandit(**kwargs) for _ in range(3)]
    vobs, _ = venv.reset(seed=[5, 9, 2])
    for obs, env, s in zip(vobs, singles, [5, 9, 2], strict=True):
        assert np.array_equal(obs, env.reset(seed=s)[0])
    venv.step(np.zeros(3, dtype=np.int64))
    vobs, _ = venv.reset()  # continues each generator, like a single env's reset()
    for obs, env in zip(vobs, singles, strict=True):
        env.step(0)
        assert np.array_equal(obs, env.reset()[0])


def test_one_stream_vector_env_is_the_single_env() -> None:
    venv = LinearContextualBanditVectorEnv(num_envs=1, dim=20, n_arms=10)
    env = LinearContextualBandit(dim=20, n_arms=10)
    vobs, _ = venv.reset(seed=4)
    obs, _ = env.reset(seed=4)
    for t in range(10):
        assert np.array_equal(vobs[0], obs)
        vobs, vrew, _, _, vinfo = venv.step(np.array([t % 10]))
        obs, rew, _, _, info = env.step(t % 10)
        assert vrew[0] == rew and vinfo["regret"][0] == info["regret"]


def test_vector_env_shares_the_instance_and_exposes_its_attributes() -> None:
    venv = gym.make_vec(LINEAR, num_envs=3, vectorization_mode="vector_entry_point", instance_seed=4)
    assert np.array_equal(venv.unwrapped.theta, LinearContextualBandit(instance_seed=4).theta)
    assert venv.unwrapped.feature_norm_bound == pytest.approx(np.sqrt(2))
    assert venv.unwrapped.solve(n_samples=10)["model"] == "disjoint"
    mab = gym.make_vec(MAB, num_envs=2, vectorization_mode="vector_entry_point", means=[0.1, 0.6])
    assert mab.unwrapped.means.tolist() == [0.1, 0.6]
    obs, _ = mab.reset(seed=0)
    assert obs.tolist() == [0, 0] and obs.dtype == np.int64
    _, _, _, _, info = mab.step(np.array([0, 1]))
    assert info["regret"] == pytest.approx([0.5, 0.0]) and info["optimal_action"].tolist() == [1, 1]


def test_vector_env_errors() -> None:
    venv = gym.make_vec(LINEAR, num_envs=3, vectorization_mode="vector_entry_point")
    with pytest.raises(UserError, match=r"^call reset\(\) before step\(\)$"):
        venv.unwrapped.step(np.zeros(3, dtype=int))
    venv.reset(seed=0)
    with pytest.raises(UserError, match=r"^action 10 is outside Discrete\(10\)"):
        venv.step(np.array([0, 10, 1]))
    with pytest.raises(UserError, match=r"expected 3 integers"):
        venv.step(np.array([0, 1]))
    with pytest.raises(UserError, match=r"MultiDiscrete"):
        venv.step(np.array([0.0, 1.0, 2.0]))
    with pytest.raises(UserError, match=r"^reset got 2 seeds for 3 sub-envs$"):
        venv.reset(seed=[1, 2])
    with pytest.raises(UserError, match=r"^num_envs must be >= 1, got 0$"):
        LinearContextualBanditVectorEnv(num_envs=0)
    with pytest.raises(UserError, match=r"^dim must be >= 2"):
        LinearContextualBanditVectorEnv(num_envs=2, dim=1)


AHEAD_CASES = [
    (LINEAR, {}),
    (LINEAR, {"model": "shared", "context": "ball", "dim": 4, "n_arms": 6}),
    (LINEAR, {"min_gap": 0.05, "misspecification": 0.05, "dim": 5, "n_arms": 4}),
    (MAB, {}),
    ("rl_suite/ConstrainedMAB-v0", {}),
    ("rl_suite/StagewiseConstrainedLinearBandit-v0", {}),
    ("rl_suite/SafeLinearBandit-v0", {}),
]


def _actions(space: gym.Space, R: int) -> tuple[list, Any]:
    acts = [space.sample() for _ in range(R)]
    if isinstance(space, gym.spaces.Tuple):
        return acts, (np.array([a[0] for a in acts]), np.array([a[1][0] for a in acts]))
    return acts, np.stack(acts)


@pytest.mark.parametrize(("env_id", "kwargs"), AHEAD_CASES, ids=str)
def test_rounds_computed_ahead_match_single_envs_across_blocks_state_reads_and_resets(
    env_id: str, kwargs: dict
) -> None:
    """A long episode is served from blocks of rounds computed ahead (and normals drawn ahead): still
    bit-identical to single envs over several blocks, after a state read mid-block restored into a fresh
    vector env, and after an unseeded reset mid-block (the normals of unplayed rounds are given back)."""
    from rl_suite.envs.bandits._core import ROUNDS_AHEAD

    R, horizon = 3, 1000

    def make() -> gym.vector.VectorEnv:
        mode = "vector_entry_point"
        return gym.make_vec(env_id, num_envs=R, vectorization_mode=mode, horizon=horizon, **kwargs)

    venv, singles = make(), [gym.make(env_id, horizon=horizon, **kwargs) for _ in range(R)]
    vobs, _ = venv.reset(seed=7)
    sobs = [s.reset(seed=7 + i)[0] for i, s in enumerate(singles)]
    space = venv.single_action_space
    space.seed(1)
    steps = 3 * ROUNDS_AHEAD + 20
    for t in range(steps):
        if t == ROUNDS_AHEAD + 17:  # mid-block: the state continues in a fresh vector env
            state = venv.unwrapped.get_state()
            fresh = make()
            fresh.reset(seed=999)
            fresh.unwrapped.set_state(state)
            venv = fresh
        if t == 2 * ROUNDS_AHEAD + 5:  # mid-block: an unseeded reset continues every stream's generator
            vobs, _ = venv.reset()
            sobs = [s.reset()[0] for s in singles]
        for i in range(R):
            np.testing.assert_array_equal(vobs[i], sobs[i], err_msg=f"step {t}, stream {i}")
        acts, batch = _actions(space, R)
        vobs, vrew, _, _, vinfo = venv.step(batch)
        for i, s in enumerate(singles):
            sobs[i], rew, _, _, info = s.step(acts[i])
            assert rew == vrew[i] and info["regret"] == vinfo["regret"][i], (t, i)
            assert info["optimal_value"] == vinfo["optimal_value"][i], (t, i)
