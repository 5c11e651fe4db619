"""Environment families of rl_suite, one sub-package per family (installed as ``rl_suite.envs``)."""
