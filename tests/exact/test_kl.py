"""The exact KL-regularised kernels against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from rl_suite.errors import UserError
from rl_suite.exact import kl

REF = np.array([[0.5, 0.5]])
REW = np.array([[1.0, 0.0]])
BETA = 0.5


def test_two_responses_by_hand() -> None:
    e2 = np.exp(2.0)  # exp(r/β) = exp(1/0.5)
    star = kl.optimal_policy(REF, REW, BETA)
    np.testing.assert_allclose(star, [[e2 / (e2 + 1), 1 / (e2 + 1)]], rtol=1e-12)
    v_star = BETA * np.log(0.5 * e2 + 0.5)  # β log Z
    np.testing.assert_allclose(kl.optimal_value(REF, REW, BETA), [v_star], rtol=1e-12)
    # J(π*) = E_{π*} r − β KL(π*‖π_ref) equals β log Z.
    np.testing.assert_allclose(kl.objective(star, REF, REW, BETA), [v_star], rtol=1e-12)
    # π_ref: no KL, reward 1/2.  The deterministic best response: reward 1, KL = log 2.
    np.testing.assert_allclose(kl.objective(REF, REF, REW, BETA), [0.5], rtol=1e-12)
    np.testing.assert_allclose(kl.objective([[1.0, 0.0]], REF, REW, BETA), [1 - BETA * np.log(2)], rtol=1e-12)
    np.testing.assert_allclose(kl.suboptimality(REF, REF, REW, BETA), [v_star - 0.5], rtol=1e-12)
    np.testing.assert_allclose(
        kl.suboptimality([[1.0, 0.0]], REF, REW, BETA), [v_star - 1 + BETA * np.log(2)]
    )
    assert kl.suboptimality(star, REF, REW, BETA)[0] == pytest.approx(0.0, abs=1e-15)


def test_suboptimality_is_the_gap_to_v_star_and_nonnegative() -> None:
    rng = np.random.default_rng(0)
    ref = rng.dirichlet(np.ones(16), size=5)
    rew = rng.normal(size=(5, 16))
    for beta in (0.05, 0.3, 2.0):
        v_star = kl.optimal_value(ref, rew, beta)
        star = kl.optimal_policy(ref, rew, beta)
        np.testing.assert_allclose(kl.objective(star, ref, rew, beta), v_star, rtol=1e-10)
        for _ in range(20):
            pi = rng.dirichlet(np.ones(16) * 0.5, size=5)
            gap = kl.suboptimality(pi, ref, rew, beta)
            assert (gap >= 0).all()
            np.testing.assert_allclose(gap, v_star - kl.objective(pi, ref, rew, beta), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(kl.suboptimality(star, ref, rew, beta), 0.0, atol=1e-12)


def test_small_beta_goes_to_the_best_response_and_large_beta_to_the_reference() -> None:
    ref = np.array([[0.7, 0.2, 0.1]])
    rew = np.array([[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(kl.optimal_policy(ref, rew, 1e-3), [[0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(kl.optimal_value(ref, rew, 1e-3), [1.0], atol=1e-2)
    np.testing.assert_allclose(kl.optimal_policy(ref, rew, 1e4), ref, atol=1e-4)


def test_kl_outside_the_reference_support_is_infinite_and_zero_mass_is_ignored() -> None:
    assert kl.kl_divergence([[0.0, 1.0]], [[1.0, 0.0]])[0] == np.inf
    assert kl.kl_divergence([[1.0, 0.0]], [[0.5, 0.5]])[0] == pytest.approx(np.log(2))
    # π* keeps π_ref's zeros.
    assert kl.optimal_policy([[1.0, 0.0]], [[0.0, 5.0]], 0.1)[0, 1] == 0.0


@pytest.mark.parametrize("beta", [0.0, -1.0, float("nan"), "0.1", True])
def test_beta_must_be_positive(beta: object) -> None:
    with pytest.raises(UserError, match="beta must be"):
        kl.optimal_value(REF, REW, beta)  # type: ignore[arg-type]


def test_bad_tables_are_one_line_errors() -> None:
    with pytest.raises(UserError, match="probability rows"):
        kl.optimal_policy([[0.5, 0.6]], REW, 0.1)
    with pytest.raises(UserError, match="shape"):
        kl.optimal_policy(REF, [[1.0, 0.0, 2.0]], 0.1)
    with pytest.raises(UserError, match="shape"):
        kl.objective([[1.0, 0.0, 0.0]], REF, REW, 0.1)
