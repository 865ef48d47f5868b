"""The annual statistics of major administrative decisions, for the justice bureau's annual
report on law-based government (法治政府建设年度报告), and the report built from them.

Three layers, as elsewhere in the product:

- `gather_facts` reads what the figures need, one read-only query per table, into plain rows
  (`ReportFacts`); it writes nothing;
- `compute_statistics` is pure: from the facts, the working-day calendar, the year and `now`
  it computes every figure (`AnnualStatistics`), so the definitions can be unit-tested
  without a database;
- `build_annual_report` writes the HTML and JSON documents (`documents.annual_report`) into
  the data folder and returns their paths with the figures.

The definitions (what "started", "completed", "deferred", a stage's duration and "on time"
mean) are in docs/annual-report.md; each is also stated beside the code that applies it.

The report is public. A confidential decision (its flag in effect or only proposed, as
`flows.service.access` reads it) is counted in every figure, but its title is replaced by
`CONFIDENTIAL_TITLE` before the figures leave this module: neither document ever holds it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from documents.annual_report import write_report
from flows import procedure as proc
from flows import rules
from flows.calendar import WorkingCalendar, end_of_day, local_date, start_of_day
from flows.errors import invalid, refusal
from flows.service import checkpoint as checkpoints
from flows.service.access import READ_ROLES, is_confidential, load_reader
from flows.service.decision_reads import names_of
from flows.service.framework import ServiceContext, load_calendar, the_jurisdiction
from flows.service.sweep import TRANSITIONS as AUTOMATIC_TRANSITIONS
from flows.timeline import DECISION_STATUS_ZH
from models import (
    AuditCheckpoint,
    AuditEvent,
    CatalogueEntry,
    CatalogueYear,
    CommentPeriod,
    Deadline,
    Decision,
    DecisionStatus,
    ExpertOpinion,
    Hearing,
    Jurisdiction,
    LegalityReview,
    Meeting,
    PublicComment,
    RiskAssessment,
    StageStatus,
    Suspension,
    Unit,
)
from models.enums import CatalogueEntryStatus, DeadlineStatus

CONFIDENTIAL_TITLE = "依法不予公开的决策事项 / confidential matter"

# A stage has started once it is worked on (or completed in one step); it ends when it is completed.
STARTED = frozenset(
    {StageStatus.active, StageStatus.awaiting_approval, StageStatus.returned, StageStatus.completed}
)
APPROVED = frozenset({"approve", "approve_with_changes"})  # the head's decisions that make a decision
LEGALITY_OUTCOMES = ("lawful", "lawful_after_changes", "unlawful")  # P7 (a return is counted apart)
UNRATED = "unrated"  # an existing assessment referenced under Art. 22(2) without a P12 level
RISK_LEVELS = (*rules.RISK_LEVELS, UNRATED)
EVENT_ACTIONS = ("withdraw_decision", "return_for_supplement")  # counted from the audit record
# entries the legal office included in the catalogue (and any adjusted out of it later)
CATALOGUED = frozenset(
    {CatalogueEntryStatus.included, CatalogueEntryStatus.deferred, CatalogueEntryStatus.removed}
)

LABELS: dict[str, tuple[str, str]] = {
    "high": ("高风险", "high"),
    "medium": ("中风险", "medium"),
    "low": ("低风险", "low"),
    UNRATED: ("未定级（引用既有评估）", "not rated (existing assessment)"),
    "lawful": ("合法", "lawful"),
    "lawful_after_changes": ("修改后合法", "lawful after changes"),
    "unlawful": ("不合法", "unlawful"),
}


def obligation_kinds(procedure: proc.Procedure) -> frozenset[str]:
    """The deadline kinds that are an obligation someone meets or misses: a time limit that
    ends a period ("by 24:00 on the day"), except those whose falling due is an automatic
    transition (the comment window closes by itself). An earliest date (T4, `start_of_day`)
    is not an obligation: it only forbids acting before it."""
    return frozenset(
        kind
        for kind, spec in procedure.deadline_kinds.items()
        if spec.fires == "end_of_day" and kind not in AUTOMATIC_TRANSITIONS
    )


# ------------------------------------------------------------------ facts (plain rows)
@dataclass(frozen=True)
class DecisionRow:
    id: int
    code: str
    title: str
    confidential: bool
    status: DecisionStatus
    outcome: str  # the head's decision at the meeting (approve, approve_with_changes, reject, defer)
    lead_unit: str  # the lead unit's code ("" when none is named)
    registered_at: datetime
    decided_at: datetime | None  # when the head's decision was recorded (Art. 30)
    catalogue_entry_id: int | None = None


@dataclass(frozen=True)
class StageEvent:
    """One stage transition, as its audit event records it ("before->after")."""

    decision_id: int
    stage: str
    before: str
    after: str
    at: datetime


@dataclass(frozen=True)
class ActionEvent:
    decision_id: int
    action: str
    at: datetime


@dataclass(frozen=True)
class DeadlineRow:
    decision_id: int
    kind: str
    stage: str
    due_date: date
    due_at: datetime
    status: DeadlineStatus
    closed_at: datetime | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class RiskRow:
    decision_id: int
    level: str
    submitted_at: datetime


@dataclass(frozen=True)
class OpinionRow:
    decision_id: int
    round: int
    outcome: str
    issued_at: datetime


@dataclass(frozen=True)
class MeetingRow:
    decision_id: int
    held_on: date
    head_decision: str


@dataclass(frozen=True)
class SuspensionRow:
    decision_id: int
    on_date: date
    ended_how: str
    ended_on: date | None


@dataclass(frozen=True)
class CatalogueFacts:
    entry_status: Mapping[int, CatalogueEntryStatus]  # entry id -> status
    published_version: int | None


@dataclass(frozen=True)
class CheckpointRow:
    seq: int
    created_at: datetime
    body: str
    digest: str
    key_id: str
    signature: str


@dataclass(frozen=True)
class ReportFacts:
    """Everything the figures are computed from: plain rows, no session."""

    organ: str
    timezone: str
    units: Mapping[str, str]  # unit code -> name
    decisions: tuple[DecisionRow, ...]
    stage_events: tuple[StageEvent, ...] = ()
    actions: tuple[ActionEvent, ...] = ()
    deadlines: tuple[DeadlineRow, ...] = ()
    hearings_held: tuple[tuple[int, date], ...] = ()  # (decision id, held on)
    expert_opinions: tuple[tuple[int, datetime], ...] = ()  # (decision id, recorded at)
    risk_assessments: tuple[RiskRow, ...] = ()
    legality_opinions: tuple[OpinionRow, ...] = ()
    meetings: tuple[MeetingRow, ...] = ()
    suspensions: tuple[SuspensionRow, ...] = ()
    comment_periods: tuple[datetime, ...] = ()  # opened at
    public_comments: tuple[datetime, ...] = ()  # submitted at
    catalogue: CatalogueFacts | None = None
    checkpoints_in_year: int = 0
    first_checkpoint: int | None = None
    latest_checkpoint: CheckpointRow | None = None
    public_key: str | None = None  # PEM of the key that signs the checkpoints, where known


# ------------------------------------------------------------------ figures
@dataclass(frozen=True)
class Counts:
    """决策事项总体情况 / the decisions of the year."""

    catalogued: int  # entries included in the year's catalogue (still in it, deferred or removed)
    catalogue_in_force: int  # of which still in the catalogue
    catalogue_deferred: int  # of which deferred by an adjustment (暂缓)
    catalogue_removed: int  # of which removed by an adjustment (调出)
    catalogue_completed: int  # catalogued entries whose decision was made by the end of the period
    catalogue_published_version: int | None  # the catalogue version in force on the portal
    started: int  # decisions registered in the year
    completed: int  # decisions made (approved at the meeting) in the year
    rejected: int  # not approved at the meeting in the year
    withdrawn: int  # withdrawn in the year
    in_progress: int  # registered by the end of the period, neither made, rejected nor withdrawn by it
    deferred: int  # catalogue_deferred + decisions deferred at a meeting, suspended or terminated
    deferred_at_meeting: int  # decisions the head deferred at a meeting held in the year
    suspended: int  # decisions whose execution was suspended in the year (Art. 37)
    terminated: int  # decisions terminated in the year after a suspension (Art. 37)


@dataclass(frozen=True)
class ProcedureCounts:
    """听证、专家论证、风险评估和合法性审查 / the procedures held in the year."""

    comment_periods: int  # comment periods opened in the year
    public_comments: int  # public comments received in the year
    hearings_held: int  # hearings held in the year
    expert_reviews: int  # decisions with an expert opinion recorded in the year
    expert_opinions: int  # expert opinions recorded in the year
    risk_assessments: int  # decisions with a risk assessment submitted in the year (the latest counts)
    risk_by_level: dict[str, int]  # high, medium, low, unrated
    legality_opinions: int  # legality opinions issued in the year
    legality_by_outcome: dict[str, int]  # lawful, lawful_after_changes, unlawful
    legality_returned: int  # submissions returned for supplement in the year (P5, P7)


@dataclass(frozen=True)
class Timeliness:
    """The deadlines due in the year, settled by `now`."""

    deadlines: int  # on_time + late + overdue
    on_time: int  # met by the due time
    late: int  # met after the due time
    overdue: int  # not met, and the due time has passed
    pending: int  # due later in the year; not counted in the rate
    on_time_rate: float | None  # on_time / deadlines (None without deadlines)


@dataclass(frozen=True)
class StageFigures:
    stage: str
    zh: str
    en: str
    completed: int  # instances of the stage completed in the year
    median_working_days: float | None
    max_working_days: int | None
    has_time_limit: bool  # the procedure sets it a deadline that can be met or missed
    timeliness: Timeliness


@dataclass(frozen=True)
class UnitFigures:
    unit: str  # the lead unit's code
    name: str
    started: int  # decisions it leads registered in the year
    timeliness: Timeliness  # the deadlines of the decisions it leads


@dataclass(frozen=True)
class OverdueItem:
    decision: str
    title: str
    confidential: bool
    unit: str  # the lead unit's name
    stage: str
    stage_zh: str
    stage_en: str
    kind: str
    kind_zh: str
    kind_en: str
    due_date: date
    met_on: date | None  # None: not met yet
    days_overdue: int  # calendar days after the due date, to the day it was met or to today
    working_days_overdue: int


@dataclass(frozen=True)
class GanttBar:
    stage: str
    zh: str
    en: str
    start: date
    end: date
    ongoing: bool  # not completed by the end of the period


@dataclass(frozen=True)
class GanttRow:
    decision: str
    title: str
    confidential: bool
    status: str
    status_zh: str
    bars: tuple[GanttBar, ...]


@dataclass(frozen=True)
class SignedHead:
    """The latest checkpoint of the year: the signed heads of every audit chain."""

    seq: int
    at: datetime
    digest: str  # sha256 of `body`; the next checkpoint names it
    previous: str  # the digest of the checkpoint before it
    key_id: str
    signature: str  # base64 Ed25519 signature of `body`
    chains: int
    body: str  # the canonical JSON that was signed
    public_key: str | None  # PEM, when the report knows the key and its id matches


@dataclass(frozen=True)
class CheckpointAppendix:
    count: int  # checkpoints signed in the year
    first_seq: int | None
    last_seq: int | None
    latest: SignedHead | None


@dataclass(frozen=True)
class AnnualStatistics:
    year: int
    organ: str
    timezone: str
    generated_at: datetime  # `now`
    period_start: date
    period_end: date  # the year's last day, or today while the year runs
    complete_year: bool
    provisional: bool  # a working-day count touched a year whose holiday notice is not loaded (P13)
    counts: Counts
    procedures: ProcedureCounts
    stages: tuple[StageFigures, ...]
    units: tuple[UnitFigures, ...]
    overdue: tuple[OverdueItem, ...]
    timeline: tuple[GanttRow, ...]
    checkpoints: CheckpointAppendix
    definitions: dict[str, tuple[str, str]] = field(default_factory=dict)


DEFINITIONS: dict[str, tuple[str, str]] = {
    "catalogued": (
        "列入当年度决策事项目录的事项（含经调整暂缓、调出的事项）",
        "entries included in the year's catalogue, including those later deferred or removed",
    ),
    "started": ("当年登记启动的决策事项", "decisions registered in the year"),
    "completed": (
        "当年经集体讨论作出决定（同意或修改后同意）的决策事项",
        "decisions approved (or approved with changes) at a meeting in the year",
    ),
    "deferred": (
        "目录中暂缓的事项，加上当年会议决定暂缓、中止执行或终止执行的决策（每项只计一次）",
        "catalogue entries deferred, plus decisions deferred at a meeting, suspended or terminated "
        "in the year (each decision once)",
    ),
    "duration": (
        "环节用时按工作日计：自该环节开始之日的次日起，至完成之日止（起算日不计入）",
        "a stage's time in working days from the day after it started up to the day it was completed "
        "(the start day is not counted)",
    ),
    "on_time": (
        "按时率 = 按时完成的期限数 ÷（按时 + 逾期完成 + 逾期未完成）；尚未到期的期限不计入",
        "on-time rate = deadlines met by their due time / (met on time + met late + overdue and unmet); "
        "deadlines not yet due are left out",
    ),
    "confidential": (
        "依法不予公开的决策计入各项统计，但不显示其名称",
        "confidential decisions are counted in every figure, but their titles are not shown",
    ),
}


# ------------------------------------------------------------------ the pure computation
@dataclass(frozen=True)
class Period:
    year: int
    tz: ZoneInfo
    now: datetime
    start: date
    end: date  # the year's last day, or today

    @property
    def start_at(self) -> datetime:
        return start_of_day(self.start, self.tz)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period (never after `now`)."""
        return min(end_of_day(self.end, self.tz), self.now)

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start_at <= moment <= self.now and moment < self.end_at

    def holds_day(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end

    @property
    def complete(self) -> bool:
        return self.end == date(self.year, 12, 31) and self.now >= end_of_day(self.end, self.tz)


def report_period(year: int, now: datetime, tz: ZoneInfo) -> Period:
    """The year up to `now`. A year that has not begun has no report (INPUT)."""
    if now.tzinfo is None:
        raise invalid("now", "须带时区", "must carry a time zone")
    today = local_date(now, tz)
    first, last = date(year, 1, 1), date(year, 12, 31)
    if today < first:
        raise invalid("year", f"{year} 年尚未开始", f"the year {year} has not begun")
    return Period(year, tz, now, first, min(today, last))


@dataclass
class _Span:
    start: datetime | None = None
    end: datetime | None = None  # set while the stage stands completed


def stage_moves(decision_id: int, at: datetime, stages: Any) -> list[StageEvent]:
    """The stage transitions one audit event's notes record (`Tx.move_stage` notes each as
    {stage: "before->after"}); none when the event moved no stage."""
    if not isinstance(stages, dict):
        return []
    moves = []
    for stage_id, move in stages.items():
        before, _, after = str(move).partition("->")
        moves.append(StageEvent(decision_id, stage_id, before, after, at))
    return moves


def stage_spans(events: Iterable[StageEvent]) -> dict[tuple[int, str], _Span]:
    """Per (decision, stage): when work on it started (its first move into a worked-on status)
    and when it was completed (its latest completion, unless it was re-opened since). The
    events come in the order their chain records them."""
    spans: dict[tuple[int, str], _Span] = {}
    for event in events:
        span = spans.setdefault((event.decision_id, event.stage), _Span())
        after = StageStatus(event.after)
        if after in STARTED and span.start is None:
            span.start = event.at
        if after == StageStatus.completed:
            span.end = event.at
        elif after in STARTED:
            span.end = None  # re-opened after a revision (§7.2), or back with the department
    return {key: span for key, span in spans.items() if span.start is not None}


def _timeliness(outcomes: Iterable[str]) -> Timeliness:
    tally = {"on_time": 0, "late": 0, "overdue": 0, "pending": 0}
    for outcome in outcomes:
        tally[outcome] += 1
    settled = tally["on_time"] + tally["late"] + tally["overdue"]
    return Timeliness(
        deadlines=settled,
        on_time=tally["on_time"],
        late=tally["late"],
        overdue=tally["overdue"],
        pending=tally["pending"],
        on_time_rate=tally["on_time"] / settled if settled else None,
    )


def deadline_outcome(row: DeadlineRow, now: datetime) -> str | None:
    """What a deadline stood at, at `now`: on_time, late, overdue or pending; None when it
    did not exist yet or had been cancelled (no longer owed). A closure after `now` has not
    happened yet."""
    if row.created_at is not None and row.created_at > now:
        return None
    closed = row.closed_at is not None and row.closed_at <= now
    if row.status == DeadlineStatus.cancelled and (closed or row.closed_at is None):
        return None
    if closed and row.status == DeadlineStatus.met and row.closed_at is not None:
        return "on_time" if row.closed_at <= row.due_at else "late"
    return "overdue" if row.due_at <= now else "pending"


def compute_statistics(
    facts: ReportFacts, calendar: WorkingCalendar, year: int, now: datetime
) -> AnnualStatistics:
    """Every figure of the year, from plain facts. Pure: no database, no clock."""
    procedure = proc.procedure()
    period = report_period(year, now, ZoneInfo(facts.timezone))
    spans = stage_spans(e for e in facts.stage_events if e.at <= now)
    durations, duration_years = _durations(spans, period, calendar)
    timeliness = _deadlines(facts, period, calendar, procedure)
    started_by_unit: dict[str, int] = {}
    for d in facts.decisions:
        if period.holds(d.registered_at):
            started_by_unit[d.lead_unit] = started_by_unit.get(d.lead_unit, 0) + 1
    limited = {
        spec.stage for kind, spec in procedure.deadline_kinds.items() if kind in obligation_kinds(procedure)
    }
    stages = tuple(
        StageFigures(
            stage=stage.id,
            zh=stage.zh,
            en=stage.en,
            completed=len(durations.get(stage.id, [])),
            median_working_days=_median(durations.get(stage.id, [])),
            max_working_days=max(durations[stage.id]) if durations.get(stage.id) else None,
            has_time_limit=stage.id in limited,
            timeliness=_timeliness(timeliness.by_stage.get(stage.id, [])),
        )
        for stage in procedure.stages
    )
    units = tuple(
        UnitFigures(
            unit=code,
            name=facts.units.get(code, code) if code else "未指定牵头单位 / no lead unit",
            started=started_by_unit.get(code, 0),
            timeliness=_timeliness(timeliness.by_unit.get(code, [])),
        )
        for code in sorted(set(started_by_unit) | set(timeliness.by_unit), key=lambda c: (c == "", c))
    )
    touched = {year} | duration_years | timeliness.years
    return AnnualStatistics(
        year=year,
        organ=facts.organ,
        timezone=facts.timezone,
        generated_at=now,
        period_start=period.start,
        period_end=period.end,
        complete_year=period.complete,
        provisional=any(not calendar.is_confirmed_year(y) for y in touched),
        counts=_counts(facts, period),
        procedures=_procedures(facts, period),
        stages=stages,
        units=units,
        overdue=tuple(sorted(timeliness.overdue, key=lambda o: (o.due_date, o.decision, o.kind))),
        timeline=_timeline(facts, spans, period, procedure),
        checkpoints=_appendix(facts),
        definitions=dict(DEFINITIONS),
    )


def public_title(decision: DecisionRow) -> str:
    """The title the public report shows: none for a confidential decision."""
    return CONFIDENTIAL_TITLE if decision.confidential else decision.title


def _counts(facts: ReportFacts, period: Period) -> Counts:
    """The decisions of the year; see `Counts` for each definition."""

    def ids(pairs: Iterable[tuple[int, bool]]) -> set[int]:
        return {decision_id for decision_id, inside in pairs if inside}

    made_by_end = {d.id for d in facts.decisions if d.decided_at is not None and d.decided_at < period.end_at}
    withdrawals = [a for a in facts.actions if a.action == "withdraw_decision"]
    withdrawn_by_end = {a.decision_id for a in withdrawals if a.at < period.end_at}
    decided = [d for d in facts.decisions if period.holds(d.decided_at)]
    at_meeting = ids(
        (m.decision_id, m.head_decision == "defer" and period.holds_day(m.held_on)) for m in facts.meetings
    )
    suspended = ids((s.decision_id, period.holds_day(s.on_date)) for s in facts.suspensions)
    terminated = ids(
        (s.decision_id, s.ended_how == "terminated" and period.holds_day(s.ended_on))
        for s in facts.suspensions
    )
    entries = dict(facts.catalogue.entry_status) if facts.catalogue else {}
    statuses = list(entries.values())
    catalogued = {entry_id for entry_id, status in entries.items() if status in CATALOGUED}
    deferred = statuses.count(CatalogueEntryStatus.deferred)
    return Counts(
        catalogued=len(catalogued),
        catalogue_in_force=statuses.count(CatalogueEntryStatus.included),
        catalogue_deferred=deferred,
        catalogue_removed=statuses.count(CatalogueEntryStatus.removed),
        catalogue_completed=len(
            {
                d.catalogue_entry_id
                for d in facts.decisions
                if d.catalogue_entry_id in catalogued and d.id in made_by_end and d.outcome in APPROVED
            }
        ),
        catalogue_published_version=facts.catalogue.published_version if facts.catalogue else None,
        started=sum(period.holds(d.registered_at) for d in facts.decisions),
        completed=sum(d.outcome in APPROVED for d in decided),
        rejected=sum(d.outcome == "reject" for d in decided),
        withdrawn=len(ids((a.decision_id, period.holds(a.at)) for a in withdrawals)),
        in_progress=sum(
            d.registered_at < period.end_at and d.id not in made_by_end and d.id not in withdrawn_by_end
            for d in facts.decisions
        ),
        deferred=deferred + len(at_meeting | suspended | terminated),
        deferred_at_meeting=len(at_meeting),
        suspended=len(suspended),
        terminated=len(terminated),
    )


def _procedures(facts: ReportFacts, period: Period) -> ProcedureCounts:
    """The procedures held in the year; see `ProcedureCounts` for each definition."""
    latest_risk: dict[int, RiskRow] = {}
    for risk in sorted(facts.risk_assessments, key=lambda r: r.submitted_at):
        if period.holds(risk.submitted_at):
            latest_risk[risk.decision_id] = risk  # a later report replaces an earlier one
    risk_by_level = dict.fromkeys(RISK_LEVELS, 0)
    for risk in latest_risk.values():
        risk_by_level[risk.level if risk.level in rules.RISK_LEVELS else UNRATED] += 1
    opinions = [o for o in facts.legality_opinions if period.holds(o.issued_at)]
    by_outcome = dict.fromkeys(LEGALITY_OUTCOMES, 0)
    for opinion in opinions:
        by_outcome[opinion.outcome] = by_outcome.get(opinion.outcome, 0) + 1
    expert = [decision_id for decision_id, at in facts.expert_opinions if period.holds(at)]
    return ProcedureCounts(
        comment_periods=sum(period.holds(at) for at in facts.comment_periods),
        public_comments=sum(period.holds(at) for at in facts.public_comments),
        hearings_held=sum(period.holds_day(day) for _, day in facts.hearings_held),
        expert_reviews=len(set(expert)),
        expert_opinions=len(expert),
        risk_assessments=len(latest_risk),
        risk_by_level=risk_by_level,
        legality_opinions=len(opinions),
        legality_by_outcome=by_outcome,
        legality_returned=sum(
            a.action == "return_for_supplement" and period.holds(a.at) for a in facts.actions
        ),
    )


def _durations(
    spans: Mapping[tuple[int, str], _Span], period: Period, calendar: WorkingCalendar
) -> tuple[dict[str, list[int]], set[int]]:
    """Per stage, the working days of each instance completed in the period (the start day
    not counted, as the procedure counts its time limits, P2); and the years counted over."""
    durations: dict[str, list[int]] = {}
    years: set[int] = set()
    for (_, stage_id), span in spans.items():
        if span.start is not None and span.end is not None and period.holds(span.end):
            begin, finish = local_date(span.start, period.tz), local_date(span.end, period.tz)
            years.update(range(begin.year, finish.year + 1))
            durations.setdefault(stage_id, []).append(calendar.working_days_between(begin, finish))
    return durations, years


@dataclass
class _DeadlineTally:
    by_stage: dict[str, list[str]] = field(default_factory=dict)
    by_unit: dict[str, list[str]] = field(default_factory=dict)
    overdue: list[OverdueItem] = field(default_factory=list)
    years: set[int] = field(default_factory=set)


def _deadlines(
    facts: ReportFacts, period: Period, calendar: WorkingCalendar, procedure: proc.Procedure
) -> _DeadlineTally:
    """The obligations due in the year, each judged as of `now` (`deadline_outcome`), by stage
    and by the decision's lead unit; the late and overdue ones listed."""
    decisions = {d.id: d for d in facts.decisions}
    obligations = obligation_kinds(procedure)
    today = local_date(period.now, period.tz)
    tally = _DeadlineTally()
    for row in facts.deadlines:
        decision = decisions.get(row.decision_id)
        if row.kind not in obligations or row.due_date.year != period.year or decision is None:
            continue
        outcome = deadline_outcome(row, period.now)
        if outcome is None:
            continue
        tally.by_stage.setdefault(row.stage, []).append(outcome)
        tally.by_unit.setdefault(decision.lead_unit, []).append(outcome)
        if outcome not in ("late", "overdue"):
            continue
        met_on = local_date(row.closed_at, period.tz) if outcome == "late" and row.closed_at else None
        until = met_on or today
        tally.years.update(range(row.due_date.year, until.year + 1))
        stage_zh, stage_en = names_of(procedure.stage_by_id, row.stage)
        kind_zh, kind_en = names_of(procedure.deadline_kinds, row.kind)
        tally.overdue.append(
            OverdueItem(
                decision=decision.code,
                title=public_title(decision),
                confidential=decision.confidential,
                unit=facts.units.get(decision.lead_unit, decision.lead_unit),
                stage=row.stage,
                stage_zh=stage_zh,
                stage_en=stage_en,
                kind=row.kind,
                kind_zh=kind_zh,
                kind_en=kind_en,
                due_date=row.due_date,
                met_on=met_on,
                days_overdue=(until - row.due_date).days,
                working_days_overdue=calendar.working_days_between(row.due_date, until),
            )
        )
    return tally


def _timeline(
    facts: ReportFacts, spans: Mapping[tuple[int, str], _Span], period: Period, procedure: proc.Procedure
) -> tuple[GanttRow, ...]:
    """Per decision worked on in the period, its stages as bars clipped to the period. A
    stage not completed runs to the end of the period (`ongoing`), or to the day its decision
    was withdrawn or terminated."""
    closed: dict[int, date] = {}
    for a in facts.actions:
        if a.action == "withdraw_decision" and a.at < period.end_at:
            closed[a.decision_id] = local_date(a.at, period.tz)
    for s in facts.suspensions:
        if s.ended_how == "terminated" and s.ended_on is not None and s.ended_on <= period.end:
            closed[s.decision_id] = s.ended_on
    rows: list[GanttRow] = []
    for d in sorted(facts.decisions, key=lambda d: d.code):
        bars: list[GanttBar] = []
        for stage in procedure.stages:
            span = spans.get((d.id, stage.id))
            if span is None or span.start is None or span.start >= period.end_at:
                continue
            done = span.end if span.end is not None and span.end < period.end_at else None
            ongoing = done is None and d.id not in closed
            finish = local_date(done, period.tz) if done is not None else closed.get(d.id, period.end)
            begin = max(local_date(span.start, period.tz), period.start)
            if finish < begin:
                continue
            bars.append(GanttBar(stage.id, stage.zh, stage.en, begin, finish, ongoing))
        if bars:
            rows.append(
                GanttRow(
                    decision=d.code,
                    title=public_title(d),
                    confidential=d.confidential,
                    status=d.status.value,
                    status_zh=DECISION_STATUS_ZH[d.status],
                    bars=tuple(bars),
                )
            )
    return tuple(rows)


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def _appendix(facts: ReportFacts) -> CheckpointAppendix:
    latest = facts.latest_checkpoint
    head = None
    if latest is not None:
        body = json.loads(latest.body)
        head = SignedHead(
            seq=latest.seq,
            at=latest.created_at,
            digest=latest.digest,
            previous=str(body.get("previous", "")),
            key_id=latest.key_id,
            signature=latest.signature,
            chains=len(body.get("chains", {})),
            body=latest.body,
            public_key=facts.public_key,
        )
    return CheckpointAppendix(
        count=facts.checkpoints_in_year,
        first_seq=facts.first_checkpoint,
        last_seq=latest.seq if latest else None,
        latest=head,
    )


# ------------------------------------------------------------------ gathering (read-only)
def gather_facts(
    session: Session, jurisdiction: Jurisdiction, year: int, now: datetime, public_key: str | None = None
) -> ReportFacts:
    """Read the rows the figures need, one query per table; nothing is written. Rows dated
    after the period are left out here; the pure computation applies the exact period. Stage
    transitions come from the audit events' notes (only the `stages` part of each payload is
    read), in the order each chain records them."""
    tz = ZoneInfo(jurisdiction.timezone)
    period = report_period(year, now, tz)
    cut = period.end_at
    jid = jurisdiction.id
    mine = Decision.jurisdiction_id == jid

    def joined(column: Any) -> Any:
        return col(Decision.id) == column

    unit_rows = session.exec(select(Unit.id, Unit.code, Unit.name).where(Unit.jurisdiction_id == jid)).all()
    units = {code: name for _, code, name in unit_rows}
    unit_codes = {unit_id: code for unit_id, code, _ in unit_rows}
    decisions = tuple(
        DecisionRow(
            id=d.id or 0,
            code=d.code,
            title=d.title,
            confidential=is_confidential(d),
            status=d.status,
            outcome=d.outcome,
            lead_unit=unit_codes.get(d.lead_unit_id, "") if d.lead_unit_id else "",
            registered_at=d.created_at,
            decided_at=d.decided_on,
            catalogue_entry_id=d.catalogue_entry_id,
        )
        for d in session.exec(
            select(Decision).where(mine, Decision.created_at < cut).order_by(col(Decision.code))
        )
    )
    stage_events: list[StageEvent] = []
    actions: list[ActionEvent] = []
    for decision_id, action, at, stages in session.exec(
        select(
            AuditEvent.decision_id, AuditEvent.action, AuditEvent.occurred_at, AuditEvent.payload["stages"]
        )
        .join(Decision, joined(AuditEvent.decision_id))
        .where(mine, AuditEvent.occurred_at < cut)
        .order_by(col(AuditEvent.decision_id), col(AuditEvent.seq))
    ):
        if decision_id is None:
            continue
        if action in EVENT_ACTIONS:
            actions.append(ActionEvent(decision_id, action, at))
        stage_events.extend(stage_moves(decision_id, at, stages))
    deadlines = tuple(
        DeadlineRow(
            row.decision_id or 0,
            row.kind,
            row.stage,
            row.due_date,
            row.due_at,
            row.status,
            row.closed_at,
            row.created_at,
        )
        for row in session.exec(
            select(Deadline)
            .join(Decision, joined(Deadline.decision_id))
            .where(mine, col(Deadline.due_date) >= period.start, col(Deadline.due_date) <= date(year, 12, 31))
        )
    )
    hearings = tuple(
        (decision_id, held_on)
        for decision_id, held_on in session.exec(
            select(Hearing.decision_id, col(Hearing.held_on))
            .join(Decision, joined(Hearing.decision_id))
            .where(mine, col(Hearing.held_on).is_not(None), col(Hearing.held_on) >= period.start)
        )
        if held_on is not None
    )
    expert = tuple(
        session.exec(
            select(ExpertOpinion.decision_id, ExpertOpinion.recorded_at)
            .join(Decision, joined(ExpertOpinion.decision_id))
            .where(mine, ExpertOpinion.recorded_at >= period.start_at, ExpertOpinion.recorded_at < cut)
        ).all()
    )
    risks = tuple(
        RiskRow(decision_id, level, at)
        for decision_id, level, at in session.exec(
            select(RiskAssessment.decision_id, RiskAssessment.level, RiskAssessment.submitted_at)
            .join(Decision, joined(RiskAssessment.decision_id))
            .where(mine, RiskAssessment.submitted_at >= period.start_at, RiskAssessment.submitted_at < cut)
        )
    )
    opinions = tuple(
        OpinionRow(decision_id, number, outcome, issued_at)
        for decision_id, number, outcome, issued_at in session.exec(
            select(
                LegalityReview.decision_id,
                LegalityReview.round,
                LegalityReview.outcome,
                LegalityReview.issued_at,
            )
            .join(Decision, joined(LegalityReview.decision_id))
            .where(
                mine, col(LegalityReview.issued_at) >= period.start_at, col(LegalityReview.issued_at) < cut
            )
        )
        if issued_at is not None
    )
    meetings = tuple(
        MeetingRow(decision_id, held_on, head_decision)
        for decision_id, held_on, head_decision in session.exec(
            select(Meeting.decision_id, col(Meeting.held_on), Meeting.head_decision)
            .join(Decision, joined(Meeting.decision_id))
            .where(mine, col(Meeting.held_on) >= period.start)
        )
    )
    suspensions = tuple(
        SuspensionRow(row.decision_id, row.on_date, row.ended_how, row.ended_on)
        for row in session.exec(select(Suspension).join(Decision, joined(Suspension.decision_id)).where(mine))
    )
    comment_periods = tuple(
        session.exec(
            select(CommentPeriod.opened_at)
            .join(Decision, joined(CommentPeriod.decision_id))
            .where(mine, CommentPeriod.opened_at >= period.start_at, CommentPeriod.opened_at < cut)
        ).all()
    )
    comments = tuple(
        session.exec(
            select(PublicComment.submitted_at)
            .join(Decision, joined(PublicComment.decision_id))
            .where(mine, PublicComment.submitted_at >= period.start_at, PublicComment.submitted_at < cut)
        ).all()
    )
    catalogue = _catalogue_facts(session, jurisdiction, year)
    in_year = (AuditCheckpoint.created_at >= period.start_at, AuditCheckpoint.created_at < cut)
    count, first = session.exec(
        select(func.count(), func.min(AuditCheckpoint.seq)).select_from(AuditCheckpoint).where(*in_year)
    ).one()
    latest = session.exec(
        select(AuditCheckpoint).where(*in_year).order_by(col(AuditCheckpoint.seq).desc()).limit(1)
    ).first()
    return ReportFacts(
        organ=jurisdiction.organ,
        timezone=jurisdiction.timezone,
        units=units,
        decisions=decisions,
        stage_events=tuple(stage_events),
        actions=tuple(actions),
        deadlines=deadlines,
        hearings_held=hearings,
        expert_opinions=expert,
        risk_assessments=risks,
        legality_opinions=opinions,
        meetings=meetings,
        suspensions=suspensions,
        comment_periods=comment_periods,
        public_comments=comments,
        catalogue=catalogue,
        checkpoints_in_year=int(count),
        first_checkpoint=int(first) if first is not None else None,
        latest_checkpoint=(
            CheckpointRow(
                latest.seq, latest.created_at, latest.body, latest.digest, latest.key_id, latest.signature
            )
            if latest is not None
            else None
        ),
        public_key=public_key if latest is not None and _key_matches(public_key, latest.key_id) else None,
    )


def _catalogue_facts(session: Session, jurisdiction: Jurisdiction, year: int) -> CatalogueFacts | None:
    rows = session.exec(
        select(CatalogueYear.published_version, CatalogueEntry.id, CatalogueEntry.status)
        .join(CatalogueEntry, col(CatalogueEntry.catalogue_year_id) == CatalogueYear.id, isouter=True)
        .where(CatalogueYear.jurisdiction_id == jurisdiction.id, CatalogueYear.year == year)
    ).all()
    if not rows:
        return None
    return CatalogueFacts(
        entry_status={
            entry_id: CatalogueEntryStatus(status) for _, entry_id, status in rows if entry_id is not None
        },
        published_version=rows[0][0],
    )


def _key_matches(public_key: str | None, key_id: str) -> bool:
    if public_key is None:
        return False
    try:
        return checkpoints.key_id(checkpoints.load_public(public_key.encode(), "public_key")) == key_id
    except checkpoints.CheckpointError:
        return False


def context_public_key(ctx: ServiceContext) -> str | None:
    """The PEM public key of the context's checkpoint key (its `.pub` file, else derived from
    the key itself), or None where no key is configured or it cannot be read."""
    if ctx.checkpoint_key is None:
        return None
    public = checkpoints.public_path(ctx.checkpoint_key)
    try:
        if public.is_file():
            return public.read_text(encoding="utf-8")
        return checkpoints.public_pem(checkpoints.load_private(ctx.checkpoint_key).public_key()).decode()
    except (OSError, UnicodeDecodeError, checkpoints.CheckpointError):
        return None


def annual_statistics(
    source: Session | ServiceContext,
    jurisdiction: Jurisdiction | None,
    year: int,
    now: datetime,
    *,
    public_key: str | None = None,
) -> AnnualStatistics:
    """The year's figures as of `now`. `source` is a session (read in it; nothing is written)
    or a service context (read in a snapshot of its own; its checkpoint key supplies the
    public key). `jurisdiction` None means the database's one jurisdiction."""
    if isinstance(source, ServiceContext):
        key = public_key if public_key is not None else context_public_key(source)
        with read_snapshot(source) as session:
            return annual_statistics(session, jurisdiction, year, now, public_key=key)
    found = jurisdiction or the_jurisdiction(source)
    facts = gather_facts(source, found, year, now, public_key)
    return compute_statistics(facts, load_calendar(source), year, now)


@contextmanager
def read_snapshot(ctx: ServiceContext) -> Iterator[Session]:
    """A session whose reads see one consistent state (REPEATABLE READ, read-only, on
    PostgreSQL; SQLite's transaction already is one), rolled back at the end."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        if ctx.engine.dialect.name == "postgresql":
            session.connection(
                execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            )
        try:
            yield session
        finally:
            session.rollback()


def check_report_reader(session: Session, actor: str) -> None:
    """Who may build the report: an active user with a role on every decision (the legal
    office, the government office, the head and meeting members, the Party liaison or a
    supervisor), because the figures are computed over confidential decisions too."""
    reader = load_reader(session, actor)
    if reader is None or not (reader.roles & READ_ROLES):
        raise refusal(
            "AUTH",
            f"年度报告汇总全部决策（含依法不予公开的决策），须由对全部决策负有职责的人员生成（{actor}）",
            f"the annual report covers every decision, confidential ones included: it needs a user "
            f"with a role on all of them ({'/'.join(sorted(READ_ROLES))}; {actor})",
            field="actor",
            kind="forbidden",
        )


# ------------------------------------------------------------------ plain data and the documents
def as_data(value: Any) -> Any:
    """The figures as plain JSON values: dataclasses to objects (field order kept), dates and
    times as ISO text (times in UTC), tuples to lists, rates rounded to 4 places."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: as_data(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, Timeliness) and value.on_time_rate is not None:
            out["on_time_rate"] = round(value.on_time_rate, 4)
        return out
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): as_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_data(item) for item in value]
    return value


def report_data(stats: AnnualStatistics) -> dict[str, Any]:
    """What both documents are rendered from: the figures, plus the labels they print."""
    data: dict[str, Any] = as_data(stats)
    data["labels"] = {key: {"zh": zh, "en": en} for key, (zh, en) in LABELS.items()}
    data["generated_local"] = stats.generated_at.astimezone(ZoneInfo(stats.timezone)).strftime(
        "%Y-%m-%d %H:%M"
    )
    return data


@dataclass(frozen=True)
class AnnualReport:
    year: int
    html: Path
    json: Path
    statistics: AnnualStatistics


def default_report_dir(ctx: ServiceContext, year: int) -> Path:
    if ctx.data_dir is None:
        raise invalid(
            "out_dir",
            "未配置数据文件夹（DECISIONFLOW_DATA_DIR），须指明输出文件夹",
            "no data folder is configured (DECISIONFLOW_DATA_DIR): name an output folder",
        )
    return ctx.data_dir / "reports" / str(year)


def build_annual_report(
    ctx: ServiceContext, year: int, *, out_dir: Path | None = None, now: datetime
) -> AnnualReport:
    """Compute the year's figures as of `now` and write `annual-report-<year>.html` and
    `.json` into `out_dir` (default: <data folder>/reports/<year>). Reads only; the same data
    and `now` give the same bytes, so running it again (a retried flow) changes nothing."""
    folder = out_dir or default_report_dir(ctx, year)
    stats = annual_statistics(ctx, None, year, now)
    html, data = write_report(report_data(stats), folder, f"annual-report-{year}")
    return AnnualReport(year=year, html=html, json=data, statistics=stats)


__all__ = [
    "CONFIDENTIAL_TITLE",
    "AnnualReport",
    "AnnualStatistics",
    "ReportFacts",
    "StageEvent",
    "annual_statistics",
    "build_annual_report",
    "check_report_reader",
    "compute_statistics",
    "gather_facts",
    "report_data",
    "stage_moves",
    "stage_spans",
]
