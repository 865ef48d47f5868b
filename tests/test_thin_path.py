"""One decision from registration to archive through the service layer."""

from __future__ import annotations

from sqlmodel import Session, select

from flows.service import ServiceContext
from models import Decision, DecisionStatus
from tests.helpers import act, decided, district, drafted, legality_lawful, participation_done, refused


def test_a_decision_goes_from_register_to_archive(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    decided(ctx)
    act(ctx, "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-20")
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-21T09:00",
        decision="D1",
        on_date="2026-04-21",
        result="agreed",
    )
    act(
        ctx,
        "publish_decision",
        "zhou",
        "2026-04-22T09:00",
        decision="D1",
        channels=["gazette", "website", "newspaper"],
        published_on="2026-04-22",
        text="决定全文",
    )
    act(ctx, "archive_decision", "zhou", "2026-04-23T09:00", decision="D1")
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == "D1")).one()
        assert decision.status == DecisionStatus.archived


def test_a_department_cannot_act_on_another_departments_decision(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    error = refused(
        ctx,
        "AUTH",
        "open_comment_period",
        "sun",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-04-02",
        channels=["website"],
    )
    assert error.kind == "forbidden"
