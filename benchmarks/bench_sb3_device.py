"""SB3 through rl_suite's runner on each available torch device: throughput, peak memory, exact regret.

    python benchmarks/bench_sb3_device.py                 # PPO, 20 000 steps, cpu (+ cuda when present)
    python benchmarks/bench_sb3_device.py --agent dqn --steps 5000

Every row is one ``run_trial`` on ``rl_suite/LinearContextualBandit-v0`` (d=10, K=10): the same run folder,
regret recorder and summary as any other agent, so the table reads the summary's ``steps_per_s``,
``peak_rss_mb`` and ``peak_cuda_memory_mb`` and the exact ``cumulative_regret``. Small MLP policies on a
bandit are launch-bound, so expect CUDA to be *slower* than CPU here; the row exists to show the torch
path runs on the GPU and what it costs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import tempfile

import torch

from rl_suite.runner import run_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="ppo", choices=["ppo", "a2c", "dqn"])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="run folder parent (default: a temp dir)")
    args = parser.parse_args()

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    out = args.out or tempfile.mkdtemp(prefix="bench_sb3_")
    rows = []
    for device in devices:
        result = run_trial(
            {
                "env": {"id": "rl_suite/LinearContextualBandit-v0", "dim": 10, "n_arms": 10},
                "agent": {"name": args.agent},
                "seed": args.seed,
                "total_steps": args.steps,
                "device": device,
                "out": out,
            }
        )
        s = result.summary
        rows.append(
            (
                device,
                s["steps_done"],
                s["steps_per_s"],
                s["peak_rss_mb"],
                s.get("peak_cuda_memory_mb"),
                s["cumulative_regret"],
                s["status"],
            )
        )
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    print(f"\n{args.agent} on LinearContextualBandit-v0 (d=10, K=10), torch {torch.__version__}, {name}\n")
    print("| device | steps | steps/s | peak RSS (MB) | peak CUDA memory (MB) | cumulative regret | status |")
    print("|---|---|---|---|---|---|---|")
    for device, steps, sps, rss, cuda, regret, status in rows:
        cuda_s = "-" if cuda is None else f"{cuda:.1f}"
        print(f"| {device} | {steps} | {sps:,.0f} | {rss:.0f} | {cuda_s} | {regret:.1f} | {status} |")


if __name__ == "__main__":
    main()
