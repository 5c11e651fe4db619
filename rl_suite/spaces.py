"""Validation of actions against Gymnasium spaces, with one-line errors a user can act on."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rl_suite.errors import UserError


def discrete_action(action: Any, n: int) -> int:
    """Return ``action`` as a Python int in ``[0, n)`` or raise a one-line :class:`UserError`.

    Accepts Python and numpy integers and 0-d / size-1 integer arrays (what SB3 and vector wrappers pass).
    """
    a = action
    if isinstance(a, np.ndarray):
        if a.size != 1 or a.dtype.kind not in "iu":  # signed or unsigned integers (not bool)
            raise UserError(f"action {action!r} is outside Discrete({n}): expected one integer in [0, {n})")
        a = a.reshape(()).item()
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
        raise UserError(f"action {action!r} is outside Discrete({n}): expected an integer in [0, {n})")
    a = int(a)
    if not 0 <= a < n:
        raise UserError(f"action {a} is outside Discrete({n}): expected an integer in [0, {n})")
    return a


_INT64 = np.dtype(np.int64)
#: Up to this many actions, :func:`discrete_actions` checks them as a Python list.
_FEW = 64


def discrete_actions(actions: Any, n: int, num_envs: int) -> np.ndarray:
    """Vector form of :func:`discrete_action`: an int array of shape ``(num_envs,)`` in ``[0, n)``."""
    a = actions if type(actions) is np.ndarray else np.asarray(actions)
    if a.shape != (num_envs,) or a.dtype.kind not in "iu":  # signed or unsigned integers (not bool)
        raise UserError(
            f"actions {actions!r} do not fit MultiDiscrete([{n}]*{num_envs}): expected {num_envs} integers"
        )
    if a.dtype is _INT64:  # what agents give
        if 0 < num_envs <= _FEW:  # a few: one list, cheaper than any numpy reduction on it
            values = a.tolist()
            if 0 <= min(values) and max(values) < n:
                return a
        elif not np.count_nonzero(a.view(np.uint64) >= n):  # a negative one, as uint64, is >= 2**63 > n
            return a
    bad = (a < 0) | (a >= n)
    if bad.any():
        raise UserError(f"action {int(a[bad][0])} is outside Discrete({n}): expected integers in [0, {n})")
    return a.astype(np.int64, copy=False)


#: How far a probability vector's sum may stray from 1 (float round-off of a policy computed upstream).
SIMPLEX_ATOL = 1e-6


class Simplex(gym.spaces.Box):
    """The probability simplex over ``n`` items, as a ``Box(0, 1, (n,), float64)`` whose points sum to 1.

    ``sample()`` draws uniformly from the simplex (Dirichlet(1, …, 1)), so Gymnasium's ``check_env`` and
    random rollouts play valid policies; ``contains`` also checks the sum. Batched (``batch_space``) it is a
    plain ``Box`` of shape ``(R, n)``.
    """

    def __init__(self, n: int, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(low=0.0, high=1.0, shape=(int(n),), dtype=np.float64, seed=seed)
        self.n = int(n)

    def sample(self, mask: None = None, probability: None = None) -> np.ndarray:
        """A point drawn uniformly from the simplex."""
        return self.np_random.dirichlet(np.ones(self.n))

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a length-``n`` vector of non-negative numbers summing to 1 (within 1e-6)."""
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return bool(
            arr.shape == self.shape
            and np.isfinite(arr).all()
            and (arr >= 0).all()
            and abs(arr.sum() - 1.0) <= SIMPLEX_ATOL
        )

    def __repr__(self) -> str:
        return f"Simplex({self.n})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Simplex) and other.n == self.n


class PolicyWeights(gym.spaces.Box):
    """Non-negative weights over ``n`` items that the env normalises into a policy: ``π = w / Σw``.

    Declared as ``Box(0, 1, (n,), float32)`` (normalised, float32, as SB3's checker recommends): ``sample()``
    (uniform in the box, batched too) and SB3's clipping of a Gaussian policy's actions to the bounds always
    give a valid action. The all-zero vector — which SB3's clipping yields whenever every coordinate of a
    Gaussian draw is negative, 2^-n of the draws of an untrained policy — is played as the uniform policy
    (the limit of equal weights). What the env accepts (and :meth:`contains` says) is wider than the box:
    any finite non-negative vector of length ``n`` — a probability vector, a one-hot arm, unnormalised
    scores. NaN, infinity or a negative entry is a one-line error.
    """

    def __init__(self, n: int, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(low=0.0, high=1.0, shape=(int(n),), dtype=np.float32, seed=seed)
        self.n = int(n)

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a length-``n`` vector of finite non-negative numbers."""
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return bool(arr.shape == self.shape and np.isfinite(arr).all() and (arr >= 0).all())

    def __repr__(self) -> str:
        return f"PolicyWeights({self.n})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PolicyWeights) and other.n == self.n


def _nonnegative_rows(
    actions: Any,
    n: int,
    num_envs: int | None,
    *,
    space: str,
    entry: str,
    expected: str,
    not_a: str,
    note: str = "",
) -> np.ndarray:
    """``actions`` as ``(1, n)`` or ``(num_envs, n)`` finite non-negative float64 rows, or a one-line error.

    The shared checks of :func:`weight_actions` and :func:`simplex_actions`; the wording names the space
    (``space``), what one entry is (``entry``) and what was expected.
    """
    shape = (n,) if num_envs is None else (num_envs, n)
    try:
        arr = np.asarray(actions, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"action {actions!r} is not {not_a}") from None
    if arr.shape != shape:
        raise UserError(
            f"action of shape {arr.shape} is outside {space}: expected {expected} of shape {shape}"
        )
    arr = arr.reshape(-1, n)
    if not np.isfinite(arr).all():
        raise UserError(f"action {arr.tolist()} has non-finite entries; expected {expected}")
    if (arr < 0).any():
        row, col = np.argwhere(arr < 0)[0]
        raise UserError(
            f"action has a negative {entry} {arr[row, col]:.6g} at arm {col}; expected {expected} "
            f"over {n} arms{note}"
        )
    return arr


def weight_actions(actions: Any, n: int, num_envs: int | None = None) -> np.ndarray:
    """Validate non-negative weights over ``n`` arms and return them normalised into policies (float64).

    Args:
        actions: One vector of length ``n`` (``num_envs=None``) or ``(num_envs, n)`` vectors.
        n: Number of arms.
        num_envs: Number of streams of a vector env, or ``None`` for a single env.

    Returns:
        ``(1, n)`` or ``(num_envs, n)`` rows ``w / Σw`` (a probability vector is divided by its own sum, as
        :func:`simplex_actions` does, so its result is the same bit for bit); an all-zero row is the
        uniform policy.

    Raises:
        UserError: wrong shape, or a non-finite or negative entry (the message names the value).
    """
    arr = _nonnegative_rows(
        actions,
        n,
        num_envs,
        space=f"PolicyWeights({n})",
        entry="weight",
        expected="non-negative weights",
        not_a=f"a vector of {n} non-negative weights",
        note=" (normalised into the policy)",
    )
    sums = arr.sum(axis=1)
    zero = sums == 0
    if zero.any():  # equal weights, in the limit: the uniform policy
        arr = np.where(zero[:, None], 1.0, arr)
        sums = np.where(zero, float(n), sums)
    return arr / sums[:, None]


class DirectionScores(gym.spaces.Box):
    """A star-convex action as one vector: ``n`` direction scores, then the scale.

    ``a = (s_0, …, s_{n−1}, γ)`` plays direction ``argmax_k s_k`` (the first on ties) at scale
    ``clip(γ, 0, 1)`` (a negative scale is the safe action ``γ = 0``). Declared as ``Box(-1, 1, (n + 1,))``,
    float32, the symmetric box SB3's checker recommends; any finite vector of length ``n + 1`` (of any float
    dtype: the env computes in float64) is accepted (:meth:`contains`), NaN or infinity is a one-line error.
    """

    def __init__(self, n: int, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(low=-1.0, high=1.0, shape=(int(n) + 1,), dtype=np.float32, seed=seed)
        self.n = int(n)

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a finite vector of length ``n + 1``."""
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return bool(arr.shape == self.shape and np.isfinite(arr).all())

    def __repr__(self) -> str:
        return f"DirectionScores({self.n})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DirectionScores) and other.n == self.n


def encode_scaled(directions: np.ndarray, scales: np.ndarray, n: int) -> np.ndarray:
    """``(R, n + 1)`` :class:`DirectionScores` actions: score 1 on the direction, 0 elsewhere, the scale."""
    k = np.asarray(directions, dtype=np.int64).reshape(-1)
    out = np.zeros((k.size, n + 1))
    out[np.arange(k.size), k] = 1.0
    out[:, n] = np.asarray(scales, dtype=np.float64).reshape(-1)
    return out


def scored_direction_actions(
    actions: Any, n: int, num_envs: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Decode :class:`DirectionScores` actions into ``((R,) int64 directions, (R,) float64 scales)``.

    Raises:
        UserError: wrong shape or a non-finite entry.
    """
    shape = (n + 1,) if num_envs is None else (num_envs, n + 1)
    try:
        arr = np.asarray(actions, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(
            f"action {actions!r} is outside DirectionScores({n}): expected {n} direction scores and a scale"
        ) from None
    if arr.shape != shape:
        raise UserError(
            f"action of shape {arr.shape} is outside DirectionScores({n}): expected {n} direction scores "
            f"then a scale, shape {shape} (argmax picks the direction, the scale is clipped to [0, 1])"
        )
    arr = arr.reshape(-1, n + 1)
    if not np.isfinite(arr).all():
        raise UserError(f"action {arr.tolist()} has non-finite entries; expected finite scores and scale")
    return arr[:, :n].argmax(axis=1).astype(np.int64), np.clip(arr[:, n], 0.0, 1.0)


def simplex_actions(actions: Any, n: int, num_envs: int | None = None) -> np.ndarray:
    """Validate probability vectors over ``n`` arms and return them as float64, renormalised exactly.

    Args:
        actions: One vector of length ``n`` (``num_envs=None``) or ``(num_envs, n)`` vectors.
        n: Number of arms.
        num_envs: Number of streams of a vector env, or ``None`` for a single env.

    Returns:
        ``(1, n)`` for a single vector (the R = 1 batch) or ``(num_envs, n)``: non-negative rows summing to 1.

    Raises:
        UserError: wrong shape, a non-finite or negative entry, or a row whose sum is not 1 within
            :data:`SIMPLEX_ATOL` — the message names the value.
    """
    arr = _nonnegative_rows(
        actions,
        n,
        num_envs,
        space=f"Simplex({n})",
        entry="probability",
        expected="a probability vector",
        not_a=f"a probability vector over {n} arms",
    )
    sums = arr.sum(axis=1)
    bad = np.abs(sums - 1.0) > SIMPLEX_ATOL
    if bad.any():
        raise UserError(
            f"action probabilities sum to {sums[bad][0]:.6g}, not 1 (tolerance {SIMPLEX_ATOL:g}); "
            f"expected a probability vector over {n} arms"
        )
    return arr / sums[:, None]


def scaled_direction_actions(
    actions: Any, n: int, num_envs: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(direction, scale)`` actions of a star-convex action set.

    Args:
        actions: ``(k, γ)`` with ``k`` an integer in ``[0, n)`` and ``γ`` a number (or size-1 array) in
            ``[0, 1]``; for ``num_envs=R`` a pair of ``(R,)`` integers and ``(R,)`` / ``(R, 1)`` scales.
        n: Number of directions.
        num_envs: Number of streams, or ``None`` for a single env.

    Returns:
        ``(directions, scales)`` as ``(R,)`` int64 and ``(R,)`` float64 arrays (R = 1 for a single env).

    Raises:
        UserError: not a pair, a direction outside ``[0, n)`` or a scale outside ``[0, 1]``.
    """
    what = f"Tuple(Discrete({n}), Box(0, 1, (1,)))"
    if not isinstance(actions, (tuple, list)) or len(actions) != 2:
        raise UserError(f"action {actions!r} is outside {what}: expected a pair (direction, scale)")
    k, gamma = actions
    if num_envs is None:
        k = np.array([discrete_action(k, n)])
        try:
            g = np.asarray(gamma, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise UserError(f"scale {gamma!r} is not a number in [0, 1]") from None
        if g.size != 1:
            raise UserError(f"scale {gamma!r} is outside Box(0, 1, (1,)): expected one number in [0, 1]")
    else:
        k = discrete_actions(k, n, num_envs)
        try:
            g = np.asarray(gamma, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise UserError(f"scales {gamma!r} are not numbers in [0, 1]") from None
        if g.size != num_envs:
            raise UserError(f"got {g.size} scales for {num_envs} sub-envs")
    bad = ~np.isfinite(g) | (g < 0) | (g > 1)
    if bad.any():
        raise UserError(
            f"scale {float(g[bad][0]):.6g} is outside [0, 1] (0 is the safe action, 1 the full direction)"
        )
    return k.astype(np.int64, copy=False), g
