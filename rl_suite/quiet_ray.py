"""Ray started or joined without its chatter in rl_suite's output (sweeps' Ray backend, DisBE-LUCB's actors).

Ray's driver prints INFO lines (``Started a local Ray instance``, ``Connecting to existing Ray cluster``),
a warning that token authentication is on (which nobody running a sweep must act on), and Python warnings
such as Ray 2.52's ``FutureWarning`` tip about accelerator variables, shown by every ``ray.init``. None of
them is about the runs. ``RL_SUITE_RAY_VERBOSE=1`` lets them all through, as Ray prints them.

Nothing here imports Ray: callers pass the ``ray`` module they imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

#: Environment of a Ray started or joined by rl_suite (set unless already set): no usage stats.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
#: Loggers whose INFO lines (node start-up, worker notices) stay out of rl_suite's output.
_LOGGERS = ("ray",)
#: Loggers whose warnings say nothing a user must act on: that the cluster's token authentication is on (it
#: stays on).
_NOTICES = ("ray._private.authentication.authentication_token_setup",)


def verbose() -> bool:
    """Whether ``RL_SUITE_RAY_VERBOSE`` asks for Ray's own output (set, and not ``0``)."""
    return os.environ.get("RL_SUITE_RAY_VERBOSE", "") not in ("", "0")


def quiet_loggers() -> None:
    """Keep Ray's INFO lines and notices out of rl_suite's output (unless :func:`verbose`)."""
    if verbose():
        return
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _NOTICES:
        logging.getLogger(name).setLevel(logging.ERROR)


def init(ray: Any, **kwargs: Any) -> None:
    """``ray.init(**kwargs)`` with :data:`RAY_ENV`, no copy of the workers' logs, and Ray's output kept out.

    Ray's loggers are quieted before and after (``ray.init`` configures them), and Ray's own Python warnings
    are filtered while it runs; other libraries' warnings pass as they would. With :func:`verbose`, Ray
    logs at INFO and warns as it does.
    """
    for name, value in RAY_ENV.items():
        os.environ.setdefault(name, value)
    loud = verbose()
    quiet_loggers()
    with warnings.catch_warnings():
        if not loud:
            warnings.filterwarnings("ignore", module=r"ray(\.|$)")
        ray.init(log_to_driver=False, logging_level=logging.INFO if loud else logging.WARNING, **kwargs)
    quiet_loggers()


@contextlib.contextmanager
def native_log_muted() -> Iterator[None]:
    """While open, Ray's C++ log lines go nowhere (unless :func:`verbose`).

    They are written to file descriptor 2 itself, below Python's ``sys.stderr`` and its logging. A process
    without descriptor 2 (a daemon's closed stderr) runs the block as it is.
    """
    if verbose():
        yield
        return
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2: nothing to mute
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
