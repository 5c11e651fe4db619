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
    real = batched.save_checkpoint
    calls = {"n": 0}

    def interrupt_in_second_chunk(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == len(SEEDS) + 2:  # streams 0 and 1 of chunk 2 saved, stream 2 not
            raise KeyboardInterrupt
        real(*args)

    monkeypatch.setattr(batched, "save_checkpoint", interrupt_in_second_chunk)
    records = batched.run_cell_batched(cfgs)
    assert [r.status for r in records] == ["interrupted"] * len(SEEDS)
    monkeypatch.setattr(batched, "save_checkpoint", real)
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


# --------------------------------------------------------------------------- the per-step fast paths
VECTOR_ENVS = [
    LINEAR,  # 4 normals a step, 3 at a reset
    {**LINEAR, "model": "shared", "context": "ball"},  # 5 x 4 normals a round: a block lasts fewer rounds
    MAB,  # one normal a step, none at a reset
    {"id": "rl_suite/ConstrainedMAB-v0", "action_mode": "arm"},
]


@pytest.mark.parametrize("env", VECTOR_ENVS, ids=["linear", "linear-shared-ball", "mab", "cmab"])
def test_vector_env_draws_ahead_yet_its_state_is_that_of_round_by_round_draws(env: dict[str, Any]) -> None:
    """Served from blocks of normals, every stream still matches its single env, state included.

    Over 400 rounds (several blocks, an episode end every 37 rounds) every step's observations and rewards
    are the single envs', every ``get_state()`` holds each single env's generator state, reading the
    state changes nothing that follows, and a fresh vector env given a state mid-block continues the same.
    """
    import gymnasium as gym
    import numpy as np

    kwargs = {k: v for k, v in env.items() if k != "id"} | {"horizon": 37}
    R = len(SEEDS)

    def vector() -> Any:
        return gym.make_vec(env["id"], num_envs=R, vectorization_mode="vector_entry_point", **kwargs)

    vec, untouched = vector(), vector()
    singles = [gym.make(env["id"], **kwargs).unwrapped for _ in SEEDS]
    obs, _ = vec.reset(seed=list(SEEDS))
    untouched.reset(seed=list(SEEDS))
    for s, e in zip(SEEDS, singles, strict=True):
        e.reset(seed=s)
    clone = None
    rng = np.random.default_rng(0)
    for t in range(400):
        actions = rng.integers(vec.unwrapped.n_arms, size=R)
        obs, reward, _, truncated, _ = vec.step(actions)
        assert np.array_equal(untouched.step(actions)[1], reward)
        if clone is not None:
            assert np.array_equal(clone.step(actions)[1], reward)
        for i, e in enumerate(singles):
            o, r, _, done, _ = e.step(int(actions[i]))
            if done:
                o, _ = e.reset()
            assert np.array_equal(o, obs[i]) and r == reward[i] and done == truncated[i]
        if t % 3 == 0:
            state = vec.unwrapped.get_state()
            assert state["rngs"] == [e.get_state()["rng"] for e in singles]
            if t == 150:
                clone = vector()
                clone.reset(seed=0)
                clone.unwrapped.set_state(state)


@pytest.mark.parametrize("few", [256, 0], ids=["as-lists", "numpy"])
def test_stream_argmax_breaks_ties_as_the_one_stream_path_does(
    few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows without ties take no draw; a tied row draws from its own generator as one stream would."""
    import numpy as np

    from rl_suite.agents.base import ArrayAgent

    monkeypatch.setattr(batched, "_FEW_SCORES", few)  # small score arrays are checked as lists
    scores = np.array(
        [[0.1, 0.9, 0.3], [0.5, 0.5, 0.2], [0.7, 0.1, 0.7], [0.0, 1.0, -1.0], [0.0, -0.0, -1.0]]
    )
    R = scores.shape[0]

    class One:  # what ArrayAgent._argmax reads of a one-stream agent
        num_envs = 1

        def __init__(self, seed: int) -> None:
            self.rng = np.random.default_rng(seed)

    for rows in (scores[[0, 3]], scores):  # no tie at all; ties in rows 1, 2 and 4 (0.0 == -0.0)
        n = rows.shape[0]
        gens = [np.random.default_rng(s) for s in range(n)]
        got = batched._stream_argmax(batched.StreamGenerators(gens))(None, rows)
        ones = [One(s) for s in range(n)]
        want = [int(ArrayAgent._argmax(o, rows[i : i + 1])[0]) for i, o in enumerate(ones)]  # type: ignore[arg-type]
        assert got.tolist() == want
        assert [g.bit_generator.state for g in gens] == [o.rng.bit_generator.state for o in ones]
    assert got[0] == 1 and got[3] == 1 and got[1] in (0, 1) and got[2] in (0, 2) and got[4] in (0, 1)
    untouched = np.random.default_rng(0).bit_generator.state
    gens = [np.random.default_rng(0) for _ in range(R)]
    argmax = batched._stream_argmax(batched.StreamGenerators(gens))
    assert argmax(None, scores[[0, 3, 0, 3]]).tolist() == [1, 1, 1, 1]
    assert all(g.bit_generator.state == untouched for g in gens)  # no tie: no draw
    # A NaN row ties with nothing, even next to a row with two ties (R ties in all), and wherever the NaN
    # stands in its row: refused, as alone.
    for nan_row in ([np.nan, 0.0, 1.0], [0.5, np.nan, 0.7]):
        nan = np.array([nan_row, [0.5, 0.5, 0.2]])
        with pytest.raises(ValueError):
            batched._stream_argmax(batched.StreamGenerators([np.random.default_rng(s) for s in range(2)]))(
                None, nan
            )
        with pytest.raises(ValueError):
            ArrayAgent._argmax(One(0), nan[:1])  # type: ignore[arg-type]


def test_discrete_actions_fast_path_refuses_what_the_general_path_refuses() -> None:
    import numpy as np

    from rl_suite.errors import UserError
    from rl_suite.spaces import discrete_action, discrete_actions

    ok = np.array([0, 4, 2], dtype=np.int64)
    assert discrete_actions(ok, 5, 3) is ok  # int64 in range: handed back as is
    assert discrete_actions([1, 2, 3], 5, 3).tolist() == [1, 2, 3]
    assert discrete_actions(np.array([1, 2, 3], dtype=np.uint8), 5, 3).dtype == np.int64
    bad = {
        "action -1 is outside": np.array([0, -1, 2]),
        "action 5 is outside": np.array([0, 5, 2]),
        "action -9223372036854775808 is outside": np.array([0, np.iinfo(np.int64).min, 2]),
        "action 7 is outside": np.array([7, 1, 2], dtype=np.int32),
        "do not fit": np.array([True, False, True]),
        "do not fit ": np.array([0.0, 1.0, 2.0]),
        "do not fit  ": np.array([0, 1]),
    }
    for message, actions in bad.items():
        with pytest.raises(UserError, match=message.strip()):
            discrete_actions(actions, 5, 3)
    assert discrete_action(np.array([3], dtype=np.uint16), 5) == 3
    with pytest.raises(UserError, match="expected one integer"):
        discrete_action(np.array([True]), 5)


def test_vector_env_hands_out_fresh_done_flags() -> None:
    """``terminated``/``truncated`` are new arrays every step: a caller writing to them changes nothing."""
    import gymnasium as gym

    vec = gym.make_vec(LINEAR["id"], num_envs=2, vectorization_mode="vector_entry_point", dim=4, horizon=2)
    vec.reset(seed=0)
    for t in range(4):
        _, _, terminated, truncated, info = vec.step([0, 1])
        assert not terminated.any() and truncated.all() == (t % 2 == 1) and truncated.any() == truncated.all()
        terminated[:] = True
        truncated[:] = True
        if "_final_info" in info:
            info["_final_info"][:] = False


def test_stream_generators_fill_rows_from_each_generator() -> None:
    """``random``/``standard_normal`` with any spelling of the size draw row ``i`` from generator ``i``."""
    import numpy as np

    for size in (3, np.int64(3), (3,), (3, 2), np.array([3, 2])):
        gens = [np.random.default_rng(s) for s in range(3)]
        rng = batched.StreamGenerators(gens)
        shape = tuple(np.atleast_1d(size).tolist())
        got = np.concatenate([rng.random(size), rng.standard_normal(size)], axis=-1 if len(shape) > 1 else 0)
        alone = [np.random.default_rng(s) for s in range(3)]
        rows = [(g.random((1, *shape[1:])), g.standard_normal((1, *shape[1:]))) for g in alone]
        want = np.concatenate(
            [np.concatenate([r for r, _ in rows]), np.concatenate([n for _, n in rows])],
            axis=-1 if len(shape) > 1 else 0,
        )
        assert np.array_equal(got, want)
        rng.settle()  # the normals were served from a block drawn ahead
        assert [g.bit_generator.state for g in gens] == [g.bit_generator.state for g in alone]
    with pytest.raises(batched.NotBatchable, match="not one row per stream"):
        batched.StreamGenerators([np.random.default_rng(0)] * 3).random(2)


def test_stream_generators_serve_normals_ahead_yet_draw_as_one_stream_would() -> None:
    """Normals come from blocks drawn ahead; other draws and ``settle()`` find each generator in place."""
    import numpy as np

    R = 3
    gens = [np.random.default_rng(10 + s) for s in range(R)]
    rng = batched.StreamGenerators(gens)
    alone = [np.random.default_rng(10 + s) for s in range(R)]
    for t in range(1200):  # 4 normals a step: past four blocks of 1,024
        got = rng.standard_normal((R, 4))
        assert np.array_equal(got, np.concatenate([g.standard_normal((1, 4)) for g in alone]))
        if t % 97 == 5:  # a uniform, then an integer, between two normal draws
            assert rng.random(R).tolist() == [g.random() for g in alone]
            assert rng.integers(7, size=R).tolist() == [int(g.integers(7)) for g in alone]
        if t % 251 == 7:
            want = np.concatenate([g.standard_normal(1) for g in alone])
            assert np.array_equal(rng.standard_normal(R), want)
        if t % 401 == 9:
            rng.settle()
            assert [g.bit_generator.state for g in gens] == [g.bit_generator.state for g in alone]
    rng.settle()
    assert [g.bit_generator.state for g in gens] == [g.bit_generator.state for g in alone]
    # A tie broken by the batch's argmax draws from a settled generator.
    for g in alone:
        g.standard_normal(2)
    rng.standard_normal((R, 2))
    ties = np.array([[0.5, 0.5, 0.1]] * R)
    got = batched._stream_argmax(rng)(None, ties)
    assert got.tolist() == [[0, 1][int(g.integers(2))] for g in alone]
    assert [g.bit_generator.state for g in gens] == [g.bit_generator.state for g in alone]


def test_a_bernoulli_bandit_cell_imports_no_scipy(tmp_path: Path) -> None:
    """A sweep worker running the quickstart's cells (Bernoulli rewards, so Φ) never loads scipy (~0.4 s)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from rl_suite.sweep import execute_cell, load_sweep, make_cells, plan\n"
        f"sweep = load_sweep({str(CONFIGS / 'sweeps' / 'quickstart.yaml')!r}, "
        f"['total_steps=60', 'seeds=0-1', 'out={tmp_path}'])\n"
        "outcomes = [o for c in make_cells(plan(sweep.runs())) for o in execute_cell(c)]\n"
        "scipy = sorted(m for m in sys.modules if m.startswith('scipy'))\n"
        "print(sorted({o.status for o in outcomes}), scipy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['completed'] []"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_forked_and_spawned_workers_write_the_runs_of_one_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "name: pool\ntotal_steps: 400\nseeds: 0-3\nenvs:\n  - id: rl_suite/LinearContextualBandit-v0\n"
        "    dim: 4\n    n_arms: 5\nagents:\n  - name: linucb\n  - name: epsilon-greedy\n"
    )
    one = run_sweep(load_sweep(path, [f"out={tmp_path / 'one'}"]), workers=1)
    monkeypatch.setattr(sweep_mod, "pool_start_method", lambda: method)
    with sweep_mod.local_workers(3):  # started before the sweep, as the CLI starts them
        two = run_sweep(load_sweep(path, [f"out={tmp_path / 'pool'}"]), workers=3)
    assert one.ok and two.ok and two.count("completed") == 8
    pids = {json.loads((r.path / "summary.json").read_text())["pid"] for r in find_runs([tmp_path / "pool"])}
    assert len(pids) > 1  # the workers ran cells
    alone = {(r.label, r.seed): r.path for r in find_runs([tmp_path / "one"])}
    for record in find_runs([tmp_path / "pool"]):
        assert_same_run(record.path, alone[(record.label, record.seed)])


def test_workers_are_forked_only_where_that_is_safe() -> None:
    """fork on Linux in a process with one thread and no torch; spawn once a thread runs or torch loads."""
    import subprocess
    import sys

    code = (
        "import threading, time\n"
        "from rl_suite.sweep import pool_start_method as m\n"
        "first = m()\n"
        "t = threading.Thread(target=time.sleep, args=(0.5,)); t.start(); threaded = m(); t.join()\n"
        "import torch\n"
        "print(first, threaded, m())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    expected = "fork" if sys.platform.startswith("linux") else "spawn"
    assert out.split() == [expected, "spawn", "spawn"]


#: The process that ran the sweep (set by the test below; a forked worker sees it too).
_PARENT: list[int] = []


def _killed_in_workers(*args: Any) -> Any:
    """:func:`execute_cell` in the sweep's own process; in a worker, an exit as the OOM killer's."""
    import os

    if os.getpid() != _PARENT[0]:
        os._exit(1)
    return execute_cell(*args)


def test_a_worker_that_dies_fails_its_cell_and_the_sweep_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    path = tmp_path / "sweep.yaml"
    path.write_text(
        "name: dies\ntotal_steps: 200\nseeds: 0-1\nenvs:\n  - id: rl_suite/MultiArmedBandit-v0\n"
        f"agents:\n  - name: ucb1\n  - name: exp3\n  - name: epsilon-greedy\nout: {tmp_path / 'runs'}\n"
    )
    _PARENT[:] = [os.getpid()]
    monkeypatch.setattr(sweep_mod, "pool_start_method", lambda: "fork")  # the child runs this module's copy
    monkeypatch.setattr(sweep_mod, "execute_cell", _killed_in_workers)
    result = run_sweep(load_sweep(path), workers=2)
    failed = [o for o in result.outcomes if o.status == "failed"]
    assert failed and all("worker process died" in (o.error or "") for o in failed)
    assert result.count("completed") + len(failed) == 6 and result.count("completed") >= 2
    monkeypatch.undo()
    again = run_sweep(load_sweep(path), workers=1)
    assert again.ok and again.count("skipped") == result.count("completed")
    assert again.count("completed") == len(failed)


@pytest.mark.parametrize("env", [LINEAR, CMAB], ids=["linear", "cmab"])
def test_vector_recorder_rows_and_totals_are_those_of_single_recorders(env: dict[str, Any]) -> None:
    """The vector recorder keeps steps and writes them as rows later (at an episode end, a drain, a counters
    read, or every ``_KEPT_STEPS`` steps): its rows and running totals are still, float for float, those a
    :class:`~rl_suite.regret.RegretRecorder` writes step by step for each seed alone."""
    import gymnasium as gym
    import numpy as np

    from rl_suite.regret import RegretRecorder

    kwargs = {k: v for k, v in env.items() if k != "id"} | {"horizon": 700}
    constrained = env is CMAB
    R = len(SEEDS)
    vec = batched.VectorRegretRecorder(
        gym.make_vec(env["id"], num_envs=R, vectorization_mode="vector_entry_point", **kwargs), constrained
    )
    singles = [RegretRecorder(gym.make(env["id"], **kwargs), constrained) for _ in SEEDS]
    vec.reset(seed=list(SEEDS))
    for s, e in zip(SEEDS, singles, strict=True):
        e.reset(seed=s)
    space = vec.single_action_space
    space.seed(0)
    steps = 2 * batched._KEPT_STEPS + 300  # flushes by count, three episode ends, one counters read
    for t in range(1, steps + 1):
        acts = [space.sample() for _ in SEEDS]
        vec.step(np.stack(acts))
        for e, a in zip(singles, acts, strict=True):
            if e.step(a)[3]:
                e.reset()
        if t in (900, steps):
            for i, e in enumerate(singles):
                assert vec.counters(i) == e.counters(), (t, i)
        if t in (1500, steps):
            rows = vec.drain()
            for i, e in enumerate(singles):
                assert np.array_equal(rows[i], e.drain()), (t, i)


def test_batched_agent_plays_each_seed_as_its_own_run(tmp_path: Path) -> None:
    """The public batch of a cell (what ``bench_sweep --per-step`` times): stream i is seed i's run."""
    import numpy as np

    from rl_suite.regret import RegretRecorder
    from rl_suite.runner import make_env

    cfgs = configs(LINEAR, {"name": "lin-ts"}, tmp_path)  # draws its own normals every step
    batch = batched.batched_agent(cfgs)
    batch.learn(300)
    for i, cfg in enumerate(cfgs):
        c = resolve(cfg)
        env = make_env(c)
        alone = agent_class(c.agent.name)(env, c.agent.typed_settings, seed=c.seed).learn(300)
        assert isinstance(env, RegretRecorder)
        assert batch.env.counters(i) == env.counters()
        for key in alone.state_keys:
            assert np.array_equal(np.asarray(getattr(batch, key))[i : i + 1], getattr(alone, key))
        env.close()
    batch.env.close()
    assert not list(tmp_path.iterdir())  # no run folder
    with pytest.raises(batched.NotBatchable):
        batched.batched_agent(configs(CMAB, {"name": "lagrangian"}, tmp_path))
