"""Layered stochastic MDPs with a lure knob that sets the effective horizon (SQIRL, Laidlaw et al. 2024)."""

from rl_suite.envs.layered.lure import LayeredLureMDP, layered_lure_model

__all__ = ["LayeredLureMDP", "layered_lure_model"]
