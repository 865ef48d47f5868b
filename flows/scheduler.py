"""The in-process scheduler of `decisionflow serve` (issue 3): one APScheduler interval job
that runs the deadline sweep. Deadlines are rows, not scheduled jobs, so there are no
per-decision jobs and the memory job store suffices: a restart loses nothing, because the
next sweep finds everything that fell due meanwhile.

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

from flows.service.framework import ServiceContext, utcnow
from flows.service.sweep import SweepReport, sweep

log = logging.getLogger(__name__)

JOB_ID = "sweep"
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


def build_scheduler(
    ctx: ServiceContext,
    *,
    interval_seconds: float = 30.0,
    clock: Callable[[], datetime] = utcnow,
    first_run_at: datetime | None = None,
) -> BackgroundScheduler:
    """A BackgroundScheduler (not started) with the single interval job "sweep". The first
    run comes one interval after start, or at `first_run_at` when given (serve passes the
    start instant, so that what fell due during downtime is swept at once)."""
    if interval_seconds <= 0:
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
    return scheduler
