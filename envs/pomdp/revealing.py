"""Random m-step α-revealing tabular POMDPs (Liu, Chung, Szepesvári & Jin 2022), generated to a given α."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rl_suite.envs.pomdp._core import TabularPOMDPEnv, revealing_alpha
from rl_suite.errors import UserError
from rl_suite.exact import pomdp
from rl_suite.validation import check_int, check_positive


def digits(n_states: int, base: int, steps: int) -> np.ndarray:
    """``(S, m)`` base-``O`` digits of every state id (least significant first): the skeleton's code words."""
    return (np.arange(n_states)[:, None] // base ** np.arange(steps)[None, :]) % base


def skeleton(n_states: int, n_actions: int, n_obs: int, steps: int) -> dict[str, np.ndarray]:
    """A deterministic m-step revealing skeleton: identity transitions, action ``a`` reads digit ``a mod m``.

    Every state has a distinct m-digit code in base O; ``Z0`` emits digit 0 and the observation after
    action ``a`` is digit ``a mod m`` of the state. Whatever the emission source, some ``m − 1`` actions read
    the other digits, so one row block of the m-step emission matrix is a 0/1 matrix with distinct one-hot
    columns and σ_S ≥ 1.

    Returns:
        ``T (S, A, S)``, ``Z (A, S, O)``, ``Z0 (S, O)``.
    """
    S, A, n_obs, m = n_states, n_actions, n_obs, steps
    code = digits(S, n_obs, m)
    T = np.broadcast_to(np.eye(S)[:, None, :], (S, A, S)).copy()
    Z = np.zeros((A, S, n_obs))
    for a in range(A):
        Z[a, np.arange(S), code[:, a % m]] = 1.0
    Z0 = np.zeros((S, n_obs))
    Z0[np.arange(S), code[:, 0]] = 1.0
    return {"T": T, "Z": Z, "Z0": Z0}


def random_revealing_pomdp(
    n_states: int,
    n_actions: int,
    n_obs: int,
    steps: int,
    alpha: float,
    rng: np.random.Generator,
    bisection_steps: int = 40,
) -> tuple[dict[str, np.ndarray], float, float]:
    """Draw a random POMDP and mix it with the revealing skeleton until its m-step α reaches ``alpha``.

    The model is ``(1 − λ)·skeleton + λ·random`` (transitions, emissions and the first emission; rewards
    ``U[0, 1]`` and ``b0 ~ Dirichlet(1)`` are not mixed). λ = 1 (fully random) is kept if it already meets
    ``alpha``; otherwise bisection finds a λ close to the largest one whose computed
    :func:`~rl_suite.envs.pomdp._core.revealing_alpha` (min over emission sources) is ≥ ``alpha``, keeping
    only λ's that satisfy it (λ = 0 does, with α ≥ 1).

    Returns:
        ``(arrays, λ, α)``: ``T``, ``Z``, ``Z0``, ``R``, ``b0``; the mixing weight; the model's α.
    """
    S, A, n_obs, m = n_states, n_actions, n_obs, steps
    sk = skeleton(S, A, n_obs, m)
    rnd = {
        "T": rng.dirichlet(np.ones(S), size=(S, A)),
        "Z": rng.dirichlet(np.ones(n_obs), size=(A, S)),
        "Z0": rng.dirichlet(np.ones(n_obs), size=S),
    }
    R = rng.random((S, A))
    b0 = rng.dirichlet(np.ones(S))

    def mix(lam: float) -> tuple[dict[str, np.ndarray], float]:
        arrays = {k: (1 - lam) * sk[k] + lam * rnd[k] for k in sk}
        model = pomdp.make_model(arrays["T"], arrays["Z"], R, b0, arrays["Z0"], 1.0, 1)
        sv = revealing_alpha(model, m)
        assert sv is not None
        return arrays, min(sv.values())

    arrays, a_hat = mix(1.0)
    if a_hat >= alpha:
        return {**arrays, "R": R, "b0": b0}, 1.0, a_hat
    lo, (arrays, a_hat) = 0.0, mix(0.0)
    hi = 1.0
    for _ in range(bisection_steps):
        mid = 0.5 * (lo + hi)
        cand, a_mid = mix(mid)
        if a_mid >= alpha:
            lo, arrays, a_hat = mid, cand, a_mid
        else:
            hi = mid
    return {**arrays, "R": R, "b0": b0}, lo, a_hat


class RevealingPOMDP(TabularPOMDPEnv):
    """A random tabular POMDP that is m-step α-revealing by construction, with exact ``V*``.

    ## Description
    Liu, Chung, Szepesvári & Jin (COLT 2022) call a POMDP m-step α-weakly-revealing when the matrix of
    probabilities of the next m observations given the state and the next m−1 actions,
    ``(A^{m−1}·O^m) × S``, has S-th singular value ≥ α; for m = 1 (undercomplete, O ≥ S) it is the
    emission matrix itself. Such POMDPs are learnable with poly(S, O, A^m, H, 1/α)/ε² samples (OMLE).

    The generator draws a random POMDP (Dirichlet(1) rows, rewards U[0, 1], ``b0 ~ Dirichlet(1)``) and
    mixes it with a deterministic revealing skeleton (identity transitions; every state has a distinct
    m-digit code in base O, action ``a`` reveals digit ``a mod m`` next step, the first observation digit
    0) with the weight λ found by bisection: as random as possible while the computed α (the minimum over
    emission sources, i.e. over the previous action and the reset emission) is ≥ ``alpha``. Small α gives
    nearly random models, α → 1 nearly the skeleton. The reached α, λ and the per-source values are in
    ``pomdp_metadata()`` and ``solve()``; ``V*`` is exact by belief-tree expectimax (for H and sizes where
    the tree fits; else PBVI/QMDP bracket it).

    ## Action Space
    ``Discrete(n_actions)``.

    ## Observation Space
    ``Discrete(n_observations)`` (``Discrete(O·(A+1))`` with ``obs_last_action=True``).

    ## Rewards
    Deterministic ``R[s, a] ∈ [0, 1]``. ``info``: see :class:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv`.

    ## Episode End
    Never terminates; truncates after ``horizon`` steps.

    ## Arguments
    * ``n_states`` (3), ``n_actions`` (2), ``n_observations`` (3), ``horizon`` (4): S, A, O, H ≥ 1.
    * ``alpha`` (0.3): requested α in ``(0, 1]``.
    * ``revealing_steps`` (1): m ≥ 1; needs ``O^m ≥ S`` and, for m ≥ 2, ``A ≥ m``.
    * ``instance_seed`` (0): seed of the random model.
    * ``discount`` (``None``: undiscounted), ``obs_last_action`` (``False``), ``pbvi_options``.

    ## Reference
    Liu, Chung, Szepesvári & Jin, "When is partially observable reinforcement learning not scary?",
    COLT 2022; Jin, Kakade, Krishnamurthy & Liu, "Sample-efficient reinforcement learning of undercomplete
    POMDPs", NeurIPS 2020.

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/RevealingPOMDP-v0"
    pbvi_defaults: ClassVar[dict[str, Any]] = {"n_expansions": 8, "max_beliefs": 256}

    def __init__(
        self,
        n_states: int = 3,
        n_actions: int = 2,
        n_observations: int = 3,
        horizon: int = 4,
        alpha: float = 0.3,
        revealing_steps: int = 1,
        instance_seed: int = 0,
        discount: float | None = None,
        obs_last_action: bool = False,
        pbvi_options: dict[str, Any] | None = None,
    ) -> None:
        S = check_int("n_states", n_states, 1)
        A = check_int("n_actions", n_actions, 1)
        n_obs = check_int("n_observations", n_observations, 1)
        m = check_int("revealing_steps", revealing_steps, 1)
        self.alpha_requested = check_positive("alpha", alpha)
        if self.alpha_requested > 1:
            raise UserError(f"alpha must be in (0, 1] (σ_S of the emission matrix), got {alpha}")
        if n_obs**m < S:
            raise UserError(
                f"n_observations**revealing_steps = {n_obs**m} < n_states = {S}: "
                f"no {m}-step revealing code exists"
            )
        if m > 1 and A < m:
            raise UserError(
                f"revealing_steps = {m} needs n_actions >= {m} (one action per code digit), got {A}"
            )
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        self.revealing_steps = m
        arrays, self.mixing_weight, self.alpha_reached = random_revealing_pomdp(
            S, A, n_obs, m, self.alpha_requested, np.random.default_rng(self.instance_seed)
        )
        super().__init__(
            T=arrays["T"],
            Z=arrays["Z"],
            R=arrays["R"],
            b0=arrays["b0"],
            Z0=arrays["Z0"],
            horizon=check_int("horizon", horizon, 1),
            discount=discount,
            obs_last_action=obs_last_action,
            pbvi_options=pbvi_options,
        )

    def _solve_extra(self) -> dict[str, Any]:
        return {
            "alpha_requested": self.alpha_requested,
            "alpha_reached": self.alpha_reached,
            "mixing_weight": self.mixing_weight,
            "instance_seed": self.instance_seed,
        }
