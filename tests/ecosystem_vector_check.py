"""Run registered env ids under one vectorisation mode; print ``ok <id> <seconds>`` as each one passes.

Used by ``tests/test_ecosystem.py`` as a subprocess (a hang then fails the test on its timeout instead of
blocking the test session). Modes: ``sync``, ``async-fork``, ``async-forkserver``, ``async-spawn`` (Gymnasium
``make_vec`` with 2 sub-envs) and ``sb3-subproc`` (SB3's ``SubprocVecEnv``, its default start method).
Each case resets with a seed and takes 3 steps of sampled actions from the batched action space.

    python tests/ecosystem_vector_check.py MODE [ENV_ID ...]
"""

from __future__ import annotations

import sys
import time


def check(mode: str, env_id: str, steps: int = 3) -> None:
    import gymnasium as gym
    import numpy as np

    target = f"rl_suite:{env_id}"  # children started by spawn/forkserver import rl_suite themselves
    if mode == "sb3-subproc":
        from stable_baselines3.common.vec_env import SubprocVecEnv

        venv = SubprocVecEnv([lambda: gym.make(target)] * 2)
        venv.seed(0)
        venv.reset()
        space = venv.action_space
        space.seed(0)
        for _ in range(steps):
            _, _, _, infos = venv.step(np.stack([space.sample() for _ in range(2)]))
            assert all("regret" in info for info in infos), infos
        venv.close()
        return
    if mode == "sync":
        envs = gym.make_vec(target, num_envs=2, vectorization_mode="sync")
    else:
        context = mode.removeprefix("async-")
        kwargs = {"context": context}
        envs = gym.make_vec(target, num_envs=2, vectorization_mode="async", vector_kwargs=kwargs)
    envs.action_space.seed(0)
    envs.reset(seed=0)
    seen = 0
    for _ in range(steps):  # (a step after an episode's end is the autoreset: no regret in its info)
        seen += "regret" in envs.step(envs.action_space.sample())[4]
    assert seen, f"{env_id}: no step reported a regret"
    envs.close()


def main(argv: list[str]) -> None:
    from rl_suite import registry

    mode, ids = argv[0], argv[1:] or registry.env_ids()
    if mode in ("async-forkserver", "sb3-subproc"):
        # The fork server imports these once (no torch op runs there); its children start without imports.
        import multiprocessing

        modules = {e.entry_point.partition(":")[0] for e in registry.ENVS}
        multiprocessing.set_forkserver_preload(["torch", "stable_baselines3", "rl_suite", *sorted(modules)])
    for env_id in ids:
        t = time.perf_counter()
        check(mode, env_id)
        print(f"ok {env_id} {time.perf_counter() - t:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
