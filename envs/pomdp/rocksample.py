"""RockSample(n, k) (Smith & Simmons 2004): a rover senses rocks from afar and samples the good ones."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from rl_suite.envs.pomdp._core import TabularPOMDPEnv
from rl_suite.validation import check_choice, check_int

NORTH, EAST, SOUTH, WEST, SAMPLE = 0, 1, 2, 3, 4
GOOD, BAD, NONE = 0, 1, 2
#: Half-efficiency distance d₀ of the sensor: accuracy (1 + 2^(−d/d₀)) / 2.
HALF_EFFICIENCY_DISTANCE = 20.0

#: Fixed layouts: grid size n, start cell (x, y) and rock cells (x, y).
#: "7x8" is the RockSample_7_8.pomdpx layout of APPL/SARSOP (as reproduced, "Equivalent to
#: RockSample_7_8.pomdpx", in the POMCP/DESPOT simulators' rocksample.cpp).
#: "4x4" follows the Init_4_4 layout found in a POMCP-derived rocksample.cpp; "5x5" is the suite's own.
LAYOUTS: dict[str, dict[str, Any]] = {
    "4x4": {"size": 4, "start": (0, 0), "rocks": ((0, 1), (2, 0), (3, 2), (1, 3))},
    "5x5": {"size": 5, "start": (0, 2), "rocks": ((0, 1), (1, 3), (2, 2), (3, 0), (4, 4))},
    "7x8": {
        "size": 7,
        "start": (0, 3),
        "rocks": ((2, 0), (0, 1), (3, 1), (6, 3), (2, 4), (3, 4), (5, 5), (1, 6)),
    },
}


def sensor_accuracy(distance: np.ndarray | float, d0: float = HALF_EFFICIENCY_DISTANCE) -> np.ndarray:
    """Probability that a check reports a rock's true quality: ``(1 + 2^(−distance/d₀)) / 2``."""
    return 0.5 * (1.0 + np.power(2.0, -np.asarray(distance, dtype=np.float64) / d0))


def rocksample_model(
    size: int, start: tuple[int, int], rocks: tuple[tuple[int, int], ...], penalty: float = -100.0
) -> dict[str, Any]:
    """The RockSample arrays with sparse transitions.

    States ``(x·n + y)·2^k + mask`` (bit i of ``mask``: rock i is good) and one terminal state
    ``n²·2^k``. Moves are deterministic; east from the last column exits (+10, terminal); other moves off
    the grid leave the rover in place with ``penalty`` (APPL's −100), as does sampling an empty cell.
    Sampling a rock pays +10 if good (it becomes bad) and −10 if bad. ``check_i`` observes rock i with
    accuracy :func:`sensor_accuracy` of the Euclidean distance; other actions observe ``none``.

    Args:
        size: n.
        start: Start cell (x, y).
        rocks: Rock cells (x, y).
        penalty: Reward of bumping into a wall or sampling an empty cell.

    Returns:
        ``T`` (a list of ``k+5`` sparse ``(S, S)`` matrices), ``Z (A, S, 3)``, ``R``, ``b0``, ``Z0`` and
        ``terminal``.
    """
    n, k = size, len(rocks)
    M = 2**k
    S, A = n * n * M + 1, k + 5
    end = S - 1
    grids = np.meshgrid(np.arange(n), np.arange(n), np.arange(M), indexing="ij")
    xs, ys, masks = (g.reshape(-1) for g in grids)
    idx = (xs * n + ys) * M + masks
    rock_at = -np.ones((n, n), dtype=np.int64)
    for i, (rx, ry) in enumerate(rocks):
        rock_at[rx, ry] = i
    nxt = np.tile(np.arange(S)[:, None], (1, A))  # default: stay
    R = np.zeros((S, A))
    for a, (dx, dy) in ((NORTH, (0, 1)), (EAST, (1, 0)), (SOUTH, (0, -1)), (WEST, (-1, 0))):
        nx, ny = xs + dx, ys + dy
        inside = (nx >= 0) & (nx < n) & (ny >= 0) & (ny < n)
        nxt[idx[inside], a] = (nx[inside] * n + ny[inside]) * M + masks[inside]
        out = ~inside
        exits = out & (nx >= n)
        nxt[idx[exits], a] = end
        R[idx[exits], a] = 10.0
        R[idx[out & ~exits], a] = penalty
    here = rock_at[xs, ys]
    has = here >= 0
    good = has & (((masks >> np.maximum(here, 0)) & 1) == 1)
    R[idx[~has], SAMPLE] = penalty
    R[idx[has], SAMPLE] = np.where(good[has], 10.0, -10.0)
    nxt[idx[good], SAMPLE] = idx[good] - (1 << here[good])
    T = [sp.csr_array((np.ones(S), (np.arange(S), nxt[:, a])), shape=(S, S)) for a in range(A)]
    Z = np.zeros((A, S, 3))
    Z[:, :, NONE] = 1.0
    for i, (rx, ry) in enumerate(rocks):
        acc = sensor_accuracy(np.hypot(xs - rx, ys - ry))
        is_good = ((masks >> i) & 1) == 1
        Z[5 + i, idx, NONE] = 0.0
        Z[5 + i, idx, GOOD] = np.where(is_good, acc, 1 - acc)
        Z[5 + i, idx, BAD] = np.where(is_good, 1 - acc, acc)
    b0 = np.zeros(S)
    b0[(start[0] * n + start[1]) * M + np.arange(M)] = 1.0 / M
    terminal = np.zeros(S, dtype=bool)
    terminal[end] = True
    return {"T": T, "Z": Z, "R": R, "b0": b0, "Z0": Z[0], "terminal": terminal}


class RockSample(TabularPOMDPEnv):
    """RockSample(n, k): explore an n×n grid with k rocks of unknown quality, then exit east.

    ## Description
    The rover's cell is known (it starts at a fixed cell and moves deterministically); each rock is good
    or bad, i.i.d. uniform at the start (hidden). ``check_i`` senses rock i with accuracy
    ``η = (1 + 2^(−d/20))/2`` at Euclidean distance d. Sampling a good rock pays +10 and makes it bad;
    sampling a bad rock costs −10. Moving east off the last column exits (+10) and ends the episode.
    Following APPL's model files, moving off any other edge, or sampling an empty cell, costs −100 and
    leaves the rover in place (pomdp-py and RockSample.jl use 0 there instead; an optimal policy never
    does either, so ``V*`` is the same). States: ``n²·2^k + 1`` (RS(4,4) 257, RS(5,5) 801, RS(7,8) 12,545);
    the transitions are stored sparse.

    ``V*`` is bracketed by [PBVI, QMDP] (discounted, γ = 0.95); the regret uses the PBVI lower bound.
    Published point-based solvers (HSVI2, SARSOP) are quoted at about 21.3 for RS(7,8); this PBVI stays
    well below that with its default budget.

    ## Action Space
    ``Discrete(k + 5)``: 0 north (y+1), 1 east (x+1), 2 south, 3 west, 4 sample, ``5 + i`` check rock i.

    ## Observation Space
    ``Discrete(3)``: 0 good, 1 bad, 2 none (every non-check action; also at reset). The cell is not in the
    observation (as in Smith & Simmons, it is determined by the start and the actions; use
    ``obs_last_action=True`` or memory).

    ## Rewards
    +10 exit, ±10 sample, −100 wall / empty sample, 0 otherwise. ``info``: see
    :class:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv`.

    ## Episode End
    Terminates on exiting; truncates after ``max_steps`` (default: γ^N·100/(1−γ) ≤ 1e-3, N = 283).

    ## Arguments
    * ``layout`` (``"4x4"``): one of :data:`LAYOUTS` (``"4x4"``, ``"5x5"``, ``"7x8"``).
    * ``discount`` (0.95): γ in ``[0, 1)``; ``max_steps``, ``obs_last_action`` (``False``),
      ``pbvi_options`` (defaults: 10 SSEA expansions, at most 512 beliefs, tol 1e-3, 120 s).

    ## Reference
    Smith & Simmons, "Heuristic search value iteration for POMDPs", UAI 2004 (RockSample); Smith &
    Simmons, "Point-based POMDP algorithms: Improved analysis and implementation", UAI 2005 (HSVI2);
    Kurniawati, Hsu & Lee, "SARSOP", RSS 2008.

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/RockSample-v0"
    pbvi_defaults: ClassVar[dict[str, Any]] = {
        "n_expansions": 10,
        "max_beliefs": 512,
        "tol": 1e-3,
        "max_seconds": 120.0,
    }

    def __init__(
        self,
        layout: str = "4x4",
        discount: float = 0.95,
        max_steps: int | None = None,
        obs_last_action: bool = False,
        pbvi_options: dict[str, Any] | None = None,
    ) -> None:
        self.layout = check_choice("layout", layout, tuple(LAYOUTS))
        spec = LAYOUTS[self.layout]
        self.size, self.start = int(spec["size"]), tuple(spec["start"])
        self.rocks = tuple(tuple(r) for r in spec["rocks"])
        self.n_rocks = len(self.rocks)
        if max_steps is not None:
            max_steps = check_int("max_steps", max_steps, 1)
        names = ("north", "east", "south", "west", "sample", *(f"check_{i}" for i in range(self.n_rocks)))
        super().__init__(
            **rocksample_model(self.size, self.start, self.rocks),
            horizon=None,
            discount=discount,
            obs_last_action=obs_last_action,
            max_steps=max_steps,
            pbvi_options=pbvi_options,
            action_names=names,
        )

    def cell_of(self, state: int) -> tuple[int, int] | None:
        """The rover's cell ``(x, y)`` in ``state`` (``None`` for the terminal state)."""
        if state == self.n_states - 1:
            return None
        pos = state >> self.n_rocks
        return divmod(pos, self.size)

    def _solve_extra(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "size": self.size,
            "start": list(self.start),
            "rocks": [list(r) for r in self.rocks],
        }
