"""RLHF sequence agents: exact suboptimality, χPO vs DPO over-optimisation, and A*-PO's cost claim.

    python benchmarks/bench_rlhf.py suboptimality [--seeds 5] [--generations 2000]     # (a)
    python benchmarks/bench_rlhf.py overopt [--plot overopt.png]                        # (b)
    python benchmarks/bench_rlhf.py cost [--device cuda] [--steps 300]                  # (c)
    python benchmarks/bench_rlhf.py sensitivity [--quick] [--plot sens.png]             # (d)
    python benchmarks/bench_rlhf.py all --quick

``suboptimality --tasks all`` runs (a) on every task and also prints it as a markdown table.

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

(d) **Sensitivity** of REBEL and A*-PO (tabular policies from π_ref, β = 0.1, every task): the final exact
suboptimality against one knob at a time around the defaults, REBEL's η, epochs and lr, A*-PO's β₂, β₁, N
(``n_value_samples``) and lr (as multiples of the agent's default for the task's response length, which is
4/L times the rate for L = 4), with π_ref's suboptimality and RLOO's (k = 2, KL at β) at the same budget for
scale. Prints a markdown table (mean over seeds) and, with ``--plot``, one panel per knob (log x axis, one
line per task, each divided by that task's π_ref suboptimality).

Only torch, numpy and rl_suite are needed (matplotlib for the plots). OMP_NUM_THREADS=1 unless
``--threads`` says otherwise.
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
#: REBEL and A*-PO run at their defaults (KL coefficient, η, β₂ from the env's β).
METHODS: dict[str, dict[str, Any]] = {
    "rebel": {},
    "a-star-po": {},
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
TASKS = ("target_string", "digit_sum", "sort", "reverse", "linear_ngram")


def _run_one(job: tuple[str, dict[str, Any], dict[str, Any], int, int]) -> dict[str, float]:
    """One tabular run from π_ref: the start and final exact figures, regret and costs."""
    name, settings, env_kw, seed, generations = job
    torch.set_num_threads(1)
    env = make_env(**env_kw)
    t0 = time.perf_counter()
    config = {"device": "cpu", "log_completions": 0, "exact_metrics": False, **settings}
    agent = agent_class(name)(env, config, seed=seed)
    start = agent.exact_metrics()["suboptimality"]
    agent.learn(generations)
    diag = agent.exact_metrics()
    return {
        "start": start,
        "final": diag["suboptimality"],
        "reward": diag["exact/expected_reward"],
        "kl": diag["exact/kl"],
        "regret": env.cumulative_regret,
        "generations": agent.costs["cost/generations"],
        "tokens": agent.costs["cost/generated_tokens"],
        "offline": agent.costs["cost/offline_generations"],
        "seconds": time.perf_counter() - t0,
    }


def _map(jobs: list[Any], workers: int) -> list[dict[str, float]]:
    """``_run_one`` over ``jobs``, in order, on ``workers`` processes (1: in this process)."""
    if workers <= 1:
        return [_run_one(job) for job in jobs]
    with mp.get_context("spawn").Pool(workers) as pool:
        return pool.map(_run_one, jobs, chunksize=1)


def method_settings(name: str, beta: float, policy: str) -> dict[str, Any]:
    """(a)'s settings of ``name`` for the env's ``beta`` and ``policy`` kind.

    The baselines' KL coefficient follows the env's β; on a GRU or transformer policy every agent takes
    its default learning rate for shared-weight policies (the tabular values of :data:`METHODS` diverge).
    """
    settings = dict(METHODS[name])
    if "beta" in settings:
        settings["beta"] = beta
    if policy != "tabular":
        settings.pop("lr", None)
    return settings


def suboptimality(
    seeds: int,
    generations: int,
    tasks: tuple[str, ...],
    methods: tuple[str, ...],
    workers: int,
    beta: float = 0.1,
    policy: str = "tabular",
) -> None:
    """Table (a): exact suboptimality after ``generations`` online generations, over ``seeds`` seeds."""
    rows = []
    for task in tasks:
        env_kw = {**SANDBOX, "task": task, "beta": beta, "reference_policy": policy}
        print(f"\n(a) exact suboptimality, {ENV} {env_kw}, {generations} online generations, {seeds} seeds")
        header = (
            f"{'method':12s} {'J*-J (mean ± 95% CI)':>24s} {'start':>7s} {'cum. regret':>18s} "
            f"{'E[r]':>6s} {'KL':>6s} {'gen tokens':>10s} {'offline gens':>12s} {'s/run':>6s}"
        )
        print(header)
        print("-" * len(header))
        for name in methods:
            settings = method_settings(name, beta, policy)
            jobs = [(name, settings, env_kw, seed, generations) for seed in range(seeds)]
            runs = _map(jobs, workers)
            m, h = t_interval([r["final"] for r in runs])
            rm, rh = t_interval([r["regret"] for r in runs])
            start = float(np.mean([r["start"] for r in runs]))
            tokens = float(np.mean([r["tokens"] for r in runs]))
            gens = float(np.mean([r["generations"] for r in runs]))
            print(
                f"{name:12s} {m:>12.4f} ± {h:<9.4f} {start:7.3f} {rm:>10.1f} ± {rh:<5.1f} "
                f"{np.mean([r['reward'] for r in runs]):6.3f} {np.mean([r['kl'] for r in runs]):6.3f} "
                f"{tokens:10.0f} {runs[0]['offline']:12.0f} {np.mean([r['seconds'] for r in runs]):6.1f}",
                flush=True,
            )
            rows.append((task, name, start, m, h, gens, tokens, runs[0]["offline"]))
    if len(tasks) > 1:
        print(
            f"\nmarkdown: final exact suboptimality J*−J, mean ± 95 % CI over {seeds} seeds, β = {beta}, "
            f"{policy} policy\n"
        )
        print("| task | online gens | gen. tokens | π_ref | " + " | ".join(methods) + " |")
        print("|---|---|---|---|" + "---|" * len(methods))
        for task in tasks:
            cells = {r[1]: r for r in rows if r[0] == task}
            first = cells[methods[0]]
            print(
                f"| {task} | {first[5]:.0f} | {first[6]:.0f} | {first[2]:.3f} | "
                + " | ".join(f"{cells[n][3]:.3f} ± {cells[n][4]:.3f}" for n in methods)
                + " |"
            )
        offline = {name: max(r[7] for r in rows if r[1] == name) for name in methods}
        print(
            "\noffline generations per run (most over tasks): "
            + ", ".join(f"{k} {v:.0f}" for k, v in offline.items())
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
    "a-star-po": {"n_value_samples": 8},
    "rebel": {"epochs": 4},  # the code's 4 passes per batch: the per-step cost the A*-PO paper compares
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


# --------------------------------------------------------------------------- (d)
#: One knob at a time around the defaults. ``lr`` values are multiples of the agent's default rate for the
#: task (tabular: 0.1·4/L for REBEL, 0.05·4/L for A*-PO, so ``digit_sum``'s L = 2 doubles them).
SENSITIVITY: dict[str, tuple[str, str, tuple[float, ...]]] = {
    "REBEL η": ("rebel", "eta", (1.0, 3.0, 10.0, 30.0, 100.0)),
    "REBEL epochs": ("rebel", "epochs", (1, 2, 4)),
    "REBEL lr (× default)": ("rebel", "lr", (0.1, 0.3, 1.0, 3.0)),
    "A*-PO β₂": ("a-star-po", "beta2", (0.001, 0.01, 0.03, 0.1, 0.3, 1.0)),
    "A*-PO N": ("a-star-po", "n_value_samples", (1, 2, 8, 32)),
    "A*-PO β₁": ("a-star-po", "beta1", (0.05, 0.1, 0.2, 0.5, 1.0)),
    "A*-PO lr (× default)": ("a-star-po", "lr", (0.2, 0.6, 1.0, 2.0, 6.0)),
}
#: The defaults the knobs vary around at β = 0.1 (REBEL η = 1/β, A*-PO β₂ = β; lr: the default's multiple 1).
SENSITIVITY_DEFAULTS: dict[tuple[str, str], float] = {
    ("rebel", "eta"): 10.0,
    ("rebel", "epochs"): 1,
    ("rebel", "lr"): 1.0,
    ("a-star-po", "beta2"): 0.1,
    ("a-star-po", "n_value_samples"): 8,
    ("a-star-po", "beta1"): 0.5,
    ("a-star-po", "lr"): 1.0,
}


def default_tabular_lrs(names: tuple[str, ...], env_kw: dict[str, Any]) -> dict[str, float]:
    """Each agent's default learning rate on the sandbox env ``env_kw`` (built once) with a tabular π_ref."""
    env = gym.make(ENV, **env_kw)
    try:
        base: Any = env.unwrapped
        return {name: float(agent_class(name).default_lr(base.reference, float(base.beta))) for name in names}
    finally:
        env.close()


def sensitivity(
    tasks: tuple[str, ...],
    seeds: int,
    generations: int,
    workers: int,
    plot: str | None,
    out: str | None,
    quick: bool,
) -> None:
    """Table and plot (d): final exact suboptimality against η, epochs, β₂, N and lr, per task."""
    if quick:
        tasks, seeds, generations = ("target_string", "sort"), 1, 300
    env_kw = dict(SANDBOX)
    jobs: list[Any] = []
    keys: list[tuple[str, int, str, float]] = []
    for task in tasks:
        task_kw = {**env_kw, "task": task}
        lrs = default_tabular_lrs(("rebel", "a-star-po"), task_kw)
        for seed in range(seeds):
            for knob, (name, key, values) in SENSITIVITY.items():
                for value in values:
                    setting = value * lrs[name] if key == "lr" else value
                    jobs.append((name, {key: setting}, task_kw, seed, generations))
                    keys.append((task, seed, knob, value))
            jobs.append(("rloo", {"beta": env_kw["beta"]}, task_kw, seed, generations))
            keys.append((task, seed, "RLOO (k=2)", 0.0))
    print(
        f"\n(d) sensitivity: {ENV} β={env_kw['beta']}, tabular from π_ref, {generations} online "
        f"generations, {seeds} seed(s), tasks {', '.join(tasks)} ({len(jobs)} runs)",
        flush=True,
    )
    t0 = time.perf_counter()
    results = _map(jobs, workers)
    finals: dict[tuple[str, str, float], list[float]] = {}
    starts: dict[str, list[float]] = {}
    for (task, _, knob, value), r in zip(keys, results, strict=True):
        finals.setdefault((task, knob, value), []).append(r["final"])
        starts.setdefault(task, []).append(r["start"])
    lines = [
        f"Final exact suboptimality J*−J after {generations} online generations (mean over {seeds} "
        f"seed(s)), {ENV}, β = {env_kw['beta']}, tabular policy from π_ref; one knob varied at a time, "
        "the others at their defaults (* marks the default).",
        "",
        "| agent: knob | value | " + " | ".join(tasks) + " |",
        "|---|---|" + "---|" * len(tasks),
        "| π_ref | | " + " | ".join(f"{np.mean(starts[t]):.3f}" for t in tasks) + " |",
        "| RLOO (k=2, KL β) | | "
        + " | ".join(f"{np.mean(finals[(t, 'RLOO (k=2)', 0.0)]):.3f}" for t in tasks)
        + " |",
    ]
    for knob, (name, key, values) in SENSITIVITY.items():
        for value in values:
            mark = "*" if SENSITIVITY_DEFAULTS.get((name, key)) == value else ""
            cells = " | ".join(f"{np.mean(finals[(t, knob, value)]):.3f}" for t in tasks)
            lines.append(f"| {knob} | {value:g}{mark} | {cells} |")
    table = "\n".join(lines)
    print(table)
    print(f"({time.perf_counter() - t0:.0f} s)")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(table + "\n")
        print(f"table written to {out}")
    if plot:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 4, figsize=(15, 6.5))
        for ax in axes.ravel()[len(SENSITIVITY) :]:
            ax.set_visible(False)
        for ax, (knob, (_, key, values)) in zip(axes.ravel(), SENSITIVITY.items(), strict=False):
            for task in tasks:
                ref = float(np.mean(starts[task]))
                ys = [float(np.mean(finals[(task, knob, v)])) / ref for v in values]
                ax.plot(values, ys, marker="o", label=task)
            ax.axhline(1.0, color="grey", lw=0.8, ls="--")
            ax.axhline(0.5, color="grey", lw=0.8, ls=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_title(knob)
            ax.set_xlabel("lr / default" if key == "lr" else key)
        for ax in axes[:, 0]:
            ax.set_ylabel("final J*−J / π_ref's")
        axes[0, 0].legend(fontsize=7)
        fig.suptitle(f"REBEL and A*-PO sensitivity (β = {env_kw['beta']}, {generations} generations)")
        fig.tight_layout()
        fig.savefig(plot, dpi=110)
        print(f"plot written to {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=("suboptimality", "overopt", "cost", "sensitivity", "all"))
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
    parser.add_argument("--tasks", default="target_string", help="(a), (d): comma-separated tasks or 'all'")
    parser.add_argument("--methods", default=",".join(METHODS), help="(a): comma-separated agents")
    parser.add_argument("--workers", type=int, default=1, help="(a), (d): runs in parallel")
    parser.add_argument("--beta", type=float, default=0.1, help="(a): the env's KL coefficient β")
    parser.add_argument(
        "--policy", default="tabular", choices=("tabular", "gru", "transformer"), help="(a): policy kind"
    )
    parser.add_argument("--out", default=None, help="(d): write the markdown table to this file")
    args = parser.parse_args()
    tasks = TASKS if args.tasks == "all" else tuple(args.tasks.split(","))
    if args.part == "sensitivity" and args.tasks == "target_string":
        tasks = TASKS  # (d) runs every task unless told otherwise
    if args.quick:
        args.seeds, args.generations, args.epochs, args.steps, args.sft_steps = 2, 200, 6, 5, 30
    if args.part in ("suboptimality", "all"):
        methods = tuple(args.methods.split(","))
        suboptimality(args.seeds, args.generations, tasks, methods, args.workers, args.beta, args.policy)
    if args.part in ("sensitivity", "all"):
        plot = args.plot if args.part == "sensitivity" else None
        sensitivity(tasks, args.seeds, args.generations, args.workers, plot, args.out, args.quick)
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
