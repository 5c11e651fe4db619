"""GRPO: group relative policy optimisation (Shao et al. 2024, DeepSeekMath), in TRL's form.

Each round samples G responses per prompt, computes group-normalised advantages
``Â_i = (r_i − mean_G r)/std_G r`` (``scale_rewards``), and minimises the clipped token-level surrogate
``−[min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â) − β·KL̂]`` with Schulman's k3 estimator of KL(π_θ‖π_ref)
(:func:`~rl_suite.agents.rlhf_losses.grpo_loss`). With ``num_iterations`` μ = 1 the ratio is to the
no-grad self (one step per batch, TRL's default); μ > 1 caches the sampling policy's token log-probs and
reuses the batch μ times. Defaults mirror TRL's ``GRPOConfig`` (G 8, β 0, ε 0.2, ``loss_type="dapo"``,
``scale_rewards="group"``; huggingface/trl ``trl/trainer/grpo_config.py``).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from rl_suite.agents.rlhf_base import Round, SequenceAgent, SequenceAgentConfig
from rl_suite.agents.rlhf_losses import grpo_loss


class GRPOConfig(SequenceAgentConfig):
    """Settings of GRPO (defaults: TRL 1.10's ``GRPOConfig``: G 8, β 0, ε 0.2, ``dapo``, group scaling)."""

    num_generations: int = Field(8, ge=2)
    """G responses per prompt."""
    beta: float = Field(0.0, ge=0.0)
    """KL coefficient of the k3 penalty (TRL default 0: no reference model needed)."""
    epsilon: float = Field(0.2, gt=0.0)
    """Clip range ε of the token ratio."""
    loss_type: Literal["grpo", "dapo", "dr_grpo"] = "dapo"
    """Token normalisation (TRL default ``dapo``: divide by the active tokens of the batch)."""
    scale_rewards: Literal["group", "batch", "none"] = "group"
    """Advantage scaling: group std, batch std, or none (Dr. GRPO)."""
    num_iterations: int = Field(1, ge=1)
    """μ: optimisation passes per batch (> 1 uses the clipped ratio to the cached sampling policy)."""


class GRPO(SequenceAgent[GRPOConfig]):
    """GRPO with TRL's defaults: G samples per prompt, group-normalised advantages, clipped surrogate."""

    Config = GRPOConfig

    @property
    def samples_per_prompt(self) -> int:  # type: ignore[override]  # read-only here: G is a setting
        """The G of GRPO."""
        return self.config.num_generations

    def _update(self, rnd: Round, rewards: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        prompts, responses = self.prompts_of(rnd), rnd.responses
        mask = torch.ones(responses.shape, device=self.device)
        ref_tok = None
        if cfg.beta > 0:
            self.costs["cost/ref_fwd"] += responses.shape[0]
            with torch.no_grad():
                ref_tok = self.ref.token_logprobs(prompts, responses, temperature=cfg.temperature)
        old_tok = None
        if cfg.num_iterations > 1:
            self.costs["cost/policy_fwd"] += responses.shape[0]
            with torch.no_grad():
                old_tok = self.policy.token_logprobs(prompts, responses, temperature=cfg.temperature)
        clipped = 0.0
        for _ in range(cfg.num_iterations):
            self.costs["cost/policy_fwd"] += responses.shape[0]
            tok = self.policy.token_logprobs(prompts, responses, temperature=cfg.temperature)
            base = tok.detach() if old_tok is None else old_tok
            loss = grpo_loss(
                tok,
                base,
                ref_tok,
                mask,
                rewards,
                rnd.group_ids,
                cfg.beta,
                cfg.epsilon,
                cfg.loss_type,
                cfg.scale_rewards,
            )
            ratio = torch.exp(tok.detach() - base)
            clipped = float(((ratio < 1 - cfg.epsilon) | (ratio > 1 + cfg.epsilon)).float().mean())
            norm = self.optimise(loss, responses.shape[0])
        return {"loss": float(loss.detach()), "grad_norm": norm, "clip_ratio/region_mean": clipped}
