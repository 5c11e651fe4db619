"""SQIRL: shallow Q-iteration via reinforcement learning (Laidlaw, Zhu, Russell & Dragan, ICLR 2024).

SQIRL learns a finite-horizon policy one timestep at a time. In outer iteration ``i`` it collects m
episodes that follow the frozen policies ``π_0 .. π_{i−1}`` before step ``i`` and act uniformly at random
from step ``i`` on, keeps every transition at a step ``t ≥ i`` (only those are followed by random actions)
with its Monte-Carlo return-to-go, and regresses k heads on all data kept so far:

    head 0 (Q¹ ≈ Q^{π_rand}):  the return-to-go
    head j (Q^{j+1}):           r_t + max_a' head_{j−1}(s_{t+1}, a')   (0 after the last step)

The greedy action of the last head at step ``i`` becomes the frozen policy ``π_i`` and ``i`` advances. When
the MDP is k-QVI-solvable (greedy on k − 1 backups of ``Q^{π_rand}`` is optimal, see
:mod:`rl_suite.exact.effective_horizon`) and the regression is accurate enough, the result is optimal.

The regressor is pluggable: ``tabular`` (exact averaging per step, state and action: fitted-Q on the
empirical model), ``linear`` (ridge regression on ``one-hot(h) ⊗ features``), ``mlp`` and ``cnn`` (one
torch network with k heads of A outputs, fed the observation and ``one-hot(h)``; no target network, Adam,
gradient clip 10, as the authors' SB3 implementation ``effective_horizon/sb3/algorithms/sqirl.py``).
``restart=True`` is an any-time variant (not in the paper): after the last step it starts again at step 0
with m doubled and all data kept, so one run yields a sample complexity.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Literal, cast

import gymnasium as gym
import numpy as np
from pydantic import Field

from rl_suite.agents.base import AgentConfig, EpisodicAgent
from rl_suite.contracts import FiniteMDPModel
from rl_suite.errors import UserError


class SQIRLConfig(AgentConfig):
    """Settings of SQIRL (defaults from the authors' SB3 code, ``effective_horizon/sb3/train.py``)."""

    episodes_per_timestep: int = Field(1, ge=1)
    """m: episodes collected per outer iteration (tuned per env in the paper)."""
    planning_depth: int = Field(1, ge=1)
    """k: number of regression heads; actions are greedy on the last (Q^k)."""
    regressor: Literal["auto", "tabular", "linear", "mlp", "cnn"] = "auto"
    """Regression oracle: ``auto`` is ``tabular`` on Discrete observations and ``mlp`` otherwise."""
    learning_rate: float = Field(1e-4, gt=0.0)
    """Adam step size of the neural regressors."""
    batch_size: int = Field(128, ge=1)
    """Minibatch size of the neural regressors."""
    n_epochs: float = Field(10.0, gt=0.0)
    """Gradient steps per iteration are ⌈new transitions × n_epochs / batch_size⌉."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the MLP (and of the CNN's head)."""
    ridge: float = Field(1e-3, gt=0.0)
    """L2 penalty of the linear regressor."""
    reward_scale: float = Field(1.0, gt=0.0)
    """Rewards are multiplied by this before regression."""
    restart: bool = False
    """After the last step start again at step 0 with m doubled, keeping all data (any-time variant)."""
    device: str = "auto"
    """Torch device of the neural regressors: ``auto`` is CUDA when present, else CPU."""


# --------------------------------------------------------------------------------------- regressors
def fitted_q_targets(q_next: np.ndarray, rewards: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Targets of heads 1..k−1: ``r + max_a' Q^{j}(s', a')`` (0 after the last step).

    Args:
        q_next: ``(N, k, A)`` head values at the next observations.
        rewards: ``(N,)`` rewards.
        last: ``(N,)`` bools, the transition ends the episode.

    Returns:
        ``(N, k − 1)`` targets for heads 1..k−1 (head j regresses on column j − 1).
    """
    boot = np.where(last[:, None], 0.0, q_next[:, :-1].max(axis=-1))
    return rewards[:, None] + boot


class TabularRegressor:
    """Exact per-(step, state, action) averaging: fitted-Q iteration on the empirical model."""

    def __init__(self, horizon: int, n_states: int, n_actions: int, k: int) -> None:
        self.H, self.S, self.A, self.k = horizon, n_states, n_actions, k
        self.q = np.zeros((horizon, n_states, k, n_actions))

    def fit(self, data: dict[str, np.ndarray]) -> list[float]:
        """Average the return-to-go, then back up the empirical model head by head; returns per-head MSE."""
        H, S, A = self.H, self.S, self.A
        h, s, a = data["h"], data["obs"].astype(np.int64), data["action"]
        n = np.zeros((H, S, A))
        np.add.at(n, (h, s, a), 1.0)
        seen = n > 0
        safe = np.maximum(n, 1.0)

        def average(y: np.ndarray) -> np.ndarray:
            total = np.zeros((H, S, A))
            np.add.at(total, (h, s, a), y)
            mean = total / safe
            # Actions never tried at a visited state get that state's mean (no optimism, no pessimism).
            counts = seen.sum(axis=-1, keepdims=True)
            fill = np.where(counts > 0, (mean * seen).sum(-1, keepdims=True) / np.maximum(counts, 1), 0.0)
            return np.where(seen, mean, fill)

        q = np.zeros_like(self.q)
        q[:, :, 0] = average(data["return"])
        nxt, last = data["next_obs"].astype(np.int64), data["last"]
        h_next = np.minimum(h + 1, H - 1)
        for j in range(1, self.k):
            boot = np.where(last, 0.0, q[h_next, nxt, j - 1].max(axis=-1))
            q[:, :, j] = average(data["reward"] + boot)
        self.q = q
        return self._losses(data)

    def _losses(self, data: dict[str, np.ndarray]) -> list[float]:
        pred = self.predict(data["obs"], data["h"])[np.arange(data["h"].size), :, data["action"]]
        targets = [data["return"]]
        if self.k > 1:
            q_next = self.predict(data["next_obs"], np.minimum(data["h"] + 1, self.H - 1))
            t = fitted_q_targets(q_next, data["reward"], data["last"])
            targets += [t[:, j] for j in range(self.k - 1)]
        return [float(np.mean((pred[:, j] - targets[j]) ** 2)) for j in range(self.k)]

    def predict(self, obs: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``(N, k, A)`` head values."""
        return self.q[np.asarray(h), np.asarray(obs).astype(np.int64)]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays to save."""
        return {"q": self.q}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`."""
        self.q = state["q"].copy()


def time_features(x: np.ndarray, h: np.ndarray, horizon: int) -> np.ndarray:
    """``one-hot(h) ⊗ x``: features of a time-inhomogeneous linear model, shape ``(N, H·d)``."""
    out = np.zeros((x.shape[0], horizon, x.shape[1]))
    out[np.arange(x.shape[0]), h] = x
    return out.reshape(x.shape[0], -1)


class LinearRegressor:
    """Ridge regression per head and action on ``one-hot(h) ⊗ features`` (exactly tabular on one-hot)."""

    def __init__(self, horizon: int, dim: int, n_actions: int, k: int, ridge: float) -> None:
        self.H, self.d, self.A, self.k, self.ridge = horizon, dim, n_actions, k, ridge
        self.w = np.zeros((k, n_actions, horizon * dim))

    def _solve(self, X: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        w = np.zeros((self.A, X.shape[1]))
        for act in range(self.A):
            rows = a == act
            Xa = X[rows]
            gram = Xa.T @ Xa + self.ridge * np.eye(X.shape[1])
            w[act] = np.linalg.solve(gram, Xa.T @ y[rows])
        return w

    def fit(self, data: dict[str, np.ndarray]) -> list[float]:
        """Regress head 0 on the return-to-go, then each head on the previous head's backup."""
        X = time_features(data["obs"], data["h"], self.H)
        Xn = time_features(data["next_obs"], np.minimum(data["h"] + 1, self.H - 1), self.H)
        a = data["action"]
        losses = []
        y = data["return"]
        for j in range(self.k):
            if j > 0:
                q_prev = Xn @ self.w[j - 1].T
                y = data["reward"] + np.where(data["last"], 0.0, q_prev.max(axis=-1))
            self.w[j] = self._solve(X, a, y)
            losses.append(float(np.mean(((X @ self.w[j].T)[np.arange(a.size), a] - y) ** 2)))
        return losses

    def predict(self, obs: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``(N, k, A)`` head values."""
        X = time_features(obs, np.asarray(h), self.H)
        return np.einsum("nd,kad->nka", X, self.w)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays to save."""
        return {"w": self.w}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`."""
        self.w = state["w"].copy()


class TorchRegressor:
    """One torch network with k heads of A outputs on ``[observation, one-hot(h)]`` (MLP or small CNN)."""

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        horizon: int,
        n_actions: int,
        k: int,
        cfg: SQIRLConfig,
        seed: int,
        rng: np.random.Generator,
    ) -> None:
        import torch
        from torch import nn

        self.H, self.A, self.k, self.cfg, self.rng = horizon, n_actions, k, cfg, rng
        from rl_suite.devices import resolve_device  # imports torch: kept lazy like torch in this module

        self.device = resolve_device(cfg.device)
        torch.manual_seed(seed)
        self.cnn = cfg.regressor == "cnn"
        if self.cnn:
            if len(obs_shape) != 3:
                raise UserError(f"regressor='cnn' needs (W, H, C) image observations, got shape {obs_shape}")
            c = obs_shape[-1]
            self.body: nn.Module = nn.Sequential(
                nn.Conv2d(c, 16, 2), nn.ReLU(), nn.Conv2d(16, 32, 2), nn.ReLU(), nn.Flatten()
            )
            with torch.no_grad():
                flat = self.body(torch.zeros(1, c, *obs_shape[:2])).shape[1]
        else:
            self.body = nn.Flatten()
            flat = int(np.prod(obs_shape))
        layers: list[nn.Module] = []
        width = flat + horizon
        for size in cfg.hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, k * n_actions))
        self.head = nn.Sequential(*layers)
        self.net = nn.ModuleDict({"body": self.body, "head": self.head}).to(self.device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate)
        self.new = 0

    def frozen_copy(self) -> TorchRegressor:
        """A copy that only predicts (no optimiser)."""
        # The memo maps the optimiser to None: the copy has none, and this regressor keeps its own.
        return copy.deepcopy(self, {id(self.opt): None})

    def _forward(self, obs: Any, h: Any) -> Any:
        import torch

        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        if self.cnn:
            x = x.permute(0, 3, 1, 2)
        z = self.net["body"](x)
        t = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(h), device=self.device), self.H).float()
        return self.net["head"](torch.cat([z, t], dim=1)).view(-1, self.k, self.A)

    def fit(self, data: dict[str, np.ndarray]) -> list[float]:
        """⌈new × n_epochs / batch⌉ Adam steps on minibatches drawn uniformly from all data."""
        import torch

        N = data["h"].size
        steps = math.ceil(max(self.new, 1) * self.cfg.n_epochs / self.cfg.batch_size)
        self.new = 0
        totals = np.zeros(self.k)
        for _ in range(steps):
            idx = self.rng.integers(N, size=min(self.cfg.batch_size, N))
            q = self._forward(data["obs"][idx], data["h"][idx])
            a = torch.as_tensor(data["action"][idx], device=self.device)
            pred = q[torch.arange(idx.size, device=self.device), :, a]
            target = [torch.as_tensor(data["return"][idx], dtype=torch.float32, device=self.device)]
            if self.k > 1:
                with torch.no_grad():
                    qn = self._forward(data["next_obs"][idx], np.minimum(data["h"][idx] + 1, self.H - 1))
                    last = torch.as_tensor(data["last"][idx], device=self.device)
                    boot = torch.where(last[:, None], 0.0, qn[:, :-1].max(dim=-1).values)
                    r = torch.as_tensor(data["reward"][idx], dtype=torch.float32, device=self.device)
                    target.append(r[:, None] + boot)
            y = torch.cat([target[0][:, None], *target[1:]], dim=1)
            per_head = ((pred - y) ** 2).mean(dim=0)
            self.opt.zero_grad()
            per_head.sum().backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), 10.0)
            self.opt.step()
            totals += per_head.detach().cpu().numpy()
        return list(totals / max(steps, 1))

    def predict(self, obs: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``(N, k, A)`` head values."""
        import torch

        with torch.no_grad():
            return self._forward(obs, h).cpu().numpy().astype(np.float64)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Network parameters as arrays (Adam's moments are not saved)."""
        return {k: v.detach().cpu().numpy() for k, v in self.net.state_dict().items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`."""
        import torch

        self.net.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})


# ------------------------------------------------------------------------------------------- the agent
_FIELDS = ("obs", "h", "action", "reward", "return", "next_obs", "last")


class SQIRL(EpisodicAgent[SQIRLConfig]):
    """SQIRL with a pluggable regression oracle, on any finite-horizon env with Discrete actions.

    Reference: Laidlaw, Zhu, Russell & Dragan, "The Effective Horizon Explains Deep RL Performance in
    Stochastic Environments", ICLR 2024 (Algorithm 1), and the authors' SB3 implementation.

    Needs ``env.unwrapped.horizon``; Discrete(S) observations (tabular, linear on one-hot, mlp on one-hot)
    or Box observations (linear, mlp, cnn). ``diagnostics()`` reports ``rollout/exploration_rate``,
    ``train/loss_{j}``, ``train/loss``, ``rollout/ep_rew_mean`` and ``time/fps``.
    """

    Config = SQIRLConfig
    requires = FiniteMDPModel

    def _init_state(self) -> None:
        cfg = self.config
        self._init_counters()
        self.H, self.A, self.k = int(self.contract(FiniteMDPModel).horizon), self.n_arms, cfg.planning_depth
        space = self.observation_space
        self.discrete = isinstance(space, gym.spaces.Discrete)
        if not self.discrete and not isinstance(space, gym.spaces.Box):
            raise UserError(f"sqirl needs Discrete or Box observations, got {space}")
        kind = cfg.regressor if cfg.regressor != "auto" else ("tabular" if self.discrete else "mlp")
        if kind == "tabular" and not self.discrete:
            raise UserError(f"regressor='tabular' needs Discrete(S) observations, got {space}")
        self.kind = kind
        feat_shape: tuple[int, ...]
        if isinstance(space, gym.spaces.Discrete):
            self.S = int(space.n)
            feat_shape = (self.S,)
        else:
            self.S = 0
            feat_shape = tuple(cast(gym.spaces.Box, space).shape)  # checked above
        self.regressor: Any
        if kind == "tabular":
            self.regressor = TabularRegressor(self.H, self.S, self.A, self.k)
        elif kind == "linear":
            self.regressor = LinearRegressor(self.H, int(np.prod(feat_shape)), self.A, self.k, cfg.ridge)
        else:
            self.regressor = TorchRegressor(feat_shape, self.H, self.A, self.k, cfg, self.seed, self.rng)
        self.frozen: list[Any] = []  # per step: a copy of the regressor that acted greedily at that step
        self.data: dict[str, np.ndarray] = {}
        self.episode: list[tuple[np.ndarray, int, int, float, np.ndarray]] = []
        self.timestep = np.zeros(1, dtype=np.int64)  # the outer iteration i
        self.m = np.array([cfg.episodes_per_timestep], dtype=np.int64)
        self.collected = np.zeros(1, dtype=np.int64)  # episodes of the current iteration
        self.stats = np.zeros(4)  # explored steps, steps, return sum, episodes (of the last iteration)
        self.losses = np.zeros(self.k)
        self.state_keys = ("episodes", "step_h", "timestep", "m", "collected", "stats", "losses")
        self._t0, self._steps0 = time.perf_counter(), 0

    # ------------------------------------------------------------------ features and acting
    def features(self, obs: Any) -> np.ndarray:
        """The regressor's input for a batch of observations: ids (tabular), one-hot or the raw array."""
        x = np.asarray(obs)
        if self.kind == "tabular":
            return x.astype(np.int64).reshape(-1)
        if self.discrete:
            return np.eye(self.S)[x.astype(np.int64).reshape(-1)]
        x = x.reshape(-1, *cast(gym.spaces.Box, self.observation_space).shape).astype(np.float64)
        return x.reshape(x.shape[0], -1) if self.kind == "linear" else x

    def greedy_actions(self, obs: Any, h: int) -> np.ndarray:
        """The greedy actions of a batch of observations at step ``h``: frozen π_h if learned, else Q^k's."""
        x = self.features(obs)
        reg = self.frozen[h] if h < len(self.frozen) else self.regressor
        return reg.predict(x, np.full(x.shape[0], h))[:, -1].argmax(axis=-1)

    def _act(self, obs: Any, h: int, deterministic: bool) -> int:
        # ALGO LOGIC: frozen policies before step i, uniform random from step i on.
        if deterministic or h < int(self.timestep[0]) or int(self.timestep[0]) >= self.H:
            return int(self.greedy_actions(np.asarray(obs)[None], h)[0])
        return int(self.rng.integers(self.A))

    def _transition(self, obs: Any, action: int, reward: float, next_obs: Any, h: int, done: bool) -> None:
        i = int(self.timestep[0])
        if i >= self.H:  # every step learned (and no restart): exploit
            return
        self.stats[1] += 1
        self.stats[0] += h >= i
        self.stats[2] += reward
        self.episode.append(
            (np.asarray(obs), h, action, reward * self.config.reward_scale, np.asarray(next_obs))
        )
        if not done:
            return
        self._store_episode(i)
        self.stats[3] += 1
        self.collected[0] += 1
        if self.collected[0] >= self.m[0]:
            self._train_and_freeze(i)

    def _store_episode(self, i: int) -> None:
        """Keep the episode's transitions at steps ≥ i with their Monte-Carlo returns-to-go."""
        ep, self.episode = self.episode, []
        rewards = np.array([t[3] for t in ep])
        rtg = np.cumsum(rewards[::-1])[::-1]
        keep = [j for j, t in enumerate(ep) if t[1] >= i]
        if not keep:
            return
        new = {
            "obs": self.features(np.stack([ep[j][0] for j in keep])),
            "h": np.array([ep[j][1] for j in keep], dtype=np.int64),
            "action": np.array([ep[j][2] for j in keep], dtype=np.int64),
            "reward": rewards[keep],
            "return": rtg[keep],
            "next_obs": self.features(np.stack([ep[j][4] for j in keep])),
            "last": np.array([ep[j][1] == self.H - 1 for j in keep]),
        }
        self.data = {k: np.concatenate([self.data[k], v]) if self.data else v for k, v in new.items()}
        if isinstance(self.regressor, TorchRegressor):
            self.regressor.new += len(keep)

    def _train_and_freeze(self, i: int) -> None:
        # ALGO LOGIC: regress the k heads on all data, freeze the greedy policy of step i, advance.
        if self.data:
            self.losses = np.asarray(self.regressor.fit(self.data))
        reg = self.regressor
        self.frozen.append(reg.frozen_copy() if isinstance(reg, TorchRegressor) else copy.deepcopy(reg))
        self.collected[0] = 0
        self.timestep[0] = i + 1
        self._last_stats = self.stats.copy()
        if self.timestep[0] >= self.H and self.config.restart:
            self.timestep[0], self.m[0] = 0, 2 * self.m[0]
            self.frozen = []

    def policy_actions(self, observations: Any, h: int = 0) -> np.ndarray:
        """The greedy actions of a batch at step ``h`` in one regressor call (:meth:`greedy_actions`)."""
        with self._frozen():
            return np.asarray(self.greedy_actions(np.asarray(observations), h), dtype=np.int64).reshape(-1)

    # ------------------------------------------------------------------ reporting and saving
    def policy_table(self) -> np.ndarray:
        """The greedy non-stationary policy ``(H, S)`` on Discrete(S) observations (for exact evaluation)."""
        if not self.discrete:
            raise UserError("policy_table() needs Discrete(S) observations; use greedy_actions(obs, h)")
        states = np.arange(self.S)
        return np.stack([self.greedy_actions(states, h) for h in range(self.H)])

    def diagnostics(self) -> dict[str, float]:
        """The SB3 implementation's logged keys, over the steps since the last iteration ended."""
        explored, steps, ret, eps = getattr(self, "_last_stats", self.stats)
        now = time.perf_counter()
        fps = (self.num_timesteps - self._steps0) / max(now - self._t0, 1e-9)
        self._t0, self._steps0 = now, self.num_timesteps
        out = {
            "rollout/exploration_rate": explored / max(steps, 1.0),
            "rollout/ep_rew_mean": ret / max(eps, 1.0),
            "train/loss": float(self.losses.sum()),
            "time/fps": fps,
            "sqirl/timestep": float(self.timestep[0]),
            "sqirl/episodes_per_timestep": float(self.m[0]),
        }
        out.update({f"train/loss_{j}": float(v) for j, v in enumerate(self.losses)})
        return out

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        out = {f"data/{k}": v for k, v in self.data.items()}
        out.update({f"reg/{k}": v for k, v in self.regressor.state_dict().items()})
        for n, reg in enumerate(self.frozen):
            out.update({f"frozen/{n}/{k}": v for k, v in reg.state_dict().items()})
        for n, (o, h, a, r, o2) in enumerate(self.episode):
            out.update({f"ep/{n}/obs": o, f"ep/{n}/next": o2, f"ep/{n}/har": np.array([h, a, r])})
        return out

    def _load_extra_arrays(self, data: Any) -> None:
        files = set(data.files)
        self.data = {k: data[f"data/{k}"].copy() for k in _FIELDS if f"data/{k}" in files}
        self.regressor.load_state_dict(_prefixed(data, "reg/"))
        self.frozen = []
        while f"frozen/{len(self.frozen)}/" in {f[: f.rfind("/") + 1] for f in files}:
            reg = self.regressor
            reg = reg.frozen_copy() if isinstance(reg, TorchRegressor) else copy.deepcopy(reg)
            reg.load_state_dict(_prefixed(data, f"frozen/{len(self.frozen)}/"))
            self.frozen.append(reg)
        self.episode = []
        while f"ep/{len(self.episode)}/obs" in files:
            n = len(self.episode)
            h, a, r = data[f"ep/{n}/har"]
            self.episode.append((data[f"ep/{n}/obs"], int(h), int(a), float(r), data[f"ep/{n}/next"]))


def _prefixed(data: Any, prefix: str) -> dict[str, np.ndarray]:
    return {
        f[len(prefix) :]: data[f] for f in data.files if f.startswith(prefix) and "/" not in f[len(prefix) :]
    }
