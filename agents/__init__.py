"""Agents of rl_suite, one file per algorithm (installed as ``rl_suite.agents``).

Find them by short name through :mod:`rl_suite.registry` (``rl-suite agents`` lists them).
"""
