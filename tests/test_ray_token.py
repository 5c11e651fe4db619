"""Joining a Ray with token authentication by ``--address`` (``pytest -m ray``; needs the extra).

The head is ``ray start --head`` in a process of its own, as on a cluster's head node, with a token of its
own. Each sweep is the CLI in a fresh process with a private ``HOME`` (no ``~/.ray/auth_token``) and
``RAY_TMPDIR``, so no other Ray and no token on this machine take part. Without the token a sweep must end
at once in one error line that says what to set, not after Ray's ~20 s of retries (30 s for Ray Client) in
a message that says no cluster runs there; with it the sweep must run. Both forms of address are joined:
the GCS's ``host:port`` and the Ray Client server's ``ray://host:port``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import two_seed_sweep

pytestmark = pytest.mark.ray

SWEEP = two_seed_sweep("token", 1000, "linucb")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], str, dict[str, str]]]:
    """The head's addresses (its GCS's ``host:port`` and its Ray Client server's ``ray://host:port``), its
    token, and the environment of a machine without that token."""
    ray = pytest.importorskip("ray")
    if not hasattr(ray.exceptions, "AuthenticationError"):
        pytest.skip(f"Ray {ray.__version__} has no token authentication (Ray >= 2.52)")
    temp = tempfile.mkdtemp(prefix="rstok")  # short: Ray's socket paths must stay under ~107 characters
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH") and k != "RAY_ADDRESS"}
    env.update(HOME=str(home), RAY_TMPDIR=temp, RAY_USAGE_STATS_ENABLED="0", RL_SUITE_QUIET="1")
    token, port, client_port = secrets.token_hex(32), _free_port(), _free_port()
    ray_cli = str(Path(sys.executable).with_name("ray"))
    command = [ray_cli, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1"]
    command += ["--num-cpus=2", "--include-dashboard=false", f"--ray-client-server-port={client_port}"]
    proc = subprocess.Popen(
        command,
        env={**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        for listening in (port, client_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", listening), timeout=1).close()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, (
                        "ray start --head did not come up"
                    )
                    time.sleep(0.2)
        yield {"gcs": f"127.0.0.1:{port}", "client": f"ray://127.0.0.1:{client_port}"}, token, env
    finally:
        proc.terminate()  # --block: ray start stops the processes it started
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # pragma: no cover - a head that ignores SIGTERM
            proc.kill()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(params=["gcs", "client"])
def joined(
    head: tuple[dict[str, str], str, dict[str, str]], request: pytest.FixtureRequest
) -> tuple[str, str, dict[str, str]]:
    """One of the head's addresses (as ``--address`` takes it), its token, and the environment without it."""
    addresses, token, env = head
    return addresses[request.param], token, env


def _sweep(tmp_path: Path, address: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    command = [sys.executable, "-m", "rl_suite", "sweep", str(path), "--backend", "ray", "--workers", "2"]
    command += ["--address", address, "--out", str(tmp_path / "runs"), "--quiet"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_without_the_token_the_sweep_says_at_once_what_to_set(
    joined: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    address, _, env = joined
    start = time.monotonic()
    done = _sweep(tmp_path, address, env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [  # Ray's own log line about the refusal included: it is muted
        f"error: the Ray cluster at --address {address} uses token authentication: join with "
        "RAY_AUTH_MODE=token; its token is what `ray get-auth-token` prints on its head node, given here "
        "in RAY_AUTH_TOKEN or ~/.ray/auth_token"
    ]
    assert time.monotonic() - start < 15  # not Ray's ~20 s of retries
    assert not (tmp_path / "runs").exists()


def test_a_wrong_token_is_named_as_such(joined: tuple[str, str, dict[str, str]], tmp_path: Path) -> None:
    address, token, env = joined
    done = _sweep(tmp_path, address, {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token[::-1]})
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert "uses token authentication: this machine's token is not the cluster's;" in line


def test_with_the_token_the_sweep_runs_on_the_cluster(
    joined: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    address, token, env = joined
    done = _sweep(tmp_path, address, {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    assert done.returncode == 0, done.stderr
    summaries = sorted((tmp_path / "runs").rglob("summary.json"))
    assert len(summaries) == 2
