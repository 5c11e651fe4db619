"""The linear contextual bandit: every arm's mean is linear in its features, so regret is exact."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite.envs.bandits._core import REWARD_NOISES, BanditCore, BanditEnv, BanditVectorEnv, ndtr
from rl_suite.errors import UserError
from rl_suite.validation import check_choice, check_int, check_nonnegative, check_positive

MODELS = ("disjoint", "shared")
CONTEXTS = ("sphere", "ball", "gaussian")
#: Drawn parameters are θ = [0.5, 0.4·v], ‖v‖ = 1: the constant feature's weight and the scale of the rest.
_BASE, _SCALE = 0.5, 0.4
#: Gaussian contexts are truncated at ±8σ (probability < 1e-15 per coordinate), which bounds the features.
_CLIP = 8.0
#: Feature templates (first column 1) are cached per batch size up to this many entries.
_TEMPLATE_CACHE_SIZE = 1 << 16
#: ``min_gap``: candidate contexts drawn per block when a round's first context is rejected.
_GAP_BLOCK = 64
#: ``min_gap``: a round gives up (RuntimeError) after this many rejected candidates — unreachable in
#: practice, since the constructor demands an acceptance rate of at least ``_GAP_MIN_RATE``.
_GAP_MAX_CANDIDATES = 1 << 16
#: ``min_gap``: contexts sampled by the constructor to estimate the acceptance rate, and the least rate.
_GAP_PROBE, _GAP_MIN_RATE = 10_000, 0.01
#: Seed of the constructor's acceptance-rate probe (mixed with ``instance_seed``).
_GAP_PROBE_SEED = 0x6D696E67


def deviation(linear: np.ndarray, zeta: float) -> np.ndarray:
    """The misspecification ``η(l) = ζ·(−1)^⌊l/ζ⌋`` of a linear score ``l`` (0 everywhere when ζ = 0).

    A square wave of the linear score with amplitude and half-period ζ: ``+ζ`` on ``[2jζ, (2j+1)ζ)`` and
    ``−ζ`` on ``[(2j+1)ζ, (2j+2)ζ)``. It is a function of the arm's own features (through ``l = ⟨θ, x⟩``),
    its sup norm is exactly ζ, and at every ``+ζ → −ζ`` step it reverses the order of two arms whose linear
    scores straddle the step less than ``2ζ`` apart: the arm a linear model ranks first loses by up to
    ``2ζ``. It alternates sign every ζ along the score, so a least-squares fit on the features stays close
    to θ and a linear learner keeps ranking the arms by ``l``.

    Args:
        linear: Linear scores ``⟨θ_a, x_a⟩`` (any shape).
        zeta: The misspecification level ζ ≥ 0.

    Returns:
        ``η(l)``, the same shape as ``linear``.
    """
    if zeta == 0.0:
        return np.zeros_like(linear)
    odd = np.floor(linear / zeta) % 2.0
    return zeta * (1.0 - 2.0 * odd)


def top_two_gap(means: np.ndarray) -> np.ndarray:
    """The gap between the best and the second-best mean of every row: ``(R, K) → (R,)`` (K ≥ 2)."""
    top = np.partition(means, -2, axis=-1)
    return top[..., -1] - top[..., -2]


class LinearCore(BanditCore):
    """Features ``x = [1, u]`` with ``u`` from the context distribution; means ``⟨θ_a, x_a⟩ + η``.

    ``η`` is the misspecification :func:`deviation` (0 when ``misspecification`` is 0); with ``min_gap``
    Δ > 0 a context whose best and second-best means are less than Δ apart is rejected and redrawn
    (see :meth:`observe`).
    """

    def __init__(
        self,
        theta: np.ndarray,
        model: str,
        context: str,
        n_arms: int,
        dim: int,
        reward_noise: str,
        noise_sd: float,
        misspecification: float = 0.0,
        min_gap: float = 0.0,
    ) -> None:
        self.theta, self.model, self.context = theta, model, context
        self.n_arms, self.dim = n_arms, dim
        self.reward_noise, self.noise_sd = reward_noise, noise_sd
        self.misspecification, self.min_gap = misspecification, min_gap
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
        The means are ``l + η(l)`` with ``l = ⟨θ_a, x_a⟩`` and η the misspecification :func:`deviation`.

        With ``min_gap`` Δ > 0, a row whose best mean leads the second best by less than Δ is rejected:
        a generator seeded with that row's own normals (their bytes as the entropy of a ``SeedSequence``)
        draws candidate contexts in blocks of 64, and the first candidate with gap ≥ Δ replaces the row.
        The result is a pure function of ``z``, so the single env, the vector env and the exact evaluator
        (which all call this on their normals) agree bit for bit, and every round's context is a draw from
        the context distribution conditioned on a gap ≥ Δ.

        Args:
            z: ``(R, context_normals)`` standard normals.

        Returns:
            ``(R, K, d)`` features ``x = [1, u]`` and ``(R, K)`` means ``⟨θ_a, x_a⟩ + η``.

        Raises:
            RuntimeError: A row found no context with gap ≥ Δ in 65 536 candidates (the constructor
                estimates an acceptance rate of at least 1 %; at 1 % this has probability ≈ e^-658).
        """
        x, means = self._observe(z)
        if self.min_gap > 0.0:
            for i in np.flatnonzero(top_two_gap(means) < self.min_gap):
                x[i], means[i] = self._redraw(z[i])
        return x, means

    def _redraw(self, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first candidate context with gap ≥ ``min_gap`` from a generator seeded by ``row``."""
        entropy = np.frombuffer(np.ascontiguousarray(row, dtype=np.float64).tobytes(), dtype=np.uint32)
        rng = np.random.default_rng(entropy)
        for _ in range(_GAP_MAX_CANDIDATES // _GAP_BLOCK):
            x, means = self._observe(rng.standard_normal((_GAP_BLOCK, self.context_normals)))
            ok = np.flatnonzero(top_two_gap(means) >= self.min_gap)
            if ok.size:
                return x[ok[0]], means[ok[0]]
        raise RuntimeError(
            f"no context with a gap >= min_gap={self.min_gap} in {_GAP_MAX_CANDIDATES} candidates"
        )

    def _observe(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`observe` without the ``min_gap`` rejection."""
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
            u[...] = g / norm[..., None]  # divided once per feature row, then broadcast to every arm
            if self.context == "ball":
                u *= ndtr(z[..., d - 1 :]) ** self._radius_power
        means = np.vecdot(x, self.theta)
        if self.misspecification > 0.0:
            means += deviation(means, self.misspecification)
        return x, means


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

    Three knobs leave the linear world, each off by default (the defaults are bit-identical to the env
    without them):

    * **Misspecification** ζ (``misspecification``): the mean is ``μ(x_a) = l + η(l)`` with
      ``l = ⟨θ_a, x_a⟩`` and ``η(l) = ζ·(−1)^⌊l/ζ⌋`` (see :func:`deviation`), a square wave of the linear
      score with amplitude and half-period ζ, so ``sup |μ − l| = ζ`` exactly. It is a function of the
      arm's own features, and it matters: at each ``+ζ → −ζ`` step of the wave two arms whose linear
      scores straddle the step less than ``2ζ`` apart swap places, so the arm a linear model ranks first
      loses by up to ``2ζ``. Under a minimal gap Δ (next knob) a swap can only occur when ``2ζ > Δ``:
      below ``ζ = Δ/2`` the best arm is always the linear best, above it a fraction of rounds have a
      linear best arm that is at least Δ worse than the true best.
    * **Minimal sub-optimality gap** Δ (``min_gap``): every round's best arm leads the second best by at
      least Δ (gaps of the means above, deviation included). It is enforced by rejection: a context with
      a smaller gap is replaced by the first of a stream of candidates, drawn from a generator seeded by
      the rejected context's own normals, whose gap is ≥ Δ (see :meth:`LinearCore.observe`). Contexts
      are therefore the context distribution *conditioned* on gap ≥ Δ; the constructor refuses a Δ that
      fewer than 1 % of contexts meet (estimated on 10 000 contexts).
    * **Sparsity** s (``sparsity``): every drawn θ (each θ_a) has exactly s non-zero coordinates out of
      d: the constant feature's 0.5 and ``s − 1`` context weights on a support drawn uniformly from
      ``instance_seed`` (after ``v``, so dense instances are unchanged); ``v`` is renormalised to norm 1,
      so the means still lie in ``[0.1, 0.9]``.

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
      ``θ[0] ± (‖θ[1:]‖ + misspecification)`` must lie in ``[0, 1]``.
    * ``misspecification`` (0.0): ζ ≥ 0, the sup-norm deviation of the means from linear (above); at most
      0.1 with Bernoulli rewards and drawn parameters, so that means stay in ``[0, 1]``.
    * ``sparsity`` (None): s in ``[2, dim]``, the non-zero coordinates of each drawn θ (the constant one
      included); ``None`` is dense (s = d). Not with an explicit ``theta``.
    * ``min_gap`` (0.0): Δ ≥ 0, the least gap between every round's best and second-best mean (above);
      0 imposes none.

    ## Attributes
    * ``n_arms``, ``dim``, ``model``, ``reward_noise``, ``noise_sd``, ``context``, ``horizon``,
      ``misspecification``, ``sparsity``, ``min_gap``: the knobs.
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
    Stochastic Bandits", NeurIPS 2011. Misspecification against the minimal gap: Zhang, He, Fan & Gu,
    "On the Interplay Between Misspecification and Sub-optimality Gap in Linear Contextual Bandits",
    ICML 2023, arXiv 2303.09390 (learnable when ζ ≤ Õ(Δ/√d), not efficiently when ζ ≥ Ω̃(Δ/√d)).
    Sparse misspecified bandits: Dong & Yang, "Does Sparsity Help in Learning Misspecified Linear
    Bandits?", ICML 2023, arXiv 2303.16998.

    ## Version History
    * v0: initial version; ``misspecification``, ``sparsity`` and ``min_gap`` added later with defaults
      that leave every earlier instance and trajectory unchanged.
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
        misspecification: float = 0.0,
        sparsity: int | None = None,
        min_gap: float = 0.0,
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
        self.misspecification = check_nonnegative("misspecification", misspecification)
        self.min_gap = check_nonnegative("min_gap", min_gap)
        self.sparsity = self._check_sparsity(sparsity, theta)
        self.theta = self._make_theta(theta, n_arms)
        self.theta.flags.writeable = False
        self.theta_norm_bound = float(np.linalg.norm(self.theta, axis=-1).max())
        self.noise_sd_bound = self.noise_sd if self.reward_noise == "gaussian" else 0.5
        gaussian = self.context == "gaussian"
        self.feature_norm_bound = math.sqrt(1.0 + (_CLIP**2 if gaussian else 1.0))
        bound = max(1.0, _CLIP / math.sqrt(self.dim - 1)) if gaussian else 1.0
        core = LinearCore(
            self.theta,
            self.model,
            self.context,
            n_arms,
            self.dim,
            self.reward_noise,
            self.noise_sd,
            self.misspecification,
            self.min_gap,
        )
        space = gym.spaces.Box(-bound, bound, shape=(n_arms, self.dim), dtype=np.float64)
        self._setup(core, horizon, space)
        if self.min_gap > 0.0:
            self._check_min_gap()

    def _check_sparsity(self, sparsity: Any, theta: Any) -> int | None:
        if sparsity is None:
            return None
        s = check_int("sparsity", sparsity, 2)
        if s > self.dim:
            raise UserError(f"sparsity must be an integer in [2, dim={self.dim}], got {s}")
        if theta is not None:
            raise UserError("sparsity applies to drawn parameters: give theta or sparsity, not both")
        return s

    def _check_min_gap(self) -> None:
        """Refuse a ``min_gap`` that fewer than 1 % of contexts meet (rejection would crawl)."""
        core = self.core
        assert isinstance(core, LinearCore)
        rng = np.random.default_rng([_GAP_PROBE_SEED, self.instance_seed])
        _, means = core._observe(rng.standard_normal((_GAP_PROBE, core.context_normals)))
        rate = float((top_two_gap(means) >= self.min_gap).mean())
        if rate < _GAP_MIN_RATE:
            raise UserError(
                f"min_gap={self.min_gap} is too large for this instance: only {100 * rate:.2f}% of "
                f"contexts have a best-vs-second gap >= min_gap (at least {100 * _GAP_MIN_RATE:.0f}% "
                "must): lower min_gap or n_arms"
            )

    def _make_theta(self, theta: Any, n_arms: int) -> np.ndarray:
        shape = (n_arms, self.dim) if self.model == "disjoint" else (self.dim,)
        zeta = self.misspecification
        if theta is None:
            if self.reward_noise == "bernoulli" and zeta > _BASE - _SCALE:
                raise UserError(
                    f"misspecification must be <= {_BASE - _SCALE:.1f} with Bernoulli rewards (drawn means "
                    f"lie in [{_BASE - _SCALE:.1f}, {_BASE + _SCALE:.1f}] and must stay in [0, 1] after "
                    f"the deviation), got {zeta}: lower it or use reward_noise='gaussian'"
                )
            rng = np.random.default_rng(self.instance_seed)
            v = rng.standard_normal((*shape[:-1], self.dim - 1))
            if self.sparsity is not None and self.sparsity < self.dim:
                # Drawn after v, so that sparsity=None keeps every existing instance bit for bit.
                rows = v.reshape(-1, self.dim - 1)
                for row in rows:
                    off = rng.permutation(self.dim - 1)[self.sparsity - 1 :]
                    row[off] = 0.0
                v = rows.reshape(v.shape)
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
            spread = np.linalg.norm(out[..., 1:], axis=-1) + zeta
            if (out[..., 0] - spread).min() < 0 or (out[..., 0] + spread).max() > 1:
                raise UserError(
                    "theta gives Bernoulli means outside [0, 1] for some context: "
                    "every theta[0] ± (‖theta[1:]‖ + misspecification) must lie in [0, 1]"
                )
        return out

    def solve(self, n_samples: int = 100_000, seed: int = 0) -> dict[str, Any]:
        """Describe the exact optimum this env knows, with a Monte-Carlo estimate of its value.

        The optimal policy plays ``argmax_a ⟨θ_a, x_t⟩`` (disjoint) or ``argmax_a ⟨θ, x_{t,a}⟩`` (shared)
        every round (argmax of the means with the misspecification deviation when ζ > 0); the env
        reports its per-round value exactly in ``info["optimal_value"]``. The expectation ``E[max_a μ]``
        over contexts has no closed form here, so it is *estimated* from ``n_samples`` contexts (with its
        standard error), next to the uniform-random policy's value.

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
            "misspecification": self.misspecification,
            "sparsity": self.sparsity,
            "min_gap": self.min_gap,
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
