"""How long the deadline sweep takes on a large deadline table, and how fast the outbox
delivers e-mail (issue 3).

    .venv/bin/python -m benchmarks.sweep [--rows N] [--due N] [--deliveries N] [--runs N]
                                         [--only sqlite|postgres] [--postgres URL]

On each database (a SQLite file under a temporary folder; a fresh schema on PostgreSQL,
dropped afterwards) it sets up a jurisdiction, registers a few decisions through the
service layer, then bulk-loads `--rows` deadline rows (COPY on PostgreSQL, Core executemany
on SQLite), with reminder cursors computed by the same code the service uses:

a) a sweep that finds nothing due (`sweep(ctx, now)`): median and p95 over `--runs` runs,
   next to the bare indexed queries it issues. Target < 10 ms.
b) one sweep that creates `--due` reminders (`before:3` points due at `now`), rendering
   included; the Notification rows created are counted. Target < 10 s.
c) `notifications.outbox.dispatch` of `--deliveries` e-mails to a real aiosmtpd server
   running in its own process (tests/smtp_server.py); the server's count is checked.

Of the loaded rows, a fifth are met (no reminder cursor); the rest are open, with due dates
spread over six months and their next reminder in the future."""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from flows import procedure as proc
from flows.service import ServiceContext, run_action, setup_jurisdiction
from flows.service.framework import (
    due_instant,
    load_calendar,
    plan_reminders,
    resolved_settings,
    the_jurisdiction,
)
from flows.service.sweep import sweep
from models import Deadline, Decision, Delivery, DeliveryStatus, Notification, Unit
from models.db import create_schema, is_sqlite, make_engine
from models.enums import DayUnit, DeadlineStatus
from notifications.config import parse_settings
from notifications.outbox import dispatch
from notifications.policy import iter_points, resolve
from notifications.runtime import build_channels
from tests.helpers import UNITS, USERS, at

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
KIND = "stage_planned"
# The timeline (Asia/Shanghai): set-up, the bulk rows' creation, and the due dates whose
# `before:3` reminder points are the instants swept in (b) and (c).
SETUP = "2026-05-04T09:00"
LOADED = "2026-05-11T09:00"
DUE_DAY = date(2026, 6, 5)  # (b): before:3 falls on Tuesday 06-02 09:00
MAIL_DAY = date(2026, 6, 8)  # (c): before:3 falls on Wednesday 06-03 09:00
FUTURE_FROM = DUE_DAY + timedelta(days=14)  # the rest: nothing due before mid-June
FUTURE_DAYS = 182
COLUMNS = (
    "decision_id",
    "kind",
    "stage",
    "subject_ref",
    "base_date",
    "days",
    "unit",
    "direction",
    "roll_to_working_day",
    "due_date",
    "due_at",
    "provisional",
    "blocking",
    "article",
    "status",
    "fired_at",
    "closed_at",
    "created_at",
    "next_remind_at",
    "reminded_until",
)
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Schedule:
    """One due date's stored values, as the service computes them."""

    due_date: date
    due_at: datetime  # UTC
    next_remind_at: datetime | None


@dataclass
class Figures:
    database: str
    rows: int
    load_s: float = 0.0
    empty_ms: tuple[float, float] = (0.0, 0.0)  # median, p95
    bare_ms: tuple[float, float] = (0.0, 0.0)
    due: int = 0
    due_s: float = 0.0
    deliveries: int = 0
    dispatch_s: float = 0.0
    raw_send_s: float = 0.0  # the same messages over one SMTP connection, no database writes
    received: int = 0


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def say(line: str) -> None:
    print(line, flush=True)


def median_p95(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# ---------------------------------------------------------------- building the data
def users_with_email() -> list[dict[str, Any]]:
    return [{**user, "email": f"{user['id']}@example.org"} for user in USERS]


def register_decisions(ctx: ServiceContext, count: int) -> list[int]:
    """`count` decisions, led alternately by housing (li) and commerce (sun)."""
    start = at("2026-05-06T09:00")
    for i in range(count):
        lead, actor = ("housing", "li") if i % 2 == 0 else ("commerce", "sun")
        run_action(
            ctx,
            "register_decision",
            actor,
            {"ref": f"S{i}", "title": f"基准决策{i}", "category": 1, "lead_unit": lead},
            now=start + timedelta(seconds=i),
        )
    with Session(ctx.engine) as session:
        units = {unit.id: unit.code for unit in session.exec(sqlmodel_select(Unit))}
        decisions = list(session.exec(sqlmodel_select(Decision).order_by(col(Decision.id))))
    leads = [units[d.lead_unit_id] for d in decisions[:2] if d.lead_unit_id is not None]
    assert len(decisions) == count and leads == ["housing", "commerce"][: min(2, count)], leads
    return [d.id for d in decisions if d.id is not None]


def schedules(engine: Engine, days: Sequence[date]) -> dict[date, Schedule]:
    """Due instant and reminder cursor of a stage_planned deadline created at LOADED, per
    due date, computed by the service's own planning code."""
    created = at(LOADED).astimezone(UTC)
    spec = proc.DEADLINE_KINDS[KIND]
    with Session(engine) as session:
        jurisdiction = the_jurisdiction(session)
        settings = resolved_settings(jurisdiction)
        calendar = load_calendar(session)
    tz = ZoneInfo(jurisdiction.timezone)
    found: dict[date, Schedule] = {}
    for day in days:
        deadline = Deadline(
            kind=KIND,
            stage=spec.stage,
            base_date=day,
            days=0,
            unit=DayUnit.calendar,
            due_date=day,
            due_at=due_instant(spec, day, tz),
            article=spec.article,
            status=DeadlineStatus.open,
            created_at=created,
        )
        plan_reminders(deadline, settings, calendar, tz, created)
        found[day] = Schedule(
            day,
            utc(deadline.due_at),
            utc(deadline.next_remind_at) if deadline.next_remind_at else None,
        )
    return found


def working_days(engine: Engine, first: date, span: int) -> list[date]:
    with Session(engine) as session:
        calendar = load_calendar(session)
    days = (first + timedelta(days=n) for n in range(span))
    return [day for day in days if calendar.is_working_day(day)]


def deadline_rows(
    total: int,
    due: int,
    mail: int,
    decisions: Sequence[int],
    plan: dict[date, Schedule],
    future: Sequence[date],
) -> Iterator[Row]:
    """`due` rows due for a reminder at the (b) instant, `mail` at the (c) instant, then
    the bulk: every fifth met, the others open with their next reminder in the future."""
    spec = proc.DEADLINE_KINDS[KIND]
    created, base = utc(at(LOADED)), at(LOADED).date()
    for i in range(total):
        if i < due:
            schedule, status = plan[DUE_DAY], "open"
        elif i < due + mail:
            schedule, status = plan[MAIL_DAY], "open"
        else:
            schedule, status = plan[future[i % len(future)]], "met" if i % 5 == 0 else "open"
        met = status == "met"
        yield (
            decisions[i % len(decisions)],
            KIND,
            spec.stage,
            "",
            base,
            (schedule.due_date - base).days,
            "calendar",
            1,
            True,
            schedule.due_date,
            schedule.due_at,
            False,
            spec.blocking,
            spec.article,
            status,
            None,
            created + timedelta(days=7) if met else None,
            created,
            None if met else schedule.next_remind_at,
            created,
        )


def load(engine: Engine, rows: Iterator[Row], total: int) -> None:
    """COPY on PostgreSQL, executemany in chunks on SQLite; ANALYZE on PostgreSQL."""
    step = max(1, total // 5)
    if is_sqlite(engine):
        table = Deadline.__table__  # type: ignore[attr-defined]
        with engine.begin() as conn:
            chunk: list[dict[str, Any]] = []
            for n, row in enumerate(rows, 1):
                chunk.append(dict(zip(COLUMNS, row, strict=True)))
                if len(chunk) == 20_000:
                    conn.execute(table.insert(), chunk)
                    chunk = []
                if n % step == 0:
                    say(f"    {n:>11,} rows")
            if chunk:
                conn.execute(table.insert(), chunk)
        return
    raw = engine.raw_connection()
    try:
        sql = f"COPY deadline ({', '.join(COLUMNS)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[attr-defined]
            for n, row in enumerate(rows, 1):
                copy.write_row(row)
                if n % step == 0:
                    say(f"    {n:>11,} rows")
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE deadline"))


# ---------------------------------------------------------------- the measurements
def sweep_queries(now: datetime, batch_size: int) -> list[Any]:
    """The three SELECTs an empty sweep issues, as bare Core statements: due deadlines,
    due reminder points, due deliveries (each as the sweep writes it, locking rows)."""
    d = Deadline.__table__.c  # type: ignore[attr-defined]
    o = Delivery.__table__.c  # type: ignore[attr-defined]
    due_delivery = or_(
        and_(o.status == DeliveryStatus.pending, o.next_attempt_at <= now),
        and_(o.status == DeliveryStatus.sending, o.lease_until < now),
    )
    return [
        select(d.id)
        .where(d.status == DeadlineStatus.open, d.due_at <= now)
        .order_by(d.due_at, d.id)
        .limit(1)
        .with_for_update(skip_locked=True),
        select(d.id)
        .where(d.next_remind_at <= now)
        .order_by(d.next_remind_at, d.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True),
        select(o.id)
        .where(due_delivery)
        .order_by(o.next_attempt_at, o.id)
        .limit(100)
        .with_for_update(skip_locked=True),
    ]


def query_plan(engine: Engine, now: datetime) -> str:
    """How the database answers the reminder query (one line)."""
    statement = sweep_queries(now, 500)[1].compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        if is_sqlite(engine):
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all()
            return "; ".join(str(row[-1]) for row in rows)
        rows = conn.exec_driver_sql(f"EXPLAIN (COSTS OFF) {statement}").all()
        return " / ".join(str(row[0]).strip().removeprefix("->  ") for row in rows)


def timed(action: Callable[[], object], runs: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def empty_sweep(ctx: ServiceContext, now: datetime, runs: int, figures: Figures) -> None:
    def once() -> None:
        report = sweep(ctx, now)
        assert not report.did_anything, report.line()

    figures.empty_ms = median_p95(timed(once, runs))
    with ctx.engine.connect() as conn:
        queries = sweep_queries(now, ctx.notifications.batch_size)

        def bare() -> None:
            for query in queries:
                assert conn.execute(query).first() is None
            conn.rollback()

        figures.bare_ms = median_p95(timed(bare, runs))
    say(
        f"  a) empty sweep {figures.empty_ms[0]:.2f} / {figures.empty_ms[1]:.2f} ms (median / p95),"
        f" bare queries {figures.bare_ms[0]:.2f} / {figures.bare_ms[1]:.2f} ms"
    )


def count(engine: Engine, statement: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(statement).scalar_one())


def due_sweep(ctx: ServiceContext, now: datetime, expected: int, figures: Figures) -> None:
    before = count(ctx.engine, select(func.count()).select_from(Notification))
    began = time.perf_counter()
    report = sweep(ctx, now, deliver=False)
    figures.due_s = time.perf_counter() - began
    created = count(ctx.engine, select(func.count()).select_from(Notification)) - before
    left = count(ctx.engine, select(func.count()).where(col(Deadline.next_remind_at) <= now))
    assert report.reminders == created == expected, (report.line(), created, expected)
    assert report.late == 0 and report.fired == 0 and left == 0, (report.line(), left)
    figures.due = created
    say(
        f"  b) one sweep created {created:,} reminders in {figures.due_s:.2f} s"
        f" ({created / figures.due_s:,.0f}/s); verified: {created:,} Notification rows, 0 deadlines left due"
    )


def _smtp_process(conn: Connection) -> None:
    """The SMTP server's own process: report the port, wait for the expected count, report
    what arrived."""
    from tests.smtp_server import serve_smtp

    with serve_smtp() as server:
        conn.send(server.port)
        try:
            expected = int(conn.recv())
        except EOFError:  # the benchmark stopped before dispatching
            return
        with contextlib.suppress(AssertionError):  # the parent compares the counts
            server.wait_for(expected, timeout=60)
        conn.send((len(server.messages), len(server.duplicates()), server.connections))


def pending_messages(engine: Engine, now: datetime) -> list[Any]:
    """The pending e-mails as a channel is given them, read without writing anything."""
    from models import Notification, User
    from notifications.outbox import message_for

    with Session(engine) as session:
        rows = session.exec(
            select(Delivery, Notification, User.name)
            .join(Notification, col(Notification.id) == col(Delivery.notification_id))
            .join(User, col(User.id) == col(Notification.user_id))
            .where(col(Delivery.status) == DeliveryStatus.pending, col(Delivery.channel) == "email")
            .order_by(col(Delivery.id))
        ).all()
        return [message_for(delivery, note, name, "", now) for delivery, note, name in rows]


def delivery_run(engine: Engine, data_dir: Path, now: datetime, expected: int, figures: Figures) -> None:
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    server = spawn.Process(target=_smtp_process, args=(theirs,), daemon=True)
    server.start()
    theirs.close()
    try:
        if not ours.poll(60):
            raise RuntimeError("the SMTP server process did not start")
        port = int(ours.recv())
        settings = parse_settings(
            {
                "channels": ["inbox", "email"],
                "smtp": {"host": "127.0.0.1", "port": port, "sender": "decisionflow@example.org"},
            }
        )
        ctx = ServiceContext(engine=engine, data_dir=data_dir, notifications=settings)
        report = sweep(ctx, now, deliver=False)
        pending = count(
            engine,
            select(func.count()).select_from(Delivery).where(col(Delivery.status) == DeliveryStatus.pending),
        )
        assert report.reminders == pending == expected, (report.line(), pending, expected)
        say(f"  c) {pending:,} e-mails pending; dispatching to 127.0.0.1:{port}")
        channels = build_channels(settings)
        # side by side: the same messages sent by this process over one SMTP connection,
        # with no database writes at all (the rate the bookkeeping is measured against)
        messages = pending_messages(engine, now)
        began = time.perf_counter()
        for message in messages:
            channels["email"].send(message)
        figures.raw_send_s = time.perf_counter() - began
        channels["email"].close()
        channels = build_channels(settings)
        began = time.perf_counter()
        try:
            outcome = dispatch(engine, now, channels, settings.retry)
        finally:
            for channel in channels.values():
                channel.close()
        figures.dispatch_s = time.perf_counter() - began
        ours.send(2 * expected)
        if not ours.poll(90):
            raise RuntimeError("the SMTP server process did not report")
        received, duplicates, connections = ours.recv()
        sent = count(
            engine,
            select(func.count()).select_from(Delivery).where(col(Delivery.status) == DeliveryStatus.sent),
        )
        assert outcome.sent == sent == expected and received == 2 * expected, (
            outcome,
            sent,
            received,
            duplicates,
        )
        figures.deliveries, figures.received = expected, received
        say(
            f"  c) dispatched {expected:,} e-mails in {figures.dispatch_s:.2f} s"
            f" ({expected / figures.dispatch_s:,.0f}/s) over {connections} SMTP connection(s);"
            f" verified: the server received {received:,} (each message twice: raw, then dispatched),"
            f" {sent:,} deliveries sent; raw sends of the same messages {expected / figures.raw_send_s:,.0f}/s"
        )
    finally:
        ours.close()
        server.join(30)
        if server.is_alive():
            server.terminate()
            server.join()


# ---------------------------------------------------------------- one database
def run(name: str, engine: Engine, args: argparse.Namespace) -> Figures:
    figures = Figures(database=name, rows=args.rows)
    create_schema(engine, "scenario", "benchmarks/sweep.py")
    with tempfile.TemporaryDirectory() as data_dir:
        ctx = ServiceContext(engine=engine, data_dir=Path(data_dir))
        setup_jurisdiction(ctx, {"organ": "基准区人民政府"}, UNITS, users_with_email(), now=at(SETUP))
        decisions = register_decisions(ctx, args.decisions)
        future = working_days(engine, FUTURE_FROM, FUTURE_DAYS)
        plan = schedules(engine, [DUE_DAY, MAIL_DAY, *future])
        now, mail_now = plan[DUE_DAY].next_remind_at, plan[MAIL_DAY].next_remind_at
        assert now is not None and mail_now is not None
        check_timeline(engine, now, mail_now, plan)
        say(f"  {args.decisions} decisions registered; loading {args.rows:,} deadline rows")
        began = time.perf_counter()
        load(engine, deadline_rows(args.rows, args.due, args.deliveries, decisions, plan, future), args.rows)
        figures.load_s = time.perf_counter() - began
        stored = count(engine, select(func.count()).select_from(Deadline))
        assert stored == args.rows, stored
        say(f"  loaded {stored:,} rows in {figures.load_s:.1f} s")
        quiet = now - timedelta(minutes=1)  # (a): the (b) reminders are a minute away
        say(f"  reminder query plan: {query_plan(engine, quiet)}")
        empty_sweep(ctx, quiet, args.runs, figures)
        if args.due:
            due_sweep(ctx, now, args.due, figures)
        if args.deliveries:
            delivery_run(engine, Path(data_dir), mail_now, args.deliveries, figures)
    return figures


def check_timeline(engine: Engine, now: datetime, mail_now: datetime, plan: dict[date, Schedule]) -> None:
    """The (b) instant comes before the (c) one, and nothing else is due by then."""
    with Session(engine) as session:
        jurisdiction = the_jurisdiction(session)
        calendar = load_calendar(session)
        overrides = resolved_settings(jurisdiction).get("reminder_policy") or {}
    policy = resolve(KIND, overrides)
    assert policy is not None
    tz = ZoneInfo(jurisdiction.timezone)
    due_points = list(iter_points(policy, DUE_DAY, plan[DUE_DAY].due_at, calendar, tz))
    assert due_points[0].key == "before:3" and due_points[0].at == now
    assert now < mail_now < due_points[1].at
    others = [s.next_remind_at for day, s in plan.items() if day not in (DUE_DAY, MAIL_DAY)]
    assert all(t is not None and t > mail_now for t in others)


def sqlite_run(args: argparse.Namespace) -> Figures:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        say(f"SQLite ({path})")
        engine = make_engine(f"sqlite:///{path}")
        try:
            return run("SQLite", engine, args)
        finally:
            engine.dispose()


def postgres_run(args: argparse.Namespace) -> Figures:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.postgres)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        version = str(conn.execute(text("SHOW server_version")).scalar_one())
    say(f"PostgreSQL {version} (schema {schema})")
    engine = make_engine(args.postgres, schema=schema)
    try:
        return run("PostgreSQL", engine, args)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# ---------------------------------------------------------------- the report
def table(results: Sequence[Figures], args: argparse.Namespace) -> None:
    lines: list[tuple[str, list[str]]] = [
        (f"load {args.rows:,} deadline rows (s)", [f"{f.load_s:.1f}" for f in results]),
        (
            f"a) sweep, nothing due: median / p95 of {args.runs} (ms)",
            [f"{f.empty_ms[0]:.2f} / {f.empty_ms[1]:.2f}" for f in results],
        ),
        (
            "a) its 3 SELECTs alone: median / p95 (ms)",
            [f"{f.bare_ms[0]:.2f} / {f.bare_ms[1]:.2f}" for f in results],
        ),
    ]
    if args.due:
        lines += [
            (f"b) one sweep creating {args.due:,} reminders (s)", [f"{f.due_s:.2f}" for f in results]),
            ("b) reminders/s (rendered, inbox rows)", [f"{f.due / f.due_s:,.0f}" for f in results]),
        ]
    if args.deliveries:
        lines += [
            (
                f"c) dispatch {args.deliveries:,} e-mails to local SMTP (s)",
                [f"{f.dispatch_s:.2f}" for f in results],
            ),
            ("c) e-mails/s", [f"{f.deliveries / f.dispatch_s:,.0f}" for f in results]),
            (
                "c) raw SMTP sends/s, no database (same process)",
                [f"{f.deliveries / f.raw_send_s:,.0f}" for f in results],
            ),
            (
                "c) dispatch rate / raw rate (target >= 0.5)",
                [f"{f.raw_send_s / f.dispatch_s:.2f}" for f in results],
            ),
        ]
    width = max(len(label) for label, _ in lines) + 2
    say("")
    say(
        f"decisionflow sweep benchmark: {args.rows:,} deadline rows;"
        f" machine: {os.cpu_count()} cores, Python {platform.python_version()},"
        f" 1-min load average {os.getloadavg()[0]:.1f}"
    )
    say(" " * width + "".join(f"{f.database:>16}" for f in results))
    for label, cells in lines:
        say(label.ljust(width) + "".join(f"{cell:>16}" for cell in cells))
    say("targets: (a) < 10 ms, (b) < 10 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="deadline rows in all")
    parser.add_argument("--due", type=int, default=10_000, help="reminders due in (b)")
    parser.add_argument("--deliveries", type=int, default=2_000, help="e-mails dispatched in (c)")
    parser.add_argument("--runs", type=int, default=200, help="timed empty sweeps in (a)")
    parser.add_argument("--decisions", type=int, default=100)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--postgres", default=os.environ.get("DECISIONFLOW_BENCH_POSTGRES", POSTGRES_URL))
    args = parser.parse_args()
    if args.due + args.deliveries > args.rows:
        parser.error("--due plus --deliveries must not exceed --rows")
    results = []
    if args.only != "postgres":
        results.append(sqlite_run(args))
    if args.only != "sqlite":
        results.append(postgres_run(args))
    table(results, args)


if __name__ == "__main__":
    main()
