"""SimplexLinearMDP and LinearChainLock: exact linear structure, V* by brute force, exact per-step regret."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rl_suite.envs.linear_mdp import LinearChainLock, SimplexLinearMDP

# The reference prototype's values quoted by the spec (docs: mdps.md §2.2, §2.3), rounded to 4 decimals.
SPEC_SIMPLEX_V_STAR = 1.9799
SPEC_CHAIN_LOCK_V_STAR = 2.1540
ROUNDING = 0.5e-4


def loop_model(env: SimplexLinearMDP) -> tuple[list, list]:
    """P_h[s][a][s'] = Σ_i φ_i μ_i(s') and r_h[s][a] = Σ_i φ_i θ_i, written with plain loops."""
    H, S, A, d = env.horizon, env.n_states, env.n_actions, env.dim
    Ps, Rs = [], []
    for h in range(H):
        phi = env.features if env.stationary else env.features[h]
        mu = env.mu if env.stationary else env.mu[h]
        theta = env.theta if env.stationary else env.theta[h]
        P = [
            [[sum(phi[s][a][i] * mu[i][t] for i in range(d)) for t in range(S)] for a in range(A)]
            for s in range(S)
        ]
        R = [[sum(phi[s][a][i] * theta[i] for i in range(d)) for a in range(A)] for s in range(S)]
        Ps.append(P)
        Rs.append(R)
    return Ps, Rs


def loop_value(Ps: list, Rs: list, policy: tuple, S: int, start: list[float]) -> float:
    """Expected return of a deterministic policy (flat tuple indexed h*S + s) by plain backward loops."""
    H = len(Ps)
    V = [0.0] * S
    for h in reversed(range(H)):
        V = [
            Rs[h][s][policy[h * S + s]] + sum(Ps[h][s][policy[h * S + s]][t] * V[t] for t in range(S))
            for s in range(S)
        ]
    return sum(p * v for p, v in zip(start, V, strict=True))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"instance_seed": 3},
        {"instance_seed": 4, "stationary": False},
        {"instance_seed": 5, "start": "uniform", "alpha_phi": 1.0},
    ],
    ids=str,
)
def test_v_star_equals_brute_force_over_all_deterministic_policies(kwargs: dict) -> None:
    env = SimplexLinearMDP(n_states=3, n_actions=2, dim=2, horizon=3, **kwargs)
    S, A, H = 3, 2, 3
    start = [1.0 / S] * S if kwargs.get("start") == "uniform" else [1.0, 0.0, 0.0]
    Ps, Rs = loop_model(env)
    values = [loop_value(Ps, Rs, pi, S, start) for pi in itertools.product(range(A), repeat=H * S)]
    assert len(values) == A ** (H * S) == 512
    assert env.optimal_value() == pytest.approx(max(values), abs=1e-12)
    # The env's own policy evaluation agrees with the loops on a few policies.
    for i in (0, 17, 300, 511):
        pi = np.array(list(itertools.product(range(A), repeat=H * S))[i]).reshape(H, S)
        assert env.policy_value(pi) == pytest.approx(values[i], abs=1e-12)
    assert max(values) - min(values) > 1e-3  # a non-trivial instance: policies differ


def test_simplex_default_instance_and_self_checks() -> None:
    env = SimplexLinearMDP()
    S, A, d, H = 20, 4, 10, 10
    assert (env.n_states, env.n_actions, env.dim, env.horizon, env.stationary) == (S, A, d, H, True)
    assert env.features.shape == (S, A, d) and env.mu.shape == (d, S) and env.theta.shape == (d,)
    P, R, rho = env.model()
    assert P.shape == (H, S, A, S) and R.shape == (H, S, A) and rho.shape == (S,)
    np.testing.assert_allclose(P[3], np.einsum("sad,dt->sat", env.features, env.mu), atol=1e-12, rtol=0)
    np.testing.assert_allclose(R[7], env.features @ env.theta, atol=1e-15, rtol=0)
    assert (env.features >= 0).all() and np.allclose(env.features.sum(-1), 1.0)
    assert ((R >= 0) & (R <= 1)).all()
    # Same draw order as the spec's prototype: its V*_1(s_1 = 0) = 1.9799 is reproduced.
    assert abs(env.optimal_value() - SPEC_SIMPLEX_V_STAR) <= ROUNDING
    assert env.optimal_value() == env.V_star[0, 0]


def test_non_stationary_simplex_has_per_step_arrays_and_phi_info() -> None:
    env = SimplexLinearMDP(n_states=6, n_actions=3, dim=4, horizon=4, stationary=False)
    assert env.features.shape == (4, 6, 3, 4) and env.mu.shape == (4, 4, 6) and env.theta.shape == (4, 4)
    obs, info = env.reset(seed=1)
    np.testing.assert_array_equal(info["phi"], env.features[0, obs])
    for h in range(4):
        obs, _, _, trunc, info = env.step(h % 3)
        assert info["h"] == h and info["state"] == obs
        expected = env.features[h + 1, obs] if h < 3 else np.zeros((3, 4))
        np.testing.assert_array_equal(info["phi"], expected)
    assert trunc


def test_bernoulli_rewards_are_binary_with_the_right_mean() -> None:
    env = SimplexLinearMDP(n_states=4, n_actions=2, dim=3, horizon=5, reward_noise="bernoulli")
    env.reset(seed=0)
    rewards, means = [], []
    for t in range(4000):
        if t % 5 == 0:
            env.reset()
        _, r, _, _, info = env.step(t % 2)
        rewards.append(r)
        means.append(info["expected_reward"])
    assert set(rewards) <= {0.0, 1.0}
    se = np.sqrt(np.mean(means) * (1 - np.mean(means)) / len(rewards))
    assert abs(np.mean(rewards) - np.mean(means)) < 4 * se


def run_policy(env, policy: np.ndarray | None, seed: int, rng: np.random.Generator) -> tuple[float, float]:
    """One episode; ``policy`` None plays uniformly. Returns (sum of regrets, return)."""
    _, info = env.reset(seed=seed)
    s, regret, ret = info["state"], 0.0, 0.0
    for h in range(env.horizon):
        a = int(policy[h, s]) if policy is not None else int(rng.integers(env.n_actions))
        _, r, term, trunc, info = env.step(a)
        assert info["regret"] >= 0.0 and not term
        regret += info["regret"]
        ret += r
        s = info["state"]
    assert trunc
    return regret, ret


def test_chain_lock_v_star_matches_the_spec_for_every_secret() -> None:
    # The spec quotes 2.1540 (4 decimals) for S=20, A=4, d=10, p_slip=0.1, H=12: equal up to rounding.
    # V* does not depend on which action is secret, so every instance_seed gives the same value.
    values = [LinearChainLock(instance_seed=seed).optimal_value() for seed in range(4)]
    assert abs(values[0] - SPEC_CHAIN_LOCK_V_STAR) <= ROUNDING
    assert max(values) - min(values) < 1e-12


def test_chain_lock_is_an_exact_linear_mdp() -> None:
    env = LinearChainLock()
    P, R, rho = env.model()
    np.testing.assert_allclose(P[0], np.einsum("sad,dt->sat", env.features, env.mu), atol=1e-15, rtol=0)
    np.testing.assert_allclose(R[0], env.features @ env.theta, atol=1e-15, rtol=0)
    assert rho[0] == 1.0 and env.block_of_state.tolist() == [i // 2 for i in range(20)]
    # The secret action of a state in block z moves to block z+1 w.p. 1 - p_slip; others restart.
    s = 4  # block 2
    a_star = env.secret_actions[s]
    np.testing.assert_allclose(P[0, s, a_star, 6:8], [0.45, 0.45])
    np.testing.assert_allclose(P[0, s, a_star, 0:2], [0.05, 0.05])
    wrong = (a_star + 1) % 4
    np.testing.assert_allclose(P[0, s, wrong, 0:2], [0.5, 0.5])
    np.testing.assert_allclose(P[0, 18, :, 18:], 0.5)  # the last block is absorbing
    assert R[0, s, wrong] == pytest.approx(0.1) and R[0, 19, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("make", [LinearChainLock, lambda: SimplexLinearMDP(start="uniform")])
def test_optimal_policy_has_zero_regret_and_others_positive(make) -> None:
    env = make()
    rng = np.random.default_rng(0)
    for seed in range(10):
        regret, _ = run_policy(env, env.pi_star, seed, rng)
        assert regret == 0.0
    # A wrong action in the start state has exactly the Q* gap as regret.
    _, info = env.reset(seed=0)
    s = info["state"]
    worst = int(np.argmin(env.Q_star[0, s]))
    _, _, _, _, info = env.step(worst)
    assert info["regret"] == pytest.approx(env.V_star[0, s] - env.Q_star[0, s, worst])
    assert info["regret"] > 0 and info["optimal_value"] == env.V_star[0, s]


@pytest.mark.parametrize(
    "make",
    [
        lambda: SimplexLinearMDP(n_states=6, n_actions=3, dim=3, horizon=6, instance_seed=2),
        lambda: LinearChainLock(n_states=8, dim=4, horizon=6, p_slip=0.3),
    ],
)
def test_regrets_sum_in_expectation_to_the_policy_gap(make) -> None:
    # Performance-difference lemma: E[Σ_h V*_h(s_h) − Q*_h(s_h, a_h)] = V*_0 − V^π_0 for uniform π.
    env = make()
    rng = np.random.default_rng(1)
    regrets = np.array([run_policy(env, None, seed, rng)[0] for seed in range(3000)])
    uniform = np.full((env.horizon, env.n_states, env.n_actions), 1.0 / env.n_actions)
    gap = env.optimal_value() - env.policy_value(uniform)
    assert gap > 0.05
    assert abs(regrets.mean() - gap) < 4 * regrets.std() / np.sqrt(regrets.size)
