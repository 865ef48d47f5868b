"""The rows of one decision that more than one read model shows: its stages in procedure
order, its deadlines, draft versions, documents, inputs received and audit chain. The staff
working file (`casefile`), the JSON API (`queries`) and the worklist read them here, each
into its own answer; the annual report names stages and deadline kinds with `names_of`.
Nothing here checks access: a caller has already checked that the
reader may read the decision (`flows.service.access`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import literal_column
from sqlmodel import Session, col, select

from flows import procedure as proc
from models import (
    AuditEvent,
    Deadline,
    Decision,
    DraftVersion,
    EvidenceDocument,
    Expert,
    ExpertOpinion,
    Hearing,
    HearingStatement,
    PublicComment,
    StageInstance,
    StoredDocument,
)
from models.execution import ExecutionFeedback


class Named(Protocol):
    @property
    def zh(self) -> str: ...

    @property
    def en(self) -> str: ...


def names_of(specs: Mapping[str, Named], key: str) -> tuple[str, str]:
    """The Chinese and English names of what the procedure defines under `key` (a stage, a
    deadline kind, an evidence kind); what it does not define is named by its key."""
    spec = specs.get(key)
    return (spec.zh, spec.en) if spec else (key, key)


def stages_in_order(
    session: Session, decision: Decision, procedure: proc.Procedure
) -> list[tuple[proc.Stage, StageInstance]]:
    """The decision's stage instances, each with its stage, in the procedure's order."""
    instances = {
        row.stage: row
        for row in session.exec(select(StageInstance).where(StageInstance.decision_id == decision.id))
    }
    return [(stage, instances[stage.id]) for stage in procedure.stages if stage.id in instances]


def deadlines_of(session: Session, decision: Decision, order_by: Any) -> Sequence[Deadline]:
    """The decision's deadlines, every status, ordered by the column `order_by`."""
    return session.exec(
        select(Deadline).where(Deadline.decision_id == decision.id).order_by(col(order_by))
    ).all()


def drafts_of(session: Session, decision: Decision) -> Sequence[DraftVersion]:
    """The draft versions, oldest first."""
    return session.exec(
        select(DraftVersion).where(DraftVersion.decision_id == decision.id).order_by(col(DraftVersion.number))
    ).all()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    occurred_at: datetime
    action: str
    actor: str
    actor_roles: str
    os_account: str
    backdated_by: str
    backdate_reason: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


def audit_entries(session: Session, decision: Decision) -> list[AuditEntry]:
    """The decision's audit chain in order."""
    events = session.exec(
        select(AuditEvent).where(AuditEvent.chain == f"decision:{decision.id}").order_by(col(AuditEvent.seq))
    )
    return [
        AuditEntry(
            seq=e.seq,
            occurred_at=e.occurred_at,
            action=e.action,
            actor=e.actor,
            actor_roles=e.actor_roles,
            os_account=e.os_account,
            backdated_by=e.backdated_by,
            backdate_reason=e.backdate_reason,
            payload=dict(e.payload),
            prev_hash=e.prev_hash,
            hash=e.hash,
        )
        for e in events
    ]


@dataclass(frozen=True)
class DocumentRow:
    id: int
    stage: str
    kind: str
    zh: str
    en: str
    title: str
    sha256: str
    size: int
    created_by: str
    created_at: datetime


def document_rows(session: Session, decision: Decision, procedure: proc.Procedure) -> tuple[DocumentRow, ...]:
    """The decision's evidence documents in the order they were added, with their stored size
    (metadata, no content)."""
    rows = session.exec(
        select(EvidenceDocument, StoredDocument.size)
        .join(StoredDocument, col(StoredDocument.sha256) == col(EvidenceDocument.sha256))
        .where(EvidenceDocument.decision_id == decision.id)
        .order_by(col(EvidenceDocument.id))
    ).all()
    return tuple(
        DocumentRow(
            evidence.id or 0,
            evidence.stage,
            evidence.kind,
            *names_of(procedure.evidence_kinds, evidence.kind),
            evidence.title,
            evidence.sha256,
            size,
            evidence.created_by,
            evidence.created_at,
        )
        for evidence, size in rows
    )


def input_queries(decision_id: int | None) -> tuple[tuple[str, Any], ...]:
    """Per kind of input (Art. 18; feedback on execution: Art. 35(2)), in the order a file
    lists them, the query of those the decision received, each kind in the order received.
    Each query selects code, when received, author (the commenter's name, the speaker, the
    expert; empty for feedback) and text, the code first: a reader that wants only the codes
    keeps the first column."""
    return (
        (
            "comment",
            select(PublicComment.code, PublicComment.submitted_at, PublicComment.name, PublicComment.text)
            .where(PublicComment.decision_id == decision_id)
            .order_by(col(PublicComment.id)),
        ),
        (
            "hearing_statement",
            select(HearingStatement.code, Hearing.held_at, HearingStatement.speaker, HearingStatement.text)
            .join(Hearing, col(Hearing.id) == col(HearingStatement.hearing_id))
            .where(Hearing.decision_id == decision_id)
            .order_by(col(HearingStatement.id)),
        ),
        (
            "expert_opinion",
            select(ExpertOpinion.code, ExpertOpinion.recorded_at, Expert.name, ExpertOpinion.text)
            .join(Expert, col(Expert.id) == col(ExpertOpinion.expert_id))
            .where(ExpertOpinion.decision_id == decision_id)
            .order_by(col(ExpertOpinion.id)),
        ),
        (
            "feedback",
            select(
                ExecutionFeedback.code,
                ExecutionFeedback.submitted_at,
                literal_column("''"),
                ExecutionFeedback.text,
            )
            .where(ExecutionFeedback.decision_id == decision_id)
            .order_by(col(ExecutionFeedback.id)),
        ),
    )


def input_keys(session: Session, decision_id: int | None) -> list[tuple[str, str]]:
    """(kind, code) of every input the decision received, in the order `input_queries` gives."""
    return [
        (kind, code)
        for kind, query in input_queries(decision_id)
        for (code,) in session.exec(query.with_only_columns(query.selected_columns[0]))
    ]
