"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn
from zoneinfo import ZoneInfo

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DatabaseOption = Annotated[
    str | None, typer.Option("--database", help="database URL (default: DATABASE_URL or SQLite under ./var)")
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="the time the action happens, ISO 8601 (default: now; local = Asia/Shanghai)"),
]


def fail(rule_id: str, field: str, zh: str, en: str) -> NoReturn:
    """A clear CLI input error: the field and the rule, Chinese first."""
    typer.echo(f"error {rule_id} [{field}]: {zh} / {en}", err=True)
    raise typer.Exit(2)


def parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail("INPUT", "--now", f"{text!r} 不是 ISO 8601 时间", f"{text!r} is not an ISO 8601 time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return moment.astimezone(UTC)


def open_database(database: str | None, *, create: bool = False) -> Engine:
    """The engine for `--database` (default: DATABASE_URL or SQLite under ./var). A SQLite
    file that does not exist is a mistyped path (exit 2 naming --database) unless `create`
    (only `db upgrade`, `demo` and `scenario run` make a new database); a bad URL or a server
    that does not answer is exit 2 too, never a traceback."""
    from sqlalchemy import text
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from models.db import default_database_url, is_in_memory, make_engine, sqlite_file

    url = database or default_database_url()
    try:
        path = sqlite_file(url)
        in_memory = is_in_memory(url)
    except ArgumentError:
        fail("INPUT", "--database", f"无法识别的数据库 URL：{url!r}", f"not a database URL: {url!r}")
    if path is not None and not create and not path.expanduser().exists():
        fail(
            "INPUT",
            "--database",
            f"数据库文件不存在：{path}（新数据库请先运行 decisionflow db upgrade）",
            f"no such database file: {path} (for a new database run decisionflow db upgrade first)",
        )
    if path is not None and path.expanduser().is_dir():
        fail(
            "INPUT",
            "--database",
            f"是一个文件夹，不是数据库文件：{path}",
            f"is a folder, not a database file: {path}",
        )
    try:
        engine = make_engine(url)
        if not in_memory and path is None:  # a server: does it answer?
            with engine.connect() as connection:
                connection.execute(text("select 1"))
                connection.rollback()
    except (ArgumentError, DBAPIError, ImportError) as exc:
        reason = first_line(exc)
        fail("INPUT", "--database", f"无法打开数据库：{reason}", f"cannot open the database: {reason}")
    return engine


def first_line(exc: Exception) -> str:
    """A driver error's first line (the driver's own message, not SQLAlchemy's wrapper)."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


def database_error(exc: Exception) -> NoReturn:
    """A database the command may not use: exit 2 naming --database."""
    from models.db import DatabaseStateError

    if isinstance(exc, DatabaseStateError):
        fail("INPUT", "--database", exc.zh, exc.en)
    reason = first_line(exc)
    fail("INPUT", "--database", f"无法使用此数据库：{reason}", f"cannot use this database: {reason}")


def context(database: str | None, data_dir: Path | None = None):  # type: ignore[no-untyped-def]
    """The service context for a CLI command. The database must exist (a SQLite file that
    does not is a mistyped path); one with no tables gets the schema from the migrations and
    the mark `production`; one at an older migration is refused until `db upgrade`. Evidence
    files go to the database's data folder (models.db.data_dir_for), never to ./var."""
    from sqlalchemy.exc import DBAPIError

    from flows.service import ServiceContext
    from models.db import DatabaseStateError, data_dir_for, engine_url, schema_state, upgrade_schema

    engine = open_database(database)
    try:
        state = schema_state(engine)
        if state == "new":
            upgrade_schema(engine, command=command_line())
    except (DatabaseStateError, DBAPIError) as exc:
        engine.dispose()
        database_error(exc)
    if state == "behind":
        engine.dispose()
        fail(
            "INPUT",
            "--database",
            "数据库结构不是当前版本：请先运行 decisionflow db upgrade",
            "the database schema is not at the current version: run decisionflow db upgrade first",
        )
    return ServiceContext(engine=engine, data_dir=data_dir or data_dir_for(engine_url(engine)))


def command_line() -> str:
    """What ran, for the database mark: `decisionflow <sub-command ...>`, without options."""
    import click

    current = click.get_current_context(silent=True)
    words = current.command_path.split()[1:] if current is not None else []
    return " ".join(["decisionflow", *words])


def upgrade_database(database: str | None) -> str:
    """`db upgrade`: the migrations shipped in the package, from any directory; a new SQLite
    file is created. Returns what the database was: new, current or behind."""
    from sqlalchemy.exc import DBAPIError

    from models.db import DatabaseStateError, upgrade_schema

    engine = open_database(database, create=True)
    try:
        return upgrade_schema(engine, command="decisionflow db upgrade")
    except (DatabaseStateError, DBAPIError) as exc:
        database_error(exc)
    finally:
        engine.dispose()
