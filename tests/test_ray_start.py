"""How the Ray backend finds its Ray, checked with a stand-in for the ``ray`` module (no Ray needed).

The real thing runs in the opt-in Ray tests (``pytest -m ray``); these pin the decisions that need no
cluster: a sized local Ray when nothing runs, and joining the Ray that ``ray start --head`` left running on
this machine (which ``ray.init`` refuses to size) instead of failing with Ray's ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import pytest

from rl_suite.sweep import BackendOptions, _ray_start


class FakeRay:
    """``ray.init`` as Ray 2.x behaves with or without a Ray already running on this machine."""

    def __init__(self, running: bool) -> None:
        self.running = running
        self.calls: list[dict[str, Any]] = []

    def init(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.running and kwargs.get("num_cpus") is not None:
            raise ValueError(
                "When connecting to an existing cluster, num_cpus and num_gpus must not be provided."
            )


@pytest.fixture(autouse=True)
def _no_ray_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def test_without_a_running_ray_the_sweep_starts_one_sized_for_its_workers() -> None:
    ray = FakeRay(running=False)
    _ray_start(ray, 3, BackendOptions(cpus_per_trial=0.5))
    assert len(ray.calls) == 1
    assert ray.calls[0]["num_cpus"] == 2 and ray.calls[0]["include_dashboard"] is False


def test_a_ray_left_running_by_ray_start_is_joined_not_a_traceback() -> None:
    ray = FakeRay(running=True)
    _ray_start(ray, 2, BackendOptions())
    assert [c.get("num_cpus") for c in ray.calls] == [2, None]
    assert "address" not in ray.calls[1] and ray.calls[1]["log_to_driver"] is False


def test_other_init_errors_are_not_taken_for_a_running_ray() -> None:
    class Broken(FakeRay):
        def init(self, **kwargs: Any) -> None:
            raise ValueError("object_store_memory is too large")

    with pytest.raises(ValueError, match="object_store_memory"):
        _ray_start(Broken(running=False), 2, BackendOptions())
