"""Issue 8, item 6: a sweep that never stalls. A deadline whose handler fails is rolled back,
its failure recorded (error, attempts, next retry with backoff) and left alone until the
retry; the deadlines due with it still fire in the same sweep; `deadlines --failed` and the
SweepRun row show it; once the handler works it fires, its error clears, and nothing is sent
twice. Reminders are protected the same way, both when one deadline's reminders cannot be
composed and when they cannot be written. Time moves by passing `now`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from cli import app
from flows.scenario import sweep_until
from flows.service import ServiceContext
from flows.service import sweep as sweep_module
from flows.service.framework import Tx
from flows.service.sweep import next_due, sweep
from models import (
    AuditEvent,
    CommentPeriod,
    CommentPeriodStatus,
    Deadline,
    DeadlineStatus,
    Decision,
    Notification,
    OutboxEvent,
    SweepRun,
)
from models.db import make_engine, normalise_url
from notifications import reminders
from notifications.sweep_failures import RETRY
from tests import conftest as suite
from tests.helpers import act, at, district, drafted
from tests.schema import create_all

DECISIONS = ("D1", "D2", "D3")
CLOSES = at("2026-04-03T00:00")  # 24:00 on 04-02, the windows' last day
FIRST_REMINDER = at("2026-03-30T09:00")  # before:3, three working days before Thursday 04-02


@dataclass
class Db:
    url: str
    ctx: ServiceContext

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(app, [*args, "--database", self.url])


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Db]:
    """The suite's database as a URL the CLI can open (a SQLite file, or a fresh PostgreSQL
    schema), with the standard district and three comment windows, 03-03 to 04-02, all
    closing at the same instant."""
    monkeypatch.chdir(tmp_path)
    if normalise_url(suite.test_database_url()).startswith("postgresql"):
        url, schema = request.getfixturevalue("fresh_postgres_schema")
        url = f"{url}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp_path / 'sweep.db'}"
    engine = make_engine(url)
    create_all(engine, kind="scenario")  # the test replays time
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    district(ctx)
    for ref in DECISIONS:
        drafted(ctx, ref)
        act(
            ctx,
            "open_comment_period",
            "li",
            "2026-03-03T09:00",
            decision=ref,
            start_date="2026-03-03",
            end_date="2026-04-02",
            channels=["website"],
        )
    yield Db(url, ctx)
    engine.dispose()


# ---------------------------------------------------------------- helpers
def deadline_of(ctx: ServiceContext, ref: str) -> Deadline:
    with Session(ctx.engine) as session:
        return session.exec(
            select(Deadline)
            .join(Decision, col(Decision.id) == col(Deadline.decision_id))
            .where(Decision.code == ref, Deadline.kind == "comment_period_end")
        ).one()


def period_status(ctx: ServiceContext, ref: str) -> CommentPeriodStatus:
    with Session(ctx.engine) as session:
        period = session.exec(
            select(CommentPeriod)
            .join(Decision, col(Decision.id) == col(CommentPeriod.decision_id))
            .where(Decision.code == ref)
        ).one()
        return period.status


def reminder_points(ctx: ServiceContext, ref: str) -> list[str]:
    with Session(ctx.engine) as session:
        return list(
            session.exec(
                select(Notification.point)
                .join(Decision, col(Decision.id) == col(Notification.decision_id))
                .where(Decision.code == ref)
                .order_by(col(Notification.scheduled_at), col(Notification.id))
            )
        )


def count(ctx: ServiceContext, model: Any, *where: Any) -> int:
    with Session(ctx.engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def sweep_runs(ctx: ServiceContext) -> list[SweepRun]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(SweepRun).order_by(col(SweepRun.id))))


def same_instant(a: datetime | None, b: datetime) -> bool:
    assert a is not None
    return (a if a.tzinfo else a.replace(tzinfo=UTC)) == b.astimezone(UTC)


def failed_row(shown: Result, deadline_id: int) -> list[str]:
    """The cells of a deadline's row in the `deadlines --failed` table."""
    line = next(line for line in shown.output.splitlines() if f"│ #{deadline_id} " in line)
    return [cell.strip() for cell in line.strip().strip("│").split("│")]


def fail_for(monkeypatch: pytest.MonkeyPatch, deadline_id: int) -> list[int]:
    """Make the comment window's closing raise for one deadline, after it has done its work
    (so that the rollback is seen to undo it); returns the ids it was called for."""
    original = sweep_module.TRANSITIONS["comment_period_end"]
    calls: list[int] = []

    def failing(tx: Tx, deadline: Deadline) -> bool:
        calls.append(deadline.id or 0)
        changed = original(tx, deadline)
        if deadline.id == deadline_id:
            raise RuntimeError(f"handler broke on deadline {deadline_id}\nsecond line " + "x" * 2000)
        return changed

    monkeypatch.setitem(sweep_module.TRANSITIONS, "comment_period_end", failing)
    return calls


# ---------------------------------------------------------------- firing a deadline fails
def test_a_failing_deadline_is_recorded_and_does_not_block_the_others(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = db.ctx
    sweep_until(ctx, CLOSES - timedelta(minutes=1))  # the reminders before the close
    assert all(reminder_points(ctx, ref) == ["before:3", "due"] for ref in DECISIONS)
    bad = deadline_of(ctx, "D2").id or 0
    calls = fail_for(monkeypatch, bad)

    # (1) the three windows close at the same instant; D2's handler raises, D1 and D3 close
    report = sweep(ctx, CLOSES, deliver=False)
    assert (report.fired, report.transitions) == (2, 2)
    assert sorted(calls) == sorted(deadline_of(ctx, ref).id or 0 for ref in DECISIONS)  # tried once each
    assert [period_status(ctx, ref) for ref in DECISIONS] == ["closed", "open", "closed"]
    assert reminder_points(ctx, "D1") == reminder_points(ctx, "D3") == ["before:3", "due", "transition"]
    # (2) D2 is rolled back whole (its window is open, no event, no "closed" message) and its
    # failure is recorded: step, error (one line, truncated), attempts, retry a minute later
    assert reminder_points(ctx, "D2") == ["before:3", "due"]
    failed = deadline_of(ctx, "D2")
    assert failed.status == DeadlineStatus.open and failed.fired_at is None
    assert (failed.failures, failed.failed_step) == (1, "fire")
    assert failed.last_error.startswith(f"RuntimeError: handler broke on deadline {bad} second line xxx")
    assert len(failed.last_error) == RETRY.error_chars == 500
    assert same_instant(failed.failed_at, CLOSES)
    assert same_instant(failed.retry_at, CLOSES + timedelta(minutes=1))
    (failure,) = report.deadline_failures
    assert (failure.deadline_id, failure.step, failure.failures) == (bad, "fire", 1)
    assert "deadline failures 1" in report.line()
    # ... in the SweepRun row
    run = sweep_runs(ctx)[-1]
    assert (run.fired, run.transitions, run.deadline_failures) == (2, 2, 1)
    assert f"deadline {bad} (comment_period_end) fire failed ×1: RuntimeError: handler broke" in run.error
    # ... and in `deadlines --failed`
    shown = db.cli("deadlines", "--failed")
    assert shown.exit_code == 0, shown.output
    cells = failed_row(shown, bad)
    assert cells[:5] == [
        f"#{bad}",
        "D2 决策D2",
        "公开征求意见截止 comment period ends",
        "到期处理 firing",
        "1",
    ]
    assert cells[5].startswith("RuntimeError: handler broke")
    assert cells[6:] == ["2026-04-03 00:00:00", "2026-04-03 00:01:00"]
    assert "1 项失败 / failed deadlines" in shown.output
    assert f"#{deadline_of(ctx, 'D1').id} " not in shown.output
    assert db.cli("deadlines", "--failed", "--unit", "commerce").output.strip() == "（无 / none）"
    assert db.cli("deadlines", "--failed", "--overdue").exit_code == 2

    # (3) a sweep before the retry leaves it alone (the handler is still broken)
    calls.clear()
    quiet = sweep(ctx, CLOSES + timedelta(seconds=59), deliver=False)
    assert (quiet.fired, quiet.deadline_failures, calls) == (0, (), [])
    assert deadline_of(ctx, "D2").failures == 1
    # at the retry it fails again: two attempts, and the wait doubles
    again = sweep(ctx, CLOSES + timedelta(minutes=1), deliver=False)
    assert (again.fired, calls) == (0, [bad])
    failed = deadline_of(ctx, "D2")
    assert failed.failures == 2 and same_instant(failed.retry_at, CLOSES + timedelta(minutes=3))
    assert failed_row(db.cli("deadlines", "--failed"), bad)[4] == "2"

    # (4) the handler is fixed; nothing before the retry, then it fires and its error clears
    monkeypatch.undo()
    assert sweep(ctx, CLOSES + timedelta(minutes=2), deliver=False).fired == 0
    late = sweep(ctx, CLOSES + timedelta(minutes=3), deliver=False)
    assert (late.fired, late.transitions, late.deadline_failures) == (1, 1, ())
    assert period_status(ctx, "D2") == "closed"
    fixed = deadline_of(ctx, "D2")
    assert fixed.status == DeadlineStatus.fired and same_instant(
        fixed.fired_at, CLOSES + timedelta(minutes=3)
    )
    assert (fixed.failures, fixed.failed_step, fixed.last_error, fixed.failed_at, fixed.retry_at) == (
        0,
        "",
        "",
        None,
        None,
    )
    assert db.cli("deadlines", "--failed").output.strip() == "（无 / none）"
    with Session(ctx.engine) as session:
        payloads = [
            e.payload
            for e in session.exec(select(AuditEvent).where(AuditEvent.action == "deadline_due"))
            if e.payload["deadline"] == "comment_period_end"
        ]
    assert [p.get("failed_attempts") for p in payloads] == [None, None, 2]

    # (5) nothing was sent or done twice: one "closed" message, one event, one firing each
    sweep_until(ctx, at("2026-04-10T09:00"))
    for ref in DECISIONS:
        assert reminder_points(ctx, ref) == ["before:3", "due", "transition"], ref
        decision_id = deadline_of(ctx, ref).decision_id
        closed = (OutboxEvent.decision_id == decision_id, OutboxEvent.event_type == "comment_period_closed")
        assert count(ctx, OutboxEvent, *closed) == 1
    assert len(payloads) == 3


def test_scenario_replay_waits_for_each_retry_instead_of_spinning(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = db.ctx
    sweep_until(ctx, CLOSES - timedelta(minutes=1))
    calls = fail_for(monkeypatch, deadline_of(ctx, "D2").id or 0)
    # the next instant with work is the close; after the failure, D2's retry
    with Session(ctx.engine) as session:
        assert same_instant(next_due(session), CLOSES)
    sweep(ctx, CLOSES, deliver=False)
    with Session(ctx.engine) as session:
        assert same_instant(next_due(session), CLOSES + timedelta(minutes=1))
    # three hours of replay: retries after 1, 2, 4, 8, 16, 32, 60 and 60 minutes, then stop
    calls.clear()
    sweep_until(ctx, CLOSES + timedelta(hours=3))
    assert len(calls) == 7
    failed = deadline_of(ctx, "D2")
    assert failed.failures == 8
    assert same_instant(failed.retry_at, CLOSES + timedelta(minutes=1 + 2 + 4 + 8 + 16 + 32 + 60 + 60))


def test_the_backoff_doubles_from_a_minute_to_an_hour() -> None:
    waits = [RETRY.backoff(n) for n in range(1, 10)]
    assert [int(w.total_seconds() // 60) for w in waits] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert RETRY.backoff(10_000) == timedelta(hours=1)


# ---------------------------------------------------------------- reminders fail
def test_one_deadline_whose_reminders_fail_does_not_abort_the_batch(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = db.ctx
    bad = deadline_of(ctx, "D2").id or 0
    original = reminders.context

    def broken(env: Any, deadline: Deadline, *args: Any) -> dict[str, Any]:
        if deadline.id == bad:
            raise KeyError("template value")
        return original(env, deadline, *args)

    monkeypatch.setattr(reminders, "context", broken)
    report = sweep(ctx, FIRST_REMINDER, deliver=False)
    assert report.reminders == 2
    assert [reminder_points(ctx, ref) for ref in DECISIONS] == [["before:3"], [], ["before:3"]]
    failed = deadline_of(ctx, "D2")
    assert (failed.failures, failed.failed_step, failed.last_error) == (
        1,
        "remind",
        "KeyError: 'template value'",
    )
    assert same_instant(failed.next_remind_at, FIRST_REMINDER)  # its cursor did not move
    assert sweep_runs(ctx)[-1].deadline_failures == 1
    assert "提醒 reminders" in db.cli("deadlines", "--failed").output
    # not retried before its time
    assert sweep(ctx, FIRST_REMINDER + timedelta(seconds=30), deliver=False).deadline_failures == ()
    assert deadline_of(ctx, "D2").failures == 1
    # fixed: the missed reminder goes out once, and the error clears
    monkeypatch.undo()
    assert sweep(ctx, FIRST_REMINDER + timedelta(minutes=1), deliver=False).reminders == 1
    assert [reminder_points(ctx, ref) for ref in DECISIONS] == [["before:3"]] * 3
    assert deadline_of(ctx, "D2").failures == 0 and deadline_of(ctx, "D2").last_error == ""
    sweep(ctx, FIRST_REMINDER + timedelta(minutes=5), deliver=False)
    assert [reminder_points(ctx, ref) for ref in DECISIONS] == [["before:3"]] * 3


def test_a_reminder_that_cannot_be_written_fails_alone(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """D2's reminder collides with D1's unique key: the batch insert fails, is rolled back, and
    its deadlines are done one per transaction, so only D2 fails."""
    ctx = db.ctx
    first, bad = deadline_of(ctx, "D1").id, deadline_of(ctx, "D2").id
    original = reminders.reminder_key

    def colliding(deadline: Deadline, *args: Any) -> str:
        key = original(deadline, *args)
        return key.replace(f"dl:{bad}:", f"dl:{first}:") if deadline.id == bad else key

    monkeypatch.setattr(reminders, "reminder_key", colliding)
    report = sweep(ctx, FIRST_REMINDER, deliver=False)
    assert report.reminders == 2
    assert [reminder_points(ctx, ref) for ref in DECISIONS] == [["before:3"], [], ["before:3"]]
    failed = deadline_of(ctx, "D2")
    assert (failed.failures, failed.failed_step) == (1, "remind")
    assert failed.last_error.startswith("IntegrityError")
    (failure,) = report.deadline_failures
    assert failure.deadline_id == bad
    monkeypatch.undo()
    assert sweep(ctx, FIRST_REMINDER + timedelta(minutes=1), deliver=False).reminders == 1
    assert [reminder_points(ctx, ref) for ref in DECISIONS] == [["before:3"]] * 3
    assert deadline_of(ctx, "D2").failures == 0
