"""How long the catalogue documents take to render (issue 9).

    .venv/bin/python -m benchmarks.catalogues [--rows N] [--runs N]

Section 1, catalogues: a decision catalogue of `--rows` entries (default 10,000), built
directly as plain data (the renderers' input; no database), rendered in every format
(HTML, DOCX, XLSX, CSV, JSON). Prints the median time per format over `--runs` runs and the
total, against the target: under 5 s for all formats together.

Section 2, the Prefect overhead per event (`--events`, default 10; 0 skips it): from outbox
commit to flow run completed, median and p95, on a local Prefect server.

`main` runs the sections in `SECTIONS` one after the other."""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import date

from documents.catalogue import FORMATS, CatalogueDocument, CatalogueRow, render

TARGET_SECONDS = 5.0
UNITS = [
    "区发展和改革局",
    "区住房和城乡建设局",
    "区商务局",
    "区卫生健康局",
    "区市场监督管理局",
    "区自然资源局",
]
PROCEDURES = [
    ("public_participation", "公众参与"),
    ("hearing", "听证"),
    ("expert_review", "专家论证"),
    ("risk_assessment", "风险评估"),
    ("fair_competition_review", "公平竞争审查"),
]
STATUSES = ("completed", "in_progress", "deferred", "not_started")


def catalogue(rows: int) -> CatalogueDocument:
    """A published catalogue of `rows` matters with realistic text lengths."""
    items = []
    for n in range(1, rows + 1):
        listed = [PROCEDURES[i] for i in range(len(PROCEDURES)) if (n >> i) & 1]
        listed += [("legality_review", "合法性审查"), ("discussion", "集体讨论决定")]
        items.append(
            CatalogueRow(
                seq=n,
                code=f"E{n}",
                matter_name=f"第{n}号重大行政决策事项：区旧城改造范围内国有土地上房屋征收补偿标准",
                main_content="制定补偿标准和安置方式，明确评估、补偿、搬迁奖励和困难家庭保障。\n分期实施。",
                lead_unit=UNITS[n % len(UNITS)],
                cooperating_units=(UNITS[(n + 1) % len(UNITS)], UNITS[(n + 2) % len(UNITS)]),
                legal_basis="《国有土地上房屋征收与补偿条例》《广东省重大行政决策听证规定》",
                procedures=tuple(zh for _, zh in listed),
                procedure_ids=tuple(stage for stage, _ in listed),
                hearing_required=bool(n & 2),
                planned_time=f"2026年第{'一二三四'[n % 4]}季度",
                progress=STATUSES[n % 4],  # type: ignore[arg-type]
            )
        )
    return CatalogueDocument(
        kind="decisions",
        year=2026,
        version=3,
        organ="示范区人民政府",
        version_status="published",
        dated=date(2026, 5, 21),
        generated_on=date(2026, 11, 27),
        rows=tuple(items),
        current_version=3,
        in_force=True,
        published_on=date(2026, 5, 21),
        published_url="https://www.example.gov.cn/zwgk/zdxzjc/2026",
        party_approval_ref="区委常委会2026年第9次会议",
        meeting_ref="区政府2026年第9次常务会议",
    )


def catalogues_section(args: argparse.Namespace) -> None:
    print(f"## catalogues: {args.rows:,} entries, median of {args.runs} runs")
    doc = catalogue(args.rows)
    medians: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for fmt in FORMATS:
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            data = render(doc, fmt)
            times.append(time.perf_counter() - started)
        medians[fmt] = statistics.median(times)
        sizes[fmt] = len(data)
        print(f"  {fmt:<5} {medians[fmt]:6.2f} s   {sizes[fmt] / 1e6:6.1f} MB")
    total = sum(medians.values())
    verdict = "met" if total < TARGET_SECONDS else "NOT met"
    print(f"  total {total:6.2f} s   (target < {TARGET_SECONDS:.0f} s: {verdict})")


def prefect_section(args: argparse.Namespace) -> None:
    """Section 2: the Prefect overhead per event, from outbox commit to flow run completed,
    median and p95 on a local Prefect server (benchmarks.prefect_overhead); `--events 0` skips it."""
    if args.events > 0:
        from benchmarks.prefect_overhead import report

        report(args.events)


Section = Callable[[argparse.Namespace], None]
# The sections main() runs, in order.
SECTIONS: list[Section] = [catalogues_section, prefect_section]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000, help="catalogue entries (default 10,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per format; the median is shown")
    parser.add_argument("--events", type=int, default=10, help="events for the Prefect overhead (0: skip)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"# decisionflow benchmarks · Python {platform.python_version()} · {platform.machine()}")
    for section in SECTIONS:
        section(args)


if __name__ == "__main__":
    main()
