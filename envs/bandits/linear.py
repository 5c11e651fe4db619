"""The linear contextual bandit: every arm's mean is linear in its features, so regret is exact."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from scipy.special import ndtr

from rl_suite.envs.bandits._core import REWARD_NOISES, BanditCore, BanditEnv, BanditVectorEnv
from rl_suite.errors import UserError
from rl_suite.validation import check_choice, check_int, check_positive

MODELS = ("disjoint", "shared")
CONTEXTS = ("sphere", "ball", "gaussian")
#: Drawn parameters are θ = [0.5, 0.4·v], ‖v‖ = 1: the constant feature's weight and the scale of the rest.
_BASE, _SCALE = 0.5, 0.4
#: Gaussian contexts are truncated at ±8σ (probability < 1e-15 per coordinate), which bounds the features.
_CLIP = 8.0
#: Feature templates (first column 1) are cached per batch size up to this many entries.
_TEMPLATE_CACHE_SIZE = 1 << 16


class LinearCore(BanditCore):
    """Features ``x = [1, u]`` with ``u`` from the context distribution; means ``⟨θ_a, x_a⟩``."""

    def __init__(
        self,
        theta: np.ndarray,
        model: str,
        context: str,
        n_arms: int,
        dim: int,
        reward_noise: str,
        noise_sd: float,
    ) -> None:
        self.theta, self.model, self.context = theta, model, context
        self.n_arms, self.dim = n_arms, dim
        self.reward_noise, self.noise_sd = reward_noise, noise_sd
        self._rows = 1 if model == "disjoint" else n_arms
        self._per_row = (dim - 1) + (1 if context == "ball" else 0)
        self.context_normals = self._rows * self._per_row
        self._sqrt_ctx_dim = math.sqrt(dim - 1)
        self._radius_power = 1.0 / (dim - 1)
        self._templates: dict[int, np.ndarray] = {}

    def observe(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Turn each stream's normals into this round's arm features and means.

        Per feature row (one row in the disjoint model, one per arm in the shared one) the row's first
        ``d − 1`` normals ``g`` give the context: ``g/‖g‖`` on the sphere; ``g/‖g‖ · Φ(z')^{1/(d−1)}`` in
        the ball, with ``z'`` the row's one extra normal; ``clip(g, −8, 8)/√(d−1)`` for Gaussian contexts.

        Args:
            z: ``(R, context_normals)`` standard normals.

        Returns:
            ``(R, K, d)`` features ``x = [1, u]`` and ``(R, K)`` means ``⟨θ_a, x_a⟩``.
        """
        R, d = z.shape[0], self.dim
        z = z.reshape(R, self._rows, self._per_row)
        template = self._templates.get(R)
        if template is None:
            x = np.ones((R, self.n_arms, d))
            if x.size <= _TEMPLATE_CACHE_SIZE:
                self._templates[R] = x.copy()
        else:
            x = template.copy()
        u = x[..., 1:]  # written in place; a disjoint model's one context row broadcasts to every arm
        if self.context == "gaussian":
            np.divide(np.clip(z, -_CLIP, _CLIP), self._sqrt_ctx_dim, out=u)
        else:
            g = z[..., : d - 1] if self.context == "ball" else z
            norm = np.vecdot(g, g)
            np.sqrt(norm, out=norm)
            np.divide(g, norm[..., None], out=u)
            if self.context == "ball":
                u *= ndtr(z[..., d - 1 :]) ** self._radius_power
        return x, np.vecdot(x, self.theta)


class LinearContextualBandit(BanditEnv[np.ndarray]):
    """K-armed linear contextual bandit with exact per-round regret.

    ## Description
    Each round every arm ``a`` shows a feature vector ``x_{t,a} ∈ ℝ^d`` and has mean reward
    ``μ(x_{t,a}) = ⟨θ_a, x_{t,a}⟩``. In the ``"disjoint"`` model (Li et al. 2010, Alg. 1) each arm has its
    own unknown ``θ_a`` and one context is shared by all arms, so the observation's rows are identical; in
    the ``"shared"`` model (the linear bandit of Abbasi-Yadkori et al. 2011) one unknown ``θ`` is shared and
    every arm has its own features.

    Features are ``x = [1, u]``: the constant 1 and a context ``u ∈ ℝ^{d−1}`` drawn afresh every round from
    the ``context`` distribution. Parameters are ``θ = [0.5, 0.4·v]`` with ``v`` uniform on the unit sphere,
    drawn from ``instance_seed``, so ``μ = 0.5 + 0.4·⟨v, u⟩``: for bounded contexts (``‖u‖ ≤ 1``) every mean
    lies in ``[0.1, 0.9]``. Bernoulli rewards need exactly that; Gaussian rewards use the same construction
    so that means (and regrets) stay bounded and comparable across knobs.

    Randomness comes only from ``self.np_random``, in a fixed order: ``reset`` draws the first round's
    context normals; each ``step`` draws, in one ``standard_normal`` call, the reward noise of the round
    played followed by the next round's context normals (see :meth:`LinearCore.observe`). Bernoulli rewards
    are ``1{Φ(z) < μ}``, Gaussian ones ``μ + σ·z``, for that one normal ``z``.

    ## Action Space
    ``Discrete(n_arms)``: the arm to play.

    ## Observation Space
    ``Box(-b, b, (n_arms, dim), float64)``: this round's arm features (first column 1), with ``b = 1`` for
    bounded contexts and ``b = max(1, 8/√(d−1))`` for (truncated) Gaussian ones. The bounds are finite
    because they are true, and because Gymnasium's checker warns on infinite ones.

    ## Rewards
    Bernoulli with mean ``μ`` (``reward_noise="bernoulli"``) or ``μ + σ·N(0, 1)`` (``"gaussian"``).
    ``info`` of every step carries ``regret`` (exact: ``max_a μ(x_{t,a}) − μ(x_{t,a_t})``), ``optimal_value``
    (``max_a μ``), ``expected_reward`` (``μ`` of the arm played) and ``optimal_action``; ``reset``'s info
    carries the first round's ``optimal_value``.

    ## Episode End
    Never terminates; truncates after ``horizon`` rounds. Contexts are i.i.d., so episodes only group rounds.

    ## Arguments
    * ``dim`` (10): feature dimension d ≥ 2, the constant feature included.
    * ``n_arms`` (10): number of arms K ≥ 2.
    * ``model`` ("disjoint"): ``"disjoint"`` (θ_a per arm, one context) or ``"shared"`` (one θ, features
      per arm).
    * ``reward_noise`` ("bernoulli"): ``"bernoulli"`` or ``"gaussian"``.
    * ``noise_sd`` (0.1): σ of Gaussian rewards (ignored for Bernoulli).
    * ``context`` ("sphere"): distribution of ``u``: uniform on the unit ``"sphere"``, uniform in the unit
      ``"ball"``, or ``"gaussian"`` ``N(0, I/(d−1))`` truncated at ±8σ (Gaussian rewards only: it is
      unbounded in spirit, so Bernoulli means could leave ``[0, 1]``).
    * ``horizon`` (1000): rounds per episode.
    * ``instance_seed`` (0): seed of the unknown parameters; contexts and noise come from
      ``reset(seed=...)``.
    * ``theta`` (None): advanced — explicit parameters instead of drawn ones: shape ``(n_arms, dim)`` for
      the disjoint model, ``(dim,)`` for the shared one; with Bernoulli rewards every
      ``θ[0] ± ‖θ[1:]‖`` must lie in ``[0, 1]``.

    ## Attributes
    * ``n_arms``, ``dim``, ``model``, ``reward_noise``, ``noise_sd``, ``context``, ``horizon``: the knobs.
    * ``theta``: the true parameters (read-only), ``(n_arms, dim)`` or ``(dim,)``.
    * ``noise_sd_bound``: R of R-sub-Gaussian reward noise (σ, or 0.5 for Bernoulli rewards).
    * ``theta_norm_bound``: S ≥ ‖θ_a‖ for every arm (√0.41 for drawn parameters).
    * ``feature_norm_bound``: L ≥ ‖x‖ (√2 for bounded contexts, √65 for truncated Gaussian ones).

    ## Vectorized environment
    ``gymnasium.make_vec(id, num_envs=R, vectorization_mode="vector_entry_point", **kwargs)`` gives a
    :class:`LinearContextualBanditVectorEnv`: R noise streams of the same instance as one array program,
    stream ``i`` bit-identical to this env reset with seed ``seed + i``.

    ## Reference
    Li, Chu, Langford & Schapire, "A Contextual-Bandit Approach to Personalized News Article
    Recommendation", WWW 2010; Abbasi-Yadkori, Pál & Szepesvári, "Improved Algorithms for Linear
    Stochastic Bandits", NeurIPS 2011.

    ## Version History
    * v0: initial version.
    """

    def __init__(
        self,
        dim: int = 10,
        n_arms: int = 10,
        model: str = "disjoint",
        reward_noise: str = "bernoulli",
        noise_sd: float = 0.1,
        context: str = "sphere",
        horizon: int = 1000,
        instance_seed: int = 0,
        theta: Any = None,
    ) -> None:
        self.dim = check_int("dim", dim, 2)
        n_arms = check_int("n_arms", n_arms, 2)
        self.model = check_choice("model", model, MODELS)
        self.reward_noise = check_choice("reward_noise", reward_noise, REWARD_NOISES)
        self.noise_sd = check_positive("noise_sd", noise_sd)
        self.context = check_choice("context", context, CONTEXTS)
        self.instance_seed = check_int("instance_seed", instance_seed, 0)
        if self.reward_noise == "bernoulli" and self.context == "gaussian":
            raise UserError(
                "context='gaussian' is unbounded, so Bernoulli means could leave [0, 1]: "
                "use context='sphere' or 'ball' with Bernoulli rewards, or reward_noise='gaussian'"
            )
        self.theta = self._make_theta(theta, n_arms)
        self.theta.flags.writeable = False
        self.theta_norm_bound = float(np.linalg.norm(self.theta, axis=-1).max())
        self.noise_sd_bound = self.noise_sd if self.reward_noise == "gaussian" else 0.5
        gaussian = self.context == "gaussian"
        self.feature_norm_bound = math.sqrt(1.0 + (_CLIP**2 if gaussian else 1.0))
        bound = max(1.0, _CLIP / math.sqrt(self.dim - 1)) if gaussian else 1.0
        core = LinearCore(
            self.theta, self.model, self.context, n_arms, self.dim, self.reward_noise, self.noise_sd
        )
        space = gym.spaces.Box(-bound, bound, shape=(n_arms, self.dim), dtype=np.float64)
        self._setup(core, horizon, space)

    def _make_theta(self, theta: Any, n_arms: int) -> np.ndarray:
        shape = (n_arms, self.dim) if self.model == "disjoint" else (self.dim,)
        if theta is None:
            rng = np.random.default_rng(self.instance_seed)
            v = rng.standard_normal((*shape[:-1], self.dim - 1))
            v /= np.linalg.norm(v, axis=-1, keepdims=True)
            out = np.empty(shape)
            out[..., 0] = _BASE
            out[..., 1:] = _SCALE * v
            return out
        try:
            out = np.array(theta, dtype=np.float64)
        except (TypeError, ValueError):
            raise UserError(f"theta must be an array of numbers of shape {shape}, got {theta!r}") from None
        if out.shape != shape or not np.isfinite(out).all():
            raise UserError(
                f"theta must be finite with shape {shape} for the {self.model} model "
                f"(n_arms={n_arms}, dim={self.dim}), got shape {out.shape}"
            )
        if self.reward_noise == "bernoulli":
            spread = np.linalg.norm(out[..., 1:], axis=-1)
            if (out[..., 0] - spread).min() < 0 or (out[..., 0] + spread).max() > 1:
                raise UserError(
                    "theta gives Bernoulli means outside [0, 1] for some context: "
                    "every theta[0] ± ‖theta[1:]‖ must lie in [0, 1]"
                )
        return out

    def solve(self, n_samples: int = 100_000, seed: int = 0) -> dict[str, Any]:
        """Describe the exact optimum this env knows, with a Monte-Carlo estimate of its value.

        The optimal policy plays ``argmax_a ⟨θ_a, x_t⟩`` (disjoint) or ``argmax_a ⟨θ, x_{t,a}⟩`` (shared)
        every round; the env reports its per-round value exactly in ``info["optimal_value"]``. The
        expectation ``E[max_a μ]`` over contexts has no closed form here, so it is *estimated* from
        ``n_samples`` contexts (with its standard error), next to the uniform-random policy's value.

        Args:
            n_samples: Contexts to average over.
            seed: Seed of those contexts (independent of any episode's seed).

        Returns:
            A JSON-serialisable dict: the model, ``theta``, the optimal policy, the estimated per-round
            optimal value and the random policy's per-round value and regret.
        """
        n_samples = check_int("n_samples", n_samples, 1)
        rng = np.random.default_rng(seed)
        best, rand = [], []
        for start in range(0, n_samples, 10_000):
            n = min(10_000, n_samples - start)
            _, means = self.core.observe(rng.standard_normal((n, self.core.context_normals)))
            best.append(means.max(axis=1))
            rand.append(means.mean(axis=1))
        b, r = np.concatenate(best), np.concatenate(rand)
        policy = "argmax_a <theta_a, x>" if self.model == "disjoint" else "argmax_a <theta, x_a>"
        return {
            "env": "rl_suite/LinearContextualBandit-v0",
            "model": self.model,
            "reward_noise": self.reward_noise,
            "context": self.context,
            "dim": self.dim,
            "n_arms": self.n_arms,
            "theta": self.theta.tolist(),
            "optimal_policy": policy,
            "optimal_value_per_round": {
                "estimate": float(b.mean()),
                "std_error": float(b.std(ddof=1) / math.sqrt(b.size)) if b.size > 1 else 0.0,
                "n_samples": int(b.size),
                "method": "Monte-Carlo estimate of E[max_a mu] over contexts (each round's optimum is exact)",
            },
            "random_policy_value_per_round": float(r.mean()),
            "expected_regret_per_round_of_random_policy": float((b - r).mean()),
        }


class LinearContextualBanditVectorEnv(BanditVectorEnv):
    """R noise streams of one :class:`LinearContextualBandit` instance as one array program.

    All streams share the instance (``instance_seed`` or ``theta``, hence θ) and every argument; stream
    ``i`` is bit-identical to ``LinearContextualBandit(**kwargs)`` reset with seed ``seed + i`` and fed the
    same actions. Autoreset is Gymnasium's ``SAME_STEP``: every step is a real round.

    Args:
        num_envs: Number of streams R ≥ 1.
        **kwargs: The arguments of :class:`LinearContextualBandit`.
    """

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        self._setup(LinearContextualBandit(**kwargs), num_envs)
