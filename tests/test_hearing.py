"""Hearings (Arts. 16-17, P4): announcement, registration, the reproducible draw, the
participant list, materials, the signed record, the report and its approval.

The standard hearing is on Thursday 2026-10-15 at 09:30, a week after National Day
(2026-10-01..07 off, Saturday 10-10 a make-up working day). Counting back in calendar
days without rolling (P14): the notice is due 10-05, a holiday, and stays there (only its
reminder moves to 09-30); the list (5 days) is due 10-10, the make-up Saturday; the
materials (7 days) are due 10-08. The draw's seed is made at the draw (Art. 16(2)).
"""

from __future__ import annotations

import hashlib
import random
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session, SQLModel, col, select

from flows.errors import ProcedureError
from flows.service import ServiceContext
from flows.service.hearing import stratified_draw
from models import (
    Deadline,
    Decision,
    EvidenceDocument,
    Hearing,
    HearingRegistration,
    HearingStatement,
    InputResponse,
    StageInstance,
    StageStatus,
)
from models.enums import DeadlineStatus
from tests.helpers import act, district, drafted, participation_done, refused, registered

HEARING_AT = "2026-10-15T09:30"
QUOTAS = {"居民用户": 2, "非居民用户": 1}
HEARING_TABLES = ("hearing", "hearingregistration", "hearingstatement", "evidencedocument", "inputresponse")


# ---------------------------------------------------------------- helpers of this file
def hearing_rows(ctx: ServiceContext) -> dict[str, list[str]]:
    """Every row of the hearing tables, to show a refusal changed none of them."""
    with Session(ctx.engine) as session:
        return {
            name: sorted(
                repr(tuple(row))
                for row in session.connection().execute(select(SQLModel.metadata.tables[name])).all()
            )
            for name in HEARING_TABLES
        }


def refused_here(
    ctx: ServiceContext, rule_id: str, action: str, actor: str, when: str, **payload: Any
) -> ProcedureError:
    """`refused` plus a row-by-row comparison of the hearing tables."""
    before = hearing_rows(ctx)
    error = refused(ctx, rule_id, action, actor, when, **payload)
    assert hearing_rows(ctx) == before
    return error


ANNOUNCE_ARGS: dict[str, Any] = {
    "decision": "D1",
    "ref": "H1",
    "starts_at": HEARING_AT,
    "place": "区政府第一会议室",
    "quotas": QUOTAS,
    "registration_opens": "2026-09-14",
    "registration_closes": "2026-09-29",
    "selection_method": "报名人数超过名额的，按利益群体分层公开抽签",
}


def announce(ctx: ServiceContext, when: str = "2026-09-14T09:00", **overrides: Any) -> dict[str, Any]:
    return act(ctx, "announce_hearing", "li", when, **{**ANNOUNCE_ARGS, **overrides}).data


PEOPLE = [  # (the code the system gives, name, group), in registration order
    ("H1-R1", "张三", "居民用户"),
    ("H1-R2", "李四", "居民用户"),
    ("H1-R3", "王五", "居民用户"),
    ("H1-R4", "赵六", "居民用户"),
    ("H1-R5", "钱七", "居民用户"),
    ("H1-R6", "某餐饮店", "非居民用户"),
    ("H1-R7", "某宾馆", "非居民用户"),
    ("H1-R8", "某洗衣店", "非居民用户"),
]
SEED = "3f1c-公证处现场摇号-0427"  # a public value given at the draw


def register_people(ctx: ServiceContext, hearing: str = "H1", day: str = "2026-09-20") -> None:
    for i, (code, name, group) in enumerate(PEOPLE):
        result = act(
            ctx,
            "register_for_hearing",
            "public",
            f"{day}T{10 + i:02d}:00",
            decision="D1",
            hearing=hearing,
            name=name,
            contact=f"1380000{i:04d}",
            interest_group=group,
        )
        if hearing == "H1":
            assert result.data["registration"] == code


def selected_codes(ctx: ServiceContext, hearing: str = "H1") -> dict[str, set[str]]:
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(HearingRegistration)
            .join(Hearing, col(Hearing.id) == HearingRegistration.hearing_id)
            .where(Hearing.code == hearing, col(HearingRegistration.selected).is_(True))
        ).all()
        result: dict[str, set[str]] = {}
        for row in rows:
            result.setdefault(row.interest_group, set()).add(row.code)
        return result


def deadline(ctx: ServiceContext, kind: str, subject_ref: str = "H1") -> Deadline:
    with Session(ctx.engine) as session:
        return session.exec(
            select(Deadline)
            .where(Deadline.kind == kind, Deadline.subject_ref == subject_ref)
            .order_by(col(Deadline.id).desc())
        ).one()


def stage_status(ctx: ServiceContext, stage: str = "hearing", decision: str = "D1") -> StageStatus:
    with Session(ctx.engine) as session:
        row = session.exec(
            select(StageInstance)
            .join(Decision, col(Decision.id) == StageInstance.decision_id)
            .where(Decision.code == decision, StageInstance.stage == stage)
        ).one()
        return row.status


def evidence_count(ctx: ServiceContext, kind: str) -> int:
    with Session(ctx.engine) as session:
        return len(session.exec(select(EvidenceDocument.id).where(EvidenceDocument.kind == kind)).all())


def evidence_text(ctx: ServiceContext, kind: str) -> str:
    with Session(ctx.engine) as session:
        row = session.exec(
            select(EvidenceDocument)
            .where(EvidenceDocument.kind == kind)
            .order_by(col(EvidenceDocument.id).desc())
        ).first()
        assert row is not None
        return ctx.documents.get(row.sha256).decode()


def drawn(ctx: ServiceContext, flags: list[str] | None = None) -> None:
    """A hearing-required decision with H1 announced, registrations and the draw on 09-30."""
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"] if flags is None else flags)
    announce(ctx)
    register_people(ctx)
    act(
        ctx,
        "select_hearing_participants",
        "li",
        "2026-09-30T09:00",
        decision="D1",
        hearing="H1",
        public_value=SEED,
        public_value_source="区公证处2026-09-30现场摇号",
    )


def answer_all(ctx: ServiceContext, when: str = "2026-10-15T16:00") -> None:
    """Art. 18: answer every statement of the standard record (S1, H1-S2)."""
    for code, outcome in (("S1", "adopted"), ("H1-S2", "not_adopted")):
        act(
            ctx,
            "respond_to_input",
            "li",
            when,
            decision="D1",
            input=code,
            input_kind="hearing_statement",
            outcome=outcome,
            reason=f"{code}的研究理由",
        )


def listed(ctx: ServiceContext) -> None:
    drawn(ctx)
    act(ctx, "publish_participant_list", "li", "2026-09-30T10:00", decision="D1", hearing="H1")


def delivered(ctx: ServiceContext) -> None:
    listed(ctx)
    act(
        ctx,
        "deliver_hearing_materials",
        "li",
        "2026-09-30T16:00",
        decision="D1",
        hearing="H1",
        delivered_on="2026-09-30",
    )


def all_participants(ctx: ServiceContext) -> list[str]:
    return sorted(code for codes in selected_codes(ctx).values() for code in codes)


def record(ctx: ServiceContext, when: str = "2026-10-15T12:00", **overrides: Any) -> Any:
    payload: dict[str, Any] = {
        "decision": "D1",
        "hearing": "H1",
        "held_on": "2026-10-15",
        "signed_by": all_participants(ctx),
        "statements": [
            {"ref": "S1", "speaker": "张三", "text": "建议阶梯气价第一档扩大"},
            {"speaker": "某餐饮店", "text": "非居民价格上调幅度过大"},
        ],
        "record": "听证会按程序进行，承办单位说明草案，参加人陈述意见并质证辩论。",
    }
    payload.update(overrides)
    return act(ctx, "record_hearing", "li", when, **payload)


# ---------------------------------------------------------------- announcement, P4, R2
def test_announce_counts_lead_times_back_in_calendar_days_across_national_day(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    assert stage_status(ctx) == StageStatus.pending
    result = announce(ctx)
    assert result["hearing_day"] == "2026-10-15"
    notice = deadline(ctx, "hearing_notice")
    roster = deadline(ctx, "hearing_participant_list")
    materials = deadline(ctx, "hearing_materials")
    # 10 days before is 10-05, inside the holiday: it stays the latest day (P14, no rolling)
    assert notice.due_date == date(2026, 10, 5) and notice.status == DeadlineStatus.met
    # 5 days before is Saturday 10-10, a make-up working day: it stays
    assert roster.due_date == date(2026, 10, 10) and roster.status == DeadlineStatus.open
    # 7 calendar days, not working days (which would reach back to 09-30)
    assert materials.due_date == date(2026, 10, 8) and materials.status == DeadlineStatus.open
    assert {notice.direction, roster.direction, materials.direction} == {-1}
    assert stage_status(ctx) == StageStatus.active
    assert evidence_count(ctx, "hearing_notice") == 1
    method = evidence_text(ctx, "selection_method")
    assert "SHA-256" in method and "the seed is made and published at the draw" in method


def test_a_late_notice_is_refused_with_p4_and_the_boundary_day_is_accepted(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    # the 10-05 due date (not rolled, P14): announcing on 10-06 is nine days ahead
    error = refused_here(
        ctx,
        "P4",
        "announce_hearing",
        "li",
        "2026-10-06T09:00",
        **{**ANNOUNCE_ARGS, "registration_opens": "2026-10-06", "registration_closes": "2026-10-07"},
    )
    assert error.field == "starts_at" and "2026-10-05" in error.message_en
    assert "10 days before the hearing" in error.message_en and "10日前" in error.message_zh
    # the last admissible day, a holiday, late in the evening
    announce(ctx, "2026-10-05T21:00", registration_opens="2026-10-05", registration_closes="2026-10-07")
    assert deadline(ctx, "hearing_notice").status == DeadlineStatus.met


def test_the_notice_lead_time_follows_the_jurisdiction_setting(ctx: ServiceContext) -> None:
    district(ctx, settings={"hearing_notice_days": 15})
    drafted(ctx, flags=["hearing_required_by_law"])
    # 15 days before 10-19 is 10-04 (a holiday, not rolled); ten days' notice on 10-09 is not enough
    error = refused_here(
        ctx,
        "P4",
        "announce_hearing",
        "li",
        "2026-10-09T09:00",
        **{
            **ANNOUNCE_ARGS,
            "starts_at": "2026-10-19T09:30",
            "registration_opens": "2026-10-09",
            "registration_closes": "2026-10-12",
        },
    )
    assert error.field == "starts_at" and "2026-10-04" in error.message_en
    assert "15 days before the hearing" in error.message_en


def test_registration_must_open_with_the_notice_and_close_before_list_and_materials(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    # registration opening after the notice's latest day (10-05, not rolled: P14)
    late_open = {**ANNOUNCE_ARGS, "registration_opens": "2026-10-06", "registration_closes": "2026-10-07"}
    error = refused_here(ctx, "P4", "announce_hearing", "li", "2026-09-14T09:00", **late_open)
    assert error.field == "registration_opens" and "2026-10-05" in error.message_en
    past_list = {**ANNOUNCE_ARGS, "registration_closes": "2026-10-10"}
    error = refused_here(ctx, "P4", "announce_hearing", "li", "2026-09-14T09:00", **past_list)
    assert error.field == "registration_closes" and "2026-10-10" in error.message_en
    past_materials = {**ANNOUNCE_ARGS, "registration_closes": "2026-10-08"}
    error = refused_here(ctx, "R5", "announce_hearing", "li", "2026-09-14T09:00", **past_materials)
    assert error.field == "registration_closes" and "2026-10-08" in error.message_en
    refused_here(
        ctx, "INPUT", "announce_hearing", "li", "2026-09-14T09:00", **{**ANNOUNCE_ARGS, "quotas": {}}
    )
    refused_here(
        ctx, "INPUT", "announce_hearing", "li", "2026-09-14T09:00", **{**ANNOUNCE_ARGS, "quotas": {"居民": 0}}
    )
    assert stage_status(ctx) == StageStatus.pending


def test_a_confidential_decision_cannot_announce_a_hearing(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential", "hearing_required_by_law"])
    refused_here(ctx, "R2", "announce_hearing", "li", "2026-09-14T09:00", **ANNOUNCE_ARGS)


def test_no_hearing_before_the_draft(ctx: ServiceContext) -> None:
    district(ctx)
    registered(ctx, flags=["hearing_required_by_law"])
    refused_here(ctx, "STATE", "announce_hearing", "li", "2026-09-14T09:00", **ANNOUNCE_ARGS)
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    refused_here(ctx, "ORDER", "announce_hearing", "li", "2026-09-14T09:00", **ANNOUNCE_ARGS)


def test_a_discretionary_hearing_takes_up_the_stage_and_then_blocks_legality_review(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    assert stage_status(ctx) == StageStatus.not_required
    announce(ctx)
    assert stage_status(ctx) == StageStatus.active
    refused_here(
        ctx,
        "R5",
        "submit_for_legality_review",
        "li",
        "2026-09-15T09:00",
        decision="D1",
        procedures_statement="x",
    )


def test_only_the_public_registers_and_only_departments_announce(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    refused_here(ctx, "AUTH", "announce_hearing", "public", "2026-09-14T09:00", **ANNOUNCE_ARGS)
    refused_here(ctx, "AUTH", "announce_hearing", "sun", "2026-09-14T09:00", **ANNOUNCE_ARGS)
    announce(ctx)
    refused_here(
        ctx,
        "AUTH",
        "register_for_hearing",
        "li",
        "2026-09-15T09:00",
        decision="D1",
        hearing="H1",
        name="李",
        contact="x",
        interest_group="居民用户",
    )


# ---------------------------------------------------------------- registration
def test_registration_only_inside_the_window_and_for_an_announced_group(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx, registration_opens="2026-09-16")
    person = {
        "decision": "D1",
        "hearing": "H1",
        "name": "张三",
        "contact": "138",
        "interest_group": "居民用户",
    }
    refused_here(ctx, "STATE", "register_for_hearing", "public", "2026-09-15T23:59", **person)
    refused_here(
        ctx,
        "INPUT",
        "register_for_hearing",
        "public",
        "2026-09-16T09:00",
        **{**person, "interest_group": "专家"},
    )
    result = act(ctx, "register_for_hearing", "public", "2026-09-16T00:00", **person)
    assert result.data["registration"] == "H1-R1"
    refused_here(ctx, "INPUT", "register_for_hearing", "public", "2026-09-17T09:00", **person)
    act(ctx, "register_for_hearing", "public", "2026-09-29T23:59", **{**person, "name": "李四"})
    refused_here(
        ctx, "STATE", "register_for_hearing", "public", "2026-09-30T00:00", **{**person, "name": "王五"}
    )


# ---------------------------------------------------------------- the draw
def test_the_draw_is_reproducible_by_anyone_from_the_published_seed(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    register_people(ctx)
    refused_here(ctx, "R5", "select_hearing_participants", "li", "2026-09-29T18:00", decision="D1")
    result = act(ctx, "select_hearing_participants", "li", "2026-09-30T09:00", decision="D1", hearing="H1")
    # made at the draw by the system, and published in the draw record (Art. 16(2))
    seed = result.data["seed"]
    assert len(seed) == 32 and seed not in evidence_text(ctx, "hearing_notice")
    assert seed not in evidence_text(ctx, "selection_method")
    assert f"seed: {seed}" in evidence_text(ctx, "hearing_draw")

    # an outsider's recomputation, from the published seed and the registration codes only
    def outsider(group: str, quota: int) -> set[str]:
        codes = [ref for ref, _, g in PEOPLE if g == group]
        codes.sort(key=lambda code: hashlib.sha256(f"{seed}:{code}".encode()).hexdigest())
        return set(codes[:quota])

    expected = {group: outsider(group, quota) for group, quota in QUOTAS.items()}
    assert selected_codes(ctx) == expected
    assert {g: len(c) for g, c in selected_codes(ctx).items()} == QUOTAS
    assert {g: sorted(c) for g, c in result.data["selected"].items()} == {
        g: sorted(c) for g, c in expected.items()
    }
    refused_here(ctx, "STATE", "select_hearing_participants", "li", "2026-09-30T09:10", decision="D1")


def test_the_draw_does_not_depend_on_registration_order_but_on_the_seed() -> None:
    registrations = [(ref, group) for ref, _, group in PEOPLE]
    ranking = stratified_draw(SEED, QUOTAS, registrations)
    shuffled = registrations[:]
    random.Random(7).shuffle(shuffled)
    assert stratified_draw(SEED, QUOTAS, shuffled) == ranking
    assert stratified_draw(SEED, QUOTAS, reversed(registrations)) == ranking
    other = stratified_draw(SEED + "-other", QUOTAS, registrations)
    assert other != ranking and sorted(other["居民用户"]) == sorted(ranking["居民用户"])
    assert stratified_draw(SEED, {"专家": 1}, [])["专家"] == []


def test_a_public_value_given_at_the_draw_needs_its_source(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    register_people(ctx)
    error = refused_here(
        ctx,
        "INPUT",
        "select_hearing_participants",
        "li",
        "2026-09-30T09:00",
        decision="D1",
        public_value="0427",
    )
    assert error.field == "public_value_source"
    # the old way, a seed chosen with the notice, no longer exists
    refused_here(
        ctx, "INPUT", "select_hearing_participants", "li", "2026-09-30T09:00", decision="D1", seed="x"
    )
    result = act(
        ctx,
        "select_hearing_participants",
        "li",
        "2026-09-30T09:00",
        decision="D1",
        public_value=SEED,
        public_value_source="区公证处现场摇号",
    )
    assert result.data["seed"] == SEED
    assert "区公证处现场摇号" in evidence_text(ctx, "hearing_draw")


def test_a_draw_with_nobody_registered_is_refused(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    refused_here(ctx, "R5", "select_hearing_participants", "li", "2026-09-30T09:00", decision="D1")


# ---------------------------------------------------------------- the list (P4)
def test_the_list_comes_after_the_draw(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    register_people(ctx)
    refused_here(ctx, "R5", "publish_participant_list", "li", "2026-09-30T09:00", decision="D1")


@pytest.mark.parametrize(("when", "rule"), [("2026-10-10T20:00", None), ("2026-10-11T09:00", "P4")])
def test_the_list_is_due_five_calendar_days_before(ctx: ServiceContext, when: str, rule: str | None) -> None:
    drawn(ctx)
    if rule is None:
        act(ctx, "publish_participant_list", "li", when, decision="D1")
        assert deadline(ctx, "hearing_participant_list").status == DeadlineStatus.met
        text = evidence_text(ctx, "participant_list")
        assert SEED in text and "区公证处" in text
        for code in all_participants(ctx):
            assert code in text
    else:
        refused_here(ctx, rule, "publish_participant_list", "li", when, decision="D1")
        assert evidence_count(ctx, "participant_list") == 0


# ---------------------------------------------------------------- materials (R5, T2)
def test_materials_need_the_published_list(ctx: ServiceContext) -> None:
    drawn(ctx)
    refused_here(
        ctx,
        "R5",
        "deliver_hearing_materials",
        "li",
        "2026-09-30T12:00",
        decision="D1",
        delivered_on="2026-09-30",
    )


@pytest.mark.parametrize(
    ("delivered_on", "rule"), [("2026-10-08", None), ("2026-10-09", "R5"), ("2026-10-14", "R5")]
)
def test_materials_are_due_seven_calendar_days_before(
    ctx: ServiceContext, delivered_on: str, rule: str | None
) -> None:
    listed(ctx)
    when = f"{delivered_on}T17:00"
    if rule is None:
        act(ctx, "deliver_hearing_materials", "li", when, decision="D1", delivered_on=delivered_on)
        assert deadline(ctx, "hearing_materials").status == DeadlineStatus.met
    else:
        error = refused_here(
            ctx, rule, "deliver_hearing_materials", "li", when, decision="D1", delivered_on=delivered_on
        )
        assert error.field == "delivered_on" and "2026-10-08" in error.message_en
        assert "7 days before the hearing" in error.message_en


def test_materials_counted_in_working_days_where_the_jurisdiction_says_so(ctx: ServiceContext) -> None:
    district(ctx, settings={"hearing_materials_unit": "working"})
    drafted(ctx, flags=["hearing_required_by_law"])
    # 7 working days before 10-15: 10-14, 13, 12, 10 (make-up Saturday), 09, 08, 09-30
    announce(ctx, registration_closes="2026-09-28")
    assert deadline(ctx, "hearing_materials").due_date == date(2026, 9, 30)
    register_people(ctx)
    act(ctx, "select_hearing_participants", "li", "2026-09-29T09:00", decision="D1")
    act(ctx, "publish_participant_list", "li", "2026-09-29T10:00", decision="D1")
    refused_here(
        ctx,
        "R5",
        "deliver_hearing_materials",
        "li",
        "2026-10-08T09:00",
        decision="D1",
        delivered_on="2026-10-08",
    )


def test_a_delivery_date_in_the_future_is_bad_input(ctx: ServiceContext) -> None:
    listed(ctx)
    refused_here(
        ctx,
        "INPUT",
        "deliver_hearing_materials",
        "li",
        "2026-09-30T12:00",
        decision="D1",
        delivered_on="2026-10-01",
    )


# ---------------------------------------------------------------- the record (R5, Art. 17)
def test_the_record_needs_the_list_and_the_materials(ctx: ServiceContext) -> None:
    drawn(ctx)
    payload = {"decision": "D1", "held_on": "2026-10-15", "signed_by": ["P1"], "record": "记录"}
    error = refused_here(ctx, "R5", "record_hearing", "li", "2026-10-15T12:00", **payload)
    assert "participant list" in error.message_en
    act(ctx, "publish_participant_list", "li", "2026-10-01T10:00", decision="D1")
    error = refused_here(ctx, "R5", "record_hearing", "li", "2026-10-15T12:00", **payload)
    assert "materials" in error.message_en


def test_every_selected_participant_must_sign_the_record(ctx: ServiceContext) -> None:
    delivered(ctx)
    participants = all_participants(ctx)
    missing_one = participants[1:]
    error = refused_here(
        ctx,
        "R5",
        "record_hearing",
        "li",
        "2026-10-15T12:00",
        decision="D1",
        held_on="2026-10-15",
        signed_by=[*missing_one, "主持人"],
        record="记录",
    )
    assert error.field == "signed_by" and participants[0] in error.message_en
    refused_here(
        ctx,
        "R5",
        "record_hearing",
        "li",
        "2026-10-15T12:00",
        decision="D1",
        held_on="2026-10-15",
        record="记录",
    )
    # a participant may sign with their name instead of the registration code
    with Session(ctx.engine) as session:
        names = dict(session.exec(select(HearingRegistration.code, HearingRegistration.name)).all())
    result = record(ctx, signed_by=[names[participants[0]], *missing_one])
    assert result.data["statements"] == ["S1", "H1-S2"]


def test_the_record_is_of_the_announced_hearing_after_it_started(ctx: ServiceContext) -> None:
    delivered(ctx)
    with pytest.raises(ProcedureError) as early:
        record(ctx, when="2026-10-15T09:00")
    assert early.value.rule_id == "R5"  # Art. 17: no record of a hearing not yet held
    payload = {
        "decision": "D1",
        "held_on": "2026-10-14",
        "signed_by": all_participants(ctx),
        "record": "记录",
    }
    refused_here(ctx, "R5", "record_hearing", "li", "2026-10-15T12:00", **payload)
    record(ctx)
    with pytest.raises(ProcedureError) as twice:
        record(ctx, when="2026-10-15T13:00", statements=[])
    assert twice.value.rule_id == "STATE"


# ---------------------------------------------------------------- report, approval, legality review
def test_the_report_needs_a_signed_record(ctx: ServiceContext) -> None:
    delivered(ctx)
    refused_here(ctx, "R5", "submit_hearing_report", "li", "2026-10-16T09:00", decision="D1", report="报告")


def test_happy_path_to_an_approved_hearing_and_on_to_legality_review(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    participation_done(ctx)
    statement = {"decision": "D1", "procedures_statement": "已公开征求意见并举行听证"}
    # a hearing the law requires was never held (Art. 16(1))
    refused_here(ctx, "R5", "submit_for_legality_review", "li", "2026-09-01T09:00", **statement)

    announce(ctx)
    register_people(ctx)
    act(ctx, "select_hearing_participants", "li", "2026-09-30T09:00", decision="D1")
    act(ctx, "publish_participant_list", "li", "2026-09-30T10:00", decision="D1")
    act(ctx, "deliver_hearing_materials", "li", "2026-10-08T16:00", decision="D1", delivered_on="2026-10-08")
    record(ctx)
    refused_here(ctx, "R5", "submit_for_legality_review", "li", "2026-10-15T15:00", **statement)
    # Art. 18: the statements are answered before the stage ends
    answer_all(ctx)

    result = act(ctx, "submit_hearing_report", "li", "2026-10-16T09:00", decision="D1", report="听证报告正文")
    assert result.data["status"] == "awaiting_approval"
    assert stage_status(ctx) == StageStatus.awaiting_approval
    # approval is still missing
    refused_here(ctx, "R5", "submit_for_legality_review", "li", "2026-10-16T10:00", **statement)
    # nothing more may be done to the hearing while it awaits approval
    refused_here(
        ctx, "STATE", "submit_hearing_report", "li", "2026-10-16T10:30", decision="D1", report="再报"
    )

    act(ctx, "approve_stage", "wang", "2026-10-19T09:00", decision="D1", stage="hearing")
    assert stage_status(ctx) == StageStatus.completed
    for kind in (
        "hearing_notice",
        "selection_method",
        "hearing_draw",
        "participant_list",
        "materials_delivery",
        "hearing_record",
        "hearing_report",
        "hearing_answers",
    ):
        assert evidence_count(ctx, kind) == 1, kind
    participants = all_participants(ctx)
    with Session(ctx.engine) as session:
        hearing = session.exec(select(Hearing)).one()
        assert hearing.status == "reported" and hearing.held_on == date(2026, 10, 15)
        assert sorted(hearing.record_signed_by) == participants
        assert sorted(session.exec(select(HearingStatement.code)).all()) == ["H1-S2", "S1"]
        statuses = {
            d.kind: d.status for d in session.exec(select(Deadline).where(Deadline.subject_ref == "H1"))
        }
    assert statuses == {
        "hearing_notice": DeadlineStatus.met,
        "hearing_participant_list": DeadlineStatus.met,
        "hearing_materials": DeadlineStatus.met,
    }
    # hearing statements are inputs answered under Art. 18, before the report
    with Session(ctx.engine) as session:
        assert sorted(session.exec(select(InputResponse.input_code)).all()) == ["H1-S2", "S1"]
    act(ctx, "submit_for_legality_review", "li", "2026-10-19T11:00", **statement)
    assert stage_status(ctx, "legality_review") == StageStatus.active


def test_a_returned_report_may_be_revised_and_resubmitted(ctx: ServiceContext) -> None:
    delivered(ctx)
    record(ctx)
    answer_all(ctx)
    act(ctx, "submit_hearing_report", "li", "2026-10-16T09:00", decision="D1", report="报告")
    act(
        ctx,
        "return_stage",
        "wang",
        "2026-10-16T15:00",
        decision="D1",
        stage="hearing",
        reason="未载明采纳情况",
    )
    assert stage_status(ctx) == StageStatus.returned
    act(ctx, "submit_hearing_report", "li", "2026-10-17T09:00", decision="D1", report="报告（修改）")
    assert stage_status(ctx) == StageStatus.awaiting_approval
    assert evidence_count(ctx, "hearing_report") == 2


# ---------------------------------------------------------------- postponement
def test_a_hearing_not_held_is_postponed_only_by_a_new_notice_that_names_it(ctx: ServiceContext) -> None:
    listed(ctx)
    refused_here(
        ctx,
        "R5",
        "deliver_hearing_materials",
        "li",
        "2026-10-09T09:00",
        decision="D1",
        delivered_on="2026-10-09",
    )
    new_hearing = {
        **ANNOUNCE_ARGS,
        "ref": "H2",
        "starts_at": "2026-10-29T09:30",
        "registration_opens": "2026-10-09",
        "registration_closes": "2026-10-16",
    }
    refused_here(ctx, "STATE", "announce_hearing", "li", "2026-10-09T10:00", **new_hearing)
    data = act(ctx, "announce_hearing", "li", "2026-10-09T10:00", **new_hearing, replaces="H1").data
    # Saturday 10-24 is an ordinary rest day: the list is still due that day (P14)
    assert (data["notice_due"], data["list_due"], data["materials_due"]) == (
        "2026-10-19",
        "2026-10-24",
        "2026-10-22",
    )
    with Session(ctx.engine) as session:
        old = session.exec(select(Hearing).where(Hearing.code == "H1")).one()
        assert (old.status, old.replaced_by) == ("postponed", "H2")
    assert deadline(ctx, "hearing_materials", "H1").status == DeadlineStatus.cancelled
    refused_here(
        ctx,
        "STATE",
        "deliver_hearing_materials",
        "li",
        "2026-10-09T11:00",
        decision="D1",
        hearing="H1",
        delivered_on="2026-10-09",
    )
    person = {"decision": "D1", "name": "张三", "contact": "138", "interest_group": "居民用户"}
    refused_here(ctx, "STATE", "register_for_hearing", "public", "2026-10-10T09:00", hearing="H1", **person)
    act(ctx, "register_for_hearing", "public", "2026-10-10T09:00", hearing="H2", **person)
