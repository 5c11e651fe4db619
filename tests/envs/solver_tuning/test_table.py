from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from scipy.stats import chi2

from rl_suite.envs.solver_tuning import table as table_mod
from rl_suite.envs.solver_tuning.generators import (
    CallableGenerator,
    HeatEquation,
    SequenceGenerator,
    ShiftedLaplacian,
    heat_diffusion,
)
from rl_suite.envs.solver_tuning.solvers import laplacian_2d, sor_iterations_grid, young_omega
from rl_suite.envs.solver_tuning.table import cache_key, counterfactual_table, default_cache_dir
from rl_suite.errors import UserError

GRID = np.array([1.0, 1.3, 1.6, 1.9])


def same_instances(xs, ys) -> bool:
    return all(
        (x.A != y.A).nnz == 0 and np.array_equal(x.b, y.b) and x.context == y.context
        for x, y in zip(xs, ys, strict=True)
    )


# ------------------------------------------------------------------------------------------ generators


def test_shifted_laplacian_is_deterministic_and_prefix_stable():
    gen = ShiftedLaplacian(m=4, shift="high")
    first = gen.sample(6, seed=3)
    assert same_instances(first, ShiftedLaplacian(m=4, shift="high").sample(6, seed=3))
    assert same_instances(first[:4], gen.sample(4, seed=3))
    other = gen.sample(6, seed=4)
    assert not np.array_equal(first[0].b, other[0].b)


def test_shifted_laplacian_instances():
    gen = ShiftedLaplacian(m=4, shift="low")
    for inst in gen.sample(20, seed=0):
        lo, hi = gen.context_bounds
        assert lo <= inst.context <= hi
        np.testing.assert_allclose(
            inst.A.toarray(), (laplacian_2d(4) + inst.context * sp.identity(16)).toarray()
        )
        assert inst.b @ inst.b <= 16
        assert inst.x0 is None
        assert inst.young_omega == pytest.approx(young_omega(inst.A), rel=1e-12)
    assert ShiftedLaplacian().context_bounds == pytest.approx((-0.15, 0.45))


@pytest.mark.parametrize(("shift", "sd"), [("high", 0.15), ("low", 0.6 * math.sqrt(12 / (64 * 9)))])
def test_shift_distribution_mean_and_spread(shift, sd):
    gen = ShiftedLaplacian(m=1, shift=shift)
    assert gen.mean_shift == pytest.approx(0.0, abs=1e-15)  # −0.15 + 0.6·a/(a+b), a/(a+b) = 1/4
    c = np.array([inst.context for inst in gen.iter_instances(4000, seed=1)])
    assert c.min() >= -0.15 and c.max() <= 0.45
    assert abs(c.mean()) < 4 * sd / math.sqrt(c.size)
    assert c.std() == pytest.approx(sd, rel=0.1)


def test_custom_beta_parameters_and_bounds():
    gen = ShiftedLaplacian(m=3, shift=(2.0, 2.0), low=0.0, width=1.0)
    assert gen.mean_shift == pytest.approx(0.5)
    assert gen.params() == {"m": 3, "beta": [2.0, 2.0], "low": 0.0, "width": 1.0}
    with pytest.raises(UserError, match="medium"):
        ShiftedLaplacian(shift="medium")
    with pytest.raises(UserError, match=r"-0\.15"):
        ShiftedLaplacian(m=20)  # the 20x20 Laplacian's smallest eigenvalue is 0.044 < 0.15


def test_truncated_normal_b_is_the_normal_law_conditioned_on_the_ball():
    n = 25
    sq = np.array([inst.b @ inst.b for inst in ShiftedLaplacian(m=5).iter_instances(400, seed=0)])
    assert sq.max() <= n
    # Rejection (not rescaling): E[‖b‖² | ‖b‖² <= n] = n·F_{n+2}(n)/F_n(n) for ‖b‖² ~ χ²_n.
    mean = n * chi2.cdf(n, n + 2) / chi2.cdf(n, n)
    assert abs(sq.mean() - mean) < 4 * sq.std() / math.sqrt(sq.size)
    assert not np.isclose(sq, n).any()


def test_heat_equation_sequence():
    gen = HeatEquation(nx=6, steps=4, dt=1e-3)
    insts = gen.sample(4)
    assert gen.n == 25 and len(insts) == 4
    assert same_instances(insts, HeatEquation(nx=6, steps=4, dt=1e-3).sample(4, seed=9))
    np.testing.assert_allclose(insts[0].x0, gen.initial_state())
    for t, inst in enumerate(insts):
        assert inst.context == pytest.approx(heat_diffusion((t + 0.5) * 1e-3))
        assert abs(inst.A - inst.A.T).max() == 0
        if t + 1 < len(insts):  # the next warm start is this step's exact solution
            np.testing.assert_allclose(insts[t + 1].x0, spsolve(inst.A.tocsc(), inst.b), rtol=1e-10)
    h = 1 / 6
    expected = sp.identity(25) + 0.5 * insts[0].context * 1e-3 * laplacian_2d(5) / h**2
    np.testing.assert_allclose(insts[0].A.toarray(), expected.toarray())
    with pytest.raises(UserError, match="T must be <= steps = 4"):
        gen.sample(5)


def test_heat_diffusion_switches_between_weak_and_strong():
    assert heat_diffusion(0.25) == pytest.approx(0.1)
    assert heat_diffusion(0.75) == pytest.approx(10.0)
    assert HeatEquation(nx=3, steps=1000).context_bounds[1] == pytest.approx(10.0, rel=1e-4)


def test_sequence_generator_validates_every_system():
    good = (np.eye(3) * 2, np.ones(3), 0.5)
    gen = SequenceGenerator([good, (sp.identity(3) * 3, np.arange(3.0))])
    insts = gen.sample(2)
    assert insts[0].context == 0.5 and insts[1].context == 0.0
    assert gen.params() is None
    with pytest.raises(UserError, match=r"system 1 .*\(3, 4\)"):
        SequenceGenerator([good, (np.ones((3, 4)), np.ones(3))])
    with pytest.raises(UserError, match=r"system 1 .*b shape \(4,\)"):
        SequenceGenerator([good, (np.eye(3), np.ones(4))])
    with pytest.raises(UserError, match=r"system 1 has A of shape \(4, 4\)"):
        SequenceGenerator([good, (np.eye(4), np.ones(4))])
    with pytest.raises(UserError, match="T must be <= the 2 systems"):
        gen.sample(3)


def test_callable_generator_validates_every_call():
    def fn(t, rng):
        n = 5 if t != 2 else 4
        return np.eye(5) * 2, rng.standard_normal(n), float(t)

    gen = CallableGenerator(fn, n=5)
    first = gen.sample(2, seed=1)
    assert same_instances(first, gen.sample(2, seed=1))
    assert [inst.context for inst in first] == [0.0, 1.0]
    with pytest.raises(UserError, match=r"t=2.*\(4,\)"):
        gen.sample(3, seed=1)
    wrong_size = CallableGenerator(lambda t, rng: (np.eye(3), np.ones(3)), n=5)
    with pytest.raises(UserError, match=r"t=0.*\(3, 3\)"):
        wrong_size.sample(1)


# ------------------------------------------------------------------------------------------ table


def test_table_rows_match_the_grid_solver(tmp_path):
    gen = ShiftedLaplacian(m=4)
    tab = counterfactual_table(gen, 5, seed=2, omegas=GRID, cache_dir=tmp_path)
    insts = gen.sample(5, seed=2)
    assert tab.iterations.shape == (5, 4) and tab.capped.shape == (5, 4) and not tab.from_cache
    for inst, row in zip(insts, tab.iterations, strict=True):
        np.testing.assert_array_equal(row, sor_iterations_grid(inst.A, inst.b, GRID)[0])
    np.testing.assert_allclose(tab.contexts, [inst.context for inst in insts])
    np.testing.assert_allclose(tab.young_omega, [young_omega(inst.A) for inst in insts], rtol=1e-12)
    np.testing.assert_array_equal(tab.omegas, GRID)
    k, total = tab.best_fixed()
    assert total == tab.iterations.sum(axis=0).min() == tab.totals()[k]
    assert tab.instance_optimal_total() <= total


def test_second_call_reads_the_cache(tmp_path, monkeypatch):
    gen = ShiftedLaplacian(m=4)
    first = counterfactual_table(gen, 6, seed=0, omegas=GRID, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def boom(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(table_mod, "_compute_rows", boom)
    again = counterfactual_table(ShiftedLaplacian(m=4), 6, seed=0, omegas=GRID, cache_dir=tmp_path)
    assert again.from_cache
    np.testing.assert_array_equal(again.iterations, first.iterations)
    np.testing.assert_array_equal(again.capped, first.capped)
    np.testing.assert_array_equal(again.contexts, first.contexts)
    np.testing.assert_array_equal(again.young_omega, first.young_omega)
    prefix = counterfactual_table(gen, 4, seed=0, omegas=GRID, cache_dir=tmp_path)  # T=4 from the T=6 file
    assert prefix.from_cache
    np.testing.assert_array_equal(prefix.iterations, first.iterations[:4])
    with pytest.raises(AssertionError, match="recomputed"):
        counterfactual_table(gen, 6, seed=1, omegas=GRID, cache_dir=tmp_path)


def test_longer_request_recomputes_and_prefix_is_consistent(tmp_path):
    gen = ShiftedLaplacian(m=3)
    short = counterfactual_table(gen, 3, seed=0, omegas=GRID, cache_dir=tmp_path)
    long = counterfactual_table(gen, 5, seed=0, omegas=GRID, cache_dir=tmp_path)
    assert not long.from_cache
    np.testing.assert_array_equal(long.iterations[:3], short.iterations)


def test_corrupt_cache_file_is_recomputed(tmp_path):
    gen = ShiftedLaplacian(m=3)
    first = counterfactual_table(gen, 4, seed=0, omegas=GRID, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(b"not a zip file")
    again = counterfactual_table(gen, 4, seed=0, omegas=GRID, cache_dir=tmp_path)
    assert not again.from_cache
    np.testing.assert_array_equal(again.iterations, first.iterations)
    assert counterfactual_table(gen, 4, seed=0, omegas=GRID, cache_dir=tmp_path).from_cache
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_cache_key_depends_on_everything():
    gen = ShiftedLaplacian(m=3)
    base = cache_key(gen, 0, GRID, "sor", 1e-8, 100)
    assert base == cache_key(ShiftedLaplacian(m=3), 0, GRID, "sor", 1e-8, 100)
    variants = {
        cache_key(ShiftedLaplacian(m=4), 0, GRID, "sor", 1e-8, 100),
        cache_key(ShiftedLaplacian(m=3, shift="low"), 0, GRID, "sor", 1e-8, 100),
        cache_key(gen, 1, GRID, "sor", 1e-8, 100),
        cache_key(gen, 0, GRID[:3], "sor", 1e-8, 100),
        cache_key(gen, 0, GRID, "ssor_pcg", 1e-8, 100),
        cache_key(gen, 0, GRID, "sor", 1e-6, 100),
        cache_key(gen, 0, GRID, "sor", 1e-8, 101),
    }
    assert base not in variants and len(variants) == 7
    assert cache_key(SequenceGenerator([(np.eye(2), np.ones(2))]), 0, GRID, "sor", 1e-8, 100) is None


def test_different_params_do_not_share_a_cache(tmp_path):
    counterfactual_table(ShiftedLaplacian(m=3), 3, seed=0, omegas=GRID, cache_dir=tmp_path)
    other = counterfactual_table(
        ShiftedLaplacian(m=3, shift="low"), 3, seed=0, omegas=GRID, cache_dir=tmp_path
    )
    assert not other.from_cache
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_workers_give_the_same_table():
    gen = ShiftedLaplacian(m=4)
    one = counterfactual_table(gen, 7, seed=5, omegas=GRID, cache_dir=False)
    two = counterfactual_table(gen, 7, seed=5, omegas=GRID, cache_dir=False, workers=2)
    np.testing.assert_array_equal(one.iterations, two.iterations)
    np.testing.assert_array_equal(one.capped, two.capped)
    np.testing.assert_array_equal(one.young_omega, two.young_omega)


def test_pcg_table_on_the_heat_equation(tmp_path):
    gen = HeatEquation(nx=6, steps=3)
    tab = counterfactual_table(gen, 3, omegas=GRID, method="ssor_pcg", cache_dir=tmp_path)
    assert tab.method == "ssor_pcg" and np.isnan(tab.young_omega).all()
    assert (tab.iterations > 0).all() and not tab.capped.any()
    np.testing.assert_allclose(tab.contexts, heat_diffusion((np.arange(3) + 0.5) * 1e-3))
    assert counterfactual_table(gen, 2, omegas=GRID, method="ssor_pcg", cache_dir=tmp_path).from_cache


def test_uncacheable_generators_and_disabled_cache_write_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RL_SUITE_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    gen = CallableGenerator(lambda t, rng: (np.eye(3) * 2 + 0.1 * t, rng.standard_normal(3)), n=3)
    tab = counterfactual_table(gen, 2, omegas=GRID)
    assert not tab.from_cache and tab.iterations.shape == (2, 4)
    counterfactual_table(ShiftedLaplacian(m=2), 2, omegas=GRID, cache_dir=False)
    assert not (tmp_path / "env").exists()
    cached = CallableGenerator(gen.fn, n=3, params={"kind": "diag"})
    counterfactual_table(cached, 2, omegas=GRID)
    assert len(list((tmp_path / "env").glob("*.npz"))) == 1


def test_table_refuses_bad_arguments(tmp_path):
    gen = ShiftedLaplacian(m=2)
    with pytest.raises(UserError, match=r"1\.3"):
        counterfactual_table(gen, 2, omegas=[1.3, 1.3], cache_dir=tmp_path)
    with pytest.raises(UserError, match="'gmres'"):
        counterfactual_table(gen, 2, method="gmres", cache_dir=tmp_path)
    with pytest.raises(UserError, match="T must be >= 1"):
        counterfactual_table(gen, 0, cache_dir=tmp_path)
    with pytest.raises(UserError, match="workers"):
        counterfactual_table(gen, 2, workers=0, cache_dir=tmp_path)
    with pytest.raises(UserError, match="generator"):
        counterfactual_table("laplacian", 2, cache_dir=tmp_path)
