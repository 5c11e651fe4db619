"""The optimal policy of a finite-horizon env with a known model: π*_h(s) = argmax_a Q*_h(s, a).

A reference agent (zero expected regret) for the MDP families, reading the env's exact ``Q_star``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rl_suite.agents.base import AgentConfig, EpisodicAgent
from rl_suite.contracts import FiniteMDPModel


class MDPOracle(EpisodicAgent[AgentConfig]):
    """Plays π* from the env's exact ``Q_star`` ``(H, S, A)`` (ties to the lowest action).

    Reference: Puterman, "Markov Decision Processes", 1994, §4.3 (backward induction).
    """

    Config = AgentConfig
    requires = FiniteMDPModel
    state_keys = ("episodes", "step_h")

    def _init_state(self) -> None:
        self._init_counters()
        self.policy = np.asarray(self.contract(FiniteMDPModel).Q_star).argmax(axis=-1)

    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        return int(self.policy[h, int(np.asarray(obs).reshape(-1)[0])])

    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        return None
