"""Extending and shortening open deadlines: the public comment period (R3, Art. 15), the
legality reviewer's minimum (R10, Art. 26(2)), hearing lead times (R5, P4) and reminder
deadlines. Time is moved with the deadline sweep, never waited for."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from flows import rules
from flows.calendar import WorkingCalendar
from flows.scenario import sweep_until
from flows.service import ServiceContext
from flows.service.time_limits import count_days
from models import AuditEvent, CommentPeriod, Deadline, EvidenceDocument, OutboxEvent
from models.enums import DayUnit, DeadlineStatus
from tests.helpers import act, at, decided, district, drafted, legality_lawful, participation_done, refused

NOTICE = "关于调整征求意见期限的公告"


def open_comment(ctx: ServiceContext, end: str = "2026-04-02") -> None:
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date=end,
        channels=["website"],
    )


def commenting(ctx: ServiceContext, settings: dict[str, Any] | None = None) -> None:
    """D1 with a 30-day comment period 2026-03-03..04-02 open."""
    district(ctx, settings)
    drafted(ctx)
    open_comment(ctx)


def deadline(ctx: ServiceContext, kind: str) -> Deadline:
    with Session(ctx.engine) as session:
        return session.exec(
            select(Deadline).where(Deadline.kind == kind).order_by(col(Deadline.id).desc())
        ).first() or _missing(kind)


def _missing(kind: str) -> Deadline:
    raise AssertionError(f"no {kind} deadline")


def period(ctx: ServiceContext) -> CommentPeriod:
    with Session(ctx.engine) as session:
        return session.exec(select(CommentPeriod)).one()


def change(ctx: ServiceContext, action: str, when: str, **payload: Any) -> None:
    act(ctx, action, "li", when, decision="D1", reason="群众要求", **payload)


# ---------------------------------------------------------------- the comment period (R3, Art. 15)
def test_extending_the_comment_period_moves_the_automatic_close(ctx: ServiceContext) -> None:
    commenting(ctx)
    change(
        ctx,
        "extend_deadline",
        "2026-03-20T09:00",
        kind="comment_period_end",
        new_due="2026-04-10",
        public_notice=NOTICE,
    )
    row = deadline(ctx, "comment_period_end")
    assert (row.due_date, row.status, row.days) == (date(2026, 4, 10), DeadlineStatus.open, 38)
    assert row.due_at == at("2026-04-11T00:00")  # 24:00 on the last day (P2)
    assert period(ctx).end_date == date(2026, 4, 10)
    sweep_until(ctx, at("2026-04-03T09:00"))  # the old end has passed: still open
    assert period(ctx).status == "open"
    act(ctx, "submit_public_comment", "public", "2026-04-08T10:00", decision="D1", text="晚到的意见")
    sweep_until(ctx, at("2026-04-11T09:00"))
    assert period(ctx).status == "closed"
    assert deadline(ctx, "comment_period_end").status == DeadlineStatus.fired


def test_the_change_is_noticed_audited_and_announced(ctx: ServiceContext) -> None:
    commenting(ctx)
    change(
        ctx,
        "extend_deadline",
        "2026-03-20T09:00",
        kind="comment_period_end",
        new_due="2026-04-10",
        public_notice=NOTICE,
    )
    with Session(ctx.engine) as session:
        notices = list(
            session.exec(select(EvidenceDocument).where(EvidenceDocument.kind == "comment_notice"))
        )
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "extend_deadline")).one()
        event = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "deadline_extended")).one()
    assert len(notices) == 2  # the opening notice and the extension notice
    record = audit.payload["deadline_change"]
    assert (record["from"], record["to"], record["reason"]) == ("2026-04-02", "2026-04-10", "群众要求")
    assert event.payload["to"] == "2026-04-10"


def test_a_period_ending_on_a_holiday_runs_to_the_next_working_day(ctx: ServiceContext) -> None:
    commenting(ctx)
    # 2026-04-04..06 is the Qingming holiday (P2: the period ends on the day after it)
    change(
        ctx,
        "extend_deadline",
        "2026-03-20T09:00",
        kind="comment_period_end",
        new_due="2026-04-04",
        public_notice=NOTICE,
    )
    assert deadline(ctx, "comment_period_end").due_date == date(2026, 4, 7)
    assert period(ctx).end_date == date(2026, 4, 4)
    sweep_until(ctx, at("2026-04-07T23:00"))
    assert period(ctx).status == "open"
    sweep_until(ctx, at("2026-04-08T00:00"))
    assert period(ctx).status == "closed"


def test_a_public_deadline_needs_a_public_notice(ctx: ServiceContext) -> None:
    commenting(ctx)
    for notice in ("", "   "):
        error = refused(
            ctx,
            "INPUT",
            "extend_deadline",
            "li",
            "2026-03-20T09:00",
            decision="D1",
            kind="comment_period_end",
            new_due="2026-04-10",
            reason="群众要求",
            public_notice=notice,
        )
        assert error.field == "public_notice"


def test_shortening_the_comment_period_below_the_minimum_needs_an_urgent_reason(ctx: ServiceContext) -> None:
    commenting(ctx)
    for new_due in ("2026-04-01", "2026-03-20"):
        error = refused(
            ctx,
            "R3",
            "shorten_deadline",
            "li",
            "2026-03-10T09:00",
            decision="D1",
            kind="comment_period_end",
            new_due=new_due,
            reason="加快进度",
            public_notice=NOTICE,
        )
        assert error.field == "urgent_reason"
    assert period(ctx).end_date == date(2026, 4, 2)
    act(
        ctx,
        "shorten_deadline",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        kind="comment_period_end",
        new_due="2026-03-20",
        reason="加快进度",
        urgent_reason="汛期将至，须在汛前实施",
        public_notice=NOTICE,
    )
    assert deadline(ctx, "comment_period_end").due_date == date(2026, 3, 20)
    assert period(ctx).urgent_reason == "汛期将至，须在汛前实施"
    with Session(ctx.engine) as session:
        last_notice = session.exec(
            select(EvidenceDocument)
            .where(EvidenceDocument.kind == "comment_notice")
            .order_by(col(EvidenceDocument.id).desc())
        ).first()
        assert last_notice is not None and last_notice.title == "公开征求意见截止调整公告"
    sweep_until(ctx, at("2026-03-21T09:00"))
    assert period(ctx).status == "closed"


def test_a_shortened_period_may_not_end_before_it_starts_or_in_the_past(ctx: ServiceContext) -> None:
    commenting(ctx)
    refused(
        ctx,
        "INPUT",
        "shorten_deadline",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        kind="comment_period_end",
        new_due="2026-03-09",
        reason="r",
        urgent_reason="紧急",
        public_notice=NOTICE,
    )


def test_the_local_minimum_decides_whether_a_reason_is_needed(ctx: ServiceContext) -> None:
    # a jurisdiction may lengthen the 30-day minimum (P17): here to 35 days
    district(ctx, {"comment_period_min_days": 35})
    drafted(ctx)
    open_comment(ctx, "2026-04-10")  # 38 days
    change(
        ctx,
        "shorten_deadline",
        "2026-03-10T09:00",
        kind="comment_period_end",
        new_due="2026-04-07",  # exactly 35 days
        public_notice=NOTICE,
    )
    assert deadline(ctx, "comment_period_end").due_date == date(2026, 4, 7)
    refused(
        ctx,
        "R3",
        "shorten_deadline",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        kind="comment_period_end",
        new_due="2026-04-06",  # 34 days: under the local minimum, so an urgent reason is needed
        reason="r",
        public_notice=NOTICE,
    )


def test_working_day_periods_are_measured_in_working_days(ctx: ServiceContext) -> None:
    district(ctx, {"comment_period_unit": "working"})
    drafted(ctx)
    open_comment(ctx, "2026-04-20")  # 33 working days
    # 2026-04-14 is 29 working days after 03-03 (though 42 calendar days; Qingming 04-04..06 off)
    refused(
        ctx,
        "R3",
        "shorten_deadline",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        kind="comment_period_end",
        new_due="2026-04-14",
        reason="r",
        public_notice=NOTICE,
    )
    change(
        ctx,
        "shorten_deadline",
        "2026-03-10T09:00",
        kind="comment_period_end",
        new_due="2026-04-15",  # 30 working days
        public_notice=NOTICE,
    )


# ---------------------------------------------------------------- what may be changed, and how
def test_extend_moves_later_and_shorten_moves_earlier(ctx: ServiceContext) -> None:
    commenting(ctx)
    for action, new_due in (("extend_deadline", "2026-03-30"), ("extend_deadline", "2026-04-02")):
        refused(
            ctx,
            "INPUT",
            action,
            "li",
            "2026-03-10T09:00",
            decision="D1",
            kind="comment_period_end",
            new_due=new_due,
            reason="r",
            public_notice=NOTICE,
        )
    refused(
        ctx,
        "INPUT",
        "shorten_deadline",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        kind="comment_period_end",
        new_due="2026-04-10",
        reason="r",
        urgent_reason="紧急",
        public_notice=NOTICE,
    )
    refused(
        ctx,
        "INPUT",
        "extend_deadline",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        kind="comment_period_end",
        new_due="2026-04-10",
        reason="",
        public_notice=NOTICE,
    )


def test_unknown_closed_or_foreign_deadlines_cannot_be_changed(ctx: ServiceContext) -> None:
    commenting(ctx)
    payload = {"decision": "D1", "new_due": "2026-04-10", "reason": "r", "public_notice": NOTICE}
    error = refused(ctx, "INPUT", "extend_deadline", "li", "2026-03-10T09:00", kind="comment_end", **payload)
    assert error.field == "kind"
    refused(ctx, "NOT_FOUND", "extend_deadline", "li", "2026-03-10T09:00", kind="archive_due", **payload)
    refused(ctx, "AUTH", "extend_deadline", "sun", "2026-03-10T09:00", kind="comment_period_end", **payload)
    refused(ctx, "AUTH", "extend_deadline", "mayor", "2026-03-10T09:00", kind="comment_period_end", **payload)
    # due but not yet swept: the period has run out all the same
    refused(ctx, "STATE", "extend_deadline", "li", "2026-04-03T08:00", kind="comment_period_end", **payload)
    sweep_until(ctx, at("2026-04-03T09:00"))
    refused(ctx, "STATE", "extend_deadline", "li", "2026-04-03T09:30", kind="comment_period_end", **payload)


# ---------------------------------------------------------------- the legality reviewer's minimum (R10)
def submitted_for_review(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:00",
        decision="D1",
        procedures_statement="已履行",
    )


def test_the_reviewers_minimum_cannot_be_shortened(ctx: ServiceContext) -> None:
    submitted_for_review(ctx)
    assert deadline(ctx, "legality_review_min").due_date == date(2026, 4, 17)  # 7 working days
    for actor in ("li", "wang", "zhou"):
        error = refused(
            ctx,
            "R10",
            "shorten_deadline",
            actor,
            "2026-04-09T09:00",
            decision="D1",
            kind="legality_review_min",
            new_due="2026-04-15",
            reason="会议提前",
        )
        assert error.field == "new_due"


def test_the_reviewer_may_be_given_more_time_and_discussion_waits(ctx: ServiceContext) -> None:
    submitted_for_review(ctx)
    act(
        ctx,
        "extend_deadline",
        "wang",
        "2026-04-09T09:00",
        decision="D1",
        kind="legality_review_min",
        new_due="2026-04-21",
        reason="材料复杂",
    )
    row = deadline(ctx, "legality_review_min")
    assert (row.due_date, row.unit, row.days) == (date(2026, 4, 21), DayUnit.working, 9)
    assert row.due_at == at("2026-04-21T00:00")  # the earliest discussion day starts then
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-10T09:00",
        decision="D1",
        adviser="张律师",
        opinion="合法",
    )
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-10T10:00",
        decision="D1",
        outcome="lawful",
        opinion="合法",
    )
    refused(
        ctx,
        "R10",
        "submit_for_discussion",
        "li",
        "2026-04-13T09:00",
        decision="D1",
        meeting_date="2026-04-17",
    )
    # back to the statutory minimum, but not below it
    act(
        ctx,
        "shorten_deadline",
        "wang",
        "2026-04-13T09:30",
        decision="D1",
        kind="legality_review_min",
        new_due="2026-04-17",
        reason="材料已补齐",
    )
    refused(
        ctx,
        "R10",
        "shorten_deadline",
        "wang",
        "2026-04-13T09:40",
        decision="D1",
        kind="legality_review_min",
        new_due="2026-04-16",
        reason="r",
    )
    act(ctx, "submit_for_discussion", "li", "2026-04-13T10:00", decision="D1", meeting_date="2026-04-17")


# ---------------------------------------------------------------- reminder deadlines move freely
def test_reminder_deadlines_move_both_ways(ctx: ServiceContext) -> None:
    submitted_for_review(ctx)
    opinion_due = deadline(ctx, "legality_opinion_due")
    assert not opinion_due.blocking
    act(
        ctx,
        "shorten_deadline",
        "zhou",
        "2026-04-09T09:00",
        decision="D1",
        kind="legality_opinion_due",
        new_due="2026-04-10",
        reason="领导要求加快",
    )
    assert deadline(ctx, "legality_opinion_due").due_date == date(2026, 4, 10)
    act(
        ctx,
        "extend_deadline",
        "liu",
        "2026-04-09T10:00",
        decision="D1",
        kind="legality_opinion_due",
        new_due="2026-05-12",
        reason="延长10个工作日",
    )
    assert deadline(ctx, "legality_opinion_due").due_date == date(2026, 5, 12)


def test_publication_due_can_be_extended_after_the_decision(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    decided(ctx)
    before = deadline(ctx, "publication_due").due_date
    act(
        ctx,
        "extend_deadline",
        "zhou",
        "2026-04-20T09:00",
        decision="D1",
        kind="publication_due",
        new_due="2026-06-01",
        reason="等待配套文件",
    )
    after = deadline(ctx, "publication_due")
    assert before < after.due_date == date(2026, 6, 1)
    assert after.status == DeadlineStatus.open


# ---------------------------------------------------------------- pure parts
def test_minimum_kept_guards_both_directions() -> None:
    limit = date(2026, 5, 10)
    assert rules.minimum_kept(date(2026, 5, 10), limit, 1, "R10") is None
    assert rules.minimum_kept(date(2026, 5, 11), limit, 1, "R10") is None
    violation = rules.minimum_kept(date(2026, 5, 9), limit, 1, "R10")
    assert violation is not None and violation.rule_id == "R10"
    # a lead time before a hearing: the latest date may move earlier, not later
    assert rules.minimum_kept(date(2026, 5, 9), limit, -1, "R5") is None
    violation = rules.minimum_kept(date(2026, 5, 11), limit, -1, "R5")
    assert violation is not None and violation.rule_id == "R5"


def test_count_days_lands_on_the_target_or_the_next_working_day() -> None:
    calendar = WorkingCalendar()
    base = date(2026, 4, 8)
    for target in (date(2026, 4, 17), date(2026, 4, 21), date(2026, 4, 18)):
        days = count_days(calendar, base, target, DayUnit.working, 1)
        landed = calendar.add(base, days, DayUnit.working).day
        assert landed == (target if calendar.is_working_day(target) else date(2026, 4, 20))
    assert count_days(calendar, base, date(2026, 4, 17), DayUnit.working, 1) == 7
    assert count_days(calendar, base, base, DayUnit.working, 1) == 0
    # counted back from a hearing on 2026-05-20: 7 calendar days before is 05-13
    hearing = date(2026, 5, 20)
    assert count_days(calendar, hearing, date(2026, 5, 13), DayUnit.calendar, -1) == 7
    # backwards in working days, a non-working target rolls further from the hearing
    days = count_days(calendar, hearing, date(2026, 5, 16), DayUnit.working, -1)
    assert calendar.add(hearing, days, DayUnit.working, direction=-1).day == date(2026, 5, 15)


# ---------------------------------------------------------------- hearing lead times (R5, P4, Art. 16)
def announced_hearing(ctx: ServiceContext) -> None:
    """Hearing H1 on 2026-04-20: list due 04-15 (5 days before), materials due 04-13 (7 days)."""
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    act(
        ctx,
        "announce_hearing",
        "li",
        "2026-03-05T09:00",
        decision="D1",
        ref="H1",
        starts_at="2026-04-20T09:30",
        place="区政府第一会议室",
        quotas={"居民": 5},
        registration_opens="2026-03-05",
        registration_closes="2026-03-25",
        selection_method="分层公开抽签",
    )


def test_a_hearing_lead_time_may_grow_but_not_shrink(ctx: ServiceContext) -> None:
    announced_hearing(ctx)
    assert deadline(ctx, "hearing_materials").due_date == date(2026, 4, 13)
    assert deadline(ctx, "hearing_participant_list").due_date == date(2026, 4, 15)
    hearing_notice = "关于调整听证会有关期限的公告"
    base = {"decision": "D1", "reason": "r", "public_notice": hearing_notice, "subject_ref": "H1"}
    # later than 7 days before the hearing (Art. 16(3)) or 5 days for the list (P4)
    refused(
        ctx,
        "R5",
        "extend_deadline",
        "li",
        "2026-03-10T09:00",
        kind="hearing_materials",
        new_due="2026-04-14",
        **base,
    )
    refused(
        ctx,
        "P4",
        "extend_deadline",
        "li",
        "2026-03-10T09:00",
        kind="hearing_participant_list",
        new_due="2026-04-16",
        **base,
    )
    # the notice was published with the announcement: nothing left to change
    refused(
        ctx,
        "STATE",
        "extend_deadline",
        "li",
        "2026-03-10T09:00",
        kind="hearing_notice",
        new_due="2026-04-10",
        **base,
    )
    refused(
        ctx,
        "INPUT",
        "shorten_deadline",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        kind="hearing_materials",
        new_due="2026-04-08",
        reason="r",
    )
    act(
        ctx,
        "shorten_deadline",
        "li",
        "2026-03-10T09:00",
        kind="hearing_materials",
        new_due="2026-04-08",
        **base,
    )
    assert deadline(ctx, "hearing_materials").due_date == date(2026, 4, 8)
    with Session(ctx.engine) as session:
        notices = session.exec(
            select(EvidenceDocument.title).where(EvidenceDocument.kind == "hearing_notice")
        ).all()
    assert len(notices) == 2 and "听证材料最迟送达调整公告" in notices
    # back to the statutory lead time, but not beyond it
    act(
        ctx,
        "extend_deadline",
        "li",
        "2026-03-11T09:00",
        kind="hearing_materials",
        new_due="2026-04-13",
        **base,
    )
    refused(
        ctx,
        "R5",
        "extend_deadline",
        "li",
        "2026-03-11T09:00",
        kind="hearing_materials",
        new_due="2026-04-14",
        **base,
    )
