"""Both Gymnasium faces of the RLHF sandbox: checker, seeding, the exact regret contract, bad input, solve."""

from __future__ import annotations

import json
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from rl_suite.cli import main
from rl_suite.errors import UserError
from rl_suite.exact import kl
from rl_suite.sequence_policy import TabularPolicy, make_policy

SEQ, TOK = "rl_suite/RLHFSequence-v0", "rl_suite/RLHFToken-v0"


@pytest.mark.parametrize("env_id", [SEQ, TOK])
@pytest.mark.parametrize(
    "kwargs", [{"task": "digit_sum", "sft_steps": 50}, {"task": "linear_ngram", "horizon": 3}]
)
def test_check_env_on_other_tasks(env_id: str, kwargs: dict) -> None:
    env = gym.make(env_id, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", [SEQ, TOK])
def test_same_seed_same_episodes(env_id: str) -> None:
    def run(seed: int) -> list:
        env = gym.make(env_id, horizon=2)
        env.action_space.seed(0)
        out = [env.reset(seed=seed)[0].tolist()]
        for _ in range(30):
            obs, r, term, _, info = env.step(env.action_space.sample())
            out.append((obs.tolist(), r, info["regret"]))
            if term:
                out.append(env.reset()[0].tolist())
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def _star_policy(env: gym.Env) -> TabularPolicy:
    u = env.unwrapped
    return TabularPolicy(u.task).set_response_probs(u.optimal_probs)


def test_attached_policy_regret_is_the_exact_suboptimality() -> None:
    env = gym.make(SEQ, beta=0.2)
    u = env.unwrapped
    policy = make_policy("tabular", u.task, init_std=1.0, seed=5)
    with torch.no_grad():
        probs = policy.response_probs(u.task.prompts, u.task.all_responses()).double().numpy()
    expected = kl.optimal_value(u.reference_probs, u.rewards, 0.2) - kl.objective(
        probs / probs.sum(1, keepdims=True), u.reference_probs, u.rewards, 0.2
    )
    u.attach_policy(policy)
    for i in (0, 7, 15):
        env.reset(seed=0, options={"prompt_index": i})
        _, reward, term, _, info = env.step(policy.sample(u.task.prompts[i])[0].numpy())
        assert term and info["prompt_index"] == i and info["regret_is_kl_regularised"]
        assert info["regret"] == pytest.approx(expected[i], rel=1e-5)
        assert info["gold_reward"] == reward and info["optimal_value"] == pytest.approx(u.optimal_values[i])
    # The cache follows policy_updated().
    with torch.no_grad():
        policy.table.mul_(0.0)
    env.reset(options={"prompt_index": 0})
    assert env.step(np.zeros(4, dtype=np.int64))[4]["regret"] == pytest.approx(expected[0], rel=1e-5)
    u.policy_updated()
    env.reset(options={"prompt_index": 0})
    uniform_gap = kl.suboptimality(np.full((1, 256), 1 / 256), u.reference_probs[:1], u.rewards[:1], 0.2)[0]
    assert env.step(np.zeros(4, dtype=np.int64))[4]["regret"] == pytest.approx(uniform_gap, rel=1e-5)
    # π* has zero regret at every prompt; π_ref's is V* − E_ref[r].
    u.attach_policy(_star_policy(env))
    np.testing.assert_allclose(u.policy_suboptimality(), 0.0, atol=1e-6)
    u.attach_policy(u.reference)
    np.testing.assert_allclose(
        u.policy_suboptimality(),
        u.optimal_values - (u.reference_probs * u.rewards).sum(1),
        rtol=1e-5,
        atol=1e-7,
    )
    assert u.solve()["mean_reference_suboptimality"] == pytest.approx(
        u.policy_suboptimality().mean(), rel=1e-5
    )


def test_without_a_policy_regret_is_the_reward_gap_and_pickling_detaches() -> None:
    env = gym.make(SEQ, task="sort", n_prompts=8)
    u = env.unwrapped
    env.reset(seed=1, options={"prompt_index": 3})
    best = u.task.best_response(u.task.prompts[3])[0]
    info = env.step(best)[4]
    assert info["regret"] == 0.0 and info["gold_reward"] == 1.0 and not info["regret_is_kl_regularised"]
    env.reset(options={"prompt_index": 3})
    wrong = best.copy()
    wrong[:2] = (wrong[:2] + 1) % 4
    assert env.step(wrong)[4]["regret"] == pytest.approx(0.5)
    u.attach_policy(u.reference)
    twin = pickle.loads(pickle.dumps(u))
    assert twin._policy is None and u._policy is not None
    np.testing.assert_array_equal(twin.optimal_probs, u.optimal_probs)


def test_horizon_and_prompt_index_options() -> None:
    env = gym.make(SEQ, horizon=3)
    obs, _ = env.reset(seed=0, options={"prompt_index": 5})
    np.testing.assert_array_equal(obs, env.unwrapped.task.prompts[5])
    terms = [env.step(np.zeros(4, dtype=np.int64))[2] for _ in range(3)]
    assert terms == [False, False, True]
    with pytest.raises(UserError, match=r"prompt_index'\] must be an integer in \[0, 16\)"):
        env.reset(options={"prompt_index": 16})


def test_token_face_scores_the_response_at_its_last_token() -> None:
    env = gym.make(TOK, task="reverse", n_prompts=4)
    u = env.unwrapped
    obs, info = env.reset(seed=0, options={"prompt_index": 2})
    assert obs.shape == u.observation_space.shape and obs.sum() == 4 + 4 + 1  # one-hot blocks
    target = u.task.best_response(u.task.prompts[2])[0]
    played = target.copy()
    played[0] = (played[0] + 1) % 4
    regrets, rewards = [], []
    for t, a in enumerate(played):
        obs, r, term, _, info = env.step(int(a))
        regrets.append(info["regret"])
        rewards.append(r)
        assert info["position"] == t + 1 and term == (t == 3)
    np.testing.assert_array_equal(u.tokens()[4:8], played)
    assert rewards == [0.0, 0.0, 0.0, 0.75] and regrets == [0.0, 0.0, 0.0, 0.25]
    np.testing.assert_array_equal(info["response"], played)
    with pytest.raises(UserError, match=r"outside Discrete\(4\)"):
        env.reset()
        env.step(4)


def test_bad_input_is_one_clear_error() -> None:
    env = gym.make(SEQ)
    env.reset(seed=0)
    with pytest.raises(UserError, match="length 5 but response_length is 4"):
        env.step(np.zeros(5, dtype=np.int64))
    with pytest.raises(UserError, match=r"token 7, outside the vocabulary: tokens must be in \[0, 4\)"):
        env.step(np.array([0, 7, 0, 0]))
    for beta in (0.0, -0.5):
        with pytest.raises(UserError, match="beta must be a finite number > 0"):
            gym.make(SEQ, beta=beta)
    with pytest.raises(UserError, match=r"sft_noise must be in \[0, 1\], got 1.5"):
        gym.make(SEQ, sft_noise=1.5)
    with pytest.raises(UserError, match="reference must be one of 'sft', 'uniform'"):
        gym.make(SEQ, reference="pretrained")
    big = gym.make(SEQ, response_length=9, sft_steps=2).unwrapped  # V**L = 262144: GRU reference, no tables
    assert big.rewards is None and big.reference_config["policy"] == "gru"
    big.attach_policy(big.reference)
    with pytest.raises(UserError, match="above the enumerable limit 65536"):
        big.policy_suboptimality()
    big.reset(seed=0)
    info = big.step(big.best_responses[big._prompt])[4]  # regret falls back to the exact unregularised gap
    assert info["regret"] == 0.0 and not info["regret_is_kl_regularised"]
    with pytest.raises(UserError, match="response_length differ"):
        gym.make(SEQ).unwrapped.attach_policy(big.reference)


def test_uniform_reference_is_uniform() -> None:
    u = gym.make(SEQ, reference="uniform").unwrapped
    np.testing.assert_allclose(u.reference_probs, 1 / 256, rtol=1e-5)
    np.testing.assert_allclose(
        u.optimal_values, 0.1 * np.log(np.exp(u.rewards / 0.1).mean(axis=1)), rtol=1e-10
    )


def test_solve_prints_the_exact_optimum(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["solve", SEQ, "--set", "beta=0.1"])
    assert stop.value.code == 0
    out = json.loads(capsys.readouterr().out)
    u = gym.make(SEQ, beta=0.1).unwrapped
    assert out["beta"] == 0.1 and len(out["prompts"]) == 16
    np.testing.assert_allclose([p["optimal_value"] for p in out["prompts"]], u.optimal_values, rtol=1e-12)
    assert [p["best_response"] for p in out["prompts"]] == u.best_responses.tolist()
    first = out["prompts"][0]
    assert first["optimal_expected_reward"] - 0.1 * first["optimal_kl"] == pytest.approx(
        first["optimal_value"]
    )
    assert 0 < first["reference_suboptimality"] < first["optimal_value"]
