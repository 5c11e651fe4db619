"""Heaven/Hell: a T-shaped map whose rewarding arm is revealed only by a priest off the path."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rl_suite.envs.pomdp._core import TabularPOMDPEnv
from rl_suite.validation import check_int

NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3


def heaven_hell_model(arm_length: int, stem_length: int) -> dict[str, Any]:
    """The Heaven/Hell arrays.

    Cells: the junction ``J = 0`` (the start); the left arm ``1..arm`` (cell ``arm`` is its end), the right
    arm ``arm+1..2·arm`` (end ``2·arm``); the stem below ``J``: ``2·arm+1 .. 2·arm+stem``, whose last cell is
    the priest. States ``2·cell + g`` (``g = 0``: heaven on the left), plus one terminal state. Moving into
    an arm end pays +1 (heaven) or −1 (hell) and enters the terminal state, so arm ends are never occupied.

    Observations: the cell index for every cell but the priest's; at the priest ``n_cells − 1 + g`` (two
    symbols: "heaven is left" / "heaven is right"); ``n_cells + 1`` in the terminal state.

    Args:
        arm_length: Cells from the junction to an arm end (≥ 1).
        stem_length: Cells from the junction down to the priest (≥ 1).

    Returns:
        ``T``, ``Z`` (action-independent ``(S, O)``), ``R``, ``b0``, ``Z0``, ``terminal`` and ``n_cells``.
    """
    arm, stem = arm_length, stem_length
    n_cells = 1 + 2 * arm + stem
    priest = n_cells - 1
    S, n_obs = 2 * n_cells + 1, n_cells + 2
    end = S - 1
    left_end, right_end = arm, 2 * arm

    def move(c: int, a: int) -> int:
        if c == 0:
            return {WEST: 1, EAST: arm + 1, SOUTH: 2 * arm + 1}.get(a, 0)
        if c <= arm:  # left arm: west goes out, east goes back
            return c + 1 if a == WEST else (c - 1 if a == EAST else c)
        if c <= 2 * arm:  # right arm
            k = c - arm
            return c + 1 if a == EAST else ((c - 1 if k > 1 else 0) if a == WEST else c)
        k = c - 2 * arm  # stem depth 1..stem
        return (c - 1 if k > 1 else 0) if a == NORTH else (c + 1 if a == SOUTH and c < priest else c)

    T = np.zeros((S, 4, S))
    R = np.zeros((S, 4))
    E = np.zeros((S, n_obs))
    for c in range(n_cells):
        for g in (0, 1):
            s = 2 * c + g
            E[s, priest + g if c == priest else c] = 1.0
            for a in range(4):
                nc = move(c, a)
                if nc in (left_end, right_end):
                    T[s, a, end] = 1.0
                    R[s, a] = 1.0 if (nc == left_end) == (g == 0) else -1.0
                else:
                    T[s, a, 2 * nc + g] = 1.0
    T[end, :, end] = 1.0
    E[end, n_cells + 1] = 1.0
    b0 = np.zeros(S)
    b0[[0, 1]] = 0.5
    terminal = np.zeros(S, dtype=bool)
    terminal[end] = True
    return {"T": T, "Z": E, "R": R, "b0": b0, "Z0": E, "terminal": terminal, "n_cells": n_cells}


class HeavenHell(TabularPOMDPEnv):
    """Heaven and hell at the two arm ends of a T, swapped at random; a priest below the start knows which.

    ## Description
    The agent starts at the junction of a T. Heaven and hell sit at the ends of the two arms
    (``arm_length`` cells away), swapped uniformly at random (hidden). A priest at the bottom of a stem
    ``stem_length`` cells below the junction reveals the side when visited. The agent observes its cell
    (the arms' cells are told apart, which says nothing about the side). The optimal policy visits the
    priest, walks back and enters heaven: ``V* = +1`` when ``horizon ≥ 2·stem_length + arm_length`` (the
    default). The best deterministic memoryless policy gets 0: at the junction it must always do the same
    thing, so it either guesses an arm (±1, mean 0) or never leaves the stem. The belief has two points,
    so the exact value comes from the belief tree in milliseconds.

    ## Action Space
    ``Discrete(4)``: 0 north, 1 east, 2 south, 3 west (moves that leave the map do nothing).

    ## Observation Space
    ``Discrete(n_cells + 2)``: the cell index (junction 0, left arm, right arm, stem), the priest's two
    messages ``n_cells − 1`` (heaven left) and ``n_cells`` (heaven right), and ``n_cells + 1`` after the end
    (``n_cells = 1 + 2·arm_length + stem_length``).

    ## Rewards
    +1 for entering heaven, −1 for entering hell, 0 otherwise. ``info``: see
    :class:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv`.

    ## Episode End
    Terminates on entering an arm end; truncates after ``horizon`` steps.

    ## Arguments
    * ``arm_length`` (1), ``stem_length`` (2): ≥ 1.
    * ``horizon`` (``None``: ``2·stem_length + arm_length``), ``discount`` (``None``: undiscounted),
      ``obs_last_action`` (``False``), ``pbvi_options``.

    ## Reference
    Geffner & Bonet, "Solving large POMDPs using real time dynamic programming", AAAI Fall Symposium 1998
    (Heaven/Hell); the layout is the suite's own.

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/HeavenHell-v0"
    pbvi_defaults: ClassVar[dict[str, Any]] = {"n_expansions": 12, "max_beliefs": 256}

    def __init__(
        self,
        arm_length: int = 1,
        stem_length: int = 2,
        horizon: int | None = None,
        discount: float | None = None,
        obs_last_action: bool = False,
        pbvi_options: dict[str, Any] | None = None,
    ) -> None:
        self.arm_length = check_int("arm_length", arm_length, 1)
        self.stem_length = check_int("stem_length", stem_length, 1)
        arrays = heaven_hell_model(self.arm_length, self.stem_length)
        self.n_cells = arrays.pop("n_cells")
        H = 2 * self.stem_length + self.arm_length if horizon is None else check_int("horizon", horizon, 1)
        super().__init__(
            **arrays,
            horizon=H,
            discount=discount,
            obs_last_action=obs_last_action,
            pbvi_options=pbvi_options,
            action_names=("north", "east", "south", "west"),
        )

    def _solve_extra(self) -> dict[str, Any]:
        return {"arm_length": self.arm_length, "stem_length": self.stem_length, "n_cells": self.n_cells}
