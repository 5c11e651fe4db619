"""Finite-horizon adapters of Gymnasium's toy-text envs with their exact optimum."""

from rl_suite.envs.toy_text.adapters import ToyTextFiniteHorizon, supported_toy_envs

__all__ = ["ToyTextFiniteHorizon", "supported_toy_envs"]
