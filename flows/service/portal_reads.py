"""What the public portal reads (issue 10, part 3): the drafts open for comment, hearing
notices, the published decisions with the adoption of opinions and their procedure at a
glance, the published catalogues of each year, and one comment with its answer.

Read-only: nothing here writes. Each function takes a session (and `now` where time matters)
and returns plain dataclasses, so the web pages and the JSON API show the same facts.

Only what the public may see leaves this module:
- a confidential decision (the flag in effect or proposed, `flows/service/access.py`) is never
  listed, and asking for it by code is NOT_FOUND, exactly as for a code that does not exist;
- a decision counts as published once its publication is recorded (Art. 32); before that its
  page is NOT_FOUND; a draft is shown only once a comment period published it (Art. 15),
  and only the version that was published: later revisions stay inside until publication;
- a catalogue version only once it is published (Art. 3(3), R21);
- no commenter's name or contact, and no registrant's contact, ever: the published
  participant list (Art. 16(2)) is shown as the organ published it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from documents.catalogue import (
    FORMATS,
    PROGRESS,
    CatalogueDocument,
    CatalogueKind,
    cell_text,
    columns,
    render,
)
from flows import hygiene
from flows import procedure as proc
from flows.annual_report import stage_moves, stage_spans
from flows.calendar import end_of_day, local_date, start_of_day
from flows.catalogue_files import catalogue_documents
from flows.errors import not_found
from flows.hygiene import FIRST_DAY, LAST_DAY
from flows.rules import NOT_YET_HELD
from flows.service.access import may_read
from flows.service.catalogue import catalogue_versions
from flows.service.documents import DocumentStore
from flows.service.framework import resolved_settings
from models import (
    ArchiveDossier,
    AuditEvent,
    CatalogueYear,
    CommentPeriod,
    Deadline,
    Decision,
    DecisionStatus,
    DraftVersion,
    EvidenceDocument,
    Hearing,
    HearingStatement,
    InputResponse,
    Jurisdiction,
    LegalityReview,
    Meeting,
    PartyStep,
    Publication,
    PublicComment,
    StageInstance,
    StageStatus,
    Unit,
)
from models.enums import CommentPeriodStatus, DeadlineStatus, HearingStatus

WindowState = Literal["upcoming", "open", "closed"]
RECENT = 10  # published decisions on the home page
INPUTS_SHOWN = 1000  # comments and statements listed on a decision's page (all are counted)


# ------------------------------------------------------------------ plain results
@dataclass(frozen=True)
class Countdown:
    """Where a window stands at `now`: before it opens, open (time left until it closes),
    or closed. `days` and `hours` count the time to the next change."""

    state: WindowState
    days: int = 0
    hours: int = 0


@dataclass(frozen=True)
class ConsultationSummary:
    code: str
    title: str
    lead_unit: str
    start_date: date
    last_day: date  # the real last day: the end date rolled to a working day (P2)
    closes_at: datetime  # 24:00 of the last day, local time
    countdown: Countdown
    comments: int  # received so far


@dataclass(frozen=True)
class Consultation:
    """A draft published for comment (Art. 15): the notice, the draft, the window."""

    summary: ConsultationSummary
    organ: str
    end_date: date  # as the notice set it, before rolling
    channels: tuple[str, ...]
    urgent_reason: str  # Art. 15(2): why the period is shorter than the minimum
    notices: tuple[str, ...]  # the notice, then any public notice of a changed deadline
    draft_number: int
    draft_text: str | None  # None: the stored text could not be read
    explanation_text: str | None
    legal_bases: tuple[str, ...]
    anonymous_allowed: bool  # the jurisdiction's setting (Art. 15)
    accepting: bool  # a comment sent now is received

    @property
    def code(self) -> str:
        return self.summary.code

    @property
    def rolled(self) -> bool:
        return self.summary.last_day != self.end_date


@dataclass(frozen=True)
class HearingSummary:
    decision: str
    decision_title: str
    hearing: str
    starts_at: datetime  # local time
    place: str
    registration_opens: date
    registration_closes: date
    status: str
    registration_open: bool  # a registration sent now is received


@dataclass(frozen=True)
class HearingNotice:
    summary: HearingSummary
    organ: str
    lead_unit: str
    groups: tuple[tuple[str, int], ...]  # interest group and its seats
    notice_text: str | None
    method_text: str | None
    participant_list: str | None  # once published (Art. 16(2))
    held_on: date | None
    replaced_by: str  # a postponed hearing: the one announced in its place


@dataclass(frozen=True)
class PublishedSummary:
    code: str
    title: str
    lead_unit: str
    category: int
    published_on: date


@dataclass(frozen=True)
class StageGlance:
    """One stage the decision went through, with the days work on it started and ended."""

    stage: str
    zh: str
    en: str
    articles: str
    status: StageStatus
    started_on: date | None
    completed_on: date | None


@dataclass(frozen=True)
class Milestone:
    """One dated step of the procedure at a glance. `key` names the step; `detail` is an
    outcome code where the step has one (a legality outcome, the head's decision, the Party
    committee's reply); `until` ends a span (a comment period); `count` counts its inputs."""

    key: str
    day: date
    until: date | None = None
    detail: str = ""
    count: int | None = None


@dataclass(frozen=True)
class AnsweredInput:
    """A comment or hearing statement and how it was handled (Art. 18). No name, no contact."""

    kind: str  # comment | hearing_statement
    code: str
    text: str
    outcome: str  # adopted | partly_adopted | not_adopted; "" while unanswered
    reason: str


@dataclass(frozen=True)
class PublishedDecision:
    summary: PublishedSummary
    organ: str
    status: DecisionStatus
    channels: tuple[str, ...]
    url: str
    text: str | None
    adoption_explanation: str | None
    interpretation: str | None
    stages: tuple[StageGlance, ...]
    milestones: tuple[Milestone, ...]
    inputs: tuple[AnsweredInput, ...]  # at most INPUTS_SHOWN
    inputs_total: int
    adoption: Mapping[str, int]  # outcome -> number of inputs

    @property
    def code(self) -> str:
        return self.summary.code


@dataclass(frozen=True)
class CatalogueVersionInfo:
    version: int
    published_on: date | None
    url: str
    entries: int
    in_force: bool


@dataclass(frozen=True)
class CatalogueYearSummary:
    year: int
    in_force: int
    versions: tuple[CatalogueVersionInfo, ...]  # the published ones, newest first


@dataclass(frozen=True)
class CatalogueTable:
    """One catalogue as a page shows it: headers and cells, each as (zh, en)."""

    kind: CatalogueKind
    title: str
    headers: tuple[tuple[str, str], ...]
    rows: tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True)
class PublishedCatalogue:
    year: int
    version: CatalogueVersionInfo
    versions: tuple[CatalogueVersionInfo, ...]
    decisions: CatalogueTable
    hearings: CatalogueTable
    approval_note: str


@dataclass(frozen=True)
class CatalogueDownload:
    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class CommentAnswer:
    outcome: str
    reason: str
    responded_on: date


@dataclass(frozen=True)
class CommentReceipt:
    """One comment as its receipt shows it: the text, and the answer once there is one."""

    decision: str
    decision_title: str
    comment: str
    submitted_at: datetime  # local time
    text: str
    answer: CommentAnswer | None
    decision_published: bool


@dataclass(frozen=True)
class PortalHome:
    consultations: tuple[ConsultationSummary, ...]
    hearings: tuple[HearingSummary, ...]
    recent: tuple[PublishedSummary, ...]
    catalogue_years: tuple[int, ...]
    published_total: int = 0
    organ: str = ""


MEDIA_TYPES: Mapping[str, str] = {
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


# ------------------------------------------------------------------ pure helpers
def countdown(opens: date, closes_at: datetime, now: datetime, tz: ZoneInfo) -> Countdown:
    """The window from the start of `opens` (local) to `closes_at`, seen at `now`."""
    if local_date(now, tz) < opens:
        return _left("upcoming", start_of_day(opens, tz) - now)
    if now >= closes_at:
        return Countdown("closed")
    return _left("open", closes_at - now)


def _left(state: WindowState, delta: timedelta) -> Countdown:
    return Countdown(state, delta.days, delta.seconds // 3600)


def adoption_tally(inputs: Iterable[AnsweredInput]) -> dict[str, int]:
    """Inputs per outcome, in the order of Art. 18's outcomes; unanswered ones under ""."""
    counts = Counter(item.outcome for item in inputs)
    order = ("adopted", "partly_adopted", "not_adopted", "")
    return {outcome: counts[outcome] for outcome in order if counts[outcome]}


# ------------------------------------------------------------------ shared reads
def _jurisdiction(session: Session) -> Jurisdiction | None:
    """The jurisdiction, or None before one is set up (an empty portal, not an error)."""
    return session.exec(select(Jurisdiction).order_by(col(Jurisdiction.id)).limit(1)).first()


def _tz(jurisdiction: Jurisdiction) -> ZoneInfo:
    return ZoneInfo(jurisdiction.timezone)


def _unit_names(session: Session, jurisdiction: Jurisdiction) -> dict[int, str]:
    return {
        unit_id: name
        for unit_id, name in session.exec(
            select(Unit.id, Unit.name).where(Unit.jurisdiction_id == jurisdiction.id)
        )
        if unit_id is not None
    }


def _public_decision(session: Session, jurisdiction: Jurisdiction, code: str) -> Decision:
    """The decision `code` if the public may read it; NOT_FOUND otherwise, the same answer as
    for a code that does not exist, so a confidential decision's existence is not disclosed."""
    decision = session.exec(
        select(Decision).where(Decision.jurisdiction_id == jurisdiction.id, Decision.code == code)
    ).first()
    if decision is None or not may_read(None, decision):
        raise not_found("decision", code)
    return decision


def _require_jurisdiction(session: Session, field_name: str, value: object) -> Jurisdiction:
    jurisdiction = _jurisdiction(session)
    if jurisdiction is None:
        raise not_found(field_name, value)
    return jurisdiction


def _text(documents: DocumentStore, sha256: str | None) -> str | None:
    """A stored text, or None when it cannot be read (no data folder, a missing file)."""
    if sha256 is None:
        return None
    try:
        return documents.get(sha256).decode("utf-8", errors="replace")
    except Exception:  # a page shows "not available" rather than failing
        return None


def _evidence(
    session: Session, decision_id: int, kind: str, created_at: datetime | None = None
) -> list[EvidenceDocument]:
    """The decision's evidence of `kind`, oldest first; with `created_at`, only that made by
    the action at that instant (an action dates all it writes with its own time)."""
    query = select(EvidenceDocument).where(
        EvidenceDocument.decision_id == decision_id, EvidenceDocument.kind == kind
    )
    if created_at is not None:
        query = query.where(EvidenceDocument.created_at == created_at)
    return list(session.exec(query.order_by(col(EvidenceDocument.id))))


def _evidence_text(
    session: Session, documents: DocumentStore, decision_id: int, kind: str, created_at: datetime | None
) -> str | None:
    found = _evidence(session, decision_id, kind, created_at) if created_at is not None else []
    return _text(documents, found[-1].sha256) if found else None


# ------------------------------------------------------------------ consultations
def _period_deadline(session: Session, period: CommentPeriod) -> Deadline | None:
    """The deadline that ends the period (the latest one not cancelled: an extension moves it)."""
    return session.exec(
        select(Deadline)
        .where(
            Deadline.decision_id == period.decision_id,
            Deadline.kind == "comment_period_end",
            Deadline.subject_ref == str(period.id),
            Deadline.status != DeadlineStatus.cancelled,
        )
        .order_by(col(Deadline.id).desc())
    ).first()


def _consultation_summary(
    session: Session, decision: Decision, period: CommentPeriod, lead_unit: str, now: datetime, tz: ZoneInfo
) -> ConsultationSummary:
    deadline = _period_deadline(session, period)
    last_day = deadline.due_date if deadline else period.end_date
    closes_at = deadline.due_at if deadline else end_of_day(period.end_date, tz)
    if period.status == CommentPeriodStatus.closed:
        closes_at = min(closes_at, period.closed_at or closes_at)
    return ConsultationSummary(
        code=decision.code,
        title=decision.title,
        lead_unit=lead_unit,
        start_date=period.start_date,
        last_day=last_day,
        closes_at=closes_at.astimezone(tz),
        countdown=countdown(period.start_date, closes_at, now, tz),
        comments=decision.comment_seq,
    )


def open_consultations(session: Session, now: datetime) -> list[ConsultationSummary]:
    """The drafts open for comment now or announced to open, the soonest to close first."""
    jurisdiction = _jurisdiction(session)
    if jurisdiction is None:
        return []
    tz, units = _tz(jurisdiction), _unit_names(session, jurisdiction)
    rows = session.exec(
        select(Decision, CommentPeriod)
        .join(CommentPeriod, col(CommentPeriod.decision_id) == Decision.id)
        .where(
            Decision.jurisdiction_id == jurisdiction.id,
            Decision.status == DecisionStatus.in_procedure,
            CommentPeriod.status == CommentPeriodStatus.open,
        )
    ).all()
    found = [
        _consultation_summary(session, decision, period, units.get(decision.lead_unit_id or 0, ""), now, tz)
        for decision, period in rows
        if may_read(None, decision)
    ]
    return sorted((c for c in found if c.countdown.state != "closed"), key=lambda c: (c.closes_at, c.code))


def consultation(session: Session, documents: DocumentStore, code: str, now: datetime) -> Consultation:
    """The decision's latest comment period, its notice and the draft it published (the
    version current when the period opened). NOT_FOUND for a decision the public may not
    read or whose draft was never published for comment."""
    jurisdiction = _require_jurisdiction(session, "decision", code)
    decision = _public_decision(session, jurisdiction, code)
    period = session.exec(
        select(CommentPeriod)
        .where(CommentPeriod.decision_id == decision.id)
        .order_by(col(CommentPeriod.id).desc())
    ).first()
    if period is None:
        raise not_found("decision", code)
    tz = _tz(jurisdiction)
    lead = _unit_names(session, jurisdiction).get(decision.lead_unit_id or 0, "")
    summary = _consultation_summary(session, decision, period, lead, now, tz)
    notices = [
        _text(documents, row.sha256)
        for row in _evidence(session, decision.id or 0, "comment_notice")
        if row.created_at >= period.opened_at
    ]
    draft = session.exec(  # the version the period published, not a later revision
        select(DraftVersion)
        .where(DraftVersion.decision_id == decision.id, col(DraftVersion.created_at) <= period.opened_at)
        .order_by(col(DraftVersion.number).desc())
    ).first()
    settings = resolved_settings(jurisdiction, decision.procedure_version)
    return Consultation(
        summary=summary,
        organ=decision.organ,
        end_date=period.end_date,
        channels=tuple(period.channels),
        urgent_reason=period.urgent_reason,
        notices=tuple(text for text in notices if text is not None),
        draft_number=draft.number if draft else 0,
        draft_text=_text(documents, draft.document_sha256) if draft else None,
        explanation_text=_text(documents, draft.explanation_sha256) if draft else None,
        legal_bases=tuple(draft.legal_bases) if draft else (),
        anonymous_allowed=bool(settings["anonymous_comments"]),
        accepting=summary.countdown.state == "open"
        and period.status == CommentPeriodStatus.open
        and decision.status == DecisionStatus.in_procedure,
    )


def check_public_target(session: Session, action: str, payload: Mapping[str, Any]) -> None:
    """Refuse NOT_FOUND, as the portal's pages answer, one of the public's actions on what the
    public may not see: a comment on a draft never published for comment, a registration
    for a hearing of a decision the public may not read, feedback on a decision not
    published. A confidential decision is answered exactly as a code that does not exist.
    (A payload without a decision code is left to the service to refuse.)"""
    code = payload.get("decision")
    if not isinstance(code, str):
        return
    code = code.strip()  # as the service reads it
    if hygiene.text_problem(code, multiline=False) is not None:  # no code has a NUL, nor may a query
        raise not_found("decision", code)
    decision = _public_decision(session, _require_jurisdiction(session, "decision", code), code)
    if action == "submit_public_comment":
        shown = session.exec(select(CommentPeriod.id).where(CommentPeriod.decision_id == decision.id)).first()
    elif action == "submit_execution_feedback":
        shown = session.exec(select(Publication.id).where(Publication.decision_id == decision.id)).first()
    else:
        return
    if shown is None:
        raise not_found("decision", code)


# ------------------------------------------------------------------ hearings
def _hearing_summary(decision: Decision, hearing: Hearing, now: datetime, tz: ZoneInfo) -> HearingSummary:
    today = local_date(now, tz)
    return HearingSummary(
        decision=decision.code,
        decision_title=decision.title,
        hearing=hearing.code,
        starts_at=hearing.starts_at.astimezone(tz),
        place=hearing.place,
        registration_opens=hearing.registration_opens,
        registration_closes=hearing.registration_closes,
        status=str(hearing.status),
        registration_open=hearing.status == HearingStatus.announced
        and hearing.registration_opens <= today <= hearing.registration_closes
        and decision.status == DecisionStatus.in_procedure,
    )


def hearing_notices(session: Session, now: datetime) -> list[HearingSummary]:
    """The hearings announced and not yet held (Art. 16), the soonest first."""
    jurisdiction = _jurisdiction(session)
    if jurisdiction is None:
        return []
    tz = _tz(jurisdiction)
    rows = session.exec(
        select(Decision, Hearing)
        .join(Hearing, col(Hearing.decision_id) == Decision.id)
        .where(
            Decision.jurisdiction_id == jurisdiction.id,
            Decision.status == DecisionStatus.in_procedure,
            col(Hearing.status).in_(NOT_YET_HELD),
        )
        .order_by(col(Hearing.starts_at), col(Hearing.id))
    ).all()
    return [_hearing_summary(d, h, now, tz) for d, h in rows if may_read(None, d)]


def hearing_notice(
    session: Session, documents: DocumentStore, code: str, hearing_code: str, now: datetime
) -> HearingNotice:
    """One hearing's notice, selection method and (once published) participant list."""
    jurisdiction = _require_jurisdiction(session, "decision", code)
    decision = _public_decision(session, jurisdiction, code)
    hearing = session.exec(
        select(Hearing).where(Hearing.decision_id == decision.id, Hearing.code == hearing_code)
    ).first()
    if hearing is None:
        raise not_found("hearing", hearing_code)
    did = decision.id or 0
    return HearingNotice(
        summary=_hearing_summary(decision, hearing, now, _tz(jurisdiction)),
        organ=decision.organ,
        lead_unit=_unit_names(session, jurisdiction).get(decision.lead_unit_id or 0, ""),
        groups=tuple((group, int(seats)) for group, seats in hearing.quotas.items()),
        notice_text=_evidence_text(session, documents, did, "hearing_notice", hearing.announced_at),
        method_text=_evidence_text(session, documents, did, "selection_method", hearing.announced_at),
        participant_list=_evidence_text(
            session, documents, did, "participant_list", hearing.list_published_at
        ),
        held_on=hearing.held_on,
        replaced_by=hearing.replaced_by,
    )


# ------------------------------------------------------------------ published decisions
def _published_rows(session: Session, jurisdiction: Jurisdiction) -> list[tuple[Decision, Publication]]:
    """Every published decision the public may read, with its latest publication, newest first."""
    latest: dict[int, tuple[Decision, Publication]] = {}
    for decision, publication in session.exec(
        select(Decision, Publication)
        .join(Publication, col(Publication.decision_id) == Decision.id)
        .where(Decision.jurisdiction_id == jurisdiction.id)
        .order_by(col(Publication.id))
    ):
        if may_read(None, decision):
            latest[decision.id or 0] = (decision, publication)
    return sorted(latest.values(), key=lambda pair: (pair[1].published_on, pair[0].code), reverse=True)


def _published_summary(
    decision: Decision, publication: Publication, units: Mapping[int, str]
) -> PublishedSummary:
    return PublishedSummary(
        code=decision.code,
        title=decision.title,
        lead_unit=units.get(decision.lead_unit_id or 0, ""),
        category=decision.category,
        published_on=publication.published_on,
    )


def published_decisions(
    session: Session, *, query: str = "", offset: int = 0, limit: int = 50
) -> tuple[list[PublishedSummary], int]:
    """The published decisions, newest first, whose title contains `query`: one page and
    the total."""
    jurisdiction = _jurisdiction(session)
    if jurisdiction is None:
        return [], 0
    units = _unit_names(session, jurisdiction)
    needle = query.strip().casefold()
    rows = [
        _published_summary(decision, publication, units)
        for decision, publication in _published_rows(session, jurisdiction)
        if needle in decision.title.casefold() or needle == decision.code.casefold()
    ]
    return rows[offset : offset + limit], len(rows)


def published_decision(session: Session, documents: DocumentStore, code: str) -> PublishedDecision:
    """A published decision: its text, the explanation of how opinions were adopted, its
    procedure at a glance, and every public input with its answer. NOT_FOUND until it is
    published, and always for a confidential one."""
    jurisdiction = _require_jurisdiction(session, "decision", code)
    decision = _public_decision(session, jurisdiction, code)
    publication = session.exec(
        select(Publication).where(Publication.decision_id == decision.id).order_by(col(Publication.id).desc())
    ).first()
    if publication is None:
        raise not_found("decision", code)
    tz, did = _tz(jurisdiction), decision.id or 0
    units = _unit_names(session, jurisdiction)
    text_row = (
        session.get(EvidenceDocument, publication.text_evidence_id) if publication.text_evidence_id else None
    )
    inputs = _answered_inputs(session, did)
    return PublishedDecision(
        summary=_published_summary(decision, publication, units),
        organ=decision.organ,
        status=decision.status,
        channels=tuple(publication.channels),
        url=publication.url,
        text=_text(documents, text_row.sha256) if text_row else None,
        adoption_explanation=_evidence_text(
            session, documents, did, "adoption_explanation", publication.recorded_at
        ),
        interpretation=_evidence_text(session, documents, did, "interpretation", publication.recorded_at),
        stages=tuple(_stages(session, decision, tz)),
        milestones=tuple(_milestones(session, decision, tz)),
        inputs=tuple(inputs[:INPUTS_SHOWN]),
        inputs_total=len(inputs),
        adoption=adoption_tally(inputs),
    )


def _stages(session: Session, decision: Decision, tz: ZoneInfo) -> list[StageGlance]:
    """The stages that apply to the decision, in the procedure's order, with the day work on
    each started and the day it was completed (from the audit record of its moves)."""
    statuses = {
        row.stage: row.status
        for row in session.exec(select(StageInstance).where(StageInstance.decision_id == decision.id))
    }
    moves = []
    for at, stages in session.exec(
        select(AuditEvent.occurred_at, AuditEvent.payload["stages"])
        .where(AuditEvent.chain == f"decision:{decision.id}")
        .order_by(col(AuditEvent.seq))
    ):
        moves.extend(stage_moves(decision.id or 0, at, stages))
    spans = stage_spans(moves)
    glance = []
    for stage in proc.procedure(decision.procedure_version).stages:
        status = statuses.get(stage.id, StageStatus.not_required)
        if status == StageStatus.not_required:
            continue
        span = spans.get((decision.id or 0, stage.id))
        glance.append(
            StageGlance(
                stage=stage.id,
                zh=stage.zh,
                en=stage.en,
                articles=stage.articles,
                status=status,
                started_on=local_date(span.start, tz) if span and span.start else None,
                completed_on=local_date(span.end, tz) if span and span.end else None,
            )
        )
    return glance


def _milestones(session: Session, decision: Decision, tz: ZoneInfo) -> list[Milestone]:
    """The dated steps the public follows: registration, each comment period with the
    comments it received, each hearing held, each legality review and its outcome, the
    meeting and the head's decision, the Party committee's report and reply, publication
    and archiving; by date."""
    did = decision.id
    found = [Milestone("registered", local_date(decision.created_at, tz))]
    counts = Counter(
        session.exec(select(PublicComment.period_id).where(PublicComment.decision_id == did)).all()
    )
    for period in session.exec(
        select(CommentPeriod).where(CommentPeriod.decision_id == did).order_by(col(CommentPeriod.id))
    ):
        deadline = _period_deadline(session, period)
        last_day = deadline.due_date if deadline else period.end_date
        found.append(
            Milestone("comment_period", period.start_date, until=last_day, count=counts[period.id or 0])
        )
    for code, held_on in session.exec(
        select(Hearing.code, col(Hearing.held_on)).where(Hearing.decision_id == did).order_by(col(Hearing.id))
    ):
        if held_on is not None:
            found.append(Milestone("hearing", held_on, detail=code))
    for review in session.exec(
        select(LegalityReview).where(LegalityReview.decision_id == did).order_by(col(LegalityReview.round))
    ):
        found.append(Milestone("legality_submitted", review.submitted_on))
        if review.issued_at is not None and review.outcome:
            found.append(
                Milestone("legality_opinion", local_date(review.issued_at, tz), detail=review.outcome)
            )
    for meeting in session.exec(select(Meeting).where(Meeting.decision_id == did).order_by(col(Meeting.id))):
        found.append(Milestone("meeting", meeting.held_on, detail=meeting.head_decision))
    for step in session.exec(
        select(PartyStep).where(PartyStep.decision_id == did).order_by(col(PartyStep.id))
    ):
        found.append(Milestone(f"party_{step.kind}", step.on_date, detail=step.result))
    for publication in session.exec(select(Publication).where(Publication.decision_id == did)):
        found.append(Milestone("published", publication.published_on))
    archived = session.exec(
        select(ArchiveDossier.archived_at).where(ArchiveDossier.decision_id == did)
    ).first()
    if archived is not None:
        found.append(Milestone("archived", local_date(archived, tz)))
    order = {key: i for i, key in enumerate(MILESTONE_ORDER)}
    return sorted(found, key=lambda m: (m.day, order.get(m.key, len(order))))


MILESTONE_ORDER = (
    "registered",
    "comment_period",
    "hearing",
    "legality_submitted",
    "legality_opinion",
    "meeting",
    "party_report",
    "party_reply",
    "published",
    "archived",
)


def _answered_inputs(session: Session, decision_id: int) -> list[AnsweredInput]:
    """The public's comments and the hearing statements, each with its answer (Art. 18)."""
    answers = {
        (row.input_kind, row.input_code): row
        for row in session.exec(select(InputResponse).where(InputResponse.decision_id == decision_id))
    }

    def answered(kind: str, code: str, text: str) -> AnsweredInput:
        answer = answers.get((kind, code))
        return AnsweredInput(
            kind, code, text, answer.outcome if answer else "", answer.reason if answer else ""
        )

    comments = session.exec(
        select(PublicComment.code, PublicComment.text)
        .where(PublicComment.decision_id == decision_id)
        .order_by(col(PublicComment.id))
    ).all()
    statements = session.exec(
        select(HearingStatement.code, HearingStatement.text)
        .join(Hearing, col(Hearing.id) == HearingStatement.hearing_id)
        .where(Hearing.decision_id == decision_id)
        .order_by(col(HearingStatement.id))
    ).all()
    return [answered("comment", code, text) for code, text in comments] + [
        answered("hearing_statement", code, text) for code, text in statements
    ]


# ------------------------------------------------------------------ catalogues
def _version_info(row: Mapping[str, Any]) -> CatalogueVersionInfo:
    return CatalogueVersionInfo(
        version=int(row["version"]),
        published_on=date.fromisoformat(row["published_on"]) if row["published_on"] else None,
        url=str(row["published_url"] or ""),
        entries=int(row["entries"]),
        in_force=bool(row["in_force"]),
    )


def _published_versions(session: Session, jurisdiction_id: int, year: int) -> list[CatalogueVersionInfo]:
    """The year's published versions (R21), newest first; drafts and versions never
    published are not public."""
    return [
        _version_info(row)
        for row in reversed(catalogue_versions(session, jurisdiction_id, year))
        if row["status"] == "published"
    ]


def catalogue_years(session: Session) -> list[CatalogueYearSummary]:
    """Each year with a published catalogue, newest first."""
    jurisdiction = _jurisdiction(session)
    if jurisdiction is None:
        return []
    years = session.exec(
        select(CatalogueYear)
        .where(
            CatalogueYear.jurisdiction_id == jurisdiction.id,
            col(CatalogueYear.published_version).is_not(None),
        )
        .order_by(col(CatalogueYear.year).desc())
    ).all()
    return [
        CatalogueYearSummary(
            year=row.year,
            in_force=row.published_version or 0,
            versions=tuple(_published_versions(session, jurisdiction.id or 0, row.year)),
        )
        for row in years
    ]


def _published_version(
    session: Session, year: int, version: int | None
) -> tuple[int, list[CatalogueVersionInfo]]:
    """The version asked for (default: the one in force) if it is published; NOT_FOUND else
    (also for a year no catalogue can have, which the database could not even compare)."""
    jurisdiction = _require_jurisdiction(session, "year", year)
    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        raise not_found("year", year)
    versions = _published_versions(session, jurisdiction.id or 0, year)
    if not versions:
        raise not_found("year", year)
    if version is None:
        return next((v.version for v in versions if v.in_force), versions[0].version), versions
    if version not in {v.version for v in versions}:
        raise not_found("version", version)
    return version, versions


def _table(doc: CatalogueDocument) -> CatalogueTable:
    cols = columns(doc.kind)

    def cell(row: Any, key: str) -> tuple[str, str]:
        if key == "status":
            return PROGRESS[row.progress]
        if key == "hearing_required":
            return ("是", "yes") if row.hearing_required else ("否", "no")
        text = cell_text(row, key)
        return text, text

    return CatalogueTable(
        kind=doc.kind,
        title=doc.title,
        headers=tuple((c.zh, c.en) for c in cols),
        rows=tuple(tuple(cell(row, c.key) for c in cols) for row in doc.rows),
    )


def published_catalogue(session: Session, year: int, version: int | None, today: date) -> PublishedCatalogue:
    """The decision and hearing catalogues of `year` in a published version (default: the
    one in force), with every published version of the year listed."""
    number, versions = _published_version(session, year, version)
    decisions, hearings = catalogue_documents(session, year, version=number, today=today)
    return PublishedCatalogue(
        year=year,
        version=next(v for v in versions if v.version == number),
        versions=tuple(versions),
        decisions=_table(decisions),
        hearings=_table(hearings),
        approval_note=decisions.approval_note,
    )


def catalogue_file(
    session: Session, year: int, version: int, kind: str, fmt: str, today: date
) -> CatalogueDownload:
    """One catalogue of a published version as a file, the same bytes
    `flows.catalogue_files.generate_catalogue_files` writes (named as it names them)."""
    if kind not in ("decisions", "hearings"):
        raise not_found("kind", kind)
    if fmt not in FORMATS:
        raise not_found("format", fmt)
    number, _ = _published_version(session, year, version)
    decisions, hearings = catalogue_documents(session, year, version=number, today=today)
    doc = decisions if kind == "decisions" else hearings
    return CatalogueDownload(f"{year}-v{number}-{kind}.{fmt}", MEDIA_TYPES[fmt], render(doc, fmt))


# ------------------------------------------------------------------ one comment
def comment_receipt(session: Session, decision_code: str, comment_code: str) -> CommentReceipt:
    """A comment and its answer, as its receipt shows them (no name, no contact)."""
    jurisdiction = _require_jurisdiction(session, "receipt", comment_code)
    decision = _public_decision(session, jurisdiction, decision_code)
    comment = session.exec(
        select(PublicComment).where(
            PublicComment.decision_id == decision.id, PublicComment.code == comment_code
        )
    ).first()
    if comment is None:
        raise not_found("receipt", comment_code)
    tz = _tz(jurisdiction)
    answer = session.exec(
        select(InputResponse).where(
            InputResponse.decision_id == decision.id,
            InputResponse.input_kind == "comment",
            InputResponse.input_code == comment_code,
        )
    ).first()
    published = session.exec(select(Publication.id).where(Publication.decision_id == decision.id)).first()
    return CommentReceipt(
        decision=decision.code,
        decision_title=decision.title,
        comment=comment.code,
        submitted_at=comment.submitted_at.astimezone(tz),
        text=comment.text,
        answer=CommentAnswer(answer.outcome, answer.reason, local_date(answer.responded_at, tz))
        if answer
        else None,
        decision_published=published is not None,
    )


# ------------------------------------------------------------------ the home page
def portal_home(session: Session, now: datetime) -> PortalHome:
    jurisdiction = _jurisdiction(session)
    if jurisdiction is None:
        return PortalHome((), (), (), ())
    units = _unit_names(session, jurisdiction)
    published = _published_rows(session, jurisdiction)
    return PortalHome(
        consultations=tuple(open_consultations(session, now)),
        hearings=tuple(hearing_notices(session, now)),
        recent=tuple(_published_summary(d, p, units) for d, p in published[:RECENT]),
        catalogue_years=tuple(y.year for y in catalogue_years(session)),
        published_total=len(published),
        organ=jurisdiction.organ,
    )


def local_today(session: Session, now: datetime) -> date:
    """Today in the jurisdiction's time zone (Asia/Shanghai before one is set up)."""
    jurisdiction = _jurisdiction(session)
    return local_date(now, _tz(jurisdiction) if jurisdiction else ZoneInfo("Asia/Shanghai"))


__all__ = [
    "MEDIA_TYPES",
    "AnsweredInput",
    "CatalogueDownload",
    "CatalogueTable",
    "CatalogueVersionInfo",
    "CatalogueYearSummary",
    "CommentAnswer",
    "CommentReceipt",
    "Consultation",
    "ConsultationSummary",
    "Countdown",
    "HearingNotice",
    "HearingSummary",
    "Milestone",
    "PortalHome",
    "PublishedCatalogue",
    "PublishedDecision",
    "PublishedSummary",
    "StageGlance",
    "adoption_tally",
    "catalogue_file",
    "catalogue_years",
    "check_public_target",
    "comment_receipt",
    "consultation",
    "countdown",
    "hearing_notice",
    "hearing_notices",
    "local_today",
    "open_consultations",
    "portal_home",
    "published_catalogue",
    "published_decision",
    "published_decisions",
]
