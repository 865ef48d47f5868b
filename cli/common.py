"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import inspect
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _is_cjk(char: str) -> bool:
    return "\u2e80" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef" or char in "，。；：、（）"


def unwrap(text: str | None) -> str | None:
    """Help text with each paragraph on one line: a docstring's hard line breaks would show
    mid-sentence in `--help`. Paragraphs (blank lines) stay; between two Chinese characters
    the break is dropped, elsewhere it becomes a space."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    joined = []
    for paragraph in paragraphs:
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        out = lines[0] if lines else ""
        for line in lines[1:]:
            out += line if _is_cjk(out[-1]) and _is_cjk(line[0]) else " " + line
        joined.append(out)
    return "\n\n".join(joined)


def breakable(text: str | None) -> str | None:
    """A space after Chinese punctuation inside a sentence: the help tables (options, command
    lists) cut a run of Chinese longer than the column with "…" rather than wrap it."""
    return re.sub(r"([，；：。])(?=[\u4e00-\u9fff])", r"\1 ", text) if text else text


class _HelpArgument(TyperArgument):
    """An argument shown by its upper-case metavar alone, without a `<str>` type, and without
    `[1<=x<=9223372036854775807]`: an id's upper bound is the database's, not the reader's."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _get_number_range_help_str(self) -> str | None:
        return None if self.max == MAX_ID else super()._get_number_range_help_str()


class _HelpOption(TyperOption):
    """An option without the database's id bound in its range (see `_HelpArgument`)."""

    def _get_number_range_help_str(self) -> str | None:
        return None if self.max == MAX_ID else super()._get_number_range_help_str()


def _clean_params(params: list[Any]) -> None:
    """Every parameter's metavar in upper case, none showing a Python type (`<str>`, `<bool>`)."""
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _HelpArgument  # the subclasses add behaviour only, no state
            param.metavar = (param.metavar or param.name or "").upper()
        elif type(param) is TyperOption:
            param.__class__ = _HelpOption
            if param.metavar is None:
                param.metavar = "" if param.is_flag else (param.name or "").upper()
        if isinstance(param, TyperOption | TyperArgument):
            param.help = breakable(unwrap(param.help))


def short_help(text: str | None) -> str | None:
    """The one line a command list shows: the first Chinese sentence / the first English one.
    The help is "中文。 / English." or a Chinese paragraph followed by an English one."""
    if not text:
        return None
    paragraphs = text.split("\n\n")
    if "。 / " in paragraphs[0]:
        zh, en = paragraphs[0].split("。 / ", 1)
    elif len(paragraphs) > 1:
        zh, en = paragraphs[0], paragraphs[1]
    else:
        return None
    zh_first = zh.split("。")[0].rstrip("。")
    en_first = en.split(". ")[0].rstrip(".")
    return f"{zh_first} / {en_first}"


class _CleanHelp:
    """`--help` that wraps well and shows clean metavars (see `_clean_params`)."""

    help: str | None
    short_help: str | None
    params: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = unwrap(self.help)
        self.short_help = breakable(self.short_help or short_help(self.help))
        _clean_params(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
            option.help = HELP_OPTION_HELP
        return option


class HelpCommand(_CleanHelp, TyperCommand):
    """Every command of the CLI: `@app.command("name", cls=HelpCommand)`."""


class HelpGroup(_CleanHelp, TyperGroup):
    """Every command group of the CLI: `typer.Typer(cls=HelpGroup, ...)`."""


HELP_OPTION_HELP = "显示本帮助并退出 / show this message and exit"

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        metavar="URL",
        help="数据库地址（默认：DATABASE_URL，或 ./var 下的 SQLite）"
        " / database URL (default: DATABASE_URL or SQLite under ./var)",
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="TIME",
        help="操作发生的时间，ISO 8601（默认：现在；无时区按 Asia/Shanghai）；模拟时间仅限"
        " scenario run 或 demo 建立的数据库 / the time the action happens, ISO 8601 (default: now;"
        " local = Asia/Shanghai); a simulated time only on a database made by scenario run or demo",
    ),
]
ReadNowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="TIME",
        help="按此时间显示，ISO 8601（默认：现在；无时区按 Asia/Shanghai）"
        " / the time to show the view at, ISO 8601 (default: now; local = Asia/Shanghai)",
    ),
]
BackdateOption = Annotated[
    str | None,
    typer.Option(
        "--backdate",
        metavar="TIME",
        help="管理员补记（留审计记录）：操作实际发生的时间，ISO 8601；须同时给出 --reason，不得早于该决策"
        "最近一条记录 / an administrator's audited back-dating: when the action really happened,"
        " ISO 8601; needs --reason, never earlier than the decision's last recorded event",
    ),
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", metavar="TEXT", help="补记理由 / why the action is recorded late")
]
BackdatedByOption = Annotated[
    str | None,
    typer.Option(
        "--backdated-by",
        metavar="ADMIN",
        help="对补记负责的管理员（默认：--actor） / the administrator answering for it (default: --actor)",
    ),
]
ReaderOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        metavar="USER",
        help="查阅人账号：查阅依法不予公开的决策时必填 / who reads (user id): needed for a confidential decision",
    ),
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


def open_database(database: str | None, *, create: bool = False) -> Engine:
    """The engine for `--database` (default: DATABASE_URL or SQLite under ./var). A SQLite
    file that does not exist is a mistyped path (exit 2 naming --database) unless `create`
    (only `db upgrade`, `demo` and `scenario run` make a new database); a bad URL or a server
    that does not answer is exit 2 too, never a traceback."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from models.db import default_database_url, is_in_memory, make_engine, normalise_url, sqlite_file

    url = database or default_database_url()
    try:
        parsed = make_url(normalise_url(url))
        path = sqlite_file(url)
        in_memory = is_in_memory(url)
    except (ArgumentError, ValueError):
        fail("INPUT", "--database", "不是有效的数据库地址", "not a valid database URL")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        fail(
            "INPUT",
            "--database",
            f"不支持的数据库 {parsed.get_backend_name()!r}（须为 sqlite 或 postgresql）",
            f"unsupported database {parsed.get_backend_name()!r} (sqlite or postgresql)",
        )
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        # an unreachable host is reported after CONNECT_TIMEOUT seconds, not hung on
        url = parsed.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT)}).render_as_string(
            hide_password=False
        )
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
    except (ArgumentError, DBAPIError, ImportError, NoSuchModuleError, ValueError, TypeError, OSError) as exc:
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
    from flows.service.checkpoint import KEY_ENV
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
    key = os.environ.get(KEY_ENV)  # the sweep signs hourly checkpoints with it (held outside the database)
    return ServiceContext(
        engine=engine,
        data_dir=data_dir or data_dir_for(engine_url(engine)),
        checkpoint_key=Path(key) if key else None,
    )


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
