"""Overhead of exact learning curves: wall time of a run with ``eval_every`` = 1 % of the budget vs without.

    OMP_NUM_THREADS=1 python benchmarks/bench_eval_overhead.py            # lure MDP and Taxi, UCBVI + SQIRL

Each case trains the same (env, agent, seed) twice through :func:`rl_suite.runner.run_trial` — once plain,
once with ``eval_every = total_steps // 100`` (100 exact evaluations) — and reports process CPU times (best
of ``--repeats``; CPU time, because wall time on a shared machine swings by tens of percent between runs).
The overhead is the CPU time spent inside the evaluator (building it included) over the rest of the
evaluated run — measured within that one run, so load from other processes cancels — next to the plain
run's CPU time for reference (target ≤ 10 %). The metrics of the two runs are checked to be byte-identical
(evaluation never changes training).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import rl_suite.runner as runner  # noqa: E402
from rl_suite.runner import run_trial  # noqa: E402
from rl_suite.store import METRICS  # noqa: E402

CASES: list[tuple[str, dict[str, Any], dict[str, Any], int]] = [
    ("lure MDP (d=3)", {"id": "rl_suite/LayeredLureMDP-v0", "lure_depth": 3}, {"name": "ucbvi"}, 100_000),
    (
        "lure MDP (d=3)",
        {"id": "rl_suite/LayeredLureMDP-v0", "lure_depth": 3},
        {"name": "sqirl", "regressor": "tabular", "planning_depth": 3, "episodes_per_timestep": 32},
        100_000,
    ),
    ("Taxi", {"id": "rl_suite/TaxiFiniteHorizon-v0"}, {"name": "ucbvi"}, 100_000),
    ("Taxi", {"id": "rl_suite/TaxiFiniteHorizon-v0"}, {"name": "sqirl", "regressor": "tabular"}, 100_000),
]


#: CPU seconds spent in the evaluator during the current run.
SPENT = [0.0]


def _timed_evaluator(env: Any) -> Any:
    t0 = time.process_time()
    inner = MAKE(env)
    SPENT[0] += time.process_time() - t0

    def run(agent: Any) -> Any:
        t = time.process_time()
        try:
            return inner(agent)
        finally:
            SPENT[0] += time.process_time() - t

    return run


MAKE = runner.make_evaluator
runner.make_evaluator = _timed_evaluator


def timed(cfg: dict[str, Any], repeats: int) -> tuple[float, float, bytes]:
    """Best CPU time of the run, the evaluator's CPU time in that run, and the run's metrics."""
    best, spent, metrics = float("inf"), 0.0, b""
    for _ in range(repeats):
        SPENT[0] = 0.0
        t0 = time.process_time()
        result = run_trial(cfg)
        total = time.process_time() - t0
        if total < best:
            best, spent = total, SPENT[0]
        metrics = (result.path / METRICS).read_bytes()
    return best, spent, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(
        "| env | agent | steps | eval_every | evaluations | plain run CPU (s) | evaluated run CPU (s) "
        "| of which evaluation (s) | overhead |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, env, agent, steps in CASES:
            cfg = {
                "env": env,
                "agent": agent,
                "seed": 0,
                "total_steps": steps,
                "out": str(Path(tmp) / "runs"),
            }
            every = steps // 100
            plain, _, a = timed(cfg, args.repeats)
            evaluated, spent, b = timed({**cfg, "eval_every": every}, args.repeats)
            assert a == b, "evaluation changed the training stream"
            print(
                f"| {name} | {agent['name']} | {steps} | {every} | {steps // every} | {plain:.2f} "
                f"| {evaluated:.2f} | {spent:.3f} | {spent / (evaluated - spent):.1%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
