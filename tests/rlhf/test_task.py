"""Tasks' gold rewards by hand, the Bradley–Terry oracle, enumeration limits and the generated datasets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rl_suite.errors import UserError
from rl_suite.rlhf.datasets import PreferenceDataset, demonstrations, make_preference_dataset
from rl_suite.rlhf.task import (
    MAX_ENUMERABLE,
    DigitSumTask,
    LinearNgramTask,
    TargetStringTask,
    make_task,
    reward_matrix,
)
from rl_suite.sequence_policy import make_policy


def test_target_string_reward_by_hand() -> None:
    task = TargetStringTask(
        vocab_size=4,
        prompt_length=2,
        response_length=3,
        prompts=np.array([[1, 2], [3, 0]]),
        secret=np.array([0, 1, 3]),
    )
    # y*_i = (s_i + x_{i mod 2}) mod 4: [1, 3, 0] for [1, 2]; [3, 1, 2] for [3, 0].
    np.testing.assert_array_equal(task.target(task.prompts), [[1, 3, 0], [3, 1, 2]])
    np.testing.assert_allclose(task.reward([[1, 2], [3, 0]], [[1, 3, 0], [3, 0, 2]]), [1.0, 2 / 3])
    exact_task = TargetStringTask(
        vocab_size=4,
        prompt_length=2,
        response_length=3,
        prompts=task.prompts,
        secret=task.secret,
        scoring="exact",
    )
    np.testing.assert_allclose(exact_task.reward([[1, 2], [3, 0]], [[1, 3, 0], [3, 0, 2]]), [1.0, 0.0])


def test_digit_sum_sort_reverse_by_hand() -> None:
    task = DigitSumTask(
        vocab_size=10, prompt_length=3, response_length=2, prompts=np.array([[9, 9, 9], [1, 0, 2]])
    )
    np.testing.assert_array_equal(task.best_response(task.prompts), [[2, 7], [0, 3]])
    np.testing.assert_allclose(task.reward(task.prompts, [[2, 0], [0, 3]]), [0.5, 1.0])
    sort = make_task("sort", n_prompts=3)
    x = np.array([[3, 1, 2, 0]])
    np.testing.assert_array_equal(sort.best_response(x), [[0, 1, 2, 3]])
    np.testing.assert_allclose(sort.reward(x, [[0, 1, 3, 3]]), [0.75])
    rev = make_task("reverse", n_prompts=3)
    np.testing.assert_array_equal(rev.best_response(x), [[0, 2, 1, 3]])
    np.testing.assert_allclose(rev.reward(x, [[3, 1, 2, 0]]), [0.0])


def test_linear_ngram_reward_by_hand_and_exact_argmax() -> None:
    w = np.array([[0.5, -1.0], [2.0, 0.25]])  # θ[previous, next]
    task = LinearNgramTask(
        vocab_size=2, prompt_length=1, response_length=2, prompts=np.array([[1], [0]]), weights=w
    )
    # x = [1], y = [0, 1]: (θ[1,0] + θ[0,1]) / 2.
    np.testing.assert_allclose(task.reward([[1]], [[0, 1]]), [(2.0 - 1.0) / 2])
    # Best from x = [1]: 1→0 (2.0) then 0→0 (0.5): 1.25; from x = [0]: 0→0→0 (1.0) vs 0→1→0 (−1+2 = 1.0): tie.
    np.testing.assert_allclose(task.max_reward(task.prompts), [1.25, 0.5])
    # Viterbi equals brute force on a random trigram task.
    tri = make_task(
        "linear_ngram", vocab_size=3, prompt_length=3, response_length=5, n=3, n_prompts=10, seed=4
    )
    brute = reward_matrix(tri).max(axis=1)
    np.testing.assert_allclose(tri.max_reward(tri.prompts), brute, rtol=1e-12)
    np.testing.assert_allclose(tri.reward(tri.prompts, tri.best_response(tri.prompts)), brute, rtol=1e-12)


def test_bradley_terry_frequencies_match_the_logistic() -> None:
    task = make_task("linear_ngram", temperature=0.7, seed=1)
    x = np.repeat(task.prompts[:1], 20000, axis=0)
    y1 = np.tile(task.best_response(task.prompts[:1]), (20000, 1))
    y2 = np.zeros_like(y1)
    p = 1 / (1 + np.exp(-(task.reward(x[:1], y1[:1]) - task.reward(x[:1], y2[:1])) / 0.7))[0]
    freq = task.prefer(x, y1, y2, np.random.default_rng(0)).mean()
    assert abs(freq - p) < 4 * math.sqrt(p * (1 - p) / 20000)
    assert 0.55 < p < 0.99  # the check above is not vacuous


def test_all_responses_and_the_enumerable_limit() -> None:
    task = make_task("target_string", vocab_size=3, response_length=2)
    np.testing.assert_array_equal(task.all_responses()[:4], [[0, 0], [0, 1], [0, 2], [1, 0]])
    assert task.all_responses().shape == (9, 2)
    big = make_task("target_string", vocab_size=4, response_length=9)
    assert not big.enumerable
    with pytest.raises(
        UserError, match=rf"4\*\*9 = 262144 responses is above the enumerable limit {MAX_ENUMERABLE}"
    ):
        big.all_responses()
    with pytest.raises(UserError, match="enumerable limit"):
        reward_matrix(big)
    assert big.max_reward(big.prompts[:2]).tolist() == [1.0, 1.0]  # still exact


def test_bad_input_is_one_clear_error() -> None:
    task = make_task("target_string")
    with pytest.raises(UserError, match="length 5 but response_length is 4"):
        task.reward(task.prompts[0], [[0, 1, 2, 3, 0]])
    with pytest.raises(UserError, match=r"token 4, outside the vocabulary: tokens must be in \[0, 4\)"):
        task.reward(task.prompts[0], [[0, 1, 2, 4]])
    with pytest.raises(UserError, match="3 prompts but 2 responses"):
        task.reward(task.prompts[:3], np.zeros((2, 4), dtype=int))
    with pytest.raises(UserError, match="unknown task 'sum'"):
        make_task("sum")
    with pytest.raises(UserError, match="response_length == prompt_length"):
        make_task("sort", prompt_length=3, response_length=4)
    with pytest.raises(UserError, match="does not fit"):
        make_task("digit_sum", response_length=1)
    with pytest.raises(UserError, match="n_prompts=17 is more than the 16"):
        make_task("target_string", n_prompts=17)
    small = make_task("sort", n_prompts=5)
    outside = next(
        r for r in make_task("sort", n_prompts=256).prompts if not (small.prompts == r).all(1).any()
    )
    with pytest.raises(UserError, match="not in the task's pool"):
        small.prompt_index(outside)
    np.testing.assert_array_equal(small.prompt_index(small.prompts[::-1]), [4, 3, 2, 1, 0])


def test_demonstrations_noise() -> None:
    task = make_task("sort", n_prompts=20)
    x, y = demonstrations(task, 500, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(y, task.best_response(x))
    x, y = demonstrations(task, 4000, 0.5, np.random.default_rng(0))
    wrong = (y != task.best_response(x)).mean()
    assert abs(wrong - 0.5 * 3 / 4) < 0.02  # a random token is right 1/V of the time


def test_preference_dataset_coverage_knob() -> None:
    task = make_task("target_string")
    ref = make_policy("tabular", task, init_std=1.0, seed=3).frozen_copy()
    M = task.n_responses
    data = make_preference_dataset(task, ref, 2000, coverage=0.25, rng=np.random.default_rng(0))
    assert data.covered is not None and (data.covered.sum(axis=1) == math.ceil(0.25 * M)).all()
    rows = task.prompt_index(data.prompts)
    powers = 4 ** np.arange(3, -1, -1)
    for resp in (data.chosen, data.rejected):
        assert data.covered[rows, resp @ powers].all()  # every response lies in its prompt's covered set
    full = make_preference_dataset(task, ref, 2000, coverage=1.0, rng=np.random.default_rng(0))
    assert full.covered is None and len(full) == 2000
    # Chosen responses are better on average: the BT oracle orders them by gold reward.
    assert task.reward(full.prompts, full.chosen).mean() > task.reward(full.prompts, full.rejected).mean()

    # A narrow coverage shows fewer distinct responses per prompt than full coverage.
    def distinct(d: PreferenceDataset) -> int:
        return len(
            {(int(i), r.tobytes()) for i, r in zip(task.prompt_index(d.prompts), d.chosen, strict=True)}
        )

    assert distinct(data) < distinct(full)


def test_preference_dataset_bad_input() -> None:
    with pytest.raises(UserError, match="mismatched lengths: prompts 3, chosen 2, rejected 2"):
        PreferenceDataset(np.zeros((3, 2), int), np.zeros((2, 4), int), np.zeros((2, 4), int))
    task = make_task("target_string")
    data = PreferenceDataset(np.zeros((2, 2), int), np.zeros((2, 5), int), np.zeros((2, 5), int))
    with pytest.raises(UserError, match="response_length is 4"):
        data.check(task)
    ref = make_policy("tabular", task)
    with pytest.raises(UserError, match=r"coverage must be in \(0, 1\]"):
        make_preference_dataset(task, ref, 10, coverage=0.0)
