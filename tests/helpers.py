"""Shared test helpers: a standard district, acting through the service layer, and
asserting refusals that leave the database untouched."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect
from sqlmodel import Session, SQLModel, select

from flows.errors import ProcedureError
from flows.service import ActionResult, ServiceContext, run_action, setup_jurisdiction
from tests import guard_tally

SHANGHAI = ZoneInfo("Asia/Shanghai")

UNITS = [
    {"id": "housing", "name": "区住房和城乡建设局", "kind": "department"},
    {"id": "commerce", "name": "区商务局", "kind": "department"},
    {"id": "evaluator", "name": "区发展和改革局", "kind": "department"},
    {"id": "justice", "name": "区司法局", "kind": "legal_office"},
    {"id": "govoffice", "name": "区政府办公室", "kind": "gov_office"},
    {"id": "party", "name": "区委办公室", "kind": "party_office"},
]
USERS = [
    {"id": "li", "unit": "housing", "roles": ["department_staff"]},
    {"id": "zhao", "unit": "housing", "roles": ["department_head"]},
    {"id": "sun", "unit": "commerce", "roles": ["department_staff"]},
    {"id": "wang", "unit": "justice", "roles": ["legal_reviewer"]},
    {"id": "liu", "unit": "justice", "roles": ["legal_head", "admin"]},
    {"id": "zhou", "unit": "govoffice", "roles": ["gov_office"]},
    {"id": "mayor", "unit": "govoffice", "roles": ["head", "meeting_member"]},
    # the executive meeting's roster (Local Organic Law Art. 78): the head and three deputies
    {"id": "vice1", "name": "副区长甲", "unit": "govoffice", "roles": ["meeting_member"]},
    {"id": "vice2", "name": "副区长乙", "unit": "govoffice", "roles": ["meeting_member"]},
    {"id": "vice3", "name": "副区长丙", "unit": "govoffice", "roles": ["meeting_member"]},
    {"id": "chen", "unit": "party", "roles": ["party_liaison"]},
    {"id": "watcher", "unit": "justice", "roles": ["supervisor"]},
]
# the roster in speaking order, the head last (Art. 30(2))
MEETING_MEMBERS = ["vice1", "vice2", "vice3", "mayor"]


def at(text: str) -> datetime:
    """A local Asia/Shanghai time, written as in scenario files."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def district(
    ctx: ServiceContext, settings: dict[str, Any] | None = None, when: str = "2026-01-05T09:00"
) -> None:
    setup_jurisdiction(
        ctx, {"organ": "香洲区人民政府", "settings": settings or {}}, UNITS, USERS, now=at(when)
    )


def act(ctx: ServiceContext, action: str, actor: str, when: str, **payload: Any) -> ActionResult:
    return run_action(ctx, action, actor, payload, now=at(when))


def snapshot(ctx: ServiceContext) -> dict[str, int]:
    """Row counts of every table, plus a fingerprint of the mutable rows."""
    import models  # noqa: F401

    counts: dict[str, int] = {}
    with Session(ctx.engine) as session:
        existing = set(inspect(ctx.engine).get_table_names())
        for name, table in SQLModel.metadata.tables.items():
            if name in existing:
                counts[name] = int(session.exec(select(func.count()).select_from(table)).one())
        for name in (
            "decision",
            "stageinstance",
            "deadline",
            "commentperiod",
            "legalityreview",
            "catalogueversion",
        ):
            if name in existing:
                rows = session.connection().execute(select(SQLModel.metadata.tables[name])).all()
                counts[f"{name}#hash"] = hash(tuple(sorted(repr(tuple(r)) for r in rows)))
    return counts


def refused(
    ctx: ServiceContext, rule_id: str, action: str, actor: str, when: str, **payload: Any
) -> ProcedureError:
    """The action is refused with `rule_id`, and nothing in the database changed."""
    before = snapshot(ctx)
    with pytest.raises(ProcedureError) as caught:
        act(ctx, action, actor, when, **payload)
    assert caught.value.rule_id == rule_id, f"expected {rule_id}, got {caught.value}"
    assert caught.value.message_zh and caught.value.message_en and caught.value.article
    assert snapshot(ctx) == before, "a refused action changed the database"
    guard_tally.record(rule_id)
    return caught.value


# ---------------------------------------------------------------- a decision carried forward
def registered(
    ctx: ServiceContext,
    ref: str = "D1",
    flags: list[str] | None = None,
    when: str = "2026-03-02T09:00",
    lead_unit: str = "housing",
    confirm: bool = True,
    **extra: Any,
) -> None:
    act(
        ctx,
        "register_decision",
        "li" if lead_unit == "housing" else "sun",
        when,
        ref=ref,
        title=f"决策{ref}",
        category=1,
        lead_unit=lead_unit,
        flags=flags or [],
        **extra,
    )
    # P16: the legal office confirms a confidential or exploratory-reform flag with its basis
    for name in ("confidential", "exploratory_reform"):
        if name in (flags or []) and confirm:
            act(ctx, "confirm_flag", "wang", when, decision=ref, flag=name, legal_basis=f"{name} 的法律依据")


def drafted(ctx: ServiceContext, ref: str = "D1", flags: list[str] | None = None, **extra: Any) -> None:
    registered(ctx, ref, flags, **extra)
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision=ref)
    actor = "li" if extra.get("lead_unit", "housing") == "housing" else "sun"
    act(
        ctx,
        "submit_draft",
        actor,
        "2026-03-02T11:00",
        decision=ref,
        draft="草案",
        explanation="起草说明",
        legal_bases=["国务院令第713号"],
    )


def participation_done(ctx: ServiceContext, ref: str = "D1") -> None:
    """A 30-day comment period 2026-03-03..04-02 with no comments, completed and approved."""
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision=ref,
        start_date="2026-03-03",
        end_date="2026-04-02",
        channels=["website"],
    )
    from flows.scenario import sweep_until

    sweep_until(ctx, at("2026-04-03T09:00"))
    act(ctx, "complete_participation", "li", "2026-04-03T09:30", decision=ref)
    act(ctx, "approve_stage", "wang", "2026-04-03T10:00", decision=ref, stage="public_participation")


def legality_submitted(ctx: ServiceContext, ref: str = "D1", submitted: str = "2026-04-08T09:00") -> None:
    """Submitted for legality review; the opinion is due 15 working days later (P6)."""
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        submitted,
        decision=ref,
        procedures_statement="已履行公众参与程序",
    )


def comment_window(ctx: ServiceContext, start: str, end: str, ref: str = "D1") -> None:
    """A comment window from `start` to `end`, opened at 09:00 on its first day."""
    act(
        ctx,
        "open_comment_period",
        "li",
        f"{start}T09:00",
        decision=ref,
        start_date=start,
        end_date=end,
        channels=["website"],
    )


def legality_lawful(ctx: ServiceContext, ref: str = "D1", submitted: str = "2026-04-08T09:00") -> None:
    legality_submitted(ctx, ref, submitted)
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-09T09:00",
        decision=ref,
        adviser="张律师",
        opinion="合法",
    )
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-09T10:00",
        decision=ref,
        outcome="lawful",
        opinion="合法",
    )


def decided(ctx: ServiceContext, ref: str = "D1", meeting: str = "2026-04-17") -> None:
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision=ref, meeting_date=meeting)
    act(
        ctx,
        "record_meeting",
        "zhou",
        f"{meeting}T11:00",
        decision=ref,
        meeting_type="executive",
        held_on=meeting,
        members_present=MEETING_MEMBERS,
        opinions=[{"member": member, "position": "agree"} for member in MEETING_MEMBERS],
        head_decision="approve",
    )


def published(ctx: ServiceContext, ref: str = "D1", **publication: Any) -> None:
    """After `decided`: the Party committee's report and reply, then publication (Art. 31-32);
    `publication` adds to (or replaces) the publication's fields."""
    act(ctx, "record_party_report", "chen", "2026-04-20T09:00", decision=ref, on_date="2026-04-20")
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-21T09:00",
        decision=ref,
        on_date="2026-04-21",
        result="agreed",
    )
    act(
        ctx,
        "publish_decision",
        "zhou",
        "2026-04-22T09:00",
        decision=ref,
        **{
            "channels": ["gazette", "website", "newspaper"],
            "published_on": "2026-04-22",
            "text": "决定全文",
            **publication,
        },
    )
