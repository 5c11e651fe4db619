"""UCBVI: optimistic value iteration on the empirical tabular model (Azar, Osband & Munos, ICML 2017).

Counts ``N_h(s, a)``, ``N_h(s, a, s')`` and reward sums give the empirical model ``P̂_h``, ``R̂_h``; before
every episode, for h = H−1 … 0,

    Q_h(s, a) = min(R̂_h(s, a) + P̂_h(·|s, a)·V_{h+1} + b_h(s, a), H − h),   V_h = max_a Q_h,

with the Hoeffding bonus ``b = c·(H − h)·sqrt(L / N_h(s, a))``, ``L = ln(2·S·A·H·K/δ)`` (unvisited pairs get
the largest value H − h), and the agent acts greedily with random tie-breaking. ``stationary`` pools the
counts over h (rlberry's ``stage_dependent=False``). It is the tabular reference for the linear-MDP agents:
a tabular MDP is the linear MDP with one-hot features (d = S·A).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, EpisodicAgent
from rl_suite.agents.kernels import ucbvi_hoeffding_bonus
from rl_suite.contracts import FiniteMDPModel
from rl_suite.errors import UserError
from rl_suite.exact.tabular import optimistic_backward_induction


class UCBVIConfig(AgentConfig):
    """Settings of UCBVI (Hoeffding bonus)."""

    bonus_scale: float = Field(1.0, ge=0.0)
    """Multiplier c of the bonus (0: greedy on the empirical model)."""
    delta: float = Field(0.05, gt=0.0, lt=1.0)
    """Failure probability in the log term."""
    horizon_episodes: int = Field(1000, ge=1)
    """K in the log term ``ln(2SAHK/δ)``."""
    stationary: bool | Literal["auto"] = "auto"
    """Pool counts over steps; ``"auto"`` reads ``env.unwrapped.stationary``."""


class UCBVI(EpisodicAgent[UCBVIConfig]):
    """UCBVI with a Hoeffding bonus on the tabular view of a finite-state episodic env.

    Reference: Azar, Osband & Munos, "Minimax Regret Bounds for Reinforcement Learning", ICML 2017 (UCBVI-CH).

    Needs ``Discrete(S)`` observations and ``env.unwrapped.horizon``.
    """

    Config = UCBVIConfig
    requires = FiniteMDPModel

    def _init_state(self) -> None:
        cfg = self.config
        self._init_counters()
        if not isinstance(self.observation_space, gym.spaces.Discrete):
            raise UserError(f"UCBVI needs Discrete(S) observations, got {self.observation_space}")
        model = self.contract(FiniteMDPModel)
        self.H, self.S, self.A = int(model.horizon), int(self.observation_space.n), self.n_arms
        stationary = model.stationary if cfg.stationary == "auto" else cfg.stationary
        self.pooled = bool(stationary)
        G = 1 if self.pooled else self.H
        self.counts = np.zeros((G, self.S, self.A))
        self.trans = np.zeros((G, self.S, self.A, self.S))
        self.rew_sum = np.zeros((G, self.S, self.A))
        self.Q = np.zeros((self.H, self.S, self.A))
        self.log_term = math.log(2 * self.S * self.A * self.H * cfg.horizon_episodes / cfg.delta)
        self.state_keys = ("counts", "trans", "rew_sum", "Q", "episodes", "step_h")
        self._plan()

    def _plan(self) -> None:
        """Optimistic backward induction on the empirical model, clipped at ``H − h``."""
        self.Q[...] = optimistic_backward_induction(
            self.counts,
            self.rew_sum,
            self.trans,
            lambda h, n: ucbvi_hoeffding_bonus(n, float(self.H - h), self.log_term, self.config.bonus_scale),
            caps=self.H - np.arange(self.H, dtype=np.float64),
        )

    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        # ALGO LOGIC: greedy on the optimistic Q, random tie-breaking while learning (the first best arm when
        # deterministic, so a deterministic prediction never draws from the learning stream).
        return int(self._argmax(self.Q[h, int(obs)][None], "first" if deterministic else "random")[0])

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        """Greedy actions of a batch at step ``h`` (the first best, as :meth:`_act` when deterministic)."""
        s = np.asarray(observations, dtype=np.int64).reshape(-1)
        return np.asarray(self.Q[h, s].argmax(axis=1), dtype=np.int64)

    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        # ALGO LOGIC: count the transition; re-plan at the end of the episode.
        g = 0 if self.pooled else h
        s, s_next = int(obs), int(next_obs)
        self.counts[g, s, action] += 1.0
        self.trans[g, s, action, s_next] += 1.0
        self.rew_sum[g, s, action] += reward
        if done:
            self._plan()
