"""The type checker: `python -m mypy` (configured in pyproject.toml) is clean on rl_suite, envs and agents."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_mypy_is_clean() -> None:
    # The same command as by hand from the repo root; its cache (.mypy_cache) keeps later runs to seconds.
    proc = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"mypy found problems:\n{proc.stdout}{proc.stderr}"


def test_mypy_checks_every_mapped_package_under_its_installed_name() -> None:
    # mypy cannot follow [tool.setuptools] package-dir: each mapped folder is checked through a committed
    # symlink tests/typecheck/<installed path> -> <folder>, listed in [tool.mypy] files.
    data = _pyproject()
    files = set(data["tool"]["mypy"]["files"])
    for package, folder in data["tool"]["setuptools"]["package-dir"].items():
        installed = Path(*package.split("."))
        if installed == Path(folder):
            assert folder in files
            continue
        link = ROOT / "tests" / "typecheck" / installed
        assert link.is_symlink(), f"{link} should be a symlink to {folder}/"
        assert link.resolve() == (ROOT / folder).resolve()
        assert (Path("tests", "typecheck") / installed).as_posix() in files
