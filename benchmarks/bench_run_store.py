"""What the run store's integrity costs: a full ``run_trial`` and a ``compare``, against another checkout.

The run store locks each run folder, checksums and fsyncs every checkpoint before publishing it, and
validates every record it reads (summary types, metrics steps, duplicates). This benchmark measures what
that adds, side by side in one run:

- ``run_trial`` of LinUCB on the linear bandit (d = 20, K = 10), T steps, a checkpoint every C steps;
- ``rl-suite compare`` over a quickstart-sized store (4 agents x 5 seeds x 5,000 steps).

With ``--baseline SRC`` (a checkout of an earlier rl_suite, e.g. ``git worktree add /tmp/head HEAD~1`` with
``envs``/``agents`` linked into its ``rl_suite/``) the same measurements run on that source in a
subprocess, and the table prints the ratio. Times are the best of ``--repeats``; BLAS single-threaded.

    OMP_NUM_THREADS=1 python benchmarks/bench_run_store.py --baseline /tmp/head
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AGENTS = ("linucb", "lin-ts", "oful", "epsilon-greedy")


def measure(T: int, every: int, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds for one run_trial and for one compare of a quickstart-sized store."""
    from rl_suite.compare import compare_runs
    from rl_suite.runner import run_trial

    env = {"id": "rl_suite/LinearContextualBandit-v0", "dim": 20, "n_arms": 10}
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for r in range(repeats):
            start = time.perf_counter()
            run_trial(
                {"env": env, "agent": {"name": "linucb"}, "total_steps": T, "checkpoint_every": every,
                 "seed": r, "out": f"{tmp}/trial"}
            )  # fmt: skip
            times.append(time.perf_counter() - start)
        out["run_trial_s"] = min(times)
        store = Path(tmp) / "store"
        for agent in AGENTS:
            for seed in range(5):
                run_trial(
                    {"env": {**env, "dim": 10}, "agent": {"name": agent}, "total_steps": 5000, "seed": seed,
                     "out": str(store)}
                )  # fmt: skip
        times = []
        for r in range(repeats):
            start = time.perf_counter()
            compare_runs([store], Path(tmp) / f"report{r}")
            times.append(time.perf_counter() - start)
        out["compare_s"] = min(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=20_000, help="steps of the timed run [20000]")
    parser.add_argument("--every", type=int, default=1000, help="steps between checkpoints [1000]")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None, help="source folder of the other rl_suite")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the baseline's own output
    args = parser.parse_args()
    ours = measure(args.T, args.every, args.repeats)
    if args.json:
        print(json.dumps(ours))
        return
    base = None
    if args.baseline is not None:
        cmd = [sys.executable, __file__, "--json", "--T", str(args.T), "--every", str(args.every)]
        cmd += ["--repeats", str(args.repeats)]
        env = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
        if proc.returncode != 0:
            sys.exit(f"baseline failed: {proc.stderr.strip().splitlines()[-1]}")
        base = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"run store cost (best of {args.repeats}; OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']})")
    print()
    print("| measurement | this checkout (s) | baseline (s) | ratio |")
    print("|---|---|---|---|")
    labels = {
        "run_trial_s": f"run_trial LinUCB d=20 K=10, T={args.T}, checkpoint every {args.every}",
        "compare_s": "compare of 4 agents x 5 seeds x 5,000 steps",
    }
    for key, label in labels.items():
        b = "-" if base is None else f"{base[key]:.3f}"
        ratio = "-" if base is None else f"{ours[key] / base[key]:.3f}"
        print(f"| {label} | {ours[key]:.3f} | {b} | {ratio} |")


if __name__ == "__main__":
    main()
