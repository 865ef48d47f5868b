"""Issue 9, the dispatcher, with a fake Prefect client (the real server: test_prefect_flows.py).

The routing table covers every event type the service can emit (read from the code); each routed
event starts one run, keyed, tagged and named after its decision and event, and is marked
dispatched; unrouted events are marked with no run; a second dispatch starts nothing; with
Prefect unreachable the events wait and actions still commit, and after it is back each waiting
event starts once; a failing event waits with its error; two dispatchers at once share the work
and start each run once; `decisionflow dispatch` prints the report. On SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from flows import procedure as proc
from flows.deployments import BY_NAME
from flows.dispatcher import (
    LEASE_SECONDS,
    ClientFactory,
    FlowRuns,
    PrefectUnavailable,
    dispatch_once,
    run_key,
)
from flows.event_work import NOTICE_EVIDENCE
from flows.service import ServiceContext
from models import OutboxEvent
from models.db import make_engine
from notifications.policy import EVENT_NOTICES
from tests.helpers import act, at, comment_window, district, drafted
from tests.schema import create_all

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- a fake Prefect
class FakeRuns:
    """Creates runs like Prefect does: one per idempotency key, the same run for a key seen
    before. `down` makes every call fail as an unreachable server does; `missing` names
    deployments that do not exist."""

    def __init__(self, *, down: bool = False, missing: Sequence[str] = ()) -> None:
        self.down = down
        self.missing = set(missing)
        self.runs: dict[str, dict[str, Any]] = {}  # idempotency key -> the run
        self.calls: list[str] = []  # every start call's key, repeats included
        self.lock = threading.Lock()

    def factory(self) -> ClientFactory:
        @contextmanager
        def open_client() -> Iterator[FlowRuns]:
            yield self

        return open_client

    def deployment_id(self, full_name: str) -> Any:
        if self.down:
            raise httpx.ConnectError("All connection attempts failed")
        if full_name in self.missing:
            raise LookupError(f"no deployment {full_name}")
        return f"deployment:{full_name}"

    def start(
        self,
        deployment_id: Any,
        *,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        tags: Sequence[str],
        name: str,
    ) -> str:
        if self.down:
            raise httpx.ConnectError("All connection attempts failed")
        with self.lock:
            self.calls.append(idempotency_key)
            run = self.runs.setdefault(
                idempotency_key,
                {
                    "id": f"run-{len(self.runs) + 1}",
                    "deployment": deployment_id,
                    "parameters": dict(parameters),
                    "tags": list(tags),
                    "name": name,
                },
            )
        return str(run["id"])


def events(engine: Engine) -> list[OutboxEvent]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))))


def key_of(event: OutboxEvent) -> str:
    return run_key(event.id or 0, event.idempotency_key)


def routed(event: OutboxEvent) -> bool:
    return proc.EVENT_ROUTES[event.event_type].flow is not None


def story(ctx: ServiceContext) -> None:
    """D1 registered, started and drafted; its comment window opened (routed and unrouted events)."""
    district(ctx)
    drafted(ctx)
    comment_window(ctx, "2026-03-03", "2026-04-02")


NOW = at("2026-03-03T09:05")


# ---------------------------------------------------------------- the routing table
def emitted_event_types() -> dict[str, str]:
    """Every event type the service layer can write to the outbox, read from its code: the
    first argument of each `emit(...)` call and the `event_type` of each `OutboxEvent(...)`,
    as string constants (or a conditional choosing between them)."""
    found: dict[str, str] = {}

    def constants(node: ast.expr, where: str) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return constants(node.body, where) + constants(node.orelse, where)
        raise AssertionError(f"{where}: an event type the test cannot read ({ast.unparse(node)})")

    for path in sorted((ROOT / "flows" / "service").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside_emit = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name == "emit"  # `Tx.emit` itself
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in inside_emit:
                continue
            where = f"{path.name}:{node.lineno}"
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name == "emit" and node.args:
                found.update(dict.fromkeys(constants(node.args[0], where), where))
            elif name == "OutboxEvent":
                for keyword in node.keywords:
                    if keyword.arg == "event_type":
                        found.update(dict.fromkeys(constants(keyword.value, where), where))
    return found


def test_the_routing_table_covers_every_event_the_service_can_emit() -> None:
    emitted = emitted_event_types()
    assert len(emitted) > 40  # the scan reads the service modules
    assert {"deadline_extended", "deadline_shortened", "deadline_recomputed", "stage_returned"} <= set(
        emitted
    )
    missing = {event: where for event, where in emitted.items() if event not in proc.EVENT_ROUTES}
    assert not missing, f"events with no route in procedure.EVENT_ROUTES: {missing}"
    stale = set(proc.EVENT_ROUTES) - set(emitted)
    assert not stale, f"routes for events nothing emits: {stale}"
    for event, route in proc.EVENT_ROUTES.items():
        assert route.reason.strip(), event
        assert route.flow is None or route.flow in BY_NAME, (event, route.flow)
        # the work is what a decision-procedure run does; other flows do one thing
        assert not route.work or route.flow == proc.DECISION_PROCEDURE, event
        assert set(route.work) <= set(proc.EVENT_WORK), event


def test_the_work_of_each_event_matches_the_notices_and_notice_pages() -> None:
    notifying = {event for event, route in proc.EVENT_ROUTES.items() if "notify" in route.work}
    assert notifying == set(EVENT_NOTICES)
    # the three the issue names, to the legal office and the department
    assert {"legality_review_submitted", "stage_awaiting_approval", "stage_returned"} <= notifying
    rendering = {event for event, route in proc.EVENT_ROUTES.items() if "notice" in route.work}
    assert rendering == set(NOTICE_EVIDENCE)
    for kinds in NOTICE_EVIDENCE.values():
        assert set(kinds) <= set(proc.EVIDENCE_KINDS)


def test_a_public_comment_starts_no_run(ctx: ServiceContext) -> None:
    story(ctx)
    dispatch_once(ctx, now=NOW, client_factory=FakeRuns().factory())
    act(ctx, "submit_public_comment", "public", "2026-03-04T09:00", decision="D1", text="建议增加停车位")
    prefect = FakeRuns()
    report = dispatch_once(ctx, now=at("2026-03-04T09:05"), client_factory=prefect.factory())
    assert (report.started, report.unrouted, report.waiting) == (0, 0, 0) and not prefect.calls


# ---------------------------------------------------------------- dispatching
def test_each_routed_event_starts_one_run_and_a_second_dispatch_starts_none(ctx: ServiceContext) -> None:
    story(ctx)
    waiting = events(ctx.engine)
    assert all(e.dispatched_at is None for e in waiting)
    assert {e.event_type for e in waiting if not routed(e)} == {"draft_submitted"}
    prefect = FakeRuns()

    report = dispatch_once(ctx, now=NOW, client_factory=prefect.factory())

    assert (report.started, report.unrouted, report.failed, report.waiting) == (len(waiting) - 1, 1, 0, 0)
    assert report.unreachable is None
    after = {e.id: e for e in events(ctx.engine)}
    for event in waiting:
        row = after[event.id]
        assert row.dispatched_at == NOW and row.lease_until is None
        key = key_of(event)
        if not routed(event):
            assert (row.flow, row.flow_run_id) == ("", None)
            assert key not in prefect.runs
            continue
        run = prefect.runs[key]
        assert (row.flow, row.flow_run_id) == (proc.DECISION_PROCEDURE, run["id"])
        assert run["deployment"] == "deployment:decision-procedure/decision-procedure"
        assert run["parameters"] == {"outbox_event_id": event.id}  # an id, never a secret
        assert run["tags"] == ["decision:D1", f"event:{event.event_type}"]
        assert run["name"] == f"D1·{event.event_type}·{event.id}"

    again = dispatch_once(ctx, now=NOW + timedelta(minutes=1), client_factory=prefect.factory())
    assert (again.started, again.unrouted, again.failed, again.waiting) == (0, 0, 0, 0)
    assert len(prefect.calls) == len(waiting) - 1  # nothing asked twice


def test_prefect_unreachable_events_wait_actions_commit_and_each_starts_once_after(
    ctx: ServiceContext,
) -> None:
    story(ctx)
    down = FakeRuns(down=True)
    report = dispatch_once(ctx, now=NOW, client_factory=down.factory())
    assert report.unreachable and "ConnectError" in report.unreachable
    assert report.started == 0 and report.unrouted == 1  # draft_submitted needs no Prefect
    assert report.waiting == len([e for e in events(ctx.engine) if routed(e)])
    assert all(e.lease_until is None for e in events(ctx.engine))  # released for the next dispatch

    # no API configured at all: the same, and no temporary server is started
    def unconfigured() -> Any:
        raise PrefectUnavailable("no Prefect API is configured")

    assert (
        dispatch_once(ctx, now=NOW, client_factory=unconfigured).unreachable == "no Prefect API is configured"
    )

    # actions go on while Prefect is away; their events wait too
    act(ctx, "withdraw_decision", "li", "2026-03-04T09:00", decision="D1", reason="另行研究")
    waiting = [e for e in events(ctx.engine) if e.dispatched_at is None]
    assert waiting[-1].event_type == "decision_withdrawn"

    back = FakeRuns()
    report = dispatch_once(ctx, now=at("2026-03-04T09:05"), client_factory=back.factory())
    assert (report.started, report.waiting, report.unreachable) == (len(waiting), 0, None)
    assert sorted(back.calls) == sorted(key_of(e) for e in waiting)  # each once, none lost


def test_a_run_that_cannot_be_created_leaves_its_event_waiting_with_the_error(ctx: ServiceContext) -> None:
    story(ctx)
    missing = FakeRuns(missing=["decision-procedure/decision-procedure"])
    report = dispatch_once(ctx, now=NOW, client_factory=missing.factory())
    routed_events = [e for e in events(ctx.engine) if routed(e)]
    assert (report.started, report.failed, report.waiting) == (0, len(routed_events), len(routed_events))
    for row in routed_events:
        assert row.dispatched_at is None and row.dispatch_attempts == 1
        assert row.dispatch_error.startswith("LookupError: no deployment decision-procedure/")
        assert row.lease_until == NOW + timedelta(seconds=5)  # not asked for again before then
    soon = dispatch_once(ctx, now=NOW + timedelta(seconds=4), client_factory=missing.factory())
    assert (soon.failed, soon.waiting) == (0, len(routed_events))
    again = dispatch_once(ctx, now=NOW + timedelta(seconds=6), client_factory=missing.factory())
    assert again.failed == len(routed_events)
    assert all(
        e.dispatch_attempts == 2 and e.lease_until == NOW + timedelta(seconds=16)
        for e in events(ctx.engine)
        if routed(e)
    )
    # deployed meanwhile: the next dispatch after the backoff starts them, and clears the error
    report = dispatch_once(ctx, now=NOW + timedelta(minutes=1), client_factory=FakeRuns().factory())
    assert (report.started, report.failed, report.waiting) == (len(routed_events), 0, 0)
    assert all(e.dispatch_error == "" and e.flow_run_id for e in events(ctx.engine) if routed(e))


def test_an_expired_claim_is_taken_over_and_a_live_one_is_left_alone(ctx: ServiceContext) -> None:
    story(ctx)
    first = events(ctx.engine)[0]
    with Session(ctx.engine) as session:  # a dispatcher that claimed the first event and died
        row = session.get(OutboxEvent, first.id)
        assert row is not None
        row.lease_until = NOW + timedelta(seconds=30)
        session.add(row)
        session.commit()
    prefect = FakeRuns()
    report = dispatch_once(ctx, now=NOW, client_factory=prefect.factory())
    assert report.waiting == 1 and key_of(first) not in prefect.runs
    later = NOW + timedelta(seconds=LEASE_SECONDS)
    report = dispatch_once(ctx, now=later, client_factory=prefect.factory())
    assert report.waiting == 0 and key_of(first) in prefect.runs


def test_an_unknown_event_type_is_done_with_no_run(ctx: ServiceContext) -> None:
    story(ctx)
    dispatch_once(ctx, now=NOW, client_factory=FakeRuns().factory())
    with Session(ctx.engine) as session:
        session.add(OutboxEvent(event_type="no_such_event", idempotency_key="x:1", created_at=NOW))
        session.commit()
    prefect = FakeRuns()
    report = dispatch_once(ctx, now=NOW, client_factory=prefect.factory())
    assert (report.unrouted, report.started, report.waiting) == (1, 0, 0) and not prefect.calls


def test_the_limit_and_the_batches(ctx: ServiceContext) -> None:
    story(ctx)
    total = len(events(ctx.engine))
    prefect = FakeRuns()
    report = dispatch_once(ctx, now=NOW, client_factory=prefect.factory(), limit=2, batch_size=1)
    assert len(report.events) == 2 and report.waiting == total - 2
    assert [d.event_id for d in report.events] == [e.id for e in events(ctx.engine)][:2]  # oldest first
    report = dispatch_once(ctx, now=NOW, client_factory=prefect.factory(), batch_size=2)
    assert report.waiting == 0 and len(report.events) == total - 2


def run_concurrently(engine: Engine, tmp_path: Path, prefect: FakeRuns, workers: int) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def dispatcher() -> None:
        ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
        barrier.wait()
        try:
            dispatch_once(ctx, now=NOW, client_factory=prefect.factory(), batch_size=2)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_two_dispatchers_at_once_start_each_run_once(tmp_path: Path) -> None:
    """SQLite: a file shared by three threads (BEGIN IMMEDIATE serialises the claims)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    create_all(engine, kind="scenario")
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    story(ctx)
    for n in range(2, 5):  # more events than one batch
        act(
            ctx,
            "register_decision",
            "li",
            "2026-03-03T10:00",
            ref=f"D{n}",
            title=f"决策D{n}",
            category=1,
            lead_unit="housing",
            flags=[],
        )
    prefect = FakeRuns()
    run_concurrently(ctx.engine, tmp_path, prefect, workers=3)
    rows = events(ctx.engine)
    assert all(e.dispatched_at is not None for e in rows)
    assert sorted(prefect.calls) == sorted(key_of(e) for e in rows if routed(e))  # each asked once
    assert all(e.flow_run_id == prefect.runs[key_of(e)]["id"] for e in rows if routed(e))
    engine.dispose()


@pytest.mark.postgres
def test_two_dispatchers_share_the_work_on_postgresql(pg_engine: Engine, tmp_path: Path) -> None:
    """SKIP LOCKED: on PostgreSQL the dispatchers really run side by side."""
    ctx = ServiceContext(engine=pg_engine, data_dir=tmp_path / "data")
    story(ctx)
    prefect = FakeRuns()
    run_concurrently(pg_engine, tmp_path, prefect, workers=4)
    rows = events(pg_engine)
    assert all(e.dispatched_at is not None for e in rows)
    assert sorted(prefect.calls) == sorted(key_of(e) for e in rows if routed(e))


# ---------------------------------------------------------------- the command
def test_decisionflow_dispatch_reports_and_waits_without_prefect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    create_all(engine, kind="scenario")
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    story(ctx)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("DECISIONFLOW_DATA_DIR", str(tmp_path / "data"))
    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # not the session's test server
        result = CliRunner().invoke(app, ["dispatch", "--database", url])
    assert result.exit_code == 1, result.output
    assert "unrouted 1" in result.output and "Prefect unreachable" in result.output
    waiting = [e for e in events(engine) if e.dispatched_at is None]
    assert waiting and all(routed(e) for e in waiting)
    engine.dispose()


# ---------------------------------------------------------------- serve's dispatch job
def test_the_dispatch_job_logs_when_prefect_goes_away_and_comes_back(
    ctx: ServiceContext, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from flows.scheduler import DispatchJob

    story(ctx)
    prefect = FakeRuns(down=True)
    api: list[str | None] = [None]  # the local server is still starting
    job = DispatchJob(ctx, lambda: api[0], clock=lambda: NOW, client=lambda url: prefect.factory())
    caplog.set_level(logging.INFO, logger="flows.scheduler")
    routed_events = len([e for e in events(ctx.engine) if routed(e)])

    assert job().unreachable == "Prefect 服务尚未就绪 / the Prefect server is not ready yet"
    api[0] = "http://127.0.0.1:4200/api"
    assert "ConnectError" in (job().unreachable or "")
    assert "ConnectError" in (job().unreachable or "")  # still down: not logged again
    prefect.down = False
    report = job()
    assert report.unreachable is None and report.waiting == 0 and report.started > 0
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("flows.")]
    assert [m.split(": ")[0] for m in messages] == [
        f"Prefect unreachable, {routed_events} events wait in the outbox",
        f"Prefect unreachable, {routed_events} events wait in the outbox",
        "Prefect reachable again",
        f"dispatch at {NOW.astimezone(UTC).isoformat()}",
    ]
    assert "the Prefect server is not ready yet" in messages[0] and "ConnectError" in messages[1]


# ---------------------------------------------------------------- prefect.yaml
def test_prefect_yaml_declares_every_deployment_with_a_real_flow() -> None:
    import importlib

    import yaml
    from prefect import Flow

    from flows.deployments import DEPLOYMENTS, TIMEZONE, WORK_POOL

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    declared = {entry["name"]: entry for entry in config["deployments"]}
    assert list(declared) == [spec.name for spec in DEPLOYMENTS]  # the names are unique, too
    for spec in DEPLOYMENTS:
        entry = declared[spec.name]
        assert entry["enforce_parameter_schema"] is True
        assert entry["description"] == spec.description  # served or deployed, the same words
        assert entry["work_pool"]["name"] == WORK_POOL
        assert entry["entrypoint"] == spec.entrypoint
        path, function = entry["entrypoint"].split(":")
        flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), function)
        assert isinstance(flow, Flow) and flow.name == spec.name  # `<flow>/<deployment>`
        schedules = [(s["cron"], s["timezone"]) for s in entry.get("schedules", [])]
        assert schedules == ([(spec.cron, TIMEZONE)] if spec.cron else [])
    # every flow the routing table starts is deployed
    assert {r.flow for r in proc.EVENT_ROUTES.values() if r.flow} <= set(declared)


def test_a_failing_dispatch_job_logs_its_traceback_once_while_it_lasts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from flows.scheduler import DispatchJob

    engine = make_engine("sqlite://")  # no tables: every dispatch fails
    job = DispatchJob(ServiceContext(engine=engine, data_dir=tmp_path), lambda: None)  # the real clock
    caplog.set_level(logging.INFO, logger="flows.scheduler")
    assert job() is None and job() is None
    failures = [r for r in caplog.records if r.name == "flows.scheduler" and r.exc_info]
    assert len(failures) == 1 and "no such table" in str(failures[0].exc_info[1])  # type: ignore[index]
    engine.dispose()
