"""LinearContextualBandit-v0's misspecification, sparsity and min_gap knobs: kernels, properties, state."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.envs.bandits.linear import (
    LinearContextualBandit,
    LinearContextualBanditVectorEnv,
    deviation,
    top_two_gap,
)
from rl_suite.errors import UserError

ID = "rl_suite/LinearContextualBandit-v0"
GAUSS = {"reward_noise": "gaussian", "noise_sd": 0.1}
KNOBS = [
    {"misspecification": 0.05, "min_gap": 0.1, **GAUSS},
    {"model": "shared", "dim": 8, "n_arms": 4, "misspecification": 0.15, "min_gap": 0.2, **GAUSS},
    {"dim": 6, "n_arms": 3, "sparsity": 3, "misspecification": 0.05},  # Bernoulli, ζ ≤ 0.1
    {"model": "shared", "dim": 5, "n_arms": 5, "sparsity": 2, "min_gap": 0.15},
]


def _contexts(env: LinearContextualBandit, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    z = np.random.default_rng(seed).standard_normal((n, env.core.context_normals))
    return env.core.observe(z)


def _linear(env: LinearContextualBandit, x: np.ndarray) -> np.ndarray:
    return np.vecdot(x, env.theta)


# ------------------------------------------------------------------------------------------- kernels
def test_deviation_is_a_square_wave_of_the_linear_score() -> None:
    # ζ = 0.1: floor(l/ζ) = 0, 1, 2, 3, -1 → +ζ, −ζ, +ζ, −ζ, −ζ.
    got = deviation(np.array([0.05, 0.15, 0.25, 0.35, -0.05]), 0.1)
    np.testing.assert_allclose(got, [0.1, -0.1, 0.1, -0.1, -0.1], rtol=0, atol=1e-15)
    assert np.array_equal(deviation(np.array([0.3, 0.7]), 0.0), [0.0, 0.0])


def test_deviation_swaps_two_arms_straddling_a_step() -> None:
    # Linear scores 0.29 < 0.31 straddle the +ζ → −ζ step at 3ζ = 0.3 (ζ = 0.1): the means are 0.39 > 0.21.
    lin = np.array([0.29, 0.31])
    means = lin + deviation(lin, 0.1)
    np.testing.assert_allclose(means, [0.39, 0.21], atol=1e-12)
    assert lin.argmax() == 1 and means.argmax() == 0


def test_top_two_gap_by_hand() -> None:
    np.testing.assert_allclose(top_two_gap(np.array([[0.3, 0.9, 0.5], [0.2, 0.2, 0.1]])), [0.4, 0.0])


# ------------------------------------------------------------------------------------------ defaults
def test_default_knobs_are_the_plain_env() -> None:
    a = LinearContextualBandit(dim=5, n_arms=4, instance_seed=3)
    b = LinearContextualBandit(
        dim=5, n_arms=4, instance_seed=3, misspecification=0.0, sparsity=None, min_gap=0
    )
    assert np.array_equal(a.theta, b.theta)
    oa, ob = a.reset(seed=1)[0], b.reset(seed=1)[0]
    assert np.array_equal(oa, ob)
    for t in range(50):
        sa, sb = a.step(t % 4), b.step(t % 4)
        assert np.array_equal(sa[0], sb[0]) and sa[1] == sb[1] and sa[4] == sb[4]
    # the dense instance's draw is untouched by the sparsity code (drawn after v)
    dense = LinearContextualBandit(dim=5, n_arms=4, instance_seed=3, sparsity=5)
    assert np.array_equal(dense.theta, a.theta)


# ------------------------------------------------------------------------------------ misspecification
@pytest.mark.parametrize("model", ["disjoint", "shared"])
def test_means_deviate_from_linear_by_exactly_zeta(model: str) -> None:
    env = LinearContextualBandit(dim=6, n_arms=5, model=model, misspecification=0.07, **GAUSS)
    x, means = _contexts(env, 2000)
    dev = means - _linear(env, x)
    assert np.abs(dev).max() <= 0.07 + 1e-12
    np.testing.assert_allclose(np.abs(dev), 0.07, atol=1e-12)  # a square wave: ±ζ everywhere
    assert (dev > 0).any() and (dev < 0).any()


def test_info_regret_and_optimum_include_the_deviation() -> None:
    env = LinearContextualBandit(dim=4, n_arms=6, model="shared", misspecification=0.1, **GAUSS)
    obs, info = env.reset(seed=2)
    assert info["optimal_value"] == pytest.approx(max(obs @ env.theta + deviation(obs @ env.theta, 0.1)))
    for t in range(200):
        lin = obs @ env.theta
        mu = lin + deviation(lin, 0.1)
        arm = t % 6
        obs, _, _, _, info = env.step(arm)
        assert info["optimal_value"] == pytest.approx(mu.max(), abs=1e-12)
        assert info["expected_reward"] == pytest.approx(mu[arm], abs=1e-12)
        assert info["regret"] == pytest.approx(mu.max() - mu[arm], abs=1e-12)
        assert info["optimal_action"] == int(mu.argmax())


def test_deviation_flips_the_best_arm_only_above_half_the_gap() -> None:
    # Under a minimal gap Δ a swap needs 2ζ > Δ: below ζ = Δ/2 the linear best is always the best arm.
    def flips(zeta: float) -> float:
        env = LinearContextualBandit(
            dim=8, n_arms=4, model="shared", misspecification=zeta, min_gap=0.2, **GAUSS
        )
        x, means = _contexts(env, 3000)
        return float((_linear(env, x).argmax(1) != means.argmax(1)).mean())

    assert flips(0.0) == 0.0 and flips(0.09) == 0.0
    assert flips(0.15) > 0.01 and flips(0.21) > flips(0.15)


# ------------------------------------------------------------------------------------------ sparsity
@pytest.mark.parametrize(("model", "s"), [("disjoint", 2), ("disjoint", 4), ("shared", 3), ("shared", 7)])
def test_sparsity_gives_exactly_s_nonzeros(model: str, s: int) -> None:
    env = LinearContextualBandit(dim=7, n_arms=5, model=model, sparsity=s, instance_seed=4)
    theta = np.atleast_2d(env.theta)
    assert ((theta != 0).sum(axis=1) == s).all()
    assert (theta[:, 0] == 0.5).all()
    np.testing.assert_allclose(np.linalg.norm(theta[:, 1:], axis=1), 0.4)
    again = LinearContextualBandit(dim=7, n_arms=5, model=model, sparsity=s, instance_seed=4)
    assert np.array_equal(env.theta, again.theta)  # deterministic given the instance seed
    other = LinearContextualBandit(dim=7, n_arms=5, model=model, sparsity=s, instance_seed=5)
    assert not np.array_equal(env.theta, other.theta)


# ------------------------------------------------------------------------------------------- min gap
@pytest.mark.parametrize("kwargs", KNOBS, ids=str)
def test_every_round_has_the_minimal_gap(kwargs: dict) -> None:
    env = LinearContextualBandit(**kwargs)
    delta = env.min_gap
    _, means = _contexts(env, 3000)
    assert top_two_gap(means).min() >= delta
    env.reset(seed=0)
    for t in range(300):
        assert env._means is not None and top_two_gap(env._means)[0] >= delta
        _, _, _, _, info = env.step(t % env.n_arms)
        assert info["regret"] == 0.0 or info["regret"] >= delta - 1e-12


def test_min_gap_changes_the_context_law_only_by_conditioning() -> None:
    # Rows that already meet Δ are kept as drawn; only the others are redrawn.
    plain = LinearContextualBandit(dim=5, n_arms=4, **GAUSS)
    gapped = LinearContextualBandit(dim=5, n_arms=4, min_gap=0.1, **GAUSS)
    z = np.random.default_rng(1).standard_normal((500, plain.core.context_normals))
    x0, m0 = plain.core.observe(z)
    x1, _ = gapped.core.observe(z)
    ok = top_two_gap(m0) >= 0.1
    assert 0 < ok.sum() < 500
    assert np.array_equal(x0[ok], x1[ok]) and not np.array_equal(x0[~ok], x1[~ok])
    assert np.array_equal(x1, gapped.core.observe(z)[0])  # a pure function of the normals


def test_too_large_a_gap_is_refused() -> None:
    with pytest.raises(UserError, match=r"^min_gap=0.7 is too large for this instance"):
        LinearContextualBandit(dim=8, n_arms=10, min_gap=0.7)


# ---------------------------------------------------------------------------- vector form and state
@pytest.mark.parametrize("kwargs", KNOBS, ids=str)
def test_vector_streams_are_bit_identical_to_single_envs(kwargs: dict) -> None:
    R, steps = 3, 40
    vec = gym.make_vec(ID, num_envs=R, vectorization_mode="vector_entry_point", horizon=15, **kwargs)
    assert isinstance(vec.unwrapped, LinearContextualBanditVectorEnv)
    singles = [LinearContextualBandit(horizon=15, **kwargs) for _ in range(R)]
    vobs, _ = vec.reset(seed=10)
    sobs = [e.reset(seed=10 + i)[0] for i, e in enumerate(singles)]
    K = singles[0].n_arms
    for t in range(steps):
        actions = np.array([(t + i) % K for i in range(R)])
        assert np.array_equal(vobs, np.stack(sobs))
        vobs, vr, _, vtr, vinfo = vec.step(actions)
        for i, e in enumerate(singles):
            o, r, _, tr, info = e.step(int(actions[i]))
            if tr:
                o, _ = e.reset()
            sobs[i] = o
            assert r == vr[i] and info["regret"] == vinfo["regret"][i] and tr == vtr[i]
    vec.close()


@pytest.mark.parametrize("kwargs", KNOBS, ids=str)
def test_state_round_trip_mid_episode(kwargs: dict) -> None:
    a, b = LinearContextualBandit(**kwargs), LinearContextualBandit(**kwargs)
    a.reset(seed=3)
    for t in range(7):
        a.step(t % a.n_arms)
    b.reset(seed=99)
    b.set_state(a.get_state())
    for t in range(30):
        sa, sb = a.step(t % a.n_arms), b.step(t % a.n_arms)
        assert np.array_equal(sa[0], sb[0]) and sa[1] == sb[1] and sa[4] == sb[4]


# ------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"misspecification": -0.1}, r"^misspecification must be a finite number >= 0, got -0.1$"),
        ({"misspecification": "big"}, r"^misspecification must be a number >= 0"),
        ({"misspecification": float("nan")}, r"^misspecification must be a finite number"),
        ({"misspecification": 0.2}, r"^misspecification must be <= 0.1 with Bernoulli rewards"),
        ({"min_gap": -1}, r"^min_gap must be a finite number >= 0"),
        ({"min_gap": "x"}, r"^min_gap must be a number >= 0"),
        ({"sparsity": 1}, r"^sparsity must be >= 2, got 1$"),
        ({"sparsity": 11}, r"^sparsity must be an integer in \[2, dim=10\], got 11$"),
        ({"sparsity": 2.5}, r"^sparsity must be an integer >= 2"),
        (
            {"sparsity": 3, "dim": 3, "n_arms": 2, "theta": [[0.5, 0.1, 0.1]] * 2},
            r"^sparsity applies to drawn",
        ),
        (
            {"dim": 2, "n_arms": 2, "theta": [[0.5, 0.45], [0.5, 0.0]], "misspecification": 0.1},
            r"outside \[0, 1\]",
        ),
    ],
)
def test_bad_knobs_are_one_line_user_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(UserError, match=match) as err:
        LinearContextualBandit(**kwargs)
    assert "\n" not in str(err.value)


def test_solve_reports_the_knobs() -> None:
    env = LinearContextualBandit(dim=4, n_arms=3, sparsity=2, misspecification=0.05, min_gap=0.05)
    sol = env.solve(n_samples=2000)
    assert (sol["misspecification"], sol["sparsity"], sol["min_gap"]) == (0.05, 2, 0.05)
    _, means = _contexts(env, 2000, seed=0)
    assert sol["optimal_value_per_round"]["estimate"] == pytest.approx(means.max(1).mean(), abs=1e-12)


def test_exact_evaluator_sees_the_deviation_and_the_gap() -> None:
    from rl_suite.evaluation import N_CONTEXTS, SEED, make_evaluator

    env = LinearContextualBandit(dim=5, n_arms=4, model="shared", misspecification=0.12, min_gap=0.2, **GAUSS)

    class LinearGreedy:  # plays the linear best arm: wrong exactly where the deviation flips the best arm
        def policy_actions(self, observations: np.ndarray, h: int = 0) -> np.ndarray:
            return np.vecdot(observations, env.theta).argmax(-1)

    got = make_evaluator(env)(LinearGreedy())
    x, means = _contexts(env, N_CONTEXTS, seed=SEED)
    best = means.max(1)
    played = means[np.arange(N_CONTEXTS), np.vecdot(x, env.theta).argmax(1)]
    assert top_two_gap(means).min() >= 0.2
    assert got.optimal == pytest.approx(best.mean(), abs=1e-12)
    assert got.regret == pytest.approx((best - played).mean(), abs=1e-12)
    assert got.regret >= 0.2 * (best != played).mean() > 0
