"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn
from zoneinfo import ZoneInfo

import typer

DatabaseOption = Annotated[
    str | None, typer.Option("--database", help="database URL (default: DATABASE_URL or SQLite under ./var)")
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="the time the action happens, ISO 8601 (default: now; local = Asia/Shanghai); a simulated"
        " time is accepted only on a database made by `scenario run` or `demo`",
    ),
]
ReadNowOption = Annotated[
    str | None,
    typer.Option(
        "--now", help="the time to show the view at, ISO 8601 (default: now; local = Asia/Shanghai)"
    ),
]
BackdateOption = Annotated[
    str | None,
    typer.Option(
        "--backdate",
        metavar="TIME",
        help="an administrator's audited back-dating: when the action really happened, ISO 8601;"
        " needs --reason, never earlier than the decision's last recorded event",
    ),
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="why the action is recorded late")]
BackdatedByOption = Annotated[
    str | None,
    typer.Option(
        "--backdated-by", metavar="ADMIN", help="the administrator answering for it (default: --actor)"
    ),
]
ReaderOption = Annotated[
    str | None,
    typer.Option("--actor", help="who reads (user id): needed for a confidential decision"),
]


def fail(rule_id: str, field: str, zh: str, en: str) -> NoReturn:
    """A clear CLI input error: the field and the rule, Chinese first."""
    typer.echo(f"error {rule_id} [{field}]: {zh} / {en}", err=True)
    raise typer.Exit(2)


def parse_now(text: str | None, option: str = "--now") -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail("INPUT", option, f"{text!r} 不是 ISO 8601 时间", f"{text!r} is not an ISO 8601 time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return moment.astimezone(UTC)


def context(database: str | None, data_dir: Path | None = None):  # type: ignore[no-untyped-def]
    """The service context for a CLI command: creates the schema if the database is new."""
    from flows.service import ServiceContext
    from models.db import create_all, default_database_url, make_engine

    engine = make_engine(database or default_database_url())
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
