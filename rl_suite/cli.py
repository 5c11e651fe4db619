"""The ``rl-suite`` command line: envs, agents, train, compare, solve, sweep.

Every mistake a user can make ends in one line on stderr (``error: ...``) and exit status 2; a run stopped
by Ctrl-C exits with 130 and can be resumed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Protocol, cast

import typer

from rl_suite import __version__, registry
from rl_suite.errors import UserError

app = typer.Typer(
    name="rl-suite",
    help="Gymnasium envs with exact optima, and agents measured by exact regret.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _console() -> Any:
    from rich.console import Console

    # Piped output (a file, a test, CI logs) gets wide tables rather than ids cut to fit 80 columns.
    return Console(width=None if sys.stdout.isatty() else 200)


def _version(value: bool) -> None:
    if value:
        print(f"rl-suite {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Gymnasium envs with exact optima, and agents measured by exact regret."""


# --------------------------------------------------------------------------- envs / agents
@app.command(epilog="Example: rl-suite envs")
def envs() -> None:
    """List every registered env id with its family."""
    from rich.table import Table

    table = Table(title="rl_suite environments")
    for col in ("id", "family", "description", "reference"):
        table.add_column(col)
    for e in sorted(registry.ENVS, key=lambda e: e.id):
        table.add_row(e.id, e.family, e.summary, e.reference)
    _console().print(table)


@app.command(epilog="Example: rl-suite agents")
def agents() -> None:
    """List every agent with the env families it supports."""
    from rich.table import Table

    table = Table(title="rl_suite agents")
    for col in ("name", "env families", "description", "reference"):
        table.add_column(col)
    for a in registry.AGENTS:
        note = f" (needs {a.requires})" if a.requires else ""
        table.add_row(a.name, ", ".join(a.families), a.summary + note, a.reference)
    _console().print(table)


# --------------------------------------------------------------------------- train
def build_run_data(
    config: Path | None,
    env: str | None,
    agent: str | None,
    overrides: list[str],
    **top: Any,
) -> tuple[dict[str, Any], str | None]:
    """Merge a YAML config, CLI flags and ``--set`` overrides into a raw run mapping (plus its seeds)."""
    from rl_suite.config import apply_overrides, load_yaml

    data: dict[str, Any] = load_yaml(config) if config else {}
    seeds = data.pop("seeds", None)
    if env:
        data.setdefault("env", {})
        if not isinstance(data["env"], dict):
            raise UserError("config: env must be a section with an id")
        data["env"]["id"] = env
    if agent:
        data.setdefault("agent", {})
        if not isinstance(data["agent"], dict):
            raise UserError("config: agent must be a section with a name")
        data["agent"]["name"] = agent
    wandb = {k: top.pop(f"wandb_{k}") for k in ("project", "entity", "group")}
    for key, value in top.items():
        if value is not None:
            data[key] = value
    wandb = {k: v for k, v in wandb.items() if v is not None}
    if wandb:
        data["wandb"] = {**data.get("wandb", {}), **wandb}
    data = apply_overrides(data, overrides)
    seeds = data.pop("seeds", seeds)
    if "env" not in data or "agent" not in data:
        missing = "--env" if "env" not in data else "--agent"
        raise UserError(f"missing {missing}: give it on the command line or in --config")
    return data, None if seeds is None else str(seeds)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  rl-suite train --env rl_suite/LinearContextualBandit-v0 --agent linucb --seeds 0-4 "
        "--total-steps 20000\n\n"
        "  rl-suite train --config configs/linucb_linear_bandit.yaml --set agent.alpha=0.5 "
        "--set env.dim=20\n\n"
        "  rl-suite train --resume runs/LinearContextualBandit-v0__linucb__s0__20261123-101500-000000"
    )
)
def train(
    env: str | None = typer.Option(None, "--env", help="Env id (see `rl-suite envs`)."),
    agent: str | None = typer.Option(None, "--agent", help="Agent name (see `rl-suite agents`)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML run config."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a config key: env.dim=20, agent.alpha=0.5."
    ),
    seeds: str | None = typer.Option(None, "--seeds", help="Seeds: 0-9, 0,3,5 or 7 (one run each)."),
    total_steps: int | None = typer.Option(None, "--total-steps", "-n", help="Environment steps per run."),
    out: str | None = typer.Option(None, "--out", help="Parent folder of the run folders [runs]."),
    device: str | None = typer.Option(None, "--device", help="Torch device for torch agents [auto]."),
    label: str | None = typer.Option(None, "--label", help="Name to group these runs by in comparisons."),
    track: bool = typer.Option(False, "--track", help="Also log to Weights & Biases."),
    wandb_project: str | None = typer.Option(None, "--wandb-project", help="wandb project [rl_suite]."),
    wandb_entity: str | None = typer.Option(None, "--wandb-entity", help="wandb entity."),
    wandb_group: str | None = typer.Option(None, "--wandb-group", help="wandb group [<env>/<agent>]."),
    workers: int = typer.Option(1, "--workers", help="Runs in parallel (one process each)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or tables."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue an interrupted run folder."),
    force: bool = typer.Option(
        False, "--force", help="With --resume: take over a run marked running by a process on another host."
    ),
) -> None:
    """Train an agent on an env, one run folder per seed, and print the final regret."""
    from rl_suite.config import parse_run_config, parse_seeds, resolve
    from rl_suite.runner import resume_trial, run_trial
    from rl_suite.store import RunRecord, read_run
    from rl_suite.sweep import Job, local_workers, run_local
    from rl_suite.tracking import progress_bar

    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    if force and resume is None:
        raise UserError("--force applies to --resume RUN_DIR only")
    if resume is not None:
        if not resume.is_dir():
            raise UserError(f"no such run folder: {resume}")
        record = read_run(resume)
        remaining = record.summary["total_steps"] - record.summary["steps_done"]
        with progress_bar(f"resume {resume.name}", max(remaining, 0), quiet) as prog:
            result = resume_trial(resume, progress=prog, force=force)
        _print_results([result], quiet)
        _exit_for([result.status])
        return

    data, yaml_seeds = build_run_data(
        config,
        env,
        agent,
        overrides,
        total_steps=total_steps,
        out=out,
        device=device,
        label=label,
        track=track or None,
        wandb_project=wandb_project,
        wandb_entity=wandb_entity,
        wandb_group=wandb_group,
    )
    seed_list = parse_seeds(seeds if seeds is not None else yaml_seeds or str(data.get("seed", 0)))
    base = resolve(parse_run_config(data))  # every error surfaces before a folder is written
    configs = [base.model_copy(update={"seed": s}) for s in seed_list]
    results: list[RunRecord] = []
    if workers > 1 and len(configs) > 1:
        jobs = [Job("run", c.model_dump(mode="json"), claim=False) for c in configs]
        bar = progress_bar(f"{base.agent.name} on {base.env.id}", len(jobs), quiet, unit="runs")
        with local_workers(workers), bar as prog:  # workers first: see the sweep command
            outcomes = list(run_local(jobs, workers, prog))
        results = [read_run(o.path) for o in outcomes if o.path]
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            raise UserError(f"{len(failed)} run(s) failed; first error: {failed[0].error}")
    else:
        for cfg in configs:
            desc = f"{cfg.agent.name} s{cfg.seed}"
            with progress_bar(desc, cfg.total_steps, quiet) as prog:
                results.append(run_trial(cfg, progress=prog))
            if results[-1].status == "interrupted":
                break
    _print_results(results, quiet)
    _exit_for([r.status for r in results])


def _exit_for(statuses: list[str]) -> None:
    if "interrupted" in statuses:
        print("interrupted: resume with `rl-suite train --resume RUN_DIR`", file=sys.stderr)
        raise typer.Exit(130)


def _print_results(results: list[Any], quiet: bool) -> None:
    if quiet or not results:
        return
    from rich.table import Table

    table = Table(title="runs")
    for col in ("run folder", "status", "steps", "cumulative regret", "exponent", "wall time (s)"):
        table.add_column(col)
    for r in results:
        s = r.summary
        exp = s.get("regret_exponent")
        table.add_row(
            str(r.path),
            s["status"],
            str(s["steps_done"]),
            f"{s['cumulative_regret']:.2f}",
            "-" if exp is None else f"{exp:.2f}",
            f"{s['wall_time_s']:.1f}",
        )
    console = _console()
    console.print(table)
    parent = Path(results[0].path).parent
    console.print(f"compare: rl-suite compare {parent} --out reports/{parent.name}", soft_wrap=True)


# --------------------------------------------------------------------------- compare
@app.command(
    epilog=(
        "Examples:\n\n"
        "  rl-suite compare runs/ --out reports/linear\n\n"
        "  rl-suite compare runs/quickstart --out reports/qs --statistic iqm --log-x --log-y\n\n"
        "  rl-suite compare runs/aggregate_bandits --out reports/agg --aggregate --normalise-by ucb1\n\n"
        "  rl-suite compare runs/curves --out reports/curves --metric policy_regret"
    )
)
def compare(
    run_dirs: list[Path] = typer.Argument(..., help="Run folders, or folders to search for runs."),
    out: Path = typer.Option(Path("reports/latest"), "--out", help="Report folder (plots and tables)."),
    statistic: str = typer.Option("mean", "--statistic", help="Line and band statistic: mean or iqm."),
    log_x: bool = typer.Option(False, "--log-x", help="Logarithmic t axis."),
    log_y: bool = typer.Option(False, "--log-y", help="Logarithmic regret axis."),
    include_incomplete: bool = typer.Option(
        False, "--include-incomplete", help="Also use unfinished runs (interrupted, failed, running)."
    ),
    reps: int = typer.Option(2000, "--reps", help="Bootstrap resamples for the 95 % intervals."),
    aggregate: bool = typer.Option(
        False,
        "--aggregate",
        help="Also aggregate across envs: IQM and mean with stratified bootstrap CIs, P(X < Y) matrix, "
        "IQM over time, performance profiles (aggregate.* and poi.csv).",
    ),
    normalise_by: str | None = typer.Option(
        None, "--normalise-by", help="With --aggregate: divide each env's regrets by this agent's mean there."
    ),
    track: bool = typer.Option(False, "--track", help="Also log the plot and table to wandb."),
    wandb_project: str = typer.Option("rl_suite", "--wandb-project", help="wandb project."),
    wandb_entity: str | None = typer.Option(None, "--wandb-entity", help="wandb entity."),
    wandb_group: str | None = typer.Option(None, "--wandb-group", help="wandb group."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the file paths."),
    metric: str = typer.Option(
        "regret",
        "--metric",
        help="regret (cumulative regret curves) or policy_regret (exact learning curves of runs trained "
        "with eval_every: V* − V^π of the greedy policy, steps-to-ε).",
    ),
) -> None:
    """Compare runs: regret curves with bootstrap 95 % bands, final-regret table, regret exponents."""
    from rl_suite.compare import compare_runs
    from rl_suite.tracking import progress_bar

    if statistic not in ("mean", "iqm"):
        raise UserError(f"--statistic must be mean or iqm, got {statistic!r}")
    if reps < 1:
        raise UserError(f"--reps must be >= 1, got {reps}")
    if metric not in ("regret", "policy_regret"):
        raise UserError(f"--metric must be regret or policy_regret, got {metric!r}")
    if metric == "policy_regret":
        from rl_suite.compare.learning import compare_policy_regret

        if normalise_by is not None:
            raise UserError(
                "--normalise-by applies to --metric regret; policy regret is normalised by V* − V^unif"
            )
        learning = compare_policy_regret(
            run_dirs,
            out,
            statistic=statistic,
            log_x=log_x,
            log_y=log_y,
            include_incomplete=include_incomplete,
            reps=reps,
            aggregate=aggregate,
        )
        if not quiet:
            _console().print(learning.to_markdown(), soft_wrap=True, markup=False)
        for name, path in learning.files.items():
            print(f"{name}: {path}")
        return
    with progress_bar("compare", 0, quiet, unit="groups") as prog:
        report = compare_runs(
            run_dirs,
            out,
            statistic=statistic,
            log_x=log_x,
            log_y=log_y,
            include_incomplete=include_incomplete,
            reps=reps,
            progress=lambda done, total: prog.update(done, total),
            aggregate=aggregate,
            normalise_by=normalise_by,
        )
    if not quiet:
        # markup=False: env names such as "MultiArmedBandit-v0 [n_arms=5]" are not Rich style tags.
        _console().print(report.to_markdown(), soft_wrap=True, markup=False)
        if report.aggregate is not None:
            _console().print(report.aggregate.to_markdown(), soft_wrap=True, markup=False)
    for name, path in report.files.items():
        print(f"{name}: {path}")
    if track:
        _track_report(report, out, wandb_project, wandb_entity, wandb_group)


def _track_report(report: Any, out: Path, project: str, entity: str | None, group: str | None) -> None:
    from datetime import datetime

    from rl_suite.tracking import WandbTracker

    tracker = WandbTracker(
        run_dir=out,
        name=f"compare-{datetime.now():%Y%m%d-%H%M%S}",
        config={"report": str(out)},
        project=project,
        entity=entity,
        group=group or "compare",
        mode=None,
    )
    for key in ("regret.png",):
        if key in report.files:
            tracker.log_image("compare/regret", Path(report.files[key]))
    tracker.log_table("compare/final_regret", report.rows)
    if getattr(report, "aggregate", None) is not None:
        tracker.log_image("compare/aggregate", Path(report.files["aggregate.png"]))
        tracker.log_table("compare/aggregate", report.aggregate.rows)
        tracker.log_table("compare/probability_of_improvement", report.aggregate.poi)
    tracker.finish({})


# --------------------------------------------------------------------------- solve
def _env_kwargs(overrides: list[str], command: str, example: str) -> dict[str, Any]:
    """``--set key=value`` options of a command that takes env arguments only (``env.`` prefix optional)."""
    from rl_suite.config import parse_override

    kwargs: dict[str, Any] = {}
    for text in overrides:
        path, value = parse_override(text)
        if path[0] == "env":
            path = path[1:]
        if len(path) != 1:
            raise UserError(f"--set {text!r}: {command} takes env arguments only, e.g. --set {example}")
        kwargs[path[0]] = value
    return kwargs


@app.command(
    epilog=(
        "Examples:\n\n"
        "  rl-suite solve rl_suite/MultiArmedBandit-v0 --set n_arms=5\n\n"
        "  rl-suite solve rl_suite/LinearContextualBandit-v0 --set dim=5 --set model=shared"
    )
)
def solve(
    env_id: str = typer.Argument(..., help="Env id (see `rl-suite envs`)."),
    overrides: list[str] = typer.Option([], "--set", help="Env argument: key=value (env. prefix optional)."),
) -> None:
    """Print the exact optimum the env knows (its reference solver's output) as JSON."""
    from rl_suite.config import make_env_checked

    env = make_env_checked(env_id, _env_kwargs(overrides, "solve", "dim=5"))
    try:
        solution = env.unwrapped.solve()
    finally:
        env.close()
    print(json.dumps(solution, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


# --------------------------------------------------------------------------- analyze
@app.command(
    epilog=(
        "Examples:\n\n"
        "  rl-suite analyze rl_suite/LayeredLureMDP-v0 --set lure_depth=3\n\n"
        "  rl-suite analyze MiniGrid-Empty-5x5-v0 --set horizon=20 --repeat-probability 0.25\n\n"
        "  rl-suite analyze FrozenLake-v1 --set horizon=20 --max-k 3"
    )
)
def analyze(
    env_id: str = typer.Argument(..., help="Env id with a finite model, a toy-text id or a MiniGrid id."),
    overrides: list[str] = typer.Option([], "--set", help="Env argument: key=value (env. prefix optional)."),
    max_k: int = typer.Option(5, "--max-k", help="Largest k (backups of Q^rand) analysed."),
    repeat_probability: float = typer.Option(
        0.25, "--repeat-probability", help="Sticky-action probability in [0, 1) (0: no sticky version)."
    ),
    out: Path = typer.Option(Path("runs"), "--out", help="Folder the report folder is written under."),
) -> None:
    """Effective horizon of an env: min_k, planning window, proxy bound, greedy returns (and sticky)."""
    from rl_suite.analyze import analyze as run_analysis
    from rl_suite.analyze import write_report

    kwargs = _env_kwargs(overrides, "analyze", "horizon=20")
    report = run_analysis(env_id, max_k=max_k, repeat_probability=repeat_probability, **kwargs)
    print(report.to_markdown())
    print(f"written to {write_report(report, out)}")


# --------------------------------------------------------------------------- sweep
@app.command(
    epilog=(
        "Examples:\n\n"
        "  rl-suite sweep configs/sweeps/quickstart.yaml --workers 2\n\n"
        "  rl-suite sweep configs/sweeps/linear_bandit.yaml --set seeds=0-29 --out runs/linear30\n\n"
        "  rl-suite sweep configs/sweeps/aggregate_bandits.yaml --backend ray --workers 2\n\n"
        "  rl-suite sweep configs/sweeps/quickstart.yaml --backend ray --address auto "
        "--storage-path /shared/rl_suite"
    )
)
def sweep(
    file: Path = typer.Argument(..., help="Sweep YAML (envs x agents x seeds)."),
    workers: int | None = typer.Option(
        None, "--workers", help="Runs in parallel [local: 1; ray: as many as free CPUs allow]."
    ),
    backend: str = typer.Option("local", "--backend", help="Where runs execute: local or ray."),
    max_retries: int = typer.Option(0, "--max-retries", help="Times a failed run is started again."),
    cpus_per_trial: float = typer.Option(1.0, "--cpus-per-trial", help="Ray: CPUs per trial (a cell)."),
    gpus_per_trial: float = typer.Option(0.0, "--gpus-per-trial", help="Ray: GPUs per trial (a cell)."),
    storage_path: str | None = typer.Option(
        None,
        "--storage-path",
        help="Ray: run store root on storage every node sees; run folders go to <path>/<sweep name> "
        "(unless --out is given).",
    ),
    address: str | None = typer.Option(
        None, "--address", help="Ray: cluster to join (auto, ray://host:10001) [RAY_ADDRESS or a local Ray]."
    ),
    out: str | None = typer.Option(None, "--out", help="Folder for the run folders [runs/<sweep name>]."),
    overrides: list[str] = typer.Option([], "--set", help="Override a sweep key, e.g. total_steps=2000."),
    batch: bool = typer.Option(
        True, "--batch/--no-batch", help="Run a cell's seeds as one batched program where the agent allows."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run a sweep; completed runs already on disk are skipped, interrupted ones resumed."""
    from rl_suite.sweep import (
        BackendOptions,
        JobOutcome,
        check_backend,
        execute,
        load_sweep,
        local_workers,
        plan,
    )
    from rl_suite.tracking import progress_bar

    options = BackendOptions(
        max_retries=max_retries,
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        storage_path=storage_path,
        address=address,
        batch=batch,
    )
    check_backend(backend, workers, options)  # before the plan resolves every run
    spec = load_sweep(file, overrides + ([f"out={out}"] if out else []))
    if storage_path is not None and out is None:
        spec = spec.model_copy(update={"out": str(Path(storage_path) / spec.name)})
    runs = spec.runs()
    jobs = plan(runs)
    todo = sum(j.action != "skip" for j in jobs)
    print(f"sweep {spec.name}: {len(jobs)} runs ({len(jobs) - todo} already completed) -> {runs[0].out}")
    outcomes: list[JobOutcome] = []
    try:
        # The workers start before the bar's refresh thread does, so that they can be forked.
        workers_first = local_workers(workers if backend == "local" and todo > 1 else 1)
        with workers_first, progress_bar(f"sweep {spec.name}", len(jobs), quiet, unit="runs") as prog:
            outcomes.extend(execute(jobs, backend, workers, prog, options))
    except KeyboardInterrupt:
        print("interrupted: run the same command again to finish the missing runs", file=sys.stderr)
        raise typer.Exit(130) from None
    counts = {
        s: sum(o.status == s for o in outcomes)
        for s in ("completed", "skipped", "failed", "interrupted", "busy")
    }
    names = {"busy": "running elsewhere"}
    print(", ".join(f"{v} {names.get(k, k)}" for k, v in counts.items() if v or k != "busy"))
    for o in outcomes:
        if o.status == "busy":
            print(f"running elsewhere: {_job_name(o.job.config)} ({o.error})", file=sys.stderr)
        elif o.error and o.status == "completed":
            print(f"note: {o.error}", file=sys.stderr)
    retried = [o for o in outcomes if o.attempts > 1]
    if retried:
        print(f"{len(retried)} run(s) were retried after a failure (--max-retries {max_retries})")
    for o in outcomes:
        if o.status == "failed":
            print(f"failed: {o.path}: {o.error}", file=sys.stderr)
    if counts["interrupted"]:
        print("interrupted: run the same command again to finish the missing runs", file=sys.stderr)
        raise typer.Exit(130)
    if counts["failed"]:
        raise typer.Exit(1)
    print(f"compare: rl-suite compare {runs[0].out} --out reports/{Path(runs[0].out).name}")


def _job_name(config: dict[str, Any]) -> str:
    return f"{config['env']['id']} {config.get('label') or config['agent']['name']} seed {config['seed']}"


# --------------------------------------------------------------------------- entry point
class _ClickError(Protocol):
    """A click ``UsageError``/``ClickException`` (known by class name: typer may vendor its own click)."""

    def format_message(self) -> str: ...


def _kind(exc: BaseException) -> str | None:
    """Which click exception ``exc`` is (typer may vendor its own click, so match by class name)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    for kind in ("UsageError", "Abort", "Exit", "ClickException"):
        if kind in names:
            return kind
    return None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors become one line and exit status 2."""
    try:
        rv = app(args=argv, prog_name="rl-suite", standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        kind = _kind(exc)
        if kind == "UsageError":
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            print(f"error: {cast(_ClickError, exc).format_message()}{hint}", file=sys.stderr)
            sys.exit(2)
        if kind == "Abort":
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        if kind == "Exit":
            sys.exit(getattr(exc, "exit_code", 0))
        if kind == "ClickException":
            print(f"error: {cast(_ClickError, exc).format_message()}", file=sys.stderr)
            sys.exit(getattr(exc, "exit_code", 1))
        raise
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
