"""Printable views of the procedure: a table with articles, and a Mermaid diagram."""

from __future__ import annotations

from flows.procedure import Procedure


def as_table(p: Procedure) -> str:
    lines = [f"重大行政决策程序 / Major administrative decision procedure — version {p.version}", ""]
    lines.append(f"{'step':<6} {'stage':<24} {'名称':<10} {'required when':<46} {'guard':<5} articles")
    for s in p.stages:
        requirement = s.required_when.describe()
        if s.excluded_when.describe() != "not always":
            requirement += f"; off when {s.excluded_when.describe()}"
        if s.optional:
            requirement += "; may be taken up"
        lines.append(f"{s.section:<6} {s.id:<24} {s.zh:<10} {requirement:<46} {s.guard:<5} {s.articles}")
    lines += ["", "Time limits:"]
    for t in p.time_limits.values():
        unit = f"setting {t.unit_setting}" if t.unit_setting else t.unit.value
        lines.append(f"  {t.id}  {t.zh} / {t.en}: {t.days_setting or '—'} ({unit}) — {t.article}")
    lines += ["", "Guards:"]
    for g in p.guards.values():
        lines.append(f"  {g.id:<9} {g.article:<40} {g.zh}")
    return "\n".join(lines)


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
