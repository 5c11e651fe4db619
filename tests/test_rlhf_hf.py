"""REBEL and A*-PO train a Hugging Face causal LM built from a config (nothing downloaded).

The ``hf`` policy is a 2-layer GPT-2 (``rl_suite.sequence_policy.HF_DEFAULT_CONFIG``) made with
``AutoModelForCausalLM.from_config``; π_ref is uniform, so a freshly initialised model starts near it.
Gao et al. 2024 (arXiv 2404.16767); Brantley et al. 2025 (arXiv 2505.20686).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

from rl_suite import registry
from rl_suite.config import agent_class
from rl_suite.sequence_policy import HFPolicy

#: One prompt, V = 2, L = 3: 8 responses, the target string scores 1.
SANDBOX: dict[str, Any] = {
    "task": "target_string",
    "beta": 0.1,
    "vocab_size": 2,
    "prompt_length": 1,
    "response_length": 3,
    "n_prompts": 1,
    "reference": "uniform",
}


@pytest.mark.parametrize("name", ["rebel", "a-star-po"])
def test_hf_policy_from_a_config_is_trained(name: str) -> None:
    registry.register_envs()
    env = gym.make("rl_suite/RLHFSequence-v0", **SANDBOX)
    settings = {"device": "cpu", "policy": "hf", "lr": 3e-3, "batch_prompts": 4, "log_completions": 0}
    agent: Any = agent_class(name)(env, settings, seed=0)
    assert isinstance(agent.policy, HFPolicy)
    start = agent.exact_metrics()
    agent.learn(160)
    final = agent.exact_metrics()
    assert start["suboptimality"] > 0.25
    assert final["suboptimality"] < 0.1 * start["suboptimality"]
    assert final["exact/expected_reward"] > 0.85
    assert agent.diagnostics()["cost/policy_bwd"] > 0
