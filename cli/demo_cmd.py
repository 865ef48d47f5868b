"""`decisionflow demo`: build the demonstration district and show where each decision
stands and its next statutory dates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from cli import app
from cli.common import NowOption, fail, parse_now
from cli.decision_cmd import pad, stage_label, step_line, weekday_zh

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DEFAULT_DEMO_DATABASE = "sqlite:///var/demo.db"
NEXT_STEPS_SHOWN = 3
ZONE = ZoneInfo("Asia/Shanghai")


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (None for in-memory or another database)."""
    if not url.startswith("sqlite:///") or url in ("sqlite:///:memory:",):
        return None
    return Path(url[len("sqlite:///") :])


@app.command("demo")
def demo(
    database: Annotated[
        str, typer.Option("--database", help="database URL for the demo")
    ] = DEFAULT_DEMO_DATABASE,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="start from an empty database (deletes the SQLite file)")
    ] = False,
    now: NowOption = None,
) -> None:
    """Build a demonstration district with a dozen decisions at different stages."""
    from sqlmodel import Session, SQLModel, select

    from flows.demo import ORGAN, build_demo, demo_status
    from flows.errors import ProcedureError
    from flows.service import ServiceContext
    from flows.service.audit import verify_all
    from flows.timeline import DECISION_STATUS_ZH, STAGE_STATUS_ZH
    from models import Jurisdiction
    from models.db import create_all, make_engine

    path = sqlite_file(database)
    if fresh and path is not None:
        for leftover in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
    engine = make_engine(database)
    if path is not None:
        _fast_sqlite(engine)
    if fresh and path is None and engine.dialect.name != "sqlite":
        import models  # noqa: F401  (registers every table)

        SQLModel.metadata.drop_all(engine)
    create_all(engine)
    ctx = ServiceContext(engine=engine, data_dir=path.parent if path is not None else Path("var"))
    moment = parse_now(now) or datetime.now(UTC)
    with Session(engine) as session:
        existing = session.exec(select(Jurisdiction)).first()
    if existing is None:
        from flows.service.clock import mark_database

        mark_database(engine, "demo")  # simulated clock: the demo replays months of history
        try:
            result = build_demo(ctx, moment)
        except ProcedureError as exc:
            fail(exc.rule_id, exc.field or "demo", exc.message_zh, exc.message_en)
        built = f"{len(result.codes)} 项决策 decisions · {result.actions} 次操作 actions"
    else:
        built = "已有数据，未重建（用 --fresh 重建）/ existing data shown; --fresh rebuilds it"
    with Session(engine) as session:
        rows = demo_status(session, moment)
        chains, events, breaks = verify_all(session)
    engine.dispose()

    local = moment.astimezone(ZONE)
    typer.echo(f"{ORGAN if existing is None else existing.organ} · 重大行政决策演示 / decisionflow demo")
    typer.echo(f"时间 now: {local:%Y-%m-%d %H:%M} {weekday_zh(local.date())} (Asia/Shanghai) · {built}")
    typer.echo(
        f"审计链 audit: {chains} 条链 chains, {events} 个事件 events, "
        f"{'全部有效 all valid' if not breaks else f'{len(breaks)} 条损坏 broken'}"
    )
    typer.echo("")
    typer.echo(
        f"{pad('编号 code', 13)} {pad('状态 status', 28)} {pad('当前阶段 current stage', 40)} 事项 title"
    )
    for row in rows:
        current = "、".join(
            f"{stage_label(stage).split(' ')[0]}（{STAGE_STATUS_ZH[status]}）"
            for stage, status in row.current
        )
        typer.echo(
            f"{pad(row.code, 13)} {pad(f'{DECISION_STATUS_ZH[row.status]} {row.status.value}', 28)} "
            f"{pad(current or '—', 40)} {row.title}"
        )
        upcoming = [step for step in row.steps if step.day >= local.date() or step.overdue]
        for step in upcoming[:NEXT_STEPS_SHOWN]:
            typer.echo(f"{'':13}   → {step_line(step)}")
        if not upcoming:
            typer.echo(f"{'':13}   → 无待办法定期限 / no statutory date pending")
    typer.echo("")
    if rows:
        example = rows[len(rows) // 2].code
        typer.echo(
            f"完整时间线 full timeline: decisionflow decision timeline {example} --database {database}"
        )
    raise typer.Exit(1 if breaks else 0)


def _fast_sqlite(engine: Engine) -> None:
    """The demo file uses WAL with NORMAL sync: still consistent after a crash, and it
    spares a disk flush per action, which is most of the demo's time on a busy disk."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
