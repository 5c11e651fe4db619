"""Tiger (Kaelbling, Littman & Cassandra 1998): listen or open a door, with exact references."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from rl_suite.envs.pomdp._core import TabularPOMDPEnv
from rl_suite.errors import UserError
from rl_suite.validation import check_probability

LISTEN, OPEN_LEFT, OPEN_RIGHT = 0, 1, 2
TIGER_LEFT, TIGER_RIGHT = 0, 1
HEAR_LEFT, HEAR_RIGHT = 0, 1


def tiger_model(accuracy: float = 0.85) -> dict[str, np.ndarray]:
    """The Tiger arrays (``T``, ``Z``, ``R``, ``b0``, ``Z0``) in the form of :mod:`rl_suite.exact.pomdp`.

    Args:
        accuracy: Probability that listening hears the tiger's true side.

    Returns:
        ``T (2, 3, 2)``, ``Z (3, 2, 2)``, ``R (2, 3)``, ``b0 (2,)`` and ``Z0 (2, 2)`` (uniform: the first
        observation carries no information, like the observation after an opening).
    """
    T = np.zeros((2, 3, 2))
    T[:, LISTEN, :] = np.eye(2)
    T[:, OPEN_LEFT, :] = T[:, OPEN_RIGHT, :] = 0.5
    Z = np.full((3, 2, 2), 0.5)
    Z[LISTEN] = [[accuracy, 1 - accuracy], [1 - accuracy, accuracy]]
    R = np.array([[-1.0, -100.0, 10.0], [-1.0, 10.0, -100.0]])
    return {"T": T, "Z": Z, "R": R, "b0": np.full(2, 0.5), "Z0": np.full((2, 2), 0.5)}


class Tiger(TabularPOMDPEnv):
    """The Tiger problem: a tiger hides behind one of two doors; listen (noisily) before opening one.

    ## Description
    Two hidden states, tiger-left (0) and tiger-right (1), uniform at the start. Listening leaves the
    state unchanged and hears the correct side with probability ``accuracy`` (0.85). Opening a door
    ends the "trial": the tiger is re-placed uniformly at random and the next observation is uniform
    (uninformative). The model is exactly the APPL/SARSOP ``Tiger.pomdp`` example file.

    Reference values (``b0 = ½``; exact by belief-tree expectimax, PBVI within 1e-9):

    | H | 1 | 2 | 3 | 4 | 5 | 6 | 7 |
    |---|---|---|---|---|---|---|---|
    | undiscounted | −1.0000 | −2.0000 | 2.7200 | 2.4212(5) | 3.6091 | 5.6188 | 6.2463 |
    | γ=0.95 | −1.0000 | −1.9500 | 2.3098 | 1.7955 | 2.7631 | 4.4285 | 4.5843 |

    Infinite horizon, γ=0.95: ``V*(½) = 19.3714`` (PBVI on a 101-point grid; SARSOP's logged bounds are
    [19.3711, 19.3721]).

    ## Action Space
    ``Discrete(3)``: 0 listen, 1 open-left, 2 open-right.

    ## Observation Space
    ``Discrete(2)``: 0 hear-left, 1 hear-right (``Discrete(8)`` with ``obs_last_action=True``, see
    :class:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv`). The first observation is uniform.

    ## Rewards
    Listen −1; opening the tiger's door −100; opening the other door +10. ``info``: see
    :class:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv` (``regret`` is 0 except at the episode's last step,
    where it is the "V* − return" estimate).

    ## Episode End
    Never terminates; truncates after ``horizon`` steps (finite form) or ``max_steps`` steps (discounted
    form, ``horizon=None``).

    ## Arguments
    * ``horizon`` (``"auto"``): H, or ``None`` for the classic infinite-horizon problem (needs
      ``discount``). ``"auto"`` is H = 10 when undiscounted and ``None`` when a ``discount`` is given, so
      ``Tiger(discount=0.95)`` is the classic discounted problem; pass both for a discounted finite one.
    * ``discount`` (``None``: undiscounted): γ in ``[0, 1)``; the classic value is 0.95.
    * ``accuracy`` (0.85): listening accuracy, in ``[0.5, 1]``.
    * ``obs_last_action`` (``False``), ``max_steps``, ``pbvi_options``: see the base class.

    ## Reference
    Kaelbling, Littman & Cassandra, "Planning and acting in partially observable stochastic domains",
    Artificial Intelligence 101, 1998; Cassandra, Kaelbling & Littman, "Acting optimally in partially
    observable stochastic domains", AAAI 1994.

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/Tiger-v0"
    revealing_steps = 2
    pbvi_defaults: ClassVar[dict[str, Any]] = {"n_expansions": 0, "tol": 1e-9, "max_sweeps": 5000}

    def __init__(
        self,
        horizon: int | Literal["auto"] | None = "auto",
        discount: float | None = None,
        accuracy: float = 0.85,
        obs_last_action: bool = False,
        max_steps: int | None = None,
        pbvi_options: dict[str, Any] | None = None,
    ) -> None:
        self.accuracy = check_probability("accuracy", accuracy)
        if self.accuracy < 0.5:
            raise UserError(
                f"accuracy must be in [0.5, 1] (the chance of hearing the right side), got {accuracy}"
            )
        if horizon == "auto":
            horizon = 10 if discount is None else None
        arrays = tiger_model(self.accuracy)
        super().__init__(
            **arrays,
            horizon=horizon,
            discount=discount,
            obs_last_action=obs_last_action,
            max_steps=max_steps,
            pbvi_options=pbvi_options,
            action_names=("listen", "open-left", "open-right"),
        )

    def _pbvi_beliefs(self) -> np.ndarray:
        """A 1001-point grid of the one-dimensional belief simplex (PBVI is then exact to ~1e-9)."""
        p = np.linspace(0.0, 1.0, 1001)
        return np.stack([p, 1.0 - p], axis=1)

    def _solve_extra(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy}
