"""rl_suite.validation: the knob validators every env uses, and their one-line messages."""

from __future__ import annotations

import numpy as np
import pytest

from rl_suite.errors import UserError
from rl_suite.validation import check_choice, check_int, check_nonnegative, check_positive, check_probability


def test_valid_values_come_back_as_python_types() -> None:
    assert check_choice("noise", "gaussian", ("bernoulli", "gaussian")) == "gaussian"
    assert check_int("n_arms", np.int64(3), 1) == 3 and type(check_int("n_arms", np.int64(3), 1)) is int
    assert check_positive("sigma", np.float32(0.5)) == 0.5
    assert check_nonnegative("shift", 0) == 0.0
    assert check_probability("p", 1) == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_choice("noise", "normal", ("bernoulli", "gaussian")), "noise must be one of"),
        (lambda: check_int("n_arms", True, 1), "n_arms must be an integer >= 1, got True"),
        (lambda: check_int("n_arms", 0, 1), "n_arms must be >= 1, got 0"),
        (lambda: check_positive("sigma", 0.0), "sigma must be a finite number > 0"),
        (lambda: check_positive("sigma", "1"), "sigma must be a number > 0"),
        (lambda: check_nonnegative("shift", float("nan")), "shift must be a finite number >= 0"),
        (lambda: check_probability("p", 1.0, upper_open=True), r"p must be in \[0, 1\), got 1.0"),
        (lambda: check_probability("p", None), r"p must be a number in \[0, 1\]"),
    ],
)
def test_bad_values_are_one_line_user_errors(call, message: str) -> None:
    with pytest.raises(UserError, match=message) as exc:
        call()
    assert "\n" not in str(exc.value)
