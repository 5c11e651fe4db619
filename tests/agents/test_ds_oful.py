"""DS-OFUL (Zhang, He, Fan & Gu 2023): kernels by hand, data selection, and what it must achieve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from rl_suite.agents.ds_oful import DSOFUL, selected, theory_iota1, theory_radius, theory_threshold
from rl_suite.envs.bandits.linear import LinearContextualBandit
from rl_suite.errors import UserError

GAP_ENV = {"dim": 8, "n_arms": 4, "model": "shared", "reward_noise": "gaussian", "noise_sd": 0.1}


def test_theory_constants_by_hand() -> None:
    # R = 0: ι₁ = 24 ln(72·1·1·√4/0.5) = 24 ln 288 = 135.911…
    assert theory_iota1(0.5, 4, 0.0, 1.0, 1.0, 0.5) == pytest.approx(135.9110515232627, rel=1e-12)
    # R = 1: 42 ln(126·2/0.5) + sqrt(8 ln 2) = 42 ln 504 + 2.3548…
    assert theory_iota1(0.5, 4, 1.0, 1.0, 1.0, 0.5) == pytest.approx(263.7030233040285, rel=1e-12)
    # Γ = Δ/(2√d ι₁) = 0.5/(4·135.911…)
    assert theory_threshold(0.5, 4, 0.0, 1.0, 1.0, 0.5) == pytest.approx(9.197191736729728e-4, rel=1e-12)
    # ι₂ = ln 30, ι₃ = ln((1 + 1600 ι₂)/0.5); β = 1 + 8 ι₂ (R = 0), + sqrt(8 ι₃) (R = 1)
    assert theory_radius(0.1, 4, 0.0, 1.0, 1.0, 0.5) == pytest.approx(28.209579053297244, rel=1e-12)
    assert theory_radius(0.1, 4, 1.0, 1.0, 1.0, 0.5) == pytest.approx(36.832904338323964, rel=1e-12)


def test_selection_rule_by_hand() -> None:
    assert np.array_equal(selected(np.array([0.0, 0.05, 0.049, 0.3]), 0.05), [False, True, False, True])
    assert selected(np.array([0.0]), 0.0).all()  # Γ = 0 keeps every round (OFUL)


def _run(cfg: dict, env_kwargs: dict, steps: int, seed: int = 0) -> tuple[DSOFUL, np.ndarray]:
    env = LinearContextualBandit(**env_kwargs)
    out: list[float] = []
    agent = DSOFUL(env, cfg, seed=seed).learn(steps, callback=lambda a, info: out.append(info["regret"]))
    return agent, np.cumsum(out)


def test_gamma_zero_regresses_on_every_round_and_the_threshold_on_few() -> None:
    env = {**GAP_ENV, "min_gap": 0.2}
    everything, _ = _run({"gamma": 0.0}, env, 1500)
    assert int(everything.n_selected[0]) == 1500
    picky, _ = _run({"gamma": 0.07}, env, 1500)
    assert 0 < int(picky.n_selected[0]) < 1500


def test_selected_set_stays_bounded() -> None:
    # |C_K| ≤ Õ(d/Γ²): it stops growing once every direction it plays is known to width Γ.
    env = {**GAP_ENV, "min_gap": 0.2}
    agent, _ = _run({"gamma": 0.1}, env, 2000)
    half = int(agent.n_selected[0])
    agent.learn(2000)
    assert int(agent.n_selected[0]) - half < 0.05 * 2000


@pytest.mark.parametrize("model", ["shared", "disjoint"])
def test_regret_plateaus_below_the_misspecification_threshold(model: str) -> None:
    # Δ = 0.2, ζ = 0.05 < Δ/2 and ζ = 0: no regret once the selected set is learned.
    for zeta in (0.0, 0.05):
        env = {**GAP_ENV, "model": model, "min_gap": 0.2, "misspecification": zeta}
        _, reg = _run({"gamma": 0.2 / np.sqrt(8)}, env, 3000)
        first, last = reg[999], reg[-1] - reg[1999]
        assert last < 0.05 * max(first, 1.0), (zeta, first, last)


def test_regret_grows_linearly_above_the_threshold() -> None:
    below, above = (
        _run({"gamma": 0.07}, {**GAP_ENV, "min_gap": 0.2, "misspecification": z}, 3000)[1]
        for z in (0.05, 0.2)
    )
    rate_above = (above[-1] - above[1499]) / 1500
    assert rate_above > 0.05 and below[-1] - below[1499] < 0.05 * (above[-1] - above[1499])


def test_theory_settings_and_errors() -> None:
    env = LinearContextualBandit(**GAP_ENV)
    agent = DSOFUL(env, {"gamma": "theory", "beta": "theory", "gap": 0.2})
    assert 0.0 < agent.gamma < 1e-3 and agent.beta > 10.0
    with pytest.raises(ValidationError, match="gamma='theory' needs the minimal gap"):
        DSOFUL(env, {"gamma": "theory"})
    for bad in ({"gamma": -0.1}, {"beta": "big"}, {"lam": 0.0}, {"gap": -1.0}, {"bogus": 1}):
        with pytest.raises(ValidationError):
            DSOFUL(env, bad)
    with pytest.raises(UserError, match="beta='theory' needs gamma > 0"):
        DSOFUL(env, {"gamma": 0.0, "beta": "theory"})


@pytest.mark.parametrize(
    ("agent", "settings"), [("ds-oful", {"gamma": 0.07}), ("suplinucb", {"horizon": 300, "alpha": 0.0})]
)
def test_runs_through_run_trial_with_the_env_knobs(tmp_path: Path, agent: str, settings: dict) -> None:
    from rl_suite.runner import run_trial

    env = {"id": "rl_suite/LinearContextualBandit-v0", **GAP_ENV, "min_gap": 0.2, "misspecification": 0.05}
    result = run_trial(
        {"env": env, "agent": {"name": agent, **settings}, "total_steps": 300, "out": str(tmp_path)}
    )
    assert result.summary["status"] == "completed" and result.summary["total_steps"] == 300
    assert 0.0 <= result.summary["cumulative_regret"] < 300 * 0.9
