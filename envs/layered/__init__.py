"""Layered stochastic MDPs with a lure knob that sets the effective horizon (SQIRL's S2 family)."""

from rl_suite.envs.layered.lure import LayeredLureMDP, layered_lure_model

__all__ = ["LayeredLureMDP", "layered_lure_model"]
