"""What a civil servant has to do (the staff pages, issue 10): the actions a user may take
now on a decision, derived from the procedure data; the user's tasks; the deadlines with
their traffic lights; the list of decisions with filters; the legality review queue with
its working-day clock. Read only: nothing here writes.

An action is *available* to a user on a decision when the user holds a role the action
declares and, for a department, undertakes the decision (`framework.check_role`); the
preconditions declared beside the action hold (`rules.action_preconditions`); the objects
it works on have the statuses it declares it needs (a review round under review, an
announced hearing...); and the few conditions named in `BLOCKED` do not rule it out. The
service still checks every guard when the form is sent: availability only decides which
forms a page offers. An available action is a *task* when it moves the procedure on in a
stage being worked now (`timeline.current_stages`), or answers what is waiting (inputs
without a response, a flag awaiting confirmation); the actions in `OPTIONAL_ACTIONS` can be
taken at any time and are never listed as tasks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from flows import procedure as proc
from flows import rules
from flows.calendar import local_date
from flows.errors import ProcedureError
from flows.service.access import may_read_file
from flows.service.decision_reads import input_keys
from flows.service.framework import (
    REGISTRY,
    Actor,
    ServiceContext,
    check_role,
    load_calendar,
    require_role,
    resolved_settings,
    the_jurisdiction,
    utc,
)
from flows.service.notifications import DeadlineRow, deadlines, traffic_light, working_days_left
from flows.timeline import current_stages
from models import (
    CommentPeriod,
    Deadline,
    Decision,
    DecisionStatus,
    DiscussionSubmission,
    DraftVersion,
    ExpertSelection,
    Hearing,
    InputResponse,
    LegalAdviserOpinion,
    LegalityReview,
    PartyStep,
    RiskAssessment,
    StageInstance,
    StageStatus,
    Unit,
)
from models.enums import CommentPeriodStatus, DeadlineStatus, HearingStatus, ReviewStatus

LEGAL_ROLES = frozenset({"legal_reviewer", "legal_head"})

# Actions that can be taken at any time they are allowed: offered on the decision page,
# never listed as tasks.
OPTIONAL_ACTIONS = frozenset(
    {
        "withdraw_decision",
        "revise_draft",
        "change_flags",
        "extend_deadline",
        "shorten_deadline",
        "record_participation_activity",
        "return_for_supplement",
        "report_execution_progress",
        "report_execution_problem",
        "start_post_evaluation",
        "suspend_execution",
        "start_adjustment",
        "resume_execution",
        "terminate_decision",
    }
)

InputKey = tuple[str, str]  # (input kind, code): comment C1, hearing_statement S1, ...


@dataclass(frozen=True)
class DecisionState:
    """What availability looks at, beyond the decision row: read once per decision."""

    decision: Decision
    stages: Mapping[str, StageStatus]
    stage_since: Mapping[str, datetime]
    review_status: str | None = None  # the latest legality review round
    review_outcome: str = ""
    reviewed_draft: int = 0  # the draft version the latest round reviewed
    draft_number: int = 0  # the current draft version
    hearing_status: str | None = None  # the latest hearing not postponed
    period_open: bool = False  # a comment period is open (Art. 15)
    inputs: tuple[InputKey, ...] = ()  # every input received, in order
    answered: frozenset[InputKey] = frozenset()
    awaiting_meeting: bool = False  # submitted for discussion, no meeting recorded on it yet
    party_reported: bool = False  # a Party request-report has been recorded (Art. 31)
    risk_assessed: bool = False
    experts_selected: bool = False
    open_deadlines: tuple[str, ...] = ()  # kinds of the deadlines open or fired

    @property
    def procedure(self) -> proc.Procedure:
        return proc.procedure(self.decision.procedure_version)

    @property
    def unanswered(self) -> tuple[InputKey, ...]:
        return tuple(key for key in self.inputs if key not in self.answered)


def decision_state(session: Session, decision: Decision) -> DecisionState:
    decision_id = decision.id
    stage_rows = session.exec(
        select(StageInstance.stage, StageInstance.status, StageInstance.updated_at).where(
            StageInstance.decision_id == decision_id
        )
    ).all()
    review = session.exec(
        select(LegalityReview)
        .where(LegalityReview.decision_id == decision_id)
        .order_by(col(LegalityReview.round).desc())
    ).first()
    draft = session.exec(
        select(func.max(DraftVersion.number)).where(DraftVersion.decision_id == decision_id)
    ).one()
    hearing = session.exec(
        select(Hearing.status)
        .where(Hearing.decision_id == decision_id, Hearing.status != HearingStatus.postponed)
        .order_by(col(Hearing.id).desc())
    ).first()
    period_open = session.exec(
        select(CommentPeriod.id).where(
            CommentPeriod.decision_id == decision_id, CommentPeriod.status == CommentPeriodStatus.open
        )
    ).first()
    answered = session.exec(
        select(InputResponse.input_kind, InputResponse.input_code).where(
            InputResponse.decision_id == decision_id
        )
    ).all()
    submitted = session.exec(
        select(DiscussionSubmission.id).where(DiscussionSubmission.decision_id == decision_id)
    ).first()
    reported = session.exec(
        select(PartyStep.id).where(PartyStep.decision_id == decision_id, PartyStep.kind == "report")
    ).first()
    assessed = session.exec(
        select(RiskAssessment.id).where(RiskAssessment.decision_id == decision_id)
    ).first()
    experts = session.exec(
        select(ExpertSelection.id).where(ExpertSelection.decision_id == decision_id)
    ).first()
    open_kinds = session.exec(
        select(Deadline.kind)
        .where(
            Deadline.decision_id == decision_id,
            col(Deadline.status).in_([DeadlineStatus.open, DeadlineStatus.fired]),
        )
        .order_by(col(Deadline.due_at))
    ).all()
    stages = {stage: StageStatus(status) for stage, status, _ in stage_rows}
    discussion = stages.get("discussion")
    return DecisionState(
        decision=decision,
        stages=stages,
        stage_since={stage: since for stage, _, since in stage_rows},
        review_status=str(review.status) if review else None,
        review_outcome=review.outcome if review else "",
        reviewed_draft=review.draft_number if review else 0,
        draft_number=int(draft or 0),
        hearing_status=str(hearing) if hearing is not None else None,
        period_open=period_open is not None,
        inputs=tuple(input_keys(session, decision_id)),
        answered=frozenset((kind, code) for kind, code in answered),
        # a meeting that decided completes the stage; a deferred one removes its submission
        awaiting_meeting=submitted is not None and discussion == StageStatus.active,
        party_reported=reported is not None,
        risk_assessed=assessed is not None,
        experts_selected=experts is not None,
        open_deadlines=tuple(dict.fromkeys(open_kinds)),
    )


# ---------------------------------------------------------------------------- availability
def _revised_after_opinion(s: DecisionState) -> bool:
    return s.review_status == ReviewStatus.opinion_issued and s.draft_number > s.reviewed_draft


def _stage_done(stage: str) -> Callable[[DecisionState], bool]:
    return lambda s: s.stages.get(stage, StageStatus.not_required) in proc.DONE_STATUSES


def _pre_review_unfinished(s: DecisionState) -> bool:
    """A track that must be done and approved before legality review is not (Arts. 26, 27(2))."""
    return any(st.pre_review and s.stages.get(st.id) not in proc.DONE_STATUSES for st in s.procedure.stages)


def _before_decision(s: DecisionState) -> bool:
    return s.decision.status in proc.BEFORE_DECISION


def _no_opinion(s: DecisionState) -> bool:
    """R12: discussion needs a legality opinion (or the exploratory-reform route, Art. 25(2))."""
    return s.review_status != ReviewStatus.opinion_issued and "exploratory_reform" not in s.decision.flags


# Conditions that rule an action out although its declared preconditions hold: the object it
# would work on is missing, or it was done already. Each names what the handler would refuse.
BLOCKED: dict[str, Callable[[DecisionState], bool]] = {
    "open_comment_period": lambda s: s.period_open,  # one period at a time
    "complete_participation": lambda s: s.period_open,  # R3: the period has not ended
    "respond_to_input": lambda s: not s.inputs,
    "confirm_flag": lambda s: not s.decision.proposed_flags,
    "submit_for_legality_review": _pre_review_unfinished,  # the tracks' own guards
    "submit_for_discussion": lambda s: s.awaiting_meeting or _no_opinion(s),  # submitted, or R12
    "record_meeting": lambda s: not s.awaiting_meeting,  # R12: nothing submitted
    "record_party_report": _stage_done("party_report"),
    "record_party_reply": lambda s: not s.party_reported or _stage_done("party_report")(s),
    "publish_decision": _stage_done("publication"),
    # R17: a decision that is published is archived after its publication (Art. 33)
    "archive_decision": lambda s: not _stage_done("publication")(s),
    "judge_risk": lambda s: not s.risk_assessed,
    "record_changes_after_review": lambda s: s.review_outcome != "lawful_after_changes",
    "confirm_revision": lambda s: not _revised_after_opinion(s),
    "resubmit_for_legality_review": lambda s: (
        not (
            s.review_status == ReviewStatus.returned
            or s.review_outcome == "unlawful"
            or _revised_after_opinion(s)
        )
    ),
    "record_expert_opinion": lambda s: not s.experts_selected,  # R6: selected experts give opinions
    "complete_expert_review": lambda s: not any(kind == "expert_opinion" for kind, _ in s.inputs),
    "report_execution_progress": _before_decision,  # nothing is carried out before the decision
    "report_execution_problem": _before_decision,
    "extend_deadline": lambda s: not s.open_deadlines,
    "shorten_deadline": lambda s: not s.open_deadlines,
}


@dataclass(frozen=True)
class Available:
    """An action the user may take now on a decision (or on a catalogue year)."""

    action: str
    stage: str | None  # the stage it works in (for approve_stage/return_stage: the first one)
    task: bool
    # values a form field may take, where the state decides them (e.g. the stages awaiting
    # approval, the open deadlines' kinds, the inputs)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _needs_met(rule: proc.ActionRule, s: DecisionState) -> bool:
    """The objects the action works on have a status it declares it needs (`ActionRule.needs`)."""
    for lifecycle, needed in rule.needs.items():
        if lifecycle == "legality_review" and s.review_status not in needed:
            return False
        if lifecycle == "hearing" and s.hearing_status not in needed:
            return False
        if lifecycle == "deadline" and not s.open_deadlines:
            return False
    return True


def role_allows(name: str, rule: proc.ActionRule, actor: Actor, decision: Decision | None) -> bool:
    try:
        check_role(name, rule, actor, decision)
    except ProcedureError:
        return False
    return True


def decision_actions() -> list[str]:
    """The actions that work on one decision (their payload names it), in procedure order."""
    return [
        name
        for name in proc.procedure().actions
        if name in REGISTRY and "decision" in REGISTRY[name].payload.model_fields
    ]


def available_actions(actor: Actor, s: DecisionState) -> list[Available]:
    """The actions `actor` may take now on the decision, in procedure order."""
    decision = s.decision
    procedure = s.procedure
    flags = frozenset(decision.flags)
    required = frozenset(decision.catalogue_procedures)
    current = set(current_stages(s.stages))
    found: list[Available] = []
    for name in decision_actions():
        rule = procedure.actions[name]
        if not role_allows(name, rule, actor, decision):
            continue
        if rule.stage == proc.PAYLOAD_STAGE:
            candidates: list[str | None] = [
                st.id for st in procedure.stages if s.stages.get(st.id) in rule.stage_status
            ]
        else:
            candidates = [rule.stage]
        stages = [
            stage
            for stage in candidates
            if rules.action_preconditions(
                rule,
                procedure.stage_by_id.get(stage) if stage else None,
                flags,
                decision.status,
                s.stages,
                required,
            )
            is None
        ]
        if not stages or not _needs_met(rule, s):
            continue
        blocked = BLOCKED.get(name)
        if blocked is not None and blocked(s):
            continue
        choices: dict[str, tuple[str, ...]] = {}
        if rule.stage == proc.PAYLOAD_STAGE:
            choices["stage"] = tuple(st for st in stages if st is not None)
        if name in ("extend_deadline", "shorten_deadline"):
            choices["kind"] = s.open_deadlines
        if name == "respond_to_input":
            choices["input"] = tuple(code for _, code in (*s.unanswered, *sorted(s.answered)))
        if name == "confirm_flag":
            choices["flag"] = tuple(decision.proposed_flags)
        if name in OPTIONAL_ACTIONS:
            task = False
        elif name == "respond_to_input":
            task = bool(s.unanswered)
        elif name == "confirm_flag":
            task = True
        elif name == "record_party_report":
            task = not s.party_reported and stages[0] in current
        elif name == "publish_decision":  # R15: after the Party committee's reply
            task = stages[0] in current and _stage_done("party_report")(s)
        else:
            task = any(stage in current for stage in stages)
        found.append(Available(name, stages[0], task, choices))
    return found


# ---------------------------------------------------------------------------- tasks and deadlines
@dataclass(frozen=True)
class Task:
    decision: str  # code
    title: str
    status: DecisionStatus
    action: str
    stage: str | None
    since: datetime | None  # when the stage last changed: how long the task has waited
    confidential: bool


def readable_decisions(session: Session, reader: Actor) -> list[Decision]:
    """The decisions whose working file `reader` may read (`access.may_read_file`), by code."""
    jurisdiction = the_jurisdiction(session)
    rows = session.exec(
        select(Decision).where(Decision.jurisdiction_id == jurisdiction.id).order_by(col(Decision.code))
    ).all()
    return [d for d in rows if may_read_file(reader, d)]


def my_tasks(ctx: ServiceContext, reader: Actor) -> list[Task]:
    """What `reader`'s roles can do now to move the decisions they may see along, oldest
    waiting first."""
    from flows.service.access import is_confidential

    tasks: list[Task] = []
    with Session(ctx.engine) as session:
        for decision in readable_decisions(session, reader):
            if decision.status in (DecisionStatus.withdrawn, DecisionStatus.terminated):
                continue
            state = decision_state(session, decision)
            for option in available_actions(reader, state):
                if option.task:
                    since = state.stage_since.get(option.stage) if option.stage else None
                    tasks.append(
                        Task(
                            decision.code,
                            decision.title,
                            decision.status,
                            option.action,
                            option.stage,
                            since or decision.updated_at,
                            is_confidential(decision),
                        )
                    )
    return sorted(tasks, key=lambda t: (t.since or datetime.max.replace(tzinfo=ZoneInfo("UTC")), t.decision))


Lamp = Literal["overdue", "today", "soon", "ok"]


def lamp(light: str, due_date: date, today: date) -> Lamp:
    """The traffic light as the pages show it: overdue (passed unmet), due today, due soon
    (within `notifications.AMBER_DAYS` working days), or not yet."""
    if light == "red":
        return "overdue"
    if due_date <= today:
        return "today"
    return "soon" if light == "amber" else "ok"


@dataclass(frozen=True)
class DeadlineLamp:
    row: DeadlineRow
    lamp: Lamp


def my_deadlines(ctx: ServiceContext, reader: Actor, now: datetime) -> list[DeadlineLamp]:
    """The open (and overdue, still owed) deadlines of the decisions whose file `reader` may
    read, soonest first, each with its light on the jurisdiction's calendar and time zone."""
    now = utc(now, "now")
    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        readable = {d.code for d in readable_decisions(session, reader)}
    today = local_date(now, ZoneInfo(jurisdiction.timezone))
    rows = deadlines(ctx, now, actor=reader.code)
    return [
        DeadlineLamp(row, lamp(row.light, row.due_date, today))
        for row in rows
        if row.decision is not None and row.decision in readable
    ]


# ---------------------------------------------------------------------------- the list of decisions
@dataclass(frozen=True)
class DecisionRow:
    code: str
    title: str
    status: DecisionStatus
    lead_unit: str  # code
    lead_unit_name: str
    units: tuple[str, ...]
    current: tuple[tuple[str, StageStatus], ...]  # the stages being worked now
    flags: tuple[str, ...]
    confidential: bool
    updated_at: datetime
    next_deadline: DeadlineLamp | None


def decision_rows(
    ctx: ServiceContext,
    reader: Actor,
    now: datetime,
    *,
    status: str | None = None,
    unit: str | None = None,
    stage: str | None = None,
) -> list[DecisionRow]:
    """The decisions `reader` may read, by code, filtered by status, by unit (lead or
    undertaking) and by a stage being worked now; each with its nearest deadline."""
    from flows.service.access import is_confidential

    nearest: dict[str, DeadlineLamp] = {}
    for item in my_deadlines(ctx, reader, now):
        if item.row.decision is not None:
            nearest.setdefault(item.row.decision, item)
    with Session(ctx.engine) as session:
        decisions = readable_decisions(session, reader)
        units = {u.id: u for u in session.exec(select(Unit))}
        statuses: dict[int, dict[str, StageStatus]] = {}
        for decision_id, stage_id, stage_status in session.exec(
            select(StageInstance.decision_id, StageInstance.stage, StageInstance.status)
        ):
            statuses.setdefault(decision_id, {})[stage_id] = StageStatus(stage_status)
    rows: list[DecisionRow] = []
    for d in decisions:
        if status and d.status != status:
            continue
        lead = units.get(d.lead_unit_id) if d.lead_unit_id else None
        if unit and unit not in d.unit_codes and (lead is None or lead.code != unit):
            continue
        stages = statuses.get(d.id or 0, {})
        current = tuple((s, stages[s]) for s in current_stages(stages))
        if stage and stage not in {s for s, _ in current}:
            continue
        rows.append(
            DecisionRow(
                code=d.code,
                title=d.title,
                status=d.status,
                lead_unit=lead.code if lead else "",
                lead_unit_name=lead.name if lead else "",
                units=tuple(d.unit_codes),
                current=current,
                flags=tuple(d.flags),
                confidential=is_confidential(d),
                updated_at=d.updated_at,
                next_deadline=nearest.get(d.code),
            )
        )
    return rows


# ---------------------------------------------------------------------------- the legality review queue
@dataclass(frozen=True)
class ReviewClock:
    """One submission under legality review, with its working-day clock (Art. 26(2), P6)."""

    decision: str
    title: str
    lead_unit_name: str
    round: int
    draft_number: int
    submitted_at: datetime
    submitted_on: date
    working_days_used: int  # working days after the submission up to and including today
    minimum_days: int  # T4: the review takes at least this many working days (R10)
    earliest_meeting: date | None  # T4's date: the earliest day the meeting may be held
    minimum_days_left: int  # working days until T4 (0 once reached)
    opinion_due: date | None  # P6: the opinion is due by this day (a reminder deadline)
    opinion_due_at: datetime | None
    opinion_days_left: int | None  # working days until P6 (negative when overdue)
    lamp: Lamp | None
    adviser_opinions: int  # Art. 28: legal adviser or public lawyer opinions recorded
    provisional: bool  # some date lies in a year whose holiday notice is not loaded (P13)
    confidential: bool


@dataclass(frozen=True)
class AwaitingApproval:
    """A stage the department completed, awaiting the legal office's approval."""

    decision: str
    title: str
    stage: str
    since: datetime
    working_days_waiting: int


@dataclass(frozen=True)
class AwaitingConfirmation:
    """A flag the undertaking unit proposed, awaiting the legal office's confirmation (P16)."""

    decision: str
    title: str
    flags: tuple[str, ...]
    since: datetime


@dataclass(frozen=True)
class LegalityQueue:
    today: date
    reviews: list[ReviewClock]
    approvals: list[AwaitingApproval]
    confirmations: list[AwaitingConfirmation]


def legality_queue(ctx: ServiceContext, reader: Actor, now: datetime) -> LegalityQueue:
    """What is submitted to the legal office and waits for it: legality review rounds under
    review (each with its working-day clock), stages awaiting approval, flags awaiting
    confirmation. Only for the legal office (AUTH otherwise)."""
    from flows.service.access import is_confidential

    require_role(reader, LEGAL_ROLES, "合法性审查工作台", "the legality review queue")
    now = utc(now, "now")
    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        tz = ZoneInfo(jurisdiction.timezone)
        today = local_date(now, tz)
        calendar = load_calendar(session)
        settings = resolved_settings(jurisdiction)
        units = {u.id: u.name for u in session.exec(select(Unit))}
        reviews: list[ReviewClock] = []
        rounds = session.exec(
            select(LegalityReview, Decision)
            .join(Decision, col(Decision.id) == col(LegalityReview.decision_id))
            .where(
                Decision.jurisdiction_id == jurisdiction.id,
                LegalityReview.status == ReviewStatus.under_review,
            )
            .order_by(col(LegalityReview.submitted_at))
        ).all()
        for review, decision in rounds:
            clocks = {
                row.kind: row
                for row in session.exec(
                    select(Deadline)
                    .where(
                        Deadline.decision_id == decision.id,
                        col(Deadline.kind).in_(["legality_review_min", "legality_opinion_due"]),
                        Deadline.subject_ref == str(review.round),
                        Deadline.status != DeadlineStatus.cancelled,
                    )
                    .order_by(col(Deadline.id))
                )
            }
            earliest, due = clocks.get("legality_review_min"), clocks.get("legality_opinion_due")
            advisers = session.exec(
                select(func.count())
                .select_from(LegalAdviserOpinion)
                .where(LegalAdviserOpinion.review_id == review.id)
            ).one()
            left = working_days_left(calendar, today, due.due_date) if due else None
            reviews.append(
                ReviewClock(
                    decision=decision.code,
                    title=decision.title,
                    lead_unit_name=units.get(decision.lead_unit_id, "") if decision.lead_unit_id else "",
                    round=review.round,
                    draft_number=review.draft_number,
                    submitted_at=review.submitted_at,
                    submitted_on=review.submitted_on,
                    working_days_used=calendar.working_days_between(review.submitted_on, today),
                    minimum_days=int(settings["legality_review_min_working_days"]),
                    earliest_meeting=earliest.due_date if earliest else None,
                    minimum_days_left=(
                        calendar.working_days_between(today, earliest.due_date)
                        if earliest and earliest.due_date > today
                        else 0
                    ),
                    opinion_due=due.due_date if due else None,
                    opinion_due_at=due.due_at if due else None,
                    opinion_days_left=left,
                    lamp=(
                        lamp(traffic_light(due.due_at, left, now), due.due_date, today)
                        if due and left is not None
                        else None
                    ),
                    adviser_opinions=int(advisers),
                    provisional=any(row.provisional for row in clocks.values()),
                    confidential=is_confidential(decision),
                )
            )
        approvals = [
            AwaitingApproval(
                decision.code,
                decision.title,
                stage.stage,
                stage.updated_at,
                calendar.working_days_between(local_date(stage.updated_at, tz), today),
            )
            for stage, decision in session.exec(
                select(StageInstance, Decision)
                .join(Decision, col(Decision.id) == col(StageInstance.decision_id))
                .where(
                    Decision.jurisdiction_id == jurisdiction.id,
                    StageInstance.status == StageStatus.awaiting_approval,
                )
                .order_by(col(StageInstance.updated_at))
            )
        ]
        confirmations = [
            AwaitingConfirmation(d.code, d.title, tuple(d.proposed_flags), d.created_at)
            for d in session.exec(
                select(Decision)
                .where(Decision.jurisdiction_id == jurisdiction.id)
                .order_by(col(Decision.code))
            )
            if d.proposed_flags and d.status in proc.OPEN
        ]
    return LegalityQueue(today, reviews, approvals, confirmations)


__all__ = [
    "BLOCKED",
    "LEGAL_ROLES",
    "OPTIONAL_ACTIONS",
    "Available",
    "DeadlineLamp",
    "DecisionRow",
    "DecisionState",
    "LegalityQueue",
    "ReviewClock",
    "Task",
    "available_actions",
    "decision_actions",
    "decision_rows",
    "decision_state",
    "lamp",
    "legality_queue",
    "my_deadlines",
    "my_tasks",
    "readable_decisions",
    "role_allows",
]
