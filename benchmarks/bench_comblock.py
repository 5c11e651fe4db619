"""The diabolical combination lock (Misra et al. 2020; Zhang et al. 2022): episodes to open it, side by side.

    OMP_NUM_THREADS=1 python benchmarks/bench_comblock.py                 # H=5, seeds 0-2
    OMP_NUM_THREADS=1 python benchmarks/bench_comblock.py --horizons 5 10 --episodes 4000

Agents on ``rl_suite/DiabolicalCombLock-v0`` (A=10, Hadamard emission, instance 0):

* ``lsvi-ucb (oracle decoder)``: LSVI-UCB on the true latent state (``decoder="oracle"``), the reference;
* ``briee-lite``: learns the decoder from the rich observations, LSVI-UCB on the decoded states;
* ``eps-lsvi (oracle decoder)``: ε-greedy LSVI on the true latent state, the baseline without optimism.

Every ``--check-every`` episodes the agent's greedy policy (its deterministic action, no exploration)
runs ``--eval-episodes`` episodes on a separate copy of the env; the lock counts as open at the first
check that starts ``--streak`` consecutive checks with success rate ≥ ``--success`` (return ≥ 1). The
table gives that episode, the wall and CPU time to reach it (training and decoder fits only, no
evaluation; CPU time is the fair figure on a shared machine), the last check's success rate and mean
steps alive (how far the greedy policy gets), and for BRIEE-lite the decoder purity per step against the
env's hidden decoder at the end.
BLAS and torch run single-threaded.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import rl_suite  # noqa: E402, F401  (registers the env ids)
from rl_suite.agents.briee_lite import BRIEELite  # noqa: E402
from rl_suite.agents.lsvi_ucb import LSVIUCB, EpsLSVI  # noqa: E402

ENV = "rl_suite/DiabolicalCombLock-v0"
AGENTS: dict[str, tuple[type, dict[str, Any]]] = {
    "lsvi-ucb (oracle decoder)": (LSVIUCB, {"decoder": "oracle"}),
    "briee-lite": (BRIEELite, {}),
    "eps-lsvi (oracle decoder)": (EpsLSVI, {"decoder": "oracle"}),
}


def greedy_success(agent: Any, env: gym.Env, episodes: int, seed: int) -> tuple[float, float]:
    """Share of ``episodes`` in which the agent's greedy policy returns ≥ 1 (opens the lock), and the mean
    number of steps it stays alive (read from the env's ``latent_state``, for reporting only)."""
    wins, alive = 0, 0
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        total, h, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(agent._act(obs, h, True))
            total, h, done = total + float(reward), h + 1, terminated or truncated
            alive += info["latent_state"] != 2
        wins += total >= 1.0 - 1e-9
        obs, _ = env.reset()
    return wins / episodes, alive / episodes


def good_visits(agent: BRIEELite) -> np.ndarray:
    """``(H,)`` stored training observations per step whose hidden latent state is good (A or B): how deep
    the agent's own episodes reach (read with the env's hidden decoder, for reporting only)."""
    agent._flush()
    alive = agent.env.unwrapped.decode(agent.data_x) != 2
    return np.bincount(agent.data_h[alive], minlength=agent.H)


def run(name: str, horizon: int, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Train one agent until the lock stays open (or the episode budget ends); time the training only."""
    cls, settings = AGENTS[name]
    agent = cls(gym.make(ENV, horizon=horizon), settings, seed=seed)
    probe = gym.make(ENV, horizon=horizon)
    wall, cpu, streak, opened, episodes = 0.0, 0.0, 0, None, 0
    while episodes < args.episodes:
        start, start_cpu = time.perf_counter(), time.process_time()
        agent.learn(args.check_every * horizon)
        wall, cpu = wall + time.perf_counter() - start, cpu + time.process_time() - start_cpu
        episodes += args.check_every
        success, depth = greedy_success(agent, probe, args.eval_episodes, seed=10_000 + episodes)
        if args.progress:
            shown = ""
            if isinstance(agent, BRIEELite):
                shown = " purity " + " ".join(f"{p:.2f}" for p in agent.decoder_purity())
                shown += f"; training visits to good states by step {good_visits(agent).tolist()}"
            print(
                f"  {name} H={horizon} seed={seed} episode {episodes}: success {success:.2f}, "
                f"steps alive {depth:.1f}, wall {wall:.0f}s{shown}",
                flush=True,
            )
        if success >= args.success:
            streak += 1
            if streak == 1:
                opened, opened_wall, opened_cpu = episodes, wall, cpu
            if streak >= args.streak:
                break
        else:
            streak, opened = 0, None
    row = {"agent": name, "H": horizon, "seed": seed, "opened": opened, "episodes": episodes, "wall": wall}
    row.update(success=success, depth=depth)
    row["wall_to_open"] = opened_wall if opened is not None else None
    row["cpu_to_open"] = opened_cpu if opened is not None else None
    if isinstance(agent, BRIEELite):
        row["purity"] = agent.decoder_purity()
        row["refits"] = int(agent.refits[0])
        row["good_visits"] = good_visits(agent)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizons", type=int, nargs="+", default=[5])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=2000, help="episode budget per run")
    parser.add_argument("--check-every", type=int, default=25)
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--success", type=float, default=0.99)
    parser.add_argument("--streak", type=int, default=3)
    parser.add_argument("--progress", action="store_true", help="print every check")
    parser.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    parser.add_argument("--briee", type=json.loads, default={}, help='BRIEE-lite settings, e.g. {"beta": 2}')
    args = parser.parse_args()
    AGENTS["briee-lite"][1].update(args.briee)
    torch.set_num_threads(1)
    print(f"\n{ENV}, A=10, Hadamard emission; budget {args.episodes} episodes; OMP_NUM_THREADS=1")
    print(f"briee-lite settings: {AGENTS['briee-lite'][1] or 'defaults'}\n")
    print(
        "| agent | H | seed | episodes to open | to open: wall / CPU (s) | wall (s) | last check: success, "
        "steps alive | decoder purity by step |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for horizon in args.horizons:
        for name in args.agents:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                r = run(name, horizon, seed, args)
                opened = str(r["opened"]) if r["opened"] is not None else f"not in {r['episodes']}"
                to_open = "—"
                if r["wall_to_open"] is not None:
                    to_open = f"{r['wall_to_open']:.1f} / {r['cpu_to_open']:.1f}"
                purity = " ".join(f"{p:.2f}" for p in r["purity"]) if r.get("purity") is not None else ""
                print(
                    f"| {name} | {horizon} | {seed} | {opened} | {to_open} | {r['wall']:.1f} | "
                    f"{r['success']:.2f}, {r['depth']:.1f} | {purity} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
