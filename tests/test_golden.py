"""A golden set: what ~20 (env, agent, seed) runs across every family produce, pinned bit for bit.

Refactors must not change results, on any x86-64 CPU (tests/conftest.py fixes the float kernels). Each case
is a preset from ``configs/`` cut to a short budget; its summary figures (exact floats) and the first 1,000
rows of ``metrics.csv`` (as written) are stored in ``tests/golden/``. Record them again only when a change
of results is intended, and say so in the commit:

    python tests/test_golden.py --record
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
ROWS = 1000

#: preset -> budget (steps). Every family is here; budgets keep the whole set to about a minute.
CASES: dict[str, int] = {
    "linucb__linear_bandit": 1200,
    "lin-ts__linear_bandit": 1200,
    "ucb1__multi_armed_bandit": 1200,
    "opb__constrained_mab": 1200,
    "lagrangian__constrained_mab": 1200,
    "oplb__constrained_linear": 600,
    "safe-linucb__safe_linear": 600,
    "tsallis-inf__solver_tuning": 200,
    "lsvi-ucb__linear_mdp": 1200,
    "ucbvi__tabular_mdp": 1200,
    "mdp-oracle__tabular_mdp": 1200,
    "sqirl__tabular_mdp": 1200,
    "gorp__tabular_mdp": 1200,
    "briee-lite__block_mdp": 1200,
    "window-ucbvi__pomdp": 1200,
    "belief-planner__pomdp": 1200,
    "omle-lite__pomdp": 1200,
    "rebel__rlhf": 600,
    "a-star-po__rlhf": 600,
    "ppo__multi_armed_bandit": 1200,
    "ppo__rlhf_token": 400,
    "sqirl__minigrid": 600,
}
#: Summary keys pinned exactly (besides the env's own run totals).
KEYS = ("steps_done", "cumulative_regret", "cumulative_reward", "regret_exponent", "violations")


def run_case(name: str, budget: int, out: Path) -> dict[str, Any]:
    from rl_suite.runner import run_trial

    preset = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    preset.pop("seeds", None)
    config = {**preset, "seed": 0, "total_steps": budget, "checkpoint_every": 500, "out": str(out)}
    result = run_trial(config)
    assert result.status == "completed", result.summary.get("error")
    summary = {k: result.summary[k] for k in KEYS if k in result.summary}
    lines = (result.path / "metrics.csv").read_text().splitlines()[: ROWS + 1]
    return {"summary": summary, "metrics": lines}


@pytest.mark.parametrize("name", sorted(CASES))
def test_results_are_unchanged(name: str, tmp_path: Path) -> None:
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    got = run_case(name, CASES[name], tmp_path)
    assert got["summary"] == golden["summary"]
    assert got["metrics"] == golden["metrics"]


def test_every_family_is_covered() -> None:
    from rl_suite import registry

    assert {name.split("__")[1] for name in CASES} == {e.family for e in registry.ENVS}


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    import tempfile

    import conftest  # noqa: F401  (the same kernel settings as the tests, before numpy and torch load)

    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for case, steps in CASES.items():
            data = run_case(case, steps, Path(tmp))
            (GOLDEN / f"{case}.json").write_text(json.dumps(data, indent=1) + "\n")
            print(case, data["summary"])
