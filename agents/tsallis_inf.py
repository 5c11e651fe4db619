"""½-Tsallis-INF over an arm grid, and Tsallis-INF-CB: one Tsallis-INF per context bin.

Zimmert & Seldin, "Tsallis-INF: An Optimal Algorithm for Stochastic and Adversarial Bandits" (JMLR 2021):
``O(√(KT))`` regret against any loss sequence and ``O(log T)`` on stochastic ones. Khodak, Chow, Balcan &
Talwalkar ("Learning to Relax", ICLR 2024) run it over a grid of SOR relaxation parameters ω, where the loss
of a round is the solver's iteration count; as in their code (``learners/TsallisINF.m``) every round

* ``η_t = 2/√t``;
* the normaliser of ``p_i = 4(η(L̂_i/s − x))⁻²`` comes from the robust Newton iteration
  (:func:`~rl_suite.agents.kernels.tsallis_inf_probabilities`), with the scale ``s`` = mean loss so far − 1
  (iteration counts are O(100); dividing by ``s`` makes them O(1));
* after playing ``a`` with probability ``p_a`` and seeing ``loss``: ``L̂_a += (loss − 1)/p_a``.

The loss is ``−reward`` (the solver-tuning envs pay ``−iterations``). Tsallis-INF-CB (Khodak et al.'s
contextual baseline) splits the context range into equal bins and runs one independent Tsallis-INF per bin.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, BanditAgent
from rl_suite.agents.kernels import iteration_scale, tsallis_inf_probabilities
from rl_suite.contracts import SolverTuning
from rl_suite.errors import UserError


class TsallisINFConfig(AgentConfig):
    """Settings of ½-Tsallis-INF; the defaults are the Learning-to-Relax code's."""

    bins: int = Field(1, ge=1)
    """Context bins, each with its own learner (1: context ignored)."""
    context_range: tuple[float, float] | Literal["auto"] = "auto"
    """Range split into the bins; ``"auto"`` reads ``env.unwrapped.context_bounds``."""
    eta_scale: float = Field(2.0, gt=0.0)
    """Learning rate ``η_t = eta_scale/√t``, t counted per bin."""
    normalise: bool | Literal["auto"] = "auto"
    """Losses are iteration counts (≥ 1): use ``(loss − 1)`` divided by (mean loss so far − 1), as Khodak et
    al. do. Off: rewards in [0, 1] and the loss ``1 − reward``. ``"auto"``: on for envs whose rewards are
    minus iteration counts (``env.unwrapped.cost_is_iteration_count``), off otherwise."""
    baseline: Literal["one", "mean"] = "one"
    """Subtracted from each loss before importance weighting: ``"one"`` (the smallest iteration count, the
    authors' choice) or ``"mean"`` (the running mean loss: Zimmert & Seldin's reduced-variance estimator)."""


class TsallisINF(BanditAgent[TsallisINFConfig]):
    """½-Tsallis-INF (one learner, or one per context bin).

    Reference: Zimmert & Seldin, JMLR 22(28), 2021; as used by Khodak et al., ICLR 2024.

    Works on any env with ``Discrete(K)`` actions and either no context or a scalar context (``(1,)``
    observations); with ``bins = 1`` the context is ignored. State over R streams and B bins: ``L_hat``
    ``(R, B, K)``, ``rounds``, ``loss_sum`` ``(R, B)``, ``last_prob``, ``last_bin`` ``(R,)``.
    """

    Config = TsallisINFConfig
    state_keys = ("L_hat", "rounds", "loss_sum", "last_prob", "last_bin")

    def _init_state(self) -> None:
        cfg = self.config
        tuning = self.find_contract(SolverTuning)  # context bounds and the loss scale, where the env has them
        if cfg.bins > 1:
            if self.obs_shape not in ((1,), ()):
                raise UserError(
                    f"{type(self).__name__} bins contexts: it needs a scalar context ((1,) observations), "
                    f"got {self.observation_space}"
                )
            auto = None if tuning is None else tuning.context_bounds
            bounds = auto if cfg.context_range == "auto" else cfg.context_range
            if bounds is None:
                raise UserError(
                    f"{type(self).__name__}: context_range='auto' needs env.unwrapped.context_bounds; "
                    "set context_range to [low, high]"
                )
            #: Inner edges of the context bins.
            self.edges = np.linspace(float(bounds[0]), float(bounds[1]), cfg.bins + 1)[1:-1]
        else:
            self.edges = np.zeros(0)
        #: Whether losses are iteration counts (normalised by the running scale).
        self.normalise = (
            tuning is not None and bool(tuning.cost_is_iteration_count)
            if cfg.normalise == "auto"
            else cfg.normalise
        )
        R, B, K = self.num_envs, cfg.bins, self.n_arms
        self.L_hat = np.zeros((R, B, K))
        self.rounds = np.zeros((R, B))
        self.loss_sum = np.zeros((R, B))
        self.last_prob = np.ones(R)
        self.last_bin = np.zeros(R, dtype=np.int64)

    def _bins(self, obs: np.ndarray) -> np.ndarray:
        if self.edges.size == 0:
            return np.zeros(self.num_envs, dtype=np.int64)
        contexts = np.asarray(obs, dtype=np.float64).reshape(self.num_envs)
        return np.searchsorted(self.edges, contexts, side="right")

    def probabilities(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``(R, K)`` sampling distributions for ``obs`` and the ``(R,)`` bins they fall in."""
        b = self._bins(obs)
        rows = self._rows
        t = self.rounds[rows, b] + 1.0
        eta = self.config.eta_scale / np.sqrt(t)
        scale = np.ones(self.num_envs)
        if self.normalise:
            scale = iteration_scale(self.loss_sum[rows, b], self.rounds[rows, b])
        return tsallis_inf_probabilities(self.L_hat[rows, b] / scale[:, None], eta), b

    def _select(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # ALGO LOGIC: sample from the Tsallis-INF distribution of the round's context bin.
        p, b = self.probabilities(obs)
        arms = self._sample(p, deterministic)
        self.last_prob = p[self._rows, arms]
        self.last_bin = b
        return arms

    def _update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        # ALGO LOGIC: importance-weighted loss of the played arm (offset by 1: the smallest iteration count).
        loss = -rewards
        b, rows = self.last_bin, self._rows
        offset = np.full(self.num_envs, 1.0 if self.normalise else -1.0)  # loss − 1 ≥ 0, or 1 − reward
        if self.normalise and self.config.baseline == "mean":
            seen = self.rounds[rows, b]
            offset = np.divide(self.loss_sum[rows, b], seen, out=offset, where=seen > 0)
        self.L_hat[rows, b, actions] += (loss - offset) / self.last_prob
        self.rounds[rows, b] += 1.0
        self.loss_sum[rows, b] += loss


class TsallisINFCBConfig(TsallisINFConfig):
    """Settings of Tsallis-INF-CB: Tsallis-INF with 5 context bins by default (Khodak et al.'s SOR runs)."""

    bins: int = Field(5, ge=2)
    """Context bins, each with its own Tsallis-INF."""


class TsallisINFCB(TsallisINF):
    """Tsallis-INF-CB: an independent ½-Tsallis-INF per bin of a scalar context.

    Reference: Khodak, Chow, Balcan & Talwalkar, ICLR 2024 (``learners/TsallisINFCB.m``).
    """

    Config = TsallisINFCBConfig
    requires = SolverTuning
