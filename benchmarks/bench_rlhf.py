"""RLHF sequence agents: exact suboptimality, χPO vs DPO over-optimisation, and A*-PO's cost claim.

    python benchmarks/bench_rlhf.py suboptimality [--seeds 5] [--generations 2000]     # (a)
    python benchmarks/bench_rlhf.py overopt [--plot overopt.png]                        # (b)
    python benchmarks/bench_rlhf.py cost [--device cuda] [--steps 300]                  # (c)
    python benchmarks/bench_rlhf.py all --quick

(a) **Suboptimality**: REBEL, A*-PO, RLOO, GRPO, online DPO, DPO and χPO on the
enumerable sandbox ``rl_suite/RLHFSequence-v0`` (target_string, V=4, L=4: 256 responses per prompt, 16
prompts, SFT π_ref, β = 0.1), tabular policies started at π_ref, every method regularised towards π_ref
with the env's β (so all aim at the same π*). Reported: the exact mean suboptimality
``J_β(π*) − J_β(π_θ)`` over the prompt pool after the budget of online generations (mean and a 95 % t
interval over seeds), the cumulative per-step regret the env recorded, and the generations spent
online/offline. Same table as ``rl-suite sweep configs/sweeps/rlhf.yaml`` + ``rl-suite compare``.

(b) **χPO vs DPO over-optimisation** (Huang et al. 2024): a GRU policy (shared parameters) from an
SFT π_ref, an offline dataset from π_ref that covers only ``coverage`` (10 %) of each prompt's responses,
small β (0.01), many epochs. Tracked against epochs: the exact expected gold reward ``E_{π_θ}[r]`` and the
policy's mass on responses the dataset never shows. DPO's implicit reward is unconstrained off the data, so
its mass stays on (drifts to) uncovered responses and the gold reward falls; χPO's χ² link pulls mass onto
the covered set. With a *tabular* policy the effect does not appear (each response has its own logits, so
pushing a rejected response down cannot raise an uncovered one). The
qualitative shape is the claim, not the numbers. ``--plot`` writes the two curves.

(c) **Cost per step** (A*-PO's claim, Brantley et al. 2025): a shared-parameter causal transformer (2
layers, d_model 64) on the ``reverse`` verifier task (V=4, P=L=4 by default; bigger with ``--length``),
π_ref by SFT. A*-PO (1 sample per prompt, N=8 offline), REBEL (2 samples, 4 epochs) and GRPO (G=8), same
prompts per step. Prints reward after the same number of steps, generated tokens, seconds per step and peak
memory (``torch.cuda.max_memory_allocated`` on GPU; the child process's peak RSS on CPU — each method runs
in its own process). Expected ordering: time per step A*-PO < REBEL < GRPO(G=8); memory A*-PO ≤ GRPO <
REBEL (the A*-PO authors report up to 2× less training time and over 30 % less peak memory than PPO and
GRPO, Qwen2.5 1.5B–7B).

Only torch, numpy and rl_suite are needed. OMP_NUM_THREADS=1 unless ``--threads`` says otherwise.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from rl_suite import registry  # noqa: E402
from rl_suite.config import agent_class  # noqa: E402
from rl_suite.regret import RegretRecorder  # noqa: E402

ENV = "rl_suite/RLHFSequence-v0"
SANDBOX = {"task": "target_string", "beta": 0.1}
#: (a): settings for tabular policies (as in configs/sweeps/rlhf.yaml), every KL coefficient = the env's β.
METHODS: dict[str, dict[str, Any]] = {
    "rebel": {"eta": 10.0, "kl_coef": 0.1, "lr": 0.1},
    "a-star-po": {"beta2": 0.1, "lr": 0.1},
    "rloo": {"num_generations": 4, "beta": 0.1, "lr": 0.3},
    "grpo": {"num_generations": 4, "beta": 0.1, "lr": 0.3},
    "online-dpo": {"beta": 0.1, "lr": 0.1},
    "dpo": {"beta": 0.1, "lr": 0.1},
    "chi-po": {"beta": 0.1, "lr": 0.1},
}


def make_env(**kw: Any) -> RegretRecorder:
    """The sequence face, wrapped in the regret recorder."""
    registry.register_envs()
    return RegretRecorder(gym.make(ENV, **kw))


def t_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of a 95 % Student-t interval."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return float(x.mean()), float("nan")
    return float(x.mean()), float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


# --------------------------------------------------------------------------- (a)
def suboptimality(seeds: int, generations: int) -> None:
    """Table (a): exact suboptimality after ``generations`` online generations, over ``seeds`` seeds."""
    print(f"\n(a) exact suboptimality, {ENV} {SANDBOX}, {generations} online generations, {seeds} seeds")
    header = (
        f"{'method':12s} {'J*-J (mean ± 95% CI)':>24s} {'start':>7s} {'cum. regret':>18s} "
        f"{'E[r]':>6s} {'KL':>6s} {'offline gens':>12s} {'s/run':>6s}"
    )
    print(header)
    print("-" * len(header))
    for name, settings in METHODS.items():
        finals, regrets, rewards, kls, start, offline, secs = [], [], [], [], 0.0, 0.0, []
        for seed in range(seeds):
            env = make_env(**SANDBOX)
            t0 = time.perf_counter()
            agent = agent_class(name)(env, {"device": "cpu", **settings}, seed=seed)
            start = agent.exact_metrics()["suboptimality"]
            agent.learn(generations)
            secs.append(time.perf_counter() - t0)
            diag = agent.exact_metrics()
            finals.append(diag["suboptimality"])
            rewards.append(diag["exact/expected_reward"])
            kls.append(diag["exact/kl"])
            regrets.append(env.cumulative_regret)
            offline = agent.costs["cost/offline_generations"]
        m, h = t_interval(finals)
        rm, rh = t_interval(regrets)
        print(
            f"{name:12s} {m:>12.4f} ± {h:<9.4f} {start:7.3f} {rm:>10.1f} ± {rh:<5.1f} "
            f"{np.mean(rewards):6.3f} {np.mean(kls):6.3f} {offline:12.0f} {np.mean(secs):6.1f}",
            flush=True,
        )


# --------------------------------------------------------------------------- (b)
def overopt(
    coverage: float, beta: float, epochs: int, n_pairs: int, seeds: int, lr: float, plot: str | None
) -> None:
    """Curve (b): exact E_π[r] and mass on uncovered responses against epochs, DPO vs χPO."""
    env_kw = {"task": "target_string", "beta": beta, "reference_policy": "gru"}
    print(
        f"\n(b) DPO vs chi-PO, GRU policy, dataset covering {coverage:.0%} of responses, beta={beta}, "
        f"lr={lr}, {n_pairs} pairs, {epochs} epochs, {seeds} seeds ({ENV} {env_kw})"
    )
    batch = 32
    rounds_per_epoch = max(1, n_pairs // batch)
    curves: dict[str, np.ndarray] = {}
    uncovered: dict[str, np.ndarray] = {}
    for name in ("dpo", "chi-po"):
        per_seed, unc_seed = [], []
        for seed in range(seeds):
            env = make_env(**env_kw)
            settings = {"device": "cpu", "beta": beta, "lr": lr, "coverage": coverage, "n_pairs": n_pairs}
            agent = agent_class(name)(env, {**settings, "batch_pairs": batch, "batch_prompts": 1}, seed=seed)
            mask = _covered_mask(agent)
            curve, unc = [agent.exact_metrics()["exact/expected_reward"]], [_mass_outside(agent, mask)]
            for _ in range(epochs):
                agent.learn(rounds_per_epoch)  # one evaluation generation + one update per round
                curve.append(agent.exact_metrics()["exact/expected_reward"])
                unc.append(_mass_outside(agent, mask))
            per_seed.append(curve)
            unc_seed.append(unc)
        curves[name], uncovered[name] = np.asarray(per_seed), np.asarray(unc_seed)
    xs = np.arange(epochs + 1)
    print(
        f"{'epoch':>6s} {'DPO E[r]':>9s} {'chi-PO E[r]':>12s} {'DPO off-data':>13s} {'chi-PO off-data':>16s}"
    )
    step = max(1, epochs // 10)
    for e in xs[::step]:
        print(
            f"{e:6d} {curves['dpo'][:, e].mean():9.3f} {curves['chi-po'][:, e].mean():12.3f} "
            f"{uncovered['dpo'][:, e].mean():13.3f} {uncovered['chi-po'][:, e].mean():16.3f}"
        )
    for name, c in curves.items():
        mean = c.mean(0)
        peak = int(mean.argmax())
        drop = mean[peak] - mean[-1]
        print(f"{name:7s} peak E[r] {mean[peak]:.3f} at epoch {peak}, final {mean[-1]:.3f} (drop {drop:.3f})")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        for name, label in (("dpo", "DPO"), ("chi-po", "χPO")):
            for ax, data in zip(axes, (curves[name], uncovered[name]), strict=True):
                m, sd = data.mean(0), data.std(0)
                ax.plot(xs, m, label=label)
                ax.fill_between(xs, m - sd, m + sd, alpha=0.2)
        axes[0].set_ylabel("exact gold reward E_π[r]")
        axes[1].set_ylabel("π mass on uncovered responses")
        for ax in axes:
            ax.set_xlabel("epochs over the offline dataset")
            ax.legend()
        fig.suptitle(f"over-optimisation: coverage {coverage:.0%}, β={beta}")
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
        print(f"plot written to {plot}")


def _covered_mask(agent: Any) -> np.ndarray:
    """``(n_prompts, V**L)``: which responses of each prompt the agent's dataset contains."""
    task, d = agent.task, agent.data
    prompts = np.concatenate([d.prompts.cpu().numpy()] * 2)
    ys = np.concatenate([d.chosen.cpu().numpy(), d.rejected.cpu().numpy()])
    codes = (ys * task.vocab_size ** np.arange(task.response_length)[::-1]).sum(axis=1)
    mask = np.zeros((task.prompts.shape[0], task.vocab_size**task.response_length), dtype=bool)
    mask[task.prompt_index(prompts), codes] = True
    return mask


def _mass_outside(agent: Any, mask: np.ndarray) -> float:
    """Mean over prompts of the policy's probability of responses outside ``mask``."""
    responses = torch.as_tensor(agent.task.all_responses(), device=agent.device)
    with torch.no_grad():
        p = agent.policy.response_probs(agent._prompts_all, responses).cpu().numpy()
    return float((p * ~mask).sum(axis=1).mean())


# --------------------------------------------------------------------------- (c)
COST_METHODS: dict[str, dict[str, Any]] = {
    "a-star-po": {"beta2": 0.1, "n_value_samples": 8},
    "rebel": {"eta": 10.0, "kl_coef": 0.1},
    "grpo": {"num_generations": 8, "beta": 0.1},
}


def _a4_child(name: str, args: dict[str, Any], queue: Any) -> None:
    torch.set_num_threads(args["threads"])
    env_kw = {
        "task": "reverse",
        "vocab_size": args["vocab"],
        "prompt_length": args["length"],
        "response_length": args["length"],
        "n_prompts": args["prompts"],
        "reference_policy": "transformer",
        "sft_steps": args["sft_steps"],
        "beta": 0.1,
    }
    env = make_env(**env_kw)
    device = args["device"]
    settings = {
        "device": device,
        "policy": "reference",
        "lr": args["lr"],
        "batch_prompts": args["batch"],
        "exact_metrics": False,
        "log_completions": 0,
        "bf16": args["bf16"],
        **COST_METHODS[name],
    }
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    agent = agent_class(name)(env, settings, seed=args["seed"])
    env.unwrapped.detach_policy()  # no exact regret pass per update: this part measures training cost only
    per_round = agent.samples_per_prompt * args["batch"]
    rewards, times = [], []
    t0 = time.perf_counter()
    for _ in range(args["steps"]):
        agent.learn(per_round)
        rewards.append(agent.diagnostics()["rewards/gold/mean"])
        times.append(agent.diagnostics()["time/step_s"])
    wall = time.perf_counter() - t0
    # evaluation: mean gold reward of one sample per pool prompt from the final policy
    prompts = agent._prompts_all
    with torch.no_grad():
        y = agent.policy.sample(prompts, n=1, generator=agent.generator)
    final = float(np.mean(agent.task.reward(prompts.cpu().numpy(), y.cpu().numpy())))
    peak = (
        torch.cuda.max_memory_allocated()
        if device == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    queue.put(
        {
            "name": name,
            "reward_first": float(np.mean(rewards[: max(1, len(rewards) // 10)])),
            "reward_last": float(np.mean(rewards[-max(1, len(rewards) // 10) :])),
            "eval_reward": final,
            "gen_tokens": agent.costs["cost/generated_tokens"],
            "offline_gens": agent.costs["cost/offline_generations"],
            "step_s": float(np.mean(times)),
            "wall_s": wall,
            "peak_mb": peak / 2**20,
            "params": sum(p.numel() for p in agent.policy.parameters()),
        }
    )


def cost(args: argparse.Namespace) -> None:
    """Table (c): reward after the same number of steps, tokens, s/step and peak memory per method."""
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    child_args = {
        "device": device,
        "steps": args.steps,
        "batch": args.batch,
        "vocab": args.vocab,
        "length": args.length,
        "prompts": args.prompts,
        "sft_steps": args.sft_steps,
        "lr": args.lr,
        "seed": 0,
        "threads": int(os.environ.get("OMP_NUM_THREADS", "1")),
        "bf16": args.bf16,
    }
    print(
        f"\n(c) cost: transformer on reverse (V={args.vocab}, P=L={args.length}, {args.prompts} prompts), "
        f"{args.steps} steps of {args.batch} prompts, device {device}{' bf16' if args.bf16 else ''}"
    )
    ctx = mp.get_context("spawn")
    header = (
        f"{'method':10s} {'reward first→last 10%':>22s} {'eval E[r]':>9s} {'gen tokens':>10s} "
        f"{'offline gens':>12s} {'s/step':>8s} {'wall s':>7s} {'peak MB':>8s} {'params':>7s}"
    )
    print(header)
    print("-" * len(header))
    for name in COST_METHODS:
        queue = ctx.Queue()
        proc = ctx.Process(target=_a4_child, args=(name, child_args, queue))
        proc.start()
        r = queue.get()
        proc.join()
        print(
            f"{name:10s} {r['reward_first']:>10.3f} → {r['reward_last']:<9.3f} {r['eval_reward']:9.3f} "
            f"{r['gen_tokens']:10.0f} {r['offline_gens']:12.0f} {r['step_s']:8.4f} {r['wall_s']:7.1f} "
            f"{r['peak_mb']:8.1f} {r['params']:7d}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=("suboptimality", "overopt", "cost", "all"))
    parser.add_argument("--quick", action="store_true", help="tiny budgets (a smoke run)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--generations", type=int, default=2000)
    parser.add_argument("--coverage", type=float, default=0.1)
    parser.add_argument("--overopt-beta", type=float, default=0.01)
    parser.add_argument("--overopt-lr", type=float, default=0.003)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--plot", default=None, help="(b): write the curve to this PNG")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--steps", type=int, default=200, help="(c): optimisation steps per method")
    parser.add_argument("--batch", type=int, default=16, help="(c): prompts per step")
    parser.add_argument("--vocab", type=int, default=4)
    parser.add_argument("--length", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--sft-steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.generations, args.epochs, args.steps, args.sft_steps = 2, 200, 6, 5, 30
    if args.part in ("suboptimality", "all"):
        suboptimality(args.seeds, args.generations)
    if args.part in ("overopt", "all"):
        overopt(
            args.coverage,
            args.overopt_beta,
            args.epochs,
            args.pairs,
            min(args.seeds, 3),
            args.overopt_lr,
            args.plot,
        )
    if args.part in ("cost", "all"):
        cost(args)


if __name__ == "__main__":
    main()
