"""RLHF task definitions shared by the RLHF envs and the sequence agents: tasks and generated datasets.

:mod:`~rl_suite.rlhf.task` defines the prompt → response tasks and their gold rewards,
:mod:`~rl_suite.rlhf.datasets` the demonstrations and preference pairs generated from them. Both belong to
the core (they import no env and no agent), so :mod:`rl_suite.sequence_policy`, the RLHF envs and the
agents all build on them without a cycle.
"""
