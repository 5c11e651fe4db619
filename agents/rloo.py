"""RLOO: REINFORCE with a leave-one-out baseline (Ahmadian et al. 2024, "Back to basics"), TRL's form.

Each round samples k responses per prompt; the reward is KL-shaped, ``r̃_i = R_i − β·(ℓ_i − ℓ_ref,i)``
(no gradient through the penalty), the advantage is ``r̃_i − mean_{j≠i} r̃_j`` and the loss is
``−mean_i A_i·ℓ_θ(y_i)`` (:func:`~rl_suite.agents.rlhf_losses.rloo_loss`). One gradient step per batch.
Defaults mirror TRL's ``RLOOConfig`` (k = ``num_generations`` 2, β 0.05; huggingface/trl
``trl/trainer/rloo_config.py``). With k = 2 its gradient is REBEL's first step (up to scale).
"""

from __future__ import annotations

import torch
from pydantic import Field

from rl_suite.agents.rlhf_base import PipelineConfig, Round, SequenceAgent
from rl_suite.agents.rlhf_losses import rloo_loss


class RLOOConfig(PipelineConfig):
    """Settings of RLOO (defaults: TRL 1.10's ``RLOOConfig``: k 2, β 0.05)."""

    num_generations: int = Field(2, ge=2)
    """k responses per prompt."""
    beta: float = Field(0.05, ge=0.0)
    """KL coefficient folded into the reward."""


class RLOO(SequenceAgent[RLOOConfig]):
    """RLOO: k on-policy samples per prompt, leave-one-out baseline, KL-shaped reward."""

    Config = RLOOConfig

    @property
    def samples_per_prompt(self) -> int:  # type: ignore[override]  # read-only here: k is a setting
        """The k of RLOO."""
        return self.config.num_generations

    def _update(self, rnd: Round, rewards: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        prompts, responses = self.prompts_of(rnd), rnd.responses
        ref = (
            self.ref_logprob(prompts, responses)
            if cfg.beta > 0
            else torch.zeros(responses.shape[0], device=self.device)
        )
        logp = self.policy_logprob(prompts, responses)
        loss = rloo_loss(logp, ref, rewards, rnd.group_ids, cfg.beta)
        return {"loss": float(loss.detach()), "grad_norm": self.optimise(loss, responses.shape[0])}
