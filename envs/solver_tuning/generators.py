"""Sequences of linear systems: the instances a solver-tuning bandit faces, one per round.

Every generator is deterministic in ``(params(), seed)``: :meth:`InstanceGenerator.iter_instances` with the
same seed yields the same systems, and the first ``T`` systems of a longer run are the systems of a run of
length ``T`` (so a cached table of ``T' >= T`` rows serves a request for ``T`` rows). Independent generators
draw instance ``t`` from its own stream ``instance_rng(seed, t)``; the heat equation is a deterministic
time-stepping sequence and ignores the seed.

Families, after Khodak, Chow, Balcan and Talwalkar, "Learning to Relax" (ICLR 2024):

* :class:`ShiftedLaplacian` — ``A_t = Laplacian(m) + c_t I`` with a random shift ``c_t`` (the context);
* :class:`HeatEquation` — Crank–Nicolson steps of a 2-D heat equation with time-varying diffusion κ(t)
  (the context);
* :class:`SequenceGenerator` / :class:`CallableGenerator` — the user's own systems.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from rl_suite.envs.solver_tuning.solvers import check_system, laplacian_2d, young_omega_from_beta
from rl_suite.errors import UserError
from rl_suite.validation import check_int, check_positive

SHIFT_PRESETS: dict[str, tuple[float, float]] = {"high": (0.5, 1.5), "low": (2.0, 6.0)}
"""Beta(a, b) parameters of the paper's high- and low-variance shift distributions."""


@dataclass(frozen=True)
class Instance:
    """One linear system ``A x = b`` of a sequence.

    Attributes:
        A: The ``(n, n)`` matrix, float64 CSR.
        b: The ``(n,)`` right-hand side.
        context: A scalar describing the instance (the shift ``c_t``, the diffusion κ, ...); 0.0 when the
            source gives none.
        x0: The initial guess (e.g. the previous time step's solution); ``None`` means zeros.
        young_omega: Young's optimal SOR ω when the generator knows it in closed form, else ``None``
            (then :func:`~rl_suite.envs.solver_tuning.solvers.young_omega` computes it).
    """

    A: sp.csr_matrix
    b: np.ndarray
    context: float
    x0: np.ndarray | None = None
    young_omega: float | None = None


def instance_rng(seed: int, t: int) -> np.random.Generator:
    """The random stream of instance ``t`` under ``seed`` (independent across ``t``, stable in ``T``).

    Args:
        seed: The sequence's seed, ``>= 0``.
        t: The instance index, ``>= 0``.

    Returns:
        A fresh ``np.random.Generator`` seeded from ``SeedSequence(seed, spawn_key=(t,))``.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(t,)))


class InstanceGenerator(ABC):
    """A deterministic source of linear systems of one size.

    Attributes:
        name: Short family name (part of the cache key).
        n: System size.
        context_bounds: ``(low, high)`` range of :attr:`Instance.context`, or ``None`` when unknown.
    """

    name: str
    n: int
    context_bounds: tuple[float, float] | None = None

    @abstractmethod
    def params(self) -> dict[str, Any] | None:
        """The JSON-serialisable parameters that, with the seed, fix the sequence (the cache key).

        Returns:
            A dict, or ``None`` when the sequence cannot be described (then tables are not cached).
        """

    @abstractmethod
    def iter_instances(self, T: int, seed: int = 0) -> Iterator[Instance]:
        """Yield the first ``T`` instances of the sequence under ``seed``.

        Args:
            T: Number of instances, ``>= 1``.
            seed: Seed, ``>= 0``.

        Yields:
            The instances, in order.
        """

    def sample(self, T: int, seed: int = 0) -> list[Instance]:
        """The first ``T`` instances under ``seed`` as a list (see :meth:`iter_instances`)."""
        return list(self.iter_instances(T, seed))


def _check_T_seed(T: Any, seed: Any) -> tuple[int, int]:
    return check_int("T", T, 1), check_int("seed", seed, 0)


def truncated_normal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A standard normal vector radially truncated to ``‖b‖ <= √n``, by rejection (the paper's sampler).

    Whole vectors are redrawn until one falls inside the ball, so the result is exactly the normal law
    conditioned on the ball (acceptance ≈ 1/2 for large ``n``).

    Args:
        n: Dimension.
        rng: Random stream.

    Returns:
        The ``(n,)`` vector.
    """
    while True:
        b = rng.standard_normal(n)
        if b @ b <= n:
            return b


class ShiftedLaplacian(InstanceGenerator):
    """``A_t = Laplacian(m) + c_t I`` with ``c_t = low + width·Beta(a, b)`` and truncated-normal ``b_t``.

    The paper's SOR family (``scripts/learning.m``): ``m = 10`` (n = 100, diagonal 4), ``c_t = −0.15 +
    0.6·Beta(0.5, 1.5)`` ("high" variance) or ``Beta(2, 6)`` ("low" variance) — both have mean
    ``−0.15 + 0.6·¼ = 0`` — and ``b_t`` standard normal radially truncated to ``‖b_t‖ <= √n``
    (:func:`truncated_normal`); ``x₀ = 0``. The context is ``c_t`` in ``context_bounds = (low, low +
    width)``. Young's ω is known in closed form: the Jacobi spectral radius is ``4cos(π/(m+1)) / (4 + c)``.

    Args:
        m: Interior grid points per side (n = m²).
        shift: ``"high"``, ``"low"`` or Beta parameters ``(a, b)``, both ``> 0``.
        low: Smallest shift; must keep ``A`` positive definite (``low > −λ_min = −4(1 − cos(π/(m+1)))``).
        width: Length of the shift range, ``> 0``.

    Raises:
        UserError: Invalid ``m``, ``shift``, ``low`` or ``width``.
    """

    name = "shifted_laplacian"

    def __init__(
        self, m: int = 10, shift: str | Sequence[float] = "high", low: float = -0.15, width: float = 0.6
    ) -> None:
        self.m = check_int("m", m, 1)
        self.n = self.m * self.m
        if isinstance(shift, str):
            if shift not in SHIFT_PRESETS:
                raise UserError(
                    f"shift must be 'high', 'low' or a pair (a, b) of Beta parameters, got {shift!r}"
                )
            self.beta_params = SHIFT_PRESETS[shift]
        else:
            try:
                a, b = (float(v) for v in shift)
            except (TypeError, ValueError) as exc:
                raise UserError(
                    f"shift must be 'high', 'low' or a pair (a, b) of Beta parameters, got {shift!r}"
                ) from exc
            self.beta_params = (check_positive("shift a", a), check_positive("shift b", b))
        self.shift = shift if isinstance(shift, str) else list(self.beta_params)
        if isinstance(low, (bool, np.bool_)) or not isinstance(low, (int, float, np.integer, np.floating)):
            raise UserError(f"low must be a number, got {low!r}")
        self.low = float(low)
        self.width = check_positive("width", width)
        self.lambda_min = 4.0 * (1.0 - math.cos(math.pi / (self.m + 1)))
        if not (math.isfinite(self.low) and self.low > -self.lambda_min):
            raise UserError(
                f"low must be > {-self.lambda_min:.6g} (minus the smallest eigenvalue of the "
                f"{self.m}x{self.m} Laplacian) so every A_t is positive definite, got {self.low}"
            )
        self.context_bounds = (self.low, self.low + self.width)
        self._laplacian = laplacian_2d(self.m)
        self._eye = sp.identity(self.n, format="csr")

    def params(self) -> dict[str, Any]:
        """``{"m", "beta", "low", "width"}`` (see the class docstring)."""
        return {"m": self.m, "beta": list(self.beta_params), "low": self.low, "width": self.width}

    @property
    def mean_shift(self) -> float:
        """``E[c_t] = low + width·a/(a + b)``."""
        a, b = self.beta_params
        return self.low + self.width * a / (a + b)

    def matrix(self, c: float) -> sp.csr_matrix:
        """``Laplacian(m) + c I`` as CSR."""
        return sp.csr_matrix(self._laplacian + c * self._eye)

    def jacobi_radius(self, c: float) -> float:
        """Closed-form Jacobi spectral radius ``4cos(π/(m+1)) / (4 + c)`` of ``Laplacian(m) + c I``."""
        return 4.0 * math.cos(math.pi / (self.m + 1)) / (4.0 + c) if self.m > 1 else 0.0

    def instance(self, t: int, rng: np.random.Generator) -> Instance:
        """Draw one instance (``c_t`` first, then ``b_t``) from ``rng``; ``t`` is unused."""
        c = self.low + self.width * float(rng.beta(*self.beta_params))
        b = truncated_normal(self.n, rng)
        return Instance(self.matrix(c), b, c, None, young_omega_from_beta(self.jacobi_radius(c)))

    def iter_instances(self, T: int, seed: int = 0) -> Iterator[Instance]:
        """Yield instance ``t`` drawn from :func:`instance_rng` ``(seed, t)`` for ``t < T``."""
        T, seed = _check_T_seed(T, seed)
        for t in range(T):
            yield self.instance(t, instance_rng(seed, t))


def bump(points: np.ndarray, center: tuple[float, float], radius: float) -> np.ndarray:
    """Smooth compactly supported bump ``exp(1 − 1/(1 − ‖x − center‖²/radius²))``, 0 outside the disc.

    Args:
        points: ``(n, 2)`` coordinates.
        center: Centre of the bump.
        radius: Radius of its support.

    Returns:
        ``(n,)`` values in [0, 1], 1 at the centre.
    """
    s = np.sum((points - np.asarray(center)) ** 2, axis=1) / radius**2
    out = np.zeros(points.shape[0])
    inside = s < 1.0
    out[inside] = np.exp(1.0 - 1.0 / (1.0 - s[inside]))
    return out


def heat_diffusion(t: float | np.ndarray) -> float | np.ndarray:
    """The paper's diffusion coefficient ``κ(t) = max(0.1 sin 2πt, −10 sin 2πt)`` (weak, then strong)."""
    s = np.sin(2.0 * np.pi * np.asarray(t, dtype=np.float64))
    out = np.maximum(0.1 * s, -10.0 * s)
    return float(out) if out.ndim == 0 else out


class HeatEquation(InstanceGenerator):
    """Crank–Nicolson steps of the 2-D heat equation ``u_t = κ(t) Δu + f`` on the unit square.

    The paper's ``scripts/h2d.m`` / ``utils/Heat2D.m``: zero Dirichlet boundary, ``nx − 1`` interior points
    per side (h = 1/nx, n = (nx − 1)², natural row-major order, point ``(i, j)`` at ``((i+1)h, (j+1)h)``),
    ``L_h = −laplacian_2d(nx − 1)/h²``. Step ``t`` (time ``τ = t·dt``, midpoint ``τ + dt/2``) solves

    ``A = I − ½κ(τ + dt/2)·dt·L_h``,  ``b = (I + ½κ dt L_h) u_t + dt·f(τ + dt/2)``,

    with ``κ(t) = max(0.1 sin 2πt, −10 sin 2πt)``, forcing ``f`` = ``forcing_amplitude`` × a bump of radius
    ``forcing_radius`` whose centre circles ``(½, ½)`` at radius ¼ with angular frequency 16π, and ``u₀`` a
    bump of radius ``initial_radius`` at the centre. The warm start is ``x₀ = u_t`` and the context is
    ``κ(τ + dt/2)``. The states ``u_{t+1}`` are exact sparse direct solves (SuperLU), so the sequence does
    not depend on the solver a learner picks (the paper advances with the iterative solution instead,
    which differs from it by the solver tolerance). The seed is ignored.

    Args:
        nx: Grid intervals per side, ``>= 2`` (the paper uses 25 ... 400).
        steps: Length of the sequence (the paper: 5000).
        dt: Time step (the paper: 1e-3, stop time 5).
        forcing_amplitude: Height of the moving heat source.
        forcing_radius: Radius of the moving heat source.
        initial_radius: Radius of the initial bump.

    Raises:
        UserError: An invalid parameter.
    """

    name = "heat_equation"

    def __init__(
        self,
        nx: int = 25,
        steps: int = 5000,
        dt: float = 1e-3,
        forcing_amplitude: float = 32.0,
        forcing_radius: float = 0.125,
        initial_radius: float = 0.25,
    ) -> None:
        self.nx = check_int("nx", nx, 2)
        self.steps = check_int("steps", steps, 1)
        self.dt = check_positive("dt", dt)
        self.forcing_amplitude = check_positive("forcing_amplitude", forcing_amplitude)
        self.forcing_radius = check_positive("forcing_radius", forcing_radius)
        self.initial_radius = check_positive("initial_radius", initial_radius)
        self.n = (self.nx - 1) ** 2
        mid = (np.arange(self.steps) + 0.5) * self.dt
        kappa = heat_diffusion(mid)
        self.context_bounds = (float(np.min(kappa)), float(np.max(kappa)))
        h = 1.0 / self.nx
        self._lap = sp.csr_matrix(-laplacian_2d(self.nx - 1) / h**2)
        coords = np.arange(1, self.nx) * h
        gi, gj = np.meshgrid(coords, coords, indexing="ij")
        self.points = np.column_stack([gi.ravel(), gj.ravel()])

    def params(self) -> dict[str, Any]:
        """All constructor arguments."""
        return {
            "nx": self.nx,
            "steps": self.steps,
            "dt": self.dt,
            "forcing_amplitude": self.forcing_amplitude,
            "forcing_radius": self.forcing_radius,
            "initial_radius": self.initial_radius,
        }

    def forcing(self, time: float) -> np.ndarray:
        """The heat source ``f(time)`` at the grid points."""
        angle = 16.0 * np.pi * time
        center = (0.5 + math.cos(angle) / 4.0, 0.5 + math.sin(angle) / 4.0)
        return self.forcing_amplitude * bump(self.points, center, self.forcing_radius)

    def initial_state(self) -> np.ndarray:
        """``u₀``: a unit bump of radius ``initial_radius`` at the centre."""
        return bump(self.points, (0.5, 0.5), self.initial_radius)

    def iter_instances(self, T: int, seed: int = 0) -> Iterator[Instance]:
        """Yield the first ``T <= steps`` Crank–Nicolson systems (``seed`` is checked but unused)."""
        T, _ = _check_T_seed(T, seed)
        if T > self.steps:
            raise UserError(f"T must be <= steps = {self.steps} for this HeatEquation, got {T}")
        eye = sp.identity(self.n, format="csr")
        u = self.initial_state()
        for t in range(T):
            mid = (t + 0.5) * self.dt
            kappa = float(heat_diffusion(mid))
            half = (0.5 * kappa * self.dt) * self._lap
            A = sp.csr_matrix(eye - half)
            b = u + half @ u + self.dt * self.forcing(mid)
            yield Instance(A, b, kappa, u.copy())
            if t + 1 < T:
                u = splu(sp.csc_matrix(A)).solve(b)


def _as_system(item: Any, where: str) -> tuple[sp.csr_matrix, np.ndarray, float]:
    """Validate one user system ``(A, b)`` or ``(A, b, context)``; ``where`` names it in errors."""
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        raise UserError(f"{where} must be a tuple (A, b) or (A, b, context), got {type(item).__name__}")
    A, b = item[0], item[1]
    shape_a = getattr(A, "shape", np.shape(A))
    shape_b = getattr(b, "shape", np.shape(b))
    try:
        A, b = check_system(A, b)
    except UserError as exc:
        raise UserError(f"{where} (A shape {tuple(shape_a)}, b shape {tuple(shape_b)}): {exc}") from None
    context = 0.0
    if len(item) == 3:
        try:
            context = float(item[2])
        except (TypeError, ValueError):
            raise UserError(f"{where} context must be a number, got {item[2]!r}") from None
        if not math.isfinite(context):
            raise UserError(f"{where} context must be finite, got {context}")
    return A, b, context


class SequenceGenerator(InstanceGenerator):
    """A fixed list of the user's own systems, validated up front.

    Each entry is ``(A, b)`` or ``(A, b, context)`` with ``A`` dense or scipy sparse; all systems must have
    the same size. ``iter_instances(T, seed)`` yields the first ``T`` (the seed is ignored). Tables of a
    sequence are cached only when ``params`` is given (it must then describe the systems uniquely).

    Args:
        systems: The systems.
        params: Optional JSON-serialisable description used as the cache key.
        name: Family name.

    Raises:
        UserError: An entry is malformed (the message names its index and shapes) or sizes differ.
    """

    def __init__(
        self,
        systems: Sequence[Any],
        params: dict[str, Any] | None = None,
        name: str = "sequence",
    ) -> None:
        if len(systems) == 0:
            raise UserError("systems must contain at least one (A, b) system, got an empty sequence")
        self.systems = [_as_system(item, f"system {i}") for i, item in enumerate(systems)]
        self.n = self.systems[0][0].shape[0]
        for i, (A, _, _) in enumerate(self.systems):
            if A.shape[0] != self.n:
                raise UserError(f"system {i} has A of shape {A.shape}, but system 0 has size {self.n}")
        contexts = [c for _, _, c in self.systems]
        self.context_bounds = (min(contexts), max(contexts))
        self._params = params
        self.name = name

    def params(self) -> dict[str, Any] | None:
        """The ``params`` given to the constructor (``None``: not cacheable)."""
        return self._params

    def iter_instances(self, T: int, seed: int = 0) -> Iterator[Instance]:
        """Yield the first ``T`` systems (``T`` at most the number given)."""
        T, _ = _check_T_seed(T, seed)
        if T > len(self.systems):
            raise UserError(f"T must be <= the {len(self.systems)} systems given, got {T}")
        for A, b, c in self.systems[:T]:
            yield Instance(A, b, c)


class CallableGenerator(InstanceGenerator):
    """Systems from the user's function ``fn(t, rng) -> (A, b)`` or ``(A, b, context)``.

    ``rng`` is :func:`instance_rng` ``(seed, t)``, so the sequence is deterministic in the seed when ``fn``
    uses only ``rng``. Every returned system is validated; tables are cached only when ``params`` is given.

    Args:
        fn: The system factory.
        n: The size every system must have.
        params: Optional JSON-serialisable description of ``fn`` used as the cache key.
        name: Family name.
        context_bounds: Optional known range of the contexts.

    Raises:
        UserError: ``fn`` is not callable or ``n`` is not a positive integer.
    """

    def __init__(
        self,
        fn: Callable[[int, np.random.Generator], Any],
        n: int,
        params: dict[str, Any] | None = None,
        name: str = "callable",
        context_bounds: tuple[float, float] | None = None,
    ) -> None:
        if not callable(fn):
            raise UserError(f"fn must be callable as fn(t, rng), got {type(fn).__name__}")
        self.fn = fn
        self.n = check_int("n", n, 1)
        self._params = params
        self.name = name
        self.context_bounds = context_bounds

    def params(self) -> dict[str, Any] | None:
        """The ``params`` given to the constructor (``None``: not cacheable)."""
        return self._params

    def instance(self, t: int, rng: np.random.Generator) -> Instance:
        """Call ``fn(t, rng)`` and validate the result (size ``n``; errors name ``t`` and the shapes)."""
        A, b, c = _as_system(self.fn(t, rng), f"fn(t={t}) result")
        if A.shape[0] != self.n:
            raise UserError(f"fn(t={t}) returned A of shape {A.shape}, expected ({self.n}, {self.n})")
        return Instance(A, b, c)

    def iter_instances(self, T: int, seed: int = 0) -> Iterator[Instance]:
        """Yield ``fn(t, instance_rng(seed, t))`` for ``t < T``."""
        T, seed = _check_T_seed(T, seed)
        for t in range(T):
            yield self.instance(t, instance_rng(seed, t))
