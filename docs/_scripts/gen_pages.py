"""Generate the documentation pages from the repository (run by mkdocs-gen-files at build time).

Nothing here is hand-written per env or per agent: the pages come from

* ``README.md`` (getting started, the run store, reproducing the papers), cut at its ``## `` headings;
* the registry (:mod:`rl_suite.registry`): one page per env id and per agent;
* the env classes: their Gymnasium-style docstring sections, ``gym.make(id)``'s spaces,
  :func:`rl_suite.config.env_signature_defaults` and the ``solve()`` docstring;
* the agents' pydantic config models (``model_fields`` with their attribute docstrings);
* the typer app of :mod:`rl_suite.cli` (the CLI reference);
* ``docs/assets/plots/<env>.png``, drawn by ``docs/_scripts/make_plots.py`` and committed.

It writes ``SUMMARY.md`` as well, the navigation read by mkdocs-literate-nav.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
import sys
import typing
import warnings
from pathlib import Path
from typing import Any

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, str(ROOT / "docs" / "_scripts"))

import gymnasium as gym  # noqa: E402
import typer  # noqa: E402
from make_plots import AGENTS, BUDGET, SEEDS, env_section, slug  # noqa: E402

import rl_suite  # noqa: E402, F401  (registers the ids)
from rl_suite import registry  # noqa: E402
from rl_suite.config import env_signature_defaults  # noqa: E402

#: The core modules of the API reference.
API_MODULES = (
    "regret",
    "runner",
    "store",
    "state",
    "compare",
    "stats",
    "exact",
    "contracts",
    "config",
)
REPO_URL = "https://github.com/rl-suite/rl_suite"

# --------------------------------------------------------------------------------------------------
# Text helpers


def rst_to_md(text: str) -> str:
    """Turn the reST bits of the docstrings (``code``, :class:`~a.B`) into Markdown."""
    text = re.sub(r":(?:class|func|meth|attr|data|mod|obj|exc):`~?([^`]+)`", _role, text)
    text = re.sub(r"``(.+?)``", lambda m: "`" + m.group(1) + "`", text, flags=re.S)
    return text


def _role(m: re.Match[str]) -> str:
    name = m.group(1)
    short = name.rsplit(".", 1)[-1]
    if m.group(0).startswith((":meth:", ":func:")):
        short += "()"
    return f"`{short}`"


def esc_cell(text: str) -> str:
    """One Markdown table cell: no newlines, no bare pipes."""
    return " ".join(rst_to_md(text).split()).replace("|", "\\|")


def sections(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Gymnasium-style docstring into its lead and its ``## Heading`` sections."""
    parts = re.split(r"^## +(.+?)\s*$", doc, flags=re.M)
    lead, rest = parts[0].strip(), parts[1:]
    return lead, {rest[i].strip(): rest[i + 1].strip() for i in range(0, len(rest), 2)}


def base_sections(cls: type) -> list[tuple[str, dict[str, str]]]:
    """The ``## `` sections of each rl_suite base class of ``cls`` (nearest first), by class name."""
    out = []
    for base in cls.__mro__[1:]:
        if base.__module__.startswith("rl_suite") and base.__doc__:
            out.append((base.__name__, sections(inspect.cleandoc(base.__doc__))[1]))
    return out


def env_sections(cls: type) -> tuple[str, dict[str, str]]:
    """The class's sections, completed from its rl_suite base classes (e.g. SORTuning's base).

    A section the class lacks comes from the nearest base that has it; a Rewards section that points at a
    base class (``see :class:`Base```) gets that base's Rewards text appended.
    """
    lead, own = sections(inspect.getdoc(cls) or "")
    merged = dict(own)
    bases = base_sections(cls)
    for _, inherited in bases:
        for key, value in inherited.items():
            merged.setdefault(key, value)
    rewards = own.get("Rewards", "")
    for name, inherited in bases:
        if re.search(rf":class:`~?[\w.]*\b{name}`", rewards) and "Rewards" in inherited:
            merged["Rewards"] = rewards + f"\n\nFrom `{name}`:\n\n" + inherited["Rewards"]
            break
    return lead, merged


#: Paragraphs of a Description that state reference values (moved to their own section of the page).
REFERENCE_PARAGRAPH = re.compile(
    r"[Rr]eference values|^Facts \(|``V\*(\([^)]*\))? = |bracketed by|quoted at|[Ii]nfinite horizon, γ"
)


def split_reference_values(description: str) -> tuple[str, str]:
    """Cut the reference-value paragraphs (and the tables right after them) out of a Description."""
    keep: list[str] = []
    moved: list[str] = []
    previous_moved = False
    for para in re.split(r"\n\s*\n", description):
        if REFERENCE_PARAGRAPH.search(para) or (previous_moved and para.lstrip().startswith("|")):
            moved.append(para)
            previous_moved = True
        else:
            keep.append(para)
            previous_moved = False
    return "\n\n".join(keep), "\n\n".join(moved)


def fmt_default(value: Any) -> str:
    """A default as code, or *required*."""
    if value is inspect.Parameter.empty:
        return "*required*"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return "`" + text.replace("|", "\\|") + "`"


def fmt_type(tp: Any) -> str:
    """A readable annotation: ``float ≥ 0 | 'theory'``."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(tp)
        bounds = []
        for m in meta:
            for attr, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
                if getattr(m, attr, None) is not None:
                    bounds.append(f"{sym} {getattr(m, attr)}")
            for inner in getattr(m, "metadata", []) or []:
                for attr, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
                    if getattr(inner, attr, None) is not None:
                        bounds.append(f"{sym} {getattr(inner, attr)}")
        return fmt_type(base) + (" " + ", ".join(bounds) if bounds else "")
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " \\| ".join(fmt_type(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(fmt_type(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def arg_docs(arguments: str) -> dict[str, str]:
    """``* ``name`` (default): text`` bullets of an Arguments section, by every name they mention first."""
    docs: dict[str, str] = {}
    for item in re.split(r"^\* ", arguments, flags=re.M):
        item = item.strip()
        if not item:
            continue
        head = item.split(":", 1)[0]
        for name in re.findall(r"``(\w+)``", head):
            docs.setdefault(name, item)
    return docs


# --------------------------------------------------------------------------------------------------
# README


def readme_sections() -> tuple[str, dict[str, str]]:
    """README.md's lead and its ``## `` sections (fenced code blocks kept whole)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out: dict[str, list[str]] = {}
    lead: list[str] = []
    current = lead
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            current = out.setdefault(line[3:].strip(), [])
            continue
        current.append(line)
    return "\n".join(lead).strip(), {k: "\n".join(v).strip() for k, v in out.items()}


def anchor(title: str) -> str:
    """Python-Markdown's toc slug of a heading."""
    s = re.sub(r"[^\w\s-]", "", title.lower()).strip()
    return re.sub(r"[\s]+", "-", s)


# Where each README section lands on the site (the others are not published as pages).
README_PAGES = {
    "Two commands": "getting-started.md",
    "Three ways to use it": "getting-started.md",
    "Environments": "reproducing.md",
    "Agents": "reproducing.md",
    "The run store": "run-store.md",
    "Configs": "run-store.md",
    "Benchmarks": "reproducing.md",
    "Known gaps": "reproducing.md",
}


def fix_readme_links(text: str, page: str) -> str:
    """README's ``(#anchor)`` links point at the page holding that section; repo files at GitHub."""
    targets = {anchor(title): dest for title, dest in README_PAGES.items()}

    def repl(m: re.Match[str]) -> str:
        label, target = m.group(1), m.group(2)
        if target.startswith("#"):
            dest = targets.get(target[1:])
            if dest is None:
                return f"{label}"
            return f"[{label}]({'' if dest == page else dest}{target})"
        if target.startswith(("http://", "https://", "mailto:")):
            return m.group(0)
        return f"[{label}]({REPO_URL}/blob/main/{target})"

    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", repl, text)


def demote(text: str, levels: int = 1) -> str:
    """Push README headings down (outside code fences)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#+ ", line):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out)


def readme_page(path: str, title: str, intro: str, names: list[str], readme: dict[str, str]) -> None:
    """A page made of README sections (each as a ``##`` section)."""
    parts = [f"# {title}", "", intro, ""]
    for name in names:
        parts += [f"## {name}", "", demote(readme[name]), ""]
    text = fix_readme_links("\n".join(parts), path)
    with mkdocs_gen_files.open(path, "w") as f:
        f.write(text + f"\n\n*From [README.md]({REPO_URL}/blob/main/README.md).*\n")


# --------------------------------------------------------------------------------------------------
# Env pages


def spaces_of(env_id: str) -> tuple[str, str]:
    """``gym.make(env_id)``'s observation and action spaces (with the defaults), as reprs."""
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            env = gym.make(env_id)
        try:
            return repr(env.observation_space), repr(env.action_space)
        finally:
            env.close()
    except Exception as exc:  # e.g. an optional extra that is not installed
        msg = f"(not built here: {type(exc).__name__}: {exc})"
        return msg, msg


def env_page(entry: registry.EnvEntry) -> str:
    """One env's page (Markdown)."""
    cls = registry.load_entry_point(entry.entry_point)
    lead, sec = env_sections(cls)
    page = slug(entry.id)
    obs, act = spaces_of(entry.id)
    defaults = env_signature_defaults(entry.id)
    fixed = dict(entry.kwargs)
    docs = arg_docs(sec.get("Arguments", ""))
    for _, inherited in base_sections(cls):
        for name, text in arg_docs(inherited.get("Arguments", "")).items():
            if name not in docs or "base class" in docs[name]:
                docs[name] = text
    agents = [a.name for a in registry.AGENTS if entry.family in a.families]

    out = [f"# {page}", "", f"**{rst_to_md(lead.splitlines()[0]) if lead else entry.summary}**", ""]
    if lead and len(lead.splitlines()) > 1:
        out += [rst_to_md("\n".join(lead.splitlines()[1:])).strip(), ""]
    out += [
        "| | |",
        "|:--|:--|",
        f"| id | `{entry.id}` |",
        f"| family | `{entry.family}` |",
        f"| class | `{cls.__module__}.{cls.__qualname__}` |",
        f"| summary | {esc_cell(entry.summary)} |",
        f"| reference | {esc_cell(entry.reference) or '—'} |",
        f"| vector env | {'`' + entry.vector_entry_point + '`' if entry.vector_entry_point else '—'} |",
        f"| agents | {', '.join(f'[`{a}`](../agents/{a}.md)' for a in agents)} |",
        "",
        "```python",
        "import gymnasium as gym",
        "import rl_suite  # registers every rl_suite/ id",
        "",
        f'env = gym.make("{entry.id}")',
        "```",
        "",
    ]
    description, reference_values = split_reference_values(sec.get("Description", ""))
    if description:
        out += ["## Description", "", rst_to_md(description), ""]
    plot = ROOT / "docs" / "assets" / "plots" / f"{page}.png"
    out += ["## Regret of a few agents", ""]
    if plot.exists():
        shown_agents = [a for a in AGENTS[entry.family] if a in agents][:3]
        plot_env = {k: v for k, v in env_section(entry.id, entry.family, shown_agents).items() if k != "id"}
        env_args = ", ".join(f"`{k}={v!r}`" for k, v in plot_env.items()) or "the defaults"
        out += [
            f"![Cumulative regret on {entry.id}](../assets/plots/{page}.png)",
            "",
            f"Cumulative exact regret of {', '.join(f'`{a}`' for a in shown_agents)} "
            f"({len(SEEDS)} seeds, {BUDGET[entry.family]} steps each, the agents' preset settings from "
            f"`configs/<agent>__{entry.family}.yaml` where one exists; env arguments: {env_args}; "
            "mean with a 95 % bootstrap band). "
            "A small budget for a picture, not a benchmark: regenerate with "
            "`python docs/_scripts/make_plots.py`.",
            "",
        ]
    else:
        out += ["No plot yet: run `python docs/_scripts/make_plots.py`.", ""]

    out += [
        "## Spaces",
        "",
        "With the default arguments (`gym.make(id)`):",
        "",
        "| space | value |",
        "|---|---|",
        f"| observation | `{esc_cell(obs)}` |",
        f"| action | `{esc_cell(act)}` |",
        "",
    ]
    for name in ("Action Space", "Observation Space"):
        if name in sec:
            out += [f"**{name}.** " + rst_to_md(sec[name]), ""]
    out += [
        "## Constructor arguments",
        "",
        "Every keyword of the constructor with its default (`rl_suite.config.env_signature_defaults`); pass "
        "them to `gym.make` or as `env.*` keys of a run config (`--set env.NAME=VALUE`).",
        "",
        "| argument | default | meaning |",
        "|---|---|---|",
    ]
    for name, default in defaults.items():
        shown = fmt_default(fixed[name]) + " (fixed by this id)" if name in fixed else fmt_default(default)
        meaning = docs.get(name, "")
        out.append(f"| `{name}` | {shown} | {esc_cell(meaning)} |")
    out.append("")
    out += ['## Rewards and `info["regret"]`', ""]
    out += [rst_to_md(sec.get("Rewards", "The class docstring has no Rewards section.")), ""]
    if "Episode End" in sec:
        out += ["## Episode end", "", rst_to_md(sec["Episode End"]), ""]

    solve = getattr(cls, "solve", None)
    out += ["## Exact solver: `solve()`", ""]
    if solve is not None:
        try:
            sig = str(inspect.signature(solve)).replace("(self, ", "(").replace("(self)", "()")
        except (TypeError, ValueError):
            sig = "(...)"
        out += [
            f"`env.unwrapped.solve{sig}`, and from the shell `rl-suite solve {entry.id}` "
            "(`--set NAME=VALUE` for the arguments).",
            "",
            solve_doc(inspect.getdoc(solve) or ""),
            "",
        ]
    else:
        out += ["This env has no `solve()` method.", ""]

    out += ["## Reference values and sources", ""]
    if reference_values:
        out += [rst_to_md(reference_values), ""]
    out += ["**Sources.** " + rst_to_md(sec.get("Reference", entry.reference or "—")), ""]

    for name, body in sec.items():
        if name in {
            "Description",
            "Action Space",
            "Observation Space",
            "Arguments",
            "Rewards",
            "Episode End",
            "Reference",
        }:
            continue
        out += [f"## {name}", "", rst_to_md(body), ""]
    return "\n".join(out)


def solve_doc(doc: str) -> str:
    """A Google-style method docstring as Markdown (Args/Returns as labelled paragraphs)."""
    out: list[str] = []
    for block in re.split(r"^(Args|Returns|Raises):\s*$", doc, flags=re.M):
        if block in ("Args", "Returns", "Raises"):
            out.append(f"\n**{'Arguments' if block == 'Args' else block}**\n")
            continue
        lines = block.strip("\n").splitlines()
        if lines and all(not ln.strip() or ln.startswith("    ") for ln in lines):
            # Indented body of an Args/Returns block: items become bullets, continuations join.
            items: list[str] = []
            for ln in lines:
                if re.match(r"^    \S", ln) and (re.match(r"^    \w+( \(.*?\))?: ", ln) or not items):
                    items.append(ln.strip())
                elif items:
                    items[-1] += " " + ln.strip()
            out += [f"* {rst_to_md(it)}" for it in items]
        else:
            out.append(rst_to_md(block.strip()))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# Agent pages


def agent_page(entry: registry.AgentEntry) -> str:
    """One agent's page (Markdown)."""
    cls = registry.load_entry_point(entry.entry_point)
    doc = inspect.getdoc(cls) or entry.summary
    presets = sorted(p.name for p in (ROOT / "configs").glob(f"{entry.name}__*.yaml"))
    envs = [e.id for e in registry.ENVS if e.family in entry.families]
    out = [
        f"# {entry.name}",
        "",
        f"**{esc_cell(entry.summary)}**",
        "",
        "| | |",
        "|:--|:--|",
        f"| name | `{entry.name}` |",
        f"| class | `{cls.__module__}.{cls.__qualname__}` |",
        f"| paper | {esc_cell(entry.reference) or '—'} |",
        f"| env families | {', '.join(f'`{f}`' for f in entry.families)} |",
        f"| envs | {', '.join(f'[`{slug(e)}`](../envs/{slug(e)}.md)' for e in envs)} |",
    ]
    if entry.requires:
        out.append(f"| needs | `pip install {entry.requires}` |")
    if presets:
        out.append(f"| presets | {', '.join(f'`configs/{p}`' for p in presets)} |")
    out += [
        "",
        "```bash",
        f"rl-suite train --env {envs[0] if envs else 'ENV_ID'} --agent {entry.name} --seeds 0-4",
        "```",
        "",
        "## Algorithm",
        "",
        rst_to_md(doc),
        "",
        "## Settings",
        "",
        f"The fields of `{cls.__qualname__}.Config` (a pydantic model); set them as `agent.*` keys of a run "
        "config or with `--set agent.NAME=VALUE`.",
        "",
    ]
    config = getattr(cls, "Config", None)
    fields = getattr(config, "model_fields", {}) if config is not None else {}
    if fields:
        out += ["| setting | type | default | meaning |", "|---|---|---|---|"]
        for name, field in fields.items():
            if field.is_required():
                default = "*required*"
            elif field.default_factory is not None:
                try:
                    default = fmt_default(field.default_factory())  # type: ignore[call-arg]
                except TypeError:
                    default = "*(factory)*"
            else:
                default = fmt_default(field.default)
            meaning = esc_cell(field.description or "")
            out.append(f"| `{name}` | {fmt_type(field.annotation)} | {default} | {meaning} |")
    else:
        out.append("This agent has no settings.")
    out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# CLI reference


def cli_page() -> str:
    """Every command of the typer app with its arguments and options (from click's help records)."""
    from rl_suite.cli import app

    group = typer.main.get_command(app)
    context = type(group).context_class  # typer's own click (it may vendor one)
    root = context(group, info_name="rl-suite")
    out = [
        "# CLI reference",
        "",
        "Generated from the typer app of `rl_suite/cli.py` (`rl-suite --help`, `rl-suite COMMAND --help`).",
        "",
        rst_to_md(inspect.cleandoc(group.help or "")),
        "",
    ]
    for name, cmd in getattr(group, "commands", {}).items():
        ctx = context(cmd, info_name=name, parent=root)
        usage = " ".join(cmd.collect_usage_pieces(ctx))
        out += [f"## `rl-suite {name}`", "", rst_to_md(inspect.cleandoc(cmd.help or "")), ""]
        out += ["```text", f"rl-suite {name} {usage}", "```", ""]
        rows = []
        for p in cmd.params:
            if getattr(p, "param_type_name", "") == "argument":
                help_text = getattr(p, "help", None) or ""
                req = "required" if p.required else "optional"
                shown = p.metavar or (p.name or "").upper()
                rows.append(f"| `{shown}` | argument, {req} | {esc_cell(help_text)} |")
                continue
            record = p.get_help_record(ctx)
            if record is None:
                continue
            opts, help_text = record
            rows.append(f"| `{esc_cell(opts)}` | option | {esc_cell(help_text)} |")
        if rows:
            out += ["| argument / option | kind | help |", "|---|---|---|", *rows, ""]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------


def main() -> None:
    """Write every generated page and the navigation."""
    lead, readme = readme_sections()
    nav = mkdocs_gen_files.Nav()

    title, _, intro = lead.partition("\n")
    with mkdocs_gen_files.open("index.md", "w") as f:
        f.write(
            fix_readme_links(
                "\n".join(
                    [
                        title,
                        intro.strip(),
                        "",
                        "## Where to go",
                        "",
                        "* [Getting started](getting-started.md): install, the main job, the tests, and the "
                        "three ways to use the suite.",
                        f"* [Environments](envs/index.md): one page per env id ({len(registry.ENVS)}), with "
                        "its spaces, arguments, exact solver and a regret plot.",
                        f"* [Agents](agents/index.md): one page per agent ({len(registry.AGENTS)}), with "
                        "its settings and paper.",
                        "* [The run store](run-store.md): what a run folder holds.",
                        "* [CLI reference](cli.md) and [API reference](api/regret.md).",
                        "* [Reproducing the papers](reproducing.md): the benchmark scripts and tables.",
                        "",
                        "![Cumulative regret on the linear contextual bandit]"
                        "(assets/plots/LinearContextualBandit-v0.png)",
                        "",
                        "Exact cumulative regret of three agents on "
                        "[`rl_suite/LinearContextualBandit-v0`](envs/LinearContextualBandit-v0.md) "
                        "(every env page has such a plot).",
                    ]
                ),
                "index.md",
            )
            + "\n"
        )
    nav["Home"] = "index.md"

    readme_page(
        "getting-started.md",
        "Getting started",
        "From the README: the two commands, then the three ways to use the suite.",
        ["Two commands", "Three ways to use it"],
        readme,
    )
    nav["Getting started"] = "getting-started.md"

    # Envs
    nav["Environments"] = "envs/index.md"
    rows = ["| env | family | summary |", "|---|---|---|"]
    for entry in sorted(registry.ENVS, key=lambda e: e.id):
        page = slug(entry.id)
        with mkdocs_gen_files.open(f"envs/{page}.md", "w") as f:
            f.write(env_page(entry))
        rows.append(f"| [`{entry.id}`]({page}.md) | `{entry.family}` | {esc_cell(entry.summary)} |")
        nav["Environments", page] = f"envs/{page}.md"
    with mkdocs_gen_files.open("envs/index.md", "w") as f:
        f.write(
            "# Environments\n\nEvery registered id (`rl-suite envs`); `gym.make(id)` after "
            "`import rl_suite`. "
            "Every step's `info` carries `regret` (the exact expected regret of the action) and "
            "`optimal_value`.\n\n" + "\n".join(rows) + "\n"
        )

    # Agents
    nav["Agents"] = "agents/index.md"
    rows = ["| agent | env families | summary | paper |", "|---|---|---|---|"]
    for agent in registry.AGENTS:
        with mkdocs_gen_files.open(f"agents/{agent.name}.md", "w") as f:
            f.write(agent_page(agent))
        rows.append(
            f"| [`{agent.name}`]({agent.name}.md) | {', '.join(f'`{x}`' for x in agent.families)} | "
            f"{esc_cell(agent.summary)} | {esc_cell(agent.reference)} |"
        )
        nav["Agents", agent.name] = f"agents/{agent.name}.md"
    with mkdocs_gen_files.open("agents/index.md", "w") as f:
        f.write("# Agents\n\nEvery agent by its short name (`rl-suite agents`).\n\n" + "\n".join(rows) + "\n")

    readme_page(
        "run-store.md",
        "The run store",
        "What `rl-suite train` and `rl-suite sweep` write, and what the store guarantees.",
        ["The run store", "Configs"],
        readme,
    )
    nav["The run store"] = "run-store.md"

    with mkdocs_gen_files.open("cli.md", "w") as f:
        f.write(cli_page())
    nav["CLI reference"] = "cli.md"

    for mod in API_MODULES:
        with mkdocs_gen_files.open(f"api/{mod}.md", "w") as f:
            f.write(f"# `rl_suite.{mod}`\n\n::: rl_suite.{mod}\n")
        nav["API reference", f"rl_suite.{mod}"] = f"api/{mod}.md"

    readme_page(
        "reproducing.md",
        "Reproducing the papers",
        "The benchmark scripts, the environments and agents with the papers they follow, and the values "
        "still to be checked against their sources.",
        ["Benchmarks", "Environments", "Agents", "Known gaps"],
        readme,
    )
    nav["Reproducing the papers"] = "reproducing.md"

    with mkdocs_gen_files.open("SUMMARY.md", "w") as f:
        f.writelines(nav.build_literate_nav())


main()
