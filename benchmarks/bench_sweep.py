"""Sweep wall time: per-seed processes against seed-batched cells, one worker against two, Ray against local.

Measured side by side in one run (every sweep into a fresh temp folder, BLAS single-threaded):

- ``quickstart``: ``configs/sweeps/quickstart.yaml`` (4 linear-bandit agents x 5 seeds x 5,000 steps) on 2
  workers, as sweeps ran before cells — one pool task per run — against seed-batched cells
  (target: >= 3x faster);
- ``grid``: the same 4 agents x 10 seeds x 20,000 steps on 1 worker and on 2 (target: 2 workers >= 1.8x);
- ``ray``: both sweeps on the Ray backend (a local Ray started by the sweep, 2 workers) against the local
  pool's 2 workers (target: Ray <= 1.5x the local wall time; Ray's start-up is included).

Times are the best of ``--repeats`` rounds, each round running every sweep once. ``--quick`` shrinks the
grid to 5,000 steps and one round (a few minutes on 2 cores); ``--no-ray`` leaves Ray out. The machine's
load, and how many cores two busy processes get on it, are printed: on a shared machine the 2-worker
ratios are capped by what it lends.

    OMP_NUM_THREADS=1 python benchmarks/bench_sweep.py [--quick] [--no-ray]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("RL_SUITE_QUIET", "1")

import argparse
import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rl_suite.sweep import SweepResult, load_sweep, plan, run_sweep

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "configs" / "sweeps" / "quickstart.yaml"


def per_seed_processes(path: Path, overrides: list[str], workers: int) -> None:
    """The sweep as it ran before cells: one pool task (``execute_job``) per run, spawn context."""
    from rl_suite.sweep import execute_job

    jobs = plan(load_sweep(path, overrides).runs())
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        outcomes = list(pool.map(execute_job, jobs))
    assert all(o.status == "completed" for o in outcomes), [o.error for o in outcomes if o.error]


def cells(path: Path, overrides: list[str], workers: int, backend: str = "local") -> None:
    """The sweep as ``rl-suite sweep`` runs it now (seed-batched cells)."""
    result: SweepResult = run_sweep(load_sweep(path, overrides), backend=backend, workers=workers)
    assert result.ok, [o.error for o in result.outcomes if o.error]


def timed(fn: Callable[[list[str]], None], overrides: list[str]) -> float:
    """Wall time of one sweep, written into a fresh folder."""
    tmp = tempfile.mkdtemp(prefix="bench_sweep")
    try:
        start = time.perf_counter()
        fn([*overrides, f"out={tmp}/runs"])
        return time.perf_counter() - start
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _spin(_: int) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(5_000_000):
        x += i
    return time.perf_counter() - start


def parallel_capacity() -> float:
    """How many cores two busy processes get here: 2.0 on a quiet 2-core machine, ~1 when it is shared."""
    alone = _spin(0)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        both = pool.map(_spin, [0, 1])
    return 2 * alone / max(both)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="grid of 5,000 steps, one repeat")
    parser.add_argument("--no-ray", action="store_true", help="leave the Ray backend out")
    parser.add_argument("--repeats", type=int, default=None, help="best of N [3; --quick: 1]")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    grid = ["seeds=0-9", f"total_steps={5000 if args.quick else 20000}"]
    ray = not args.no_ray
    if ray:
        try:
            import ray as _ray  # noqa: F401
        except ImportError:
            print('Ray not installed (pip install -e ".[ray]"): Ray rows left out')
            ray = False

    load = os.getloadavg()[0]
    capacity = parallel_capacity()
    print(
        f"cores: {os.cpu_count()}, load average at start: {load:.2f}; two busy processes get {capacity:.2f} "
        "cores (2.0 on a quiet 2-core machine; below that, the 2-worker ratios are capped by the machine)"
    )
    sweeps: list[tuple[str, Callable[[list[str]], None], list[str]]] = [
        ("quickstart, per-seed processes, 2 workers", lambda o: per_seed_processes(QUICKSTART, o, 2), []),
        ("quickstart, cells, 2 workers", lambda o: cells(QUICKSTART, o, 2), []),
        ("grid, cells, 1 worker", lambda o: cells(QUICKSTART, o, 1), grid),
        ("grid, cells, 2 workers", lambda o: cells(QUICKSTART, o, 2), grid),
    ]
    if ray:
        sweeps += [
            ("quickstart, ray, 2 workers", lambda o: cells(QUICKSTART, o, 2, "ray"), []),
            ("grid, ray, 2 workers", lambda o: cells(QUICKSTART, o, 2, "ray"), grid),
        ]
    # Interleaved (every sweep once, then again), so that a change of load hits all of them alike.
    times: dict[str, list[float]] = {name: [] for name, _, _ in sweeps}
    for r in range(repeats):
        for name, fn, overrides in sweeps:
            times[name].append(timed(fn, overrides))
            print(f"  round {r + 1}: {name}: {times[name][-1]:.2f} s", flush=True)
    t = {name: min(values) for name, values in times.items()}
    steps = "5,000" if args.quick else "20,000"
    print(f"\nquickstart: 4 agents x 5 seeds x 5,000 steps; grid: 4 agents x 10 seeds x {steps} steps\n")
    print("| sweep | wall time (s) |\n|---|---:|")
    for name, seconds in t.items():
        print(f"| {name} | {seconds:.2f} |")

    checks = [
        (
            "quickstart: cells >= 3x faster than per-seed processes (2 workers)",
            t["quickstart, per-seed processes, 2 workers"] / t["quickstart, cells, 2 workers"],
            ">=",
            3.0,
        ),
        (
            "grid: 2 workers >= 1.8x one worker",
            t["grid, cells, 1 worker"] / t["grid, cells, 2 workers"],
            ">=",
            1.8,
        ),
    ]
    if ray:
        checks += [
            (
                "quickstart: ray <= 1.5x local (2 workers)",
                t["quickstart, ray, 2 workers"] / t["quickstart, cells, 2 workers"],
                "<=",
                1.5,
            ),
            (
                "grid: ray <= 1.5x local (2 workers)",
                t["grid, ray, 2 workers"] / t["grid, cells, 2 workers"],
                "<=",
                1.5,
            ),
        ]
    print("\n| target | ratio | goal | result |\n|---|---:|---:|---|")
    for name, ratio, op, goal in checks:
        ok = ratio >= goal if op == ">=" else ratio <= goal
        print(f"| {name} | {ratio:.2f}x | {op} {goal}x | {'PASS' if ok else 'FAIL'} |")
    end = os.getloadavg()[0]
    print(f"\nload average at end: {end:.2f}; two busy processes get {parallel_capacity():.2f} cores")


if __name__ == "__main__":
    main()
