"""The linear chain lock: a combination lock written as an exact linear MDP, where optimism is necessary."""

from __future__ import annotations

from typing import Any

import numpy as np

from rl_suite.envs._finite import FiniteHorizonMDPEnv
from rl_suite.envs.linear_mdp.simplex import linear_model
from rl_suite.errors import UserError
from rl_suite.validation import check_int, check_probability


def chain_lock_features(
    secret: np.ndarray, n_actions: int, dim: int, p_slip: float
) -> tuple[np.ndarray, np.ndarray]:
    """Features and latent next-state laws of the chain lock.

    Args:
        secret: ``(S,)`` correct action of every state (ignored in the last block).
        n_actions: A.
        dim: d, the number of blocks.
        p_slip: Probability that the correct action sends the agent back to block 0.

    Returns:
        Features ``(S, A, d)`` and next-state laws ``M`` ``(d, S)`` (row z uniform over block z's states).
    """
    S = secret.size
    block = np.arange(S) // (S // dim)
    phi = np.zeros((S, n_actions, dim))
    phi[:, :, 0] = 1.0  # every action but the secret one goes back to block 0
    inner = np.flatnonzero(block < dim - 1)
    phi[inner, secret[inner]] = p_slip * np.eye(dim)[0] + (1 - p_slip) * np.eye(dim)[block[inner] + 1]
    phi[block == dim - 1] = np.eye(dim)[dim - 1]  # the last block is absorbing
    mu = (block[None, :] == np.arange(dim)[:, None]) / (S // dim)
    return phi, mu


class LinearChainLock(FiniteHorizonMDPEnv[np.int64]):
    """A chain of d blocks of states where one secret action per state moves one block forward.

    ## Description
    The S states form d blocks of m = S/d states; block z's latent next-state law μ_z is uniform over its
    m states. Every state s of block z < d-1 has one secret action a*(s) ~ U{0..A-1} (drawn from
    ``numpy.random.default_rng(instance_seed)``). The features are

    * φ(s, a*(s)) = (1 − p_slip)·e_{z+1} + p_slip·e_0: forward one block, or slip back to block 0;
    * φ(s, a) = e_0 for a ≠ a*(s): back to block 0;
    * φ(s, ·) = e_{d-1} in the last block, which is absorbing.

    Transitions are P(·|s, a) = Σ_z φ_z(s, a) μ_z and rewards r(s, a) = φ(s, a)·θ with
    θ = distractor·e_0 + e_{d-1}: a small myopic reward for going back to the start, and 1 per step once
    the lock is open. This is an exact linear MDP of dimension d. Greedy and ε-greedy value estimates
    favour the distractor direction e_0, and uniform play opens the lock with probability about
    A^{-(d-1)}, so optimism is needed. ``V*`` does not depend on the secret actions.

    ## Action Space
    ``Discrete(n_actions)``.

    ## Observation Space
    ``Discrete(n_states)``: the state id; φ(s_h, ·) of shape ``(A, d)`` is in ``info["phi"]`` and all
    features in ``env.unwrapped.features`` ``(S, A, d)``.

    ## Rewards
    Deterministic ``r(s, a) = φ(s, a)·θ``. Every step's info carries the exact ``regret``
    ``V*_h(s_h) − Q*_h(s_h, a_h)``, ``optimal_value``, ``expected_reward``, ``h``, ``state`` and ``phi``;
    reset's info carries ``optimal_value`` (``V*_0(s_0)``), ``h``, ``state`` and ``phi``.

    ## Episode End
    Never terminates; truncates after ``horizon`` steps.

    ## Arguments
    * ``n_states`` (20): S, a multiple of ``dim``.
    * ``n_actions`` (4): A ≥ 2.
    * ``dim`` (10): d ≥ 2, the number of blocks.
    * ``p_slip`` (0.1): slip probability of the correct action, in ``[0, 1)``.
    * ``horizon`` (12): H ≥ 1.
    * ``distractor`` (0.1): reward weight of block 0, in ``[0, 1]``.
    * ``instance_seed`` (0): seed of the secret actions. The start is s_0 = 0.

    ## Attributes
    * ``features`` ``(S, A, d)``, ``mu`` ``(d, S)``, ``theta`` ``(d,)``.
    * ``secret_actions``: ``(S,)`` correct action per state, ``-1`` in the last block.
    * ``block_of_state``: ``(S,)`` block index of every state.
    * ``Q_star``, ``V_star``, ``pi_star``, ``model()``, ``optimal_value()``, ``policy_value(pi)``,
      ``solve()``: see :class:`~rl_suite.envs._finite.FiniteHorizonMDPEnv`.

    ## Reference
    Jin, Yang, Wang & Jordan, "Provably Efficient Reinforcement Learning with Linear Function
    Approximation", COLT 2020 (LSVI-UCB); the lock structure follows the combination locks of Misra et al.,
    "Kinematic State Abstraction and Provably Efficient Rich-Observation RL", ICML 2020.

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/LinearChainLock-v0"

    def __init__(
        self,
        n_states: int = 20,
        n_actions: int = 4,
        dim: int = 10,
        p_slip: float = 0.1,
        horizon: int = 12,
        distractor: float = 0.1,
        instance_seed: int = 0,
    ) -> None:
        S = check_int("n_states", n_states, 2)
        A = check_int("n_actions", n_actions, 2)
        self.dim = d = check_int("dim", dim, 2)
        if S % d:
            raise UserError(f"n_states must be a multiple of dim={d} (one block of states each), got {S}")
        self.p_slip = check_probability("p_slip", p_slip, upper_open=True)
        self.distractor = check_probability("distractor", distractor)
        horizon = check_int("horizon", horizon, 1)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        block = np.arange(S) // (S // d)
        secret = np.random.default_rng(self.instance_seed).integers(0, A, size=S)
        secret[block == d - 1] = -1
        phi, mu = chain_lock_features(secret, A, d, self.p_slip)
        theta = np.zeros(d)
        theta[0], theta[d - 1] = self.distractor, 1.0
        P, r = linear_model(phi, mu, theta)
        for x in (phi, mu, theta, secret, block):
            x.flags.writeable = False
        self.features, self.mu, self.theta = phi, mu, theta
        self.secret_actions, self.block_of_state = secret, block
        rho = np.zeros(S)
        rho[0] = 1.0
        self._setup_mdp(P, r, rho, horizon)

    def _obs_info(self, s: int, h: int) -> dict[str, Any]:
        return {"phi": self.features[s].copy()}

    def _solve_extra(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "p_slip": self.p_slip,
            "distractor": self.distractor,
            "instance_seed": self.instance_seed,
            "secret_actions": self.secret_actions.tolist(),
        }
