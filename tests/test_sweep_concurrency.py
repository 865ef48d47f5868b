"""Two sweeps at the same moment over 1,000 due deadlines on PostgreSQL: FOR UPDATE SKIP
LOCKED shares the work and the unique keys hold, so every reminder is created once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from flows.calendar import end_of_day
from flows.service import ServiceContext
from flows.service.audit import verify_all
from flows.service.sweep import SweepReport, sweep
from models import Deadline, DeadlineStatus, Decision, Notification, User
from models.enums import DayUnit
from tests.helpers import at, district, registered

DEADLINES = 1000
DECISIONS = 10
DUE = date(2026, 10, 9)  # Friday after National Day


def seed(ctx: ServiceContext) -> None:
    """Ten decisions, and 1,000 planned-time deadlines on them, all due Friday 10-09."""
    district(ctx, when="2026-09-01T08:00")
    for n in range(DECISIONS):
        registered(ctx, f"D{n}", when="2026-09-01T09:00")
    created = at("2026-09-01T12:00").astimezone(UTC)
    with Session(ctx.engine) as session:
        ids = [d.id for d in session.exec(select(Decision).order_by(col(Decision.id)))]
        rows = [
            Deadline(
                decision_id=ids[i % DECISIONS],
                kind="stage_planned",
                stage="discussion",
                subject_ref=f"entry-{i}",
                base_date=DUE,
                days=0,
                unit=DayUnit.calendar,
                due_date=DUE,
                due_at=end_of_day(DUE).astimezone(UTC),
                article="Art. 3; catalogue",
                status=DeadlineStatus.open,
                created_at=created,
                reminded_until=created,
                next_remind_at=at("2026-09-29T09:00").astimezone(
                    UTC
                ),  # the first point: 3 working days before
            )
            for i in range(DEADLINES)
        ]
        session.add_all(rows)
        session.commit()


def test_two_concurrent_sweeps_create_every_reminder_exactly_once(pg_engine: Engine, tmp_path: Path) -> None:
    ctx = ServiceContext(engine=pg_engine, data_dir=tmp_path / "data")
    seed(ctx)
    # By Monday 10-12 10:00 each deadline owes: before:3 (09-29), due (10-09), overdue:1 (the make-up
    # Saturday 10-10) to the assignee, and overdue:2 (10-12) escalated to assignee and unit head.
    now = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)
    barrier = threading.Barrier(2)
    reports: list[SweepReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            reports.append(sweep(ctx, now, deliver=False))
        except BaseException as exc:  # reported below, so a failure in a thread is not lost
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert len(reports) == 2

    with Session(pg_engine) as session:
        rows = session.exec(
            select(Notification.key, User.code, Notification.point, Notification.deadline_id).join(
                User, col(User.id) == col(Notification.user_id)
            )
        ).all()
        assert len(rows) == DEADLINES * 5
        assert len({r[0] for r in rows}) == len(rows)
        per_deadline = Counter(r[3] for r in rows)
        assert set(per_deadline.values()) == {5}
        assert Counter((r[1], r[2]) for r in rows) == {
            ("li", "before:3"): DEADLINES,
            ("li", "due"): DEADLINES,
            ("li", "overdue:1"): DEADLINES,
            ("li", "overdue:2"): DEADLINES,
            ("zhao", "overdue:2"): DEADLINES,
        }
        fired = session.exec(
            select(func.count()).select_from(Deadline).where(Deadline.status == DeadlineStatus.fired)
        ).one()
        assert fired == DEADLINES
        _, _, breaks = verify_all(session)
        assert breaks == []
    # the two sweeps' own counts add up to the total: nothing was counted twice
    assert sum(r.reminders for r in reports) == DEADLINES * 5
    assert sum(r.fired for r in reports) == DEADLINES
    # and a third sweep finds nothing left to do
    again = sweep(ctx, now, deliver=False)
    assert (again.fired, again.reminders) == (0, 0)
