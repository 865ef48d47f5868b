"""The in-process scheduler of `decisionflow serve` (issue 3): one APScheduler interval job
that runs the deadline sweep, and (issue 9) one that dispatches the outbox to Prefect.
Deadlines are rows, not scheduled jobs, so there are no per-decision jobs and the memory job
store suffices: a restart loses nothing, because the next sweep finds everything that fell
due meanwhile, and the next dispatch every event still in the outbox.

Job defaults (see stack facts): APScheduler's default misfire grace of 1 s silently drops
runs, so runs are never dropped for being late (`misfire_grace_time=None`), a backlog of
missed runs collapses into one (`coalesce=True`), and a sweep never overlaps itself
(`max_instances=1`). The sweep is safe under concurrency anyway, should two processes run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from flows.dispatcher import ClientFactory, DispatchReport, PrefectUnavailable, dispatch_once, prefect_client
from flows.service.framework import ServiceContext, utcnow
from flows.service.sweep import SweepReport, sweep

log = logging.getLogger(__name__)

JOB_ID = "sweep"
DISPATCH_JOB_ID = "dispatch"
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


def run_sweep(ctx: ServiceContext, clock: Callable[[], datetime] = utcnow) -> SweepReport:
    """One scheduled sweep at `clock()`. A failure is logged with its traceback and raised
    again, so that the scheduler records it as a failed run (EVENT_JOB_ERROR)."""
    now = clock().astimezone(UTC)
    try:
        report = sweep(ctx, now)
    except Exception:
        log.exception("sweep at %s failed", now.isoformat())
        raise
    if report.did_anything:
        log.info("sweep at %s: %s", now.isoformat(), report.line())
    else:
        log.debug("sweep at %s: nothing due", now.isoformat())
    for point in report.unaddressed:
        log.warning("sweep at %s: no recipient for %s", now.isoformat(), point)
    return report


class DispatchJob:
    """One scheduled dispatch of the outbox (flows/dispatcher.py) at `clock()`, to the Prefect
    API that `api_url()` names at that moment (None: none is ready, the events wait). What it
    starts is logged; that Prefect became unreachable, or reachable again, is logged once
    when it changes, not at every run."""

    def __init__(
        self,
        ctx: ServiceContext,
        api_url: Callable[[], str | None],
        clock: Callable[[], datetime] = utcnow,
        client: Callable[[str], ClientFactory] = prefect_client,
    ) -> None:
        self.ctx = ctx
        self.api_url = api_url
        self.clock = clock
        self.client = client
        self.unreachable: str | None = None
        self.error: str | None = None

    def __call__(self) -> DispatchReport | None:
        """One dispatch. A failure (the database unreachable) is logged with its traceback
        the first time, then quietly while it lasts: this job runs every few seconds."""
        now = self.clock().astimezone(UTC)
        url = self.api_url()
        try:
            report = dispatch_once(self.ctx, now=now, client_factory=self.client(url) if url else _no_api)
        except Exception as exc:
            error = f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"  # the driver's words
            if error != self.error:
                log.exception("dispatch at %s failed", now.isoformat())
            self.error = error
            return None
        if self.error is not None:
            log.info("dispatch works again")
            self.error = None
        if report.unreachable and report.unreachable != self.unreachable:
            log.warning(
                "Prefect unreachable, %d events wait in the outbox: %s", report.waiting, report.unreachable
            )
        elif self.unreachable and not report.unreachable:
            log.info("Prefect reachable again")
        self.unreachable = report.unreachable
        if report.failed:
            failures = "; ".join(
                f"outbox {e.event_id}: {e.error}" for e in report.events if e.outcome == "failed"
            )
            log.warning("dispatch at %s: %s (%s)", now.isoformat(), report.line(), failures)
        elif report.started:
            log.info("dispatch at %s: %s", now.isoformat(), report.line())
        return report


def _no_api() -> Any:
    raise PrefectUnavailable("Prefect 服务尚未就绪 / the Prefect server is not ready yet")


def build_scheduler(
    ctx: ServiceContext,
    *,
    interval_seconds: float = 30.0,
    clock: Callable[[], datetime] = utcnow,
    first_run_at: datetime | None = None,
    dispatch: DispatchJob | None = None,
    dispatch_seconds: float = 2.0,
) -> BackgroundScheduler:
    """A BackgroundScheduler (not started) with the interval job "sweep", and with `dispatch`
    the interval job "dispatch" every `dispatch_seconds`. The first sweep comes one interval
    after start, or at `first_run_at` when given (serve passes the start instant, so that
    what fell due during downtime is swept at once); the first dispatch comes at once."""
    if interval_seconds <= 0 or dispatch_seconds <= 0:
        raise ValueError("interval_seconds: 须为正数 / must be positive")
    scheduler = BackgroundScheduler(timezone=UTC, job_defaults=dict(JOB_DEFAULTS))
    options: dict[str, Any] = {}
    if first_run_at is not None:
        options["next_run_time"] = first_run_at
    scheduler.add_job(
        run_sweep,
        IntervalTrigger(seconds=interval_seconds, timezone=UTC),
        args=(ctx, clock),
        id=JOB_ID,
        name="deadline sweep",
        replace_existing=True,
        **options,
    )
    if dispatch is not None:
        scheduler.add_job(
            dispatch,
            IntervalTrigger(seconds=dispatch_seconds, timezone=UTC),
            id=DISPATCH_JOB_ID,
            name="outbox dispatch",
            replace_existing=True,
            next_run_time=clock().astimezone(UTC),
        )
    return scheduler
