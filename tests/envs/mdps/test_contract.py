"""The FiniteHorizonMDPEnv contract for every MDP env: Gymnasium checker, seeding, info keys, bad input."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rl_suite.envs._finite import FiniteHorizonMDPEnv
from rl_suite.envs.linear_mdp import LinearChainLock, SimplexLinearMDP
from rl_suite.envs.lowrank import DiabolicalCombLock
from rl_suite.envs.toy_text import ToyTextFiniteHorizon
from rl_suite.errors import UserError

ENVS: dict[str, Callable[[], FiniteHorizonMDPEnv]] = {
    "simplex": SimplexLinearMDP,
    "simplex-nonstationary-bernoulli-uniform": lambda: SimplexLinearMDP(
        stationary=False, reward_noise="bernoulli", start="uniform"
    ),
    "chain-lock": LinearChainLock,
    "comblock-hadamard": DiabolicalCombLock,
    "comblock-mlp-dense-h10": lambda: DiabolicalCombLock(emission="mlp", dense=True, horizon=10),
    "frozenlake": lambda: ToyTextFiniteHorizon("FrozenLake-v1"),
    "frozenlake-deterministic": lambda: ToyTextFiniteHorizon("FrozenLake-v1", is_slippery=False),
    "cliffwalking": lambda: ToyTextFiniteHorizon("CliffWalking-v1"),
    "taxi": lambda: ToyTextFiniteHorizon("Taxi-v4", horizon=50),
}
# Envs whose trajectory depends on the seed under a fixed action sequence.
STOCHASTIC = [k for k in ENVS if k not in ("frozenlake-deterministic", "cliffwalking")]


def rollout(env: FiniteHorizonMDPEnv, seed: int) -> list:
    obs, info = env.reset(seed=seed)
    out = [(np.array(obs), info)]
    for t in range(env.horizon):
        obs, r, term, trunc, info = env.step((3 * t + 1) % env.n_actions)
        out.append((np.array(obs), r, term, trunc, info))
    return out


def same(a: list, b: list) -> bool:
    def eq(x, y) -> bool:
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(eq(x[k], y[k]) for k in x)
        if isinstance(x, tuple):
            return all(eq(u, v) for u, v in zip(x, y, strict=True))
        return bool(np.array_equal(x, y))

    return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("key", ENVS)
def test_check_env_passes_with_warnings_as_errors(key: str) -> None:
    env = ENVS[key]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)


@pytest.mark.parametrize("key", ENVS)
def test_model_interface_and_solve(key: str) -> None:
    env = ENVS[key]()
    H, S, A = env.horizon, env.n_states, env.n_actions
    P, R, rho = env.model()
    assert P.shape == (H, S, A, S) and R.shape == (H, S, A) and rho.shape == (S,)
    assert not P.flags.writeable and not R.flags.writeable
    assert env.Q_star.shape == (H, S, A) and env.V_star.shape == (H + 1, S) and (env.V_star[H] == 0).all()
    np.testing.assert_allclose(env.V_star[:H], env.Q_star.max(axis=2))
    assert env.policy_value(env.pi_star) == pytest.approx(env.optimal_value(), abs=1e-9)
    assert isinstance(env.stationary, bool)
    solved = json.loads(json.dumps(env.solve()))
    assert solved["optimal_value"] == pytest.approx(env.optimal_value())
    assert (solved["horizon"], solved["n_states"], solved["n_actions"]) == (H, S, A)
    for s, a in solved["optimal_first_actions"].items():
        assert env.Q_star[0, int(s), a] == env.V_star[0, int(s)]
    assert solved["random_policy_value"] <= solved["optimal_value"] + 1e-12


@pytest.mark.parametrize("key", ENVS)
def test_same_seed_same_trajectory_and_info_keys(key: str) -> None:
    env = ENVS[key]()
    first = rollout(env, 11)
    assert same(first, rollout(env, 11))
    assert same(first, rollout(ENVS[key](), 11))  # a fresh instance replays it too
    _, info = first[0]
    state_key = "latent_state" if isinstance(env, DiabolicalCombLock) else "state"
    assert info["h"] == 0 and state_key in info
    assert info["optimal_value"] == env.V_star[0, info[state_key]]
    for h, (_, _, term, trunc, info) in enumerate(first[1:]):
        assert info["h"] == h and term is False and trunc == (h == env.horizon - 1)
        assert {"regret", "optimal_value", "expected_reward", state_key} <= info.keys()
        assert info["regret"] >= 0.0


@pytest.mark.parametrize("key", STOCHASTIC)
def test_different_seeds_give_different_trajectories(key: str) -> None:
    env = ENVS[key]()
    base = rollout(env, 0)
    assert any(not same(base, rollout(env, seed)) for seed in range(1, 6))


@pytest.mark.parametrize("key", ["simplex", "comblock-hadamard", "taxi"])
def test_step_misuse_raises_user_errors(key: str) -> None:
    env = ENVS[key]()
    with pytest.raises(UserError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(UserError, match=rf"action {env.n_actions} is outside Discrete\({env.n_actions}\)"):
        env.step(env.n_actions)
    for _ in range(env.horizon):
        env.step(0)
    with pytest.raises(UserError, match=f"horizon={env.horizon}"):
        env.step(0)
    with pytest.raises(UserError, match=r"policy must have shape"):
        env.policy_value(np.zeros((env.horizon + 1, env.n_states), dtype=int))


def test_global_numpy_rng_is_untouched() -> None:
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    for make in ENVS.values():
        env = make()
        rollout(env, 0)
    assert np.random.random() == expected


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SimplexLinearMDP(n_states=1), "n_states must be >= 2, got 1"),
        (lambda: SimplexLinearMDP(n_actions=1), "n_actions must be >= 2, got 1"),
        (lambda: SimplexLinearMDP(dim=0), "dim must be >= 1, got 0"),
        (lambda: SimplexLinearMDP(horizon=0), "horizon must be >= 1, got 0"),
        (lambda: SimplexLinearMDP(horizon=2.5), "horizon must be an integer >= 1, got 2.5"),
        (lambda: SimplexLinearMDP(alpha_phi=0.0), "alpha_phi must be a finite number > 0, got 0.0"),
        (lambda: SimplexLinearMDP(alpha_mu=-1), "alpha_mu must be a finite number > 0, got -1.0"),
        (lambda: SimplexLinearMDP(reward_noise="gaussian"), "reward_noise must be one of .*got 'gaussian'"),
        (lambda: SimplexLinearMDP(start="random"), "start must be one of .*got 'random'"),
        (lambda: LinearChainLock(n_states=21), "n_states must be a multiple of dim=10.*got 21"),
        (lambda: LinearChainLock(dim=1), "dim must be >= 2, got 1"),
        (lambda: LinearChainLock(p_slip=1.0), r"p_slip must be in \[0, 1\), got 1.0"),
        (lambda: LinearChainLock(horizon=-3), "horizon must be >= 1, got -3"),
        (lambda: DiabolicalCombLock(emission="conv"), "emission must be one of .*got 'conv'"),
        (lambda: DiabolicalCombLock(n_actions=1), "n_actions must be >= 2, got 1"),
        (lambda: DiabolicalCombLock(horizon=0), "horizon must be >= 1, got 0"),
        (lambda: DiabolicalCombLock(p_switch=1.5), r"p_switch must be in \[0, 1\], got 1.5"),
        (lambda: DiabolicalCombLock(noise=-0.1), "noise must be a finite number >= 0, got -0.1"),
        (lambda: ToyTextFiniteHorizon("Pong-v5"), "name must be one of .*got 'Pong-v5'"),
    ],
)
def test_bad_arguments_raise_user_errors_naming_the_value(make: Callable[[], object], match: str) -> None:
    with pytest.raises(UserError, match=match):
        make()
