"""Env wrappers shared across families: sticky actions with exact regret on finite models.

Sticky actions (Machado et al., "Revisiting the Arcade Learning Environment", JAIR 2018): at every step
after the first, the previous action is applied again with probability p instead of the chosen one. The
stochastic effective-horizon paper (Laidlaw et al., ICLR 2024) uses p = 0.25 on its BRIDGE MDPs.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import gymnasium as gym
import numpy as np

from rl_suite.errors import UserError
from rl_suite.exact import tabular
from rl_suite.exact.effective_horizon import check_repeat_probability, sticky_model
from rl_suite.spaces import discrete_action


class _FiniteModelEnv(Protocol):
    """What the exact sticky model needs from the wrapped env: its finite model and its state's info key."""

    state_key: str

    def model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


class StickyActions(gym.Wrapper):
    """Repeat the previous action with probability ``repeat_probability`` (never at the first step).

    Works on any env with a ``Discrete`` action space. The wrapper draws the repeats from its own
    generator, seeded from ``reset(seed=...)``.

    Regret: on an env with a finite model (``env.unwrapped.model()`` and a state key in ``info``, as every
    :class:`~rl_suite.envs._finite.FiniteHorizonMDPEnv`), the wrapper solves the exact sticky model
    (:func:`rl_suite.exact.effective_horizon.sticky_model`, state = (state, previous action)) and replaces
    ``info["regret"]`` and ``info["optimal_value"]`` with that model's gap ``V*_h − Q*_h`` of the *chosen*
    action: exact for the sticky problem. :meth:`model` returns the sticky model, so
    :func:`rl_suite.analyze.analyze` sees it. On any other env ``info["regret"]`` is the
    wrapped env's regret of the action actually *applied* (documented, not the sticky problem's).

    Args:
        env: The env to wrap (Discrete actions).
        repeat_probability: p in ``[0, 1)``; 0.25 by default.

    Info keys added: ``applied_action`` (the action the env received) and ``repeated`` (bool).
    """

    def __init__(self, env: gym.Env, repeat_probability: float = 0.25) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise UserError(f"StickyActions needs a Discrete action space, got {env.action_space}")
        self.repeat_probability = check_repeat_probability(repeat_probability)
        self.n_actions = int(env.action_space.n)
        self._rng = np.random.default_rng()
        self._prev: int | None = None
        self._state: int | None = None
        self._h = 0
        base = env.unwrapped
        self._exact = callable(getattr(base, "model", None)) and hasattr(base, "state_key")
        if self._exact:
            finite = cast(_FiniteModelEnv, base)  # checked just above
            self._state_key = finite.state_key
            P, R, rho = finite.model()
            self._model = sticky_model(P, R, rho, self.repeat_probability)
            self.Q_star, self.V_star = tabular.backward_induction(*self._model[:2])

    def model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The exact sticky model ``(P, R, ρ)`` over states ``s·A + previous action``.

        Raises:
            UserError: The wrapped env has no finite model.
        """
        if not self._exact:
            raise UserError("the wrapped env has no finite model (env.unwrapped.model())")
        return self._model

    def optimal_value(self) -> float:
        """``E_ρ V*`` of the sticky problem (finite models only)."""
        return tabular.value_of_start(self.V_star, self.model()[2])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Reset the env and the wrapper's generator (seeded from ``seed`` when given)."""
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(0x571C,)))
        self._prev, self._h = None, 0
        if self._exact:
            self._state = int(info[self._state_key])
            info["optimal_value"] = float(self.V_star[0, self._state * self.n_actions])
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Apply ``action``, or with probability p the previous applied action."""
        chosen = discrete_action(action, self.n_actions)
        prev = self._prev
        repeated = prev is not None and self._rng.random() < self.repeat_probability
        applied = prev if prev is not None and repeated else chosen
        obs, reward, terminated, truncated, info = self.env.step(applied)
        if self._exact:
            assert self._state is not None  # set by reset(); the wrapped env refuses a step before it
            z = self._state * self.n_actions + (prev if prev is not None else 0)
            v = float(self.V_star[self._h, z])
            info["regret"] = v - float(self.Q_star[self._h, z, chosen])
            info["optimal_value"] = v
            self._state = int(info[self._state_key])
        info["applied_action"], info["repeated"] = int(applied), bool(repeated)
        self._prev, self._h = int(applied), self._h + 1
        if terminated or truncated:
            self._prev = None
        return obs, reward, terminated, truncated, info
