"""The machinery every RLHF sequence agent shares: generation rounds, env stepping, optimiser, costs, metrics.

A :class:`SequenceAgent` drives ``rl_suite/RLHFSequence-v0`` one **round** at a time:

1. pick ``batch_prompts`` prompts and sample ``samples_per_prompt`` responses from the current policy
   (prompt-major, one group per prompt);
2. step the env once per generated response (``reset(options={"prompt_index": i})`` then ``step(y)``), so
   the regret recorder writes one row per online generation: the exact per-prompt suboptimality of the
   attached policy (the env enumerates π_t(·|x));
3. once every response of the round has been stepped, score them (the env's gold reward, or a learned
   Bradley–Terry reward model when ``reward_model="learned"``), call the subclass's :meth:`_update`, and
   tell the env the policy changed (``policy_updated``).

A round may straddle two ``learn`` calls (the runner checkpoints between chunks): the pending responses
are part of the saved state. Subclasses set :attr:`samples_per_prompt` and implement :meth:`_update`
(and optionally :meth:`_setup`, the offline stage run once before the first round).

Metrics follow TRL's GRPO names (``reward``, ``reward_std``, ``frac_reward_zero_std``, ``kl``, ``entropy``,
``completions/mean_length``, ``num_tokens``, ``loss``, ``grad_norm``) plus cost accounting, since A*-PO's
claims are about cost (``cost/generations``, ``cost/generated_tokens``, ``cost/offline_generations``,
``cost/policy_fwd``, ``cost/policy_bwd``, ``cost/ref_fwd``, ``cost/rm_calls``, ``time/step_s``,
``mem/peak_bytes``; forward/backward counts are in sequences) and the exact mean ``suboptimality`` over
the whole prompt pool when the task is enumerable. Metric passes themselves are not counted as cost.
"""

from __future__ import annotations

import copy
import resource
import time
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeVar

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field

from rl_suite.agents.base import Agent, AgentConfig, Callback, _rng_for
from rl_suite.agents.checkpoint import (
    FORMAT,
    check_meta,
    class_id,
    parse_torch,
    read_sealed,
    reading,
    torch_payload,
    write_sealed,
)
from rl_suite.agents.rlhf_losses import group_reward_std
from rl_suite.contracts import RLHFSandbox
from rl_suite.devices import resolve_device
from rl_suite.errors import UserError
from rl_suite.exact import kl
from rl_suite.rlhf.task import reward_matrix
from rl_suite.sequence_policy import SequencePolicy, make_policy, response_table

#: Cost counters, all cumulative over the run.
COST_KEYS = (
    "cost/generations",
    "cost/generated_tokens",
    "cost/offline_generations",
    "cost/offline_generated_tokens",
    "cost/policy_fwd",
    "cost/policy_bwd",
    "cost/ref_fwd",
    "cost/rm_calls",
    "cost/preference_queries",
)


class SequenceAgentConfig(AgentConfig):
    """Settings shared by every sequence agent (subclasses add their algorithm's knobs)."""

    policy: Literal["reference", "tabular", "gru", "transformer", "hf"] = "reference"
    """``"reference"``: start from a trainable copy of the env's π_ref (standard RLHF); otherwise a fresh
    policy of that kind (``rl_suite.sequence_policy.make_policy``; ``"hf"``: a Hugging Face causal LM
    built from ``HF_DEFAULT_CONFIG``, needs ``rl_suite[hf]``, nothing is downloaded)."""
    lr: float | None = Field(None, gt=0.0)
    """Adam learning rate; ``None``: the agent's default for the kind of policy it trains
    (``default_lrs``: tabular 0.1·4/L for responses of L tokens, GRU 3e-3, transformer and HF 1e-3; A*-PO
    0.05·4/L, 3e-3, 5e-4·max(1, 0.1/β), 1e-3). The papers' 1e-6…3e-6 are for billion-parameter models; with
    Adam a step moves the parameters by about ``lr`` whatever the loss's scale, so the rate belongs to the
    parameterisation: one logit per response prefix (tabular) takes far larger steps than shared weights."""
    batch_prompts: int = Field(8, ge=1)
    """Prompts per round (each gets ``samples_per_prompt`` generations)."""
    temperature: float = Field(1.0, gt=0.0)
    """Sampling temperature; log-probabilities use the same scaling (as TRL and the REBEL code do)."""
    max_grad_norm: float | None = Field(1.0, gt=0.0)
    """Gradient-norm clip per optimiser step (``None``: no clipping; the norm is logged either way)."""
    device: str = "auto"
    """``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``."""
    bf16: bool = False
    """Run the loss computations under ``torch.autocast(dtype=bfloat16)``."""
    log_completions: int = Field(8, ge=0)
    """Rows of the latest round kept for the tracker's ``completions`` table (0: none)."""
    exact_metrics: bool = True
    """Log the exact mean suboptimality over the prompt pool after each update (enumerable tasks)."""


class PipelineConfig(SequenceAgentConfig):
    """Sequence-agent settings with the reward source: the gold reward, or a BT model fitted first."""

    reward_model: Literal["gold", "learned"] = "gold"
    """``"gold"``: optimise the env's gold/verifier reward; ``"learned"``: fit a Bradley–Terry reward model
    on ``rm_pairs`` preference pairs from π_ref first (the RLHF pipeline), then optimise its scores."""
    rm_pairs: int = Field(512, ge=2)
    """Preference pairs (from π_ref, labelled by the task's BT judge) for ``reward_model="learned"``."""
    rm_epochs: int = Field(60, ge=1)
    """Epochs of reward-model training."""
    rm_lr: float = Field(1e-2, gt=0.0)
    """Adam learning rate of the reward model."""
    rm_center_coef: float = Field(0.01, ge=0.0)
    """TRL's ``center_rewards_coefficient``."""


@dataclass
class Round:
    """One round of online generations and what the env said about them."""

    prompt_index: np.ndarray  # (B,) indices into task.prompts
    responses: torch.Tensor  # (B*n, L) prompt-major
    n: int  # samples per prompt
    gold: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (B*n,) env rewards, filled as stepped
    stepped: int = 0
    started: float = 0.0

    @property
    def size(self) -> int:
        """Responses in the round (B·n)."""
        return int(self.responses.shape[0])

    @property
    def group_ids(self) -> torch.Tensor:
        """``(B·n,)`` group (prompt slot) of every response."""
        return torch.arange(len(self.prompt_index), device=self.responses.device).repeat_interleave(self.n)

    @property
    def sample_prompt_index(self) -> np.ndarray:
        """``(B·n,)`` pool index of every response's prompt."""
        return np.repeat(self.prompt_index, self.n)


def peak_memory_bytes(device: torch.device) -> int:
    """Peak CUDA memory allocated on a CUDA device, else the process's RSS high-water mark."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


#: Adam learning rate by policy kind when ``lr`` is not set. On the sandbox's five tasks (β = 0.1, 1,000
#: online generations) the GRU at 1e-3 barely left π_ref on ``reverse`` and ``digit_sum`` for every agent,
#: 3e-3 learned, 1e-2 diverged; the transformer learned at 1e-3; the HF GPT-2 fell into a prompt-blind
#: policy at 3e-3 and 1e-2 in some seeds, never at 1e-3.
DEFAULT_LRS: Mapping[str, float] = MappingProxyType(
    {"tabular": 0.1, "gru": 3e-3, "transformer": 1e-3, "hf": 1e-3}
)
#: Response length the tabular rates are for. On ``digit_sum`` (L = 2; β = 0.1, 3,000 generations, 5 seeds)
#: REBEL ends at 0.020 with lr 0.1 and 0.008 with 0.2, A*-PO at 0.010 with 0.05 and 0.004 with 0.1, while
#: on the L = 4 tasks the doubled rates are worse (sensitivity study of ``benchmarks/bench_rlhf.py``).
TABULAR_LR_LENGTH = 4

#: The settings model of a ``SequenceAgent[SeqConfigT]``.
SeqConfigT = TypeVar("SeqConfigT", bound=SequenceAgentConfig)


class SequenceAgent(Agent[SeqConfigT]):
    """Base of the RLHF sequence agents (REBEL, A*-PO, GRPO, RLOO, online/offline DPO, reward model)."""

    Config: ClassVar[type[AgentConfig]] = SequenceAgentConfig
    requires = RLHFSandbox
    #: Online generations per prompt in a round (REBEL 2, A*-PO 1, GRPO G, ...).
    samples_per_prompt: int = 1
    #: Whether the agent attaches its policy to the env (exact regret); reward-model reranking does not.
    attaches_policy: ClassVar[bool] = True
    #: Adam learning rate by policy kind when ``lr`` is not set.
    default_lrs: ClassVar[Mapping[str, float]] = DEFAULT_LRS

    def __init__(
        self,
        env: gym.Env | gym.vector.VectorEnv,
        config: SeqConfigT | Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(env, config, seed)
        if isinstance(env, gym.vector.VectorEnv):
            raise UserError(
                f"{type(self).__name__} runs on a single rl_suite/RLHFSequence-v0 env, not a vector env"
            )
        base = self.contract(RLHFSandbox)
        cfg = self.config
        #: The env, typed as what the sequence agents read.
        self.base = base
        self.task = base.task
        self.env_beta = float(base.beta)
        self.device = resolve_device(cfg.device)
        self.rng = _rng_for(self.seed)
        torch.manual_seed(self.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.ref = base.reference.frozen_copy().to(self.device)
        if cfg.policy == "reference":
            self.policy = base.reference.trainable_copy().to(self.device)
        else:
            self.policy = make_policy(cfg.policy, self.task, seed=self.seed).to(self.device)
        #: The learning rate in use: the setting, or the default for this policy and β (:meth:`default_lr`).
        self.lr = float(cfg.lr) if cfg.lr is not None else self.default_lr(self.policy, self.env_beta)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.lr)
        self.costs: dict[str, float] = dict.fromkeys(COST_KEYS, 0.0)
        self.metrics: dict[str, float] = {}
        self.completions: list[dict[str, Any]] = []
        self._tracked: list[dict[str, float]] = []
        self.rounds = 0
        self.num_tokens = 0
        self._round: Round | None = None
        self._reset_seeded = False
        self._prompts_all = torch.as_tensor(np.array(self.task.prompts), dtype=torch.long, device=self.device)
        self._exact: tuple[np.ndarray, np.ndarray, torch.Tensor] | None = None
        self.reward_net: torch.nn.Module | None = None
        if isinstance(cfg, PipelineConfig) and cfg.reward_model == "learned":
            self._fit_reward_model()
        self._setup()
        if self.attaches_policy:
            self.base.attach_policy(self.policy, temperature=cfg.temperature)

    @classmethod
    def default_lr(cls, policy: SequencePolicy, beta: float) -> float:
        """The learning rate when ``lr`` is unset: ``default_lrs`` of the policy's kind.

        A tabular rate is for responses of :data:`TABULAR_LR_LENGTH` tokens and scales as
        ``TABULAR_LR_LENGTH / L``: a response's log-probability is the sum of its ``L`` token
        log-probabilities, each moved by about ``lr`` per Adam step. ``beta`` is the env's KL coefficient
        (A*-PO's transformer rate follows it; the others do not).
        """
        lr = cls.default_lrs[policy.kind]
        if policy.kind == "tabular":
            lr *= TABULAR_LR_LENGTH / policy.response_length
        return lr

    # ------------------------------------------------------------------ hooks
    def _setup(self) -> None:
        """The offline stage, run once at construction (A*-PO's V̂*, a preference dataset, a reward model)."""

    @abstractmethod
    def _update(self, rnd: Round, rewards: torch.Tensor) -> dict[str, float]:
        """Learn from a finished round; ``rewards`` ``(B*n,)`` are the training rewards. Returns metrics."""

    def _rewards(self, rnd: Round) -> torch.Tensor:
        """Training rewards of a finished round: the env's gold rewards, or the learned model's scores."""
        if self.reward_net is not None:
            return self.score(self.prompts_of(rnd), rnd.responses)
        self.costs["cost/rm_calls"] += rnd.size
        return torch.as_tensor(rnd.gold, dtype=torch.float32, device=self.device)

    def score(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """``(B,)`` training rewards of arbitrary responses: the learned model's, else the task's gold."""
        self.costs["cost/rm_calls"] += responses.shape[0]
        if self.reward_net is not None:
            with torch.no_grad():
                return self.reward_net(prompts, responses).float()
        gold = self.task.reward(prompts.cpu().numpy(), responses.cpu().numpy())
        return torch.as_tensor(gold, dtype=torch.float32, device=self.device)

    def _fit_reward_model(self) -> None:
        """The pipeline's first stage: preferences on π_ref pairs, then a Bradley–Terry reward model."""
        # Function-level: reward_model imports this module (its agents subclass SequenceAgent).
        from rl_suite.agents.reward_model import RewardNet, fit_reward_model, preference_pairs

        cfg = self.config
        assert isinstance(cfg, PipelineConfig)  # only the pipeline's settings ask for a learned reward
        data = preference_pairs(self.task, self.base.reference, cfg.rm_pairs, 1.0, self.rng)
        self.costs["cost/offline_generations"] += 2 * cfg.rm_pairs
        self.costs["cost/offline_generated_tokens"] += 2 * data.chosen.numel()
        self.costs["cost/preference_queries"] += cfg.rm_pairs
        self.reward_net = RewardNet(self.task).to(self.device)
        stats = fit_reward_model(
            self.reward_net,
            data,
            epochs=cfg.rm_epochs,
            lr=cfg.rm_lr,
            center_coef=cfg.rm_center_coef,
            seed=self.seed,
            device=self.device,
        )
        self.rm_stats = {f"rm/{k}": v for k, v in stats.items()}

    def _choose_prompts(self) -> np.ndarray:
        """The round's prompt indices (uniform, without replacement when the pool is large enough)."""
        cfg = self.config
        n = self.task.prompts.shape[0]
        return self.rng.choice(n, size=cfg.batch_prompts, replace=cfg.batch_prompts > n)

    def _generate(self, prompt_index: np.ndarray) -> torch.Tensor:
        """``samples_per_prompt`` responses per prompt from the current policy (prompt-major)."""
        cfg = self.config
        with torch.no_grad():
            return self.policy.sample(
                self._prompts_all[torch.as_tensor(prompt_index, device=self.device)],
                n=self.samples_per_prompt,
                temperature=cfg.temperature,
                generator=self.generator,
            )

    # ------------------------------------------------------------------ helpers for subclasses
    def prompts_of(self, rnd: Round) -> torch.Tensor:
        """``(B*n, P)`` prompt tokens of every response of a round."""
        idx = torch.as_tensor(rnd.sample_prompt_index, device=self.device)
        return self._prompts_all[idx]

    def autocast(self) -> AbstractContextManager[Any]:
        """bf16 autocast when ``bf16`` is on, else nothing."""
        if not self.config.bf16:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def policy_logprob(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """``(B,)`` ℓ_θ with gradient (counted as policy forwards)."""
        self.costs["cost/policy_fwd"] += responses.shape[0]
        return self.policy.logprob(prompts, responses, temperature=self.config.temperature)

    def ref_logprob(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """``(B,)`` ℓ_ref, no gradient (counted as reference forwards)."""
        self.costs["cost/ref_fwd"] += responses.shape[0]
        with torch.no_grad():
            return self.ref.logprob(prompts, responses, temperature=self.config.temperature)

    def optimise(self, loss: torch.Tensor, n_sequences: int) -> float:
        """One Adam step on ``loss`` (gradient clipped to ``max_grad_norm``); returns the pre-clip norm."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.costs["cost/policy_bwd"] += n_sequences
        params = [p for p in self.policy.parameters() if p.grad is not None]
        clip = self.config.max_grad_norm if self.config.max_grad_norm is not None else float("inf")
        norm = float(torch.nn.utils.clip_grad_norm_(params, clip)) if params else 0.0
        self.optimizer.step()
        return norm

    def minibatches(self, n: int, size: int) -> Iterator[torch.Tensor]:
        """Shuffled index minibatches of ``range(n)`` (the agent's own RNG)."""
        order = torch.as_tensor(self.rng.permutation(n), device=self.device)
        for start in range(0, n, size):
            yield order[start : start + size]

    # ------------------------------------------------------------------ the loop
    def learn(self, total_steps: int, callback: Callback | None = None) -> SequenceAgent:
        """Step the env ``total_steps`` more times, one online generation per step, updating per round."""
        if total_steps < 0:
            raise UserError(f"total_steps must be >= 0, got {total_steps}")
        env = self.env
        for _ in range(total_steps):
            if self._round is None:
                self._start_round()
            rnd = self._round
            assert rnd is not None
            i = rnd.stepped
            options = {"prompt_index": int(rnd.sample_prompt_index[i])}
            if self._reset_seeded:
                env.reset(options=options)
            else:
                env.reset(seed=self.seed, options=options)
                self._reset_seeded = True
            response = rnd.responses[i].detach().cpu().numpy().astype(np.int64)
            _, reward, _, _, info = env.step(response)
            rnd.gold[i] = float(reward)
            rnd.stepped += 1
            self.num_timesteps += 1
            if rnd.stepped == rnd.size:
                self._finish_round(rnd)
                self._round = None
            if callback is not None and callback(self, info) is False:
                break
        return self

    def _start_round(self) -> None:
        start = time.perf_counter()
        idx = self._choose_prompts()
        responses = self._generate(idx)
        n = self.samples_per_prompt
        self.costs["cost/generations"] += responses.shape[0]
        self.costs["cost/generated_tokens"] += responses.numel()
        self.num_tokens += responses.shape[0] * (self.task.prompt_length + self.task.response_length)
        self._round = Round(idx, responses, n, np.zeros(responses.shape[0]), 0, start)
        self._round_time = time.perf_counter() - start

    def _finish_round(self, rnd: Round) -> None:
        start = time.perf_counter()
        rewards = self._rewards(rnd)
        self.policy.train()
        with self.autocast():
            out = self._update(rnd, rewards)
        if self.attaches_policy:
            self.base.policy_updated()
        self.rounds += 1
        step_s = self._round_time + time.perf_counter() - start
        self._log_round(rnd, rewards, out, step_s)

    # ------------------------------------------------------------------ metrics
    def _log_round(self, rnd: Round, rewards: torch.Tensor, out: dict[str, float], step_s: float) -> None:
        cfg = self.config
        m: dict[str, float] = {}
        r = rewards.detach().float()
        m["reward"] = float(r.mean())
        m["rewards/gold/mean"] = float(np.mean(rnd.gold))
        if rnd.n >= 2:
            std = group_reward_std(r, rnd.group_ids)
            m["reward_std"] = float(std.mean())
            m["frac_reward_zero_std"] = float((std < 1e-8).float().mean())
        else:
            m["reward_std"] = float(r.std()) if r.numel() > 1 else 0.0
            m["frac_reward_zero_std"] = 0.0
        prompts = self.prompts_of(rnd)
        with torch.no_grad():
            lp = self.policy.logprob(prompts, rnd.responses, temperature=cfg.temperature)
            lr = self.ref.logprob(prompts, rnd.responses, temperature=cfg.temperature)
            ent = self.policy.entropy(prompts, rnd.responses, temperature=cfg.temperature)
        length = float(self.task.response_length)
        m["kl"] = float((lp - lr).mean())
        m["entropy"] = float(ent.mean()) / length
        m["completions/mean_length"] = length
        m["completions/min_length"] = length
        m["completions/max_length"] = length
        m["num_tokens"] = float(self.num_tokens)
        m["learning_rate"] = self.lr  # TRL's name; the default of the policy kind when lr is unset
        m.update(out)
        m.update(self.costs)
        m["time/step_s"] = step_s
        m["mem/peak_bytes"] = float(peak_memory_bytes(self.device))
        m["rounds"] = float(self.rounds)
        if cfg.exact_metrics and self.task.enumerable:
            m.update(self.exact_metrics())
        self.metrics = m
        if len(self._tracked) < 100_000:
            self._tracked.append({"t": float(self.num_timesteps), **m})
        if cfg.log_completions:
            k = min(cfg.log_completions, rnd.size)
            pidx = rnd.sample_prompt_index
            self.completions = [
                {
                    "step": self.num_timesteps,
                    "prompt": " ".join(map(str, self.task.prompts[pidx[i]].tolist())),
                    "completion": " ".join(map(str, rnd.responses[i].tolist())),
                    "reward": float(r[i]),
                    "gold_reward": float(rnd.gold[i]),
                }
                for i in range(k)
            ]

    def exact_metrics(self) -> dict[str, float]:
        """Exact mean over the prompt pool of J_β(π*) − J_β(π_θ), E_π[r] and KL(π_θ‖π_ref) (env β)."""
        if self._exact is None:
            responses = torch.as_tensor(self.task.all_responses(), dtype=torch.long, device=self.device)
            with torch.no_grad():
                ref_table = self.ref.response_probs(self._prompts_all, responses, temperature=1.0)
            self._exact = (reward_matrix(self.task), ref_table.double().cpu().numpy(), responses)
        rewards, ref_probs, responses = self._exact
        p = response_table(self.policy, self._prompts_all, responses, temperature=self.config.temperature)
        return {
            "suboptimality": float(kl.suboptimality(p, ref_probs, rewards, self.env_beta).mean()),
            "exact/expected_reward": float((p * rewards).sum(axis=1).mean()),
            "exact/kl": float(kl.kl_divergence(p, ref_probs).mean()),
        }

    def diagnostics(self) -> dict[str, float]:
        """The latest round's metrics (the runner logs them as ``agent/<name>``)."""
        return dict(self.metrics)

    def drain_tracked(self) -> list[dict[str, float]]:
        """Every round's metrics (with ``t``, the env step) since the last call, for the tracker."""
        rows, self._tracked = self._tracked, []
        return rows

    def tracker_tables(self) -> dict[str, list[dict[str, Any]]]:
        """Tables for the tracker: the latest round's ``completions`` (TRL's ``log_completions``)."""
        return {"completions": list(self.completions)} if self.completions else {}

    # ------------------------------------------------------------------ SB3-shaped API
    def predict(self, obs: Any, deterministic: bool = True) -> np.ndarray:
        """A response ``(L,)`` for one prompt ``(P,)`` (the mode over all responses when enumerable)."""
        prompt = torch.as_tensor(np.array(obs), dtype=torch.long, device=self.device)
        if prompt.shape != (self.task.prompt_length,):
            raise UserError(
                f"predict takes one prompt of shape ({self.task.prompt_length},), got {tuple(prompt.shape)}"
            )
        with torch.no_grad():
            if deterministic and self.task.enumerable:
                responses = torch.as_tensor(self.task.all_responses(), dtype=torch.long, device=self.device)
                probs = self.policy.response_probs(
                    prompt[None], responses, temperature=self.config.temperature
                )
                return responses[int(probs[0].argmax())].cpu().numpy()
            out = self.policy.sample(
                prompt[None], n=1, temperature=self.config.temperature, generator=self.generator
            )
        return out[0].cpu().numpy()

    def _extra_state(self) -> dict[str, Any]:
        """Subclass state for checkpoints: tensors and plain values only (no numpy arrays, no objects)."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`_extra_state` returned."""

    def save(self, path: str | Path) -> None:
        """Write config, policy, optimiser, RNGs, counters and any pending round to one sealed file.

        The file is a ``torch.save`` archive of tensors and plain values only (numpy state converted), so
        :meth:`load` reads it with ``weights_only=True``.
        """
        rnd = self._round
        state = {
            "format": FORMAT,
            "class": class_id(type(self)),
            "config": self.config.model_dump(mode="json"),
            "seed": self.seed,
            "num_timesteps": self.num_timesteps,
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "costs": dict(self.costs),
            "metrics": dict(self.metrics),
            "rounds": self.rounds,
            "num_tokens": self.num_tokens,
            "reset_seeded": self._reset_seeded,
            "round": None
            if rnd is None
            else {
                "prompt_index": torch.as_tensor(np.asarray(rnd.prompt_index, dtype=np.int64)),
                "responses": rnd.responses.cpu(),
                "n": int(rnd.n),
                "gold": torch.as_tensor(np.asarray(rnd.gold, dtype=np.float64)),
                "stepped": int(rnd.stepped),
            },
            "round_time": float(getattr(self, "_round_time", 0.0)),
            "extra": self._extra_state(),
        }
        write_sealed(path, torch_payload(state))

    @classmethod
    def load(cls, path: str | Path, env: gym.Env | gym.vector.VectorEnv) -> SequenceAgent:
        """Rebuild an agent written by :meth:`save` on ``env`` (a one-line error if the file is damaged)."""
        with reading(path):
            state = check_meta(parse_torch(read_sealed(path), map_location="cpu"), cls, path)
            agent = cls(env, state["config"], seed=int(state["seed"]))  # re-runs the (seeded) offline stage
            agent.policy.load_state_dict(state["policy"])
            agent.optimizer.load_state_dict(state["optimizer"])
            agent.rng.bit_generator.state = state["rng"]
            agent.generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            agent.costs, agent.metrics = dict(state["costs"]), dict(state["metrics"])
            agent.rounds, agent.num_tokens = int(state["rounds"]), int(state["num_tokens"])
            agent.num_timesteps = int(state["num_timesteps"])
            agent._reset_seeded = bool(state["reset_seeded"])
            agent._round_time = float(state["round_time"])
            if state["round"] is not None:
                agent._round = agent._saved_round(state["round"])
            agent._load_extra_state(state["extra"])
        if agent.attaches_policy:
            agent.base.policy_updated()
        return agent

    def _saved_round(self, saved: dict[str, Any]) -> Round:
        """The pending round of a checkpoint, checked for consistent sizes."""
        responses = saved["responses"].to(self.device)
        rnd = Round(
            saved["prompt_index"].numpy().astype(np.int64),
            responses,
            int(saved["n"]),
            saved["gold"].numpy().astype(np.float64),
            int(saved["stepped"]),
        )
        n_prompts = self.task.prompts.shape[0]
        if (
            responses.ndim != 2
            or rnd.n < 1
            or rnd.prompt_index.ndim != 1
            or rnd.size != rnd.prompt_index.size * rnd.n
            or rnd.gold.shape != (rnd.size,)
            or not 0 <= rnd.stepped < rnd.size
            or ((rnd.prompt_index < 0) | (rnd.prompt_index >= n_prompts)).any()
        ):
            raise ValueError("its pending round has inconsistent sizes")
        return rnd


def clone_module(module: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of a module (used for π_t snapshots)."""
    return copy.deepcopy(module)
