"""LSVI-UCB speed and regret: rl_suite against rlberry-scool's LSVIUCBAgent.

    python benchmarks/bench_lsvi_ucb.py --peer-python /path/to/venv/bin/python   # K = 1000 ours, 200 peer
    python benchmarks/bench_lsvi_ucb.py --quick

Instance: ``rl_suite/SimplexLinearMDP-v0`` (S=20, A=4, d=10, H=10, seed 0, expected rewards). rlberry-scool
pins gymnasium 0.29 and numba, so it lives in its own virtual environment
(``python -m venv peer && peer/bin/pip install rlberry-scool``): this script writes the instance (P, R,
features, Q*) to a file, runs the peer there in a subprocess on a minimal gymnasium-0.29 env built from
the same model, and measures the exact regret of the actions the peer took with the same Q*. Both run
LSVI-UCB with λ = 1, bonus scale 1 and γ = 1; ours pools the statistics (the env is stationary, as
rlberry assumes) and uses the finite-state sufficient statistics. rlberry's per-episode cost grows with
the episode index (it recomputes targets over all past transitions), so both are also timed at the
peer's K. Target: at least 100x faster than the peer with no worse regret.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rl_suite  # noqa: E402, F401  (registers the env ids)
from rl_suite.agents.lsvi_ucb import LSVIUCB  # noqa: E402

PEER = r"""
import json, sys, time
import numpy as np
import gymnasium as gym
from rlberry_scool.agents.linear import LSVIUCBAgent
from rlberry_scool.agents.features import FeatureMap

data = np.load(sys.argv[1]); K = int(sys.argv[2])
P, R, F, Q, H = data["P"], data["R"], data["features"], data["Q_star"], int(data["H"])
gaps = []

class Model(gym.Env):
    def __init__(self):
        self.observation_space = gym.spaces.Discrete(P.shape[0])
        self.action_space = gym.spaces.Discrete(P.shape[1])
    def reset(self, seed=None, options=None):
        super().reset(seed=seed); self.s, self.h = 0, 0
        return 0, {}
    def step(self, a):
        gaps.append(Q[self.h, self.s].max() - Q[self.h, self.s, a])
        r = float(R[self.s, a])
        self.s = int(self.np_random.choice(P.shape[2], p=P[self.s, a])); self.h += 1
        return self.s, r, False, self.h >= H, {}

class Feat(FeatureMap):
    def __init__(self, *args, **kwargs):
        self.shape = (F.shape[-1],)
    def map(self, observation, action):
        return F[observation, action]

env = Model(); env.reset(seed=0)
agent = LSVIUCBAgent(env, horizon=H, feature_map_fn=Feat, gamma=1.0, bonus_scale_factor=1.0, reg_factor=1.0)
start = time.perf_counter(); agent.fit(budget=K); wall = time.perf_counter() - start
print(json.dumps({"ms_per_episode": 1000 * wall / K, "regret": float(np.sum(gaps))}))
"""


def ours(K: int, seed: int = 0) -> tuple[float, float]:
    env = gym.make("rl_suite/SimplexLinearMDP-v0")
    agent = LSVIUCB(env, {"lam": 1.0, "beta": 1.0}, seed=seed)
    regret: list[float] = []
    start = time.perf_counter()
    agent.learn(K * env.unwrapped.horizon, callback=lambda _a, info: regret.append(info["regret"]))
    return 1000 * (time.perf_counter() - start) / K, float(np.sum(regret))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", default=os.environ.get("RLBERRY_PYTHON", "/tmp/rlbvenv/bin/python"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    K_ours, K_peer = (200, 50) if args.quick else (1000, 200)
    rows = []
    for K in sorted({K_peer, K_ours}):
        ms, reg = ours(K)
        rows.append((f"rl_suite LSVI-UCB (finite-state statistics, pooled), K={K}", ms, reg))
    peer_ms = None
    if Path(args.peer_python).exists():
        env = gym.make("rl_suite/SimplexLinearMDP-v0").unwrapped
        P, R, _ = env.model()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "instance.npz"
            np.savez(path, P=P[0], R=R[0], features=env.features, Q_star=env.Q_star, H=env.horizon)
            script = Path(tmp) / "peer.py"
            script.write_text(PEER)
            out = subprocess.run(
                [args.peer_python, str(script), str(path), str(K_peer)], capture_output=True, text=True
            )
        if out.returncode == 0:
            peer = json.loads(out.stdout.strip().splitlines()[-1])
            peer_ms = peer["ms_per_episode"]
            rows.append((f"rlberry-scool LSVIUCBAgent, K={K_peer}", peer_ms, peer["regret"]))
        else:
            rows.append(
                (f"rlberry-scool (failed: {out.stderr.strip().splitlines()[-1]})", float("nan"), float("nan"))
            )
    else:
        rows.append(("rlberry-scool (not installed: pass --peer-python)", float("nan"), float("nan")))
    print("\nSimplexLinearMDP-v0, S=20, A=4, d=10, H=10, seed 0; LSVI-UCB with lambda=1, beta=1, gamma=1\n")
    print("| implementation | ms / episode | cumulative regret (exact) | speed-up vs peer at its K |")
    print("|---|---|---|---|")
    for name, ms, reg in rows:
        ratio = f"{peer_ms / ms:.0f}x" if peer_ms and f"K={K_peer}" in name and "rl_suite" in name else ""
        print(f"| {name} | {ms:.2f} | {reg:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
