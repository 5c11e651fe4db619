"""The POMDP envs: Gymnasium contract, seeding, info and regret, family facts, metadata and bad input."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp
from gymnasium.utils.env_checker import check_env

from rl_suite.envs.pomdp import HeavenHell, RevealingPOMDP, RockSample, TabularPOMDPEnv, Tiger, TMaze
from rl_suite.envs.pomdp.rocksample import LAYOUTS, sensor_accuracy
from rl_suite.envs.pomdp.tiger import tiger_model
from rl_suite.envs.pomdp.tmaze import CUE_UP, DOWN, FORWARD, JUNCTION, MEMORYLESS_VALUE, UP
from rl_suite.errors import UserError
from rl_suite.exact import pomdp
from tests.helpers import rollout, same

ENVS: dict[str, Callable[[], TabularPOMDPEnv]] = {
    "tiger": lambda: Tiger(horizon=5),
    "tiger-discounted": lambda: Tiger(horizon=None, discount=0.95, max_steps=50),
    "tiger-last-action": lambda: Tiger(horizon=5, discount=0.95, obs_last_action=True),
    "tmaze": lambda: TMaze(3),
    "heavenhell": HeavenHell,
    "rocksample-4x4": lambda: RockSample("4x4", max_steps=30),
    "revealing": RevealingPOMDP,
    "revealing-2step": lambda: RevealingPOMDP(n_states=4, n_observations=2, revealing_steps=2, alpha=0.5),
    "generic": lambda: TabularPOMDPEnv(**tiger_model(0.7), horizon=3),
}


def episode(env: TabularPOMDPEnv, seed: int, steps: int = 12) -> list:
    """One episode (at most ``steps`` steps) of the actions 5t + 1 mod A: observations, states, beliefs."""
    actions = lambda t: (5 * t + 1) % env.n_actions  # noqa: E731
    return rollout(env, seed, steps, actions, ("state", "belief", "regret"), until_done=True)


@pytest.mark.parametrize("key", ENVS)
def test_check_env_passes_with_warnings_as_errors(key: str) -> None:
    env = ENVS[key]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)


@pytest.mark.parametrize("key", ENVS)
def test_same_seed_same_trajectory(key: str) -> None:
    a, b = ENVS[key](), ENVS[key]()
    assert same(episode(a, 3), episode(b, 3)) and same(episode(a, 3), episode(a, 3))
    assert any(not same(episode(a, 3), episode(a, s)) for s in range(4, 12))


@pytest.mark.parametrize("key", ENVS)
def test_info_regret_and_solve(key: str) -> None:
    env = ENVS[key]()
    sol = json.loads(json.dumps(env.solve()))
    v = env.optimal_value()
    assert sol["optimal_value"] == v and sol["reference"] in ("belief_tree", "pbvi")
    assert sol["bracket"]["lower"] <= sol["bracket"]["upper"] + 1e-9
    assert sol["pbvi"]["n_beliefs"] >= 1 and sol["qmdp"]["seconds"] >= 0
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        assert obs in env.observation_space and info["optimal_value"] == v and info["h"] == 0
        assert info["belief"].sum() == pytest.approx(1.0)
        total, disc, regret, done, h = 0.0, 1.0, 0.0, False, 0
        while not done:
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            assert obs in env.observation_space and info["h"] == h
            total += disc * r
            disc *= env.gamma
            regret += info["regret"]
            done, h = term or trunc, h + 1
            if not done:
                assert info["regret"] == 0.0 and "episode_regret" not in info
        assert info["episode_return"] == pytest.approx(total)
        assert info["episode_regret"] == pytest.approx(v - total) == pytest.approx(regret)
        assert h <= env.max_steps
        with pytest.raises(UserError, match="episode is over"):
            env.step(0)


def test_model_is_read_only_and_round_trips() -> None:
    env = Tiger(horizon=4, discount=0.95)
    model = env.model()
    assert model["T"].shape == (2, 3, 2) and model["Z"].shape == (3, 2, 2) and model["R"].shape == (2, 3)
    assert not model["T"].flags.writeable and not model["Z"].flags.writeable
    assert (model["gamma"], model["horizon"], model["sparse"]) == (0.95, 4, False)
    assert pomdp.belief_tree_value(model).value == pytest.approx(1.7955, abs=1e-4)
    rs = RockSample("7x8").model()  # building RS(7, 8) is cheap; only solving it is not
    assert rs["sparse"] and len(rs["T"]) == 13 and sp.issparse(rs["T"][0])
    assert pomdp.as_model(rs).n_states == 12_545


def test_belief_is_the_bayes_filter_and_state_is_hidden_in_info_only() -> None:
    env = Tiger(horizon=3)
    obs, info = env.reset(seed=0)
    np.testing.assert_allclose(info["belief"], [0.5, 0.5])  # the first observation is uninformative
    obs, _, _, _, info = env.step(0)  # listen
    expected = [0.85, 0.15] if obs == 0 else [0.15, 0.85]
    np.testing.assert_allclose(info["belief"], expected)
    assert info["state"] in (0, 1) and env.observation_space.n == 2


def test_obs_last_action_encoding() -> None:
    env = Tiger(horizon=4, obs_last_action=True)
    assert env.observation_space.n == 2 * 4
    obs, _ = env.reset(seed=1)
    assert obs // 2 - 1 == -1
    for a in (2, 0, 1):
        obs, *_ = env.step(a)
        assert obs // 2 - 1 == a and obs % 2 in (0, 1)


def test_tiger_metadata_matches_spec() -> None:
    meta = Tiger().pomdp_metadata()
    assert meta["revealing_alpha_per_source"]["listen"] == pytest.approx(0.7)
    assert meta["observability_gamma_per_source"]["listen"] == pytest.approx(0.7)
    assert meta["observability_gamma_per_source"]["open-left"] == pytest.approx(0.0, abs=1e-9)
    # Opening is uninformative, so Tiger is not 1-step revealing, but it is 2-step revealing.
    assert meta["revealing_alpha_per_source"]["reset"] == pytest.approx(0.0, abs=1e-9)
    assert meta["revealing_steps"] == 2 and meta["revealing_alpha"] == pytest.approx(0.7 / np.sqrt(2))


@pytest.mark.parametrize("length", [2, 5, 10])
def test_tmaze_memory_gap(length: int) -> None:
    env = TMaze(length)
    assert env.optimal_value() == pytest.approx(4.0) and env.solve()["exact"]

    def remember(history: tuple[int, ...]) -> int:  # walk, then turn to the side of the first cue
        if history[-1] != JUNCTION:
            return FORWARD
        return UP if history[0] == CUE_UP else DOWN

    assert env.policy_value(remember) == pytest.approx(4.0)
    values = [env.policy_value(np.array(t)) for t in np.ndindex(3, 3, 3, 3)]  # all 81 memoryless maps
    assert len(values) == 81 and max(values) == pytest.approx(2.0)
    assert env.solve()["best_memoryless_value"] == pytest.approx(MEMORYLESS_VALUE)
    stall = np.array([FORWARD, UP, FORWARD, UP])  # cue-down: "up" is a no-op, the agent never leaves
    assert env.policy_value(stall) == pytest.approx(2.0)
    assert env.policy_value(np.array([FORWARD, FORWARD, FORWARD, UP])) == pytest.approx(1.95)


def test_heaven_hell_needs_the_priest() -> None:
    env = HeavenHell(arm_length=1, stem_length=1)
    assert env.horizon == 3 and env.optimal_value() == pytest.approx(1.0)
    values = [env.policy_value(np.array(t)) for t in np.ndindex(*[4] * env.n_observations)]
    assert max(values) == pytest.approx(0.0, abs=1e-12)  # 4^6 memoryless maps: none beats 0
    assert env.policy_value(np.full(env.n_observations, 3)) == pytest.approx(
        0.0
    )  # "always west": a coin flip
    short = HeavenHell(arm_length=1, stem_length=1, horizon=2)  # no time to visit the priest
    assert short.optimal_value() == pytest.approx(0.0, abs=1e-12)
    longer = HeavenHell(arm_length=2, stem_length=2)
    assert longer.optimal_value() == pytest.approx(1.0) and longer.horizon == 6


@pytest.mark.parametrize(
    ("S", "A", "n_obs", "m", "alpha", "seed"),
    [
        (3, 2, 3, 1, 0.3, 0),
        (4, 3, 5, 1, 0.6, 1),
        (5, 2, 5, 1, 0.05, 2),
        (4, 2, 2, 2, 0.5, 3),
        (6, 3, 2, 3, 0.4, 4),
    ],
)
def test_revealing_pomdp_reaches_the_requested_alpha(
    S: int, A: int, n_obs: int, m: int, alpha: float, seed: int
) -> None:
    env = RevealingPOMDP(S, A, n_obs, horizon=3, alpha=alpha, revealing_steps=m, instance_seed=seed)
    meta = env.pomdp_metadata()
    assert meta["revealing_steps"] == m and meta["revealing_alpha"] >= alpha
    assert env.alpha_reached == pytest.approx(meta["revealing_alpha"])
    model = env.model()
    np.testing.assert_allclose(model["T"].sum(axis=2), 1.0, atol=1e-12)
    np.testing.assert_allclose(model["Z"].sum(axis=2), 1.0, atol=1e-12)
    np.testing.assert_allclose(model["Z0"].sum(axis=1), 1.0, atol=1e-12)
    assert model["b0"].sum() == pytest.approx(1.0) and model["T"].shape == (S, A, S)
    assert 0.0 <= env.mixing_weight <= 1.0
    # An independent SVD of the m-step matrix of each source agrees.
    pm = env.pomdp
    for e in (pm.Z0, *pm.Z):
        M = np.asarray(solvers_m_step(pm, e, m))
        assert np.linalg.svd(M, compute_uv=False)[S - 1] >= alpha - 1e-12


def solvers_m_step(pm: pomdp.POMDPModel, emission: np.ndarray, m: int) -> np.ndarray:
    """Brute-force m-step matrix: enumerate action and observation sequences."""
    A, n_obs, S = pm.n_actions, pm.n_observations, pm.n_states
    rows = []
    for acts in np.ndindex(*[A] * (m - 1)):
        for obs in np.ndindex(*[n_obs] * m):
            col = []
            for s in range(S):
                vec = np.eye(S)[s] * emission[:, obs[0]]
                for k, a in enumerate(acts):
                    vec = (vec @ pm.T[a]) * pm.Z[a, :, obs[k + 1]]
                col.append(vec.sum())
            rows.append(col)
    return np.array(rows)


def test_revealing_alpha_close_to_one_is_nearly_the_skeleton() -> None:
    loose = RevealingPOMDP(alpha=0.05, instance_seed=5)
    tight = RevealingPOMDP(alpha=0.95, instance_seed=5)
    assert tight.mixing_weight < loose.mixing_weight and tight.alpha_reached >= 0.95


def test_rocksample_layouts() -> None:
    assert LAYOUTS["7x8"]["start"] == (0, 3)
    assert LAYOUTS["7x8"]["rocks"] == ((2, 0), (0, 1), (3, 1), (6, 3), (2, 4), (3, 4), (5, 5), (1, 6))
    sizes = {"4x4": 257, "5x5": 801, "7x8": 12_545}
    for layout, S in sizes.items():
        env = RockSample(layout)
        assert env.n_states == S and env.n_actions == env.n_rocks + 5 and env.n_observations == 3
    assert sensor_accuracy(2.0) == pytest.approx(0.966516, abs=1e-6)  # APPL's probability at distance 2
    env = RockSample("4x4")
    assert env.cell_of(int(np.flatnonzero(env.model()["b0"])[0])) == (0, 0)
    assert env.max_steps == 283


def test_rocksample_walk_east_exits_with_ten() -> None:
    env = RockSample("4x4", max_steps=10)
    env.reset(seed=0)
    rewards, term = [], False
    while not term:
        _, r, term, trunc, info = env.step(1)  # east
        rewards.append(r)
        assert not trunc
    assert rewards == [0.0, 0.0, 0.0, 10.0] and info["state"] == env.n_states - 1
    assert env.policy_value(np.full(3, 1)) == pytest.approx(10 * 0.95**3)


def test_rocksample_sampling_and_checking() -> None:
    env = RockSample("4x4", max_steps=20)
    env.reset(seed=0)
    _, r, *_ = env.step(0)  # north to (0, 1): rock 0
    _, r, _, _, info = env.step(4)  # sample it
    assert r in (10.0, -10.0)
    _, r2, _, _, info = env.step(4)  # sampled again: it is bad now
    assert r2 == -10.0
    assert info["belief"][info["state"]] > 0
    obs, *_ = env.step(5)  # check rock 0
    assert obs in (0, 1)


BAD_INPUT = [
    (
        lambda: TabularPOMDPEnv(**{**tiger_model(), "T": np.full((2, 3, 2), 0.45)}),
        r"T\[0, 0, :\] sums to 0\.9",
    ),
    (
        lambda: TabularPOMDPEnv(**{**tiger_model(), "Z": np.full((3, 2, 2), 0.6)}),
        r"Z\[0, 0, :\] sums to 1\.2",
    ),
    (lambda: TabularPOMDPEnv(**{**tiger_model(), "b0": [0.5, 0.6]}), r"b0 sums to 1\.1"),
    (
        lambda: TabularPOMDPEnv(**{**tiger_model(), "Z0": [[1.0, 0.0], [0.2, 0.2]]}),
        r"Z0\[1, :\] sums to 0\.4",
    ),
    (
        lambda: TabularPOMDPEnv(**{**tiger_model(), "b0": [1.5, -0.5]}),
        r"b0\[1\] = -0\.5 is not a probability",
    ),
    (lambda: Tiger(discount=1.0), r"discount must be in \[0, 1\), got 1: for γ = 1 .* leave discount out"),
    (lambda: Tiger(discount=-0.1), r"discount must be in \[0, 1\), got -0\.1"),
    (lambda: Tiger(horizon=0), r"horizon must be >= 1, got 0"),
    (lambda: Tiger(horizon=-3), r"horizon must be >= 1, got -3"),
    (lambda: Tiger(horizon=None), r"horizon=None .* needs a discount"),
    (lambda: Tiger(accuracy=0.3), r"accuracy must be in \[0\.5, 1\]"),
    (lambda: TMaze(0), r"length must be >= 1, got 0"),
    (lambda: HeavenHell(stem_length=0), r"stem_length must be >= 1, got 0"),
    (lambda: RockSample("9x9"), r"layout must be one of '4x4', '5x5', '7x8', got '9x9'"),
    (lambda: RockSample(discount=1.5), r"discount must be in \[0, 1\), got 1\.5"),
    (lambda: RevealingPOMDP(alpha=1.5), r"alpha must be in \(0, 1\]"),
    (lambda: RevealingPOMDP(alpha=0.0), r"alpha must be a finite number > 0, got 0\.0"),
    (
        lambda: RevealingPOMDP(n_states=5, n_observations=2),
        r"n_observations\*\*revealing_steps = 2 < n_states = 5",
    ),
    (
        lambda: RevealingPOMDP(n_actions=2, n_observations=2, n_states=8, revealing_steps=3),
        r"needs n_actions >= 3",
    ),
    (lambda: Tiger(pbvi_options={"beliefs": 3}), r"pbvi_options key 'beliefs' is not one of"),
    (lambda: TabularPOMDPEnv(**tiger_model(), terminal=[True, False]), r"terminal state 0 must be absorbing"),
]


@pytest.mark.parametrize(("make", "message"), BAD_INPUT)
def test_bad_input_is_one_clear_user_error(make: Callable[[], object], message: str) -> None:
    with pytest.raises(UserError, match=message) as err:
        make()
    assert "\n" not in str(err.value)


def test_bad_actions_and_step_before_reset() -> None:
    env = Tiger(horizon=2)
    with pytest.raises(UserError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(UserError, match=r"action 3 is outside Discrete\(3\)"):
        env.step(3)
    with pytest.raises(UserError, match="outside"):
        env.policy_value(lambda h: 7)
    with pytest.raises(UserError, match="table must hold 2 actions"):
        env.policy_value(np.array([0, 1, 2]))
