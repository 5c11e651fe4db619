"""Is a trained agent's greedy policy optimal? Exact evaluation of run folders on finite-model envs.

    python benchmarks/eval_greedy_policy.py runs/minigrid_sticky/*

For every run folder: rebuild the env from ``config.yaml``, load the agent from the last checkpoint, read
its deterministic action at every (step, model state) — through the observation the env shows for that
state, so a sticky env's hidden previous action is handled — and evaluate that non-stationary policy
exactly with ``env.policy_value`` (rl_suite.exact.tabular). Prints a markdown table: greedy value, V*,
regret of the greedy policy and whether it is optimal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.config import agent_class
from rl_suite.runner import latest_checkpoint
from rl_suite.store import read_run


def greedy_table(agent: object, base: object) -> np.ndarray:
    """``(H, S)`` deterministic actions of ``agent`` on every model state of ``base``."""
    H, S = base.horizon, base.n_states
    table = np.zeros((H, S), dtype=np.int64)
    for h in range(H):
        obs = [base._observe(s, h) for s in range(S)]
        if hasattr(agent, "greedy_actions"):  # SQIRL: a batch at step h
            table[h] = agent.greedy_actions(np.stack(obs), h)
        elif hasattr(agent, "actions") and hasattr(agent, "sequences"):  # GORP: open loop
            table[h] = agent.actions[h]
        else:
            if hasattr(agent, "step_h"):
                agent.step_h[0] = h
            table[h] = [int(agent.predict(o, deterministic=True)) for o in obs]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    print("| run | agent | seed | steps | greedy value | V* | greedy regret | optimal |")
    print("|---|---|---|---|---|---|---|---|")
    for path in args.runs:
        record = read_run(path)
        cfg = record.config()
        env_cfg = dict(cfg["env"])
        env = gym.make(env_cfg.pop("id"), **env_cfg)
        ckpt = latest_checkpoint(path)
        if ckpt is None:
            print(f"{path}: no checkpoint", file=sys.stderr)
            continue
        agent = agent_class(cfg["agent"]["name"]).load(ckpt / "agent.ckpt", env)
        base = env.unwrapped
        value = base.policy_value(greedy_table(agent, base))
        v_star = base.optimal_value()
        ok = value >= v_star - 1e-6
        steps = int(ckpt.name.removeprefix("step-"))
        print(
            f"| {path.name} | {cfg['agent']['name']} | {cfg['seed']} | {steps} "
            f"| {value:.4f} | {v_star:.4f} | {v_star - value:.4f} | {'yes' if ok else 'no'} |"
        )


if __name__ == "__main__":
    main()
