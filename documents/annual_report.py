"""The annual statistics report as documents: one self-contained HTML page (inline CSS and
inline SVG charts, no script, no external file) and the JSON of the same figures.

Both are rendered from one plain mapping (`flows.annual_report.report_data`), so they cannot
disagree. Every figure printed in the HTML carries `data-key`, the path of its value in the
JSON, so a reader (or a test) can check one against the other. Text is Chinese first, with
English labels. Titles and every other text are escaped by the template's autoescape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from documents.files import write_whole

TEMPLATE = "annual_report.html"

# One colour per stage, in procedure order (colour-blind safe hues, then greys).
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#6b8e23",
    "#8c564b",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
LABEL_W = 200  # the label column of the bar charts
PLOT_W = 460
ROW_H = 30
GANTT_LABEL_W = 250
GANTT_PLOT_W = 700
GANTT_ROW_H = 22
BAR_H = 15.0  # the height a row's bars share
MONTHS_ZH = ("1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月")


# ------------------------------------------------------------------ value formats
def number(value: Any) -> str:
    """A count or a median: "—" when there is none; 2.0 prints as 2, 2.5 as 2.5."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def percent(value: Any) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def short(text: str, limit: int = 16) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------ chart geometry (pure)
def _ticks(top: int, count: int = 5) -> list[int]:
    step = max(1, -(-top // count))
    return list(range(0, top + 1, step))


def duration_chart(stages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per stage completed in the year: the median (dark) and maximum (light) working days."""
    shown = [s for s in stages if s["completed"]]
    top = max([int(s["max_working_days"]) for s in shown] + [1])
    scale = PLOT_W / top
    rows = [
        {
            "y": 10 + i * ROW_H,
            "zh": s["zh"],
            "en": s["en"],
            "median": s["median_working_days"],
            "max": s["max_working_days"],
            "median_w": round(float(s["median_working_days"]) * scale, 1),
            "max_w": round(float(s["max_working_days"]) * scale, 1),
            "colour": PALETTE[i % len(PALETTE)],
        }
        for i, s in enumerate(shown)
    ]
    ticks = [{"x": round(LABEL_W + t * scale, 1), "value": t} for t in _ticks(top)]
    return {
        "width": LABEL_W + PLOT_W + 90,
        "height": 10 + len(rows) * ROW_H + 30,
        "label_w": LABEL_W,
        "plot_end": LABEL_W + PLOT_W,
        "axis_y": 10 + len(rows) * ROW_H,
        "rows": rows,
        "ticks": ticks,
    }


def rate_chart(units: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per lead unit with settled deadlines: its on-time rate, 0-100%."""
    shown = [u for u in units if u["timeliness"]["on_time_rate"] is not None]
    rows = [
        {
            "y": 10 + i * ROW_H,
            "name": u["name"],
            "rate": u["timeliness"]["on_time_rate"],
            "on_time": u["timeliness"]["on_time"],
            "deadlines": u["timeliness"]["deadlines"],
            "w": round(float(u["timeliness"]["on_time_rate"]) * PLOT_W, 1),
        }
        for i, u in enumerate(shown)
    ]
    ticks = [{"x": LABEL_W + PLOT_W * t // 100, "value": f"{t}%"} for t in (0, 25, 50, 75, 100)]
    return {
        "width": LABEL_W + PLOT_W + 110,
        "height": 10 + len(rows) * ROW_H + 30,
        "label_w": LABEL_W,
        "plot_w": PLOT_W,
        "axis_y": 10 + len(rows) * ROW_H,
        "rows": rows,
        "ticks": ticks,
    }


def gantt_chart(
    timeline: Sequence[Mapping[str, Any]], stages: Sequence[Mapping[str, Any]], start: str, end: str
) -> dict[str, Any]:
    """One row per decision, one bar per stage worked on in the period (clipped to it)."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    days = (last - first).days + 1
    day_w = GANTT_PLOT_W / days
    colours = {s["stage"]: PALETTE[i % len(PALETTE)] for i, s in enumerate(stages)}
    rows = []
    used: dict[str, Mapping[str, Any]] = {}
    for i, row in enumerate(timeline):
        y = 24 + i * GANTT_ROW_H
        lanes = _lanes(row["bars"])
        height = round(BAR_H / (max(lanes) + 1), 1) if lanes else BAR_H
        bars = []
        for bar, lane in zip(row["bars"], lanes, strict=True):
            begin, finish = date.fromisoformat(bar["start"]), date.fromisoformat(bar["end"])
            used.setdefault(bar["stage"], bar)
            bars.append(
                {
                    **bar,
                    "x": round(GANTT_LABEL_W + (begin - first).days * day_w, 1),
                    "w": round(max((finish - begin).days + 1, 1) * day_w, 1),
                    "y": round(y + 3 + lane * height, 1),
                    "h": height,
                    "colour": colours.get(bar["stage"], PALETTE[-1]),
                }
            )
        rows.append({**row, "y": y, "label": short(row["title"], 11), "bars": bars})
    months = []
    day = first.replace(day=1)
    while day <= last:
        if day >= first:
            months.append(
                {"x": round(GANTT_LABEL_W + (day - first).days * day_w, 1), "label": MONTHS_ZH[day.month - 1]}
            )
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    legend = [
        {"zh": bar["zh"], "en": bar["en"], "colour": colours.get(stage, PALETTE[-1])}
        for stage, bar in sorted(used.items(), key=lambda item: list(colours).index(item[0]))
    ]
    return {
        "width": GANTT_LABEL_W + GANTT_PLOT_W + 20,
        "height": 24 + len(rows) * GANTT_ROW_H + 10,
        "label_w": GANTT_LABEL_W,
        "plot_end": GANTT_LABEL_W + GANTT_PLOT_W,
        "rows": rows,
        "months": months,
        "legend": legend,
    }


def _lanes(bars: Sequence[Mapping[str, Any]]) -> list[int]:
    """A lane for each bar of one row, so that stages run side by side (participation, expert
    review, risk assessment) are drawn one above the other instead of over each other."""
    ends: list[date] = []  # the last day taken in each lane
    lanes = []
    for bar in bars:
        begin, finish = date.fromisoformat(bar["start"]), date.fromisoformat(bar["end"])
        lane = next((n for n, end in enumerate(ends) if end < begin), len(ends))
        if lane == len(ends):
            ends.append(finish)
        else:
            ends[lane] = finish
        lanes.append(lane)
    return lanes


# ------------------------------------------------------------------ rendering
@lru_cache(maxsize=1)
def environment() -> Environment:
    """The one template environment for the report: packaged templates, strict variables,
    autoescape on (HTML)."""
    env = Environment(
        loader=PackageLoader("documents", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["number"] = number
    env.filters["percent"] = percent
    return env


def render_html(report: Mapping[str, Any]) -> bytes:
    charts = {
        "durations": duration_chart(report["stages"]),
        "rates": rate_chart(report["units"]),
        "gantt": gantt_chart(
            report["timeline"], report["stages"], report["period_start"], report["period_end"]
        ),
    }
    text = environment().get_template(TEMPLATE).render(r=report, charts=charts)
    return text.encode("utf-8")


def render_json(report: Mapping[str, Any]) -> bytes:
    return (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_report(report: Mapping[str, Any], out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write `<stem>.html` and `<stem>.json` into `out_dir` (created); returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html, data = out_dir / f"{stem}.html", out_dir / f"{stem}.json"
    write_whole(html, render_html(report), mode=0o600)  # as before: published by a person
    write_whole(data, render_json(report), mode=0o600)
    return html, data


__all__ = ["render_html", "render_json", "write_report"]
