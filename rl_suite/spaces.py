"""Validation of actions against Gymnasium spaces, with one-line errors a user can act on."""

from __future__ import annotations

from typing import Any

import numpy as np

from rl_suite.errors import UserError


def discrete_action(action: Any, n: int) -> int:
    """Return ``action`` as a Python int in ``[0, n)`` or raise a one-line :class:`UserError`.

    Accepts Python and numpy integers and 0-d / size-1 integer arrays (what SB3 and vector wrappers pass).
    """
    a = action
    if isinstance(a, np.ndarray):
        if a.size != 1 or not np.issubdtype(a.dtype, np.integer):
            raise UserError(f"action {action!r} is outside Discrete({n}): expected one integer in [0, {n})")
        a = a.reshape(()).item()
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
        raise UserError(f"action {action!r} is outside Discrete({n}): expected an integer in [0, {n})")
    a = int(a)
    if not 0 <= a < n:
        raise UserError(f"action {a} is outside Discrete({n}): expected an integer in [0, {n})")
    return a


def discrete_actions(actions: Any, n: int, num_envs: int) -> np.ndarray:
    """Vector form of :func:`discrete_action`: an int array of shape ``(num_envs,)`` in ``[0, n)``."""
    a = np.asarray(actions)
    if a.shape != (num_envs,) or not np.issubdtype(a.dtype, np.integer):
        raise UserError(
            f"actions {actions!r} do not fit MultiDiscrete([{n}]*{num_envs}): expected {num_envs} integers"
        )
    bad = (a < 0) | (a >= n)
    if bad.any():
        raise UserError(f"action {int(a[bad][0])} is outside Discrete({n}): expected integers in [0, {n})")
    return a.astype(np.int64, copy=False)
