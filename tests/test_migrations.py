"""The Alembic migrations build exactly the schema the models describe, on SQLite and on
PostgreSQL, and undo it again."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel
from typer.testing import CliRunner

import models  # noqa: F401  (registers every table)
from models.db import make_engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str, schema: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False  # keep pytest's logging
    if schema:
        config.attributes["schema"] = schema
    return config


def differences(engine: Engine) -> list[object]:
    """What autogenerate would still emit: nothing, if the migrations match the models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def model_tables() -> set[str]:
    return set(SQLModel.metadata.tables)


def test_the_migrations_have_one_head_starting_at_the_initial_revision() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert scripts.get_heads() == [scripts.get_current_head()]
    base = scripts.get_bases()
    assert base == ["0001"], base


def test_no_index_repeats_the_leading_columns_of_a_unique_key() -> None:
    """A narrow index beside a unique key that starts with its columns serves nothing the key
    does not, and PostgreSQL's planner may prefer it for a lookup by the whole key on a young
    table, filtering row by row (migration 0013 dropped twenty)."""
    redundant = []
    for table in SQLModel.metadata.tables.values():
        keys = [
            [column.name for column in constraint.columns]
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
        ] + [[column.name for column in index.columns] for index in table.indexes if index.unique]
        for index in table.indexes:
            columns = [column.name for column in index.columns]
            if not index.unique and any(
                len(key) > len(columns) and key[: len(columns)] == columns for key in keys
            ):
                redundant.append(f"{table.name}.{index.name}")
    assert redundant == []


def test_upgrade_head_on_a_fresh_sqlite_file_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    try:
        assert model_tables() <= set(inspect(engine).get_table_names())
        assert differences(engine) == []
        with engine.connect() as connection:
            version = connection.execute(text("select version_num from alembic_version")).scalar_one()
        assert version == ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    finally:
        engine.dispose()


def test_upgrade_head_on_a_fresh_postgres_schema_matches_the_models(
    fresh_postgres_schema: tuple[str, str],
) -> None:
    url, schema = fresh_postgres_schema
    command.upgrade(alembic_config(url, schema), "head")
    engine = make_engine(url, schema=schema)
    try:
        # the tables land in the pinned schema, not in public
        assert model_tables() <= set(inspect(engine).get_table_names(schema=schema))
        assert differences(engine) == []
    finally:
        engine.dispose()


def downgrade_leaves_nothing(url: str, schema: str | None = None) -> None:
    config = alembic_config(url, schema)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = make_engine(url, schema=schema)
    try:
        left = set(inspect(engine).get_table_names(schema=schema))
        assert left <= {"alembic_version"}, left
        with engine.connect() as connection:
            assert connection.execute(text("select count(*) from alembic_version")).scalar_one() == 0
    finally:
        engine.dispose()
    # and the way back up still works after a full downgrade
    command.upgrade(config, "head")
    engine = make_engine(url, schema=schema)
    try:
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_on_sqlite_removes_every_table(tmp_path: Path) -> None:
    downgrade_leaves_nothing(f"sqlite:///{tmp_path / 'down.db'}")


def test_downgrade_to_base_on_postgres_removes_every_table(fresh_postgres_schema: tuple[str, str]) -> None:
    url, schema = fresh_postgres_schema
    downgrade_leaves_nothing(url, schema)


def test_the_cli_db_upgrade_brings_a_new_database_to_head(tmp_path: Path) -> None:
    from cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade", "--database", url])
    assert result.exit_code == 0, result.output
    assert "database at head" in result.output
    engine = make_engine(url)
    try:
        assert differences(engine) == []
    finally:
        engine.dispose()
    # upgrading again is a no-op, not an error
    again = runner.invoke(app, ["db", "upgrade", "--database", url])
    assert again.exit_code == 0, again.output


def test_alembic_x_url_chooses_the_database(tmp_path: Path) -> None:
    """`alembic -x url=...` (the documented command line) reaches env.py."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    config = Config(str(ROOT / "alembic.ini"), cmd_opts=Namespace(x=[f"url={url}"]))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    engine = make_engine(url)
    try:
        assert differences(engine) == []
    finally:
        engine.dispose()
