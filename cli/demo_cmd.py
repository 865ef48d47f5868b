"""`decisionflow demo`: build the demonstration district and show where each decision
stands and its next statutory dates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from cli import app
from cli.common import HelpCommand, NowOption, database_error, fail, open_database, parse_now
from cli.decision_cmd import pad, stage_label, step_line, weekday_zh

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

DEFAULT_DEMO_DATABASE = "sqlite:///var/demo.db"
NEXT_STEPS_SHOWN = 3
ZONE = ZoneInfo("Asia/Shanghai")


FRESH_HELP = (
    "从头重建之前的演示；拒绝任何非演示数据库（见 --force） / rebuild a previous demo from scratch. Refuses any"
    " database that is not a demo (see --force)"
)
FORCE_HELP = (
    "与 --fresh 同用：替换非演示数据库，其决策、审计日志和设置将被销毁。绝不默认：不给出时此类数据库被拒绝且保持不变 / "
    "with --fresh: replace a database that is NOT a demo, DESTROYING its decisions, audit log and "
    "settings. Never implied: without it such a database is refused and left unchanged"
)


@app.command("demo", cls=HelpCommand)
def demo(
    database: Annotated[
        str,
        typer.Option(
            "--database",
            metavar="URL",
            help="演示所用数据库地址（新建 SQLite 文件） / database URL for the demo (a new SQLite file is created)",
        ),
    ] = DEFAULT_DEMO_DATABASE,
    fresh: Annotated[bool, typer.Option("--fresh", help=FRESH_HELP)] = False,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
    now: NowOption = None,
) -> None:
    """建立一个演示区，含十余项处于不同阶段的决策。 / Build a demonstration district with a dozen decisions
    at different stages.

    演示只写入新的或空的数据库，并将其标记为 demo，或再次显示之前的演示；其他数据库一律拒绝，除非用 --fresh --force
    替换。

    The demo writes only to a new or empty database, which it marks `demo`, or shows a
    previous demo again; any other database is refused unless --fresh --force replaces it."""
    from sqlalchemy.exc import DBAPIError
    from sqlmodel import Session, select

    from cli.common import open_database
    from flows.demo import ORGAN, build_demo, demo_password, demo_status
    from flows.errors import ProcedureError
    from flows.service import ServiceContext
    from flows.service.audit import verify_all
    from flows.timeline import DECISION_STATUS_ZH, STAGE_STATUS_ZH
    from models import Jurisdiction
    from models.db import (
        DATA_DIR_ENV,
        DatabaseStateError,
        create_schema,
        data_dir_for,
        database_kind,
        holds_data,
        schema_state,
        sqlite_file,
        upgrade_schema,
    )

    if force and not fresh:
        fail("INPUT", "--force", "只能与 --fresh 一起使用", "only goes with --fresh")
    engine = open_database(database, create=True)
    path = sqlite_file(database)
    data_dir = data_dir_for(database)
    if data_dir is None:
        fail(
            "INPUT",
            DATA_DIR_ENV,
            "此数据库的证据文件夹未配置：请设置 DECISIONFLOW_DATA_DIR",
            "no data folder for this database's evidence files: set DECISIONFLOW_DATA_DIR",
        )
    try:
        kind: str = database_kind(engine)
        with engine.connect() as connection:
            has_rows = holds_data(connection)
    except DBAPIError:
        kind, has_rows = "unreadable", True  # e.g. a file that is not a database
    is_demo = kind == "demo" or not has_rows
    if not is_demo and not (fresh and force):
        engine.dispose()
        fail(
            "INPUT",
            "--database",
            f"此数据库不是演示数据库（{kind}），未作改动；确需用演示替换它，请加 --fresh --force（将删除其全部数据）",
            f"this database is not a demo ({kind}) and was left unchanged; to replace it with the demo, "
            "add --fresh --force (this destroys all its data)",
        )
    rebuild = fresh and has_rows
    if rebuild:
        engine = _replace(engine, database, path)
        _forget_web_key(data_dir)
    if path is not None:
        engine.dispose()
        _fast_sqlite(engine)
    try:
        if rebuild or not has_rows:
            create_schema(engine, "demo", "decisionflow demo")
        elif schema_state(engine) == "behind":
            upgrade_schema(engine, command="decisionflow demo")
    except (DatabaseStateError, DBAPIError) as exc:
        engine.dispose()
        database_error(exc)
    ctx = ServiceContext(engine=engine, data_dir=data_dir)
    moment = parse_now(now) or datetime.now(UTC)
    with Session(engine) as session:
        existing = session.exec(select(Jurisdiction)).first()
    if existing is None:  # the database is marked demo (simulated clock) at creation
        try:
            result = build_demo(ctx, moment)
        except ProcedureError as exc:
            fail(exc.rule_id, exc.field or "demo", exc.message_zh, exc.message_en)
        except DatabaseStateError as exc:
            database_error(exc)
        built = f"{len(result.codes)} 项决策 decisions · {result.actions} 次操作 actions"
    else:
        built = "已有数据，未重建（用 --fresh 重建）/ existing data shown; --fresh rebuilds it"
    with Session(engine) as session:
        rows = demo_status(session, moment)
        chains, events, breaks = verify_all(session)
        accounts = demo_accounts(session)
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
    if accounts:
        typer.echo("演示账号 demo accounts（网页登录 web sign-in: /login）")
        typer.echo(
            f"{pad('账号 account', 13)} {pad('密码 password', 24)} {pad('姓名 name', 18)} {pad('单位 unit', 22)} 角色 roles"
        )
        for code, name, unit_name, roles in accounts:
            typer.echo(
                f"{pad(code, 13)} {pad(demo_password(code), 24)} {pad(name, 18)} {pad(unit_name, 22)} {roles}"
            )
        typer.echo("")
    if rows:
        example = rows[len(rows) // 2].code
        typer.echo(
            f"完整时间线 full timeline: decisionflow decision timeline {example} --database {database}"
        )
    raise typer.Exit(1 if breaks else 0)


def demo_accounts(session: Session) -> list[tuple[str, str, str, str]]:
    """The accounts that can sign in (code, name, unit, roles), in the demo's order."""
    from sqlmodel import col, select

    from flows.demo import USERS
    from models import Credential, Unit, User, UserRole

    order = {user["id"]: index for index, user in enumerate(USERS)}
    rows = session.exec(
        select(User.code, User.name, Unit.name, UserRole.role)
        .join(Unit, col(Unit.id) == User.unit_id)
        .join(Credential, col(Credential.user_id) == col(User.id))
        .outerjoin(UserRole, col(UserRole.user_id) == col(User.id))
        .where(col(User.active).is_(True))
    ).all()
    found: dict[str, tuple[str, str, list[str]]] = {}
    for code, name, unit_name, role in rows:
        found.setdefault(code, (name, unit_name, []))[2].extend([role] if role else [])
    return [
        (code, name, unit_name, ", ".join(sorted(roles)))
        for code, (name, unit_name, roles) in sorted(
            found.items(), key=lambda item: order.get(item[0], len(order))
        )
    ]


def _replace(engine: Engine, database: str, path: Path | None) -> Engine:
    """--fresh on a previous demo, or --fresh --force: remove the old database. A SQLite file is
    deleted with its journal; on PostgreSQL the product's tables are dropped, and nothing else."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    import models  # noqa: F401  (registers every table)

    engine.dispose()
    if path is not None:
        for leftover in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.expanduser().unlink(missing_ok=True)
        return open_database(database, create=True)
    with engine.begin() as connection:
        SQLModel.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    return engine


def _forget_web_key(data_dir: Path) -> None:
    """A rebuilt demo gets a new web key (made when `serve` next starts): the previous demo's
    sessions end, and its comment receipts, which name the same codes (C1, C2, ...) as the new
    demo's comments, no longer open them."""
    from web.app import SESSION_KEY_FILE

    (data_dir / SESSION_KEY_FILE).unlink(missing_ok=True)


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
