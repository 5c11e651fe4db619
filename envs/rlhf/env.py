"""The RLHF sandbox's two Gymnasium faces: whole responses (sequence agents) and next tokens (SB3).

Both faces wrap one :class:`~rl_suite.rlhf.task.RLHFTask`, one KL coefficient ``beta`` and one
frozen reference policy π_ref built from the env's own config. When the task is enumerable
(``V**L <= MAX_ENUMERABLE``) the env tabulates, once, the gold rewards of every (prompt, response), π_ref,
``π*_β ∝ π_ref·exp(r/β)`` and ``V*_β`` per prompt (:mod:`rl_suite.exact.kl`).
"""

from __future__ import annotations

import contextlib
import copy
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np
import torch

from rl_suite.errors import UserError
from rl_suite.exact import kl
from rl_suite.rlhf.task import RLHFTask, make_task, reward_matrix
from rl_suite.sequence_policy import (
    POLICY_KINDS,
    SequencePolicy,
    TabularPolicy,
    make_policy,
    response_table,
    sft_reference,
)
from rl_suite.spaces import discrete_action
from rl_suite.state import (
    Check,
    State,
    array,
    check_state,
    generator_state,
    integer,
    optional,
    rng_state,
    set_rng_state,
)
from rl_suite.validation import check_probability

REFERENCES = ("sft", "uniform")
_REFERENCE_CACHE: dict[tuple[Any, ...], SequencePolicy] = {}


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise UserError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (the previous thread count is restored after it).

    Torch's CPU thread pool (OpenMP) does not survive ``fork``: a child forked after the parent ran a
    multi-threaded op deadlocks on its first parallel op. Training π_ref on one thread keeps the pool from
    starting, so ``gymnasium.make_vec(..., vectorization_mode="async")`` with the default ``fork`` start
    method works (the models are tiny: one thread is as fast, and the results are the same).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def build_reference(
    task: RLHFTask, kind: str, reference: str, steps: int, noise: float, seed: int
) -> SequencePolicy:
    """π_ref of the given kind: SFT on noisy-teacher demonstrations (``"sft"``) or the uniform policy.

    The uniform policy is the kind with zero output logits (a zero table, or a zero output layer).

    Args:
        task: The task.
        kind: Policy kind (``tabular``, ``gru``, ``transformer``).
        reference: ``"sft"`` or ``"uniform"``.
        steps: SFT steps.
        noise: Per-token noise of the SFT demonstrations.
        seed: Seed of the initial parameters and of the demonstrations.

    Returns:
        The frozen reference policy.
    """
    policy = make_policy(kind, task, seed=seed)
    if reference == "uniform":
        with torch.no_grad():
            if kind == "tabular":
                cast(TabularPolicy, policy).table.zero_()
            else:  # the gru and transformer policies end in a Linear output layer
                head = cast(torch.nn.Linear, policy.head)
                head.weight.zero_()
                head.bias.zero_()
        return policy.frozen_copy()
    return sft_reference(policy, task, steps=steps, seed=seed, noise=noise)


class _RLHFEnv(gym.Env[np.ndarray, Any], ABC):
    """What both faces share: the task, β, π_ref, the exact tables and the prompt draws."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012  (gym.Env declares an instance attribute)
    env_id: ClassVar[str] = ""

    def __init__(
        self,
        task: str = "target_string",
        vocab_size: int | None = None,
        prompt_length: int | None = None,
        response_length: int | None = None,
        n_prompts: int | None = None,
        task_seed: int = 0,
        scoring: str = "fraction",
        ngram: int = 2,
        preference_temperature: float = 1.0,
        beta: float = 0.1,
        reference: str = "sft",
        reference_policy: str = "auto",
        sft_steps: int = 300,
        sft_noise: float = 0.5,
        sft_seed: int = 0,
        horizon: int = 1,
    ) -> None:
        self.task: RLHFTask = make_task(
            task,
            vocab_size=vocab_size,
            prompt_length=prompt_length,
            response_length=response_length,
            n_prompts=n_prompts,
            seed=_int("task_seed", task_seed, 0),
            temperature=preference_temperature,
            scoring=scoring,
            n=ngram,
        )
        self.beta = kl.check_beta(beta)
        self.horizon = _int("horizon", horizon, 1)
        if reference not in REFERENCES:
            raise UserError(f"reference must be one of {', '.join(map(repr, REFERENCES))}, got {reference!r}")
        kind = reference_policy
        if kind == "auto":
            kind = "tabular" if self.task.enumerable else "gru"
        if kind not in POLICY_KINDS:
            raise UserError(
                f"reference_policy must be 'auto' or one of {', '.join(POLICY_KINDS)}, got {kind!r}"
            )
        steps, seed = _int("sft_steps", sft_steps, 0), _int("sft_seed", sft_seed, 0)
        sft_noise = check_probability("sft_noise", sft_noise)
        self.reference_config = {
            "reference": reference,
            "policy": kind,
            "sft_steps": steps,
            "sft_noise": sft_noise,
            "sft_seed": seed,
        }
        key = (*sorted(self.task.describe().items()), task_seed, *sorted(self.reference_config.items()))
        self.rewards: np.ndarray | None = None
        self.reference_probs: np.ndarray | None = None
        self.optimal_probs: np.ndarray | None = None
        self.optimal_values: np.ndarray | None = None
        # Torch runs on one thread here, so that a process forked after this (AsyncVectorEnv's default
        # start method) does not deadlock on a thread pool it inherited (see _single_thread).
        with _single_thread():
            if key not in _REFERENCE_CACHE:  # built once per process and configuration
                _REFERENCE_CACHE[key] = build_reference(self.task, kind, reference, steps, sft_noise, seed)
            #: The frozen π_ref (a private copy: moving it to a device does not touch other envs).
            self.reference: SequencePolicy = copy.deepcopy(_REFERENCE_CACHE[key])
            self.max_rewards = self.task.max_reward(self.task.prompts)
            self.best_responses = self.task.best_response(self.task.prompts)
            if self.task.enumerable:
                self.rewards = reward_matrix(self.task)
                responses = self.task.all_responses()
                self.reference_probs = response_table(self.reference, self.task.prompts, responses)
                self.optimal_probs = kl.optimal_policy(self.reference_probs, self.rewards, self.beta)
                self.optimal_values = kl.optimal_value(self.reference_probs, self.rewards, self.beta)
        for name in (
            "max_rewards",
            "best_responses",
            "rewards",
            "reference_probs",
            "optimal_probs",
            "optimal_values",
        ):
            arr = getattr(self, name)
            if arr is not None:
                arr.flags.writeable = False
        self._prompt: int | None = None
        self._round = 0
        self._setup_face()

    @abstractmethod
    def _setup_face(self) -> None:
        """Set the spaces and the face's own state (subclasses)."""

    # ------------------------------------------------------------------------------------------ prompts

    def _draw_prompt(self, options: dict[str, Any] | None) -> int:
        if options and "prompt_index" in options:
            i = options["prompt_index"]
            if (
                isinstance(i, (bool, np.bool_))
                or not isinstance(i, (int, np.integer))
                or not (0 <= i < self.task.n_prompts)
            ):
                raise UserError(
                    f"options['prompt_index'] must be an integer in [0, {self.task.n_prompts}), got {i!r}"
                )
            return int(i)
        return int(self.np_random.integers(self.task.n_prompts))

    def _prompt_info(self, i: int) -> dict[str, Any]:
        return {
            "prompt_index": i,
            "optimal_value": self._optimal_value(i),
            "max_reward": float(self.max_rewards[i]),
        }

    def _optimal_value(self, i: int) -> float:
        return float(self.max_rewards[i])

    # ------------------------------------------------------------------------------------------ state

    def get_state(self) -> State:
        """The env's dynamic state as plain data (see :class:`rl_suite.state.StatefulEnv`).

        Entries: ``rng`` (``np_random``, which draws the prompts), ``prompt`` (the current prompt's index,
        ``None`` before the first reset) and ``round`` (responses answered this episode); the token face
        adds its response so far. The task, π_ref and the exact tables are rebuilt by the constructor and
        are not saved. A policy attached with ``attach_policy`` belongs to the agent, not to the env: it is
        not part of the state, and the agent attaches it again after a restore.

        ``set_state(get_state())`` on an env made with the same constructor arguments, after one
        ``reset()``, makes every later step bit-identical to this env's (observations, rewards,
        ``terminated``, ``truncated`` and every ``info`` value, given the same attached policy), also in
        the middle of an episode.
        """
        return {"rng": rng_state(self.np_random), "prompt": self._prompt, "round": self._round}

    def _state_checks(self) -> dict[str, Check]:
        return {
            "rng": generator_state(type(self.np_random.bit_generator).__name__),
            "prompt": optional(integer(0, self.task.n_prompts)),
            "round": integer(0, self.horizon + 1),
        }

    def _restore(self, values: State) -> None:
        set_rng_state(self.np_random, values["rng"])
        self._prompt, self._round = values["prompt"], values["round"]

    def set_state(self, state: State) -> None:
        """Restore a :meth:`get_state` of an env built with the same arguments; see there for the contract.

        Raises:
            StateError: The state does not fit this env (a missing entry, a wrong type or shape, a prompt
                or position out of range); nothing is changed then.
        """
        self._restore(check_state(state, self._state_checks(), type(self).__name__))

    # ------------------------------------------------------------------------------------------ solve

    def solve(self) -> dict[str, Any]:
        """Describe the exact optimum: per prompt ``V*_β``, the best responses and π*'s summary.

        Returns:
            A JSON-serialisable dict: the env, the task's knobs, ``beta``, the reference's config and, per
            prompt, ``prompt``, ``best_response`` and ``max_reward`` (always exact); when enumerable also
            ``optimal_value`` (``V*_β = β·log Z``), ``optimal_expected_reward`` (``E_{π*}[r]``),
            ``optimal_kl`` (``KL(π* ‖ π_ref)``), ``optimal_mode`` (π*'s most likely response) with its
            probability, ``reference_expected_reward`` and ``reference_suboptimality`` (``V*_β − J_β(π_ref)``,
            the regret of not training at all); plus their means over the prompt pool.
        """
        out: dict[str, Any] = {
            "env": self.env_id,
            **self.task.describe(),
            "beta": self.beta,
            "reference": self.reference_config,
        }
        rows: list[dict[str, Any]] = []
        for i, prompt in enumerate(self.task.prompts):
            rows.append(
                {
                    "prompt": prompt.tolist(),
                    "best_response": self.best_responses[i].tolist(),
                    "max_reward": float(self.max_rewards[i]),
                }
            )
        if self.rewards is not None:
            ref, opt, rew = self.reference_probs, self.optimal_probs, self.rewards
            assert ref is not None and opt is not None and self.optimal_values is not None
            responses = self.task.all_responses()
            stats = {
                "optimal_value": self.optimal_values,
                "optimal_expected_reward": (opt * rew).sum(axis=1),
                "optimal_kl": kl.kl_divergence(opt, ref),
                "reference_expected_reward": (ref * rew).sum(axis=1),
                "reference_suboptimality": kl.suboptimality(ref, ref, rew, self.beta),
            }
            mode = opt.argmax(axis=1)
            for i, row in enumerate(rows):
                row.update({k: float(v[i]) for k, v in stats.items()})
                row["optimal_mode"] = responses[mode[i]].tolist()
                row["optimal_mode_probability"] = float(opt[i, mode[i]])
            out.update({f"mean_{k}": float(v.mean()) for k, v in stats.items()})
        else:
            out["note"] = (
                f"V**L = {self.task.n_responses} responses cannot be enumerated: only the best response and "
                "max reward are exact; regret is the unregularised gap max_y r(x,y) - r(x,y)"
            )
        out["mean_max_reward"] = float(self.max_rewards.mean())
        out["prompts"] = rows
        return out


class RLHFSequence(_RLHFEnv):
    """Prompt → whole response, scored by a gold reward; the KL-regularised optimum is known exactly.

    ## Description
    A contextual bandit over token sequences, the sandbox of sequence-level RLHF (REBEL, A*-PO, DPO, GRPO,
    ...). Each round shows a prompt ``x`` from a fixed pool (``P`` tokens over ``V`` ids); the action is a
    whole response ``y`` of exactly ``L`` tokens; the reward is the task's gold reward ``r(x, y)``. The
    target of KL-regularised RLHF is ``J_β(π) = E_x[E_{y~π}r(x, y) − β·KL(π(·|x) ‖ π_ref(·|x))]``, where
    π_ref is :attr:`reference`, built by the env from its config (SFT on noisy-teacher demonstrations with
    a fixed seed, or uniform). For enumerable tasks (``V**L <= 65536``) the env tabulates
    ``π*_β ∝ π_ref·exp(r/β)`` and ``V*_β(x) = β·log Z(x)`` (:meth:`solve`).

    ## Action Space
    ``MultiDiscrete([V]*L)``: the response's tokens. A response of another length or with a token outside
    ``[0, V)`` is a one-line :class:`~rl_suite.errors.UserError`.

    ## Observation Space
    ``MultiDiscrete([V]*P)``: the prompt's tokens (int64). ``info["prompt_index"]`` is its row in
    ``unwrapped.task.prompts``.

    ## Rewards
    The gold reward ``r(x, y)`` (see :mod:`rl_suite.rlhf.task`). ``info`` of every step carries
    ``gold_reward``, ``max_reward`` (``max_y r(x, y)``, exact for every task), ``reward_gap``
    (``max_y r(x, y) − r(x, y)``), ``optimal_value`` (``V*_β(x)``; ``max_y r(x, y)`` when not enumerable),
    ``prompt_index`` (the prompt just answered; ``reset``'s info has the first prompt's),
    ``next_prompt_index`` (the prompt of the returned observation) and ``regret``:

    * **with a policy attached** (``env.unwrapped.attach_policy(policy)`` once, then
      ``env.unwrapped.policy_updated()`` after every parameter update) and an enumerable task: the exact
      KL-regularised suboptimality ``V*_β(x) − J_β(π_t; x) = β·KL(π_t(·|x) ‖ π*(·|x))`` of the attached
      policy at the prompt just answered, enumerating ``π_t(·|x)`` (cached until the next update). Its
      expectation over prompts is ``J_β(π*) − J_β(π_t)``, the quantity sequence agents are compared on.
    * **otherwise** (no policy attached — e.g. a random or SB3 agent — or a task too large to enumerate):
      the unregularised gap ``max_y r(x, y) − r(x, y)`` of the response played (the regularised
      ``V*_β − [r − β·log(π/π_ref)]`` would need the sampling probability).
      ``info["regret_is_kl_regularised"]`` says which one it is.

    ## Episode End
    Terminates after ``horizon`` rounds (default 1: one response per episode, a new prompt at ``reset``).

    ## Arguments
    * ``task`` ("target_string"): ``target_string``, ``digit_sum``, ``sort``, ``reverse`` or ``linear_ngram``.
    * ``vocab_size``, ``prompt_length``, ``response_length``, ``n_prompts`` (``None``: the task's defaults,
      e.g. 4, 2, 4, 16 for ``target_string``): V, P, L and the pool size.
    * ``task_seed`` (0): seed of the pool and of hidden task parts. ``scoring`` ("fraction" or "exact") for
      verifier tasks; ``ngram`` (2) for ``linear_ngram``.
    * ``preference_temperature`` (1.0): Bradley–Terry temperature of ``task.prefer``.
    * ``beta`` (0.1): the KL coefficient β > 0.
    * ``reference`` ("sft" or "uniform"), ``reference_policy`` ("auto": tabular when enumerable, else GRU),
      ``sft_steps`` (300), ``sft_noise`` (0.5), ``sft_seed`` (0): how π_ref is built.
    * ``horizon`` (1): rounds per episode.

    ## Reference
    Gao et al., "REBEL: Reinforcement Learning via Regressing Relative Rewards", NeurIPS 2024; Brantley et
    al., "Accelerating RL for LLM Reasoning with Optimal Advantage Regression", 2025; Rafailov et al.,
    "Direct Preference Optimization", NeurIPS 2023.

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/RLHFSequence-v0"

    def _setup_face(self) -> None:
        self.observation_space = gym.spaces.MultiDiscrete([self.task.vocab_size] * self.task.prompt_length)
        self.action_space = gym.spaces.MultiDiscrete([self.task.vocab_size] * self.task.response_length)
        self._policy: SequencePolicy | None = None
        self._policy_temperature = 1.0
        self._policy_gaps: np.ndarray | None = None

    # ---------------------------------------------------------------------------------- regret contract

    def attach_policy(self, policy: SequencePolicy, temperature: float = 1.0) -> None:
        """Report the exact KL-regularised suboptimality of ``policy`` (sampled at ``temperature``) as regret.

        Args:
            policy: The agent's current policy (the env reads it, never trains it).
            temperature: The temperature the agent samples at.
        """
        if not isinstance(policy, SequencePolicy):
            raise UserError(f"attach_policy takes a SequencePolicy, got {type(policy).__name__}")
        if (policy.vocab_size, policy.prompt_length, policy.response_length) != (
            self.task.vocab_size,
            self.task.prompt_length,
            self.task.response_length,
        ):
            raise UserError(
                "the attached policy's vocab_size, prompt_length or response_length differ from the task's"
            )
        self._policy, self._policy_temperature, self._policy_gaps = policy, float(temperature), None

    def policy_updated(self) -> None:
        """Forget the cached suboptimality: call after every update of the attached policy's parameters."""
        self._policy_gaps = None

    def detach_policy(self) -> None:
        """Go back to the unregularised gap as regret."""
        self._policy, self._policy_gaps = None, None

    def policy_suboptimality(
        self, policy: SequencePolicy | None = None, temperature: float = 1.0
    ) -> np.ndarray:
        """Exact ``V*_β(x) − J_β(π; x)`` for every pool prompt, ``(n_prompts,)``.

        Args:
            policy: The policy (``None``: the attached one, cached per update).
            temperature: Its sampling temperature (ignored for the attached one).

        Raises:
            UserError: The task is not enumerable, or no policy is given or attached.
        """
        if self.rewards is None:
            self.task.all_responses()  # raises the one-line "above the enumerable limit" error
        if policy is None and self._policy is None:
            raise UserError("no policy attached: call env.unwrapped.attach_policy(policy) first")
        return self._gaps(np.arange(self.task.n_prompts), policy, temperature)

    def _gaps(
        self, rows: np.ndarray, policy: SequencePolicy | None = None, temperature: float = 1.0
    ) -> np.ndarray:
        """``V*_β(x) − J_β(π; x)`` of the prompts ``rows``; ``policy=None``: the attached one, cached.

        The attached policy's rows are computed as they are first asked for after an update: a step needs
        only its own prompt's row, and scoring the ``V**L`` responses of one prompt instead of the whole
        pool keeps exact per-step regret affordable for shared-weight policies.
        """
        if policy is not None:
            return self._score(rows, policy, temperature)
        assert self._policy is not None
        if self._policy_gaps is None:
            self._policy_gaps = np.full(self.task.n_prompts, np.nan)
        todo = rows[np.isnan(self._policy_gaps[rows])]
        if todo.size:
            self._policy_gaps[todo] = self._score(todo, self._policy, self._policy_temperature)
        return self._policy_gaps[rows]

    def _score(self, rows: np.ndarray, policy: SequencePolicy, temperature: float) -> np.ndarray:
        assert self.reference_probs is not None and self.rewards is not None
        p = response_table(policy, self.task.prompts[rows], self.task.all_responses(), temperature)
        return kl.suboptimality(p, self.reference_probs[rows], self.rewards[rows], self.beta)

    def __getstate__(self) -> dict[str, Any]:
        # The attached policy belongs to the agent: a restored env starts detached (the agent re-attaches).
        state = self.__dict__.copy()
        state["_policy"], state["_policy_gaps"] = None, None
        return state

    # --------------------------------------------------------------------------------------- Gymnasium

    def _optimal_value(self, i: int) -> float:
        return float(self.max_rewards[i] if self.optimal_values is None else self.optimal_values[i])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        """Start an episode: ``options={"prompt_index": i}`` picks the prompt, else it is drawn uniformly.

        Returns:
            The prompt and info with ``prompt_index``, ``optimal_value`` and ``max_reward``.
        """
        super().reset(seed=seed)
        self._prompt, self._round = self._draw_prompt(options), 0
        return self.task.prompts[self._prompt].copy(), self._prompt_info(self._prompt)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Answer the current prompt with a whole response.

        Args:
            action: ``L`` tokens in ``[0, V)``.

        Returns:
            ``(next prompt, gold reward, terminated, False, info)``; see the class docstring for ``info``.

        Raises:
            UserError: :meth:`reset` was not called, or the response has the wrong length or a token
                outside the vocabulary.
        """
        i = self._prompt
        if i is None:
            raise UserError("call reset() before step()")
        try:
            y = self.task.check_responses(action)
        except UserError as exc:
            raise UserError(
                f"action {np.asarray(action).tolist()} is outside {self.action_space}: {exc}"
            ) from None
        if y.shape[0] != 1:
            raise UserError(
                f"action must be one response of {self.task.response_length} tokens, got {y.shape[0]}"
            )
        reward = float(self.task.reward(self.task.prompts[i], y)[0])
        gap = float(self.max_rewards[i]) - reward
        exact_regret = self._policy is not None and self.rewards is not None
        regret = float(self._gaps(np.array([i]))[0]) if exact_regret else gap
        self._round += 1
        terminated = self._round >= self.horizon
        if not terminated:
            self._prompt = int(self.np_random.integers(self.task.n_prompts))
        info = {
            **self._prompt_info(i),
            "regret": regret,
            "gold_reward": reward,
            "reward_gap": gap,
            "regret_is_kl_regularised": exact_regret,
            "next_prompt_index": self._prompt,
        }
        return self.task.prompts[self._prompt].copy(), reward, terminated, False, info


class RLHFToken(_RLHFEnv):
    """The RLHF sandbox one token at a time, for SB3 and any Gymnasium agent.

    ## Description
    The same tasks as :class:`RLHFSequence` (prompt pool, gold reward, π_ref, β), but the response is built
    token by token: each step appends one token; after ``L`` tokens the response is scored by the gold
    reward. This is the token-level MDP that PPO-style RLHF optimises (without the KL penalty, which the
    agent does not see here).

    ## Action Space
    ``Discrete(V)``: the next token.

    ## Observation Space
    ``Box(0, 1, (P·V + L·(V+1) + L+1,), float32)``: the one-hot codes of the prompt's ``P`` tokens, of the
    response so far (``L`` slots, empty ones holding the padding id ``V``) and of the number of tokens
    written so far ``t``. :meth:`tokens` gives the same as ids. (One-hot rather than ``MultiDiscrete``: it
    is what SB3's networks feed on anyway, and sb3-contrib's recurrent policy refuses ``MultiDiscrete``.)

    ## Rewards
    0 until the last token of a response; then the gold reward ``r(x, y)``. ``info["regret"]`` is 0 before
    the last token and the unregularised gap ``max_y r(x, y) − r(x, y)`` at it (exact: the best reward is
    known for every task), so a response's regret sums to its gap. Every ``info`` carries
    ``optimal_value`` (``max_y r(x, y)``), ``max_reward``, ``prompt_index`` and ``position``; the last
    token's also ``gold_reward`` and ``response``.

    ## Episode End
    Terminates after ``horizon`` responses (default 1, i.e. after ``L`` steps).

    ## Arguments
    Those of :class:`RLHFSequence` (``beta`` and the reference only matter to :meth:`solve`).

    ## Reference
    Ouyang et al., "Training language models to follow instructions with human feedback", NeurIPS 2022 (the
    token-level view); Gao et al., "REBEL", NeurIPS 2024 (the task family).

    ## Version History
    * v0: initial version.
    """

    env_id = "rl_suite/RLHFToken-v0"

    def _setup_face(self) -> None:
        V, P, L = self.task.vocab_size, self.task.prompt_length, self.task.response_length
        self.action_space = gym.spaces.Discrete(V)
        sizes = np.array([V] * P + [V + 1] * L + [L + 1])
        self._onehot_offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(int(sizes.sum()),), dtype=np.float32)
        self._response = np.full(L, V, dtype=np.int64)
        self._t = 0

    def get_state(self) -> State:
        """The state of :meth:`_RLHFEnv.get_state` plus ``response`` (the tokens so far, padded) and ``t``."""
        return {**super().get_state(), "response": self._response.copy(), "t": self._t}

    def _state_checks(self) -> dict[str, Check]:
        V, L = self.task.vocab_size, self.task.response_length
        response = array((L,), np.int64, 0, V + 1)  # V pads the slots not written yet
        return {**super()._state_checks(), "response": response, "t": integer(0, L + 1)}

    def _restore(self, values: State) -> None:
        super()._restore(values)
        self._response, self._t = values["response"], values["t"]

    def tokens(self) -> np.ndarray:
        """The current observation as token ids: prompt, padded response so far, position ``t`` (int64)."""
        assert self._prompt is not None
        return np.concatenate([self.task.prompts[self._prompt], self._response, [self._t]]).astype(np.int64)

    def _observe(self) -> np.ndarray:
        obs = np.zeros(cast(gym.spaces.Box, self.observation_space).shape, dtype=np.float32)  # _setup_face
        obs[self._onehot_offsets + self.tokens()] = 1.0
        return obs

    def _start_response(self) -> None:
        self._response[:] = self.task.vocab_size
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        """Start an episode: ``options={"prompt_index": i}`` picks the prompt, else it is drawn uniformly."""
        super().reset(seed=seed)
        self._prompt, self._round = self._draw_prompt(options), 0
        self._start_response()
        return self._observe(), {**self._prompt_info(self._prompt), "position": 0}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Append one token; score the response after its ``L``-th token.

        Raises:
            UserError: :meth:`reset` was not called or the token is outside ``Discrete(V)``.
        """
        i = self._prompt
        if i is None:
            raise UserError("call reset() before step()")
        a = discrete_action(action, self.task.vocab_size)
        self._response[self._t] = a
        self._t += 1
        info: dict[str, Any] = {**self._prompt_info(i), "position": self._t, "regret": 0.0}
        if self._t < self.task.response_length:
            return self._observe(), 0.0, False, False, info
        response = self._response.copy()
        reward = float(self.task.reward(self.task.prompts[i], response)[0])
        info.update(
            regret=float(self.max_rewards[i]) - reward, gold_reward=reward, response=response, prompt_index=i
        )
        self._round += 1
        terminated = self._round >= self.horizon
        if not terminated:
            self._prompt = int(self.np_random.integers(self.task.n_prompts))
            self._start_response()
        return self._observe(), reward, terminated, False, info
