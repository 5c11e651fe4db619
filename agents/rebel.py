"""REBEL: REinforcement learning via regressing relative rewards (Gao et al., NeurIPS 2024, arXiv 2404.16767).

Each round samples **two** responses per prompt from the current policy π_t, caches ``ℓ_t = log π_t`` of
both (no gradient), scores them, and for ``epochs`` passes over shuffled minibatches of pairs minimises

    ( [ℓ_θ(y) − ℓ_t(y)] − [ℓ_θ(y') − ℓ_t(y')] − η·(r̃(y) − r̃(y')) )²,

the official code's form (ZhaolinGao/REBEL ``src/tldr/rebel.py``). The reward is KL-shaped,
``r̃ = r − kl_coef·(ℓ_t − ℓ_ref)``. Solved exactly, the regression is the mirror-descent step
``π_{t+1} ∝ π_t·exp(η r̃)``, the natural-policy-gradient link Gao et al. draw (tests/agents/test_rlhf_losses.py
solves it exactly); its first gradient step is RLOO with k = 2. No clipping, no critic. Defaults follow the
code (η 1, 4 epochs, kl_coef 0.05, for 1.4B+ models); for tiny tabular policies ``configs/sweeps/rlhf.yaml``
uses η = 10, lr 0.1.
"""

from __future__ import annotations

import torch
from pydantic import Field

from rl_suite.agents.rlhf_base import PipelineConfig, Round, SequenceAgent
from rl_suite.agents.rlhf_losses import kl_shaped_reward, rebel_loss


class REBELConfig(PipelineConfig):
    """Settings of REBEL (defaults: the dataclasses of ZhaolinGao/REBEL ``src/tldr/rebel.py``)."""

    eta: float = Field(1.0, gt=0.0)
    """Step size η of the regression target (the mirror-descent step size)."""
    kl_coef: float = Field(0.05, ge=0.0)
    """KL shaping of the reward, r − kl_coef·(log π_t − log π_ref)."""
    epochs: int = Field(4, ge=1)
    """Passes over each round's pairs (``noptepochs``), reshuffled each time."""
    minibatch_pairs: int = Field(8, ge=1)
    """Pairs per gradient step (a prompt's two responses always share a minibatch)."""


class REBEL(SequenceAgent[REBELConfig]):
    """REBEL on pairs of on-policy responses (Gao et al. 2024, Algorithm 1 in its code form)."""

    Config = REBELConfig
    samples_per_prompt = 2

    def _update(self, rnd: Round, rewards: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        prompts = self.prompts_of(rnd)
        responses = rnd.responses
        with torch.no_grad():
            old = self.policy_logprob(prompts, responses)
        if cfg.kl_coef > 0:
            rewards = kl_shaped_reward(rewards, old, self.ref_logprob(prompts, responses), cfg.kl_coef)
        n_pairs = len(rnd.prompt_index)
        losses, norms = [], []
        for _ in range(cfg.epochs):
            for pairs in self.minibatches(n_pairs, cfg.minibatch_pairs):
                idx = torch.stack([2 * pairs, 2 * pairs + 1], 1).reshape(-1)
                logp = self.policy_logprob(prompts[idx], responses[idx])
                loss = rebel_loss(logp, old[idx], rewards[idx], idx // 2, cfg.eta)
                norms.append(self.optimise(loss, idx.numel()))
                losses.append(float(loss.detach()))
        return {
            "loss": losses[-1],
            "rebel/initial_loss": losses[0],
            "rebel/final_loss": losses[-1],
            "grad_norm": norms[-1],
        }
