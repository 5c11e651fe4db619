"""Solver-parameter tuning as a bandit: SOR and SSOR-preconditioned CG over sequences of linear systems."""

from rl_suite.envs.solver_tuning.generators import (
    CallableGenerator,
    HeatEquation,
    Instance,
    InstanceGenerator,
    SequenceGenerator,
    ShiftedLaplacian,
)
from rl_suite.envs.solver_tuning.solvers import (
    DEFAULT_OMEGAS,
    SolveResult,
    check_omega,
    check_omega_grid,
    check_system,
    jacobi_spectral_radius,
    laplacian_2d,
    sor_iterations_grid,
    sor_solve,
    ssor_pcg_iterations_grid,
    ssor_pcg_solve,
    young_omega,
)
from rl_suite.envs.solver_tuning.table import CostTable, counterfactual_table

__all__ = [
    "DEFAULT_OMEGAS",
    "CallableGenerator",
    "CostTable",
    "HeatEquation",
    "Instance",
    "InstanceGenerator",
    "SequenceGenerator",
    "ShiftedLaplacian",
    "SolveResult",
    "check_omega",
    "check_omega_grid",
    "check_system",
    "counterfactual_table",
    "jacobi_spectral_radius",
    "laplacian_2d",
    "sor_iterations_grid",
    "sor_solve",
    "ssor_pcg_iterations_grid",
    "ssor_pcg_solve",
    "young_omega",
]
