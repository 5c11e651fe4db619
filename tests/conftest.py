"""Test defaults: wandb off (no network, no account), no progress bars, single-threaded BLAS."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Solver-tuning tables of the whole session go to one temporary cache, never to the home directory.
os.environ["RL_SUITE_CACHE"] = tempfile.mkdtemp(prefix="rl_suite_test_cache_")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path_factory.mktemp("wandb")))
    monkeypatch.setenv("RL_SUITE_QUIET", "1")
