"""How the Ray backend finds its Ray, checked with a stand-in for the ``ray`` module (no Ray needed).

The real thing runs in the opt-in Ray tests (``pytest -m ray``); these pin the decisions that need no
cluster: a sized local Ray when nothing runs, and joining the Ray that ``ray start --head`` left running on
this machine (which ``ray.init`` refuses to size) instead of failing with Ray's ``ValueError``; Ray's own
warnings kept out of the sweep's output and its usage stats off (unless asked for); the head's look-up of
its own raylet, which asks the GCS every 20 ms before leaving the rest to Ray; and the muting of Ray's
native log lines around the token check.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from types import SimpleNamespace
from typing import Any

import pytest

from rl_suite.errors import UserError
from rl_suite.quiet_ray import native_log_muted
from rl_suite.sweep import BackendOptions, _prompt_node_lookup, _ray_start, check_token


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


class WarningRay(FakeRay):
    """A ``ray.init`` that warns as Ray 2.52's does on every call, and passes on another library's warning."""

    def init(self, **kwargs: Any) -> None:
        super().init(**kwargs)
        warnings.warn_explicit(
            "Tip: set RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO=0",
            FutureWarning,
            "worker.py",
            1,
            module="ray._private.worker",
        )
        warnings.warn_explicit("not Ray's", UserWarning, "other.py", 1, module="rayleigh.other")


@pytest.mark.parametrize("verbose", ["", "1"])
def test_rays_own_warnings_are_kept_out_unless_asked_for(
    verbose: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RL_SUITE_RAY_VERBOSE", verbose)
    monkeypatch.setattr("rl_suite.sweep.check_address", lambda address: None)
    monkeypatch.setattr("rl_suite.sweep.check_token", lambda address: None)
    for address in (None, "127.0.0.1:6379"):  # starting a Ray, and joining one
        ray = WarningRay(running=False)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            _ray_start(ray, 2, BackendOptions(address=address))
        expected = (
            ["Tip: set RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO=0", "not Ray's"] if verbose else ["not Ray's"]
        )
        assert [str(w.message) for w in seen] == expected
        assert ray.calls[0]["logging_level"] == (logging.INFO if verbose else logging.WARNING)


@pytest.mark.parametrize(("given", "expected"), [(None, "0"), ("1", "1")])
def test_rays_usage_stats_are_off_unless_the_user_turned_them_on(
    given: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if given is None:
        monkeypatch.delenv("RAY_USAGE_STATS_ENABLED", raising=False)
    else:
        monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", given)
    seen: list[str | None] = []

    class Recording(FakeRay):
        def init(self, **kwargs: Any) -> None:
            seen.append(os.environ.get("RAY_USAGE_STATS_ENABLED"))

    _ray_start(Recording(running=False), 2, BackendOptions())
    assert seen == [expected]


def test_a_ray_client_address_without_ray_client_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "grpc", None)  # as where ray[client] is not installed
    with pytest.raises(
        UserError, match=r'is a Ray Client address, which needs Ray Client: pip install "ray\[client\]"'
    ):
        check_token("ray://127.0.0.1:10001")


class FakeServices:
    """Ray's private ``services`` as the look-up uses it: a GCS that lists the node from ask ``listed`` on."""

    ALIVE = 1

    def __init__(self, listed: int | None) -> None:
        self.listed = listed
        self.asks: list[dict[str, Any]] = []
        self.found_after: list[int] = []  # asks made when Ray's own get_node was called
        self.GcsNodeInfo = SimpleNamespace(GcsNodeState=SimpleNamespace(ALIVE=self.ALIVE))
        self.GetAllNodeInfoRequest = SimpleNamespace(NodeSelector=lambda node_id: ("selector", node_id))
        self.NodeID = SimpleNamespace(from_hex=lambda h: SimpleNamespace(binary=lambda: bytes.fromhex(h)))

    def GcsClient(self, address: str) -> Any:  # Ray's name
        assert address == "127.0.0.1:6379"
        return SimpleNamespace(get_all_node_info=self.get_all_node_info)

    def get_all_node_info(self, **request: Any) -> dict[bytes, str]:
        self.asks.append(request)
        return {b"n": "info"} if self.listed is not None and len(self.asks) >= self.listed else {}

    def get_node(self, gcs_address: str, node_id: str) -> str:
        self.found_after.append(len(self.asks))
        return f"node {node_id}"


def test_the_head_looks_up_its_raylet_as_soon_as_the_gcs_lists_it() -> None:
    services = FakeServices(listed=3)
    assert _prompt_node_lookup(services)("127.0.0.1:6379", "ab12") == "node ab12"
    assert services.found_after == [3]  # Ray's look-up once the third ask found the node, not before
    assert services.asks[0] == {
        "timeout": 5.0,
        "node_selectors": [("selector", b"\xab\x12")],
        "state_filter": FakeServices.ALIVE,
    }


def test_a_raylet_that_never_registers_is_left_to_rays_own_wait_and_error() -> None:
    services = FakeServices(listed=None)
    assert _prompt_node_lookup(services, wait=0.1)("127.0.0.1:6379", "ab12") == "node ab12"
    assert 2 <= services.found_after[0] <= 10  # polled every 20 ms for 0.1 s, then Ray's get_node


def test_a_ray_whose_private_gcs_client_differs_gets_its_own_look_up() -> None:
    class OtherRay(FakeServices):
        def GcsClient(self, address: str) -> Any:
            raise TypeError("GcsClient() got an unexpected keyword argument 'address'")

    services = OtherRay(listed=1)
    assert _prompt_node_lookup(services)("127.0.0.1:6379", "ab12") == "node ab12"
    assert services.found_after == [0]


@pytest.mark.parametrize("verbose", ["", "1"])
def test_native_log_lines_are_muted_inside_the_block_only(
    verbose: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RL_SUITE_RAY_VERBOSE", verbose)
    os.write(2, b"before\n")
    with native_log_muted():
        os.write(2, b"native\n")  # as Ray's C++ logger writes: to the descriptor, not sys.stderr
    os.write(2, b"after\n")
    assert capfd.readouterr().err == ("before\nnative\nafter\n" if verbose else "before\nafter\n")


def test_a_process_without_descriptor_2_runs_the_block_unmuted() -> None:
    lines = ["import os", "os.close(2)", "from rl_suite.quiet_ray import native_log_muted"]
    code = "\n".join([*lines, "with native_log_muted():", "    print('ran')", ""])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "ran\n")
