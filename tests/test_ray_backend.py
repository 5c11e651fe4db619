"""The Ray Tune sweep backend gives the same runs as the local one (``pytest -m ray``; needs the extra).

Off by default (Ray adds ~600 MB, a few seconds of start-up and binds non-loopback ports). Ray runs with
usage stats off, no dashboard, and a temp directory of its own, so a stale ``ray start`` elsewhere on the
machine is never joined.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rl_suite.store import find_runs
from rl_suite.sweep import BackendOptions, load_sweep, plan, run_sweep

pytestmark = pytest.mark.ray

SWEEP = """\
name: ray_test
total_steps: 3000
checkpoint_every: 1000
seeds: 0-2
envs:
  - id: rl_suite/MultiArmedBandit-v0
    n_arms: 5
  - id: rl_suite/LinearContextualBandit-v0
    dim: 4
    n_arms: 4
agents:
  - name: epsilon-greedy
"""


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # Imported here, not at collection, so that the default run (-m 'not ray') deselects without a skip.
    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.pop("RAY_ADDRESS", None)
    # A short temp dir: Ray's unix socket paths must stay under ~107 characters.
    temp = tempfile.mkdtemp(prefix="rsray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
    yield
    ray.shutdown()


def regrets(out: Path) -> dict[tuple[str, str, int], np.ndarray]:
    """Per-step regret of every run under ``out``, keyed by (env + settings, agent, seed)."""
    runs = {}
    for r in find_runs([out]):
        env = r.config()["env"]
        key = (str(sorted(env.items())), r.label, r.seed)
        assert key not in runs
        runs[key] = r.metrics()["regret"]
    return runs


def test_same_sweep_same_regret_with_local_and_ray(local_ray: None, tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    local = run_sweep(load_sweep(path, [f"out={tmp_path / 'local'}"]), backend="local", workers=1)
    on_ray = run_sweep(load_sweep(path, [f"out={tmp_path / 'ray'}"]), backend="ray", workers=2)
    assert local.ok and on_ray.ok
    assert [o.status for o in on_ray.outcomes] == ["completed"] * 6
    a, b = regrets(tmp_path / "local"), regrets(tmp_path / "ray")
    assert a.keys() == b.keys() and len(a) == 6
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    # Tune's own state stays beside the run folders, and is not mistaken for runs.
    assert (tmp_path / "ray" / "_tune").is_dir()


def test_ray_rerun_skips_completed_runs_and_fills_in_missing_ones(local_ray: None, tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    out = tmp_path / "runs"
    first = run_sweep(load_sweep(path, [f"out={out}", "seeds=0-0"]), backend="ray")
    assert [o.status for o in first.outcomes] == ["completed"] * 2
    before = {str(r.path): r.summary["updated_at"] for r in find_runs([out])}
    spec = load_sweep(path, [f"out={out}"])
    assert [j.action for j in plan(spec.runs())].count("skip") == 2
    second = run_sweep(spec, backend="ray", options=BackendOptions(max_retries=1))
    assert sorted(o.status for o in second.outcomes) == ["completed"] * 4 + ["skipped"] * 2
    after = {str(r.path): r.summary["updated_at"] for r in find_runs([out])}
    assert len(after) == 6 and all(after[p] == t for p, t in before.items())


def test_cli_sweep_on_ray(local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rl_suite.cli import main

    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(path), "--backend", "ray", "--storage-path", str(tmp_path / "store"), "-q"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    assert "6 completed, 0 skipped, 0 failed, 0 interrupted" in out
    assert len(find_runs([tmp_path / "store" / "ray_test"])) == 6
