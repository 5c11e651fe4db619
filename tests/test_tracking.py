"""wandb is opt-in: never imported without --track, and with WANDB_MODE=offline it writes a real run."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rl_suite.runner import TRACKED_POINTS

LINEAR = "rl_suite/LinearContextualBandit-v0"
#: wandb's ``.wandb`` file: a LevelDB-style log of protobuf ``Record``s in 32 KiB blocks, after a 7-byte
#: header (``:W&B``, magic, version); each chunk has a 7-byte header (crc32, length, type).
_BLOCK, _HEADER = 32 * 1024, 7
_FULL, _LAST = 1, 4


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(extra)
    return env


def _wandb_records(path: Path) -> Iterator[Any]:
    """The ``wandb_internal_pb2.Record``s of an offline run's ``.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", data[:7]
    pos, chunks = _HEADER, []
    while pos + _HEADER <= len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < _HEADER:  # a block's tail too short for a chunk header is padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        if kind == 0 and length == 0:  # zero padding at the end
            break
        pos += _HEADER
        chunks.append(data[pos : pos + length])
        pos += length
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(b"".join(chunks))
            chunks = []
            yield record


def _items(items: Any) -> dict[str, Any]:
    """A history row's or summary update's items as ``{key: value}`` (nested keys joined by ``/``)."""
    return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in items}


def test_wandb_is_never_imported_without_track(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from rl_suite.cli import main\n"
        "try:\n"
        f"    main(['train', '--env', '{LINEAR}', '--agent', 'linucb', '--total-steps', '300',\n"
        f"          '--out', r'{tmp_path / 'runs'}', '--quiet'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "main_mods = [m for m in sys.modules if m == 'wandb' or m.startswith('wandb.')]\n"
        "print('WANDB_IMPORTED' if main_mods else 'NO_WANDB')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "NO_WANDB"


def test_track_offline_writes_a_wandb_run_with_the_regret_metric(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rl_suite",
            "train",
            "--env",
            LINEAR,
            "--agent",
            "linucb",
            "--total-steps",
            "600",
            "--out",
            str(out),
            "--track",
            "--wandb-project",
            "rl-suite-tests",
            "--wandb-group",
            "ci",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=_env(WANDB_MODE="offline", WANDB_SILENT="true", RL_SUITE_QUIET="1"),
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    offline = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1, list((run_dir / "wandb").iterdir())
    (wandb_file,) = offline[0].glob("*.wandb")
    records = list(_wandb_records(wandb_file))
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (run.project, run.run_group, run.display_name) == ("rl-suite-tests", "ci", run_dir.name)

    # every tracked step's cumulative regret is the run store's at that step (metrics.csv keeps 10 digits)
    with (run_dir / "metrics.csv").open() as fh:
        stored = {int(row["step"]): float(row["cumulative_regret"]) for row in csv.DictReader(fh)}
    history = [_items(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]
    logged = {int(row["t"]): row["regret/cumulative"] for row in history if "regret/cumulative" in row}
    stride = max(1, 600 // TRACKED_POINTS)
    assert sorted(logged) == list(range(stride, 601, stride))
    assert [logged[t] for t in sorted(logged)] == pytest.approx([stored[t] for t in sorted(logged)], rel=1e-9)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert logged[600] == summary["cumulative_regret"] > 0

    # the final summary carries the run's figures, and the regret plot was logged as an image
    final: dict[str, Any] = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            final.update(_items(r.summary.update))
    assert final["cumulative_regret"] == summary["cumulative_regret"]
    assert final["total_steps"] == 600 and final["status"] == "completed"
    (plot,) = [row for row in history if "regret/plot/_type" in row]
    assert plot["regret/plot/_type"] == "image-file" and plot["t"] == 600
    assert (offline[0] / "files" / plot["regret/plot/path"]).is_file()
    assert (run_dir / "regret.png").is_file()  # the final regret plot logged with the run
