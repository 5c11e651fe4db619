"""DiabolicalCombLock: V* = 1, the latent model, the oracle decoder, optimal play, observation sizes."""

from __future__ import annotations

import numpy as np
import pytest

from rl_suite.envs.lowrank import DiabolicalCombLock
from rl_suite.envs.lowrank.comblock import sylvester_hadamard
from rl_suite.errors import UserError


@pytest.mark.parametrize("horizon", [1, 5, 10, 20])
@pytest.mark.parametrize("emission", ["hadamard", "mlp"])
def test_v_star_is_one(horizon: int, emission: str) -> None:
    env = DiabolicalCombLock(horizon=horizon, emission=emission)
    assert env.optimal_value() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(env.V_star[0, :2], 1.0, atol=1e-12)
    assert env.V_star[0, 2] == 0.0  # the dead state earns nothing


def test_dense_variant_pays_a_tenth_per_correct_step() -> None:
    env = DiabolicalCombLock(horizon=5, dense=True)
    assert env.optimal_value() == pytest.approx(1.0 + 0.1 * 4)
    assert (env.model()[1] >= 0).all()  # no anti-shaping


def test_latent_model_follows_the_construction() -> None:
    env = DiabolicalCombLock(horizon=4, n_actions=3, p_switch=0.3)
    P, R, rho = env.model()
    H, A = 4, 3
    assert P.shape == (H, 3, A, 3) and R.shape == (H, 3, A) and env.n_states == 3
    np.testing.assert_allclose(rho, [0.7, 0.3, 0.0])
    opt = env.optimal_actions
    assert opt.shape == (H, 2)
    for h in range(H):
        for z, law in ((0, [0.7, 0.3, 0.0]), (1, [0.3, 0.7, 0.0])):
            for a in range(A):
                np.testing.assert_allclose(P[h, z, a], law if a == opt[h, z] else [0, 0, 1])
                expected = (1.0 if h == H - 1 else 0.0) if a == opt[h, z] else 0.1 * 0.5
                assert R[h, z, a] == pytest.approx(expected)
        np.testing.assert_allclose(P[h, 2], np.tile([0.0, 0.0, 1.0], (A, 1)))
        assert (R[h, 2] == 0).all()
    # The optimal policy follows the secret sequences.
    np.testing.assert_array_equal(env.pi_star[:, :2], opt)


@pytest.mark.parametrize(("horizon", "dim"), [(1, 8), (5, 16), (10, 16), (20, 32), (100, 128)])
def test_observation_dimension(horizon: int, dim: int) -> None:
    env = DiabolicalCombLock(horizon=horizon)
    assert env.obs_dim == dim and env.observation_space.shape == (dim,)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (dim,) and obs.dtype == np.float32 and obs in env.observation_space


def test_hadamard_matrix_is_orthogonal_and_symmetric() -> None:
    had = sylvester_hadamard(16)
    assert set(np.unique(had)) == {-1.0, 1.0}
    np.testing.assert_array_equal(had @ had.T, 16 * np.eye(16))
    np.testing.assert_array_equal(had, had.T)


@pytest.mark.parametrize("horizon", [5, 10])
def test_decode_recovers_the_latent_state(horizon: int) -> None:
    env = DiabolicalCombLock(horizon=horizon)
    rng = np.random.default_rng(0)
    seen = set()
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        observations, latents = [obs], [info["latent_state"]]
        for h in range(horizon):
            # Mostly correct actions, so good states are visited at every step.
            z = latents[-1]
            a = int(env.optimal_actions[h, z]) if z < 2 and rng.random() < 0.8 else int(rng.integers(10))
            obs, _, _, _, info = env.step(a)
            observations.append(obs)
            latents.append(info["latent_state"])
        assert [env.decode(x) for x in observations] == latents
        np.testing.assert_array_equal(env.decode(np.stack(observations)), latents)
        seen |= set(latents)
    assert seen == {0, 1, 2}


def test_noise_free_observation_is_the_hadamard_code() -> None:
    env = DiabolicalCombLock(horizon=5, noise=0.0)
    obs, info = env.reset(seed=0)
    v = np.zeros(16)
    v[info["latent_state"]] = 1.0
    v[3] = 1.0  # time h = 0
    np.testing.assert_array_equal(obs, (sylvester_hadamard(16) @ v).astype(np.float32))


@pytest.mark.parametrize(("horizon", "emission"), [(5, "hadamard"), (10, "hadamard"), (5, "mlp")])
def test_playing_the_secret_actions_returns_one_every_episode(horizon: int, emission: str) -> None:
    env = DiabolicalCombLock(horizon=horizon, emission=emission)
    switched = 0
    for seed in range(8):
        _, info = env.reset(seed=seed)
        z, ret = info["latent_state"], 0.0
        for h in range(horizon):
            _, r, term, trunc, info = env.step(int(env.optimal_actions[h, z]))
            assert info["regret"] == 0.0 and info["latent_state"] in (0, 1) and not term
            switched += info["latent_state"] != z
            z, ret = info["latent_state"], ret + r
        assert trunc and ret == 1.0
    assert switched > 0  # p_switch = 0.5: the good chain changes, so no fixed action sequence works


def test_a_wrong_action_kills_and_pays_anti_shaping_half_the_time() -> None:
    env = DiabolicalCombLock(horizon=5)
    rewards = []
    for seed in range(400):
        _, info = env.reset(seed=seed)
        z = info["latent_state"]
        wrong = (int(env.optimal_actions[0, z]) + 1) % 10
        _, r, _, _, info = env.step(wrong)
        assert info["latent_state"] == 2 and info["regret"] == pytest.approx(1.0 - 0.05)
        rewards.append(r)
        _, r, _, _, info = env.step(0)  # the dead state is absorbing and pays nothing
        assert info["latent_state"] == 2 and r == 0.0 and info["regret"] == 0.0
    assert set(rewards) == {0.0, 0.1}
    assert abs(np.mean(rewards) - 0.05) < 4 * 0.05 / np.sqrt(len(rewards))


def test_mlp_emission_differs_and_has_no_oracle_decoder() -> None:
    had = DiabolicalCombLock(horizon=5)
    mlp = DiabolicalCombLock(horizon=5, emission="mlp")
    obs_h, _ = had.reset(seed=0)
    obs_m, _ = mlp.reset(seed=0)
    assert not np.allclose(obs_h, obs_m) and obs_m in mlp.observation_space
    with pytest.raises(UserError, match="emission='mlp'"):
        mlp.decode(obs_m)
    with pytest.raises(UserError, match=r"shape \(16,\)"):
        had.decode(np.zeros(8))
