"""The reminder policy is data and its points are a pure function of the due date and
the working-day calendar; here across the 2026 National Day holiday (10-01..10-07, with
the make-up working day Saturday 10-10)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from flows import procedure as proc
from flows.calendar import SHANGHAI, WorkingCalendar, end_of_day
from notifications.errors import ConfigError
from notifications.policy import (
    DEFAULT_POLICIES,
    Audience,
    Escalation,
    ReminderPolicy,
    iter_points,
    parse_overrides,
    points_between,
    resolve,
)

CAL = WorkingCalendar()
DUE = date(2026, 10, 9)  # a Friday, two working days after the holiday


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def first_points(policy: ReminderPolicy, due: date, count: int) -> list[tuple[str, datetime, str, int]]:
    points = iter_points(policy, due, end_of_day(due).astimezone(UTC), CAL, SHANGHAI)
    return [(p.key, p.at, p.event, p.level) for p, _ in zip(points, range(count), strict=False)]


def test_every_deadline_kind_has_a_policy() -> None:
    assert set(DEFAULT_POLICIES) == set(proc.DEADLINE_KINDS)


def test_points_count_working_days_across_national_day() -> None:
    policy = DEFAULT_POLICIES["stage_planned"]  # department ladder: head after 2, legal office after 5
    assert first_points(policy, DUE, 8) == [
        # 3 working days before Friday 10-09: 10-08, then back over the holiday to 09-30, 09-29
        ("before:3", local("2026-09-29T09:00"), "deadline.upcoming", 0),
        ("due", local("2026-10-09T09:00"), "deadline.due_today", 0),
        # the make-up Saturday 10-10 is a working day, Sunday 10-11 is not
        ("overdue:1", local("2026-10-10T09:00"), "deadline.overdue", 0),
        ("overdue:2", local("2026-10-12T09:00"), "deadline.escalated", 1),
        ("overdue:3", local("2026-10-13T09:00"), "deadline.overdue", 1),
        ("overdue:4", local("2026-10-14T09:00"), "deadline.overdue", 1),
        ("overdue:5", local("2026-10-15T09:00"), "deadline.escalated", 2),
        ("overdue:6", local("2026-10-16T09:00"), "deadline.overdue", 2),
    ]


def test_comment_window_reminds_before_and_reports_the_automatic_close() -> None:
    points = first_points(DEFAULT_POLICIES["comment_period_end"], DUE, 10)
    assert points == [
        ("before:3", local("2026-09-29T09:00"), "deadline.upcoming", 0),
        ("due", local("2026-10-09T09:00"), "deadline.due_today", 0),
        ("transition", local("2026-10-10T00:00"), "deadline.transition", 0),
    ]


def test_the_earliest_discussion_date_is_not_reminded() -> None:
    assert DEFAULT_POLICIES["legality_review_min"].silent
    assert first_points(DEFAULT_POLICIES["legality_review_min"], DUE, 5) == []


def test_escalation_ladder_widens_the_audience() -> None:
    policy = DEFAULT_POLICIES["stage_planned"]
    assert policy.audiences(0) == (Audience("department_staff", "lead"),)
    assert Audience("unit_head", "lead") in policy.audiences(1)
    assert Audience("supervisor", "any") not in policy.audiences(1)
    widest = policy.audiences(2)
    assert {Audience("supervisor", "any"), Audience("legal_head", "legal_office")} <= set(widest)
    assert len(widest) == len(set(widest))


def test_points_between_excludes_the_start_and_returns_the_next_point() -> None:
    policy = DEFAULT_POLICIES["stage_planned"]
    due_at = end_of_day(DUE).astimezone(UTC)
    due, upcoming = points_between(
        policy, DUE, due_at, CAL, SHANGHAI, local("2026-09-29T09:00"), local("2026-10-10T09:00")
    )
    assert [p.key for p in due] == ["due", "overdue:1"]
    assert upcoming is not None and upcoming.key == "overdue:2"


def test_only_escalations_when_daily_overdue_is_off() -> None:
    policy = ReminderPolicy(
        assignee=(Audience("department_staff", "lead"),),
        before_working_days=(),
        on_due_day=False,
        overdue_daily=False,
        escalations=(Escalation(1, (Audience("unit_head", "lead"),)), Escalation(4, ())),
    )
    points = first_points(policy, DUE, 10)
    assert [(k, e, lv) for k, _, e, lv in points] == [
        ("overdue:1", "deadline.escalated", 1),
        ("overdue:4", "deadline.escalated", 2),
    ]


def test_jurisdiction_override_changes_the_timing_and_keeps_the_rest() -> None:
    overrides = parse_overrides(
        {"publication_due": {"before_working_days": [5, 1], "send_at": "08:30"}},
        proc.DEADLINE_KINDS,
        proc.ROLES,
    )
    policy = resolve("publication_due", overrides)
    assert policy is not None
    assert policy.before_working_days == (5, 1)
    assert policy.send_at == time(8, 30)
    assert policy.escalations == DEFAULT_POLICIES["publication_due"].escalations
    # five working days before Friday 10-09 skips the holiday and Mid-Autumn Friday 09-25
    assert first_points(policy, DUE, 2)[0][:2] == ("before:5", local("2026-09-24T08:30"))


@pytest.mark.parametrize(
    ("raw", "field", "en"),
    [
        ({"no_such_kind": {}}, "settings.reminder_policy.no_such_kind", "unknown deadline kind"),
        (
            {"archive_due": {"before_working_days": [0]}},
            "settings.reminder_policy.archive_due.before_working_days",
            "positive",
        ),
        ({"archive_due": {"colour": "red"}}, "settings.reminder_policy.archive_due.colour", "Extra inputs"),
        (
            {
                "archive_due": {
                    "escalations": [
                        {"after_working_days": 5, "to": [{"role": "head", "unit": "lead"}]},
                        {"after_working_days": 2, "to": [{"role": "head", "unit": "lead"}]},
                    ]
                }
            },
            "settings.reminder_policy.archive_due.escalations",
            "strictly increase",
        ),
        (
            {"archive_due": {"assignee": [{"role": "janitor", "unit": "lead"}]}},
            "settings.reminder_policy.archive_due",
            "unknown role",
        ),
        (
            {"archive_due": {"assignee": [{"role": "head", "unit": "moon"}]}},
            "settings.reminder_policy.archive_due.assignee.0.unit",
            "",
        ),
    ],
)
def test_bad_overrides_name_the_field(raw: dict[str, object], field: str, en: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_overrides(raw, proc.DEADLINE_KINDS, proc.ROLES)
    assert caught.value.field == field
    assert en in caught.value.en
    assert caught.value.zh
