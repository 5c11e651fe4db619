"""GORP: greedy over random policy (Laidlaw, Russell & Dragan, NeurIPS 2023), SQIRL's deterministic ancestor.

GORP learns an open-loop action sequence ``a_0 .. a_{H−1}`` one step at a time. At step ``i`` it tries every
sequence of ``k`` actions: for each, m episodes play the learned ``a_0 .. a_{i−1}``, then the sequence, then
uniformly random actions, and it records the mean return from step ``i`` on. ``a_i`` becomes the first
action of the best sequence. On a deterministic MDP whose effective horizon is small this finds an optimal
policy with about ``H·A^k·m`` episodes; on a stochastic one it is the open-loop reference the SQIRL paper
compares with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, EpisodicAgent
from rl_suite.contracts import FiniteMDPModel
from rl_suite.errors import UserError


class GORPConfig(AgentConfig):
    """Settings of GORP (the authors' ``effective_horizon/sb3/algorithms/gorp.py``)."""

    episodes_per_action_sequence: int = Field(1, ge=1)
    """m: episodes per k-action sequence."""
    planning_depth: int = Field(1, ge=1)
    """k: length of the action sequences searched exhaustively (A^k of them)."""
    restart: bool = False
    """After the last step start again at step 0 with m doubled (any-time variant, not in the paper)."""


class GORP(EpisodicAgent[GORPConfig]):
    """GORP on any finite-horizon env with Discrete actions (the observations are ignored: open loop).

    Reference: Laidlaw, Russell & Dragan, "Bridging RL Theory and Practice with the Effective Horizon",
    NeurIPS 2023 (Algorithm 1).
    """

    Config = GORPConfig
    requires = FiniteMDPModel

    def _init_state(self) -> None:
        cfg = self.config
        self._init_counters()
        self.H, self.A, self.k = int(self.contract(FiniteMDPModel).horizon), self.n_arms, cfg.planning_depth
        if self.A**self.k > 100_000:
            raise UserError(
                f"gorp: A^k = {self.A}^{self.k} action sequences is too many; lower planning_depth"
            )
        # Row j: the j-th k-action sequence (base-A digits, first action most significant).
        self.sequences = np.array(np.unravel_index(np.arange(self.A**self.k), (self.A,) * self.k)).T
        self.actions = np.zeros(self.H, dtype=np.int64)  # the learned open-loop sequence
        self.timestep = np.zeros(1, dtype=np.int64)
        self.m = np.array([cfg.episodes_per_action_sequence], dtype=np.int64)
        self.sequence = np.zeros(1, dtype=np.int64)  # index of the sequence being tried
        self.collected = np.zeros(1, dtype=np.int64)  # its episodes so far
        self.returns = np.zeros(self.A**self.k)  # summed return from step i per sequence
        self.ep_return = np.zeros(1)
        self.state_keys = (
            "episodes", "step_h", "actions", "timestep", "m", "sequence", "collected", "returns", "ep_return"
        )  # fmt: skip

    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        i = int(self.timestep[0])
        if deterministic or h < i or i >= self.H:
            return int(self.actions[h])
        if h < i + self.k:
            return int(self.sequences[self.sequence[0], h - i])
        return int(self.rng.integers(self.A))

    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        # ALGO LOGIC: mean return from step i per k-action sequence; the best one's first action wins.
        i = int(self.timestep[0])
        if i >= self.H:
            return
        if h >= i:
            self.ep_return[0] += reward
        if not done:
            return
        self.returns[self.sequence[0]] += self.ep_return[0]
        self.ep_return[0] = 0.0
        self.collected[0] += 1
        if self.collected[0] < self.m[0]:
            return
        self.collected[0] = 0
        self.sequence[0] += 1
        if self.sequence[0] < self.sequences.shape[0]:
            return
        best = np.flatnonzero(self.returns >= self.returns.max() - 1e-12)
        self.actions[i] = self.sequences[best[self.rng.integers(best.size)], 0]
        self.returns[:] = 0.0
        self.sequence[0] = 0
        self.timestep[0] = i + 1
        if self.timestep[0] >= self.H and self.config.restart:
            self.timestep[0], self.m[0] = 0, 2 * self.m[0]

    def policy_table(self, n_states: int) -> np.ndarray:
        """The learned open-loop policy as an ``(H, S)`` table (the same action in every state)."""
        return np.repeat(self.actions[:, None], n_states, axis=1)

    def diagnostics(self) -> dict[str, float]:
        """Progress: the step being learned and m."""
        return {"gorp/timestep": float(self.timestep[0]), "gorp/episodes_per_sequence": float(self.m[0])}
