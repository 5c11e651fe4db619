"""POMDP benchmark: reference solvers per env, and the regret of every POMDP agent.

Three tables, printed as markdown:

1. **Solvers.** For each env: the reference the regret uses (exact belief tree or PBVI), ``V*`` or the
   [PBVI, QMDP] bracket, solver time and belief-set size.
2. **Agents at a fixed budget** on Tiger (H = 10, undiscounted) and the T-maze (L = 3): window-UCBVI
   (w = 0, 1, 2, 4), OMLE-lite, the belief planner, SB3 PPO, PPO on 4 stacked observations and
   sb3-contrib RecurrentPPO, all measured in one run, same seeds. Columns: the exact pseudo-regret
   ``V* − V^{π_k}`` summed over the K episodes (our agents evaluate the policy of every episode exactly),
   the realised "V* − return" summed over the same episodes (every agent; what ``metrics.csv`` records),
   the exact regret of the *final* greedy policy (SB3 policies are evaluated exactly too: memoryless,
   stacked or recurrent, by branching on observations) and the fitted exponent of the cumulative exact
   pseudo-regret curve.
3. **Window sweep** on Tiger H = 10: the regret of the best window-w policy found by
   ``pomdp.best_window_policy`` (exact values; what a window agent can reach at best), then the exact
   regret of window-UCBVI's policy every 500 episodes, with the stationary and the per-step model.

``--rs78`` instead solves RockSample(7, 8) once with PBVI (1500 beliefs; minutes) and prints its value (a
lower bound), the QMDP upper bound, time and belief-set size.

Run (BLAS single-threaded, as every benchmark of the suite)::

    OMP_NUM_THREADS=1 python benchmarks/bench_pomdp.py --seeds 3 --episodes 500
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_pomdp.py --rs78
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym
import numpy as np

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.config import agent_class
from rl_suite.exact import pomdp
from rl_suite.regret import RegretRecorder, fit_regret_exponent

SOLVER_ENVS: list[tuple[str, str, dict[str, Any]]] = [
    ("Tiger H=10", "rl_suite/Tiger-v0", {"horizon": 10}),
    ("Tiger γ=0.95", "rl_suite/Tiger-v0", {"horizon": None, "discount": 0.95}),
    ("T-maze L=5", "rl_suite/TMaze-v0", {"length": 5}),
    ("T-maze L=10", "rl_suite/TMaze-v0", {"length": 10}),
    ("Heaven/Hell", "rl_suite/HeavenHell-v0", {}),
    ("Revealing S=3 H=4", "rl_suite/RevealingPOMDP-v0", {}),
    ("RockSample(4,4) γ=0.95", "rl_suite/RockSample-v0", {"layout": "4x4"}),
]

SB3_SMALL = {"n_steps": 250, "batch_size": 50}
AGENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("window-ucbvi w=0", "window-ucbvi", {"window": 0, "bonus_scale": 0.001}),
    ("window-ucbvi w=1", "window-ucbvi", {"window": 1, "bonus_scale": 0.001}),
    ("window-ucbvi w=2", "window-ucbvi", {"window": 2, "bonus_scale": 0.001}),
    ("window-ucbvi w=4", "window-ucbvi", {"window": 4, "bonus_scale": 0.001}),
    ("omle-lite", "omle-lite", {"n_models": 16, "beta": 2.0}),
    ("belief-planner", "belief-planner", {}),
    ("ppo", "ppo", {"hyperparams": SB3_SMALL}),
    ("ppo-framestack (k=4)", "ppo-framestack", {"frame_stack": 4, "hyperparams": SB3_SMALL}),
    ("recurrent-ppo", "recurrent-ppo", {"hyperparams": {"n_steps": 250, "batch_size": 50}}),
]
AGENT_ENVS: list[tuple[str, str, dict[str, Any]]] = [
    ("Tiger H=10", "rl_suite/Tiger-v0", {"horizon": 10}),
    ("T-maze L=3", "rl_suite/TMaze-v0", {"length": 3}),
]


def solver_table() -> None:
    print("## Reference solvers (env.solve())\n")
    print("| env | S | reference | V* (regret uses) | bracket [PBVI, QMDP] | solver time (s) | beliefs |")
    print("|---|---|---|---|---|---|---|")
    for label, env_id, kw in SOLVER_ENVS:
        env = gym.make(env_id, **kw).unwrapped
        t0 = time.perf_counter()
        sol = env.solve()
        wall = time.perf_counter() - t0
        b = sol["bracket"]
        if sol["exact"]:
            size = f"{sol['belief_tree']['n_beliefs']} (tree)"
        else:
            size = f"{sol['pbvi']['n_beliefs']} (PBVI)"
        print(
            f"| {label} | {sol['n_states']} | {sol['reference']} | {sol['optimal_value']:.4f} | "
            f"[{b['lower']:.4f}, {b['upper']:.4f}] | {wall:.2f} | {size} |"
        )
    print()


# ------------------------------------------------------------------------ exact value of SB3 policies
def sb3_history_policy(agent: Any, env: Any) -> Any:
    """The SB3 model's deterministic policy as a function of the history (model observations)."""
    base = env.unwrapped
    stack = int(getattr(agent.config, "frame_stack", 1))
    recurrent = type(agent).__name__ == "RecurrentPPOAgent"
    cache: dict[tuple[int, ...], Any] = {}

    def obs_of(o: int, a_prev: int) -> np.int64:
        return base._encode(o, a_prev)

    def policy(history: tuple[int, ...]) -> int:
        obs = [obs_of(history[0], -1)] + [
            obs_of(history[t + 1], history[t]) for t in range(1, len(history), 2)
        ]
        if recurrent:
            state = cache.get(history[:-2]) if len(history) > 1 else None
            start = np.array([len(history) == 1])
            action, new_state = agent.model.predict(
                np.asarray(obs[-1]), state=state, episode_start=start, deterministic=True
            )
            cache[history] = new_state
            return int(np.asarray(action).reshape(-1)[0])
        if stack > 1:
            frames = ([obs[0]] * stack + obs)[-stack:]
            action, _ = agent.model.predict(np.array(frames), deterministic=True)
            return int(np.asarray(action).reshape(-1)[0])
        return int(agent.predict(obs[-1]))

    return policy


def final_policy_regret(agent: Any, env: Any) -> float | None:
    """Exact regret of the agent's final deterministic policy (``None`` when the tree is too big)."""
    base = env.unwrapped
    if hasattr(agent, "history_policy"):
        return base.pseudo_regret(agent.history_policy)
    return base.pseudo_regret(sb3_history_policy(agent, env))


def agent_table(episodes: int, seeds: int) -> None:
    for env_label, env_id, kw in AGENT_ENVS:
        H = gym.make(env_id, **kw).unwrapped.max_steps
        print(f"## {env_label}: {episodes} episodes ({episodes * H} steps), {seeds} seeds (mean ± sd)\n")
        print(
            "| agent | exact pseudo-regret Σ_k | realised Σ_k (V* − return) | final policy exact regret |"
            " exponent (exact) | wall (s) |"
        )
        print("|---|---|---|---|---|---|")
        for label, name, settings in AGENTS:
            rows = []
            for seed in range(seeds):
                env = RegretRecorder(gym.make(env_id, **kw))
                t0 = time.perf_counter()
                agent = agent_class(name)(env, settings, seed=seed)
                agent.learn(episodes * H)
                wall = time.perf_counter() - t0
                regret = env.drain()[:, 3]
                realised = float(regret[: episodes * H].sum())
                exact = getattr(agent, "pseudo_regrets", None)
                if exact is not None and exact.size >= episodes:
                    cum = np.cumsum(exact[:episodes])
                    exact_sum, slope = float(cum[-1]), fit_regret_exponent(cum) if cum[-1] > 0 else 0.0
                else:
                    exact_sum, slope = float("nan"), float("nan")
                final = final_policy_regret(agent, env)
                rows.append((exact_sum, realised, np.nan if final is None else final, slope, wall))
            arr = np.array(rows)
            mean, sd = arr.mean(axis=0), arr.std(axis=0)
            cells = [
                "–" if np.isnan(m) else f"{m:.1f} ± {s:.1f}" for m, s in zip(mean[:3], sd[:3], strict=True)
            ]
            slope = "–" if np.isnan(mean[3]) else f"{mean[3]:.2f}"
            print(f"| {label} | {' | '.join(cells)} | {slope} | {mean[4]:.1f} |")
        print()


def window_sweep(episodes: int) -> None:
    env = gym.make("rl_suite/Tiger-v0", horizon=10)
    model = env.unwrapped.pomdp
    v_star = env.unwrapped.optimal_value()
    plan = pomdp.belief_tree_plan(model)
    print("## Window sweep, Tiger H=10\n")
    print("Regret of the best window-w policy found (exact values; `pomdp.best_window_policy`):\n")
    print("| window | regret V* − V^π | search s (cumulative) |")
    print("|---|---|---|")
    found, r = {}, pomdp.best_window_policy(model, 4, plan=plan)
    while r is not None:  # the w = 4 search starts from its own results for w = 3, 2, 1, 0
        found[r.window], r = r, r.previous
    for w in (0, 1, 2, 4):
        print(f"| {w} | {v_star - found[w].value:.4f} | {found[w].seconds:.1f} |")
    print("\nWindow-UCBVI, seed 0: exact regret of the policy played, mean per 500 episodes\n")
    blocks = range(0, episodes, 500)
    print("| window | model | " + " | ".join(f"ep {b}–{b + 499}" for b in blocks) + " |")
    print("|---|---|" + "---|" * len(blocks))
    for time_indexed in (False, True):
        for w in (0, 1, 2, 4):
            cfg = {"window": w, "bonus_scale": 0.001, "time_indexed": time_indexed}
            agent = agent_class("window-ucbvi")(gym.make("rl_suite/Tiger-v0", horizon=10), cfg, seed=0)
            agent.learn(10 * episodes)
            pr = agent.pseudo_regrets
            kind = "per step" if time_indexed else "stationary"
            print(f"| {w} | {kind} | " + " | ".join(f"{pr[b : b + 500].mean():.2f}" for b in blocks) + " |")
    print()


def rocksample_78() -> None:
    env = gym.make(
        "rl_suite/RockSample-v0",
        layout="7x8",
        pbvi_options={"max_beliefs": 1500, "n_expansions": 12, "max_seconds": 900.0},
    ).unwrapped
    t0 = time.perf_counter()
    sol = env.solve()
    wall = time.perf_counter() - t0
    pb = sol["pbvi"]
    print("## RockSample(7, 8), γ = 0.95 (12,545 states)\n")
    print("| solver | value V(b0) | beliefs | α-vectors | sweeps | converged | time (s) |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| rl_suite PBVI (lower bound) | {pb['value']:.2f} | {pb['n_beliefs']} | {pb['n_alphas']} | "
        f"{pb['sweeps']} | {pb['converged']} | {pb['seconds'] + pb['expand_seconds']:.0f} |"
    )
    print(
        f"| rl_suite QMDP (upper bound) | {sol['qmdp']['value']:.2f} | – | – | – | – | "
        f"{sol['qmdp']['seconds']:.0f} |"
    )
    print(f"\n(total solve() wall time {wall:.0f} s, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=500, help="episodes per agent run (table 2)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per agent (table 2)")
    parser.add_argument("--sweep-episodes", type=int, default=2000, help="episodes of the window sweep")
    parser.add_argument("--rs78", action="store_true", help="only the RockSample(7, 8) PBVI solve")
    parser.add_argument("--skip", nargs="*", default=[], choices=["solvers", "agents", "sweep"])
    args = parser.parse_args()
    if args.rs78:
        rocksample_78()
        return
    if "solvers" not in args.skip:
        solver_table()
    if "agents" not in args.skip:
        agent_table(args.episodes, args.seeds)
    if "sweep" not in args.skip:
        window_sweep(args.sweep_episodes)


if __name__ == "__main__":
    main()
