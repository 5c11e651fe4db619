"""Regenerate the regret plots of the env pages: ``docs/assets/plots/<env>.png``.

For every registered env id, two or three agents that support its family train for a small budget
(2 seeds each) with :func:`rl_suite.runner.run_trial` into a temporary folder, and
:func:`rl_suite.compare.compare_runs` draws their cumulative-regret curves with bootstrap bands. An agent's
settings come from its preset ``configs/<agent>__<family>.yaml`` where one exists; the env takes the arguments
of the first of those presets written for the same id (the same for every agent of the plot), else its
defaults.

    python docs/_scripts/make_plots.py                # every env (about 3 minutes on 2 cores)
    python docs/_scripts/make_plots.py --only Tiger   # the ids containing "Tiger"

The plots are committed; the docs build (and ``tests/test_docs.py``) only reads them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLOTS = ROOT / "docs" / "assets" / "plots"

#: Agents per family (each supported by the family in the registry), first choice first.
AGENTS: dict[str, tuple[str, ...]] = {
    "linear_bandit": ("linucb", "lin-ts", "epsilon-greedy"),
    "multi_armed_bandit": ("ucb1", "bernoulli-ts", "epsilon-greedy"),
    "constrained_mab": ("opb", "ucb1", "epsilon-greedy"),
    "constrained_linear": ("oplb", "linucb", "epsilon-greedy"),
    "safe_linear": ("safe-linucb", "linucb", "epsilon-greedy"),
    "solver_tuning": ("tsallis-inf", "ucb1", "fixed-arm"),
    "linear_mdp": ("lsvi-ucb", "eps-lsvi", "ucbvi"),
    "block_mdp": ("lsvi-ucb", "eps-lsvi"),
    "tabular_mdp": ("ucbvi", "gorp", "mdp-oracle"),
    "pomdp": ("window-ucbvi", "belief-planner"),
    "minigrid": ("gorp", "sqirl"),
    "rlhf": ("rebel", "online-dpo"),
    "rlhf_token": ("a2c", "ppo"),
}

#: Steps per run, by family (small: the plots show the shape of the curves, not a benchmark).
BUDGET: dict[str, int] = {
    "linear_bandit": 2000,
    "multi_armed_bandit": 2000,
    "constrained_mab": 1000,
    "constrained_linear": 1000,
    "safe_linear": 1000,
    "solver_tuning": 200,
    "linear_mdp": 2000,
    "block_mdp": 5000,
    "tabular_mdp": 4000,
    "pomdp": 2000,
    "minigrid": 2000,
    "rlhf": 300,
    "rlhf_token": 1000,
}

#: Env arguments that keep a run small, by env id (applied over the defaults or the preset).
ENV_OVERRIDES: dict[str, dict[str, Any]] = {
    "rl_suite/SORTuning-v0": {"horizon": 200},
    "rl_suite/SSORCGTuning-v0": {"horizon": 200},
    "rl_suite/MiniGridFiniteHorizon-v0": {"level": "MiniGrid-Empty-5x5-v0", "horizon": 10},
}

SEEDS = (0, 1)


def slug(env_id: str) -> str:
    """The file name of an env's page and plot: ``rl_suite/Tiger-v0`` -> ``Tiger-v0``."""
    return env_id.split("/", 1)[-1]


def load_preset(agent: str, family: str) -> dict[str, Any]:
    """The preset ``configs/<agent>__<family>.yaml`` ({} when there is none)."""
    preset = ROOT / "configs" / f"{agent}__{family}.yaml"
    return yaml.safe_load(preset.read_text(encoding="utf-8")) if preset.exists() else {}


def env_section(env_id: str, family: str, agents: list[str]) -> dict[str, Any]:
    """One env config for every agent of a plot (one panel): the first same-id preset's, or the defaults."""
    from rl_suite import registry

    # The id's fixed constructor arguments, spelled out: a run config filled from the class signature's
    # defaults would otherwise override them (rl_suite.config.resolve, reported: TaxiFiniteHorizon-v0
    # trains on FrozenLake without this).
    env: dict[str, Any] = {"id": env_id, **dict(registry.env_entry(env_id).kwargs)}
    for agent in agents:
        preset_env = load_preset(agent, family).get("env", {})
        if preset_env.get("id") == env_id:
            env.update(preset_env)
            break
    env.update(ENV_OVERRIDES.get(env_id, {}))
    return env


def run_config(env: dict[str, Any], family: str, agent: str, seed: int, out: str) -> dict[str, Any]:
    """One run's config: the agent's preset settings (or its defaults) on ``env``."""
    settings = {k: v for k, v in load_preset(agent, family).get("agent", {}).items() if k != "name"}
    return {
        "env": dict(env),
        "agent": {"name": agent, **settings},
        "seed": seed,
        "total_steps": BUDGET[family],
        "out": out,
    }


def plot_env(env_id: str, family: str, agents: list[str], tmp: str) -> str:
    """Train ``agents`` on ``env_id`` and write its plot; returns a one-line report."""
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # torch agents on the CPU: same plots everywhere
    from rl_suite.compare import compare_runs
    from rl_suite.runner import run_trial

    start = time.perf_counter()
    runs = Path(tmp) / slug(env_id)
    done: list[str] = []
    env = env_section(env_id, family, agents)
    for agent in agents:
        try:
            for seed in SEEDS:
                run_trial(run_config(env, family, agent, seed, str(runs)))
            done.append(agent)
        except Exception as exc:  # a failing agent is reported and left out of the plot
            print(f"  {env_id} {agent}: {type(exc).__name__}: {exc}", file=sys.stderr)
    if not done:
        return f"{env_id}: no agent ran"
    report_dir = Path(tmp) / f"report-{slug(env_id)}"
    compare_runs([runs], report_dir, reps=200)
    shutil.copyfile(report_dir / "regret.png", PLOTS / f"{slug(env_id)}.png")
    return f"{env_id}: {', '.join(done)} in {time.perf_counter() - start:.1f} s"


def main() -> None:
    """Regenerate every plot (or those matching ``--only``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only env ids containing this string")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    from rl_suite import registry

    PLOTS.mkdir(parents=True, exist_ok=True)
    jobs = []
    for entry in registry.ENVS:
        if args.only not in entry.id:
            continue
        agents = [a for a in AGENTS[entry.family] if entry.family in registry.agent_entry(a).families]
        jobs.append((entry.id, entry.family, agents[:3]))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(plot_env, *job, tmp) for job in jobs]
        for fut in futures:
            print(fut.result(), flush=True)
    print(f"{len(jobs)} plots in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
