"""Validators of user-given knobs: one-line :class:`~rl_suite.errors.UserError` messages naming the knob.

Every env checks its constructor arguments with these (and agents may), so a bad value fails at once with
a message that says which knob, what was given and what is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rl_suite.errors import UserError

__all__ = ["check_choice", "check_int", "check_nonnegative", "check_positive", "check_probability"]


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Validate a string knob against its allowed values.

    Args:
        name: The knob's name, as the user spells it.
        value: The value given.
        choices: The allowed values.

    Returns:
        The value, as a ``str``.

    Raises:
        UserError: ``value`` is not one of ``choices``.
    """
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise UserError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_int(name: str, value: Any, low: int) -> int:
    """Validate an integer knob ``>= low``.

    Args:
        name: The knob's name, as the user spells it.
        value: The value given (a Python or numpy integer; ``bool`` is refused).
        low: The smallest allowed value.

    Returns:
        The value, as a Python ``int``.

    Raises:
        UserError: ``value`` is not an integer or is below ``low``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise UserError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise UserError(f"{name} must be >= {low}, got {value}")
    return int(value)


def _finite_number(name: str, value: Any, strict: bool) -> float:
    """A finite float ``> 0`` (``strict``) or ``>= 0``, else a one-line :class:`UserError` naming it."""
    bound = "> 0" if strict else ">= 0"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UserError(f"{name} must be a number {bound}, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and (value > 0 if strict else value >= 0)):
        raise UserError(f"{name} must be a finite number {bound}, got {value}")
    return value


def check_positive(name: str, value: Any) -> float:
    """Validate a finite, strictly positive float knob.

    Args:
        name: The knob's name, as the user spells it.
        value: The value given.

    Returns:
        The value, as a Python ``float``.

    Raises:
        UserError: ``value`` is not a number, not finite, or not ``> 0``.
    """
    return _finite_number(name, value, strict=True)


def check_nonnegative(name: str, value: Any) -> float:
    """Validate a finite float knob ``>= 0``.

    Args:
        name: The knob's name, as the user spells it.
        value: The value given.

    Returns:
        The value, as a Python ``float``.

    Raises:
        UserError: ``value`` is not a finite number ``>= 0``.
    """
    return _finite_number(name, value, strict=False)


def check_probability(name: str, value: Any, upper_open: bool = False) -> float:
    """Validate a probability knob in ``[0, 1]`` (or ``[0, 1)`` with ``upper_open``).

    Args:
        name: The knob's name, as the user spells it.
        value: The value given.
        upper_open: Whether 1 is excluded.

    Returns:
        The value, as a Python ``float``.

    Raises:
        UserError: ``value`` is not a number in the allowed interval.
    """
    interval = "[0, 1)" if upper_open else "[0, 1]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UserError(f"{name} must be a number in {interval}, got {value!r}")
    value = float(value)
    if not (0.0 <= value <= 1.0) or (upper_open and value == 1.0):
        raise UserError(f"{name} must be in {interval}, got {value}")
    return value
