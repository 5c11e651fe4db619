"""Prompt → response tasks with a known gold reward: verifier tasks and a hidden linear n-gram reward.

A task is the batched generation API of the RLHF sandbox. Prompts are ``P`` tokens and responses exactly
``L`` tokens over a vocabulary of ``V`` ids ``0..V-1`` (no special tokens), so a task with ``V**L`` at most
:data:`MAX_ENUMERABLE` can list every response and the KL-regularised optimum is computed exactly by
enumeration (:mod:`rl_suite.exact.kl`). Preferences follow the Bradley–Terry model
``P(y1 ≻ y2 | x) = σ((r(x, y1) − r(x, y2)) / temperature)`` on the gold reward.

Tasks (``make_task(name, **kw)``):

| name | target y*(x) / gold reward |
|---|---|
| ``target_string`` | ``y*_i = (s_i + x_{i mod P}) mod V`` with a hidden seeded string ``s`` |
| ``digit_sum`` | the sum of the prompt's digits in base ``V``, ``L`` digits, most significant first |
| ``sort`` | the prompt sorted ascending (``L = P``) |
| ``reverse`` | the prompt reversed (``L = P``) |
| ``linear_ngram`` | no target: ``r(x, y) = (1/L)·Σ_t θ[y_{t−n+1..t−1}, y_t]`` (contexts reach into x) |

Verifier tasks score ``scoring="fraction"`` (the fraction of the ``L`` positions equal to ``y*(x)``, the
default) or ``scoring="exact"`` (1 for an exact match, else 0); their best reward is 1. The linear n-gram
task (a hidden "gold" reward in the sense of Gao, Schulman & Hilton 2023's proxy-vs-gold studies) has its
maximum over all ``V**L`` responses found exactly by dynamic programming over the last ``n−1`` tokens, so
its best response is known even when the responses cannot be enumerated.

References:
    Gao et al., "REBEL: Reinforcement Learning via Regressing Relative Rewards", NeurIPS 2024;
    Brantley et al., "Accelerating RL for LLM Reasoning with Optimal Advantage Regression" (A*-PO), 2025;
    Bradley & Terry, "Rank Analysis of Incomplete Block Designs", Biometrika 1952.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit

from rl_suite.errors import UserError

#: The largest ``V**L`` for which responses are enumerated (exact optimum, exact regret, tabular policy).
MAX_ENUMERABLE = 2**16
#: Verifier scorings.
SCORINGS = ("fraction", "exact")


def _as_int_matrix(name: str, value: Any, width: int, width_name: str, vocab_size: int) -> np.ndarray:
    """``value`` as an ``(B, width)`` int64 array of tokens in ``[0, vocab_size)``, or a one-line error."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be an integer array of tokens, got {value!r}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise UserError(f"{name} must be integer tokens of shape (B, {width}), got shape {arr.shape}")
    if arr.shape[1] != width:
        raise UserError(
            f"{name} have length {arr.shape[1]} but {width_name} is {width}: every one must be exactly "
            f"{width} tokens"
        )
    bad = (arr < 0) | (arr >= vocab_size)
    if bad.any():
        raise UserError(
            f"{name} hold token {int(arr[bad][0])}, outside the vocabulary: "
            f"tokens must be in [0, {vocab_size})"
        )
    return arr.astype(np.int64, copy=False)


def enumerate_sequences(vocab_size: int, length: int) -> np.ndarray:
    """All ``vocab_size**length`` token sequences in lexicographic order (row ``k`` is ``k`` in base V).

    Args:
        vocab_size: V.
        length: L.

    Returns:
        ``(V**L, L)`` int64.
    """
    codes = np.arange(vocab_size**length, dtype=np.int64)
    powers = vocab_size ** np.arange(length - 1, -1, -1, dtype=np.int64)
    return (codes[:, None] // powers[None, :]) % vocab_size


@dataclass(frozen=True, eq=False, kw_only=True)
class RLHFTask(ABC):
    """A prompt pool and a gold reward over fixed-length responses (subclasses define the reward).

    Attributes:
        vocab_size: V, token ids ``0..V-1``.
        prompt_length: P.
        response_length: L.
        prompts: ``(n_prompts, P)`` int64, the prompt pool (read-only, distinct rows).
        temperature: Bradley–Terry temperature of :meth:`prefer` (> 0).
    """

    vocab_size: int
    prompt_length: int
    response_length: int
    prompts: np.ndarray
    temperature: float = 1.0
    #: Short name used by :func:`make_task`.
    name: ClassVar[str] = ""
    # The pool's lookup (set in __post_init__): its sorted prompt keys and their rows.
    _sorted_keys: np.ndarray = field(init=False, repr=False, compare=False)
    _key_order: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for knob, low in (("vocab_size", 2), ("prompt_length", 1), ("response_length", 1)):
            value = getattr(self, knob)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise UserError(f"{knob} must be an integer >= {low}, got {value!r}")
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise UserError(f"temperature must be a finite number > 0, got {self.temperature}")
        prompts = _as_int_matrix(
            "prompts", self.prompts, self.prompt_length, "prompt_length", self.vocab_size
        )
        if len(np.unique(prompts, axis=0)) != len(prompts):
            raise UserError("prompts must be distinct rows")
        prompts = prompts.copy()
        prompts.flags.writeable = False
        object.__setattr__(self, "prompts", prompts)
        keys = self._keys(prompts)
        order = np.argsort(keys)
        object.__setattr__(self, "_sorted_keys", keys[order])
        object.__setattr__(self, "_key_order", order)

    # ------------------------------------------------------------------------------------------ sizes

    @property
    def n_prompts(self) -> int:
        """Number of prompts in the pool."""
        return int(self.prompts.shape[0])

    @property
    def n_responses(self) -> int:
        """``V**L``, the number of possible responses (a Python int, never overflowing)."""
        return int(self.vocab_size) ** int(self.response_length)

    @property
    def enumerable(self) -> bool:
        """Whether ``V**L <= MAX_ENUMERABLE``: responses can be listed and the optimum computed exactly."""
        return self.n_responses <= MAX_ENUMERABLE

    def all_responses(self) -> np.ndarray:
        """Every response, ``(V**L, L)`` int64 in lexicographic order.

        Raises:
            UserError: ``V**L`` is above :data:`MAX_ENUMERABLE` (the message names both numbers).
        """
        if not self.enumerable:
            raise UserError(
                f"vocab_size**response_length = {self.vocab_size}**{self.response_length} = "
                f"{self.n_responses} responses is above the enumerable limit {MAX_ENUMERABLE}: exact optima "
                f"need V**L <= {MAX_ENUMERABLE} (use a smaller vocab_size or response_length)"
            )
        return enumerate_sequences(self.vocab_size, self.response_length)

    # --------------------------------------------------------------------------------- validation

    def check_prompts(self, prompts: Any) -> np.ndarray:
        """``prompts`` as ``(B, P)`` int64 (a single prompt becomes ``B = 1``), or a one-line error."""
        return _as_int_matrix("prompts", prompts, self.prompt_length, "prompt_length", self.vocab_size)

    def check_responses(self, responses: Any) -> np.ndarray:
        """``responses`` as ``(B, L)`` int64 (a single response becomes ``B = 1``), or a one-line error."""
        return _as_int_matrix(
            "responses", responses, self.response_length, "response_length", self.vocab_size
        )

    def _pair(self, prompts: Any, responses: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.check_prompts(prompts), self.check_responses(responses)
        if len(x) == 1 and len(y) > 1:
            x = np.broadcast_to(x, (len(y), self.prompt_length))
        if len(x) != len(y):
            raise UserError(f"{len(x)} prompts but {len(y)} responses: give one prompt per response")
        return x, y

    def _keys(self, prompts: np.ndarray) -> np.ndarray:
        """One float key per prompt row: the row in base V while ``V**P < 2**53``, else a 48-bit digest."""
        if self.vocab_size**self.prompt_length < 2**53:
            powers = float(self.vocab_size) ** np.arange(self.prompt_length - 1, -1, -1)
            return prompts.astype(np.float64) @ powers
        digests = (hashlib.blake2b(row.tobytes(), digest_size=6).digest() for row in prompts)
        return np.array([int.from_bytes(d, "big") for d in digests], dtype=np.float64)

    def prompt_index(self, prompts: Any) -> np.ndarray:
        """Row indices of ``prompts`` in the pool.

        Raises:
            UserError: A prompt is not in the pool.
        """
        x = self.check_prompts(prompts)
        keys = self._keys(x)
        pos = np.clip(np.searchsorted(self._sorted_keys, keys), 0, self.n_prompts - 1)
        idx = self._key_order[pos]
        missing = ~(self.prompts[idx] == x).all(axis=1)
        if missing.any():
            raise UserError(f"prompt {x[missing][0].tolist()} is not in the task's pool of {self.n_prompts}")
        return idx

    # ----------------------------------------------------------------------------------------- rewards

    def reward(self, prompts: Any, responses: Any) -> np.ndarray:
        """Gold reward of each (prompt, response) pair.

        Args:
            prompts: ``(B, P)`` tokens (or one prompt, broadcast over the responses).
            responses: ``(B, L)`` tokens.

        Returns:
            ``(B,)`` float64.

        Raises:
            UserError: Wrong lengths, tokens outside ``[0, V)`` or mismatched batch sizes.
        """
        x, y = self._pair(prompts, responses)
        return np.asarray(self._reward(x, y), dtype=np.float64)

    def preference_probability(self, prompts: Any, y1: Any, y2: Any) -> np.ndarray:
        """Bradley–Terry ``P(y1 ≻ y2 | x) = σ((r(x, y1) − r(x, y2)) / temperature)``, ``(B,)`` float64."""
        return expit((self.reward(prompts, y1) - self.reward(prompts, y2)) / self.temperature)

    def prefer(self, prompts: Any, y1: Any, y2: Any, rng: np.random.Generator) -> np.ndarray:
        """Sample Bradley–Terry preferences: ``True`` where ``y1`` is preferred to ``y2``.

        Args:
            prompts: ``(B, P)`` tokens.
            y1: ``(B, L)`` first responses.
            y2: ``(B, L)`` second responses.
            rng: The random generator (one uniform per pair).

        Returns:
            ``(B,)`` bool.
        """
        p = self.preference_probability(prompts, y1, y2)
        return rng.random(p.shape[0]) < p

    def best_response(self, prompts: Any) -> np.ndarray:
        """A response of maximal gold reward for each prompt, ``(B, L)`` int64."""
        return self._best(self.check_prompts(prompts))

    def max_reward(self, prompts: Any) -> np.ndarray:
        """``max_y r(x, y)`` for each prompt, ``(B,)`` float64 (exact for every task, enumerable or not)."""
        x = self.check_prompts(prompts)
        return self.reward(x, self._best(x))

    def describe(self) -> dict[str, Any]:
        """The task's knobs as a JSON-serialisable dict."""
        return {
            "task": self.name,
            "vocab_size": self.vocab_size,
            "prompt_length": self.prompt_length,
            "response_length": self.response_length,
            "n_prompts": self.n_prompts,
            "n_responses": self.n_responses,
            "enumerable": self.enumerable,
            "temperature": self.temperature,
        }

    # ------------------------------------------------------------------------------ subclass hooks

    @abstractmethod
    def _reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        """Gold rewards ``(B,)`` of checked ``prompts`` and ``responses``."""

    @abstractmethod
    def _best(self, prompts: np.ndarray) -> np.ndarray:
        """A highest-reward response ``(B, L)`` of each checked prompt."""


@dataclass(frozen=True, eq=False, kw_only=True)
class VerifierTask(RLHFTask):
    """A task with one correct response ``y*(x)`` per prompt, scored by a verifier.

    Attributes:
        scoring: ``"fraction"`` (fraction of positions equal to ``y*(x)``) or ``"exact"`` (exact match).
    """

    scoring: str = "fraction"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scoring not in SCORINGS:
            raise UserError(f"scoring must be one of {', '.join(map(repr, SCORINGS))}, got {self.scoring!r}")

    def target(self, prompts: Any) -> np.ndarray:
        """The correct response ``y*(x)`` of each prompt, ``(B, L)`` int64."""
        return self._target(self.check_prompts(prompts))

    @abstractmethod
    def _target(self, prompts: np.ndarray) -> np.ndarray:
        """The correct response ``(B, L)`` of each checked prompt."""

    def _reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        right = responses == self._target(prompts)
        return right.all(axis=1).astype(np.float64) if self.scoring == "exact" else right.mean(axis=1)

    def _best(self, prompts: np.ndarray) -> np.ndarray:
        return self._target(prompts)

    def describe(self) -> dict[str, Any]:
        """The task's knobs as a JSON-serialisable dict."""
        return {**super().describe(), "scoring": self.scoring}


@dataclass(frozen=True, eq=False, kw_only=True)
class TargetStringTask(VerifierTask):
    """Reach a prompt-dependent target: ``y*_i = (s_i + x_{i mod P}) mod V`` for a hidden string ``s``."""

    secret: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    name: ClassVar[str] = "target_string"

    def __post_init__(self) -> None:
        super().__post_init__()
        secret = _as_int_matrix(
            "secret", self.secret, self.response_length, "response_length", self.vocab_size
        )
        object.__setattr__(self, "secret", secret[0])

    def _target(self, prompts: np.ndarray) -> np.ndarray:
        cols = np.arange(self.response_length) % self.prompt_length
        return (self.secret[None, :] + prompts[:, cols]) % self.vocab_size


@dataclass(frozen=True, eq=False, kw_only=True)
class DigitSumTask(VerifierTask):
    """Write the sum of the prompt's base-``V`` digits as ``L`` base-``V`` digits, most significant first."""

    name: ClassVar[str] = "digit_sum"

    def __post_init__(self) -> None:
        super().__post_init__()
        largest = self.prompt_length * (self.vocab_size - 1)
        if largest >= self.n_responses:
            raise UserError(
                f"digit_sum: the largest sum {largest} does not fit in response_length="
                f"{self.response_length} base-{self.vocab_size} digits "
                "(need vocab_size**response_length > prompt_length*(vocab_size-1))"
            )

    def _target(self, prompts: np.ndarray) -> np.ndarray:
        total = prompts.sum(axis=1)
        powers = self.vocab_size ** np.arange(self.response_length - 1, -1, -1, dtype=np.int64)
        return (total[:, None] // powers[None, :]) % self.vocab_size


@dataclass(frozen=True, eq=False, kw_only=True)
class SortTask(VerifierTask):
    """Output the prompt's tokens sorted ascending (``L = P``)."""

    name: ClassVar[str] = "sort"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.response_length != self.prompt_length:
            raise UserError(
                f"{self.name} needs response_length == prompt_length, got {self.response_length} and "
                f"{self.prompt_length}"
            )

    def _target(self, prompts: np.ndarray) -> np.ndarray:
        return np.sort(prompts, axis=1)


@dataclass(frozen=True, eq=False, kw_only=True)
class ReverseTask(SortTask):
    """Output the prompt's tokens in reverse order (``L = P``)."""

    name: ClassVar[str] = "reverse"

    def _target(self, prompts: np.ndarray) -> np.ndarray:
        return prompts[:, ::-1].copy()


@dataclass(frozen=True, eq=False, kw_only=True)
class LinearNgramTask(RLHFTask):
    """A hidden linear n-gram gold reward: ``r(x, y) = (1/L)·Σ_t θ[c_t, y_t]``.

    ``c_t`` are the ``n−1`` tokens before ``y_t`` in the sequence ``x‖y`` (the first ones reach into the
    prompt), so ``r`` is linear in the counts of the n-grams ending in the response.

    Attributes:
        n: The n-gram order (``2 <= n <= P + 1``).
        weights: θ, shape ``(V,)*n`` float64 (read-only).
    """

    n: int = 2
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    name: ClassVar[str] = "linear_ngram"

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or not 2 <= self.n:
            raise UserError(f"n must be an integer >= 2, got {self.n!r}")
        if self.n > self.prompt_length + 1:
            raise UserError(f"n={self.n} needs prompt_length >= n-1 = {self.n - 1}, got {self.prompt_length}")
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.shape != (self.vocab_size,) * self.n or not np.isfinite(weights).all():
            raise UserError(
                f"weights must be finite with shape {(self.vocab_size,) * self.n}, got {weights.shape}"
            )
        weights = weights.copy()
        weights.flags.writeable = False
        object.__setattr__(self, "weights", weights)

    def _reward(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        seq = np.concatenate([prompts[:, self.prompt_length - (self.n - 1) :], responses], axis=1)
        total = np.zeros(len(seq))
        for t in range(self.response_length):
            total += self.weights[tuple(seq[:, t + j] for j in range(self.n))]
        return total / self.response_length

    def _best(self, prompts: np.ndarray) -> np.ndarray:
        """Exact argmax by dynamic programming (Viterbi) over the last ``n−1`` tokens."""
        V, L, k = self.vocab_size, self.response_length, self.n - 1
        W = self.weights.reshape(V**k, V)  # state = the k-token context (base V), next token
        powers = V ** np.arange(k - 1, -1, -1, dtype=np.int64)
        start = prompts[:, self.prompt_length - k :] @ powers  # (B,)
        # value[t][s] = best sum of the remaining L-t weights from state s (same for every prompt).
        value = np.zeros((L + 1, V**k))
        choice = np.zeros((L, V**k), dtype=np.int64)
        nxt = (np.arange(V**k)[:, None] * V + np.arange(V)[None, :]) % (V**k)  # next state
        for t in range(L - 1, -1, -1):
            q = W + value[t + 1][nxt]
            choice[t] = q.argmax(axis=1)
            value[t] = q.max(axis=1)
        out = np.empty((len(prompts), L), dtype=np.int64)
        state = start
        for t in range(L):
            out[:, t] = choice[t][state]
            state = nxt[state, out[:, t]]
        return out

    def describe(self) -> dict[str, Any]:
        """The task's knobs as a JSON-serialisable dict."""
        return {**super().describe(), "n": self.n}


TASKS: dict[str, type[RLHFTask]] = {
    cls.name: cls for cls in (TargetStringTask, DigitSumTask, SortTask, ReverseTask, LinearNgramTask)
}

#: Default sizes per task: (vocab_size, prompt_length, response_length, n_prompts).
DEFAULT_SIZES: dict[str, tuple[int, int, int, int]] = {
    "target_string": (4, 2, 4, 16),
    "digit_sum": (10, 3, 2, 64),
    "sort": (4, 4, 4, 64),
    "reverse": (4, 4, 4, 64),
    "linear_ngram": (4, 2, 4, 16),
}


def sample_prompts(
    vocab_size: int, prompt_length: int, n_prompts: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``n_prompts`` distinct prompts uniformly (all of them, in order, when ``n_prompts == V**P``).

    Raises:
        UserError: ``n_prompts`` exceeds ``V**P``.
    """
    total = vocab_size**prompt_length
    if n_prompts > total:
        raise UserError(
            f"n_prompts={n_prompts} is more than the {total} distinct prompts of length {prompt_length} "
            f"over {vocab_size} tokens"
        )
    if n_prompts == total:
        return enumerate_sequences(vocab_size, prompt_length)
    seen: dict[bytes, np.ndarray] = {}
    while len(seen) < n_prompts:
        for row in rng.integers(0, vocab_size, size=(2 * n_prompts, prompt_length)):
            seen.setdefault(row.tobytes(), row)
            if len(seen) == n_prompts:
                break
    return np.stack(list(seen.values())).astype(np.int64)


def make_task(
    name: str,
    *,
    vocab_size: int | None = None,
    prompt_length: int | None = None,
    response_length: int | None = None,
    n_prompts: int | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    scoring: str = "fraction",
    n: int = 2,
) -> RLHFTask:
    """Build a task by name; sizes left at ``None`` take the task's defaults (:data:`DEFAULT_SIZES`).

    Args:
        name: One of :data:`TASKS`.
        vocab_size: V.
        prompt_length: P.
        response_length: L (``sort``/``reverse`` default to ``P``).
        n_prompts: Size of the prompt pool (distinct prompts drawn with ``seed``).
        seed: Seed of the prompt pool and of the hidden parts (target string ``s``, n-gram weights θ).
        temperature: Bradley–Terry temperature of the preference oracle.
        scoring: Verifier scoring, ``"fraction"`` or ``"exact"`` (ignored by ``linear_ngram``).
        n: n-gram order of ``linear_ngram`` (ignored by the verifier tasks).

    Returns:
        The task.

    Raises:
        UserError: Unknown name or invalid sizes.
    """
    if name not in TASKS:
        raise UserError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    dv, dp, dl, dn = DEFAULT_SIZES[name]
    V = dv if vocab_size is None else vocab_size
    P = dp if prompt_length is None else prompt_length
    L = (P if name in ("sort", "reverse") else dl) if response_length is None else response_length
    N = dn if n_prompts is None else n_prompts
    for knob, value, low in (("vocab_size", V, 2), ("prompt_length", P, 1), ("response_length", L, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise UserError(f"{knob} must be an integer >= {low}, got {value!r}")
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
        raise UserError(f"n_prompts must be an integer >= 1, got {N!r}")
    if N == dn and n_prompts is None:
        N = min(N, V**P)
    rng = np.random.default_rng(seed)
    prompts = sample_prompts(V, P, int(N), rng)
    common: dict[str, Any] = {
        "vocab_size": int(V),
        "prompt_length": int(P),
        "response_length": int(L),
        "prompts": prompts,
        "temperature": temperature,
    }
    if name == "linear_ngram":
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise UserError(f"n must be an integer >= 2, got {n!r}")
        if V**n > 2**22:
            raise UserError(f"linear_ngram: vocab_size**n = {V**n} weights is too many (at most {2**22})")
        return LinearNgramTask(**common, n=int(n), weights=rng.standard_normal((V,) * n))
    if name == "target_string":
        return TargetStringTask(**common, scoring=scoring, secret=rng.integers(0, V, size=L))
    task_class = TASKS[name]
    assert issubclass(task_class, VerifierTask)  # the names left are the verifier tasks
    return task_class(**common, scoring=scoring)


def reward_matrix(task: RLHFTask) -> np.ndarray:
    """Gold rewards of every (pool prompt, response) pair, ``(n_prompts, V**L)`` float64.

    The reward table of the exact KL-regularised optimum (:mod:`rl_suite.exact.kl`).

    Raises:
        UserError: The task is not enumerable (the message names the limit).
    """
    responses = task.all_responses()
    out = np.empty((task.n_prompts, len(responses)))
    for i, prompt in enumerate(task.prompts):
        out[i] = task.reward(prompt, responses)
    return out
