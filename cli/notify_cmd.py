"""`decisionflow sweep | deadlines | inbox | outbox`: the operator's view of deadlines,
reminders and their delivery (issue 3). Thin: the service layer
(flows.service.notifications, flows.service.sweep) does the work."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cli import app
from cli.common import (
    MAX_ID,
    DatabaseOption,
    HelpCommand,
    HelpGroup,
    NowOption,
    ReaderOption,
    ReadNowOption,
    context,
    fail,
    parse_now,
)

if TYPE_CHECKING:
    from flows.errors import ProcedureError
    from flows.service.framework import ServiceContext
    from flows.service.notifications import DeadlineRow
    from notifications.config import NotificationSettings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="通知设置（YAML）；默认：DECISIONFLOW_NOTIFY_CONFIG，否则仅站内通知"
        " / notification settings (YAML); default: DECISIONFLOW_NOTIFY_CONFIG, else in-app inbox only",
    ),
]

outbox_app = typer.Typer(cls=HelpGroup, help="投递队列 / the delivery outbox (e-mail, webhooks)")
# cli/__init__.py creates `app` before it imports the command modules, so this is safe
app.add_typer(outbox_app, name="outbox")

LIGHTS = {
    "red": ("● 红 red", "bold red"),
    "amber": ("● 黄 amber", "bold yellow"),
    "green": ("● 绿 green", "green"),
}
STATUS_LABELS = {"open": "进行中 open", "fired": "已逾期 overdue"}


# ---------------------------------------------------------------------------- helpers
def load_notify_settings(config: Path | None) -> NotificationSettings:
    """The notification settings, or the CLI error naming the bad field (exit 2)."""
    from notifications.config import load_settings
    from notifications.errors import ConfigError

    try:
        return load_settings(config)
    except ConfigError as exc:
        fail("CONFIG", exc.field, exc.zh, exc.en)


def notify_context(database: str | None, settings: NotificationSettings | None = None) -> ServiceContext:
    ctx: ServiceContext = context(database)
    if settings is not None:
        ctx.notifications = settings
    return ctx


def refused(exc: ProcedureError, field: str) -> NoReturn:
    fail(exc.rule_id, exc.field or field, exc.message_zh, exc.message_en)


def local(moment: datetime | None, with_seconds: bool = False) -> str:
    from flows.calendar import SHANGHAI

    if moment is None:
        return "—"
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def moment_or_now(now: str | None) -> datetime:
    return parse_now(now) or datetime.now(UTC)


# ---------------------------------------------------------------------------- sweep
@app.command("sweep", cls=HelpCommand)
def sweep_once(
    now: NowOption = None,
    database: DatabaseOption = None,
    deliver: Annotated[
        bool,
        typer.Option(
            "--deliver/--no-deliver", help="同时发送发件箱中到期的投递 / also send what is due in the outbox"
        ),
    ] = True,
    config: ConfigOption = None,
) -> None:
    """执行一次期限巡检：触发到期期限、生成提醒、投递发件箱。 / Run the deadline sweep once: fire due
    deadlines, create reminders, deliver the outbox."""
    from flows.errors import ProcedureError
    from flows.service.sweep import sweep
    from notifications.errors import ConfigError
    from notifications.render import Renderer
    from notifications.runtime import check_startup

    settings = load_notify_settings(config)
    try:
        if deliver:
            check_startup(settings)
        else:
            Renderer(settings.templates_dir).check()
    except ConfigError as exc:
        fail("CONFIG", exc.field, exc.zh, exc.en)
    moment = moment_or_now(now)
    ctx = notify_context(database, settings)
    try:
        report = sweep(ctx, moment, deliver=deliver)
    except ProcedureError as exc:
        refused(exc, "--database")
    finally:
        ctx.engine.dispose()
    for point in report.unaddressed:
        typer.echo(f"warning: 无收件人 / no recipient for {point}", err=True)
    for failure in report.deadline_failures:
        typer.echo(
            f"warning: 期限处理失败 / {failure.line()}; 下次重试 / next retry {local(failure.retry_at)}",
            err=True,
        )
    typer.echo(f"{report.line_zh()} / {report.line()}")


# ---------------------------------------------------------------------------- deadlines
def _deadline_cells(row: DeadlineRow) -> list[str]:
    from rich.markup import escape

    from flows.calendar import WEEKDAYS_ZH

    text, style = LIGHTS[row.light]
    decision = escape(f"{row.decision or '—'} {row.title}".strip())
    kind = escape(f"{row.kind_zh} {row.kind_en}")
    due = f"{row.due_date.isoformat()} {WEEKDAYS_ZH[row.due_date.weekday()]} {row.due_date:%a}"
    if row.provisional:
        due += " 暂定 provisional"
    return [
        f"[{style}]{text}[/]",
        decision,
        kind,
        due,
        str(row.working_days_left),
        STATUS_LABELS.get(row.status.value, row.status.value),
        local(row.next_remind_at),
    ]


@app.command("deadlines", cls=HelpCommand)
def deadlines_list(
    overdue: Annotated[
        bool, typer.Option("--overdue", help="仅已逾期的期限 / only deadlines that have passed")
    ] = False,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed",
            help="仅巡检处理失败的期限及其错误 / only deadlines the sweep failed on, with their errors",
        ),
    ] = False,
    unit: Annotated[
        str | None,
        typer.Option(
            "--unit",
            metavar="CODE",
            help="仅该单位牵头或承办的决策 / only decisions this unit leads or undertakes",
        ),
    ] = None,
    actor: ReaderOption = None,
    now: ReadNowOption = None,
    database: DatabaseOption = None,
) -> None:
    """未完成的期限，以红绿灯标示：红色已逾期，黄色 3 个工作日内到期，绿色。加 --failed：触发或提醒失败的期限，
    及巡检何时重试。依法不予公开的决策的期限，仅对在该决策中有职责的查阅人（--actor）列出。 / Open deadlines
    with a traffic light: red overdue, amber due within 3 working days, green. With --failed: the deadlines
    whose firing or reminders failed, and when the sweep retries them. A confidential decision's deadlines
    are listed only for a reader with a role on it (--actor)."""
    from rich.console import Console
    from rich.table import Table

    from flows.errors import ProcedureError
    from flows.service.notifications import deadlines

    if failed:
        if overdue:
            fail("INPUT", "--failed", "--failed 与 --overdue 只能选一个", "give either --failed or --overdue")
        failed_list(unit, database)
        return
    moment = moment_or_now(now)
    ctx = notify_context(database)
    try:
        rows = deadlines(ctx, moment, overdue_only=overdue, unit_code=unit, actor=actor)
    except ProcedureError as exc:
        refused(exc, "--actor" if exc.field == "actor" else "--unit")
    finally:
        ctx.engine.dispose()
    if not rows:
        typer.echo("（无 / none）")
        return
    table = Table()
    table.add_column("灯 light", no_wrap=True)
    table.add_column("决策 decision")
    table.add_column("期限 deadline")
    table.add_column("到期 due")
    table.add_column("剩余工作日 working days left", justify="right")
    table.add_column("状态 status")
    table.add_column("下次提醒 next reminder")
    for row in rows:
        table.add_row(*_deadline_cells(row))
    console = Console() if sys.stdout.isatty() else Console(width=220)
    console.print(table)
    counts = {light: sum(r.light == light for r in rows) for light in LIGHTS}
    typer.echo(
        f"{len(rows)} 项 / deadlines: 红 red {counts['red']}, 黄 amber {counts['amber']}, "
        f"绿 green {counts['green']}"
    )


STEP_LABELS = {"fire": "到期处理 firing", "remind": "提醒 reminders"}


def failed_list(unit: str | None, database: str | None) -> None:
    """`deadlines --failed`: one row per deadline the sweep failed on."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from flows.errors import ProcedureError
    from flows.service.notifications import failed_deadlines

    ctx = notify_context(database)
    try:
        rows = failed_deadlines(ctx, unit_code=unit)
    except ProcedureError as exc:
        refused(exc, "--unit")
    finally:
        ctx.engine.dispose()
    if not rows:
        typer.echo("（无 / none）")
        return
    table = Table()
    table.add_column("期限 deadline")
    table.add_column("决策 decision")
    table.add_column("种类 kind")
    table.add_column("环节 step")
    table.add_column("失败次数 attempts", justify="right")
    table.add_column("最后错误 last error")
    table.add_column("失败于 failed at")
    table.add_column("下次重试 next retry")
    for row in rows:
        table.add_row(
            f"#{row.id}",
            escape(f"{row.decision or '—'} {row.title}".strip()),
            escape(f"{row.kind_zh} {row.kind_en}"),
            STEP_LABELS.get(row.step, row.step),
            str(row.attempts),
            escape(row.last_error),
            local(row.failed_at, with_seconds=True),
            local(row.retry_at, with_seconds=True),
        )
    console = Console() if sys.stdout.isatty() else Console(width=220)
    console.print(table)
    typer.echo(f"{len(rows)} 项失败 / failed deadlines")


# ---------------------------------------------------------------------------- inbox
@app.command("inbox", cls=HelpCommand)
def inbox_list(
    user: Annotated[str, typer.Argument(metavar="USER", help="用户账号，如 li / the user's id, e.g. li")],
    unread: Annotated[bool, typer.Option("--unread", help="仅未读通知 / only unread notifications")] = False,
    read: Annotated[
        list[int] | None,
        typer.Option(
            "--read",
            metavar="ID",
            min=1,
            max=MAX_ID,
            help="将该通知标为已读（可重复） / mark this notification read (repeatable)",
        ),
    ] = None,
    read_all: Annotated[
        bool, typer.Option("--read-all", help="将全部未读通知标为已读 / mark every unread notification read")
    ] = False,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            metavar="USER",
            help="标记已读的人：通知的收件人本人（留审计记录） / who marks them read: the inbox's owner (audited)",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_ID, help="最多显示条数 / show at most this many")
    ] = 50,
    now: NowOption = None,
    database: DatabaseOption = None,
) -> None:
    """用户的站内通知，最新的在前；--read / --read-all 标为已读（仅限本人，以 --actor 指明）。 / A user's
    in-app notifications, newest first; --read / --read-all mark them read (only the owner, named by
    --actor)."""
    from flows.errors import ProcedureError
    from flows.service.notifications import inbox, mark_read

    if read and read_all:
        fail("INPUT", "--read", "--read 与 --read-all 只能选一个", "give either --read or --read-all")
    if (read or read_all) and actor is None:
        fail(
            "AUTH",
            "--actor",
            "标记已读须指明本人（--actor）",
            "marking read needs --actor (the inbox's owner)",
        )
    ctx = notify_context(database)
    try:
        if read or read_all:
            assert actor is not None
            ids = None if read_all else list(read or [])
            marked = mark_read(ctx, user, ids, parse_now(now), actor=actor)
            typer.echo(f"已标记已读 / marked read: {marked}")
        items = inbox(ctx, user, unread_only=unread, limit=limit)
    except ProcedureError as exc:
        refused(exc, "USER")
    finally:
        ctx.engine.dispose()
    for item in items:
        state = "未读 unread" if item.unread else "已读 read  "
        late = " [迟发 late]" if item.late else ""
        typer.echo(
            f"#{item.id:<5} {state}  {local(item.created_at)}  {item.decision or '—'}  "
            f"{item.subject}{late}  {item.link}"
        )
    if not items:
        typer.echo("（无 / none）")


# ---------------------------------------------------------------------------- outbox
OUTBOX_STATUS = {
    "pending": "待发 pending",
    "sending": "发送中 sending",
    "sent": "已发 sent",
    "failed": "失败 failed",
}


@outbox_app.callback(invoke_without_command=True)
def outbox_list(
    typer_ctx: typer.Context,
    failed: Annotated[
        bool, typer.Option("--failed", help="仅已放弃的投递 / only deliveries that gave up")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_ID, help="最多显示条数 / show at most this many")
    ] = 100,
    database: DatabaseOption = None,
) -> None:
    """投递队列：列出投递，最新的在前（outbox retry ID 重发失败的投递）。 / The delivery outbox: list
    deliveries, newest first (outbox retry ID sends a failed one again)."""
    if typer_ctx.invoked_subcommand is not None:
        return
    from flows.service.notifications import outbox

    ctx = notify_context(database)
    try:
        rows = outbox(ctx, failed_only=failed, limit=limit)
    finally:
        ctx.engine.dispose()
    for row in rows:
        when = f"sent {local(row.sent_at)}" if row.sent_at else f"next {local(row.next_attempt_at)}"
        typer.echo(
            f"#{row.id:<5} {OUTBOX_STATUS.get(row.status.value, row.status.value)}  {row.channel} -> "
            f"{row.target}  attempts {row.attempts}  {when}  {row.subject}"
        )
        if row.last_error:
            typer.echo(f"       最后错误 / last error: {row.last_error}")
    if not rows:
        typer.echo("（无 / none）")


@outbox_app.command("retry", cls=HelpCommand)
def outbox_retry(
    delivery_id: Annotated[
        int, typer.Argument(metavar="ID", min=1, max=MAX_ID, help="投递编号 / the delivery's id")
    ],
    actor: Annotated[
        str | None,
        typer.Option("--actor", metavar="ADMIN", help="管理员（留审计记录） / the administrator (audited)"),
    ] = None,
    now: NowOption = None,
    database: DatabaseOption = None,
) -> None:
    """将失败的投递重新置为待发送，下次巡检发送；须由管理员操作。 / Make a failed delivery pending
    again; the next sweep sends it. Needs an administrator."""
    from flows.errors import ProcedureError
    from flows.service.notifications import retry_delivery

    if actor is None:
        fail("AUTH", "--actor", "重发投递须指明管理员（--actor）", "a retry needs --actor (an admin)")
    ctx = notify_context(database)
    try:
        row = retry_delivery(ctx, delivery_id, parse_now(now), actor=actor)
    except ProcedureError as exc:
        refused(exc, "ID")
    finally:
        ctx.engine.dispose()
    typer.echo(
        f"#{row.id} {OUTBOX_STATUS.get(row.status.value, row.status.value)}: "
        f"下次尝试 / next attempt {local(row.next_attempt_at)} ({row.channel} -> {row.target})"
    )
