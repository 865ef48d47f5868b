"""`decisionflow decision ...`: list decisions, show one, and project its timeline."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from cli import app
from cli.common import (
    DatabaseOption,
    HelpCommand,
    HelpGroup,
    ReaderOption,
    ReadNowOption,
    context,
    fail,
    parse_now,
)

if TYPE_CHECKING:
    from flows.timeline import LoadedDecision, ProjectedStep

decision_app = typer.Typer(cls=HelpGroup, help="决策 / decisions", no_args_is_help=True)
app.add_typer(decision_app, name="decision")

RefArgument = Annotated[
    str, typer.Argument(metavar="REF", help="决策编号，如 SF-2026-001 / decision code, e.g. SF-2026-001")
]

SOURCE_ZH = {"deadline": "已计期限 deadline", "planned": "已排定 planned", "projected": "推算 projected"}


def width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(columns - width(text), 0)


def weekday_zh(day: date) -> str:
    from flows.calendar import WEEKDAYS_ZH

    return WEEKDAYS_ZH[day.weekday()]


def step_line(step: ProjectedStep) -> str:
    marks = ("（暂定/provisional）" if step.provisional else "") + (
        "（已逾期/overdue）" if step.overdue else ""
    )
    return (
        f"{step.day.isoformat()} {weekday_zh(step.day)}  {pad(f'{step.zh} / {step.en}', 58)} "
        f"{pad(step.article, 18)} {pad(SOURCE_ZH[step.source], 18)}{marks}"
    ).rstrip()


def stage_label(stage_id: str) -> str:
    from flows import procedure as proc

    stage = proc.procedure().stage_by_id.get(stage_id)
    return f"{stage.zh} {stage.en}" if stage else stage_id


def load_or_fail(session: object, ref: str, actor: str | None = None) -> LoadedDecision:
    """The decision's facts, or exit 2 with NOT_FOUND naming REF; a confidential decision
    only for a reader with a role on it (`--actor`), else exit 2 with AUTH."""
    from sqlmodel import Session

    from flows.errors import ProcedureError
    from flows.service.access import check_read, load_reader
    from flows.timeline import find_decision, load_facts

    assert isinstance(session, Session)
    try:
        _, decision = find_decision(session, ref)
    except ProcedureError as exc:
        if exc.kind != "not_found":
            raise
        fail("NOT_FOUND", "REF", f"决策 {ref} 不存在", f"no decision {ref}")
    try:
        check_read(load_reader(session, actor), decision)
    except ProcedureError as exc:
        fail(exc.rule_id, "--actor", exc.message_zh, exc.message_en)
    return load_facts(session, ref)


def readable_codes(session: object, actor: str | None) -> tuple[set[str], int]:
    """The codes of the decisions `actor` may read, and how many others are left out."""
    from sqlmodel import Session, select

    from flows.errors import ProcedureError
    from flows.service.access import load_reader, may_read
    from models import Decision

    assert isinstance(session, Session)
    try:
        reader = load_reader(session, actor)
    except ProcedureError as exc:
        fail(exc.rule_id, "--actor", exc.message_zh, exc.message_en)
    decisions = list(session.exec(select(Decision)))
    readable = {d.code for d in decisions if may_read(reader, d)}
    return readable, len(decisions) - len(readable)


def hidden_note(hidden: int) -> None:
    if hidden:
        typer.echo(
            f"另有 {hidden} 项依法不予公开的决策未显示（--actor 指明有职责的人员）/ "
            f"{hidden} confidential decision(s) not shown (--actor: a user with a role on them)"
        )


@decision_app.command("timeline", cls=HelpCommand)
def decision_timeline(
    ref: RefArgument, database: DatabaseOption = None, now: ReadNowOption = None, actor: ReaderOption = None
) -> None:
    """推算每个尚待完成的法定步骤的日期及其依据条款。 / The projected date of every remaining statutory
    step, with its article."""
    from sqlmodel import Session

    from flows.calendar import local_date
    from flows.timeline import DECISION_STATUS_ZH

    ctx = context(database)
    moment = parse_now(now) or datetime.now(UTC)
    with Session(ctx.engine) as session:
        loaded = load_or_fail(session, ref, actor)
    facts = loaded.facts
    today = local_date(moment, loaded.timezone)
    steps = loaded.project(today)
    typer.echo(f"{facts.code} {facts.title}")
    typer.echo(
        f"状态 status: {DECISION_STATUS_ZH[facts.status]} {facts.status.value} · "
        f"今天 today: {today.isoformat()} {weekday_zh(today)}"
    )
    if not steps:
        typer.echo("没有尚待完成的法定期限步骤 / no remaining statutory steps with a date")
        return
    typer.echo(f"{pad('日期 date', 17)}  {pad('步骤 step', 58)} {pad('依据 article', 18)} 来源 source")
    for step in steps:
        typer.echo(step_line(step))
    if any(step.provisional for step in steps):
        typer.echo(
            "暂定：所涉年份的节假日安排尚未公布，按周末推算，公布后重新计算（P13）/ "
            "provisional: the year's holiday notice is not loaded yet; weekends only until it is (P13)"
        )


@decision_app.command("list", cls=HelpCommand)
def decision_list(database: DatabaseOption = None, actor: ReaderOption = None) -> None:
    """列出全部决策：编号、状态、当前阶段和事项（依法不予公开的决策仅对有职责的查阅人列出）。 / Every decision:
    code, status, current stage and title (confidential ones only for a reader with a role on them)."""
    from sqlmodel import Session

    from flows.timeline import DECISION_STATUS_ZH, decision_overview

    ctx = context(database)
    with Session(ctx.engine) as session:
        readable, hidden = readable_codes(session, actor)
        rows = [row for row in decision_overview(session, datetime.now(UTC)) if row.code in readable]
    if not rows:
        typer.echo("尚无决策 / no decisions")
        hidden_note(hidden)
        return
    typer.echo(f"{pad('编号 code', 14)} {pad('状态 status', 28)} {pad('当前阶段 stage', 34)} 事项 title")
    for row in rows:
        current = "、".join(stage_label(stage).split(" ")[0] for stage, _ in row.current) or "—"
        typer.echo(
            f"{pad(row.code, 14)} {pad(f'{DECISION_STATUS_ZH[row.status]} {row.status.value}', 28)} "
            f"{pad(current, 34)} {row.title}"
        )
    hidden_note(hidden)


@decision_app.command("show", cls=HelpCommand)
def decision_show(ref: RefArgument, database: DatabaseOption = None, actor: ReaderOption = None) -> None:
    """显示一项决策：各阶段的状态和证据，以及期限。 / One decision: its stages with statuses and evidence,
    and its deadlines."""
    from sqlalchemy import func
    from sqlmodel import Session, col, select

    from flows.timeline import DECISION_STATUS_ZH, STAGE_STATUS_ZH, find_decision
    from models import Deadline, EvidenceDocument, Unit

    ctx = context(database)
    with Session(ctx.engine) as session:
        loaded = load_or_fail(session, ref, actor)
        _, decision = find_decision(session, ref)
        evidence = dict(
            session.exec(
                select(EvidenceDocument.stage, func.count())
                .where(EvidenceDocument.decision_id == decision.id)
                .group_by(col(EvidenceDocument.stage))
            ).all()
        )
        lead = session.get(Unit, decision.lead_unit_id) if decision.lead_unit_id else None
        deadlines = list(
            session.exec(
                select(Deadline).where(Deadline.decision_id == decision.id).order_by(col(Deadline.id))
            )
        )
    facts = loaded.facts
    typer.echo(f"{facts.code} {facts.title}")
    typer.echo(
        f"决策机关 organ: {decision.organ} · 状态 status: {DECISION_STATUS_ZH[facts.status]} "
        f"{facts.status.value} · 程序版本 procedure: {facts.procedure_version}"
    )
    units = ", ".join(decision.unit_codes) or "—"
    typer.echo(f"承办单位 units: {units} · 牵头 lead: {lead.name if lead else '—'}")
    typer.echo(f"标记 flags: {', '.join(sorted(facts.flags)) or '—'}")
    typer.echo("")
    typer.echo(f"{pad('阶段 stage', 44)} {pad('状态 status', 34)} 证据 evidence")
    for stage in loaded.procedure.stages:
        status = facts.stages.get(stage.id)
        if status is None:
            continue
        label = f"{stage.section} {stage.zh} {stage.en}"
        typer.echo(
            f"{pad(label, 44)} {pad(f'{STAGE_STATUS_ZH[status]} {status.value}', 34)} "
            f"{evidence.get(stage.id, 0)}"
        )
    typer.echo("")
    if not deadlines:
        typer.echo("期限 deadlines: —")
        return
    typer.echo(f"{pad('期限 deadline', 26)} {pad('到期 due', 17)} {pad('状态 status', 12)} 依据 article")
    for row in deadlines:
        mark = "（暂定/provisional）" if row.provisional else ""
        typer.echo(
            f"{pad(row.kind, 26)} {row.due_date.isoformat()} {weekday_zh(row.due_date)}  "
            f"{pad(row.status.value, 12)} {row.article}{mark}"
        )
