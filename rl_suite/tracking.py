"""Experiment tracking (Weights & Biases, opt-in) and progress display.

``wandb`` is imported only inside :class:`WandbTracker`, i.e. only when a run has ``track: true``; the
local run store is always written, so nothing depends on an account or a network. The wandb mode is
never hard-coded: ``None`` lets ``WANDB_MODE`` (``online``/``offline``/``disabled``) decide.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from rl_suite.errors import UserError


class Tracker(Protocol):
    """Where a run's figures go besides the run store."""

    def log(self, metrics: dict[str, float]) -> None:
        """Log scalars; ``metrics["t"]`` (environment steps) is the x-axis."""

    def log_image(self, key: str, path: Path) -> None:
        """Log an image file (the final regret plot)."""

    def finish(self, summary: dict[str, Any], exit_code: int = 0) -> None:
        """Write the final summary and close."""


class NullTracker:
    """Tracking off: does nothing."""

    def log(self, metrics: dict[str, float]) -> None:
        """Do nothing."""

    def log_image(self, key: str, path: Path) -> None:
        """Do nothing."""

    def finish(self, summary: dict[str, Any], exit_code: int = 0) -> None:
        """Do nothing."""


class WandbTracker:
    """Logs a run to Weights & Biases: config, per-step metrics against ``t``, summary, regret plot.

    Args:
        run_dir: the run folder; wandb writes its files under ``run_dir/wandb``.
        name: the run's name (the run folder's name).
        config: the resolved run config, stored as the wandb run config.
        project: wandb project.
        entity: wandb entity, or ``None`` for the default.
        group: wandb group, e.g. ``<env>/<agent>`` so seeds aggregate in the UI.
        mode: ``None`` to let ``WANDB_MODE`` decide, else ``online``/``offline``/``disabled``.
    """

    def __init__(
        self,
        run_dir: Path,
        name: str,
        config: dict[str, Any],
        project: str,
        entity: str | None,
        group: str | None,
        mode: Literal["online", "offline", "disabled", "shared"] | None = None,
    ) -> None:
        try:
            import wandb
        except ImportError:
            raise UserError(
                "tracking needs wandb: pip install 'rl_suite[wandb]' (or run without --track)"
            ) from None
        self._wandb = wandb
        self.run = wandb.init(
            project=project,
            entity=entity,
            group=group,
            name=name,
            job_type="train",
            config=config,
            dir=str(run_dir),
            mode=mode,
            reinit="finish_previous",
        )
        self.run.define_metric("t")
        self.run.define_metric("*", step_metric="t")
        self.run.define_metric("regret/cumulative", step_metric="t", summary="last")

    def log(self, metrics: dict[str, float]) -> None:
        """Log scalars against ``t``."""
        self.run.log(metrics)

    def log_image(self, key: str, path: Path) -> None:
        """Log the image at ``path`` under ``key``."""
        self.run.log({key: self._wandb.Image(str(path))})

    def log_table(self, key: str, rows: list[dict[str, Any]]) -> None:
        """Log a list of same-keyed dicts as a wandb table."""
        if not rows:
            return
        columns = list(rows[0])
        data = [[row.get(c) for c in columns] for row in rows]
        self.run.log({key: self._wandb.Table(columns=list[str | int](columns), data=data)})

    def finish(self, summary: dict[str, Any], exit_code: int = 0) -> None:
        """Copy the final figures into the wandb summary and finish the run."""
        for key, value in summary.items():
            if isinstance(value, (int, float, str, bool)) or value is None:
                self.run.summary[key] = value
        self.run.finish(exit_code=exit_code)


def make_tracker(
    enabled: bool, run_dir: Path, name: str, config: dict[str, Any], wandb_settings: dict[str, Any]
) -> Tracker:
    """A :class:`WandbTracker` when ``enabled``, else a :class:`NullTracker`."""
    if not enabled:
        return NullTracker()
    env_id, agent = config["env"]["id"], config["agent"]["name"]
    return WandbTracker(
        run_dir=run_dir,
        name=name,
        config=config,
        project=wandb_settings.get("project") or "rl_suite",
        entity=wandb_settings.get("entity"),
        group=wandb_settings.get("group") or f"{env_id.split('/')[-1]}/{agent}",
        mode=wandb_settings.get("mode"),
    )


# --------------------------------------------------------------------------- progress
class Progress(Protocol):
    """Receives progress of one task (steps or runs)."""

    def advance(self, n: int = 1) -> None:
        """Advance by ``n`` units."""

    def update(self, completed: int, total: int) -> None:
        """Set the position and the total (for work whose size is known only once it starts)."""


class _NoProgress:
    def advance(self, n: int = 1) -> None:
        pass

    def update(self, completed: int, total: int) -> None:
        pass


class _RichTask:
    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)

    def update(self, completed: int, total: int) -> None:
        self._progress.update(self._task, completed=completed, total=total)


@contextmanager
def progress_bar(
    description: str, total: int, quiet: bool = False, unit: str = "steps"
) -> Iterator[Progress]:
    """A rich progress bar on stderr (nothing when ``quiet`` or when ``RL_SUITE_QUIET`` is set)."""
    if quiet or os.environ.get("RL_SUITE_QUIET"):
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with RichProgress(*columns, console=Console(stderr=True), transient=False) as prog:
        yield _RichTask(prog, prog.add_task(description, total=total))
