"""Concurrent writers. Two conflicting actions on one decision, started together from two
connections: exactly one commits, the other is refused (or retried and then refused), and
the audit chain records exactly one event for the action. Repeated on fresh decisions so
that a lucky schedule cannot pass the test.

Every test runs on PostgreSQL (row locks, the `pg_engine` fixture) and on a SQLite file
(one writer at a time, BEGIN IMMEDIATE). An in-memory SQLite database shares one
connection between threads, so it cannot host a race; the file is the real thing."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from flows.errors import ProcedureError
from flows.scenario import sweep_until
from flows.service import ActionResult, ServiceContext, fire_due_deadlines, run_action
from flows.service.audit import verify_all
from flows.service.framework import lock_decision, the_jurisdiction
from models import (
    AuditEvent,
    Deadline,
    Decision,
    EvidenceDocument,
    LegalityReview,
    PublicComment,
    StageInstance,
    StoredDocument,
)
from models.db import make_engine, mark_database
from models.enums import DeadlineStatus
from tests.helpers import act, at, district, drafted
from tests.schema import create_all

ROUNDS = 20


@pytest.fixture(params=["postgresql", "sqlite-file"])
def race_ctx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceContext]:
    if request.param == "postgresql":
        engine: Engine = request.getfixturevalue("pg_engine")
        yield ServiceContext(engine=engine, data_dir=tmp_path / "data")
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    # a scratch file: skip the fsync per commit (locking, which is under test, is unchanged)
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA synchronous=OFF"))
    create_all(engine)
    mark_database(engine, "scenario", "tests")  # simulated clock: the test replays time
    try:
        yield ServiceContext(engine=engine, data_dir=tmp_path / "data")
    finally:
        engine.dispose()


Outcome = Any  # an ActionResult, or the exception the call raised


def race(*calls: Callable[[], Any]) -> list[Outcome]:
    """Run the calls in threads released together by a barrier; collect what each returned
    or raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Outcome] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait(timeout=30)
        try:
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a racing action never finished"
    return outcomes


def call(ctx: ServiceContext, action: str, actor: str, when: str, **payload: Any) -> Callable[[], Any]:
    return lambda: run_action(ctx, action, actor, payload, now=at(when))


def one_winner(outcomes: list[Outcome], rule_id: str = "STATE") -> tuple[int, ProcedureError]:
    """Exactly one call committed; every other was refused with `rule_id` (no raw
    database error leaks out)."""
    winners = [i for i, o in enumerate(outcomes) if isinstance(o, ActionResult)]
    losers = [o for o in outcomes if not isinstance(o, ActionResult)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, ProcedureError) and o.rule_id == rule_id for o in losers), outcomes
    return winners[0], losers[0]


def decision_chain(session: Session, ref: str) -> tuple[Decision, list[AuditEvent]]:
    decision = session.exec(select(Decision).where(Decision.code == ref)).one()
    events = list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.chain == f"decision:{decision.id}")
            .order_by(col(AuditEvent.seq))
        )
    )
    return decision, events


def assert_log_intact(ctx: ServiceContext) -> None:
    with Session(ctx.engine) as session:
        assert verify_all(session)[2] == []


def participation_awaiting_approval(ctx: ServiceContext, refs: list[str]) -> None:
    """Drafted, a 30-day comment period run, the participation stage completed and waiting
    for the legal office's approval."""
    district(ctx)
    for ref in refs:
        drafted(ctx, ref)
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
    sweep_until(ctx, at("2026-04-03T09:00"))
    for ref in refs:
        act(ctx, "complete_participation", "li", "2026-04-03T09:30", decision=ref)


def ready_for_legality_review(ctx: ServiceContext, refs: list[str]) -> None:
    """Confidential decisions (no public participation, R2) go to legality review straight
    after drafting: the shortest honest path to the races below."""
    district(ctx)
    for ref in refs:
        drafted(ctx, ref, flags=["confidential"])


def refs(count: int = ROUNDS) -> list[str]:
    return [f"D{i}" for i in range(1, count + 1)]


# ---------------------------------------------------------------- conflicting pairs
def test_two_submissions_for_legality_review_one_wins(race_ctx: ServiceContext) -> None:
    ctx = race_ctx
    decisions = refs()
    ready_for_legality_review(ctx, decisions)
    for ref in decisions:
        submit = call(
            ctx,
            "submit_for_legality_review",
            "li",
            "2026-04-08T09:00",
            decision=ref,
            procedures_statement="已公开征求意见30日",
        )
        one_winner(race(submit, submit))
    with Session(ctx.engine) as session:
        for ref in decisions:
            decision, events = decision_chain(session, ref)
            assert Counter(e.action for e in events)["submit_for_legality_review"] == 1
            reviews = session.exec(
                select(func.count())
                .select_from(LegalityReview)
                .where(LegalityReview.decision_id == decision.id)
            ).one()
            packages = session.exec(
                select(func.count())
                .select_from(EvidenceDocument)
                .where(
                    EvidenceDocument.decision_id == decision.id, EvidenceDocument.kind == "legality_package"
                )
            ).one()
            minimum_waits = session.exec(
                select(func.count())
                .select_from(Deadline)
                .where(Deadline.decision_id == decision.id, Deadline.kind == "legality_review_min")
            ).one()
            assert (reviews, packages, minimum_waits) == (1, 1, 1), ref
    assert_log_intact(ctx)


def test_two_different_legality_opinions_only_one_is_issued(race_ctx: ServiceContext) -> None:
    ctx = race_ctx
    decisions = refs()
    ready_for_legality_review(ctx, decisions)
    for ref in decisions:
        act(
            ctx,
            "submit_for_legality_review",
            "li",
            "2026-04-08T09:00",
            decision=ref,
            procedures_statement="已公开征求意见30日",
        )
        act(
            ctx,
            "record_legal_adviser_opinion",
            "wang",
            "2026-04-09T09:00",
            decision=ref,
            adviser="张律师",
            opinion="合法",
        )
    winners: dict[str, str] = {}
    for ref in decisions:
        lawful = call(
            ctx,
            "issue_legality_opinion",
            "wang",
            "2026-04-09T10:00",
            decision=ref,
            outcome="lawful",
            opinion="合法",
        )
        unlawful = call(
            ctx,
            "issue_legality_opinion",
            "liu",
            "2026-04-09T10:00",
            decision=ref,
            outcome="unlawful",
            opinion="违反上位法",
        )
        winner, _ = one_winner(race(lawful, unlawful))
        winners[ref] = ("lawful", "unlawful")[winner]
    with Session(ctx.engine) as session:
        for ref in decisions:
            decision, events = decision_chain(session, ref)
            issued = [e for e in events if e.action == "issue_legality_opinion"]
            assert len(issued) == 1
            review = session.exec(
                select(LegalityReview).where(LegalityReview.decision_id == decision.id)
            ).one()
            # the stored outcome, the audit event and the stage agree with the one winner
            assert review.outcome == issued[0].payload["input"]["outcome"] == winners[ref]
            stage = session.exec(
                select(StageInstance).where(
                    StageInstance.decision_id == decision.id, StageInstance.stage == "legality_review"
                )
            ).one()
            assert (stage.status.value == "completed") == (winners[ref] == "lawful")
            opinions = session.exec(
                select(func.count())
                .select_from(EvidenceDocument)
                .where(
                    EvidenceDocument.decision_id == decision.id, EvidenceDocument.kind == "legality_opinion"
                )
            ).one()
            assert opinions == 1
    assert_log_intact(ctx)


def test_approve_and_return_of_one_stage_only_one_happens(race_ctx: ServiceContext) -> None:
    ctx = race_ctx
    decisions = refs()
    participation_awaiting_approval(ctx, decisions)
    for ref in decisions:
        approve = call(
            ctx, "approve_stage", "wang", "2026-04-03T10:00", decision=ref, stage="public_participation"
        )
        give_back = call(
            ctx,
            "return_stage",
            "liu",
            "2026-04-03T10:00",
            decision=ref,
            stage="public_participation",
            reason="采纳情况说明不完整",
        )
        one_winner(race(approve, give_back))
    with Session(ctx.engine) as session:
        for ref in decisions:
            decision, events = decision_chain(session, ref)
            counts = Counter(e.action for e in events)
            assert counts["approve_stage"] + counts["return_stage"] == 1
            stage = session.exec(
                select(StageInstance).where(
                    StageInstance.decision_id == decision.id, StageInstance.stage == "public_participation"
                )
            ).one()
            assert stage.status.value == ("completed" if counts["approve_stage"] else "returned")
    assert_log_intact(ctx)


# ---------------------------------------------------------------- many writers, one decision
def test_many_concurrent_public_comments_all_commit_with_unique_codes(race_ctx: ServiceContext) -> None:
    ctx = race_ctx
    threads, each = 8, 10
    district(ctx)
    drafted(ctx)
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-04-02",
        channels=["website"],
    )

    def commenter(number: int) -> Callable[[], list[str]]:
        def submit_all() -> list[str]:
            codes = []
            for i in range(each):
                result = run_action(
                    ctx,
                    "submit_public_comment",
                    "public",
                    {"decision": "D1", "text": f"意见 {number}-{i}"},
                    now=at("2026-03-10T15:00"),
                )
                codes.append(result.data["comment"])
            return codes

        return submit_all

    outcomes = race(*(commenter(n) for n in range(threads)))
    assert all(isinstance(o, list) for o in outcomes), outcomes
    returned = [code for codes in outcomes for code in codes]
    total = threads * each
    assert sorted(returned) == sorted(f"C{i}" for i in range(1, total + 1))
    with Session(ctx.engine) as session:
        decision, events = decision_chain(session, "D1")
        stored = session.exec(select(PublicComment).where(PublicComment.decision_id == decision.id)).all()
        assert sorted(c.code for c in stored) == sorted(returned)
        assert sorted(c.text for c in stored) == sorted(
            f"意见 {n}-{i}" for n in range(threads) for i in range(each)
        )
        assert Counter(e.action for e in events)["submit_public_comment"] == total
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert_log_intact(ctx)


# ---------------------------------------------------------------- races on shared keys
def test_concurrent_registrations_get_distinct_automatic_codes(race_ctx: ServiceContext) -> None:
    """Both read the same count for JC-YYYY-NNN; the loser's unique violation is retried."""
    ctx = race_ctx
    district(ctx)
    for _ in range(ROUNDS // 2):
        register = call(
            ctx, "register_decision", "li", "2026-03-02T09:00", title="决策", category=1, lead_unit="housing"
        )
        outcomes = race(register, register)
        assert all(isinstance(o, ActionResult) for o in outcomes), outcomes
        codes = {o.data["decision"] for o in outcomes}
        assert len(codes) == 2
    with Session(ctx.engine) as session:
        assert session.exec(select(func.count()).select_from(Decision)).one() == ROUNDS
    assert_log_intact(ctx)


def test_concurrent_registrations_of_one_ref_refuse_the_second(race_ctx: ServiceContext) -> None:
    ctx = race_ctx
    district(ctx)
    for i in range(ROUNDS // 2):
        register = call(
            ctx,
            "register_decision",
            "li",
            "2026-03-02T09:00",
            ref=f"R{i}",
            title="决策",
            category=1,
            lead_unit="housing",
        )
        _, loser = one_winner(race(register, register), rule_id="INPUT")
        assert loser.field == "ref"
    assert_log_intact(ctx)


def test_identical_documents_on_two_decisions_at_once_are_stored_once(race_ctx: ServiceContext) -> None:
    """Evidence is content-addressed: two decisions filing the same text at the same moment
    both succeed and share one stored document."""
    ctx = race_ctx
    district(ctx)
    pairs = [(f"A{i}", f"B{i}") for i in range(ROUNDS // 2)]
    for first, second in pairs:
        for ref in (first, second):
            act(
                ctx,
                "register_decision",
                "li",
                "2026-03-02T09:00",
                ref=ref,
                title="决策",
                category=1,
                lead_unit="housing",
            )
            act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision=ref)
    for i, (first, second) in enumerate(pairs):
        body = {"draft": f"同一草案 {i}", "explanation": f"同一说明 {i}", "legal_bases": ["国务院令第713号"]}
        outcomes = race(
            call(ctx, "submit_draft", "li", "2026-03-02T11:00", decision=first, **body),
            call(ctx, "submit_draft", "li", "2026-03-02T11:00", decision=second, **body),
        )
        assert all(isinstance(o, ActionResult) for o in outcomes), outcomes
    with Session(ctx.engine) as session:
        for i, (first, second) in enumerate(pairs):
            sha = ctx.documents.put(f"同一草案 {i}".encode())
            assert session.get(StoredDocument, sha) is not None
            for ref in (first, second):
                _, events = decision_chain(session, ref)
                assert Counter(e.action for e in events)["submit_draft"] == 1
    assert_log_intact(ctx)


# ---------------------------------------------------------------- the sweep against an action
def blocked_behind(engine: Engine, holder_pid: int) -> bool:
    with engine.connect() as conn:
        waiting = conn.execute(
            text("select count(*) from pg_stat_activity where :pid = any(pg_blocking_pids(pid))"),
            {"pid": holder_pid},
        ).scalar_one()
    return bool(waiting)


def test_the_sweep_waits_for_an_action_in_flight_on_the_same_decision(
    fresh_postgres_schema: tuple[str, str], tmp_path: Path
) -> None:
    """An action holds the decision row (and has appended its audit event) while the sweep
    fires a reminder deadline of that decision. The sweep must queue behind it."""
    from flows.service import audit

    url, schema = fresh_postgres_schema
    engine = make_engine(url, schema=schema)
    watcher = make_engine(url, schema=schema)
    create_all(engine)
    mark_database(engine, "scenario", "tests")  # simulated clock: the test replays time
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    moment = at("2026-06-30T09:00")
    outcome: list[Any] = []
    try:
        ready_for_legality_review(ctx, ["D1"])
        act(
            ctx,
            "submit_for_legality_review",
            "li",
            "2026-04-08T09:00",
            decision="D1",
            procedures_statement="说明",
        )
        # an action's transaction caught half-way: the decision locked, its event appended
        with Session(engine) as in_flight:
            decision = lock_decision(in_flight, the_jurisdiction(in_flight), "D1")
            holder_pid = int(in_flight.connection().execute(text("select pg_backend_pid()")).scalar_one())
            audit.append(
                in_flight,
                chain=f"decision:{decision.id}",
                action="record_legal_adviser_opinion",
                actor="wang",
                actor_roles="legal_reviewer",
                occurred_at=at("2026-06-30T08:59"),
                payload={},
                decision_id=decision.id,
            )
            sweep = threading.Thread(target=lambda: outcome.append(_sweep(ctx, moment)))
            sweep.start()
            # poll until the sweep is blocked behind the action (or has finished)
            blocked = False
            for _ in range(2000):
                blocked = blocked_behind(watcher, holder_pid)
                if blocked or not sweep.is_alive():
                    break
                sweep.join(timeout=0.005)
            in_flight.commit()
        sweep.join(timeout=60)
        assert blocked, "the sweep never met the action's lock"
        assert outcome and not isinstance(outcome[0], Exception), outcome
        with Session(engine) as session:
            _, events = decision_chain(session, "D1")
            actions = [e.action for e in events]
            held = actions.index("record_legal_adviser_opinion")
            # the sweep queued behind the action: every deadline it fired comes after it
            assert actions[held + 1 :] and set(actions[held + 1 :]) == {"deadline_due"}
            assert "deadline_due" not in actions[:held]
            still_open = session.exec(
                select(func.count())
                .select_from(Deadline)
                .where(Deadline.status == DeadlineStatus.open, col(Deadline.due_at) <= moment)
            ).one()
            assert still_open == 0
            assert verify_all(session)[2] == []
    finally:
        watcher.dispose()
        engine.dispose()


def _sweep(ctx: ServiceContext, moment: Any) -> Any:
    try:
        return fire_due_deadlines(ctx, moment)
    except Exception as exc:
        return exc


def test_an_action_waits_for_a_calendar_load_in_flight_and_counts_on_the_new_calendar(
    fresh_postgres_schema: tuple[str, str], tmp_path: Path
) -> None:
    """A calendar load holds the calendar (the jurisdiction row, FOR UPDATE) while it writes
    the year's days. An action that counts working days must wait for it, then count on the
    loaded calendar: 2026-04-09 becomes a holiday, so the 7 working days of the legality
    review (Art. 26(2)) from 04-08 end on 04-20, not 04-17."""
    from datetime import date

    from models import CalendarDay

    url, schema = fresh_postgres_schema
    engine = make_engine(url, schema=schema)
    watcher = make_engine(url, schema=schema)
    create_all(engine)
    mark_database(engine, "scenario", "tests")  # simulated clock: the test replays time
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    outcome: list[Any] = []
    try:
        ready_for_legality_review(ctx, ["D1"])
        with Session(engine) as loading:
            the_jurisdiction(loading, lock="calendar_write")
            holder_pid = int(loading.connection().execute(text("select pg_backend_pid()")).scalar_one())
            loading.add(CalendarDay(day=date(2026, 4, 9), is_working_day=False, note="test holiday"))
            loading.flush()

            def submit() -> None:
                try:
                    outcome.append(
                        act(
                            ctx,
                            "submit_for_legality_review",
                            "li",
                            "2026-04-08T09:00",
                            decision="D1",
                            procedures_statement="说明",
                        )
                    )
                except Exception as exc:
                    outcome.append(exc)

            action = threading.Thread(target=submit)
            action.start()
            # watch until the action queues behind the load, or finishes without queueing;
            # the bound is only a safety net for a machine under heavy load
            blocked = False
            give_up = time.monotonic() + 120
            while action.is_alive() and not blocked and time.monotonic() < give_up:
                blocked = blocked_behind(watcher, holder_pid)
                action.join(timeout=0.005)
            loading.commit()
        action.join(timeout=60)
        assert blocked, "the action did not wait for the calendar load"
        assert outcome and not isinstance(outcome[0], Exception), outcome
        with Session(engine) as session:
            due = session.exec(select(Deadline.due_date).where(Deadline.kind == "legality_review_min")).one()
        assert due == date(2026, 4, 20)
    finally:
        watcher.dispose()
        engine.dispose()
