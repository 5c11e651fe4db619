"""OMLE-lite: optimistic maximum likelihood for tiny POMDPs, with a sampled confidence set.

OMLE (Liu, Chung, Szepesvári & Jin, COLT 2022) keeps every model whose log-likelihood on the data is
within β of the maximum, and plays the optimal policy of the most optimistic one:

    B_k = { θ : Σ_τ log P_θ(τ) ≥ max_θ' Σ_τ log P_θ'(τ) − β },   (θ_k, π_k) = argmax_{θ ∈ B_k, π} V^π(θ).

The joint maximisation over a likelihood set and policies is intractable, so this agent is the tractable
stand-in "OMLE-lite", rl_suite's own simplification (not an algorithm from the paper):

* **Unknowns.** The observation law ``Z[a, s', o]`` (A·S·O numbers; Tiger: 3·2·2). The transitions ``T``,
  rewards ``R``, start law ``b0`` and first-observation law ``Z0`` are known. Rewards are part of the
  likelihood (``r_t = R[s_t, a_t]`` is an indicator), which is what pins down the state labels.
* **MLE.** Baum–Welch (EM for the emission only) on all episodes so far, warm-started from the last MLE.
* **Confidence set.** ``n_models − 1`` models drawn from ``Dirichlet(prior + C/temperature)`` row by row,
  ``C`` the expected emission counts of the E-step, plus the MLE itself; those within ``beta`` of the best
  log-likelihood form the set (a sampled subset of OMLE's ``B_k``, not all of it).
* **Optimism.** Each model in the set is solved exactly by belief-tree expectimax
  (:func:`~rl_suite.exact.pomdp.belief_tree_plan`); the agent plays the tree policy of the model
  with the highest ``V*`` for one episode.

Exact pseudo-regret. The played policy is deterministic given the history, so after every re-plan its
value under the *true* model is computed exactly by branching on observations
(:meth:`~rl_suite.envs.pomdp._core.TabularPOMDPEnv.pseudo_regret`) and recorded in
``pseudo_regrets`` and :meth:`OMLELite.diagnostics` (``summary.json`` →
``agent_diagnostics.exact_pseudo_regret``). The env's ``info["regret"]`` stays the realised "V* − return".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, EpisodicAgent
from rl_suite.contracts import TabularPOMDP
from rl_suite.errors import UserError
from rl_suite.exact import pomdp

#: Pseudo-count added to every emission cell in the M-step (keeps the MLE strictly positive).
EM_SMOOTHING = 1e-3


class OMLELiteConfig(AgentConfig):
    """Settings of OMLE-lite."""

    n_models: int = Field(16, ge=1)
    """Candidate models per re-plan (the MLE and ``n_models − 1`` Dirichlet draws)."""
    beta: float = Field(2.0, ge=0.0)
    """Log-likelihood slack of the confidence set (OMLE's β)."""
    temperature: float = Field(1.0, gt=0.0)
    """Spread of the Dirichlet draws: concentration ``prior + counts/temperature``."""
    prior: float = Field(1.0, gt=0.0)
    """Dirichlet prior pseudo-count per emission cell."""
    em_iterations: int = Field(10, ge=1)
    """Baum–Welch iterations per re-plan (warm-started)."""
    max_states: int = Field(16, ge=1)
    """Refuse POMDPs with more hidden states (the method is for tiny POMDPs)."""
    max_beliefs: int = Field(50_000, ge=1)
    """Cap on the beliefs of one level of each candidate's belief tree."""
    exact_regret: bool = True
    """Evaluate every episode's policy exactly on the true model."""


def forward_log_likelihood(
    Zs: np.ndarray,
    T: np.ndarray,
    start: np.ndarray,
    obs: np.ndarray,
    acts: np.ndarray,
    fits: np.ndarray,
    mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled forward pass of many emission models over many episodes.

    Args:
        Zs: ``(M, A, S, O)`` candidate emission laws.
        T: ``(S, A, S)`` known transitions.
        start: ``(K, S)`` joint ``b0(s)·Z0(s, o_0)`` of every episode (known).
        obs: ``(K, H)`` observations ``o_1 .. o_H`` (any value where masked).
        acts: ``(K, H)`` actions ``a_0 .. a_{H−1}`` (any value where masked).
        fits: ``(K, H, S)`` 1 where ``R[s, a_t] = r_t`` (the reward is consistent with state s), else 0.
        mask: ``(K, H)`` booleans, False after an episode's end.

    Returns:
        ``(log_likelihood, alphas)``: ``(M,)`` totals over episodes and ``(M, K, H + 1, S)`` normalised
        forward messages.
    """
    M, K, H = Zs.shape[0], obs.shape[0], obs.shape[1]
    alpha = np.broadcast_to(start / start.sum(axis=1, keepdims=True), (M, K, start.shape[1])).copy()
    ll = np.full(M, float(np.log(start.sum(axis=1)).sum()))
    alphas = np.empty((M, K, H + 1, start.shape[1]))
    alphas[:, :, 0] = alpha
    for t in range(H):
        a, o = acts[:, t], obs[:, t]
        pred = np.einsum("mks,ksz->mkz", alpha * fits[None, :, t], T[:, a, :].transpose(1, 0, 2))
        nxt = pred * Zs[:, a, :, o].transpose(1, 0, 2)  # indexing gives (K, M, S): Z[m, a_k, :, o_k]
        norm = nxt.sum(axis=2)
        live = mask[:, t]
        safe = np.where(norm > 0, norm, 1.0)
        ll += np.where(live[None], np.log(np.where(norm > 0, norm, 1e-300)), 0.0).sum(axis=1)
        alpha = np.where(live[None, :, None], nxt / safe[..., None], alpha)
        alphas[:, :, t + 1] = alpha
    return ll, alphas


def emission_counts(
    Z: np.ndarray,
    T: np.ndarray,
    start: np.ndarray,
    obs: np.ndarray,
    acts: np.ndarray,
    fits: np.ndarray,
    mask: np.ndarray,
) -> tuple[np.ndarray, float]:
    """E-step of Baum–Welch for the emission: expected counts ``C[a, s', o]`` of (action, next state, obs).

    Returns:
        ``(C, log_likelihood)`` with ``C`` of shape ``Z.shape``.
    """
    ll, alphas = forward_log_likelihood(Z[None], T, start, obs, acts, fits, mask)
    al = alphas[0]
    K, H = obs.shape
    S = T.shape[0]
    beta = np.ones((K, S))
    C = np.zeros_like(Z)
    for t in range(H - 1, -1, -1):
        a, o = acts[:, t], obs[:, t]
        live = mask[:, t]
        post = al[:, t + 1] * beta
        post /= np.maximum(post.sum(axis=1, keepdims=True), 1e-300)
        # C[a_k, :, o_k] += post_k, the state axis as a broadcast index (numpy's stubs refuse a slice here)
        np.add.at(C, (a[live][:, None], np.arange(S), o[live][:, None]), post[live])
        # β_t(s) ∝ fits_t(s) Σ_s' T[s, a, s'] Z[a, s', o] β_{t+1}(s')
        back = np.einsum("ksz,kz->ks", T[:, a, :].transpose(1, 0, 2), Z[a, :, o] * beta) * fits[:, t]
        back /= np.maximum(back.sum(axis=1, keepdims=True), 1e-300)
        beta = np.where(live[:, None], back, beta)
    return C, float(ll[0])


class OMLELite(EpisodicAgent[OMLELiteConfig]):
    """OMLE-lite: a sampled likelihood confidence set over the emission law, optimistic exact planning.

    References: Liu, Chung, Szepesvári & Jin, "When Is Partially Observable Reinforcement Learning Not
    Scary?", COLT 2022 (OMLE); Baum, Petrie, Soules & Weiss 1970 (EM for hidden Markov models);
    Kaelbling, Littman & Cassandra 1998 (belief-tree planning).
    """

    Config = OMLELiteConfig
    requires = TabularPOMDP

    def _init_state(self) -> None:
        cfg = self.config
        self._init_counters()
        self.pomdp_env = self.contract(TabularPOMDP)
        m = self.pomdp_env.pomdp
        if m.horizon is None:
            raise UserError(
                "omle-lite plans with the exact belief tree: it needs a finite horizon (horizon=H)"
            )
        if m.n_states > cfg.max_states or m.sparse:
            raise UserError(
                f"omle-lite is for tiny POMDPs (at most max_states={cfg.max_states} hidden states), "
                f"this env has {m.n_states}"
            )
        self.model = m
        self.T = m.dense_T()
        self.H, self.S, self.A, self.O = m.horizon, m.n_states, m.n_actions, m.n_observations
        K0 = 64
        self.data_obs = np.zeros((K0, self.H + 1), dtype=np.int64)
        self.data_act = np.zeros((K0, self.H), dtype=np.int64)
        self.data_rew = np.zeros((K0, self.H))
        self.data_len = np.zeros(K0, dtype=np.int64)
        self.Z_hat = np.full((self.A, self.S, self.O), 1.0 / self.O)
        self.Z_play = self.Z_hat.copy()
        self.node = np.zeros(1, dtype=np.int64)
        self.pseudo_regrets = np.zeros(0)
        self.last_set_size = 0
        self.state_keys = (
            "data_obs", "data_act", "data_rew", "data_len", "Z_hat", "Z_play", "node", "pseudo_regrets",
            "episodes", "step_h",
        )  # fmt: skip
        self._replan()

    # ------------------------------------------------------------------ ALGO LOGIC: the confidence set
    def _data(self) -> tuple[np.ndarray, ...]:
        """The episodes so far as the arrays :func:`forward_log_likelihood` takes."""
        k = int(self.episodes[0])
        obs0, obs = self.data_obs[:k, 0], self.data_obs[:k, 1:]
        acts, rew = self.data_act[:k], self.data_rew[:k]
        mask = np.arange(self.H)[None, :] < self.data_len[:k, None]
        m = self.model
        start = m.b0[None, :] * m.Z0[:, obs0].T
        fits = np.isclose(m.R.T[acts], rew[..., None], atol=1e-9).astype(np.float64)  # (k, H, S)
        return start, obs, acts, fits, mask

    def _mle(self, data: tuple[np.ndarray, ...]) -> np.ndarray:
        """Baum–Welch for the emission, warm-started at the last MLE; returns the last E-step counts."""
        C = np.zeros_like(self.Z_hat)
        for _ in range(self.config.em_iterations):
            C, _ = emission_counts(self.Z_hat, self.T, *data)
            Z = C + EM_SMOOTHING
            self.Z_hat = Z / Z.sum(axis=2, keepdims=True)
        return C

    def _candidates(self, C: np.ndarray) -> np.ndarray:
        cfg = self.config
        conc = cfg.prior + C / cfg.temperature
        draws = self.rng.gamma(conc, size=(cfg.n_models - 1, *conc.shape))
        draws = np.maximum(draws, 1e-300)
        draws /= draws.sum(axis=3, keepdims=True)
        return np.concatenate([self.Z_hat[None], draws])

    def _replan(self) -> None:
        """Fit, sample the confidence set, plan every member exactly, keep the most optimistic."""
        cfg = self.config
        if self.episodes[0] > 0:
            data = self._data()
            C = self._mle(data)
            Zs = self._candidates(C)
            ll, _ = forward_log_likelihood(Zs, self.T, *data)
            keep = np.flatnonzero(ll >= ll.max() - cfg.beta)
        else:  # no data: every model fits; draw from the prior
            Zs = self._candidates(np.zeros_like(self.Z_hat))
            keep = np.arange(Zs.shape[0])
        self.last_set_size = int(keep.size)
        best_value, best = -np.inf, int(keep[0])
        for i in keep:
            plan = self._plan_for(Zs[i])
            if plan.value > best_value:
                best_value, best, self.plan = plan.value, int(i), plan
        self.Z_play = Zs[best]
        if cfg.exact_regret:
            r = self.pomdp_env.pseudo_regret(self.history_policy)
            if r is not None:
                self.pseudo_regrets = np.append(self.pseudo_regrets, r)

    def _plan_for(self, Z: np.ndarray) -> pomdp.BeliefTreePlan:
        m = self.model
        model = pomdp.make_model(self.T, Z, m.R, m.b0, m.Z0, m.gamma, m.horizon, m.terminal)
        try:
            return pomdp.belief_tree_plan(model, self.config.max_beliefs)
        except ValueError as err:
            raise UserError(f"omle-lite: {err}; raise max_beliefs or use a shorter horizon") from None

    # ------------------------------------------------------------------ acting with the tree policy
    def history_policy(self, history: tuple[int, ...]) -> int:
        """The played policy's action after ``(o_0, a_0, ..., o_t)`` (exact evaluation)."""
        n = self.plan.node(history)
        return self.plan.action(len(history) // 2, n) if n >= 0 else 0

    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        if h == 0:
            o = self.pomdp_env.decode_observation(obs)
            self.node[0] = self.plan.root[o]
            self._grow()
            self.data_obs[int(self.episodes[0]), 0] = o
        n = int(self.node[0])
        return self.plan.action(h, n) if n >= 0 else 0

    def _grow(self) -> None:
        k = int(self.episodes[0])
        if k < self.data_len.shape[0]:
            return
        for name in ("data_obs", "data_act", "data_rew", "data_len"):
            arr = getattr(self, name)
            setattr(self, name, np.concatenate([arr, np.zeros_like(arr)]))

    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        k = int(self.episodes[0]) - (1 if done else 0)  # the loop counts the episode before this call
        o = self.pomdp_env.decode_observation(next_obs)
        self.data_act[k, h], self.data_rew[k, h], self.data_obs[k, h + 1] = action, reward, o
        self.data_len[k] = h + 1
        n = int(self.node[0])
        if not done:
            self.node[0] = self.plan.child[h][n, action, o] if n >= 0 else -1
            return
        self._replan()

    def diagnostics(self) -> dict[str, float]:
        """``exact_pseudo_regret`` (sum over finished episodes), ``exact_episodes``, ``confidence_set``."""
        done = self.pseudo_regrets[: int(self.episodes[0])]
        return {
            "exact_pseudo_regret": float(done.sum()),
            "exact_episodes": float(done.size),
            "confidence_set": float(self.last_set_size),
        }

    def _load_extra_arrays(self, data: Any) -> None:
        self.plan = self._plan_for(self.Z_play)
