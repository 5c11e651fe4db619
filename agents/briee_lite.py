"""BRIEE-lite: learn a latent decoder per step of a block MDP, and run LSVI-UCB on the decoded states.

Zhang, Song, Uehara, Wang, Agarwal & Sun, "Efficient Reinforcement Learning in Block MDPs: A Model-free
Representation Learning Approach" (BRIEE), ICML 2022, reduced by rl_suite to run on a 2-core CPU. What is
implemented:

* **Features.** Per step h a decoder ``q_h(z | x) = softmax(W_h x)`` over ``n_latent`` slots (an upper
  bound on the latent states per step: 3 on the combination lock) — BRIEE's encoder, a bias-free linear
  layer — and ``φ_h(x, a) = q_h(·|x) ⊗ e_a``.
* **Representation objective.** φ_h must linearly predict test functions of the next observation: with
  ``F = [f_1(x'), …, f_m(x')]`` minimise over W_h the closed-form ridge residual
  ``min_B ‖F − Φ B‖² + λ‖B‖²`` (:func:`ridge_residual`, :func:`fit_decoder`, Adam). The test functions are
  a fixed bank of random tanh features ``f(x') = tanh(G x' + c)`` (:func:`discriminator_targets`): this is
  the non-adversarial first stage of BRIEE's min-max — an ablation of ours — where BRIEE instead trains
  each new f to be fittable by a free feature φ̃ but not by φ. It keeps the loss a smooth minimisation.
  Two additions of ours: a small entropy penalty ``sharpness·H(q)`` (the objective is indifferent to how
  a latent state's samples whose action carries no information are assigned, so without it a slot's
  boundary can cut through a latent state), and ``restarts`` fits from fresh weights per refit, keeping
  the lowest objective (BRIEE also re-initialises the decoder at every update).
* **Data** (BRIEE's roll-in). Every episode draws an exploration step h_e uniformly, follows the current
  LSVI-UCB policy before it and plays uniform actions at h_e and h_e + 1, so that the decoder of step h
  sees the latent states the current policy reaches, each followed by every action. Every transition is
  kept (per step, the most recent ``buffer`` train the decoder).
* **Planner.** LSVI-UCB (Jin et al. 2020, :class:`~rl_suite.agents.lsvi_ucb.LSVIUCB`'s backward pass) on
  the one-hot features of the *decoded* state ``argmax_z q_h(z|x)`` and the action, per step. The hard
  argmax (BRIEE plans on the soft φ) makes the Gram matrices diagonal. Decoded labels are arbitrary and
  change at every refit, so after each refit every stored transition is re-decoded and the LSVI-UCB
  statistics are rebuilt from scratch; between refits they grow online.

How it differs from the paper's code, besides the fixed discriminator bank: one process, with every
step's decoder and every restart fitted in one padded batch (:func:`fit_decoder`); Adam (lr 0.05,
``train_steps`` full-batch steps) instead of SGD with momentum 0.99 on minibatches of 512; the hard
decoding above; decoders refitted every ``update_every`` episodes rather than every iteration.

``diagnostics()`` reports, per step, the purity of the learned partition against the env's hidden decoder
(``env.unwrapped.decode``) on the stored observations — a diagnostic only, never used for learning.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig
from rl_suite.agents.kernels import sherman_morrison
from rl_suite.agents.lsvi_ucb import LSVIUCB
from rl_suite.contracts import BlockMDPDecoder
from rl_suite.errors import UserError

if TYPE_CHECKING:
    import torch


class BRIEELiteConfig(AgentConfig):
    """Settings of BRIEE-lite; the defaults open the A=10 combination lock at H=5 and H=10 (3 seeds each)."""

    n_latent: int = Field(3, ge=2)
    """Decoder slots per step: an upper bound on the latent states per step (3 on the combination lock)."""
    n_discriminators: int = Field(32, ge=1)
    """Random tanh test functions ``f(x') = tanh(G x' + c)`` the features must predict."""
    update_every: int = Field(50, ge=1)
    """Episodes between decoder refits (each followed by a rebuild of the LSVI-UCB statistics)."""
    train_steps: int = Field(100, ge=1)
    """Adam steps per decoder refit."""
    learning_rate: float = Field(0.05, gt=0.0)
    """Adam learning rate of the decoders."""
    ridge: float = Field(0.01, gt=0.0)
    """λ of the closed-form ridge regression inside the representation objective (BRIEE: 0.01)."""
    sharpness: float = Field(0.003, ge=0.0)
    """Weight of the mean decoder entropy added to the objective (ours: confident, cluster-wide slots)."""
    restarts: int = Field(2, ge=1)
    """Decoder fits from fresh weights per step and refit; the lowest objective is kept."""
    buffer: int = Field(3000, ge=10)
    """Most recent transitions per step that train its decoder."""
    explore_prob: float = Field(1.0, ge=0.0, le=1.0)
    """Probability that an episode has an exploration step (uniform actions at h_e and h_e + 1; BRIEE: 1)."""
    beta: float = Field(1.0, ge=0.0)
    """LSVI-UCB bonus scale on the decoded states."""
    lam: float = Field(1.0, gt=0.0)
    """LSVI-UCB ridge λ."""
    bonus: Literal["hoeffding", "bernstein"] = "hoeffding"
    """LSVI-UCB bonus form (see :class:`~rl_suite.agents.lsvi_ucb.LSVIUCBConfig`)."""
    device: str = "auto"
    """Torch device of the decoder fits: ``"auto"`` uses CUDA when present, else CPU."""


# --------------------------------------------------------------------------- math kernels
def discriminator_targets(x_next: np.ndarray, G: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Test functions of the next observations, ``tanh(x' Gᵀ + c)``, centred over the batch.

    Args:
        x_next: ``(N, D)`` next observations.
        G: ``(m, D)`` random projections.
        c: ``(m,)`` offsets.

    Returns:
        ``(N, m)`` targets with column means zero.
    """
    if x_next.ndim != 2 or G.ndim != 2 or G.shape[1] != x_next.shape[1] or c.shape != (G.shape[0],):
        raise ValueError(f"shape mismatch: x_next {x_next.shape}, G {G.shape}, c {c.shape}")
    F = np.tanh(x_next @ G.T + c)
    return F - F.mean(axis=0)


def ridge_residual(phi: Any, F: Any, ridge: float, counts: Any = None) -> Any:
    """Mean squared residual of the ridge regression of ``F`` on ``phi`` (B in closed form), batched.

    ``B = (ΦᵀΦ + λI)⁻¹ΦᵀF`` and the residual ``‖F − ΦB‖² / (n·m)``, expanded as
    ``‖F‖² − 2⟨B, ΦᵀF⟩ + ⟨B, ΦᵀΦ B⟩`` so that only ``(d, d)`` and ``(d, m)`` products are formed;
    differentiable in ``phi`` (torch). Padding rows (zero in both ``phi`` and ``F``) add nothing;
    ``counts`` then gives the real rows n.

    Args:
        phi: ``(..., N, d)`` features (torch tensor).
        F: ``(..., N, m)`` targets (torch tensor).
        ridge: λ > 0.
        counts: ``(...,)`` number of real rows per problem (``None``: N).

    Returns:
        ``(...)`` torch tensor of residuals.
    """
    import torch

    eye = ridge * torch.eye(phi.shape[-1], dtype=phi.dtype, device=phi.device)
    S, C = phi.mT @ phi, phi.mT @ F
    B = torch.linalg.solve(S + eye, C)
    squared = (F**2).sum(dim=(-2, -1)) - 2 * (B * C).sum(dim=(-2, -1)) + (B * (S @ B)).sum(dim=(-2, -1))
    n = phi.shape[-2] if counts is None else counts
    return squared / (n * F.shape[-1])


def fit_decoder(
    x: np.ndarray,
    actions: np.ndarray,
    F: np.ndarray,
    W0: np.ndarray,
    n_actions: int,
    steps: int,
    learning_rate: float,
    ridge: float,
    sharpness: float = 0.0,
    mask: np.ndarray | None = None,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Fit P softmax decoders at once so that ``φ(x, a) = softmax(W x) ⊗ e_a`` linearly predicts ``F``.

    Each problem's objective is :func:`ridge_residual` plus ``sharpness`` times the mean entropy of
    ``softmax(W x)``; Adam on their sum is P independent Adam runs (Adam acts elementwise), in one array
    program — every step's decoder and every restart in one batch.

    Args:
        x: ``(P, N, D)`` observations (one step's per problem).
        actions: ``(P, N)`` actions taken there.
        F: ``(P, N, m)`` targets (test functions of the next observations).
        W0: ``(P, Z, D)`` initial weights.
        n_actions: A.
        steps: Adam steps.
        learning_rate: Adam learning rate.
        ridge: λ of :func:`ridge_residual`.
        sharpness: Weight of the entropy penalty (0: none).
        mask: ``(P, N)`` real rows (``None``: all); padding rows are ignored.
        device: Torch device.

    Returns:
        ``(W, loss)``: the fitted ``(P, Z, D)`` weights and the ``(P,)`` final objectives.
    """
    import torch

    P, N, D = x.shape
    if actions.shape != (P, N) or F.shape[:2] != (P, N) or W0.shape[0] != P or W0.shape[2] != D:
        raise ValueError(f"shape mismatch: x {x.shape}, actions {actions.shape}, F {F.shape}, W0 {W0.shape}")
    real = np.ones((P, N), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    keep = torch.as_tensor(real, dtype=torch.float64, device=device)
    counts = keep.sum(dim=1).clamp_min(1.0)
    xt = torch.as_tensor(x, dtype=torch.float64, device=device)
    Ft = torch.as_tensor(F, dtype=torch.float64, device=device) * keep[..., None]
    onehot = torch.nn.functional.one_hot(torch.as_tensor(actions, device=device), n_actions).double()
    onehot = onehot * keep[..., None]
    W = torch.nn.Parameter(torch.as_tensor(W0, dtype=torch.float64, device=device).clone())
    opt = torch.optim.Adam([W], lr=learning_rate)

    def loss_of(W: torch.Tensor) -> torch.Tensor:
        q = torch.softmax(xt @ W.mT, dim=-1)
        entropy = -((q * torch.log(q.clamp_min(1e-12))).sum(dim=-1) * keep).sum(dim=-1) / counts
        phi = (onehot[..., :, None] * q[..., None, :]).reshape(P, N, -1)  # φ = e_a ⊗ q (a permutation)
        return ridge_residual(phi, Ft, ridge, counts) + sharpness * entropy

    for _ in range(steps):
        loss = loss_of(W).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = loss_of(W).cpu().numpy()
    return W.detach().cpu().numpy(), final


def partition_purity(pred: np.ndarray, true: np.ndarray) -> float:
    """Share of samples whose decoded slot's majority true label is their own (1 when no slot mixes states).

    Splitting one latent state over several slots costs nothing (a planner on the slots loses nothing);
    merging two states into one slot does.

    Args:
        pred: ``(N,)`` decoded slots.
        true: ``(N,)`` true latent states.

    Returns:
        Purity in [0, 1] (1.0 for empty input).
    """
    if pred.shape != true.shape:
        raise ValueError(f"pred {pred.shape} and true {true.shape} differ")
    if pred.size == 0:
        return 1.0
    table = np.zeros((int(pred.max()) + 1, int(true.max()) + 1))
    np.add.at(table, (pred, true), 1.0)
    return float(table.max(axis=1).sum() / pred.size)


# --------------------------------------------------------------------------- the agent
class BRIEELite(LSVIUCB):
    """BRIEE-lite: per-step softmax decoders learned from forward prediction, LSVI-UCB on decoded states.

    Reference: Zhang et al., "Efficient Reinforcement Learning in Block MDPs: A Model-free Representation
    Learning Approach", ICML 2022 (non-adversarial reduction of its min-max).

    Needs an episodic env with vector observations ``Box(D,)`` and ``env.unwrapped.horizon`` (a block MDP
    such as ``rl_suite/DiabolicalCombLock-v0``). One stream (a single env).
    """

    Config = BRIEELiteConfig
    config: BRIEELiteConfig  # type: ignore[assignment]  # LSVI-UCB's planner, BRIEE-lite's own settings
    requires = BlockMDPDecoder

    def _init_state(self) -> None:
        cfg = self.config
        self._init_counters()
        if not isinstance(self.observation_space, gym.spaces.Box) or len(self.obs_shape) != 1:
            raise UserError(
                "BRIEE-lite needs an episodic block MDP with vector observations Box(D,) and "
                f"env.unwrapped.horizon (e.g. rl_suite/DiabolicalCombLock-v0), got {self.observation_space}"
            )
        H = self.contract(BlockMDPDecoder).horizon
        from rl_suite.devices import resolve_device  # imports torch: kept lazy like torch in this module

        self.device = resolve_device(cfg.device)
        self.H, self.S, self.A, self.D = int(H), cfg.n_latent, self.n_arms, int(self.obs_shape[0])
        self.d = self.S * self.A
        onehot = np.eye(self.d).reshape(self.S, self.A, self.d)
        self.features = np.broadcast_to(onehot, (self.H, self.S, self.A, self.d))
        self.pooled, self.finite, self.beta = False, True, cfg.beta
        bank = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0xB12EE,)))
        self.disc_G = bank.standard_normal((cfg.n_discriminators, self.D)) / np.sqrt(self.D)
        self.disc_c = bank.uniform(-1.0, 1.0, cfg.n_discriminators)
        self.W = self._initial_weights()
        # Stored transitions: step, observation, action, reward, next observation.
        self.data_h = np.zeros(0, dtype=np.int64)
        self.data_x = np.zeros((0, self.D), dtype=np.float32)
        self.data_a = np.zeros(0, dtype=np.int64)
        self.data_r = np.zeros(0)
        self.data_x2 = np.zeros((0, self.D), dtype=np.float32)
        self._transitions: list[tuple[int, np.ndarray, int, float, np.ndarray]] = []
        self.explore_h = np.array([self._draw_explore_step()])
        self.refits = np.zeros(1, dtype=np.int64)
        self.fit_seconds = np.zeros(1)
        self._reset_statistics()
        self.state_keys = (
            "W",
            "data_h",
            "data_x",
            "data_a",
            "data_r",
            "data_x2",
            "explore_h",
            "refits",
            "fit_seconds",
            "Linv",
            "gram",
            "b_r",
            "M",
            "Q",
            "episodes",
            "step_h",
        )
        self._plan()

    def _initial_weights(self) -> np.ndarray:
        """Fresh ``(H, Z, D)`` decoder weights (small, so that the softmax starts unsaturated)."""
        return 0.1 * self.rng.standard_normal((self.H, self.S, self.D)) / np.sqrt(self.D)

    def _draw_explore_step(self) -> int:
        """The next episode's exploration step h_e (−1: none)."""
        if self.rng.random() >= self.config.explore_prob:
            return -1
        return int(self.rng.integers(self.H))

    # ------------------------------------------------------------------ the decoders
    def decode(self, h: int, x: np.ndarray) -> np.ndarray:
        """Decoded slot(s) ``argmax_z q_h(z|x)`` of one ``(D,)`` or many ``(N, D)`` observations at step h."""
        if h >= self.H:  # the observation after the last step is never acted on
            return np.zeros(np.asarray(x).shape[:-1], dtype=np.int64)
        return np.argmax(np.asarray(x, dtype=np.float64) @ self.W[h].T, axis=-1)

    def _refit(self) -> None:
        """Refit every step's decoder from fresh weights on its most recent ``buffer`` transitions."""
        cfg = self.config
        start = time.perf_counter()
        R = cfg.restarts
        rows = [np.flatnonzero(self.data_h == h)[-cfg.buffer :] for h in range(self.H)]
        steps = [h for h in range(self.H) if rows[h].size >= 2 * self.A]
        if steps:
            # One padded batch: problem (h, restart) holds step h's transitions and a fresh initial W.
            n = max(rows[h].size for h in steps)
            P = len(steps) * R
            x = np.zeros((P, n, self.D))
            acts = np.zeros((P, n), dtype=np.int64)
            F = np.zeros((P, n, cfg.n_discriminators))
            mask = np.zeros((P, n), dtype=bool)
            for i, h in enumerate(steps):
                sel, k = rows[h], rows[h].size
                block = slice(i * R, (i + 1) * R)
                x[block, :k] = self.data_x[sel]
                acts[block, :k] = self.data_a[sel]
                F[block, :k] = discriminator_targets(
                    self.data_x2[sel].astype(np.float64), self.disc_G, self.disc_c
                )
                mask[block, :k] = True
            W0 = np.stack([self._initial_weights()[steps] for _ in range(R)], axis=1)  # (h, restart)
            W, loss = fit_decoder(
                x,
                acts,
                F,
                W0.reshape(P, self.S, self.D),
                self.A,
                cfg.train_steps,
                cfg.learning_rate,
                cfg.ridge,
                cfg.sharpness,
                mask,
                self.device,
            )
            best = loss.reshape(len(steps), R).argmin(axis=1)
            self.W[steps] = W.reshape(len(steps), R, self.S, self.D)[np.arange(len(steps)), best]
        self.refits[0] += 1
        self.fit_seconds[0] += time.perf_counter() - start

    # ------------------------------------------------------------------ LSVI-UCB statistics on decoded states
    def _reset_statistics(self) -> None:
        lam = self.config.lam
        self.Linv = np.broadcast_to(np.eye(self.d) / lam, (self.H, self.d, self.d)).copy()
        self.gram = np.broadcast_to(np.eye(self.d) * lam, (self.H, self.d, self.d)).copy()
        self.b_r = np.zeros((self.H, self.d))
        self.M = np.zeros((self.H, self.d, self.S))
        self.Q = np.zeros((self.H, self.S, self.A))

    def _rebuild(self) -> None:
        """Re-decode every stored transition with the current decoders and rebuild the statistics."""
        self._reset_statistics()
        for h in range(self.H):
            sel = self.data_h == h
            idx = self.decode(h, self.data_x[sel]) * self.A + self.data_a[sel]
            z_next = self.decode(h + 1, self.data_x2[sel])
            counts = np.bincount(idx, minlength=self.d).astype(np.float64)
            # One-hot features make Λ diagonal, so its inverse is exact.
            self.gram[h] = np.diag(self.config.lam + counts)
            self.Linv[h] = np.diag(1.0 / (self.config.lam + counts))
            self.b_r[h] = np.bincount(idx, weights=self.data_r[sel], minlength=self.d)
            np.add.at(self.M[h], (idx, z_next), 1.0)

    # ------------------------------------------------------------------ acting and learning
    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        # ALGO LOGIC: uniform at the exploration step and the next one (BRIEE's roll-in), LSVI-UCB elsewhere.
        e = int(self.explore_h[0])
        if not deterministic and e >= 0 and h in (e, e + 1):
            return int(self.rng.integers(self.A))
        z = int(self.decode(h, np.asarray(obs)))
        return int(self._argmax(self.Q[h, z][None], "first" if deterministic else "random")[0])

    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        # ALGO LOGIC: keep the raw transition; update LSVI-UCB online on the current decoding.
        x, x_next = np.asarray(obs, dtype=np.float32), np.asarray(next_obs, dtype=np.float32)
        self._transitions.append((h, x, action, reward, x_next))
        phi = self.features[h, int(self.decode(h, x)), action]
        self.Linv[h] = sherman_morrison(self.Linv[h], phi)[0]
        self.gram[h] += np.outer(phi, phi)
        self.b_r[h] += reward * phi
        self.M[h][:, int(self.decode(h + 1, x_next))] += phi
        if done:
            self._flush()
            self.explore_h[0] = self._draw_explore_step()
            if int(self.episodes[0]) % self.config.update_every == 0:
                self._refit()
                self._rebuild()
            self._plan()

    def _flush(self) -> None:
        """Move this episode's transitions into the stored arrays."""
        if not self._transitions:
            return
        hs, xs, acts, rewards, xs_next = zip(*self._transitions, strict=True)
        self.data_h = np.concatenate([self.data_h, np.asarray(hs, dtype=np.int64)])
        self.data_x = np.concatenate([self.data_x, np.asarray(xs, dtype=np.float32)])
        self.data_a = np.concatenate([self.data_a, np.asarray(acts, dtype=np.int64)])
        self.data_r = np.concatenate([self.data_r, np.asarray(rewards, dtype=np.float64)])
        self.data_x2 = np.concatenate([self.data_x2, np.asarray(xs_next, dtype=np.float32)])
        self._transitions = []

    # ------------------------------------------------------------------ reporting
    def decoder_purity(self) -> np.ndarray | None:
        """``(H,)`` purity of each step's decoder on its stored observations against the env's hidden decoder.

        A diagnostic (needs ``env.unwrapped.decode``, e.g. the Hadamard lock); ``None`` when the env has no
        decoder. Steps without stored observations report 1.
        """
        oracle = self.find_contract(BlockMDPDecoder)
        if oracle is None:
            return None
        self._flush()
        out = np.ones(self.H)
        for h in range(self.H):
            sel = np.flatnonzero(self.data_h == h)[-self.config.buffer :]
            if sel.size:
                try:
                    true = np.asarray(oracle.decode(self.data_x[sel]))
                except UserError:
                    return None
                out[h] = partition_purity(self.decode(h, self.data_x[sel]), true)
        return out

    def diagnostics(self) -> dict[str, float]:
        """Refits, decoder-fit wall time and per-step decoder purity (written to ``summary.json``)."""
        values = {"refits": float(self.refits[0]), "decoder_fit_seconds": float(self.fit_seconds[0])}
        purity = self.decoder_purity()
        if purity is not None:
            values.update({f"decoder_purity_h{h}": float(p) for h, p in enumerate(purity)})
            values["decoder_purity_min"] = float(purity.min())
        return values
