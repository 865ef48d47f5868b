"""Alembic environment. The target is every SQLModel table (`import models`).

The product (`decisionflow db upgrade`, the demo, scenario runs: models.db) hands over an open
connection in `config.attributes["connection"]`; the migrations then run inside its transaction.
Otherwise (the alembic command line, with alembic.ini) the database comes from, first match wins:
  1. `-x url=...` on the alembic command line;
  2. the config's `sqlalchemy.url`;
  3. DECISIONFLOW_DATABASE_URL / DATABASE_URL, else SQLite under ./var (models.db).
A PostgreSQL schema can be pinned with `-x schema=NAME` or `config.attributes["schema"]`.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table on SQLModel.metadata)
from models.db import default_database_url, make_engine, normalise_url

config = context.config

# Programmatic callers (tests, the CLI) keep their own logging set-up.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def database_url() -> str:
    x_args = context.get_x_argument(as_dictionary=True)
    url = x_args.get("url") or config.get_main_option("sqlalchemy.url") or default_database_url()
    return normalise_url(url)


def database_schema() -> str | None:
    x_args = context.get_x_argument(as_dictionary=True)
    schema = x_args.get("schema") or config.attributes.get("schema")
    return str(schema) if schema else None


def configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=sqlite,
        # models.db opens SQLite transactions explicitly, so its DDL rolls back too.
        transactional_ddl=True if sqlite else None,
    )


def check_sqlite_foreign_keys(connection: Connection) -> None:
    """Batch mode drops and re-creates tables, which SQLite allows only with foreign keys
    off; check afterwards that the copied rows still satisfy every reference."""
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    connection.rollback()
    if problems:
        raise RuntimeError(f"migration left broken foreign keys: {problems[:5]}")


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade head --sql`)."""
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(database_url(), schema=database_schema())
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # outside any transaction, where SQLite honours this pragma
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            configure(connection)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                check_sqlite_foreign_keys(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
