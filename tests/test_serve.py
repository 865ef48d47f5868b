"""Issue 3, the long-running side: the scheduler has one interval job "sweep" with job
defaults that never drop a run; a scheduled run sweeps at the time its clock gives
(a comment window closes, reminders are created); a failing sweep is logged with its
traceback and recorded as a failed run. `decisionflow serve` refuses a bad configuration
at once (exit 2, the field named) without starting anything, and a good one runs until
SIGTERM and exits 0."""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from flows import scheduler as scheduler_module
from flows.scheduler import build_scheduler, run_sweep
from flows.service import ServiceContext
from flows.service.sweep import SweepReport
from models import CommentPeriod, Notification, SweepRun, User
from models.db import make_engine, mark_database
from tests.helpers import act, at, district, drafted
from tests.schema import create_all

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60.0
WEB_ANY_PORT = (
    "--port",
    "0",
)  # the web app on a free port  # generous: a cold interpreter imports the whole stack


class JobRuns:
    """Collects the scheduler's job events; a test waits on `done` (no sleeping)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.events: list[JobExecutionEvent] = []

    def __call__(self, event: JobExecutionEvent) -> None:
        self.events.append(event)
        self.done.set()


def window_open(ctx: ServiceContext) -> None:
    """D1's comment window runs 2026-03-03 to Thursday 04-02: it closes at 24:00 that day."""
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


# ---------------------------------------------------------------- the scheduler
def test_one_interval_job_with_defaults_that_never_drop_a_run(ctx: ServiceContext) -> None:
    scheduler = build_scheduler(ctx, interval_seconds=45)
    assert scheduler.timezone == UTC
    (job,) = scheduler.get_jobs()
    assert job.id == "sweep" and job.func is run_sweep
    assert isinstance(job.trigger, IntervalTrigger) and job.trigger.interval == timedelta(seconds=45)
    scheduler.start(paused=True)  # applies the job defaults; runs nothing while paused
    try:
        (job,) = scheduler.get_jobs()
        assert (job.coalesce, job.misfire_grace_time, job.max_instances) == (True, None, 1)
        assert isinstance(scheduler._lookup_jobstore("default"), MemoryJobStore)
        assert scheduler.get_jobs() == [job]  # no per-decision jobs, ever
    finally:
        scheduler.shutdown(wait=True)

    first = datetime(2026, 4, 3, tzinfo=UTC)
    assert build_scheduler(ctx, first_run_at=first).get_job("sweep").next_run_time == first
    with pytest.raises(ValueError, match="interval_seconds"):
        build_scheduler(ctx, interval_seconds=0)


def test_a_scheduled_run_sweeps_at_its_clocks_time(ctx: ServiceContext) -> None:
    window_open(ctx)
    moment = at("2026-04-03T00:00")  # 24:00 on the window's last day
    runs = JobRuns()
    scheduler = build_scheduler(ctx, interval_seconds=3600, clock=lambda: moment)
    scheduler.add_listener(runs, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        scheduler.get_job("sweep").modify(next_run_time=datetime.now(UTC))
        assert runs.done.wait(timeout=10), "the sweep job did not run"
    finally:
        scheduler.shutdown(wait=True)
    (event,) = runs.events
    assert event.exception is None and event.code == EVENT_JOB_EXECUTED
    report = event.retval
    assert isinstance(report, SweepReport) and report.now == moment
    assert (report.fired, report.transitions) == (1, 1)
    with Session(ctx.engine) as session:
        assert session.exec(select(CommentPeriod)).one().status == "closed"
        notes = session.exec(
            select(Notification)
            .join(User, col(User.id) == col(Notification.user_id))
            .where(User.code == "li")
            .order_by(col(Notification.scheduled_at))
        ).all()
        runs_logged = session.exec(select(SweepRun)).all()
    assert [n.point for n in notes] == ["before:3", "due", "transition"]
    assert all(n.created_at == moment for n in notes)
    assert [(r.now, r.fired, r.transitions) for r in runs_logged] == [(moment, 1, 1)]


def test_a_failing_sweep_is_logged_with_its_traceback_and_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine("sqlite://")  # no tables: every sweep fails
    moment = at("2026-04-03T00:00")
    ctx = ServiceContext(engine=engine, data_dir=tmp_path, clock=lambda: moment)  # an unmarked database
    caplog.set_level(logging.ERROR, logger="flows.scheduler")
    with pytest.raises(Exception, match="no such table"):
        run_sweep(ctx, lambda: moment)
    (record,) = [r for r in caplog.records if r.name == "flows.scheduler"]
    assert "sweep at 2026-04-02T16:00:00+00:00 failed" in record.getMessage()
    assert record.exc_info is not None and "no such table" in str(record.exc_info[1])

    caplog.clear()
    runs = JobRuns()
    scheduler = build_scheduler(ctx, interval_seconds=3600, clock=lambda: moment)
    scheduler.add_listener(runs, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        scheduler.get_job("sweep").modify(next_run_time=datetime.now(UTC))
        assert runs.done.wait(timeout=10), "the sweep job did not run"
        # the failure does not remove the job: the next interval sweeps again
        assert scheduler.get_job("sweep").next_run_time is not None
    finally:
        scheduler.shutdown(wait=True)
    (event,) = runs.events
    assert event.code == EVENT_JOB_ERROR and "no such table" in str(event.exception)
    assert any(r.name == "flows.scheduler" and r.exc_info for r in caplog.records)
    engine.dispose()


# ---------------------------------------------------------------- serve: bad configuration
@pytest.fixture
def no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("serve started the scheduler despite a bad configuration")

    monkeypatch.setattr(scheduler_module, "build_scheduler", refuse)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def bad_templates(root: Path) -> Path:
    write(root / "zh_CN" / "deadline.upcoming.subject.txt", "{{ decision.code }} {{ no_such_variable }}\n")
    return root


BAD_CONFIGS = {
    "unknown_channel": (
        "notifications:\n  channels: [inbox, sms]\n",
        "notifications.channels",
        "sms",
    ),
    "unresolvable_smtp_host": (
        "notifications:\n  channels: [inbox, email]\n  smtp:\n    host: smtp.no-such-host.invalid\n",
        "notifications.smtp.host",
        "smtp.no-such-host.invalid",
    ),
    "undefined_template_variable": (
        "notifications:\n  templates_dir: {templates}\n",
        "zh_CN/deadline.upcoming.subject.txt",
        "no_such_variable",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_serve_refuses_a_bad_configuration_before_starting(
    case: str, tmp_path: Path, no_scheduler: None
) -> None:
    text, field, detail = BAD_CONFIGS[case]
    config = write(tmp_path / "notify.yaml", text.format(templates=bad_templates(tmp_path / "templates")))
    database = tmp_path / "serve.db"
    result = CliRunner().invoke(
        app, ["serve", "--config", str(config), "--database", f"sqlite:///{database}", "--interval", "1"]
    )
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"error CONFIG [{field}]"), result.output
    assert detail in line and " / " in line
    assert not database.exists()  # nothing was started, not even the database


# ---------------------------------------------------------------- serve: a good run
def lines_of(stream: Any) -> queue.Queue[str]:
    """A queue fed with the stream's lines by a reader thread ("" at the end of the stream)."""
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in iter(stream.readline, ""):
            found.put(line)
        found.put("")

    threading.Thread(target=pump, daemon=True).start()
    return found


def wait_for_line(lines: queue.Queue[str], needle: str, seen: list[str]) -> str:
    while True:
        line = lines.get(timeout=STARTUP_TIMEOUT)
        seen.append(line)
        if line == "":
            raise AssertionError(f"stream ended before {needle!r}:\n{''.join(seen)}")
        if needle in line:
            return line


@pytest.fixture
def serve_database(tmp_path: Path) -> Iterator[str]:
    """A SQLite file with a comment window that closed 40 days before the real today, so the
    serve process's first sweep (at start, on the real clock) has something to fire."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = make_engine(url)
    create_all(engine)
    mark_database(engine, "scenario", "tests")  # simulated clock: the test replays time
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    start = date.today() - timedelta(days=70)
    district(ctx, when=f"{start}T08:00")
    _drafted_on(ctx, start)
    act(
        ctx,
        "open_comment_period",
        "li",
        f"{start}T12:00",
        decision="D1",
        start_date=str(start),
        end_date=str(start + timedelta(days=30)),
        channels=["website"],
    )
    engine.dispose()
    yield url


def _drafted_on(ctx: ServiceContext, day: date) -> None:
    act(
        ctx,
        "register_decision",
        "li",
        f"{day}T09:00",
        ref="D1",
        title="决策D1",
        category=1,
        lead_unit="housing",
        flags=[],
    )
    act(ctx, "start_procedure", "zhou", f"{day}T10:00", decision="D1")
    act(
        ctx,
        "submit_draft",
        "li",
        f"{day}T11:00",
        decision="D1",
        draft="草案",
        explanation="起草说明",
        legal_bases=["国务院令第713号"],
    )


def test_serve_runs_the_sweep_until_sigterm(serve_database: str, tmp_path: Path) -> None:
    # a Prefect server named but down: serve runs no local one, and the events wait
    # (the embedded set-up: test_prefect_flows.py)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    env.pop("DECISIONFLOW_NOTIFY_CONFIG", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cli import main; main()",
            "serve",
            "--database",
            serve_database,
            *WEB_ANY_PORT,
        ],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = lines_of(process.stdout), lines_of(process.stderr)
    seen_out: list[str] = []
    seen_err: list[str] = []
    try:
        started = wait_for_line(out, "started", seen_out)
        assert "sweep every 30 s" in started and "channels inbox" in started
        assert "http://127.0.0.1:9/api (workers run the deployments" in wait_for_line(
            out, "Prefect:", seen_out
        )
        # the web app answers on the port serve chose and printed
        address = wait_for_line(out, "web / 网页:", seen_out).split()[3]
        portal = httpx.get(address, timeout=STARTUP_TIMEOUT)
        assert portal.status_code == 200 and "公众参与平台" in portal.text
        assert httpx.get(f"{address}api/v1/published", timeout=STARTUP_TIMEOUT).status_code == 200
        # the first sweep runs at start and closes the window that ended meanwhile
        swept = wait_for_line(err, "fired 1 (transitions 1)", seen_err)
        assert "flows.scheduler" in swept
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STARTUP_TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    wait_for_line(out, "stopped", seen_out)
    assert "SIGTERM" in "".join(seen_out)
    rest = "".join(seen_err)
    while (line := err.get(timeout=STARTUP_TIMEOUT)) != "":
        rest += line
    assert "Traceback" not in rest, rest
    engine = make_engine(serve_database)
    with Session(engine) as session:
        assert session.exec(select(CommentPeriod)).one().status == "closed"
    engine.dispose()


def test_serve_drops_only_the_skipped_run_warning_and_the_per_request_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`serve` runs each job one at a time; APScheduler's warning that a tick was skipped for
    it (every 2 s while Prefect is slow) is noise, and so is httpx's line per API call. A
    job's failure still shows."""
    from cli.serve_cmd import _configure_logging

    _configure_logging()
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    with caplog.at_level(logging.INFO):
        scheduler_log.warning(
            'Execution of job "%s" skipped: maximum number of running instances reached (%d)', "outbox", 1
        )
        logging.getLogger("httpx").info("HTTP Request: POST http://127.0.0.1:4200/api/deployments/filter")
        scheduler_log.warning("Run time of job %s was missed by %s", "sweep", "0:00:05")
        logging.getLogger("apscheduler.executors.default").error('Job "sweep" raised an exception')
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["Run time of job sweep was missed by 0:00:05", 'Job "sweep" raised an exception']
