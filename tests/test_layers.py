"""The layers of the package, checked on the source: which modules may import which.

Imports point down the layers only:

* **application** — :data:`APPLICATION`: the CLI (with the ``analyze`` command's module), the runner, the
  sweep, the config, the registry and the package's ``__init__``/``__main__``. They may load envs and
  agents, by entry-point string (the registry) or by importing them;
* **envs** (``envs/``, installed as ``rl_suite.envs``) and **agents** (``agents/``, ``rl_suite.agents``):
  side by side, neither imports the other. Envs import none of the run store, the runner, the sweep, the
  comparison tools or the CLI; agents import no env and not the run store;
* **core** — every other module of ``rl_suite/`` (``rl_suite.exact``, ``rl_suite.rlhf``, the sequence
  policies, spaces, state, the run store, ...): it imports no env and no agent;
* **exact** — the pure solvers of ``rl_suite.exact``, inside the core: they import nothing of the suite
  but each other and ``rl_suite.errors`` (so no env reaches the run store through a solver).

Every ``import`` statement counts: at module level, inside functions, under ``if TYPE_CHECKING:``;
relative imports are resolved. (A module loaded by name at run time, as the registry loads entry points,
is not an import statement and is not seen: that is the application's privilege.)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The folders on disk and the package each installs as (see ``[tool.setuptools]`` in pyproject.toml).
PACKAGES = {"rl_suite": "rl_suite", "envs": "rl_suite.envs", "agents": "rl_suite.agents"}

#: The application layer: the modules of ``rl_suite/`` that may import envs and agents.
APPLICATION = frozenset(
    {
        "rl_suite",  # rl_suite/__init__.py: registers the env ids
        "rl_suite.__main__",
        "rl_suite.cli",
        "rl_suite.analyze",  # the `analyze` command: loads an env by id, writes its report to the run store
        "rl_suite.runner",
        "rl_suite.batched",  # seed-batched sweep cells: builds a cell's agents on vector envs, as the runner
        "rl_suite.sweep",
        "rl_suite.config",
        "rl_suite.registry",
    }
)

#: What each layer must not import (a module, or anything inside it).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": ("rl_suite.envs", "rl_suite.agents"),
    "envs": (
        "rl_suite.agents",
        "rl_suite.store",
        "rl_suite.runner",
        "rl_suite.sweep",
        "rl_suite.compare",
        "rl_suite.cli",
    ),
    "agents": ("rl_suite.envs", "rl_suite.store"),
    "application": (),
}

#: The only modules of the suite the pure solvers (``rl_suite.exact``) may import.
EXACT_MAY_IMPORT = ("rl_suite.exact", "rl_suite.errors")


def layer_of(module: str) -> str:
    """The layer of a dotted module name of the installed package."""
    if module in APPLICATION:
        return "application"
    for layer in ("envs", "agents"):
        if module == f"rl_suite.{layer}" or module.startswith(f"rl_suite.{layer}."):
            return layer
    return "core"


def imported_names(source: str, module: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """Every ``(line, dotted name)`` an import statement of ``source`` may load, at any depth.

    ``import a.b`` gives ``a.b``; ``from a import b, c`` gives ``a``, ``a.b`` and ``a.c`` (``b`` may be a
    submodule); relative imports are resolved against ``module`` (a package when ``is_package``).
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """The imports of ``source`` (the text of ``module``) that its layer forbids, as readable lines."""
    layer = layer_of(module)
    exact = _within(module, "rl_suite.exact")
    found = []
    for line, name in imported_names(source, module, is_package):
        for banned in FORBIDDEN[layer]:
            if _within(name, banned):
                found.append(f"{module}:{line} ({layer}) imports {name}")
        if exact and _within(name, "rl_suite") and name != "rl_suite":
            if not any(_within(name, ok) for ok in EXACT_MAY_IMPORT):
                found.append(f"{module}:{line} (exact) imports {name}")
    return sorted(set(found))


def _within(name: str, package: str) -> bool:
    """Whether the dotted ``name`` is ``package`` or inside it."""
    return name == package or name.startswith(package + ".")


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the three source folders, with its installed dotted name."""
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            yield ".".join((package, *parts)), path


def test_the_layers_hold() -> None:
    found = [
        v
        for module, path in modules()
        for v in violations(path.read_text(), module, path.name == "__init__.py")
    ]
    assert not found, "layering violations:\n" + "\n".join(found)


def test_every_layer_is_walked_and_the_application_list_is_real() -> None:
    seen = dict(modules())
    layers = {layer_of(m) for m in seen}
    assert layers == {"core", "envs", "agents", "application"}
    assert {"rl_suite.exact.tabular", "rl_suite.exact.pomdp", "rl_suite.rlhf.task"} <= set(seen)
    assert APPLICATION <= set(seen), f"no such modules: {sorted(APPLICATION - set(seen))}"


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("rl_suite.exact.fake", "def f():\n    from rl_suite.envs.pomdp import tiger\n"),
        ("rl_suite.exact.fake", "from rl_suite import agents\n"),
        ("rl_suite.fake", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import rl_suite.envs\n"),
        ("rl_suite.envs.pomdp.fake", "from ...agents import base\n"),
        ("rl_suite.envs.fake", "def f():\n    from rl_suite.store import write_json\n"),
        ("rl_suite.envs.fake", "from rl_suite import runner\n"),
        ("rl_suite.agents.fake", "import rl_suite.envs.rlhf.env as env\n"),
        ("rl_suite.agents.fake", "from . import base\nfrom rl_suite.store import RunRecord\n"),
        ("rl_suite.exact.fake", "def f():\n    from rl_suite.store import write_json\n"),
        ("rl_suite.exact.pomdp.fake", "from rl_suite import registry\n"),
    ],
)
def test_the_checker_catches_a_planted_violation(module: str, source: str) -> None:
    assert len(violations(source, module)) >= 1


@pytest.mark.parametrize(
    ("module", "source"),
    [
        (
            "rl_suite.exact.fake",
            "from rl_suite.exact import tabular\nfrom rl_suite.errors import UserError\n",
        ),
        ("rl_suite.exact.pomdp.fake", "from .model import POMDPModel\nimport numpy as np\n"),
        ("rl_suite.fake", "from rl_suite.store import write_json\nfrom rl_suite import registry\n"),
        ("rl_suite.envs.fake", "from rl_suite.exact import pomdp\nfrom ..validation import check_int\n"),
        ("rl_suite.agents.fake", "from . import base\nfrom rl_suite.storage_free import x\n"),
        ("rl_suite.cli", "def f():\n    from rl_suite.envs.minigrid import MiniGridFiniteHorizon\n"),
    ],
)
def test_the_checker_passes_allowed_imports(module: str, source: str) -> None:
    assert violations(source, module) == []


def test_relative_imports_resolve_against_the_package() -> None:
    names = {
        n for _, n in imported_names("from . import x\nfrom ..y import z\n", "rl_suite.envs.pomdp", True)
    }
    assert {"rl_suite.envs.pomdp.x", "rl_suite.envs.y.z"} <= names
