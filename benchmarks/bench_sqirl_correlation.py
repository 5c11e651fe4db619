"""SQIRL vs SB3 PPO and DQN sample complexity across small MDPs (the correlation of Laidlaw et al. 2024).

    OMP_NUM_THREADS=1 python benchmarks/bench_sqirl_correlation.py --workers 2   # 42 + 2 MDPs x 3 seeds
    OMP_NUM_THREADS=1 python benchmarks/bench_sqirl_correlation.py --quick              # a smoke run

Instances: ``rl_suite/LayeredLureMDP-v0`` (H=6, S=5) over lure depth {1..4} (``--max-depth``) × A {2, 3, 4}
(``--actions``) × slip {0.1, 0.3} × instance seed {0, 1} (seed 0 only at depth 1: 42 MDPs), plus MiniGrid
Empty-5x5 and LavaGapS5 enumerated by ``rl_suite/MiniGridFiniteHorizon-v0`` (H=10, state-id observations).
The spread of difficulty (min_k from 1 to 4) is what the correlation is measured across.

Sample complexity is evaluated exactly, by the suite's evaluator (:func:`rl_suite.evaluation.make_evaluator`,
the one ``eval_every`` runs use): every ``--check-every`` env steps (every episode for SQIRL) the agent's
current greedy policy — read through ``policy_actions(observations, h)``, the same for every agent — is
evaluated by backward recursion; the sample complexity at ε is the first step at which its policy regret is
at most ε · (V* − V(uniform policy)) (``PolicyEvaluation.within``; ε = 0: exactly optimal, up to 1e-9),
``inf`` if never within the budget; the median over ``--seeds`` (3). ``--tolerances 0,0.01`` (default)
measures both ε in one pass (a run stops once it is within the smallest ε) and prints one table per ε.

* SQIRL: tabular regressor, ``restart=True`` (m = 1, 2, 4, … until solved), k ∈ {1, 2, 3}; the best k.
* PPO / DQN: Stable-Baselines3 directly (8 / 4 vectorised copies of the env, for speed) with observation
  ``one-hot(state) ⊕ one-hot(step)`` (the MDPs are non-stationary, so the policy needs the step).

The table lists min_k, the simple effective-horizon bound (a proxy, see rl_suite.exact.effective_horizon) and
the three sample complexities; below it, Spearman ρ between log sample complexities over the instances
that both methods solved (and with unsolved runs ranked last), and between the bound and each method. A
scatter plot PNG goes to ``--out``.
BLAS and torch run single-threaded.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

import rl_suite  # noqa: E402, F401  (registers the env ids)
from rl_suite.agents.sqirl import SQIRL  # noqa: E402
from rl_suite.evaluation import Evaluator, make_evaluator  # noqa: E402
from rl_suite.exact.effective_horizon import min_k, simple_effective_horizon  # noqa: E402

torch.set_num_threads(1)

#: PPO with 8 envs and n_steps 128 (the authors' smaller grid value); lr, epochs and batch set for tiny MDPs.
PPO = {
    "n_steps": 128,
    "batch_size": 128,
    "n_epochs": 10,
    "learning_rate": 3e-3,
    "ent_coef": 0.01,
    "gamma": 1.0,
}
DQN = {
    "learning_starts": 500,
    "buffer_size": 20_000,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "train_freq": 1,
    "gradient_steps": 1,
    "target_update_interval": 250,
    "exploration_fraction": 0.3,
    "gamma": 1.0,
}


class StepObservation(gym.ObservationWrapper):
    """Observation ``one-hot(state) ⊕ one-hot(step)`` of a finite-horizon env with Discrete(S) obs."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.S, self.H = int(env.observation_space.n), int(env.unwrapped.horizon)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (self.S + self.H,), dtype=np.float32)
        self._h = 0

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        self._h = 0
        return super().reset(**kwargs)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._h += 1
        return super().step(action)

    def observation(self, obs: Any) -> np.ndarray:
        return self.encode(np.array([int(obs)]), np.array([min(self._h, self.H - 1)]))[0]

    def encode(self, s: np.ndarray, h: np.ndarray) -> np.ndarray:
        out = np.zeros((s.size, self.S + self.H), dtype=np.float32)
        out[np.arange(s.size), s] = 1.0
        out[np.arange(s.size), self.S + h] = 1.0
        return out


def instances(
    quick: bool, max_depth: int = 3, actions: tuple[int, ...] = (2, 3)
) -> list[tuple[str, dict[str, Any]]]:
    """The MDPs of the study: (label, gym.make kwargs)."""
    out = []
    for depth in range(1, max_depth + 1):
        for A in actions:
            for slip in (0.1, 0.3):
                for seed in (0, 1) if depth > 1 else (0,):
                    kw = {"lure_depth": depth, "n_actions": A, "slip": slip, "instance_seed": seed}
                    spec = {"id": "rl_suite/LayeredLureMDP-v0", **kw}
                    out.append((f"lure d={depth} A={A} slip={slip} #{seed}", spec))
    if quick:
        out = out[::4]
    for level in ("MiniGrid-Empty-5x5-v0", "MiniGrid-LavaGapS5-v0"):
        kw = {"level": level, "horizon": 10, "observation": "state"}
        out.append((level.removeprefix("MiniGrid-"), {"id": "rl_suite/MiniGridFiniteHorizon-v0", **kw}))
    return out


#: ε values at which sample complexity is measured (``--tolerances``).
TOLERANCES = [0.0, 0.01]


@functools.cache
def evaluator_of(spec_items: tuple[tuple[str, Any], ...]) -> Evaluator:
    """The suite's exact evaluator of one MDP (built once per MDP and process)."""
    return make_evaluator(gym.make(**dict(spec_items)))


class Found:
    """The first step at which the policy was within each ε (``inf`` until then)."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.steps = {eps: math.inf for eps in TOLERANCES}

    def check(self, agent: Any, step: int) -> bool:
        """Evaluate ``agent`` at ``step``; ``True`` while some ε is still unreached."""
        result = self.evaluator(agent)
        for eps, at in self.steps.items():
            if at == math.inf and result.within(eps):
                self.steps[eps] = step
        return any(v == math.inf for v in self.steps.values())


def sqirl_sample_complexity(spec: dict[str, Any], k: int, budget: int, seed: int) -> dict[float, float]:
    env = gym.make(**spec)
    horizon = env.unwrapped.horizon
    agent = SQIRL(env, {"planning_depth": k, "episodes_per_timestep": 1, "restart": True}, seed=seed)
    found = Found(evaluator_of(tuple(spec.items())))

    def check(a: SQIRL, info: dict) -> bool:
        return a.num_timesteps % horizon != 0 or found.check(a, a.num_timesteps)

    agent.learn(budget, callback=check)
    return found.steps


class StepPolicy:
    """The policy API of the suite's agents (``policy_actions``) on an SB3 model trained on
    ``one-hot(state) ⊕ one-hot(step)`` observations (what the evaluator reads; no special case)."""

    def __init__(self, model: Any, probe: StepObservation) -> None:
        self.model, self.probe = model, probe

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        s = np.asarray(observations, dtype=np.int64).reshape(-1)
        actions, _ = self.model.predict(self.probe.encode(s, np.full(s.size, h)), deterministic=True)
        return np.asarray(actions, dtype=np.int64).reshape(-1)


def sb3_sample_complexity(
    spec: dict[str, Any], algo: str, budget: int, every: int, seed: int
) -> dict[float, float]:
    from stable_baselines3 import DQN as SB3DQN
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv

    probe = StepObservation(gym.make(**spec))
    n_envs = 8 if algo == "ppo" else 4
    vec = DummyVecEnv([lambda: StepObservation(gym.make(**spec))] * n_envs)
    cls, hp = (SB3PPO, PPO) if algo == "ppo" else (SB3DQN, DQN)
    model = cls("MlpPolicy", vec, seed=seed, device="cpu", **hp)
    found = Found(evaluator_of(tuple(spec.items())))
    policy = StepPolicy(model, probe)

    class Check(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next = every

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next:
                return True
            self.next += every
            return found.check(policy, self.num_timesteps)

    model.learn(budget, callback=Check())
    return found.steps


def rho(x: list[float], y: list[float]) -> tuple[float, int]:
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
    if len(pairs) < 3:
        return math.nan, len(pairs)
    r = spearmanr([math.log(a) for a, _ in pairs], [math.log(b) for _, b in pairs]).statistic
    return float(r), len(pairs)


def median(values: list[float]) -> float:
    """Median over seeds; ``inf`` (unsolved) sorts last, so a majority of unsolved seeds gives ``inf``."""
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def rho_censored(x: list[float], y: list[float]) -> float:
    """Spearman ρ over every instance, an unsolved run ranked last (tied) — censoring at the budget."""
    big = 1e300
    r = spearmanr([a if math.isfinite(a) else big for a in x], [b if math.isfinite(b) else big for b in y])
    return float(r.statistic)


def study(job: tuple[str, dict[str, Any], argparse.Namespace]) -> dict[str, Any]:
    """min_k, the proxy bound and the three sample complexities (per ε) of one MDP."""
    label, spec, args = job
    torch.set_num_threads(1)
    TOLERANCES[:] = sorted(args.tolerances)
    base = gym.make(**spec).unwrapped
    P, R, rho0 = base.model()
    mk = min_k(P, R, rho0, max_k=5)
    bound, _ = simple_effective_horizon(P, R, rho0, max_k=5)
    seeds = range(args.seed, args.seed + args.seeds)
    sqs: list[dict[float, float]] = []
    for seed in seeds:
        best = {eps: math.inf for eps in TOLERANCES}
        for k in (3, 2, 1):  # the best k; a later k only has to beat the best so far (k=3 >= most min_k)
            worst = max(best.values())
            budget = args.sqirl_budget if worst == math.inf else int(worst)
            got = sqirl_sample_complexity(spec, k, budget, seed)
            best = {eps: min(best[eps], got[eps]) for eps in TOLERANCES}
        sqs.append(best)
    ppos = [sb3_sample_complexity(spec, "ppo", args.ppo_budget, args.check_every, s) for s in seeds]
    dqns = [sb3_sample_complexity(spec, "dqn", args.dqn_budget, args.check_every, s) for s in seeds]
    out: dict[str, Any] = {"mdp": label, "min_k": mk, "bound": bound, "by_eps": {}}
    for eps in TOLERANCES:
        row = {
            "sqirl": median([x[eps] for x in sqs]),
            "ppo": median([x[eps] for x in ppos]),
            "dqn": median([x[eps] for x in dqns]),
        }
        out["by_eps"][str(eps)] = row
        print(
            f"{label:32s} eps={eps:g} min_k={mk} H={bound:.3g} "
            + " ".join(f"{k}={v}" for k, v in row.items()),
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 lure MDPs + 2 MiniGrid levels")
    parser.add_argument("--sqirl-budget", type=int, default=50_000)
    parser.add_argument("--ppo-budget", type=int, default=40_000)
    parser.add_argument("--dqn-budget", type=int, default=20_000)
    parser.add_argument("--check-every", type=int, default=500, help="env steps between PPO/DQN checks")
    parser.add_argument("--workers", type=int, default=1, help="MDPs studied in parallel (processes)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per agent and MDP (the median is used)")
    parser.add_argument("--max-depth", type=int, default=4, help="largest lure depth of the grid")
    parser.add_argument("--actions", type=str, default="2,3,4", help="action counts of the grid")
    parser.add_argument(
        "--tolerances",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[0.0, 0.01],
        help="ε values, comma-separated: solved when within ε·(V* - V(uniform)) of V* (0: exactly optimal)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/sqirl_correlation"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    jobs = [
        (label, spec, args)
        for label, spec in instances(
            args.quick, args.max_depth, tuple(int(a) for a in args.actions.split(","))
        )
    ]
    if args.workers > 1:
        from multiprocessing import Pool

        with Pool(args.workers) as pool:
            rows = pool.map(study, jobs, chunksize=1)
    else:
        rows = [study(job) for job in jobs]
    wall = time.perf_counter() - t0

    def fmt(x: Any) -> str:
        return (
            "none≤5"
            if x is None
            else ("inf" if x == math.inf else f"{x:.3g}" if isinstance(x, float) else str(x))
        )

    bound = [math.exp(r["bound"]) if math.isfinite(r["bound"]) else math.inf for r in rows]
    stats: dict[str, dict[str, Any]] = {}
    for eps in sorted(args.tolerances):
        key = str(eps)
        print(f"\n### ε = {eps:g}\n")
        print("| MDP | min_k | simple H bound (proxy) | SQIRL | PPO | DQN |\n|---|---|---|---|---|---|")
        for r in rows:
            cells = [r["mdp"], fmt(r["min_k"]), fmt(r["bound"])]
            cells += [fmt(r["by_eps"][key][c]) for c in ("sqirl", "ppo", "dqn")]
            print("| " + " | ".join(cells) + " |")
        cols = {c: [r["by_eps"][key][c] for r in rows] for c in ("sqirl", "ppo", "dqn")}
        solved = {c: sum(math.isfinite(x) for x in v) for c, v in cols.items()}
        print("\nsolved: " + ", ".join(f"{c.upper()} {solved[c]}/{len(rows)}" for c in cols))
        print(
            "\n| pair (log sample complexity) | Spearman ρ (both solved) | n | ρ (unsolved ranked last) |"
            "\n|---|---|---|---|"
        )
        stats[key] = {}
        for name, x, y in [
            ("SQIRL vs PPO", cols["sqirl"], cols["ppo"]),
            ("SQIRL vs DQN", cols["sqirl"], cols["dqn"]),
            ("PPO vs DQN", cols["ppo"], cols["dqn"]),
            ("simple H bound vs SQIRL", bound, cols["sqirl"]),
            ("simple H bound vs PPO", bound, cols["ppo"]),
            ("simple H bound vs DQN", bound, cols["dqn"]),
        ]:
            r, n = rho(x, y)
            rc = rho_censored(x, y)
            stats[key][name] = {"rho": r, "n": n, "rho_censored": rc}
            print(f"| {name} | {r:.2f} | {n} | {rc:.2f} |")
    print(f"\nwall time {wall:.0f} s (1 thread)")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps({"rows": rows, "spearman": stats, "wall_s": wall}, default=str)
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    eps = max(args.tolerances)
    cols = {c: [r["by_eps"][str(eps)][c] for r in rows] for c in ("sqirl", "ppo", "dqn")}
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for other, marker in (("ppo", "o"), ("dqn", "s")):
        pts = [
            (a, b)
            for a, b in zip(cols["sqirl"], cols[other], strict=True)
            if math.isfinite(a) and math.isfinite(b)
        ]
        if pts:
            ax.scatter(
                *zip(*pts, strict=True),
                marker=marker,
                label=f"{other.upper()} (ρ={stats[str(eps)][f'SQIRL vs {other.upper()}']['rho']:.2f})",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("SQIRL sample complexity (env steps)")
    ax.set_ylabel("PPO / DQN sample complexity (env steps)")
    ax.set_title(
        "Steps to an optimal greedy policy"
        if eps == 0
        else f"Steps to a greedy policy within {eps:g}·(V* − V_unif) of V*"
    )
    ax.legend()
    fig.tight_layout()
    path = args.out / "scatter.png"
    fig.savefig(path, dpi=120)
    print(f"scatter plot: {path}")


if __name__ == "__main__":
    main()
