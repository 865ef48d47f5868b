"""`decisionflow dispatch`: the outbox dispatcher, once (issue 9). Thin: flows/dispatcher.py
does the work."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cli import app
from cli.common import DatabaseOption, HelpCommand, context, fail

DISPATCH_HELP = (
    "派发一次发件箱中等待的事件：为每个需要机器处理的事件启动一次 Prefect 流程运行，其余标为完成，并输出所做的事。"
    " / Dispatch the waiting outbox events once: start a Prefect flow run for each event that needs "
    "machine work, mark the others done, and print what was done.\n\n"
    "Prefect：--prefect-api，否则 PREFECT_API_URL，否则同一数据文件夹上正在运行的 decisionflow serve 的本地"
    "服务器。每次运行以其事件为键，重复派发不会再启动第二次运行。无法连接 Prefect 时，事件留在发件箱中等待，"
    "命令以退出码 1 退出。\n\n"
    "Prefect: --prefect-api, else PREFECT_API_URL, else the local server of a running "
    "decisionflow serve on the same data folder. Each run is keyed on its event, so dispatching "
    "again never starts a second run. When Prefect cannot be reached the events wait in the "
    "outbox and the command exits 1."
)


@app.command("dispatch", help=DISPATCH_HELP, cls=HelpCommand)
def dispatch(
    database: DatabaseOption = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="最多派发的事件数 / dispatch at most this many events"),
    ] = None,
    prefect_api: Annotated[
        str | None,
        typer.Option(
            "--prefect-api",
            metavar="URL",
            help="流程调度（Prefect）接口地址，如 http://host:4200/api / the Prefect API, e.g. http://host:4200/api",
        ),
    ] = None,
) -> None:
    """Dispatch the waiting outbox events once (see DISPATCH_HELP)."""
    from flows.dispatcher import dispatch_once, prefect_client
    from flows.errors import ProcedureError
    from flows.prefect_runtime import configured_api_url, recorded_api_url
    from flows.service.framework import ServiceContext

    ctx: ServiceContext = context(database)
    try:
        api = prefect_api or configured_api_url() or recorded_api_url(ctx.data_dir)
        report = dispatch_once(ctx, now=datetime.now(UTC), client_factory=prefect_client(api), limit=limit)
    except ProcedureError as exc:
        fail(exc.rule_id, exc.field or "--database", exc.message_zh, exc.message_en)
    finally:
        ctx.engine.dispose()
    for event in report.events:
        if event.outcome == "started":
            typer.echo(f"outbox {event.event_id} {event.event_type} → {event.flow} run {event.flow_run_id}")
        elif event.outcome == "failed":
            typer.echo(f"warning: outbox {event.event_id} {event.event_type}: {event.error}", err=True)
    typer.echo(report.line())
    if report.unreachable:
        typer.echo(
            f"warning: Prefect 不可达，{report.waiting} 个事件在发件箱中等待 / "
            f"Prefect unreachable, {report.waiting} events wait in the outbox",
            err=True,
        )
        raise typer.Exit(1)
