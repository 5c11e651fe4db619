"""A fixed arm: the "fixed ω" baseline of solver tuning, and a reference for any bandit.

Khodak et al. (ICLR 2024) compare learners with fixed relaxation parameters ω ∈ {1, 1.2, …, 1.8}; this agent
plays one grid index every round, given as ``arm`` or as the ω nearest to ``omega`` on the env's grid.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.contracts import SolverTuning
from rl_suite.errors import UserError


class FixedArmConfig(AgentConfig):
    """Which arm to play: ``arm`` (an index) or ``omega`` (the nearest grid ω of a solver-tuning env)."""

    arm: int | None = Field(None, ge=0)
    """Arm index (default 0 when ``omega`` is not given)."""
    omega: float | None = Field(None, gt=0.0, lt=2.0)
    """Relaxation parameter; the nearest point of ``env.unwrapped.omegas`` is played."""

    @model_validator(mode="after")
    def _one_of(self) -> FixedArmConfig:
        if self.arm is not None and self.omega is not None:
            raise ValueError("give arm or omega, not both")
        return self


class FixedArm(BanditAgent[FixedArmConfig]):
    """Plays the same arm every round (learns nothing).

    Reference: the fixed-ω comparators of Khodak, Chow, Balcan & Talwalkar, ICLR 2024.
    """

    Config = FixedArmConfig
    state_keys = ()

    def _init_state(self) -> None:
        cfg = self.config
        if cfg.omega is not None:
            tuning = self.contract(SolverTuning, f"omega={cfg.omega}", "give arm= instead")
            self.arm = int(np.abs(np.asarray(tuning.omegas) - cfg.omega).argmin())
        else:
            self.arm = 0 if cfg.arm is None else cfg.arm
        if self.arm >= self.n_arms:
            raise UserError(f"fixed-arm: arm={self.arm} is not an arm (the env has {self.n_arms})")

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return np.full(self.num_envs, self.arm, dtype=np.int64)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        return None
