"""Seed-batched sweep cells write the run folders that running each seed alone writes, bit for bit.

A cell (one env config x one agent config, R seeds) runs as one batched agent on one vector env
(:mod:`rl_suite.batched`); its R folders must hold the same ``metrics.csv`` and ``config.yaml`` bytes and
the same summary (all but timings, host and pid) as R separate ``run_trial`` calls, resume alone from
their checkpoints, and follow the sweep's claims. Agents or runs the batch cannot reproduce run one seed
after the other in the same process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rl_suite import batched, registry
from rl_suite import sweep as sweep_mod
from rl_suite.config import agent_class, config_hash, load_yaml, resolve
from rl_suite.runner import resume_trial, run_trial
from rl_suite.store import Claim, find_runs
from rl_suite.sweep import Job, execute_cell, load_sweep, make_cells, plan, run_sweep

#: Summary entries that differ between two executions of the same run.
TIMINGS = {
    "wall_time_s",
    "steps_per_s",
    "started_at",
    "updated_at",
    "finished_at",
    "pid",
    "host",
    "peak_rss_mb",
}
LINEAR = {"id": "rl_suite/LinearContextualBandit-v0", "dim": 4, "n_arms": 5}
MAB = {"id": "rl_suite/MultiArmedBandit-v0", "n_arms": 5}
CMAB = {"id": "rl_suite/ConstrainedMAB-v0"}
SEEDS = (3, 4, 7)  # not contiguous: each stream is seeded on its own

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def batch_presets() -> list[Path]:
    """Every preset of a bandit-loop agent (one with a batch axis) on an env with a vector form."""
    from rl_suite.agents.base import BanditLoop

    found = []
    for path in sorted(CONFIGS.glob("*.yaml")):
        data = load_yaml(path)
        if registry.env_entry(data["env"]["id"]).vector_entry_point is None:
            continue
        cls = agent_class(data["agent"]["name"])
        if isinstance(cls, type) and issubclass(cls, BanditLoop):
            found.append(path)
    return found


PRESETS = batch_presets()


def configs(env: dict[str, Any], agent: dict[str, Any], out: Path, steps: int = 600) -> list[dict[str, Any]]:
    return [
        {
            "env": env,
            "agent": agent,
            "seed": s,
            "total_steps": steps,
            "checkpoint_every": 250,
            "out": str(out),
        }
        for s in SEEDS
    ]


def assert_same_run(a: Path, b: Path, resumed: bool = False) -> None:
    """Two run folders hold the same run: metrics and config byte for byte, summaries but for timings.

    The folders lie under different ``out`` folders, so that line of ``config.yaml`` is left out. A resumed
    run refits its regret exponent from the 10-digit ``metrics.csv`` (as every resumed run does), so it is
    compared to 1e-8 there.
    """
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    ca, cb = ((p / "config.yaml").read_text().splitlines() for p in (a, b))
    assert [x for x in ca if not x.startswith("out: ")] == [x for x in cb if not x.startswith("out: ")]
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (a, b))
    assert list(sa) == list(sb)
    if resumed:
        assert sa.pop("regret_exponent") == pytest.approx(sb.pop("regret_exponent"), abs=1e-8)
    assert {k: v for k, v in sa.items() if k not in TIMINGS} == {
        k: v for k, v in sb.items() if k not in TIMINGS
    }


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_batched_cell_writes_the_folders_of_each_seed_run_alone(tmp_path: Path, preset: Path) -> None:
    """Every bandit agent's preset, run as a batch of two seeds, or refused before anything is written."""
    data = {k: v for k, v in load_yaml(preset).items() if k not in ("seeds", "seed", "eval_every", "track")}
    cfgs = [
        {**data, "seed": s, "total_steps": 300, "checkpoint_every": 120, "out": str(tmp_path / "batched")}
        for s in (3, 7)  # not contiguous: each stream is seeded on its own
    ]
    try:
        records = batched.run_cell_batched(cfgs)
    except batched.NotBatchable as exc:
        assert not (tmp_path / "batched").exists() or not list((tmp_path / "batched").iterdir())
        assert data["agent"]["name"] in NOT_BATCHABLE, exc
        return
    assert data["agent"]["name"] not in NOT_BATCHABLE
    assert [r.status for r in records] == ["completed", "completed"]
    for cfg, record in zip(cfgs, records, strict=True):
        alone = run_trial({**cfg, "out": str(tmp_path / "alone")})
        assert_same_run(record.path, alone.path)
        assert len(list((record.path / "checkpoint").iterdir())) == 2  # the two newest, as run_trial keeps


#: Bandit-loop agents whose batch cannot reproduce each seed (state kept outside their state arrays).
NOT_BATCHABLE = {"lagrangian"}


def test_interrupted_batched_cell_resumes_each_seed_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C in the second chunk leaves R interrupted folders; each resumes alone to the straight run."""
    cfgs = configs(LINEAR, {"name": "lin-ts"}, tmp_path / "batched", steps=700)
    real = batched._save_checkpoint
    calls = {"n": 0}

    def interrupt_in_second_chunk(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == len(SEEDS) + 2:  # streams 0 and 1 of chunk 2 saved, stream 2 not
            raise KeyboardInterrupt
        real(*args)

    monkeypatch.setattr(batched, "_save_checkpoint", interrupt_in_second_chunk)
    records = batched.run_cell_batched(cfgs)
    assert [r.status for r in records] == ["interrupted"] * len(SEEDS)
    monkeypatch.setattr(batched, "_save_checkpoint", real)
    for cfg, record in zip(cfgs, records, strict=True):
        resumed = resume_trial(record.path)
        assert resumed.status == "completed"
        alone = run_trial({**cfg, "out": str(tmp_path / "alone")})
        assert_same_run(resumed.path, alone.path, resumed=True)


def test_agents_without_a_batch_form_run_one_seed_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lagrangian keeps state outside its arrays, and evaluated runs go alone: same folders, no batch."""
    calls: list[str] = []
    real = batched._prepare

    def spy(cfgs: list[Any]) -> Any:
        try:
            return real(cfgs)
        except batched.NotBatchable as exc:
            calls.append(str(exc))
            raise

    monkeypatch.setattr(batched, "_prepare", spy)
    cases = [({**CMAB}, {"name": "lagrangian"}, {}), (MAB, {"name": "ucb1"}, {"eval_every": 200})]
    for env, agent, extra in cases:
        jobs = [
            Job("run", resolve({**c, **extra}).model_dump(mode="json")) for c in configs(env, agent, tmp_path)
        ]
        assert [o.status for o in execute_cell(jobs)] == ["completed"] * len(SEEDS)
    assert len(calls) == 2 and "state outside" in calls[0] and "one by one" in calls[1]
    assert len(find_runs([tmp_path])) == 2 * len(SEEDS)


def test_a_draw_without_a_stream_form_mid_run_removes_the_cell_folders_and_runs_seeds_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: batched.StreamGenerators, *args: Any, **kwargs: Any) -> Any:
        raise batched.NotBatchable("rng.random has no per-stream form (test)")

    monkeypatch.setattr(batched.StreamGenerators, "random", refuse)
    cfgs = configs(MAB, {"name": "epsilon-greedy"}, tmp_path / "runs")
    with pytest.raises(batched.NotBatchable):
        batched.run_cell_batched(cfgs)
    assert not list((tmp_path / "runs").glob("*__s*"))  # the batch's own unfinished folders are gone
    outcomes = execute_cell([Job("run", resolve(c).model_dump(mode="json")) for c in cfgs])
    assert [o.status for o in outcomes] == ["completed"] * len(SEEDS)
    for cfg, outcome in zip(cfgs, outcomes, strict=True):
        assert outcome.path is not None
        assert_same_run(Path(outcome.path), run_trial({**cfg, "out": str(tmp_path / "alone")}).path)


def test_a_seed_claimed_elsewhere_is_left_to_its_holder(tmp_path: Path) -> None:
    cfgs = [resolve(c) for c in configs(MAB, {"name": "ucb1"}, tmp_path / "runs")]
    held = Claim(cfgs[1].out, config_hash(cfgs[1]))
    assert held.try_acquire()
    try:
        outcomes = execute_cell([Job("run", c.model_dump(mode="json")) for c in cfgs])
    finally:
        held.release()
    assert [o.status for o in outcomes] == ["completed", "busy", "completed"]
    assert sorted(r.seed for r in find_runs([tmp_path / "runs"])) == [SEEDS[0], SEEDS[2]]
    again = execute_cell([Job(j.action, j.config, j.path) for j in plan(cfgs)])  # type: ignore[arg-type]
    assert [o.status for o in again] == ["skipped", "completed", "skipped"]


def test_cells_group_a_sweep_by_config_and_split_for_workers(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "name: cells\ntotal_steps: 300\nseeds: 0-5\nenvs:\n  - id: rl_suite/MultiArmedBandit-v0\n"
        f"agents:\n  - name: ucb1\n  - name: exp3\nout: {tmp_path / 'runs'}\n"
    )
    jobs = plan(load_sweep(path).runs())
    one = make_cells(jobs, 1)
    assert [len(c) for c in one] == [6, 6]
    assert {c[0].config["agent"]["name"] for c in one} == {"ucb1", "exp3"}
    assert all(len({j.config["agent"]["name"] for j in c}) == 1 for c in one)
    assert [len(c) for c in make_cells(jobs, 2)] == [6, 6]  # enough cells for two workers
    two = make_cells(jobs, 2, per_worker=4)
    assert sorted(len(c) for c in two) == [1, 1, 1, 1, 2, 2, 2, 2]
    assert sorted(j.config["seed"] for c in two for j in c) == sorted(j.config["seed"] for j in jobs)
    assert [len(c) for c in make_cells(jobs[:6], 4)] == [2, 1, 2, 1]  # one cell, four workers
    result = run_sweep(load_sweep(path), workers=2)
    assert result.ok and result.count("completed") == 12
    for record in find_runs([tmp_path / "runs"]):
        cfg = {k: v for k, v in record.config().items() if k not in ("versions", "git_sha", "config_hash")}
        assert_same_run(record.path, run_trial({**cfg, "out": str(tmp_path / "alone")}).path)


def test_no_batch_option_runs_seeds_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("batched although --no-batch")

    monkeypatch.setattr(batched, "run_cell_batched", fail)
    jobs = [Job("run", resolve(c).model_dump(mode="json")) for c in configs(MAB, {"name": "ucb1"}, tmp_path)]
    assert [o.status for o in execute_cell(jobs, batch=False)] == ["completed"] * len(SEEDS)
    assert sweep_mod.BackendOptions().batch
    from rl_suite.cli import main

    path = tmp_path / "sweep.yaml"
    path.write_text(
        "name: nobatch\ntotal_steps: 200\nseeds: 0-2\nenvs:\n  - id: rl_suite/MultiArmedBandit-v0\n"
        f"agents:\n  - name: exp3\nout: {tmp_path / 'cli'}\n"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(path), "--no-batch", "--quiet"])
    assert exit_info.value.code == 0
    assert len(find_runs([tmp_path / "cli"])) == 3
