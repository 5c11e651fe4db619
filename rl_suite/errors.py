"""The one exception type a user can cause.

Anything a user can get wrong — an unknown env id or agent, a bad config key or value, a missing run folder,
an agent/env pairing that does not fit, an action outside the space — raises :class:`UserError` with one
line that names what was wrong and what is allowed. The CLI prints that line and exits with status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(ValueError):
    """A mistake in what the user asked for; the message is one line naming the fix."""


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` entries of ``choices`` that look like ``name`` (case-insensitive)."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    # A bare name ("LinearContextualBandit") should find its versioned, namespaced id.
    bare = name.lower().split("/")[-1].split("-v")[0]
    hits += [c.lower() for c in choices if bare and bare in c.lower() and c.lower() not in hits]
    return [lowered[h] for h in hits[:n]]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Format a ``did you mean ...?`` suffix, or an empty string when nothing is close."""
    hits = closest(name, choices)
    return f"; did you mean {', '.join(repr(h) for h in hits)}?" if hits else ""
