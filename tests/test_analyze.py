"""`rl-suite analyze`: the effective-horizon analysis of an env given by id, and its report on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.analyze import analyze
from rl_suite.cli import main
from rl_suite.errors import UserError


def test_analyze_bad_input_is_one_clear_error() -> None:
    with pytest.raises(UserError, match="has no finite MDP model"):
        analyze("rl_suite/MultiArmedBandit-v0")
    with pytest.raises(UserError, match="has no finite MDP model"):
        analyze("CartPole-v1")
    with pytest.raises(UserError, match="max_k must be an integer >= 1, got 0"):
        analyze("rl_suite/LayeredLureMDP-v0", max_k=0)
    for p in (-0.1, 1.0, 1.5):
        with pytest.raises(UserError, match=r"repeat_probability must be a number in \[0, 1\)"):
            analyze("rl_suite/LayeredLureMDP-v0", repeat_probability=p)


def test_analyze_works_on_toy_text_and_suite_ids() -> None:
    frozen = analyze("FrozenLake-v1", max_k=2, horizon=10)
    suite = analyze("rl_suite/FrozenLakeFiniteHorizon-v0", max_k=2, horizon=10)
    assert frozen.to_dict()["greedy_returns"] == pytest.approx(suite.to_dict()["greedy_returns"])
    assert frozen.sticky is not None and frozen.sticky.n_states > frozen.n_states
    assert analyze("rl_suite/SimplexLinearMDP-v0", repeat_probability=0).sticky is None


def test_cli_analyze_prints_and_writes_the_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "rl_suite/LayeredLureMDP-v0", "--set", "lure_depth=3", "--out", str(tmp_path)])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "| min_k | 3 | 3 |" in out and "simple H bound (proxy)" in out
    (folder,) = tmp_path.iterdir()
    data = json.loads((folder / "effective_horizon.json").read_text())
    assert data["min_k"] == 3 and data["sticky"]["repeat_probability"] == 0.0
    assert (folder / "effective_horizon.md").read_text().startswith("# Effective horizon")
    for args, message in [
        (["rl_suite/MultiArmedBandit-v0"], "has no finite MDP model"),
        (["rl_suite/LayeredLureMDP-v0", "--max-k", "0"], "max_k must be an integer >= 1"),
        (["rl_suite/LayeredLureMDP-v0", "--repeat-probability", "1"], "repeat_probability must be"),
        (["rl_suite/LayeredLureMDP-v0", "--set", "nope=1"], "env.nope is not an argument"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(["analyze", *args, "--out", str(tmp_path)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1
