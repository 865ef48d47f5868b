"""Test fixtures. The database under test comes from DECISIONFLOW_TEST_DATABASE (SQLite
in memory when unset); `.ci/run` runs the whole suite once on SQLite and once on
PostgreSQL. Each test gets its own fresh database (a fresh schema on PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from flows.service import ServiceContext
from models.db import make_engine, normalise_url
from tests import guard_tally
from tests.schema import create_all

SHANGHAI = ZoneInfo("Asia/Shanghai")
POSTGRES_URL = os.environ.get("DECISIONFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def require_postgres() -> bool:
    return os.environ.get("DECISIONFLOW_REQUIRE_POSTGRES") == "1"


def postgres_reachable(url: str = POSTGRES_URL) -> bool:
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def test_database_url() -> str:
    return os.environ.get("DECISIONFLOW_TEST_DATABASE", "sqlite://")


@pytest.fixture
def fresh_postgres_schema() -> Iterator[tuple[str, str]]:
    """A new schema on the PostgreSQL server, dropped afterwards: (url, schema)."""
    if not postgres_reachable():
        if require_postgres():
            pytest.fail(
                f"PostgreSQL is required (DECISIONFLOW_REQUIRE_POSTGRES=1) but {POSTGRES_URL} is unreachable"
            )
        pytest.skip("no PostgreSQL server reachable")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield POSTGRES_URL, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _engine_for(url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    if normalise_url(url).startswith("postgresql"):
        schema_iter = request.getfixturevalue("fresh_postgres_schema")
        pg_url, schema = schema_iter
        engine = make_engine(pg_url, schema=schema)
    elif url == "sqlite://":
        engine = make_engine(url)
    else:
        engine = make_engine(url)
    create_all(engine, kind="scenario")  # the tests replay time, as scenario files do
    yield engine
    engine.dispose()


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = test_database_url()
    if url == "sqlite-file":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    yield from _engine_for(url, request)


@pytest.fixture
def pg_engine(fresh_postgres_schema: tuple[str, str]) -> Iterator[Engine]:
    """Always PostgreSQL (for the concurrency tests), whatever the suite's database."""
    url, schema = fresh_postgres_schema
    engine = make_engine(url, schema=schema)
    create_all(engine, kind="scenario")
    yield engine
    engine.dispose()


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    return ServiceContext(engine=engine, data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real Prefect server for the whole session (it takes about 11 s to start): Prefect's
    test harness, a temporary SQLite database, PREFECT_API_URL pointing at it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


def at(text_value: str) -> datetime:
    """A local (Asia/Shanghai) time, as scenario files write it."""
    return datetime.fromisoformat(text_value).replace(tzinfo=SHANGHAI)


# ---------------------------------------------------------------- the guard tally (test_guard_coverage)
COVERAGE_MODULE = "test_guard_coverage.py"


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Run the guard coverage check last, after every refusal test had its chance, and
    note whether this session runs the whole suite (then the in-process tally is complete)."""
    last = [item for item in items if item.path.name == COVERAGE_MODULE]
    items[:] = [item for item in items if item.path.name != COVERAGE_MODULE] + last
    tests_dir = Path(__file__).resolve().parent
    every_module = {p.name for p in tests_dir.glob("test_*.py")}
    collected = {item.path.name for item in items}
    config.stash[WHOLE_SUITE] = (
        collected == every_module
        and not config.getoption("keyword")
        and not config.getoption("markexpr")
        and not config.getoption("deselect")
        and not config.getoption("lf", default=False)
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        guard_tally.forget(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get(guard_tally.TALLY_FILE_ENV)
    if target:
        guard_tally.write(Path(target))


WHOLE_SUITE = pytest.StashKey[bool]()
