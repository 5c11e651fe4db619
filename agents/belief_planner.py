"""The belief-space planner: the optimal policy of a POMDP computed from its true model (the reference).

Finite horizon: the exact belief tree of the env's model (Kaelbling, Littman & Cassandra 1998), solved once
with :func:`~rl_suite.exact.pomdp.belief_tree_plan`; the agent walks the tree by node index
(``root[o_0]``, then ``child[h][node, a, o]``), so its policy is exactly the optimal one — no belief
arithmetic, no rounding. Its expected regret is 0.

Discounted (infinite-horizon) form: the env's PBVI α-vectors (Pineau, Gordon & Thrun, IJCAI 2003),
acting with the action of the best α-vector at the exact Bayes-filtered belief. Its regret is then the
PBVI policy's gap, at most the PBVI–QMDP bracket that ``rl-suite solve`` prints.

Exact pseudo-regret. The policy is deterministic given the history, so its value is computed exactly by
branching on observations (:meth:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv.pseudo_regret`) and recorded
per episode in ``pseudo_regrets`` and in :meth:`BeliefPlanner.diagnostics` (``summary.json`` →
``agent_diagnostics.exact_pseudo_regret``). The env's own ``info["regret"]`` stays the realised
"V* − return" of every episode (unbiased and noisy), the curve every agent, SB3 included, is compared on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, EpisodicAgent
from rl_suite.contracts import TabularPOMDP
from rl_suite.errors import UserError
from rl_suite.exact import pomdp


class BeliefPlannerConfig(AgentConfig):
    """Settings of the belief-space planner."""

    max_beliefs: int = Field(200_000, ge=1)
    """Cap on the distinct beliefs of one level of the belief tree (finite horizon)."""
    exact_regret: bool = True
    """Evaluate the policy exactly once and record its pseudo-regret for every episode."""


class BeliefPlanner(EpisodicAgent[BeliefPlannerConfig]):
    """Plays the optimal policy of the env's true model: belief tree (finite H) or PBVI α-vectors.

    References: Kaelbling, Littman & Cassandra, "Planning and acting in partially observable stochastic
    domains", Artificial Intelligence 1998 (belief-tree expectimax); Pineau, Gordon & Thrun, "Point-based
    value iteration", IJCAI 2003 (discounted form).
    """

    Config = BeliefPlannerConfig
    requires = TabularPOMDP

    def _init_state(self) -> None:
        self._init_counters()
        self.pomdp_env = self.contract(TabularPOMDP)
        m = self.pomdp_env.pomdp
        self.plan: pomdp.BeliefTreePlan | None = None
        self.pbvi: pomdp.PBVIResult | None = None
        if m.horizon is not None:
            try:
                self.plan = pomdp.belief_tree_plan(m, self.config.max_beliefs)
            except ValueError as err:
                raise UserError(
                    f"belief-planner: {err}; raise max_beliefs or use a shorter horizon"
                ) from None
        else:
            self.pbvi = self.pomdp_env.pbvi_solution()
        #: Current tree node (finite horizon) and belief (discounted form).
        self.node = np.zeros(1, dtype=np.int64)
        self.belief = m.b0.copy()
        #: Exact pseudo-regret of each finished episode (empty when the history tree is too big).
        self.pseudo_regrets = np.zeros(0)
        self._policy_regret: float | None = None
        if self.config.exact_regret:
            self._policy_regret = self.pomdp_env.pseudo_regret(self.history_policy)
        self.state_keys = ("episodes", "step_h", "node", "belief", "pseudo_regrets")

    # ALGO LOGIC: the optimal action of the current node / belief.
    def _start(self, o: int) -> None:
        m = self.pomdp_env.pomdp
        if self.plan is not None:
            self.node[0] = self.plan.root[o]
        else:
            b = m.b0 * m.Z0[:, o]
            self.belief = b / b.sum()

    def _best(self, h: int) -> int:
        if self.plan is not None:
            n = int(self.node[0])
            return self.plan.action(h, n) if n >= 0 else 0  # off the tree: impossible under the model
        assert self.pbvi is not None
        return int(self.pbvi.actions[int((self.pbvi.alphas @ self.belief).argmax())])

    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        if h == 0:
            self._start(self.pomdp_env.decode_observation(obs))
        return self._best(h)

    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        if done:
            if self._policy_regret is not None:
                self.pseudo_regrets = np.append(self.pseudo_regrets, self._policy_regret)
            return
        o = self.pomdp_env.decode_observation(next_obs)
        if self.plan is not None:
            n = int(self.node[0])
            self.node[0] = self.plan.child[h][n, action, o] if n >= 0 else -1
        else:
            self.belief = self.pomdp_env.belief_update(self.belief, action, o)

    def history_policy(self, history: tuple[int, ...]) -> int:
        """The agent's action after ``(o_0, a_0, ..., o_t)`` (for exact evaluation)."""
        h = len(history) // 2
        if self.plan is not None:
            n = self.plan.node(history)
            return self.plan.action(h, n) if n >= 0 else 0
        m = self.pomdp_env.pomdp
        b = m.b0 * m.Z0[:, history[0]]
        b = b / b.sum()
        for t in range(1, len(history), 2):
            b = self.pomdp_env.belief_update(b, history[t], history[t + 1])
        assert self.pbvi is not None
        return int(self.pbvi.actions[int((self.pbvi.alphas @ b).argmax())])

    def diagnostics(self) -> dict[str, float]:
        """Exact pseudo-regret so far: ``exact_pseudo_regret`` (sum over episodes) and ``exact_episodes``."""
        return {
            "exact_pseudo_regret": float(self.pseudo_regrets.sum()),
            "exact_episodes": float(self.pseudo_regrets.size),
        }
