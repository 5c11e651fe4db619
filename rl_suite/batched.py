"""Seed-batched sweep cells: the R seeds of one (env, agent) config as one array program, R run folders.

The bandit agents carry a leading batch axis (:class:`~rl_suite.agents.base.BanditLoop`) and the bandit
envs have vector forms whose stream ``i`` is bit-identical to the single env reset with seed ``s_i``. A
*cell* of a sweep — one env config and one agent config over R seeds — is run here as one agent on one
vector env, and written as the R run folders that R separate :func:`~rl_suite.runner.run_trial` calls
would have written: the same ``metrics.csv`` byte for byte, the same summary (all but timings, host and
pid), and after every chunk a checkpoint of each seed's *own* single-env agent and env, so that
:func:`~rl_suite.runner.resume_trial` continues any of them alone, exactly.

What makes the streams independent of each other is that the batched agent draws its randomness from R
generators, stream ``i`` from the very generator the single-env agent of seed ``s_i`` would own, in the
order and with the shapes that agent would use (:class:`StreamGenerators`, and a per-stream
:meth:`~rl_suite.agents.base.ArrayAgent._argmax` that breaks ties as the one-stream path does). Whatever
the batch cannot reproduce exactly — a draw that is not one per stream, state without a stream axis, an
env without a vector form, an evaluated or tracked run — raises :class:`NotBatchable` (before any folder is
written, or, for a draw first made mid-run, after which the cell's own unfinished folders are removed),
and the caller runs the seeds one by one instead.
"""

from __future__ import annotations

import math
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MethodType
from typing import Any, cast

import gymnasium as gym
import numpy as np

from rl_suite import registry
from rl_suite.config import RunConfig, agent_class, config_hash, dump_yaml, resolve
from rl_suite.regret import BASE_COLUMNS, CONSTRAINT_COLUMNS, Columns, RegretRecorder, fit_regret_exponent
from rl_suite.runner import (
    RunInterrupted,
    git_sha,
    make_env,
    new_run_dir,
    new_summary,
    one_line,
    package_versions,
    peak_memory_mb,
    record_diagnostics,
    save_checkpoint,
    signals_raise,
    update_summary,
)
from rl_suite.store import (
    CONFIG,
    METRICS,
    SUMMARY,
    MetricsWriter,
    RunLock,
    RunRecord,
    atomic_write_text,
    now,
    write_json,
)
from rl_suite.streams import NormalBlocks
from rl_suite.tracking import NullTracker


class NotBatchable(Exception):
    """This cell cannot run as one batch bit-identically to its seeds run alone (the reason is the text)."""


# --------------------------------------------------------------------------- per-stream randomness
#: Generator methods a batched agent may call, with the position of their ``size`` argument.
_ROW_DRAWS = {
    "random": 0,
    "standard_normal": 0,
    "exponential": 1,
    "integers": 2,
    "beta": 2,
    "normal": 2,
    "uniform": 2,
    "gamma": 2,
}


class StreamGenerators:
    """The batched agent's ``rng``: row ``i`` of a draw with a leading axis of R comes from generator ``i``.

    Row ``i`` is drawn exactly as a one-stream agent draws it (``size`` with a leading 1, per-stream
    parameter arrays sliced to ``[i:i+1]``), so that the generators advance as the single-env agents' own
    would. Standard normals are served from blocks drawn ahead (:class:`~rl_suite.streams.NormalBlocks`):
    before any other draw, and before the generators' states are read (:meth:`settle`), every generator is
    put back where drawing step by step would have left it. Any other use (a scalar draw, ``choice``,
    ``bit_generator``) raises :class:`NotBatchable`.
    """

    def __init__(self, generators: Sequence[np.random.Generator]) -> None:
        self.generators = list(generators)
        self.streams = len(self.generators)
        self._normals = NormalBlocks(self.generators)
        self._uniforms = [g.random for g in self.generators]

    def settle(self) -> list[np.random.Generator]:
        """Give back the normals drawn ahead: each generator as one-stream draws would have left it."""
        return self._normals.settle()

    def __getattr__(self, name: str) -> Any:
        if name not in _ROW_DRAWS:
            raise NotBatchable(f"the agent uses rng.{name}, which has no per-stream form")
        return lambda *args, **kwargs: self._rows(name, args, kwargs)

    def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> np.ndarray:
        """Uniforms on [0, 1): row ``i`` from generator ``i`` (the common case, without the generic path)."""
        shape = self._float_rows("random", size, dtype, out)
        if shape is None:
            return self._rows("random", (), {"size": size, "dtype": dtype, "out": out})
        self.settle()
        if shape == (self.streams,):
            # One number a stream: a scalar draw consumes the generator exactly as size=1 does, faster.
            return np.array([draw() for draw in self._uniforms])
        u = np.empty((shape[0], 1, *shape[1:]))
        for draw, row in zip(self._uniforms, u, strict=True):
            draw(out=row)  # fills (1, ...) as a one-stream agent's size=(1, ...) draw does
        return u.reshape(shape)

    def standard_normal(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> np.ndarray:
        """Standard normals: row ``i`` from generator ``i``, served from the blocks drawn ahead."""
        shape = self._float_rows("standard_normal", size, dtype, out)
        if shape is None:
            return self._rows("standard_normal", (), {"size": size, "dtype": dtype, "out": out})
        return self._normals.take(math.prod(shape[1:])).reshape(shape)

    def integers(self, low: Any, high: Any = None, size: Any = None, **kwargs: Any) -> np.ndarray:
        """Integers in ``[low, high)``: row ``i`` from generator ``i`` (scalar bounds: one call a stream)."""
        scalar = isinstance(low, (int, np.integer)) and (high is None or isinstance(high, (int, np.integer)))
        if kwargs or not scalar or not isinstance(size, (int, np.integer)) or size != self.streams:
            return self._rows("integers", (low, high), {"size": size, **kwargs})
        # A scalar draw consumes the generator exactly as size=1 does (and takes a third of the time).
        return np.array([g.integers(low, high) for g in self.settle()], dtype=np.int64)

    def _float_rows(self, name: str, size: Any, dtype: Any, out: Any) -> tuple[int, ...] | None:
        """The shape of a float64 draw of one row per stream; ``None`` for any other form (generic path)."""
        if out is not None or size is None or (dtype is not np.float64 and np.dtype(dtype) != np.float64):
            return None
        if type(size) is int:
            shape: tuple[int, ...] = (size,)
        elif type(size) is tuple:
            shape = tuple(int(s) for s in size)
        else:
            shape = (int(size),) if np.ndim(size) == 0 else tuple(int(s) for s in size)
        if not shape or shape[0] != self.streams:
            raise NotBatchable(f"rng.{name} drew {shape}, not one row per stream")
        return shape

    def _rows(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> np.ndarray:
        self.settle()
        R = self.streams
        at = _ROW_DRAWS[name]
        if len(args) > at:  # size given by position
            args, kwargs = args[:at], {**kwargs, "size": args[at]}
        size = kwargs.pop("size", None)
        if size is not None:
            shape = (int(size),) if np.ndim(size) == 0 else tuple(int(s) for s in size)
            if not shape or shape[0] != R:
                raise NotBatchable(f"rng.{name} drew {shape}, not one row per stream")
            kwargs["size"] = (1, *shape[1:])

        def per_stream(v: Any) -> bool:
            return isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == R

        if size is None and not any(per_stream(a) for a in (*args, *kwargs.values())):
            raise NotBatchable(f"rng.{name} made a draw that is not one row per stream")

        def row(v: Any, i: int) -> Any:
            return v[i : i + 1] if per_stream(v) else v

        out = [
            getattr(g, name)(*(row(a, i) for a in args), **{k: row(v, i) for k, v in kwargs.items()})
            for i, g in enumerate(self.generators)
        ]
        return np.concatenate([np.asarray(o) for o in out])


#: Up to this many scores, the batch's argmax looks for ties in Python lists.
_FEW_SCORES = 256


def _untied(rows: list[list[float]]) -> bool:
    """Whether every row has one maximum and no NaN (the rows whose argmax needs no random tie-break)."""
    for row in rows:
        total = sum(row)
        if total != total or row.count(max(row)) != 1:  # NaN (or +inf and -inf), or a tie for the maximum
            return False
    return True


def _stream_argmax(streams: StreamGenerators) -> Callable[..., np.ndarray]:
    """A row-wise argmax breaking a row's exact ties as the one-stream path does, from the row's generator."""

    def argmax(self: Any, scores: np.ndarray, tie_breaking: str = "random") -> np.ndarray:
        best = scores.argmax(axis=1)
        if tie_breaking == "first":
            return best
        few = scores.size <= _FEW_SCORES
        if few and _untied(scores.tolist()):  # a few scores: cheaper as lists than numpy's reductions
            return best
        top = scores.max(axis=1, keepdims=True)
        ties = scores == top
        # Every row ties with its own maximum (unless it is NaN, which ties with nothing), so R ties in all
        # mean exactly one a row: one count over the whole array instead of one per row.
        total = top.sum()
        if not few and np.count_nonzero(ties) == ties.shape[0] and total == total:
            return best
        counts = np.count_nonzero(ties, axis=1)
        generators = streams.settle()
        for i in np.flatnonzero(counts != 1):
            idx = np.flatnonzero(ties[i])
            best[i] = idx[generators[int(i)].integers(idx.size)]
        return best

    return argmax


# --------------------------------------------------------------------------- the vector recorder
#: Steps the vector recorder keeps before writing them as rows (at the latest).
_KEPT_STEPS = 1024


class VectorRegretRecorder(gym.vector.VectorWrapper):
    """:class:`~rl_suite.regret.RegretRecorder` for R streams: the same rows, one table per stream.

    A step only keeps the step's ``(R,)`` arrays; they become rows (and the running totals advance) at the
    next :meth:`drain`, :meth:`counters` or episode end, in one array program per column. The running sums
    are ``np.add.accumulate`` along the steps, which adds in step order: the same floats as adding step by
    step.
    """

    def __init__(self, env: gym.vector.VectorEnv, constrained: bool = False) -> None:
        super().__init__(env)
        R = int(env.num_envs)
        self.columns = BASE_COLUMNS + (CONSTRAINT_COLUMNS if constrained else ())
        self._constrained = constrained
        self._buf = Columns(self.columns, capacity=1024, streams=R)
        self._pending: list[tuple[np.ndarray, ...]] = []  # per step: reward, regret (, cost, violation)
        self.total_steps = 0
        self.episode = np.full(R, -1, dtype=np.int64)
        self.cumulative_regret = np.zeros(R)
        self.cumulative_reward = np.zeros(R)
        self.violations = np.zeros(R, dtype=np.int64)
        self.violation_amount = np.zeros(R)

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset every stream and start a new episode count."""
        self._flush()
        self.episode += 1
        return self.env.reset(seed=seed, options=options)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step every stream and keep each one's reward and regret (and cost and violation) of the step."""
        obs, reward, terminated, truncated, info = self.env.step(actions)
        f64 = np.float64
        if self._constrained:
            kept = (reward, info["regret"], info["cost"], info["violation"])
            self._pending.append(tuple(np.array(v, dtype=f64) for v in kept))
        else:
            self._pending.append((np.array(reward, dtype=f64), np.array(info["regret"], dtype=f64)))
        self.total_steps += 1
        # A single env is reset after its episode ends, which counts the next episode (SAME_STEP autoreset).
        if np.count_nonzero(terminated) or np.count_nonzero(truncated):
            self._flush()
            self.episode += np.logical_or(terminated, truncated)
        elif len(self._pending) == _KEPT_STEPS:
            self._flush()
        return obs, reward, terminated, truncated, info

    def _flush(self) -> None:
        """Write the steps kept since the last flush as rows, and advance the running totals."""
        n = len(self._pending)
        if not n:
            return
        cols = [np.stack(c) for c in zip(*self._pending, strict=True)]  # each (n, R)
        self._pending.clear()
        reward, regret = cols[0], cols[1]
        buf = self._buf
        while buf.n + n > buf.data.shape[0]:
            buf.grow()
        rows = buf.data[buf.n : buf.n + n]  # (n, R, columns)
        rows[:, :, 0] = np.arange(self.total_steps - n + 1, self.total_steps + 1)[:, None]
        rows[:, :, 1] = self.episode
        rows[:, :, 2] = reward
        rows[:, :, 3] = regret
        rows[:, :, 4] = _running(self.cumulative_regret, regret)
        self.cumulative_regret = rows[-1, :, 4].copy()
        self.cumulative_reward = _running(self.cumulative_reward, reward)[-1]
        if self._constrained:
            cost, violation = cols[2], cols[3]
            rows[:, :, 5] = cost
            rows[:, :, 6] = violation
            self.violations = self.violations + np.count_nonzero(violation > 0, axis=0)
            self.violation_amount = _running(self.violation_amount, violation)[-1]
        buf.n += n

    def drain(self) -> np.ndarray:
        """The rows recorded since the last drain, shape ``(R, n, len(columns))``, forgotten here."""
        self._flush()
        return self._buf.take().transpose(1, 0, 2)

    def counters(self, i: int) -> dict[str, float | int]:
        """Stream ``i``'s running totals, as :meth:`RegretRecorder.counters` gives them."""
        self._flush()
        return {
            "total_steps": self.total_steps,
            "episode": int(self.episode[i]),
            "cumulative_regret": float(self.cumulative_regret[i]),
            "cumulative_reward": float(self.cumulative_reward[i]),
            "violations": int(self.violations[i]),
            "violation_amount": float(self.violation_amount[i]),
        }


def _running(total: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``(n, R)`` running sums of ``steps`` from ``total``, added step by step as ``total += step`` adds."""
    return np.add.accumulate(np.concatenate([total[None], steps]), axis=0)[1:]


# --------------------------------------------------------------------------- splitting the batch
def _split_round(value: Any, template: Any, i: int) -> Any:
    """Stream ``i``'s entry of a vector env's round state, shaped like the single env's ``template``."""
    if isinstance(template, np.ndarray):
        return np.asarray(value)[i : i + 1].copy()
    if isinstance(template, bool):
        return bool(np.asarray(value)[i])
    if isinstance(template, int):
        return int(np.asarray(value)[i])
    if isinstance(template, float):
        return float(np.asarray(value)[i])
    raise NotBatchable(f"the env's round state {type(template).__name__} has no per-stream form")


def _stream_env_state(vector: dict[str, Any], template: dict[str, Any], i: int) -> dict[str, Any]:
    """Stream ``i``'s single-env state from a vector env's ``get_state()``."""
    if set(vector) != {"rngs", "t", "round"} or set(template) != {"rng", "t", "round"}:
        raise NotBatchable("the env's state has no per-stream form")
    rnd = vector["round"]
    single_round = template["round"]
    if rnd is None or single_round is None or set(rnd) != set(single_round):
        raise NotBatchable("the env's round state has no per-stream form")
    return {
        "rng": vector["rngs"][i],
        "t": int(vector["t"]),
        "round": {k: _split_round(rnd[k], single_round[k], i) for k in rnd},
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a), np.asarray(b)
        return (
            x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
        )
    return type(a) is type(b) and a == b


class _Stream:
    """One seed of the cell: its config, run folder, single-env agent and env (for checkpoints), summary."""

    def __init__(self, cfg: RunConfig, agent: Any, env: RegretRecorder) -> None:
        self.cfg, self.agent, self.env = cfg, agent, env
        self.run_dir: Path | None = None
        self.lock: RunLock | None = None
        self.writer: MetricsWriter | None = None
        self.summary: dict[str, Any] = {}
        self.curve: list[np.ndarray] = []


def _state_keys(agent: Any) -> tuple[str, ...]:
    return tuple(agent.state_keys)


def _sync(
    stream: _Stream, batch: Any, recorder: VectorRegretRecorder, vector_state: dict[str, Any], i: int
) -> None:
    """Copy stream ``i`` of the batch into the stream's single-env agent and env."""
    agent = stream.agent
    for key in _state_keys(batch):
        setattr(agent, key, np.asarray(getattr(batch, key))[i : i + 1].copy())
    agent.num_timesteps = batch.num_timesteps
    agent._last_obs = None if batch._last_obs is None else np.asarray(batch._last_obs)[i].copy()
    template = stream.env.unwrapped.get_state()  # type: ignore[attr-defined]
    stream.env.unwrapped.set_state(_stream_env_state(vector_state, template, i))  # type: ignore[attr-defined]
    stream.env.restore_counters(recorder.counters(i))


def _prepare(cfgs: list[RunConfig]) -> tuple[Any, VectorRegretRecorder, list[_Stream], Any]:
    """Build the batched agent on the vector env and each seed's single agent and env; check they agree.

    Raises:
        NotBatchable: the agent or env has no batch form that reproduces every seed exactly.
    """
    from rl_suite.agents.base import ArrayAgent, BanditLoop

    cfg0 = cfgs[0]
    R = len(cfgs)
    entry = registry.env_entry(cfg0.env.id)
    if entry.vector_entry_point is None:
        raise NotBatchable(f"{cfg0.env.id} has no vector form")
    cls = agent_class(cfg0.agent.name)
    if not (isinstance(cls, type) and issubclass(cls, BanditLoop)):
        raise NotBatchable(f"{cfg0.agent.name} has no batch axis")
    if cls._extra_arrays is not ArrayAgent._extra_arrays:
        raise NotBatchable(f"{cfg0.agent.name} keeps state outside its state arrays")
    if any(c.eval_every is not None or c.track for c in cfgs):
        raise NotBatchable("evaluated or tracked runs go one by one")
    for c in cfgs:
        if c.model_copy(update={"seed": cfg0.seed}) != cfg0:
            raise NotBatchable("the runs of a cell differ in more than their seed")
    constrained = entry.family in registry.CONSTRAINED_FAMILIES
    vec = gym.make_vec(cfg0.env.id, num_envs=R, vectorization_mode="vector_entry_point", **cfg0.env.kwargs)
    recorder = VectorRegretRecorder(vec, constrained=constrained)
    streams: list[_Stream] = []
    try:
        return _build(cls, cfg0, cfgs, recorder, streams)
    except BaseException:
        recorder.close()
        for s in streams:
            s.env.close()
        raise


def _build(
    cls: Any, cfg0: RunConfig, cfgs: list[RunConfig], recorder: VectorRegretRecorder, streams: list[_Stream]
) -> tuple[Any, VectorRegretRecorder, list[_Stream], Any]:
    """The rest of :func:`_prepare`: the agents, and the checks that the batch reproduces every seed."""
    from rl_suite.agents.base import _rng_for

    R = len(cfgs)
    seeds = [c.seed for c in cfgs]
    for c in cfgs:
        env = make_env(c)
        if callable(getattr(env.unwrapped, "run_summary", None)):
            raise NotBatchable(f"{cfg0.env.id} reports run totals of its own")
        agent = cls(env, c.agent.typed_settings, seed=c.seed)
        if not _same(agent.rng.bit_generator.state, _rng_for(c.seed).bit_generator.state):
            raise NotBatchable(f"{cfg0.agent.name} draws randomness when it is built")
        streams.append(_Stream(c, agent, env))
    batch = cls(recorder, cfg0.agent.typed_settings, seed=seeds[0])
    if _state_keys(batch) != _state_keys(streams[0].agent):
        raise NotBatchable(f"{cfg0.agent.name}'s state depends on the number of streams")
    for key in _state_keys(batch):
        b = np.asarray(getattr(batch, key))
        for i, s in enumerate(streams):
            one = np.asarray(getattr(s.agent, key))
            if one.shape[:1] != (1,) or b.shape != (R, *one.shape[1:]) or not _same(b[i : i + 1], one):
                raise NotBatchable(f"{cfg0.agent.name}'s state {key} has no stream axis")
    generators = StreamGenerators([s.agent.rng for s in streams])
    patched = cast(Any, batch)  # the batch draws from the streams' own generators
    patched.rng = generators
    patched._argmax = MethodType(_stream_argmax(generators), batch)
    obs, _ = recorder.reset(seed=seeds)
    batch._last_obs = obs
    state = recorder.unwrapped.get_state()  # type: ignore[attr-defined]
    for i, s in enumerate(streams):
        s.env.reset(seed=s.cfg.seed)
        mine = s.env.unwrapped.get_state()  # type: ignore[attr-defined]
        if not _same(_stream_env_state(state, mine, i), mine):
            raise NotBatchable(f"{cfg0.env.id}'s vector form does not reproduce seed {s.cfg.seed}")
    return batch, recorder, streams, state


def batched_agent(configs: list[RunConfig | dict[str, Any]]) -> Any:
    """The agent a cell runs: its R seeds as one batched agent on the env's vector form, no run folder.

    Each stream draws from the generator its seed's own run would own, as in :func:`run_cell_batched`; the
    agent's ``env`` is the vector env under a :class:`VectorRegretRecorder`. For timing or inspecting a
    batch step (``benchmarks/bench_sweep.py --per-step``); close it with ``agent.env.close()``.

    Raises:
        NotBatchable: the agent or env has no batch form that reproduces every seed exactly.
    """
    batch, _, streams, _ = _prepare([resolve(c) for c in configs])
    for s in streams:
        s.env.close()  # the seeds' own envs are only needed for checkpoints
    return batch


def run_cell_batched(
    configs: list[RunConfig | dict[str, Any]], on_done: Callable[[RunRecord], None] | None = None
) -> list[RunRecord]:
    """Run the seeds of one cell as one batched program and write one run folder per seed.

    Args:
        configs: the runs of the cell (equal but for their seeds).
        on_done: called with each run as it ends (e.g. to advance a progress bar).

    Returns:
        One record per config, in order: ``completed``; ``interrupted`` (SIGINT/SIGTERM; each folder
        resumes on its own); or ``failed``, every folder of the batch, with the error in its summary and the
        traceback in its ``error.log``.

    Raises:
        NotBatchable: before anything is written, or mid-run (the cell's own folders are then removed);
            run the seeds one by one instead.
    """
    cfgs = [resolve(c) for c in configs]
    batch, recorder, streams, _ = _prepare(cfgs)
    provenance = {"versions": package_versions(), "git_sha": git_sha()}  # the same for every seed
    try:
        for s in streams:
            s.run_dir = new_run_dir(s.cfg)
            s.lock = RunLock(s.run_dir).acquire()
            s.lock.record_owner()
            meta = {**provenance, "config_hash": config_hash(s.cfg)}
            atomic_write_text(s.run_dir / CONFIG, dump_yaml({**s.cfg.model_dump(mode="json"), **meta}))
            s.summary = new_summary(s.cfg)
            s.summary["device"] = str(getattr(s.agent, "device", s.cfg.device))
            if recorder.columns[-1] == "violation":
                s.summary.update(violations=0, violation_amount=0.0)
            update_summary(s.summary, s.env, 0.0)
            write_json(s.run_dir / SUMMARY, s.summary)
            s.writer = MetricsWriter(s.run_dir / METRICS, recorder.columns)
        _execute_batch(cfgs[0], batch, recorder, streams)
    except NotBatchable:
        for s in streams:
            if s.writer is not None:
                s.writer.close()
            if s.lock is not None:
                s.lock.release()
            if s.run_dir is not None:
                shutil.rmtree(s.run_dir, ignore_errors=True)
        raise
    records = []
    for s in streams:
        assert s.run_dir is not None and s.lock is not None
        s.lock.release()
        record = RunRecord(s.run_dir, s.summary)
        records.append(record)
        if on_done is not None:
            on_done(record)
    return records


def _execute_batch(
    cfg: RunConfig, batch: Any, recorder: VectorRegretRecorder, streams: list[_Stream]
) -> None:
    """The chunk loop of :func:`rl_suite.runner.run_trial`, for R streams at once."""
    R = len(streams)
    cum_col = recorder.columns.index("cumulative_regret")
    trackers = [NullTracker() for _ in streams]  # tracked runs go one by one
    start = time.perf_counter()
    with signals_raise():
        try:
            while recorder.total_steps < cfg.total_steps:
                chunk = min(cfg.checkpoint_every, cfg.total_steps - recorder.total_steps)
                batch.learn(chunk)
                batch.rng.settle()  # the generators' states are read below
                rows = recorder.drain()
                vector_state = recorder.unwrapped.get_state()  # type: ignore[attr-defined]
                wall = (time.perf_counter() - start) / R  # the batch's time, shared by its runs
                for i, s in enumerate(streams):
                    assert s.writer is not None and s.run_dir is not None
                    s.writer.append(rows[i])
                    s.curve.append(rows[i][:, cum_col].copy())
                    _sync(s, batch, recorder, vector_state, i)
                    counters = {"steps": s.env.total_steps, "recorder": s.env.counters(), "wall_time_s": wall}
                    save_checkpoint(s.run_dir, s.agent, s.env, counters)
                    update_summary(s.summary, s.env, wall)
                    record_diagnostics(s.summary, trackers[i], s.agent, s.env.total_steps)
                    write_json(s.run_dir / SUMMARY, s.summary)
            for s in streams:
                s.summary["status"] = "completed"
                full = np.concatenate(s.curve) if s.curve else np.zeros(0)
                if full.size >= 2 and full[-1] > 0:
                    s.summary["regret_exponent"] = fit_regret_exponent(full)
        except NotBatchable:
            raise
        except (KeyboardInterrupt, RunInterrupted):
            for s in streams:
                s.summary["status"] = "interrupted"
                s.summary["error"] = "stopped by a signal; resume with: rl-suite train --resume " + str(
                    s.run_dir
                )
        except Exception as exc:
            for s in streams:
                assert s.run_dir is not None
                s.summary["status"] = "failed"
                s.summary["error"] = one_line(exc)
                (s.run_dir / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
        finally:
            for i, s in enumerate(streams):
                if s.writer is not None:
                    s.writer.close()
                if s.summary.get("status") == "running" or s.run_dir is None:
                    continue  # NotBatchable: the folders are removed
                s.summary["finished_at"] = now()
                s.summary["updated_at"] = now()
                s.summary.update(peak_memory_mb())
                write_json(s.run_dir / SUMMARY, s.summary)
                trackers[i].finish(s.summary, exit_code=0 if s.summary["status"] == "completed" else 1)
                s.env.close()
