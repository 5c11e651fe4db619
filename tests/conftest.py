"""Test defaults: wandb off (no network, no account), no progress bars, single-threaded BLAS, and the same
floating-point kernels on every x86-64 CPU with AVX2.

Numerical libraries pick their kernels by CPU (AVX-512 or AVX2, Intel or AMD), and kernels round differently
in the last bits: a learner that amplifies such bits (a torch policy trained by gradient steps) then ends
elsewhere. The golden set (tests/test_golden.py) pins results bit for bit, so the tests fix the kernels:
MKL's conditional numerical reproducibility, OpenBLAS's Haswell kernels, torch's AVX2 kernels and numpy's
dispatch up to AVX2. These must be set before numpy and torch are imported (a user's setting wins).
"""

from __future__ import annotations

import atexit
import os
import platform
import shutil
import sys
import tempfile

#: Kernel settings that make float results identical across x86-64 CPUs (set before numpy/torch load).
DETERMINISTIC_KERNELS = {
    "MKL_CBWR": "COMPATIBLE",
    "OPENBLAS_CORETYPE": "Haswell",
    "ATEN_CPU_CAPABILITY": "avx2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}
if platform.machine().lower() in ("x86_64", "amd64"):
    for _name, _value in DETERMINISTIC_KERNELS.items():
        os.environ.setdefault(_name, _value)
if "numpy" in sys.modules or "torch" in sys.modules:  # a plugin imported them first: settings came late
    raise RuntimeError("tests/conftest.py: numpy or torch was imported before the kernel settings")

import pytest  # noqa: E402

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Solver-tuning tables of the whole session go to one temporary cache, never to the home directory, and
# the cache goes when the session ends.
os.environ["RL_SUITE_CACHE"] = _CACHE = tempfile.mkdtemp(prefix="rl_suite_test_cache_")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path_factory.mktemp("wandb")))
    monkeypatch.setenv("RL_SUITE_QUIET", "1")
    # SB3 used directly (as the ecosystem tests use it) logs to a fresh SB3-<date> folder under the temp dir.
    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path_factory.mktemp("sb3")))
