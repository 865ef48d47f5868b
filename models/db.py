"""Engine and session factory, and the life cycle of a database.

Every schema is created and upgraded by the Alembic migrations shipped in `models/migrations`
(never by `create_all`), and a database the product creates carries a mark saying what it is
for (`models.meta.DatabaseMark`: production, demo or scenario). Evidence files live in one data
folder: `DECISIONFLOW_DATA_DIR`, else beside the SQLite file. Nothing here connects at import time."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from sqlalchemy import delete, event, insert, inspect, literal, select, table
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_DATABASE_FOLDER = Path("var")  # the default SQLite file lives here
DATA_DIR_ENV = "DECISIONFLOW_DATA_DIR"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

DatabaseKind = Literal["production", "demo", "scenario", "empty"]
MarkKind = Literal["production", "demo", "scenario"]
SIMULATED_KINDS: frozenset[str] = frozenset({"demo", "scenario"})
MARK_TABLE = "databasemark"
# Tables that say what the database is, not what it holds.
BOOKKEEPING_TABLES: frozenset[str] = frozenset({"alembic_version", MARK_TABLE})


class DatabaseStateError(Exception):
    """The database is not one the command may use (adapters name `--database`)."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh = zh
        self.en = en
        super().__init__(f"{zh} / {en}")


def default_database_url() -> str:
    """`DATABASE_URL` (or `DECISIONFLOW_DATABASE_URL`), else SQLite under ./var/."""
    url = os.environ.get("DECISIONFLOW_DATABASE_URL") or os.environ.get("DATABASE_URL")
    return url or f"sqlite:///{DEFAULT_DATABASE_FOLDER / 'decisionflow.db'}"


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and route them to psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL; None for an in-memory SQLite or another database."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def is_in_memory(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "sqlite" and sqlite_file(url) is None


def data_dir_for(url: str) -> Path | None:
    """The one data folder of the database at `url`: `DECISIONFLOW_DATA_DIR`, else
    `<file stem>-data/` beside a SQLite file. None when neither applies (PostgreSQL or an
    in-memory SQLite without the variable): then evidence is refused until it is configured."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    path = sqlite_file(url)
    if path is None:
        return None
    path = path.expanduser().resolve()
    return path.parent / f"{path.stem}-data"


def engine_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, schema: str | None = None, echo: bool = False) -> Engine:
    """Create an engine. `schema` pins PostgreSQL's search_path (used for isolated test schemas).
    A SQLite file's folder is created; callers that must not create a database check first
    (`cli.common.open_database`)."""
    url = normalise_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
        path = sqlite_file(url)
        if path is None:
            kwargs["poolclass"] = StaticPool
        else:
            path.expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        _make_sqlite_transactions_serialisable(engine)
    return engine


def _make_sqlite_transactions_serialisable(engine: Engine) -> None:
    """pysqlite starts transactions lazily; take the write lock at BEGIN so that a
    read-check-write action cannot interleave with another writer (SQLAlchemy recipe)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# ------------------------------------------------------------------ what the database is
def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def holds_data(connection: Connection) -> bool:
    """Any row in any table but the bookkeeping ones (alembic_version, the mark). Tables
    the product does not know count too: they are someone's data."""
    for name in sorted(table_names(connection) - BOOKKEEPING_TABLES):
        if connection.execute(select(literal(1)).select_from(table(name)).limit(1)).first() is not None:
            return True
    return False


def read_mark(connection: Connection) -> dict[str, str]:
    if MARK_TABLE not in table_names(connection):
        return {}
    mark = SQLModel.metadata.tables[MARK_TABLE]
    return {str(key): str(value) for key, value in connection.execute(select(mark.c.key, mark.c.value))}


def database_kind(engine: Engine) -> DatabaseKind:
    """What the database is for: the kind its mark names (`production`, `demo`, `scenario`);
    with no mark, `empty` when it holds no rows and `production` otherwise (a database made
    before marks existed is treated as real). Only `demo` and `scenario` are simulated."""
    import models  # noqa: F401  (registers the mark table)

    with engine.connect() as connection:
        kind = read_mark(connection).get("kind")
        if kind in ("production", "demo", "scenario"):
            return cast(DatabaseKind, kind)
        return "production" if holds_data(connection) else "empty"


def is_simulated(engine: Engine) -> bool:
    return database_kind(engine) in SIMULATED_KINDS


def write_mark(connection: Connection, kind: MarkKind, command: str, now: datetime | None = None) -> None:
    """Record what the database is for (replacing an earlier mark of an empty database)."""
    import models  # noqa: F401

    mark = SQLModel.metadata.tables[MARK_TABLE]
    connection.execute(delete(mark))
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    connection.execute(
        insert(mark),
        [
            {"key": "kind", "value": kind},
            {"key": "created_at", "value": moment.isoformat(timespec="seconds")},
            {"key": "created_by_command", "value": command[:200]},
        ],
    )


def mark_database(engine: Engine, kind: MarkKind, command: str, now: datetime | None = None) -> None:
    """Mark an existing schema (tests build theirs with create_all; the product uses create_schema)."""
    with engine.connect() as connection:
        write_mark(connection, kind, command, now)
        connection.commit()


# ------------------------------------------------------------------ migrations
def migrations_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the migrations shipped in this package; with a
    connection, the migrations run on it (inside the caller's transaction)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["configure_logger"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrations_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


SchemaState = Literal["new", "current", "behind"]


def schema_state(engine: Engine) -> SchemaState:
    """`new`: no tables of ours (nothing to keep); `current`: at the newest migration;
    `behind`: an older migration, or tables made before migrations (`db upgrade` fixes both)."""
    with engine.connect() as connection:
        tables = table_names(connection)
        if not tables - BOOKKEEPING_TABLES:
            return "new"
        if "alembic_version" in tables and current_revision(connection) == head_revision():
            return "current"
        return "behind"


def _shape(connection: Connection) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Each table's columns and named indexes: enough to tell the migrations' schemas apart."""
    inspector = inspect(connection)
    return {
        name: (
            frozenset(str(c["name"]) for c in inspector.get_columns(name)),
            frozenset(str(i["name"]) for i in inspector.get_indexes(name) if i.get("name")),
        )
        for name in inspector.get_table_names()
        if name != "alembic_version"
    }


def legacy_revision(connection: Connection) -> str | None:
    """The migration whose schema a database made by `create_all` before the migrations (no
    alembic_version, no mark) has exactly, tables, columns and indexes: each revision is built
    on a scratch in-memory database and compared. The newest match wins."""
    from alembic import command
    from alembic.script import ScriptDirectory

    found = _shape(connection)
    revisions = list(reversed(list(ScriptDirectory.from_config(migrations_config()).walk_revisions())))
    scratch = make_engine("sqlite://")
    matched: str | None = None
    try:
        with scratch.connect() as conn:
            for revision in revisions:
                command.upgrade(migrations_config(conn), revision.revision)
                if _shape(conn) == found:
                    matched = revision.revision
            conn.rollback()
    finally:
        scratch.dispose()
    return matched


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Batch migrations copy tables, which SQLite allows only with foreign keys off; the
    pragma works only outside a transaction, so it is set on the raw connection first."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        raw.execute("PRAGMA foreign_keys=ON")


def _migrate(
    engine: Engine,
    *,
    command: str,
    kind: MarkKind,
    require_empty: bool,
    now: datetime | None,
) -> SchemaState:
    from alembic import command as alembic_command

    import models  # noqa: F401  (every table, for env.py and the mark)

    with engine.connect() as connection, _sqlite_foreign_keys_off(connection):
        tables = table_names(connection)
        state: SchemaState = "new" if not tables - BOOKKEEPING_TABLES else "behind"
        if require_empty and holds_data(connection):
            raise DatabaseStateError(
                "数据库已有数据，未作改动：请用一个新的或空的数据库",
                "the database already holds data and was left unchanged: use a new or empty database",
            )
        if state == "behind" and "alembic_version" not in tables:
            revision = legacy_revision(connection)
            if revision is None:
                raise DatabaseStateError(
                    "数据库中的表不属于本产品的任何版本，未作改动",
                    "the database's tables match no version of this product; nothing was changed",
                )
            alembic_command.stamp(migrations_config(connection), revision)
        elif state == "behind" and current_revision(connection) == head_revision():
            state = "current"
        alembic_command.upgrade(migrations_config(connection), "head")
        if state == "new" or require_empty:
            write_mark(connection, kind, command, now)
        if connection.dialect.name == "sqlite":
            problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if problems:
                raise RuntimeError(f"migration left broken foreign keys: {problems[:5]}")
        connection.commit()
    return state


def upgrade_schema(engine: Engine, *, command: str, now: datetime | None = None) -> SchemaState:
    """Bring the database to the newest migration, in one transaction; returns what it was.

    A new database (no tables of ours) gets the whole schema and the mark `production`.
    A database made by `create_all` before the migrations (tables, no alembic_version) is
    stamped at the revision its tables match, then upgraded; one that matches none is refused."""
    return _migrate(engine, command=command, kind="production", require_empty=False, now=now)


def create_schema(engine: Engine, kind: MarkKind, command: str, now: datetime | None = None) -> None:
    """Make a database that holds no rows ready for `kind` (the migrations, stamped at head)
    and mark it so. A database that holds any row is refused and left as it was."""
    _migrate(engine, command=command, kind=kind, require_empty=True, now=now)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


T = TypeVar("T")
MAX_ATTEMPTS = 4
# PostgreSQL SQLSTATEs of a lost race: unique_violation (two writers inserted the same key: an
# audit seq, an auto-numbered code, one shared evidence blob), serialization_failure and
# deadlock_detected. The retry re-reads, then succeeds or is refused.
RETRYABLE_SQLSTATES = frozenset({"23505", "40001", "40P01"})


def is_conflict(exc: Exception) -> bool:
    original = getattr(exc, "orig", exc)
    if getattr(original, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    text = str(original).lower()
    return any(
        marker in text
        for marker in ("auditevent", "deadlock", "could not serialize", "database is locked", "serialization")
    )


def transact(engine: Engine, work: Callable[[Session], T], *, attempts: int = MAX_ATTEMPTS) -> T:
    """The one unit of work of every writer: `work` runs in one transaction, which commits
    when it returns and rolls back when it raises; a transaction that lost a race to another
    writer (a conflicting key, a serialization failure, a deadlock) runs again from the
    start, re-reading what it needs. The caller appends its audit event and its outbox rows
    inside `work`, so they commit or vanish with the state they describe."""
    for attempt in range(1, attempts + 1):
        try:
            with session_scope(engine) as session:
                return work(session)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts or not is_conflict(exc):
                raise
            time.sleep(0.01 * attempt)  # back off before retrying a lost race
    raise AssertionError("unreachable")


@lru_cache(maxsize=8)
def cached_engine(url: str) -> Engine:
    return make_engine(url)
