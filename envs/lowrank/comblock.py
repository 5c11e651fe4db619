"""The diabolical combination lock: a rich-observation block MDP with an exact latent model (V* = 1)."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite.envs._finite import FiniteHorizonMDPEnv
from rl_suite.errors import UserError
from rl_suite.validation import check_choice, check_int, check_nonnegative, check_probability

EMISSIONS = ("hadamard", "mlp")
#: Latent states per step: the two good chains and the dead state.
LATENT_A, LATENT_B, LATENT_C = 0, 1, 2
N_LATENT = 3
#: The emission noise is a standard normal clipped to ±NOISE_CLIP (times ``noise``), so that the
#: observation space has finite bounds; a clip happens with probability 5.7e-7 per coordinate.
NOISE_CLIP = 5.0
#: Reward per correct step of the dense variant (it replaces the anti-shaping reward).
DENSE_STEP_REWARD = 0.1


def sylvester_hadamard(dim: int) -> np.ndarray:
    """The unnormalised Sylvester Hadamard matrix (entries ±1, ``Had·Hadᵀ = dim·I``, symmetric).

    Args:
        dim: A power of two.

    Returns:
        ``(dim, dim)`` float64 matrix.
    """
    had = np.ones((1, 1))
    while had.shape[0] < dim:
        had = np.block([[had, had], [had, -had]])
    return had


def observation_dim(horizon: int) -> int:
    """``D = 2^⌈log2(H + 4)⌉``: room for 3 latent coordinates and H + 1 time coordinates."""
    return 2 ** math.ceil(math.log2(horizon + 4))


def lock_model(
    optimal_actions: np.ndarray, n_actions: int, p_switch: float, anti_r: float, p_anti_r: float, dense: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The latent model of the lock: ``P`` ``(H, 3, A, 3)`` and expected rewards ``R`` ``(H, 3, A)``.

    Args:
        optimal_actions: ``(H, 2)`` correct action in latent A (column 0) and B (column 1) per step.
        n_actions: A.
        p_switch: Probability that a correct action swaps the good chain (A ↔ B).
        anti_r: Anti-shaping reward for entering the dead state.
        p_anti_r: Probability that the anti-shaping reward is paid.
        dense: Dense variant: 0.1 per correct step before the last, no anti-shaping.

    Returns:
        ``(P, R)``.
    """
    H = optimal_actions.shape[0]
    P = np.zeros((H, N_LATENT, n_actions, N_LATENT))
    P[..., LATENT_C] = 1.0  # wrong actions and the dead state lead to C
    R = np.zeros((H, N_LATENT, n_actions))
    if not dense:
        R[:, :2, :] = anti_r * p_anti_r
    correct_reward = np.full(H, DENSE_STEP_REWARD if dense else 0.0)
    correct_reward[-1] = 1.0
    steps = np.arange(H)
    for z, stay in ((LATENT_A, [1 - p_switch, p_switch, 0.0]), (LATENT_B, [p_switch, 1 - p_switch, 0.0])):
        P[steps, z, optimal_actions[:, z]] = stay
        R[steps, z, optimal_actions[:, z]] = correct_reward
    return P, R


class DiabolicalCombLock(FiniteHorizonMDPEnv[np.ndarray]):
    """The diabolical combination lock of the HOMER / PC-PG / BRIEE line, BRIEE's variant.

    ## Description
    At every step h the latent state is one of A_h, B_h ("good") or C_h ("dead"), coded z ∈ {0, 1, 2}.
    Two secret sequences ``optimal_actions[h] = (a_A, a_B)``, drawn uniformly from
    ``numpy.random.default_rng(instance_seed)`` at construction, are the only actions that keep the agent
    alive: in A_h (B_h) the correct action leads to a good state, swapping A ↔ B with probability
    ``p_switch`` and staying otherwise; any other action leads to C, which is absorbing. The start is A or
    B, B with probability ``p_switch``. The latent state is hidden behind a noisy rich observation, so this
    is a block MDP (a low-rank MDP of rank 3 per step).

    Why it is diabolical: one action in A keeps the agent alive, the anti-shaping reward makes dying early
    locally optimal, the switching makes every fixed action sequence fail, and a uniform policy succeeds
    with probability A^{-H}. ``V* = 1`` (``1 + 0.1·(H − 1)`` for the dense variant).

    ## Action Space
    ``Discrete(n_actions)``.

    ## Observation Space
    ``Box(-b, b, (D,), float32)`` with D = 2^⌈log2(H + 4)⌉ (H = 5, 10 → 16; H = 20 → 32). The code
    vector v ∈ R^D has 1 at coordinate z and 1 at coordinate 3 + h (the time, h = 0 .. H), plus
    N(0, noise²) noise on coordinates 0 .. H + 2, each standard normal clipped to ±5 so that the bound b
    is sure (b ≥ ‖v‖₁ for the Hadamard emission, b ≥ Σ_j |W₂[i, j]| for the MLP). The observation is
    x = Had_D·v with the unnormalised Sylvester Hadamard matrix (``emission="hadamard"``, linearly
    decodable: see :meth:`decode`) or x = W₂·tanh(W₁·v + b₁) with a fixed random network
    (``emission="mlp"``: W₁ and b₁ entries N(0, 1), W₂ entries N(0, 1/D), drawn from the instance
    generator after the secret actions). ``info`` of reset
    and step carries ``latent_state`` (z of the returned observation).

    ## Rewards
    1 for the correct action at the last step (h = H − 1). Leaving a good state by a wrong action pays
    ``anti_r`` with probability ``p_anti_r`` (anti-shaping), else 0. With ``dense=True``: 0.1 for every
    correct action before the last step and no anti-shaping. Every step's info carries the exact latent
    ``regret`` ``V*_h(z_h) − Q*_h(z_h, a_h)``, ``optimal_value``, ``expected_reward`` (anti-shaping counts
    ``anti_r·p_anti_r``), ``h`` and ``latent_state``.

    ## Episode End
    Never terminates; truncates after ``horizon`` steps.

    ## Arguments
    * ``n_actions`` (10): A ≥ 2.
    * ``horizon`` (5): H ≥ 1.
    * ``p_switch`` (0.5): probability of swapping A ↔ B on a correct action (and of starting in B).
    * ``anti_r`` (0.1): anti-shaping reward (≥ 0); ``p_anti_r`` (0.5): its probability.
    * ``noise`` (0.1): σ of the Gaussian noise on the code vector (≥ 0).
    * ``emission`` ("hadamard"): ``"hadamard"`` or ``"mlp"``.
    * ``dense`` (False): the dense-reward variant.
    * ``instance_seed`` (0): seed of the secret actions and of the ``"mlp"`` emission.

    ## Attributes
    * ``optimal_actions``: ``(H, 2)`` correct action per step in A (column 0) and B (column 1).
    * ``obs_dim``: D; ``hadamard``: ``Had_D``.
    * ``Q_star``, ``V_star`` ``(H+1, 3)``, ``pi_star``, ``model()`` (the latent model, S = 3 per step),
      ``optimal_value()``, ``policy_value(pi)`` (pi on latent states, ``(H, 3)``), ``solve()``: see
      :class:`~rl_suite.envs._finite.FiniteHorizonMDPEnv`.

    ## Reference
    Misra, Henaff, Krishnamurthy & Langford, "Kinematic State Abstraction and Provably Efficient
    Rich-Observation Reinforcement Learning", ICML 2020 (HOMER); Zhang, Song, Uehara, Wang, Agarwal & Sun,
    "Efficient Reinforcement Learning in Block MDPs: A Model-free Representation Learning Approach",
    ICML 2022 (BRIEE, whose defaults and Hadamard emission this env follows).

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/DiabolicalCombLock-v0"
    state_key = "latent_state"

    def __init__(
        self,
        n_actions: int = 10,
        horizon: int = 5,
        p_switch: float = 0.5,
        anti_r: float = 0.1,
        p_anti_r: float = 0.5,
        noise: float = 0.1,
        emission: str = "hadamard",
        dense: bool = False,
        instance_seed: int = 0,
    ) -> None:
        A = check_int("n_actions", n_actions, 2)
        H = check_int("horizon", horizon, 1)
        self.p_switch = check_probability("p_switch", p_switch)
        self.anti_r = check_nonnegative("anti_r", anti_r)
        self.p_anti_r = check_probability("p_anti_r", p_anti_r)
        self.noise = check_nonnegative("noise", noise)
        self.emission = check_choice("emission", emission, EMISSIONS)
        self.dense = bool(dense)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        rng = np.random.default_rng(self.instance_seed)
        self.optimal_actions = rng.integers(0, A, size=(H, 2))
        self.optimal_actions.flags.writeable = False
        self.obs_dim = D = observation_dim(H)
        self.hadamard = sylvester_hadamard(D)
        self.hadamard.flags.writeable = False
        if self.emission == "mlp":
            self._w1 = rng.standard_normal((D, D))
            self._b1 = rng.standard_normal(D)
            self._w2 = rng.standard_normal((D, D)) / math.sqrt(D)
        P, R = lock_model(self.optimal_actions, A, self.p_switch, self.anti_r, self.p_anti_r, self.dense)
        rho = np.array([1.0 - self.p_switch, self.p_switch, 0.0])
        bound = self._obs_bound(H)
        space = gym.spaces.Box(-bound, bound, (D,), np.float32)
        self._setup_mdp(P, R, rho, H, space)

    def _obs_bound(self, horizon: int) -> float:
        """A sure bound on ``|x_i|``: ``‖v‖₁`` (Hadamard) or the largest row sum of ``|W₂|`` (MLP)."""
        if self.emission == "hadamard":
            bound = 2.0 + NOISE_CLIP * self.noise * (horizon + N_LATENT)
        else:
            bound = float(np.abs(self._w2).sum(axis=1).max())
        return float(np.float32(bound * (1 + 1e-5) + 1e-5))

    def code_vector(self, z: int, h: int) -> np.ndarray:
        """Draw the noisy code vector v of latent ``z`` at step ``h`` (uses ``self.np_random``).

        Args:
            z: Latent state in {0, 1, 2}.
            h: Step in ``0 .. H``.

        Returns:
            ``(D,)`` float64 vector.
        """
        v = np.zeros(self.obs_dim)
        normals = self.np_random.standard_normal(self.horizon + N_LATENT)
        v[: self.horizon + N_LATENT] = self.noise * np.clip(normals, -NOISE_CLIP, NOISE_CLIP)
        v[z] += 1.0
        v[N_LATENT + h] += 1.0
        return v

    def emit(self, v: np.ndarray) -> np.ndarray:
        """Map code vectors ``(..., D)`` to observations ``(..., D)`` (float32) by the emission."""
        if self.emission == "hadamard":
            x = v @ self.hadamard.T
        else:
            x = np.tanh(v @ self._w1.T + self._b1) @ self._w2.T
        return x.astype(np.float32)

    @property
    def emission_is_random(self) -> bool:
        """Whether the code vectors carry Gaussian noise (``noise > 0``)."""
        return bool(self.noise > 0)

    def _observe(self, s: int, h: int) -> np.ndarray:
        return self.emit(self.code_vector(s, h))

    def decode(self, obs: Any) -> np.ndarray | int:
        """Oracle decoder of the Hadamard emission: ``v = Hadᵀ·x / D`` and z = argmax of ``v[:3]``.

        This is the *oracle* latent decoder used by the reference (oracle-latent) agents; a learner is
        not meant to call it.

        Args:
            obs: One observation ``(D,)`` or a batch ``(N, D)``.

        Returns:
            The latent state (an ``int``) or ``(N,)`` int64 latent states.

        Raises:
            UserError: The emission is not ``"hadamard"``, or ``obs`` has the wrong last dimension.
        """
        if self.emission != "hadamard":
            raise UserError(f"decode() needs emission='hadamard', this env has emission={self.emission!r}")
        x = np.asarray(obs, dtype=np.float64)
        if x.shape[-1:] != (self.obs_dim,) or x.ndim > 2:
            raise UserError(
                f"decode() expects observations of shape ({self.obs_dim},) or (N, {self.obs_dim})"
            )
        v = x @ self.hadamard / self.obs_dim  # Had is symmetric: Hadᵀ x = x Had
        z = np.argmax(v[..., :N_LATENT], axis=-1)
        return int(z) if x.ndim == 1 else z.astype(np.int64)

    def _reward(self, h: int, s: int, a: int, s_next: int, u: float) -> float:
        good = s != LATENT_C
        if good and a == self.optimal_actions[h, s]:
            return 1.0 if h == self.horizon - 1 else (DENSE_STEP_REWARD if self.dense else 0.0)
        if good and not self.dense and u < self.p_anti_r:
            return self.anti_r
        return 0.0

    def _solve_extra(self) -> dict[str, Any]:
        return {
            "optimal_actions": self.optimal_actions.tolist(),
            "obs_dim": self.obs_dim,
            "emission": self.emission,
            "dense": self.dense,
            "p_switch": self.p_switch,
            "anti_r": self.anti_r,
            "p_anti_r": self.p_anti_r,
            "noise": self.noise,
            "instance_seed": self.instance_seed,
            "uniform_success_probability": float(self.n_actions) ** -self.horizon,
        }
