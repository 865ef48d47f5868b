"""A decision's working file (案卷) as the staff pages show it (issue 10): where it stands
(stages, the projected statutory dates of the remaining steps, deadlines with their lights),
its drafts and documents, its inputs and the responses to them, its meetings and its audit
trail; a comparison of two draft versions; one document's text; the meeting record for the
government office. Read only. Every function checks that the reader may read the file
(`access.check_read_file`: its units and the offices with a role on it; confidential
decisions only for them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from flows import procedure as proc
from flows import textdiff
from flows.calendar import local_date
from flows.errors import invalid, not_found
from flows.service.access import check_read_file, is_confidential
from flows.service.decision_reads import (
    AuditEntry,
    DocumentRow,
    audit_entries,
    deadlines_of,
    document_rows,
    drafts_of,
    input_queries,
    names_of,
    stages_in_order,
)
from flows.service.discussion import role_holders
from flows.service.documents import DocumentStore
from flows.service.framework import (
    Actor,
    ServiceContext,
    check_role,
    load_calendar,
    resolved_settings,
    the_jurisdiction,
    utc,
)
from flows.service.notifications import can_be_overdue, traffic_light, working_days_left
from flows.service.worklist import Available, Lamp, available_actions, decision_actions, decision_state, lamp
from flows.timeline import ProjectedStep, current_stages, find_decision, load_facts
from models import (
    CatalogueEntry,
    CatalogueYear,
    CommentPeriod,
    Deadline,
    Decision,
    DiscussionSubmission,
    DraftVersion,
    Hearing,
    InputResponse,
    LegalityReview,
    Meeting,
    MemberOpinion,
    ParticipationActivity,
    StageStatus,
    Unit,
    User,
)
from models.enums import DeadlineStatus


@dataclass(frozen=True)
class StageRow:
    id: str
    section: str
    zh: str
    en: str
    articles: str
    status: StageStatus
    updated_at: datetime
    note: str
    current: bool  # being worked now (`timeline.current_stages`)


@dataclass(frozen=True)
class DeadlineItem:
    id: int
    kind: str
    zh: str
    en: str
    stage: str
    subject_ref: str
    due_date: date
    due_at: datetime
    status: DeadlineStatus
    article: str
    provisional: bool
    blocking: bool
    working_days_left: int | None  # for a deadline still owed
    lamp: Lamp | None  # for a deadline still owed


@dataclass(frozen=True)
class DraftRow:
    number: int
    created_at: datetime
    created_by: str
    reason: str
    legal_bases: tuple[str, ...]
    document_id: int | None  # the evidence document holding its text
    explanation_id: int | None


@dataclass(frozen=True)
class InputRow:
    """A comment, hearing statement, expert opinion or feedback, with its response (Art. 18)."""

    kind: str
    code: str
    received_at: datetime | None
    author: str  # the commenter's name (or empty: anonymous), the speaker, the expert
    text: str
    outcome: str  # empty: no response yet
    reason: str
    responded_by: str
    responded_at: datetime | None

    @property
    def answered(self) -> bool:
        return bool(self.outcome)


@dataclass(frozen=True)
class OpinionRow:
    order: int
    member: str
    name: str
    is_head: bool
    position: str
    text: str


@dataclass(frozen=True)
class MeetingRow:
    held_on: date
    meeting_type: str
    members_total: int
    members_present: tuple[str, ...]
    head_member: str
    acting_head: bool
    head_decision: str
    head_reason: str
    majority_view: str
    opinions: tuple[OpinionRow, ...]


@dataclass(frozen=True)
class DecisionFile:
    code: str
    title: str
    status: str
    category: int
    organ: str
    lead_unit: str
    lead_unit_name: str
    units: tuple[tuple[str, str], ...]  # (code, name)
    flags: tuple[str, ...]
    proposed_flags: tuple[str, ...]
    proposal_source: str
    catalogue_entry: str  # "2026/E3", or empty
    procedure_version: str
    registered_by: str
    created_at: datetime
    updated_at: datetime
    outcome: str
    confidential: bool
    today: date
    timezone: str
    stages: tuple[StageRow, ...]
    projected: tuple[ProjectedStep, ...]
    deadlines: tuple[DeadlineItem, ...]
    drafts: tuple[DraftRow, ...]
    documents: tuple[DocumentRow, ...]
    inputs: tuple[InputRow, ...]
    activities: tuple[ParticipationActivity, ...]
    periods: tuple[CommentPeriod, ...]
    hearings: tuple[Hearing, ...]
    reviews: tuple[LegalityReview, ...]
    meetings: tuple[MeetingRow, ...]
    audit: tuple[AuditEntry, ...]
    actions: tuple[Available, ...]

    @property
    def unanswered(self) -> int:
        return sum(1 for row in self.inputs if not row.answered)


def _open(session: Session, reader: Actor, code: str) -> Decision:
    """The decision `code`, if `reader` may read its file (NOT_FOUND, AUTH)."""
    _, decision = find_decision(session, code)
    check_read_file(reader, decision)
    return decision


def decision_file(ctx: ServiceContext, reader: Actor, code: str, now: datetime) -> DecisionFile:
    now = utc(now, "now")
    with Session(ctx.engine) as session:
        decision = _open(session, reader, code)
        loaded = load_facts(session, code)
        tz = loaded.timezone
        today = local_date(now, tz)
        units = {u.id: u for u in session.exec(select(Unit))}
        unit_names = {u.code: u.name for u in units.values()}
        lead = units.get(decision.lead_unit_id) if decision.lead_unit_id else None
        entry = ""
        if decision.catalogue_entry_id is not None:
            found = session.exec(
                select(CatalogueEntry.code, CatalogueYear.year)
                .join(CatalogueYear, col(CatalogueYear.id) == col(CatalogueEntry.catalogue_year_id))
                .where(CatalogueEntry.id == decision.catalogue_entry_id)
            ).first()
            entry = f"{found[1]}/{found[0]}" if found else ""
        state = decision_state(session, decision)
        current = set(current_stages(state.stages))
        stages = tuple(
            StageRow(
                st.id,
                st.section,
                st.zh,
                st.en,
                st.articles,
                row.status,
                row.updated_at,
                row.note,
                st.id in current,
            )
            for st, row in stages_in_order(session, decision, loaded.procedure)
        )
        documents = document_rows(session, decision, loaded.procedure)
        by_sha = {d.sha256: d.id for d in documents if d.kind in ("draft", "draft_explanation")}
        drafts = tuple(
            DraftRow(
                v.number,
                v.created_at,
                v.created_by,
                v.reason,
                tuple(v.legal_bases),
                by_sha.get(v.document_sha256),
                by_sha.get(v.explanation_sha256) if v.explanation_sha256 else None,
            )
            for v in drafts_of(session, decision)
        )
        calendar = load_calendar(session)
        deadline_rows = tuple(
            _deadline_item(row, loaded.procedure, calendar, today, now)
            for row in deadlines_of(session, decision, Deadline.due_at)
        )
        file = DecisionFile(
            code=decision.code,
            title=decision.title,
            status=decision.status.value,
            category=decision.category,
            organ=decision.organ,
            lead_unit=lead.code if lead else "",
            lead_unit_name=lead.name if lead else "",
            units=tuple((c, unit_names.get(c, c)) for c in decision.unit_codes),
            flags=tuple(decision.flags),
            proposed_flags=tuple(decision.proposed_flags),
            proposal_source=decision.proposal_source,
            catalogue_entry=entry,
            procedure_version=decision.procedure_version,
            registered_by=decision.registered_by,
            created_at=decision.created_at,
            updated_at=decision.updated_at,
            outcome=decision.outcome,
            confidential=is_confidential(decision),
            today=today,
            timezone=str(tz),
            stages=stages,
            projected=tuple(loaded.project(today)),
            deadlines=deadline_rows,
            drafts=drafts,
            documents=documents,
            inputs=_inputs(session, decision),
            activities=tuple(
                session.exec(
                    select(ParticipationActivity)
                    .where(ParticipationActivity.decision_id == decision.id)
                    .order_by(col(ParticipationActivity.held_on))
                )
            ),
            periods=tuple(
                session.exec(
                    select(CommentPeriod)
                    .where(CommentPeriod.decision_id == decision.id)
                    .order_by(col(CommentPeriod.id))
                )
            ),
            hearings=tuple(
                session.exec(
                    select(Hearing).where(Hearing.decision_id == decision.id).order_by(col(Hearing.id))
                )
            ),
            reviews=tuple(
                session.exec(
                    select(LegalityReview)
                    .where(LegalityReview.decision_id == decision.id)
                    .order_by(col(LegalityReview.round))
                )
            ),
            meetings=_meetings(session, decision),
            audit=tuple(audit_entries(session, decision)),
            actions=tuple(available_actions(reader, state)),
        )
    return file


def _deadline_item(
    row: Deadline, procedure: proc.Procedure, calendar: Any, today: date, now: datetime
) -> DeadlineItem:
    zh, en = names_of(procedure.deadline_kinds, row.kind)
    owed = row.status == DeadlineStatus.open or (
        row.status == DeadlineStatus.fired and can_be_overdue(row.kind)
    )
    left = working_days_left(calendar, today, row.due_date) if owed else None
    return DeadlineItem(
        id=row.id or 0,
        kind=row.kind,
        zh=zh,
        en=en,
        stage=row.stage,
        subject_ref=row.subject_ref,
        due_date=row.due_date,
        due_at=row.due_at,
        status=row.status,
        article=row.article,
        provisional=row.provisional,
        blocking=row.blocking,
        working_days_left=left,
        lamp=lamp(traffic_light(row.due_at, left, now), row.due_date, today) if left is not None else None,
    )


def _inputs(session: Session, decision: Decision) -> tuple[InputRow, ...]:
    responses = {
        (r.input_kind, r.input_code): r
        for r in session.exec(select(InputResponse).where(InputResponse.decision_id == decision.id))
    }
    rows = []
    for kind, query in input_queries(decision.id):
        for code, when, author, text in session.exec(query):
            response = responses.get((kind, code))
            rows.append(
                InputRow(
                    kind=kind,
                    code=code,
                    received_at=when,
                    author=author,
                    text=text,
                    outcome=response.outcome if response else "",
                    reason=response.reason if response else "",
                    responded_by=response.responded_by if response else "",
                    responded_at=response.responded_at if response else None,
                )
            )
    return tuple(rows)


def _names(session: Session) -> dict[str, str]:
    return dict(session.exec(select(User.code, User.name)).all())


def _meetings(session: Session, decision: Decision) -> tuple[MeetingRow, ...]:
    names = _names(session)
    meetings = session.exec(
        select(Meeting).where(Meeting.decision_id == decision.id).order_by(col(Meeting.id))
    )
    rows = []
    for m in meetings:
        opinions = session.exec(
            select(MemberOpinion)
            .where(MemberOpinion.meeting_id == m.id)
            .order_by(col(MemberOpinion.speaking_order))
        )
        rows.append(
            MeetingRow(
                held_on=m.held_on,
                meeting_type=m.meeting_type,
                members_total=m.members_total,
                members_present=tuple(m.members_present),
                head_member=m.head_member,
                acting_head=m.acting_head,
                head_decision=m.head_decision,
                head_reason=m.head_reason,
                majority_view=m.majority_view,
                opinions=tuple(
                    OpinionRow(
                        o.speaking_order,
                        o.member,
                        names.get(o.member, o.member),
                        o.is_head,
                        o.position,
                        o.text,
                    )
                    for o in opinions
                ),
            )
        )
    return tuple(rows)


@dataclass(frozen=True)
class ActionContext:
    """What an action form on one decision needs: the decision, and the action as it is
    available now (None: the role allows it, but its preconditions do not hold now; the
    service says why when the form is sent)."""

    code: str
    title: str
    status: str
    confidential: bool
    available: Available | None


def action_context(ctx: ServiceContext, reader: Actor, code: str, action: str) -> ActionContext:
    """The decision and `action` for a form: NOT_FOUND for an action that does not work on a
    decision, AUTH for a reader who may not read the file or whose roles (and unit, for a
    department) the action does not allow (`framework.check_role`)."""
    if action not in decision_actions():
        raise not_found("action", action)
    with Session(ctx.engine) as session:
        decision = _open(session, reader, code)
        rule = proc.procedure(decision.procedure_version).actions[action]
        check_role(action, rule, reader, decision)
        state = decision_state(session, decision)
        found = next((a for a in available_actions(reader, state) if a.action == action), None)
        return ActionContext(
            decision.code, decision.title, decision.status.value, is_confidential(decision), found
        )


# ---------------------------------------------------------------------------- documents and drafts
@dataclass(frozen=True)
class DocumentText:
    document: DocumentRow
    text: str | None  # None: not UTF-8 text


def document_text(ctx: ServiceContext, reader: Actor, code: str, document_id: int) -> DocumentText:
    """One evidence document of the decision, with its text (NOT_FOUND for another decision's)."""
    with Session(ctx.engine) as session:
        decision = _open(session, reader, code)
        procedure = proc.procedure(decision.procedure_version)
        found = next((d for d in document_rows(session, decision, procedure) if d.id == document_id), None)
    if found is None:
        raise not_found("document", document_id)
    data = DocumentStore(ctx.data_dir).get(found.sha256)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return DocumentText(found, text)


@dataclass(frozen=True)
class Segment:
    changed: bool
    old: str
    new: str


@dataclass(frozen=True)
class ChangedLine:
    old_number: int
    new_number: int
    segments: tuple[Segment, ...]
    punctuation_only: bool


@dataclass(frozen=True)
class DraftComparison:
    code: str
    title: str
    versions: tuple[int, ...]
    old: int
    new: int
    old_reason: str
    new_reason: str
    unified: tuple[str, ...]
    lines: tuple[ChangedLine, ...]
    punctuation_only: bool


def compare_drafts(ctx: ServiceContext, reader: Actor, code: str, old: int, new: int) -> DraftComparison:
    """Two draft versions compared line by line, each changed line character by character
    (`flows.textdiff`), as the legal office and the meeting read revisions (§15.1)."""
    with Session(ctx.engine) as session:
        decision = _open(session, reader, code)
        versions = {
            v.number: v
            for v in session.exec(select(DraftVersion).where(DraftVersion.decision_id == decision.id))
        }
    for name, number in (("old", old), ("new", new)):
        if number not in versions:
            raise not_found(name, number)
    if old == new:
        raise invalid("new", "须为另一稿", "must be another version")
    store = DocumentStore(ctx.data_dir)
    before = store.get(versions[old].document_sha256).decode("utf-8")
    after = store.get(versions[new].document_sha256).decode("utf-8")
    result = textdiff.diff(before, after, f"第{old}稿", f"第{new}稿")
    lines = tuple(
        ChangedLine(
            c.old_number,
            c.new_number,
            tuple(Segment(changed, a, b) for changed, a, b in textdiff.segments(c.old, c.new)),
            c.punctuation_only,
        )
        for c in result.changes
    )
    return DraftComparison(
        code=decision.code,
        title=decision.title,
        versions=tuple(sorted(versions)),
        old=old,
        new=new,
        old_reason=versions[old].reason,
        new_reason=versions[new].reason,
        unified=result.unified,
        lines=lines,
        punctuation_only=result.punctuation_only,
    )


# ---------------------------------------------------------------------------- the meeting
@dataclass(frozen=True)
class RosterMember:
    code: str
    name: str
    is_head: bool


@dataclass(frozen=True)
class MeetingFile:
    code: str
    title: str
    status: str
    roster: tuple[RosterMember, ...]  # meeting members; the head last (Art. 30(2))
    quorum_fraction: float
    quorum_needed: int  # the fewest members present that make a quorum (P11)
    meeting_date: date | None  # the date the submission asked for (Art. 29)
    earliest: date | None  # T4: not before this day (R10)
    package: tuple[Mapping[str, Any], ...]
    meetings: tuple[MeetingRow, ...]
    can_record: bool  # the reader may record the meeting now (record_meeting is available)
    confidential: bool


def meeting_file(ctx: ServiceContext, reader: Actor, code: str) -> MeetingFile:
    """The government office's view of a decision's collective discussion (Art. 30): the
    roster with the head last, the quorum, the submission, and the meetings recorded, each
    member's opinion in speaking order."""
    with Session(ctx.engine) as session:
        decision = _open(session, reader, code)
        jurisdiction = the_jurisdiction(session)
        settings = resolved_settings(jurisdiction, decision.procedure_version)
        heads = role_holders(session, jurisdiction.id or 0, "head")
        members = role_holders(session, jurisdiction.id or 0, "meeting_member")
        roster = sorted(members, key=lambda m: (m in heads, m))  # the head speaks last
        submission = session.exec(
            select(DiscussionSubmission)
            .where(DiscussionSubmission.decision_id == decision.id)
            .order_by(col(DiscussionSubmission.id).desc())
        ).first()
        earliest = session.exec(
            select(Deadline)
            .where(
                Deadline.decision_id == decision.id,
                Deadline.kind == "legality_review_min",
                Deadline.status != DeadlineStatus.cancelled,
            )
            .order_by(col(Deadline.id).desc())
        ).first()
        state = decision_state(session, decision)
        can_record = any(a.action == "record_meeting" for a in available_actions(reader, state))
        fraction = float(settings["quorum_fraction"])
        return MeetingFile(
            code=decision.code,
            title=decision.title,
            status=decision.status.value,
            roster=tuple(RosterMember(m, members[m], m in heads) for m in roster),
            quorum_fraction=fraction,
            quorum_needed=int(len(roster) * fraction) + 1,
            meeting_date=submission.meeting_date if submission else None,
            earliest=earliest.due_date if earliest else None,
            package=tuple(submission.package) if submission else (),
            meetings=_meetings(session, decision),
            can_record=can_record,
            confidential=is_confidential(decision),
        )


def timezone_of(ctx: ServiceContext) -> ZoneInfo:
    """The jurisdiction's time zone (forms read dates and times in it)."""
    with Session(ctx.engine) as session:
        return ZoneInfo(the_jurisdiction(session).timezone)


__all__ = [
    "ActionContext",
    "DecisionFile",
    "DocumentText",
    "DraftComparison",
    "MeetingFile",
    "action_context",
    "compare_drafts",
    "decision_file",
    "document_text",
    "meeting_file",
    "timezone_of",
]
