"""Linear MDPs with exact optima: the Dirichlet simplex MDP and the linear chain lock."""

from rl_suite.envs.linear_mdp.chain_lock import LinearChainLock
from rl_suite.envs.linear_mdp.simplex import SimplexLinearMDP

__all__ = ["LinearChainLock", "SimplexLinearMDP"]
