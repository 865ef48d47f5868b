"""Party committee report (Art. 31), congress step (Art. 8), publication (Art. 32) and
archiving (Art. 33)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import Field
from sqlmodel import col, select

from flows import procedure as proc
from flows import rules
from flows.service import audit
from flows.service.framework import DecisionPayload, Tx, action
from models import (
    ArchiveDossier,
    CongressStep,
    DecisionStatus,
    EvidenceDocument,
    Meeting,
    PartyStep,
    Publication,
    RiskAssessment,
    StageStatus,
    Suspension,
)

DECIDED = (DecisionStatus.decided, DecisionStatus.published)


# ------------------------------------------------------------------ reading
def standing_status(tx: Tx) -> DecisionStatus:
    """The decision's status with a suspension of its execution set aside (§15.7): what
    the issuance steps made of it. A decision suspended before publication may still be
    published and archived; resuming it returns it to this status."""
    decision = tx.require_decision()
    if decision.status != DecisionStatus.suspended:
        return decision.status
    if tx.session.exec(select(ArchiveDossier.id).where(ArchiveDossier.decision_id == decision.id)).first():
        return DecisionStatus.archived
    if tx.session.exec(select(Publication.id).where(Publication.decision_id == decision.id)).first():
        return DecisionStatus.published
    return DecisionStatus.decided


def meeting_held_on(tx: Tx) -> date | None:
    """The day of the latest meeting on the decision: once decided, the deciding one."""
    row = tx.latest(Meeting)
    return row.held_on if row else None


def party_step_on(tx: Tx, kind: str, result: str | None = None) -> date | None:
    """The date of the latest Party report or reply (with `result`, if given)."""
    decision = tx.require_decision()
    query = select(PartyStep).where(PartyStep.decision_id == decision.id, PartyStep.kind == kind)
    if result is not None:
        query = query.where(PartyStep.result == result)
    row = tx.session.exec(query.order_by(col(PartyStep.id).desc())).first()
    return row.on_date if row else None


def last_congress_step_on(tx: Tx) -> date | None:
    row = tx.latest(CongressStep, col(CongressStep.on_date))
    return row.on_date if row else None


def suspensions(tx: Tx) -> list[Suspension]:
    decision = tx.require_decision()
    return list(
        tx.session.exec(
            select(Suspension).where(Suspension.decision_id == decision.id).order_by(col(Suspension.id))
        )
    )


class PartyReport(DecisionPayload):
    on_date: date
    document_ref: str = ""
    text: str = ""


@action("record_party_report", PartyReport)
def record_party_report(tx: Tx, p: PartyReport) -> Mapping[str, Any]:
    """Art. 31: before issuance; P8 decides before or after the meeting. The report is
    dated no later than today and, after the meeting, not before it (§15.4)."""
    decision = tx.require_decision()
    order = tx.settings["party_report_order"]
    standing = standing_status(tx)
    if order == "after_meeting" and standing not in DECIDED:
        tx.refuse(
            "P8",
            "本地规定在会议决定后请示报告",
            "local rules put the report after the meeting",
            field="decision",
        )
    if order == "before_meeting" and standing in DECIDED:
        tx.refuse(
            "P8",
            "本地规定在会议前请示报告",
            "local rules put the report before the meeting",
            field="decision",
        )
    tx.check(rules.recorded_date_not_future("R15", "on_date", p.on_date, tx.today))
    tx.check(rules.party_report_not_before_meeting(p.on_date, meeting_held_on(tx), order))
    tx.enter_stage("party_report")
    evidence = tx.add_evidence(
        "party_report", "party_report", p.text or f"关于《{decision.title}》的请示 {p.document_ref}"
    )
    tx.session.add(
        PartyStep(
            decision_id=decision.id or 0,
            kind="report",
            on_date=p.on_date,
            document_ref=p.document_ref,
            evidence_id=evidence.id,
            recorded_at=tx.now,
        )
    )
    return {"party_report": p.document_ref}


class PartyReply(DecisionPayload):
    on_date: date
    result: Literal["agreed", "not_agreed"]
    document_ref: str = ""
    text: str = ""


@action("record_party_reply", PartyReply)
def record_party_reply(tx: Tx, p: PartyReply) -> Mapping[str, Any]:
    """Art. 31: the Party committee's answer, dated no later than today and not before
    the request-report it answers (§15.4)."""
    decision = tx.require_decision()
    reported_on = party_step_on(tx, "report")
    if reported_on is None:
        tx.refuse("R15", "尚未向党委请示报告", "no request-report has been made", field="decision")
    tx.check(rules.recorded_date_not_future("R15", "on_date", p.on_date, tx.today))
    tx.check(rules.party_reply_not_before_report(p.on_date, reported_on))
    evidence = tx.add_evidence(
        "party_report", "party_reply", p.text or f"党委批复：{p.result} {p.document_ref}"
    )
    tx.session.add(
        PartyStep(
            decision_id=decision.id or 0,
            kind="reply",
            on_date=p.on_date,
            result=p.result,
            document_ref=p.document_ref,
            evidence_id=evidence.id,
            recorded_at=tx.now,
        )
    )
    if p.result == "agreed":
        tx.move_stage("party_report", StageStatus.completed)
    tx.emit("party_replied", {"result": p.result})
    return {"result": p.result}


class CongressStepPayload(DecisionPayload):
    kind: Literal["report", "discussion", "decision"]
    on_date: date
    result: str = ""
    text: str = ""


@action("record_congress_step", CongressStepPayload)
def record_congress_step(tx: Tx, p: CongressStepPayload) -> Mapping[str, Any]:
    """Art. 8: dated no later than today and not before the meeting that decided (§15.4)."""
    decision = tx.require_decision()
    tx.check(rules.recorded_date_not_future("R15", "on_date", p.on_date, tx.today))
    tx.check(rules.congress_step_not_before_meeting(p.on_date, meeting_held_on(tx)))
    tx.enter_stage("congress")
    evidence = tx.add_evidence("congress", "congress_record", p.text or f"人大{p.kind}：{p.result}")
    tx.session.add(
        CongressStep(
            decision_id=decision.id or 0,
            kind=p.kind,
            on_date=p.on_date,
            result=p.result,
            evidence_id=evidence.id,
            recorded_at=tx.now,
        )
    )
    tx.move_stage("congress", StageStatus.completed)
    return {"kind": p.kind}


class PublishDecision(DecisionPayload):
    channels: list[str] = Field(min_length=1)
    published_on: date
    text: str = Field(min_length=1)
    adoption_explanation: str = ""
    interpretation: str = ""
    url: str = ""


@action("publish_decision", PublishDecision)
def publish_decision(tx: Tx, p: PublishDecision) -> Mapping[str, Any]:
    """Art. 32. Dated no later than today, not before the meeting, the Party committee's
    reply or the congress step (§15.4). A decision whose execution was suspended before
    publication is still published; the published text records the suspension (§15.7)."""
    decision = tx.require_decision()
    if "confidential" in tx.flags:
        tx.refuse(
            "R2", "依法不予公开的决策不公布", "a confidential decision is not published", field="decision"
        )
    statuses = tx.stage_statuses()
    if statuses.get("party_report") != StageStatus.completed:
        tx.refuse(
            "R15", "尚未完成向党委请示报告", "the Party committee report is not complete", field="decision"
        )
    if statuses.get("congress") not in proc.DONE_STATUSES:
        tx.refuse("R15", "尚未履行人大程序", "the people's congress step is not done", field="decision")
    tx.check(
        rules.publication_complete(
            p.channels,
            tx.settings["publication_channels"],
            tx.flags,
            p.adoption_explanation,
            p.interpretation,
        )
    )
    tx.check(rules.recorded_date_not_future("R16", "published_on", p.published_on, tx.today))
    tx.check(rules.publication_not_before_meeting(p.published_on, meeting_held_on(tx)))
    tx.check(rules.publication_not_before_party_reply(p.published_on, party_step_on(tx, "reply", "agreed")))
    tx.check(rules.publication_not_before_congress_step(p.published_on, last_congress_step_on(tx)))
    tx.enter_stage("publication")
    suspended = decision.status == DecisionStatus.suspended
    notice = _suspension_notice(tx) if suspended else ""
    text = tx.add_evidence("publication", "publication_text", p.text + notice)
    if p.adoption_explanation:
        tx.add_evidence("publication", "adoption_explanation", p.adoption_explanation)
    if p.interpretation:
        tx.add_evidence("publication", "interpretation", p.interpretation)
    tx.session.add(
        Publication(
            decision_id=decision.id or 0,
            channels=list(p.channels),
            published_on=p.published_on,
            url=p.url,
            text_evidence_id=text.id,
            recorded_at=tx.now,
        )
    )
    tx.move_stage("publication", StageStatus.completed)
    if not suspended:  # a suspended decision stays suspended; resuming makes it published
        tx.set_decision_status(DecisionStatus.published)
    decision.published_on = tx.now
    tx.close_deadlines("publication_due")
    tx.schedule("archive_due", p.published_on)  # P10
    tx.emit("decision_published", {"channels": list(p.channels), "url": p.url, "suspended": suspended})
    result: dict[str, Any] = {"published_on": str(p.published_on)}
    if suspended:
        result["suspended"] = True
    return result


def _suspension_notice(tx: Tx) -> str:
    """The note appended to the published text of a decision whose execution is suspended."""
    current = suspensions(tx)[-1]
    return (
        f"\n\n【中止执行说明】本决定自{current.on_date}起中止执行（第三十七条），"
        f"情形：{current.trigger}；紧急情况：{current.urgency}。"
        f"\n[Suspension] Execution of this decision is suspended from {current.on_date} (Art. 37); "
        f"situation: {current.trigger}."
    )


class ArchivePayload(DecisionPayload):
    note: str = ""


def required_archive_items(tx: Tx) -> list[str]:
    """Art. 33, R17: the evidence of every stage the decision actually went through."""
    statuses = tx.stage_statuses()
    flags = tx.flags
    required: list[str] = []
    for stage in tx.procedure.stages:
        if stage.id == "archive" or statuses.get(stage.id) != StageStatus.completed:
            continue
        required += [req.kind for req in stage.evidence if req.when.holds(flags)]
    if "risk_judgement" in required and _relies_on_existing_assessment(tx):
        required.remove("risk_judgement")  # Art. 22(2): assessed under other rules, not again
    return required


def _relies_on_existing_assessment(tx: Tx) -> bool:
    latest = tx.latest(RiskAssessment)
    return latest is not None and bool(latest.existing_reference) and latest.controllable is None


@action("archive_decision", ArchivePayload)
def archive_decision(tx: Tx, p: ArchivePayload) -> Mapping[str, Any]:
    """Art. 33. A suspended decision is archived with its suspension on record and stays
    suspended; a terminated one (never to be issued) needs no Party report or publication."""
    decision = tx.require_decision()
    terminated = decision.status == DecisionStatus.terminated
    standing = standing_status(tx)
    statuses = tx.stage_statuses()
    if standing != DecisionStatus.rejected and not terminated:
        for stage_id in ("party_report", "publication"):
            if statuses.get(stage_id) not in proc.DONE_STATUSES:
                stage = tx.procedure.stage(stage_id)
                tx.refuse("R17", f"{stage.zh}尚未完成", f"{stage.en} is not complete", field="decision")
    present = {
        e.kind
        for e in tx.session.exec(select(EvidenceDocument).where(EvidenceDocument.decision_id == decision.id))
    }
    missing = rules.missing_archive_items(required_archive_items(tx), present)
    if missing:
        names = [tx.procedure.evidence_kinds[k].zh for k in missing]
        tx.refuse("R17", f"缺少：{'、'.join(names)}", f"missing: {', '.join(missing)}", field="decision")
    items = [
        {
            "kind": e.kind,
            "stage": e.stage,
            "title": e.title,
            "sha256": e.sha256,
            "created_at": e.created_at.isoformat(),
            "created_by": e.created_by,
        }
        for e in tx.session.exec(
            select(EvidenceDocument)
            .where(EvidenceDocument.decision_id == decision.id)
            .order_by(col(EvidenceDocument.id))
        )
    ]
    chain = f"decision:{decision.id}"
    head = audit.head_hash(tx.session, chain)
    manifest: dict[str, Any] = {
        "decision": decision.code,
        "title": decision.title,
        "procedure_version": decision.procedure_version,
        "items": items,
        "audit_chain": chain,
        "audit_head_before_archive": head,
        "note": p.note,
        "decision_status": decision.status.value,
        "suspensions": [
            {
                "on_date": s.on_date.isoformat(),
                "trigger": s.trigger,
                "urgency": s.urgency,
                "decided_by": s.decided_by,
                "ended_how": s.ended_how,
                "ended_on": s.ended_on.isoformat() if s.ended_on else None,
                "end_reason": s.end_reason,
            }
            for s in suspensions(tx)
        ],
    }
    body = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1)
    tx.add_evidence("archive", "archive_manifest", body, "决策档案目录")
    tx.session.add(
        ArchiveDossier(
            decision_id=decision.id or 0,
            manifest=manifest,
            manifest_sha256=hashlib.sha256(body.encode()).hexdigest(),
            audit_head_hash=head,
            archived_at=tx.now,
        )
    )
    tx.enter_stage("archive")
    tx.move_stage("archive", StageStatus.completed)
    if decision.status not in (DecisionStatus.suspended, DecisionStatus.terminated):
        tx.set_decision_status(DecisionStatus.archived)  # a suspension or termination stays in force
    tx.close_deadlines("archive_due")
    tx.emit("decision_archived", {"items": len(items)})
    return {"items": len(items)}
