"""Prefect flows: thin adapters that run machine work through the service layer.

Human steps never wait inside Prefect (design decision 1); a flow run is short and
idempotent. Importing this module does not start or contact a Prefect server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger

from flows.service import ServiceContext, fire_due_deadlines
from models.db import default_database_url, make_engine


@flow(name="sweep-deadlines", retries=2, retry_delay_seconds=5)
def sweep_deadlines(
    now: str | None = None, database_url: str | None = None, data_dir: str = "var"
) -> dict[str, int]:
    """Fire every deadline due at `now` (ISO 8601; default: the current time)."""
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    engine = make_engine(database_url or default_database_url())
    try:
        result = fire_due_deadlines(ServiceContext(engine=engine, data_dir=Path(data_dir)), moment)
    finally:
        engine.dispose()
    get_run_logger().info("fired %s deadlines, %s automatic transitions", result.fired, result.transitions)
    return {"fired": result.fired, "transitions": result.transitions}
