"""Deterministic MiniGrid levels as finite-horizon MDPs, by enumerating their reachable states."""

from __future__ import annotations

import copy
from collections import deque
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np

from rl_suite.envs._finite import FiniteHorizonMDPEnv
from rl_suite.errors import UserError
from rl_suite.exact.effective_horizon import check_repeat_probability, sticky_model
from rl_suite.validation import check_choice, check_int

if TYPE_CHECKING:
    from minigrid.minigrid_env import MiniGridEnv

#: Observation kinds: the full grid encoding (Markov), MiniGrid's egocentric 7×7 view, or the state id.
OBSERVATIONS = ("full", "egocentric", "state")
#: Upper bound on enumerated states (a guard against levels too large to tabulate).
MAX_STATES = 20_000


def _state_key(env: Any) -> bytes:
    """A hashable key of a MiniGrid env's state: grid (doors, keys, ...), agent pose, carried object."""
    carried = env.carrying.encode() if env.carrying is not None else (0, 0, 0)
    pose = np.array([*env.agent_pos, env.agent_dir, *carried], dtype=np.int16)
    return env.grid.encode().tobytes() + pose.tobytes()


def _full_view(env: Any) -> np.ndarray:
    """The ``(W, H, 3)`` grid encoding with the agent drawn as ``(10, 0, dir)``."""
    grid = env.grid.encode()
    x, y = env.agent_pos
    grid[x, y] = (10, 0, env.agent_dir)
    return grid


def enumerate_level(
    level: str, n_actions: int, level_seed: int, max_states: int = MAX_STATES
) -> dict[str, Any]:
    """Enumerate the reachable states of a deterministic MiniGrid level by breadth-first search.

    Each search node is a deep copy of the MiniGrid env; the agent's step counter is reset before every
    step so that MiniGrid's own time limit never ends an episode. A step that terminates with a positive
    reward (the goal) pays 1 and moves to an absorbing goal state; any other termination (lava) moves to an
    absorbing state with reward 0.

    Args:
        level: A MiniGrid id such as ``"MiniGrid-Empty-5x5-v0"``.
        n_actions: Use MiniGrid's first ``n_actions`` actions (3: left, right, forward; 7: all).
        level_seed: Seed of the level's layout (``reset(seed=...)``).
        max_states: Refuse levels with more reachable states.

    Returns:
        ``next`` ``(S, A)`` ints, ``reward`` ``(S, A)``, ``full`` ``(S, W, H, 3)`` and ``egocentric``
        ``(S, 7, 7, 3)`` uint8 observations; state 0 is the start, the last two states are the absorbing
        goal and failure states.

    Raises:
        UserError: Unknown level, or more than ``max_states`` states.
    """
    try:
        import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
    except ImportError:
        raise UserError(
            "MiniGrid levels need the minigrid package: pip install 'rl_suite[minigrid]'"
        ) from None
    if level not in gym.registry or not level.startswith("MiniGrid-"):
        raise UserError(
            f"unknown MiniGrid level {level!r}; e.g. MiniGrid-Empty-5x5-v0, MiniGrid-DoorKey-5x5-v0"
        )
    root = cast("MiniGridEnv", gym.make(level).unwrapped)  # every MiniGrid-* id is a MiniGridEnv
    obs, _ = root.reset(seed=level_seed)
    keys = {_state_key(root): 0}
    nodes, ego, full = [root], [obs["image"]], [_full_view(root)]
    edges: list[list[tuple[int, float]]] = []
    GOAL, FAIL = -1, -2
    queue = deque([0])
    while queue:
        s = queue.popleft()
        row = []
        for a in range(n_actions):
            env = copy.deepcopy(nodes[s])
            env.step_count = 0
            obs, reward, terminated, _, _ = env.step(a)
            if terminated:
                row.append((GOAL, 1.0) if float(reward) > 0 else (FAIL, 0.0))
                continue
            key = _state_key(env)
            if key not in keys:
                if len(keys) >= max_states:
                    raise UserError(
                        f"{level} has more than {max_states} reachable states; too large to tabulate"
                    )
                keys[key] = len(nodes)
                nodes.append(env)
                ego.append(obs["image"])
                full.append(_full_view(env))
                queue.append(keys[key])
            row.append((keys[key], 1.0 if float(reward) > 0 else 0.0))
        edges.append(row)
    S = len(nodes) + 2
    goal, fail = S - 2, S - 1
    nxt = np.empty((S, n_actions), dtype=np.int64)
    rew = np.zeros((S, n_actions))
    for s, row in enumerate(edges):
        for a, (t, r) in enumerate(row):
            nxt[s, a] = goal if t == GOAL else fail if t == FAIL else t
            rew[s, a] = r
    nxt[goal], nxt[fail] = goal, fail
    blank_full = np.zeros_like(full[0])
    blank_ego = np.zeros_like(ego[0])
    goal_full = full[0].copy()
    goal_full[..., :] = 0
    goal_full[0, 0] = (8, 1, 0)  # the goal object's code marks "reached the goal"
    return {
        "next": nxt,
        "reward": rew,
        "full": np.stack([*full, goal_full, blank_full]).astype(np.uint8),
        "egocentric": np.stack([*ego, blank_ego + 8, blank_ego]).astype(np.uint8),
    }


class MiniGridFiniteHorizon(FiniteHorizonMDPEnv[Any]):
    """A deterministic MiniGrid level as a finite-horizon MDP with its exact optimum.

    ## Description
    The adapter enumerates every state the level can reach (breadth-first search over deep copies of the
    MiniGrid env: grid contents such as doors and keys, agent position, direction and carried object),
    builds the deterministic model and plays it for exactly H steps, as the effective-horizon papers' BRIDGE
    MiniGrid MDPs do. Reaching the goal pays 1 (MiniGrid's own reward decays with the step count; here it
    does not, so that the model is stationary) and the episode then sits in an absorbing goal state;
    lava leads to an absorbing failure state. ``repeat_probability > 0`` gives the sticky-action version
    (Laidlaw et al., ICLR 2024: the previous action repeats with that probability): the model's state is
    then ``(s, previous action)``, observations stay those of ``s``.

    ## Action Space
    ``Discrete(n_actions)``: MiniGrid's first ``n_actions`` actions (0 left, 1 right, 2 forward,
    3 pickup, 4 drop, 5 toggle, 6 done).

    ## Observation Space
    * ``"full"`` (default): ``Box(0, 255, (W, H, 3), uint8)``, MiniGrid's grid encoding (object, colour,
      state) with the agent drawn as ``(10, 0, direction)``: a Markov image for a CNN or, flattened, an MLP.
    * ``"egocentric"``: MiniGrid's own ``(7, 7, 3)`` partial view (not Markov in general).
    * ``"state"``: ``Discrete(S)``, the enumerated state id (for tabular agents).
    The goal and failure states show blank grids (the goal state marks its top-left cell with the goal code).

    ## Rewards
    1 for the step that reaches the goal, else 0. ``info["regret"]`` is the exact ``V*_h − Q*_h`` gap.

    ## Episode End
    Truncates after ``horizon`` steps; never terminates.

    ## Arguments
    * ``level`` ("MiniGrid-Empty-5x5-v0"): a registered MiniGrid id with a deterministic layout for a
      given ``level_seed``.
    * ``horizon`` (20): H ≥ 1.
    * ``n_actions`` (3): 1..7.
    * ``observation`` ("full"): one of ``full``, ``egocentric``, ``state``.
    * ``repeat_probability`` (0.0): sticky-action probability in [0, 1).
    * ``level_seed`` (0): seed of MiniGrid's ``reset`` that draws the layout.

    ## Reference
    Chevalier-Boisvert et al., "Minigrid & Miniworld", NeurIPS 2023 Datasets and Benchmarks; Laidlaw,
    Russell & Dragan, "Bridging RL Theory and Practice with the Effective Horizon", NeurIPS 2023 (BRIDGE).

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/MiniGridFiniteHorizon-v0"

    def __init__(
        self,
        level: str = "MiniGrid-Empty-5x5-v0",
        horizon: int = 20,
        n_actions: int = 3,
        observation: str = "full",
        repeat_probability: float = 0.0,
        level_seed: int = 0,
    ) -> None:
        self.level = str(level)
        H = check_int("horizon", horizon, 1)
        A = check_int("n_actions", n_actions, 1)
        if A > 7:
            raise UserError(f"n_actions must be in 1..7 (MiniGrid's actions), got {A}")
        self.observation = check_choice("observation", observation, OBSERVATIONS)
        self.repeat_probability = check_repeat_probability(repeat_probability)
        self.level_seed = check_int("level_seed", level_seed, 0)
        table = enumerate_level(self.level, A, self.level_seed)
        S = table["next"].shape[0]
        self.base_states = S
        P = np.zeros((S, A, S))
        P[np.arange(S)[:, None], np.arange(A)[None, :], table["next"]] = 1.0
        R = table["reward"]
        rho = np.zeros(S)
        rho[0] = 1.0
        self._images = table["full"] if self.observation == "full" else table["egocentric"]
        if self.observation == "state":
            space: gym.Space[Any] = gym.spaces.Discrete(S)
        else:
            space = gym.spaces.Box(0, 255, self._images.shape[1:], dtype=np.uint8)
        if self.repeat_probability > 0:
            P, R, rho = sticky_model(P, R, rho, self.repeat_probability, horizon=H)
            self._setup_mdp(P, R, rho, H, observation_space=space)
        else:
            self._setup_mdp(P, R, rho, H, observation_space=space)

    def base_state(self, s: int) -> int:
        """The MiniGrid state of model state ``s`` (drops the previous action when actions are sticky)."""
        return s // self.n_actions if self.repeat_probability > 0 else s

    def _observe(self, s: int, h: int) -> Any:
        b = self.base_state(s)
        return np.int64(b) if self.observation == "state" else self._images[b].copy()

    def _solve_extra(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "base_states": self.base_states,
            "repeat_probability": self.repeat_probability,
        }
