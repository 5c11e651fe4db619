"""rl_suite: Gymnasium environments whose optimum is known exactly, and agents measured by exact regret.

``import rl_suite`` registers every env id in the ``rl_suite/`` namespace, so that
``gymnasium.make("rl_suite/LinearContextualBandit-v0")`` works; ``gymnasium.make("rl_suite:rl_suite/...")``
does the import itself.
"""

from rl_suite.registry import register_envs

__version__ = "0.1.0"
__all__ = ["__version__", "register_envs"]

register_envs()
