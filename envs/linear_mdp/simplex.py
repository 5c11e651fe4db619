"""The Dirichlet simplex linear MDP: a random, exactly linear, exactly solvable episodic MDP."""

from __future__ import annotations

from typing import Any

import numpy as np

from rl_suite.envs._finite import FiniteHorizonMDPEnv
from rl_suite.validation import check_choice, check_int, check_positive

REWARD_NOISES = ("none", "bernoulli")
STARTS = ("fixed", "uniform")


def draw_simplex_layer(
    rng: np.random.Generator,
    n_states: int,
    n_actions: int,
    dim: int,
    alpha_phi: float,
    alpha_mu: float,
    reward_power: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one step's ``(Φ, M, θ)``, in this order, from ``rng``.

    Args:
        rng: The instance generator.
        n_states: S.
        n_actions: A.
        dim: d.
        alpha_phi: Dirichlet concentration of the features.
        alpha_mu: Dirichlet concentration of the latent next-state laws.
        reward_power: θ_i = U(0, 1)^reward_power.

    Returns:
        Features ``(S, A, d)`` on the simplex, next-state laws ``M`` ``(d, S)`` (rows on the simplex) and
        reward weights ``θ`` ``(d,)`` in ``[0, 1]``.
    """
    phi = rng.dirichlet(np.full(dim, alpha_phi), size=(n_states, n_actions))
    mu = rng.dirichlet(np.full(n_states, alpha_mu), size=dim)
    theta = rng.uniform(0.0, 1.0, dim) ** reward_power
    return phi, mu, theta


def linear_model(phi: np.ndarray, mu: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Transitions ``P = ΦM`` (rows renormalised) and rewards ``r = Φθ``; asserts φ ∈ Δ^d, P = ΦM, r ∈ [0, 1].

    Args:
        phi: Features ``(..., S, A, d)``.
        mu: Next-state laws ``(..., d, S)``.
        theta: Reward weights ``(..., d)``.

    Returns:
        ``P`` of shape ``(..., S, A, S)`` and ``r`` of shape ``(..., S, A)``.
    """
    raw = np.einsum("...sad,...dt->...sat", phi, mu)
    P = raw / raw.sum(axis=-1, keepdims=True)
    r = np.einsum("...sad,...d->...sa", phi, theta)
    assert (phi >= 0).all() and np.abs(phi.sum(axis=-1) - 1.0).max() < 1e-12, "φ must lie on the simplex"
    assert np.abs(P.sum(axis=-1) - 1.0).max() < 1e-12, "rows of P must sum to 1"
    assert np.abs(P - raw).max() < 1e-12, "P must equal Φ M"
    assert (r >= 0).all() and (r <= 1).all(), "rewards must lie in [0, 1]"
    return P, r


class SimplexLinearMDP(FiniteHorizonMDPEnv[np.int64]):
    """A random linear MDP whose features and next-state laws are Dirichlet draws (a latent-variable model).

    ## Description
    A finite episodic MDP with S states, A actions and horizon H whose transitions and rewards are exactly
    linear in a known feature map φ(s, a) ∈ Δ^d (Jin et al. 2020):

    * φ(s, a) ~ Dirichlet(α_φ·1_d), a point on the simplex (so ‖φ‖₂ ≤ 1);
    * d latent next-state laws μ_i ~ Dirichlet(α_μ·1_S), the rows of M ∈ R^{d×S};
    * P(·|s, a) = Σ_i φ_i(s, a) μ_i = (ΦM)[s, a, :] — a valid law because every term is non-negative;
    * θ_i = U(0, 1)^reward_power and r(s, a) = φ(s, a)·θ ∈ [0, 1].

    The stationary instance draws one ``(Φ, M, θ)``; the non-stationary one draws ``(Φ_h, M_h, θ_h)``
    independently for ``h = 0 .. H-1``, in that order, from ``numpy.random.default_rng(instance_seed)``.
    Construction asserts the self-checks: rows of P sum to 1, ‖P − ΦM‖_∞ < 1e-12, r ∈ [0, 1], φ ≥ 0 and
    Σφ = 1. Small α_φ gives near one-hot (near tabular) features; α_φ → ∞ makes all φ equal and every
    policy optimal.

    ## Action Space
    ``Discrete(n_actions)``.

    ## Observation Space
    ``Discrete(n_states)``: the state id. The features of the current state, φ(s_h, ·) of shape
    ``(A, d)``, are in ``info["phi"]`` (reset and step); all features are in ``env.unwrapped.features``.
    For the non-stationary instance ``info["phi"]`` holds φ_h, and zeros after the last step (no action is
    left to take).

    ## Rewards
    ``r(s, a)`` (``reward_noise="none"``) or a Bernoulli(``r(s, a)``) draw (``"bernoulli"``). Every step's
    info carries the exact ``regret`` ``V*_h(s_h) − Q*_h(s_h, a_h)``, ``optimal_value`` (``V*_h(s_h)``),
    ``expected_reward``, ``h``, ``state`` and ``phi``; reset's info carries ``optimal_value``
    (``V*_0(s_0)``), ``h``, ``state`` and ``phi``.

    ## Episode End
    Never terminates; truncates after ``horizon`` steps.

    ## Arguments
    * ``n_states`` (20): S ≥ 2.
    * ``n_actions`` (4): A ≥ 2.
    * ``dim`` (10): d ≥ 1.
    * ``horizon`` (10): H ≥ 1.
    * ``alpha_phi`` (0.3), ``alpha_mu`` (0.3): Dirichlet concentrations (> 0).
    * ``reward_power`` (4): exponent of the uniform reward weights (> 0).
    * ``stationary`` (True): one ``(Φ, M, θ)`` for every step, or one per step.
    * ``reward_noise`` ("none"): ``"none"`` or ``"bernoulli"``.
    * ``start`` ("fixed"): ``"fixed"`` (s_0 = 0) or ``"uniform"`` (ρ uniform over the states).
    * ``instance_seed`` (0): seed of the drawn instance.

    ## Attributes
    * ``features``: φ, ``(S, A, d)`` (stationary) or ``(H, S, A, d)``.
    * ``mu``: M, ``(d, S)`` or ``(H, d, S)``; ``theta``: θ, ``(d,)`` or ``(H, d)``.
    * ``Q_star``, ``V_star``, ``pi_star``: exact optimum; ``model()``, ``optimal_value()``,
      ``policy_value(pi)``, ``solve()``: see :class:`~rl_suite.envs._finite.FiniteHorizonMDPEnv`.

    ## Reference
    Jin, Yang, Wang & Jordan, "Provably Efficient Reinforcement Learning with Linear Function
    Approximation", COLT 2020 (the linear MDP); Agarwal, Kakade, Krishnamurthy & Sun, "FLAMBE", NeurIPS 2020
    (the latent-variable view of low non-negative rank).

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/SimplexLinearMDP-v0"

    def __init__(
        self,
        n_states: int = 20,
        n_actions: int = 4,
        dim: int = 10,
        horizon: int = 10,
        alpha_phi: float = 0.3,
        alpha_mu: float = 0.3,
        reward_power: float = 4.0,
        stationary: bool = True,
        reward_noise: str = "none",
        start: str = "fixed",
        instance_seed: int = 0,
    ) -> None:
        S = check_int("n_states", n_states, 2)
        A = check_int("n_actions", n_actions, 2)
        self.dim = check_int("dim", dim, 1)
        horizon = check_int("horizon", horizon, 1)
        self.alpha_phi = check_positive("alpha_phi", alpha_phi)
        self.alpha_mu = check_positive("alpha_mu", alpha_mu)
        self.reward_power = check_positive("reward_power", reward_power)
        self.reward_noise = check_choice("reward_noise", reward_noise, REWARD_NOISES)
        self.start = check_choice("start", start, STARTS)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        rng = np.random.default_rng(self.instance_seed)
        layers = [
            draw_simplex_layer(rng, S, A, self.dim, self.alpha_phi, self.alpha_mu, self.reward_power)
            for _ in range(1 if stationary else horizon)
        ]
        phi, mu, theta = (np.stack(x) for x in zip(*layers, strict=True))
        if stationary:
            phi, mu, theta = phi[0], mu[0], theta[0]
        P, r = linear_model(phi, mu, theta)
        for x in (phi, mu, theta):
            x.flags.writeable = False
        self.features, self.mu, self.theta = phi, mu, theta
        rho = np.zeros(S)
        rho[0] = 1.0
        if self.start == "uniform":
            rho[:] = 1.0 / S
        self._setup_mdp(P, r, rho, horizon)
        self._no_phi = np.zeros((A, self.dim))

    def _obs_info(self, s: int, h: int) -> dict[str, Any]:
        if self.stationary:
            return {"phi": self.features[s].copy()}
        if h >= self.horizon:
            return {"phi": self._no_phi.copy()}
        return {"phi": self.features[h, s].copy()}

    def _reward(self, h: int, s: int, a: int, s_next: int, u: float) -> float:
        r = float(self._R[self._layer(h), s, a])
        return float(u < r) if self.reward_noise == "bernoulli" else r

    def _solve_extra(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "alpha_phi": self.alpha_phi,
            "alpha_mu": self.alpha_mu,
            "reward_power": self.reward_power,
            "reward_noise": self.reward_noise,
            "start": self.start,
            "instance_seed": self.instance_seed,
        }
