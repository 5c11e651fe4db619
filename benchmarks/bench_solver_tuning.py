"""Learning to Relax (Khodak et al., ICLR 2024) at small size: SOR, n = 100, 20 ω on [1, 1.95], tol 1e-8.

    python benchmarks/bench_solver_tuning.py             # T = 1000 and 5000, 3 sequences (a few minutes)
    python benchmarks/bench_solver_tuning.py --quick     # T = 200, 1 sequence (smoke run)

For each shift distribution (high and low variance) and each sequence seed, the counterfactual table of
``rl_suite/SORTuning-v0`` is built once (process pool, cached on disk: the second build must come from the
cache) and every agent plays the same sequence. Printed per (distribution, T), averaged over the sequences:
total iterations of ω = 1, of the best fixed ω in hindsight (and which ω), of the instance-optimal grid ω,
and of each learner, with the learners' ratios to best-fixed and to instance-optimal. A first measurement
of this setting gave Tsallis-INF 1.38x best-fixed (T = 1000) and 1.17x (T = 5000), and 5-bin Tsallis-INF-CB
0.98x best-fixed at T = 5000. Then the table timings: seconds per 1000 instances, first build and cached.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rl_suite  # noqa: E402, F401  (registers the env ids)
from rl_suite import registry  # noqa: E402

AGENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("tsallis-inf", "tsallis-inf", {}),
    ("tsallis-inf-cb (5 bins)", "tsallis-inf-cb", {}),
    ("chebcb (m=6)", "chebcb", {}),
    ("exp3", "exp3", {}),
    ("ucb1 (normalised)", "ucb1", {"normalise": True}),
]


def play(name: str, settings: dict[str, Any], env_kwargs: dict[str, Any], seed: int) -> dict[str, Any]:
    env = gym.make("rl_suite/SORTuning-v0", **env_kwargs)
    cls = registry.load_entry_point(registry.agent_entry(name).entry_point)
    cls(env, settings, seed=seed).learn(env_kwargs["horizon"])
    return env.unwrapped.run_summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sequences", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    horizons = (200,) if args.quick else (1000, 5000)
    sequences = 1 if args.quick else args.sequences
    cache = tempfile.mkdtemp(prefix="rl_suite_tables_")
    timings: list[str] = []
    for shift in ("high", "low"):
        longest = max(horizons)
        for seq in range(sequences):
            env = gym.make(
                "rl_suite/SORTuning-v0",
                shift=shift,
                horizon=longest,
                instance_seed=seq,
                workers=args.workers,
                cache_dir=cache,
            )
            first = env.unwrapped.solve()
            again = gym.make(
                "rl_suite/SORTuning-v0", shift=shift, horizon=longest, instance_seed=seq, cache_dir=cache
            ).unwrapped.solve()
            assert again["table_from_cache"], "the second build must come from the cache"
            timings.append(
                f"| {shift} | {seq} | {longest} | {first['table_seconds'] / longest * 1000:.1f} | "
                f"{again['table_seconds'] / longest * 1000:.3f} | {args.workers} |"
            )
        for T in horizons:
            rows: dict[str, list[dict[str, Any]]] = {}
            refs = []
            for seq in range(sequences):
                kwargs = {"shift": shift, "horizon": T, "instance_seed": seq, "cache_dir": cache}
                solved = gym.make("rl_suite/SORTuning-v0", **kwargs).unwrapped.solve()
                refs.append(solved)
                for label, name, settings in AGENTS:
                    rows.setdefault(label, []).append(play(name, settings, kwargs, seed=seq))
            omega1 = np.mean([r["total_iterations_per_fixed_omega"][0] for r in refs])
            fixed = np.mean([r["best_fixed_iterations"] for r in refs])
            omegas = sorted({round(r["best_fixed_omega"], 2) for r in refs})
            inst = np.mean([r["instance_optimal_iterations"] for r in refs])
            print(f"\n### {shift}-variance shifts, T = {T}, {sequences} sequence(s)\n")
            print("| method | total iterations (mean) | / best fixed | / instance-optimal |")
            print("|---|---|---|---|")
            print(f"| omega = 1 | {omega1:,.0f} | {omega1 / fixed:.2f} | {omega1 / inst:.2f} |")
            print(
                f"| best fixed omega in hindsight ({', '.join(map(str, omegas))}) | {fixed:,.0f} | 1.00 | "
                f"{fixed / inst:.2f} |"
            )
            print(f"| instance-optimal grid omega | {inst:,.0f} | {inst / fixed:.2f} | 1.00 |")
            for label, runs in rows.items():
                total = np.mean([r["total_iterations"] for r in runs])
                to_fixed = np.mean([r["ratio_to_best_fixed"] for r in runs])
                to_inst = np.mean([r["ratio_to_instance_optimal"] for r in runs])
                print(f"| {label} | {total:,.0f} | {to_fixed:.3f} | {to_inst:.3f} |")
    print("\n### Counterfactual table: seconds per 1000 instances\n")
    print("| shifts | sequence | T | first build | cached | workers |\n|---|---|---|---|---|---|")
    print("\n".join(timings))


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
