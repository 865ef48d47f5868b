"""`decisionflow report annual YEAR`: the year's statistics on major decisions, as an HTML
report with charts and the JSON of the same figures (flows/annual_report.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli import app
from cli.common import DatabaseOption, HelpCommand, HelpGroup, ReadNowOption, context, fail, parse_now

# the payload field an error names -> the option or argument of this command
OPTION_OF = {"actor": "--actor", "year": "YEAR", "out_dir": "--out", "now": "--now"}

report_app = typer.Typer(cls=HelpGroup, help="统计报告 / reports", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("annual", cls=HelpCommand)
def report_annual(
    year: Annotated[int, typer.Argument(metavar="YEAR", help="年度，如 2026 / the year, e.g. 2026")],
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            metavar="USER",
            help="生成人账号：对每项决策都有职责的用户，如法制机构 / who builds it (user id): a user with a role"
            " on every decision, e.g. the legal office",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FOLDER",
            help="文件存放文件夹（默认：数据文件夹下的 reports/YEAR） / the folder for the files (default: reports/YEAR in the data folder)",
        ),
    ] = None,
    database: DatabaseOption = None,
    now: ReadNowOption = None,
) -> None:
    """年度统计报告（法治政府建设年度报告）：带图表的 HTML 及 JSON。 / The annual statistics report: HTML with
    charts, and JSON."""
    from sqlmodel import Session

    from flows.annual_report import build_annual_report, check_report_reader
    from flows.errors import ProcedureError
    from flows.hygiene import FIRST_DAY, LAST_DAY

    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        fail(
            "INPUT",
            "YEAR",
            f"年份须在 {FIRST_DAY.year}–{LAST_DAY.year} 之间",
            f"the year must lie in {FIRST_DAY.year}-{LAST_DAY.year}",
        )
    moment = parse_now(now) or datetime.now(UTC)
    ctx = context(database)
    if out is None and ctx.data_dir is None:
        fail(
            "INPUT",
            "--out",
            "未配置数据文件夹（DECISIONFLOW_DATA_DIR），请用 --out 指明输出文件夹",
            "no data folder is configured (DECISIONFLOW_DATA_DIR): name one with --out",
        )
    if out is not None and out.exists() and not out.is_dir():
        fail("INPUT", "--out", f"不是文件夹：{out}", f"not a folder: {out}")
    try:
        with Session(ctx.engine) as session:
            check_report_reader(session, actor)
        report = build_annual_report(ctx, year, out_dir=out, now=moment)
    except ProcedureError as exc:
        fail(
            exc.rule_id,
            OPTION_OF.get(exc.field or "", exc.field or "YEAR"),
            exc.message_zh,
            exc.message_en,
        )
    except OSError as exc:
        fail(
            "INPUT",
            "--out",
            f"无法写入报告：{exc.strerror or exc}",
            f"cannot write the report: {exc.strerror or exc}",
        )
    counts = report.statistics.counts
    typer.echo(
        f"{year} 年度：启动 {counts.started} 项，作出决定 {counts.completed} 项，逾期事项 "
        f"{len(report.statistics.overdue)} 项 / {year}: {counts.started} started, {counts.completed} "
        f"completed, {len(report.statistics.overdue)} overdue"
    )
    typer.echo(f"HTML: {report.html}")
    typer.echo(f"JSON: {report.json}")
