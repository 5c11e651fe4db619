"""Misspecification against the minimal gap: LinUCB, SupLinUCB and DS-OFUL as ζ sweeps past the threshold.

    OMP_NUM_THREADS=1 python benchmarks/bench_misspecification.py            # T=10 000, seeds 0-4
    OMP_NUM_THREADS=1 python benchmarks/bench_misspecification.py --quick    # T=2 000, seeds 0-1, 4 ζ

The setting of Zhang, He, Fan & Gu (ICML 2023, arXiv 2303.09390): a linear contextual bandit whose mean
reward is linear up to a deviation of sup norm ζ, with a minimal sub-optimality gap Δ; learnable with
constant regret when ζ ≤ Õ(Δ/√d), not efficiently learnable when ζ ≥ Ω̃(Δ/√d). Here
``rl_suite/LinearContextualBandit-v0`` with d = 8, K = 4 arms, one shared θ (``model="shared"``),
Gaussian rewards (σ = 0.1), instance 0, ``min_gap`` Δ = 0.2 and ``misspecification`` ζ swept from 0 to
3Δ/√d = 0.212. The env's deviation is a square wave of the linear score (amplitude and half-period ζ),
which swaps two arms whose linear scores straddle a step less than 2ζ apart; under the gap Δ that can
only flip the best arm when 2ζ > Δ, i.e. above ζ = Δ/2 = 1.41·Δ/√d — the threshold *of this
construction* (the paper's lower bound uses a different, worst-case instance family).

Agents (every one on R = seeds streams of the vector env, exact regret from the env):

* ``linucb``: the registered LinUCB (Li et al. 2010, Alg. 1, α = 1; per-arm models, all equal to θ here);
* ``suplinucb``: SupLinUCB (Chu et al. 2011) with ``horizon = T`` and ``alpha = 0`` (width ‖x‖_{A⁻¹}):
  with the theoretical α ≈ 2.8 its stages that separate Δ = 0.2 need ≳ 10⁵ rounds, so the row
  ``suplinucb (theory α)`` shows that variant too;
* ``ds-oful``: DS-OFUL with the paper's practical threshold Γ = Δ/√d = 0.0707, β = λ = 1.

The table gives, per ζ, the mean final regret R(T) with a 95 % bootstrap interval over seeds and the late
rate ``(R(T) − R(T/2))/(T/2)`` (regret per round over the second half: ≈ 0 on a plateau, > 0 when regret
grows linearly); the first columns give the fraction of contexts whose best arm is not the linear best
(from 20 000 contexts of the env). The PNG (``--out``) plots both against ζ/(Δ/√d). BLAS runs
single-threaded.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rl_suite  # noqa: E402, F401  (registers the env ids)
from rl_suite.agents.ds_oful import DSOFUL  # noqa: E402
from rl_suite.agents.linucb import LinUCB  # noqa: E402
from rl_suite.agents.suplinucb import SupLinUCB  # noqa: E402
from rl_suite.envs.bandits.linear import LinearContextualBandit  # noqa: E402
from rl_suite.stats import bootstrap_ci  # noqa: E402

ENV = "rl_suite/LinearContextualBandit-v0"
D, K, GAP, SIGMA = 8, 4, 0.2, 0.1
UNIT = GAP / math.sqrt(D)  # Δ/√d
ENV_KWARGS: dict[str, Any] = {
    "dim": D,
    "n_arms": K,
    "model": "shared",
    "reward_noise": "gaussian",
    "noise_sd": SIGMA,
    "min_gap": GAP,
}
FULL_GRID = (0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)  # ζ in units of Δ/√d
QUICK_GRID = (0.0, 1.0, 2.0, 3.0)


def rows(rounds: int, theory: bool) -> dict[str, tuple[type, dict[str, Any]]]:
    out: dict[str, tuple[type, dict[str, Any]]] = {
        "linucb": (LinUCB, {}),
        "suplinucb": (SupLinUCB, {"horizon": rounds, "alpha": 0.0}),
        "ds-oful": (DSOFUL, {"gamma": UNIT}),
    }
    if theory:
        out["suplinucb (theory α)"] = (SupLinUCB, {"horizon": rounds})
    return out


def run(cls: type, settings: dict[str, Any], zeta: float, rounds: int, seeds: int) -> dict[str, Any]:
    """R = ``seeds`` streams (env seeds 0..R-1) of ``rounds`` rounds: per-stream cumulative regret curves."""
    env = gym.make_vec(
        ENV,
        num_envs=seeds,
        vectorization_mode="vector_entry_point",
        horizon=rounds,
        misspecification=zeta,
        **ENV_KWARGS,
    )
    agent = cls(env, settings, seed=0)
    regret = np.empty((rounds, seeds))

    def record(a: Any, info: dict[str, Any]) -> None:
        regret[a.num_timesteps - 1] = info["regret"]

    start = time.perf_counter()
    agent.learn(rounds, callback=record)
    wall = time.perf_counter() - start
    env.close()
    return {"curves": np.cumsum(regret, axis=0).T, "wall": wall}


def flip_rate(zeta: float, n: int = 20_000) -> float:
    """Fraction of contexts (conditioned on the gap) whose best arm differs from the linear best."""
    env = LinearContextualBandit(misspecification=zeta, **ENV_KWARGS)
    z = np.random.default_rng(0).standard_normal((n, env.core.context_normals))
    x, means = env.core.observe(z)
    return float((np.vecdot(x, env.theta).argmax(1) != means.argmax(1)).mean())


def ci(values: np.ndarray, digits: int = 1) -> str:
    lo, hi = bootstrap_ci(values)
    return f"{np.mean(values):.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10_000, help="rounds T per stream")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="T = 2 000, 2 seeds, ζ ∈ {0, 1, 2, 3}·Δ/√d")
    parser.add_argument("--out", type=Path, default=Path("reports/misspecification"))
    args = parser.parse_args()
    rounds, seeds, grid = (2000, 2, QUICK_GRID) if args.quick else (args.rounds, args.seeds, FULL_GRID)
    agents = rows(rounds, theory=not args.quick)
    results: dict[str, dict[float, dict[str, Any]]] = {name: {} for name in agents}
    for m in grid:
        for name, (cls, settings) in agents.items():
            results[name][m] = run(cls, settings, m * UNIT, rounds, seeds)

    print(
        f"d = {D}, K = {K}, shared θ, Gaussian rewards σ = {SIGMA}, Δ = {GAP} (Δ/√d = {UNIT:.4f}), "
        f"T = {rounds:,}, seeds 0-{seeds - 1}; threshold of the construction ζ = Δ/2 = "
        f"{GAP / 2 / UNIT:.2f}·Δ/√d\n"
    )
    print("Final regret R(T), mean [95% CI]\n")
    names = list(agents)
    print("| ζ/(Δ/√d) | ζ | best arm ≠ linear best | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for m in grid:
        cells = [ci(results[n][m]["curves"][:, -1]) for n in names]
        print(f"| {m:g} | {m * UNIT:.3f} | {100 * flip_rate(m * UNIT):.2f}% | " + " | ".join(cells) + " |")
    print("\nLate regret rate (R(T) − R(T/2))/(T/2) per 1 000 rounds, mean [95% CI]\n")
    print("| ζ/(Δ/√d) | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    half = rounds // 2
    for m in grid:
        cells = [
            ci(
                1000
                * (results[n][m]["curves"][:, -1] - results[n][m]["curves"][:, half - 1])
                / (rounds - half)
            )
            for n in names
        ]
        print(f"| {m:g} | " + " | ".join(cells) + " |")
    walls = {n: sum(r["wall"] for r in results[n].values()) for n in names}
    print("\nwall time (s, all ζ): " + ", ".join(f"{n} {w:.1f}" for n, w in walls.items()))
    plot(results, grid, rounds, args.out)


def plot(
    results: dict[str, dict[float, dict[str, Any]]], grid: tuple[float, ...], rounds: int, out: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    half = rounds // 2
    for name, by_zeta in results.items():
        final = [by_zeta[m]["curves"][:, -1].mean() for m in grid]
        rate = [
            1000 * (by_zeta[m]["curves"][:, -1] - by_zeta[m]["curves"][:, half - 1]).mean() / (rounds - half)
            for m in grid
        ]
        left.plot(grid, final, marker="o", label=name)
        right.plot(grid, rate, marker="o", label=name)
    for ax in (left, right):
        ax.axvline(GAP / 2 / UNIT, color="k", ls="--", lw=0.8, label="ζ = Δ/2")
        ax.set_xlabel("ζ / (Δ/√d)")
    left.set(ylabel=f"cumulative regret R({rounds:,})", title="Final regret, mean over seeds")
    right.set(ylabel="regret per 1 000 rounds, second half", title="Late regret rate (0 = plateau)")
    left.legend(fontsize=7)
    fig.tight_layout()
    path = out / "misspecification.png"
    fig.savefig(path, dpi=120)
    print(f"\nplot: {path}")


if __name__ == "__main__":
    main()
