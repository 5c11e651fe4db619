"""REBEL: REinforcement learning via regressing relative rewards (Gao et al., NeurIPS 2024, arXiv 2404.16767).

Each round samples **two** responses per prompt from the current policy π_t, caches ``ℓ_t = log π_t`` of
both (no gradient), scores them, and for ``epochs`` passes over shuffled minibatches of pairs minimises

    ( [ℓ_θ(y) − ℓ_t(y)] − [ℓ_θ(y') − ℓ_t(y')] − η·(r̃(y) − r̃(y')) )²,

the official code's form (ZhaolinGao/REBEL ``src/tldr/rebel.py``; the paper's Algorithm 1 divides the
log-ratios by η instead: same minimiser). The reward is KL-shaped, ``r̃ = r − kl_coef·(ℓ_t − ℓ_ref)``.

Solved exactly, the regression is the mirror-descent step ``π_{t+1} ∝ π_t·exp(η r̃)``, the natural policy
gradient link Gao et al. draw (tests/agents/test_rlhf_losses.py solves it exactly), i.e.
``π_{t+1} ∝ π_t^{1−η·kl_coef}·π_ref^{η·kl_coef}·exp(η r)``. Its fixed point is ``π_ref·exp(r/kl_coef)``, so
the KL coefficient defaults to the env's β (the fixed point is then the env's π*), and η defaults to
``1/kl_coef``: one exactly solved step then lands on π*, and η carries the reward's units (η·Δr is a
log-ratio). Its first gradient step is RLOO with k = 2. No clipping, no critic.

Defaults that differ from the code's (η 1, kl_coef 0.05, 4 epochs, AdamW at lr 3e-6 for 1.4B+ models):
with Adam, a step moves every logit by about ``lr`` whatever the loss's scale, so each extra pass over the
same pairs is another lr-sized step on the same two samples per prompt. On the sandbox's tabular policies
at lr 0.1 four passes drove the policy away from π* (``sort``, β = 0.1: suboptimality 0.207 at π_ref;
after 6,000 generations 0.43 with the code's η = 1, kl 0.05 and 0.20 with η = 10, kl 0.1; after 3,000,
0.16 with four passes and 0.028 with one), while 2 passes at lr 0.05 (0.023) and 4 at lr 0.025 (0.035)
match one pass at lr 0.1. Hence ``epochs = 1``; raise it together with a proportionally smaller ``lr``.
"""

from __future__ import annotations

import torch
from pydantic import Field

from rl_suite.agents.rlhf_base import PipelineConfig, Round, SequenceAgent
from rl_suite.agents.rlhf_losses import kl_shaped_reward, rebel_loss


class REBELConfig(PipelineConfig):
    """Settings of REBEL (Gao et al. 2024; the KL coefficient and η follow the env's β by default)."""

    eta: float | None = Field(None, gt=0.0)
    """Step size η of the regression target (the mirror-descent step size); ``None``: ``1/kl_coef``
    (``1/β`` of the env when ``kl_coef`` is 0), so that an exactly solved step lands on π*."""
    kl_coef: float | None = Field(None, ge=0.0)
    """KL shaping of the reward, r − kl_coef·(log π_t − log π_ref); ``None``: the env's β, which makes the
    iteration's fixed point the env's π* (the code's 0.05 aims at π_ref·exp(r/0.05) instead)."""
    epochs: int = Field(1, ge=1)
    """Passes over each round's pairs (``noptepochs``, 4 in the code), reshuffled each time. With Adam,
    each pass is another lr-sized step: use 4 passes only with lr / 4."""
    minibatch_pairs: int = Field(8, ge=1)
    """Pairs per gradient step (a prompt's two responses always share a minibatch)."""


class REBEL(SequenceAgent[REBELConfig]):
    """REBEL on pairs of on-policy responses (Gao et al. 2024, Algorithm 1 in its code form)."""

    Config = REBELConfig
    samples_per_prompt = 2

    @property
    def kl_coef(self) -> float:
        """The KL coefficient in use: the setting, or the env's β."""
        value = self.config.kl_coef
        return self.env_beta if value is None else float(value)

    @property
    def eta(self) -> float:
        """The step size η in use: the setting, or ``1/kl_coef`` (``1/β`` of the env when that is 0)."""
        if self.config.eta is not None:
            return float(self.config.eta)
        kl_coef = self.kl_coef
        return 1.0 / (kl_coef if kl_coef > 0 else self.env_beta)

    def _update(self, rnd: Round, rewards: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        kl_coef, eta = self.kl_coef, self.eta
        prompts = self.prompts_of(rnd)
        responses = rnd.responses
        with torch.no_grad():
            old = self.policy_logprob(prompts, responses)
        if kl_coef > 0:
            rewards = kl_shaped_reward(rewards, old, self.ref_logprob(prompts, responses), kl_coef)
        n_pairs = len(rnd.prompt_index)
        losses, norms = [], []
        for _ in range(cfg.epochs):
            for pairs in self.minibatches(n_pairs, cfg.minibatch_pairs):
                idx = torch.stack([2 * pairs, 2 * pairs + 1], 1).reshape(-1)
                logp = self.policy_logprob(prompts[idx], responses[idx])
                loss = rebel_loss(logp, old[idx], rewards[idx], idx // 2, eta)
                norms.append(self.optimise(loss, idx.numel()))
                losses.append(float(loss.detach()))
        return {
            "loss": losses[-1],
            "rebel/initial_loss": losses[0],
            "rebel/final_loss": losses[-1],
            "rebel/eta": eta,
            "rebel/kl_coef": kl_coef,
            "grad_norm": norms[-1],
        }
