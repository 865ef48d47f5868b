"""The hearing and notice rulings (Arts. 15-18): statements answered before the hearing stage
ends, refusals to sign named in the record, the draft in the notice, the draw seed made at
the draw, system-made public codes, lead times counted back without rolling (P14) and comment
notices that state their actual last day and urgent reason.

Unless a test says otherwise the hearing is the one of tests/test_hearing.py: Thursday
2026-10-15, National Day 10-01..07 off, Saturday 10-10 a make-up working day.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, col, select

from flows.calendar import SHANGHAI
from flows.scenario import sweep_until
from flows.service import ServiceContext
from models import (
    CommentPeriod,
    Deadline,
    Hearing,
    HearingRegistration,
    Notification,
    PublicComment,
    User,
)
from models.enums import DeadlineStatus
from tests.helpers import act, at, district, drafted, refused
from tests.test_hearing import (
    ANNOUNCE_ARGS,
    SEED,
    all_participants,
    announce,
    answer_all,
    deadline,
    delivered,
    drawn,
    evidence_count,
    evidence_text,
    record,
    register_people,
    stage_status,
)


def hearing_row(ctx: ServiceContext, code: str = "H1") -> Hearing:
    with Session(ctx.engine) as session:
        return session.exec(select(Hearing).where(Hearing.code == code)).one()


# ---------------------------------------------------------------- Art. 18: every statement answered first
def test_the_report_is_refused_while_a_hearing_statement_is_unanswered(ctx: ServiceContext) -> None:
    delivered(ctx)
    record(ctx)  # statements S1 and H1-S2
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-10-15T15:00",
        decision="D1",
        input="S1",
        input_kind="hearing_statement",
        outcome="adopted",
        reason="第一档气量扩大10%",
    )
    error = refused(
        ctx, "R5", "submit_hearing_report", "li", "2026-10-16T09:00", decision="D1", report="报告"
    )
    assert "H1-S2" in error.message_en and "S1," not in error.message_en
    assert evidence_count(ctx, "hearing_report") == 0 and evidence_count(ctx, "hearing_answers") == 0
    assert hearing_row(ctx).status == "held"


def test_the_report_and_the_answers_are_stored_for_the_discussion_package(ctx: ServiceContext) -> None:
    delivered(ctx)
    record(ctx)
    answer_all(ctx)
    result = act(ctx, "submit_hearing_report", "li", "2026-10-16T09:00", decision="D1", report="听证报告正文")
    assert result.data["status"] == "awaiting_approval"
    answers = evidence_text(ctx, "hearing_answers")
    assert "[S1] 张三：建议阶梯气价第一档扩大" in answers and "采纳 / adopted：S1的研究理由" in answers
    assert "[H1-S2] 某餐饮店" in answers and "不采纳 / not_adopted：H1-S2的研究理由" in answers
    report = evidence_text(ctx, "hearing_report")
    assert report.startswith("听证报告正文") and answers in report
    assert hearing_row(ctx).status == "reported"


def test_a_hearing_without_statements_reports_that_none_were_made(ctx: ServiceContext) -> None:
    delivered(ctx)
    record(ctx, statements=[])
    act(ctx, "submit_hearing_report", "li", "2026-10-16T09:00", decision="D1", report="报告")
    assert "no statements were made" in evidence_text(ctx, "hearing_answers")


# ---------------------------------------------------------------- Art. 17: refusing to sign
def test_a_participant_must_sign_or_be_named_as_refusing_but_not_both(ctx: ServiceContext) -> None:
    delivered(ctx)
    participants = all_participants(ctx)
    first, rest = participants[0], participants[1:]
    base: dict[str, Any] = {"decision": "D1", "held_on": "2026-10-15", "record": "记录"}
    # in both lists
    error = refused(
        ctx,
        "R5",
        "record_hearing",
        "li",
        "2026-10-15T12:00",
        **base,
        signed_by=participants,
        refused_to_sign=[{"participant": first, "reason": "拒绝签字"}],
    )
    assert error.field == "refused_to_sign" and first in error.message_en
    # in neither
    error = refused(ctx, "R5", "record_hearing", "li", "2026-10-15T12:00", **base, signed_by=rest)
    assert error.field == "signed_by" and first in error.message_en
    # someone who is not a participant cannot be recorded as refusing
    error = refused(
        ctx,
        "INPUT",
        "record_hearing",
        "li",
        "2026-10-15T12:00",
        **base,
        signed_by=participants,
        refused_to_sign=[{"participant": "旁听人员甲", "reason": "拒绝签字"}],
    )
    assert error.field == "refused_to_sign.0.participant"
    # a reason is required
    refused(
        ctx,
        "INPUT",
        "record_hearing",
        "li",
        "2026-10-15T12:00",
        **base,
        signed_by=rest,
        refused_to_sign=[{"participant": first, "reason": ""}],
    )


def test_the_record_names_a_participant_who_refused_to_sign(ctx: ServiceContext) -> None:
    delivered(ctx)
    participants = all_participants(ctx)
    first, rest = participants[0], participants[1:]
    with Session(ctx.engine) as session:
        name = session.exec(select(HearingRegistration.name).where(HearingRegistration.code == first)).one()
    # named by name, as signers may be
    record(
        ctx, signed_by=rest, refused_to_sign=[{"participant": name, "reason": "对记录第3条有异议，拒绝签字"}]
    )
    hearing = hearing_row(ctx)
    assert hearing.status == "held"
    assert hearing.record_not_signed == [{"participant": first, "reason": "对记录第3条有异议，拒绝签字"}]
    text = evidence_text(ctx, "hearing_record")
    assert (
        f"以下参加人拒绝签字或未签字，本记录予以载明：{first} {name}（对记录第3条有异议，拒绝签字）" in text
    )
    signed_line = next(line for line in text.splitlines() if line.startswith("参加人确认签字"))
    assert first not in signed_line and all(code in signed_line for code in rest)


# ---------------------------------------------------------------- Art. 16(2): the draft in the notice
def test_a_notice_without_the_draft_explanation_or_a_link_is_refused(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    # the current draft (version 2) has no explanation
    act(ctx, "revise_draft", "li", "2026-09-01T09:00", decision="D1", draft="草案第二稿", reason="吸收意见")
    error = refused(ctx, "R5", "announce_hearing", "li", "2026-09-14T09:00", **ANNOUNCE_ARGS)
    assert error.field == "draft_link"
    refused(
        ctx, "INPUT", "announce_hearing", "li", "2026-09-14T09:00", **ANNOUNCE_ARGS, draft_link="草案见网站"
    )
    link = "https://www.zhxz.gov.cn/hearing/H1/draft-2.html"
    announce(ctx, draft_link=link)
    notice = evidence_text(ctx, "hearing_notice")
    assert link in notice and "第2稿" in notice
    assert hearing_row(ctx).draft_link == link


def test_the_notice_carries_the_current_draft_and_its_explanation(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx, notice="关于召开管道燃气价格听证会的公告（自拟）")
    notice = evidence_text(ctx, "hearing_notice")
    assert notice.startswith("关于召开管道燃气价格听证会的公告（自拟）")
    assert "附件一：决策草案（第1稿" in notice and "\n草案\n" in notice
    assert "附件二：起草说明（第1稿）\n起草说明" in notice


# ---------------------------------------------------------------- Art. 16(2): the seed and the public's codes
def test_the_seed_is_not_chosen_with_the_notice_and_the_public_does_not_choose_codes(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    error = refused(ctx, "INPUT", "announce_hearing", "li", "2026-09-14T09:00", **ANNOUNCE_ARGS, seed="abc")
    assert error.field == "seed"
    announce(ctx)
    person = {
        "decision": "D1",
        "hearing": "H1",
        "name": "张三",
        "contact": "138",
        "interest_group": "居民用户",
    }
    error = refused(ctx, "INPUT", "register_for_hearing", "public", "2026-09-15T09:00", **person, ref="H1-R1")
    assert error.field == "ref"
    act(ctx, "open_comment_period", "li", "2026-09-15T09:00", decision="D1", start_date="2026-09-15",
        end_date="2026-10-15", channels=["website"])  # fmt: skip
    error = refused(
        ctx,
        "INPUT",
        "submit_public_comment",
        "public",
        "2026-09-16T09:00",
        decision="D1",
        text="意见",
        ref="C9",
    )
    assert error.field == "ref"


def test_the_system_numbers_registrations_and_comments_skipping_codes_taken(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    act(ctx, "open_comment_period", "li", "2026-09-15T09:00", decision="D1", start_date="2026-09-15",
        end_date="2026-10-15", channels=["website"])  # fmt: skip
    # codes from before this rule, written when the caller could choose them
    hearing = hearing_row(ctx)
    with Session(ctx.engine) as session:
        period = session.exec(select(CommentPeriod)).one()
        session.add(
            HearingRegistration(
                hearing_id=hearing.id or 0,
                code="H1-R2",
                name="旧数据",
                interest_group="居民用户",
                registered_at=at("2026-09-15T08:00"),
            )
        )
        session.add(
            PublicComment(
                decision_id=hearing.decision_id,
                period_id=period.id or 0,
                code="C2",
                text="旧数据",
                submitted_at=at("2026-09-15T08:00"),
            )
        )
        session.commit()
    person = {"decision": "D1", "hearing": "H1", "contact": "138", "interest_group": "居民用户"}
    assert act(ctx, "register_for_hearing", "public", "2026-09-16T09:00", **person, name="甲").data == {
        "registration": "H1-R3",
        "hearing": "H1",
    }
    second = act(ctx, "register_for_hearing", "public", "2026-09-16T10:00", **person, name="乙")
    assert second.data["registration"] == "H1-R4"
    # comments count on from the decision's counter, which the row written behind it left at 0
    comment = {"decision": "D1", "text": "意见"}
    assert act(ctx, "submit_public_comment", "public", "2026-09-16T09:00", **comment).data == {
        "comment": "C1"
    }
    assert act(ctx, "submit_public_comment", "public", "2026-09-16T10:00", **comment).data == {
        "comment": "C3"  # C2 is taken
    }


def test_the_seed_is_made_at_the_draw_and_published_so_anyone_can_repeat_it(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    register_people(ctx)
    assert hearing_row(ctx).seed == ""  # nothing chosen before registration closed
    result = act(ctx, "select_hearing_participants", "li", "2026-09-30T09:00", decision="D1")
    seed = result.data["seed"]
    hearing = hearing_row(ctx)
    assert hearing.seed == seed and len(seed) == 32 and "secure random" in hearing.seed_source
    draw = evidence_text(ctx, "hearing_draw")
    assert f"seed: {seed}" in draw and "secure random" in draw
    with Session(ctx.engine) as session:
        rows = session.exec(select(HearingRegistration).order_by(col(HearingRegistration.id))).all()
    for row in rows:
        key = hashlib.sha256(f"{seed}:{row.code}".encode()).hexdigest()
        assert f"#{row.draw_rank} {row.code} {key}" in draw


def test_a_public_value_named_at_the_draw_becomes_the_published_seed(ctx: ServiceContext) -> None:
    drawn(ctx)  # public_value=SEED, from the notary's roll
    hearing = hearing_row(ctx)
    assert hearing.seed == SEED and "区公证处" in hearing.seed_source
    assert SEED in evidence_text(ctx, "hearing_draw")


# ---------------------------------------------------------------- P14: lead times not rolled
def materials_on_national_day(ctx: ServiceContext, settings: dict[str, Any] | None = None) -> None:
    """Hearing on Thursday 2026-10-08: 7 days before is 10-01, National Day (not a working day)."""
    district(ctx, settings=settings)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(
        ctx,
        "2026-09-07T09:00",
        starts_at="2026-10-08T09:30",
        registration_opens="2026-09-07",
        registration_closes="2026-09-25",
    )
    register_people(ctx, day="2026-09-10")
    act(ctx, "select_hearing_participants", "li", "2026-09-28T09:00", decision="D1")
    act(ctx, "publish_participant_list", "li", "2026-09-28T10:00", decision="D1")


def test_p14_delivery_after_the_lead_time_is_refused_even_over_a_holiday(ctx: ServiceContext) -> None:
    materials_on_national_day(ctx)
    assert deadline(ctx, "hearing_materials").due_date == date(2026, 10, 1)
    error = refused(
        ctx,
        "R5",
        "deliver_hearing_materials",
        "li",
        "2026-10-02T10:00",
        decision="D1",
        delivered_on="2026-10-02",
    )
    assert error.field == "delivered_on" and "2026-10-01" in error.message_en
    assert "7 days before the hearing" in error.message_en and "听证会7日前" in error.message_zh


def test_p14_delivery_on_the_holiday_itself_is_in_time_and_the_reminder_came_the_day_before(
    ctx: ServiceContext,
) -> None:
    materials_on_national_day(ctx)
    materials = deadline(ctx, "hearing_materials")
    # not rolled back to 09-30: the day itself counts (P14)
    assert (materials.due_date, materials.roll_to_working_day) == (date(2026, 10, 1), False)
    # the reminder for it goes out on the last working day before, Wednesday 09-30
    sweep_until(ctx, at("2026-10-01T10:00"))
    with Session(ctx.engine) as session:
        reminders = session.exec(
            select(Notification)
            .join(User, col(User.id) == col(Notification.user_id))
            .where(User.code == "li", Notification.deadline_id == materials.id, Notification.point == "due")
        ).all()
    assert [n.scheduled_at.replace(tzinfo=UTC).astimezone(SHANGHAI) for n in reminders] == [
        datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)
    ]
    act(ctx, "deliver_hearing_materials", "li", "2026-10-01T10:00", decision="D1", delivered_on="2026-10-01")
    assert deadline(ctx, "hearing_materials").status == DeadlineStatus.met
    assert hearing_row(ctx).materials_delivered_on == date(2026, 10, 1)


def test_refusals_show_the_configured_number_of_days(ctx: ServiceContext) -> None:
    district(ctx, settings={"hearing_materials_days": 10, "hearing_list_days": 6})
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)  # hearing 10-15: materials by 10-05, list by 10-09, both not rolled
    register_people(ctx)
    act(ctx, "select_hearing_participants", "li", "2026-09-30T09:00", decision="D1")
    error = refused(ctx, "P4", "publish_participant_list", "li", "2026-10-10T09:00", decision="D1")
    assert "2026-10-09" in error.message_en and "6 days before the hearing" in error.message_en
    act(ctx, "publish_participant_list", "li", "2026-10-09T09:00", decision="D1")
    error = refused(
        ctx,
        "R5",
        "deliver_hearing_materials",
        "li",
        "2026-10-09T10:00",
        decision="D1",
        delivered_on="2026-10-09",
    )
    assert "2026-10-05" in error.message_en and "10 days before the hearing" in error.message_en
    assert "听证会10日前" in error.message_zh and "7" not in error.message_en.replace("2026", "")


def test_a_hearing_date_recorded_in_the_future_is_bad_input(ctx: ServiceContext) -> None:
    delivered(ctx)
    payload = {
        "decision": "D1",
        "held_on": "2026-10-16",
        "signed_by": all_participants(ctx),
        "record": "记录",
    }
    error = refused(ctx, "INPUT", "record_hearing", "li", "2026-10-15T12:00", **payload)
    assert error.field == "held_on"
    record(ctx)
    assert stage_status(ctx) == "active"


# ---------------------------------------------------------------- Art. 15: the comment notice
def comment_notice(ctx: ServiceContext) -> str:
    return evidence_text(ctx, "comment_notice")


def test_a_generated_comment_notice_states_the_rolled_last_day(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    # 09-03 + 30 = Saturday 10-03, inside National Day: the period ends on Thursday 10-08 (P2)
    result = act(
        ctx,
        "open_comment_period",
        "li",
        "2026-09-03T09:00",
        decision="D1",
        start_date="2026-09-03",
        end_date="2026-10-03",
        channels=["website"],
    )
    assert result.data["last_day"] == "2026-10-08"
    with Session(ctx.engine) as session:
        due = session.exec(select(Deadline).where(Deadline.kind == "comment_period_end")).one().due_date
    assert due == date(2026, 10, 8)
    text = comment_notice(ctx)
    assert "至2026-10-08（2026-10-03为休息日，顺延至2026-10-08）" in text


def test_a_custom_comment_notice_gets_the_last_day_and_the_urgent_reason_appended(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    drafted(ctx)
    window = {"decision": "D1", "start_date": "2026-09-03", "end_date": "2026-09-13", "channels": ["website"]}
    custom = "关于公开征求防汛应急措施意见的公告"
    # shortened below 30 days without an urgent reason
    error = refused(ctx, "R3", "open_comment_period", "li", "2026-09-03T09:00", **window, notice=custom)
    assert error.field == "urgent_reason"
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-09-03T09:00",
        **window,
        notice=custom,
        urgent_reason="汛期临近",
    )
    # Sunday 09-13 rolls to Monday 09-14
    assert comment_notice(ctx).splitlines() == [
        custom,
        "征求意见截止日期：2026年9月14日24时（2026-09-14，遇休息日已顺延）",
        "缩短期限理由：汛期临近",
    ]


def test_a_custom_comment_notice_that_states_both_is_kept_as_written(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    custom = "公告：意见请于2026年9月14日前提交。因汛期临近，期限缩短。"
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-09-03T09:00",
        decision="D1",
        start_date="2026-09-03",
        end_date="2026-09-13",
        channels=["website"],
        notice=custom,
        urgent_reason="汛期临近",
    )
    assert comment_notice(ctx) == custom


def test_a_changed_comment_period_notice_states_the_new_last_day(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-09-03T09:00",
        decision="D1",
        start_date="2026-09-03",
        end_date="2026-10-03",
        channels=["website"],
    )
    act(
        ctx,
        "extend_deadline",
        "li",
        "2026-09-10T09:00",
        decision="D1",
        kind="comment_period_end",
        new_due="2026-10-10",
        reason="意见较多",
        public_notice="关于延长征求意见期限的公告",
    )
    assert "2026年10月10日24时" in comment_notice(ctx)
