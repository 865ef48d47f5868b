"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
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


MAX_ID = 2**63 - 1  # the largest id a database row can have (BIGINT)
CONNECT_TIMEOUT = 10  # seconds before an unreachable database server is reported


def parse_now(text: str | None, field: str = "--now") -> datetime | None:
    """An ISO 8601 time (local Asia/Shanghai when it has no offset), in 2000-2100."""
    from flows.hygiene import date_problem

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail("INPUT", field, f"{text!r} 不是 ISO 8601 时间", f"{text!r} is not an ISO 8601 time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    problem = date_problem(moment)
    if problem is None:
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            pass
    fail("INPUT", field, "日期须在 2000–2100 年之间", "the date must lie in the years 2000-2100")


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _NotANumber(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise _NotANumber(name)


def _strict_loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def load_json(text: str, field: str) -> Any:
    """JSON from the command line. A key given twice is an error (json.loads would keep
    the last one silently), as are NaN and Infinity."""
    try:
        return _strict_loads(text)
    except _DuplicateKey as exc:
        fail("INPUT", field, f"键 {exc.key!r} 重复出现", f"the key {exc.key!r} appears twice")
    except _NotANumber as exc:
        fail("INPUT", field, f"{exc} 不是有效的 JSON 数值", f"{exc} is not a valid JSON number")
    except json.JSONDecodeError as exc:
        fail("INPUT", field, f"不是有效的 JSON：{exc.msg}", f"not valid JSON: {exc.msg}")
    except RecursionError:
        fail("INPUT", field, "JSON 嵌套过深", "the JSON is nested too deeply")


def set_value(text: str, field: str = "--set") -> Any:
    """The value of `--set key=value`: JSON when it reads as JSON, else the text itself."""
    try:
        return _strict_loads(text)
    except (_NotANumber, json.JSONDecodeError, RecursionError):
        return text
    except _DuplicateKey as exc:
        fail("INPUT", field, f"键 {exc.key!r} 重复出现", f"the key {exc.key!r} appears twice")


def open_engine(database: str | None) -> Engine:
    """The engine for `--database` (or the default), connected once so that a bad URL or
    an unreachable server is a clear error naming --database (exit 2), not a traceback.
    Messages never show the password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from models.db import default_database_url, make_engine, normalise_url

    text = database or default_database_url()
    try:
        url = make_url(normalise_url(text))
    except (ArgumentError, ValueError):
        fail("INPUT", "--database", "不是有效的数据库地址", "not a valid database URL")
    shown = make_url(text).render_as_string(hide_password=True) if "://" in text else "?"
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        fail(
            "INPUT",
            "--database",
            f"不支持的数据库 {url.get_backend_name()!r}（须为 sqlite 或 postgresql）",
            f"unsupported database {url.get_backend_name()!r} (sqlite or postgresql)",
        )
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT)})  # an unreachable host
    try:
        engine = make_engine(url.render_as_string(hide_password=False))
    except (ArgumentError, NoSuchModuleError, ValueError, TypeError, OSError):
        fail("INPUT", "--database", f"无法使用数据库地址 {shown}", f"cannot use the database URL {shown}")
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200] if str(exc) else ""
        fail(
            "INPUT",
            "--database",
            f"无法连接数据库 {shown}：{reason}",
            f"cannot connect to the database {shown}: {reason}",
        )
    return engine


def context(database: str | None, data_dir: Path | None = None):  # type: ignore[no-untyped-def]
    """The service context for a CLI command: creates the schema if the database is new."""
    from flows.service import ServiceContext
    from models.db import create_all

    engine = open_engine(database)
    create_all(engine)
    return ServiceContext(engine=engine, data_dir=data_dir or Path("var"))


def upgrade_database(database: str | None) -> None:
    from alembic.config import Config

    from alembic import command
    from models.db import default_database_url, normalise_url

    root = Path(__file__).resolve().parent.parent
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.set_main_option("sqlalchemy.url", normalise_url(database or default_database_url()))
    command.upgrade(config, "head")
