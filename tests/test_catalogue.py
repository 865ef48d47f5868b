"""The annual decision catalogue and hearing catalogue (Art. 3(3), GD-H Art. 3, R21)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows.errors import ProcedureError
from flows.service import ServiceContext
from flows.service.audit import verify_all
from flows.service.catalogue import (
    catalogue_entries,
    catalogue_rows,
    catalogue_versions,
    hearing_catalogue_rows,
)
from models import (
    AuditEvent,
    CatalogueAdjustment,
    CatalogueEntry,
    CatalogueVersion,
    CatalogueYear,
    Decision,
    Jurisdiction,
    OutboxEvent,
    StageInstance,
    StageStatus,
)
from tests.helpers import act, district, refused

YEAR = 2026
CHAIN_SUFFIX = f":{YEAR}"

RENEWAL: dict[str, Any] = {
    "ref": "E1",
    "matter_name": "旧城改造房屋征收补偿标准",
    "main_content": "制定旧城改造范围内房屋征收补偿标准",
    "category": 1,
    "units": ["housing"],
    "lead_unit": "housing",
    "legal_basis": "《国有土地上房屋征收与补偿条例》",
    "reason": "涉及群众切身利益",
    "procedures_required": ["public_participation", "expert_review", "risk_assessment"],
    "hearing_required": True,
    "planned_decision_time": "2026年第三季度",
}
INVESTMENT: dict[str, Any] = {
    "ref": "E2",
    "matter_name": "招商引资若干扶持政策",
    "main_content": "对新落户企业给予奖励扶持",
    "category": 1,
    "units": ["commerce", "housing"],
    "lead_unit": "commerce",
    "legal_basis": "《优化营商环境条例》",
    "procedures_required": ["public_participation", "fair_competition_review"],
    "planned_decision_time": "2026年第二季度",
}
CLEANUP: dict[str, Any] = {
    "ref": "E3",
    "matter_name": "住建领域规范性文件清理",
    "category": 5,
    "units": ["housing"],
    "planned_decision_time": "2026年第四季度",
}
ELEVATORS: dict[str, Any] = {
    "ref": "E4",
    "matter_name": "既有住宅加装电梯补贴办法",
    "category": 1,
    "units": ["housing"],
    "procedures_required": ["public_participation"],
    "planned_decision_time": "2026年第四季度",
}


# ---------------------------------------------------------------------------- local helpers
def propose(ctx: ServiceContext, entry: dict[str, Any], when: str, actor: str | None = None) -> None:
    who = actor or ("sun" if entry.get("lead_unit") == "commerce" else "li")
    act(ctx, "propose_catalogue_entry", who, when, year=YEAR, **entry)


def compiled(ctx: ServiceContext) -> None:
    """Three proposals; the legal office includes E1 and E2 and leaves E3 out."""
    district(ctx)
    propose(ctx, RENEWAL, "2026-01-10T09:00")
    propose(ctx, INVESTMENT, "2026-01-10T09:10")
    propose(ctx, CLEANUP, "2026-01-10T09:20")
    act(ctx, "review_catalogue_entry", "wang", "2026-01-20T09:00", year=YEAR, entry="E1", include=True)
    act(ctx, "review_catalogue_entry", "wang", "2026-01-20T09:10", year=YEAR, entry="E2", include=True)
    act(
        ctx,
        "review_catalogue_entry",
        "wang",
        "2026-01-20T09:20",
        year=YEAR,
        entry="E3",
        include=False,
        reason="系执行上级部署的清理工作，不属于重大行政决策",
        reason_code="implements_higher_decision",
    )


def approved(ctx: ServiceContext) -> None:
    compiled(ctx)
    act(
        ctx,
        "approve_catalogue",
        "zhou",
        "2026-02-05T15:00",
        year=YEAR,
        meeting_ref="区政府第3次常务会议",
        approved_on="2026-02-05",
    )


def party_approved(ctx: ServiceContext) -> None:
    approved(ctx)
    act(
        ctx,
        "record_catalogue_party_approval",
        "chen",
        "2026-02-12T10:00",
        year=YEAR,
        approval_ref="区委常委会2026年第2次会议",
        approved_on="2026-02-12",
    )


def published(ctx: ServiceContext) -> None:
    party_approved(ctx)
    act(
        ctx,
        "publish_catalogue",
        "zhou",
        "2026-02-16T09:00",
        year=YEAR,
        url="https://www.example.gov.cn/catalogue/2026",
        published_on="2026-02-16",
    )


def publish(ctx: ServiceContext, when: str, on: str, rule: str | None = None) -> None:
    payload = {"year": YEAR, "url": "https://www.example.gov.cn/catalogue/2026", "published_on": on}
    if rule is None:
        act(ctx, "publish_catalogue", "zhou", when, **payload)
    else:
        refused(ctx, rule, "publish_catalogue", "zhou", when, **payload)


def jurisdiction_id(ctx: ServiceContext) -> int:
    with Session(ctx.engine) as session:
        row = session.exec(select(Jurisdiction)).one()
        assert row.id is not None
        return row.id


def rows(ctx: ServiceContext, version: int | None = None, *, public: bool = False) -> list[dict[str, Any]]:
    jid = jurisdiction_id(ctx)
    with Session(ctx.engine) as session:
        return catalogue_rows(session, jid, YEAR, version, published=public)


def year_row(ctx: ServiceContext) -> CatalogueYear:
    with Session(ctx.engine) as session:
        return session.exec(select(CatalogueYear).where(CatalogueYear.year == YEAR)).one()


def version_row(ctx: ServiceContext, number: int) -> CatalogueVersion:
    with Session(ctx.engine) as session:
        return session.exec(select(CatalogueVersion).where(CatalogueVersion.number == number)).one()


def entry_row(ctx: ServiceContext, code: str) -> CatalogueEntry:
    with Session(ctx.engine) as session:
        return session.exec(select(CatalogueEntry).where(CatalogueEntry.code == code)).one()


def catalogue_state(ctx: ServiceContext) -> list[str]:
    """Every catalogue row, for asserting that a refusal left the catalogue untouched (the
    shared snapshot hashes versions but not years and entries)."""
    with Session(ctx.engine) as session:
        found: list[str] = []
        for model in (CatalogueYear, CatalogueEntry, CatalogueVersion, CatalogueAdjustment):
            found += sorted(repr(r.model_dump()) for r in session.exec(select(model)))
        return found


def chains_valid(ctx: ServiceContext) -> dict[str, int]:
    """Verify every audit chain; return the catalogue chains and their lengths."""
    with Session(ctx.engine) as session:
        _, _, breaks = verify_all(session)
        assert breaks == []
        events = session.exec(select(AuditEvent).where(col(AuditEvent.chain).startswith("catalogue:")))
        lengths: dict[str, int] = {}
        for event in events:
            lengths[event.chain] = lengths.get(event.chain, 0) + 1
        return lengths


def outbox_types(ctx: ServiceContext) -> list[str]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(OutboxEvent.event_type).order_by(col(OutboxEvent.id))))


# ---------------------------------------------------------------------------- the happy path
def test_compiled_approved_and_published_with_the_hearing_column(ctx: ServiceContext) -> None:
    published(ctx)
    year = year_row(ctx)
    assert (year.current_version, year.published_version) == (1, 1)
    version = version_row(ctx, 1)
    assert version.status == "published"
    assert version.meeting_ref == "区政府第3次常务会议"
    assert version.party_approval_ref == "区委常委会2026年第2次会议"
    assert str(version.published_on) == "2026-02-16"

    listed = rows(ctx)
    assert [r["code"] for r in listed] == ["E1", "E2"]  # E3 was left out
    assert [r["seq"] for r in listed] == [1, 2]
    first, second = listed
    assert first["hearing_required"] is True and second["hearing_required"] is False
    # the hearing flag is one of the listed procedures (GD-H Art. 3)
    assert first["procedures_required"] == [
        "public_participation",
        "hearing",
        "expert_review",
        "risk_assessment",
    ]
    assert first["decision_organ"] == "香洲区人民政府"
    assert first["lead_unit_name"] == "区住房和城乡建设局"
    assert second["lead_unit"] == "commerce"
    assert second["cooperating_units"] == ["housing"]
    assert second["undertaking_unit_names"] == ["区商务局", "区住房和城乡建设局"]
    assert first["planned_decision_time"] == "2026年第三季度"
    assert first["legal_policy_basis"] == "《国有土地上房屋征收与补偿条例》"
    assert first["published_url"] == "https://www.example.gov.cn/catalogue/2026"
    assert first["published_at"] == "2026-02-16"
    assert first["party_committee_approval_ref"] == "区委常委会2026年第2次会议"
    assert version.snapshot == listed  # what the portal shows is the frozen snapshot

    jid = jurisdiction_id(ctx)
    with Session(ctx.engine) as session:
        hearing = hearing_catalogue_rows(session, jid, YEAR)
    assert [(h["seq"], h["linked_decision_item"], h["organiser"]) for h in hearing] == [
        (1, "E1", "区住房和城乡建设局")
    ]
    assert hearing[0]["hearing_matter"] == "旧城改造房屋征收补偿标准"

    # the rejected matter keeps its reason (§2.5)
    with Session(ctx.engine) as session:
        everything = {e["code"]: e for e in catalogue_entries(session, jid, YEAR)}
    assert everything["E3"]["status"] == "rejected"
    assert everything["E3"]["review_reason_code"] == "implements_higher_decision"
    assert everything["E3"]["review_reason"].startswith("系执行上级部署")

    assert "catalogue_published" in outbox_types(ctx)
    # 3 proposals, 3 reviews, approval, Party approval, publication: one chain for the year
    assert chains_valid(ctx) == {f"catalogue:{jurisdiction_id(ctx)}{CHAIN_SUFFIX}": 9}


def test_a_draft_lists_proposed_entries_and_the_public_sees_nothing_before_publication(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    propose(ctx, RENEWAL, "2026-01-10T09:00")
    assert [(r["code"], r["status"]) for r in rows(ctx)] == [("E1", "proposed")]
    assert rows(ctx, public=True) == []
    act(ctx, "review_catalogue_entry", "wang", "2026-01-20T09:00", year=YEAR, entry="E1", include=True)
    act(
        ctx,
        "approve_catalogue",
        "zhou",
        "2026-02-05T15:00",
        year=YEAR,
        meeting_ref="常务会议",
        approved_on="2026-02-05",
    )
    assert [r["code"] for r in rows(ctx)] == ["E1"]
    assert rows(ctx, public=True) == []  # approved but not published
    jid = jurisdiction_id(ctx)
    with Session(ctx.engine) as session:
        assert [v["status"] for v in catalogue_versions(session, jid, YEAR)] == ["approved"]


# ---------------------------------------------------------------------------- R21
def test_r21_publication_is_refused_until_the_party_committee_approves(ctx: ServiceContext) -> None:
    compiled(ctx)
    publish(ctx, "2026-02-01T09:00", "2026-02-01", rule="R21")  # a draft
    act(
        ctx,
        "approve_catalogue",
        "zhou",
        "2026-02-05T15:00",
        year=YEAR,
        meeting_ref="区政府第3次常务会议",
        approved_on="2026-02-05",
    )
    before = catalogue_state(ctx)
    error = refused(
        ctx,
        "R21",
        "publish_catalogue",
        "zhou",
        "2026-02-06T09:00",
        year=YEAR,
        url="https://www.example.gov.cn/c",
        published_on="2026-02-06",
    )
    assert error.article == "Art. 3"
    assert catalogue_state(ctx) == before
    assert year_row(ctx).published_version is None
    assert version_row(ctx, 1).published_url == ""
    assert "catalogue_published" not in outbox_types(ctx)

    act(
        ctx,
        "record_catalogue_party_approval",
        "chen",
        "2026-02-12T10:00",
        year=YEAR,
        approval_ref="区委常委会",
        approved_on="2026-02-12",
    )
    # a publication dated before the Party's approval would be publication without it
    error = refused(
        ctx,
        "R21",
        "publish_catalogue",
        "zhou",
        "2026-02-13T09:00",
        year=YEAR,
        url="https://www.example.gov.cn/c",
        published_on="2026-02-11",
    )
    assert error.field == "published_on"
    publish(ctx, "2026-02-13T09:10", "2026-02-13")
    assert year_row(ctx).published_version == 1
    publish(ctx, "2026-02-14T09:00", "2026-02-14", rule="STATE")  # once only
    chains_valid(ctx)


def test_an_adjustment_opens_a_new_version_that_needs_approval_again(ctx: ServiceContext) -> None:
    published(ctx)
    first_snapshot = version_row(ctx, 1).snapshot
    result = act(
        ctx,
        "adjust_catalogue",
        "li",
        "2026-05-06T09:00",
        year=YEAR,
        kind="add",
        reason="群众呼声高，年中新增",
        **ELEVATORS,
    )
    assert result.data["version"] == 2 and result.data["entry_status"] == "proposed"
    year = year_row(ctx)
    assert (year.current_version, year.published_version) == (2, 1)
    assert version_row(ctx, 2).status == "draft"

    publish(ctx, "2026-05-06T10:00", "2026-05-06", rule="R21")
    # the legal office reviews the added matter before the meeting
    refused(
        ctx,
        "STATE",
        "approve_catalogue",
        "zhou",
        "2026-05-07T15:00",
        year=YEAR,
        meeting_ref="第9次常务会议",
        approved_on="2026-05-07",
    )
    act(ctx, "review_catalogue_entry", "wang", "2026-05-07T09:00", year=YEAR, entry="E4", include=True)
    act(
        ctx,
        "approve_catalogue",
        "zhou",
        "2026-05-07T16:00",
        year=YEAR,
        meeting_ref="第9次常务会议",
        approved_on="2026-05-07",
    )
    publish(ctx, "2026-05-08T09:00", "2026-05-08", rule="R21")
    act(
        ctx,
        "record_catalogue_party_approval",
        "chen",
        "2026-05-12T10:00",
        year=YEAR,
        approval_ref="区委常委会第8次会议",
        approved_on="2026-05-12",
    )
    publish(ctx, "2026-05-13T09:00", "2026-05-13")

    assert year_row(ctx).published_version == 2
    assert version_row(ctx, 1).snapshot == first_snapshot  # the earlier publication is kept intact
    assert [r["code"] for r in rows(ctx, 1)] == ["E1", "E2"]
    current = rows(ctx, public=True)
    assert [r["code"] for r in current] == ["E1", "E2", "E4"]
    added = current[2]
    assert added["version"] == 2
    assert [(h["kind"], h["version"], h["reason"]) for h in added["adjustment_history"]] == [
        ("add", 2, "群众呼声高，年中新增")
    ]
    assert added["reason"] == "群众呼声高，年中新增"
    jid = jurisdiction_id(ctx)
    with Session(ctx.engine) as session:
        versions = catalogue_versions(session, jid, YEAR)
    assert [(v["version"], v["status"], v["in_force"]) for v in versions] == [
        (1, "published", False),
        (2, "published", True),
    ]
    assert chains_valid(ctx) == {f"catalogue:{jurisdiction_id(ctx)}{CHAIN_SUFFIX}": 14}


def test_removing_and_deferring_entries(ctx: ServiceContext) -> None:
    published(ctx)
    act(
        ctx,
        "adjust_catalogue",
        "sun",
        "2026-06-01T09:00",
        year=YEAR,
        kind="defer",
        entry="E2",
        reason="上级政策调整，暂缓出台",
        defer_to="2027年",
    )
    act(
        ctx,
        "adjust_catalogue",
        "zhou",
        "2026-06-01T10:00",
        year=YEAR,
        kind="remove",
        entry="E1",
        reason="已由省级统一出台标准",
    )
    assert year_row(ctx).current_version == 2  # both adjustments join one new version
    assert entry_row(ctx, "E2").status == "deferred"
    assert entry_row(ctx, "E1").status == "removed"
    assert entry_row(ctx, "E1").removed_in_version == 2
    with Session(ctx.engine) as session:
        adjustments = list(session.exec(select(CatalogueAdjustment).order_by(col(CatalogueAdjustment.id))))
    assert [(a.kind, a.version_number, a.created_by) for a in adjustments] == [
        ("defer", 2, "sun"),
        ("remove", 2, "zhou"),
    ]
    assert adjustments[0].details["defer_to"] == "2027年"
    # the published version still lists both; the draft lists neither, so it cannot be approved
    assert [r["code"] for r in rows(ctx, public=True)] == ["E1", "E2"]
    assert rows(ctx) == []
    refused(
        ctx,
        "STATE",
        "approve_catalogue",
        "zhou",
        "2026-06-02T15:00",
        year=YEAR,
        meeting_ref="常务会议",
        approved_on="2026-06-02",
    )
    # an entry no longer included cannot be adjusted again, nor start a decision
    refused(
        ctx,
        "STATE",
        "adjust_catalogue",
        "zhou",
        "2026-06-03T09:00",
        year=YEAR,
        kind="remove",
        entry="E1",
        reason="重复",
    )
    error = refused(
        ctx,
        "INPUT",
        "register_decision",
        "li",
        "2026-06-03T10:00",
        ref="D1",
        title="旧城改造补偿标准",
        category=1,
        lead_unit="housing",
        catalogue_entry="2026/E1",
    )
    assert error.field == "catalogue_entry"
    chains_valid(ctx)


def test_an_approved_version_adjusted_before_publication_is_superseded(ctx: ServiceContext) -> None:
    party_approved(ctx)
    act(
        ctx,
        "adjust_catalogue",
        "wang",
        "2026-02-13T09:00",
        year=YEAR,
        kind="remove",
        entry="E2",
        reason="党委意见：暂不列入",
    )
    assert version_row(ctx, 1).status == "superseded"
    assert version_row(ctx, 1).snapshot[1]["code"] == "E2"  # what was approved is kept
    assert version_row(ctx, 2).status == "draft"
    publish(ctx, "2026-02-13T10:00", "2026-02-13", rule="R21")  # the Party approval was for version 1
    act(
        ctx,
        "approve_catalogue",
        "zhou",
        "2026-02-14T15:00",
        year=YEAR,
        meeting_ref="常务会议",
        approved_on="2026-02-14",
    )
    publish(ctx, "2026-02-15T10:00", "2026-02-15", rule="R21")
    act(
        ctx,
        "record_catalogue_party_approval",
        "chen",
        "2026-02-16T10:00",
        year=YEAR,
        approval_ref="区委",
        approved_on="2026-02-16",
    )
    publish(ctx, "2026-02-16T11:00", "2026-02-16")
    assert [r["code"] for r in rows(ctx, public=True)] == ["E1"]
    assert year_row(ctx).published_version == 2


# ---------------------------------------------------------------------------- STATE
def test_the_executive_meeting_waits_for_the_legal_office_and_needs_an_included_entry(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    propose(ctx, RENEWAL, "2026-01-10T09:00")
    meeting = {"year": YEAR, "meeting_ref": "常务会议", "approved_on": "2026-01-15"}
    error = refused(ctx, "STATE", "approve_catalogue", "zhou", "2026-01-15T15:00", **meeting)
    assert "E1" in error.message_en
    act(
        ctx,
        "review_catalogue_entry",
        "wang",
        "2026-01-16T09:00",
        year=YEAR,
        entry="E1",
        include=False,
        reason_code="not_major",
    )
    assert entry_row(ctx, "E1").review_reason == "不属于重大行政决策事项"
    meeting["approved_on"] = "2026-01-17"
    error = refused(ctx, "STATE", "approve_catalogue", "zhou", "2026-01-17T15:00", **meeting)
    assert "no entry" in error.message_en
    # an entry is reviewed once
    refused(
        ctx,
        "STATE",
        "review_catalogue_entry",
        "wang",
        "2026-01-18T09:00",
        year=YEAR,
        entry="E1",
        include=True,
    )


def test_approval_steps_come_in_order(ctx: ServiceContext) -> None:
    compiled(ctx)
    party = {"year": YEAR, "approval_ref": "区委", "approved_on": "2026-02-01"}
    refused(ctx, "STATE", "record_catalogue_party_approval", "chen", "2026-02-01T10:00", **party)
    act(
        ctx,
        "approve_catalogue",
        "zhou",
        "2026-02-05T15:00",
        year=YEAR,
        meeting_ref="常务会议",
        approved_on="2026-02-05",
    )
    refused(
        ctx,
        "STATE",
        "approve_catalogue",
        "zhou",
        "2026-02-06T15:00",
        year=YEAR,
        meeting_ref="常务会议",
        approved_on="2026-02-06",
    )
    # the Party approves what the meeting reviewed, so not before it
    party["approved_on"] = "2026-02-04"
    error = refused(ctx, "INPUT", "record_catalogue_party_approval", "chen", "2026-02-07T10:00", **party)
    assert error.field == "approved_on"
    party["approved_on"] = "2026-02-07"
    act(ctx, "record_catalogue_party_approval", "chen", "2026-02-07T10:00", **party)
    party["approved_on"] = "2026-02-08"
    refused(ctx, "STATE", "record_catalogue_party_approval", "chen", "2026-02-08T10:00", **party)
    # proposals close once the meeting has reviewed the catalogue
    refused(ctx, "STATE", "propose_catalogue_entry", "li", "2026-02-08T11:00", year=YEAR, **ELEVATORS)


def test_after_publication_new_matters_come_in_by_adjustment(ctx: ServiceContext) -> None:
    published(ctx)
    refused(ctx, "STATE", "propose_catalogue_entry", "li", "2026-03-01T09:00", year=YEAR, **ELEVATORS)


def test_a_catalogue_still_being_compiled_is_not_adjusted(ctx: ServiceContext) -> None:
    compiled(ctx)
    refused(
        ctx,
        "STATE",
        "adjust_catalogue",
        "li",
        "2026-01-25T09:00",
        year=YEAR,
        kind="remove",
        entry="E1",
        reason="不再需要",
    )


# ---------------------------------------------------------------------------- AUTH
@pytest.mark.parametrize(
    ("action", "actor", "payload"),
    [
        ("propose_catalogue_entry", "wang", {**RENEWAL}),
        ("propose_catalogue_entry", "zhou", {**RENEWAL}),
        ("review_catalogue_entry", "li", {"entry": "E1", "include": True}),
        ("review_catalogue_entry", "zhou", {"entry": "E1", "include": True}),
        ("approve_catalogue", "li", {"meeting_ref": "m", "approved_on": "2026-01-20"}),
        ("approve_catalogue", "mayor", {"meeting_ref": "m", "approved_on": "2026-01-20"}),
        ("record_catalogue_party_approval", "zhou", {"approval_ref": "p", "approved_on": "2026-01-20"}),
        ("publish_catalogue", "chen", {"url": "https://x.gov.cn/c", "published_on": "2026-01-20"}),
        ("publish_catalogue", "watcher", {"url": "https://x.gov.cn/c", "published_on": "2026-01-20"}),
        ("adjust_catalogue", "chen", {"kind": "remove", "entry": "E1", "reason": "r"}),
        ("adjust_catalogue", "watcher", {"kind": "remove", "entry": "E1", "reason": "r"}),
    ],
)
def test_roles_are_enforced(ctx: ServiceContext, action: str, actor: str, payload: dict[str, Any]) -> None:
    district(ctx)
    propose(ctx, RENEWAL if action != "propose_catalogue_entry" else INVESTMENT, "2026-01-10T09:00")
    error = refused(ctx, "AUTH", action, actor, "2026-01-20T09:00", year=YEAR, **payload)
    assert error.kind == "forbidden"


def test_a_department_acts_only_on_matters_it_undertakes(ctx: ServiceContext) -> None:
    district(ctx)
    # commerce proposing a matter undertaken by housing alone
    error = refused(ctx, "AUTH", "propose_catalogue_entry", "sun", "2026-01-10T09:00", year=YEAR, **RENEWAL)
    assert error.field == "units"
    propose(ctx, RENEWAL, "2026-01-10T09:10")
    act(ctx, "review_catalogue_entry", "wang", "2026-01-20T09:00", year=YEAR, entry="E1", include=True)
    act(
        ctx,
        "approve_catalogue",
        "zhou",
        "2026-02-05T15:00",
        year=YEAR,
        meeting_ref="常务会议",
        approved_on="2026-02-05",
    )
    error = refused(
        ctx,
        "AUTH",
        "adjust_catalogue",
        "sun",
        "2026-02-06T09:00",
        year=YEAR,
        kind="remove",
        entry="E1",
        reason="r",
    )
    assert error.field == "entry"
    error = refused(
        ctx,
        "AUTH",
        "adjust_catalogue",
        "sun",
        "2026-02-06T09:10",
        year=YEAR,
        kind="add",
        reason="r",
        **ELEVATORS,
    )
    assert error.field == "units"
    # the same adjustment by the undertaking department goes through
    act(ctx, "adjust_catalogue", "zhao", "2026-02-06T09:20", year=YEAR, kind="remove", entry="E1", reason="r")


# ---------------------------------------------------------------------------- input errors
@pytest.mark.parametrize(
    ("changes", "rule", "field"),
    [
        ({"category": 6}, "INPUT", "category"),
        ({"category": None}, "INPUT", "category"),
        ({"matter_name": "  "}, "INPUT", "matter_name"),
        ({"procedures_required": ["public_participation", "magic"]}, "INPUT", "procedures_required.1"),
        ({"hearing_required": "perhaps"}, "INPUT", "hearing_required"),
        ({"ref": "2026/E1"}, "INPUT", "ref"),
        ({"year": 1999}, "INPUT", "year"),
        ({"planned_decision_time": "x" * 65}, "INPUT", "planned_decision_time"),
        ({"colour": "red"}, "INPUT", "colour"),
        ({"units": []}, "R1", "units"),
        ({"units": ["housing", "commerce"], "lead_unit": None}, "R1", "lead_unit"),
        ({"units": ["housing"], "lead_unit": "commerce"}, "R1", "lead_unit"),
        ({"units": ["housing", "nowhere"]}, "NOT_FOUND", "units"),
    ],
)
def test_proposal_input_errors_name_the_field(
    ctx: ServiceContext, changes: dict[str, Any], rule: str, field: str
) -> None:
    district(ctx)
    payload = {**RENEWAL, **changes}
    payload = {k: v for k, v in payload.items() if v is not None or k == "lead_unit"}
    if payload.get("lead_unit") is None:
        payload.pop("lead_unit", None)
    payload.setdefault("year", YEAR)
    before = catalogue_state(ctx)
    error = refused(ctx, rule, "propose_catalogue_entry", "li", "2026-01-10T09:00", **payload)
    assert error.field == field
    assert catalogue_state(ctx) == before == []  # not even the year was created


def test_a_duplicate_entry_code_is_refused_and_codes_are_generated(ctx: ServiceContext) -> None:
    district(ctx)
    propose(ctx, RENEWAL, "2026-01-10T09:00")
    error = refused(ctx, "INPUT", "propose_catalogue_entry", "li", "2026-01-10T09:10", year=YEAR, **RENEWAL)
    assert error.field == "ref"
    unnamed = {k: v for k, v in CLEANUP.items() if k != "ref"}
    result = act(ctx, "propose_catalogue_entry", "li", "2026-01-10T09:20", year=YEAR, **unnamed)
    assert result.data["entry"] == "E2"
    # a single unit is the lead unit
    assert entry_row(ctx, "E2").lead_unit_id == entry_row(ctx, "E1").lead_unit_id


@pytest.mark.parametrize(
    ("payload", "rule", "field"),
    [
        ({"entry": "E1", "include": False}, "INPUT", "reason"),
        ({"entry": "E1", "include": False, "reason": "   "}, "INPUT", "reason"),
        ({"entry": "E1", "include": True, "reason_code": "not_major"}, "INPUT", "reason_code"),
        ({"entry": "E1", "include": False, "reason_code": "dislike"}, "INPUT", "reason_code"),
        ({"entry": "E1"}, "INPUT", "include"),
        ({"entry": "E9", "include": True}, "NOT_FOUND", "entry"),
        ({"entry": "E1", "include": True, "year": 2027}, "NOT_FOUND", "year"),
    ],
)
def test_review_input_errors_name_the_field(
    ctx: ServiceContext, payload: dict[str, Any], rule: str, field: str
) -> None:
    district(ctx)
    propose(ctx, RENEWAL, "2026-01-10T09:00")
    error = refused(
        ctx, rule, "review_catalogue_entry", "wang", "2026-01-20T09:00", **{"year": YEAR, **payload}
    )
    assert error.field == field


@pytest.mark.parametrize(
    ("action", "actor", "payload", "field"),
    [
        ("approve_catalogue", "zhou", {"meeting_ref": "", "approved_on": "2026-02-05"}, "meeting_ref"),
        ("approve_catalogue", "zhou", {"meeting_ref": "m", "approved_on": "2026-02-30"}, "approved_on"),
        ("approve_catalogue", "zhou", {"meeting_ref": "m", "approved_on": "2026-03-01"}, "approved_on"),
        ("publish_catalogue", "zhou", {"url": "www.example.gov.cn", "published_on": "2026-02-05"}, "url"),
        (
            "publish_catalogue",
            "zhou",
            {"url": "https://x.gov.cn/c", "published_on": "2026-12-01"},
            "published_on",
        ),
        ("adjust_catalogue", "zhou", {"kind": "remove", "reason": "r"}, "entry"),
        ("adjust_catalogue", "zhou", {"kind": "remove", "entry": "E1"}, "reason"),
        ("adjust_catalogue", "zhou", {"kind": "remove", "entry": "E1", "reason": " "}, "reason"),
        ("adjust_catalogue", "zhou", {"kind": "rename", "entry": "E1", "reason": "r"}, "kind"),
        (
            "adjust_catalogue",
            "zhou",
            {"kind": "remove", "entry": "E1", "reason": "r", "category": 2},
            "category",
        ),
        (
            "adjust_catalogue",
            "zhou",
            {"kind": "remove", "entry": "E1", "reason": "r", "defer_to": "2027"},
            "defer_to",
        ),
        (
            "adjust_catalogue",
            "li",
            {"kind": "add", "reason": "r", "category": 1, "units": ["housing"]},
            "matter_name",
        ),
        (
            "adjust_catalogue",
            "li",
            {"kind": "add", "reason": "r", "matter_name": "m", "units": ["housing"]},
            "category",
        ),
        ("adjust_catalogue", "li", {"kind": "add", "reason": "r", **ELEVATORS, "category": 9}, "category"),
        ("adjust_catalogue", "li", {"kind": "add", "reason": "r", **ELEVATORS, "entry": "E1"}, "entry"),
        (
            "adjust_catalogue",
            "li",
            {"kind": "add", "reason": "r", **ELEVATORS, "procedures_required": ["x"]},
            "procedures_required.0",
        ),
    ],
)
def test_catalogue_input_errors_name_the_field(
    ctx: ServiceContext, action: str, actor: str, payload: dict[str, Any], field: str
) -> None:
    published(ctx) if action == "adjust_catalogue" else compiled(ctx)
    error = refused(ctx, "INPUT", action, actor, "2026-02-20T09:00", year=YEAR, **payload)
    assert error.field == field
    assert error.kind == "invalid"


def test_an_add_with_bad_units_is_refused_by_r1(ctx: ServiceContext) -> None:
    published(ctx)
    error = refused(
        ctx,
        "R1",
        "adjust_catalogue",
        "li",
        "2026-03-01T09:00",
        year=YEAR,
        kind="add",
        reason="r",
        **{**ELEVATORS, "units": ["housing"], "lead_unit": "commerce"},
    )
    assert error.field == "lead_unit"
    assert year_row(ctx).current_version == 1  # no new version was opened


# ---------------------------------------------------------------------------- decisions from the catalogue
def test_a_decision_from_a_hearing_entry_must_hold_a_hearing(ctx: ServiceContext) -> None:
    published(ctx)
    act(
        ctx,
        "register_decision",
        "li",
        "2026-03-02T09:00",
        ref="D1",
        title="旧城改造房屋征收补偿标准",
        category=1,
        lead_unit="housing",
        catalogue_entry="2026/E1",
    )
    act(
        ctx,
        "register_decision",
        "sun",
        "2026-03-02T09:10",
        ref="D2",
        title="招商引资若干扶持政策",
        category=1,
        lead_unit="commerce",
        units=["housing"],
        catalogue_entry="2026/E2",
    )
    with Session(ctx.engine) as session:
        decisions = {d.code: d for d in session.exec(select(Decision))}
        stages = {
            (d.code, s.stage): s.status
            for d in decisions.values()
            for s in session.exec(select(StageInstance).where(StageInstance.decision_id == d.id))
        }
    assert "hearing_in_catalogue" in decisions["D1"].flags
    assert stages[("D1", "hearing")] == StageStatus.pending
    assert "hearing_in_catalogue" not in decisions["D2"].flags
    assert stages[("D2", "hearing")] == StageStatus.not_required
    assert decisions["D1"].catalogue_entry_id == entry_row(ctx, "E1").id
    assert "catalogue_adjustment_needed" not in outbox_types(ctx)


def test_a_decision_outside_the_catalogue_asks_for_an_adjustment(ctx: ServiceContext) -> None:
    published(ctx)
    act(
        ctx,
        "register_decision",
        "li",
        "2026-03-02T09:00",
        ref="D1",
        title="物业服务收费标准",
        category=1,
        lead_unit="housing",
    )
    with Session(ctx.engine) as session:
        event = session.exec(
            select(OutboxEvent).where(OutboxEvent.event_type == "catalogue_adjustment_needed")
        ).one()
    assert event.payload["decision"] == "D1" and event.payload["title"] == "物业服务收费标准"


def test_a_proposed_or_rejected_entry_cannot_start_a_decision(ctx: ServiceContext) -> None:
    compiled(ctx)
    propose(ctx, ELEVATORS, "2026-01-21T09:00")
    for code in ("E3", "E4"):
        error = refused(
            ctx,
            "INPUT",
            "register_decision",
            "li",
            "2026-01-22T09:00",
            ref="D1",
            title="t",
            category=1,
            lead_unit="housing",
            catalogue_entry=f"2026/{code}",
        )
        assert error.field == "catalogue_entry"


# ---------------------------------------------------------------------------- the audit chains
def test_each_catalogue_year_has_its_own_chain_and_tampering_shows(ctx: ServiceContext) -> None:
    compiled(ctx)
    act(ctx, "propose_catalogue_entry", "li", "2026-11-20T09:00", year=2027, **RENEWAL)
    jid = jurisdiction_id(ctx)
    assert chains_valid(ctx) == {f"catalogue:{jid}:2026": 6, f"catalogue:{jid}:2027": 1}
    with Session(ctx.engine) as session:
        events = list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.chain == f"catalogue:{jid}:2026")
                .order_by(col(AuditEvent.seq))
            )
        )
        assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
        assert all(e.decision_id is None for e in events)
        assert events[5].payload["catalogue_entry"] == {"E3": "proposed->rejected"}
        # rewrite history: the rejection becomes an inclusion
        events[5].payload = {**events[5].payload, "catalogue_entry": {"E3": "proposed->included"}}
        session.add(events[5])
        session.commit()
    with Session(ctx.engine) as session:
        _, _, breaks = verify_all(session)
    assert [(b.chain, b.seq) for b in breaks] == [(f"catalogue:{jid}:2026", 6)]


def test_concurrent_first_proposals_of_a_year_share_one_catalogue(
    pg_engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two departments propose the first entries of a year at the same moment on PostgreSQL:
    one year row, both entries, one unbroken chain. A pause after finding no year row makes
    both transactions see the year missing before either creates it."""
    from flows.service import catalogue

    ctx = ServiceContext(engine=pg_engine, data_dir=tmp_path / "data")
    district(ctx)
    lookup = catalogue._lock_year

    def slow_lookup(tx: Any, year: int) -> CatalogueYear | None:
        found = lookup(tx, year)
        if found is None:
            time.sleep(0.3)
        return found

    monkeypatch.setattr(catalogue, "_lock_year", slow_lookup)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(entry: dict[str, Any], when: str) -> None:
        barrier.wait()
        try:
            propose(ctx, entry, when)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(RENEWAL, "2026-01-10T09:00")),
        threading.Thread(target=run, args=(INVESTMENT, "2026-01-10T09:01")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(pg_engine) as session:
        assert len(session.exec(select(CatalogueYear)).all()) == 1
        assert sorted(e.code for e in session.exec(select(CatalogueEntry))) == ["E1", "E2"]
        assert sorted(e.seq for e in session.exec(select(CatalogueEntry))) == [1, 2]
    assert chains_valid(ctx) == {f"catalogue:{jurisdiction_id(ctx)}{CHAIN_SUFFIX}": 2}


def test_refusals_raise_the_one_error_type(ctx: ServiceContext) -> None:
    district(ctx)
    with pytest.raises(ProcedureError) as caught:
        act(
            ctx,
            "publish_catalogue",
            "zhou",
            "2026-02-01T09:00",
            year=YEAR,
            url="https://x.gov.cn/c",
            published_on="2026-02-01",
        )
    assert caught.value.rule_id == "NOT_FOUND" and caught.value.field == "year"
