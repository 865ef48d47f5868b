"""Reminders and escalations created by the sweep, at working-day times, exactly once."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from flows.scenario import sweep_until
from flows.service import ServiceContext, setup_jurisdiction
from flows.service.sweep import sweep
from models import CommentPeriod, Deadline, DeadlineStatus, Notification, SweepRun, User
from tests.helpers import (
    SHANGHAI,
    UNITS,
    USERS,
    act,
    at,
    comment_window,
    district,
    drafted,
    legality_submitted,
    participation_done,
    registered,
)


def notes(ctx: ServiceContext, user: str, **filters: Any) -> list[Notification]:
    with Session(ctx.engine) as session:
        query = (
            select(Notification)
            .join(User, col(User.id) == col(Notification.user_id))
            .where(User.code == user)
            .order_by(col(Notification.scheduled_at), col(Notification.id))
        )
        for name, value in filters.items():
            query = query.where(getattr(Notification, name) == value)
        return list(session.exec(query))


def points(ctx: ServiceContext, user: str) -> list[str]:
    return [n.point for n in notes(ctx, user)]


# ---------------------------------------------------------------- a comment window over National Day
def window_open(ctx: ServiceContext) -> None:
    """D1's comment window runs 2026-09-09 to Friday 10-09, across the National Day holiday."""
    district(ctx, when="2026-09-01T09:00")
    registered(ctx, when="2026-09-01T09:00")
    act(ctx, "start_procedure", "zhou", "2026-09-01T10:00", decision="D1")
    act(
        ctx,
        "submit_draft",
        "li",
        "2026-09-01T11:00",
        decision="D1",
        draft="草案",
        explanation="起草说明",
        legal_bases=["国务院令第713号"],
    )
    comment_window(ctx, "2026-09-09", "2026-10-09")


def period_status(ctx: ServiceContext) -> str:
    with Session(ctx.engine) as session:
        period = session.exec(select(CommentPeriod)).one()
        return period.status


def test_comment_window_reminds_on_working_days_and_closes_by_itself(ctx: ServiceContext) -> None:
    window_open(ctx)
    sweep_until(ctx, at("2026-09-29T08:59"))
    assert notes(ctx, "li") == []
    # three working days before Friday 10-09 counts back over the holiday: Tuesday 09-29
    sweep_until(ctx, at("2026-09-29T09:00"))
    (first,) = notes(ctx, "li")
    assert (first.point, first.event, first.late) == ("before:3", "deadline.upcoming", False)
    assert "D1" in first.body_text and "决策D1" in first.body_text
    assert "2026年10月9日（星期五）" in first.body_text
    assert "Art. 15(1)" in first.body_text
    assert first.link.endswith("/decisions/D1") and first.link in first.body_html
    assert first.locale == "zh_CN"

    sweep_until(ctx, at("2026-10-09T09:00"))
    assert points(ctx, "li") == ["before:3", "due"]
    assert period_status(ctx) == "open"
    sweep_until(ctx, at("2026-10-09T23:59"))
    assert period_status(ctx) == "open"
    # 24:00 on the last day: the window closes and the department is told
    sweep_until(ctx, at("2026-10-10T00:00"))
    assert period_status(ctx) == "closed"
    assert points(ctx, "li") == ["before:3", "due", "transition"]
    # a window that closes by itself is never "overdue"; and only the assignee heard of it
    sweep_until(ctx, at("2026-10-30T09:00"))
    assert points(ctx, "li") == ["before:3", "due", "transition"]
    assert notes(ctx, "zhao") == [] and notes(ctx, "watcher") == []


def test_extending_the_window_earns_reminders_for_the_new_date(ctx: ServiceContext) -> None:
    window_open(ctx)
    sweep_until(ctx, at("2026-09-30T09:00"))
    assert points(ctx, "li") == ["before:3"]
    act(
        ctx,
        "extend_deadline",
        "li",
        "2026-09-30T10:00",
        decision="D1",
        kind="comment_period_end",
        new_due="2026-10-16",
        reason="意见较多",
        public_notice="征求意见期限延长至10月16日",
    )
    sweep_until(ctx, at("2026-10-12T09:00"))
    assert points(ctx, "li") == ["before:3"]  # nothing for the old date any more
    sweep_until(ctx, at("2026-10-13T09:00"))  # three working days before Friday 10-16
    assert points(ctx, "li") == ["before:3", "before:3"]
    assert [n.key.split(":")[2] for n in notes(ctx, "li")] == ["2026-10-09", "2026-10-16"]
    sweep_until(ctx, at("2026-10-17T00:00"))
    assert period_status(ctx) == "closed"
    assert points(ctx, "li") == ["before:3", "before:3", "due", "transition"]


# ---------------------------------------------------------------- an overdue legality opinion
def opinion_owed(ctx: ServiceContext) -> None:
    """Submitted 2026-04-08: the opinion is due in 15 working days, Wednesday 04-29 (P6)."""
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_submitted(ctx)
    with Session(ctx.engine) as session:
        row = session.exec(select(Deadline).where(Deadline.kind == "legality_opinion_due")).one()
    assert row.due_date.isoformat() == "2026-04-29"


def test_overdue_opinion_escalates_up_the_ladder_on_working_days(ctx: ServiceContext) -> None:
    opinion_owed(ctx)
    sweep_until(ctx, at("2026-04-29T09:00"))
    assert points(ctx, "wang") == ["before:3", "due"]
    assert notes(ctx, "wang")[0].scheduled_at == at("2026-04-24T09:00")  # Fri; 04-25/26 weekend
    assert notes(ctx, "liu") == []
    sweep_until(ctx, at("2026-04-30T09:00"))
    assert points(ctx, "wang")[-1] == "overdue:1"
    assert notes(ctx, "liu") == []
    # May Day 05-01..05-05: the second working day overdue is Wednesday 05-06
    sweep_until(ctx, at("2026-05-06T08:59"))
    assert notes(ctx, "liu") == []
    sweep_until(ctx, at("2026-05-06T09:00"))
    (escalated,) = notes(ctx, "liu")
    assert (escalated.point, escalated.event, escalated.level) == ("overdue:2", "deadline.escalated", 1)
    assert notes(ctx, "watcher") == []
    # the make-up Saturday 05-09 is the fifth working day overdue: the supervisors hear of it
    sweep_until(ctx, at("2026-05-09T09:00"))
    assert [(n.point, n.level) for n in notes(ctx, "watcher")] == [("overdue:5", 2)]
    assert points(ctx, "wang") == ["before:3", "due", *(f"overdue:{k}" for k in range(1, 6))]
    assert points(ctx, "liu") == [f"overdue:{k}" for k in range(2, 6)]
    # the department is not the assignee of the legal office's opinion
    with Session(ctx.engine) as session:
        opinion = session.exec(select(Deadline).where(Deadline.kind == "legality_opinion_due")).one()
    assert notes(ctx, "li") and all(n.deadline_id != opinion.id for n in notes(ctx, "li"))


def test_a_met_deadline_stops_reminding(ctx: ServiceContext) -> None:
    opinion_owed(ctx)
    sweep_until(ctx, at("2026-04-30T09:00"))
    assert points(ctx, "wang")[-1] == "overdue:1"
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-30T09:30",
        decision="D1",
        adviser="张律师",
        opinion="合法",
    )
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-30T10:00",
        decision="D1",
        outcome="lawful",
        opinion="合法",
    )
    with Session(ctx.engine) as session:
        row = session.exec(select(Deadline).where(Deadline.kind == "legality_opinion_due")).one()
        assert row.status == DeadlineStatus.met and row.next_remind_at is None
    before = len(notes(ctx, "wang"))
    sweep_until(ctx, at("2026-05-20T09:00"))
    assert len(notes(ctx, "wang")) == before
    assert notes(ctx, "liu") == []


def test_downtime_sends_missed_reminders_once_marked_late(ctx: ServiceContext) -> None:
    opinion_owed(ctx)
    sweep_until(ctx, at("2026-05-06T09:00"))
    assert points(ctx, "wang")[-1] == "overdue:2"
    assert not any(n.late for n in notes(ctx, "wang"))
    # nothing runs for three days; then one sweep
    report = sweep(ctx, at("2026-05-09T10:00"))
    missed = ["overdue:3", "overdue:4", "overdue:5"]
    assert [n.point for n in notes(ctx, "wang", late=True)] == missed
    assert [n.point for n in notes(ctx, "liu", late=True)] == missed
    assert [n.point for n in notes(ctx, "watcher", late=True)] == ["overdue:5"]
    assert report.reminders == report.late == 7
    assert [n.scheduled_at for n in notes(ctx, "wang", late=True)] == [
        at("2026-05-07T09:00"),
        at("2026-05-08T09:00"),
        at("2026-05-09T09:00"),
    ]
    # later sweeps add nothing for the same points
    count = {u: len(notes(ctx, u)) for u in ("wang", "liu", "watcher")}
    for moment in ("2026-05-09T10:00", "2026-05-09T10:00:30", "2026-05-11T08:59"):
        assert sweep(ctx, at(moment)).reminders == 0
    assert {u: len(notes(ctx, u)) for u in count} == count
    # and the next point goes out on time, not late
    sweep(ctx, at("2026-05-11T09:00:20"))
    assert [(n.point, n.late) for n in notes(ctx, "wang")][-1] == ("overdue:6", False)
    with Session(ctx.engine) as session:
        runs = session.exec(select(SweepRun).order_by(col(SweepRun.id))).all()
    assert [(r.reminders, r.late) for r in runs if r.now == at("2026-05-09T10:00")] == [(7, 7)]


def test_a_short_delay_is_not_late(ctx: ServiceContext) -> None:
    opinion_owed(ctx)
    sweep_until(ctx, at("2026-04-28T09:00"))
    sweep(ctx, at("2026-04-29T09:10"))  # ten minutes after the due-day point
    assert [(n.point, n.late) for n in notes(ctx, "wang")] == [("before:3", False), ("due", False)]


def test_recipient_preferences_choose_the_language(ctx: ServiceContext) -> None:
    users = [{**u, "locale": "en"} if u["id"] == "wang" else u for u in USERS]
    setup_jurisdiction(ctx, {"organ": "香洲区人民政府"}, UNITS, users, now=at("2026-01-05T09:00"))
    drafted(ctx)
    participation_done(ctx)
    legality_submitted(ctx)
    sweep_until(ctx, at("2026-04-24T09:00"))
    (note,) = notes(ctx, "wang")
    assert note.locale == "en"
    assert "Wednesday" in note.body_text and "29 April 2026" in note.body_text
    assert all(n.locale == "zh_CN" for n in notes(ctx, "li"))


def test_a_jurisdiction_policy_override_is_checked_and_applied(ctx: ServiceContext) -> None:
    import pytest

    from flows.errors import ProcedureError

    with pytest.raises(ProcedureError) as caught:
        district(ctx, settings={"reminder_policy": {"legality_opinion_due": {"before_working_days": [0]}}})
    assert caught.value.rule_id == "R22"
    assert caught.value.field == "settings.reminder_policy.legality_opinion_due.before_working_days"
    # five working days' notice, and no daily nagging: only the escalations
    district(
        ctx,
        settings={
            "reminder_policy": {
                "legality_opinion_due": {
                    "before_working_days": [5],
                    "overdue_daily": False,
                    "on_due_day": False,
                }
            }
        },
    )
    drafted(ctx)
    participation_done(ctx)
    legality_submitted(ctx)
    sweep_until(ctx, at("2026-05-11T09:00"))
    assert points(ctx, "wang") == ["before:5", "overdue:2", "overdue:5"]
    assert notes(ctx, "wang")[0].scheduled_at == at("2026-04-22T09:00")


def test_a_failing_notification_check_shows_expected_and_found(ctx: ServiceContext) -> None:
    from flows.scenario import Check, run_check

    window_open(ctx)
    sweep_until(ctx, at("2026-09-29T09:00"))
    good = run_check(ctx, 1, Check(notifications_to="li", count=1, event="deadline.upcoming"), SHANGHAI)
    assert good.passed
    bad = run_check(ctx, 2, Check(notifications_to="li", count=2, point="before:3"), SHANGHAI)
    assert not bad.passed
    assert "expected 2, found 1" in bad.detail and "point=before:3" in bad.detail
