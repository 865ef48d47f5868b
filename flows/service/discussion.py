"""Submission for, and record of, collective discussion (Arts. 25, 26, 29, 30)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from flows import rules, textdiff
from flows.calendar import local_date
from flows.errors import invalid
from flows.service.framework import DecisionPayload, Tx, action
from flows.service.issuance import party_step_on
from flows.service.legality import (
    confirmed_drafts,
    latest_review,
    opinion_covers_current_draft,
    refuse_unfinished_pre_review,
)
from flows.service.lifecycle import current_draft
from flows.service.review import judgement_history, latest_assessment
from models import (
    Deadline,
    DecisionStatus,
    DiscussionSubmission,
    DraftVersion,
    LegalityReview,
    Meeting,
    MemberOpinion,
    StageStatus,
    User,
    UserRole,
)
from models.enums import DeadlineStatus


class SubmitForDiscussion(DecisionPayload):
    meeting_date: date
    legal_risk_statement: str = ""  # Art. 25(2), the exploratory-reform route


def drafts_since_review(tx: Tx) -> tuple[LegalityReview, list[DraftVersion]] | None:
    """§15.1: the latest legality opinion and the draft versions made after the one it
    reviewed (reviewed version first), or None when the opinion is about the current draft."""
    review = latest_review(tx)
    if review is None or review.status != "opinion_issued":
        return None
    versions = list(
        tx.session.exec(
            select(DraftVersion)
            .where(DraftVersion.decision_id == review.decision_id, DraftVersion.number >= review.draft_number)
            .order_by(col(DraftVersion.number))
        )
    )
    if len(versions) < 2:
        return None
    return review, versions


def package_items(tx: Tx) -> list[tuple[str, bool]]:
    """Art. 29: what the discussion package must hold for the tracks that ran, and
    whether each is present."""
    statuses = tx.stage_statuses()
    wanted = ["draft", "draft_explanation", "legality_opinion"]
    if statuses.get("public_participation") == StageStatus.completed:
        wanted.append("participation_summary")  # Art. 29(2)
    if statuses.get("hearing") == StageStatus.completed:
        wanted += ["hearing_report", "hearing_answers"]  # Arts. 18, 29(2); §15.5
    if statuses.get("expert_review") == StageStatus.completed:
        wanted.append("expert_summary")  # Art. 29(3)
    if statuses.get("risk_assessment") == StageStatus.completed:
        wanted.append("risk_report")  # Art. 29(4)
    if "market_activity" in tx.flags or statuses.get("fair_competition_review") == StageStatus.completed:
        wanted.append("fcr_conclusion")  # Art. 29(1); also when the catalogue listed it
    if drafts_since_review(tx) is not None:
        wanted.append("revision_confirmation")  # P15, when the opinion was not renewed
        wanted.append("draft_revisions")  # §15.1: written by submit_for_discussion itself
    return [(kind, bool(tx.evidence(kind))) for kind in wanted]


def _draft_text(tx: Tx, version: DraftVersion) -> str:
    return tx.documents.get(version.document_sha256).decode("utf-8")


def revision_record(tx: Tx) -> tuple[str, dict[str, Any]] | None:
    """§15.1: the reasons of every version after the one the legality opinion reviewed, the
    legal office's confirmations, and the current draft compared with the reviewed one (line
    and character views); as a text for the package and as data for DiscussionSubmission."""
    found = drafts_since_review(tx)
    if found is None:
        return None
    review, versions = found
    reviewed, current = versions[0], versions[-1]
    confirmed = confirmed_drafts(tx, review)
    result = textdiff.diff(
        _draft_text(tx, reviewed), _draft_text(tx, current), f"第{reviewed.number}稿", f"第{current.number}稿"
    )
    reasons = [{"draft": v.number, "reason": v.reason, "by": v.created_by} for v in versions[1:]]
    lines = [
        f"合法性审查意见（第{review.round}次送审）针对第{reviewed.number}稿；提请讨论的为第{current.number}稿。",
        "审查后的修改及理由：",
        *[f"- 第{r['draft']}稿：{r['reason']}（{r['by']}）" for r in reasons],
        "合法性审查机构确认修改不涉及合法性的版本：" + ("、".join(f"第{n}稿" for n in confirmed) or "无"),
        f"草案对照（第{reviewed.number}稿 → 第{current.number}稿）：",
        textdiff.render(result),
    ]
    data = {
        "reviewed_draft": reviewed.number,
        "current_draft": current.number,
        "reasons": reasons,
        "confirmed_drafts": confirmed,
        "unified_diff": list(result.unified),
        "changes": [c.inline for c in result.changes],
        "punctuation_only": result.punctuation_only,
    }
    return "\n".join(lines), data


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
    tx.check(opinion_covers_current_draft(tx))  # R12, P15: a revised draft needs its own review
    refuse_unfinished_pre_review(tx)  # P16: a stage required after the review started
    earliest = tx.open_deadline("legality_review_min", str(review.round))
    if earliest is not None:
        tx.check(rules.review_time_respected(p.meeting_date, earliest.due_date))
    refuse_standing_risk(tx)
    # the revision record is written by this action, below
    missing = [kind for kind, present in package_items(tx) if not present and kind != "draft_revisions"]
    if missing:
        names = [tx.procedure.evidence_kinds[k].zh for k in missing]
        tx.refuse("R13", f"缺少：{'、'.join(names)}", f"missing: {', '.join(missing)}", field="decision")
    tx.check(rules.meeting_date_ahead(p.meeting_date, tx.today))
    if p.legal_risk_statement:
        tx.add_evidence("discussion", "legal_risk_statement", p.legal_risk_statement)
    record = revision_record(tx)
    if record is not None:
        tx.add_evidence(
            "discussion",
            "draft_revisions",
            record[0],
            f"审查后草案修改情况及对照（第{record[1]['reviewed_draft']}稿至第{record[1]['current_draft']}稿）",
        )
    items: list[dict[str, Any]] = [
        {"kind": e.kind, "sha256": e.sha256, "title": e.title}
        for kind, _ in package_items(tx)
        for e in tx.evidence(kind)[-1:]
    ]
    for item in items:
        if record is not None and item["kind"] == "draft_revisions":
            item.update(record[1])
    text = "\n".join(f"{i['title']} {i['sha256']}" for i in items)
    if record is not None:
        text += "\n\n" + record[0]
    tx.add_evidence("discussion", "discussion_package", text)
    tx.session.add(
        DiscussionSubmission(
            decision_id=decision.id or 0, meeting_date=p.meeting_date, package=items, submitted_at=tx.now
        )
    )
    tx.move_stage("discussion", StageStatus.active)
    tx.close_deadlines("legality_review_min", subject_ref=str(review.round))
    tx.emit("submitted_for_discussion", {"meeting_date": str(p.meeting_date)})
    return {"meeting_date": str(p.meeting_date)}


def refuse_standing_risk(tx: Tx) -> None:
    """R7, Art. 24: the organ has judged the risk, and no uncontrollable judgement stands.
    Checked at the submission and again at the meeting, since a risk found after the
    submission (change_flags) is judged then (§15.1)."""
    risk = latest_assessment(tx)
    if risk is not None and risk.controllable is None and not risk.existing_reference:
        tx.refuse(
            "R7",
            "决策机关尚未判断风险是否可控",
            "the organ has not judged whether the risk is controllable",
            field="decision",
        )
    tx.check(rules.uncontrollable_risk_addressed(judgement_history(tx)))


def draft_unchanged_since_submission(tx: Tx, submission: DiscussionSubmission) -> rules.Violation | None:
    """R12 at the meeting (Art. 25, P15): the meeting discusses the draft that was submitted.
    A draft revised after the submission must be covered by the legality opinion again (a new
    review or `confirm_revision`) and then submitted again, so that the package the members
    receive shows the current draft and what changed."""
    uncovered = opinion_covers_current_draft(tx)
    if uncovered is not None:
        return uncovered
    draft = current_draft(tx)
    submitted = [item.get("sha256") for item in submission.package if item.get("kind") == "draft"]
    if draft is not None and submitted and submitted[-1] != draft.document_sha256:
        return rules.Violation(
            "R12",
            "decision",
            f"提请讨论后草案已修改为第{draft.number}稿，须重新提请集体讨论",
            f"the draft was revised to version {draft.number} after the submission for discussion; "
            "submit it again",
        )
    return None


class Opinion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member: str = Field(min_length=1)  # user code of a member present
    position: Literal["agree", "disagree", "abstain"]
    text: str = ""  # required for disagree: dissent is recorded as stated (Art. 30(3))


class RecordMeeting(DecisionPayload):
    meeting_type: str
    held_on: date
    # user codes of the members present, each on the roster of meeting members (P11)
    members_present: list[str] = Field(min_length=1)
    # one per member present, in speaking order, the head (or acting head) last (Art. 30(2))
    opinions: list[Opinion] = Field(min_length=1)
    acting_head: str = ""  # the member present who acts as head when the head is absent
    head_decision: Literal["approve", "reject", "defer", "approve_with_changes"]
    head_reason: str = ""
    minutes: str = ""  # narrative; the opinions are always listed after it


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


def members_with_role(tx: Tx, role: str) -> dict[str, str]:
    """Code -> name of the jurisdiction's active users holding `role`, in code order. With
    `meeting_member` this is the roster of the meeting (Local Organic Law Art. 78)."""
    return role_holders(tx.session, tx.jurisdiction.id or 0, role)


def role_holders(session: Session, jurisdiction_id: int, role: str) -> dict[str, str]:
    """`members_with_role` for a reader outside an action (the meeting page)."""
    rows = session.exec(
        select(User.code, User.name)
        .join(UserRole, col(UserRole.user_id) == col(User.id))
        .where(User.jurisdiction_id == jurisdiction_id, col(User.active), UserRole.role == role)
        .order_by(col(User.code))
    ).all()
    return dict(rows)


POSITION_ZH = {"agree": "同意", "disagree": "不同意", "abstain": "弃权"}
DECISION_ZH = {
    "approve": "通过",
    "approve_with_changes": "修改后通过",
    "reject": "不予通过",
    "defer": "暂缓决定",
}
MAJORITY_ZH = {"agree": "同意", "disagree": "不同意", "split": "无多数意见"}


def meeting_minutes(
    title: str, p: RecordMeeting, roster: Mapping[str, str], head: str, acting: bool, majority: str
) -> str:
    """The minutes: whatever narrative was given, then every opinion in speaking order,
    dissent as stated (Art. 30(3)), then the head's decision and reasons."""
    kind = "常务会议" if p.meeting_type == "executive" else "全体会议"
    absent = [roster[m] for m in roster if m not in p.members_present]
    lines = [
        f"{title} 会议记录（{kind}，{p.held_on.isoformat()}）",
        f"应到 {len(roster)} 人，实到 {len(p.members_present)} 人"
        + (f"；缺席：{'、'.join(absent)}" if absent else ""),
    ]
    if p.minutes.strip():
        lines.append(p.minutes.strip())
    for i, o in enumerate(p.opinions, 1):
        role = ("（代行行政首长职责）" if acting else "（行政首长）") if o.member == head else ""
        lines.append(
            f"{i}. {roster[o.member]}（{o.member}）{role}：{POSITION_ZH[o.position]} {o.text}".rstrip()
        )
    lines.append(f"多数意见：{MAJORITY_ZH[majority]}")
    lines.append(f"行政首长决定：{DECISION_ZH[p.head_decision]} {p.head_reason}".rstrip())
    return "\n".join(lines)


@action("record_meeting", RecordMeeting)
def record_meeting(tx: Tx, p: RecordMeeting) -> Mapping[str, Any]:
    decision = tx.require_decision()
    submission = tx.latest(DiscussionSubmission)
    if submission is None or tx.stage("discussion").status != StageStatus.active:
        tx.refuse(
            "R12", "尚未提请集体讨论", "the draft has not been submitted for discussion", field="decision"
        )
    previous = tx.latest(Meeting)
    # a deferred matter is submitted again before its next meeting (Art. 29)
    tx.check(
        rules.submitted_since_last_meeting(
            submission.submitted_at, previous.recorded_at if previous else None
        )
    )
    tx.check(draft_unchanged_since_submission(tx, submission))
    refuse_unfinished_pre_review(tx)  # P16: a stage required after the submission
    refuse_standing_risk(tx)  # R7: a risk judged after the submission still blocks
    before_meeting = tx.settings["party_report_order"] == "before_meeting"
    if before_meeting and tx.stage("party_report").status != StageStatus.completed:
        tx.refuse(
            "P8",
            "本地规定须先向党委请示报告",
            "local rules need the Party report before the meeting",
            field="decision",
        )
    if p.held_on > tx.today:
        raise invalid("held_on", "会议尚未召开", "the meeting has not been held yet")
    # §15.4: the meeting is not dated before what it depends on
    tx.check(rules.meeting_not_before_submission(p.held_on, local_date(submission.submitted_at, tx.tz)))
    if before_meeting:
        tx.check(
            rules.meeting_not_before_party_reply(
                p.held_on, party_step_on(tx, "report"), party_step_on(tx, "reply")
            )
        )
    # R10 binds the meeting actually held, not only the date it was submitted for (Art. 26(2))
    earliest = earliest_meeting_date(tx)
    if earliest is not None and p.held_on < earliest:
        tx.refuse(
            "R10",
            f"会议不得早于 {earliest.isoformat()} 召开",
            f"the meeting may not be held before {earliest.isoformat()}",
            field="held_on",
        )
    roster = members_with_role(tx, "meeting_member")
    heads = members_with_role(tx, "head")
    speeches = [rules.Speech(o.member, o.position, o.text) for o in p.opinions]
    tx.check(
        rules.meeting_valid(
            p.meeting_type,
            list(roster),
            set(heads),
            p.members_present,
            p.acting_head,
            speeches,
            p.head_decision,
            p.head_reason,
            float(tx.settings["quorum_fraction"]),
        )
    )
    head = rules.presiding_head(p.members_present, set(heads), p.acting_head)
    assert head is not None
    acting = head not in heads
    majority = rules.majority_position(speeches)
    evidence = tx.add_evidence(
        "discussion", "meeting_minutes", meeting_minutes(decision.title, p, roster, head, acting, majority)
    )
    meeting = Meeting(
        decision_id=decision.id or 0,
        meeting_type=p.meeting_type,
        held_on=p.held_on,
        roster=list(roster),
        members_total=len(roster),
        members_present=list(p.members_present),
        head_member=head,
        acting_head=acting,
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
                is_head=o.member == head,
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
        tx.set_decision_status(DecisionStatus.rejected)
        for stage_id in ("party_report", "congress", "publication", "execution"):
            if tx.stage(stage_id).status == StageStatus.pending:
                tx.move_stage(stage_id, StageStatus.waived, "decision rejected")
        tx.schedule("archive_due", p.held_on)  # P10: archive even a rejected matter
    else:
        tx.set_decision_status(DecisionStatus.decided)
        if "confidential" in tx.flags:
            tx.schedule("archive_due", p.held_on)  # P10: no publication, archive from the decision
        else:
            tx.schedule("publication_due", p.held_on)  # P9
    tx.emit("decision_made", {"outcome": p.head_decision, "majority": majority, "head": head})
    return {"outcome": p.head_decision, "majority": majority, "head": head, "acting_head": acting}
