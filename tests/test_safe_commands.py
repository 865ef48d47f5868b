"""Safe commands (issue 8, item 3): no command drops or overwrites a database that holds real
decisions, a mistyped SQLite path is an error, every schema comes from the migrations shipped in
the package, evidence lives in one data folder beside the database, and `audit verify` reads
every evidence file back against its SHA-256."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from click.testing import Result
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel
from typer.testing import CliRunner

import models  # noqa: F401  (registers every table)
from cli import app
from cli.common import context
from flows.service import ServiceContext
from models import StoredDocument
from models.db import (
    DatabaseStateError,
    create_schema,
    current_revision,
    data_dir_for,
    database_kind,
    head_revision,
    make_engine,
    mark_database,
    migrations_config,
    read_mark,
)
from tests.helpers import district, drafted, refused, registered
from tests.schema import create_all

ROOT = Path(__file__).resolve().parent.parent
THIN_PATH = ROOT / "scenarios" / "01_thin_path.yaml"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def schema_url(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections use `schema` (libpq `options`)."""
    return f"{url}?options=-csearch_path%3D{schema}"


def dump(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as text: the whole database, to show it did not change."""
    rows: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for name in sorted(inspect(connection).get_table_names()):
            table = SQLModel.metadata.tables.get(name)
            query = select(table) if table is not None else text(f'SELECT * FROM "{name}"')
            rows[name] = sorted(repr(tuple(row)) for row in connection.execute(query))
    engine.dispose()
    return rows


def live_database(url: str, data_dir: Path) -> ServiceContext:
    """A real district with a registered, drafted decision (its evidence in `data_dir`)."""
    engine = make_engine(url)
    create_all(engine, kind="scenario")  # built on the tests' clock, then made live
    ctx = ServiceContext(engine=engine, data_dir=data_dir)
    district(ctx)
    drafted(ctx)
    mark_database(engine, "production", "tests")
    return ctx


@pytest.fixture
def live_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    live_database(url, tmp_path / "live-data").engine.dispose()
    return url


@pytest.fixture
def live_postgres(fresh_postgres_schema: tuple[str, str], tmp_path: Path) -> str:
    url = schema_url(*fresh_postgres_schema)
    live_database(url, tmp_path / "pg-data").engine.dispose()
    return url


def assert_refused_naming_database(result: Result) -> None:
    assert result.exit_code == 2, result.output
    assert "[--database]" in result.output, result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- scenario run
@pytest.mark.parametrize("where", ["sqlite", "postgres"])
def test_scenario_run_on_a_live_database_is_refused_and_changes_nothing(
    where: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finding: `scenario run --database URL` dropped the tables of a live database (on
    PostgreSQL) or merged its settings and users into it (on a SQLite file)."""
    monkeypatch.setenv("DECISIONFLOW_DATA_DIR", str(tmp_path / "data"))
    url = request.getfixturevalue("live_sqlite" if where == "sqlite" else "live_postgres")
    before = dump(make_engine(url))
    assert before["decision"] and before["user"]
    result = run("scenario", "run", str(THIN_PATH), "--database", url)
    assert_refused_naming_database(result)
    assert "already holds data" in result.output and "已有数据" in result.output
    assert "PASSED" not in result.output
    assert dump(make_engine(url)) == before


def test_scenario_run_with_several_files_on_one_database_is_refused_before_anything(tmp_path: Path) -> None:
    target = tmp_path / "many.db"
    result = run("scenario", "run", str(THIN_PATH), str(THIN_PATH), "--database", f"sqlite:///{target}")
    assert_refused_naming_database(result)
    assert "one scenario file" in result.output
    assert not target.exists()


def test_scenario_run_without_database_gives_each_file_its_own_database() -> None:
    result = run("scenario", "run", str(THIN_PATH), str(THIN_PATH))
    assert result.exit_code == 0, result.output
    assert result.output.count("== PASSED") == 2


def test_scenario_run_on_a_new_file_builds_it_from_the_migrations_and_marks_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'play.db'}"
    result = run("scenario", "run", str(THIN_PATH), "--database", url)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    assert database_kind(engine) == "scenario"
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
        assert read_mark(connection)["created_by_command"] == "decisionflow scenario run"
    engine.dispose()
    # its evidence is in the data folder beside it, so the record verifies afterwards
    assert (tmp_path / "play-data" / "documents").is_dir()
    verified = run("audit", "verify", "--database", url)
    assert verified.exit_code == 0, verified.output
    # and a second run on the same (now non-empty) database is refused
    again = run("scenario", "run", str(THIN_PATH), "--database", url)
    assert_refused_naming_database(again)


def test_scenario_run_on_an_empty_upgraded_database_is_allowed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert run("db", "upgrade", "--database", url).exit_code == 0
    engine = make_engine(url)
    assert database_kind(engine) == "production"  # db upgrade made it, with no rows yet
    result = run("scenario", "run", str(THIN_PATH), "--database", url)
    assert result.exit_code == 0, result.output
    assert database_kind(engine) == "scenario"
    engine.dispose()


def test_create_schema_refuses_a_database_with_rows(tmp_path: Path, live_sqlite: str) -> None:
    engine = make_engine(live_sqlite)
    before = dump(engine)
    with pytest.raises(DatabaseStateError):
        create_schema(engine, "scenario", "test")
    assert dump(engine) == before


# ---------------------------------------------------------------- demo
def test_demo_fresh_on_a_live_database_is_refused_and_force_replaces_it(
    tmp_path: Path, live_sqlite: str
) -> None:
    before = dump(make_engine(live_sqlite))
    now = "2026-02-24T10:00"
    for args in (["--fresh"], []):
        result = run("demo", "--database", live_sqlite, *args, "--now", now)
        assert_refused_naming_database(result)
        assert "--force" in result.output and "not a demo" in result.output
        assert dump(make_engine(live_sqlite)) == before
    forced = run("demo", "--database", live_sqlite, "--fresh", "--force", "--now", now)
    assert forced.exit_code == 0, forced.output
    engine = make_engine(live_sqlite)
    assert database_kind(engine) == "demo"
    engine.dispose()
    # a previous demo is rebuilt by --fresh alone
    again = run("demo", "--database", live_sqlite, "--fresh", "--now", now)
    assert again.exit_code == 0, again.output
    # --force without --fresh means nothing and is refused
    assert run("demo", "--database", live_sqlite, "--force").exit_code == 2


def test_demo_force_is_explicit_in_the_help() -> None:
    result = run("demo", "--help")
    assert "--force" in result.output and "DESTROYING" in result.output


def test_demo_fresh_on_a_live_postgres_schema_is_refused_and_force_replaces_it(
    live_postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECISIONFLOW_DATA_DIR", str(tmp_path / "data"))
    before = dump(make_engine(live_postgres))
    result = run("demo", "--database", live_postgres, "--fresh", "--now", "2026-02-24T10:00")
    assert_refused_naming_database(result)
    assert dump(make_engine(live_postgres)) == before
    forced = run("demo", "--database", live_postgres, "--fresh", "--force", "--now", "2026-02-24T10:00")
    assert forced.exit_code == 0, forced.output
    engine = make_engine(live_postgres)
    assert database_kind(engine) == "demo"
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    engine.dispose()


def test_the_demo_refuses_to_build_on_a_database_not_marked_demo(ctx: ServiceContext) -> None:
    from flows.demo import build_demo
    from tests.conftest import at

    with pytest.raises(DatabaseStateError):
        build_demo(ctx, at("2026-02-24T10:00"))


# ---------------------------------------------------------------- a mistyped SQLite path
@pytest.mark.parametrize(
    "args",
    [
        ["decision", "list"],
        ["audit", "verify"],
        ["act", "register_decision", "--actor", "li", "--with", '{"ref": "D1"}'],
        ["sweep"],
    ],
)
def test_a_mistyped_sqlite_path_is_an_error_and_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "typo" / "decisionflw.db"
    result = run(*args, "--database", f"sqlite:///{missing}")
    assert_refused_naming_database(result)
    assert "no such database file" in result.output and "数据库文件不存在" in result.output
    assert not missing.exists() and not missing.parent.exists()


def test_a_bad_database_url_is_an_error() -> None:
    result = run("decision", "list", "--database", "nonsense://x")
    assert_refused_naming_database(result)


def test_the_cli_refuses_a_database_behind_the_migrations_until_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    with engine.connect() as connection:
        command.upgrade(migrations_config(connection), "0002")
        connection.commit()
    engine.dispose()
    listed = run("decision", "list", "--database", url)
    assert_refused_naming_database(listed)
    assert "db upgrade" in listed.output
    assert run("db", "upgrade", "--database", url).exit_code == 0
    assert run("decision", "list", "--database", url).exit_code == 0


# ---------------------------------------------------------------- db upgrade
def test_db_upgrade_works_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no alembic.ini, no migrations folder here
    result = run("db", "upgrade", "--database", "sqlite:///relative.db")
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{elsewhere / 'relative.db'}")
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    assert database_kind(engine) == "production"
    engine.dispose()


def test_db_upgrade_adopts_a_database_made_by_create_all_and_keeps_its_data(live_sqlite: str) -> None:
    """Databases made before the migrations (create_all, no alembic_version) are brought to head."""
    engine = make_engine(live_sqlite)
    with engine.begin() as connection:  # as a create_all leaves them: no stamp, no mark
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("DELETE FROM databasemark"))
    before = dump(engine)
    result = run("db", "upgrade", "--database", live_sqlite)
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    after = dump(engine)
    after.pop("alembic_version")
    assert after["databasemark"] == []  # no mark: it was not made by a command that marks
    assert after == before
    assert database_kind(engine) == "production"


def test_db_upgrade_adopts_an_older_create_all_database(tmp_path: Path) -> None:
    """A database with an older revision's tables and no alembic_version: recognised, upgraded."""
    url = f"sqlite:///{tmp_path / 'older.db'}"
    engine = make_engine(url)
    with engine.connect() as connection:
        command.upgrade(migrations_config(connection), "0002")
        connection.execute(text("DROP TABLE alembic_version"))
        connection.commit()
    result = run("db", "upgrade", "--database", url)
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    engine.dispose()


def test_db_upgrade_refuses_tables_it_does_not_know(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)"))
        connection.execute(text("INSERT INTO invoices VALUES (1, 100)"))
    before = dump(engine)
    result = run("db", "upgrade", "--database", url)
    assert_refused_naming_database(result)
    assert dump(engine) == before


# ---------------------------------------------------------------- the data folder
def test_the_data_folder_is_beside_the_sqlite_file_never_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DECISIONFLOW_DATA_DIR", raising=False)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    db = tmp_path / "gov" / "district.db"
    url = f"sqlite:///{db}"
    assert data_dir_for(url) == tmp_path / "gov" / "district-data"
    assert run("db", "upgrade", "--database", url).exit_code == 0
    ctx = context(url)  # what every CLI command (and serve) builds
    assert ctx.data_dir == tmp_path / "gov" / "district-data"
    mark_database(ctx.engine, "scenario", "tests")  # the helpers below replay the tests' clock
    district(ctx)
    drafted(ctx)
    ctx.engine.dispose()
    assert any((tmp_path / "gov" / "district-data" / "documents").rglob("*"))
    assert not any(elsewhere.iterdir())  # nothing under the current directory (no ./var)


def test_decisionflow_data_dir_chooses_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECISIONFLOW_DATA_DIR", str(tmp_path / "evidence"))
    assert data_dir_for(f"sqlite:///{tmp_path / 'x.db'}") == tmp_path / "evidence"
    assert data_dir_for("postgresql://u@h/db") == tmp_path / "evidence"


def test_postgres_without_a_data_folder_refuses_evidence_and_writes_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DECISIONFLOW_DATA_DIR", raising=False)
    assert data_dir_for("postgresql://u@h/db") is None
    ctx = ServiceContext(engine=engine, data_dir=None)  # what the CLI builds for PostgreSQL
    district(ctx)
    registered(ctx)
    error = refused(ctx, "INPUT", "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    assert error.field == "DECISIONFLOW_DATA_DIR"
    with Session(engine) as session:
        assert session.scalars(select(StoredDocument)).first() is None


# ---------------------------------------------------------------- audit verify reads every blob
def test_audit_verify_catches_an_altered_and_a_missing_evidence_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    ctx = live_database(url, tmp_path / "audit-data")  # the default folder beside the file
    ctx.engine.dispose()
    clean = run("audit", "verify", "--database", url)
    assert clean.exit_code == 0, clean.output
    engine = make_engine(url)
    with Session(engine) as session:
        blobs = sorted(session.scalars(select(StoredDocument)).all(), key=lambda row: row.sha256)
    engine.dispose()
    assert len(blobs) >= 2
    assert f"{len(blobs)} evidence files checked, 0 missing or altered" in clean.output
    store = ctx.documents
    altered, missing = blobs[0].sha256, blobs[1].sha256
    path = store.path_for(altered)
    content = bytearray(path.read_bytes())
    content[0] ^= 0x01  # one byte
    path.write_bytes(bytes(content))
    store.path_for(missing).unlink()
    result = run("audit", "verify", "--database", url)
    assert result.exit_code == 1, result.output
    assert f"BLOB {altered}: altered" in result.output
    assert f"BLOB {missing}: missing" in result.output
    assert "2 missing or altered" in result.output
