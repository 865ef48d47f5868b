"""Issue 8, identities and the clock: each finding reproduced, and now refused.

- `act --actor system` passed every role check and forged a lawful legality opinion;
- `--now` backdated a 30-day comment period so that it opened and closed in the past;
- a `sweep --now` in the future fired deadlines early;
- `calendar load --actor public` rewrote the current year;
and what the issue asks beside them: active users only, inbox and outbox changes by the right
actor and audited, confidential decisions read only by a user with a role on them, and audit
events that record the roles (hashed), the operating-system account and any back-dating."""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from flows.errors import ProcedureError
from flows.service import Backdate, ServiceContext, run_action, setup_jurisdiction
from flows.service.audit import verify_all
from flows.service.calendar_admin import load_calendar_file
from flows.service.clock import database_kind
from flows.service.notifications import mark_read, retry_delivery
from flows.service.sweep import sweep
from models import AuditEvent, CalendarYear, CommentPeriod, Deadline, Decision, LegalityReview, User
from models.db import make_engine, mark_database, normalise_url
from models.enums import DeadlineStatus, DeliveryStatus
from models.notification import Delivery, Notification
from tests import conftest as suite
from tests.conftest import SHANGHAI
from tests.helpers import (
    UNITS,
    USERS,
    act,
    at,
    district,
    drafted,
    legality_submitted,
    participation_done,
    refused,
    registered,
    snapshot,
)
from tests.schema import create_all

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_YAML = ROOT / "calendars" / "2027.yaml"
ORGAN = {"organ": "香洲区人民政府"}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


class Clock:
    """A clock the test moves by hand (time is an input)."""

    def __init__(self, start: str) -> None:
        self.now = at(start)

    def __call__(self) -> datetime:
        return self.now

    def to(self, when: str) -> datetime:
        self.now = at(when)
        return self.now


def now_act(ctx: ServiceContext, clock: Clock, action: str, actor: str, when: str, **payload: Any) -> Any:
    """An action on a production database: the clock moves to `when`, the action gives no time."""
    clock.to(when)
    return run_action(ctx, action, actor, payload)


@pytest.fixture
def production(engine: Engine, tmp_path: Path) -> tuple[ServiceContext, Clock]:
    """The suite's database marked production, with a clock the test controls and the
    standard district set up at 2026-01-05 09:00."""
    mark_database(engine, "production", "tests")
    clock = Clock("2026-01-05T09:00")
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data", clock=clock, os_account="clerk01")
    assert ctx.database_kind == "production"
    setup_jurisdiction(ctx, ORGAN, UNITS, USERS)
    return ctx, clock


def database_url(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    """The test database's URL; the CLI finds its evidence in the same data folder."""
    request.getfixturevalue("monkeypatch").setenv("DECISIONFLOW_DATA_DIR", str(tmp_path / "data"))
    if normalise_url(suite.test_database_url()).startswith("postgresql"):
        url, schema = request.getfixturevalue("fresh_postgres_schema")
        return f"{url}?options=-csearch_path%3D{schema}"
    return f"sqlite:///{tmp_path / name}"


@pytest.fixture
def production_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, ServiceContext]]:
    """A production database for the CLI (real clock), the district set up now and D1
    registered and drafted now: (url, a service context on it)."""
    url = database_url(request, tmp_path, "production.db")
    engine = make_engine(url)
    create_all(engine)  # no mark: production
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    setup_jurisdiction(ctx, ORGAN, UNITS, USERS)
    register = {"ref": "D1", "title": "决策D1", "category": 1, "lead_unit": "housing"}
    run_action(ctx, "register_decision", "li", register)
    run_action(ctx, "start_procedure", "zhou", {"decision": "D1"})
    draft = {"decision": "D1", "draft": "草案", "explanation": "说明", "legal_bases": ["国务院令第713号"]}
    run_action(ctx, "submit_draft", "li", draft)
    yield url, ctx
    engine.dispose()


@pytest.fixture
def simulated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, ServiceContext]]:
    """A database marked `scenario` (simulated clock) with the district, for the CLI."""
    url = database_url(request, tmp_path, "simulated.db")
    engine = make_engine(url)
    create_all(engine)
    mark_database(engine, "scenario", "tests")
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    district(ctx)
    yield url, ctx
    engine.dispose()


def chain_events(engine: Engine, ref: str) -> list[AuditEvent]:
    with Session(engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == ref)).one()
        return list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.chain == f"decision:{decision.id}")
                .order_by(col(AuditEvent.seq))
            )
        )


def refused_by(result: Result, rule: str, field: str) -> None:
    assert result.exit_code == 2, result.output
    assert f"{rule} [{field}]" in result.output, result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- system is not an actor adapters can name
LAWFUL = {"decision": "D1", "outcome": "lawful", "opinion": "合法"}


def under_review(ctx: ServiceContext) -> None:
    """D1 under legality review with the adviser's opinion in: only the opinion is missing."""
    drafted(ctx)
    participation_done(ctx)
    legality_submitted(ctx)
    adviser = {"decision": "D1", "adviser": "张律师", "opinion": "合法"}
    act(ctx, "record_legal_adviser_opinion", "wang", "2026-04-09T09:00", **adviser)


@pytest.mark.parametrize("code", ["system", "System", " system "])
def test_system_cannot_forge_a_legality_opinion_through_the_service(ctx: ServiceContext, code: str) -> None:
    district(ctx)
    under_review(ctx)
    error = refused(ctx, "AUTH", "issue_legality_opinion", code, "2026-04-09T10:00", **LAWFUL)
    assert error.field == "actor" and "system" in error.message_en


def test_system_cannot_forge_a_legality_opinion_on_the_cli(simulated_url: tuple[str, ServiceContext]) -> None:
    url, ctx = simulated_url
    under_review(ctx)
    before = snapshot(ctx)
    forged = run(
        "act",
        "issue_legality_opinion",
        "--actor",
        "system",
        "--with",
        json.dumps(LAWFUL, ensure_ascii=False),
        "--now",
        "2026-04-09T10:00",
        "--database",
        url,
    )
    assert forged.exit_code == 2 and "AUTH [actor]" in forged.output, forged.output
    assert snapshot(ctx) == before
    with Session(ctx.engine) as session:
        assert all(r.outcome == "" for r in session.exec(select(LegalityReview)))
    # the legal office can still issue it
    assert act(ctx, "issue_legality_opinion", "wang", "2026-04-09T10:00", **LAWFUL).action


def test_a_scenario_file_cannot_act_as_system(tmp_path: Path) -> None:
    from flows.scenario import run_file

    source = (ROOT / "scenarios" / "01_thin_path.yaml").read_text(encoding="utf-8")
    start = "actor: zhou, action: start_procedure"
    head = source[: source.index("\n", source.index(start))]  # up to the start of the procedure
    forged = tmp_path / "forged.yaml"
    forged.write_text(head.replace(start, "actor: system, action: start_procedure") + "\n", encoding="utf-8")
    report = run_file(forged)
    assert [o.result for o in report.outcomes] == ["ok", "refused R1", "refused AUTH"]
    assert not report.passed


def test_an_inactive_user_is_refused(ctx: ServiceContext) -> None:
    district(ctx)
    registered(ctx)
    with Session(ctx.engine) as session:
        zhou = session.exec(select(User).where(User.code == "zhou")).one()
        zhou.active = False
        session.add(zhou)
        session.commit()
    error = refused(ctx, "AUTH", "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    assert error.field == "actor" and "not active" in error.message_en
    error = refused(ctx, "NOT_FOUND", "start_procedure", "nobody", "2026-03-02T10:00", decision="D1")
    assert error.field == "actor"


# ---------------------------------------------------------------- the audit event says who acted
def test_the_audit_event_records_roles_their_hash_and_the_os_account(
    production: tuple[ServiceContext, Clock],
) -> None:
    ctx, clock = production
    now_act(ctx, clock, "register_decision", "zhou", "2026-03-02T09:00", **REGISTER_JUSTICE)
    (event,) = chain_events(ctx.engine, "D9")
    assert (event.actor, event.actor_roles) == ("zhou", "gov_office")
    assert event.roles_hash == hashlib.sha256(b"gov_office").hexdigest()
    assert event.os_account == "clerk01"
    assert (event.backdated_by, event.backdate_reason) == ("", "")
    assert event.occurred_at == at("2026-03-02T09:00")


REGISTER_JUSTICE = {"ref": "D9", "title": "决策D9", "category": 1, "lead_unit": "housing"}


def test_the_cli_records_the_operating_system_account(simulated_url: tuple[str, ServiceContext]) -> None:
    url, ctx = simulated_url
    payload = json.dumps({"ref": "D1", "title": "决策D1", "category": 1, "lead_unit": "housing"})
    done = run("act", "register_decision", "--actor", "li", "--with", payload, "--database", url)
    assert done.exit_code == 0, done.output
    (event,) = chain_events(ctx.engine, "D1")
    assert event.os_account == getpass.getuser() and event.actor_roles == "department_staff"


def test_editing_actor_roles_is_caught_by_audit_verify(simulated_url: tuple[str, ServiceContext]) -> None:
    url, ctx = simulated_url
    drafted(ctx)
    assert run("audit", "verify", "--database", url).exit_code == 0
    (event,) = [e for e in chain_events(ctx.engine, "D1") if e.action == "submit_draft"]
    with ctx.engine.begin() as conn:
        conn.execute(
            text("UPDATE auditevent SET actor_roles = 'department_staff,legal_head' WHERE id = :id"),
            {"id": event.id},
        )
    with Session(ctx.engine) as session:
        _, _, breaks = verify_all(session)
    assert [(b.seq, b.reason) for b in breaks] == [(event.seq, "actor_roles does not match its hash")]
    checked = run("audit", "verify", "--database", url)
    assert checked.exit_code == 1 and f"at seq {event.seq}" in checked.output

    # an editor who also rewrites the roles hash still breaks the chained hash
    forged = hashlib.sha256(b"department_staff,legal_head").hexdigest()
    with ctx.engine.begin() as conn:
        conn.execute(
            text("UPDATE auditevent SET roles_hash = :h WHERE id = :id"), {"h": forged, "id": event.id}
        )
    with Session(ctx.engine) as session:
        _, _, breaks = verify_all(session)
    assert [(b.seq, b.reason) for b in breaks] == [(event.seq, "content does not match its hash")]


# ---------------------------------------------------------------- the clock on a production database
COMMENT_PERIOD = {"decision": "D1", "channels": ["website"]}


def test_now_cannot_backdate_a_comment_period_on_a_production_database(
    production_url: tuple[str, ServiceContext],
) -> None:
    url, ctx = production_url
    today = datetime.now(UTC).date()
    start, end = today - timedelta(days=60), today - timedelta(days=30)
    payload = json.dumps({**COMMENT_PERIOD, "start_date": str(start), "end_date": str(end)})
    before = snapshot(ctx)
    backdated = run(
        "act",
        "open_comment_period",
        "--actor",
        "li",
        "--with",
        payload,
        "--now",
        f"{start}T09:00",
        "--database",
        url,
    )
    refused_by(backdated, "AUTH", "now")
    assert "--backdate" in backdated.output
    future = run(
        "act",
        "start_procedure",
        "--actor",
        "zhou",
        "--set",
        "decision=D1",
        "--now",
        f"{today + timedelta(days=40)}T09:00",
        "--database",
        url,
    )
    refused_by(future, "AUTH", "now")
    assert snapshot(ctx) == before
    with Session(ctx.engine) as session:
        assert session.exec(select(CommentPeriod)).first() is None


def test_now_is_simulated_time_on_a_scenario_database(simulated_url: tuple[str, ServiceContext]) -> None:
    url, ctx = simulated_url
    drafted(ctx)
    payload = json.dumps({**COMMENT_PERIOD, "start_date": "2026-03-03", "end_date": "2026-04-02"})
    opened = run(
        "act",
        "open_comment_period",
        "--actor",
        "li",
        "--with",
        payload,
        "--now",
        "2026-03-03T09:00",
        "--database",
        url,
    )
    assert opened.exit_code == 0, opened.output
    assert database_kind(ctx.engine) == "scenario"


def test_the_service_refuses_a_time_other_than_now_on_production(
    production: tuple[ServiceContext, Clock],
) -> None:
    ctx, clock = production
    clock.to("2026-03-02T09:00")
    before = snapshot(ctx)
    for moment in (at("2026-03-01T09:00"), at("2026-03-03T09:00")):
        with pytest.raises(ProcedureError) as caught:
            run_action(ctx, "register_decision", "li", REGISTER_D1, now=moment)
        assert (caught.value.rule_id, caught.value.field) == ("AUTH", "now")
    assert snapshot(ctx) == before
    # a time within the clock's slack is now
    run_action(ctx, "register_decision", "li", REGISTER_D1, now=at("2026-03-02T08:59:30"))


REGISTER_D1 = {"ref": "D1", "title": "决策D1", "category": 1, "lead_unit": "housing"}


# ---------------------------------------------------------------- an administrator's back-dating
def production_d1(ctx: ServiceContext, clock: Clock) -> None:
    now_act(ctx, clock, "register_decision", "li", "2026-03-02T09:00", **REGISTER_D1)
    clock.to("2026-03-10T09:00")  # the start of the procedure is entered a week late


def test_an_admin_backdates_with_a_reason_and_it_is_audited(production: tuple[ServiceContext, Clock]) -> None:
    ctx, clock = production
    production_d1(ctx, clock)
    late = Backdate(at=at("2026-03-03T10:00"), reason="纸质签批于3月3日，系统录入延后", by="liu")
    run_action(ctx, "start_procedure", "zhou", {"decision": "D1"}, backdate=late)
    event = chain_events(ctx.engine, "D1")[-1]
    assert (event.action, event.actor, event.occurred_at) == (
        "start_procedure",
        "zhou",
        at("2026-03-03T10:00"),
    )
    assert (event.backdated_by, event.backdate_reason) == ("liu", "纸质签批于3月3日，系统录入延后")
    with Session(ctx.engine) as session:
        assert verify_all(session)[2] == []


def test_a_backdating_by_a_non_admin_is_refused(production: tuple[ServiceContext, Clock]) -> None:
    ctx, clock = production
    production_d1(ctx, clock)
    before = snapshot(ctx)
    for by in ("zhou", "wang", "system", "public"):
        with pytest.raises(ProcedureError) as caught:
            late = Backdate(at=at("2026-03-03T10:00"), reason="录入延后", by=by)
            run_action(ctx, "start_procedure", "zhou", {"decision": "D1"}, backdate=late)
        assert (caught.value.rule_id, caught.value.field) == ("AUTH", "backdated_by"), by
    assert snapshot(ctx) == before


def test_a_backdating_before_the_chains_last_event_or_in_the_future_is_refused(
    production: tuple[ServiceContext, Clock],
) -> None:
    ctx, clock = production
    production_d1(ctx, clock)
    before = snapshot(ctx)
    cases = [
        (Backdate(at=at("2026-03-02T08:59"), reason="录入延后", by="liu"), "backdate"),  # before registration
        (Backdate(at=at("2026-03-11T09:00"), reason="录入延后", by="liu"), "backdate"),  # after now
        (Backdate(at=at("2026-03-03T10:00"), reason="  ", by="liu"), "reason"),
    ]
    for late, field in cases:
        with pytest.raises(ProcedureError) as caught:
            run_action(ctx, "start_procedure", "zhou", {"decision": "D1"}, backdate=late)
        assert (caught.value.rule_id, caught.value.field) == ("INPUT", field), caught.value
    assert snapshot(ctx) == before
    error = caught.value
    assert error.message_zh and error.message_en


def test_backdate_on_the_cli(production_url: tuple[str, ServiceContext]) -> None:
    url, ctx = production_url
    last = chain_events(ctx.engine, "D1")[-1].occurred_at
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    window = {**COMMENT_PERIOD, "start_date": str(today), "end_date": str(today + timedelta(days=31))}
    common = ["act", "open_comment_period", "--actor", "li", "--database", url, "--with", json.dumps(window)]
    before = snapshot(ctx)
    earlier = (last - timedelta(days=1)).isoformat()
    by_admin = ["--backdated-by", "liu", "--reason", "补录"]
    refused_by(run(*common, "--backdate", earlier, *by_admin), "INPUT", "backdate")
    refused_by(run(*common, "--backdate", last.isoformat(), "--reason", "补录"), "AUTH", "backdated_by")
    refused_by(run(*common, "--backdate", last.isoformat(), "--backdated-by", "liu"), "INPUT", "--reason")
    refused_by(run(*common, "--reason", "补录"), "INPUT", "--backdate")
    refused_by(
        run(*common, "--now", last.isoformat(), "--backdate", last.isoformat(), *by_admin),
        "INPUT",
        "--backdate",
    )
    assert snapshot(ctx) == before
    done = run(*common, "--backdate", last.isoformat(), *by_admin)
    assert done.exit_code == 0, done.output
    event = chain_events(ctx.engine, "D1")[-1]
    assert (event.action, event.actor, event.backdated_by, event.backdate_reason) == (
        "open_comment_period",
        "li",
        "liu",
        "补录",
    )
    assert event.occurred_at == last


# ---------------------------------------------------------------- the sweep never fires early
def test_a_sweep_in_the_future_is_refused_on_production(production: tuple[ServiceContext, Clock]) -> None:
    ctx, clock = production
    now_act(ctx, clock, "register_decision", "li", "2026-03-02T09:00", **REGISTER_D1)
    now_act(ctx, clock, "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    draft = {"draft": "草案", "explanation": "说明", "legal_bases": ["国务院令第713号"]}
    now_act(ctx, clock, "submit_draft", "li", "2026-03-02T11:00", decision="D1", **draft)
    window = {"start_date": "2026-03-03", "end_date": "2026-04-02", "channels": ["website"]}
    now_act(ctx, clock, "open_comment_period", "li", "2026-03-03T09:00", decision="D1", **window)

    before = snapshot(ctx)
    for moment in (at("2026-04-03T00:00"), at("2026-03-02T09:00")):  # the future, and the past
        with pytest.raises(ProcedureError) as caught:
            sweep(ctx, moment, deliver=False)
        assert (caught.value.rule_id, caught.value.field) == ("AUTH", "now")
    assert snapshot(ctx) == before
    with Session(ctx.engine) as session:
        (period,) = session.exec(select(CommentPeriod)).all()
        assert period.status.value == "open"
        assert all(d.status == DeadlineStatus.open for d in session.exec(select(Deadline)))

    clock.to("2026-04-03T00:00")  # when the window has really closed
    report = sweep(ctx, clock(), deliver=False)
    assert report.transitions == 1


def test_sweep_now_in_the_future_is_refused_on_the_cli(production_url: tuple[str, ServiceContext]) -> None:
    url, ctx = production_url
    future = (datetime.now(UTC) + timedelta(days=40)).isoformat()
    before = snapshot(ctx)
    refused_by(run("sweep", "--now", future, "--no-deliver", "--database", url), "AUTH", "now")
    assert snapshot(ctx) == before
    assert run("sweep", "--no-deliver", "--database", url).exit_code == 0


# ---------------------------------------------------------------- calendar, inbox and outbox need the right actor
@pytest.mark.parametrize(
    ("actor", "rule"), [("public", "AUTH"), ("system", "AUTH"), ("wang", "AUTH"), ("x", "NOT_FOUND")]
)
def test_calendar_load_by_anyone_but_an_admin_is_refused(ctx: ServiceContext, actor: str, rule: str) -> None:
    district(ctx)
    before = snapshot(ctx)
    with pytest.raises(ProcedureError) as caught:
        load_calendar_file(ctx, SAMPLE_YAML, actor=actor, now=at("2026-12-01T09:00"))
    assert (caught.value.rule_id, caught.value.field) == (rule, "actor")
    assert snapshot(ctx) == before


def test_calendar_load_on_the_cli_needs_an_admin(simulated_url: tuple[str, ServiceContext]) -> None:
    url, ctx = simulated_url
    before = snapshot(ctx)
    refused_by(
        run("calendar", "load", str(SAMPLE_YAML), "--actor", "public", "--database", url), "AUTH", "actor"
    )
    refused_by(run("calendar", "load", str(SAMPLE_YAML), "--database", url), "AUTH", "--actor")
    assert snapshot(ctx) == before
    loaded = run("calendar", "load", str(SAMPLE_YAML), "--actor", "liu", "--database", url)
    assert loaded.exit_code == 0, loaded.output
    with Session(ctx.engine) as session:
        assert session.get(CalendarYear, 2027) is not None
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "calendar_loaded")).one()
        assert (event.actor, event.actor_roles, event.os_account) == (
            "liu",
            "admin,legal_head",
            getpass.getuser(),
        )


def a_notification(ctx: ServiceContext, user: str) -> int:
    with Session(ctx.engine) as session:
        owner = session.exec(select(User).where(User.code == user)).one()
        assert owner.id is not None
        note = Notification(
            key=f"test:{user}",
            user_id=owner.id,
            event="deadline.due",
            point="due",
            locale="zh_CN",
            scheduled_at=at("2026-04-01T09:00"),
            created_at=at("2026-04-01T09:00"),
            subject="期限到期",
            body_text="",
            body_html="",
            link="/",
        )
        session.add(note)
        session.commit()
        assert note.id is not None
        return note.id


def test_only_the_owner_marks_an_inbox_read_and_it_is_audited(
    simulated_url: tuple[str, ServiceContext],
) -> None:
    url, ctx = simulated_url
    note_id = a_notification(ctx, "li")
    before = snapshot(ctx)
    for actor, rule in (("wang", "AUTH"), ("public", "AUTH"), ("system", "AUTH")):
        with pytest.raises(ProcedureError) as caught:
            mark_read(ctx, "li", None, at("2026-04-02T09:00"), actor=actor)
        assert (caught.value.rule_id, caught.value.field) == (rule, "actor")
    refused_by(run("inbox", "li", "--read-all", "--database", url), "AUTH", "--actor")
    refused_by(
        run("inbox", "li", "--read", str(note_id), "--actor", "wang", "--database", url), "AUTH", "actor"
    )
    assert snapshot(ctx) == before

    marked = run("inbox", "li", "--read", str(note_id), "--actor", "li", "--database", url)
    assert marked.exit_code == 0 and "marked read: 1" in marked.output, marked.output
    with Session(ctx.engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "mark_read")).one()
        assert (
            event.actor == "li" and event.chain.startswith("inbox:") and event.payload["marked"] == [note_id]
        )


def test_only_an_admin_retries_a_delivery_and_it_is_audited(ctx: ServiceContext) -> None:
    district(ctx)
    note_id = a_notification(ctx, "li")
    with Session(ctx.engine) as session:
        delivery = Delivery(
            notification_id=note_id,
            channel="email",
            target="li@example.org",
            idempotency_key="test:delivery",
            status=DeliveryStatus.failed,
            attempts=5,
            next_attempt_at=at("2026-04-01T09:00"),
            created_at=at("2026-04-01T09:00"),
        )
        session.add(delivery)
        session.commit()
        delivery_id = delivery.id
    assert delivery_id is not None
    before = snapshot(ctx)
    for actor in ("li", "public", "system"):
        with pytest.raises(ProcedureError) as caught:
            retry_delivery(ctx, delivery_id, at("2026-04-02T09:00"), actor=actor)
        assert (caught.value.rule_id, caught.value.field) == ("AUTH", "actor")
    assert snapshot(ctx) == before
    row = retry_delivery(ctx, delivery_id, at("2026-04-02T09:00"), actor="liu")
    assert row.status == DeliveryStatus.pending
    with Session(ctx.engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "retry_delivery")).one()
        assert (event.actor, event.payload["delivery"]) == ("liu", delivery_id)
        assert verify_all(session)[2] == []


# ---------------------------------------------------------------- confidential decisions on the CLI
def test_a_confidential_decision_is_read_only_by_a_user_with_a_role_on_it(
    simulated_url: tuple[str, ServiceContext],
) -> None:
    url, ctx = simulated_url
    registered(ctx, "D1", flags=["confidential"])
    drafted(ctx, "D2")
    for command in ("show", "timeline"):
        for who in ((), ("--actor", "public"), ("--actor", "sun")):
            refused_by(run("decision", command, "D1", "--database", url, *who), "AUTH", "--actor")
        for reader in ("li", "zhao", "wang", "zhou", "mayor", "watcher"):
            shown = run("decision", command, "D1", "--database", url, "--actor", reader)
            assert shown.exit_code == 0 and "D1" in shown.output, (reader, shown.output)
        assert run("decision", command, "D2", "--database", url).exit_code == 0  # not confidential
    refused_by(run("decision", "show", "D1", "--database", url, "--actor", "system"), "AUTH", "--actor")

    listed = run("decision", "list", "--database", url)
    assert listed.exit_code == 0 and "D2" in listed.output and "决策D1" not in listed.output
    assert "1 confidential decision(s) not shown" in listed.output
    assert "决策D1" in run("decision", "list", "--database", url, "--actor", "li").output

    drafted(ctx, "D3", flags=["confidential"])
    window = {"start_date": "2026-03-03", "end_date": "2026-04-02", "channels": ["website"]}
    act(ctx, "open_comment_period", "li", "2026-03-03T09:00", decision="D2", **window)
    legality_submitted(ctx, "D3", "2026-03-03T09:00")  # confidential: no public participation
    with Session(ctx.engine) as session:
        assert session.exec(select(Deadline).join(Decision).where(Decision.code == "D3")).first(), (
            "D3 has a deadline"
        )
    everyone = run("deadlines", "--now", "2026-03-04T09:00", "--database", url)
    assert everyone.exit_code == 0 and "D2" in everyone.output and "D3" not in everyone.output, (
        everyone.output
    )
    insider = run("deadlines", "--now", "2026-03-04T09:00", "--database", url, "--actor", "li")
    assert "D3" in insider.output
