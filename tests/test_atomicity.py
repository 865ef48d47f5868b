"""One action, one transaction: when an action is refused or fails after its handler has
already written (a stage moved, evidence filed, a document stored), every write is rolled
back, no orphan evidence or stored document remains, and the audit log is untouched."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from flows.errors import ProcedureError, refusal
from flows.service import ServiceContext
from flows.service import audit as audit_module
from flows.service.framework import Tx
from models import (
    AuditEvent,
    Decision,
    EvidenceDocument,
    LegalityReview,
    StageInstance,
    StoredDocument,
)
from tests.helpers import act, district, drafted, legality_lawful, participation_done, refused, snapshot


# ---------------------------------------------------------------- helpers
@contextmanager
def sql_log(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (to show the handler did write)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def wrote(statements: list[str], verb: str, table: str) -> bool:
    return any(s.startswith(f"{verb} {table}") or s.startswith(f"{verb} into {table}") for s in statements)


def stage_status(ctx: ServiceContext, stage: str, ref: str = "D1") -> str:
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == ref)).one()
        row = session.exec(
            select(StageInstance).where(
                StageInstance.decision_id == decision.id, StageInstance.stage == stage
            )
        ).one()
        return row.status.value


def stored_shas(ctx: ServiceContext) -> set[str]:
    with Session(ctx.engine) as session:
        return set(session.exec(select(StoredDocument.sha256)).all())


def orphan_documents(ctx: ServiceContext) -> set[str]:
    """Stored documents that no evidence row refers to."""
    with Session(ctx.engine) as session:
        referenced = set(session.exec(select(EvidenceDocument.sha256)).all())
    return stored_shas(ctx) - referenced


def sha(text_value: str) -> str:
    return hashlib.sha256(text_value.encode()).hexdigest()


def submitted_for_review(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:00",
        decision="D1",
        procedures_statement="已公开征求意见30日",
    )


# ---------------------------------------------------------------- refusals after a write
def test_r9_after_the_review_stage_was_entered_leaves_it_pending(ctx: ServiceContext) -> None:
    """submit_for_legality_review enters the stage (a write) before it finds the statement
    of procedures missing (R9, Art. 26(1))."""
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    assert stage_status(ctx, "legality_review") == "pending"
    with sql_log(ctx.engine) as statements:
        error = refused(
            ctx,
            "R9",
            "submit_for_legality_review",
            "li",
            "2026-04-08T09:00",
            decision="D1",
            procedures_statement="   ",
        )
    assert error.field == "procedures_statement"
    assert wrote(statements, "update", "stageinstance"), "the handler should have entered the stage"
    assert stage_status(ctx, "legality_review") == "pending"
    # the same call with a statement now succeeds: nothing half-done is in the way
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:05",
        decision="D1",
        procedures_statement="已公开征求意见30日",
    )
    assert stage_status(ctx, "legality_review") == "active"


def test_r3_after_participation_was_entered_leaves_it_pending(ctx: ServiceContext) -> None:
    """open_comment_period makes the stage active before it measures the period (R3)."""
    district(ctx)
    drafted(ctx)
    with sql_log(ctx.engine) as statements:
        refused(
            ctx,
            "R3",
            "open_comment_period",
            "li",
            "2026-03-03T09:00",
            decision="D1",
            start_date="2026-03-03",
            end_date="2026-03-20",
            channels=["website"],
        )
    assert wrote(statements, "update", "stageinstance")
    assert stage_status(ctx, "public_participation") == "pending"


# ---------------------------------------------------------------- failures after evidence was filed
def test_a_refusal_after_evidence_was_filed_leaves_no_orphans(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: issue_legality_opinion files its opinion (evidence and a stored
    document), updates the review and the stage, closes a deadline, and only then a
    refusal is raised (from the last step, the outbox event). Everything is undone."""
    submitted_for_review(ctx)
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-09T09:00",
        decision="D1",
        adviser="张律师",
        opinion="合法",
    )
    opinion = "经审查，草案合法（注入故障的这一次）"
    before = snapshot(ctx)
    orphans_before = orphan_documents(ctx)

    def refuse_late(self: Tx, event_type: str, payload: Any = None) -> Any:
        raise refusal("STATE", "注入的拒绝", "injected refusal")

    monkeypatch.setattr(Tx, "emit", refuse_late)
    with sql_log(ctx.engine) as statements, pytest.raises(ProcedureError) as caught:
        act(
            ctx,
            "issue_legality_opinion",
            "wang",
            "2026-04-09T10:00",
            decision="D1",
            outcome="lawful",
            opinion=opinion,
        )
    monkeypatch.undo()

    assert caught.value.rule_id == "STATE"
    assert wrote(statements, "insert", "storeddocument")
    assert wrote(statements, "insert", "evidencedocument")
    assert wrote(statements, "update", "legalityreview")
    assert snapshot(ctx) == before
    assert sha(opinion) not in stored_shas(ctx)
    assert orphan_documents(ctx) == orphans_before
    with Session(ctx.engine) as session:
        review = session.exec(select(LegalityReview)).one()
        assert (review.status, review.opinion_evidence_id, review.issued_at) == ("under_review", None, None)
        kinds = session.exec(select(EvidenceDocument.kind)).all()
        assert "legality_opinion" not in kinds
    assert stage_status(ctx, "legality_review") == "active"
    # the real call still goes through, exactly once
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-09T10:05",
        decision="D1",
        outcome="lawful",
        opinion=opinion,
    )
    assert stage_status(ctx, "legality_review") == "completed"


def test_a_failing_audit_append_undoes_the_whole_action(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit event is written in the same transaction as the state: if it cannot be
    written, the action did not happen."""
    submitted_for_review(ctx)
    before = snapshot(ctx)
    opinion = "未发现违法情形（审计写入失败）"

    def broken_append(*_args: Any, **_kwargs: Any) -> AuditEvent:
        raise RuntimeError("the audit table is unavailable")

    monkeypatch.setattr(audit_module, "append", broken_append)
    with sql_log(ctx.engine) as statements, pytest.raises(RuntimeError):
        act(
            ctx,
            "record_legal_adviser_opinion",
            "wang",
            "2026-04-09T09:00",
            decision="D1",
            adviser="张律师",
            opinion=opinion,
        )
    monkeypatch.undo()
    assert wrote(statements, "insert", "evidencedocument")
    assert snapshot(ctx) == before
    assert sha(opinion) not in stored_shas(ctx)


def test_a_retried_conflict_writes_once(ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lost race (unique violation on the audit chain) on the first attempt is retried
    from the start; the first attempt's evidence is gone, the second's is there once."""
    submitted_for_review(ctx)
    real_append = audit_module.append
    attempts: list[int] = []

    def conflict_once(session: Session, **kwargs: Any) -> AuditEvent:
        attempts.append(1)
        if len(attempts) == 1:
            session.flush()  # the handler's writes are in the database when the race is lost
            raise IntegrityError(
                "INSERT INTO auditevent", {}, Exception("UNIQUE constraint failed: auditevent")
            )
        return real_append(session, **kwargs)

    monkeypatch.setattr(audit_module, "append", conflict_once)
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-09T09:00",
        decision="D1",
        adviser="张律师",
        opinion="合法",
    )
    monkeypatch.undo()
    assert len(attempts) == 2
    with Session(ctx.engine) as session:
        kinds = list(session.exec(select(EvidenceDocument.kind)).all())
        assert kinds.count("legal_adviser_opinion") == 1
        actions = list(session.exec(select(AuditEvent.action)).all())
        assert actions.count("record_legal_adviser_opinion") == 1
    # and the opinion it recorded is usable: the lawful opinion (R11) now goes through
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-09T10:00",
        decision="D1",
        outcome="lawful",
        opinion="合法",
    )


def test_a_refused_meeting_record_writes_no_minutes(ctx: ServiceContext) -> None:
    """record_meeting with the head speaking first (R14, Art. 30(2)) files no minutes,
    no meeting and no opinions."""
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    documents = stored_shas(ctx)
    error = refused(
        ctx,
        "R14",
        "record_meeting",
        "zhou",
        "2026-04-17T11:00",
        decision="D1",
        meeting_type="executive",
        held_on="2026-04-17",
        members_present=["vice1", "vice2", "mayor"],
        opinions=[
            {"member": "mayor", "position": "agree"},
            {"member": "vice1", "position": "agree"},
            {"member": "vice2", "position": "agree"},
        ],
        head_decision="approve",
    )
    assert error.article
    assert stored_shas(ctx) == documents
    assert stage_status(ctx, "discussion") == "active"
