"""rl_suite.exact.pomdp on Tiger and friends: belief tree, PBVI, QMDP and exact history-policy evaluation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rl_suite.envs.pomdp import HeavenHell, RevealingPOMDP, RockSample, Tiger, TMaze
from rl_suite.envs.pomdp.tiger import LISTEN, OPEN_LEFT, OPEN_RIGHT, tiger_model
from rl_suite.exact import pomdp

# Exact belief-tree values of finite-horizon Tiger at b0 = ½ (computed here; spec §4.2 gives the same table
# to 4 decimals: 2.4212 is 2.42125 rounded half-even).
TIGER_FINITE = {
    1.0: [-1.0, -2.0, 2.72, 2.42125, 3.6091, 5.6188, 6.2463],
    0.95: [-1.0, -1.95, 2.3098, 1.7955, 2.7631, 4.4285, 4.5843],
}
SPEC_TIGER_DISCOUNTED = 19.3714  # PBVI, spec §4.2; SARSOP bounds [19.3711, 19.3721]


def tiger(gamma: float, horizon: int | None) -> pomdp.POMDPModel:
    return pomdp.make_model(**tiger_model(), gamma=gamma, horizon=horizon)


def grid(n: int) -> np.ndarray:
    p = np.linspace(0.0, 1.0, n)
    return np.stack([p, 1.0 - p], axis=1)


def test_tiger_discounted_pbvi_matches_sarsop() -> None:
    res = pomdp.pbvi(tiger(0.95, None), beliefs=grid(101), n_expansions=0, tol=1e-9)
    assert res.converged
    assert res.value == pytest.approx(SPEC_TIGER_DISCOUNTED, abs=1e-3)
    assert 19.3711 <= res.value <= 19.3721
    # The belief set grown by SSEA alone (no grid) reaches the same value.
    ssea = pomdp.pbvi(tiger(0.95, None), n_expansions=8, max_beliefs=64, tol=1e-9)
    assert ssea.value == pytest.approx(res.value, abs=1e-6)
    assert pomdp.qmdp(tiger(0.95, None)).value >= res.value


@pytest.mark.parametrize("gamma", [1.0, 0.95])
@pytest.mark.parametrize("horizon", range(1, 8))
def test_tiger_finite_belief_tree_and_pbvi_agree(gamma: float, horizon: int) -> None:
    m = tiger(gamma, horizon)
    exact = pomdp.belief_tree_value(m)
    assert exact.value == pytest.approx(TIGER_FINITE[gamma][horizon - 1], abs=1e-4)
    pb = pomdp.pbvi(m, beliefs=grid(1001), n_expansions=0)
    assert abs(pb.value - exact.value) <= 1e-4
    assert pb.value <= exact.value + 1e-9  # PBVI is a lower bound
    assert pomdp.qmdp(m).value >= exact.value - 1e-9
    assert exact.n_beliefs[-1] <= (horizon + 1) ** 2  # merged nodes: the tree stays polynomial


def counting_policy(threshold: int):
    """Listen until one side has been heard ``threshold`` times more often, then open the other door."""

    def policy(history: tuple[int, ...]) -> int:
        obs, acts = history[0::2], history[1::2]
        last_open = max((i for i, a in enumerate(acts) if a != LISTEN), default=-1)
        heard = obs[last_open + 2 :]  # observations after the last opening (the one after it is noise)
        diff = sum(1 if o == 0 else -1 for o in heard)
        if diff >= threshold:
            return OPEN_RIGHT  # heard the tiger on the left
        if diff <= -threshold:
            return OPEN_LEFT
        return LISTEN

    return policy


def test_history_policy_evaluation_matches_monte_carlo() -> None:
    env = Tiger(horizon=6)
    policy = counting_policy(2)
    exact = env.policy_value(policy)
    assert exact == pytest.approx(
        pomdp.evaluate_history_policy(tiger(1.0, 6), policy), abs=1e-12
    )  # env and solver agree
    returns = []
    for k in range(3000):
        obs, info = env.reset(seed=k)
        history, ret, regret, done = (int(obs),), 0.0, 0.0, False
        while not done:
            a = policy(history)
            obs, r, term, trunc, info = env.step(a)
            history += (a, int(obs))
            ret += r
            regret += info["regret"]
            done = term or trunc
        assert regret == pytest.approx(env.optimal_value() - ret, abs=1e-9)  # the V* − return estimator
        returns.append(ret)
    returns_arr = np.array(returns)
    se = returns_arr.std(ddof=1) / np.sqrt(returns_arr.size)
    assert abs(returns_arr.mean() - exact) <= 3 * se
    assert exact <= env.optimal_value() + 1e-9


def test_greedy_policy_on_exact_belief_values_reaches_v_star() -> None:
    """Acting greedily on the exact finite-horizon belief values is optimal (exact evaluation)."""
    H = 4
    m = tiger(1.0, H)

    def value(b: np.ndarray, steps: int) -> float:  # the uniform first observation leaves b unchanged
        return pomdp.belief_tree_value(pomdp.make_model(**{**tiger_model(), "b0": b}, horizon=steps)).value

    env = Tiger(horizon=H)

    def greedy(history: tuple[int, ...]) -> int:
        b = np.full(2, 0.5)
        for i in range(1, len(history), 2):
            b = env.belief_update(b, history[i], history[i + 1])
        left = H - len(history) // 2 - 1
        q = []
        for a in range(3):
            pred = b @ m.T[a]
            total = float(b @ m.R[:, a])
            for o in range(2):
                joint = pred * m.Z[a, :, o]
                if left and joint.sum() > 0:
                    total += joint.sum() * value(joint / joint.sum(), left)
            q.append(total)
        return int(np.argmax(q))

    assert env.policy_value(greedy) == pytest.approx(pomdp.belief_tree_value(m).value, abs=1e-9)


def brackets_cases():
    return {
        "tiger-h5": Tiger(horizon=5),
        "tiger-discounted": Tiger(horizon=None, discount=0.95),
        "tmaze-3": TMaze(3),
        "heavenhell": HeavenHell(),
        "rocksample-4x4": RockSample("4x4"),
        "revealing": RevealingPOMDP(),
        "revealing-2step": RevealingPOMDP(n_states=4, n_observations=2, revealing_steps=2, alpha=0.5),
    }


@pytest.mark.parametrize("key", list(brackets_cases()))
def test_bracket_is_valid_and_dominates_evaluated_policies(key: str) -> None:
    env = brackets_cases()[key]
    sol = env.solve()
    lower, upper = sol["bracket"]["lower"], sol["bracket"]["upper"]
    assert upper >= lower - 1e-9
    if sol["exact"]:
        assert lower - 1e-9 <= sol["optimal_value"] <= upper + 1e-9
    else:
        assert sol["optimal_value"] == lower
    rng = np.random.default_rng(0)
    tables = [np.full(env.n_observations, a) for a in range(env.n_actions)]  # blind policies
    tables += [rng.integers(0, env.n_actions, size=env.n_observations) for _ in range(5)]
    values = [env.policy_value(t) for t in tables]  # exact, infinite-horizon for the discounted form
    assert max(values) <= lower + 1e-9
    if env.horizon is not None:  # the history evaluator agrees with the memoryless one
        for t, v in zip(tables, values, strict=True):
            assert env.policy_value(lambda h, t=t: int(t[h[-1]])) == pytest.approx(v, abs=1e-9)


def test_pbvi_values_increase_with_the_belief_set_and_stay_below_qmdp() -> None:
    env = RockSample("4x4")
    m = env.pomdp
    small = pomdp.pbvi(m, n_expansions=2, max_beliefs=8, tol=1e-3)
    large = pomdp.pbvi(m, n_expansions=8, max_beliefs=128, tol=1e-3)
    upper = pomdp.qmdp(m).value
    assert small.beliefs.shape[0] <= 8 < large.beliefs.shape[0] <= 128
    assert small.value <= large.value + 1e-6 <= upper + 1e-6
    # Every α-vector is the value of a real plan: PBVI at b0 is at least the best blind policy.
    blind = pomdp.blind_alphas(m) @ m.b0
    assert large.value >= blind.max() - 1e-9


def test_belief_tree_refuses_an_infinite_horizon_and_a_too_big_tree() -> None:
    with pytest.raises(ValueError, match="finite horizon"):
        pomdp.belief_tree_value(tiger(0.95, None))
    with pytest.raises(ValueError, match="max_beliefs"):
        pomdp.belief_tree_value(RevealingPOMDP(horizon=6).pomdp, max_beliefs=50)


def test_memoryless_policies_enumerates_every_table() -> None:
    pols = pomdp.memoryless_policies(3, 2)
    tables = {tuple(p((o,)) for o in range(3)) for p in pols}
    assert len(pols) == 8 and len(tables) == 8


def test_memoryless_evaluation_matches_truncated_history_evaluation() -> None:
    m = tiger(0.95, None)
    table = np.array([LISTEN, OPEN_LEFT])  # listen after "hear-left", open left after "hear-right"
    exact = pomdp.evaluate_memoryless_policy(m, table)
    truncated = pomdp.evaluate_history_policy(m, lambda h: int(table[h[-1]]), horizon=14)
    assert abs(exact - truncated) <= 0.95**14 * 100 / 0.05
    longer = pomdp.evaluate_history_policy(m, lambda h: int(table[h[-1]]), horizon=16)
    assert abs(exact - longer) < abs(exact - truncated)
    with pytest.raises(ValueError, match="max_branches"):
        pomdp.evaluate_history_policy(m, lambda h: int(table[h[-1]]), horizon=40, max_branches=1000)


# ------------------------------------------------------------------------- best finite-window policies


def test_best_window_policy_with_no_memory_matches_brute_force() -> None:
    """w = 0 on Tiger H = 3: all 3^(H·O) = 729 tables (h, o) -> a, evaluated exactly."""
    m = tiger(1.0, 3)
    brute = max(
        pomdp.evaluate_window_policy(m, lambda h, x, t=t: t[2 * h + x[-1]], 0)
        for t in itertools.product(range(3), repeat=6)
    )
    assert brute == pytest.approx(-3.0)  # one observation never justifies opening: listen three times
    assert pomdp.best_window_policy(m, 0).value == pytest.approx(brute, abs=1e-12)


@pytest.mark.parametrize("length", [2, 5])
def test_best_window_policy_closes_the_tmaze_gap_only_when_the_window_covers_it(length: int) -> None:
    env = TMaze(length=length)
    covered = pomdp.best_window_policy(env.pomdp, length)
    assert covered.value == pytest.approx(env.optimal_value(), abs=1e-12)  # 4.0: the cue is in the window
    short = pomdp.best_window_policy(env.pomdp, length - 1)
    assert short.value <= 2.05  # the cue is out of the window at the junction: a guess


def test_best_window_regret_on_tiger_falls_with_the_window() -> None:
    """Tiger H = 8: the best window-w policy found, for w = 0, 1, 2, 4 (exact values, a local search)."""
    m = tiger(1.0, 8)
    v_star = pomdp.belief_tree_value(m).value
    found, r = {}, pomdp.best_window_policy(m, 4)
    while r is not None:  # the search for w = 4 starts from its results for w = 3, 2, 1, 0
        found[r.window], r = r, r.previous
    assert sorted(found) == [0, 1, 2, 3, 4]
    regret = {w: v_star - r.value for w, r in found.items()}
    assert regret[0] == pytest.approx(v_star + 8.0, abs=1e-9)  # listen at every step
    assert regret[0] > regret[1] > regret[2] > regret[4] >= -1e-9  # 15.10, 3.66, 1.65, 0.05
    assert regret[0] - regret[1] > 10.0 and regret[2] - regret[4] > 1.0
    r = found[2]  # the value reported is the policy's exact value
    by_history = pomdp.evaluate_history_policy(m, lambda hist: r.policy(len(hist) // 2, hist[-5:]))
    assert by_history == pytest.approx(r.value, abs=1e-10)
