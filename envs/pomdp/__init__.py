"""POMDPs with exact references: Tiger, T-maze, RockSample, Heaven/Hell and revealing POMDPs."""

from rl_suite.envs.pomdp._core import TabularPOMDPEnv
from rl_suite.envs.pomdp.heaven_hell import HeavenHell
from rl_suite.envs.pomdp.revealing import RevealingPOMDP
from rl_suite.envs.pomdp.rocksample import RockSample
from rl_suite.envs.pomdp.tiger import Tiger
from rl_suite.envs.pomdp.tmaze import TMaze

__all__ = ["HeavenHell", "RevealingPOMDP", "RockSample", "TMaze", "TabularPOMDPEnv", "Tiger"]
