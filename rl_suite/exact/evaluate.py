"""Exact values of a frozen policy against the optimum: the numbers behind exact learning curves.

Pure functions of arrays (no env, no agent): each returns a :class:`PolicyEvaluation` with the policy's
value ``V^π``, the optimal value ``V*``, the uniform-random policy's value ``V^unif`` (the scale of
``steps_to_epsilon``) and so the policy regret ``V* − V^π``.

* :func:`finite_mdp` — a non-stationary policy on a finite-horizon MDP, by backward recursion
  (:func:`rl_suite.exact.tabular.policy_value`);
* :func:`bandit` — the arm choice of a policy over a finite (or sampled) set of contexts with known mean
  rewards;
* :func:`rlhf` — ``J_β`` of a sequence policy over enumerated responses (:mod:`rl_suite.exact.kl`).

The dispatcher that reads an env and an agent lives in :mod:`rl_suite.evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rl_suite.exact import kl, tabular

#: Absolute tolerance of "exactly optimal" (``eps = 0`` in :meth:`PolicyEvaluation.within`).
OPTIMAL_ATOL = 1e-9


@dataclass(frozen=True)
class PolicyEvaluation:
    """The value of a frozen policy next to the optimum."""

    value: float
    """``V^π``: the policy's expected return (bandits: expected reward per round)."""
    optimal: float
    """``V*``."""
    uniform: float
    """``V^unif``: the value of the uniformly random policy."""
    violation: float | None = None
    """Constrained bandits: the mean ``max(0, E_π[cost] − τ)`` of the policy (``None`` elsewhere)."""

    @property
    def regret(self) -> float:
        """``V* − V^π`` (``>= 0`` up to round-off)."""
        return self.optimal - self.value

    def within(self, eps: float) -> bool:
        """Whether ``V* − V^π <= eps·(V* − V^unif)`` (up to :data:`OPTIMAL_ATOL`; ``eps = 0``: optimal)."""
        return self.regret <= eps * max(self.optimal - self.uniform, 0.0) + OPTIMAL_ATOL


class FiniteMDP:
    """A finite-horizon MDP prepared for repeated exact policy evaluation.

    The model is validated once, each distinct step layer of ``P`` is kept as one ``(S·A, S)`` operator
    (SciPy CSR when under 10 % of its entries are non-zero, as in the toy-text and grid envs), and ``V*``
    and ``V^unif`` are computed once; :meth:`evaluate` then costs one sparse backup per step.

    Args:
        P: Transitions ``(H, S, A, S)``, or stationary ``(S, A, S)`` with ``horizon``.
        R: Expected rewards ``(H, S, A)`` or ``(S, A)``.
        rho: Start distribution ``(S,)``.
        horizon: H, required for a stationary ``P``.
    """

    def __init__(self, P: Any, R: Any, rho: Any, horizon: int | None = None) -> None:
        from scipy import sparse

        P, R = tabular.as_finite_horizon(P, R, horizon)
        self.H, self.S, self.A = int(P.shape[0]), int(P.shape[1]), int(P.shape[2])
        self.rho = tabular.check_distribution(rho, self.S)
        one_p = self.H > 1 and P.strides[0] == 0
        one_r = self.H > 1 and R.strides[0] == 0
        layers = P[:1] if one_p else P
        ops: list[Any] = []
        for layer in layers:
            flat = np.ascontiguousarray(layer.reshape(self.S * self.A, self.S))
            ops.append(sparse.csr_array(flat) if np.count_nonzero(flat) < 0.1 * flat.size else flat)
        self._ops = ops
        self._R = np.ascontiguousarray(R[:1] if one_r else R)
        self._rows = np.arange(self.S)
        self.optimal = self._run(lambda h, Q: Q.max(axis=1))
        self.uniform = self._run(lambda h, Q: Q.mean(axis=1))

    def _run(self, reduce: Any) -> float:
        V = np.zeros(self.S)
        for h in range(self.H - 1, -1, -1):
            op = self._ops[0 if len(self._ops) == 1 else h]
            r = self._R[0 if self._R.shape[0] == 1 else h]
            V = reduce(h, r + (op @ V).reshape(self.S, self.A))
        return float(self.rho @ V)

    def evaluate(self, policy: Any) -> PolicyEvaluation:
        """``E_ρ V^π_0`` of actions ``(H, S)`` or action probabilities ``(H, S, A)``, with V* and V^unif."""
        pi = np.asarray(policy)
        if pi.shape == (self.H, self.S):
            if not np.issubdtype(pi.dtype, np.integer) or ((pi < 0) | (pi >= self.A)).any():
                raise ValueError(f"a deterministic policy must hold actions in [0, {self.A})")
            value = self._run(lambda h, Q: Q[self._rows, pi[h]])
        else:
            probs = tabular.policy_probabilities(pi, self.H, self.S, self.A)
            value = self._run(lambda h, Q: (probs[h] * Q).sum(axis=1))
        return PolicyEvaluation(value, self.optimal, self.uniform)


def finite_mdp_reference(P: Any, R: Any, rho: Any, horizon: int | None = None) -> tuple[float, float]:
    """``(V*, V^unif)`` of a finite-horizon MDP from its start law ``rho``."""
    model = FiniteMDP(P, R, rho, horizon)
    return model.optimal, model.uniform


def finite_mdp(P: Any, R: Any, rho: Any, policy: Any, horizon: int | None = None) -> PolicyEvaluation:
    """Exact evaluation of a non-stationary policy on a finite-horizon MDP (see :class:`FiniteMDP`).

    Args:
        P: Transitions ``(H, S, A, S)``, or stationary ``(S, A, S)`` with ``horizon``.
        R: Expected rewards ``(H, S, A)`` or ``(S, A)``.
        rho: Start distribution ``(S,)``.
        policy: ``int`` actions ``(H, S)`` or action probabilities ``(H, S, A)``.
        horizon: H, required for a stationary ``P``.

    Returns:
        ``E_ρ V^π_0``, ``E_ρ V*_0`` and ``E_ρ V^unif_0``.
    """
    return FiniteMDP(P, R, rho, horizon).evaluate(policy)


def bandit(means: Any, policy: Any, weights: Any = None) -> PolicyEvaluation:
    """Expected reward per round of an arm-choice policy over a set of contexts.

    Args:
        means: ``(n, K)`` mean reward of each arm in each context.
        policy: ``(n,)`` chosen arms, or ``(n, K)`` arm probabilities.
        weights: ``(n,)`` probability of each context (default: uniform, as for sampled contexts).

    Returns:
        ``Σ_i w_i·E_{a~π_i} μ_i(a)``, ``Σ_i w_i·max_a μ_i(a)`` and ``Σ_i w_i·mean_a μ_i(a)``.
    """
    mu = np.atleast_2d(np.asarray(means, dtype=np.float64))
    n, K = mu.shape
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    pi = np.asarray(policy)
    if pi.shape == (n,):
        chosen = mu[np.arange(n), pi.astype(np.int64)]
    elif pi.shape == (n, K):
        chosen = (pi.astype(np.float64) * mu).sum(axis=1)
    else:
        raise ValueError(f"policy must have shape ({n},) or ({n}, {K}), got {pi.shape}")
    return PolicyEvaluation(float(w @ chosen), float(w @ mu.max(axis=1)), float(w @ mu.mean(axis=1)))


def pomdp_uniform_value(model: Any, horizon: int) -> float:
    """Exact value of the uniformly random policy on a tabular POMDP over ``horizon`` steps.

    Uniform actions ignore observations, so this is the hidden-state chain's value:
    ``V_h = mean_a (R[:, a] + γ·T[a] V_{h+1})``, ``V_H = 0``, returned as ``b0 · V_0``.

    Args:
        model: A :class:`rl_suite.exact.pomdp.POMDPModel`.
        horizon: Steps to evaluate.
    """
    V = np.zeros(model.n_states)
    for _ in range(int(horizon)):
        V = np.mean([model.R[:, a] + model.gamma * model.back(a, V) for a in range(model.n_actions)], axis=0)
        if model.terminal is not None:
            V = np.where(model.terminal, 0.0, V)
    return float(model.b0 @ V)


def rlhf(probs: Any, ref_probs: Any, rewards: Any, beta: float, weights: Any = None) -> PolicyEvaluation:
    """``J_β`` of a sequence policy, ``V*_β`` and ``J_β`` of the uniform response distribution.

    Args:
        probs: ``(n, M)`` the policy's response probabilities per prompt.
        ref_probs: ``(n, M)`` reference probabilities.
        rewards: ``(n, M)`` gold rewards.
        beta: KL coefficient.
        weights: ``(n,)`` prompt distribution (default uniform).
    """
    p = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    n, M = p.shape
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    optimal = kl.optimal_value(ref_probs, rewards, beta)
    gap = kl.suboptimality(p, ref_probs, rewards, beta)
    uniform = kl.objective(np.full((n, M), 1.0 / M), ref_probs, rewards, beta)
    return PolicyEvaluation(float(w @ (optimal - gap)), float(w @ optimal), float(w @ uniform))
