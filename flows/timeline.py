"""The decision timeline: for one decision, the projected date of every remaining
statutory step, with its article and whether the date is provisional (P13).

`project_timeline` is pure (no database, no clock): it reads a `DecisionFacts` snapshot,
the pinned procedure, the jurisdiction's settings and the working-day calendar. Deadline
rows already open for the decision take precedence over projections, so the timeline
always agrees with what the engine will enforce. Dates that no action has fixed yet are
the earliest the procedure allows (or, for reminder deadlines, the latest it allows)
counted from `today`. `load_facts` is the small database loader kept apart from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from flows import procedure as proc
from flows.calendar import DateResult, WorkingCalendar, local_date
from models import (
    Deadline,
    Decision,
    DecisionStatus,
    DiscussionSubmission,
    Hearing,
    Jurisdiction,
    LegalityReview,
    StageInstance,
    StageStatus,
)
from models.enums import DayUnit, DeadlineStatus

Source = Literal["deadline", "planned", "projected"]


@dataclass(frozen=True)
class DeadlineFact:
    """One deadline row as the projection needs it."""

    id: int
    kind: str
    due_date: date
    provisional: bool
    status: DeadlineStatus
    subject_ref: str = ""
    article: str = ""
    stage: str = ""


@dataclass(frozen=True)
class DecisionFacts:
    """What the projection knows about one decision: a plain snapshot, no session."""

    code: str
    title: str
    status: DecisionStatus
    flags: frozenset[str]
    stages: Mapping[str, StageStatus]
    deadlines: tuple[DeadlineFact, ...] = ()
    procedure_version: str = proc.CURRENT_VERSION
    meeting_date: date | None = None  # planned meeting of a pending submission (Art. 29)
    decided_on: date | None = None  # local date the head's decision was recorded (Art. 30)
    hearing_date: date | None = None  # an announced hearing not yet held (Art. 16)
    hearing_held: bool = False  # a hearing has taken place (Art. 17)
    legality_status: str | None = None  # latest round: under_review | returned | opinion_issued
    legality_outcome: str = ""  # P7 outcome of the latest round
    legality_first_submitted_on: date | None = None  # P5 when the clock does not restart


@dataclass(frozen=True)
class ProjectedStep:
    key: str  # a deadline kind, or one of STEP_LABELS
    stage: str
    zh: str
    en: str
    article: str
    day: date
    provisional: bool  # some day it depends on lies in an unconfirmed calendar year (P13)
    source: Source  # an open deadline row, a date an action fixed, or a projection
    overdue: bool = False


# Steps that are not deadline kinds: (stage, zh, en, article).
STEP_LABELS: dict[str, tuple[str, str, str, str]] = {
    "comment_period_open": (
        "public_participation",
        "公开征求意见开始（公布草案）",
        "comment period opens",
        "Art. 15(1); P3",
    ),
    "hearing": ("hearing", "听证会", "hearing", "Arts. 16-17"),
    "hearing_earliest": (
        "hearing",
        "听证会最早召开日",
        "earliest hearing date",
        "Art. 16(2)-(3); P4",
    ),
    "legality_submission": (
        "legality_review",
        "送请合法性审查",
        "submission for legality review",
        "Art. 26(1)",
    ),
    "meeting": ("discussion", "集体讨论会议", "collective discussion meeting", "Art. 30"),
    "party_report": (
        "party_report",
        "向党委请示报告",
        "request-report to the Party committee",
        "Art. 31; P8",
    ),
}

LIVE = (DeadlineStatus.open, DeadlineStatus.fired)


@dataclass
class _Projection:
    facts: DecisionFacts
    procedure: proc.Procedure
    settings: Mapping[str, Any]
    calendar: WorkingCalendar
    today: date
    steps: list[ProjectedStep] = field(default_factory=list)
    used_rows: set[int] = field(default_factory=set)

    def needed(self, stage_id: str) -> bool:
        """The stage statuses decide: not_required, waived and completed stages are skipped."""
        return self.facts.stages.get(stage_id, StageStatus.not_required) not in proc.DONE_STATUSES

    def row(self, kind: str) -> DeadlineFact | None:
        """The latest live (open, or fired and still unmet) row of a kind."""
        live = [d for d in self.facts.deadlines if d.kind == kind and d.status in LIVE]
        return max(live, key=lambda d: d.id) if live else None

    def ever(self, kind: str) -> bool:
        return any(d.kind == kind for d in self.facts.deadlines)

    def working_on_or_after(self, day: date) -> DateResult:
        working, provisional = self.calendar.working_day(day)
        if working:
            return DateResult(day, provisional)
        later = self.calendar.add_working_days(day, 1)
        return DateResult(later.day, later.provisional or provisional)

    def add(self, key: str, result: DateResult, source: Source, after: bool = False) -> DateResult:
        """Record a step. `after` carries an earlier step's provisional mark forward: a date
        counted from a provisional date is itself provisional."""
        provisional = result.provisional or after
        if key in self.procedure.deadline_kinds:
            spec = self.procedure.deadline_kinds[key]
            stage, zh, en, article = spec.stage, spec.zh, spec.en, spec.article
        else:
            stage, zh, en, article = STEP_LABELS[key]
        self.steps.append(ProjectedStep(key, stage, zh, en, article, result.day, provisional, source))
        return DateResult(result.day, provisional)

    def add_row(self, row: DeadlineFact) -> DateResult:
        self.used_rows.add(row.id)
        spec = self.procedure.deadline_kinds.get(row.kind)
        zh, en = (spec.zh, spec.en) if spec else (row.kind, row.kind)
        article = row.article or (spec.article if spec else "")
        self.steps.append(
            ProjectedStep(
                row.kind,
                row.stage or (spec.stage if spec else ""),
                zh,
                en,
                article,
                row.due_date,
                row.provisional,
                "deadline",
                # an "earliest" date (T4) that has passed is not overdue, only a "latest" one
                overdue=row.due_date < self.today and (spec is None or spec.fires == "end_of_day"),
            )
        )
        return DateResult(row.due_date, row.provisional)

    def days(self, base: date, setting: str, unit: DayUnit, direction: int = 1) -> DateResult:
        return self.calendar.add(base, int(self.settings[setting]), unit, direction=direction)


def project_timeline(
    facts: DecisionFacts,
    procedure: proc.Procedure,
    settings: Mapping[str, Any],
    calendar: WorkingCalendar,
    today: date,
) -> list[ProjectedStep]:
    """The remaining statutory steps of one decision, in date order."""
    if facts.status in (DecisionStatus.withdrawn, DecisionStatus.archived):
        return []  # nothing before execution is left; Arts. 34-37 set no dates
    p = _Projection(facts, procedure, settings, calendar, today)
    ready = p.working_on_or_after(today)  # the first day the next step may be taken

    # S3, S3b: public participation and a hearing run in parallel (§7.2); legality
    # review follows the later of them (§7.1(5)).
    ends = [
        *([_participation(p)] if p.needed("public_participation") else []),
        *([_hearing(p)] if p.needed("hearing") and not p.facts.hearing_held else []),
    ]
    dated = [end for end in ends if end is not None]
    tracks_end = DateResult(max(e.day for e in dated), any(e.provisional for e in dated)) if dated else None
    # Expert review, risk assessment and fair competition review have no statutory time
    # limit (Arts. 19-24, 29(1)): they only have to be done before submission.

    earliest_meeting = _legality(p, ready, tracks_end)
    meeting = _discussion(p, earliest_meeting)
    _after_decision(p, ready, meeting)

    for row in facts.deadlines:  # e.g. a catalogue's planned time: shown as it stands
        if row.id not in p.used_rows and row.status in LIVE and p.needed(row.stage):
            p.add_row(row)
    return sorted(p.steps, key=lambda step: step.day)  # stable: same-day steps keep their order


def _participation(p: _Projection) -> DateResult | None:
    """T1, Art. 15(1): an open period ends on its row's date; one not yet opened starts
    today (P3) and lasts the minimum, rolled to a working day (P2)."""
    row = p.row("comment_period_end")
    if row is not None and row.status == DeadlineStatus.open:
        return p.add_row(row)
    if row is not None:
        p.used_rows.add(row.id)  # fired: the sweep has closed the period
    status = p.facts.stages.get("public_participation")
    if p.ever("comment_period_end") or status == StageStatus.awaiting_approval:
        return None  # the period has closed; studying the opinions has no fixed date (Art. 18)
    p.add("comment_period_open", DateResult(p.today, False), "projected")
    unit = DayUnit(p.settings["comment_period_unit"])
    return p.add("comment_period_end", p.days(p.today, "comment_period_min_days", unit), "projected")


def _hearing(p: _Projection) -> DateResult | None:
    """Art. 16(2)-(3), P4, T2: the notice goes out at least `hearing_notice_days` before the
    hearing, the list `hearing_list_days` before, the materials `hearing_materials_days`
    before. Not yet announced: the earliest hearing is a notice published today plus the
    notice period, on a working day."""
    if p.facts.stages.get("hearing") in (StageStatus.awaiting_approval, StageStatus.returned):
        return None  # held and reported; the legal office has it
    materials_unit = DayUnit(p.settings["hearing_materials_unit"])
    if p.facts.hearing_date is not None:
        hearing = p.add("hearing", DateResult(p.facts.hearing_date, False), "planned")
    else:
        p.add("hearing_notice", DateResult(p.today, False), "projected")
        notice_end = p.days(p.today, "hearing_notice_days", DayUnit.calendar)
        earliest = p.working_on_or_after(notice_end.day)
        hearing = p.add("hearing_earliest", earliest, "projected", notice_end.provisional)
    for kind, setting, unit in (
        ("hearing_participant_list", "hearing_list_days", DayUnit.calendar),
        ("hearing_materials", "hearing_materials_days", materials_unit),
    ):
        row = p.row(kind)
        if row is not None:
            p.add_row(row)
        elif p.facts.hearing_date is None or not p.ever(kind):
            # counted back from the hearing, not rolled to a working day (P14)
            p.add(kind, p.days(hearing.day, setting, unit, direction=-1), "projected", hearing.provisional)
    return hearing


def _legality(p: _Projection, ready: DateResult, tracks_end: DateResult | None) -> DateResult:
    """Arts. 25-28: T4 (earliest discussion, 7 working days) and P6 (opinion due)."""
    facts = p.facts
    resubmit = facts.legality_status == "returned" or facts.legality_outcome == "unlawful"
    earliest_row = p.row("legality_review_min")
    if resubmit:
        for stale in (earliest_row, p.row("legality_opinion_due")):
            if stale is not None:
                p.used_rows.add(stale.id)  # a finished round's dates no longer apply
        earliest_row = None
    if earliest_row is not None:
        earliest = p.add_row(earliest_row)
        opinion = p.row("legality_opinion_due")
        if opinion is not None:
            p.add_row(opinion)
        return _not_before(earliest, ready)
    if not p.needed("legality_review"):
        # the review is over and its minimum already met at submission for discussion
        return ready
    submission = ready
    if tracks_end is not None:
        # the day after a period ends at 24:00 is the first day the package can go in
        after = p.calendar.add_working_days(tracks_end.day, 1)
        submission = _not_before(DateResult(after.day, after.provisional or tracks_end.provisional), ready)
    submission = p.add("legality_submission", submission, "projected")
    base = submission.day
    if resubmit and not p.settings["legality_clock_restarts"] and facts.legality_first_submitted_on:
        base = facts.legality_first_submitted_on  # P5 set to "does not restart"
    earliest = p.add(
        "legality_review_min",
        p.days(base, "legality_review_min_working_days", DayUnit.working),
        "projected",
        submission.provisional,
    )
    p.add(
        "legality_opinion_due",
        p.days(submission.day, "legality_opinion_due_working_days", DayUnit.working),
        "projected",
        submission.provisional,
    )
    return earliest


def _discussion(p: _Projection, earliest: DateResult) -> DateResult:
    """Art. 30: a planned meeting is shown; otherwise the meeting is the earliest day."""
    if not p.needed("discussion"):
        decided = p.facts.decided_on or p.today
        return DateResult(decided, False)
    if p.facts.meeting_date is not None:
        return p.add("meeting", DateResult(p.facts.meeting_date, False), "planned")
    return earliest


def _after_decision(p: _Projection, ready: DateResult, meeting: DateResult) -> None:
    """Art. 31 Party report (P8), Art. 32 publication (P9), Art. 33 archive (P10)."""
    if p.needed("party_report"):
        order = p.settings["party_report_order"]
        if order == "before_meeting" and p.needed("discussion"):
            p.add("party_report", meeting, "projected")  # the latest day: by the meeting
        elif order == "either":
            p.add("party_report", ready, "projected")  # any time before publication
        else:
            p.add("party_report", _not_before(meeting, ready), "projected")
    archive_base = meeting
    if p.needed("publication"):
        row = p.row("publication_due")
        if row is not None:
            archive_base = p.add_row(row)
        else:
            archive_base = p.add(
                "publication_due",
                p.days(meeting.day, "publication_due_working_days", DayUnit.working),
                "projected",
                meeting.provisional,
            )
    if p.needed("archive"):
        row = p.row("archive_due")
        if row is not None:
            p.add_row(row)
        else:
            # P10: 30 days after publication, or after the decision where not published
            p.add(
                "archive_due",
                p.days(archive_base.day, "archive_due_days", DayUnit.calendar),
                "projected",
                archive_base.provisional,
            )


def _not_before(result: DateResult, floor: DateResult) -> DateResult:
    return result if result.day >= floor.day else floor


# ------------------------------------------------------------------ current stage
PHASES: tuple[tuple[str, ...], ...] = (
    ("initiation", "drafting"),
    ("public_participation", "hearing", "expert_review", "risk_assessment", "fair_competition_review"),
    ("legality_review",),
    ("discussion",),
    ("party_report", "congress", "publication"),
    ("archive",),
    ("execution", "post_evaluation"),
)
WORKING = (StageStatus.active, StageStatus.awaiting_approval, StageStatus.returned)


def current_stages(stages: Mapping[str, StageStatus]) -> list[str]:
    """Where a decision stands: the unfinished stages of the first unfinished phase,
    those being worked on first."""
    for phase in PHASES:
        open_ = [s for s in phase if stages.get(s, StageStatus.not_required) not in proc.DONE_STATUSES]
        if open_:
            return sorted(open_, key=lambda s: (stages[s] not in WORKING, phase.index(s)))
    return []


STAGE_STATUS_ZH: dict[StageStatus, str] = {
    StageStatus.not_required: "不适用",
    StageStatus.pending: "待办",
    StageStatus.active: "进行中",
    StageStatus.awaiting_approval: "待司法局审核",
    StageStatus.returned: "已退回",
    StageStatus.completed: "已完成",
    StageStatus.waived: "免除",
}

DECISION_STATUS_ZH: dict[DecisionStatus, str] = {
    DecisionStatus.proposed: "已登记待启动",
    DecisionStatus.in_procedure: "程序进行中",
    DecisionStatus.decided: "已作出决定",
    DecisionStatus.rejected: "会议未通过",
    DecisionStatus.published: "已公布",
    DecisionStatus.archived: "已归档",
    DecisionStatus.suspended: "已中止执行",
    DecisionStatus.terminated: "已终止执行",
    DecisionStatus.withdrawn: "已撤回",
}


# ------------------------------------------------------------------ the loader
@dataclass(frozen=True)
class LoadedDecision:
    """The facts of one decision plus what its projection needs from the jurisdiction."""

    facts: DecisionFacts
    procedure: proc.Procedure
    settings: dict[str, Any]
    calendar: WorkingCalendar
    timezone: ZoneInfo

    def project(self, today: date) -> list[ProjectedStep]:
        return project_timeline(self.facts, self.procedure, self.settings, self.calendar, today)


def find_decision(session: Session, code: str) -> tuple[Jurisdiction, Decision]:
    from flows.errors import not_found
    from flows.service.framework import the_jurisdiction

    jurisdiction = the_jurisdiction(session)
    decision = session.exec(
        select(Decision).where(Decision.jurisdiction_id == jurisdiction.id, Decision.code == code)
    ).first()
    if decision is None:
        raise not_found("decision", code)
    return jurisdiction, decision


def load_facts(session: Session, code: str) -> LoadedDecision:
    """Read one decision's stages, deadlines and scheduled dates (NOT_FOUND if unknown)."""
    from flows.service.framework import load_calendar, resolved_settings

    jurisdiction, decision = find_decision(session, code)
    tz = ZoneInfo(jurisdiction.timezone)
    stages = {
        row.stage: row.status
        for row in session.exec(select(StageInstance).where(StageInstance.decision_id == decision.id))
    }
    deadlines = tuple(
        DeadlineFact(
            id=row.id or 0,
            kind=row.kind,
            due_date=row.due_date,
            provisional=row.provisional,
            status=row.status,
            subject_ref=row.subject_ref,
            article=row.article,
            stage=row.stage,
        )
        for row in session.exec(
            select(Deadline).where(Deadline.decision_id == decision.id).order_by(col(Deadline.id))
        )
    )
    submission = session.exec(
        select(DiscussionSubmission)
        .where(DiscussionSubmission.decision_id == decision.id)
        .order_by(col(DiscussionSubmission.id).desc())
    ).first()
    hearings = list(
        session.exec(select(Hearing).where(Hearing.decision_id == decision.id).order_by(col(Hearing.id)))
    )
    held = any(h.held_at is not None for h in hearings)
    coming = [h for h in hearings if h.held_at is None and h.status != "postponed"]
    hearing = coming[-1] if coming else None
    reviews = list(
        session.exec(
            select(LegalityReview)
            .where(LegalityReview.decision_id == decision.id)
            .order_by(col(LegalityReview.round))
        )
    )
    facts = DecisionFacts(
        code=decision.code,
        title=decision.title,
        status=decision.status,
        flags=frozenset(decision.flags),
        stages=stages,
        deadlines=deadlines,
        procedure_version=decision.procedure_version,
        meeting_date=submission.meeting_date if submission else None,
        decided_on=local_date(decision.decided_on, tz) if decision.decided_on else None,
        hearing_date=local_date(hearing.starts_at, tz) if hearing else None,
        hearing_held=held,
        legality_status=reviews[-1].status if reviews else None,
        legality_outcome=reviews[-1].outcome if reviews else "",
        legality_first_submitted_on=reviews[0].submitted_on if reviews else None,
    )
    return LoadedDecision(
        facts=facts,
        procedure=proc.procedure(decision.procedure_version),
        settings=resolved_settings(jurisdiction),
        calendar=load_calendar(session),
        timezone=tz,
    )


# ------------------------------------------------------------------ every decision
@dataclass(frozen=True)
class DecisionOverview:
    """Where one decision stands and its next statutory dates."""

    code: str
    title: str
    status: DecisionStatus
    current: list[tuple[str, StageStatus]]
    steps: list[ProjectedStep]


def decision_overview(session: Session, now: datetime) -> list[DecisionOverview]:
    """Every decision of the jurisdiction, by code (none when nothing is set up)."""
    jurisdiction = session.exec(select(Jurisdiction).order_by(col(Jurisdiction.id)).limit(1)).first()
    if jurisdiction is None:
        return []
    today = local_date(now, ZoneInfo(jurisdiction.timezone))
    codes = session.exec(
        select(Decision.code).where(Decision.jurisdiction_id == jurisdiction.id).order_by(col(Decision.code))
    ).all()
    rows: list[DecisionOverview] = []
    for code in codes:
        loaded = load_facts(session, code)
        facts = loaded.facts
        current = [(stage, facts.stages[stage]) for stage in current_stages(facts.stages)]
        rows.append(DecisionOverview(code, facts.title, facts.status, current, loaded.project(today)))
    return rows
