"""Read functions for the web app and the JSON API: the decisions a user may see, one
decision's status, stages, deadlines, projected dates and documents, its audit trail, a
user's deadlines with traffic lights, the published catalogue of a year and the published
decisions. They change nothing, and each takes the reader (the service's `Actor`, or None
for the public) and applies `flows.service.access`: a decision only with a role on it or once
published (`may_see`), its audit trail only with a role on it (`has_role_on`).

Each answer is a plain frozen dataclass (the API declares them as its response schemas), with
the time of the question (`now`) passed in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from flows import procedure as proc
from flows.calendar import WorkingCalendar, local_date
from flows.errors import not_found
from flows.service.access import check_role_on, check_see, is_confidential, may_see
from flows.service.decision_reads import (
    AuditEntry,
    audit_entries,
    deadlines_of,
    document_rows,
    drafts_of,
    names_of,
    stages_in_order,
)
from flows.service.documents import DocumentStore
from flows.service.framework import Actor, load_calendar, resolved_settings, the_jurisdiction
from flows.timeline import current_stages, find_decision, load_facts
from models import (
    Deadline,
    Decision,
    EvidenceDocument,
    Publication,
    StageInstance,
    Unit,
)
from models.enums import DeadlineStatus
from notifications import policy as reminder_policy
from notifications.reminders import Directory

Light = Literal["overdue", "due_today", "due_soon", "on_track"]
DUE_SOON_WORKING_DAYS = 3  # the default reminder's lead (notifications.policy)
LIVE = (DeadlineStatus.open, DeadlineStatus.fired)


# ---------------------------------------------------------------------------- answers
@dataclass(frozen=True)
class DecisionSummary:
    code: str
    title: str
    status: str
    category: int
    organ: str
    lead_unit: str | None
    units: list[str]
    flags: list[str]
    proposed_flags: list[str]
    confidential: bool
    current_stages: list[str]
    registered_at: datetime
    updated_at: datetime
    decided_on: datetime | None
    published_on: datetime | None


@dataclass(frozen=True)
class StageView:
    id: str
    section: str
    zh: str
    en: str
    status: str
    updated_at: datetime
    note: str


@dataclass(frozen=True)
class DeadlineView:
    id: int
    kind: str
    zh: str
    en: str
    stage: str
    article: str
    subject_ref: str
    due_date: date
    due_at: datetime
    status: str
    provisional: bool
    blocking: bool


@dataclass(frozen=True)
class StepView:
    """A remaining statutory step with its date (flows.timeline.ProjectedStep)."""

    key: str
    stage: str
    zh: str
    en: str
    article: str
    day: date
    provisional: bool
    source: str
    overdue: bool


@dataclass(frozen=True)
class DocumentView:
    id: int
    stage: str
    kind: str
    title: str
    sha256: str
    size: int
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class DraftView:
    number: int
    document_sha256: str
    explanation_sha256: str | None
    legal_bases: list[str]
    reason: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class DecisionDetail:
    decision: DecisionSummary
    procedure_version: str
    today: date
    stages: list[StageView]
    deadlines: list[DeadlineView]
    timeline: list[StepView]
    drafts: list[DraftView]
    documents: list[DocumentView]


@dataclass(frozen=True)
class MyDeadline:
    """A deadline the reader answers for (the reminder policy's assignee, or an escalation
    it has reached), with its traffic light."""

    decision: str
    title: str
    kind: str
    zh: str
    en: str
    article: str
    subject_ref: str
    due_date: date
    due_at: datetime
    status: str
    provisional: bool
    light: Light
    working_days_left: int  # after today up to the due day; 0 when due today or past
    escalation_level: int  # 0: the assignee; n: the n-th escalation has been reached


@dataclass(frozen=True)
class PublishedDecision:
    code: str
    title: str
    organ: str
    category: int
    decided_on: date | None
    published_on: date
    channels: list[str]
    url: str
    text: str
    adoption_explanation: str
    interpretation: str


# ---------------------------------------------------------------------------- decisions
def visible_decisions(
    session: Session,
    reader: Actor | None,
    *,
    status: str | None = None,
    unit: str | None = None,
) -> list[DecisionSummary]:
    """The decisions `reader` may see (`access.may_see`), by code, optionally only those with
    `status` or with `unit` among their units."""
    jurisdiction = the_jurisdiction(session)
    query = select(Decision).where(Decision.jurisdiction_id == jurisdiction.id)
    if status is not None:
        query = query.where(Decision.status == status)
    decisions = [
        d
        for d in session.exec(query.order_by(col(Decision.code)))
        if may_see(reader, d) and (unit is None or unit in d.unit_codes)
    ]
    if not decisions:
        return []
    stages: dict[int, dict[str, Any]] = {}
    for decision_id, stage, stage_status in session.exec(
        select(StageInstance.decision_id, StageInstance.stage, StageInstance.status).where(
            col(StageInstance.decision_id).in_([d.id for d in decisions])
        )
    ):
        stages.setdefault(decision_id, {})[stage] = stage_status
    lead_codes = _unit_codes(session, {d.lead_unit_id for d in decisions if d.lead_unit_id is not None})
    return [_summary(d, lead_codes, current_stages(stages.get(d.id or 0, {}))) for d in decisions]


def decision_detail(session: Session, reader: Actor | None, code: str, now: datetime) -> DecisionDetail:
    """One decision as a user with a role on it sees it (NOT_FOUND, or AUTH when the reader
    may not see it): its stages in procedure order, its deadlines, the projected dates of its
    remaining statutory steps, its draft versions and its documents (metadata, no content)."""
    _, decision = find_decision(session, code)
    check_see(reader, decision)
    loaded = load_facts(session, code)
    today = local_date(now, loaded.timezone)
    stages = [
        StageView(stage.id, stage.section, stage.zh, stage.en, row.status.value, row.updated_at, row.note)
        for stage, row in stages_in_order(session, decision, loaded.procedure)
    ]
    deadlines = [
        DeadlineView(
            row.id or 0,
            row.kind,
            *names_of(loaded.procedure.deadline_kinds, row.kind),
            row.stage,
            row.article,
            row.subject_ref,
            row.due_date,
            row.due_at,
            row.status.value,
            row.provisional,
            row.blocking,
        )
        for row in deadlines_of(session, decision, Deadline.id)
    ]
    timeline = [
        StepView(s.key, s.stage, s.zh, s.en, s.article, s.day, s.provisional, s.source, s.overdue)
        for s in loaded.project(today)
    ]
    drafts = [
        DraftView(
            number=d.number,
            document_sha256=d.document_sha256,
            explanation_sha256=d.explanation_sha256,
            legal_bases=list(d.legal_bases),
            reason=d.reason,
            created_by=d.created_by,
            created_at=d.created_at,
        )
        for d in drafts_of(session, decision)
    ]
    documents = [
        DocumentView(d.id, d.stage, d.kind, d.title, d.sha256, d.size, d.created_by, d.created_at)
        for d in document_rows(session, decision, loaded.procedure)
    ]
    lead_codes = _unit_codes(session, {decision.lead_unit_id} if decision.lead_unit_id else set())
    return DecisionDetail(
        decision=_summary(decision, lead_codes, current_stages(loaded.facts.stages)),
        procedure_version=decision.procedure_version,
        today=today,
        stages=stages,
        deadlines=deadlines,
        timeline=timeline,
        drafts=drafts,
        documents=documents,
    )


def decision_audit(session: Session, reader: Actor | None, code: str) -> list[AuditEntry]:
    """The decision's audit chain in order, for a user with a role on it (AUTH otherwise:
    the events carry what the public gave, e.g. a commenter's contact)."""
    _, decision = find_decision(session, code)
    check_role_on(reader, decision)
    return audit_entries(session, decision)


# ---------------------------------------------------------------------------- deadlines
def light_of(
    due_date: date, due_at: datetime, status: str, now: datetime, today: date, calendar: WorkingCalendar
) -> tuple[Light, int]:
    """The traffic light of a live deadline and the working days left after today: overdue
    (fired, or past its due instant), due today, due soon (within `DUE_SOON_WORKING_DAYS`
    working days), else on track."""
    if status == DeadlineStatus.fired.value or now >= due_at:
        return "overdue", 0
    if due_date <= today:
        return "due_today", 0
    left = calendar.working_days_between(today, due_date)
    return ("due_soon" if left <= DUE_SOON_WORKING_DAYS else "on_track"), left


def my_deadlines(session: Session, reader: Actor, now: datetime) -> list[MyDeadline]:
    """The live deadlines `reader` answers for, soonest first: those whose reminder policy
    (the jurisdiction's, over `notifications.policy`) names the reader as its assignee, or,
    once overdue, in an escalation the deadline has reached (counted in working days)."""
    jurisdiction = the_jurisdiction(session)
    if reader.user_id is None:
        return []
    tz = ZoneInfo(jurisdiction.timezone)
    today = local_date(now, tz)
    overrides = resolved_settings(jurisdiction).get("reminder_policy")
    calendar = load_calendar(session)
    directory = Directory(session)
    rows = session.exec(
        select(Deadline, Decision)
        .join(Decision, col(Decision.id) == col(Deadline.decision_id))
        .where(Decision.jurisdiction_id == jurisdiction.id, col(Deadline.status).in_(LIVE))
        .order_by(col(Deadline.due_at), col(Deadline.id))
    ).all()
    kinds = proc.procedure().deadline_kinds
    found: list[MyDeadline] = []
    for deadline, decision in rows:
        if not may_see(reader, decision):
            continue
        policy = reminder_policy.resolve(deadline.kind, overrides)
        if policy is None:
            continue
        light, left = light_of(
            deadline.due_date, deadline.due_at, deadline.status.value, now, today, calendar
        )
        level = 0
        if light == "overdue" and today > deadline.due_date:
            late = calendar.working_days_between(deadline.due_date, today)
            level = sum(1 for step in policy.escalations if step.after_working_days <= late)
        if reader.user_id not in {u.id for u in directory.recipients(policy.audiences(level), decision)}:
            continue
        zh, en = names_of(kinds, deadline.kind)
        found.append(
            MyDeadline(
                decision=decision.code,
                title=decision.title,
                kind=deadline.kind,
                zh=zh,
                en=en,
                article=deadline.article,
                subject_ref=deadline.subject_ref,
                due_date=deadline.due_date,
                due_at=deadline.due_at,
                status=deadline.status.value,
                provisional=deadline.provisional,
                light=light,
                working_days_left=left,
                escalation_level=level,
            )
        )
    return found


# ---------------------------------------------------------------------------- public
def published_decisions(session: Session, store: DocumentStore) -> list[PublishedDecision]:
    """Every published decision, newest publication first, with its published text, the
    explanation of how opinions were adopted and the interpretation (read from `store`, the
    `DocumentStore`). Confidential decisions are never published (R2); they are left out
    here whatever the record says."""
    jurisdiction = the_jurisdiction(session)
    rows = session.exec(
        select(Publication, Decision)
        .join(Decision, col(Decision.id) == col(Publication.decision_id))
        .where(Decision.jurisdiction_id == jurisdiction.id)
        .order_by(col(Publication.published_on).desc(), col(Publication.id).desc())
    ).all()
    tz = ZoneInfo(jurisdiction.timezone)
    texts = _publication_texts(session, [d.id or 0 for _, d in rows])
    answers: list[PublishedDecision] = []
    seen: set[int] = set()
    for publication, decision in rows:
        if decision.id in seen or is_confidential(decision):
            continue
        seen.add(decision.id or 0)
        mine = texts.get(decision.id or 0, {})

        def text(kind: str, mine: dict[str, str] = mine) -> str:
            sha = mine.get(kind)
            return store.get(sha).decode("utf-8") if sha else ""

        answers.append(
            PublishedDecision(
                code=decision.code,
                title=decision.title,
                organ=decision.organ,
                category=decision.category,
                decided_on=local_date(decision.decided_on, tz) if decision.decided_on else None,
                published_on=publication.published_on,
                channels=list(publication.channels),
                url=publication.url,
                text=text("publication_text"),
                adoption_explanation=text("adoption_explanation"),
                interpretation=text("interpretation"),
            )
        )
    return answers


def _publication_texts(session: Session, decision_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """Per decision, the latest document of each publication kind (its SHA-256)."""
    kinds = ("publication_text", "adoption_explanation", "interpretation")
    found: dict[int, dict[str, str]] = {}
    if not decision_ids:
        return found
    for decision_id, kind, sha in session.exec(
        select(EvidenceDocument.decision_id, EvidenceDocument.kind, EvidenceDocument.sha256)
        .where(col(EvidenceDocument.decision_id).in_(decision_ids), col(EvidenceDocument.kind).in_(kinds))
        .order_by(col(EvidenceDocument.id))
    ):
        found.setdefault(decision_id, {})[kind] = sha  # the latest wins
    return found


def published_catalogue(session: Session, year: int, today: date) -> dict[str, Any]:
    """The year's catalogues as published and in force: the decision catalogue and the hearing
    catalogue exactly as the published JSON files carry them (documents.catalogue), and the
    list of versions that have been published. NOT_FOUND when no version is published."""
    from documents.catalogue import document_data
    from flows.catalogue_files import catalogue_documents
    from flows.service.catalogue import catalogue_versions

    jurisdiction = the_jurisdiction(session)
    versions = catalogue_versions(session, jurisdiction.id or 0, year)
    in_force = next((v for v in versions if v["in_force"] and v["status"] == "published"), None)
    if in_force is None:
        raise not_found("year", year)
    decisions, hearings = catalogue_documents(session, year, version=int(in_force["version"]), today=today)
    published = [
        {key: v[key] for key in ("version", "status", "in_force", "published_on", "published_url")}
        for v in versions
        if v["published_on"] is not None
    ]
    return {
        "year": year,
        "version": in_force["version"],
        "versions": published,
        "decisions": document_data(decisions),
        "hearings": document_data(hearings),
    }


# ---------------------------------------------------------------------------- helpers
def _unit_codes(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {
        uid or 0: code
        for uid, code in session.exec(select(Unit.id, Unit.code).where(col(Unit.id).in_(wanted)))
    }


def _summary(decision: Decision, lead_codes: dict[int, str], current: list[str]) -> DecisionSummary:
    return DecisionSummary(
        code=decision.code,
        title=decision.title,
        status=decision.status.value,
        category=decision.category,
        organ=decision.organ,
        lead_unit=lead_codes.get(decision.lead_unit_id) if decision.lead_unit_id else None,
        units=list(decision.unit_codes),
        flags=sorted(decision.flags),
        proposed_flags=sorted(decision.proposed_flags),
        confidential=is_confidential(decision),
        current_stages=current,
        registered_at=decision.created_at,
        updated_at=decision.updated_at,
        decided_on=decision.decided_on,
        published_on=decision.published_on,
    )


__all__ = [
    "AuditEntry",
    "DeadlineView",
    "DecisionDetail",
    "DecisionSummary",
    "DocumentView",
    "DraftView",
    "MyDeadline",
    "PublishedDecision",
    "StageView",
    "StepView",
    "decision_audit",
    "decision_detail",
    "light_of",
    "my_deadlines",
    "published_catalogue",
    "published_decisions",
    "visible_decisions",
]
