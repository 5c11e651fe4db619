"""A primal–dual Lagrangian wrapper that turns any unconstrained bandit agent into a constrained one.

The constrained problem ``max π·r  s.t.  π·c ≤ τ`` has the Lagrangian ``L(π, λ) = π·r − λ(π·c − τ)``.
The wrapper runs a *primal* bandit agent (UCB1, LinUCB, ε-greedy, …) on the scaled Lagrangian reward
``(r_t − λ_t c_t)/(1 + λ_t)`` (the scaling keeps it in the reward range the primal agent's confidence
bonus assumes and leaves its argmax unchanged) and a *dual* projected gradient ascent on the multiplier,
``λ_{t+1} = clip(λ_t + η (c_t − τ), 0, λ_max)`` (Paternain et al., "Constrained Reinforcement Learning Has
Zero Duality Gap", NeurIPS 2019; Efroni, Mannor & Pirotta, "Exploration-Exploitation in Constrained MDPs",
2020, primal–dual algorithms).

Primal–dual methods satisfy the constraint *on average*, not round by round: the played (last) iterate
oscillates around the boundary while the averaged iterate converges to it. The wrapper therefore reports
both, through :meth:`Lagrangian.diagnostics` (written to the run's ``summary.json`` and to the tracker):
the last iterate's violation ``max(0, E_{π_t}[c] − τ)`` and the averaged iterate's
``max(0, (1/t) Σ_s E_{π_s}[c] − τ)``. The expected costs are read from the env's ``info`` for this report
only; learning uses the observed costs.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from pydantic import Field

from rl_suite import registry
from rl_suite.agents.base import AgentConfig, BanditAgent, BanditLoop
from rl_suite.agents.checkpoint import open_npz
from rl_suite.contracts import StagewiseConstrained
from rl_suite.errors import UserError


class LagrangianConfig(AgentConfig):
    """Settings of the primal–dual wrapper."""

    base: str = "ucb1"
    """Short name of the primal agent: any unconstrained rl_suite bandit agent that supports the env
    (``rl-suite agents`` lists them), e.g. ``ucb1`` on ConstrainedMAB-v0, ``linucb`` on the linear envs."""
    base_settings: dict[str, Any] = Field(default_factory=dict)
    """Settings of the primal agent."""
    eta: float = Field(0.05, gt=0.0)
    """Dual step size η."""
    lambda_max: float = Field(10.0, gt=0.0)
    """Upper end of the dual variable's range [0, λ_max]."""
    lambda_init: float = Field(0.0, ge=0.0)
    """Initial λ."""


def _primal_names() -> list[str]:
    names = []
    for entry in registry.AGENTS:
        if entry.entry_point.startswith("rl_suite.agents.sb3:"):
            continue  # SB3 models are not array-program bandit agents (and importing them loads torch)
        cls = registry.load_entry_point(entry.entry_point)
        if issubclass(cls, BanditAgent):  # learns from rewards alone (not a constrained or episodic agent)
            names.append(entry.name)
    return names


class Lagrangian(BanditLoop[LagrangianConfig]):
    """Primal–dual Lagrangian agent around an unconstrained bandit agent.

    Reference: Paternain, Chamon, Calvo-Fullana & Ribeiro, NeurIPS 2019; Efroni, Mannor & Pirotta,
    arXiv 2003.02189.

    Works on every constrained env whose unconstrained view its primal agent supports. State over R
    streams: ``lam`` (λ), ``cost_sum`` and ``rounds`` (for the averaged iterate), ``last_violation``; plus
    the primal agent's state, saved inside the same file.
    """

    Config = LagrangianConfig
    requires = StagewiseConstrained
    state_keys = ("lam", "cost_sum", "rounds", "last_violation", "violating_rounds")

    def _init_state(self) -> None:
        cfg = self.config
        allowed = _primal_names()
        if cfg.base not in allowed:
            raise UserError(
                f"lagrangian: base={cfg.base!r} is not an unconstrained rl_suite bandit agent; "
                f"choose one of {', '.join(allowed)}"
            )
        self.tau = self._streams(self.contract(StagewiseConstrained).tau)
        cls = registry.load_entry_point(registry.agent_entry(cfg.base).entry_point)
        #: The primal agent, on the same env and seed.
        self.base: BanditAgent[Any] = cls(self.env, cfg.base_settings, seed=self.seed)
        R = self.num_envs
        self.lam = np.full(R, cfg.lambda_init)
        self.cost_sum = np.zeros(R)
        self.rounds = np.zeros(R)
        self.last_violation = np.zeros(R)
        self.violating_rounds = np.zeros(R)

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: the primal agent's choice on the Lagrangian it has learned so far.
        return self.base._select(obs, deterministic)

    def _to_env(self, actions: Any, batched: bool) -> Any:
        return self.base._to_env(actions, batched)

    def _feedback(self, obs: np.ndarray, actions: Any, rewards: np.ndarray, info: dict[str, Any]) -> None:
        # ALGO LOGIC: primal step on the scaled Lagrangian reward, then projected dual ascent on λ.
        cfg = self.config
        costs = np.atleast_1d(np.asarray(info["cost"], dtype=np.float64))
        lagrangian = (rewards - self.lam * costs) / (1.0 + self.lam)
        self.base._feedback(obs, actions, lagrangian, info)
        self.lam = np.clip(self.lam + cfg.eta * (costs - self.tau), 0.0, cfg.lambda_max)
        # Bookkeeping for the report (exact expected costs from the env, not used for learning).
        self.cost_sum += np.atleast_1d(np.asarray(info["expected_cost"], dtype=np.float64))
        self.rounds += 1.0
        self.last_violation = np.atleast_1d(np.asarray(info["violation"], dtype=np.float64))
        self.violating_rounds += self.last_violation > 0

    def diagnostics(self) -> dict[str, float]:
        """λ, the last and the averaged iterate's violations and the violating rounds (means over streams)."""
        avg = np.maximum(self.cost_sum / np.maximum(self.rounds, 1.0) - self.tau, 0.0)
        return {
            "lambda": float(self.lam.mean()),
            "last_iterate_violation": float(self.last_violation.mean()),
            "last_iterate_violating_rounds": float(self.violating_rounds.mean()),
            "averaged_iterate_violation": float(avg.mean()),
            "averaged_iterate_cost": float((self.cost_sum / np.maximum(self.rounds, 1.0)).mean()),
        }

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        buf = io.BytesIO()
        self.base.write(buf)
        return {"base_agent": np.frombuffer(buf.getvalue(), dtype=np.uint8)}

    def _load_extra_arrays(self, data: Any) -> None:
        with open_npz(data["base_agent"].tobytes()) as inner:
            self.base = type(self.base).from_npz(inner, self.env, where="the wrapped agent")
