"""Printable views of the procedure: a table with articles, and a Mermaid diagram."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from flows.procedure import Procedure


def as_table(p: Procedure, width: int = 160) -> str:
    """The stages, time limits, rules and settings as terminal tables. rich counts East Asian
    characters as two columns, so the Chinese columns line up."""
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(f"重大行政决策程序 / Major administrative decision procedure — version {p.version}")
    stages = Table("step", "stage", "名称", "required when", "guard", "articles", box=box.SIMPLE)
    for s in p.stages:
        requirement = s.required_when.describe()
        if s.excluded_when.describe() != "not always":
            requirement += f"; off when {s.excluded_when.describe()}"
        if s.optional:
            requirement += "; may be taken up"
        stages.add_row(s.section, s.id, s.zh, requirement, s.guard, s.articles)
    console.print(stages)
    limits = Table("time limit", "名称 / name", "days (setting)", "unit", "article", box=box.SIMPLE)
    for t in p.time_limits.values():
        unit = f"setting {t.unit_setting}" if t.unit_setting else t.unit.value
        limits.add_row(t.id, f"{t.zh} / {t.en}", t.days_setting or "—", unit, t.article)
    console.print(limits)
    rules = Table("rule", "article", "规则", box=box.SIMPLE)
    for g in p.guards.values():
        rules.add_row(g.id, g.article, g.zh)
    console.print(rules)
    settings = Table("setting", "default", "statutory floor", "source", box=box.SIMPLE)
    for setting in p.settings.values():
        floor = str(setting.statutory_floor) if setting.statutory_floor is not None else ""
        settings.add_row(setting.key, _shown(setting.default), floor, setting.source)
    console.print(settings)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()).strip("\n")


def _shown(value: object) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, dict):
        return "{}" if not value else ", ".join(value)
    return str(value)


def as_mermaid(p: Procedure) -> str:
    lines = ["flowchart TD"]
    for s in p.stages:
        label = f"{s.section} {s.zh}<br/>{s.en}<br/>{s.articles}"
        shape = f'{s.id}(["{label}"])' if s.optional else f'{s.id}["{label}"]'
        lines.append(f"    {shape}")
    for s in p.stages:
        for before in s.after:
            condition = s.required_when.describe()
            edge = f" -->|{condition}| " if condition != "always" else " --> "
            lines.append(f"    {before}{edge}{s.id}")
    return "\n".join(lines)
