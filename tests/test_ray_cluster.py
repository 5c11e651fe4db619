"""A sweep on a two-node Ray cluster (a head and a worker node on this machine; ``pytest -m ray``).

The cluster is Ray's own multi-node test cluster (``ray.cluster_utils.Cluster``: two raylets, one GCS),
joined with ``--address`` as a real cluster is. Run folders must land under ``--storage-path`` — which both
nodes see, being one machine — and ``compare`` must read them as it reads a local sweep. Off by default
for the reasons in ``tests/test_ray_backend.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rl_suite.store import find_runs

pytestmark = pytest.mark.ray

SWEEP = """\
name: cluster_test
total_steps: 2000
checkpoint_every: 1000
seeds: 0-3
envs:
  - id: rl_suite/LinearContextualBandit-v0
    dim: 4
    n_arms: 4
agents:
  - name: linucb
  - name: epsilon-greedy
"""


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[Any]:
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.pop("RAY_ADDRESS", None)
    temp = tempfile.mkdtemp(prefix="rsclu")  # short: Ray's socket paths must stay under ~107 characters
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "temp_dir": temp},
    )
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


def test_sweep_on_two_nodes_lands_on_the_storage_path_and_compares_as_local(
    two_nodes: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ray

    from rl_suite.cli import main

    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    store = tmp_path / "shared"
    args = [
        "sweep",
        str(path),
        "--backend",
        "ray",
        "--address",
        two_nodes.address,
        "--storage-path",
        str(store),
    ]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--quiet"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 0, captured.err
    assert "8 completed, 0 skipped, 0 failed" in captured.out
    assert not ray.is_initialized()  # the sweep left the cluster, which keeps running
    runs = find_runs([store / "cluster_test"])
    assert sorted((r.label, r.seed) for r in runs) == sorted(
        (a, s) for a in ("linucb", "epsilon-greedy") for s in range(4)
    )
    assert all(r.status == "completed" for r in runs)
    # compare reads the cluster's store as it reads the same sweep run locally.
    local = tmp_path / "local"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(path), "--out", str(local), "--quiet"])
    assert exit_info.value.code == 0
    rows = {}
    for name, where in (("cluster", store / "cluster_test"), ("local", local)):
        with pytest.raises(SystemExit) as exit_info:
            main(["compare", str(where), "--out", str(tmp_path / name), "--reps", "50"])
        assert exit_info.value.code == 0
        report = json.loads((tmp_path / name / "report.json").read_text())
        rows[name] = [
            {k: v for k, v in row.items() if not k.startswith(("wall_time", "steps_per_s"))}
            for row in report["rows"]
        ]
    assert [r["n_seeds"] for r in rows["cluster"]] == [4, 4]
    assert rows["cluster"] == rows["local"]
