"""Online DPO (Guo et al. 2024, "Direct language model alignment from online AI feedback"), TRL's form.

Each round samples two responses per prompt from the current policy π_θ, lets a judge pick the chosen
one — the reward (gold or learned; ties broken at random) or the task's Bradley–Terry preference
(``judge="bt"``) — and takes one step of the DPO loss (``loss_type="sigmoid"``) or the IPO loss against
the fixed π_ref. Defaults mirror TRL's ``OnlineDPOConfig`` (β 0.1, temperature 0.9;
huggingface/trl ``trl/experimental/online_dpo``). Its first step points the same way as REBEL's up to the
sign-vs-magnitude of Δr: at π_θ = π_ref both losses descend along ``∇ℓ(y) − ∇ℓ(y′)`` per pair, REBEL's
scaled by ``2η·Δr`` and DPO's by ``(β/2)·sign(Δr)``.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from rl_suite.agents.rlhf_base import PipelineConfig, Round, SequenceAgent
from rl_suite.agents.rlhf_losses import dpo_loss, ipo_loss


class OnlineDPOConfig(PipelineConfig):
    """Settings of online DPO (defaults: TRL 1.10's ``OnlineDPOConfig``: β 0.1, temperature 0.9)."""

    temperature: float = Field(0.9, gt=0.0)
    """Sampling temperature (TRL default 0.9)."""
    beta: float = Field(0.1, gt=0.0)
    """β of the DPO/IPO loss."""
    loss_type: Literal["sigmoid", "ipo"] = "sigmoid"
    """``sigmoid`` (DPO) or ``ipo``."""
    judge: Literal["reward", "bt"] = "reward"
    """``reward``: the higher-scored response is chosen; ``bt``: the task's Bradley–Terry preference."""


class OnlineDPO(SequenceAgent[OnlineDPOConfig]):
    """Online DPO: two on-policy samples per prompt, judged, one DPO step per round."""

    Config = OnlineDPOConfig
    samples_per_prompt = 2

    def _update(self, rnd: Round, rewards: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        prompts, responses = self.prompts_of(rnd), rnd.responses
        r = rewards.view(-1, 2)
        if cfg.judge == "bt":
            p = prompts[0::2].cpu().numpy()
            first = self.task.prefer(
                p, responses[0::2].cpu().numpy(), responses[1::2].cpu().numpy(), self.rng
            )
            self.costs["cost/preference_queries"] += len(first)
            first_t = torch.as_tensor(first, device=self.device)
        else:
            coin = torch.as_tensor(self.rng.random(r.shape[0]) < 0.5, device=self.device)
            first_t = (r[:, 0] > r[:, 1]) | ((r[:, 0] == r[:, 1]) & coin)
        pairs = torch.arange(r.shape[0], device=self.device)
        chosen = 2 * pairs + (~first_t).long()
        rejected = 2 * pairs + first_t.long()
        ref = self.ref_logprob(prompts, responses)
        logp = self.policy_logprob(prompts, responses)
        if cfg.loss_type == "sigmoid":
            loss = dpo_loss(logp[chosen], logp[rejected], ref[chosen], ref[rejected], cfg.beta)
        else:
            length = float(self.task.response_length)
            loss = ipo_loss(
                logp[chosen], logp[rejected], ref[chosen], ref[rejected], cfg.beta, length, length
            )
        margin = cfg.beta * ((logp - ref)[chosen] - (logp - ref)[rejected]).detach()
        return {
            "loss": float(loss.detach()),
            "grad_norm": self.optimise(loss, responses.shape[0]),
            "rewards/margins": float(margin.mean()),
            "rewards/accuracies": float((margin > 0).float().mean()),
        }
