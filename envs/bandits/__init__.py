"""Bandit environments: linear contextual and multi-armed (exact per-step regret)."""

from rl_suite.envs.bandits.linear import LinearContextualBandit, LinearContextualBanditVectorEnv
from rl_suite.envs.bandits.multi_armed import MultiArmedBandit, MultiArmedBanditVectorEnv

__all__ = [
    "LinearContextualBandit",
    "LinearContextualBanditVectorEnv",
    "MultiArmedBandit",
    "MultiArmedBanditVectorEnv",
]
