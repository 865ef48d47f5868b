"""`decisionflow calendar ...`: load a year's holiday notice, show a year, count days
(P2, P13)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli import app
from cli.common import DatabaseOption, HelpCommand, HelpGroup, NowOption, context, fail, parse_now

calendar_app = typer.Typer(cls=HelpGroup, help="工作日历 / the working-day calendar", no_args_is_help=True)
# cli/__init__.py creates `app` before it imports the command modules, so this is safe
app.add_typer(calendar_app, name="calendar")

MAX_DAYS = 3660  # about ten years: anything longer is a typing mistake


@calendar_app.command("load", cls=HelpCommand)
def calendar_load(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="当年的放假通知，.yaml 或 .csv / the year's notice, .yaml or .csv"
        ),
    ],
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            metavar="ADMIN",
            help="载入的管理员（账号；留审计记录） / the administrator who loads it (user id; audited)",
        ),
    ] = None,
    now: NowOption = None,
    database: DatabaseOption = None,
) -> None:
    """载入一年的节假日和调休上班日，并重算受影响的期限；须由管理员（--actor）操作。 / Load a year's
    holidays and make-up working days; recompute the deadlines they move. Needs an administrator (--actor)."""
    from flows.errors import ProcedureError
    from flows.service.calendar_admin import load_calendar_file

    if not file.is_file():
        fail("INPUT", "FILE", f"文件不存在：{file}", f"no such file: {file}")
    if actor is None:
        fail(
            "AUTH", "--actor", "载入放假通知须指明管理员", "loading a holiday notice needs --actor (an admin)"
        )
    moment = parse_now(now)
    ctx = context(database)
    try:
        result = load_calendar_file(ctx, file, actor=actor, now=moment)
    except ProcedureError as exc:
        fail(exc.rule_id, exc.field or "FILE", exc.message_zh, exc.message_en)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    verb = "重新载入 / reloaded" if result.replaced else "已载入 / loaded"
    typer.echo(
        f"{result.year} {verb}: {result.holidays} 个假日 / holidays, "
        f"{result.workdays} 个调休上班日 / make-up working days"
    )
    typer.echo(f"来源 / source: {result.source}")
    typer.echo(f"重算期限 / deadlines recomputed: {len(result.recomputed)}")
    for item in result.recomputed:
        ref = f" #{item.subject_ref}" if item.subject_ref else ""
        marker = " 暂定 / provisional" if item.provisional else ""
        typer.echo(f"  {item.decision or '-'} {item.kind}{ref}: {item.old_due} -> {item.new_due}{marker}")


@calendar_app.command("show", cls=HelpCommand)
def calendar_show(
    year: Annotated[str, typer.Argument(metavar="YEAR", help="年份，如 2027 / the year, e.g. 2027")],
    database: DatabaseOption = None,
) -> None:
    """列出一年的节假日和调休上班日，以及该年是否已确认。 / List a year's holidays and make-up working days,
    and whether the year is confirmed."""
    from sqlmodel import Session

    from flows.calendar import SHANGHAI, WEEKDAYS_ZH
    from flows.service.calendar_admin import (
        FIRST_YEAR,
        LAST_YEAR,
        holiday_blocks,
        weekday_label,
        year_summary,
    )

    if not re.fullmatch(r"\d{4}", year.strip()) or not FIRST_YEAR <= int(year) <= LAST_YEAR:
        fail(
            "INPUT",
            "YEAR",
            f"{year!r} 须为 {FIRST_YEAR}–{LAST_YEAR} 的年份",
            f"{year!r} must be a year {FIRST_YEAR}-{LAST_YEAR}",
        )
    ctx = context(database)
    with Session(ctx.engine) as session:
        summary = year_summary(session, int(year))
    if summary.status == "loaded":
        loaded_at = (
            summary.loaded_at.astimezone(SHANGHAI).isoformat(sep=" ", timespec="minutes")
            if summary.loaded_at
            else "?"
        )
        status = f"已确认（管理员载入）/ confirmed (loaded by {summary.loaded_by} at {loaded_at})"
    elif summary.status == "chinesecalendar":
        status = "已确认（chinesecalendar）/ confirmed (chinesecalendar)"
    else:
        status = "暂定：未载入放假通知，仅按周末计算（P13）/ provisional: no holiday notice loaded, weekends only (P13)"
    typer.echo(f"{summary.year}: {status}")
    if summary.source:
        typer.echo(f"来源 / source: {summary.source}")
    if not summary.confirmed:
        return
    typer.echo("假日 / holidays:")
    for name, first, last in holiday_blocks(summary.holidays):
        span = f"{first} {WEEKDAYS_ZH[first.weekday()]}"
        if last != first:
            span += f" .. {last} {WEEKDAYS_ZH[last.weekday()]}"
        typer.echo(f"  {name}: {span} ({(last - first).days + 1} 天 / days)")
    typer.echo("调休上班 / make-up working days:")
    for day, note in summary.workdays:
        typer.echo(f"  {day} {weekday_label(day)}  {note}")
    if not summary.workdays:
        typer.echo("  （无 / none）")


@calendar_app.command("add-days", cls=HelpCommand)
def calendar_add_days(
    start: Annotated[
        str,
        typer.Argument(
            metavar="DATE",
            help="起算日，YYYY-MM-DD（不计入，P2） / the start day, YYYY-MM-DD (not counted, P2)",
        ),
    ],
    days: Annotated[
        str, typer.Argument(metavar="N", help="天数；负数向前推算 / how many days; negative counts back")
    ],
    working: Annotated[
        bool,
        typer.Option(
            "--working/--calendar",
            help="按工作日（默认）或自然日计算 / count working days (default) or calendar days",
        ),
    ] = True,
    database: DatabaseOption = None,
) -> None:
    """按已载入的日历，求 DATE 之后第 N 个工作日（或自然日）。以自然日计的期间届满日为休息日的，顺延至下一个工作日（P2）。
    / The day N working (or calendar) days after DATE, by the loaded calendar. A calendar-day period ending
    on a day off rolls to the next working day (P2)."""
    from sqlmodel import Session

    from flows.hygiene import date_problem
    from flows.service.calendar_admin import weekday_label
    from flows.service.framework import load_calendar
    from models.enums import DayUnit

    try:
        start_day = (
            date.fromisoformat(start.strip()) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", start.strip()) else None
        )
    except ValueError:
        start_day = None
    if start_day is None:
        fail("INPUT", "DATE", f"{start!r} 不是 YYYY-MM-DD 日期", f"{start!r} is not a YYYY-MM-DD date")
    if date_problem(start_day) is not None:
        fail("INPUT", "DATE", "日期须在 2000–2100 年之间", "the date must lie in the years 2000-2100")
    if not re.fullmatch(r"-?\d+", days.strip()) or abs(int(days)) > MAX_DAYS:
        fail(
            "INPUT",
            "N",
            f"{days!r} 须为绝对值不超过 {MAX_DAYS} 的整数",
            f"{days!r} must be an integer of at most {MAX_DAYS}",
        )
    count = int(days)
    unit = DayUnit.working if working else DayUnit.calendar
    ctx = context(database)
    with Session(ctx.engine) as session:
        calendar = load_calendar(session)
    try:
        result = calendar.add(start_day, abs(count), unit, direction=-1 if count < 0 else 1)
    except OverflowError:
        fail("INPUT", "N", "结果超出日期范围", "the result is out of the date range")
    unit_text = "个工作日 / working days" if working else "个自然日 / calendar days"
    marker = (
        "  暂定 / provisional (P13: 计数经过未确认放假安排的年份 / counted through a year with no confirmed calendar)"
        if result.provisional
        else ""
    )
    typer.echo(f"{start_day} {count:+d} {unit_text} = {result.day} {weekday_label(result.day)}{marker}")


__all__ = ["calendar_app"]
