"""The base of every env with a finite (latent) state space: an exact model, ``Q*``/``V*`` and exact regret.

A :class:`FiniteHorizonMDPEnv` is an episodic MDP ``(S, A, H, P_h, R_h, ρ)`` given as arrays. It computes
``Q*`` and ``V*`` once with :func:`rl_suite.exact.tabular.backward_induction`, steps the model itself with its
own ``np_random`` and reports, at every step, the exact gap ``V*_h(s_h) − Q*_h(s_h, a_h)`` of the action
taken. By the performance-difference lemma (Kakade & Langford, ICML 2002) these gaps sum, in expectation
over the episode, to ``V*_0(s_0) − V^π_0(s_0)``: the pseudo-regret of the policy played.

Draw order (fixed, so that the same seed gives the same trajectory): ``reset`` draws one uniform (the
start state, by inversion of ``ρ``'s CDF); every ``step`` draws two uniforms in one call: the first picks
the next state by inversion of ``P_h(·|s, a)`` (the toy-text adapter inverts the toy env's outcome list
instead, which has the same law), the second is the step's reward noise (used by subclasses
whose rewards are random; drawn regardless). Subclasses that emit rich observations draw their emission
noise after these.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np

from rl_suite.errors import UserError
from rl_suite.exact import tabular
from rl_suite.spaces import discrete_action
from rl_suite.state import State, check_state, generator_state, integer, optional, rng_state, set_rng_state

ObsT = TypeVar("ObsT")


def sample_index(p: np.ndarray, u: float) -> int:
    """Draw an index from the probability vector ``p`` by inverting its CDF at the uniform ``u``.

    The returned index always has positive probability (``cdf[j-1] <= u·cdf[-1] < cdf[j]``).

    Args:
        p: Probabilities (non-negative, summing to 1 up to round-off).
        u: A uniform draw in ``[0, 1)``.

    Returns:
        The index, as a Python ``int``.
    """
    cdf = np.cumsum(p)
    return int(np.searchsorted(cdf, u * cdf[-1], side="right"))


def _read_only(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.flags.writeable:
        x.flags.writeable = False
    return x


class FiniteHorizonMDPEnv(gym.Env[ObsT, np.int64]):
    """A finite-horizon MDP with an exact model (subclasses build the model and document the env).

    Subclasses call :meth:`_setup_mdp` from their constructor and may override :meth:`_observe` (rich
    observations), :meth:`_obs_info` (per-observation info such as features), :meth:`_reward` (random
    rewards), :meth:`_transition` (sampling from a finer table with the same law, e.g. toy-text outcomes)
    and :meth:`_solve_extra` (family-specific facts for :meth:`solve`).

    Attributes:
        horizon: H, the number of steps per episode.
        n_states: S, the number of (latent) states.
        n_actions: A, the number of actions.
        stationary: Whether ``P_h`` and ``R_h`` do not depend on ``h``.
        Q_star: ``Q*`` of shape ``(H, S, A)`` (read-only).
        V_star: ``V*`` of shape ``(H+1, S)`` with ``V*[H] = 0`` (read-only).
        pi_star: The greedy optimal policy ``(H, S)`` (lowest action among ties; read-only).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012  (gym.Env declares an instance attribute)
    #: Gymnasium id of the env (reported by :meth:`solve`).
    env_id: ClassVar[str] = ""
    #: The info key that carries the state of the current observation.
    state_key: ClassVar[str] = "state"

    horizon: int
    n_states: int
    n_actions: int
    stationary: bool
    Q_star: np.ndarray
    V_star: np.ndarray
    pi_star: np.ndarray

    def _setup_mdp(
        self,
        P: np.ndarray,
        R: np.ndarray,
        rho: np.ndarray,
        horizon: int,
        observation_space: gym.Space[Any] | None = None,
    ) -> None:
        """Store the model, check it and solve it.

        Args:
            P: ``(S, A, S)`` (stationary) or ``(H, S, A, S)`` transitions.
            R: ``(S, A)`` or ``(H, S, A)`` expected rewards (stationary iff ``P`` is).
            rho: ``(S,)`` start distribution.
            horizon: H.
            observation_space: The observation space; ``Discrete(S)`` when ``None``.
        """
        self.stationary = P.ndim == 3
        assert R.ndim == P.ndim - 1, "a stationary P needs a stationary R and vice versa"
        full_P, full_R = tabular.as_finite_horizon(P, R, horizon)
        self.horizon, self.n_states, self.n_actions = full_P.shape[0], full_P.shape[1], full_P.shape[2]
        # One layer per distinct step: (1, ...) when stationary, (H, ...) otherwise.
        self._P = _read_only(np.array(full_P[:1] if self.stationary else full_P))
        self._R = _read_only(np.array(full_R[:1] if self.stationary else full_R))
        self._rho = _read_only(tabular.check_distribution(rho, self.n_states))
        Q, V = tabular.backward_induction(*self._kernel_model(), self.horizon)
        self.Q_star, self.V_star = _read_only(Q), _read_only(V)
        self.pi_star = _read_only(tabular.greedy_policy(Q))
        space: gym.Space[Any] = (
            gym.spaces.Discrete(self.n_states) if observation_space is None else observation_space
        )
        self.observation_space = space
        self.action_space = gym.spaces.Discrete(self.n_actions)
        self._h = 0
        self._s: int | None = None

    # ----------------------------------------------------------------------------------------- the model

    def _layer(self, h: int) -> int:
        return 0 if self.stationary else h

    def _kernel_model(self) -> tuple[np.ndarray, np.ndarray]:
        """``(P, R)`` as the tabular kernels take them: one ``(S, A, S)`` layer when stationary."""
        return (self._P[0], self._R[0]) if self.stationary else (self._P, self._R)

    def model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The exact model (for block MDPs: the latent model).

        Returns:
            ``(P, R, ρ)``: read-only ``(H, S, A, S)`` transitions, ``(H, S, A)`` expected rewards and the
            ``(S,)`` start distribution. A stationary model is a zero-copy broadcast of one layer.
        """
        shape = (self.horizon, self.n_states, self.n_actions)
        return np.broadcast_to(self._P, (*shape, self.n_states)), np.broadcast_to(self._R, shape), self._rho

    def optimal_value(self) -> float:
        """``E_{s~ρ} V*_0(s)``: the expected return of an optimal policy."""
        return tabular.value_of_start(self.V_star, self._rho)

    def policy_values(self, policy: Any) -> np.ndarray:
        """Exact ``V^π`` of a non-stationary policy on the (latent) states.

        Args:
            policy: ``int`` actions ``(H, S)`` or action probabilities ``(H, S, A)``.

        Returns:
            ``(H+1, S)`` values.

        Raises:
            UserError: The policy has the wrong shape or holds invalid actions or probabilities.
        """
        try:
            return tabular.policy_value(*self._kernel_model(), policy, self.horizon)
        except ValueError as err:
            raise UserError(str(err)) from None

    def policy_value(self, policy: Any) -> float:
        """``E_{s~ρ} V^π_0(s)``: the exact expected return of a non-stationary policy.

        Args:
            policy: ``int`` actions ``(H, S)`` or action probabilities ``(H, S, A)``.

        Returns:
            The expected return; ``optimal_value() − policy_value(π)`` is π's exact regret per episode.

        Raises:
            UserError: The policy has the wrong shape or holds invalid actions or probabilities.
        """
        return tabular.value_of_start(self.policy_values(policy), self._rho)

    def solve(self) -> dict[str, Any]:
        """Describe the exact optimum.

        Returns:
            A JSON-serialisable dict: ``env``, ``horizon``, ``n_states``, ``n_actions``, ``stationary``,
            ``optimal_value`` (``E_ρ V*_0``), ``start_states`` (the support of ρ),
            ``optimal_first_actions`` (greedy action at ``h = 0`` per start state, as a dict keyed by the
            state id as a string), ``optimal_start_values`` (``V*_0`` per start state),
            ``random_policy_value`` (uniform actions) and the family's own facts.
        """
        starts = np.flatnonzero(self._rho > 0)
        uniform = np.full((self.horizon, self.n_states, self.n_actions), 1.0 / self.n_actions)
        out: dict[str, Any] = {
            "env": self.env_id,
            "horizon": self.horizon,
            "n_states": self.n_states,
            "n_actions": self.n_actions,
            "stationary": self.stationary,
            "optimal_value": self.optimal_value(),
            "start_states": starts.tolist(),
            "optimal_first_actions": {str(s): int(self.pi_star[0, s]) for s in starts},
            "optimal_start_values": {str(s): float(self.V_star[0, s]) for s in starts},
            "random_policy_value": self.policy_value(uniform),
        }
        out.update(self._solve_extra())
        return out

    def _solve_extra(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------------------------- hooks

    def _observe(self, s: int, h: int) -> ObsT:
        """The observation of state ``s`` at step ``h`` (default: the state id as ``np.int64``)."""
        return np.int64(s)

    @property
    def emission_is_random(self) -> bool:
        """Whether the observation of a state is drawn at random (rich emissions with noise)."""
        return False

    def observation_of(self, s: int, h: int, rng: np.random.Generator | None = None) -> ObsT:
        """The observation the env shows for state ``s`` at step ``h`` (for exact policy evaluation).

        Emission noise, if any (:attr:`emission_is_random`), is drawn from ``rng`` — never from the env's own
        stream, which is left exactly as it was.
        """
        if not self.emission_is_random:
            return self._observe(s, h)
        if rng is None:
            raise ValueError("observation_of needs an rng on an env with random emissions")
        saved, saved_seed = self._np_random, self._np_random_seed
        self._np_random = rng
        try:
            return self._observe(s, h)
        finally:
            self._np_random, self._np_random_seed = saved, saved_seed

    def _obs_info(self, s: int, h: int) -> dict[str, Any]:
        """Extra info that goes with the observation of ``s`` at step ``h`` (default: none)."""
        return {}

    def _transition(self, h: int, s: int, a: int, u: np.ndarray) -> tuple[int, float]:
        """Sample the next state and the realised reward of ``(s, a)`` at step ``h``.

        The default draws ``s_next ~ P_h(·|s, a)`` by inversion at ``u[0]`` and asks :meth:`_reward`.
        Overrides must keep ``E[reward] = R_h(s, a)`` and the law of ``s_next`` equal to ``P_h(·|s, a)``.

        Args:
            h: Step of the action.
            s: State the action is taken in.
            a: Action.
            u: The step's two uniform draws.

        Returns:
            ``(s_next, reward)``.
        """
        s_next = sample_index(self._P[self._layer(h), s, a], float(u[0]))
        return s_next, self._reward(h, s, a, s_next, float(u[1]))

    def _reward(self, h: int, s: int, a: int, s_next: int, u: float) -> float:
        """The realised reward of ``(s, a) → s_next`` at step ``h`` (default: the expected reward).

        Args:
            h: Step of the action.
            s: State the action was taken in.
            a: Action.
            s_next: State reached.
            u: A uniform draw in ``[0, 1)`` reserved for reward noise.
        """
        return float(self._R[self._layer(h), s, a])

    # -------------------------------------------------------------------------------- Gymnasium API

    def _info(self, s: int, h: int) -> dict[str, Any]:
        return {self.state_key: s, **self._obs_info(s, h)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[ObsT, dict]:
        """Start an episode: seed ``self.np_random`` (if ``seed`` is given) and draw ``s_0 ~ ρ``.

        Args:
            seed: Seed of the episode stream (the instance is fixed by the constructor).
            options: Unused.

        Returns:
            The first observation and info with ``optimal_value`` (``V*_0(s_0)``), ``h`` (0), the state
            key and the family's per-observation keys.
        """
        super().reset(seed=seed)
        s = sample_index(self._rho, self.np_random.random())
        self._h, self._s = 0, s
        info = {"optimal_value": float(self.V_star[0, s]), "h": 0, **self._info(s, 0)}
        return self._observe(s, 0), info

    def step(self, action: Any) -> tuple[ObsT, float, bool, bool, dict[str, Any]]:
        """Take one action.

        Args:
            action: An integer in ``[0, n_actions)``.

        Returns:
            ``(obs, reward, terminated, truncated, info)``: ``terminated`` is always ``False`` and
            ``truncated`` is ``True`` after H steps. ``info`` holds ``regret`` (``V*_h(s_h) − Q*_h(s_h,
            a_h)``, exact), ``optimal_value`` (``V*_h(s_h)``), ``expected_reward`` (``R_h(s_h, a_h)``),
            ``h`` (the step of the action just taken), the state key (the state of the returned
            observation) and the family's per-observation keys.

        Raises:
            UserError: The action is not in the action space, :meth:`reset` was not called, or the
                episode already has H steps.
        """
        s, h = self._s, self._h
        if s is None:
            raise UserError("call reset() before step()")
        if h >= self.horizon:
            raise UserError(f"the episode is over after horizon={self.horizon} steps; call reset()")
        a = discrete_action(action, self.n_actions)
        u = self.np_random.random(2)
        layer = self._layer(h)
        s_next, reward = self._transition(h, s, a, u)
        v = float(self.V_star[h, s])
        info = {
            "regret": v - float(self.Q_star[h, s, a]),
            "optimal_value": v,
            "expected_reward": float(self._R[layer, s, a]),
            "h": h,
            **self._info(s_next, h + 1),
        }
        self._h, self._s = h + 1, s_next
        return self._observe(s_next, h + 1), reward, False, self._h >= self.horizon, info

    # ----------------------------------------------------------------------------------------- state

    def get_state(self) -> State:
        """The env's dynamic state as plain data (see :class:`rl_suite.state.StatefulEnv`).

        Entries: ``rng`` (``np_random``, which also draws the emission noise of rich observations), ``h``
        (steps taken this episode) and ``s`` (the current model state, ``None`` before the first reset;
        with sticky actions it includes the previous action). The model, ``Q*`` and ``V*`` are rebuilt by
        the constructor and are not saved.

        ``set_state(get_state())`` on an env made with the same constructor arguments, after one
        ``reset()``, makes every later step bit-identical to this env's (observations, rewards,
        ``terminated``, ``truncated`` and every ``info`` value), also in the middle of an episode.
        """
        return {"rng": rng_state(self.np_random), "h": self._h, "s": self._s}

    def set_state(self, state: State) -> None:
        """Restore a :meth:`get_state` of an env built with the same arguments; see there for the contract.

        Raises:
            StateError: The state does not fit this env (a missing entry, a wrong type, a state or step
                out of range); nothing is changed then.
        """
        checks = {
            "rng": generator_state(type(self.np_random.bit_generator).__name__),
            "h": integer(0, self.horizon + 1),
            "s": optional(integer(0, self.n_states)),
        }
        values = check_state(state, checks, type(self).__name__)
        set_rng_state(self.np_random, values["rng"])
        self._h, self._s = values["h"], values["s"]
