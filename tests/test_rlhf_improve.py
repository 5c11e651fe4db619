"""REBEL and A*-PO at their default settings improve on every task of the RLHF sandbox (tabular policy).

Both defaults tie the algorithm's KL coefficient to the env's β (REBEL's reward shaping and η = 1/β,
A*-PO's β₂), so the regression's fixed point is the env's π*; the code's own values (REBEL η = 1,
kl_coef 0.05, 4 epochs; A*-PO β₂ = 1e-3, lr 0.1) stay above half of π_ref's suboptimality in six of
the ten (agent, task) cases with this budget. Gao et al. 2024 (arXiv 2404.16767); Brantley et al. 2025
(arXiv 2505.20686).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

from rl_suite import registry
from rl_suite.config import agent_class

ENV = "rl_suite/RLHFSequence-v0"
TASKS = ("target_string", "digit_sum", "sort", "reverse", "linear_ngram")
#: Online generations per run: 75 rounds of REBEL (8 prompts × 2), 75 of A*-PO (8 prompts × 1, twice).
BUDGET = 600


def _agent(name: str, task: str, beta: float = 0.1, **settings: object) -> Any:
    registry.register_envs()
    env = gym.make(ENV, task=task, beta=beta, n_prompts=8)
    config = {"device": "cpu", "log_completions": 0, "exact_metrics": False, **settings}
    return agent_class(name)(env, config, seed=0)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", ["rebel", "a-star-po"])
def test_default_settings_halve_the_reference_suboptimality(name: str, task: str) -> None:
    agent = _agent(name, task)
    start = agent.exact_metrics()["suboptimality"]
    agent.learn(BUDGET)
    final = agent.exact_metrics()["suboptimality"]
    assert start > 0.1  # π_ref is far from π*: there is something to gain
    assert final < 0.5 * start, f"{name} on {task}: {start:.3f} -> {final:.3f}"


@pytest.mark.parametrize("beta", [0.05, 0.2])
def test_the_kl_coefficients_follow_the_env_beta(beta: float) -> None:
    rebel = _agent("rebel", "sort", beta=beta)
    assert rebel.kl_coef == beta
    assert rebel.eta == pytest.approx(1.0 / beta)
    apo = _agent("a-star-po", "sort", beta=beta)
    assert apo.beta2 == beta
    explicit = _agent("rebel", "sort", beta=beta, eta=3.0, kl_coef=0.0)
    assert (explicit.eta, explicit.kl_coef) == (3.0, 0.0)
    assert _agent("rebel", "sort", beta=beta, kl_coef=0.0).eta == pytest.approx(1.0 / beta)
    assert _agent("a-star-po", "sort", beta=beta, beta2=0.3).beta2 == 0.3


def test_a_star_po_value_estimate_follows_the_policy_kind() -> None:
    """Stage 1 by kind: the paper's β₁ = 0.5, N = 8 (tabular, GRU); the env's β, N = 128 (transformer)."""
    registry.register_envs()
    for kind, beta1, n in (("tabular", 0.5, 8), ("gru", 0.5, 8), ("transformer", 0.2, 128)):
        env = gym.make(ENV, task="sort", beta=0.2, n_prompts=4, reference_policy=kind, sft_steps=1)
        apo: Any = agent_class("a-star-po")(env, {"device": "cpu", "log_completions": 0}, seed=0)
        assert (apo.beta1, apo.n_value_samples) == (beta1, n)
        assert apo.costs["cost/offline_generations"] == 4 * n
        apo.learn(16)  # the values in use are logged with every round
        logged = apo.diagnostics()
        assert (logged["apo/beta1"], logged["apo/n_value_samples"]) == (beta1, n)
        assert logged["learning_rate"] == apo.lr
    set_ = _agent("a-star-po", "sort", beta1=0.0, n_value_samples=3)
    assert (set_.beta1, set_.n_value_samples) == (0.0, 3)


@pytest.mark.parametrize(("beta", "lr", "n"), [(0.05, 1e-3, 512), (0.1, 5e-4, 128), (0.2, 5e-4, 128)])
def test_a_star_po_on_a_transformer_scales_lr_and_n_with_beta(beta: float, lr: float, n: int) -> None:
    """Below β = 0.1, lr = 5e-4·(0.1/β) and N = 128·(0.1/β)²; other kinds and set values do not move."""
    registry.register_envs()
    env = gym.make(ENV, task="sort", beta=beta, n_prompts=2, reference_policy="transformer", sft_steps=1)
    apo: Any = agent_class("a-star-po")(env, {"device": "cpu", "log_completions": 0}, seed=0)
    assert (apo.lr, apo.n_value_samples, apo.beta1) == (pytest.approx(lr), n, beta)
    assert apo.costs["cost/offline_generations"] == 2 * n
    explicit = agent_class("a-star-po")(env, {"device": "cpu", "lr": 3e-4, "n_value_samples": 16}, seed=0)
    assert (explicit.lr, explicit.n_value_samples) == (3e-4, 16)
    tabular = gym.make(ENV, task="sort", beta=beta, n_prompts=2, reference_policy="tabular", sft_steps=1)
    tab: Any = agent_class("a-star-po")(tabular, {"device": "cpu"}, seed=0)
    assert (tab.lr, tab.n_value_samples) == (0.05, 8)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rebel", {"tabular": 0.1, "gru": 3e-3, "transformer": 1e-3}),
        ("a-star-po", {"tabular": 0.05, "gru": 3e-3, "transformer": 5e-4}),
        ("rloo", {"tabular": 0.1, "gru": 3e-3, "transformer": 1e-3}),
        ("online-dpo", {"tabular": 0.1, "gru": 3e-3, "transformer": 1e-3}),
    ],
)
def test_the_default_learning_rate_follows_the_policy_kind(name: str, expected: dict[str, float]) -> None:
    """Unset, lr is the agent's rate for the kind of policy it trains; set, it is the setting."""
    registry.register_envs()
    for kind, lr in expected.items():
        env = gym.make(ENV, task="sort", n_prompts=4, reference_policy=kind, sft_steps=1)
        agent: Any = agent_class(name)(env, {"device": "cpu", "log_completions": 0}, seed=0)
        assert agent.lr == lr
        assert agent.optimizer.param_groups[0]["lr"] == lr
    fresh = agent_class(name)(gym.make(ENV, task="sort", n_prompts=4), {"policy": "gru", "device": "cpu"})
    assert fresh.lr == expected["gru"]  # a fresh GRU on a tabular reference: the policy trained decides
    explicit = agent_class(name)(gym.make(ENV, task="sort", n_prompts=4), {"lr": 0.02, "device": "cpu"})
    assert explicit.lr == explicit.optimizer.param_groups[0]["lr"] == 0.02
    # Tabular rates are for 4-token responses; digit_sum's 2-token ones take twice the rate.
    short = gym.make(ENV, task="digit_sum", n_prompts=4)
    assert short.unwrapped.task.response_length == 2
    assert agent_class(name)(short, {"device": "cpu"}).lr == pytest.approx(2 * expected["tabular"])
