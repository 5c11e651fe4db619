"""LinUCB speed: rl_suite against MABWiser and contextualbandits on one stream.

    python benchmarks/bench_linucb.py            # d=20, K=10, T=10 000 (about a minute)
    python benchmarks/bench_linucb.py --quick    # T=1 000 smoke run

Setting: ``rl_suite/LinearContextualBandit-v0`` with d=20, K=10, the disjoint model, Bernoulli rewards;
LinUCB with α=1, λ=1 everywhere. BLAS is pinned to one thread (set below, before numpy is imported):
at this size extra BLAS threads only add overhead.

The stream: contexts are recorded from the env (seeded), the mean reward of every arm is rebuilt from the
env's θ (and checked against the env's own ``info``), and one Bernoulli reward per arm and round is drawn
up front, so every implementation sees exactly the same rewards. All single-stream implementations play
the same K warm-up rounds (arm t in round t, so every arm has data; contextualbandits scores an arm
without data differently) and then break ties towards the lowest index, so they must choose the same arms —
the table checks that their cumulative regrets are equal.

Rows:
  1. our LinUCB loop on the stream, calling the agent's ``_select``/``_update`` (target ≥ 40 000 rounds/s
     and ≥ 25× MABWiser);
  2. our LinUCB through ``gym.make`` + ``RegretRecorder`` with ``agent.learn(T)`` (target ≥ 20 000
     rounds/s), also without the recorder and with the recorder plus CSV chunks through
     ``MetricsWriter`` — their difference is the cost of metric logging (target ≤ 10 % of the loop);
  3. our batched LinUCB, 64 streams in one array program: on 64 shifted copies of the stream timing only
     ``_select``/``_update`` (target ≥ 150 000 seed-rounds/s), and through the vector env with
     ``agent.learn`` (reported);
  4. MABWiser ``LearningPolicy.LinUCB`` (predict + partial_fit per round);
  5. contextualbandits ``online.LinUCB`` (method="sm", no intercept, float64; predict + partial_fit).
Peers are optional (``pip install rl_suite[bench]``); a missing one prints "not installed".
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rl_suite  # noqa: E402, F401  (registers the env ids)
from rl_suite.agents.linucb import LinUCB  # noqa: E402
from rl_suite.regret import RegretRecorder  # noqa: E402
from rl_suite.store import MetricsWriter  # noqa: E402

ENV_ID = "rl_suite/LinearContextualBandit-v0"
CONFIG = {"alpha": 1.0, "lam": 1.0, "tie_breaking": "first"}
BATCH = 64
REPEATS = 5  # timed runs per variant of rows 1-2, interleaved; the fastest counts (absorbs machine noise)


# --------------------------------------------------------------------------- the stream
@dataclass
class Stream:
    """T rounds of one env stream: contexts, every arm's mean and a drawn reward for every arm."""

    X: np.ndarray  # (T, K, d)
    means: np.ndarray  # (T, K)
    rewards: np.ndarray  # (T, K)

    def regret(self, actions: np.ndarray) -> float:
        """Cumulative pseudo-regret of playing ``actions`` (T,) — or (T, R) on shifted copies."""
        T = self.means.shape[0]
        if actions.ndim == 1:
            rows = np.arange(T)
            return float((self.means.max(axis=1) - self.means[rows, actions]).sum())
        t_idx = shifted_rows(T, actions.shape[1])
        m = self.means[t_idx]  # (T, R, K)
        gaps = m.max(axis=2) - np.take_along_axis(m, actions[..., None], axis=2)[..., 0]
        return float(gaps.sum(axis=0).mean())


def env_kwargs(T: int, d: int, K: int) -> dict:
    return {"dim": d, "n_arms": K, "model": "disjoint", "reward_noise": "bernoulli", "horizon": T}


def arm_means(base: gym.Env, obs: np.ndarray) -> np.ndarray:
    """Mean reward of every arm for the context ``obs`` (K, d), from the env's true parameter."""
    theta = np.asarray(base.theta)
    return np.sum(obs * theta, axis=-1)  # disjoint: θ (K, d); shared: θ (d,) against per-arm rows


def make_stream(T: int, d: int, K: int, seed: int) -> Stream:
    env = gym.make(ENV_ID, **env_kwargs(T, d, K))
    base = env.unwrapped
    obs, _ = env.reset(seed=seed)
    X, means = np.empty((T, K, d)), np.empty((T, K))
    for t in range(T):
        X[t], means[t] = obs, arm_means(base, obs)
        action = t % K
        obs, _, terminated, truncated, info = env.step(action)
        if not (
            np.isclose(info["expected_reward"], means[t, action])
            and np.isclose(info["optimal_value"], means[t].max())
        ):
            raise SystemExit(
                f"round {t}: the means rebuilt from env.unwrapped.theta disagree with the env's info "
                f"({means[t, action]} vs {info['expected_reward']}); update arm_means()"
            )
        if terminated or truncated:
            obs, _ = env.reset()
    rng = np.random.default_rng(seed + 1)
    rewards = (rng.random((T, K)) < means).astype(np.float64)
    return Stream(X, means, rewards)


def shifted_rows(T: int, R: int) -> np.ndarray:
    """(T, R) row indices: stream r starts ``r·T/R`` rounds into the recorded stream (wrapping)."""
    return (np.arange(T)[:, None] + (np.arange(R) * T) // R) % T


# --------------------------------------------------------------------------- our agent
def ours_on_stream(stream: Stream) -> tuple[float, np.ndarray]:
    T, K, d = stream.X.shape
    agent = LinUCB(gym.make(ENV_ID, **env_kwargs(T, d, K)), CONFIG)
    select, update = agent._select, agent._update
    X, rewards = stream.X[:, None], stream.rewards
    actions = np.empty(T, dtype=np.int64)
    warm = np.arange(K)[:, None]
    start = time.perf_counter()
    for t in range(T):
        obs = X[t]
        a = warm[t] if t < K else select(obs)
        update(obs, a, rewards[t, a])
        actions[t] = a[0]
    return time.perf_counter() - start, actions


def ours_batched_on_stream(stream: Stream, R: int) -> tuple[float, np.ndarray]:
    """R streams at once: stream r plays the recorded stream from round r·T/R on (wrapping)."""
    T, K, d = stream.X.shape
    env = gym.make_vec(ENV_ID, num_envs=R, vectorization_mode="vector_entry_point", **env_kwargs(T, d, K))
    agent = LinUCB(env, CONFIG)
    select, update = agent._select, agent._update
    t_idx, rows = shifted_rows(T, R), np.arange(R)
    actions = np.empty((T, R), dtype=np.int64)
    elapsed = 0.0
    for t in range(T):
        obs, rew = stream.X[t_idx[t]], stream.rewards[t_idx[t]]  # gathered outside the timed part
        start = time.perf_counter()
        a = np.full(R, t) if t < K else select(obs)
        update(obs, a, rew[rows, a])
        elapsed += time.perf_counter() - start
        actions[t] = a
    return elapsed, actions


def ours_through_env(
    T: int, d: int, K: int, seed: int, recorder: bool, csv: Path | None
) -> tuple[float, float]:
    """Seconds of ``agent.learn(T)`` on ``gym.make`` (± recorder, ± CSV chunks), and the recorded regret."""
    env = gym.make(ENV_ID, **env_kwargs(T, d, K))
    if recorder:
        env = RegretRecorder(env)
    agent = LinUCB(env, CONFIG, seed=seed)
    start = time.perf_counter()
    if csv is None:
        agent.learn(T)
    else:
        writer = MetricsWriter(csv, env.columns)
        chunk = 1000
        for done in range(0, T, chunk):
            agent.learn(min(chunk, T - done))
            writer.append(env.drain())
        writer.close()
    elapsed = time.perf_counter() - start
    return elapsed, (env.cumulative_regret if recorder else float("nan"))


def ours_batched_through_env(T: int, d: int, K: int, R: int, seed: int) -> tuple[float, float]:
    env = gym.make_vec(ENV_ID, num_envs=R, vectorization_mode="vector_entry_point", **env_kwargs(T, d, K))
    agent = LinUCB(env, CONFIG, seed=seed)
    total = np.zeros(R)

    def add(_agent: LinUCB, info: dict) -> None:
        np.add(total, info["regret"], out=total)

    start = time.perf_counter()
    agent.learn(T, callback=add)
    return time.perf_counter() - start, float(total.mean())


# --------------------------------------------------------------------------- peers
def mabwiser_on_stream(stream: Stream) -> tuple[float, np.ndarray]:
    from mabwiser.mab import MAB, LearningPolicy

    T, K, _ = stream.X.shape
    mab = MAB(arms=list(range(K)), learning_policy=LearningPolicy.LinUCB(alpha=1.0, l2_lambda=1.0), seed=0)
    actions = np.empty(T, dtype=np.int64)
    start = time.perf_counter()
    for t in range(T):
        x = stream.X[t, :1]  # the disjoint model's context: every row is the same
        a = t if t < K else int(mab.predict(x))
        if t == 0:
            mab.fit([a], [stream.rewards[t, a]], x)
        else:
            mab.partial_fit([a], [stream.rewards[t, a]], x)
        actions[t] = a
    return time.perf_counter() - start, actions


def contextualbandits_on_stream(stream: Stream) -> tuple[float, np.ndarray]:
    from contextualbandits.online import LinUCB as CBLinUCB

    T, K, _ = stream.X.shape
    policy = CBLinUCB(
        nchoices=K, alpha=1.0, lambda_=1.0, fit_intercept=False, use_float=False, method="sm", random_state=1
    )
    actions = np.empty(T, dtype=np.int64)
    start = time.perf_counter()
    for t in range(T):
        x = stream.X[t, :1]
        a = t if t < K else int(policy.predict(x)[0])
        fit = policy.fit if t == 0 else policy.partial_fit
        fit(x, np.array([a]), np.array([stream.rewards[t, a]]))
        actions[t] = a
    return time.perf_counter() - start, actions


# --------------------------------------------------------------------------- the table
def best_of(n: int, runs: dict[str, Callable[[], tuple[float, Any]]]) -> dict[str, tuple[float, Any]]:
    """Run every ``run() -> (seconds, result)`` n times, interleaved, and keep each one's fastest run."""
    best: dict[str, tuple[float, Any]] = {}
    for _ in range(n):
        for name, run in runs.items():
            result = run()
            if name not in best or result[0] < best[name][0]:
                best[name] = result
    return best


def check(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=10_000, help="rounds (default 10 000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: T=1 000, one timed run per row")
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--K", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    T = 1_000 if args.quick else args.T
    d, K, seed = args.d, args.K, args.seed
    reps = 1 if args.quick else REPEATS
    warnings.filterwarnings("ignore")

    stream = make_stream(T, d, K, seed)
    rows: list[list[str]] = []

    def rate(n: float, seconds: float) -> float:
        return n / seconds if seconds > 0 else float("inf")

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "metrics.csv"

        def with_csv() -> tuple[float, float]:
            csv.unlink(missing_ok=True)
            return ours_through_env(T, d, K, seed, recorder=True, csv=csv)

        best = best_of(
            reps,
            {
                "stream": lambda: ours_on_stream(stream),
                "plain": lambda: ours_through_env(T, d, K, seed, recorder=False, csv=None),
                "recorder": lambda: ours_through_env(T, d, K, seed, recorder=True, csv=None),
                "csv": with_csv,
            },
        )
    ours_s, ours_actions = best["stream"]
    ours_rate, ours_regret = rate(T, ours_s), stream.regret(ours_actions)
    plain_s, rec_s, csv_s = best["plain"][0], best["recorder"][0], best["csv"][0]
    env_regret = best["recorder"][1]
    logging_overhead = csv_s / plain_s - 1.0

    peers: dict[str, tuple[str, float | None, float | None, bool | None]] = {}
    for name, module, runner in (
        ("MABWiser LinUCB", "mabwiser", mabwiser_on_stream),
        ("contextualbandits online.LinUCB", "contextualbandits", contextualbandits_on_stream),
    ):
        if importlib.util.find_spec(module) is None:
            peers[name] = (module, None, None, None)
            continue
        seconds, actions = runner(stream)
        same = bool(np.array_equal(actions, ours_actions))
        peers[name] = (module, rate(T, seconds), stream.regret(actions), same)
    mab_rate = peers["MABWiser LinUCB"][1]

    batch_s, batch_actions = ours_batched_on_stream(stream, BATCH)
    batch_rate = rate(T * BATCH, batch_s)
    vec_s, vec_regret = ours_batched_through_env(T, d, K, BATCH, seed)
    vec_rate = rate(T * BATCH, vec_s)

    def ratio(r: float | None) -> str:
        return f"{r / mab_rate:.1f}x" if (r is not None and mab_rate) else "-"

    rows.append(
        [
            "1. rl_suite LinUCB, agent loop (1 stream)",
            f"{ours_rate:,.0f}",
            f"{1e6 / ours_rate:.1f}",
            ratio(ours_rate),
            f"{ours_regret:.2f}",
            "reference",
            ">= 40,000/s and >= 25x MABWiser: "
            + check(ours_rate >= 40_000 and (mab_rate is None or ours_rate >= 25 * mab_rate)),
        ]
    )
    rows.append(
        [
            "2. rl_suite LinUCB, gym.make + RegretRecorder, learn(T)",
            f"{rate(T, rec_s):,.0f}",
            f"{1e6 * rec_s / T:.1f}",
            ratio(rate(T, rec_s)),
            f"{env_regret:.2f}",
            "own env stream",
            ">= 20,000/s: " + check(rate(T, rec_s) >= 20_000),
        ]
    )
    rows.append(
        [
            "   2a. same, no recorder",
            f"{rate(T, plain_s):,.0f}",
            f"{1e6 * plain_s / T:.1f}",
            ratio(rate(T, plain_s)),
            "-",
            "-",
            "",
        ]
    )
    rows.append(
        [
            "   2b. same, recorder + MetricsWriter CSV (1000-step chunks)",
            f"{rate(T, csv_s):,.0f}",
            f"{1e6 * csv_s / T:.1f}",
            ratio(rate(T, csv_s)),
            "-",
            "-",
            f"logging {100 * logging_overhead:+.1f}% vs 2a (<= 10%): {check(logging_overhead <= 0.10)}",
        ]
    )
    rows.append(
        [
            f"3. rl_suite LinUCB batched, {BATCH} streams, agent loop",
            f"{batch_rate:,.0f} seed-rounds",
            f"{1e6 / batch_rate:.2f}",
            ratio(batch_rate),
            f"{stream.regret(batch_actions):.2f} (mean)",
            "-",
            ">= 150,000 seed-rounds/s: " + check(batch_rate >= 150_000),
        ]
    )
    rows.append(
        [
            f"   3a. batched, {BATCH} sub-envs of make_vec, learn(T)",
            f"{vec_rate:,.0f} seed-rounds",
            f"{1e6 / vec_rate:.2f}",
            ratio(vec_rate),
            f"{vec_regret:.2f} (mean)",
            "own env streams",
            "",
        ]
    )
    for i, (name, (module, r, regret, same)) in enumerate(peers.items(), start=4):
        if r is None:
            rows.append([f"{i}. {name}", "not installed", "-", "-", "-", "-", f"pip install {module}"])
            continue
        rows.append(
            [
                f"{i}. {name}",
                f"{r:,.0f}",
                f"{1e6 / r:.1f}",
                ratio(r),
                f"{regret:.2f}",
                "same arms: " + check(bool(same)),
                "",
            ]
        )

    header = [
        "implementation",
        "rounds/s",
        "µs/round",
        "vs MABWiser",
        "cum. regret",
        "same arms as 1",
        "target",
    ]
    print(f"\nLinUCB, d={d}, K={K}, T={T:,}, alpha=1, lam=1, Bernoulli rewards, OMP/OPENBLAS/MKL threads=1\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
