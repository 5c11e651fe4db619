"""Exact learning curves: evaluate an agent's current policy on its env, exactly, while it trains.

:func:`make_evaluator` reads the env once (its exact model, ``V*`` and the uniform policy's value) and
returns an :class:`Evaluator`; ``evaluator(agent)`` reads the agent's current policy through the one policy
API every agent has — :meth:`~rl_suite.agents.base.Agent.policy_actions` (greedy actions of a batch of
observations at step h; :meth:`~rl_suite.agents.base.Agent.policy_env_actions` where an action is more
than an index, on the constrained bandits) — and returns a
:class:`~rl_suite.exact.evaluate.PolicyEvaluation`. Reading the policy never draws from the learning
stream, so training with and without evaluation is identical.

What is evaluated, per env family:

* **finite MDPs** (``tabular_mdp``, ``linear_mdp``, ``block_mdp``, ``minigrid``; the toy-text, lure and
  sticky envs): the agent's action on the observation the env shows for every (step h, model state s) —
  ``env.unwrapped.observation_of(s, h)`` — is a non-stationary policy ``(H, S)``, evaluated exactly by
  backward recursion. Where emissions are random (a block MDP with ``noise > 0``) the exact expectation
  over emissions is not available: each (h, s) is shown :data:`N_EMISSIONS` emissions drawn from a
  generator of fixed seed :data:`SEED` (the same every evaluation, never the env's stream), and the policy
  at (h, s) is the resulting distribution of actions — exact for that sample of emissions;
* **bandits** (``multi_armed_bandit``, ``linear_bandit``): the greedy arm per context. Context-free bandits
  are exact; contextual ones average over :data:`N_CONTEXTS` contexts drawn from a generator of fixed seed
  :data:`SEED` (the same contexts at every evaluation, so curves are comparable);
* **constrained bandits** (``constrained_mab``, ``constrained_linear``, ``safe_linear``): the agent's
  deterministic env action per context (``policy_env_actions``: a policy over arms, or a direction and a
  scale), its exact expected reward and cost from the env's means (the core's ``play``, noise-free), against
  the best feasible play (the core's ``optimum``). ``V^unif``: the uniform mixture over arms, or a uniform
  direction at a uniform scale (``γ ~ U[0, 1]``). The evaluation also carries the mean violation
  ``max(0, E_π[cost] − τ)``; a policy that breaks the constraint may earn more than ``V*`` (negative regret).
  Contextual envs average over :data:`N_CONTEXTS` fixed-seed contexts, as the contextual bandits do;
* **solver tuning** (``solver_tuning``, ``action_mode='grid'``): ``V^π = −`` the mean iterations of the
  grid ω the agent picks for each system's context, over **every** system of the current sequence (the
  env's counterfactual table: exact, and the same at each evaluation), against ``−`` the mean instance-optimal
  iterations; ``V^unif``: the mean over the grid. A continuous ω is off the table: a UserError;
* **POMDPs** (``pomdp``): the agent's frozen history policy (``history_policy``: window-ucbvi,
  belief-planner, omle-lite), by :func:`rl_suite.exact.pomdp.evaluate_window_policy` for a window agent and
  by branching on observations otherwise (NaN where the history tree is too big). An agent without one is
  read as **memoryless** (SB3 PPO/A2C/DQN, tabular learners): ``policy_actions`` on every env observation at
  every step is a window policy of width 0 (width 1 with ``obs_last_action``, whose observation encodes the
  previous action), evaluated by the same function. A frame-stacked agent (``ppo-framestack``: the last k
  observations) is a window policy of width k − 1, evaluated the same way, and a recurrent one
  (``recurrent-ppo``) is a history policy fed one observation at a time, evaluated by branching. ``V*`` is
  the env's reference value and ``V^unif`` the hidden-state chain under uniform actions;
* **RLHF** (``rlhf``): ``J_β`` of the agent's attached sequence policy over enumerated responses
  (:mod:`rl_suite.exact.kl`), averaged over the prompt pool (drawn uniformly).

Any other env is one :class:`~rl_suite.errors.UserError` line naming the families that can be evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from rl_suite.errors import UserError
from rl_suite.exact import evaluate
from rl_suite.exact.evaluate import PolicyEvaluation

#: Seed of the generator that draws sampled contexts and emissions (fixed: every evaluation sees the same).
SEED = 20_240_601
#: Emissions per (step, state) where emissions are random.
N_EMISSIONS = 16
#: Contexts per evaluation on a contextual bandit.
N_CONTEXTS = 1024
#: Action modes of a star-convex constrained bandit (a direction and a scale; the others play a policy).
STAR_CONVEX_MODES = ("scores", "tuple")
#: The env families whose policies can be evaluated exactly (as the error message names them).
FAMILIES = (
    "tabular_mdp",
    "linear_mdp",
    "block_mdp",
    "minigrid",
    "multi_armed_bandit",
    "linear_bandit",
    "constrained_mab",
    "constrained_linear",
    "safe_linear",
    "solver_tuning",
    "pomdp",
    "rlhf",
)

#: What a constrained bandit's core has (its expected reward and cost are exact from its means).
_CONSTRAINED_CORE = ("observe", "optimum", "play", "check_actions", "tau")

#: An evaluator: the agent in, the value of its current policy out.
Evaluator = Callable[[Any], PolicyEvaluation]


def make_evaluator(env: Any) -> Evaluator:
    """The exact evaluator of policies on ``env`` (wrappers are seen through).

    Raises:
        UserError: the env's family has no exact evaluator (the message names those that have).
    """
    base = env.unwrapped
    if all(hasattr(base, m) for m in ("model", "observation_of", "horizon", "n_states", "n_actions")):
        return _finite_mdp(base)
    core = getattr(base, "core", None)
    if core is not None and hasattr(core, "observe") and not hasattr(base, "tau"):
        return _bandit(base, core)
    if reports_violation(env):
        return _constrained(base, core)
    if all(hasattr(base, m) for m in ("table", "omegas", "action_mode", "current_optimal_action")):
        return _solver_tuning(base)
    if all(hasattr(base, m) for m in ("policy_suboptimality", "optimal_values", "reference_probs", "beta")):
        return _rlhf(base)
    if all(hasattr(base, m) for m in ("pomdp", "pseudo_regret", "optimal_value", "max_steps")):
        return _pomdp(base)
    raise UserError(
        f"eval_every: {type(base).__name__} cannot be evaluated exactly; "
        f"policy evaluation supports the env families {', '.join(FAMILIES)}"
    )


def reports_violation(env: Any) -> bool:
    """Whether :func:`make_evaluator` on ``env`` reports a violation (constrained bandits)."""
    core = getattr(env.unwrapped, "core", None)
    return core is not None and all(hasattr(core, m) for m in _CONSTRAINED_CORE)


def _finite_mdp(base: Any) -> Evaluator:
    P, R, rho = base.model()
    H, S, A = int(base.horizon), int(base.n_states), int(base.n_actions)
    model = evaluate.FiniteMDP(P, R, rho, H)
    random_emissions = bool(getattr(base, "emission_is_random", False))
    rng = np.random.default_rng(SEED)
    n = N_EMISSIONS if random_emissions else 1
    # Observations of every state at every step, built once: (H, S·n, ...) (n emissions per state).
    observations = [
        np.stack([np.asarray(base.observation_of(s, h, rng)) for s in range(S) for _ in range(n)])
        for h in range(H)
    ]
    # Scalar observations (state ids, sticky envs' base states): ask the agent once per distinct one.
    distinct = [np.unique(o, return_inverse=True) if o.ndim == 1 else None for o in observations]

    def run(agent: Any) -> PolicyEvaluation:
        if random_emissions:
            probs = np.zeros((H, S, A))
            for h in range(H):
                actions = agent.policy_actions(observations[h], h).reshape(S, n)
                for a in range(A):
                    probs[h, :, a] = (actions == a).mean(axis=1)
            return model.evaluate(probs)
        policy = np.empty((H, S), dtype=np.int64)
        for h in range(H):
            found = distinct[h]
            if found is None:
                policy[h] = agent.policy_actions(observations[h], h)
            else:
                values, inverse = found
                policy[h] = np.asarray(agent.policy_actions(values, h), dtype=np.int64)[inverse.reshape(-1)]
        return model.evaluate(policy)

    return run


def _bandit(base: Any, core: Any) -> Evaluator:
    n = 1 if int(core.context_normals) == 0 else N_CONTEXTS
    z = np.random.default_rng(SEED).standard_normal((n, int(core.context_normals)))
    observations, means = core.observe(z)
    observations, means = np.array(observations), np.array(means)

    def run(agent: Any) -> PolicyEvaluation:
        return evaluate.bandit(means, agent.policy_actions(observations, 0))

    return run


def _constrained(base: Any, core: Any) -> Evaluator:
    n = 1 if int(core.context_normals) == 0 else N_CONTEXTS
    z = np.random.default_rng(SEED).standard_normal((n, int(core.context_normals)))
    observations, table = core.observe(z)
    observations, table = np.array(observations), np.array(table)  # table: (n, 2, K) mean rewards, costs
    best, _ = core.optimum(table)
    optimal = float(np.mean(best))
    # Uniform: the uniform mixture over the K actions; on a star-convex env a uniform direction at a
    # uniform scale γ ~ U[0, 1] (the reward is linear in γ, so that is the direction mean at γ = ½).
    star = getattr(core, "action_mode", None) in STAR_CONVEX_MODES
    uniform = float(table[:, 0].mean() * (0.5 if star else 1.0))
    noise = np.zeros((1, int(core.step_normals)))

    def run(agent: Any) -> PolicyEvaluation:
        actions = agent.policy_env_actions(observations, 0)
        reward, cost = np.empty(n), np.empty(n)
        for i, action in enumerate(actions):
            out = core.play(table[i : i + 1], core.check_actions(action, None), noise)
            reward[i] = float(np.asarray(out["expected_reward"]).reshape(-1)[0])
            cost[i] = float(np.asarray(out["expected_cost"]).reshape(-1)[0])
        violation = float(np.maximum(cost - float(core.tau), 0.0).mean())
        return PolicyEvaluation(float(reward.mean()), optimal, uniform, violation)

    return run


def _solver_tuning(base: Any) -> Evaluator:
    if base.action_mode != "grid":
        raise UserError(
            f"eval_every on {type(base).__name__} needs action_mode='grid' (a continuous ω is off the "
            "counterfactual table, so its iterations are not known without solving every system)"
        )

    def run(agent: Any) -> PolicyEvaluation:
        # The current sequence's table (computed once by the env, then cached): every system's iterations.
        table = base.table
        iterations = np.asarray(table.iterations, dtype=np.float64)
        n = iterations.shape[0]
        if base.contextual:
            observations: Any = np.asarray(table.contexts, dtype=np.float64).reshape(n, 1)
        else:
            observations = np.zeros(n, dtype=np.int64)
        return evaluate.bandit(-iterations, agent.policy_actions(observations, 0))

    return run


def _pomdp(base: Any) -> Evaluator:
    optimal = float(base.optimal_value())
    uniform = evaluate.pomdp_uniform_value(base.pomdp, int(base.max_steps))

    def run(agent: Any) -> PolicyEvaluation:
        policy = getattr(agent, "history_policy", None)
        window = getattr(getattr(agent, "config", None), "window", None)
        if not callable(policy):
            regret = _regret_without_history_policy(base, agent)
        elif isinstance(window, int) and not isinstance(window, bool):
            # A window policy: (h, window) -> action, evaluated per window (no branch limit).
            def windowed(h: int, x: tuple[int, ...]) -> int:
                return int(policy(x)) if h == len(x) // 2 else int(policy((-1, -1) * (h - len(x) // 2) + x))

            regret = base.pseudo_regret(windowed, window=window)
        else:
            regret = base.pseudo_regret(policy)
        regret = math.nan if regret is None else float(regret)  # None: the history tree is too big
        return PolicyEvaluation(optimal - regret, optimal, uniform)

    return run


def _regret_without_history_policy(base: Any, agent: Any) -> float | None:
    """Regret of an agent without a history policy, read from what it sees of the history.

    * **memoryless** (SB3 PPO/A2C/DQN, tabular learners): ``agent.policy_actions`` on the current env
      observation is a window policy of width 0 over model observations (width 1 with ``obs_last_action``,
      whose env observation encodes the previous action);
    * **frame-stacked** (``frame_stack = k > 1``, e.g. ``ppo-framestack``): ``agent.stack_policy_actions``
      on the last k env observations (padded at the episode's start with its first one, as in training)
      is a window policy of width ``k − 1`` (``k`` with ``obs_last_action``);

    both evaluated exactly by :func:`rl_suite.exact.pomdp.evaluate_window_policy`, without branch limit.

    * **recurrent** (``recurrent-ppo``): ``agent.recurrent_action`` fed the episode's env observations one
      by one from a fresh state is a history policy, evaluated by branching on observations (NaN where the
      history tree is too big); the state after each history prefix is kept, so each live history costs
      one recurrent step.

    Returns:
        The env's ``pseudo_regret`` of that policy (``None`` where the history tree is too big).

    Raises:
        UserError: The agent has none of these (its policy cannot be read).
    """
    H, n_obs = int(base.max_steps), int(base.n_observations)
    last_action = bool(getattr(base, "obs_last_action", False))

    def encode(x: tuple[int, ...], t: int) -> int:
        """The env observation at the t-th observation of the window or history ``x``."""
        a_prev = x[2 * t - 1] if t > 0 else -1
        return (a_prev + 1) * n_obs + x[2 * t] if last_action else x[2 * t]

    stack = getattr(getattr(agent, "config", None), "frame_stack", 1)
    if callable(getattr(agent, "recurrent_action", None)):
        states: dict[tuple[int, ...], tuple[int, Any]] = {}

        def step(x: tuple[int, ...]) -> tuple[int, Any]:
            if x not in states:
                prior = None if len(x) == 1 else step(x[:-2])[1]
                states[x] = agent.recurrent_action(np.int64(encode(x, len(x) // 2)), prior)
            return states[x]

        return base.pseudo_regret(lambda x: step(tuple(int(v) for v in x))[0])
    if isinstance(stack, int) and stack > 1 and callable(getattr(agent, "stack_policy_actions", None)):
        cache: dict[tuple[int, ...], int] = {}

        def stacked(h: int, x: tuple[int, ...]) -> int:
            n = len(x) // 2  # observations before the current one in the window
            frames = [encode(x, max(t, 0)) for t in range(n - stack + 1, n + 1)]
            key = tuple(frames)
            if key not in cache:
                cache[key] = int(agent.stack_policy_actions(np.asarray([frames], dtype=np.int64))[0])
            return cache[key]

        return base.pseudo_regret(stacked, window=stack - 1 + int(last_action))
    if not callable(getattr(agent, "policy_actions", None)) or (isinstance(stack, int) and stack > 1):
        raise UserError(
            f"eval_every on a POMDP needs a frozen history policy (history_policy: window-ucbvi, "
            f"belief-planner, omle-lite), a memoryless policy (policy_actions on the current observation), "
            f"a frame-stack policy (stack_policy_actions) or a recurrent one (recurrent_action); "
            f"{type(agent).__name__} has none of these"
        )
    encoded = np.arange(int(base.observation_space.n), dtype=np.int64)
    table = np.stack([np.asarray(agent.policy_actions(encoded, h), dtype=np.int64) for h in range(H)])

    def windowed(h: int, x: tuple[int, ...]) -> int:
        return int(table[h, encode(x, len(x) // 2)])

    return base.pseudo_regret(windowed, window=1 if last_action else 0)


def _rlhf(base: Any) -> Evaluator:
    from rl_suite.exact import kl

    optimal = np.asarray(base.optimal_values, dtype=np.float64)
    ref = np.asarray(base.reference_probs, dtype=np.float64)
    uniform = float(kl.objective(np.full(ref.shape, 1.0 / ref.shape[1]), ref, base.rewards, base.beta).mean())

    def run(agent: Any) -> PolicyEvaluation:
        gaps = np.asarray(base.policy_suboptimality(), dtype=np.float64)
        return PolicyEvaluation(float((optimal - gaps).mean()), float(optimal.mean()), uniform)

    return run


def steps_to_epsilon(steps: Any, regrets: Any, optimal_minus_uniform: float, eps: float) -> int | None:
    """The first evaluated step with ``regret <= eps·(V* − V^unif)`` (up to 1e-9), or ``None``."""
    threshold = eps * max(float(optimal_minus_uniform), 0.0) + evaluate.OPTIMAL_ATOL
    hit = np.flatnonzero(np.asarray(regrets, dtype=np.float64) <= threshold)
    return int(np.asarray(steps)[hit[0]]) if hit.size else None
