"""The instance-optimal oracle: plays the env's best action of the current round (a zero-regret reference).

On the solver-tuning envs it is the "instance-optimal ω" of Khodak et al. (ICLR 2024): the grid ω with the
fewest iterations on each system, read from the env's counterfactual table. It cheats by design — it is the
reference line that learners' regret is measured against, not a learner.
"""

from __future__ import annotations

import numpy as np

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.contracts import SolverTuning
from rl_suite.errors import UserError


class InstanceOracle(BanditAgent[AgentConfig]):
    """Plays ``env.unwrapped.current_optimal_action`` every round.

    Reference: the instance-optimal comparator of Khodak, Chow, Balcan & Talwalkar, ICLR 2024.
    """

    Config = AgentConfig
    requires = SolverTuning
    state_keys = ()

    def _init_state(self) -> None:
        if self.is_vector:
            raise UserError(
                "instance-oracle reads env.unwrapped.current_optimal_action of a single env "
                "(the solver-tuning envs provide it)"
            )
        #: The env, read every round.
        self.tuning = self.contract(SolverTuning)

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return np.array([self.tuning.current_optimal_action], dtype=np.int64)

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        return None
