"""Low-rank and block MDPs with rich observations: the diabolical combination lock."""

from rl_suite.envs.lowrank.comblock import DiabolicalCombLock

__all__ = ["DiabolicalCombLock"]
