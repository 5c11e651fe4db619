"""Sweep wall time: per-seed processes against seed-batched cells, one worker against two, Ray against local.

Measured side by side in one run (every sweep into a fresh temp folder, BLAS single-threaded):

- ``quickstart``: ``configs/sweeps/quickstart.yaml`` (4 linear-bandit agents x 5 seeds x 5,000 steps) on 2
  workers, as sweeps ran before cells — one task per run in a pool of spawned processes — against
  seed-batched cells on this process and a forked worker (target: >= 3x faster);
- ``grid``: the same 4 agents x 10 seeds x 20,000 steps on 1 worker and on 2 (target: 2 workers >= 1.8x);
- ``ray``: both sweeps on the Ray backend with 2 workers against the local pool's 2 workers (target: Ray
  <= 1.5x the local wall time), twice: with a Ray the sweep starts and stops (its start-up included), and
  joining a Ray that is already running with ``--address`` (as a sweep joins a cluster; started once per
  round, outside the timing, and given one short sweep first, so that the timed ones are later jobs: Ray
  prestarts workers for a new head's first job only, and every later job starts worker processes of its
  own).

Every sweep runs in a fresh process, as from the CLI (only the sweep is timed): a process that has loaded
Ray spawns its local workers rather than forking them. Times are the best of ``--repeats`` rounds, each
round running every sweep once. ``--quick`` shrinks the grid to 5,000 steps and one round (a few minutes on
2 cores); ``--no-ray`` leaves Ray out. The machine's load, and how many cores two busy processes get on it,
are printed: on a shared machine the 2-worker ratios are capped by what it lends.

``--baseline-cli PATH`` adds the quickstart as another install's ``rl-suite`` runs it (e.g. a checkout of the
commit before seed-batched cells, installed in its own venv), against this checkout's CLI, both timed end to
end as a user runs them (interpreter start, imports, 2 workers, no progress bar), interleaved with the rest.

``--per-step`` measures instead what a cell costs per round, free of disk and of the machine's load: the
CPU time of one batch step of each quickstart cell (5 seeds, no run folders) against one step of one
seed alone, best of ``--repeats`` (default 5) runs of 2,000 steps.

    OMP_NUM_THREADS=1 python benchmarks/bench_sweep.py [--quick] [--no-ray] [--per-step] [--baseline-cli PATH]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("RL_SUITE_QUIET", "1")

import argparse
import importlib.util
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rl_suite.sweep import BackendOptions, SweepResult, load_sweep, plan, pool_start_method, run_sweep

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


def cells(path: Path, overrides: list[str], workers: int, backend: str = "local", address: str = "") -> None:
    """The sweep as ``rl-suite sweep`` runs it now (seed-batched cells); ``address``: join that Ray."""
    options = BackendOptions(address=address or None)
    result: SweepResult = run_sweep(
        load_sweep(path, overrides), backend=backend, workers=workers, options=options
    )
    assert result.ok, [o.error for o in result.outcomes if o.error]


def start_ray(workers: int) -> str:
    """A Ray head on this machine that the ``joined`` sweeps join, as ``--address`` joins a cluster."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    info = ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    return str(info.address_info["gcs_address"])


def stop_ray() -> None:
    """Shut down the Ray of :func:`start_ray`; the next "started by the sweep" rows start their own."""
    import ray

    ray.shutdown()


def measure(kind: str, overrides: list[str], address: str = "") -> float:
    """Wall time of one sweep into a fresh folder, in the process this runs in (see :func:`timed`)."""
    tmp = tempfile.mkdtemp(prefix="bench_sweep")
    try:
        start = time.perf_counter()
        run = [*overrides, f"out={tmp}/runs"]
        if kind == "per-seed":
            per_seed_processes(QUICKSTART, run, 2)
        else:
            workers = 1 if kind == "cells-1" else 2
            backend = "ray" if kind in ("ray", "joined") else "local"
            cells(QUICKSTART, run, workers, backend, address if kind == "joined" else "")
        return time.perf_counter() - start
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def timed(kind: str, overrides: list[str], address: str = "") -> float:
    """:func:`measure` in a fresh spawned process, as a sweep runs from the CLI.

    Each sweep gets a process of its own: one that has loaded Ray (or torch) spawns its local workers
    instead of forking them, so rows run after the Ray rows in one process would not be what a user gets.
    Only the sweep is timed, not the interpreter's start.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure, kind, overrides, address).result()


def cli(executable: str) -> float:
    """End-to-end wall time of ``<executable> sweep <quickstart> --workers 2 --quiet`` into a new folder."""
    tmp = tempfile.mkdtemp(prefix="bench_sweep")
    try:
        command = [executable, "sweep", str(QUICKSTART), "--workers", "2", "--quiet", "--out", f"{tmp}/runs"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise SystemExit(f"{executable} sweep failed: {last}")
        runs = len(list(Path(tmp, "runs").glob("*/summary.json")))
        if runs != 20:
            raise SystemExit(f"{executable} sweep wrote {runs} runs, not 20")
        return seconds
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


def per_step(repeats: int, steps: int = 2000) -> None:
    """CPU microseconds per step of each quickstart cell batched, and of its first seed alone."""
    from rl_suite.batched import batched_agent
    from rl_suite.config import RunConfig, agent_class, resolve
    from rl_suite.runner import make_env

    cells: dict[str, list[RunConfig]] = {}
    for cfg in load_sweep(QUICKSTART, []).runs():
        cells.setdefault(cfg.agent.name, []).append(resolve(cfg))
    print(f"CPU time per step, best of {repeats} runs of {steps:,} steps\n")
    print("| agent | batch of 5 seeds (us/step) | one seed alone (us/step) | batch / alone |")
    print("|---|---:|---:|---:|")
    for name, cfgs in cells.items():
        best = {"batch": float("inf"), "alone": float("inf")}
        for _ in range(repeats):
            batch = batched_agent(list(cfgs))
            alone = agent_class(name)(make_env(cfgs[0]), cfgs[0].agent.typed_settings, seed=cfgs[0].seed)
            for key, agent in (("batch", batch), ("alone", alone)):
                agent.learn(10)  # past the reset and first draws
                start = time.process_time()
                agent.learn(steps)
                best[key] = min(best[key], (time.process_time() - start) / steps * 1e6)
                agent.env.close()
        print(f"| {name} | {best['batch']:.1f} | {best['alone']:.1f} | {best['batch'] / best['alone']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="grid of 5,000 steps, one repeat")
    parser.add_argument("--no-ray", action="store_true", help="leave the Ray backend out")
    parser.add_argument("--per-step", action="store_true", help="CPU time per step of cells against one seed")
    parser.add_argument("--repeats", type=int, default=None, help="best of N [3; --quick: 1; --per-step: 5]")
    parser.add_argument("--baseline-cli", default=None, help="another install's rl-suite, for the quickstart")
    args = parser.parse_args()
    if args.per_step:
        per_step(args.repeats or 5)
        return
    repeats = args.repeats or (1 if args.quick else 3)
    grid = ["seeds=0-9", f"total_steps={5000 if args.quick else 20000}"]
    ray = not args.no_ray
    if ray and importlib.util.find_spec("ray") is None:  # not imported here: see timed()
        print('Ray not installed (pip install -e ".[ray]"): Ray rows left out')
        ray = False

    load = os.getloadavg()[0]
    capacity = parallel_capacity()
    print(
        f"cores: {os.cpu_count()}, load average at start: {load:.2f}; two busy processes get {capacity:.2f} "
        "cores (2.0 on a quiet 2-core machine; below that, the 2-worker ratios are capped by the machine); "
        f"the local pool's workers start by {pool_start_method()}"
    )
    sweeps: list[tuple[str, str, list[str]]] = [
        ("quickstart, per-seed processes, 2 workers", "per-seed", []),
        ("quickstart, cells, 2 workers", "cells-2", []),
        ("grid, cells, 1 worker", "cells-1", grid),
        ("grid, cells, 2 workers", "cells-2", grid),
    ]
    if args.baseline_cli:
        here = str(Path(sys.executable).with_name("rl-suite"))
        sweeps += [
            ("quickstart, baseline CLI end to end, 2 workers", f"cli:{args.baseline_cli}", []),
            ("quickstart, this checkout's CLI end to end, 2 workers", f"cli:{here}", []),
        ]
    if ray:
        sweeps += [
            ("quickstart, ray started by the sweep, 2 workers", "ray", []),
            ("grid, ray started by the sweep, 2 workers", "ray", grid),
            ("quickstart, ray already running, 2 workers", "joined", []),
            ("grid, ray already running, 2 workers", "joined", grid),
        ]
    # Interleaved (every sweep once, then again), so that a change of load hits all of them alike.
    times: dict[str, list[float]] = {name: [] for name, _, _ in sweeps}
    for r in range(repeats):
        address = ""
        for name, kind, overrides in sweeps:
            if kind == "joined" and not address:
                address = start_ray(2)
                # A cluster's later jobs, as users' sweeps mostly are: the workers a new head prestarts
                # go to its first job, and every later job starts its own (a finished job's are ended).
                timed("joined", ["seeds=0", "total_steps=10"], address)
            if kind.startswith("cli:"):
                times[name].append(cli(kind.removeprefix("cli:")))
            else:
                times[name].append(timed(kind, overrides, address))
            print(f"  round {r + 1}: {name}: {times[name][-1]:.2f} s", flush=True)
        if address:
            stop_ray()
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
    if args.baseline_cli:
        checks.append(
            (
                f"quickstart: this CLI >= 3x faster than {args.baseline_cli} (end to end)",
                t["quickstart, baseline CLI end to end, 2 workers"]
                / t["quickstart, this checkout's CLI end to end, 2 workers"],
                ">=",
                3.0,
            )
        )
    if ray:
        for sweep in ("quickstart", "grid"):
            for how in ("ray started by the sweep", "ray already running"):
                checks.append(
                    (
                        f"{sweep}: {how} <= 1.5x local (2 workers)",
                        t[f"{sweep}, {how}, 2 workers"] / t[f"{sweep}, cells, 2 workers"],
                        "<=",
                        1.5,
                    )
                )
    print("\n| target | ratio | goal | result |\n|---|---:|---:|---|")
    for name, ratio, op, goal in checks:
        ok = ratio >= goal if op == ">=" else ratio <= goal
        print(f"| {name} | {ratio:.2f}x | {op} {goal}x | {'PASS' if ok else 'FAIL'} |")
    end = os.getloadavg()[0]
    print(f"\nload average at end: {end:.2f}; two busy processes get {parallel_capacity():.2f} cores")


if __name__ == "__main__":
    main()
