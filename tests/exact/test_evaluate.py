"""Exact policy evaluation (rl_suite.exact.evaluate and the dispatcher rl_suite.evaluation)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.errors import UserError
from rl_suite.evaluation import make_evaluator, steps_to_epsilon
from rl_suite.exact import evaluate, tabular
from rl_suite.exact.pomdp import evaluate_window_policy


def test_two_state_mdp_by_hand() -> None:
    # Two states, two actions, H = 2, deterministic: action a moves to state a; reward 1 for (s=1, a=1),
    # 0.5 for (s=0, a=0), else 0. Start in state 0.
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = 1.0
    R = np.array([[0.5, 0.0], [0.0, 1.0]])
    rho = np.array([1.0, 0.0])
    # V*: h=1: V(0) = 0.5, V(1) = 1; h=0 from s=0: max(0.5 + 0.5, 0 + 1) = 1.
    stay = np.zeros((2, 2), dtype=np.int64)  # always action 0: 0.5 + 0.5
    move = np.ones((2, 2), dtype=np.int64)  # always action 1: 0 + 1
    # Uniform: h=1: V(0) = 0.25, V(1) = 0.5; h=0 from 0: 0.5·(0.5 + 0.25) + 0.5·(0 + 0.5) = 0.625.
    for policy, value in ((stay, 1.0), (move, 1.0)):
        result = evaluate.finite_mdp(P, R, rho, policy, horizon=2)
        assert result.value == pytest.approx(value)
        assert result.optimal == pytest.approx(1.0)
        assert result.uniform == pytest.approx(0.625)
        assert result.regret == pytest.approx(0.0)
        assert result.within(0.0)
    bad = np.array([[1, 1], [0, 0]])  # move to 1, then take 0 there: 0 + 0
    result = evaluate.finite_mdp(P, R, rho, bad, horizon=2)
    assert result.value == pytest.approx(0.0)
    assert result.regret == pytest.approx(1.0)
    assert not result.within(0.5)  # 1 > 0.5 · (1 − 0.625)


def test_finite_mdp_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    H, S, A = 5, 4, 3
    P = rng.dirichlet(np.ones(S), size=(H, S, A))
    R = rng.random((H, S, A))
    rho = rng.dirichlet(np.ones(S))
    policy = rng.integers(A, size=(H, S))
    exact = evaluate.finite_mdp(P, R, rho, policy).value
    n = 40_000
    s = rng.choice(S, size=n, p=rho)
    ret = np.zeros(n)
    for h in range(H):
        a = policy[h, s]
        ret += R[h, s, a]
        cdf = np.cumsum(P[h, s, a], axis=1)
        s = np.minimum((cdf < rng.random((n, 1))).sum(axis=1), S - 1)
    z = (ret.mean() - exact) / (ret.std(ddof=1) / np.sqrt(n))
    assert abs(z) < 3.0, (ret.mean(), exact, z)


def test_bandit_and_rlhf_values() -> None:
    means = np.array([[0.1, 0.9], [0.5, 0.2]])
    result = evaluate.bandit(means, np.array([1, 1]))
    assert result.value == pytest.approx(0.55)
    assert result.optimal == pytest.approx(0.7)
    assert result.uniform == pytest.approx(0.425)
    ref = np.array([[0.5, 0.25, 0.25]])
    rewards = np.array([[0.0, 1.0, 0.5]])
    from rl_suite.exact import kl

    best = evaluate.rlhf(kl.optimal_policy(ref, rewards, 0.5), ref, rewards, 0.5)
    assert best.regret == pytest.approx(0.0, abs=1e-12)
    assert evaluate.rlhf(ref, ref, rewards, 0.5).regret > 0


class _Table:
    """A fake agent: a fixed (H, S) table read through the observations the env shows."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        return self.table[h, np.asarray(observations, dtype=np.int64).reshape(-1)]


def test_dispatcher_on_an_env_matches_the_env_policy_value() -> None:
    env = gym.make("rl_suite/LayeredLureMDP-v0", lure_depth=2)
    base = env.unwrapped
    evaluator = make_evaluator(env)
    table = np.random.default_rng(1).integers(base.n_actions, size=(base.horizon, base.n_states))
    result = evaluator(_Table(table))
    assert result.value == pytest.approx(base.policy_value(table))
    assert result.optimal == pytest.approx(base.optimal_value())
    assert evaluator(_Table(np.asarray(base.pi_star))).regret == pytest.approx(0.0, abs=1e-12)


def test_random_emissions_never_touch_the_env_stream() -> None:
    env = gym.make("rl_suite/DiabolicalCombLock-v0")
    env.reset(seed=3)
    before = env.unwrapped.np_random.bit_generator.state
    make_evaluator(env)
    assert env.unwrapped.np_random.bit_generator.state == before


class _Window:
    """A fake window agent: a window policy behind the ``history_policy`` interface of window-ucbvi."""

    def __init__(self, window: int, n_actions: int) -> None:
        self.config = type("C", (), {"window": window})()
        self.n_actions = n_actions

    def choose(self, h: int, x: tuple[int, ...]) -> int:
        return (hash(x) + h) % self.n_actions

    def history_policy(self, history: tuple[int, ...]) -> int:
        w = self.config.window
        return self.choose(len(history) // 2, history[-(2 * w + 1) :])


def test_pomdp_window_policy_matches_evaluate_window_policy() -> None:
    env = gym.make("rl_suite/Tiger-v0")
    base = env.unwrapped
    agent = _Window(1, base.pomdp.n_actions)
    result = make_evaluator(env)(agent)
    expected = evaluate_window_policy(base.pomdp, agent.choose, 1, base.max_steps)
    assert result.value == pytest.approx(expected)
    assert result.optimal == pytest.approx(base.optimal_value())


def test_unsupported_env_is_one_line_naming_the_families() -> None:
    env = gym.make("rl_suite/RLHFToken-v0")
    with pytest.raises(UserError, match="tabular_mdp") as err:
        make_evaluator(env)
    assert "\n" not in str(err.value)


def test_steps_to_epsilon() -> None:
    assert steps_to_epsilon([10, 20, 30], [0.5, 0.005, 0.0], 1.0, 0.01) == 20
    assert steps_to_epsilon([10, 20, 30], [0.5, 0.005, 0.0], 1.0, 0.0) == 30
    assert steps_to_epsilon([10, 20], [0.5, 0.4], 1.0, 0.01) is None
    assert tabular.PROB_ATOL > 0


def test_agents_expose_their_policy_without_side_effects() -> None:
    from rl_suite.config import agent_class

    env = gym.make("rl_suite/FrozenLakeFiniteHorizon-v0")
    ppo = agent_class("ppo")(env, {"device": "cpu", "hyperparams": {"n_steps": 64}}, seed=0)
    obs = np.arange(16)
    actions = ppo.policy_actions(obs, 3)
    probs = ppo.policy_probs(obs, 3)
    assert actions.shape == (16,) and probs is not None and probs.shape == (16, 4)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == actions).all()
    bandit = gym.make("rl_suite/MultiArmedBandit-v0")
    ucb = agent_class("ucb1")(bandit, None, seed=0)
    ucb.learn(50)
    before = ucb.rng.bit_generator.state
    assert ucb.policy_actions(np.zeros(3, dtype=np.int64), 0).shape == (3,)
    assert ucb.rng.bit_generator.state == before


class _TableAgent:
    """A memoryless agent: a fixed action per env observation."""

    def __init__(self, table: Any) -> None:
        self.table = np.asarray(table, dtype=np.int64)

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        return self.table[np.asarray(observations, dtype=np.int64)]


@pytest.mark.parametrize("obs_last_action", [False, True])
def test_memoryless_policy_on_tmaze_matches_the_hand_value(obs_last_action: bool) -> None:
    env = gym.make("rl_suite/TMaze-v0", length=3, obs_last_action=obs_last_action)
    # Walk on cue-up and in the corridor, stall (up) on cue-down, turn up at the junction: 0.5·4 + 0.5·0.
    base = np.array([0, 1, 0, 1])  # cue-up, cue-down, corridor, junction
    table = np.tile(base, 4) if obs_last_action else base
    result = make_evaluator(env)(_TableAgent(table))
    assert result.optimal == pytest.approx(4.0)
    assert result.value == pytest.approx(2.0)
    assert result.regret == pytest.approx(2.0)


class _FixedArm:
    """An agent that plays one arm whatever it observes."""

    def __init__(self, arm: int) -> None:
        self.arm = arm

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        return np.full(len(observations), self.arm, dtype=np.int64)


@pytest.mark.parametrize("env_id", ["rl_suite/SORTuning-v0", "rl_suite/SSORCGTuning-v0"])
def test_solver_tuning_fixed_arm_by_hand(env_id: str, tmp_path: Any) -> None:
    env = gym.make(env_id, m=4, horizon=12, omegas=[1.0, 1.3, 1.6], instance_seed=0, cache_dir=tmp_path)
    evaluator = make_evaluator(env)
    it = np.asarray(env.unwrapped.table.iterations, dtype=np.float64)  # (systems, arms)
    for arm in range(3):
        result = evaluator(_FixedArm(arm))
        assert result.value == pytest.approx(-it[:, arm].mean())
        assert result.regret == pytest.approx(it[:, arm].mean() - it.min(axis=1).mean())
    assert result.uniform == pytest.approx(-it.mean())


def test_solver_tuning_continuous_is_a_user_error(tmp_path: Any) -> None:
    env = gym.make("rl_suite/SORTuning-v0", m=4, horizon=4, action_mode="continuous", cache_dir=tmp_path)
    with pytest.raises(UserError, match="action_mode='grid'"):
        make_evaluator(env)


class _FixedPlay:
    """An agent that plays one env action (a policy over arms, or a direction and scale) whatever it sees."""

    def __init__(self, action: Any) -> None:
        self.action = action

    def policy_env_actions(self, observations: Any, h: int = 0) -> list[Any]:
        return [self.action] * len(observations)


def test_constrained_mab_policy_by_hand() -> None:
    env = gym.make("rl_suite/ConstrainedMAB-v0")
    base = env.unwrapped
    r, c, tau = np.asarray(base.reward_means), np.asarray(base.cost_means), float(base.tau)
    evaluator = make_evaluator(env)
    for pi in (np.asarray(base.optimal_policy), np.full(r.size, 1.0 / r.size), np.eye(r.size)[r.argmax()]):
        result = evaluator(_FixedPlay(pi))
        assert result.optimal == pytest.approx(base.optimal_value)
        assert result.value == pytest.approx(pi @ r)
        assert result.violation == pytest.approx(max(0.0, pi @ c - tau))
    assert evaluator(_FixedPlay(np.asarray(base.optimal_policy))).regret == pytest.approx(0.0, abs=1e-9)
    assert result.uniform == pytest.approx(r.mean())


def test_safe_linear_direction_and_scale_by_hand() -> None:
    env = gym.make("rl_suite/SafeLinearBandit-v0", action_mode="tuple")
    core = env.unwrapped.core
    evaluator = make_evaluator(env)
    _, table = core.observe(np.zeros((1, 0)))
    for k, gamma in ((0, 0.0), (0, 0.5), (1, 1.0)):
        result = evaluator(_FixedPlay((k, np.array([gamma]))))
        assert result.value == pytest.approx(gamma * table[0, 0, k])
        assert result.violation == pytest.approx(max(0.0, gamma * table[0, 1, k] - core.tau))


def test_contextual_constrained_bandit_is_deterministic_and_safe_play_is_feasible() -> None:
    env = gym.make("rl_suite/StagewiseConstrainedLinearBandit-v0")
    evaluator = make_evaluator(env)
    K = env.unwrapped.core.n_arms
    safe = np.eye(K)[0]  # the known safe action (row 0)
    a, b = evaluator(_FixedPlay(safe)), evaluator(_FixedPlay(safe))
    assert a == b
    assert a.violation == 0.0
    assert a.regret >= -1e-12


def _frames_action(frames: Any, n_actions: int) -> int:
    """A fixed, order-sensitive deterministic rule on a frame stack (or an observation sequence)."""
    return int(sum((7**i) * (int(f) + 1) for i, f in enumerate(frames)) % 5 % n_actions)


class _Stacked:
    """A frame-stack agent: a fixed rule on the last k env observations."""

    def __init__(self, k: int, n_actions: int) -> None:
        self.config = type("Config", (), {"frame_stack": k})()
        self.n_actions = n_actions

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        raise AssertionError("a frame-stack agent is read through stack_policy_actions")

    def stack_policy_actions(self, stacks: Any) -> np.ndarray:
        return np.array([_frames_action(frames, self.n_actions) for frames in np.asarray(stacks)])


class _Recurrent:
    """A recurrent agent whose state is every env observation of the episode so far."""

    def __init__(self, n_actions: int) -> None:
        self.n_actions = n_actions

    def recurrent_action(self, obs: Any, state: Any | None) -> tuple[int, Any]:
        seen = (() if state is None else state) + (int(obs),)
        return _frames_action(seen, self.n_actions), seen


def _env_observations(history: tuple[int, ...], n_obs: int, last_action: bool) -> list[int]:
    """The env observations of a model history ``(o_0, a_0, ..., o_t)`` (``obs_last_action`` encoding)."""
    out = []
    for t in range(len(history) // 2 + 1):
        a_prev = history[2 * t - 1] if t > 0 else -1
        out.append((a_prev + 1) * n_obs + history[2 * t] if last_action else history[2 * t])
    return out


@pytest.mark.parametrize("obs_last_action", [False, True])
@pytest.mark.parametrize("k", [2, 3])
def test_frame_stack_policy_matches_its_history_policy(k: int, obs_last_action: bool) -> None:
    env = gym.make("rl_suite/Tiger-v0", max_steps=5, obs_last_action=obs_last_action)
    base = env.unwrapped
    A, n_obs = base.n_actions, base.n_observations

    def history_policy(history: tuple[int, ...]) -> int:
        seen = _env_observations(tuple(history), n_obs, obs_last_action)
        padded = [seen[0]] * max(0, k - len(seen)) + seen[-k:]  # padded at reset with the first one
        return _frames_action(padded, A)

    expected = base.optimal_value() - base.pseudo_regret(history_policy)
    result = make_evaluator(env)(_Stacked(k, A))
    assert result.value == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("obs_last_action", [False, True])
def test_recurrent_policy_matches_its_history_policy(obs_last_action: bool) -> None:
    env = gym.make("rl_suite/Tiger-v0", max_steps=5, obs_last_action=obs_last_action)
    base = env.unwrapped
    A, n_obs = base.n_actions, base.n_observations

    def history_policy(history: tuple[int, ...]) -> int:
        return _frames_action(_env_observations(tuple(history), n_obs, obs_last_action), A)

    expected = base.optimal_value() - base.pseudo_regret(history_policy)
    result = make_evaluator(env)(_Recurrent(A))
    assert result.value == pytest.approx(expected, abs=1e-10)
    assert result.regret > 0.1  # the rule is far from optimal: the comparison is not between two zeros


def test_agent_without_a_readable_policy_on_a_pomdp_is_a_user_error() -> None:
    env = gym.make("rl_suite/Tiger-v0")
    with pytest.raises(UserError, match="stack_policy_actions"):
        make_evaluator(env)(object())


def _rollout_returns(agent: Any, episodes: int, seed: int) -> np.ndarray:
    """Returns of the SB3 agent's deterministic policy, played through the env wrappers it trained on."""
    env = agent.sb3_env
    recurrent = hasattr(agent, "recurrent_action")
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        state, start, done = None, np.array([True]), False
        while not done:
            if recurrent:
                action, state = agent.model.predict(
                    obs[None], state=state, episode_start=start, deterministic=True
                )
                start = np.array([False])
            else:
                action, _ = agent.model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(np.asarray(action).reshape(-1)[0]))
            returns[i] += float(reward)
            done = terminated or truncated
    return returns


@pytest.mark.parametrize("agent_name", ["ppo-framestack", "recurrent-ppo"])
def test_sb3_memory_policies_on_a_pomdp_match_rollouts(agent_name: str) -> None:
    from rl_suite.registry import agent_entry, load_entry_point

    env = gym.make("rl_suite/Tiger-v0", max_steps=4, obs_last_action=True)
    settings: dict[str, Any] = {"frame_stack": 2} if agent_name == "ppo-framestack" else {}
    # Untrained (seed 0): a deterministic policy that depends on the observations in a non-trivial way.
    agent = load_entry_point(agent_entry(agent_name).entry_point)(env, settings, seed=0)
    exact = make_evaluator(env)(agent).value
    returns = _rollout_returns(agent, 400, seed=11)
    assert np.unique(returns).size > 5  # the policy reacts to what it observes
    z = (returns.mean() - exact) / (returns.std(ddof=1) / np.sqrt(returns.size))
    assert abs(z) < 3.0, (returns.mean(), exact)
