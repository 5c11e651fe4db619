"""MiniGrid levels as finite-horizon MDPs.

Needs the ``minigrid`` extra: ``pip install 'rl_suite[minigrid]'``.
"""

from rl_suite.envs.minigrid.adapter import MiniGridFiniteHorizon, enumerate_level

__all__ = ["MiniGridFiniteHorizon", "enumerate_level"]
