"""A*-PO: policy optimisation via optimal advantage regression (Brantley et al. 2025, arXiv 2505.20686).

**Stage 1 (offline, once):** draw ``n_value_samples`` (N = 8; 128 for a transformer policy at β ≥ 0.1,
more below: :attr:`APO.transformer_beta`) responses per pool prompt from π_ref, score them and estimate
``V̂*(x) = β₁·log((1/N)·Σ_i exp(r_i/β₁))`` (β₁ = 0.5; the env's β for a transformer policy; ``beta1 = 0``
gives the mean, < 0 gives 0). Optionally drop prompts whose N samples all scored 0 (``filter_incorrect``,
off in the official scripts).

**Stage 2 (online):** one response per prompt from π_θ; regress

    ( β₂·(ℓ_θ(y) − ℓ_ref(y)) − (r(x, y) − V̂*(x)) )²  −  c_ent·entropy,

with entropy coefficient 0.001 and the batch split into ``minibatches`` (2) for one epoch
(ZhaolinGao/A-PO ``verl/trainer/apo/core_algos.py``). No critic, no old-policy ratio, one sample per
prompt: the paper's time and memory savings. With exact V* and β₂ = β its minimiser is π*, because the
optimal advantage is exactly ``r − V* = β·log(π*/π_ref)`` (Rafailov et al. 2023, eq. 5).

β₂ is the KL coefficient of the regularised objective the regression solves (its minimiser is
``π_ref·exp((r − V̂*)/β₂)``, normalised), so it defaults to the env's β. The official scripts' β₂ = 1e-3
(for 1.5–7B models at lr 1e-6) aims at a near-greedy policy far from π_ref: on the sandbox's tabular
policies at lr 0.1 it left ``digit_sum`` (β = 0.1) at suboptimality 0.33 after 6,000 generations
(π_ref: 0.32), while β₂ = β reached 0.002.

V̂*'s error does not move the fixed point (with on-policy samples a per-prompt constant in the target has
zero expected gradient, ``E_π[∇log π] = 0``), but it sets the noise floor: at π* every sample's residual
is ``V* − V̂*``, not 0, so each Adam step keeps moving the policy, while RLOO's and REBEL's residuals vanish
there. With β₁ = 0.5 ≠ β, V̂* estimates the value of a different objective: on the sandbox's five tasks
(β = 0.1) its mean error |V̂* − V*_β| is 0.15–0.22 whatever N; β₁ = β brings it to 0.07 / 0.03 / 0.013
at N = 8 / 32 / 128. On the transformer policy (``target_string``, 1,500 generations, lr 1e-3) the exact
V* ends at suboptimality 0.0002 against 0.006 with the default V̂* (RLOO: 0.0007); β₁ = β with N = 128
reaches 0.0005. The low estimate of β₁ = 0.5 speeds up tabular and GRU runs, though, whose budgets end
before the floor matters, so the defaults depend on the policy kind (``value_defaults``, ``default_lrs``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from rl_suite.agents.rlhf_base import PipelineConfig, Round, SequenceAgent
from rl_suite.agents.rlhf_losses import apo_loss, v_star_estimate
from rl_suite.errors import UserError
from rl_suite.sequence_policy import SequencePolicy


class APOConfig(PipelineConfig):
    """Settings of A*-PO (the official scripts' ZhaolinGao/A-PO ``scripts/apo_{gsm8k,math}.sh``, but β₂)."""

    beta1: float | None = None
    """β₁ of the stage-1 value estimate (> 0 soft-max, 0 mean, < 0 zero); ``None``: by policy kind (see
    :attr:`APO.value_defaults`): the official scripts' 0.5, or the env's β for a transformer."""
    beta2: float | None = Field(None, gt=0.0)
    """β₂ of the stage-2 regression; ``None``: the env's β, so that the regression's minimiser is the env's
    π* (the official scripts' 1e-3 is for 1.5–7B models at lr 1e-6)."""
    n_value_samples: int | None = Field(None, ge=1)
    """N reference samples per prompt in stage 1; ``None``: by policy kind (the paper's 8, or 128 for a
    transformer)."""
    entropy_coef: float = Field(0.001, ge=0.0)
    """Entropy bonus (masked mean token entropy)."""
    minibatches: int = Field(2, ge=1)
    """Gradient steps per round (the batch is split evenly; 256 → 2 × 128 in the paper)."""
    filter_incorrect: bool = False
    """Drop prompts whose N reference samples all score 0 (binary-verifier tasks)."""


class APO(SequenceAgent[APOConfig]):
    """A*-PO: one on-policy sample per prompt regressed onto the optimal advantage r − V̂*."""

    Config = APOConfig
    samples_per_prompt = 1
    #: Tabular: half the sequence agents' 0.1, because A*-PO takes ``minibatches`` (2) Adam steps per round
    #: of one generation per prompt, four times RLOO's (k = 2) or REBEL's steps per generation, and with Adam
    #: every step moves the logits by about ``lr``. At lr 0.1 and β = 0.2 the policy overshot π* (``sort``:
    #: suboptimality 0.126 at π_ref, 0.108 after 3,000 generations; 0.055 at lr 0.05, 0.034 at 0.03).
    #: Transformer: half the others' 1e-3, with the accurate V̂* of ``value_defaults``, at β ≥ 0.1 (scaled
    #: below: :attr:`transformer_beta`).
    default_lrs = MappingProxyType({"tabular": 0.05, "gru": 3e-3, "transformer": 5e-4, "hf": 1e-3})
    #: ``(β₁, N)`` of stage 1 by policy kind when unset (β₁ ``None``: the env's β). The paper's β₁ = 0.5 and
    #: N = 8 estimate V* low by 0.15–0.22 on the sandbox (β = 0.1), which speeds up tabular and GRU runs but
    #: leaves the transformer at a noise floor: on ``target_string`` / ``reverse`` (β = 0.1, 1,000
    #: generations, 3 seeds) 0.0037 / 0.0029 at lr 3e-4, against 0.0014 / 0.0011 with β₁ = β, N = 128 at
    #: lr 5e-4 (GRPO: 0.0016 / 0.0010). The same change on tabular policies (3,000 generations) is 1.3–4.5x
    #: worse (``digit_sum``: 0.011 → 0.050).
    value_defaults: ClassVar[Mapping[str, tuple[float | None, int]]] = MappingProxyType(
        {"tabular": (0.5, 8), "gru": (0.5, 8), "transformer": (None, 128), "hf": (0.5, 8)}
    )

    #: The env β that the transformer's defaults (lr 5e-4, N = 128) are for; below it the rate scales as
    #: ``transformer_beta / β`` and N as ``(transformer_beta / β)²``. A*-PO regresses the log-ratio onto
    #: ``(r − V̂*)/β₂``, a target 1/β away from π_ref, while an Adam step moves it by about ``lr`` whatever
    #: the loss's scale; and V̂*'s soft-max leans on rarer samples as β shrinks, its error entering the
    #: target divided by β. At β = 0.05 (1,000 generations, 3 seeds) lr 5e-4 left ``target_string`` /
    #: ``reverse`` at 0.014 / 0.013 (online DPO: 0.0039 / 0.0034); lr 1e-3 reached 0.0040 / 0.0036, but
    #: with N = 128 ``sort`` diverged in one seed (0.129), with N = 512 not (mean 0.011). Above β = 0.1
    #: the rate stays: at β = 0.2, 2.5e-4 was slower than 5e-4 (``digit_sum`` 0.038 against 0.015).
    transformer_beta: ClassVar[float] = 0.1

    @classmethod
    def small_beta_scale(cls, kind: str, beta: float) -> float:
        """How far below :attr:`transformer_beta` a transformer's β lies: ``max(1, 0.1/β)``; 1 otherwise.

        The default learning rate is multiplied by it, and the default N by its square.
        """
        return cls.transformer_beta / beta if kind == "transformer" and beta < cls.transformer_beta else 1.0

    @classmethod
    def default_lr(cls, policy: SequencePolicy, beta: float) -> float:
        """The base rule (:meth:`SequenceAgent.default_lr`) × :meth:`small_beta_scale`."""
        return super().default_lr(policy, beta) * cls.small_beta_scale(policy.kind, beta)

    def _setup(self) -> None:
        cfg = self.config
        n_prompts, n = self.task.prompts.shape[0], self.n_value_samples
        prompts = self._prompts_all
        with torch.no_grad():
            samples = self.ref.sample(prompts, n=n, temperature=1.0, generator=self.generator)
        self.costs["cost/offline_generations"] += samples.shape[0]
        self.costs["cost/offline_generated_tokens"] += samples.numel()
        rewards = self.score(prompts.repeat_interleave(n, 0), samples)
        rewards = rewards.view(n_prompts, n).double()
        self.v_star = v_star_estimate(rewards, self.beta1).float()
        keep = np.arange(n_prompts)
        if cfg.filter_incorrect:
            keep = np.flatnonzero((rewards > 0).any(dim=1).cpu().numpy())
            if keep.size == 0:
                raise UserError(
                    "a-star-po: filter_incorrect dropped every prompt (no reference sample scored > 0)"
                )
        self.pool = keep

    def _choose_prompts(self) -> np.ndarray:
        size = self.config.batch_prompts
        return self.rng.choice(self.pool, size=size, replace=size > self.pool.size)

    @property
    def beta1(self) -> float:
        """β₁ in use: the setting, else the policy kind's default (``None`` there: the env's β)."""
        if self.config.beta1 is not None:
            return float(self.config.beta1)
        default = self.value_defaults[self.policy.kind][0]
        return self.env_beta if default is None else default

    @property
    def n_value_samples(self) -> int:
        """N in use: the setting, else the kind's default (on a transformer × (0.1/β)² below β = 0.1)."""
        if self.config.n_value_samples is not None:
            return int(self.config.n_value_samples)
        n = self.value_defaults[self.policy.kind][1]
        return math.ceil(n * self.small_beta_scale(self.policy.kind, self.env_beta) ** 2)

    @property
    def beta2(self) -> float:
        """β₂ in use: the setting, or the env's β."""
        return self.env_beta if self.config.beta2 is None else float(self.config.beta2)

    def _update(self, rnd: Round, rewards: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        beta2 = self.beta2
        prompts, responses = self.prompts_of(rnd), rnd.responses
        ref = self.ref_logprob(prompts, responses)
        v = self.v_star[torch.as_tensor(rnd.sample_prompt_index, device=self.device)]
        size = max(1, -(-responses.shape[0] // cfg.minibatches))
        out: dict[str, Any] = {}
        for idx in self.minibatches(responses.shape[0], size):
            logp = self.policy_logprob(prompts[idx], responses[idx])
            loss = apo_loss(logp, ref[idx], rewards[idx], v[idx], beta2)
            if cfg.entropy_coef > 0:
                ent = self.policy.entropy(prompts[idx], responses[idx], temperature=cfg.temperature)
                loss = loss - cfg.entropy_coef * ent.mean() / self.task.response_length
            out = {"loss": float(loss.detach()), "grad_norm": self.optimise(loss, idx.numel())}
        out["apo/v_star_mean"] = float(self.v_star.mean())
        out["apo/advantage_mean"] = float((rewards - v).mean())
        out["apo/beta2"] = beta2
        out["apo/beta1"] = self.beta1
        out["apo/n_value_samples"] = float(self.n_value_samples)
        return out

    def _extra_state(self) -> dict[str, Any]:
        return {}
