"""The episodic MDP agents: LSVI-UCB's unit cases (mdps spec §2.6 R-LIN-4), optimism being needed on the
chain lock, finite-state == generic paths, and the contract (resume mid-episode, one-line errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite import registry
from rl_suite.agents.base import EpisodicAgent
from rl_suite.agents.lsvi_ucb import LSVIUCB, EpsLSVI
from rl_suite.envs._finite import FiniteHorizonMDPEnv
from rl_suite.errors import UserError
from tests.helpers import assert_resumes_identically, play

SIMPLEX = "rl_suite/SimplexLinearMDP-v0"
LOCK = "rl_suite/LinearChainLock-v0"
FROZEN = "rl_suite/FrozenLakeFiniteHorizon-v0"
COMBLOCK = "rl_suite/DiabolicalCombLock-v0"


class OneHotMDP(FiniteHorizonMDPEnv[np.int64]):
    """A random tabular MDP written as a linear MDP with one-hot features φ(s, a) = e_(s,a) (d = S·A)."""

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, S: int = 4, A: int = 2, H: int = 4, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        P = rng.dirichlet(np.ones(S), size=(S, A))
        R = rng.random((S, A))
        rho = np.eye(S)[0]
        self._setup_mdp(P, R, rho, H)
        self.features = np.eye(S * A).reshape(S, A, S * A)
        self.action_space = gym.spaces.Discrete(A)


def agent_cls(name: str) -> type[EpisodicAgent]:
    return registry.load_entry_point(registry.agent_entry(name).entry_point)


def episode_regret(agent: EpisodicAgent, episodes: int) -> np.ndarray:
    H = agent.env.unwrapped.horizon
    return play(agent, episodes * H).reshape(episodes, H).sum(axis=1).cumsum()


def second_half_slope(cum: np.ndarray) -> float:
    k = np.arange(1, cum.size + 1)
    half = slice(cum.size // 2, cum.size)
    return float(np.polyfit(np.log(k[half]), np.log(np.maximum(cum[half], 1e-9)), 1)[0])


# --------------------------------------------------------------------------- R-LIN-4 unit cases
def test_one_hot_features_give_the_tabular_counts() -> None:
    env = OneHotMDP()
    agent = LSVIUCB(env, {"lam": 1.0, "stationary": True}, seed=0)
    visits = np.zeros((4, 2))
    agent.learn(0)
    obs, _ = env.reset(seed=0)
    for _ in range(40 * 4):
        h = int(agent.step_h[0])
        a = agent._act(obs, h, False)
        visits[int(obs), a] += 1
        nxt, r, term, trunc, _ = env.step(a)
        done = term or trunc
        agent.step_h[0] = 0 if done else h + 1
        agent.episodes[0] += done
        agent._transition(obs, a, r, nxt, h, done)
        obs = env.reset()[0] if done else nxt
    np.testing.assert_allclose(np.diag(agent.Linv[0]), 1.0 / (visits.ravel() + 1.0), rtol=1e-10)
    np.testing.assert_allclose(agent.Linv[0], np.linalg.inv(agent.gram[0]), atol=1e-10)


def test_sherman_morrison_inverse_stays_exact() -> None:
    agent = LSVIUCB(gym.make(SIMPLEX), {}, seed=0)
    play(agent, 50 * 10)
    np.testing.assert_allclose(agent.Linv[0], np.linalg.inv(agent.gram[0]), rtol=1e-8, atol=1e-10)


def test_beta_zero_on_uniform_data_recovers_q_star() -> None:
    env = gym.make(SIMPLEX)
    agent = EpsLSVI(env, {"epsilon": 1.0}, seed=0)  # uniform actions, no bonus
    play(agent, 3000 * 10)
    q_star = env.unwrapped.Q_star
    assert np.abs(agent.Q - q_star).max() / q_star.max() < 0.01  # measured 0.55 %


def test_optimism_on_the_tabular_case() -> None:
    env = OneHotMDP(seed=1)
    agent = LSVIUCB(env, {"beta": 8.0}, seed=0)  # β = 2H
    play(agent, 30 * 4)
    assert (agent.Q >= env.Q_star - 1e-9).all()


@pytest.mark.parametrize("env_id", [SIMPLEX, LOCK])
def test_finite_state_and_generic_paths_give_identical_regret(env_id: str) -> None:
    finite = play(
        LSVIUCB(gym.make(env_id), {"path": "finite"}, seed=3), 60 * gym.make(env_id).unwrapped.horizon
    )
    generic = play(LSVIUCB(gym.make(env_id), {"path": "generic"}, seed=3), finite.size)
    np.testing.assert_array_equal(finite, generic)


# --------------------------------------------------------------------------- what they must achieve
def test_optimism_is_needed_on_the_chain_lock() -> None:
    """mdps spec §2.6 R-LIN-2: H=12, K=1000, 3 seeds; LSVI-UCB flattens, ε-greedy LSVI stays linear."""
    lsvi = [second_half_slope(episode_regret(LSVIUCB(gym.make(LOCK), {}, seed=s), 1000)) for s in range(3)]
    eps = [second_half_slope(episode_regret(EpsLSVI(gym.make(LOCK), {}, seed=s), 1000)) for s in range(3)]
    assert np.mean(lsvi) < 0.7  # measured ~0.0 (regret 40, flat after ~250 episodes)
    assert np.mean(eps) > 0.85  # measured 1.00 (regret 980)


def test_lsvi_ucb_is_sublinear_on_the_simplex_mdp() -> None:
    cum = episode_regret(LSVIUCB(gym.make(SIMPLEX), {}, seed=0), 1000)
    assert second_half_slope(cum) < 0.5 and cum[-1] < 80  # measured slope 0.13-0.25, regret 36


def test_the_oracle_has_zero_regret() -> None:
    for env_id in (SIMPLEX, LOCK, FROZEN):
        regret = play(agent_cls("mdp-oracle")(gym.make(env_id)), 300)
        assert np.abs(regret).max() < 1e-12


def solved_after(agent: LSVIUCB, episodes: int) -> int | None:
    """First episode after which the greedy policy on the good latent states is the secret combination."""
    env = agent.env.unwrapped
    for k in range(episodes):
        agent.learn(env.horizon)
        if np.array_equal(agent.Q.argmax(axis=-1)[:, :2], np.asarray(env.optimal_actions)):
            return k + 1
    return None


def test_oracle_decoder_lsvi_ucb_opens_the_combination_lock() -> None:
    """mdps spec §3.4 R-LR-1 (A=10): the spec measured 320-381 episodes at H=5; here 375-497."""
    for seed in range(3):
        found = solved_after(LSVIUCB(gym.make(COMBLOCK, horizon=5), {"decoder": "oracle"}, seed=seed), 800)
        assert found is not None and found < 800


def test_eps_greedy_does_not_open_the_h10_lock() -> None:
    for seed in range(3):
        agent = EpsLSVI(gym.make(COMBLOCK, horizon=10), {"decoder": "oracle"}, seed=seed)
        per_episode = episode_regret(agent, 1500)
        assert (per_episode[-1] - per_episode[-501]) / 500 > 0.9  # dies early: regret ≈ 0.95 an episode


# --------------------------------------------------------------------------- contract
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("lsvi-ucb", SIMPLEX, {}),
    ("lsvi-ucb", LOCK, {"bonus": "bernstein", "stationary": False, "refresh_every": 5}),
    ("lsvi-ucb", SIMPLEX, {"path": "generic", "beta": "theory"}),
    ("eps-lsvi", LOCK, {}),
    ("ucbvi", SIMPLEX, {}),
    ("ucbvi", FROZEN, {"stationary": False}),
    ("mdp-oracle", LOCK, {}),
    ("mdp-oracle", FROZEN, {}),
    ("sqirl", "rl_suite/LayeredLureMDP-v0", {"episodes_per_timestep": 2, "planning_depth": 2}),
    ("gorp", "rl_suite/LayeredLureMDP-v0", {"planning_depth": 2, "restart": True}),
    ("lsvi-ucb", COMBLOCK, {"decoder": "oracle"}),
    ("eps-lsvi", COMBLOCK, {"decoder": "oracle"}),
    ("briee-lite", COMBLOCK, {"update_every": 5, "train_steps": 10}),
]


def test_every_mdp_pairing_is_covered() -> None:
    families = {registry.LINEAR_MDP, registry.TABULAR_MDP, registry.BLOCK_MDP}
    wanted = {
        (a.name, f)
        for a in registry.AGENTS
        for f in a.families
        if f in families and not a.entry_point.startswith("rl_suite.agents.sb3")
    }
    assert wanted == {(name, registry.env_entry(env_id).family) for name, env_id, _ in CASES}


@pytest.mark.parametrize(
    ("name", "env_id", "settings"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_resume_mid_episode_continues_identically(
    tmp_path: Path, name: str, env_id: str, settings: dict
) -> None:
    cls = agent_cls(name)
    make = lambda: cls(gym.make(env_id), settings, seed=5)  # noqa: E731
    assert_resumes_identically(make, tmp_path / "a.npz", 37, 50)  # saved in the middle of an episode


def test_wrong_envs_are_one_line_errors() -> None:
    with pytest.raises(UserError, match="LSVIUCB needs a linear MDP with known features"):
        LSVIUCB(gym.make(FROZEN))
    with pytest.raises(UserError, match="decode\\(\\) needs emission='hadamard'"):
        LSVIUCB(gym.make(COMBLOCK, emission="mlp"), {"decoder": "oracle"})
    with pytest.raises(UserError, match="decoder='oracle' needs a block MDP"):
        LSVIUCB(gym.make("rl_suite/MultiArmedBandit-v0"), {"decoder": "oracle"})
    with pytest.raises(UserError, match=r"UCBVI needs Discrete\(S\) observations"):
        agent_cls("ucbvi")(gym.make("rl_suite/DiabolicalCombLock-v0"))
    with pytest.raises(UserError, match="MDPOracle needs a finite MDP with an exact model"):
        agent_cls("mdp-oracle")(gym.make("rl_suite/MultiArmedBandit-v0"))
    with pytest.raises(UserError, match="single env"):
        LSVIUCB(
            gym.make_vec("rl_suite/MultiArmedBandit-v0", num_envs=2, vectorization_mode="vector_entry_point")
        )
