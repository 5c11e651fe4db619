"""A Ray the sweep starts for itself (``pytest -m ray``; needs the extra): lean, and gone afterwards.

Separate from ``test_ray_backend.py``, whose module-wide Ray would be joined instead. ``RAY_TMPDIR`` gives
this Ray a temp folder of its own, so no other Ray on the machine is found and joined.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rl_suite.sweep import load_sweep, run_sweep
from tests.helpers import two_seed_sweep

pytestmark = pytest.mark.ray

SWEEP = two_seed_sweep("started", 2000, "linucb", "epsilon-greedy")


@pytest.fixture
def own_tmpdir(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A short folder: Ray's unix socket paths must stay under ~107 characters.
    with tempfile.TemporaryDirectory(prefix="rsray") as temp:
        monkeypatch.setenv("RAY_TMPDIR", temp)
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        yield


def test_a_ray_started_by_the_sweep_runs_without_dashboard_or_monitors_and_stops(
    own_tmpdir: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")
    from ray._private import ray_constants, services
    from ray._private.node import Node

    assert not ray.is_initialized()
    node_init, api_server = Node.__init__, Node.start_api_server
    get_node = getattr(services, "get_node", None)  # Ray 2.10 has none: nothing to patch
    seen: dict[str, Any] = {}
    shutdown = ray.shutdown

    def spy_shutdown(*args: Any, **kwargs: Any) -> None:
        node = ray._private.worker._global_node
        seen["processes"] = {kind: [p.process for p in infos] for kind, infos in node.all_processes.items()}
        seen["resources"] = ray.cluster_resources()
        shutdown(*args, **kwargs)

    monkeypatch.setattr(ray, "shutdown", spy_shutdown)
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    result = run_sweep(load_sweep(path, [f"out={tmp_path / 'runs'}"]), backend="ray", workers=2)

    assert result.ok and [o.status for o in result.outcomes] == ["completed"] * 4
    kinds = set(seen["processes"])
    assert {ray_constants.PROCESS_TYPE_GCS_SERVER, ray_constants.PROCESS_TYPE_RAYLET} <= kinds
    for lean in (
        ray_constants.PROCESS_TYPE_DASHBOARD,
        ray_constants.PROCESS_TYPE_MONITOR,
        ray_constants.PROCESS_TYPE_LOG_MONITOR,
    ):
        assert lean not in kinds
    assert seen["resources"]["CPU"] == 2  # sized by --workers x --cpus-per-trial
    # Gone afterwards: the sweep's Ray is stopped, and Ray's own start-up is as it was.
    assert not ray.is_initialized()
    for processes in seen["processes"].values():
        assert all(p.poll() is not None for p in processes)
    assert Node.__init__ is node_init and Node.start_api_server is api_server
    assert getattr(services, "get_node", None) is get_node
