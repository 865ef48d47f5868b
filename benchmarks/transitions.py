"""How fast the service layer applies actions, against the bare unit of one transaction.

    .venv/bin/python -m benchmarks.transitions [--database URL ...] [--count N]

For each database (by default a SQLite file and the local PostgreSQL), in one run, prints
actions per second of:

- the bare SQLModel unit: one UPDATE and one INSERT per transaction, through a session;
- `submit_public_comment` on an open comment period (the public's hot path);
- `register_decision`;

and each action's ratio to the bare unit (targets: comment >= 0.5, register >= 0.3). The three
run in interleaved rounds, so a load that comes and goes weighs on each alike. By default each
runs 2,000 transactions: by the end the decision holds 2,000 comments and the jurisdiction
2,000 decisions, so a lookup that grows with either shows in the figures."""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from flows.service import ServiceContext, run_action, setup_jurisdiction
from models.db import create_schema, make_engine
from tests.helpers import UNITS, USERS, at

DEFAULT_DATABASES = ("sqlite-file", "postgresql://postgres@127.0.0.1:5432/test")


class BenchCounter(SQLModel, table=True):
    """The bare unit's row: updated once per transaction."""

    __tablename__ = "bench_counter"
    id: int | None = Field(default=None, primary_key=True)
    value: int = 0


class BenchLog(SQLModel, table=True):
    """The bare unit's append-only row: one inserted per transaction."""

    __tablename__ = "bench_log"
    id: int | None = Field(default=None, primary_key=True)
    counter_id: int
    at: datetime
    note: str = ""


class Timed:
    """Seconds spent and transactions done by one kind of work, over interleaved rounds."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def run(self, first: int, count: int, work: Callable[[int], object]) -> None:
        began = time.perf_counter()
        for i in range(first, first + count):
            work(i)
        self.seconds += time.perf_counter() - began
        self.count += count

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def bare_unit(engine: Engine) -> Callable[[int], None]:
    tables = [BenchCounter.__table__, BenchLog.__table__]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(engine, tables=tables)
    with Session(engine) as session:
        counter = BenchCounter()
        session.add(counter)
        session.commit()
        counter_id = counter.id or 0

    def one(i: int) -> None:
        with Session(engine) as session:
            row = session.get(BenchCounter, counter_id)
            assert row is not None
            row.value += 1
            session.add(row)
            session.add(BenchLog(counter_id=counter_id, at=datetime.now(UTC), note=f"n{i}"))
            session.commit()

    return one


def service(engine: Engine, data_dir: Path) -> tuple[Callable[[int], object], Callable[[int], object]]:
    """(submit one comment, register one decision), on a district with an open comment period."""
    ctx = ServiceContext(engine=engine, data_dir=data_dir)
    setup_jurisdiction(ctx, {"organ": "基准区人民政府"}, UNITS, USERS, now=at("2026-01-05T09:00"))
    start = at("2026-03-02T09:00")
    first = {"ref": "B", "title": "基准决策", "category": 1, "lead_unit": "housing"}
    run_action(ctx, "register_decision", "li", first, now=start)
    run_action(ctx, "start_procedure", "zhou", {"decision": "B"}, now=start + timedelta(hours=1))
    draft = {"decision": "B", "draft": "草案", "explanation": "说明"}
    run_action(ctx, "submit_draft", "li", draft, now=start + timedelta(hours=2))
    period = {"decision": "B", "start_date": "2026-03-03", "end_date": "2026-04-02", "channels": ["website"]}
    run_action(ctx, "open_comment_period", "li", period, now=at("2026-03-03T08:00"))

    def register(i: int) -> object:
        data = {"ref": f"B{i}", "title": f"基准决策{i}", "category": 1, "lead_unit": "housing"}
        return run_action(ctx, "register_decision", "li", data, now=start + timedelta(seconds=i))

    def comment(i: int) -> object:
        data = {"decision": "B", "text": f"意见{i}"}
        return run_action(
            ctx, "submit_public_comment", "public", data, now=at("2026-03-04T09:00") + timedelta(seconds=i)
        )

    return comment, register


def measure(database: str, count: int, rounds: int) -> None:
    """The bare unit and the service each on a new database of the same kind, in interleaved
    rounds, so that a load on the machine that comes and goes weighs on all three alike."""
    schemas: list[str] = []
    admin = None
    with tempfile.TemporaryDirectory() as scratch:

        def new_engine(name: str) -> Engine:
            if database == "sqlite-file":
                return make_engine(f"sqlite:///{Path(scratch) / name}.db")
            schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
            assert admin is not None
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            schemas.append(schema)
            return make_engine(database, schema=schema)

        label = "SQLite (file)" if database == "sqlite-file" else "PostgreSQL"
        if database != "sqlite-file":
            admin = make_engine(database)
        try:
            bare_engine = new_engine("bare")
            engine = new_engine("service")
            create_schema(engine, "scenario", "benchmarks.transitions")  # simulated clock
            bare_work = bare_unit(bare_engine)
            comment_work, register_work = service(engine, Path(scratch) / "data")
            bare, comment, register = Timed(), Timed(), Timed()
            per_round = max(1, count // rounds)
            for r in range(rounds):
                bare.run(r * per_round, per_round, bare_work)
                comment.run(r * per_round, per_round, comment_work)
                register.run(r * per_round, per_round, register_work)
            bare_engine.dispose()
            engine.dispose()
        finally:
            if admin is not None:
                with admin.begin() as conn:
                    for schema in schemas:
                        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    print(f"{label}: {bare.count} transactions each, in {rounds} interleaved rounds")
    print(f"  bare unit (1 UPDATE + 1 INSERT)  {bare.rate:8.1f}/s")
    print(
        f"  submit_public_comment            {comment.rate:8.1f}/s  {comment.rate / bare.rate:.2f}x  (target >= 0.5x)"
    )
    print(
        f"  register_decision                {register.rate:8.1f}/s  {register.rate / bare.rate:.2f}x  (target >= 0.3x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", action="append", help="sqlite-file or a URL (repeatable)")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    for database in args.database or DEFAULT_DATABASES:
        measure(database, args.count, args.rounds)


if __name__ == "__main__":
    main()
