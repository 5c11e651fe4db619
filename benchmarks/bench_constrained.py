"""Stage-wise constrained bandits at full size (Pacchiano, Ghavamzadeh, Bartlett & Jiang, AISTATS 2021).

    python benchmarks/bench_constrained.py            # T=20 000 x 10 seeds (about two minutes)
    python benchmarks/bench_constrained.py --quick    # T=2 000 x 3 seeds smoke run

Tables (every agent on the same instance and the same 10 noise seeds, batched over the seeds through the
env's vector form — stream i is bit-identical to the single env with seed i):

  1. ``ConstrainedMAB-v0``, random instance 10 (K=10, its best arm infeasible, τ − c₀ = 0.18), Gaussian
     noise sd 0.1, T = 20 000: OPB with the authors' α_r, the theory α_r and α_r = 1, UCB1 ignoring costs,
     and the primal–dual wrapper around UCB1. Targets: OPB 0 violating rounds and sublinear regret; UCB1
     violates in a large share of rounds with negative regret against the feasible optimum.
  2. ``StagewiseConstrainedLinearBandit-v0`` (d=5, K=10, τ=0.5): OPLB, LinUCB, the wrapper around LinUCB.
  3. ``SafeLinearBandit-v0``, random instance 7, 10 seeds x 5 000 rounds: Safe-LinUCB (both inflations),
     LinUCB at full scale, the wrapper. Target: Safe-LinUCB 0 violations, sublinear regret.
  4. The per-round LP: our closed form against ``scipy.optimize.linprog`` (HiGHS), which the authors'
     code calls every round — the peer measurement, on the same 2 000 optimistic–pessimistic programs.

Columns: final regret (mean over seeds, 95 % bootstrap CI), regret exponent (log-log slope of the mean
curve over the last decade; "n/a" when R(T) ≤ 0), violating rounds per seed, violation amount per seed,
wall time of the whole batch.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rl_suite  # noqa: E402, F401  (registers the env ids)
from rl_suite import registry  # noqa: E402
from rl_suite.compare import bootstrap_ci, mean  # noqa: E402
from rl_suite.exact.lp import best_feasible_mixture, best_feasible_mixture_linprog  # noqa: E402
from rl_suite.regret import fit_regret_exponent  # noqa: E402

MAB = ("rl_suite/ConstrainedMAB-v0", {"instance_seed": 10, "reward_noise": "gaussian", "noise_sd": 0.1})
LIN = ("rl_suite/StagewiseConstrainedLinearBandit-v0", {"dim": 5, "n_actions": 10, "tau": 0.5})
SAFE = ("rl_suite/SafeLinearBandit-v0", {"instance_seed": 7})

TABLES: list[tuple[str, tuple[str, dict[str, Any]], int, list[tuple[str, str, dict[str, Any]]]]] = [
    (
        "ConstrainedMAB-v0 (random instance 10)",
        MAB,
        20_000,
        [
            ("opb (alpha_r = authors 1+1/tau)", "opb", {}),
            ("opb (alpha_r = theory 1+2/(tau-c0))", "opb", {"alpha_r": "theory"}),
            ("opb (alpha_r = 1)", "opb", {"alpha_r": 1.0}),
            ("ucb1 (ignores costs)", "ucb1", {"c": 0.2}),
            ("lagrangian(ucb1)", "lagrangian", {"base": "ucb1", "base_settings": {"c": 0.2}}),
        ],
    ),
    (
        "StagewiseConstrainedLinearBandit-v0 (d=5, K=10)",
        LIN,
        20_000,
        [
            ("oplb (alpha_r = authors)", "oplb", {}),
            ("oplb (alpha_r = theory)", "oplb", {"alpha_r": "theory"}),
            ("linucb (ignores costs)", "linucb", {}),
            ("lagrangian(linucb)", "lagrangian", {"base": "linucb"}),
        ],
    ),
    (
        "SafeLinearBandit-v0 (random instance 7)",
        SAFE,
        5_000,
        [
            ("safe-linucb (kappa = authors)", "safe-linucb", {}),
            ("safe-linucb (kappa = gnop)", "safe-linucb", {"reward_inflation": "gnop"}),
            ("linucb (full scale, ignores costs)", "linucb", {}),
            ("lagrangian(linucb)", "lagrangian", {"base": "linucb"}),
        ],
    ),
]


def run(
    env_id: str, env_kwargs: dict[str, Any], agent: str, settings: dict[str, Any], T: int, seeds: int
) -> dict:
    """Play one agent on ``seeds`` streams for ``T`` rounds; the per-seed figures and the wall time."""
    env = gym.make_vec(
        env_id, num_envs=seeds, vectorization_mode="vector_entry_point", horizon=T, **env_kwargs
    )
    cls = registry.load_entry_point(registry.agent_entry(agent).entry_point)
    regret = np.empty((T, seeds))
    violation = np.empty((T, seeds))
    step = 0

    def record(_agent: Any, info: dict[str, Any]) -> None:
        nonlocal step
        regret[step] = info["regret"]
        violation[step] = info["violation"]
        step += 1

    start = time.perf_counter()
    cls(env, settings, seed=0).learn(T, callback=record)
    wall = time.perf_counter() - start
    cum = regret.cumsum(axis=0)
    mean_curve = cum.mean(axis=1)
    return {
        "final": cum[-1],
        "exponent": fit_regret_exponent(mean_curve) if mean_curve[-1] > 0 else None,
        "violating": (violation > 0).sum(axis=0),
        "amount": violation.sum(axis=0),
        "wall": wall,
    }


def fmt_ci(x: np.ndarray) -> str:
    lo, hi = bootstrap_ci(x, mean, 2000, random_state=0)
    return f"{x.mean():,.1f} [{lo:,.1f}, {hi:,.1f}]"


def lp_peer(rounds: int) -> str:
    """Time the closed-form LP against scipy's HiGHS on the same OPB programs (one per round)."""
    rng = np.random.default_rng(0)
    K = 10
    U_r = rng.random((rounds, K)) + rng.random((rounds, K))
    U_c = rng.random((rounds, K))
    tau = np.full(rounds, 0.3)
    U_c[:, 0] = 0.1  # the safe arm
    start = time.perf_counter()
    for t in range(rounds):
        best_feasible_mixture(U_r[t], U_c[t], tau[t])
    ours_loop = time.perf_counter() - start
    start = time.perf_counter()
    _, batch_values = best_feasible_mixture(U_r, U_c, tau)
    ours_batch = time.perf_counter() - start
    start = time.perf_counter()
    values = np.array([best_feasible_mixture_linprog(U_r[t], U_c[t], tau[t])[1] for t in range(rounds)])
    scipy_time = time.perf_counter() - start
    gap = float(np.abs(values - batch_values).max())
    return (
        "| LP per round (K=10) | programs/s | vs scipy linprog |\n|---|---|---|\n"
        f"| closed form, one call per round | {rounds / ours_loop:,.0f} | {scipy_time / ours_loop:.0f}x |\n"
        f"| closed form, all rounds batched | {rounds / ours_batch:,.0f} | {scipy_time / ours_batch:.0f}x |\n"
        f"| scipy.optimize.linprog (HiGHS), the authors' choice | {rounds / scipy_time:,.0f} | 1x |\n"
        f"\nlargest |value difference| over the {rounds} programs: {gap:.2e}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T/10 and 3 seeds (a smoke run)")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    seeds = 3 if args.quick else args.seeds
    for title, (env_id, env_kwargs), T, agents in TABLES:
        T = T // 10 if args.quick else T
        print(f"\n### {title}: T = {T:,}, {seeds} seeds\n")
        print(
            "| agent | final regret [95% CI] | exponent | violating rounds / seed | "
            "violation amount / seed | wall (s) |\n|---|---|---|---|---|---|"
        )
        for label, agent, settings in agents:
            r = run(env_id, env_kwargs, agent, settings, T, seeds)
            exponent = "n/a (R(T) <= 0)" if r["exponent"] is None else f"{r['exponent']:.2f}"
            print(
                f"| {label} | {fmt_ci(r['final'])} | {exponent} | {r['violating'].mean():,.1f} "
                f"(max {r['violating'].max():,}) | {r['amount'].mean():,.2f} | {r['wall']:.1f} |"
            )
    print("\n### The per-round LP against the peer\n")
    print(lp_peer(200 if args.quick else 2000))


if __name__ == "__main__":
    main()
