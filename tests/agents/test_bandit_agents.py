"""The bandit agents: every agent x env pairing runs single and batched, saves and resumes bit-for-bit,
rejects bad settings and wrong envs in one line, and its statistics equal brute-force ridge regression."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from pydantic import ValidationError

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite import registry
from rl_suite.agents.base import BanditAgent
from rl_suite.agents.bernoulli_ts import BernoulliTS
from rl_suite.agents.epsilon_greedy import EpsilonGreedy
from rl_suite.agents.hybrid_linucb import HybridLinUCB
from rl_suite.agents.kernels import lin_ts_theory_scale, linucb_theory_alpha, oful_radius_det
from rl_suite.agents.lin_ts import LinTS
from rl_suite.agents.linucb import LinUCB
from rl_suite.agents.oful import OFUL
from rl_suite.agents.ucb1 import UCB1
from rl_suite.errors import UserError
from rl_suite.regret import RegretRecorder
from tests.helpers import assert_resumes_identically, play

LINEAR = "rl_suite/LinearContextualBandit-v0"
MAB = "rl_suite/MultiArmedBandit-v0"
SMALL = {"dim": 4, "n_arms": 5}
SHARED = {**SMALL, "model": "shared"}
GAUSS = {**SMALL, "reward_noise": "gaussian"}
GAUSS_SHARED = {**SHARED, "reward_noise": "gaussian"}

#: (agent short name, env id, env kwargs, agent settings): every agent on every family it supports,
#: with the non-default options exercised somewhere.
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("linucb", LINEAR, SMALL, {}),
    ("linucb", LINEAR, SHARED, {"alpha": "theory", "refresh_every": 7, "tie_breaking": "first"}),
    ("linucb-hybrid", LINEAR, SMALL, {}),
    ("linucb-hybrid", LINEAR, SHARED, {"alpha": 0.5, "lam": 2.0}),
    ("oful", LINEAR, SMALL, {}),
    ("oful", LINEAR, {**SHARED, "reward_noise": "gaussian"}, {"radius": "closed"}),
    ("suplinucb", LINEAR, SMALL, {}),
    ("suplinucb", LINEAR, SHARED, {"horizon": 50, "alpha": 0.5, "lam": 2.0}),
    ("ds-oful", LINEAR, SMALL, {}),
    ("ds-oful", LINEAR, SHARED, {"gamma": "theory", "beta": "theory", "gap": 0.1, "tie_breaking": "first"}),
    ("disbe-lucb", LINEAR, SHARED, {"n_agents": 3}),
    ("disbe-lucb", LINEAR, SMALL, {"n_agents": 2, "sharing": "every_step", "tie_breaking": "first"}),
    ("disbe-lucb", LINEAR, SHARED, {"n_agents": 4, "selection": "max_width", "first_batch": 3}),
    (
        "disbe-lucb",
        LINEAR,
        SMALL,
        {"n_agents": 3, "schedule": "loglog", "horizon": 30, "estimates": "per_batch", "selection": "design"},
    ),
    ("sa-lasso-bandit", LINEAR, SHARED, {}),
    ("sa-lasso-bandit", LINEAR, GAUSS_SHARED, {"lambda0": 0.05, "tie_breaking": "first"}),
    ("lin-ts", LINEAR, SMALL, {}),
    ("lin-ts", LINEAR, SHARED, {"v": "theory"}),
    ("epsilon-greedy", LINEAR, SMALL, {}),
    ("epsilon-greedy", LINEAR, SHARED, {"schedule": "inverse_t", "c": 2.0}),
    ("epsilon-greedy", MAB, {"n_arms": 5}, {}),
    ("ucb1", MAB, {"n_arms": 5}, {}),
    ("ucb1", MAB, {"n_arms": 5, "reward_noise": "gaussian"}, {"c": 2.0}),
    ("bernoulli-ts", MAB, {"n_arms": 5}, {"prior_alpha": 0.5}),
    ("tsallis-inf", MAB, {"n_arms": 5}, {}),
    ("exp3", MAB, {"n_arms": 5}, {"gamma": 0.1}),
    ("fixed-arm", MAB, {"n_arms": 5}, {"arm": 2}),
]
IDS = [f"{a}-{e.split('/')[1][:3]}-{i}" for i, (a, e, _, _) in enumerate(CASES)]


def agent_cls(name: str) -> type[BanditAgent]:
    return registry.load_entry_point(registry.agent_entry(name).entry_point)


def make_env(env_id: str, kwargs: dict[str, Any], num_envs: int | None = None) -> Any:
    """A single env in the regret recorder, or the vector form with ``num_envs`` sub-envs."""
    if num_envs is None:
        return RegretRecorder(gym.make(env_id, **kwargs))
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


# --------------------------------------------------------------------------- the contract
def test_every_registered_bandit_agent_is_covered() -> None:
    unconstrained = {registry.LINEAR_BANDIT, registry.MULTI_ARMED_BANDIT}
    ours = {
        a.name
        for a in registry.AGENTS
        if not a.entry_point.startswith("rl_suite.agents.sb3") and unconstrained & set(a.families)
    }
    assert ours == {name for name, *_ in CASES}  # the constrained families: test_constrained_agents.py


@pytest.mark.parametrize(("name", "env_id", "env_kwargs", "settings"), CASES, ids=IDS)
@pytest.mark.parametrize("num_envs", [None, 3])
def test_learns_and_predicts_single_and_batched(
    name: str, env_id: str, env_kwargs: dict, settings: dict, num_envs: int | None
) -> None:
    env = make_env(env_id, env_kwargs, num_envs)
    agent = agent_cls(name)(env, settings, seed=1)
    regret = play(agent, 60)
    R = 1 if num_envs is None else num_envs
    assert regret.shape == ((60,) if num_envs is None else (60, R))
    assert np.isfinite(regret).all() and (regret >= -1e-12).all()
    assert agent.num_timesteps == 60
    for key in agent.state_keys:
        state = getattr(agent, key)
        assert state.shape[0] == R and np.isfinite(state).all(), key

    obs_space = env.single_observation_space if num_envs else env.observation_space
    one = obs_space.sample()
    if num_envs is None:
        action = agent.predict(one)
        assert isinstance(action, int) and 0 <= action < agent.n_arms
    else:
        with pytest.raises(UserError, match="one observation per stream"):
            agent.predict(one)
    batch = np.stack([obs_space.sample() for _ in range(R)])
    actions = agent.predict(batch, deterministic=False)
    assert actions.shape == (R,) and ((actions >= 0) & (actions < agent.n_arms)).all()
    with pytest.raises(UserError, match="observation of shape"):
        agent.predict(np.zeros((7, 7, 7)))


@pytest.mark.parametrize(("name", "env_id", "env_kwargs", "settings"), CASES, ids=IDS)
@pytest.mark.parametrize("num_envs", [None, 2])
def test_save_load_continues_identically(
    tmp_path: Path, name: str, env_id: str, env_kwargs: dict, settings: dict, num_envs: int | None
) -> None:
    cls = agent_cls(name)
    make = lambda: cls(make_env(env_id, env_kwargs, num_envs), settings, seed=7)  # noqa: E731
    resumed, straight = assert_resumes_identically(make, tmp_path / "agent.npz", 100, 100)
    assert resumed.state_keys == straight.state_keys
    for key in straight.state_keys:
        np.testing.assert_array_equal(getattr(resumed, key), getattr(straight, key), err_msg=key)


@pytest.mark.parametrize(
    ("name", "env_id", "env_kwargs", "settings"),
    [
        ("linucb", LINEAR, SMALL, {"tie_breaking": "first"}),
        ("linucb-hybrid", LINEAR, SHARED, {"tie_breaking": "first"}),
        ("oful", LINEAR, SMALL, {"tie_breaking": "first"}),
        ("oful", LINEAR, SHARED, {"tie_breaking": "first", "radius": "closed"}),
        ("ucb1", MAB, {"n_arms": 5}, {"tie_breaking": "first"}),
    ],
)
def test_single_env_agent_is_the_one_stream_case_of_the_batch(
    name: str, env_id: str, env_kwargs: dict, settings: dict
) -> None:
    """Stream i of a batched agent (seed s) plays exactly as a single-env agent with seed s + i.

    The vector env's stream i is the single env reset with seed s + i, and with ``tie_breaking="first"``
    these agents use no randomness of their own, so the R = 1 fast path and the batched path must agree
    to the last bit.
    """
    cls = agent_cls(name)
    batched = play(cls(make_env(env_id, env_kwargs, 3), settings, seed=10), 300)
    for i in range(3):
        single = play(cls(make_env(env_id, env_kwargs), settings, seed=10 + i), 300)
        np.testing.assert_array_equal(single, batched[:, i])


# --------------------------------------------------------------------------- configs and pairings
BAD_SETTINGS = [
    (LinUCB, {"alpha": -0.1}),
    (LinUCB, {"alpha": "big"}),
    (LinUCB, {"lam": 0.0}),
    (LinUCB, {"refresh_every": -1}),
    (LinUCB, {"tie_breaking": "last"}),
    (LinUCB, {"alpah": 1.0}),
    (HybridLinUCB, {"lam": -1.0}),
    (OFUL, {"delta": 1.0}),
    (OFUL, {"radius": "exact"}),
    (OFUL, {"S": -1.0}),
    (OFUL, {"L": 0.0}),
    (OFUL, {"model": "hybrid"}),
    (LinTS, {"v": -0.25}),
    (LinTS, {"epsilon": 1.0}),
    (EpsilonGreedy, {"epsilon": 1.5}),
    (EpsilonGreedy, {"epsilon": -0.1}),
    (EpsilonGreedy, {"schedule": "linear"}),
    (EpsilonGreedy, {"c": 0.0}),
    (UCB1, {"c": -1.0}),
    (BernoulliTS, {"prior_alpha": 0.0}),
]


@pytest.mark.parametrize(
    ("cls", "settings"), BAD_SETTINGS, ids=[f"{c.__name__}-{s}" for c, s in BAD_SETTINGS]
)
def test_configs_reject_bad_values(cls: type[BanditAgent], settings: dict) -> None:
    with pytest.raises(ValidationError):
        cls.Config.model_validate(settings)


@pytest.mark.parametrize("cls", [LinUCB, HybridLinUCB, OFUL, LinTS, EpsilonGreedy, UCB1, BernoulliTS])
def test_configs_document_every_field_and_default(cls: type[BanditAgent]) -> None:
    assert cls.__doc__ and cls.Config.__doc__
    for name, field in cls.Config.model_fields.items():
        assert field.description, f"{cls.__name__}.{name} has no docstring"
        assert not field.is_required(), f"{cls.__name__}.{name} has no default"


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("cls", [LinUCB, HybridLinUCB, OFUL, LinTS])
def test_linear_agents_refuse_the_multi_armed_env(cls: type[BanditAgent]) -> None:
    with pytest.raises(UserError, match=r"arm-feature observations") as exc:
        cls(gym.make(MAB))
    assert "Discrete(1)" in one_line(exc)


@pytest.mark.parametrize("cls", [UCB1, BernoulliTS])
def test_multi_armed_agents_refuse_the_linear_env(cls: type[BanditAgent]) -> None:
    with pytest.raises(UserError, match="context-free") as exc:
        cls(gym.make(LINEAR, **SMALL))
    one_line(exc)


def test_bernoulli_ts_refuses_gaussian_rewards() -> None:
    with pytest.raises(UserError) as exc:
        BernoulliTS(gym.make(MAB, reward_noise="gaussian"))
    assert one_line(exc) == (
        "bernoulli-ts needs Bernoulli rewards (reward_noise='bernoulli'), got 'gaussian'; "
        "use ucb1 or epsilon-greedy"
    )


class PlainLinearEnv(gym.Env):
    """A foreign linear bandit: (K, d) observations, but no model or bounds attributes."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3, 2), np.float64)
    action_space = gym.spaces.Discrete(3)


def test_auto_settings_need_an_env_that_provides_them() -> None:
    env = PlainLinearEnv()
    # Each 'auto' names the contract it reads, what the env lacks, what to set instead and who provides it.
    with pytest.raises(UserError, match=r"OFUL: model='auto' needs a linear bandit \(env\.unwrapped") as exc:
        OFUL(env)
    assert "PlainLinearEnv does not provide (it lacks noise_sd_bound, model" in one_line(exc)
    assert "set model explicitly; envs that provide it: rl_suite/LinearContextualBandit-v0" in one_line(exc)
    with pytest.raises(UserError, match=r"R='auto' needs .*\(env\.unwrapped\.noise_sd_bound\).*set R") as exc:
        OFUL(env, {"model": "shared"})
    one_line(exc)
    with pytest.raises(UserError, match="set L to a number"):
        OFUL(env, {"model": "shared", "R": 1.0, "S": 1.0, "radius": "closed"})
    agent = OFUL(env, {"model": "shared", "R": 1.0, "S": 1.0, "L": 2.0, "radius": "closed"})
    assert agent.feature_bound[0] == 2.0
    assert LinUCB(env).Ainv.shape == (1, 3, 2, 2)  # LinUCB needs nothing from the env but its spaces


def test_explicit_constants_override_the_env() -> None:
    env = gym.make(LINEAR, **SMALL)
    base = env.unwrapped
    auto = OFUL(env)
    assert auto.model == base.model == "disjoint"
    assert auto.noise_bound[0] == base.noise_sd_bound
    assert auto.param_bound[0] == pytest.approx(base.theta_norm_bound * np.sqrt(SMALL["n_arms"]))
    manual = OFUL(env, {"R": 2.0, "S": 3.0, "L": 1.0, "model": "shared", "radius": "closed"})
    assert manual.model == "shared" and manual.dim == SMALL["dim"]
    assert manual.noise_bound[0] == 2.0 and manual.param_bound[0] == 3.0 and manual.feature_bound[0] == 1.0


# --------------------------------------------------------------------------- the statistics
def random_rounds(rng: np.random.Generator, n: int, R: int, K: int, d: int, shared_rows: bool):
    """n rounds of (obs (R, K, d), actions (R,), rewards (R,)) with unit-norm rows."""
    for _ in range(n):
        if shared_rows:
            x = rng.normal(size=(R, 1, d))
            obs = np.repeat(x / np.linalg.norm(x, axis=-1, keepdims=True), K, axis=1)
        else:
            obs = rng.normal(size=(R, K, d))
            obs /= np.linalg.norm(obs, axis=-1, keepdims=True)
        yield obs, rng.integers(K, size=R), rng.normal(size=R)


@pytest.mark.parametrize("num_envs", [None, 3])
@pytest.mark.parametrize(
    ("cls", "settings", "model"),
    [
        (LinUCB, {"lam": 0.7}, "disjoint"),
        (LinUCB, {"lam": 0.7, "refresh_every": 5}, "disjoint"),
        (OFUL, {"lam": 0.7, "model": "shared"}, "shared"),
        (OFUL, {"lam": 0.7, "model": "disjoint"}, "disjoint"),
        (LinTS, {"lam": 0.7, "model": "shared"}, "shared"),
        (EpsilonGreedy, {"lam": 0.7, "model": "disjoint"}, "disjoint"),
    ],
)
def test_ridge_state_equals_brute_force_regression(
    cls: type[BanditAgent], settings: dict, model: str, num_envs: int | None
) -> None:
    K, d, lam = 4, 3, 0.7
    env = make_env(LINEAR, {"dim": d, "n_arms": K, "model": model}, num_envs)
    agent = cls(env, settings)
    R = agent.num_envs
    rng = np.random.default_rng(5)
    rows = {(r, a): ([], []) for r in range(R) for a in range(K if model == "disjoint" else 1)}
    log_det = np.zeros(R)
    for obs, actions, rewards in random_rounds(rng, 80, R, K, d, shared_rows=False):
        agent._update(obs, actions, rewards)
        for r in range(R):
            xs, ys = rows[(r, actions[r] if model == "disjoint" else 0)]
            xs.append(obs[r, actions[r]])
            ys.append(rewards[r])
    for (r, a), (xs, ys) in rows.items():
        X, y = np.array(xs).reshape(-1, d), np.array(ys)
        V = lam * np.eye(d) + X.T @ X
        theta = agent.theta[r, a] if model == "disjoint" else agent.theta[r]
        Ainv = agent.Ainv[r, a] if model == "disjoint" else agent.Ainv[r]
        np.testing.assert_allclose(theta, np.linalg.solve(V, X.T @ y), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(Ainv, np.linalg.inv(V), rtol=1e-9, atol=1e-11)
        log_det[r] += np.linalg.slogdet(V)[1] - d * np.log(lam)
    if isinstance(agent, OFUL):
        np.testing.assert_allclose(agent.log_det_ratio, log_det, rtol=1e-10)
        expected = oful_radius_det(log_det, agent.noise_bound, agent.param_bound, lam, agent.config.delta)
        np.testing.assert_allclose(agent.beta(), expected)


@pytest.mark.parametrize("num_envs", [None, 2])
@pytest.mark.parametrize("shared_rows", [True, False])
def test_hybrid_equals_joint_ridge_regression(num_envs: int | None, shared_rows: bool) -> None:
    """β̂, θ̂_a and the width of hybrid LinUCB are those of ridge regression on φ = [z; e_a ⊗ x]."""
    K, d, lam = 3, 4, 0.5
    agent = HybridLinUCB(make_env(LINEAR, {"dim": d, "n_arms": K}, num_envs), {"lam": lam})
    R, k = agent.num_envs, d
    D = k + K * d

    def phi(x: np.ndarray, a: int) -> np.ndarray:
        out = np.zeros(D)
        out[:k] = x  # z = x
        out[k + a * d : k + (a + 1) * d] = x
        return out

    rng = np.random.default_rng(11)
    M = np.broadcast_to(lam * np.eye(D), (R, D, D)).copy()
    y = np.zeros((R, D))
    for obs, actions, rewards in random_rounds(rng, 120, R, K, d, shared_rows):
        agent._update(obs, actions, rewards)
        for r in range(R):
            f = phi(obs[r, actions[r]], actions[r])
            M[r] += np.outer(f, f)
            y[r] += rewards[r] * f
    beta, theta = agent.estimates()
    test_obs = next(random_rounds(rng, 1, R, K, d, shared_rows))[0]
    from rl_suite.agents.kernels import hybrid_width_sq

    width = hybrid_width_sq(agent.A0inv, agent.Ainv, agent.B, test_obs, test_obs)
    for r in range(R):
        sol = np.linalg.solve(M[r], y[r])
        np.testing.assert_allclose(beta[r], sol[:k], rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(theta[r].ravel(), sol[k:], rtol=1e-8, atol=1e-8)
        Minv = np.linalg.inv(M[r])
        for a in range(K):
            f = phi(test_obs[r, a], a)
            assert width[r, a] == pytest.approx(f @ Minv @ f, rel=1e-8, abs=1e-10)


def test_linucb_scores_and_theory_alpha() -> None:
    agent = LinUCB(make_env(LINEAR, SMALL), {"alpha": "theory", "delta": 0.1, "tie_breaking": "first"})
    assert agent.alpha == pytest.approx(linucb_theory_alpha(0.1))
    # no data: every arm scores α‖x‖/√λ; with identical rows the first arm wins under "first"
    obs = np.ones((1, 5, 4))
    assert agent._select(obs).tolist() == [0]
    agent._update(obs, np.array([0]), np.array([-5.0]))  # arm 0 now looks bad
    assert agent._select(obs).tolist() == [1]


def test_lin_ts_theory_scale_uses_the_joint_dimension() -> None:
    env = gym.make(LINEAR, **SMALL)
    R = env.unwrapped.noise_sd_bound
    disjoint = LinTS(env, {"v": "theory"})
    assert disjoint.v[0] == pytest.approx(lin_ts_theory_scale(R, 4 * 5, 0.5, 0.05))
    shared = LinTS(env, {"v": "theory", "model": "shared", "R": 1.0})
    assert shared.v[0] == pytest.approx(lin_ts_theory_scale(1.0, 4, 0.5, 0.05))


def test_epsilon_greedy_explores_at_rate_epsilon() -> None:
    env = make_env(MAB, {"n_arms": 5}, 50)
    greedy = EpsilonGreedy(env, {"epsilon": 0.0, "tie_breaking": "first"})
    assert (greedy._select(np.zeros(50, dtype=int)) == 0).all()
    uniform = EpsilonGreedy(env, {"epsilon": 1.0, "tie_breaking": "first"})
    picks = np.concatenate([uniform._select(np.zeros(50, dtype=int)) for _ in range(40)])
    assert set(np.unique(picks)) == set(range(5))
    decay = EpsilonGreedy(env, {"schedule": "inverse_t", "c": 2.0})
    assert decay.epsilon_now() == 1.0
    decay.num_timesteps = 99
    assert decay.epsilon_now() == pytest.approx(2.0 * 5 / 100)


def test_ucb1_plays_every_arm_once_first() -> None:
    agent = UCB1(make_env(MAB, {"n_arms": 6}, 4))
    play(agent, 6)
    assert (agent.counts == 1).all()


def test_bernoulli_ts_posterior_counts() -> None:
    agent = BernoulliTS(make_env(MAB, {"n_arms": 4}), {"prior_alpha": 2.0, "prior_beta": 3.0})
    play(agent, 50)
    pulls = agent.alpha + agent.beta - 5.0
    assert pulls.sum() == 50 and (agent.alpha >= 2.0).all() and (agent.beta >= 3.0).all()
