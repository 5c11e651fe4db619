"""Ray Tune glue of the ``ray`` sweep backend that Tune must be able to pickle: trial names and progress.

Tune pickles its callbacks and the name creators with the experiment state, so they live at module level
here (pickled by reference) and hold a key into :data:`PROGRESS`, never the progress bar itself (a Rich
progress bar holds a lock, which cannot be pickled). Importing this module imports Ray Tune.
"""

from __future__ import annotations

import itertools
from typing import Any

from ray import tune

from rl_suite.tracking import Progress

#: Progress objects of the Ray sweeps running in this process, by key.
PROGRESS: dict[int, Progress] = {}
_KEYS = itertools.count()


def register(progress: Progress | None) -> int:
    """Keep ``progress`` for the callbacks of one sweep; returns its key."""
    key = next(_KEYS)
    if progress is not None:
        PROGRESS[key] = progress
    return key


def unregister(key: int) -> None:
    """Forget a sweep's progress object."""
    PROGRESS.pop(key, None)


def trial_name(trial: Any) -> str:
    """``cell-00003``: the trial of the sweep's fourth cell (Tune's trial and folder name)."""
    return f"cell-{int(trial.config['cell']):05d}"


class AdvanceProgress(tune.Callback):
    """Advances the sweep's progress by the runs of each trial (cell) that reports."""

    def __init__(self, key: int) -> None:
        self.key = key

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        """Advance by the number of runs the trial reported."""
        progress = PROGRESS.get(self.key)
        if progress is not None:
            progress.advance(int(result.get("runs", 0)))
