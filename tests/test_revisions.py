"""§15.1 and P15: a draft revised after the legality opinion needs its own review or the legal
office's confirmation (R12, Art. 25); a risk judged uncontrollable stands until the organ
judges it controllable again (R7, Art. 24); the discussion package shows what changed
(Art. 29), with a Chinese-aware diff (flows.textdiff)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, select

from flows import rules, textdiff
from flows.service import ServiceContext
from models import Decision, DiscussionSubmission, EvidenceDocument, LegalityReview, StageInstance
from models.review import RevisionConfirmation, RiskJudgement
from tests.helpers import act, at, district, drafted, legality_lawful, participation_done, refused

DRAFT_1 = "\n".join(
    [
        "第一条 为规范旧城改造补偿，制定本办法。",
        "第二条 补偿标准为每平方米5000元，由区政府统一支付。",
        "第三条 本办法自公布之日起施行。",
    ]
)
# a punctuation-only change in 第二条, a real change in 第三条
DRAFT_2 = "\n".join(
    [
        "第一条 为规范旧城改造补偿，制定本办法。",
        "第二条 补偿标准为每平方米5000元；由区政府统一支付。",
        "第三条 本办法自2026年7月1日起施行。",
    ]
)
DRAFT_3 = DRAFT_2 + "\n第四条 本办法由区住房和城乡建设局负责解释。"

RISK_REPORT: dict[str, Any] = {
    "report": "社会稳定风险评估报告",
    "risk_points": ["被征收户补偿预期差异"],
    "prevention_measures": ["逐户走访解释"],
    "handling_plan": "设立现场接待点，群体性事件应急处置",
    "level": "medium",
    "departments_consulted": ["区信访局", "区公安分局"],
}


# ---------------------------------------------------------------- helpers
def revise(ctx: ServiceContext, when: str, draft: str, reason: str) -> None:
    act(
        ctx,
        "revise_draft",
        "li",
        when,
        decision="D1",
        draft=draft,
        explanation="修改说明",
        legal_bases=["国务院令第713号"],
        reason=reason,
    )


def reviewed(ctx: ServiceContext, flags: list[str] | None = None, risk: bool | None = None) -> None:
    """Draft 1 (DRAFT_1) went through participation and got a lawful opinion (submitted
    2026-04-08, T4 on 2026-04-17). With `risk` set, the organ judged the risk on draft 1
    (True: controllable, False: not) before the legality review."""
    drafted(ctx, flags=flags)
    revise(ctx, "2026-03-02T12:00", DRAFT_1, "形成征求意见稿")  # draft 2 is the text under review
    participation_done(ctx)
    if risk is not None:
        act(ctx, "submit_risk_assessment", "li", "2026-04-03T11:00", decision="D1", **RISK_REPORT)
        act(ctx, "judge_risk", "mayor", "2026-04-06T09:00", decision="D1", controllable=risk, reason="研判")
        act(ctx, "approve_stage", "wang", "2026-04-07T09:00", decision="D1", stage="risk_assessment")
    legality_lawful(ctx)


def submit(ctx: ServiceContext, when: str = "2026-04-10T09:00", meeting: str = "2026-04-17") -> None:
    act(ctx, "submit_for_discussion", "li", when, decision="D1", meeting_date=meeting)


def refused_discussion(ctx: ServiceContext, rule_id: str, when: str = "2026-04-10T09:00") -> str:
    error = refused(
        ctx, rule_id, "submit_for_discussion", "li", when, decision="D1", meeting_date="2026-04-17"
    )
    return error.message_en


def evidence_texts(ctx: ServiceContext, kind: str) -> list[str]:
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(EvidenceDocument).where(EvidenceDocument.kind == kind).order_by(col(EvidenceDocument.id))
        ).all()
    return [ctx.documents.get(row.sha256).decode() for row in rows]


def stage_status(ctx: ServiceContext, stage: str) -> str:
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == "D1")).one()
        row = session.exec(
            select(StageInstance).where(
                StageInstance.decision_id == decision.id, StageInstance.stage == stage
            )
        ).one()
        return row.status.value


# ================================================================ R12, P15: legality covers one version
def test_a_revision_after_the_opinion_blocks_discussion_r12(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx)
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "根据部门意见调整标点及施行日期")
    message = refused_discussion(ctx, "R12")
    assert "covers draft 2" in message and "version 3" in message


def test_a_department_cannot_confirm_a_revision_auth(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx)
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "调整")
    error = refused(ctx, "AUTH", "confirm_revision", "li", "2026-04-09T16:00", decision="D1", reason="不涉及")
    assert error.kind == "forbidden"
    refused(ctx, "AUTH", "confirm_revision", "zhou", "2026-04-09T16:00", decision="D1", reason="不涉及")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_confirmation_needs_its_reason_input(ctx: ServiceContext, reason: str | None) -> None:
    district(ctx)
    reviewed(ctx)
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "调整")
    payload = {} if reason is None else {"reason": reason}
    error = refused(ctx, "INPUT", "confirm_revision", "wang", "2026-04-09T16:00", decision="D1", **payload)
    assert error.field == "reason"


def test_a_confirmation_is_for_a_version_after_the_reviewed_one(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    # no opinion yet
    refused(ctx, "R12", "confirm_revision", "wang", "2026-03-03T09:00", decision="D1", reason="不涉及")
    participation_done(ctx)
    legality_lawful(ctx)
    # nothing was revised since the reviewed draft 1
    error = refused(ctx, "INPUT", "confirm_revision", "wang", "2026-04-09T16:00", decision="D1", reason="x")
    assert error.field == "draft"
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "调整")
    for draft in (1, 3):
        refused(
            ctx,
            "INPUT",
            "confirm_revision",
            "wang",
            "2026-04-09T16:00",
            decision="D1",
            reason="x",
            draft=draft,
        )
    act(ctx, "confirm_revision", "liu", "2026-04-09T16:00", decision="D1", reason="不涉及", draft=2)
    error = refused(
        ctx, "INPUT", "confirm_revision", "wang", "2026-04-09T17:00", decision="D1", reason="再次"
    )
    assert "already confirmed" in error.message_en


def test_an_unlawful_opinion_cannot_be_confirmed_for_a_revision(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:00",
        decision="D1",
        procedures_statement="已履行",
    )
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-09T09:00",
        decision="D1",
        adviser="张律师",
        opinion="x",
    )
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-09T10:00",
        decision="D1",
        outcome="unlawful",
        opinion="不合法",
    )
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "删除违法条款")
    error = refused(ctx, "R12", "confirm_revision", "wang", "2026-04-09T16:00", decision="D1", reason="已改")
    assert "resubmitted" in error.message_en


def test_a_confirmation_lets_the_revised_draft_go_to_discussion(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx)
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "根据部门意见调整标点及施行日期")
    result = act(
        ctx, "confirm_revision", "wang", "2026-04-09T16:00", decision="D1", reason="仅调整标点和施行日期"
    )
    assert result.data == {"round": 1, "reviewed_draft": 2, "draft": 3}
    with Session(ctx.engine) as session:
        (row,) = session.exec(select(RevisionConfirmation)).all()
        assert (row.draft_number, row.reason, row.confirmed_by) == (3, "仅调整标点和施行日期", "wang")
        assert row.evidence_id is not None
    (text,) = evidence_texts(ctx, "revision_confirmation")
    assert "第3稿" in text and "第2稿" in text and "仅调整标点和施行日期" in text
    submit(ctx)
    assert stage_status(ctx, "discussion") == "active"


def test_a_confirmation_covers_exactly_one_version(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx)
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "调整标点")
    act(ctx, "confirm_revision", "wang", "2026-04-09T16:00", decision="D1", reason="仅调整标点")
    revise(ctx, "2026-04-09T17:00", DRAFT_3, "增加解释条款")
    message = refused_discussion(ctx, "R12")
    assert "version 4" in message
    act(ctx, "confirm_revision", "wang", "2026-04-10T08:30", decision="D1", reason="解释条款不涉及合法性")
    submit(ctx)


def test_the_changes_an_opinion_requires_are_a_revision_too(ctx: ServiceContext) -> None:
    """Lawful after changes: the department makes the changes in a new draft; the legal office
    checks them (confirmation) before the draft goes to discussion."""
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:00",
        decision="D1",
        procedures_statement="已履行",
    )
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-09T09:00",
        decision="D1",
        adviser="张律师",
        opinion="x",
    )
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-09T10:00",
        decision="D1",
        outcome="lawful_after_changes",
        opinion="修改后合法",
        required_changes="第二条明确资金来源",
    )
    revise(ctx, "2026-04-09T11:00", DRAFT_2, "按审查意见明确资金来源")
    act(ctx, "record_changes_after_review", "li", "2026-04-09T12:00", decision="D1", changes="已修改第二条")
    refused_discussion(ctx, "R12")
    act(ctx, "confirm_revision", "wang", "2026-04-09T15:00", decision="D1", reason="已按审查意见修改")
    submit(ctx)


def test_a_review_of_the_new_draft_lets_it_go_to_discussion(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx)
    # a lawful opinion on the current draft: nothing to resubmit
    refused(
        ctx,
        "P5",
        "resubmit_for_legality_review",
        "li",
        "2026-04-09T14:00",
        decision="D1",
        procedures_statement="x",
    )
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "修改施行日期")
    result = act(
        ctx,
        "resubmit_for_legality_review",
        "li",
        "2026-04-10T09:00",
        decision="D1",
        procedures_statement="草案修改后重新送审",
    )
    assert result.data == {"round": 2}
    assert stage_status(ctx, "legality_review") == "active"
    refused_discussion(ctx, "R12", "2026-04-10T10:00")  # the new round has no opinion yet
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-13T09:00",
        decision="D1",
        adviser="张律师",
        opinion="合法",
    )
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-13T10:00",
        decision="D1",
        outcome="lawful",
        opinion="合法",
    )
    with Session(ctx.engine) as session:
        rounds = session.exec(select(LegalityReview).order_by(col(LegalityReview.round))).all()
        assert [(r.round, r.draft_number, r.outcome) for r in rounds] == [(1, 2, "lawful"), (2, 3, "lawful")]
    # P5: the 7-working-day minimum restarted on 04-10
    refused(
        ctx,
        "R10",
        "submit_for_discussion",
        "li",
        "2026-04-13T11:00",
        decision="D1",
        meeting_date="2026-04-17",
    )
    submit(ctx, "2026-04-13T11:00", "2026-04-24")
    # the opinion is about the current draft: no revision record needed
    assert evidence_texts(ctx, "draft_revisions") == []


# ================================================================ R7, Art. 24: the risk judgement
def test_a_revision_alone_does_not_clear_an_uncontrollable_risk_r7(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx, flags=["stability_risk"], risk=False)
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "调整补偿标准的表述")
    act(ctx, "confirm_revision", "wang", "2026-04-09T16:00", decision="D1", reason="不涉及合法性")
    message = refused_discussion(ctx, "R7")
    assert "judged uncontrollable on draft 2" in message


def test_a_controllable_judgement_on_an_older_draft_is_refused_r7(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["stability_risk"])
    act(ctx, "submit_risk_assessment", "li", "2026-03-10T09:00", decision="D1", **RISK_REPORT)
    revise(ctx, "2026-03-11T09:00", DRAFT_1, "完善")
    act(
        ctx,
        "judge_risk",
        "mayor",
        "2026-03-12T09:00",
        decision="D1",
        controllable=False,
        reason="第2稿不可控",
    )
    error = refused(
        ctx,
        "R7",
        "judge_risk",
        "mayor",
        "2026-03-13T09:00",
        decision="D1",
        controllable=True,
        reason="可控",
        draft=1,
    )
    assert error.field == "draft"
    refused(
        ctx,
        "INPUT",
        "judge_risk",
        "mayor",
        "2026-03-13T09:00",
        decision="D1",
        controllable=True,
        reason="x",
        draft=9,
    )
    # a controllable judgement on draft 2 (the current one) clears it
    act(
        ctx,
        "judge_risk",
        "mayor",
        "2026-03-13T10:00",
        decision="D1",
        controllable=True,
        reason="采取措施后可控",
    )
    with Session(ctx.engine) as session:
        rows = session.exec(select(RiskJudgement).order_by(col(RiskJudgement.id))).all()
        assert [(r.controllable, r.draft_number, r.judged_by) for r in rows] == [
            (False, 2, "mayor"),
            (True, 2, "mayor"),
        ]


def test_a_new_controllable_judgement_clears_the_block(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx, flags=["stability_risk"], risk=False)
    assert stage_status(ctx, "risk_assessment") == "completed"
    refused_discussion(ctx, "R7")
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "调整补偿方案以控制风险")
    act(ctx, "confirm_revision", "wang", "2026-04-09T16:00", decision="D1", reason="不涉及合法性")
    refused_discussion(ctx, "R7")
    judged = act(
        ctx,
        "judge_risk",
        "mayor",
        "2026-04-10T08:00",
        decision="D1",
        controllable=True,
        reason="调整后风险可控",
    )
    # the stage stays completed: a judgement of the organ, not new work for approval
    assert judged.data == {"controllable": True, "draft": 3, "status": "completed"}
    submit(ctx)
    with Session(ctx.engine) as session:
        rows = session.exec(select(RiskJudgement).order_by(col(RiskJudgement.id))).all()
        assert [(r.controllable, r.draft_number) for r in rows] == [(False, 2), (True, 3)]
    texts = evidence_texts(ctx, "risk_judgement")
    assert len(texts) == 2 and "不可控" in texts[0] and "风险可控（针对第3稿）" in texts[1]
    # the risk is controllable now: no further judgement
    refused(
        ctx, "STATE", "judge_risk", "mayor", "2026-04-10T10:00", decision="D1", controllable=True, reason="x"
    )


def test_other_measures_can_make_the_same_draft_controllable(ctx: ServiceContext) -> None:
    """Art. 24: "adjusting the draft, or taking other measures": a new judgement on the same
    draft (no older than the one judged) counts."""
    district(ctx)
    reviewed(ctx, flags=["stability_risk"], risk=False)
    act(
        ctx,
        "judge_risk",
        "zhou",
        "2026-04-09T15:00",
        decision="D1",
        controllable=True,
        reason="已增设专项资金和接待点",
    )
    submit(ctx)


# ================================================================ Art. 29, §15.1: the package shows what changed
def test_the_package_carries_the_reasons_and_the_character_diff(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx)
    revise(ctx, "2026-04-09T15:00", DRAFT_2, "根据部门意见调整标点及施行日期")
    act(ctx, "confirm_revision", "wang", "2026-04-09T16:00", decision="D1", reason="不涉及合法性")
    revise(ctx, "2026-04-09T17:00", DRAFT_3, "增加解释条款")
    act(ctx, "confirm_revision", "wang", "2026-04-09T18:00", decision="D1", reason="解释条款不涉及合法性")
    submit(ctx)
    (record,) = evidence_texts(ctx, "draft_revisions")
    assert "合法性审查意见（第1次送审）针对第2稿；提请讨论的为第4稿。" in record
    assert "- 第3稿：根据部门意见调整标点及施行日期（li）" in record
    assert "- 第4稿：增加解释条款（li）" in record
    assert (
        "第2行：第二条 补偿标准为每平方米5000元[-，-]{+；+}由区政府统一支付。（仅标点或空白变化）" in record
    )
    assert "第3行：第三条 本办法自[-公布之-]{+2026年7月1+}日起施行。" in record
    assert "第4行：{+第四条 本办法由区住房和城乡建设局负责解释。+}" in record
    assert "-第二条 补偿标准为每平方米5000元，由区政府统一支付。" in record  # the line view
    assert "第3稿、第4稿" in record  # the confirmations
    (package,) = evidence_texts(ctx, "discussion_package")
    assert "审查后的修改及理由" in package and "[-，-]{+；+}" in package
    assert "修改不涉及合法性的确认（第4稿）" in package  # the latest confirmation is an item
    with Session(ctx.engine) as session:
        (submission,) = session.exec(select(DiscussionSubmission)).all()
    (item,) = [i for i in submission.package if i["kind"] == "draft_revisions"]
    assert (item["reviewed_draft"], item["current_draft"], item["confirmed_drafts"]) == (2, 4, [3, 4])
    assert [r["reason"] for r in item["reasons"]] == ["根据部门意见调整标点及施行日期", "增加解释条款"]
    assert item["changes"][0] == "第二条 补偿标准为每平方米5000元[-，-]{+；+}由区政府统一支付。"
    assert item["punctuation_only"] is False


def test_a_package_without_a_revision_has_no_revision_record(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx)
    submit(ctx)
    assert evidence_texts(ctx, "draft_revisions") == []
    with Session(ctx.engine) as session:
        (submission,) = session.exec(select(DiscussionSubmission)).all()
    assert "draft_revisions" not in {i["kind"] for i in submission.package}


# ================================================================ the rules alone
def test_the_revision_rules_alone() -> None:
    assert rules.draft_covered_by_opinion(2, [], 2) is None
    assert rules.draft_covered_by_opinion(2, [], 3) is not None
    assert rules.draft_covered_by_opinion(2, [3], 3) is None
    assert rules.draft_covered_by_opinion(2, [3], 4) is not None
    standing = rules.standing_uncontrollable_draft
    assert standing([]) is None
    assert standing([(True, 1)]) is None
    assert standing([(False, 1)]) == 1
    assert standing([(False, 1), (True, 1)]) is None  # other measures, same draft
    assert standing([(False, 2), (True, 1)]) == 2  # an older draft does not count
    assert standing([(False, 1), (True, 2), (False, 3)]) == 3  # judged again, uncontrollable
    assert rules.uncontrollable_risk_addressed([(False, 1)]) is not None
    assert rules.uncontrollable_risk_addressed([(False, 1), (True, 2)]) is None
    assert rules.risk_judgement_draft_usable(True, 1, [(False, 2)]) is not None
    assert rules.risk_judgement_draft_usable(False, 1, [(False, 2)]) is None
    assert rules.risk_judgement_draft_usable(True, 2, [(False, 2)]) is None


# ================================================================ flows.textdiff
def test_a_punctuation_only_change_is_seen_character_by_character() -> None:
    old = "补偿标准为每平方米5000元，由区政府统一支付。"
    new = "补偿标准为每平方米5000元；由区政府统一支付。"
    assert textdiff.char_diff(old, new) == "补偿标准为每平方米5000元[-，-]{+；+}由区政府统一支付。"
    assert textdiff.punctuation_only(old, new)
    result = textdiff.diff(old, new, "第1稿", "第2稿")
    assert result.changed and result.punctuation_only
    assert result.unified[:3] == ("--- 第1稿", "+++ 第2稿", "@@ -1 +1 @@")
    assert textdiff.render(result).endswith("本次修改仅涉及标点或空白。")


def test_chinese_words_are_diffed_without_spaces() -> None:
    assert textdiff.char_diff("由区政府统一支付", "由区财政局统一支付") == "由区[-政府-]{+财政局+}统一支付"
    assert textdiff.char_diff("甲乙", "甲乙丙") == "甲乙{+丙+}"
    assert textdiff.char_diff("甲乙丙", "甲丙") == "甲[-乙-]丙"
    assert not textdiff.punctuation_only("甲，乙", "甲，丙")
    assert not textdiff.punctuation_only("同一", "同一")


def test_a_long_line_is_not_junked() -> None:
    """difflib's autojunk would treat the frequent characters of a long line as noise."""
    body = "，".join(f"第{i}项补偿的标准和支付的方式" for i in range(60))
    old, new = body + "。", body.replace("第30项", "第三十项") + "。"
    assert len(old) > 200
    assert textdiff.char_diff(old, new).count("[-") == 1
    assert "第[-30-]{+三十+}项" in textdiff.char_diff(old, new)


def test_lines_are_paired_and_inserted_or_deleted_lines_stand_alone() -> None:
    old = "第一条 甲。\n第二条 乙。\n第三条 丙。"
    new = "第一条 甲。\n第二条 乙乙。\n第四条 丁。\n第五条 戊。"
    changes = textdiff.line_changes(old, new)
    assert [(c.old_number, c.new_number, c.inline) for c in changes] == [
        (2, 2, "第二条 乙{+乙+}。"),
        (3, 3, "第[-三-]{+四+}条 [-丙-]{+丁+}。"),
        (0, 4, "{+第五条 戊。+}"),
    ]
    deleted = textdiff.line_changes("甲\n乙", "甲")
    assert [(c.old_number, c.new_number, c.inline) for c in deleted] == [(2, 0, "[-乙-]")]
    assert textdiff.render(textdiff.diff("同", "同")) == "（无文字变化）"
    assert "原第2行：[-乙-]" in textdiff.render(textdiff.diff("甲\n乙", "甲"))


def test_numbers_are_replaced_whole() -> None:
    assert textdiff.tokens("每平方米5000元，3.5%") == ["每", "平", "方", "米", "5000", "元", "，", "3.5", "%"]
    assert textdiff.char_diff("每平方米5000元。", "每平方米6500元。") == "每平方米[-5000-]{+6500+}元。"


# ================================================================ the meeting (for record_meeting)
def meeting_check(ctx: ServiceContext) -> str | None:
    """`draft_unchanged_since_submission` on the latest submission, in a read-only Tx."""
    from flows.service.discussion import draft_unchanged_since_submission
    from flows.service.framework import SYSTEM, Tx, resolved_settings, the_jurisdiction

    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        decision = session.exec(select(Decision).where(Decision.code == "D1")).one()
        tx = Tx(
            session=session,
            actor=SYSTEM,
            now=at("2026-04-13T12:00"),
            jurisdiction=jurisdiction,
            settings=resolved_settings(jurisdiction),
            documents=ctx.documents,
            action="record_meeting",
            decision=decision,
        )
        submission = session.exec(
            select(DiscussionSubmission).order_by(col(DiscussionSubmission.id).desc())
        ).first()
        assert submission is not None
        violation = draft_unchanged_since_submission(tx, submission)
        session.rollback()
    return None if violation is None else f"{violation.rule_id}: {violation.en}"


def test_a_revision_after_the_submission_is_caught_at_the_meeting(ctx: ServiceContext) -> None:
    district(ctx)
    reviewed(ctx)
    submit(ctx)
    assert meeting_check(ctx) is None
    revise(ctx, "2026-04-13T09:00", DRAFT_2, "会前调整")
    found = meeting_check(ctx)
    assert found is not None and found.startswith("R12") and "covers draft 2" in found
    act(ctx, "confirm_revision", "wang", "2026-04-13T10:00", decision="D1", reason="不涉及合法性")
    found = meeting_check(ctx)
    assert found is not None and "submit it again" in found
    submit(ctx, "2026-04-13T11:00")  # the discussion stage is active: a new package is accepted
    assert meeting_check(ctx) is None
