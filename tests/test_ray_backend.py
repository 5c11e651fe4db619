"""The Ray sweep backend gives the same runs as the local one (``pytest -m ray``; needs the extra).

Off by default: Ray adds ~600 MB and seconds of start-up, and its servers listen on every interface (Ray
2.60 binds its GCS and raylet ports to ``*`` even with ``--node-ip-address=127.0.0.1``), which a CI
machine should not open. Ray runs with usage stats off, no dashboard, and a temp directory of its own, so
a stale ``ray start`` elsewhere on the machine is never joined.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rl_suite import sweep as sweep_mod
from rl_suite.errors import UserError
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
    shutil.rmtree(temp, ignore_errors=True)


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

    # The run store holds the run folders (and the sweep's claims), nothing of Ray's.
    def others(out: Path) -> set[str]:
        return {p.name for p in out.iterdir() if not (p / "summary.json").is_file()}

    assert others(tmp_path / "ray") == others(tmp_path / "local") == {".claims"}


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


def test_cli_sweep_on_ray_with_the_progress_bar_and_without_ray_chatter(
    local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's form, progress bar on: the bar reaches the end and nothing of Ray's is printed."""
    from rl_suite.cli import main

    monkeypatch.delenv("RL_SUITE_QUIET", raising=False)
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    out = tmp_path / "runs"
    args = ["sweep", str(path), "--backend", "ray", "--workers", "2", "--out", str(out), "--max-retries", "1"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--cpus-per-trial", "1"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 0, captured.err
    assert "6 completed, 0 skipped, 0 failed, 0 interrupted" in captured.out
    assert "6/6 runs" in captured.err  # the bar reached the end
    for chatter in ("Traceback", "TensorBoard", "Result(s)", "result.json", "Token authentication", "INFO"):
        assert chatter not in captured.out + captured.err
    assert len(find_runs([out])) == 6
    with pytest.raises(SystemExit) as exit_info:  # again: everything is skipped, Ray is not even started
        main(args)
    assert "0 completed, 6 skipped" in capsys.readouterr().out


def test_ray_cells_run_seeds_as_one_batch(
    local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ray task is a cell: two cells (one per env) of three seeds, whose folders equal the local ones."""
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    spec = load_sweep(path, [f"out={tmp_path / 'ray'}"])
    cells = sweep_mod.make_cells(plan(spec.runs()), None)
    assert [len(c) for c in cells] == [3, 3]
    on_ray = run_sweep(spec, backend="ray")
    local = run_sweep(load_sweep(path, [f"out={tmp_path / 'local'}"]), backend="local", workers=1)
    assert on_ray.ok and local.ok
    a, b = regrets(tmp_path / "local"), regrets(tmp_path / "ray")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_unreachable_address_is_one_line_and_quick(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no Ray cluster at --address 127.0.0.1:1 \(Connection refused\)"):
        sweep_mod.check_backend("ray", None, BackendOptions(address="127.0.0.1:1"))
    with pytest.raises(UserError, match="is not auto, host:port or ray://host:port"):
        sweep_mod.check_backend("ray", None, BackendOptions(address="somewhere"))


class _Ref:
    def __init__(self, value: list[str]) -> None:
        self.value = value


class _FakeCluster:
    """Two alive nodes; the second one sees none of the driver's files (a local folder on a cluster)."""

    def nodes(self) -> list[dict[str, object]]:
        return [
            {"Alive": True, "NodeID": "a" * 56, "NodeManagerAddress": "10.0.0.1"},
            {"Alive": True, "NodeID": "b" * 56, "NodeManagerAddress": "10.0.0.2"},
        ]

    def remote(self, **resources: object) -> object:
        cluster = self

        class _Remote:
            def __init__(self, fn: object) -> None:
                self.node = ""

            def options(self, scheduling_strategy: object) -> _Remote:
                self.node = str(scheduling_strategy.node_id)  # type: ignore[attr-defined]
                return self

            def remote(self, paths: list[str]) -> _Ref:
                return _Ref(sweep_mod._sees(paths) if self.node.startswith("a") else list(paths))

        del cluster
        return _Remote

    def get(self, ref: _Ref, timeout: float) -> list[str]:
        return ref.value


def test_a_storage_path_another_node_cannot_see_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"the Ray node at 10.0.0.2 cannot see .*store: on a cluster"):
        sweep_mod._check_shared(_FakeCluster(), [str(tmp_path / "store")])
    assert not list((tmp_path / "store").iterdir())  # the probe files are removed
    with pytest.raises(UserError, match=r"--storage-path s3://bucket/runs is a URI; run folders are files"):
        sweep_mod.check_backend("ray", None, BackendOptions(storage_path="s3://bucket/runs"))


def test_gpus_per_trial_on_a_cluster_without_gpus_is_one_line(local_ray: None, tmp_path: Path) -> None:
    """A task that reserves a GPU the cluster lacks would wait forever: it is refused before any starts."""
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    spec = load_sweep(path, [f"out={tmp_path / 'runs'}"])
    with pytest.raises(UserError, match=r"--gpus-per-trial 1 but the Ray cluster has 0 GPU\(s\)"):
        run_sweep(spec, backend="ray", options=BackendOptions(gpus_per_trial=1))
    assert not find_runs([tmp_path / "runs"]) if (tmp_path / "runs").exists() else True
