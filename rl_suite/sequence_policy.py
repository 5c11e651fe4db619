"""Sequence policies for the RLHF sandbox: one protocol, a tabular (exact), a GRU and a causal transformer.

Every sequence agent (REBEL, A*-PO, DPO, GRPO, ...) talks to a policy only through
:class:`SequencePolicy`: ``sample`` responses, ``token_logprobs`` / ``logprob`` / ``entropy`` of given
responses (with gradients), ``response_probs`` over all responses of an enumerable task (exact), and
``frozen_copy`` for π_ref or π_t. A policy maps a prompt ``x`` (``P`` tokens) to a distribution over
responses of exactly ``L`` tokens, autoregressively: ``π(y|x) = Π_t π(y_t | x, y_<t)``.

Temperature is applied in one place, :meth:`SequencePolicy.logits` divided by ``temperature`` before the
softmax, for sampling and for log-probabilities alike: ``sample(x, temperature=T)`` draws exactly from
``exp(logprob(x, y, temperature=T))`` (REBEL's official code, ZhaolinGao/REBEL ``src/tldr/rebel.py``,
divides the logits by the sampling temperature in the same way).

Policies (``make_policy(kind, task)``):

* ``tabular``: a prefix-tree softmax, one free logit vector per (pool prompt, response prefix) — every
  distribution over responses is representable, so fixed points (REBEL's mirror-descent step, DPO's
  minimiser, π*) are reached exactly. Needs ``V**L <= MAX_ENUMERABLE``.
* ``gru``: embedding 32, hidden 64 (rl_suite's sizes); the prompt, a separator token, then the response.
* ``transformer``: 2-layer pre-norm causal transformer, d_model 64, 4 heads, learned positions, context
  ``P + L <= 32`` (rl_suite's sizes).
* ``hf``: any Hugging Face ``transformers`` causal LM, built from a config or loaded from a local
  directory (optional extra ``rl_suite[hf]``; no hub downloads).

π_ref comes from :func:`sft_reference`: supervised training on noisy-teacher demonstrations.

References:
    Gao et al., "REBEL", NeurIPS 2024 (arXiv 2404.16767); Brantley et al., "A*-PO", 2025 (arXiv 2505.20686).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal, cast

import numpy as np
import torch
from torch import nn

from rl_suite.devices import resolve_device
from rl_suite.errors import UserError
from rl_suite.rlhf.datasets import demonstrations
from rl_suite.rlhf.task import MAX_ENUMERABLE, RLHFTask, enumerate_sequences

PolicyKind = Literal["tabular", "gru", "transformer", "hf"]
#: The kinds built in (``hf`` needs the optional extra and is listed apart).
POLICY_KINDS: tuple[str, ...] = ("tabular", "gru", "transformer")


def _check_temperature(temperature: float) -> float:
    if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and temperature > 0):
        raise UserError(f"temperature must be a finite number > 0, got {temperature!r}")
    return float(temperature)


class SequencePolicy(nn.Module, ABC):
    """An autoregressive policy over fixed-length responses (subclasses define :meth:`logits`).

    Attributes:
        vocab_size: V.
        prompt_length: P.
        response_length: L.
    """

    #: The policy kind (the ``kind`` of :func:`make_policy`).
    kind: ClassVar[str] = ""
    #: Adam learning rate :func:`sft_reference` uses for this kind unless told otherwise.
    default_sft_lr: float = 3e-3

    def __init__(self, vocab_size: int, prompt_length: int, response_length: int) -> None:
        super().__init__()
        self.vocab_size = int(vocab_size)
        self.prompt_length = int(prompt_length)
        self.response_length = int(response_length)

    # ---------------------------------------------------------------------------------------- to define

    @abstractmethod
    def logits(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Next-token logits under teacher forcing.

        Args:
            prompts: ``(B, P)`` long.
            responses: ``(B, L)`` long.

        Returns:
            ``(B, L, V)``: row ``t`` scores ``y_t`` given ``x`` and ``y_<t`` (it never looks at ``y_≥t``).
        """

    # ------------------------------------------------------------------------------------------ helpers

    @property
    def device(self) -> torch.device:
        """The device of the parameters."""
        return next(self.parameters()).device

    def _tokens(self, name: str, value: Any, width: int) -> torch.Tensor:
        if isinstance(value, np.ndarray) and not value.flags.writeable:
            value = value.copy()  # torch refuses to wrap read-only memory
        t = torch.as_tensor(value, device=self.device)
        if t.ndim == 1:
            t = t[None, :]
        if t.ndim != 2 or t.shape[1] != width or t.dtype.is_floating_point or t.dtype == torch.bool:
            raise UserError(f"{name} must be integer tokens of shape (B, {width}), got {tuple(t.shape)}")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.vocab_size):
            raise UserError(f"{name} hold tokens outside the vocabulary [0, {self.vocab_size})")
        return t.long()

    def _pair(self, prompts: Any, responses: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._tokens("prompts", prompts, self.prompt_length)
        y = self._tokens("responses", responses, self.response_length)
        if x.shape[0] == 1 and y.shape[0] > 1:
            x = x.expand(y.shape[0], -1)
        if x.shape[0] != y.shape[0]:
            raise UserError(f"{x.shape[0]} prompts but {y.shape[0]} responses: give one prompt per response")
        return x, y

    # ----------------------------------------------------------------------------------- the protocol

    def token_logprobs(self, prompts: Any, responses: Any, temperature: float = 1.0) -> torch.Tensor:
        """``log π(y_t | x, y_<t)`` at temperature T (logits / T), ``(B, L)``, differentiable."""
        x, y = self._pair(prompts, responses)
        logp = torch.log_softmax(self.logits(x, y) / _check_temperature(temperature), dim=-1)
        return logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)

    def logprob(self, prompts: Any, responses: Any, temperature: float = 1.0) -> torch.Tensor:
        """``log π(y|x)``, the sum of the token log-probabilities, ``(B,)``."""
        return self.token_logprobs(prompts, responses, temperature).sum(dim=-1)

    def entropy(self, prompts: Any, responses: Any, temperature: float = 1.0) -> torch.Tensor:
        """Sum over ``t`` of the entropy of ``π(·| x, y_<t)`` along the given responses, ``(B,)``."""
        x, y = self._pair(prompts, responses)
        logp = torch.log_softmax(self.logits(x, y) / _check_temperature(temperature), dim=-1)
        return -(logp.exp() * logp).sum(dim=-1).sum(dim=-1)

    def _next_logits(self, prompts: torch.Tensor, partial: torch.Tensor, t: int) -> torch.Tensor:
        """Logits of ``y_t`` given ``x`` and ``partial[:, :t]`` (``partial[:, t:]`` ignored), ``(B, V)``."""
        return self.logits(prompts, partial)[:, t]

    @torch.no_grad()
    def sample(
        self,
        prompts: Any,
        n: int = 1,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` responses per prompt from ``softmax(logits / temperature)``.

        Args:
            prompts: ``(B, P)`` tokens.
            n: Samples per prompt.
            temperature: Sampling temperature T > 0 (the same scaling as :meth:`token_logprobs`).
            generator: Torch generator for reproducible draws. A CPU generator with a CUDA policy draws
                on the CPU (same numbers as a CPU policy would).

        Returns:
            ``(B*n, L)`` long, prompt-major: rows ``i*n .. i*n+n-1`` are prompt ``i``'s samples.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UserError(f"n must be an integer >= 1, got {n!r}")
        temperature = _check_temperature(temperature)
        x = self._tokens("prompts", prompts, self.prompt_length).repeat_interleave(n, dim=0)
        return self._sample(x, temperature, generator)

    def _sample(self, x: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
        y = torch.zeros(x.shape[0], self.response_length, dtype=torch.long, device=x.device)
        for t in range(self.response_length):
            y[:, t] = self._draw(self._next_logits(x, y, t), temperature, generator)
        return y

    @staticmethod
    def _draw(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        if generator is not None and generator.device != probs.device:
            return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(probs.device)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

    def response_probs(
        self, prompts: Any, all_responses: Any, temperature: float = 1.0, chunk: int = 1 << 16
    ) -> torch.Tensor:
        """Exact ``π(y|x)`` of every listed response, ``(B, M)`` (differentiable; wrap in ``no_grad``).

        Args:
            prompts: ``(B, P)`` tokens.
            all_responses: ``(M, L)`` tokens, e.g. ``task.all_responses()``.
            temperature: Temperature T of the distribution.
            chunk: Most (prompt, response) rows per forward pass.

        Returns:
            ``(B, M)`` probabilities; rows sum to 1 when ``all_responses`` lists every response.
        """
        x = self._tokens("prompts", prompts, self.prompt_length)
        y = self._tokens("all_responses", all_responses, self.response_length)
        B, M = x.shape[0], y.shape[0]
        V, L = self.vocab_size, self.response_length
        if M == V**L and torch.equal(y, torch.as_tensor(enumerate_sequences(V, L), device=y.device)):
            return self._all_response_probs(x, temperature, chunk)
        out = []
        per = max(1, chunk // max(M, 1))
        for start in range(0, B, per):
            xs = x[start : start + per]
            rows = xs.repeat_interleave(M, dim=0)
            lp = self.logprob(rows, y.repeat(xs.shape[0], 1), temperature)
            out.append(lp.view(xs.shape[0], M))
        return torch.cat(out).exp()

    def _all_response_probs(self, x: torch.Tensor, temperature: float, chunk: int) -> torch.Tensor:
        """π(y|x) of every response in lexicographic order, with ``V`` times fewer forward rows.

        Responses sharing ``y_<L`` share every logit row, so one teacher-forced pass per *stem* ``y_<L``
        (``V**(L-1)`` of them, the last token a dummy) scores all ``V**L`` responses.
        """
        V, L = self.vocab_size, self.response_length
        stems = torch.as_tensor(enumerate_sequences(V, L - 1), device=x.device)
        stems = torch.cat([stems, torch.zeros(stems.shape[0], 1, dtype=torch.long, device=x.device)], dim=1)
        responses = torch.as_tensor(enumerate_sequences(V, L), device=x.device)
        S = stems.shape[0]
        # Response k has stem k // V; its token t is scored at row t of that stem's logits: one flat index.
        stem = torch.arange(V**L, device=x.device) // V
        flat = (stem[:, None] * L + torch.arange(L, device=x.device)[None, :]) * V + responses  # (M, L)
        temperature = _check_temperature(temperature)
        out = []
        per = max(1, chunk // S)
        for start in range(0, x.shape[0], per):
            xs = x[start : start + per]
            logits = self.logits(xs.repeat_interleave(S, dim=0), stems.repeat(xs.shape[0], 1))
            logp = torch.log_softmax(logits / temperature, dim=-1).reshape(xs.shape[0], S * L * V)
            out.append(logp[:, flat].sum(dim=-1))
        return torch.cat(out).exp()

    def frozen_copy(self) -> SequencePolicy:
        """A deep copy in eval mode with every parameter's ``requires_grad`` off (for π_ref or π_t)."""
        twin = copy.deepcopy(self).eval()
        twin.requires_grad_(False)
        return twin

    def trainable_copy(self) -> SequencePolicy:
        """A deep copy in train mode with gradients on, e.g. ``π_0 = π_ref`` for an agent to train."""
        twin = copy.deepcopy(self).train()
        twin.requires_grad_(True)
        return twin

    def n_parameters(self) -> int:
        """Number of scalar parameters."""
        return sum(p.numel() for p in self.parameters())


class TabularPolicy(SequencePolicy):
    """Prefix-tree softmax: one free logit vector per (pool prompt, response prefix); exact and complete.

    The node of prefix ``y_<t`` is ``(V**t − 1)/(V − 1) + code(y_<t)`` with ``code`` the prefix read in
    base V, so the table has ``n_prompts × (V**L − 1)/(V − 1) × V`` logits. Prompts outside the task's
    pool are refused. Zero logits (the default) are the uniform policy.

    Args:
        task: The task (its prompt pool and sizes).
        init_std: Standard deviation of the initial logits (0: uniform).
    """

    kind = "tabular"

    default_sft_lr = 0.1
    # Buffers (``register_buffer``), typed here: attribute lookup on a Module is ``Tensor | Module``.
    pool: torch.Tensor
    powers: torch.Tensor
    pool_keys: torch.Tensor
    pool_order: torch.Tensor
    offsets: torch.Tensor

    def __init__(self, task: RLHFTask, init_std: float = 0.0) -> None:
        super().__init__(task.vocab_size, task.prompt_length, task.response_length)
        if not task.enumerable:
            raise UserError(
                f"the tabular policy needs V**L <= {MAX_ENUMERABLE} (one logit vector per prefix), got "
                f"{task.vocab_size}**{task.response_length} = {task.n_responses}; use 'gru' or 'transformer'"
            )
        V, L = self.vocab_size, self.response_length
        n_nodes = (V**L - 1) // (V - 1)
        self.table = nn.Parameter(float(init_std) * torch.randn(task.n_prompts, n_nodes, V))
        self.register_buffer("pool", torch.tensor(np.array(task.prompts), dtype=torch.long))
        # Prompts are looked up by their base-V code (exact in int64 while V**P < 2**62).
        self._coded = task.vocab_size**task.prompt_length < 2**62
        if self._coded:
            self.register_buffer("powers", task.vocab_size ** torch.arange(task.prompt_length - 1, -1, -1))
            keys, order = torch.sort(self.pool @ self.powers)
            self.register_buffer("pool_keys", keys)
            self.register_buffer("pool_order", order)
        self.register_buffer("offsets", torch.tensor([(V**t - 1) // (V - 1) for t in range(L)]))

    def prompt_index(self, prompts: torch.Tensor) -> torch.Tensor:
        """Rows of ``prompts`` in the pool, ``(B,)``; a :class:`UserError` for a prompt outside it."""
        if self._coded:
            keys = prompts @ self.powers
            pos = torch.searchsorted(self.pool_keys, keys).clamp_max(self.pool.shape[0] - 1)
            idx = self.pool_order[pos]
            found = self.pool_keys[pos] == keys
        else:
            match = (prompts[:, None, :] == self.pool[None, :, :]).all(dim=-1)
            found, idx = match.any(dim=1), match.int().argmax(dim=1)
        if not bool(found.all()):
            bad = prompts[~found][0].tolist()
            raise UserError(
                f"prompt {bad} is not in the task's pool: the tabular policy only knows its prompts"
            )
        return idx

    @torch.no_grad()
    def set_response_probs(self, probs: Any) -> TabularPolicy:
        """Set the table so that ``π(y|x)`` equals the given distribution (e.g. π*), exactly up to float32.

        Each node's logits are the log-masses of its children: ``π(y_t | x, y_<t) = m(y_≤t) / m(y_<t)``
        with ``m`` the marginal mass of a prefix.

        Args:
            probs: ``(n_prompts, V**L)`` probabilities over ``task.all_responses()`` (lexicographic order).

        Returns:
            ``self``.
        """
        V, L = self.vocab_size, self.response_length
        p = torch.tensor(np.array(probs, dtype=np.float64))
        n = self.table.shape[0]
        if tuple(p.shape) != (n, V**L):
            raise UserError(f"probs must have shape ({n}, {V**L}), got {tuple(p.shape)}")
        p = p.view(n, *([V] * L))
        for t in range(L):
            mass = p.sum(dim=tuple(range(t + 2, L + 1))) if t + 1 < L else p  # (n, V, ..., V): t+1 axes
            logits = mass.reshape(n, V**t, V).clamp_min(1e-300).log()
            start = (V**t - 1) // (V - 1)
            self.table[:, start : start + V**t] = logits.to(self.table.dtype)
        return self

    def _nodes(self, responses: torch.Tensor) -> torch.Tensor:
        codes = torch.zeros_like(responses)
        for t in range(1, self.response_length):
            codes[:, t] = codes[:, t - 1] * self.vocab_size + responses[:, t - 1]
        return codes + self.offsets

    def logits(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Look up the logit vector of every prefix, ``(B, L, V)``."""
        idx = self.prompt_index(prompts)
        return self.table[idx[:, None], self._nodes(responses)]


class GRUPolicy(SequencePolicy):
    """A GRU reads the prompt, a separator ``V``, then the response; a linear head scores the next token.

    Args:
        vocab_size: V.
        prompt_length: P.
        response_length: L.
        embed_dim: Token embedding width (32).
        hidden_dim: GRU width (64).
    """

    kind = "gru"

    def __init__(
        self,
        vocab_size: int,
        prompt_length: int,
        response_length: int,
        embed_dim: int = 32,
        hidden_dim: int = 64,
    ) -> None:
        super().__init__(vocab_size, prompt_length, response_length)
        self.embed = nn.Embedding(vocab_size + 1, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, vocab_size)

    def _context(self, prompts: torch.Tensor) -> torch.Tensor:
        sep = torch.full((prompts.shape[0], 1), self.vocab_size, dtype=torch.long, device=prompts.device)
        return torch.cat([prompts, sep], dim=1)

    def logits(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits, ``(B, L, V)``."""
        seq = torch.cat([self._context(prompts), responses[:, :-1]], dim=1)
        hidden, _ = self.gru(self.embed(seq))
        return self.head(hidden[:, self.prompt_length :])

    def _sample(self, x: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
        """Incremental decoding: one GRU step per token (same law as :meth:`logits`)."""
        out, h = self.gru(self.embed(self._context(x)))
        last = out[:, -1]
        y = torch.empty(x.shape[0], self.response_length, dtype=torch.long, device=x.device)
        for t in range(self.response_length):
            y[:, t] = self._draw(self.head(last), temperature, generator)
            if t + 1 < self.response_length:
                out, h = self.gru(self.embed(y[:, t : t + 1]), h)
                last = out[:, -1]
        return y


class TransformerPolicy(SequencePolicy):
    """A pre-norm causal transformer over ``prompt ‖ separator ‖ response`` with learned positions.

    Args:
        vocab_size: V.
        prompt_length: P.
        response_length: L.
        d_model: Width (64).
        n_heads: Attention heads (4).
        n_layers: Layers (2).
        max_context: Longest ``P + L`` allowed (32).
    """

    kind = "transformer"

    def __init__(
        self,
        vocab_size: int,
        prompt_length: int,
        response_length: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        max_context: int = 32,
    ) -> None:
        super().__init__(vocab_size, prompt_length, response_length)
        context = prompt_length + response_length
        if context > max_context:
            raise UserError(
                f"the transformer's context is prompt_length + response_length = {context}, above "
                f"max_context={max_context}"
            )
        self.embed = nn.Embedding(vocab_size + 1, d_model)
        self.position = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, 4 * d_model, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.register_buffer(
            "causal", nn.Transformer.generate_square_subsequent_mask(context), persistent=False
        )

    def logits(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits, ``(B, L, V)``."""
        sep = torch.full((prompts.shape[0], 1), self.vocab_size, dtype=torch.long, device=prompts.device)
        seq = torch.cat([prompts, sep, responses[:, :-1]], dim=1)
        pos = torch.arange(seq.shape[1], device=seq.device)
        hidden = self.encoder(self.embed(seq) + self.position(pos), mask=self.causal, is_causal=True)
        return self.head(self.norm(hidden[:, self.prompt_length :]))


#: The default ``hf`` model: a 2-layer GPT-2 the size of :class:`TransformerPolicy`, without dropout.
HF_DEFAULT_CONFIG: dict[str, Any] = {
    "model_type": "gpt2",
    "n_embd": 64,
    "n_layer": 2,
    "n_head": 4,
    "resid_pdrop": 0.0,
    "embd_pdrop": 0.0,
    "attn_pdrop": 0.0,
}


class HFPolicy(SequencePolicy):
    """A Hugging Face ``transformers`` causal LM as a sequence policy (optional extra ``rl_suite[hf]``).

    Token ids: ``0..V-1`` are the response tokens, ``V`` the separator between prompt and response and
    ``V+1..2V`` the prompt tokens (prompt token ``t`` is id ``V + 1 + t``), so the model's vocabulary must
    have at least ``2V + 1`` entries; the policy's distribution is the softmax over the first ``V`` logits.
    Prompt tokens have embedding rows of their own because GPT-2 ties its output head to its input
    embeddings (Press & Wolf 2017, arXiv 1608.05859): were a prompt token the id of a response token, every
    policy-gradient step on that token's output row would also rewrite how the prompt is read, and a
    prompt-independent policy (a saddle when prompts want different responses) would attract more often.
    With two prompts whose targets are complementary (``target_string``, V = 2, L = 3, β = 0.1; REBEL,
    A*-PO and RLOO, 16 seeds each, 400 generations, lr 3e-3) shared ids left 9 of 48 runs below
    E[r] = 0.8, most at the prompt-blind 0.5, and separate prompt ids 1 of 48 (lr 1e-2, 8 seeds each: 17
    of 24 and 9 of 24). The learning rate matters more: at 1e-3 every run learned either way (48 of 48
    with shared ids, 24 of 24 with separate ones).

    Nothing is downloaded: the model is built from a config (``AutoModelForCausalLM.from_config``) or
    loaded from a *local* directory written by ``save_pretrained`` (``local_files_only=True``). Dropout in
    a loaded model stays as configured: keep it at 0 so that sampling and log-probabilities describe the
    same policy.

    Args:
        vocab_size: V.
        prompt_length: P.
        response_length: L.
        config: Config overrides (default :data:`HF_DEFAULT_CONFIG`; ``model_type`` picks the
            architecture; ``vocab_size`` and the context length are set from the task unless given).
        path: A local directory to load instead.
    """

    kind = "hf"

    def __init__(
        self,
        vocab_size: int,
        prompt_length: int,
        response_length: int,
        config: dict[str, Any] | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(vocab_size, prompt_length, response_length)
        try:
            import transformers
        except ImportError:
            raise UserError("the 'hf' policy needs transformers: pip install 'rl_suite[hf]'") from None
        from pathlib import Path

        context = prompt_length + response_length
        if path is not None:
            if not Path(path).is_dir():
                raise UserError(f"hf policy path {path!r} is not a local directory (nothing is downloaded)")
            self.model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        else:
            settings = {
                **HF_DEFAULT_CONFIG,
                "vocab_size": 2 * vocab_size + 1,
                "n_positions": context,
                "bos_token_id": vocab_size,  # the separator
                "eos_token_id": vocab_size,
            }
            settings.update(config or {})
            model_type = settings.pop("model_type")
            try:
                cfg = transformers.AutoConfig.for_model(model_type, **settings)
            except (ValueError, KeyError) as exc:
                raise UserError(f"hf policy config: {exc}") from None
            self.model = transformers.AutoModelForCausalLM.from_config(cfg)
        n_vocab = cast(nn.Embedding, self.model.get_input_embeddings()).num_embeddings
        if n_vocab < 2 * vocab_size + 1:
            raise UserError(
                f"the hf model has {n_vocab} token ids; the task needs 2 * vocab_size + 1 = "
                f"{2 * vocab_size + 1} (response tokens, the separator, then the prompt tokens)"
            )
        positions = getattr(self.model.config, "max_position_embeddings", 0) or getattr(
            self.model.config, "n_positions", context
        )
        if positions < context:
            raise UserError(
                f"the hf model's context is {positions}, below prompt_length + response_length = {context}"
            )

    def logits(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits over the task's ``V`` tokens, ``(B, L, V)``."""
        sep = torch.full((prompts.shape[0], 1), self.vocab_size, dtype=torch.long, device=prompts.device)
        ids = torch.cat([prompts + (self.vocab_size + 1), sep, responses[:, :-1]], dim=1)
        out = self.model(input_ids=ids).logits
        return out[:, self.prompt_length :, : self.vocab_size].float()


def response_table(
    policy: SequencePolicy, prompts: Any, all_responses: Any, temperature: float = 1.0
) -> np.ndarray:
    """A policy's exact response probabilities as a float64 ``(B, M)`` table whose rows sum to 1.

    The one table the exact figures of a policy are computed from, by the RLHF env and the sequence
    agents alike: its KL-regularised suboptimality (:func:`rl_suite.exact.kl.suboptimality`), expected
    reward and KL. It is :meth:`SequencePolicy.response_probs` without gradients, in float64 on the CPU,
    divided by its row sums (float32 rows sum to 1 only up to round-off).

    Args:
        policy: The policy.
        prompts: ``(B, P)`` tokens.
        all_responses: ``(M, L)`` tokens: every response, ``task.all_responses()``.
        temperature: Temperature T of the distribution.

    Returns:
        ``(B, M)`` float64 probabilities.
    """
    with torch.no_grad():
        probs = policy.response_probs(prompts, all_responses, temperature)
    p = probs.double().cpu().numpy()
    return p / p.sum(axis=1, keepdims=True)


def make_policy(
    kind: PolicyKind | str, task: RLHFTask, seed: int = 0, device: str | torch.device = "cpu", **kwargs: Any
) -> SequencePolicy:
    """Build a fresh policy for ``task``.

    Args:
        kind: ``"tabular"``, ``"gru"``, ``"transformer"`` or ``"hf"`` (:class:`HFPolicy`).
        task: The task (sizes; the prompt pool for ``tabular``).
        seed: Seed of the initial parameters (the global torch RNG is left untouched).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or a :class:`torch.device`.
        **kwargs: The kind's own knobs (e.g. ``hidden_dim``, ``d_model``, ``init_std``).

    Returns:
        The policy, on ``device``.

    Raises:
        UserError: Unknown kind or knob, or sizes the kind cannot take.
    """
    builders = {
        "tabular": lambda: TabularPolicy(task, **kwargs),
        "gru": lambda: GRUPolicy(task.vocab_size, task.prompt_length, task.response_length, **kwargs),
        "transformer": lambda: TransformerPolicy(
            task.vocab_size, task.prompt_length, task.response_length, **kwargs
        ),
        "hf": lambda: HFPolicy(task.vocab_size, task.prompt_length, task.response_length, **kwargs),
    }
    if kind not in builders:
        raise UserError(f"unknown policy kind {kind!r}; known kinds: {', '.join(builders)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            policy = builders[kind]()
        except TypeError as exc:
            raise UserError(f"policy {kind!r}: {exc}") from None
    return policy.to(resolve_device(device))


def sft_reference(
    policy: SequencePolicy,
    task: RLHFTask,
    steps: int = 300,
    lr: float | None = None,
    seed: int = 0,
    noise: float = 0.5,
    batch_size: int = 64,
) -> SequencePolicy:
    """Make π_ref by supervised fine-tuning on noisy-teacher demonstrations.

    Each step draws ``batch_size`` pool prompts uniformly and a demonstration for each: the task's best
    response with every token replaced, with probability ``noise``, by a uniform random token
    (:func:`~rl_suite.rlhf.datasets.demonstrations`). Adam minimises the mean negative log-likelihood.
    ``policy`` is trained in place; the returned π_ref is its :meth:`~SequencePolicy.frozen_copy`.

    Args:
        policy: The policy to train (any kind).
        task: The task (prompts and teacher).
        steps: Adam steps.
        lr: Learning rate (``None``: the kind's ``default_sft_lr``).
        seed: Seed of the demonstrations.
        noise: Per-token probability of a random token in a demonstration, in ``[0, 1]``.
        batch_size: Demonstrations per step.

    Returns:
        The frozen reference policy.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise UserError(f"steps must be an integer >= 0, got {steps!r}")
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(policy.parameters(), lr=policy.default_sft_lr if lr is None else lr)
    policy.train()
    for _ in range(steps):
        prompts, responses = demonstrations(task, batch_size, noise, rng)
        loss = -policy.logprob(prompts, responses).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return policy.frozen_copy()
