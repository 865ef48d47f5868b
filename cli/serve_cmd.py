"""`decisionflow serve`: the long-running process of issue 3. It checks the notification
settings first (a bad configuration exits 2 before anything starts), then runs the deadline
sweep on an interval in a background scheduler until SIGINT or SIGTERM, and shuts down
cleanly. The web app joins this process in a later issue."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer

from cli import app
from cli.common import DatabaseOption, fail
from cli.notify_cmd import ConfigOption, load_notify_settings, notify_context

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SERVE_HELP = (
    "Sweep deadlines on an interval until SIGINT/SIGTERM (web app: a later issue).\n\n"
    "Every SECONDS the sweep fires due deadlines, creates reminders and delivers the outbox. "
    "The notification settings (channels, SMTP host, templates) are checked before anything "
    "starts; a bad one exits 2 naming its field.\n\n"
    "The web app joins this process in a later issue; for now serve runs the scheduler only."
)


@app.command("serve", help=SERVE_HELP)
def serve(
    database: DatabaseOption = None,
    config: ConfigOption = None,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            metavar="SECONDS",
            help="seconds between sweeps (default: sweep_interval_seconds, 30)",
        ),
    ] = None,
) -> None:
    """Sweep deadlines on an interval until SIGINT/SIGTERM (see SERVE_HELP)."""
    from flows.scheduler import build_scheduler
    from notifications.errors import ConfigError
    from notifications.runtime import check_startup

    settings = load_notify_settings(config)
    try:
        check_startup(settings)
    except ConfigError as exc:
        fail("CONFIG", exc.field, exc.zh, exc.en)
    seconds = settings.sweep_interval_seconds if interval is None else interval
    if not seconds > 0:
        fail("INPUT", "--interval", "须为正数", "must be positive")

    _configure_logging()
    ctx = notify_context(database, settings)
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    scheduler = build_scheduler(ctx, interval_seconds=seconds, first_run_at=datetime.now(UTC))
    try:
        scheduler.start()
        where = ctx.engine.url.render_as_string(hide_password=True)
        typer.echo(
            f"decisionflow serve started / 已启动: 每 {seconds:g} 秒巡检 / sweep every {seconds:g} s, "
            f"channels {', '.join(settings.channels)}, database {where}"
        )
        while not stop.wait(timeout=3600):
            pass
        name = signal.Signals(received[0]).name if received else "stop"
        typer.echo(f"{name}: 正在停止 / stopping (waiting for a running sweep)")
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)
        ctx.engine.dispose()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("decisionflow serve stopped / 已停止")


def _configure_logging() -> None:
    """Sweep reports and failures (with tracebacks) go to stderr; APScheduler's own
    per-run chatter is kept to warnings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
