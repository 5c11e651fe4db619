"""Offline direct preference optimisation: DPO, IPO and χPO on a fixed preference dataset.

All three minimise a logistic/squared loss of the implicit reward ``h_θ = ℓ_θ − ℓ_ref`` on pairs
``(x, y_w, y_l)`` drawn once from π_ref and labelled by the task's Bradley–Terry judge
(``rl_suite.rlhf.datasets.make_preference_dataset``; ``coverage < 1`` restricts which responses can appear,
the over-optimisation study of χPO) or loaded from ``dataset_path``:

* DPO (Rafailov et al. 2023): ``−log σ(β·[h(y_w) − h(y_l)])``; on infinite full-support data its minimiser
  is π* (their §4);
* IPO (Azar et al. 2023): ``(h(y_w)/|y_w| − h(y_l)/|y_l| − 1/(2β))²`` (TRL's length normalisation);
* χPO (Huang et al. 2024, arXiv 2407.13399): DPO with the link ``φ(z) = z + log z`` of z = π/π_ref and the
  margin clipped to ±2R_max — the χ² term keeps mass off responses the data does not cover.

They are offline, yet still step the env with fresh on-policy generations each round (``batch_prompts``
of them, one per prompt) so their exact-regret curve is comparable with the online agents'; those
evaluation generations are not trained on. Each round then takes ``updates_per_round`` Adam steps on
minibatches of ``batch_pairs`` pairs, cycling through the dataset in reshuffled epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from rl_suite.agents.checkpoint import reading
from rl_suite.agents.reward_model import Preferences, check_preferences, preference_pairs
from rl_suite.agents.rlhf_base import Round, SequenceAgent, SequenceAgentConfig
from rl_suite.agents.rlhf_losses import chipo_loss, dpo_loss, ipo_loss
from rl_suite.errors import UserError


class DPOConfig(SequenceAgentConfig):
    """Settings of offline DPO / IPO / χPO (defaults: TRL 1.10's ``DPOConfig``, β 0.1)."""

    beta: float = Field(0.1, gt=0.0)
    """β of the implicit reward (the KL coefficient DPO solves for)."""
    n_pairs: int = Field(512, ge=1)
    """Pairs in the generated dataset (ignored with ``dataset_path``)."""
    coverage: float = Field(1.0, gt=0.0, le=1.0)
    """Fraction of each prompt's responses the dataset may contain (< 1 needs an enumerable task)."""
    dataset_path: str | None = None
    """An ``.npz`` with ``prompts (n, P)``, ``chosen (n, L)``, ``rejected (n, L)`` instead of generating."""
    batch_pairs: int = Field(32, ge=1)
    """Pairs per Adam step."""
    updates_per_round: int = Field(1, ge=1)
    """Adam steps after each round of evaluation generations."""
    r_max: float = Field(1.0, gt=0.0)
    """χPO only: reward bound R_max of the margin clip ±2R_max."""


class DPO(SequenceAgent[DPOConfig]):
    """Offline DPO (Rafailov et al. 2023) on a π_ref preference dataset, evaluated on fresh generations."""

    Config = DPOConfig
    samples_per_prompt = 1
    #: Which preference loss (subclasses change only this).
    loss_type: ClassVar[Literal["sigmoid", "ipo", "chipo"]] = "sigmoid"

    def _setup(self) -> None:
        cfg = self.config
        if cfg.dataset_path is not None:
            path = Path(cfg.dataset_path)
            if not path.is_file():
                raise UserError(f"dataset_path: no file at {path}")
            with (
                reading(f"dataset_path {path}", "an .npz archive"),
                np.load(path, allow_pickle=False) as data,
            ):
                arrays = {k: data[k] for k in ("prompts", "chosen", "rejected") if k in data.files}
            missing = {"prompts", "chosen", "rejected"} - set(arrays)
            if missing:
                raise UserError(f"dataset_path: {path} lacks arrays {sorted(missing)}")
            self.data = check_preferences(self.task, arrays["prompts"], arrays["chosen"], arrays["rejected"])
        else:
            self.data = preference_pairs(self.task, self.base.reference, cfg.n_pairs, cfg.coverage, self.rng)
            self.costs["cost/offline_generations"] += 2 * len(self.data)
            self.costs["cost/offline_generated_tokens"] += 2 * self.data.chosen.numel()
            self.costs["cost/preference_queries"] += len(self.data)
        self.data = self.data.to(self.device)
        n = len(self.data)
        self.ref_chosen = self.ref_logprob(self.data.prompts, self.data.chosen)
        self.ref_rejected = self.ref_logprob(self.data.prompts, self.data.rejected)
        self._order = torch.as_tensor(self.rng.permutation(n), device=self.device)
        self._cursor = 0
        self.pairs_seen = 0

    def _next_pairs(self) -> torch.Tensor:
        size = min(self.config.batch_pairs, len(self.data))
        if self._cursor + size > len(self.data):
            self._order = torch.as_tensor(self.rng.permutation(len(self.data)), device=self.device)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + size]
        self._cursor += size
        return idx

    def preference_loss(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The loss on pairs ``idx`` and the implicit rewards β·h of chosen and rejected."""
        cfg = self.config
        d: Preferences = self.data
        both = torch.cat([d.chosen[idx], d.rejected[idx]])
        logp = self.policy_logprob(torch.cat([d.prompts[idx], d.prompts[idx]]), both)
        lw, ll = logp[: idx.numel()], logp[idx.numel() :]
        rw, rl = self.ref_chosen[idx], self.ref_rejected[idx]
        if self.loss_type == "sigmoid":
            loss = dpo_loss(lw, ll, rw, rl, cfg.beta)
        elif self.loss_type == "ipo":
            length = float(self.task.response_length)
            loss = ipo_loss(lw, ll, rw, rl, cfg.beta, length, length)
        else:
            loss = chipo_loss(lw, ll, rw, rl, cfg.beta, cfg.r_max)
        return loss, cfg.beta * (lw - rw).detach(), cfg.beta * (ll - rl).detach()

    def _update(self, rnd: Round, rewards: torch.Tensor) -> dict[str, float]:
        out: dict[str, float] = {}
        for _ in range(self.config.updates_per_round):
            idx = self._next_pairs()
            loss, chosen, rejected = self.preference_loss(idx)
            norm = self.optimise(loss, 2 * idx.numel())
            self.pairs_seen += idx.numel()
            out = {
                "loss": float(loss.detach()),
                "grad_norm": norm,
                "rewards/chosen": float(chosen.mean()),
                "rewards/rejected": float(rejected.mean()),
                "rewards/accuracies": float((chosen > rejected).float().mean()),
                "rewards/margins": float((chosen - rejected).mean()),
            }
        out["epoch"] = self.pairs_seen / len(self.data)
        return out

    def _extra_state(self) -> dict[str, Any]:
        return {"order": self._order.cpu(), "cursor": self._cursor, "pairs_seen": self.pairs_seen}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self._order = state["order"].to(self.device)
        self._cursor, self.pairs_seen = int(state["cursor"]), int(state["pairs_seen"])


class IPO(DPO):
    """Offline IPO (Azar et al. 2023): squared loss towards a margin 1/(2β), TRL's length-normalised form."""

    loss_type = "ipo"


class ChiPO(DPO):
    """Offline χPO (Huang et al. 2024): DPO with the χ²-mixed link φ(z) = z + log z, clipped margins."""

    loss_type = "chipo"
