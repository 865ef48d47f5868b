"""Changing an open deadline: extend_deadline and shorten_deadline.

A deadline row keeps its base date, day count, unit and direction so that it can be
recomputed when a year's calendar is loaded (P13); a change therefore rewrites the day
count, not just the due date, and the new due date rolls to a working day as P2 says.
Minimums that protect someone may not be cut: the public's comment period (R3, unless an
urgent reason is published), the legality reviewer's time (R10) and the hearing lead
times (R5, P4). Reminder deadlines (`DeadlineKind.blocking` false) move freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlmodel import col, select

from flows import procedure as proc
from flows import rules
from flows.calendar import DateResult, WorkingCalendar
from flows.errors import invalid, not_found
from flows.service.framework import DecisionPayload, Tx, action, due_instant
from models import CommentPeriod, Deadline
from models.enums import CommentPeriodStatus, DayUnit, DeadlineStatus

# Deadlines the public relies on: a change needs a public notice (Arts. 15, 16(2)).
PUBLIC_NOTICE_EVIDENCE: dict[str, str] = {
    "comment_period_end": "comment_notice",
    "hearing_notice": "hearing_notice",
    "hearing_participant_list": "hearing_notice",
    "hearing_materials": "hearing_notice",
}
# Statutory minimums and the rule that protects each. The comment period is R3 too, but
# with its own exception (an urgent reason), checked by rules.comment_period_long_enough.
PROTECTED_MINIMUMS: dict[str, str] = {
    "legality_review_min": "R10",  # Art. 26(2): the reviewer's 7 working days
    "hearing_materials": "R5",  # Art. 16(3): materials 7 days before the hearing
    "hearing_notice": "P4",  # Art. 16(2): notice published in advance
    "hearing_participant_list": "P4",  # Art. 16(2): list published in advance
}


class ChangeDeadline(DecisionPayload):
    kind: str
    new_due: date
    reason: str = Field(min_length=1)
    public_notice: str = ""  # required for the deadlines in PUBLIC_NOTICE_EVIDENCE
    urgent_reason: str = ""  # Art. 15(1): shortening the comment period below the minimum
    subject_ref: str | None = None  # which one, when several of the kind are open

    @field_validator("kind")
    @classmethod
    def known_kind(cls, value: str) -> str:
        if value not in proc.procedure().deadline_kinds:
            raise ValueError(f"unknown deadline kind {value!r}")
        return value


@action("extend_deadline", ChangeDeadline)
def extend_deadline(tx: Tx, p: ChangeDeadline) -> Mapping[str, Any]:
    return change_deadline(tx, p, "extend")


@action("shorten_deadline", ChangeDeadline)
def shorten_deadline(tx: Tx, p: ChangeDeadline) -> Mapping[str, Any]:
    return change_deadline(tx, p, "shorten")


def change_deadline(tx: Tx, p: ChangeDeadline, change: Literal["extend", "shorten"]) -> Mapping[str, Any]:
    spec = tx.procedure.deadline_kinds.get(p.kind)
    if spec is None:
        raise invalid("kind", "该决策的程序版本无此期限", "no such deadline in this decision's procedure")
    row = _the_open_deadline(tx, p)
    if p.new_due < tx.today:
        raise invalid("new_due", "不得早于今天", "cannot be in the past")
    if p.kind in PUBLIC_NOTICE_EVIDENCE and not p.public_notice.strip():
        raise invalid(
            "public_notice",
            "公众知晓的期限调整须发布公告",
            "a change to a deadline the public relies on needs a public notice",
        )
    later = change == "extend"
    if not _moves(row.due_date, p.new_due, later):
        raise invalid(
            "new_due",
            f"{'延长' if later else '缩短'}须{'晚于' if later else '早于'}现期限 {row.due_date}",
            f"to {change}, the new date must be {'after' if later else 'before'} {row.due_date}",
        )
    period = _comment_period(tx, row) if p.kind == "comment_period_end" else None
    if period is not None and not later:
        working = None
        if tx.settings["comment_period_unit"] == DayUnit.working.value:
            working = tx.calendar.working_days_between(period.start_date, p.new_due)
        minimum = int(tx.settings["comment_period_min_days"])
        tx.check(
            rules.comment_period_long_enough(period.start_date, p.new_due, minimum, p.urgent_reason, working)
        )
    days = count_days(tx.calendar, row.base_date, p.new_due, row.unit, row.direction)
    if days < 1:
        raise invalid(
            "new_due",
            f"须在起算日 {row.base_date} {'之后' if row.direction > 0 else '之前'}",
            f"must be {'after' if row.direction > 0 else 'before'} the base date {row.base_date}",
        )
    result = tx.calendar.add(
        row.base_date, days, row.unit, direction=row.direction, roll=row.roll_to_working_day
    )
    if p.kind in PROTECTED_MINIMUMS:
        limit = statutory_due(tx, spec, row)
        tx.check(rules.minimum_kept(result.day, limit.day, row.direction, PROTECTED_MINIMUMS[p.kind]))
    if not _moves(row.due_date, result.day, later):
        # rolling to a working day (P2) undid the change
        raise invalid(
            "new_due",
            f"顺延至工作日后为 {result.day}，期限未{'延长' if later else '缩短'}",
            f"rolled to the working day {result.day}, the deadline would not {change}",
        )
    before = row.due_date
    row.days = days
    row.due_date = result.day
    row.due_at = due_instant(spec, result.day, tx.tz)
    row.provisional = result.provisional
    tx.plan_reminders(row)
    tx.session.add(row)
    if period is not None:
        period.end_date = p.new_due
        if p.urgent_reason.strip():
            period.urgent_reason = p.urgent_reason
        tx.session.add(period)
    if p.kind in PUBLIC_NOTICE_EVIDENCE:
        notice = p.public_notice
        if period is not None:
            # Art. 15: the new last day (rolled, P2) and any urgent reason are stated
            from flows.service.participation import notice_states_the_law

            notice = notice_states_the_law(notice, result.day, p.urgent_reason)
        elif p.urgent_reason.strip() and p.urgent_reason not in notice:
            notice += f"\n缩短期限理由：{p.urgent_reason}"  # Art. 15(1): stated in the notice
        tx.add_evidence(spec.stage, PUBLIC_NOTICE_EVIDENCE[p.kind], notice, f"{spec.zh}调整公告")
    change_record = {
        "kind": p.kind,
        "subject_ref": row.subject_ref,
        "from": before.isoformat(),
        "to": result.day.isoformat(),
        "provisional": result.provisional,
        "blocking": row.blocking,
        "reason": p.reason,
    }
    tx.notes["deadline_change"] = change_record
    tx.emit("deadline_extended" if change == "extend" else "deadline_shortened", change_record)
    return {"kind": p.kind, "due": result.day.isoformat(), "previous": before.isoformat()}


def _moves(current: date, new: date, later: bool) -> bool:
    return new > current if later else new < current


def _the_open_deadline(tx: Tx, p: ChangeDeadline) -> Deadline:
    """The one deadline of the kind, which must still be open (declared: `needs`); one that
    already fell due cannot be changed."""
    decision = tx.require_decision()
    query = select(Deadline).where(Deadline.decision_id == decision.id, Deadline.kind == p.kind)
    if p.subject_ref is not None:
        query = query.where(Deadline.subject_ref == p.subject_ref)
    rows = list(tx.session.exec(query.order_by(col(Deadline.id))))
    open_rows = [row for row in rows if row.status == DeadlineStatus.open]
    if len(open_rows) > 1:
        raise invalid(
            "subject_ref",
            f"有多个 {p.kind} 期限，须指明 subject_ref",
            f"several {p.kind} deadlines are open; name the subject_ref",
        )
    if not rows:
        raise not_found("kind", p.kind)
    row = open_rows[0] if open_rows else rows[-1]
    tx.require("deadline", row, p.kind, field="kind")
    tx.check(rules.deadline_not_passed(tx.now, row.due_at, p.kind))  # due but not yet swept
    return row


def _comment_period(tx: Tx, row: Deadline) -> CommentPeriod:
    """The period of an open comment deadline: the sweep closes both together."""
    period = tx.session.get(CommentPeriod, int(row.subject_ref)) if row.subject_ref.isdigit() else None
    assert period is not None and period.status == CommentPeriodStatus.open, row.subject_ref
    return period


def count_days(calendar: WorkingCalendar, base: date, target: date, unit: DayUnit, direction: int) -> int:
    """How many days (of `unit`) from `base` to `target`, counted in `direction`, so that
    `calendar.add(base, n, unit, direction=direction)` lands on `target`, or on the first
    working day beyond it when `target` is not one (P2). Zero or less: `target` is not
    on the `direction` side of `base`."""
    if unit is DayUnit.calendar:
        return (target - base).days * direction
    if (target - base).days * direction <= 0:
        return 0
    step = timedelta(days=direction)
    while not calendar.is_working_day(target):
        target += step
    day, count = base, 0
    while day != target:
        day += step
        count += calendar.is_working_day(day)
    return count


def statutory_due(tx: Tx, spec: proc.DeadlineKind, row: Deadline) -> DateResult:
    """The due date the jurisdiction's minimum gives, from the row's base date (as
    `Tx.schedule` computes it)."""
    limit = tx.procedure.time_limits[spec.time_limit] if spec.time_limit else None
    setting = spec.days_setting or (limit.days_setting if limit else None)
    assert setting is not None, spec.id
    if limit is not None and limit.unit_setting:
        unit = DayUnit(tx.settings[limit.unit_setting])
    else:
        unit = limit.unit if limit else DayUnit.calendar
    return tx.calendar.add(row.base_date, int(tx.settings[setting]), unit, direction=spec.direction)
