"""Every preset and sweep in configs/ resolves, and every agent x env-family pairing has a preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from rl_suite import registry
from rl_suite.config import load_yaml, parse_seeds, resolve
from rl_suite.sweep import load_sweep

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
PRESETS = sorted(CONFIGS.glob("*.yaml"))
SWEEPS = sorted((CONFIGS / "sweeps").glob("*.yaml"))
FAMILIES = {e.family for e in registry.ENVS}


@pytest.mark.parametrize("path", PRESETS, ids=[p.name for p in PRESETS])
def test_preset_resolves(path: Path) -> None:
    data = load_yaml(path)
    seeds = parse_seeds(str(data.pop("seeds", "0")))
    cfg = resolve(data)
    agent, family = path.stem.split("__")
    assert cfg.agent.name == agent
    assert registry.env_entry(cfg.env.id).family == family
    assert seeds


def test_every_pairing_has_a_preset() -> None:
    names = {p.stem for p in PRESETS}
    for agent in registry.AGENTS:
        for family in agent.families:
            assert family in FAMILIES
            assert f"{agent.name}__{family}" in names


@pytest.mark.parametrize("path", SWEEPS, ids=[p.name for p in SWEEPS])
def test_sweep_resolves(path: Path) -> None:
    sweep = load_sweep(path)
    runs = sweep.runs()
    assert runs
    seen = set()
    for run in runs:
        key = (run.env.id, tuple(sorted(run.env.kwargs.items())), run.agent.name)
        if key not in seen:
            resolve(run)
            seen.add(key)
