"""Submission for, and record of, collective discussion (Arts. 25, 26, 29, 30)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from flows import procedure as proc
from flows import rules
from flows.errors import invalid
from flows.service.framework import DecisionPayload, Tx, action
from flows.service.legality import latest_review, refuse_unfinished_pre_review
from flows.service.lifecycle import current_draft
from models import (
    Deadline,
    DecisionStatus,
    DiscussionSubmission,
    Meeting,
    MemberOpinion,
    RiskAssessment,
    StageStatus,
)
from models.enums import DeadlineStatus


class SubmitForDiscussion(DecisionPayload):
    meeting_date: date
    legal_risk_statement: str = ""  # Art. 25(2), the exploratory-reform route


def package_items(tx: Tx) -> list[tuple[str, bool]]:
    """Art. 29: what the discussion package must hold for the tracks that ran, and
    whether each is present."""
    statuses = tx.stage_statuses()
    wanted = ["draft", "draft_explanation", "legality_opinion"]
    if statuses.get("public_participation") == StageStatus.completed:
        wanted.append("participation_summary")  # Art. 29(2)
    if statuses.get("expert_review") == StageStatus.completed:
        wanted.append("expert_summary")  # Art. 29(3)
    if statuses.get("risk_assessment") == StageStatus.completed:
        wanted.append("risk_report")  # Art. 29(4)
    if "market_activity" in tx.flags or statuses.get("fair_competition_review") == StageStatus.completed:
        wanted.append("fcr_conclusion")  # Art. 29(1); also when the catalogue listed it
    return [(kind, bool(tx.evidence(kind))) for kind in wanted]


@action("submit_for_discussion", SubmitForDiscussion)
def submit_for_discussion(tx: Tx, p: SubmitForDiscussion) -> Mapping[str, Any]:
    decision = tx.require_decision()
    review = latest_review(tx)
    outcome = review.outcome if review is not None and review.status == "opinion_issued" else None
    tx.check(
        rules.discussion_allowed(
            outcome,
            bool(review and review.changes_recorded_at),
            "exploratory_reform" in tx.flags,
            p.legal_risk_statement,
        )
    )
    assert review is not None
    refuse_unfinished_pre_review(tx)  # P16: a stage required after the review started
    earliest = tx.open_deadline("legality_review_min", str(review.round))
    if earliest is not None:
        tx.check(rules.review_time_respected(p.meeting_date, earliest.due_date))
    risk = tx.session.exec(
        select(RiskAssessment)
        .where(RiskAssessment.decision_id == decision.id)
        .order_by(col(RiskAssessment.id).desc())
    ).first()
    draft = current_draft(tx)
    if risk is not None:
        if risk.controllable is None and not risk.existing_reference:
            tx.refuse(
                "R7",
                "决策机关尚未判断风险是否可控",
                "the organ has not judged whether the risk is controllable",
                field="decision",
            )
        tx.check(
            rules.uncontrollable_risk_addressed(
                risk.controllable, risk.judged_draft_number, draft.number if draft else 0
            )
        )
    missing = [kind for kind, present in package_items(tx) if not present]
    if missing:
        names = [proc.EVIDENCE_KINDS[k].zh for k in missing]
        tx.refuse("R13", f"缺少：{'、'.join(names)}", f"missing: {', '.join(missing)}", field="decision")
    if p.meeting_date < tx.today:
        tx.refuse(
            "STATE", "会议日期不得早于今天", "the meeting date cannot be in the past", field="meeting_date"
        )
    row = tx.stage("discussion")
    if row.status not in (StageStatus.pending, StageStatus.active):
        tx.refuse(
            "STATE",
            f"集体讨论阶段为 {row.status.value}",
            f"the discussion stage is {row.status.value}",
            field="decision",
        )
    if p.legal_risk_statement:
        tx.add_evidence("discussion", "legal_risk_statement", p.legal_risk_statement)
    items = [
        {"kind": e.kind, "sha256": e.sha256, "title": e.title}
        for kind, _ in package_items(tx)
        for e in tx.evidence(kind)[-1:]
    ]
    tx.add_evidence(
        "discussion", "discussion_package", "\n".join(f"{i['title']} {i['sha256']}" for i in items)
    )
    tx.session.add(
        DiscussionSubmission(
            decision_id=decision.id or 0, meeting_date=p.meeting_date, package=items, submitted_at=tx.now
        )
    )
    tx.move_stage("discussion", StageStatus.active)
    tx.close_deadlines("legality_review_min", subject_ref=str(review.round))
    tx.emit("submitted_for_discussion", {"meeting_date": str(p.meeting_date)})
    return {"meeting_date": str(p.meeting_date)}


class Opinion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member: str = Field(min_length=1)
    position: Literal["agree", "disagree", "abstain"]
    text: str = ""
    is_head: bool = False


class RecordMeeting(DecisionPayload):
    meeting_type: str
    held_on: date
    members_total: int = Field(ge=1)
    members_present: list[str] = Field(min_length=1)
    opinions: list[Opinion] = Field(min_length=1)  # in speaking order, the head last (Art. 30(2))
    head_decision: Literal["approve", "reject", "defer", "approve_with_changes"]
    head_reason: str = ""
    minutes: str = ""


def earliest_meeting_date(tx: Tx) -> date | None:
    """T4 of the latest legality review round, whether met at submission or not."""
    review = latest_review(tx)
    if review is None:
        return None
    row = tx.session.exec(
        select(Deadline)
        .where(
            Deadline.decision_id == review.decision_id,
            Deadline.kind == "legality_review_min",
            Deadline.subject_ref == str(review.round),
            Deadline.status != DeadlineStatus.cancelled,
        )
        .order_by(col(Deadline.id).desc())
    ).first()
    return row.due_date if row else None


@action("record_meeting", RecordMeeting)
def record_meeting(tx: Tx, p: RecordMeeting) -> Mapping[str, Any]:
    decision = tx.require_decision()
    submission = tx.session.exec(
        select(DiscussionSubmission).where(DiscussionSubmission.decision_id == decision.id)
    ).first()
    if submission is None or tx.stage("discussion").status != StageStatus.active:
        tx.refuse(
            "R12", "尚未提请集体讨论", "the draft has not been submitted for discussion", field="decision"
        )
    refuse_unfinished_pre_review(tx)  # P16: a stage required after the submission
    if (
        tx.settings["party_report_order"] == "before_meeting"
        and tx.stage("party_report").status != StageStatus.completed
    ):
        tx.refuse(
            "P8",
            "本地规定须先向党委请示报告",
            "local rules need the Party report before the meeting",
            field="decision",
        )
    if p.held_on > tx.today:
        raise invalid("held_on", "会议尚未召开", "the meeting has not been held yet")
    if len(set(p.members_present)) > p.members_total:
        raise invalid("members_present", "出席人数多于组成人员", "more members present than the meeting has")
    # R10 binds the meeting actually held, not only the date it was submitted for (Art. 26(2))
    earliest = earliest_meeting_date(tx)
    if earliest is not None and p.held_on < earliest:
        tx.refuse(
            "R10",
            f"会议不得早于 {earliest.isoformat()} 召开",
            f"the meeting may not be held before {earliest.isoformat()}",
            field="held_on",
        )
    speeches = [rules.Speech(o.member, o.position, o.is_head) for o in p.opinions]
    tx.check(
        rules.meeting_valid(
            p.meeting_type,
            speeches,
            p.head_decision,
            p.head_reason,
            len(set(p.members_present)),
            p.members_total,
            float(tx.settings["quorum_fraction"]),
        )
    )
    majority = rules.majority_position(speeches)
    minutes = p.minutes or "\n".join(
        [f"{decision.title} 会议记录（{p.meeting_type}，{p.held_on}）"]
        + [f"{i}. {o.member}: {o.position} {o.text}" for i, o in enumerate(p.opinions, 1)]
        + [f"行政首长决定：{p.head_decision} {p.head_reason}"]
    )
    evidence = tx.add_evidence("discussion", "meeting_minutes", minutes)
    meeting = Meeting(
        decision_id=decision.id or 0,
        meeting_type=p.meeting_type,
        held_on=p.held_on,
        members_total=p.members_total,
        members_present=list(p.members_present),
        head_decision=p.head_decision,
        head_reason=p.head_reason,
        majority_view=majority,
        minutes_evidence_id=evidence.id,
        recorded_at=tx.now,
    )
    tx.session.add(meeting)
    tx.session.flush()
    for order, o in enumerate(p.opinions, 1):
        tx.session.add(
            MemberOpinion(
                meeting_id=meeting.id or 0,
                speaking_order=order,
                member=o.member,
                is_head=o.is_head,
                position=o.position,
                text=o.text,
            )
        )
    decision.outcome = p.head_decision
    if p.head_decision == "defer":
        tx.session.delete(submission)  # a deferred matter is submitted again for a later meeting
        tx.emit("decision_deferred", {})
        return {"outcome": p.head_decision}
    tx.move_stage("discussion", StageStatus.completed)
    decision.decided_on = tx.now
    if p.head_decision == "reject":
        decision.status = DecisionStatus.rejected
        for stage_id in ("party_report", "congress", "publication", "execution"):
            if tx.stage(stage_id).status == StageStatus.pending:
                tx.move_stage(stage_id, StageStatus.waived, "decision rejected")
        tx.schedule("archive_due", p.held_on)  # P10: archive even a rejected matter
    else:
        decision.status = DecisionStatus.decided
        if "confidential" in tx.flags:
            tx.schedule("archive_due", p.held_on)  # P10: no publication, archive from the decision
        else:
            tx.schedule("publication_due", p.held_on)  # P9
    tx.emit("decision_made", {"outcome": p.head_decision, "majority": majority})
    return {"outcome": p.head_decision, "majority": majority}
