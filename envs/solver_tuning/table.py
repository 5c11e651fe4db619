"""The counterfactual cost table: the iteration count of every ω of a grid on every instance.

With it a bandit env knows what every arm *would* have cost, so regret against the best fixed ω in
hindsight (``min_k Σ_t cost[t, k]``) and against the instance-optimal ω (``Σ_t min_k cost[t, k]``) is exact
(Khodak et al., "Learning to Relax", ICLR 2024). Building it dominates the env's run time, so tables are
cached on disk as ``.npz`` files keyed by everything that determines them.

Cache layout: ``<cache_dir>/<key>-T<T>.npz`` where ``<key>`` hashes the generator's name and
``params()``, the seed, the ω grid, the method, tol, max_iter and :data:`FORMAT_VERSION` (not ``T``).
Generators yield the same first ``T`` instances for every longer run, so a cached table with ``T' >= T``
rows is sliced to serve a request for ``T`` rows. Files are written to a temporary name and moved into
place with ``os.replace`` (an interrupted run leaves no partial table); a file that cannot be read, or
whose stored key does not match, is deleted and recomputed. Generators whose ``params()`` is ``None``
(user :class:`~rl_suite.envs.solver_tuning.generators.SequenceGenerator` /
:class:`~rl_suite.envs.solver_tuning.generators.CallableGenerator` without ``params``) are never cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rl_suite.envs.solver_tuning.generators import Instance, InstanceGenerator
from rl_suite.envs.solver_tuning.solvers import (
    DEFAULT_OMEGAS,
    METHODS,
    _check_stopping,
    check_omega_grid,
    sor_iterations_grid,
    ssor_pcg_iterations_grid,
    young_omega,
)
from rl_suite.errors import UserError
from rl_suite.validation import check_choice, check_int

FORMAT_VERSION = 1
"""Bumped whenever the solvers' counting or the file layout changes (old cache files are then ignored)."""
CACHE_ENV = "RL_SUITE_CACHE"
"""Environment variable naming the cache directory (default ``~/.cache/rl_suite/solver_tables``)."""


@dataclass(frozen=True)
class CostTable:
    """Iteration counts of every ω of a grid on every instance of a sequence.

    Attributes:
        iterations: ``(T, K)`` int64 counts (``max_iter`` where capped).
        capped: ``(T, K)`` bool, ``True`` where the solver hit ``max_iter`` (or diverged).
        contexts: ``(T,)`` instance contexts (shift ``c_t``, diffusion κ, ...).
        omegas: ``(K,)`` the ω grid.
        young_omega: ``(T,)`` Young's optimal SOR ω per instance (``nan`` for ``ssor_pcg`` and where the
            Jacobi spectral radius is ``>= 1``).
        method: ``"sor"`` or ``"ssor_pcg"``.
        seconds: Wall time this call spent (computing, or reading the cache when ``from_cache``).
        from_cache: Whether the table was read from disk.
    """

    iterations: np.ndarray
    capped: np.ndarray
    contexts: np.ndarray
    omegas: np.ndarray
    young_omega: np.ndarray
    method: str
    seconds: float
    from_cache: bool

    def totals(self) -> np.ndarray:
        """``(K,)`` total iterations of each fixed ω over the sequence."""
        return self.iterations.sum(axis=0)

    def best_fixed(self) -> tuple[int, int]:
        """The best fixed ω in hindsight: ``(index into omegas, total iterations)`` (first on ties)."""
        totals = self.totals()
        k = int(np.argmin(totals))
        return k, int(totals[k])

    def instance_optimal_total(self) -> int:
        """``Σ_t min_k iterations[t, k]``: the cost of the best grid ω chosen per instance."""
        return int(self.iterations.min(axis=1).sum())


def default_cache_dir() -> Path:
    """``$RL_SUITE_CACHE`` if set, else ``~/.cache/rl_suite/solver_tables``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "rl_suite" / "solver_tables"


def cache_key(
    generator: InstanceGenerator, seed: int, omegas: np.ndarray, method: str, tol: float, max_iter: int
) -> str | None:
    """The hash naming a table's cache files, or ``None`` when the generator cannot be cached.

    Args:
        generator: The instance source; its ``name`` and ``params()`` enter the key.
        seed: The sequence seed.
        omegas: The ω grid (order matters).
        method: ``"sor"`` or ``"ssor_pcg"``.
        tol: Solver tolerance.
        max_iter: Iteration cap.

    Returns:
        A 24-hex-digit key, or ``None`` when ``generator.params()`` is ``None``.

    Raises:
        UserError: ``params()`` is not JSON-serialisable.
    """
    params = generator.params()
    if params is None:
        return None
    return _key(_description(generator, params, seed, omegas, method, tol, max_iter))


def _key(description: str) -> str:
    """The 24-hex-digit cache key of a table description."""
    return hashlib.sha256(description.encode()).hexdigest()[:24]


def _description(
    generator: InstanceGenerator,
    params: dict[str, Any],
    seed: int,
    omegas: np.ndarray,
    method: str,
    tol: float,
    max_iter: int,
) -> str:
    payload = {
        "format": FORMAT_VERSION,
        "generator": generator.name,
        "params": params,
        "seed": seed,
        "omegas": [float(w).hex() for w in omegas],
        "method": method,
        "tol": float(tol).hex(),
        "max_iter": max_iter,
    }
    try:
        return json.dumps(payload, sort_keys=True)
    except TypeError as exc:
        raise UserError(f"generator params must be JSON-serialisable, got {params!r}") from exc


def _cache_slot(
    generator: InstanceGenerator,
    seed: int,
    grid: np.ndarray,
    method: str,
    tol: float,
    max_iter: int,
    cache_dir: str | os.PathLike[str] | bool | None,
) -> tuple[Path, str, str] | None:
    """``(directory, key, description)`` of a table's cache files, or ``None`` when it is not cached."""
    if cache_dir is False:
        return None
    params = generator.params()
    if params is None:
        return None
    directory = default_cache_dir() if cache_dir is None or cache_dir is True else Path(cache_dir)
    description = _description(generator, params, seed, grid, method, tol, max_iter)
    return directory, _key(description), description


def _grid_rows(
    instances: list[Instance], omegas: np.ndarray, method: str, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, capped flags and Young's ω of a chunk of instances (runs in the workers too)."""
    grid_fn = sor_iterations_grid if method == "sor" else ssor_pcg_iterations_grid
    iterations = np.empty((len(instances), omegas.size), dtype=np.int64)
    capped = np.empty((len(instances), omegas.size), dtype=bool)
    young = np.full(len(instances), np.nan)
    for i, inst in enumerate(instances):
        iterations[i], capped[i] = grid_fn(inst.A, inst.b, omegas, tol, max_iter, inst.x0)
        if method == "sor":
            if inst.young_omega is not None:
                young[i] = inst.young_omega
            else:
                with contextlib.suppress(UserError):  # Jacobi radius >= 1: Young's formula does not apply
                    young[i] = young_omega(inst.A)
    return iterations, capped, young


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread for the block (``threadpoolctl`` when installed, else a no-op).

    The grid solvers' dense products are small; a multi-threaded OpenBLAS only adds contention (measured:
    the same 1000-instance table took 15–32 s with the default two threads, 14–15 s with one).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _single_threaded_blas() -> None:
    """Worker initializer: one BLAS thread per worker process (via ``threadpoolctl`` when installed).

    Each worker's small dense products gain nothing from BLAS threads, and ``workers`` processes each
    running a multi-threaded OpenBLAS oversubscribe the cores (measured 3× slower on 2 cores).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional; without it set OPENBLAS_NUM_THREADS=1 in the environment
        return
    threadpool_limits(1)


def _compute_rows(
    instances: list[Instance], omegas: np.ndarray, method: str, tol: float, max_iter: int, workers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All rows, in-process or over ``workers`` processes (chunks of consecutive instances)."""
    if workers == 1 or len(instances) < 2:
        with _one_blas_thread():
            return _grid_rows(instances, omegas, method, tol, max_iter)
    n_chunks = min(len(instances), 4 * workers)
    bounds = np.linspace(0, len(instances), n_chunks + 1).astype(int)
    chunks = [instances[lo:hi] for lo, hi in itertools.pairwise(bounds) if hi > lo]
    with ProcessPoolExecutor(max_workers=workers, initializer=_single_threaded_blas) as pool:
        futures = [pool.submit(_grid_rows, chunk, omegas, method, tol, max_iter) for chunk in chunks]
        parts = [f.result() for f in futures]
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


_FILE = re.compile(r"^(?P<key>[0-9a-f]{24})-T(?P<T>\d+)\.npz$")


def _read_cached(directory: Path, key: str, description: str, T: int) -> dict[str, np.ndarray] | None:
    """The smallest readable cached table with ``>= T`` rows under ``key``, sliced to ``T``; or ``None``."""
    if not directory.is_dir():
        return None
    found = []
    for path in directory.glob(f"{key}-T*.npz"):
        match = _FILE.match(path.name)
        if match and int(match["T"]) >= T:
            found.append((int(match["T"]), path))
    for _, path in sorted(found):
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["description"]) != description:
                    raise ValueError("key collision or stale file")
                arrays = {
                    name: np.asarray(data[name])
                    for name in ("iterations", "capped", "contexts", "omegas", "young_omega")
                }
            if arrays["iterations"].shape[0] < T:
                raise ValueError("short table")
        except Exception:  # corrupt, truncated or foreign file: drop it and recompute
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        return {name: (value if name == "omegas" else value[:T]) for name, value in arrays.items()}
    return None


def _write_cached(directory: Path, key: str, description: str, T: int, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: a temporary file in the same directory, then ``os.replace``."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".npz.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, allow_pickle=False, description=np.array(description), **arrays)
        os.replace(tmp, directory / f"{key}-T{T}.npz")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def counterfactual_table(
    generator: InstanceGenerator,
    T: int,
    seed: int = 0,
    omegas: Any = None,
    method: str = "sor",
    tol: float = 1e-8,
    max_iter: int = 10_000,
    workers: int = 1,
    cache_dir: str | os.PathLike[str] | bool | None = None,
) -> CostTable:
    """Iterations of every ω in ``omegas`` on each of the first ``T`` instances of ``generator``.

    Args:
        generator: The instance source (deterministic in ``(params(), seed)``).
        T: Number of instances, ``>= 1``.
        seed: Sequence seed, ``>= 0``.
        omegas: The arm grid; default the paper's ``linspace(1, 1.95, 20)``.
        method: ``"sor"`` (counts to ``‖r‖/‖r₀‖ < tol``) or ``"ssor_pcg"`` (to ``‖r‖ <= tol·‖b‖``).
        tol: Solver tolerance.
        max_iter: Iteration cap per solve.
        workers: Processes; ``> 1`` splits the instances (generated here, in the parent) into chunks
            solved by a ``ProcessPoolExecutor``. The result does not depend on ``workers``.
        cache_dir: Cache directory; ``None`` = :func:`default_cache_dir`, ``False`` = no caching.

    Returns:
        The :class:`CostTable`.

    Raises:
        UserError: An invalid argument (or a generator error on bad user systems).
    """
    t_start = time.perf_counter()
    if not isinstance(generator, InstanceGenerator):
        raise UserError(f"generator must be an InstanceGenerator, got {type(generator).__name__}")
    T = check_int("T", T, 1)
    seed = check_int("seed", seed, 0)
    grid = check_omega_grid(DEFAULT_OMEGAS if omegas is None else omegas)
    method = check_choice("method", method, METHODS)
    tol, max_iter = _check_stopping(tol, max_iter)
    workers = check_int("workers", workers, 1)
    slot = _cache_slot(generator, seed, grid, method, tol, max_iter, cache_dir)
    if slot is not None:
        cached = _read_cached(*slot, T)
        if cached is not None:
            return CostTable(**cached, method=method, seconds=time.perf_counter() - t_start, from_cache=True)
    instances = generator.sample(T, seed)
    iterations, capped, young = _compute_rows(instances, grid, method, tol, max_iter, workers)
    arrays = {
        "iterations": iterations,
        "capped": capped,
        "contexts": np.array([inst.context for inst in instances], dtype=np.float64),
        "omegas": grid,
        "young_omega": young,
    }
    if slot is not None:
        _write_cached(*slot, T, arrays)
    return CostTable(**arrays, method=method, seconds=time.perf_counter() - t_start, from_cache=False)


def cached_table(
    generator: InstanceGenerator,
    T: int,
    seed: int = 0,
    omegas: Any = None,
    method: str = "sor",
    tol: float = 1e-8,
    max_iter: int = 10_000,
    cache_dir: str | os.PathLike[str] | bool | None = None,
) -> CostTable | None:
    """The table :func:`counterfactual_table` would return, if it is in the cache; else ``None``.

    Reads only: nothing is computed or written (the envs use it to skip lazy computation when a full table
    is already on disk).
    """
    start = time.perf_counter()
    grid = check_omega_grid(DEFAULT_OMEGAS if omegas is None else omegas)
    tol, max_iter = _check_stopping(tol, max_iter)
    slot = _cache_slot(generator, seed, grid, method, tol, max_iter, cache_dir)
    arrays = None if slot is None else _read_cached(*slot, T)
    if arrays is None:
        return None
    return CostTable(**arrays, method=method, seconds=time.perf_counter() - start, from_cache=True)
