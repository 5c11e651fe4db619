"""Small layered stochastic MDPs whose effective horizon is set by a lure (for SQIRL, Laidlaw et al. 2024)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rl_suite.envs._finite import FiniteHorizonMDPEnv
from rl_suite.exact.effective_horizon import check_repeat_probability, min_k, sticky_model
from rl_suite.validation import check_int, check_nonnegative, check_probability


def layered_lure_model(
    n_states: int,
    n_actions: int,
    horizon: int,
    slip: float,
    reward_density: float,
    lure_depth: int,
    lure_reward: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one layered lure MDP.

    States ``0 .. S-1`` at every step: state 0 is the start and the lock path, state ``S-1`` a trap
    (absorbing, no reward), the others background states. Every ``(t, s, a)`` of a background state moves
    to a drawn background state (with probability ``1 − slip``) or to a uniform one (``slip``), and pays
    ``U(0, 0.1)`` with probability ``reward_density``. With ``lure_depth = d ≥ 1``, the lock path asks for
    one drawn action at each of the steps ``0 .. d−1`` (reward 1 after the last; a slip or a wrong action
    falls to the background), while a *lure* action at step 0 pays ``lure_reward`` at once and leads into
    the trap. Greedy action on ``Q^{π_rand}`` plus ``k − 1`` backups values the lock at about
    ``A^{-(d−k)}`` against the lure's ``lure_reward``, so for ``1/A < lure_reward < 1`` the MDP is
    ``d``-QVI- but not ``(d−1)``-QVI-solvable, up to slips and the background rewards.

    Args:
        n_states: S per step (≥ 3).
        n_actions: A (≥ 2).
        horizon: H (≥ max(1, lure_depth)).
        slip: Slip probability in ``[0, 1]``.
        reward_density: Probability that a background ``(t, s, a)`` pays a reward.
        lure_depth: d (0: no lock and no lure).
        lure_reward: The lure's immediate reward.
        rng: Generator of the instance.

    Returns:
        ``(P, R, ρ)`` of shapes ``(H, S, A, S)``, ``(H, S, A)`` and ``(S,)``.
    """
    S, A, H = n_states, n_actions, horizon
    trap, background = S - 1, np.arange(1, S - 1)
    P = np.zeros((H, S, A, S))
    R = np.zeros((H, S, A))
    for t in range(H):
        for s in range(S - 1):
            for a in range(A):
                target = background[rng.integers(background.size)]
                P[t, s, a, target] += 1 - slip
                P[t, s, a, : S - 1] += slip / (S - 1)
                if rng.random() < reward_density:
                    R[t, s, a] = rng.uniform(0.0, 0.1)
        P[t, trap, :, trap] = 1.0
    if lure_depth > 0:
        lock = rng.integers(A, size=lure_depth)
        lure = (lock[0] + 1 + rng.integers(A - 1)) % A
        for t in range(lure_depth):
            R[t, 0] = 0.0
            P[t, 0] = 0.0
            P[t, 0, :, background] = 1.0 / background.size
            if t < lure_depth - 1:  # the right action keeps to the lock path, unless it slips
                P[t, 0, lock[t]] = 0.0
                P[t, 0, lock[t], 0] = 1 - slip
                P[t, 0, lock[t], background] += slip / background.size
            else:
                R[t, 0, lock[t]] = 1.0
        P[0, 0, lure] = 0.0
        P[0, 0, lure, trap] = 1.0
        R[0, 0, lure] = lure_reward
    rho = np.zeros(S)
    rho[0] = 1.0
    return P, R, rho


class LayeredLureMDP(FiniteHorizonMDPEnv[np.int64]):
    """A random layered stochastic MDP with a lure that sets its effective horizon.

    ## Description
    A family of small MDPs for comparing SQIRL (Laidlaw et al., ICLR 2024) with other learners on exactly
    analysable instances (rl_suite's own construction; the paper's experiments use the BRIDGE MDPs): H
    steps, S states per step, A actions, slips and sparse background rewards, drawn from ``instance_seed``.
    ``lure_depth = d`` adds a lock path of d steps (reward 1 at its end) and a lure at the start (an
    immediate ``lure_reward`` that leads into a trap); for ``1/A < lure_reward < 1`` this makes min_k
    about d (see :func:`layered_lure_model`). The exact min_k is computed at construction (``min_k``
    attribute, :meth:`solve`, ``rl-suite analyze``). ``repeat_probability > 0`` makes actions sticky:
    the model's state becomes ``(s, previous action)`` (``s·A + b``) while observations stay ``s``.

    ## Action Space
    ``Discrete(n_actions)``.

    ## Observation Space
    ``Discrete(n_states)``: the state id (without the previous action when actions are sticky).

    ## Rewards
    Deterministic expected rewards in ``[0, 1]``: 1 at the end of the lock, ``lure_reward`` for the lure,
    ``U(0, 0.1)`` on a ``reward_density`` fraction of background pairs. ``info["regret"]`` is the exact
    gap ``V*_h − Q*_h`` of the (sticky) model.

    ## Episode End
    Truncates after ``horizon`` steps; never terminates.

    ## Arguments
    * ``n_states`` (5): S ≥ 3. ``n_actions`` (2): A ≥ 2. ``horizon`` (6): H ≥ max(1, d).
    * ``slip`` (0.1): probability in [0, 1] of moving to a uniform non-trap state.
    * ``reward_density`` (0.3): probability in [0, 1] that a background pair pays.
    * ``lure_depth`` (2): d in [0, H] (0: no lock, no lure). ``lure_reward`` (0.6): the lure's reward ≥ 0.
    * ``repeat_probability`` (0.0): sticky-action probability in [0, 1).
    * ``instance_seed`` (0): seed of the drawn instance.

    ## Reference
    Laidlaw, Zhu, Russell & Dragan, "The Effective Horizon Explains Deep RL Performance in Stochastic
    Environments", ICLR 2024; Machado et al., "Revisiting the Arcade Learning Environment", JAIR 2018
    (sticky actions).

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/LayeredLureMDP-v0"

    def __init__(
        self,
        n_states: int = 5,
        n_actions: int = 2,
        horizon: int = 6,
        slip: float = 0.1,
        reward_density: float = 0.3,
        lure_depth: int = 2,
        lure_reward: float = 0.6,
        repeat_probability: float = 0.0,
        instance_seed: int = 0,
    ) -> None:
        S = check_int("n_states", n_states, 3)
        A = check_int("n_actions", n_actions, 2)
        H = check_int("horizon", horizon, 1)
        self.slip = check_probability("slip", slip)
        self.reward_density = check_probability("reward_density", reward_density)
        self.lure_depth = check_int("lure_depth", lure_depth, 0)
        if self.lure_depth > H:
            raise ValueError(f"lure_depth must be <= horizon={H}, got {self.lure_depth}")
        self.lure_reward = check_nonnegative("lure_reward", lure_reward)
        self.repeat_probability = check_repeat_probability(repeat_probability)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        rng = np.random.default_rng(self.instance_seed)
        P, R, rho = layered_lure_model(
            S, A, H, self.slip, self.reward_density, self.lure_depth, self.lure_reward, rng
        )
        self.base_states = S
        if self.repeat_probability > 0:
            P, R, rho = sticky_model(P, R, rho, self.repeat_probability)
        self._setup_mdp(P, R, rho, H, observation_space=_discrete(S))
        #: Exact least k ≤ 8 with k-QVI solvability of the (sticky) model; None if none.
        self.min_k = min_k(P, R, rho, max_k=8)

    def _observe(self, s: int, h: int) -> np.int64:
        return np.int64(s // self.n_actions if self.repeat_probability > 0 else s)

    def _solve_extra(self) -> dict[str, Any]:
        return {
            "min_k": self.min_k,
            "lure_depth": self.lure_depth,
            "repeat_probability": self.repeat_probability,
        }


def _discrete(n: int) -> Any:
    import gymnasium as gym

    return gym.spaces.Discrete(n)
