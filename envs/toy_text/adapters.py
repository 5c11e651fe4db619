"""Gymnasium's toy-text MDPs (FrozenLake, CliffWalking, Taxi) as finite-horizon envs with exact regret."""

from __future__ import annotations

import inspect
from typing import Any, Protocol, cast

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator

from rl_suite.envs._finite import FiniteHorizonMDPEnv, sample_index
from rl_suite.errors import UserError
from rl_suite.validation import check_choice, check_int

#: Default horizon per toy-text family (Gymnasium's own time limits, 100 for CliffWalking).
DEFAULT_HORIZONS = {
    "FrozenLake": 100,
    "FrozenLake8x8": 200,
    "CliffWalking": 100,
    "CliffWalkingSlippery": 100,
    "Taxi": 200,
}


class _ToyText(Protocol):
    """What the adapter reads from a toy-text env: Discrete spaces and the transition table ``P``."""

    observation_space: gym.spaces.Discrete
    action_space: gym.spaces.Discrete
    P: dict[int, dict[int, list[tuple[Any, ...]]]]


def supported_toy_envs() -> dict[str, int]:
    """The toy-text ids registered by the installed Gymnasium that the adapter supports.

    Returns:
        ``{id: default horizon}``, e.g. ``"FrozenLake-v1"``, ``"CliffWalking-v1"``, ``"Taxi-v4"`` for
        Gymnasium 1.4 (older releases register ``CliffWalking-v0`` and ``Taxi-v3``).
    """
    return {
        env_id: DEFAULT_HORIZONS[spec.name]
        for env_id, spec in gym.registry.items()
        if spec.namespace is None and spec.name in DEFAULT_HORIZONS and "toy_text" in str(spec.entry_point)
    }


def outcome_table(table: dict[int, dict[int, list[tuple]]], n_states: int, n_actions: int) -> dict[str, Any]:
    """Pad a toy-text table ``P[s][a] = [(prob, s', r, terminated), ...]`` into arrays.

    Args:
        table: The toy env's ``P``.
        n_states: S.
        n_actions: A.

    Returns:
        ``prob``, ``next``, ``reward`` and ``terminated`` arrays of shape ``(S, A, K)``, K the longest
        outcome list (padding has probability 0).
    """
    K = max(len(table[s][a]) for s in range(n_states) for a in range(n_actions))
    out = {
        "prob": np.zeros((n_states, n_actions, K)),
        "next": np.zeros((n_states, n_actions, K), dtype=np.int64),
        "reward": np.zeros((n_states, n_actions, K)),
        "terminated": np.zeros((n_states, n_actions, K), dtype=bool),
    }
    for s in range(n_states):
        for a in range(n_actions):
            for k, (p, s_next, r, done) in enumerate(table[s][a]):
                out["prob"][s, a, k], out["next"][s, a, k] = p, s_next
                out["reward"][s, a, k], out["terminated"][s, a, k] = r, done
    return out


def reachable_terminals(outcomes: dict[str, Any], rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The states an episode can visit, and the terminal ones among them.

    A search from the support of ``rho`` along transitions of positive probability, any action, that
    stops at terminal states (those entered by a terminating transition).

    Args:
        outcomes: The arrays of :func:`outcome_table`.
        rho: ``(S,)`` start distribution.

    Returns:
        ``(reachable, terminal)``: two ``(S,)`` bool masks.
    """
    live = outcomes["prob"] > 0
    nxt, done = outcomes["next"], outcomes["terminated"]
    reach = rho > 0
    terminal = np.zeros_like(reach)
    frontier = reach.copy()
    while frontier.any():
        rows = frontier & ~terminal
        terminal[nxt[rows][live[rows] & done[rows]]] = True
        new = np.zeros_like(reach)
        new[nxt[rows][live[rows]]] = True
        frontier = new & ~reach
        reach |= new
    return reach, terminal


def absorbing_terminals(outcomes: dict[str, Any], rho: np.ndarray, name: str) -> np.ndarray:
    """Make the toy env's reachable terminal states absorbing with zero reward (in place).

    A state is terminal when a terminating transition from a reachable state enters it. Its outcomes
    become a probability-1 self-loop with reward 0, so the finite-horizon return from ``rho`` equals the
    toy env's episodic return truncated at H. States no episode can visit keep the toy env's outcomes
    (Taxi has such states: a delivered passenger with the taxi elsewhere).

    Args:
        outcomes: The arrays of :func:`outcome_table` (modified in place).
        rho: ``(S,)`` start distribution.
        name: The toy env id, for the error message.

    Returns:
        ``(S,)`` bool mask of the terminal states.

    Raises:
        UserError: A reachable non-terminal state enters a terminal state without terminating, so the
            table has no consistent absorbing form.
    """
    prob, nxt, done = outcomes["prob"], outcomes["next"], outcomes["terminated"]
    reach, terminal = reachable_terminals(outcomes, rho)
    source = (reach & ~terminal)[:, None, None]
    clash = source & (prob > 0) & ~done & terminal[nxt]
    if clash.any():
        s, a, k = np.argwhere(clash)[0]
        raise UserError(
            f"{name}: state {nxt[s, a, k]} is entered both with and without termination (from state {s}, "
            f"action {a}); it cannot be made absorbing"
        )
    prob[terminal] = 0.0
    prob[terminal, :, 0] = 1.0
    nxt[terminal] = np.flatnonzero(terminal)[:, None, None]
    outcomes["reward"][terminal] = 0.0
    done[terminal] = True
    return terminal


def tabular_model(outcomes: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``P`` ``(S, A, S)`` and expected rewards ``R`` ``(S, A)`` of padded outcome arrays."""
    prob, nxt = outcomes["prob"], outcomes["next"]
    S, A, K = prob.shape
    P = np.zeros((S, A, S))
    s_idx, a_idx, _ = np.indices((S, A, K))
    np.add.at(P, (s_idx, a_idx, nxt), prob)
    return P, (prob * outcomes["reward"]).sum(axis=-1)


class ToyTextFiniteHorizon(FiniteHorizonMDPEnv[np.int64]):
    """A Gymnasium toy-text MDP played for exactly H steps, with its exact finite-horizon optimum.

    ## Description
    The adapter builds the toy env (``FrozenLake``, ``CliffWalking`` or ``Taxi``, with its keyword
    arguments), reads its own model ``env.unwrapped.P[s][a] = [(prob, s', r, terminated), ...]`` and its
    start distribution ``initial_state_distrib``, and turns them into a finite-horizon MDP: terminal
    states (those a terminating transition enters, searched from the start states) become absorbing with
    zero reward, and episodes
    last exactly H steps, so ``V*`` is the best expected return within H steps (Gymnasium's time limit
    made part of the problem). The adapter steps this model itself with its own ``np_random`` — it samples
    one of the toy env's outcomes ``(prob, s', r)`` of the current state and action — so its transitions
    and rewards have the toy env's law, and the regret it reports is exact for them. Taxi's
    ``fickle_passenger`` option changes the state outside ``P`` and is refused.

    ## Action Space
    ``Discrete(A)`` as the toy env (4 for FrozenLake and CliffWalking, 6 for Taxi).

    ## Observation Space
    ``Discrete(S)`` as the toy env: the state id.

    ## Rewards
    The toy env's rewards; 0 in terminal states. Every step's info carries the exact ``regret``
    ``V*_h(s_h) − Q*_h(s_h, a_h)``, ``optimal_value`` (``V*_h(s_h)``), ``expected_reward``, ``h``,
    ``state`` and ``terminal`` (whether ``state`` is terminal: the toy env would have ended the episode);
    reset's info carries ``optimal_value`` (``V*_0(s_0)``), ``h``, ``state`` and ``terminal``.

    ## Episode End
    Never terminates (terminal states are absorbing); truncates after ``horizon`` steps.

    ## Arguments
    * ``name`` ("FrozenLake-v1"): a toy-text id of the installed Gymnasium; see
      :func:`supported_toy_envs` (Gymnasium 1.4: ``FrozenLake-v1``, ``FrozenLake8x8-v1``,
      ``CliffWalking-v1``, ``CliffWalkingSlippery-v1``, ``Taxi-v4``), or a bare name (``"Taxi"``) for its
      newest installed version.
    * ``horizon`` (None): H ≥ 1; by default 100 (FrozenLake, CliffWalking) or 200 (FrozenLake8x8, Taxi).
    * ``**toy_kwargs``: keyword arguments of the toy env, e.g. ``is_slippery``, ``map_name``, ``desc``,
      ``success_rate``, ``reward_schedule`` (FrozenLake), ``is_slippery`` (CliffWalking), ``is_rainy``
      (Taxi); :meth:`extra_kwargs` lists them with their defaults, and the CLI accepts them
      (``rl-suite solve rl_suite/FrozenLakeFiniteHorizon-v0 --set is_slippery=false``).

    ## Attributes
    * ``name``, ``toy_kwargs``; ``toy_env``: the unwrapped toy env (its ``P`` is the source of the model).
    * ``terminal_states``: ``(S,)`` bool mask of terminal states (states no episode can visit are not
      marked and keep the toy env's outcomes).
    * ``Q_star``, ``V_star``, ``pi_star``, ``model()``, ``optimal_value()``, ``policy_value(pi)``,
      ``solve()``: see :class:`~rl_suite.envs._finite.FiniteHorizonMDPEnv`.

    ## Reference
    Towers et al., "Gymnasium: A Standard Interface for Reinforcement Learning Environments", 2024 (the
    toy-text envs); Puterman, "Markov Decision Processes", Wiley 1994, ch. 4 (finite-horizon backward
    induction); Dietterich, "Hierarchical RL with the MAXQ Value Function Decomposition", JAIR 2000 (Taxi).

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/ToyTextFiniteHorizon-v0"

    @staticmethod
    def _toy_id(name: Any) -> Any:
        """A bare family name (``"Taxi"``) as its newest installed toy-text id; anything else as given."""
        if isinstance(name, str) and "-v" not in name:
            supported = supported_toy_envs()
            versions = sorted((gym.spec(i).version or 0, i) for i in supported if gym.spec(i).name == name)
            return versions[-1][1] if versions else name
        return name

    @classmethod
    def extra_kwargs(cls, name: str = "FrozenLake-v1", **_: Any) -> dict[str, Any]:
        """The keyword arguments forwarded to the toy env ``name``, with its defaults (``**toy_kwargs``).

        What ``rl_suite.config.make_env_checked`` (and so the CLI's ``--set``) accepts besides the named
        arguments: the toy env constructor's own, e.g. ``is_slippery``, ``map_name``, ``desc`` (FrozenLake),
        ``is_rainy`` (Taxi); ``render_mode`` is not one (the adapter does not render). ``{}`` for an unknown
        ``name`` (the constructor then names the supported ones).
        """
        toy_id = cls._toy_id(name)
        if toy_id not in supported_toy_envs():
            return {}
        spec = gym.spec(toy_id)
        entry_point = spec.entry_point
        creator = entry_point if callable(entry_point) else load_env_creator(str(entry_point))
        params = inspect.signature(creator).parameters
        out = {
            k: p.default
            for k, p in params.items()
            if k not in ("self", "render_mode") and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }
        return {**out, **{k: v for k, v in spec.kwargs.items() if k != "render_mode"}}

    def __init__(self, name: str = "FrozenLake-v1", horizon: int | None = None, **toy_kwargs: Any) -> None:
        supported = supported_toy_envs()
        name = self._toy_id(name)
        self.name = check_choice("name", name, tuple(sorted(supported)))
        horizon = check_int("horizon", supported[name] if horizon is None else horizon, 1)
        if "render_mode" in toy_kwargs:
            raise UserError("render_mode is not supported: the adapter does not render")
        if toy_kwargs.get("fickle_passenger"):
            raise UserError("fickle_passenger=True changes Taxi's state outside its P table; use False")
        self.toy_kwargs = dict(toy_kwargs)
        spec = gym.spec(name)
        entry_point = spec.entry_point
        creator = entry_point if callable(entry_point) else load_env_creator(str(entry_point))
        try:
            toy = creator(**{**spec.kwargs, **toy_kwargs})
        except TypeError as err:
            raise UserError(f"bad keyword argument for {name}: {err}") from None
        self.toy_env = toy
        table = cast(_ToyText, toy)  # supported_toy_envs() lists only Gymnasium's toy-text envs
        S, A = int(table.observation_space.n), int(table.action_space.n)
        rho = getattr(toy, "initial_state_distrib", None)
        rho = np.asarray(getattr(toy, "isd", None) if rho is None else rho, dtype=np.float64)
        outcomes = outcome_table(table.P, S, A)
        self.terminal_states = absorbing_terminals(outcomes, rho, name)
        self.terminal_states.flags.writeable = False
        self._outcomes = outcomes
        P, R = tabular_model(outcomes)
        self._setup_mdp(P, R, rho, horizon)

    def _transition(self, h: int, s: int, a: int, u: np.ndarray) -> tuple[int, float]:
        out = self._outcomes
        k = sample_index(out["prob"][s, a], float(u[0]))
        return int(out["next"][s, a, k]), float(out["reward"][s, a, k])

    def _obs_info(self, s: int, h: int) -> dict[str, Any]:
        return {"terminal": bool(self.terminal_states[s])}

    def _solve_extra(self) -> dict[str, Any]:
        return {
            "toy_env": self.name,
            "toy_kwargs": {
                k: v for k, v in self.toy_kwargs.items() if isinstance(v, (bool, int, float, str))
            },
            "terminal_states": np.flatnonzero(self.terminal_states).tolist(),
        }
