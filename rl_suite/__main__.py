"""``python -m rl_suite`` is ``rl-suite``."""

from rl_suite.cli import main

main()
