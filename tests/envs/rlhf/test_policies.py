"""Sequence policies: sampling agrees with log-probabilities, exact response probabilities, SFT, copies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rl_suite.errors import UserError
from rl_suite.exact import kl
from rl_suite.rlhf.datasets import demonstrations
from rl_suite.rlhf.task import make_task, reward_matrix
from rl_suite.sequence_policy import (
    POLICY_KINDS,
    TabularPolicy,
    make_policy,
    resolve_device,
    sft_reference,
)

TINY = make_task("target_string", vocab_size=2, prompt_length=2, response_length=3, n_prompts=2)


@pytest.mark.parametrize(("kind", "temperature"), [("tabular", 1.0), ("gru", 1.0), ("gru", 0.5)])
def test_sample_frequencies_match_exp_logprob(kind: str, temperature: float) -> None:
    policy = make_policy(kind, TINY, seed=1, **({"init_std": 1.0} if kind == "tabular" else {}))
    if kind == "gru":
        with torch.no_grad():
            policy.head.weight.mul_(8.0)  # a peaked, far-from-uniform distribution
    n = 20000
    x = TINY.prompts[1:2]
    samples = policy.sample(x, n=n, temperature=temperature, generator=torch.Generator().manual_seed(0))
    codes = (samples.numpy() * np.array([4, 2, 1])).sum(axis=1)
    freq = np.bincount(codes, minlength=8) / n
    with torch.no_grad():
        probs = policy.logprob(x, TINY.all_responses(), temperature=temperature).exp().numpy()
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert probs.max() > 1.5 / 8  # far from uniform: the comparison has teeth
    tol = 4.5 * np.sqrt(probs * (1 - probs) / n) + 1e-3
    assert (np.abs(freq - probs) < tol).all(), (freq, probs)


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_response_probs_sum_to_one_and_match_logprob(kind: str) -> None:
    task = make_task("sort", vocab_size=3, n_prompts=5)
    policy = make_policy(kind, task, seed=2)
    with torch.no_grad():
        probs = policy.response_probs(task.prompts, task.all_responses(), temperature=0.7)
        np.testing.assert_allclose(probs.sum(dim=1).numpy(), 1.0, atol=1e-5)
        y = task.all_responses()[[0, 17, 80]]
        direct = policy.logprob(task.prompts[:1], y, temperature=0.7).exp()
        subset = policy.response_probs(task.prompts, y, temperature=0.7)  # not the full list: row by row
    np.testing.assert_allclose(probs[0, [0, 17, 80]].numpy(), direct.numpy(), rtol=1e-5)
    np.testing.assert_allclose(probs[:, [0, 17, 80]].numpy(), subset.numpy(), rtol=1e-5)


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_logits_are_causal(kind: str) -> None:
    task = make_task("reverse", n_prompts=4)
    policy = make_policy(kind, task, seed=0)
    x, y = torch.tensor(task.prompts), torch.tensor(task.best_response(task.prompts))
    z = y.clone()
    z[:, 2:] = (z[:, 2:] + 1) % task.vocab_size
    with torch.no_grad():
        a, b = policy.logits(x, y), policy.logits(x, z)
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert not torch.allclose(a[:, 3], b[:, 3])


def test_entropy_token_logprobs_and_gradients() -> None:
    task = make_task("target_string")
    uniform = make_policy("tabular", task)
    y = task.best_response(task.prompts[:3])
    np.testing.assert_allclose(
        uniform.entropy(task.prompts[:3], y).detach().numpy(), 4 * np.log(4), rtol=1e-6
    )
    np.testing.assert_allclose(
        uniform.token_logprobs(task.prompts[:3], y).detach().numpy(), -np.log(4), rtol=1e-6
    )
    gru = make_policy("gru", task)
    gru.logprob(task.prompts[:3], y).sum().backward()
    assert all(p.grad is not None for p in gru.parameters())


def test_frozen_and_trainable_copies() -> None:
    policy = make_policy("gru", TINY, seed=0)
    frozen = policy.frozen_copy()
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
    assert not frozen.logprob(TINY.prompts, TINY.best_response(TINY.prompts)).requires_grad
    with torch.no_grad():
        policy.head.bias.add_(1.0)
    assert not torch.equal(frozen.head.bias, policy.head.bias)  # a deep copy
    twin = frozen.trainable_copy()
    assert twin.training and all(p.requires_grad for p in twin.parameters())


def test_tabular_policy_can_be_set_to_any_distribution() -> None:
    task = make_task("target_string", vocab_size=3, response_length=3, n_prompts=4)
    rng = np.random.default_rng(0)
    ref = rng.dirichlet(np.ones(27), size=4)
    star = kl.optimal_policy(ref, reward_matrix(task), 0.1)
    policy = TabularPolicy(task).set_response_probs(star)
    with torch.no_grad():
        got = policy.response_probs(task.prompts, task.all_responses()).double().numpy()
    np.testing.assert_allclose(got, star, atol=1e-6)


@pytest.mark.parametrize("kind", ["tabular", "gru"])
def test_sft_reference_lowers_nll_toward_the_teacher(kind: str) -> None:
    task = make_task("target_string")
    policy = make_policy(kind, task, seed=0)
    x, y = demonstrations(task, 256, 0.3, np.random.default_rng(99))  # held out: another seed
    with torch.no_grad():
        before = -policy.logprob(x, y).mean().item()
    ref = sft_reference(policy, task, steps=60, seed=0, noise=0.3)
    with torch.no_grad():
        after = -ref.logprob(x, y).mean().item()
    assert after < before - 1.0, (before, after)
    assert not any(p.requires_grad for p in ref.parameters())
    # The noisy teacher's own NLL is the floor (per token: −(0.7+0.3/4)·log(0.775) − 3·(0.075)·log(0.075)).
    floor = -4 * (0.775 * np.log(0.775) + 3 * 0.075 * np.log(0.075))
    assert after > floor - 0.2


def test_policies_reject_bad_input() -> None:
    task = make_task("target_string")
    policy = make_policy("tabular", task)
    with pytest.raises(UserError, match=r"shape \(B, 4\)"):
        policy.logprob(task.prompts[:1], [[0, 1, 2, 3, 0]])
    with pytest.raises(UserError, match=r"outside the vocabulary \[0, 4\)"):
        policy.logprob(task.prompts[:1], [[0, 1, 2, 4]])
    small = make_policy("tabular", make_task("target_string", n_prompts=3))
    with pytest.raises(UserError, match="not in the task's pool"):
        small.sample(next(x for x in task.prompts if not (small.pool.numpy() == x).all(1).any()))
    with pytest.raises(UserError, match="temperature must be"):
        policy.sample(task.prompts[:1], temperature=0.0)
    with pytest.raises(UserError, match="unknown policy kind 'lstm'"):
        make_policy("lstm", task)
    with pytest.raises(UserError, match="max_context=32"):
        make_policy("transformer", make_task("sort", vocab_size=2, prompt_length=17, n_prompts=2))
    with pytest.raises(UserError, match="tabular policy needs V\\*\\*L <= 65536"):
        make_policy("tabular", make_task("target_string", response_length=9))
    with pytest.raises(UserError, match="policy 'gru'"):
        make_policy("gru", task, hidden=3)


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_policies_on_cuda_match_cpu(kind: str) -> None:
    task = make_task("sort", n_prompts=8)
    cpu = make_policy(kind, task, seed=0, **({"init_std": 1.0} if kind == "tabular" else {}))
    gpu = make_policy(kind, task, seed=0, device="cuda", **({"init_std": 1.0} if kind == "tabular" else {}))
    y = task.best_response(task.prompts)
    torch.testing.assert_close(
        gpu.logprob(task.prompts, y).cpu(), cpu.logprob(task.prompts, y), rtol=1e-4, atol=1e-4
    )
    a = cpu.sample(task.prompts, n=3, generator=torch.Generator().manual_seed(5))
    b = gpu.sample(
        task.prompts, n=3, generator=torch.Generator().manual_seed(5)
    )  # CPU generator: drawn on CPU
    assert b.device.type == "cuda" and b.shape == a.shape
    with torch.no_grad():
        probs = gpu.response_probs(task.prompts, task.all_responses())
    torch.testing.assert_close(probs.sum(1).cpu(), torch.ones(8), atol=1e-4, rtol=0)


def test_hf_policy_from_a_config_and_from_a_local_directory(tmp_path) -> None:
    policy = make_policy("hf", TINY, seed=0, config={"n_embd": 32, "n_layer": 1, "n_head": 2})
    n, x = 10000, TINY.prompts[:1]
    samples = policy.sample(x, n=n, temperature=0.1, generator=torch.Generator().manual_seed(0))
    freq = np.bincount((samples.numpy() * np.array([4, 2, 1])).sum(axis=1), minlength=8) / n
    with torch.no_grad():
        probs = policy.response_probs(x, TINY.all_responses(), temperature=0.1)[0].numpy()
    assert probs.max() > 1.5 / 8 and probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert (np.abs(freq - probs) < 4.5 * np.sqrt(probs * (1 - probs) / n) + 1e-3).all(), (freq, probs)
    policy.model.save_pretrained(tmp_path / "tiny")
    loaded = make_policy("hf", TINY, path=str(tmp_path / "tiny"))
    y = TINY.all_responses()
    torch.testing.assert_close(loaded.logprob(x, y), policy.logprob(x, y))
    with pytest.raises(UserError, match="not a local directory"):
        make_policy("hf", TINY, path=str(tmp_path / "missing"))
    with pytest.raises(UserError, match="below prompt_length \\+ response_length = 5"):
        make_policy("hf", TINY, config={"n_positions": 4})
