"""Prefect flows: thin adapters that run machine work through the service layer.

Human steps never wait inside Prefect; a flow run is short and idempotent. The deployments that
run these flows are listed in flows/deployments.py (and `prefect.yaml`).

Configuration comes from the environment of the process that runs the flow (`decisionflow
serve`, or a Prefect worker), never from a run's parameters, so that no secret (a database
password) lands in Prefect's database or UI: DECISIONFLOW_DATABASE_URL (or DATABASE_URL),
DECISIONFLOW_DATA_DIR, DECISIONFLOW_NOTIFY_CONFIG and DECISIONFLOW_CHECKPOINT_KEY, as for the CLI.

Retries are declared on the tasks, for failures that may pass (the database or the disk briefly
unavailable); a failure that cannot pass (a missing row, a broken template) fails the run at
once, and the failed run stays visible in Prefect. The flows themselves are not retried.

Importing this module does not start or contact a Prefect server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import event_work
from flows import procedure as proc
from flows.service import ServiceContext
from flows.service.checkpoint import KEY_ENV
from flows.service.sweep import sweep
from models.db import data_dir_for, default_database_url, make_engine
from notifications.config import load_settings

RETRIES = 3
RETRY_DELAYS = [2.0, 10.0, 60.0]  # seconds before each retry


@contextmanager
def flow_context() -> Iterator[ServiceContext]:
    """The service context of a flow or task, from the environment (see the module's
    description); its engine is closed afterwards."""
    url = default_database_url()
    engine = make_engine(url)
    key = os.environ.get(KEY_ENV)
    try:
        yield ServiceContext(
            engine=engine,
            data_dir=data_dir_for(url),
            notifications=load_settings(),
            checkpoint_key=Path(key) if key else None,
        )
    finally:
        engine.dispose()


def worth_retrying(_task: Any, _run: Any, state: Any) -> bool:
    """A task is retried when its failure may pass: the database unreachable or the disk
    briefly failing. A refusal, a missing row, a broken template or a bug fails at once."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    lasting = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
    try:
        state.result()
    except lasting:
        return False
    except (OperationalError, InterfaceError, OSError):
        return True
    except Exception:
        return False
    return False


def machine_task(name: str) -> Callable[[Callable[..., Any]], Any]:
    """A task with the declared retries, never cached (idempotency is the work's own)."""
    return task(
        name=name,
        retries=RETRIES,
        retry_delay_seconds=RETRY_DELAYS,
        retry_condition_fn=worth_retrying,
        cache_policy=NO_CACHE,
    )


# ---------------------------------------------------------------------------- decision-procedure
@machine_task("notify")
def notify_task(outbox_event_id: int) -> dict[str, int]:
    """The notifications people wait for (once per event and recipient)."""
    with flow_context() as ctx:
        done = event_work.notify(ctx, outbox_event_id)
    if done.unaddressed:
        get_run_logger().warning("outbox event %s: nobody holds the roles to tell", outbox_event_id)
    return {"notifications": done.notifications, "deliveries": done.deliveries, "already": done.already}


@machine_task("render-notices")
def notices_task(outbox_event_id: int) -> list[str]:
    """The public notice pages the step needs."""
    with flow_context() as ctx:
        return [str(path) for path in event_work.render_notices(ctx, outbox_event_id)]


@machine_task("refresh-catalogues")
def catalogues_task(outbox_event_id: int) -> dict[str, Any] | None:
    """The catalogue files of the year that lists the event's decision."""
    with flow_context() as ctx:
        files = event_work.refresh_catalogues(ctx, outbox_event_id)
    return (
        None
        if files is None
        else {"year": files.year, "version": files.version, "folder": str(files.directory)}
    )


@machine_task("assemble-dossier")
def dossier_task(outbox_event_id: int) -> str:
    """The archive dossier of the event's decision."""
    with flow_context() as ctx:
        return str(event_work.assemble_dossier(ctx, outbox_event_id))


WORK_TASKS: dict[str, Any] = {
    "notify": notify_task,
    "notice": notices_task,
    "catalogues": catalogues_task,
    "dossier": dossier_task,
}


@flow(name=proc.DECISION_PROCEDURE)
def decision_procedure(outbox_event_id: int) -> dict[str, Any]:
    """The automatic work of one outbox event of a decision, as the procedure data lists it
    for the event (`procedure.EVENT_ROUTES`): notifications, the step's public notice, the
    catalogue refresh, the archive dossier. Running it twice for one event changes nothing."""
    with flow_context() as ctx:
        facts = event_work.read_event(ctx, outbox_event_id)
    get_run_logger().info(
        "outbox event %s (%s, decision %s): %s",
        facts.id,
        facts.event_type,
        facts.payload.get("decision", "—"),
        ", ".join(facts.work) or "no work",
    )
    return {work: WORK_TASKS[work](outbox_event_id) for work in facts.work}


# ---------------------------------------------------------------------------- documents on demand
@flow(name=proc.CATALOGUES)
def catalogues(year: int | None = None, version: int | None = None) -> dict[str, Any]:
    """Regenerate both catalogues of `year` (default: the current year, local time), in every
    format, for `version` (default: the version in force: published, else the current
    draft). Scheduled daily, started by the dispatcher after a catalogue event (for the version
    the event concerns), and on demand."""
    from flows.calendar import local_date
    from flows.catalogue_files import generate_catalogue_files
    from flows.service.framework import the_jurisdiction

    with flow_context() as ctx:
        now = datetime.now(UTC)
        if year is None:
            with ctx.session() as session:
                year = local_date(now, ZoneInfo(the_jurisdiction(session).timezone)).year
        files = generate_catalogue_files(ctx, year, version=version, now=now)
    get_run_logger().info("catalogues %s v%s written to %s", files.year, files.version, files.directory)
    return {"year": files.year, "version": files.version, "folder": str(files.directory)}


@flow(name="archive-dossier")
def archive_dossier(decision: str) -> str:
    """Build the archive dossier (一事一档) of the archived decision `decision` (its code)."""
    from flows.dossier import build_dossier

    with flow_context() as ctx:
        path = build_dossier(ctx, decision, now=datetime.now(UTC))
    get_run_logger().info("dossier of %s written to %s", decision, path)
    return str(path)


@flow(name="annual-report")
def annual_report(year: int) -> dict[str, str]:
    """Produce the statistics of `year` for the annual report (HTML with charts, and JSON)."""
    from flows.annual_report import build_annual_report

    with flow_context() as ctx:
        report = build_annual_report(ctx, year, now=datetime.now(UTC))
    get_run_logger().info("annual report %s written to %s", year, report.html.parent)
    return {"html": str(report.html), "json": str(report.json)}


# ---------------------------------------------------------------------------- the deadline sweep
@flow(name="sweep-deadlines", retries=2, retry_delay_seconds=5)
def sweep_deadlines(now: str | None = None) -> dict[str, int]:
    """The deadline sweep at `now` (ISO 8601; default: the current time): transitions,
    reminders and deliveries, with the notification settings of DECISIONFLOW_NOTIFY_CONFIG.
    `now` other than the present is honoured only on a database with a simulated clock."""
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    with flow_context() as ctx:
        report = sweep(ctx, moment)
    get_run_logger().info("sweep at %s: %s", moment.isoformat(), report.line())
    return {
        "fired": report.fired,
        "transitions": report.transitions,
        "reminders": report.reminders,
        "late": report.late,
        "sent": report.sent,
        "failed": report.failed,
    }
