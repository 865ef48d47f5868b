"""Issue 9 (and issue 3's sweep flow) on a real Prefect server: the session's test harness, or a
local server of our own where the test stops and restarts it. The deployments are served by a
`Runner` that executes the queued runs; the flows read the database and the data folder from
the environment, as in production.

They prove: one flow run per routed outbox event, the idempotency key holding when the
dispatcher runs twice, and none for unrouted events; a task that fails once is retried and the
run completes; a run that keeps failing is left visible as failed and the decision's state is
untouched; with the Prefect server stopped, events wait and actions commit, and after a restart
each waiting event runs once; `decisionflow serve` runs the whole embedded set-up and restarts
the serving process when it dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from flows import procedure as proc
from flows.deployments import BY_NAME
from flows.dispatcher import dispatch_once, prefect_client
from flows.prefect_runtime import API_FILE, LocalServer, no_heartbeats, stop_leftovers
from flows.service import ServiceContext
from models import CommentPeriod, Notification, OutboxEvent
from models.db import make_engine, normalise_url
from tests import conftest
from tests.helpers import act, at, comment_window, district, drafted, snapshot
from tests.schema import create_all
from tests.test_dispatcher import FakeRuns, key_of
from tests.test_serve import ROOT, lines_of, wait_for_line

RUN_TIMEOUT = 90.0


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture
def shared(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServiceContext]:
    """A database the flow-run processes reach too (a SQLite file, or a PostgreSQL schema named
    in the URL), and the environment that points the flows at it and at the data folder."""
    url = conftest.test_database_url()
    if normalise_url(url).startswith("postgresql"):
        _, schema = request.getfixturevalue("fresh_postgres_schema")
        url = f"{conftest.POSTGRES_URL}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp_path / 'flows.db'}"
    engine = make_engine(url)
    create_all(engine, kind="scenario")  # the tests replay time
    data = tmp_path / "data"
    monkeypatch.setenv("DECISIONFLOW_DATABASE_URL", url)
    monkeypatch.setenv("DECISIONFLOW_DATA_DIR", str(data))
    monkeypatch.delenv("DECISIONFLOW_NOTIFY_CONFIG", raising=False)
    yield ServiceContext(engine=engine, data_dir=data)
    engine.dispose()


def serve(*names: str) -> Any:
    """A Runner serving the deployments `names` (not started)."""
    from prefect import flow as _flow  # noqa: F401  (Prefect loaded before the flows)
    from prefect.runner import Runner

    from flows import prefect_flows

    runner = Runner(query_seconds=0.2, pause_on_shutdown=False)

    async def add() -> None:
        for name in names:
            spec = BY_NAME[name]
            await runner.aadd_flow(getattr(prefect_flows, spec.function), name=spec.name)

    asyncio.run(add())
    return runner


def run_queued(runner: Any) -> None:
    """Execute every run queued for the runner's deployments, and wait for them."""

    async def once() -> None:
        with no_heartbeats():
            await runner.start(run_once=True)

    asyncio.run(once())


def flow_runs(name: str) -> list[Any]:
    """The runs of the deployment `name`, oldest first."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(BY_NAME[name].full_name)
        return list(
            client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment.name])),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            )
        )


def task_runs(flow_run_id: Any) -> list[Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return list(
            client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        )


def outbox(ctx: ServiceContext) -> list[OutboxEvent]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))))


def waiting(ctx: ServiceContext) -> list[OutboxEvent]:
    return [e for e in outbox(ctx) if e.dispatched_at is None]


def earlier_events_handled(ctx: ServiceContext) -> None:
    """Dispatch what the set-up wrote to a fake Prefect, so a test's runs are its own."""
    dispatch_once(ctx, now=at("2026-03-03T08:00"), client_factory=FakeRuns().factory())


def window_closed(ctx: ServiceContext) -> None:
    """D1's comment window opened (a notice page), then closed by the sweep (no run)."""
    comment_window(ctx, "2026-03-03", "2026-04-02")
    from flows.scenario import sweep_until

    sweep_until(ctx, at("2026-04-03T09:00"))


def legal_office_told(ctx: ServiceContext) -> list[str]:
    with Session(ctx.engine) as session:
        return sorted(
            n.event for n in session.exec(select(Notification).where(col(Notification.key).startswith("ev:")))
        )


# ---------------------------------------------------------------- one run per routed event
def test_one_run_per_routed_event_and_the_runs_do_their_work(
    prefect_server: None, shared: ServiceContext
) -> None:
    from prefect.client.schemas.objects import StateType

    district(shared)
    drafted(shared)
    earlier_events_handled(shared)
    window_closed(shared)
    act(shared, "complete_participation", "li", "2026-04-03T09:30", decision="D1")
    events = waiting(shared)
    routed = [e for e in events if proc.EVENT_ROUTES[e.event_type].flow]
    assert [e.event_type for e in routed] == ["comment_period_opened", "stage_awaiting_approval"]
    assert len(events) - len(routed) == 2  # the window closed; participation completed
    runner = serve(proc.DECISION_PROCEDURE)

    first = dispatch_once(shared, now=at("2026-04-03T09:31"))
    second = dispatch_once(shared, now=at("2026-04-03T09:32"))

    assert (first.started, first.unrouted, first.waiting) == (2, 2, 0)
    assert (second.started, second.unrouted) == (0, 0)
    runs = [r for r in flow_runs(proc.DECISION_PROCEDURE) if r.idempotency_key in {key_of(e) for e in events}]
    assert sorted(r.idempotency_key for r in runs) == sorted(key_of(e) for e in routed)
    by_key = {r.idempotency_key: r for r in runs}
    for event in routed:
        run = by_key[key_of(event)]
        assert set(run.tags) >= {"decision:D1", f"event:{event.event_type}"}
        assert run.name == f"D1·{event.event_type}·{event.id}"
        assert run.parameters == {"outbox_event_id": event.id}
    assert {e.id: e.flow_run_id for e in outbox(shared) if e.id in {r.id for r in routed}} == {
        e.id: str(by_key[key_of(e)].id) for e in routed
    }

    run_queued(runner)

    from prefect import get_client

    with get_client(sync_client=True) as client:
        states = [client.read_flow_run(by_key[key_of(e)].id).state for e in routed]
    assert [s.type for s in states] == [StateType.COMPLETED, StateType.COMPLETED]
    assert legal_office_told(shared) == ["event.approval_requested"] * 2  # the reviewer and the head
    assert shared.data_dir is not None
    assert [p.name.split("-", 1)[1] for p in (shared.data_dir / "notices" / "D1").iterdir()] == [
        "comment_notice.html"
    ]


# ---------------------------------------------------------------- the catalogues
def test_the_catalogue_files_are_regenerated_after_a_catalogue_adjustment(
    prefect_server: None, shared: ServiceContext
) -> None:
    import csv

    from prefect import get_client
    from prefect.client.schemas.objects import StateType

    from tests.test_catalogue import ELEVATORS, YEAR
    from tests.test_catalogue import published as catalogue_published

    catalogue_published(shared)  # version 1: E1 and E2
    earlier_events_handled(shared)
    assert shared.data_dir is not None
    folder = shared.data_dir / "catalogues" / str(YEAR)
    act(
        shared,
        "adjust_catalogue",
        "li",
        "2026-05-06T09:00",
        year=YEAR,
        kind="add",
        reason="群众呼声高，年中新增",
        **ELEVATORS,
    )
    runner = serve(proc.CATALOGUES)
    report = dispatch_once(shared, now=at("2026-05-06T09:01"))
    (started,) = [e for e in report.events if e.outcome == "started"]
    assert (started.event_type, started.flow) == ("catalogue_adjusted", proc.CATALOGUES)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(started.flow_run_id)
    assert run.parameters == {"year": YEAR, "version": 2}  # the version the adjustment opened
    assert set(run.tags) >= {f"catalogue:{YEAR}", "event:catalogue_adjusted"}
    assert not folder.exists()

    run_queued(runner)

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run.id).state.type == StateType.COMPLETED
    written = sorted(p.name for p in (folder / "v2").iterdir())
    assert written == sorted(
        f"{YEAR}-v2-{kind}.{fmt}"
        for kind in ("decisions", "hearings")
        for fmt in ("csv", "docx", "html", "json", "xlsx")
    )
    with (folder / "v2" / f"{YEAR}-v2-decisions.csv").open(encoding="utf-8-sig") as handle:
        names = [row[1] for row in csv.reader(handle) if len(row) > 1]
    assert ELEVATORS["matter_name"] in names  # the adjustment's new matter is in the regenerated draft


def test_the_dossier_and_the_annual_report_on_demand(prefect_server: None, shared: ServiceContext) -> None:
    import zipfile

    from prefect import get_client
    from prefect.client.schemas.objects import StateType

    from tests.helpers import decided, legality_lawful, participation_done, published

    district(shared)
    drafted(shared)
    participation_done(shared)
    legality_lawful(shared)
    decided(shared)
    published(shared)
    act(shared, "archive_decision", "zhou", "2026-04-23T09:00", decision="D1")
    runner = serve("archive-dossier", "annual-report")
    with get_client(sync_client=True) as client:
        runs = [
            client.create_flow_run_from_deployment(
                client.read_deployment_by_name(BY_NAME[name].full_name).id, parameters=parameters
            )
            for name, parameters in (
                ("archive-dossier", {"decision": "D1"}),
                ("annual-report", {"year": 2026}),
            )
        ]
    run_queued(runner)
    with get_client(sync_client=True) as client:
        assert [client.read_flow_run(r.id).state.type for r in runs] == [StateType.COMPLETED] * 2
    assert shared.data_dir is not None
    assert "manifest.json" in zipfile.ZipFile(shared.data_dir / "dossiers" / "D1.zip").namelist()
    report = shared.data_dir / "reports" / "2026"
    assert sorted(p.name for p in report.iterdir()) == ["annual-report-2026.html", "annual-report-2026.json"]


# ---------------------------------------------------------------- retries and failures
def test_a_task_that_fails_once_is_retried_and_the_run_completes(
    prefect_server: None, shared: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Executed in this process by Prefect's engine (a real run on the real server), so that
    the database can fail once under the task."""
    from prefect import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.flow_engine import run_flow
    from sqlalchemy.exc import OperationalError

    from flows import event_work
    from flows.prefect_flows import decision_procedure

    district(shared)
    drafted(shared)
    window_closed(shared)
    earlier_events_handled(shared)
    act(shared, "complete_participation", "li", "2026-04-03T09:30", decision="D1")
    serve(proc.DECISION_PROCEDURE)
    report = dispatch_once(shared, now=at("2026-04-03T09:31"))
    (started,) = [e for e in report.events if e.outcome == "started"]

    real_notify = event_work.notify
    attempts: list[int] = []

    def flaky(ctx: ServiceContext, event_id: int) -> Any:
        attempts.append(event_id)
        if len(attempts) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return real_notify(ctx, event_id)

    monkeypatch.setattr(event_work, "notify", flaky)
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(started.flow_run_id)
        state = run_flow(decision_procedure, flow_run=flow_run, return_type="state")
        assert state.type == StateType.COMPLETED
        assert client.read_flow_run(flow_run.id).state.type == StateType.COMPLETED
    assert attempts == [started.event_id, started.event_id]
    (notify_run,) = [t for t in task_runs(flow_run.id) if t.name.startswith("notify")]
    assert notify_run.run_count == 2 and notify_run.state.type == StateType.COMPLETED
    assert legal_office_told(shared) == ["event.approval_requested"] * 2


def test_a_run_that_keeps_failing_stays_failed_and_the_decision_is_untouched(
    prefect_server: None, shared: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken template cannot pass: the task is not retried, the run fails and stays visible
    as failed, and the event is not started again."""
    from prefect import get_client
    from prefect.client.schemas.objects import StateType

    templates = tmp_path / "templates" / "zh_CN"
    templates.mkdir(parents=True)
    (templates / "event.approval_requested.subject.txt").write_text("{{ no_such_name }}", encoding="utf-8")
    config = tmp_path / "notify.yaml"
    config.write_text(f"notifications:\n  templates_dir: {templates.parent}\n", encoding="utf-8")
    monkeypatch.setenv("DECISIONFLOW_NOTIFY_CONFIG", str(config))

    district(shared)
    drafted(shared)
    window_closed(shared)
    earlier_events_handled(shared)
    act(shared, "complete_participation", "li", "2026-04-03T09:30", decision="D1")
    runner = serve(proc.DECISION_PROCEDURE)
    report = dispatch_once(shared, now=at("2026-04-03T09:31"))
    (started,) = [e for e in report.events if e.outcome == "started"]
    before = snapshot(shared)

    run_queued(runner)

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(started.flow_run_id)
    assert run.state.type == StateType.FAILED
    (notify_run,) = [t for t in task_runs(run.id) if t.name.startswith("notify")]
    assert notify_run.state.type == StateType.FAILED and notify_run.run_count == 1  # not retried
    assert snapshot(shared) == before  # nothing written: the decision, its stages, no notification
    again = dispatch_once(shared, now=at("2026-04-03T09:40"))
    (row,) = [e for e in outbox(shared) if e.id == started.event_id]
    assert again.started == 0 and row.flow_run_id == str(run.id)  # the failed run is the event's
    assert [r.id for r in flow_runs(proc.DECISION_PROCEDURE) if r.idempotency_key == key_of(row)] == [run.id]


# ---------------------------------------------------------------- Prefect down, then back
def test_with_the_server_stopped_events_wait_and_after_a_restart_each_runs_once(
    shared: ServiceContext, tmp_path: Path
) -> None:
    from prefect import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = LocalServer(tmp_path / "prefect")
    server.start()
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            runner = serve(proc.DECISION_PROCEDURE)
        district(shared)
        drafted(shared)
        earlier_events_handled(shared)
        server.stop()

        window_closed(shared)  # the actions commit while Prefect is down
        act(shared, "complete_participation", "li", "2026-04-03T09:30", decision="D1")
        down = dispatch_once(
            shared, now=at("2026-04-03T09:31"), client_factory=prefect_client(server.api_url)
        )
        assert down.unreachable and down.started == 0 and down.unrouted == 2
        held = waiting(shared)
        assert [e.event_type for e in held] == ["comment_period_opened", "stage_awaiting_approval"]

        server.start()  # the same port and database: the deployments are still there
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            back = dispatch_once(shared, now=at("2026-04-03T10:00"))
            assert (back.started, back.waiting, back.unreachable) == (2, 0, None)
            assert dispatch_once(shared, now=at("2026-04-03T10:01")).started == 0
            run_queued(runner)
            runs = flow_runs(proc.DECISION_PROCEDURE)  # a server of its own: only these runs
            assert sorted(r.idempotency_key for r in runs) == sorted(key_of(e) for e in held)
            with get_client(sync_client=True) as client:
                assert [client.read_flow_run(r.id).state.type for r in runs] == [StateType.COMPLETED] * 2
    finally:
        server.stop()
    assert legal_office_told(shared) == ["event.approval_requested"] * 2


# ---------------------------------------------------------------- the deadline sweep flow
def test_sweep_flow_closes_a_comment_period(prefect_server: None, shared: ServiceContext) -> None:
    from prefect.client.schemas.objects import StateType

    district(shared)
    drafted(shared)
    comment_window(shared, "2026-03-03", "2026-04-02")
    runner = serve("sweep-deadlines")
    from prefect import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(BY_NAME["sweep-deadlines"].full_name)
        flow_run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"now": at("2026-04-03T00:30").isoformat()}
        )
    run_queued(runner)
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run.id).state.type == StateType.COMPLETED
    with Session(shared.engine) as session:
        period = session.exec(select(CommentPeriod)).one()
        assert period.status == "closed"
        # the one run caught up on the reminders nothing had sent: each once, marked late
        sent = session.exec(
            select(Notification)
            .where(col(Notification.key).startswith("dl:"))
            .order_by(col(Notification.scheduled_at))
        ).all()
        assert [(n.point, n.late) for n in sent] == [("before:3", True), ("due", True), ("transition", True)]


# ---------------------------------------------------------------- decisionflow serve, embedded
def wait_until(condition: Callable[[], bool], what: str, timeout: float = RUN_TIMEOUT) -> None:
    """Poll `condition` (a state another process changes) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_serve_runs_a_local_prefect_serves_the_deployments_and_restarts_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = make_engine(url)
    create_all(engine, kind="scenario")
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "serve-data")
    district(ctx)
    drafted(ctx)
    earlier_events_handled(ctx)
    window_closed(ctx)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DECISIONFLOW_", "DATABASE_URL"))
    }
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cli import main; main()",
            "serve",
            "--database",
            url,
            "--dispatch-interval",
            "1",
            "--port",
            "0",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = lines_of(process.stdout), lines_of(process.stderr)
    seen_out: list[str] = []
    seen_err: list[str] = []
    home = tmp_path / "serve-data" / "prefect"
    try:
        assert "Prefect: local server" in wait_for_line(out, "Prefect:", seen_out)
        wait_for_line(err, "serving the deployments", seen_err)
        assert (home / "prefect.db").is_file()  # its database under the data folder
        api = json.loads((home / API_FILE).read_text(encoding="utf-8"))
        assert api["url"].startswith("http://127.0.0.1:")

        act(ctx, "complete_participation", "li", "2026-04-03T09:30", decision="D1")
        wait_until(lambda: len(legal_office_told(ctx)) == 2, "the legal office's notifications")

        # `decisionflow dispatch` on the same data folder finds serve's local server
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from cli import app

        with temporary_settings(restore_defaults={PREFECT_API_URL}):
            result = CliRunner().invoke(app, ["dispatch", "--database", url])
        assert result.exit_code == 0 and "Prefect unreachable" not in result.output, result.output

        os.kill(api["pids"]["runner"], signal.SIGKILL)  # the serving process dies
        wait_for_line(err, "the serving process stopped", seen_err)
        wait_for_line(err, "serving the deployments", seen_err)
        act(ctx, "approve_stage", "wang", "2026-04-03T10:00", decision="D1", stage="public_participation")
        wait_until(lambda: "event.stage_approved" in legal_office_told(ctx), "the department's notification")

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=RUN_TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
            stop_leftovers(home)  # the server and serving process of the serve killed here
    assert not (home / API_FILE).exists()
    for pid in (api["pids"]["server"],):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # stopped with serve
    rest = "".join(seen_err)
    while (line := err.get(timeout=RUN_TIMEOUT)) != "":
        rest += line
    assert "Traceback" not in rest, rest
    engine.dispose()


def started(*words: str) -> subprocess.Popen[str]:
    """A process whose command line holds `words`, once it runs (it says so on stdout)."""
    code = "import time; print('up', flush=True); time.sleep(120)"
    process = subprocess.Popen([sys.executable, "-c", code, *words], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "up\n"
    return process


def test_processes_left_by_a_killed_serve_are_stopped_and_a_running_serve_is_not_doubled(
    tmp_path: Path,
) -> None:
    from flows.prefect_runtime import AlreadyServing

    home = tmp_path / "prefect"
    home.mkdir()
    # a "server" still running, recorded by a serve that is gone (its pid: a finished process)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    server = started("prefect", "server")
    record = {
        "url": "http://127.0.0.1:1/api",
        "pids": {"serve": gone.pid, "server": server.pid, "runner": None},
    }
    (home / API_FILE).write_text(json.dumps(record), encoding="utf-8")
    try:
        stop_leftovers(home)
        assert server.wait(timeout=30) == -signal.SIGTERM
        assert not (home / API_FILE).exists()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    # a serve of this data folder that is still running: refused, nothing stopped
    serving = started("serve")
    record["pids"] = {"serve": serving.pid, "server": None, "runner": None}
    (home / API_FILE).write_text(json.dumps(record), encoding="utf-8")
    try:
        with pytest.raises(AlreadyServing) as caught:
            stop_leftovers(home)
        assert str(serving.pid) in caught.value.en and serving.poll() is None
    finally:
        serving.kill()
        serving.wait()
