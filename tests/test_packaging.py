"""The install layout: mapped namespace packages, console script, version."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import rl_suite

ROOT = Path(__file__).resolve().parent.parent


def _declared_packages() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(data["tool"]["setuptools"]["packages"])


def test_every_package_folder_is_declared() -> None:
    on_disk = {
        ".".join(("rl_suite", *init.parent.relative_to(ROOT / "rl_suite").parts))
        for init in (ROOT / "rl_suite").rglob("__init__.py")
    }
    for top, namespace in (("envs", "rl_suite.envs"), ("agents", "rl_suite.agents")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            on_disk.add(".".join((namespace, *rel)))
    assert on_disk == _declared_packages()


def test_envs_and_agents_live_inside_the_namespace() -> None:
    import rl_suite.agents.base
    import rl_suite.envs.bandits

    assert Path(rl_suite.envs.bandits.__file__).resolve().parent == ROOT / "envs" / "bandits"
    assert Path(rl_suite.agents.base.__file__).resolve().parent == ROOT / "agents"


def test_version_matches_pyproject() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert rl_suite.__version__ == data["project"]["version"]
    assert data["project"]["scripts"]["rl-suite"] == "rl_suite.cli:main"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    assert command[-1].strip() in readme
