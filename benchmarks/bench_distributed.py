"""Distributed linear bandits: DisBE-LUCB against one LinUCB playing every action and every-round sharing.

    OMP_NUM_THREADS=1 python benchmarks/bench_distributed.py            # N=8, T=2 000, seeds 0-4
    OMP_NUM_THREADS=1 python benchmarks/bench_distributed.py --quick    # T=500, seeds 0-1 (a smoke run)
    OMP_NUM_THREADS=1 python benchmarks/bench_distributed.py --ray      # also time the Ray-actor backend

The setting of Amani, Lattimore, György & Yang (ICML 2023, arXiv:2205.13170): N = 8 agents, T = 2 000 rounds
each (N·T = 16 000 actions), on ``rl_suite/LinearContextualBandit-v0`` with d = 5, K = 10, one shared θ
(``model="shared"``, Bernoulli rewards, instance 0). Every action's regret is the env's exact gap. Rows:

* ``disbe-lucb`` (batched): the agents sync with the server at the ends of doubling batches;
* ``disbe-lucb, sharing every round``: the same agents syncing after every round (``sharing=every_step``);
* ``one LinUCB, N·T rounds``: one learner playing all 16 000 actions (``n_agents=1, sharing=every_step``,
  which is LinUCB with one θ, α = 1);
* ``linucb (per-arm models), N·T rounds``: the registered ``linucb`` (Li et al. 2010, Alg. 1: one θ_a per
  arm), for reference;
* ``disbe-lucb, max_width``: the option that plays the widest surviving arm instead of the highest UCB;
* ``disbe-lucb, paper-style``: the settings taken from an independent reproduction of the paper's
  algorithm — O(log log T) batches cut for T (``schedule="loglog"``), each batch's own estimate with
  elimination through all of them (``estimates="per_batch"``), design exploration among the survivors.

The table gives the total regret over all N·T actions (mean over seeds with a 95 % bootstrap interval), its
ratio to one LinUCB's, the number of synchronisations and the scalars communicated (uploads plus
broadcasts, :func:`rl_suite.agents.disbe_lucb.upload_size`); a second table gives the communication after
T' rounds for growing T', against d·N·T' (the raw features of every action). The PNG (``--out``) shows the
mean cumulative regret against actions and the communication against rounds. BLAS runs single-threaded.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rl_suite  # noqa: E402, F401  (registers the env ids)
from rl_suite.agents.disbe_lucb import DisBELUCB  # noqa: E402
from rl_suite.agents.linucb import LinUCB  # noqa: E402
from rl_suite.stats import bootstrap_ci  # noqa: E402

ENV = "rl_suite/LinearContextualBandit-v0"
N, D, K = 8, 5, 10
ONE = "one LinUCB, N·T rounds"
PAPER = "disbe-lucb, paper-style (loglog grid, per-batch estimates, design)"
ROWS: dict[str, tuple[type, dict[str, Any]]] = {
    "disbe-lucb": (DisBELUCB, {"n_agents": N}),
    "disbe-lucb, sharing every round": (DisBELUCB, {"n_agents": N, "sharing": "every_step"}),
    ONE: (DisBELUCB, {"n_agents": 1, "sharing": "every_step"}),
    "linucb (per-arm models), N·T rounds": (LinUCB, {}),
    "disbe-lucb, max_width": (DisBELUCB, {"n_agents": N, "selection": "max_width"}),
    PAPER: (
        DisBELUCB,
        {"n_agents": N, "schedule": "loglog", "estimates": "per_batch", "selection": "design"},
    ),
}


def run(cls: type, settings: dict[str, Any], rounds: int, seed: int, marks: list[int]) -> dict[str, Any]:
    """One run of N·``rounds`` actions: per-action regret, wall time, and the communication at ``marks``."""
    env = gym.make(ENV, dim=D, n_arms=K, model="shared", horizon=N * rounds)
    if settings.get("schedule") == "loglog":
        settings = {**settings, "horizon": rounds}
    agent = cls(env, settings, seed=seed)
    regret = np.empty(N * rounds)
    comm: dict[int, float] = {}
    n = settings.get("n_agents", 1)

    def record(a: Any, info: dict[str, Any]) -> None:
        t = a.num_timesteps
        regret[t - 1] = info["regret"]
        if hasattr(a, "diagnostics") and t % n == 0 and t // n in marks:
            comm[t // n] = a.diagnostics()["communicated_scalars"]

    start = time.perf_counter()
    agent.learn(N * rounds, callback=record)
    wall = time.perf_counter() - start
    diag = agent.diagnostics() if hasattr(agent, "diagnostics") else {}
    if hasattr(agent, "close"):
        agent.close()
    return {"regret": regret, "wall": wall, "diag": diag, "comm": comm}


def ci(values: list[float]) -> str:
    lo, hi = bootstrap_ci(np.asarray(values))
    return f"{np.mean(values):.2f} [{lo:.2f}, {hi:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="rounds T per agent")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="T = 500 and 2 seeds (a smoke run)")
    parser.add_argument(
        "--ray", action="store_true", help="also run DisBE-LUCB's agents as Ray actors (seed 0)"
    )
    parser.add_argument("--out", type=Path, default=Path("reports/distributed"))
    args = parser.parse_args()
    rounds, seeds = (500, 2) if args.quick else (args.rounds, args.seeds)
    marks = sorted({m for m in (rounds // 8, rounds // 4, rounds // 2, rounds) if m >= 1})
    results = {
        name: [run(cls, s, rounds, seed, marks) for seed in range(seeds)] for name, (cls, s) in ROWS.items()
    }

    one = np.mean([r["regret"].sum() for r in results[ONE]])
    print(
        f"N = {N} agents x T = {rounds} rounds (N·T = {N * rounds} actions), d = {D}, K = {K}, shared θ, "
        f"Bernoulli rewards, seeds 0-{seeds - 1}\n"
    )
    print("| agent | total regret (95% CI) | / one LinUCB | syncs | communicated scalars | wall s |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        totals = [float(r["regret"].sum()) for r in runs]
        diag = runs[0]["diag"] if name != ONE else {}  # one learner talks to nobody
        syncs = f"{diag['batches']:.0f}" if diag else "—"
        comm = f"{diag['communicated_scalars']:,.0f}" if diag else "—"
        wall = np.mean([r["wall"] for r in runs])
        print(f"| {name} | {ci(totals)} | {np.mean(totals) / one:.2f} | {syncs} | {comm} | {wall:.1f} |")

    print(f"\nCommunicated scalars after T' rounds (seed 0) against d·N·T' (every action's {D} features)\n")
    print("| T' | disbe-lucb | syncs ⌊log₂(T'+1)⌋ | sharing every round | d·N·T' |")
    print("|---|---|---|---|---|")
    batched, every = results["disbe-lucb"][0]["comm"], results["disbe-lucb, sharing every round"][0]["comm"]
    for m in marks:
        print(
            f"| {m} | {batched[m]:,.0f} | {int(np.floor(np.log2(m + 1)))} | {every[m]:,.0f} | {D * N * m:,} |"
        )

    if args.ray:
        from rl_suite.agents.disbe_lucb import DisBELUCB as Agent

        local = results["disbe-lucb"][0]
        remote = run(Agent, {"n_agents": N, "backend": "ray"}, rounds, 0, marks)
        same = bool(np.array_equal(local["regret"], remote["regret"]))
        print(
            f"\nRay actors (seed 0): {remote['wall']:.1f} s against {local['wall']:.1f} s in one process; "
            f"identical per-action regret: {same}"
        )

    plot(results, rounds, args.out)


def plot(results: dict[str, list[dict[str, Any]]], rounds: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    actions = np.arange(1, N * rounds + 1)
    for name, runs in results.items():
        curve = np.mean([np.cumsum(r["regret"]) for r in runs], axis=0)
        left.plot(actions, curve, label=name)
    left.set(xlabel="actions (all agents)", ylabel="cumulative regret", title="Exact regret, mean over seeds")
    left.legend(fontsize=7)
    for name in ("disbe-lucb", "disbe-lucb, sharing every round"):
        comm = results[name][0]["comm"]
        right.plot(list(comm), list(comm.values()), marker="o", label=name)
    marks = list(results["disbe-lucb"][0]["comm"])
    right.plot(marks, [D * N * m for m in marks], "k--", label="d·N·T'")
    right.set(
        xlabel="rounds T'", ylabel="communicated scalars", yscale="log", xscale="log", title="Communication"
    )
    right.legend(fontsize=7)
    fig.tight_layout()
    path = out / "distributed.png"
    fig.savefig(path, dpi=120)
    print(f"\nplot: {path}")


if __name__ == "__main__":
    main()
