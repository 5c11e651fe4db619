"""The T-maze: a cue at the start of a corridor must be remembered until the junction (after Bakker 2002)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rl_suite.envs.pomdp._core import TabularPOMDPEnv
from rl_suite.exact import pomdp
from rl_suite.validation import check_int

FORWARD, UP, DOWN = 0, 1, 2
CUE_UP, CUE_DOWN, CORRIDOR, JUNCTION = 0, 1, 2, 3
#: Value of the optimal (memory) policy and of the best deterministic memoryless policy (exact; see TMaze).
OPTIMAL_VALUE, MEMORYLESS_VALUE = 4.0, 2.0


def tmaze_model(length: int, goal_reward: float = 4.0, wrong_reward: float = -0.1) -> dict[str, Any]:
    """The T-maze arrays.

    States ``2·pos + g`` for corridor positions ``pos = 0..L`` and goal side ``g`` (0 up, 1 down), plus one
    terminal state ``2(L+1)``.

    Args:
        length: L, the junction's position.
        goal_reward: Reward of turning to the goal side at the junction.
        wrong_reward: Reward of turning the other way at the junction.

    Returns:
        ``T``, ``Z`` (action-independent, ``(S, 4)``), ``R``, ``b0``, ``Z0`` and ``terminal``.
    """
    L = length
    S = 2 * (L + 1) + 1
    end = S - 1
    T = np.zeros((S, 3, S))
    R = np.zeros((S, 3))
    E = np.zeros((S, 4))
    for pos in range(L + 1):
        for g in (0, 1):
            s = 2 * pos + g
            T[s, FORWARD, 2 * min(pos + 1, L) + g] = 1.0
            E[s, (CUE_UP, CUE_DOWN)[g] if pos == 0 else (JUNCTION if pos == L else CORRIDOR)] = 1.0
            for a, side in ((UP, 0), (DOWN, 1)):
                if pos == L:
                    T[s, a, end] = 1.0
                    R[s, a] = goal_reward if side == g else wrong_reward
                else:
                    T[s, a, s] = 1.0
    T[end, :, end] = 1.0
    E[end, CORRIDOR] = 1.0
    b0 = np.zeros(S)
    b0[[0, 1]] = 0.5
    terminal = np.zeros(S, dtype=bool)
    terminal[end] = True
    return {"T": T, "Z": E, "R": R, "b0": b0, "Z0": E, "terminal": terminal}


class TMaze(TabularPOMDPEnv):
    """A corridor of length L whose first cell shows which way to turn at the far junction.

    ## Description
    Corridor positions ``0..L``; the junction is at ``L``. The goal side g ∈ {up, down} is uniform and
    hidden. Position 0 shows the cue (g), positions ``1..L−1`` show "corridor", the junction shows
    "junction". ``forward`` moves one cell (capped at L); ``up``/``down`` do nothing in the corridor and end
    the episode at the junction: +4 if the side is g, −0.1 otherwise. With ``H = L + 1`` steps there is
    no time to spare.

    Facts (exact; checked by the tests for L ∈ {2, 5, 10}): the optimal value is **4.0** (walk,
    remember the cue, turn); the best deterministic *memoryless* policy (a function of the current
    observation, 3^4 = 81 of them) gets **2.0**: stall on one cue and walk-and-turn-correctly on the
    other, which beats "always turn the same way" (1.95). The memory gap is 2.0 for every L.

    ## Action Space
    ``Discrete(3)``: 0 forward, 1 up, 2 down.

    ## Observation Space
    ``Discrete(4)``: 0 cue-up, 1 cue-down, 2 corridor, 3 junction (``Discrete(16)`` with
    ``obs_last_action=True``).

    ## Rewards
    +4 / −0.1 at the junction, 0 otherwise. ``info``: see :class:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv`.

    ## Episode End
    Terminates after turning at the junction; truncates after ``horizon`` steps.

    ## Arguments
    * ``length`` (5): L ≥ 1.
    * ``horizon`` (``None``: L + 1): H ≥ 1.
    * ``discount`` (``None``: undiscounted), ``obs_last_action`` (``False``), ``pbvi_options``.

    ## Reference
    Bakker, "Reinforcement learning with long short-term memory", NeurIPS 2002 (the T-maze); this is the
    suite's own simplified, fully specified version.

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/TMaze-v0"
    pbvi_defaults: ClassVar[dict[str, Any]] = {"n_expansions": 12, "max_beliefs": 256}

    def __init__(
        self,
        length: int = 5,
        horizon: int | None = None,
        discount: float | None = None,
        obs_last_action: bool = False,
        pbvi_options: dict[str, Any] | None = None,
    ) -> None:
        self.length = check_int("length", length, 1)
        H = self.length + 1 if horizon is None else check_int("horizon", horizon, 1)
        super().__init__(
            **tmaze_model(self.length),
            horizon=H,
            discount=discount,
            obs_last_action=obs_last_action,
            pbvi_options=pbvi_options,
            action_names=("forward", "up", "down"),
        )

    def best_memoryless_value(self) -> float:
        """The best value of a deterministic memoryless policy, by exact evaluation of all 3^4 of them."""
        tables = np.stack(np.meshgrid(*[np.arange(3)] * 4, indexing="ij"), -1).reshape(-1, 4)
        return max(pomdp.evaluate_memoryless_policy(self.pomdp, t) for t in tables)

    def _solve_extra(self) -> dict[str, Any]:
        return {"length": self.length, "best_memoryless_value": self.best_memoryless_value()}
