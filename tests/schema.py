"""The schema for tests, quickly: `create_all` plus the stamp of the newest migration.

Product code creates every schema through the migrations (models.db.create_schema and
upgrade_schema); tests may take this shortcut because tests/test_migrations.py proves that
the migrations build exactly the schema the models describe. The stamp lets the CLI, which
refuses a database behind the newest migration, open these databases."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from models.db import MarkKind, head_revision, mark_database


def create_all(engine: Engine, kind: MarkKind | None = None) -> None:
    """Every table, stamped at head; with `kind`, also the database mark (e.g. "scenario")."""
    SQLModel.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        connection.execute(text("DELETE FROM alembic_version"))
        connection.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head_revision()}
        )
    if kind is not None:
        mark_database(engine, kind, "tests")
