"""REBEL and A*-PO train a Hugging Face causal LM built from a config (nothing downloaded).

The ``hf`` policy is a 2-layer GPT-2 (``rl_suite.sequence_policy.HF_DEFAULT_CONFIG``) made with
``AutoModelForCausalLM.from_config``; π_ref is uniform, so a freshly initialised model starts near it.
With two prompts whose targets are complementary, a policy that ignores the prompt scores E[r] = 0.5
exactly, so learning there means reading the prompt.
Gao et al. 2024 (arXiv 2404.16767); Brantley et al. 2025 (arXiv 2505.20686).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rl_suite import registry
from rl_suite.config import agent_class
from rl_suite.errors import UserError
from rl_suite.rlhf.task import make_task
from rl_suite.sequence_policy import HFPolicy, make_policy, response_table

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
#: Prompts 0 and 1, targets 1 1 1 and 0 0 0: every prompt-blind policy has E[r] = 0.5 exactly.
TWO_PROMPTS: dict[str, Any] = {**SANDBOX, "n_prompts": 2}


def hf_agent(name: str, env_kwargs: dict[str, Any], lr: float) -> Any:
    """``name`` training an ``hf`` policy on the sandbox built from ``env_kwargs`` (seed 0, CPU)."""
    registry.register_envs()
    env = gym.make("rl_suite/RLHFSequence-v0", **env_kwargs)
    settings = {"device": "cpu", "policy": "hf", "lr": lr, "batch_prompts": 4, "log_completions": 0}
    return agent_class(name)(env, settings, seed=0)


@pytest.mark.parametrize("name", ["rebel", "a-star-po"])
def test_hf_policy_from_a_config_is_trained(name: str) -> None:
    agent = hf_agent(name, SANDBOX, lr=3e-3)
    assert isinstance(agent.policy, HFPolicy)
    start = agent.exact_metrics()
    agent.learn(160)
    final = agent.exact_metrics()
    assert start["suboptimality"] > 0.25
    assert final["suboptimality"] < 0.1 * start["suboptimality"]
    assert final["exact/expected_reward"] > 0.85
    assert agent.diagnostics()["cost/policy_bwd"] > 0


@pytest.mark.parametrize("name", ["rebel", "a-star-po"])
def test_hf_policy_learns_to_read_the_prompt(name: str) -> None:
    agent = hf_agent(name, TWO_PROMPTS, lr=1e-3)
    task = agent.task
    targets = task.best_response(task.prompts)
    assert (targets[0] != targets[1]).all()  # complementary: the prompt decides every token
    start = agent.exact_metrics()
    agent.learn(400)
    final = agent.exact_metrics()
    assert start["exact/expected_reward"] == pytest.approx(0.5, abs=0.05)
    assert final["exact/expected_reward"] > 0.85
    assert final["suboptimality"] < 0.1 * start["suboptimality"]
    # Each prompt puts most of its mass on its own target and almost none on the other prompt's.
    codes = targets @ (task.vocab_size ** np.arange(task.response_length - 1, -1, -1))
    probs = response_table(agent.policy, task.prompts, task.all_responses())
    assert probs[0, codes[0]] > 0.75 and probs[1, codes[1]] > 0.75, probs
    assert probs[0, codes[1]] < 0.01 and probs[1, codes[0]] < 0.01, probs


def test_hf_policy_needs_ids_for_the_response_tokens_the_separator_and_the_prompt_tokens() -> None:
    task = make_task("target_string", vocab_size=2, prompt_length=1, response_length=3, n_prompts=2)
    with pytest.raises(UserError, match=r"2 \* vocab_size \+ 1 = 5"):
        make_policy("hf", task, config={"vocab_size": 3})
