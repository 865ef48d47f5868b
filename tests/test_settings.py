"""R22: jurisdiction settings are known keys with valid values, and a valid override
really changes how the procedure runs (design decision 6)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from flows.errors import ProcedureError
from flows.service import ServiceContext, setup_jurisdiction
from models import Deadline, Decision, Jurisdiction, StageInstance, StageStatus
from tests import guard_tally
from tests.helpers import (
    UNITS,
    USERS,
    act,
    at,
    district,
    drafted,
    legality_lawful,
    participation_done,
    refused,
    snapshot,
)


def setup_refused(ctx: ServiceContext, rule_id: str, settings: dict[str, Any]) -> ProcedureError:
    """Setting up with `settings` is refused with `rule_id`, and nothing is written."""
    before = snapshot(ctx)
    with pytest.raises(ProcedureError) as caught:
        setup_jurisdiction(
            ctx, {"organ": "香洲区人民政府", "settings": settings}, UNITS, USERS, now=at("2026-01-05T09:00")
        )
    assert caught.value.rule_id == rule_id, f"expected {rule_id}, got {caught.value}"
    assert caught.value.article and caught.value.message_zh and caught.value.message_en
    assert snapshot(ctx) == before
    with Session(ctx.engine) as session:
        assert session.exec(select(func.count()).select_from(Jurisdiction)).one() == 0
    guard_tally.record(rule_id)
    return caught.value


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("comment_period_days", 30),  # unknown key (the real one is comment_period_min_days)
        ("comment_period_min_days", "30"),  # wrong type
        ("comment_period_min_days", True),  # a bool is not a number
        ("legality_clock_restarts", "yes"),  # wrong type
        ("stages_needing_legal_approval", "hearing"),  # not a list
        ("publication_channels", [1, 2]),  # not a list of names
        ("hearing_notice_days", -1),  # below the minimum
        ("legality_opinion_due_working_days", 0),  # below the minimum
        ("archive_due_days", 10.5),  # a fractional day count
        ("quorum_fraction", -0.1),  # a quorum outside (0, 1)
        ("quorum_fraction", 0),
        ("quorum_fraction", 1),
        ("publication_channels", []),  # an empty channel list
        ("party_report_order", "whenever"),  # not one of the choices
        ("comment_period_unit", "lunar"),  # not one of the choices
        ("stages_needing_legal_approval", ["public_participation", "lunch"]),  # unknown stage
    ],
)
def test_r22_a_bad_setting_is_refused_naming_it(ctx: ServiceContext, key: str, value: Any) -> None:
    error = setup_refused(ctx, "R22", {key: value})
    assert error.field == f"settings.{key}"


def test_r22_an_unknown_key_is_named_in_the_message(ctx: ServiceContext) -> None:
    error = setup_refused(ctx, "R22", {"comment_period_min_days": 40, "hearing_days": 10})
    assert error.field == "settings.hearing_days"
    assert "hearing_days" in error.message_en and "hearing_days" in error.message_zh


def test_r22_a_valid_override_is_stored(ctx: ServiceContext) -> None:
    district(ctx, settings={"comment_period_min_days": 40, "party_report_order": "either"})
    with Session(ctx.engine) as session:
        row = session.exec(select(Jurisdiction)).one()
        assert row.settings == {"comment_period_min_days": 40, "party_report_order": "either"}


@pytest.mark.parametrize(
    ("key", "value", "floor"),
    [
        ("comment_period_min_days", 20, 30),  # Art. 15(1)
        ("comment_period_min_days", 0, 30),
        ("legality_review_min_working_days", 5, 7),  # Art. 26(2)
        ("hearing_materials_days", 6, 7),  # Art. 16(3)
    ],
)
def test_p17_a_setting_below_the_statutory_floor_is_refused_naming_it(
    ctx: ServiceContext, key: str, value: int, floor: int
) -> None:
    error = setup_refused(ctx, "P17", {key: value})
    assert error.field == f"settings.{key}"
    assert key in error.message_zh and key in error.message_en
    assert str(floor) in error.message_zh and str(floor) in error.message_en


def test_p17_a_setting_may_lengthen_the_statutory_minimum(ctx: ServiceContext) -> None:
    district(ctx, settings={"comment_period_min_days": 45, "hearing_materials_days": 10})
    with Session(ctx.engine) as session:
        assert session.exec(select(Jurisdiction)).one().settings["hearing_materials_days"] == 10


def test_r22_extending_a_jurisdiction_checks_the_new_settings_too(ctx: ServiceContext) -> None:
    district(ctx)
    with pytest.raises(ProcedureError) as caught:
        setup_jurisdiction(ctx, {"organ": "香洲区人民政府", "settings": {"archive_due_days": 0}}, [], [])
    assert caught.value.rule_id == "R22" and caught.value.field == "settings.archive_due_days"
    with Session(ctx.engine) as session:
        assert session.exec(select(Jurisdiction)).one().settings == {}


# ---------------------------------------------------------------- overrides change behaviour


def comment_period(end: str) -> dict[str, Any]:
    return {"decision": "D1", "start_date": "2026-03-03", "end_date": end, "channels": ["website"]}


def test_comment_period_min_days_35_needs_35_days(ctx: ServiceContext) -> None:
    district(ctx, settings={"comment_period_min_days": 35})
    drafted(ctx)
    refused(ctx, "R3", "open_comment_period", "li", "2026-03-03T09:00", **comment_period("2026-04-06"))
    act(ctx, "open_comment_period", "li", "2026-03-03T09:05", **comment_period("2026-04-07"))


def test_the_default_lets_a_34_day_period_through(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    act(ctx, "open_comment_period", "li", "2026-03-03T09:00", **comment_period("2026-04-06"))


def test_comment_period_counted_in_working_days(ctx: ServiceContext) -> None:
    # P1 as a setting: 30 working days after Tue 03-03, with Qingming (04-04..06) off, is 04-15
    district(ctx, settings={"comment_period_unit": "working"})
    drafted(ctx)
    refused(ctx, "R3", "open_comment_period", "li", "2026-03-03T09:00", **comment_period("2026-04-14"))
    act(ctx, "open_comment_period", "li", "2026-03-03T09:05", **comment_period("2026-04-15"))


def review_min_due(ctx: ServiceContext) -> date:
    with Session(ctx.engine) as session:
        row = session.exec(
            select(Deadline).where(Deadline.kind == "legality_review_min").order_by(col(Deadline.id).desc())
        ).first()
        assert row is not None
        return row.due_date


def test_legality_review_min_working_days_10_moves_the_earliest_meeting(ctx: ServiceContext) -> None:
    # submitted Wed 04-08: the 7th working day is 04-17, the 10th is Wed 04-22
    district(ctx, settings={"legality_review_min_working_days": 10})
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    assert review_min_due(ctx) == date(2026, 4, 22)
    refused(
        ctx,
        "R10",
        "submit_for_discussion",
        "li",
        "2026-04-10T09:00",
        decision="D1",
        meeting_date="2026-04-21",
    )
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:10", decision="D1", meeting_date="2026-04-22")


def test_the_default_review_minimum_is_seven_working_days(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    assert review_min_due(ctx) == date(2026, 4, 17)


def test_legality_clock_not_restarting_keeps_the_first_submission_date(ctx: ServiceContext) -> None:
    district(ctx, settings={"legality_clock_restarts": False})
    drafted(ctx)
    participation_done(ctx)
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:00",
        decision="D1",
        procedures_statement="说明",
    )
    act(ctx, "return_for_supplement", "wang", "2026-04-09T09:00", decision="D1", reason="补充依据")
    act(
        ctx,
        "resubmit_for_legality_review",
        "li",
        "2026-04-13T09:00",
        decision="D1",
        procedures_statement="已补充",
    )
    assert review_min_due(ctx) == date(2026, 4, 17)  # counted from 04-08, not 04-13


def stage_status(ctx: ServiceContext, stage: str) -> StageStatus:
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == "D1")).one()
        return (
            session.exec(
                select(StageInstance).where(
                    StageInstance.decision_id == decision.id, StageInstance.stage == stage
                )
            )
            .one()
            .status
        )


def finish_participation(ctx: ServiceContext) -> None:
    act(
        ctx,
        "record_participation_activity",
        "li",
        "2026-03-10T10:00",
        decision="D1",
        kind="forum",
        held_on="2026-03-10",
        summary="座谈会",
    )
    act(ctx, "complete_participation", "li", "2026-03-10T11:00", decision="D1")


def test_no_stages_needing_approval_completes_participation_at_once(ctx: ServiceContext) -> None:
    district(ctx, settings={"stages_needing_legal_approval": []})
    drafted(ctx)
    finish_participation(ctx)
    assert stage_status(ctx, "public_participation") == StageStatus.completed
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-03-11T09:00",
        decision="D1",
        procedures_statement="说明",
    )


def test_by_default_participation_waits_for_the_legal_office(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    finish_participation(ctx)
    assert stage_status(ctx, "public_participation") == StageStatus.awaiting_approval
    refused(
        ctx,
        "R3",
        "submit_for_legality_review",
        "li",
        "2026-03-11T09:00",
        decision="D1",
        procedures_statement="说明",
    )


def test_party_report_order_before_meeting(ctx: ServiceContext) -> None:
    district(ctx, settings={"party_report_order": "before_meeting"})
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    # before the meeting is now allowed (the default refuses it, see test_guards_core)
    act(ctx, "record_party_report", "chen", "2026-04-10T08:00", decision="D1", on_date="2026-04-10")
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-14T09:00",
        decision="D1",
        on_date="2026-04-14",
        result="agreed",
    )
    act(
        ctx,
        "record_meeting",
        "zhou",
        "2026-04-17T11:00",
        decision="D1",
        meeting_type="executive",
        held_on="2026-04-17",
        members_present=["vice1", "vice2", "mayor"],
        opinions=[
            {"member": "vice1", "position": "agree"},
            {"member": "vice2", "position": "agree"},
            {"member": "mayor", "position": "agree"},
        ],
        head_decision="approve",
    )
    act(
        ctx,
        "publish_decision",
        "zhou",
        "2026-04-20T09:00",
        decision="D1",
        channels=["gazette", "website", "newspaper"],
        published_on="2026-04-20",
        text="决定全文",
    )


def test_quorum_fraction_raises_the_bar(ctx: ServiceContext) -> None:
    # three of the roster of four is more than half, but not more than three quarters
    district(ctx, settings={"quorum_fraction": 0.75})
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    meeting = {
        "decision": "D1",
        "meeting_type": "executive",
        "held_on": "2026-04-17",
        "head_decision": "approve",
    }
    three = ["vice1", "vice2", "mayor"]
    refused(
        ctx,
        "P11",
        "record_meeting",
        "zhou",
        "2026-04-17T11:00",
        members_present=three,
        opinions=[{"member": m, "position": "agree"} for m in three],
        **meeting,
    )
    four = ["vice1", "vice2", "vice3", "mayor"]
    act(
        ctx,
        "record_meeting",
        "zhou",
        "2026-04-17T11:05",
        members_present=four,
        opinions=[{"member": m, "position": "agree"} for m in four],
        **meeting,
    )


def test_anonymous_comments_can_be_switched_off(ctx: ServiceContext) -> None:
    district(ctx, settings={"anonymous_comments": False})
    drafted(ctx)
    act(ctx, "open_comment_period", "li", "2026-03-03T09:00", **comment_period("2026-04-02"))
    error = refused(
        ctx, "INPUT", "submit_public_comment", "public", "2026-03-05T09:00", decision="D1", text="意见"
    )
    assert error.field == "name"
    act(ctx, "submit_public_comment", "public", "2026-03-05T09:05", decision="D1", text="意见", name="张三")
