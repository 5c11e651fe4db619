"""Pure loss kernels of the RLHF sequence agents: REBEL, A*-PO, GRPO, RLOO, DPO, IPO, χPO, Bradley–Terry.

Every kernel takes plain tensors (sequence log-probabilities ``ℓ_θ(y) = Σ_t log π_θ(y_t | x, y_<t)`` of
shape ``(B,)``, token log-probabilities ``(B, L)``, rewards ``(B,)``, group / pair ids ``(B,)``) and
returns a scalar loss to minimise. Nothing here knows about policies, envs or devices, so each formula is
unit-tested against its closed form (tests/agents/test_rlhf_losses.py), with the paper each comes from:

* REBEL (Gao et al. 2024, arXiv 2404.16767): mean over pairs of
  ``((ℓ_θ(y) − ℓ_t(y)) − (ℓ_θ(y') − ℓ_t(y')) − η·(r(y) − r(y')))²`` — the official code's form, whose exact
  minimiser is the mirror-descent step ``π_{t+1} ∝ π_t·exp(η r)``;
* A*-PO (Brantley et al. 2025, arXiv 2505.20686): mean of ``(β₂·(ℓ_θ − ℓ_ref) − (r − V̂*))²``, with
  ``V̂*(x) = β₁·log mean_i exp(r_i / β₁)`` over N reference samples (:func:`v_star_estimate`);
* GRPO (Shao et al. 2024) in TRL's form: group-normalised advantages, a clipped token-level ratio to the
  sampling policy, Schulman's k3 KL to π_ref, ``loss_type`` ``grpo`` / ``dapo`` / ``dr_grpo``;
* RLOO (Ahmadian et al. 2024): KL-shaped reward, leave-one-out baseline, REINFORCE;
* DPO (Rafailov et al. 2023), IPO (Azar et al. 2023, TRL's length-normalised form), χPO (Huang et al.
  2024, arXiv 2407.13399: the link ``φ(z) = z + log z`` of the density ratio, clipped at ``±2·R_max``);
* the Bradley–Terry reward-model loss with TRL's margin and centring term.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

GRPOLossType = Literal["grpo", "dapo", "dr_grpo"]
ScaleRewards = Literal["group", "batch", "none"]


# --------------------------------------------------------------------------- checks
def _check_same(name: str, *tensors: Tensor) -> None:
    shape = tensors[0].shape
    for t in tensors[1:]:
        if t.shape != shape:
            raise ValueError(f"{name}: all inputs must have shape {tuple(shape)}, got {tuple(t.shape)}")


def _check_1d(name: str, *tensors: Tensor) -> None:
    for t in tensors:
        if t.dim() != 1:
            raise ValueError(f"{name}: expected 1-D (B,) tensors, got shape {tuple(t.shape)}")
    _check_same(name, *tensors)


def _check_positive(name: str, **values: float) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{name}: {key} must be > 0, got {value}")


def _weighted_mean(values: Tensor, weights: Tensor | None) -> Tensor:
    """Mean of ``values``, or the ``weights``-weighted mean (weights need not sum to 1)."""
    if weights is None:
        return values.mean()
    if weights.shape != values.shape:
        raise ValueError(f"weights must have shape {tuple(values.shape)}, got {tuple(weights.shape)}")
    return (weights * values).sum() / weights.sum()


def group_index(group_ids: Tensor) -> tuple[Tensor, int]:
    """Dense ``(B,)`` group indices ``0..G-1`` of arbitrary ``group_ids`` and the number of groups G."""
    if group_ids.dim() != 1:
        raise ValueError(f"group_ids must be 1-D, got shape {tuple(group_ids.shape)}")
    _, dense = torch.unique(group_ids, return_inverse=True)
    return dense, int(dense.max().item()) + 1 if dense.numel() else 0


def _group_sums(
    rewards: Tensor, group_ids: Tensor, needs_pairs: str | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Each entry's dense group index, and each group's size and reward sum (``(B,)``, ``(G,)``, ``(G,)``).

    With ``needs_pairs`` (the caller's name), a group of fewer than 2 responses is a ``ValueError``.
    """
    idx, n_groups = group_index(group_ids)
    counts = torch.bincount(idx, minlength=n_groups).to(rewards.dtype)
    if needs_pairs is not None and bool((counts < 2).any()):
        raise ValueError(f"{needs_pairs}: every group needs at least 2 responses")
    sums = torch.zeros(n_groups, dtype=rewards.dtype, device=rewards.device).index_add_(0, idx, rewards)
    return idx, counts, sums


def pair_up(values: Tensor, pair_ids: Tensor) -> tuple[Tensor, Tensor]:
    """Split ``(B,)`` values into the ``(B/2,)`` first and second members of each pair.

    Args:
        values: one value per response.
        pair_ids: ``(B,)`` ids; every id must occur exactly twice. Within a pair, the member that comes
            first in the batch is the "first" one.

    Returns:
        ``(first, second)``, ordered by pair id.
    """
    _check_1d("pair_up", values, pair_ids)
    order = torch.sort(pair_ids, stable=True).indices
    sorted_ids = pair_ids[order]
    if (
        sorted_ids.numel() % 2
        or not torch.equal(sorted_ids[0::2], sorted_ids[1::2])
        or (sorted_ids.numel() > 2 and bool((sorted_ids[2::2] == sorted_ids[1:-1:2]).any()))
    ):
        raise ValueError("pair_ids: every pair id must occur exactly twice (two responses per pair)")
    v = values[order]
    return v[0::2], v[1::2]


# --------------------------------------------------------------------------- advantages
def group_baseline_advantages(
    rewards: Tensor, group_ids: Tensor, scale: ScaleRewards = "group", eps: float = 1e-4
) -> Tensor:
    """GRPO advantages ``(r_i − mean_G r) / (std + eps)`` (TRL ``scale_rewards``; std is unbiased).

    ``scale="group"`` divides by each group's standard deviation, ``"batch"`` by the batch's, ``"none"``
    only centres (Dr. GRPO). Every group needs at least two members.
    """
    _check_1d("group_baseline_advantages", rewards, group_ids)
    idx, counts, sums = _group_sums(rewards, group_ids, "group_baseline_advantages")
    centred = rewards - (sums / counts)[idx]
    if scale == "none":
        return centred
    if scale == "batch":
        return centred / (rewards.std() + eps)
    return centred / (group_reward_std(rewards, group_ids)[idx] + eps)


def group_reward_std(rewards: Tensor, group_ids: Tensor) -> Tensor:
    """``(G,)`` unbiased standard deviation of the rewards per group (TRL's ``reward_std`` averages it)."""
    idx, counts, sums = _group_sums(rewards, group_ids)
    mean = sums / counts
    var = torch.zeros_like(mean).index_add_(0, idx, (rewards - mean[idx]) ** 2) / (counts - 1).clamp_min(1)
    return var.sqrt()


def leave_one_out_advantages(rewards: Tensor, group_ids: Tensor) -> Tensor:
    """RLOO advantages ``r_i − (1/(k−1))·Σ_{j≠i} r_j`` within each group of k ≥ 2."""
    _check_1d("leave_one_out_advantages", rewards, group_ids)
    idx, counts, total = _group_sums(rewards, group_ids, "leave_one_out_advantages")
    return rewards - (total[idx] - rewards) / (counts[idx] - 1)


def kl_shaped_reward(rewards: Tensor, logp: Tensor, ref_logp: Tensor, kl_coef: float) -> Tensor:
    """``r − kl_coef·(ℓ − ℓ_ref)``, detached: the KL-shaped reward of REBEL and RLOO."""
    _check_1d("kl_shaped_reward", rewards, logp, ref_logp)
    return (rewards - kl_coef * (logp - ref_logp)).detach()


def v_star_estimate(ref_rewards: Tensor, beta1: float) -> Tensor:
    """A*-PO's stage-1 value estimate from N reference samples per prompt.

    Args:
        ref_rewards: ``(n_prompts, N)`` rewards of N responses sampled from π_ref per prompt.
        beta1: ``> 0``: ``β₁·log((1/N)·Σ_i exp(r_i/β₁))`` (computed stably with logsumexp);
            ``0``: the plain mean; ``< 0``: zero (the official code's three branches).

    Returns:
        ``(n_prompts,)`` V̂*. It is biased low for finite N (Jensen), the bias shrinking as N grows.
    """
    if ref_rewards.dim() != 2 or ref_rewards.shape[1] < 1:
        raise ValueError(
            f"v_star_estimate: ref_rewards must be (n_prompts, N>=1), got {tuple(ref_rewards.shape)}"
        )
    if beta1 > 0:
        n = ref_rewards.shape[1]
        return beta1 * (torch.logsumexp(ref_rewards / beta1, dim=1) - torch.log(torch.tensor(float(n))))
    if beta1 == 0:
        return ref_rewards.mean(dim=1)
    return torch.zeros(ref_rewards.shape[0], dtype=ref_rewards.dtype, device=ref_rewards.device)


# --------------------------------------------------------------------------- online losses
def rebel_loss(
    logp: Tensor,
    old_logp: Tensor,
    rewards: Tensor,
    pair_ids: Tensor,
    eta: float,
    weights: Tensor | None = None,
) -> Tensor:
    """REBEL's least-squares regression of relative log-ratios onto relative rewards (Gao et al. 2024).

    ``res = (ℓ_θ(y) − ℓ_t(y)) − (ℓ_θ(y') − ℓ_t(y')) − η·(r(y) − r(y'))``; the loss is the (weighted) mean of
    ``res²`` over pairs. This is the official code's scale (the paper's divides the log-ratios by η: same
    minimiser, loss × η²).

    Args:
        logp: ``(B,)`` ℓ_θ of every response, with gradient.
        old_logp: ``(B,)`` ℓ_t of the same responses under the sampling policy π_t (held fixed).
        rewards: ``(B,)`` rewards (KL-shaped if wanted, see :func:`kl_shaped_reward`).
        pair_ids: ``(B,)`` pair membership; each id exactly twice.
        eta: step size η > 0.
        weights: optional ``(B/2,)`` pair weights, ordered by pair id.
    """
    _check_1d("rebel_loss", logp, old_logp, rewards, pair_ids)
    _check_positive("rebel_loss", eta=eta)
    delta = logp - old_logp.detach()
    d1, d2 = pair_up(delta, pair_ids)
    r1, r2 = pair_up(rewards.detach(), pair_ids)
    res = (d1 - d2) - eta * (r1 - r2)
    return _weighted_mean(res**2, weights)


def apo_loss(
    logp: Tensor,
    ref_logp: Tensor,
    rewards: Tensor,
    v_star: Tensor,
    beta2: float,
    weights: Tensor | None = None,
) -> Tensor:
    """A*-PO stage-2 loss: mean of ``(β₂·(ℓ_θ − ℓ_ref) − (r − V̂*))²`` (Brantley et al. 2025).

    With the exact ``V*(x) = β·log E_{π_ref} exp(r/β)`` and ``β₂ = β`` its minimiser is
    ``π* ∝ π_ref·exp(r/β)`` (the optimal advantage is a scaled log-ratio). ``v_star`` is per response
    (the prompt's V̂* gathered to each response).
    """
    _check_1d("apo_loss", logp, ref_logp, rewards, v_star)
    _check_positive("apo_loss", beta2=beta2)
    res = beta2 * (logp - ref_logp.detach()) - (rewards - v_star).detach()
    return _weighted_mean(res**2, weights)


def grpo_loss(
    token_logp: Tensor,
    old_token_logp: Tensor,
    ref_token_logp: Tensor | None,
    mask: Tensor,
    rewards: Tensor,
    group_ids: Tensor,
    beta: float = 0.0,
    eps: float = 0.2,
    loss_type: GRPOLossType = "dapo",
    scale_rewards: ScaleRewards = "group",
) -> Tensor:
    """GRPO's clipped token-level surrogate with a k3 KL penalty, TRL's normalisations.

    Per token: ``−[min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â) − β·KL̂]`` with ``ρ = π_θ/π_old`` and
    ``KL̂ = π_ref/π_θ − log(π_ref/π_θ) − 1``. ``loss_type``: ``"grpo"`` averages tokens per sequence then
    sequences; ``"dapo"`` divides the token sum by the number of active tokens; ``"dr_grpo"`` divides by
    ``B·L`` (L = the mask's width). With ``old_token_logp`` = the detached current values the loss value is
    ``−mean(Â)`` ≈ 0 while its gradient is the policy gradient (TRL's "loss is 0" FAQ).

    Args:
        token_logp: ``(B, L)`` log π_θ(y_t | ·), with gradient.
        old_token_logp: ``(B, L)`` the sampling policy's, fixed.
        ref_token_logp: ``(B, L)`` π_ref's, or ``None`` when ``beta == 0``.
        mask: ``(B, L)`` 1 for response tokens, 0 for padding.
        rewards: ``(B,)`` rewards.
        group_ids: ``(B,)`` prompt groups, each of G ≥ 2 responses.
        beta: KL coefficient ≥ 0.
        eps: clip range ε of the ratio.
        loss_type: ``"grpo"``, ``"dapo"`` or ``"dr_grpo"`` (see above).
        scale_rewards: advantage scaling, see :func:`group_baseline_advantages`.
    """
    if token_logp.dim() != 2:
        raise ValueError(f"grpo_loss: token_logp must be (B, L), got {tuple(token_logp.shape)}")
    _check_same("grpo_loss", token_logp, old_token_logp, mask)
    if beta < 0:
        raise ValueError(f"grpo_loss: beta must be >= 0, got {beta}")
    if beta > 0 and ref_token_logp is None:
        raise ValueError("grpo_loss: beta > 0 needs ref_token_logp")
    adv = group_baseline_advantages(rewards.detach(), group_ids, scale_rewards)
    if adv.shape[0] != token_logp.shape[0]:
        raise ValueError(f"grpo_loss: {adv.shape[0]} rewards for {token_logp.shape[0]} responses")
    m = mask.to(token_logp.dtype)
    ratio = torch.exp(token_logp - old_token_logp.detach())
    a = adv[:, None]
    per_token = -torch.min(ratio * a, torch.clamp(ratio, 1 - eps, 1 + eps) * a)
    if beta > 0:
        assert ref_token_logp is not None
        _check_same("grpo_loss", token_logp, ref_token_logp)
        diff = ref_token_logp.detach() - token_logp
        per_token = per_token + beta * (torch.exp(diff) - diff - 1)
    if loss_type == "grpo":
        return ((per_token * m).sum(1) / m.sum(1).clamp_min(1)).mean()
    if loss_type == "dapo":
        return (per_token * m).sum() / m.sum().clamp_min(1)
    if loss_type == "dr_grpo":
        return (per_token * m).sum() / (m.shape[0] * m.shape[1])
    raise ValueError(f"grpo_loss: loss_type must be one of grpo, dapo, dr_grpo, got {loss_type!r}")


def rloo_loss(logp: Tensor, ref_logp: Tensor, rewards: Tensor, group_ids: Tensor, beta: float) -> Tensor:
    """RLOO: REINFORCE with the leave-one-out baseline on the KL-shaped reward (Ahmadian et al. 2024).

    ``r̃_i = R_i − β·(ℓ_i − ℓ_ref,i)`` (no gradient through it), ``A_i = r̃_i − mean_{j≠i} r̃_j``,
    loss ``−mean_i A_i·ℓ_θ(y_i)``.
    """
    _check_1d("rloo_loss", logp, ref_logp, rewards, group_ids)
    if beta < 0:
        raise ValueError(f"rloo_loss: beta must be >= 0, got {beta}")
    shaped = kl_shaped_reward(rewards, logp.detach(), ref_logp, beta)
    adv = leave_one_out_advantages(shaped, group_ids)
    return -(adv * logp).mean()


# --------------------------------------------------------------------------- preference losses
def _pref_inputs(name: str, *t: Tensor) -> None:
    _check_1d(name, *t)


def dpo_loss(
    logp_chosen: Tensor,
    logp_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    beta: float,
    weights: Tensor | None = None,
) -> Tensor:
    """DPO: ``−log σ(β·[h(y_w) − h(y_l)])`` with ``h = ℓ_θ − ℓ_ref`` (Rafailov et al. 2023)."""
    _pref_inputs("dpo_loss", logp_chosen, logp_rejected, ref_chosen, ref_rejected)
    _check_positive("dpo_loss", beta=beta)
    margin = (logp_chosen - ref_chosen.detach()) - (logp_rejected - ref_rejected.detach())
    return _weighted_mean(-F.logsigmoid(beta * margin), weights)


def ipo_loss(
    logp_chosen: Tensor,
    logp_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    beta: float,
    len_chosen: Tensor | float = 1.0,
    len_rejected: Tensor | float = 1.0,
    weights: Tensor | None = None,
) -> Tensor:
    """IPO: ``(h(y_w)/|y_w| − h(y_l)/|y_l| − 1/(2β))²`` (Azar et al. 2023; TRL divides by lengths).

    Pass lengths of 1 for the paper's unnormalised form.
    """
    _pref_inputs("ipo_loss", logp_chosen, logp_rejected, ref_chosen, ref_rejected)
    _check_positive("ipo_loss", beta=beta)
    h_w = (logp_chosen - ref_chosen.detach()) / len_chosen
    h_l = (logp_rejected - ref_rejected.detach()) / len_rejected
    return _weighted_mean((h_w - h_l - 1.0 / (2.0 * beta)) ** 2, weights)


def chipo_link(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """χPO's link ``φ(π/π_ref) = π/π_ref + log(π/π_ref)`` on log-probabilities."""
    h = logp - ref_logp
    return torch.exp(h) + h


def chipo_loss(
    logp_chosen: Tensor,
    logp_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    beta: float,
    r_max: float = 1.0,
    weights: Tensor | None = None,
) -> Tensor:
    """χPO: DPO with the link ``φ(z) = z + log z`` and the margin clipped to ``[−2R_max, 2R_max]``.

    ``−log σ(clip(β·[φ(y_w) − φ(y_l)], −2R_max, 2R_max))`` (Huang et al. 2024, "Correcting the mythos of
    KL-regularization"). The link adds a χ² penalty to the KL one, which keeps the policy from putting mass
    on responses the data does not cover. The margin is clipped at ``±2·r_max``, where ``r_max`` bounds
    the reward range.
    """
    _pref_inputs("chipo_loss", logp_chosen, logp_rejected, ref_chosen, ref_rejected)
    _check_positive("chipo_loss", beta=beta, r_max=r_max)
    margin = chipo_link(logp_chosen, ref_chosen.detach()) - chipo_link(logp_rejected, ref_rejected.detach())
    clipped = torch.clamp(beta * margin, -2.0 * r_max, 2.0 * r_max)
    return _weighted_mean(-F.logsigmoid(clipped), weights)


def bt_reward_loss(
    r_chosen: Tensor, r_rejected: Tensor, margin: Tensor | float = 0.0, center_coef: float = 0.0
) -> Tensor:
    """Bradley–Terry reward-model loss (TRL ``RewardTrainer``).

    ``mean(−log σ(r_w − r_l − m)) + c·mean((r_w + r_l)²)``; ``c = center_rewards_coefficient`` (TRL
    recommends 0.01) pulls the mean reward to zero without changing the ranking.
    """
    _check_1d("bt_reward_loss", r_chosen, r_rejected)
    if center_coef < 0:
        raise ValueError(f"bt_reward_loss: center_coef must be >= 0, got {center_coef}")
    loss = -F.logsigmoid(r_chosen - r_rejected - margin).mean()
    if center_coef > 0:
        loss = loss + center_coef * ((r_chosen + r_rejected) ** 2).mean()
    return loss
