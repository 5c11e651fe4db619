"""The documentation site builds in strict mode, with a page per env id and per agent.

It builds into a temporary folder with ``mkdocs build --strict`` (warnings and broken links fail) and uses
the committed plots of ``docs/assets/plots`` (``docs/_scripts/make_plots.py`` redraws them; it is not run
here).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rl_suite import registry

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("mkdocs", "mkdocs_gen_files", "mkdocstrings")),
    reason='needs the docs extra: pip install -e ".[docs]"',
)


def slug(env_id: str) -> str:
    return env_id.split("/", 1)[-1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "DISABLE_MKDOCS_2_WARNING": "true",
        "WANDB_MODE": "disabled",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return out


def test_site_builds_with_home_and_reference_pages(site: Path) -> None:
    for page in ("index.html", "getting-started", "run-store", "cli", "reproducing", "envs", "agents"):
        target = site / page if page.endswith(".html") else site / page / "index.html"
        assert target.is_file(), page
    for module in ("regret", "runner", "store", "state", "compare", "stats", "exact", "contracts", "config"):
        html = (site / "api" / module / "index.html").read_text(encoding="utf-8")
        assert f"rl_suite.{module}" in html


def test_a_page_per_env_with_its_plot(site: Path) -> None:
    for env_id in registry.env_ids():
        page = site / "envs" / slug(env_id) / "index.html"
        assert page.is_file(), env_id
        html = page.read_text(encoding="utf-8")
        assert env_id in html
        plot = f"assets/plots/{slug(env_id)}.png"
        assert plot in html, f"{env_id}: no plot (run docs/_scripts/make_plots.py)"
        assert (site / "assets" / "plots" / f"{slug(env_id)}.png").is_file()


def test_a_page_per_agent_with_its_settings(site: Path) -> None:
    from rl_suite.config import agent_class

    for name in registry.agent_names():
        page = site / "agents" / name / "index.html"
        assert page.is_file(), name
        html = page.read_text(encoding="utf-8")
        for field in agent_class(name).Config.model_fields:
            assert f"<code>{field}</code>" in html, f"{name}: setting {field} missing"


def test_cli_reference_lists_every_command(site: Path) -> None:
    import typer

    from rl_suite.cli import app

    html = (site / "cli" / "index.html").read_text(encoding="utf-8")
    commands = getattr(typer.main.get_command(app), "commands", {})
    assert commands
    for command in commands:
        assert f"rl-suite {command}" in html
