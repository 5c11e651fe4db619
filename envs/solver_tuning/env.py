"""Choosing a linear solver's relaxation parameter ω as a bandit (Khodak, Chow, Balcan & Talwalkar 2024).

Each round brings one linear system ``A_t x = b_t`` of a sequence; the learner picks ω, the env solves the
system with SOR (``SORTuning-v0``) or with SSOR-preconditioned CG (``SSORCGTuning-v0``) and the cost is
the number of iterations to the tolerance. The env precomputes the *counterfactual table* — the iterations
of every grid ω on every instance (:func:`~rl_suite.envs.solver_tuning.table.counterfactual_table`, cached
on disk) — so the regret against the instance-optimal ω is exact every step and the regret against the
best fixed ω in hindsight is exact at any time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np

from rl_suite.envs.solver_tuning.generators import (
    CallableGenerator,
    HeatEquation,
    Instance,
    InstanceGenerator,
    SequenceGenerator,
    ShiftedLaplacian,
)
from rl_suite.envs.solver_tuning.solvers import check_omega, check_omega_grid, sor_solve, ssor_pcg_solve
from rl_suite.envs.solver_tuning.table import CostTable, cached_table, counterfactual_table
from rl_suite.errors import UserError
from rl_suite.spaces import discrete_action
from rl_suite.state import State, array, check_state, flag, generator_state, integer, rng_state, set_rng_state
from rl_suite.validation import check_choice, check_int, check_positive

FAMILIES = ("shifted_laplacian", "heat", "custom")
#: Rows computed when the env first needs them (doubling after that, up to the horizon).
FIRST_CHUNK = 32
ACTION_MODES = ("grid", "continuous")


def make_generator(
    family: str,
    m: int,
    shift: str | Sequence[float],
    nx: int,
    generator: InstanceGenerator | Callable[..., Any] | None,
    systems: Sequence[Any] | None,
    n: int | None,
) -> InstanceGenerator:
    """The instance generator the env's knobs describe (a user's generator or systems for ``"custom"``)."""
    family = check_choice("family", family, FAMILIES)
    if family == "shifted_laplacian":
        return ShiftedLaplacian(m=m, shift=shift if isinstance(shift, str) else tuple(shift))
    if family == "heat":
        return HeatEquation(nx=nx)
    if (generator is None) == (systems is None):
        raise UserError(
            "family='custom' needs exactly one of generator= (a generator or fn(t, rng)) or systems="
        )
    if systems is not None:
        return SequenceGenerator(systems)
    if isinstance(generator, InstanceGenerator):
        return generator
    if callable(generator):
        if n is None:
            raise UserError("a generator function fn(t, rng) needs n= (the size of its systems)")
        return CallableGenerator(generator, n)
    raise UserError(f"generator must be an InstanceGenerator or a function fn(t, rng), got {generator!r}")


class SolverTuningEnv(gym.Env[Any, Any]):
    """Base of the two solver-tuning envs; subclasses fix :attr:`method`.

    ## Description
    Round t: the env draws system ``A_t x = b_t`` from the instance generator (the reset seed picks the
    sequence, or ``instance_seed`` fixes it), shows its context (the shift ``c_t`` of
    ``A_t = Laplacian + c_t I``, or the diffusion κ of the heat equation) and the learner picks ω. The cost
    is the number of solver iterations to relative residual ``tol``, capped at ``max_iter``.

    ## Action Space
    ``"grid"`` (default): ``Discrete(K)``, an index into ``omegas`` (default ``linspace(1, 1.95, 20)``, the
    paper's grid). ``"continuous"``: ``Box(omega_min, omega_max, (1,))``, ω itself — the system is solved
    live, and regret is measured against the grid's instance optimum (it can be negative when an off-grid ω
    beats every grid point).

    ## Observation Space
    ``contextual=True`` (default): ``Box(low, high, (1,))``, the context in the generator's range.
    ``contextual=False``: ``Discrete(1)`` (always 0). Non-contextual agents may ignore the context
    (``context_is_side_information = True``).

    ## Rewards
    ``−iterations``. ``info``: ``iterations``, ``capped`` (hit ``max_iter`` or diverged), ``omega``,
    ``regret = iterations − min_ω iterations`` (against the instance-optimal grid ω), ``optimal_value``
    (``−min_ω iterations``), ``instance_optimal_omega``, ``context`` and, for SOR, ``young_omega``
    (Young's ``ω* = 2/(1 + sqrt(1 − β²))``). :meth:`run_summary` gives the totals over every step played:
    ``total_iterations``, ``best_fixed_omega``, ``best_fixed_iterations``, ``instance_optimal_iterations``
    and the two ratios (written to each run's ``summary.json``).

    ## Episode End
    Never terminates; truncates after ``horizon`` systems (the next episode replays the same sequence).
    Table rows are computed when first needed (or read from the disk cache), so a short run solves only
    the systems it plays.

    ## Arguments
    * ``family`` ("shifted_laplacian"): ``"shifted_laplacian"`` (``m``, ``shift`` = ``"high"``, ``"low"`` or
      Beta parameters), ``"heat"`` (Crank–Nicolson, ``nx``), ``"custom"`` with ``systems=[(A, b[, context]),
      ...]`` (dense or scipy sparse) or ``generator=`` (an ``InstanceGenerator`` or ``fn(t, rng) -> (A, b[,
      context])`` with ``n=``).
    * ``omegas`` (None) or ``omega_min`` (1.0), ``omega_max`` (1.95), ``n_omegas`` (20): the grid, in (0, 2).
    * ``action_mode`` ("grid"), ``contextual`` (True), ``horizon`` (1000).
    * ``instance_seed`` (None): the sequence's seed; ``None`` takes the reset seed, so run seeds differ in
      their sequences and every agent with the same seed sees the same one (the tables are shared).
    * ``tol`` (1e-8), ``max_iter`` (10 000), ``workers`` (1: processes for the table),
      ``cache_dir`` (None: ``$RL_SUITE_CACHE`` or ``~/.cache/rl_suite/solver_tables``; False: no cache).

    ## Reference
    Khodak, Chow, Balcan & Talwalkar, "Learning to Relax: Setting Solver Parameters Across a Sequence of
    Linear System Instances", ICLR 2024; Young, "Iterative methods for solving partial difference equations
    of elliptic type", 1954.

    ## Version History
    * v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012  (gym.Env declares an instance attribute)
    method: ClassVar[str]
    #: Non-contextual agents may ignore the observation (the context is side information).
    context_is_side_information = True
    #: Rewards are minus iteration counts (≥ 1): loss-based agents normalise them.
    cost_is_iteration_count = True

    def __init__(
        self,
        family: str = "shifted_laplacian",
        m: int = 10,
        shift: str | Sequence[float] = "high",
        nx: int = 25,
        generator: InstanceGenerator | Callable[..., Any] | None = None,
        systems: Sequence[Any] | None = None,
        n: int | None = None,
        omegas: Sequence[float] | np.ndarray | None = None,
        omega_min: float = 1.0,
        omega_max: float = 1.95,
        n_omegas: int = 20,
        action_mode: str = "grid",
        contextual: bool = True,
        horizon: int = 1000,
        instance_seed: int | None = None,
        tol: float = 1e-8,
        max_iter: int = 10_000,
        workers: int = 1,
        cache_dir: str | bool | None = None,
    ) -> None:
        self.generator = make_generator(family, m, shift, nx, generator, systems, n)
        self.action_mode = check_choice("action_mode", action_mode, ACTION_MODES)
        self.horizon = check_int("horizon", horizon, 1)
        available = (
            len(self.generator.systems)
            if isinstance(self.generator, SequenceGenerator)
            else getattr(self.generator, "steps", None)
        )
        if available is not None and self.horizon > available:
            raise UserError(f"horizon={self.horizon} exceeds the {available} systems of this sequence")
        self.instance_seed = None if instance_seed is None else check_int("instance_seed", instance_seed, 0)
        #: Seed of the current sequence (``instance_seed``, or the reset seed when that is ``None``).
        self.sequence_seed = self.instance_seed if self.instance_seed is not None else 0
        self.tol = check_positive("tol", tol)
        self.max_iter = check_int("max_iter", max_iter, 1)
        self.workers = check_int("workers", workers, 1)
        self.cache_dir = cache_dir
        if omegas is None:
            lo, hi = check_omega(omega_min, self.method), check_omega(omega_max, self.method)
            if not lo < hi:
                raise UserError(f"omega_min={lo} must be below omega_max={hi}")
            omegas = np.linspace(lo, hi, check_int("n_omegas", n_omegas, 2))
        self.omegas = check_omega_grid(omegas)
        self.n_arms = int(self.omegas.size)
        self.contextual = bool(contextual)
        bounds = self.generator.context_bounds
        self.context_bounds = (float(bounds[0]), float(bounds[1])) if bounds is not None else None
        if self.contextual:
            lo_c, hi_c = self.context_bounds if self.context_bounds is not None else (-np.inf, np.inf)
            self.observation_space: gym.Space[Any] = gym.spaces.Box(lo_c, hi_c, (1,), dtype=np.float64)
        else:
            self.observation_space = gym.spaces.Discrete(1)
        if self.action_mode == "grid":
            self.action_space: gym.Space[Any] = gym.spaces.Discrete(self.n_arms)
        else:
            self.action_space = gym.spaces.Box(
                float(self.omegas.min()), float(self.omegas.max()), (1,), dtype=np.float64
            )
        self._table: CostTable | None = None
        self._instances: list[Instance] | None = None
        self._t = 0
        self._started = False
        self._played_iterations = 0
        self._played_steps = 0
        self._played_rows = np.zeros(self.n_arms, dtype=np.int64)
        self._played_optimal = 0

    # ------------------------------------------------------------------ the table
    def _table_args(self) -> dict[str, Any]:
        return {
            "seed": self.sequence_seed,
            "omegas": self.omegas,
            "method": self.method,
            "tol": self.tol,
            "max_iter": self.max_iter,
        }

    def _rows_for(self, t: int) -> CostTable:
        """A counterfactual table holding row ``t`` (and every row before it).

        The full ``horizon``-row table comes from the disk cache when it is there. Otherwise rows are
        computed lazily, :data:`FIRST_CHUNK` first and doubling, so a short run (or ``check_env``) solves only
        what it plays; the full table, once computed, is written to the cache.
        """
        table = self._table
        if table is not None and t < table.iterations.shape[0]:
            return table
        if table is None:
            table = cached_table(self.generator, self.horizon, cache_dir=self.cache_dir, **self._table_args())
        if table is None or t >= table.iterations.shape[0]:
            have = 0 if table is None else table.iterations.shape[0]
            rows = min(self.horizon, max(FIRST_CHUNK, 2 * have, t + 1))
            table = counterfactual_table(
                self.generator,
                rows,
                workers=self.workers,
                cache_dir=self.cache_dir if rows == self.horizon else False,
                **self._table_args(),
            )
        self._table = table
        return table

    @property
    def table(self) -> CostTable:
        """The full counterfactual table of the current sequence's ``horizon`` instances (cached on disk)."""
        return self._rows_for(self.horizon - 1)

    def _obs(self) -> Any:
        if not self.contextual:
            return 0
        return np.array([self._rows_for(self._t).contexts[self._t]], dtype=np.float64)

    @property
    def current_optimal_action(self) -> int:
        """Index of the instance-optimal grid ω of the current round (what the oracle agent plays)."""
        return int(self._rows_for(self._t).iterations[self._t].argmin())

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Start the sequence from its first system.

        Args:
            seed: Picks the sequence (the instance generator's seed) unless ``instance_seed`` fixes it;
                ``None`` replays the current sequence.
            options: Unused.

        Returns:
            The first context and ``{"optimal_value": −min_ω iterations}`` of the first system.
        """
        super().reset(seed=seed)
        if seed is not None and self.instance_seed is None and seed != self.sequence_seed:
            self.sequence_seed = int(seed)
            self._table = None
            self._instances = None
        self._t = 0
        self._started = True
        return self._obs(), {"optimal_value": -float(self._rows_for(0).iterations[0].min())}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Solve the current system with the chosen ω.

        Args:
            action: A grid index (``"grid"`` mode) or ``[ω]`` (``"continuous"`` mode).

        Returns:
            ``(obs, −iterations, False, truncated, info)`` with the keys listed in the class docstring.

        Raises:
            UserError: The action is outside the action space, or :meth:`reset` was not called first.
        """
        if not self._started:
            raise UserError("call reset() before step()")
        t = self._t
        table = self._rows_for(t)
        row = table.iterations[t]
        if self.action_mode == "grid":
            a = discrete_action(action, self.n_arms)
            omega = float(self.omegas[a])
            iterations, capped = int(row[a]), bool(table.capped[t, a])
        else:
            omega = self._continuous_omega(action)
            iterations, capped = self._solve_live(t, omega)
        best = int(row.min())
        info: dict[str, Any] = {
            "iterations": iterations,
            "capped": capped,
            "omega": omega,
            "regret": float(iterations - best),
            "optimal_value": -float(best),
            "instance_optimal_omega": float(self.omegas[int(row.argmin())]),
            "context": float(table.contexts[t]),
        }
        if self.method == "sor":
            info["young_omega"] = float(table.young_omega[t])
        self._played_iterations += iterations
        self._played_steps += 1
        self._played_rows += row
        self._played_optimal += best
        self._t += 1
        truncated = self._t >= self.horizon
        if truncated:
            self._t = 0  # the sequence restarts; the next reset() (or step) sees system 0 again
        return self._obs(), -float(iterations), False, truncated, info

    # ------------------------------------------------------------------ helpers
    def _continuous_omega(self, action: Any) -> float:
        try:
            arr = np.asarray(action, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise UserError(
                f"action {action!r} is not an ω: expected [omega] in {self.action_space}"
            ) from None
        if arr.size != 1 or not np.isfinite(arr).all():
            raise UserError(f"action {action!r} is outside {self.action_space}: expected one finite ω")
        omega = float(arr[0])
        space = cast(gym.spaces.Box, self.action_space)  # the continuous action mode's space
        lo, hi = float(space.low[0]), float(space.high[0])
        if not lo <= omega <= hi:
            raise UserError(f"omega {omega:.6g} is outside [{lo:.6g}, {hi:.6g}] (the action space)")
        return omega

    def _solve_live(self, t: int, omega: float) -> tuple[int, bool]:
        if self._instances is None:
            self._instances = self.generator.sample(self.horizon, self.sequence_seed)
        inst = self._instances[t]
        solve = sor_solve if self.method == "sor" else ssor_pcg_solve
        result = solve(inst.A, inst.b, omega, tol=self.tol, max_iter=self.max_iter, x0=inst.x0)
        return int(result.iterations), bool(result.capped)

    def run_summary(self) -> dict[str, Any]:
        """Totals over every step played so far (all episodes): what the learner saved, and against what.

        Returns:
            ``total_iterations``, ``best_fixed_omega`` and ``best_fixed_iterations`` (the best single grid ω
            over the same steps, in hindsight), ``instance_optimal_iterations`` (the best grid ω per
            system), ``ratio_to_best_fixed`` and ``ratio_to_instance_optimal``.
        """
        if self._played_steps == 0:
            return {}
        k = int(self._played_rows.argmin())
        fixed = int(self._played_rows[k])
        return {
            "total_iterations": int(self._played_iterations),
            "best_fixed_omega": float(self.omegas[k]),
            "best_fixed_iterations": fixed,
            "instance_optimal_iterations": int(self._played_optimal),
            "ratio_to_best_fixed": self._played_iterations / fixed,
            "ratio_to_instance_optimal": self._played_iterations / self._played_optimal,
        }

    def solve(self) -> dict[str, Any]:
        """The exact references over the horizon: iterations of every fixed ω, best fixed, instance optimal.

        Returns:
            A JSON-serialisable dict (the table's totals per ω, the best fixed ω and its total, the
            instance-optimal total, the mean Young's ω for SOR, and how long the table took or that it came
            from the cache).
        """
        table = self.table
        k, fixed = table.best_fixed()
        out: dict[str, Any] = {
            "env": f"rl_suite/{type(self).__name__}-v0",
            "method": self.method,
            "instances": self.horizon,
            "system_size": int(self.generator.n),
            "omegas": np.round(self.omegas, 6).tolist(),
            "total_iterations_per_fixed_omega": table.totals().tolist(),
            "best_fixed_omega": float(self.omegas[k]),
            "best_fixed_iterations": fixed,
            "instance_optimal_iterations": table.instance_optimal_total(),
            "capped_solves": int(table.capped.sum()),
            "table_seconds": round(table.seconds, 3),
            "table_from_cache": table.from_cache,
        }
        if self.method == "sor":
            out["mean_young_omega"] = float(np.nanmean(table.young_omega))
        return out

    # ------------------------------------------------------------------ state
    def get_state(self) -> State:
        """The env's dynamic state as plain data (see :class:`rl_suite.state.StatefulEnv`).

        Entries: ``rng`` (``np_random``), ``sequence_seed`` (the current sequence: the last reset seed
        when ``instance_seed`` is ``None``), ``t`` (the current system), ``started`` (reset was called) and
        the :meth:`run_summary` totals ``played_iterations``, ``played_steps``, ``played_rows`` (per grid
        ω) and ``played_optimal``. The counterfactual table and the systems are rebuilt from
        ``sequence_seed`` when first needed (from the disk cache when it has them) and are not saved.

        ``set_state(get_state())`` on an env made with the same constructor arguments, after one
        ``reset()``, makes every later step bit-identical to this env's (observations, rewards,
        ``terminated``, ``truncated`` and every ``info`` value) and :meth:`run_summary` equal, also in the
        middle of a sequence.
        """
        return {
            "rng": rng_state(self.np_random),
            "sequence_seed": self.sequence_seed,
            "t": self._t,
            "started": self._started,
            "played_iterations": self._played_iterations,
            "played_steps": self._played_steps,
            "played_rows": self._played_rows.copy(),
            "played_optimal": self._played_optimal,
        }

    def set_state(self, state: State) -> None:
        """Restore a :meth:`get_state` of an env built with the same arguments; see there for the contract.

        Raises:
            StateError: The state does not fit this env (a missing entry, a wrong type or shape, another
                sequence than a fixed ``instance_seed``); nothing is changed then.
        """
        fixed = self.instance_seed
        checks = {
            "rng": generator_state(type(self.np_random.bit_generator).__name__),
            "sequence_seed": integer(0) if fixed is None else integer(fixed, fixed + 1),
            "t": integer(0, self.horizon),
            "started": flag(),
            "played_iterations": integer(0),
            "played_steps": integer(0),
            "played_rows": array((self.n_arms,), np.int64, 0),
            "played_optimal": integer(0),
        }
        values = check_state(state, checks, type(self).__name__)
        set_rng_state(self.np_random, values["rng"])
        if values["sequence_seed"] != self.sequence_seed:
            self.sequence_seed = values["sequence_seed"]
            self._table, self._instances = None, None
        self._t, self._started = values["t"], values["started"]
        self._played_iterations, self._played_steps = values["played_iterations"], values["played_steps"]
        self._played_rows, self._played_optimal = values["played_rows"], values["played_optimal"]

    def __getstate__(self) -> dict[str, Any]:
        # Pickling or deep-copying the env (checkpoints use get_state instead) keeps the progress and drops
        # the cached, recomputable table and systems.
        state = dict(self.__dict__)
        state["_table"] = None
        state["_instances"] = None
        return state


class SORTuning(SolverTuningEnv):
    """SOR, ``x ← x + ω(D + ωL)⁻¹(b − Ax)``, to ``‖r‖/‖r₀‖ < tol``; see :class:`SolverTuningEnv`."""

    method = "sor"


class SSORCGTuning(SolverTuningEnv):
    """CG preconditioned by SSOR(ω), to ``‖r‖ ≤ tol·‖b‖``; see :class:`SolverTuningEnv`."""

    method = "ssor_pcg"
