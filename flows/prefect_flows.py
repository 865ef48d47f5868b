"""Prefect flows: thin adapters that run machine work through the service layer.

Human steps never wait inside Prefect; a flow run is short and
idempotent. Importing this module does not start or contact a Prefect server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger

from flows.service import ServiceContext
from flows.service.sweep import sweep
from models.db import data_dir_for, default_database_url, make_engine
from notifications.config import load_settings


@flow(name="sweep-deadlines", retries=2, retry_delay_seconds=5)
def sweep_deadlines(
    now: str | None = None, database_url: str | None = None, data_dir: str | None = None
) -> dict[str, int]:
    """The deadline sweep at `now` (ISO 8601; default: the current time): transitions,
    reminders and deliveries, with the notification settings of DECISIONFLOW_NOTIFY_CONFIG.
    Evidence goes to `data_dir`, else the database's data folder (models.db.data_dir_for)."""
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    url = database_url or default_database_url()
    engine = make_engine(url)
    try:
        folder = Path(data_dir) if data_dir else data_dir_for(url)
        ctx = ServiceContext(engine=engine, data_dir=folder, notifications=load_settings())
        report = sweep(ctx, moment)
    finally:
        engine.dispose()
    get_run_logger().info("sweep at %s: %s", moment.isoformat(), report.line())
    return {
        "fired": report.fired,
        "transitions": report.transitions,
        "reminders": report.reminders,
        "late": report.late,
        "sent": report.sent,
        "failed": report.failed,
    }
