"""The solver-tuning envs: exact accounting against the counterfactual table, lazy rows and the disk cache,
sequences by seed, the continuous action mode, user systems, checkpoints, and one-line errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import scipy.sparse as sp

import rl_suite  # noqa: F401  (registers the env ids)
from rl_suite.envs.solver_tuning.env import FIRST_CHUNK, SORTuning, SSORCGTuning
from rl_suite.envs.solver_tuning.generators import ShiftedLaplacian
from rl_suite.envs.solver_tuning.solvers import laplacian_2d, sor_solve, young_omega
from rl_suite.envs.solver_tuning.table import counterfactual_table
from rl_suite.errors import UserError

SMALL = {"m": 4, "horizon": 40}


def test_every_step_is_exact_against_the_table(tmp_path: Path) -> None:
    env = SORTuning(**SMALL, instance_seed=3, cache_dir=tmp_path)
    obs, info = env.reset(seed=0)
    table = counterfactual_table(ShiftedLaplacian(m=4), 40, seed=3, cache_dir=False)
    systems = ShiftedLaplacian(m=4).sample(40, seed=3)
    assert obs.shape == (1,) and obs[0] == pytest.approx(table.contexts[0])
    assert info["optimal_value"] == -table.iterations[0].min()
    rng = np.random.default_rng(0)
    played = []
    for t in range(40):
        a = int(rng.integers(env.n_arms))
        obs, reward, terminated, truncated, info = env.step(a)
        row = table.iterations[t]
        assert reward == -row[a] and info["iterations"] == row[a]
        assert info["regret"] == row[a] - row.min() >= 0
        assert info["omega"] == pytest.approx(env.omegas[a])
        # Young's ω from the general spectral-radius routine on the very system solved this round.
        assert info["young_omega"] == pytest.approx(young_omega(systems[t].A), rel=1e-9)
        assert not terminated and truncated == (t == 39)
        played.append(row[a])
    summary = env.run_summary()
    k = int(table.totals().argmin())
    assert summary["total_iterations"] == sum(played)
    assert summary["best_fixed_iterations"] == table.totals()[k]
    assert summary["best_fixed_omega"] == pytest.approx(env.omegas[k])
    assert summary["instance_optimal_iterations"] == table.instance_optimal_total()
    assert summary["ratio_to_best_fixed"] == pytest.approx(sum(played) / table.totals()[k])


def test_rows_are_computed_lazily_and_the_full_table_is_cached(tmp_path: Path) -> None:
    env = SORTuning(m=4, horizon=3 * FIRST_CHUNK, instance_seed=0, cache_dir=tmp_path)
    env.reset(seed=0)
    env.step(0)
    assert env._table is not None and env._table.iterations.shape[0] == FIRST_CHUNK
    assert not list(tmp_path.glob("*.npz"))  # partial tables are not cached
    for _ in range(3 * FIRST_CHUNK - 1):
        env.step(0)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    again = SORTuning(m=4, horizon=3 * FIRST_CHUNK, instance_seed=0, cache_dir=tmp_path)
    assert again.solve()["table_from_cache"]


def test_the_reset_seed_picks_the_sequence_unless_fixed(tmp_path: Path) -> None:
    def contexts(seed: int, **kw: object) -> list[float]:
        env = SORTuning(**SMALL, cache_dir=tmp_path, **kw)  # type: ignore[arg-type]
        env.reset(seed=seed)
        return [env.step(0)[4]["context"] for _ in range(5)]

    assert contexts(1) == contexts(1) != contexts(2)
    assert contexts(1, instance_seed=7) == contexts(2, instance_seed=7)


def test_continuous_omega_solves_live_and_matches_the_grid(tmp_path: Path) -> None:
    env = SORTuning(**SMALL, action_mode="continuous", instance_seed=0, cache_dir=tmp_path)
    grid = SORTuning(**SMALL, instance_seed=0, cache_dir=tmp_path)
    env.reset(seed=0)
    grid.reset(seed=0)
    for a in (0, 7, 19):
        got = env.step(np.array([env.omegas[a]]))[4]
        want = grid.step(a)[4]
        assert got["iterations"] == want["iterations"] and got["regret"] == want["regret"]
    with pytest.raises(UserError, match=r"omega 1.99 is outside \[1, 1.95\]"):
        env.step(np.array([1.99]))


def test_context_free_mode_and_ssor(tmp_path: Path) -> None:
    env = SSORCGTuning(**SMALL, contextual=False, cache_dir=tmp_path)
    obs, _ = env.reset(seed=0)
    assert obs == 0 and isinstance(env.observation_space, gym.spaces.Discrete)
    info = env.step(5)[4]
    assert "young_omega" not in info and info["iterations"] >= 1
    assert env.solve()["method"] == "ssor_pcg"


def test_heat_equation_sequence() -> None:
    env = SSORCGTuning(family="heat", nx=8, horizon=30, cache_dir=False)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs) and 0 <= obs[0] <= 10  # the diffusion coefficient
    infos = [env.step(a)[4] for a in (0, 10, 19)]
    assert all(i["iterations"] >= 1 and i["regret"] >= 0 for i in infos)
    assert [i["context"] for i in infos] == sorted(i["context"] for i in infos)  # kappa rises at first
    with pytest.raises(UserError, match="horizon=6000 exceeds the 5000 systems"):
        SORTuning(family="heat", nx=8, horizon=6000)


def test_user_systems(tmp_path: Path) -> None:
    A = laplacian_2d(3) + 0.1 * sp.eye(9)
    systems = [(A, np.ones(9), 0.1), (A.toarray(), np.arange(9.0), 0.2)]
    env = SORTuning(family="custom", systems=systems, horizon=2, cache_dir=tmp_path)
    env.reset(seed=0)
    info = env.step(0)[4]
    assert info["iterations"] == sor_solve(A, np.ones(9), 1.0).iterations
    assert info["context"] == pytest.approx(0.1)
    with pytest.raises(UserError, match="system 1"):
        SORTuning(family="custom", systems=[(A, np.ones(9)), (np.ones((2, 3)), np.ones(2))], horizon=2)
    with pytest.raises(UserError, match=r"needs exactly one of generator= .* or systems="):
        SORTuning(family="custom")


def test_checkpoint_pickle_keeps_progress_not_the_table(tmp_path: Path) -> None:
    env = SORTuning(**SMALL, instance_seed=0, cache_dir=tmp_path)
    env.reset(seed=0)
    for _ in range(5):
        env.step(3)
    clone = pickle.loads(pickle.dumps(env))
    assert clone._table is None and clone._t == 5
    assert clone.run_summary() == env.run_summary()
    assert clone.step(2)[4] == env.step(2)[4]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"omegas": [1.0, 1.5, 1.5]}, "1.5"),
        ({"omegas": [1.0, 2.5]}, "2.5"),
        ({"omega_min": 1.5, "omega_max": 1.2}, "omega_min=1.5 must be below omega_max=1.2"),
        ({"family": "poisson"}, "family must be one of"),
        ({"action_mode": "discrete"}, "action_mode must be one of"),
        ({"horizon": 0}, "horizon must be >= 1"),
    ],
)
def test_bad_input_is_one_clear_error(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        SORTuning(**kwargs)


def test_step_errors(tmp_path: Path) -> None:
    env = SORTuning(**SMALL, cache_dir=tmp_path)
    with pytest.raises(UserError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(UserError, match=r"outside Discrete\(20\)"):
        env.step(20)
