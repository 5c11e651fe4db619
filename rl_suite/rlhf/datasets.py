"""Generated data for the RLHF sandbox: noisy-teacher demonstrations and Bradley–Terry preference pairs.

Nothing is downloaded: demonstrations come from the task's best response, preferences from π_ref's samples
judged by the task's Bradley–Terry oracle. The ``coverage`` knob of :func:`make_preference_dataset`
restricts, per prompt, which responses can ever appear in the pairs — the setting of the χPO-vs-DPO
over-optimisation study (Huang et al. 2024): an offline dataset that covers only part of the response space.

References:
    Huang et al., "Correcting the Mythos of KL-Regularization: Direct Alignment without Overoptimization
    via Chi-Squared Preference Optimization", 2024; Rafailov et al., "Direct Preference Optimization", 2023.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rl_suite.errors import UserError
from rl_suite.rlhf.task import RLHFTask

if TYPE_CHECKING:
    from rl_suite.sequence_policy import SequencePolicy


def demonstrations(
    task: RLHFTask, n: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy-teacher demonstrations: pool prompts and their best responses with random token corruption.

    Args:
        task: The task (its :meth:`~RLHFTask.best_response` is the teacher).
        n: Number of demonstrations.
        noise: Per-token probability, in ``[0, 1]``, that the teacher's token is replaced by a uniform one.
        rng: Random generator (prompt draws, then the corruption mask, then the random tokens).

    Returns:
        ``(prompts (n, P), responses (n, L))`` int64.
    """
    if not (isinstance(noise, (int, float)) and 0.0 <= noise <= 1.0):
        raise UserError(f"noise must be a probability in [0, 1], got {noise!r}")
    prompts = task.prompts[rng.integers(0, task.n_prompts, size=n)]
    responses = task.best_response(prompts).copy()
    flip = rng.random(responses.shape) < noise
    responses[flip] = rng.integers(0, task.vocab_size, size=int(flip.sum()))
    return prompts, responses


@dataclass(frozen=True, eq=False)
class PreferenceDataset:
    """Offline preference pairs ``(x, y_w ≻ y_l)``.

    Attributes:
        prompts: ``(N, P)`` int64.
        chosen: ``(N, L)`` int64, the preferred responses ``y_w``.
        rejected: ``(N, L)`` int64, the dispreferred responses ``y_l``.
        covered: ``(n_prompts, V**L)`` bool, which responses the pairs could contain (``None``: all).
    """

    prompts: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    covered: np.ndarray | None = None

    def __post_init__(self) -> None:
        arrays = {k: np.asarray(getattr(self, k)) for k in ("prompts", "chosen", "rejected")}
        lengths = {k: (a.shape[0] if a.ndim else 0) for k, a in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise UserError(
                "preference dataset has mismatched lengths: "
                + ", ".join(f"{k} {v}" for k, v in lengths.items())
                + " (one prompt, one chosen and one rejected response per pair)"
            )
        if arrays["chosen"].ndim != 2 or arrays["chosen"].shape != arrays["rejected"].shape:
            raise UserError(
                f"chosen and rejected must both be (N, L) token arrays, got shapes {arrays['chosen'].shape} "
                f"and {arrays['rejected'].shape}"
            )
        if arrays["prompts"].ndim != 2:
            raise UserError(f"prompts must be an (N, P) token array, got shape {arrays['prompts'].shape}")
        for k, a in arrays.items():
            object.__setattr__(self, k, a.astype(np.int64, copy=False))

    def __len__(self) -> int:
        return int(self.prompts.shape[0])

    def check(self, task: RLHFTask) -> PreferenceDataset:
        """Validate lengths and tokens against ``task``; returns ``self``."""
        task.check_prompts(self.prompts)
        task.check_responses(self.chosen)
        task.check_responses(self.rejected)
        return self


def _coverage_mask(ref_probs: np.ndarray, coverage: float, rng: np.random.Generator) -> np.ndarray:
    """Per prompt, ``ceil(coverage·M)`` responses drawn without replacement, weights π_ref (Gumbel top-k)."""
    n, M = ref_probs.shape
    k = max(1, math.ceil(coverage * M))
    with np.errstate(divide="ignore"):
        keys = np.log(ref_probs) + rng.gumbel(size=(n, M))
    top = np.argsort(-keys, axis=1)[:, :k]
    mask = np.zeros((n, M), dtype=bool)
    np.put_along_axis(mask, top, True, axis=1)
    return mask


def make_preference_dataset(
    task: RLHFTask,
    ref_policy: SequencePolicy,
    n_pairs: int,
    coverage: float = 1.0,
    rng: np.random.Generator | None = None,
) -> PreferenceDataset:
    """Sample an offline preference dataset from π_ref, labelled by the task's Bradley–Terry oracle.

    For each pair a pool prompt is drawn uniformly and two responses independently from π_ref — restricted
    to the prompt's covered set and renormalised when ``coverage < 1`` — then ``task.prefer`` orders them.

    Args:
        task: The task.
        ref_policy: π_ref (any :class:`~rl_suite.sequence_policy.SequencePolicy`).
        n_pairs: Number of pairs.
        coverage: Fraction of each prompt's ``V**L`` responses that may appear, in ``(0, 1]``. The covered
            set (``ceil(coverage·V**L)`` responses per prompt) is drawn without replacement with weights
            π_ref, so likely responses are likely covered. ``coverage < 1`` needs an enumerable task.
        rng: Random generator (default: seed 0).

    Returns:
        The dataset; ``covered`` holds the covered sets (``None`` at full coverage).
    """
    import torch

    rng = np.random.default_rng(0) if rng is None else rng
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 1:
        raise UserError(f"n_pairs must be an integer >= 1, got {n_pairs!r}")
    if not (isinstance(coverage, (int, float)) and 0.0 < coverage <= 1.0):
        raise UserError(f"coverage must be in (0, 1], got {coverage!r}")
    idx = rng.integers(0, task.n_prompts, size=int(n_pairs))
    prompts = task.prompts[idx]
    covered = None
    if coverage >= 1.0:
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        pair = ref_policy.sample(prompts, n=2, generator=gen).cpu().numpy().reshape(len(idx), 2, -1)
        y1, y2 = pair[:, 0], pair[:, 1]
    else:
        responses = task.all_responses()
        with torch.no_grad():
            ref = ref_policy.response_probs(task.prompts, responses).double().cpu().numpy()
        ref /= ref.sum(axis=1, keepdims=True)
        covered = _coverage_mask(ref, coverage, rng)
        restricted = np.where(covered, ref, 0.0)
        restricted /= restricted.sum(axis=1, keepdims=True)
        cdf = np.cumsum(restricted[idx], axis=1)
        u = (1.0 - rng.random((len(idx), 2))) * cdf[:, -1:]  # in (0, total]: never a zero-mass response
        picks = np.stack([(cdf < u[:, j : j + 1]).sum(axis=1) for j in range(2)], axis=1)
        picks = np.minimum(picks, len(responses) - 1)
        y1, y2 = responses[picks[:, 0]], responses[picks[:, 1]]
    first = task.prefer(prompts, y1, y2, rng)
    chosen = np.where(first[:, None], y1, y2)
    rejected = np.where(first[:, None], y2, y1)
    return PreferenceDataset(prompts, chosen, rejected, covered)
