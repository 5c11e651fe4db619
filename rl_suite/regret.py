"""Regret bookkeeping: the recorder every agent is measured through, and the curve kernels.

Every rl_suite env puts the exact instantaneous regret of the action just taken in ``info["regret"]``
(bsuite's "the env owns its regret"). :class:`RegretRecorder` wraps any env — whoever drives it, our agents
or a Stable-Baselines3 model — keeps per-step figures in growing numpy arrays, and hands them out in chunks
(:meth:`RegretRecorder.drain`) so the run store can append them to disk without a file write per step.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

#: Per-step columns of ``metrics.csv``; ``cost`` and ``violation`` are added for constrained envs.
BASE_COLUMNS = ("step", "episode", "reward", "regret", "cumulative_regret")
CONSTRAINT_COLUMNS = ("cost", "violation")


def cumulative_regret(regret: np.ndarray) -> np.ndarray:
    """Cumulative sum of per-step regret along the last axis: ``R(t) = Σ_{s≤t} r_s``."""
    return np.cumsum(np.asarray(regret, dtype=np.float64), axis=-1)


def exponent_grid(horizon: int, decades: float = 1.0, num_points: int = 64) -> np.ndarray:
    """Log-spaced times ``t`` (1-based, unique ints) in ``[T·10^-decades, T]`` used by the exponent fit."""
    if horizon < 2:
        raise ValueError(f"the exponent needs a horizon of at least 2 steps, got {horizon}")
    if decades <= 0:
        raise ValueError(f"decades must be > 0, got {decades}")
    t_lo = max(1.0, horizon / 10.0**decades)
    t = np.round(np.geomspace(t_lo, horizon, num_points)).astype(np.int64)  # non-decreasing
    # The distinct values, as np.unique gives them, without its first call's import of numpy.ma (~10 ms).
    return t[np.concatenate(([True], t[1:] != t[:-1]))]


def fit_exponent_at(ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``log values`` on ``log ts`` along the last axis, for one or many curves.

    Points with ``values <= 0`` are left out; a curve with fewer than two positive points gets slope 0.

    Args:
        ts: ``(m,)`` positive, distinct times.
        values: ``(..., m)`` curve values at ``ts``.

    Returns:
        Slopes of shape ``values.shape[:-1]`` (a 0-d array for one curve).
    """
    v = np.asarray(values, dtype=np.float64)
    x = np.log(np.asarray(ts, dtype=np.float64))
    w = v > 0
    y = np.log(np.where(w, v, 1.0))
    count = w.sum(axis=-1)
    safe = np.maximum(count, 1)
    x_bar = (w * x).sum(axis=-1) / safe
    y_bar = (w * y).sum(axis=-1) / safe
    dx = (x - x_bar[..., None]) * w
    sxx = (dx * dx).sum(axis=-1)
    sxy = (dx * (y - y_bar[..., None])).sum(axis=-1)
    ok = (count >= 2) & (sxx > 0)
    return np.where(ok, sxy / np.where(ok, sxx, 1.0), 0.0)


def fit_regret_exponent(cum_regret: np.ndarray, decades: float = 1.0, num_points: int = 64) -> float:
    """Slope of ``log R(t)`` against ``log t`` over the last ``decades`` of the horizon.

    For ``R(t) ≈ c·t^p`` this returns ``p``: about 0.5 for √T-regret algorithms, 1 for linear regret.
    The fit uses ``num_points`` log-spaced times in ``[T·10^-decades, T]`` (:func:`exponent_grid`) so every
    part of the window weighs the same; ``t`` counts from 1 (``cum_regret[0]`` is ``R(1)``). Times where
    ``R(t) <= 0`` are left out; if fewer than two remain the regret is flat zero and the exponent is 0.

    Args:
        cum_regret: cumulative regret, shape ``(T,)``.
        decades: width of the window in powers of ten (clipped to the whole horizon).
        num_points: number of log-spaced sample times.

    Returns:
        The fitted exponent ``p``.
    """
    r = np.asarray(cum_regret, dtype=np.float64)
    if r.ndim != 1 or r.size < 2:
        raise ValueError(f"cum_regret must be 1-D with at least 2 points, got shape {r.shape}")
    ts = exponent_grid(r.size, decades, num_points)
    return float(fit_exponent_at(ts, r[ts - 1]))


class Columns:
    """Growable float64 column store (amortised O(1) append, no per-step allocation).

    Rows are ``data[n]``: ``(len(names),)``, or ``(streams, len(names))`` for R streams recorded together.
    """

    def __init__(self, names: tuple[str, ...], capacity: int = 4096, streams: int | None = None) -> None:
        self.names = names
        shape = (capacity, len(names)) if streams is None else (capacity, streams, len(names))
        self.data = np.empty(shape, dtype=np.float64)
        self.n = 0

    def grow(self) -> None:
        """Double the capacity (the rows kept)."""
        self.data = np.concatenate([self.data, np.empty_like(self.data)])

    def take(self) -> np.ndarray:
        """The rows recorded since the last take, copied, and forget them."""
        out = self.data[: self.n].copy()
        self.n = 0
        return out


class RegretRecorder(gym.Wrapper):
    """Records reward and exact regret of every step of a single env, for any agent.

    Reads ``info["regret"]`` (and ``info["cost"]``, ``info["violation"]`` when the env is constrained) on
    each step. Figures stay in memory until :meth:`drain` hands them out as one ``(n, columns)`` array —
    the caller decides when to write them. ``episode`` counts from 0 and advances on every reset after the
    first.

    Args:
        env: the env to watch; it must report ``info["regret"]`` on every step.
        constrained: also record ``cost`` and ``violation``.
    """

    def __init__(self, env: gym.Env, constrained: bool = False) -> None:
        super().__init__(env)
        self.columns = BASE_COLUMNS + (CONSTRAINT_COLUMNS if constrained else ())
        self._buf = Columns(self.columns)
        self._constrained = constrained
        self.total_steps = 0
        self.episode = -1
        self.cumulative_regret = 0.0
        self.cumulative_reward = 0.0
        self.violations = 0
        self.violation_amount = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Reset the env and start a new episode count."""
        self.episode += 1
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and record the step's reward and regret."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        regret = float(info["regret"])
        self.total_steps += 1
        self.cumulative_regret += regret
        self.cumulative_reward += float(reward)
        buf = self._buf
        if buf.n == buf.data.shape[0]:
            buf.grow()
        row = buf.data[buf.n]
        row[0] = self.total_steps
        row[1] = self.episode
        row[2] = reward
        row[3] = regret
        row[4] = self.cumulative_regret
        if self._constrained:
            violation = float(info["violation"])
            row[5] = info["cost"]
            row[6] = violation
            self.violations += violation > 0
            self.violation_amount += violation
        buf.n += 1
        return obs, reward, terminated, truncated, info

    @property
    def pending(self) -> int:
        """Number of recorded steps not yet drained."""
        return self._buf.n

    def drain(self) -> np.ndarray:
        """Return the steps recorded since the last drain, shape ``(n, len(columns))``, and forget them."""
        return self._buf.take()

    def counters(self) -> dict[str, float | int]:
        """The running totals, for checkpoints and summaries."""
        return {
            "total_steps": self.total_steps,
            "episode": self.episode,
            "cumulative_regret": self.cumulative_regret,
            "cumulative_reward": self.cumulative_reward,
            "violations": int(self.violations),
            "violation_amount": self.violation_amount,
        }

    def restore_counters(self, counters: dict[str, Any]) -> None:
        """Set the running totals back to a checkpoint's (pending steps are dropped)."""
        self._buf.n = 0
        self.total_steps = int(counters["total_steps"])
        self.episode = int(counters["episode"])
        self.cumulative_regret = float(counters["cumulative_regret"])
        self.cumulative_reward = float(counters["cumulative_reward"])
        self.violations = int(counters.get("violations", 0))
        self.violation_amount = float(counters.get("violation_amount", 0.0))
