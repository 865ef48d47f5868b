"""Legality review (合法性审查), Arts. 25-28, with P5-P7."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field
from sqlmodel import col, select

from flows import procedure as proc
from flows import rules
from flows.errors import invalid
from flows.service.framework import DecisionPayload, Tx, action
from flows.service.lifecycle import current_draft, current_draft_number
from models import LegalAdviserOpinion, LegalityReview, StageStatus
from models.enums import DeadlineStatus, ReviewStatus
from models.review import RevisionConfirmation


def latest_review(tx: Tx) -> LegalityReview | None:
    return tx.latest(LegalityReview, col(LegalityReview.round))


def unapproved_pre_review_stages(tx: Tx) -> list[proc.Stage]:
    """Tracks that must be finished and approved before legality review (Arts. 26, 27(2))."""
    statuses = tx.stage_statuses()
    return [
        stage
        for stage in tx.procedure.stages
        if stage.pre_review and statuses.get(stage.id) not in proc.DONE_STATUSES
    ]


class SubmitForReview(DecisionPayload):
    procedures_statement: str = ""  # 履行决策法定程序的说明 (Art. 26(1))
    legal_bases: list[str] = Field(default_factory=list)
    materials: str = ""


def _start_round(tx: Tx, p: SubmitForReview, round_number: int, clock_base: Any) -> LegalityReview:
    decision = tx.require_decision()
    draft = current_draft(tx)
    bases = list(p.legal_bases) or (list(draft.legal_bases) if draft else [])
    if draft is None:
        tx.refuse("R9", "缺少决策草案", "the draft is missing", field="decision")
    if not bases:
        tx.refuse("R9", "缺少法律依据", "the legal basis is missing", field="legal_bases")
    if not p.procedures_statement.strip():
        tx.refuse(
            "R9",
            "缺少履行法定程序的说明",
            "the statement of procedures performed is missing",
            field="procedures_statement",
        )
    review = LegalityReview(
        decision_id=decision.id or 0,
        round=round_number,
        draft_number=draft.number,
        submitted_at=tx.now,
        submitted_on=tx.today,
        procedures_statement=p.procedures_statement,
    )
    tx.session.add(review)
    tx.session.flush()
    package = "\n".join(
        [
            f"送审稿：第{draft.number}稿",
            "法律依据：" + "；".join(bases),
            "程序说明：" + p.procedures_statement,
            p.materials,
        ]
    )
    tx.add_evidence(
        "legality_review", "legality_package", package, f"合法性审查送审材料（第{round_number}次）"
    )
    tx.schedule("legality_review_min", clock_base, subject_ref=str(round_number))  # T4, R10
    tx.schedule("legality_opinion_due", tx.today, subject_ref=str(round_number))  # P6, a reminder
    return review


def round_under_review(tx: Tx) -> LegalityReview:
    """The latest round, which the action declares must be under review (`needs`). The
    legality_review stage is active once a round was submitted (declared too)."""
    review = latest_review(tx)
    assert review is not None, "the legality review stage is active only once a round was submitted"
    tx.require("legality_review", review, f"#{review.round}", field="decision")
    return review


def refuse_unfinished_pre_review(tx: Tx) -> None:
    """Refuse, by the stage's own guard, while a track that must precede legality review is
    not done. Also checked before discussion and the meeting: a stage that became required
    after the review started (change_flags, P16) must still be done before the decision."""
    missing = unapproved_pre_review_stages(tx)
    if missing:
        first = missing[0]
        tx.refuse(
            first.guard,
            f"{first.zh}尚未完成并经审核（{tx.stage(first.id).status.value}）",
            f"{first.en} is not completed and approved ({tx.stage(first.id).status.value})",
            field="decision",
        )


@action("submit_for_legality_review", SubmitForReview)
def submit_for_legality_review(tx: Tx, p: SubmitForReview) -> Mapping[str, Any]:
    refuse_unfinished_pre_review(tx)
    tx.enter_stage("legality_review")  # pending until the first submission (declared)
    review = _start_round(tx, p, 1, tx.today)
    tx.emit("legality_review_submitted", {"round": review.round})
    return {"round": review.round}


class ReturnForSupplement(DecisionPayload):
    reason: str = Field(min_length=1)


@action("return_for_supplement", ReturnForSupplement)
def return_for_supplement(tx: Tx, p: ReturnForSupplement) -> Mapping[str, Any]:
    """Art. 26(1), P7: the materials are incomplete; the round ends."""
    review = round_under_review(tx)
    tx.advance("legality_review", review, ReviewStatus.returned, f"#{review.round}", field="decision")
    review.return_reason = p.reason
    tx.add_evidence("legality_review", "supplement_notice", p.reason)
    tx.close_deadlines("legality_opinion_due", subject_ref=str(review.round), status=DeadlineStatus.cancelled)
    tx.emit("legality_review_returned", {"round": review.round, "reason": p.reason})
    return {"round": review.round, "status": "returned"}


@action("resubmit_for_legality_review", SubmitForReview)
def resubmit_for_legality_review(tx: Tx, p: SubmitForReview) -> Mapping[str, Any]:
    """After a return or an 'unlawful' opinion; or, after a favourable opinion, for a draft
    revised since the reviewed version (Art. 25, P15: the opinion covers only the version it
    reviewed). P5: the 7-working-day minimum restarts unless the jurisdiction says otherwise."""
    previous = latest_review(tx)
    revised_since_opinion = (
        previous is not None
        and previous.status == "opinion_issued"
        and previous.outcome in rules.LAWFUL_OUTCOMES
        and current_draft_number(tx) > previous.draft_number
    )
    if previous is None or not (
        previous.status == "returned"
        or (previous.status == "opinion_issued" and previous.outcome == "unlawful")
        or revised_since_opinion
    ):
        tx.refuse(
            "P5",
            "只有被退回、审查不合法或审查后又修改的草案才能重新送审",
            "only a returned or unlawful submission, or a draft revised after the opinion, can be resubmitted",
            field="decision",
        )
    first = tx.session.exec(
        select(LegalityReview).where(
            LegalityReview.decision_id == previous.decision_id, LegalityReview.round == 1
        )
    ).one()
    clock_base = tx.today if tx.settings["legality_clock_restarts"] else first.submitted_on
    tx.close_deadlines("legality_review_min", status=DeadlineStatus.cancelled)
    tx.move_stage("legality_review", StageStatus.active)
    review = _start_round(tx, p, previous.round + 1, clock_base)
    tx.emit("legality_review_submitted", {"round": review.round})
    return {"round": review.round}


class AdviserOpinion(DecisionPayload):
    adviser: str = Field(min_length=1)
    adviser_kind: Literal["legal_adviser", "public_lawyer"] = "legal_adviser"
    opinion: str = Field(min_length=1)


@action("record_legal_adviser_opinion", AdviserOpinion)
def record_legal_adviser_opinion(tx: Tx, p: AdviserOpinion) -> Mapping[str, Any]:
    review = round_under_review(tx)
    evidence = tx.add_evidence("legality_review", "legal_adviser_opinion", p.opinion, f"{p.adviser}法律意见")
    tx.session.add(
        LegalAdviserOpinion(
            review_id=review.id or 0,
            adviser=p.adviser,
            adviser_kind=p.adviser_kind,
            evidence_id=evidence.id or 0,
            recorded_at=tx.now,
        )
    )
    return {"round": review.round}


class IssueOpinion(DecisionPayload):
    outcome: Literal["lawful", "lawful_after_changes", "unlawful"]  # P7 (a return is return_for_supplement)
    opinion: str = Field(min_length=1)
    required_changes: str = ""


@action("issue_legality_opinion", IssueOpinion)
def issue_legality_opinion(tx: Tx, p: IssueOpinion) -> Mapping[str, Any]:
    review = round_under_review(tx)
    advisers = tx.session.exec(
        select(LegalAdviserOpinion.id).where(LegalAdviserOpinion.review_id == review.id)
    ).all()
    if not advisers:
        tx.refuse(
            "R11",
            "本次审查尚无法律顾问或公职律师意见",
            "this review has no legal adviser opinion yet",
            field="decision",
        )
    if p.outcome == "lawful_after_changes" and not p.required_changes.strip():
        raise invalid(
            "required_changes", "修改后合法须列明修改事项", "lawful after changes must list the changes"
        )
    evidence = tx.add_evidence("legality_review", "legality_opinion", p.opinion)
    tx.advance("legality_review", review, ReviewStatus.opinion_issued, f"#{review.round}", field="decision")
    review.outcome = p.outcome
    review.opinion_text = p.opinion
    review.opinion_evidence_id = evidence.id
    review.issued_at = tx.now
    tx.session.add(review)
    tx.close_deadlines("legality_opinion_due", subject_ref=str(review.round))
    if p.outcome == "lawful":
        tx.move_stage("legality_review", StageStatus.completed)
    tx.emit("legality_opinion_issued", {"round": review.round, "outcome": p.outcome})
    return {"round": review.round, "outcome": p.outcome}


class ChangesAfterReview(DecisionPayload):
    changes: str = Field(min_length=1)


@action("record_changes_after_review", ChangesAfterReview)
def record_changes_after_review(tx: Tx, p: ChangesAfterReview) -> Mapping[str, Any]:
    """Art. 28: the undertaking unit makes the changes the opinion requires."""
    review = latest_review(tx)
    draft = current_draft(tx)
    tx.check(
        rules.changes_made_after_review(
            review.outcome if review else None,
            review.draft_number if review else None,
            draft.number if draft else 0,
        )
    )
    assert review is not None
    review.changes_recorded_at = tx.now
    tx.session.add(review)
    tx.add_evidence("legality_review", "changes_record", p.changes)
    tx.move_stage("legality_review", StageStatus.completed)
    return {"round": review.round}


# --------------------------------------------------------------------------- §15.1, P15: revisions after the opinion
def confirmed_drafts(tx: Tx, review: LegalityReview) -> list[int]:
    """The draft versions the legal office confirmed under `review`'s opinion."""
    return list(
        tx.session.exec(
            select(RevisionConfirmation.draft_number)
            .where(RevisionConfirmation.review_id == review.id)
            .order_by(col(RevisionConfirmation.draft_number))
        ).all()
    )


def opinion_covers_current_draft(tx: Tx) -> rules.Violation | None:
    """R12 (Art. 25, P15): the latest opinion, or a confirmation under it, covers the current
    draft. None when there is no opinion yet (rules.discussion_allowed refuses that).
    For every action that puts the draft before the organ: submit_for_discussion, and the
    meeting when the draft was revised after the submission."""
    review = latest_review(tx)
    if review is None or review.status != "opinion_issued":
        return None
    return rules.draft_covered_by_opinion(
        review.draft_number, confirmed_drafts(tx, review), current_draft_number(tx)
    )


class ConfirmRevision(DecisionPayload):
    reason: str = Field(min_length=1)  # why the changes do not touch legality
    draft: int | None = Field(default=None, ge=1)  # the version confirmed; the current one by default


@action("confirm_revision", ConfirmRevision)
def confirm_revision(tx: Tx, p: ConfirmRevision) -> Mapping[str, Any]:
    """Arts. 25, 28; P15: the legal office states in writing that a draft revised after its
    favourable opinion does not touch legality, so the opinion extends to that version (and
    to that version only)."""
    decision = tx.require_decision()
    review = latest_review(tx)
    if review is None or review.status != "opinion_issued":
        tx.refuse("R12", "尚无合法性审查意见", "there is no legality review opinion yet", field="decision")
    if review.outcome not in rules.LAWFUL_OUTCOMES:
        tx.refuse(
            "R12",
            "合法性审查意见为不合法，修改后的草案须重新送审",
            "the opinion is 'unlawful'; the revised draft must be resubmitted for review",
            field="decision",
        )
    current = current_draft_number(tx)
    draft = p.draft if p.draft is not None else current
    if not review.draft_number < draft <= current:
        raise invalid(
            "draft",
            f"只能确认审查意见所针对的第{review.draft_number}稿之后、不晚于现草案第{current}稿的修改稿",
            f"only a version after the reviewed draft {review.draft_number} and up to the current "
            f"draft {current} can be confirmed",
        )
    if draft in confirmed_drafts(tx, review):
        raise invalid("draft", f"第{draft}稿已经确认", f"draft {draft} is already confirmed")
    evidence = tx.add_evidence(
        "legality_review",
        "revision_confirmation",
        f"经审查，决策草案第{draft}稿相对于合法性审查意见所针对的第{review.draft_number}稿的修改"
        f"不涉及合法性问题，原审查意见适用于第{draft}稿。\n理由：{p.reason}",
        f"修改不涉及合法性的确认（第{draft}稿）",
    )
    tx.session.add(
        RevisionConfirmation(
            decision_id=decision.id or 0,
            review_id=review.id or 0,
            draft_number=draft,
            reason=p.reason,
            evidence_id=evidence.id,
            confirmed_by=tx.actor.code,
            confirmed_at=tx.now,
        )
    )
    tx.emit("revision_confirmed", {"round": review.round, "draft": draft})
    return {"round": review.round, "reviewed_draft": review.draft_number, "draft": draft}
