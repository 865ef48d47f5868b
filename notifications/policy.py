"""Reminder policy, as data, per deadline kind; a jurisdiction overrides it in its settings
(`reminder_policy`). Recipients are named by role and unit, never by person, and the
escalation ladder is: the assignee, then the unit head, then the legal office and the
supervisors. Points in time are counted on the working-day calendar.

Everything here is pure: the calendar comes in through the `WorkingDays` protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from notifications.errors import ConfigError

UnitRef = Literal["lead", "acting", "legal_office", "gov_office", "any"]
UNIT_HEAD = "unit_head"  # the unit's head: Unit.head_user_code, else its *_head role holders
OVERDUE_HORIZON = 250  # stop the daily overdue reminders after about a year of working days


class WorkingDays(Protocol):
    def is_working_day(self, day: date) -> bool: ...


@dataclass(frozen=True)
class Audience:
    role: str  # a role of the procedure's role table, or UNIT_HEAD
    unit: UnitRef


@dataclass(frozen=True)
class Escalation:
    after_working_days: int  # overdue by this many working days
    to: tuple[Audience, ...]


@dataclass(frozen=True)
class ReminderPolicy:
    assignee: tuple[Audience, ...]
    before_working_days: tuple[int, ...] = (3,)  # reminders this many working days before
    on_due_day: bool = True
    overdue_daily: bool = True  # every working day while it stays overdue
    escalations: tuple[Escalation, ...] = ()  # in order: level 1, level 2, ...
    on_transition: bool = False  # tell the assignee when the system acted at the due time
    send_at: time = time(9, 0)  # local time of day the day-based reminders go out

    @property
    def silent(self) -> bool:
        return not (
            self.before_working_days or self.on_due_day or self.overdue_daily or self.escalations
        ) and (not self.on_transition)

    def audiences(self, level: int) -> tuple[Audience, ...]:
        """Everyone the ladder has reached at `level` (0: the assignee only)."""
        reached = list(self.assignee)
        for step in self.escalations[:level]:
            reached.extend(step.to)
        return tuple(dict.fromkeys(reached))


@dataclass(frozen=True)
class ReminderPoint:
    key: str  # stable within one due date: before:3, due, transition, overdue:1, ...
    at: datetime  # UTC
    event: str  # the template, e.g. deadline.overdue
    level: int  # escalation level reached
    days: int  # working days left (before) or overdue


# --------------------------------------------------------------------------- the default policy
STAFF = Audience("department_staff", "lead")
LEAD_HEAD = Audience(UNIT_HEAD, "lead")
LEGAL_OFFICE = (Audience("legal_reviewer", "legal_office"), Audience("legal_head", "legal_office"))
SUPERVISORS = Audience("supervisor", "any")
GOV_OFFICE = Audience("gov_office", "gov_office")

# A department's overdue step: its head after 2 working days, then the legal office
# (司法局, which supervises the procedure) and the supervisors after 5.
DEPARTMENT_LADDER = (Escalation(2, (LEAD_HEAD,)), Escalation(5, (*LEGAL_OFFICE, SUPERVISORS)))
# A hearing date is fixed, so a missed lead time escalates faster.
HEARING_LADDER = (Escalation(1, (LEAD_HEAD,)), Escalation(3, (*LEGAL_OFFICE, SUPERVISORS)))

DEFAULT_POLICIES: dict[str, ReminderPolicy] = {
    # The window closes by itself (Art. 15); remind before, and say when it has closed.
    "comment_period_end": ReminderPolicy(
        assignee=(STAFF,), overdue_daily=False, on_transition=True, on_due_day=True
    ),
    "hearing_notice": ReminderPolicy(assignee=(STAFF,), escalations=HEARING_LADDER),
    "hearing_participant_list": ReminderPolicy(assignee=(STAFF,), escalations=HEARING_LADDER),
    "hearing_materials": ReminderPolicy(assignee=(STAFF,), escalations=HEARING_LADDER),
    # The earliest discussion date is a permission, not a duty: nothing to remind.
    "legality_review_min": ReminderPolicy(
        assignee=(STAFF,), before_working_days=(), on_due_day=False, overdue_daily=False
    ),
    # The legal office owes the opinion (P6): its head, then the supervisors.
    "legality_opinion_due": ReminderPolicy(
        assignee=(Audience("legal_reviewer", "legal_office"),),
        escalations=(
            Escalation(2, (Audience(UNIT_HEAD, "legal_office"), Audience("legal_head", "legal_office"))),
            Escalation(5, (SUPERVISORS,)),
        ),
    ),
    # The government office publishes and archives (Arts. 32-33).
    "publication_due": ReminderPolicy(
        assignee=(GOV_OFFICE,),
        escalations=(
            Escalation(2, (Audience(UNIT_HEAD, "gov_office"),)),
            Escalation(5, (*LEGAL_OFFICE, SUPERVISORS)),
        ),
    ),
    "archive_due": ReminderPolicy(
        assignee=(GOV_OFFICE,),
        escalations=(
            Escalation(2, (Audience(UNIT_HEAD, "gov_office"),)),
            Escalation(5, (*LEGAL_OFFICE, SUPERVISORS)),
        ),
    ),
    "stage_planned": ReminderPolicy(assignee=(STAFF,), escalations=DEPARTMENT_LADDER),
}


# --------------------------------------------------------------------------- who is told of an event
@dataclass(frozen=True)
class EventNotice:
    """The notification a domain event sends (issue 9): its template, and who waits for the
    event, by role and unit like the reminders. The decision-procedure flow sends it once per
    event and recipient (the procedure's routing table lists `notify` for the event)."""

    template: str  # the template's event name, e.g. event.returned
    audiences: tuple[Audience, ...]


DEPARTMENT = (STAFF, LEAD_HEAD)  # the lead unit: its staff and its head

EVENT_NOTICES: dict[str, EventNotice] = {
    # the legal office (司法局) reviews, approves, confirms and keeps the catalogue
    "legality_review_submitted": EventNotice("event.review_requested", LEGAL_OFFICE),
    "stage_awaiting_approval": EventNotice("event.approval_requested", LEGAL_OFFICE),
    "flags_proposed": EventNotice("event.flag_proposed", LEGAL_OFFICE),
    "catalogue_adjustment_needed": EventNotice("event.catalogue_adjustment_needed", LEGAL_OFFICE),
    # the government office starts the procedure and sets the meeting's agenda
    "decision_registered": EventNotice("event.procedure_requested", (GOV_OFFICE,)),
    "submitted_for_discussion": EventNotice("event.discussion_requested", (GOV_OFFICE,)),
    # the department learns what became of what it submitted
    "stage_returned": EventNotice("event.returned", DEPARTMENT),
    "legality_review_returned": EventNotice("event.returned", DEPARTMENT),
    "stage_approved": EventNotice("event.stage_approved", (STAFF,)),
    "legality_opinion_issued": EventNotice("event.opinion_issued", DEPARTMENT),
    "decision_made": EventNotice("event.decision_made", DEPARTMENT),
}


# --------------------------------------------------------------------------- jurisdiction overrides
class _AudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: str = Field(min_length=1)
    unit: UnitRef


class _EscalationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    after_working_days: int = Field(ge=1)
    to: list[_AudienceIn] = Field(min_length=1)


class _PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    assignee: list[_AudienceIn] | None = Field(default=None, min_length=1)
    before_working_days: list[int] | None = None
    on_due_day: bool | None = None
    overdue_daily: bool | None = None
    escalations: list[_EscalationIn] | None = None
    on_transition: bool | None = None
    send_at: time | None = None

    @field_validator("before_working_days")
    @classmethod
    def _positive(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(v < 1 for v in value):
            raise ValueError("提前提醒的工作日数须为正整数 / days before must be positive whole numbers")
        return value

    @field_validator("escalations")
    @classmethod
    def _increasing(cls, value: list[_EscalationIn] | None) -> list[_EscalationIn] | None:
        days = [e.after_working_days for e in value or []]
        if days != sorted(set(days)):
            raise ValueError("升级层级的逾期天数须严格递增 / escalation days must strictly increase")
        return value


def parse_overrides(
    raw: Mapping[str, Any], known_kinds: Iterable[str], known_roles: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Check a jurisdiction's `reminder_policy` setting; return it in canonical form.
    Raises ConfigError naming the field (R22: settings are checked when they are set)."""
    kinds, roles = set(known_kinds), {*known_roles, UNIT_HEAD}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            "settings.reminder_policy", "须为按期限类型的映射", "must map deadline kinds to policies"
        )
    clean: dict[str, dict[str, Any]] = {}
    for kind, body in raw.items():
        where = f"settings.reminder_policy.{kind}"
        if kind not in kinds:
            raise ConfigError(where, f"未知期限类型 {kind}", f"unknown deadline kind {kind}")
        try:
            parsed = _PolicyIn.model_validate(body)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            zh, _, en = message.partition(" / ")
            raise ConfigError(f"{where}.{field}", zh if en else f"无效：{message}", en or message) from None
        audiences = list(parsed.assignee or []) + [a for e in parsed.escalations or [] for a in e.to]
        for audience in audiences:
            if audience.role not in roles:
                raise ConfigError(where, f"未知角色 {audience.role}", f"unknown role {audience.role}")
        clean[kind] = parsed.model_dump(mode="json", exclude_none=True)
    return clean


def resolve(kind: str, overrides: Mapping[str, Any] | None = None) -> ReminderPolicy | None:
    """The policy for a deadline kind: the default with the jurisdiction's overrides applied."""
    base = DEFAULT_POLICIES.get(kind)
    body = (overrides or {}).get(kind)
    if base is None or not body:
        return base
    parsed = _PolicyIn.model_validate(body)
    changes: dict[str, Any] = {}
    if parsed.assignee is not None:
        changes["assignee"] = tuple(Audience(a.role, a.unit) for a in parsed.assignee)
    if parsed.before_working_days is not None:
        changes["before_working_days"] = tuple(parsed.before_working_days)
    for name in ("on_due_day", "overdue_daily", "on_transition", "send_at"):
        value = getattr(parsed, name)
        if value is not None:
            changes[name] = value
    if parsed.escalations is not None:
        changes["escalations"] = tuple(
            Escalation(e.after_working_days, tuple(Audience(a.role, a.unit) for a in e.to))
            for e in parsed.escalations
        )
    return replace(base, **changes)


# --------------------------------------------------------------------------- points in time
def _step_working_days(calendar: WorkingDays, day: date, count: int, direction: int) -> date:
    step = timedelta(days=direction)
    while count > 0:
        day += step
        count -= calendar.is_working_day(day)
    return day


def last_working_day_on_or_before(calendar: WorkingDays, day: date) -> date:
    """`day` itself when it is a working day, else the working day before it (P14)."""
    for _ in range(OVERDUE_HORIZON):
        if calendar.is_working_day(day):
            return day
        day -= timedelta(days=1)
    return day


def _at(day: date, moment: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


def iter_points(
    policy: ReminderPolicy, due_date: date, due_at: datetime, calendar: WorkingDays, tz: ZoneInfo
) -> Iterator[ReminderPoint]:
    """Every reminder point of a deadline, in time order (overdue points run on to the horizon).

    A due date that is not a working day (a lead time counted back from a hearing, which
    never rolls, P14) is reminded on the last working day before it, and the earlier
    points count back from that day; the overdue points count on from the due date."""
    remind_day = last_working_day_on_or_before(calendar, due_date)
    for days in sorted(set(policy.before_working_days), reverse=True):
        day = _step_working_days(calendar, remind_day, days, -1)
        yield ReminderPoint(f"before:{days}", _at(day, policy.send_at, tz), "deadline.upcoming", 0, days)
    if policy.on_due_day:
        yield ReminderPoint("due", _at(remind_day, policy.send_at, tz), "deadline.due_today", 0, 0)
    if policy.on_transition:
        yield ReminderPoint("transition", due_at.astimezone(UTC), "deadline.transition", 0, 0)
    if not (policy.overdue_daily or policy.escalations):
        return
    thresholds = {e.after_working_days: level for level, e in enumerate(policy.escalations, 1)}
    last = max([OVERDUE_HORIZON if policy.overdue_daily else 0, *thresholds])
    day, level = due_date, 0
    for overdue in range(1, last + 1):
        day = _step_working_days(calendar, day, 1, 1)
        if overdue in thresholds:
            level = thresholds[overdue]
            yield ReminderPoint(
                f"overdue:{overdue}", _at(day, policy.send_at, tz), "deadline.escalated", level, overdue
            )
        elif policy.overdue_daily:
            yield ReminderPoint(
                f"overdue:{overdue}", _at(day, policy.send_at, tz), "deadline.overdue", level, overdue
            )


def points_between(
    policy: ReminderPolicy,
    due_date: date,
    due_at: datetime,
    calendar: WorkingDays,
    tz: ZoneInfo,
    after: datetime,
    until: datetime,
) -> tuple[list[ReminderPoint], ReminderPoint | None]:
    """The points in (after, until], and the first one after `until` (None: no more)."""
    due: list[ReminderPoint] = []
    for point in iter_points(policy, due_date, due_at, calendar, tz):
        if point.at <= after:
            continue
        if point.at > until:
            return due, point
        due.append(point)
    return due, None
