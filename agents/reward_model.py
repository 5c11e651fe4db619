"""Bradley–Terry reward models: the network, its fit, and a best-of-n agent that learns one online.

The reward model is the first stage of the RLHF pipeline (Ouyang et al. 2022; TRL ``RewardTrainer``):
fit ``r_φ(x, y)`` to preference pairs with the Bradley–Terry loss
``−log σ(r_φ(x, y_w) − r_φ(x, y_l) − m) + c·(r_φ(x, y_w) + r_φ(x, y_l))²`` (TRL's margin and
``center_rewards_coefficient``, :func:`~rl_suite.agents.rlhf_losses.bt_reward_loss`). REBEL, A*-PO and
RLOO use it with ``reward_model="learned"``.

:class:`RewardModelAgent` (``reward-model``) is the reward model as an agent: each round it samples
``best_of`` responses per prompt from π_ref, plays the one its current reward model scores highest
(best-of-n reranking), asks the task's Bradley–Terry judge to compare the best and worst candidates, and
takes ``rm_steps`` Adam steps on everything labelled so far. It logs TRL's reward-trainer metrics
(``accuracy``, ``margin``, ``rewards/min|mean|max``). It attaches no policy (best-of-n has no cheap
exact probability), so its per-step regret is the env's unregularised gap ``max_y r − r(y)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from pydantic import Field
from torch import nn

from rl_suite.agents.rlhf_base import Round, SequenceAgent, SequenceAgentConfig
from rl_suite.agents.rlhf_losses import bt_reward_loss
from rl_suite.errors import UserError
from rl_suite.rlhf.datasets import make_preference_dataset


@dataclass
class Preferences:
    """Preference pairs as tensors: ``prompts (n, P)``, ``chosen (n, L)``, ``rejected (n, L)``."""

    prompts: torch.Tensor
    chosen: torch.Tensor
    rejected: torch.Tensor

    def __len__(self) -> int:
        return int(self.prompts.shape[0])

    def to(self, device: torch.device) -> Preferences:
        """The same pairs on ``device``."""
        return Preferences(self.prompts.to(device), self.chosen.to(device), self.rejected.to(device))


def check_preferences(task: Any, prompts: Any, chosen: Any, rejected: Any) -> Preferences:
    """Validate a preference dataset against a task; a one-line :class:`UserError` when it does not fit."""
    arrays = [np.asarray(a) for a in (prompts, chosen, rejected)]
    names = ("prompts", "chosen", "rejected")
    widths = (task.prompt_length, task.response_length, task.response_length)
    for name, arr, width in zip(names, arrays, widths, strict=True):
        if arr.ndim != 2 or arr.shape[1] != width:
            raise UserError(
                f"preference dataset: {name} must have shape (n, {width}) for this task, got {arr.shape}"
            )
        if arr.size and (arr.min() < 0 or arr.max() >= task.vocab_size):
            raise UserError(f"preference dataset: {name} has tokens outside [0, {task.vocab_size})")
    if not arrays[0].shape[0] == arrays[1].shape[0] == arrays[2].shape[0]:
        raise UserError(
            "preference dataset: prompts, chosen and rejected must have the same number of rows, got "
            f"{arrays[0].shape[0]}, {arrays[1].shape[0]}, {arrays[2].shape[0]}"
        )
    if arrays[0].shape[0] == 0:
        raise UserError("preference dataset is empty")
    return Preferences(*(torch.as_tensor(a.astype(np.int64)) for a in arrays))


def preference_pairs(
    task: Any, reference: Any, n_pairs: int, coverage: float, rng: np.random.Generator
) -> Preferences:
    """``n_pairs`` pairs from π_ref labelled by the task's BT judge (``make_preference_dataset``)."""
    data = make_preference_dataset(task, reference, n_pairs, coverage, rng)
    return check_preferences(task, data.prompts, data.chosen, data.rejected)


class RewardNet(nn.Module):
    """``r_φ(x, y)``: an MLP on the one-hot prompt and response tokens (position-aware), one scalar out."""

    def __init__(self, task: Any, hidden: int = 64) -> None:
        super().__init__()
        self.vocab_size = int(task.vocab_size)
        width = (task.prompt_length + task.response_length) * self.vocab_size
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """``(B,)`` rewards of ``(B, P)`` prompts and ``(B, L)`` responses."""
        tokens = torch.cat([prompts, responses], dim=1)
        first = cast(nn.Linear, self.net[0])  # built in __init__
        x = nn.functional.one_hot(tokens, self.vocab_size).flatten(1).to(first.weight.dtype)
        return self.net(x).squeeze(-1)


def reward_metrics(net: nn.Module, data: Preferences) -> dict[str, float]:
    """TRL reward-trainer metrics on ``data``: ``accuracy``, ``margin``, ``rewards/{min,mean,max}``."""
    with torch.no_grad():
        rc, rr = net(data.prompts, data.chosen), net(data.prompts, data.rejected)
    both = torch.cat([rc, rr])
    return {
        "accuracy": float((rc > rr).float().mean()),
        "margin": float((rc - rr).mean()),
        "rewards/min": float(both.min()),
        "rewards/mean": float(both.mean()),
        "rewards/max": float(both.max()),
    }


def fit_reward_model(
    net: nn.Module,
    data: Preferences,
    epochs: int,
    lr: float,
    center_coef: float = 0.01,
    batch_size: int = 64,
    seed: int = 0,
    device: torch.device | None = None,
) -> dict[str, float]:
    """Train ``net`` on ``data`` with the BT loss (Adam, shuffled minibatches); returns its final metrics."""
    device = device or torch.device("cpu")
    data = data.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(data)
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = bt_reward_loss(
                net(data.prompts[idx], data.chosen[idx]),
                net(data.prompts[idx], data.rejected[idx]),
                center_coef=center_coef,
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return reward_metrics(net, data)


class RewardModelConfig(SequenceAgentConfig):
    """Settings of the online reward-model (best-of-n) agent."""

    policy: str = "reference"  # type: ignore[assignment]  # any str validates; __init__ refuses the rest
    """Responses always come from π_ref (kept for the shared settings; only ``"reference"`` is allowed)."""
    best_of: int = Field(4, ge=2)
    """Candidates per prompt from π_ref; the played one is the reward model's best."""
    rm_lr: float = Field(1e-2, gt=0.0)
    """Adam learning rate of the reward model (TRL's default for big models is 1e-4)."""
    rm_steps: int = Field(4, ge=1)
    """Adam steps on all labelled pairs per round."""
    rm_batch: int = Field(64, ge=1)
    """Minibatch of pairs per step."""
    center_coef: float = Field(0.01, ge=0.0)
    """TRL's ``center_rewards_coefficient`` (recommended 0.01)."""
    margin: float = 0.0
    """Margin m of the BT loss."""
    exact_metrics: bool = False
    """Off: the agent plays best-of-n, whose exact distribution the metric pass does not compute."""


class RewardModelAgent(SequenceAgent[RewardModelConfig]):
    """Online Bradley–Terry reward model with best-of-n reranking of π_ref (TRL ``RewardTrainer`` loss)."""

    Config = RewardModelConfig
    attaches_policy = False

    def _setup(self) -> None:
        if self.config.policy != "reference":
            raise UserError("reward-model samples from π_ref: leave policy at 'reference'")
        self.samples_per_prompt = self.config.best_of
        self.net = RewardNet(self.task).to(self.device)
        self.rm_opt = torch.optim.Adam(self.net.parameters(), lr=self.config.rm_lr)
        self.labelled: list[Preferences] = []

    def _generate(self, prompt_index: np.ndarray) -> torch.Tensor:
        """Best-of-n from π_ref: the round plays only each prompt's top-scored candidate."""
        k = self.samples_per_prompt
        prompts = self._prompts_all[torch.as_tensor(prompt_index, device=self.device)]
        with torch.no_grad():
            cand = self.ref.sample(
                prompts, n=k, temperature=self.config.temperature, generator=self.generator
            )
            scores = self.net(prompts.repeat_interleave(k, 0), cand).view(-1, k)
        self.costs["cost/rm_calls"] += cand.shape[0]
        order = scores.argsort(dim=1, descending=True)
        rows = torch.arange(len(prompt_index), device=self.device) * k
        best, worst = cand[rows + order[:, 0]], cand[rows + order[:, -1]]
        self._worst = worst
        self.costs["cost/generations"] += cand.shape[0] - best.shape[0]  # the base counts the played ones
        self.costs["cost/generated_tokens"] += (cand.shape[0] - best.shape[0]) * cand.shape[1]
        self.samples_per_prompt = 1
        return best

    def _start_round(self) -> None:
        super()._start_round()
        self.samples_per_prompt = self.config.best_of
        assert self._round is not None
        self._round.n = 1

    def _update(self, rnd: Round, rewards: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        prompts = self.prompts_of(rnd)
        best, worst = rnd.responses, self._worst
        first = self.task.prefer(prompts.cpu().numpy(), best.cpu().numpy(), worst.cpu().numpy(), self.rng)
        self.costs["cost/preference_queries"] += len(first)
        w = torch.as_tensor(first, device=self.device)[:, None]
        self.labelled.append(Preferences(prompts, torch.where(w, best, worst), torch.where(w, worst, best)))
        data = Preferences(
            *(torch.cat([getattr(p, f) for p in self.labelled]) for f in ("prompts", "chosen", "rejected"))
        )
        loss = torch.zeros(())
        for _ in range(cfg.rm_steps):
            idx = torch.as_tensor(
                self.rng.choice(len(data), size=min(cfg.rm_batch, len(data)), replace=False)
            )
            loss = bt_reward_loss(
                self.net(data.prompts[idx], data.chosen[idx]),
                self.net(data.prompts[idx], data.rejected[idx]),
                cfg.margin,
                cfg.center_coef,
            )
            self.rm_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.rm_opt.step()
        return {"loss": float(loss.detach()), "pairs": float(len(data)), **reward_metrics(self.net, data)}

    def _extra_state(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "rm_opt": self.rm_opt.state_dict(),
            "labelled": [(p.prompts.cpu(), p.chosen.cpu(), p.rejected.cpu()) for p in self.labelled],
            "worst": None if getattr(self, "_worst", None) is None else self._worst.cpu(),
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.rm_opt.load_state_dict(state["rm_opt"])
        self.labelled = [Preferences(*(t.to(self.device) for t in p)) for p in state["labelled"]]
        if state["worst"] is not None:
            self._worst = state["worst"].to(self.device)
