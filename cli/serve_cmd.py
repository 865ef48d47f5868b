"""`decisionflow serve`: the long-running process of issue 3. It checks the notification
settings first (a bad configuration exits 2 before anything starts), then runs the deadline
sweep and the outbox dispatcher (issue 9) on intervals in a background scheduler until SIGINT
or SIGTERM, and shuts down cleanly. With no PREFECT_API_URL it also runs a local Prefect
server and serves the deployments (flows/prefect_runtime.py); with it, that server is used and
workers run the deployments. The web app (issue 10) is served by uvicorn in a thread of the same
process, on 127.0.0.1:8000 by default."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli import app
from cli.common import DatabaseOption, HelpCommand, fail
from cli.notify_cmd import ConfigOption, load_notify_settings, notify_context

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from flows.service import ServiceContext

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SERVE_HELP = (
    "提供网页服务、巡检期限并把发件箱派发给 Prefect，直到收到 SIGINT/SIGTERM。 / Serve the web app, sweep "
    "deadlines and dispatch the outbox to Prefect until SIGINT/SIGTERM.\n\n"
    "网页（工作人员页面、公众门户、JSON 接口 /api/v1）监听 --host:--port，默认 127.0.0.1:8000。每隔 SECONDS "
    "秒巡检一次：触发到期期限、生成提醒、投递发件箱。每隔 --dispatch-interval 秒，派发器为每个需要机器处理的"
    "新事件启动一次 Prefect 流程运行。\n\n"
    "未设置 PREFECT_API_URL 时，在 127.0.0.1 上运行本地 Prefect 服务器（数据库在数据文件夹的 prefect/ 下）"
    "并自行提供部署；设置后使用该服务器，由 worker 运行部署（prefect deploy --all；prefect worker start "
    "--pool decisionflow）。\n\n"
    "启动前检查通知设置（渠道、SMTP 主机、模板），有误则以退出码 2 退出并指明字段。\n\n"
    "The web app (staff pages, public portal, JSON API /api/v1) listens on --host:--port, "
    "127.0.0.1:8000 by default. "
    "Every SECONDS the sweep fires due deadlines, creates reminders and delivers the outbox. "
    "Every --dispatch-interval seconds the dispatcher starts a Prefect flow run for each new "
    "event that needs machine work.\n\n"
    "With no PREFECT_API_URL, serve runs a local Prefect server on 127.0.0.1 (its database under "
    "the data folder, in prefect/) and serves the deployments itself. With PREFECT_API_URL set, "
    "it uses that server, and workers run the deployments (prefect deploy --all; prefect worker "
    "start --pool decisionflow).\n\n"
    "The notification settings (channels, SMTP host, templates) are checked before anything "
    "starts; a bad one exits 2 naming its field."
)


@app.command("serve", help=SERVE_HELP, cls=HelpCommand)
def serve(
    database: DatabaseOption = None,
    config: ConfigOption = None,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            metavar="SECONDS",
            help="巡检间隔秒数（默认：sweep_interval_seconds，30） / seconds between sweeps (default: sweep_interval_seconds, 30)",
        ),
    ] = None,
    dispatch_interval: Annotated[
        float,
        typer.Option(
            "--dispatch-interval", metavar="SECONDS", help="派发间隔秒数 / seconds between outbox dispatches"
        ),
    ] = 2.0,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="网页服务地址 / address of the web app")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port",
            metavar="PORT",
            help="网页服务端口（0：任一空闲端口） / port of the web app (0: any free port)",
        ),
    ] = 8000,
    web: Annotated[bool, typer.Option("--web/--no-web", help="提供网页服务 / serve the web app")] = True,
) -> None:
    """Sweep deadlines and dispatch the outbox on intervals until SIGINT/SIGTERM (see SERVE_HELP)."""
    from flows.prefect_runtime import AlreadyServing, EmbeddedPrefect, configured_api_url
    from flows.scheduler import DispatchJob, build_scheduler
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
    if not dispatch_interval > 0:
        fail("INPUT", "--dispatch-interval", "须为正数", "must be positive")

    if not 0 <= port <= 65535:
        fail("INPUT", "--port", "须在 0–65535 之间", "must be between 0 and 65535")
    listener = listen(host, port) if web else None  # a taken port is refused before anything starts

    _configure_logging()
    ctx = notify_context(database, settings)
    external = configured_api_url()
    embedded: EmbeddedPrefect | None = None
    if external is None:
        if ctx.data_dir is None:
            ctx.engine.dispose()
            fail(
                "INPUT",
                "DECISIONFLOW_DATA_DIR",
                "本地 Prefect 服务的数据库须放在数据文件夹中：请设置此变量，或以 PREFECT_API_URL 指定 Prefect 服务",
                "the local Prefect server keeps its database in the data folder: set this variable, "
                "or name a Prefect server with PREFECT_API_URL",
            )
        embedded = EmbeddedPrefect(ctx.data_dir, flow_environment(ctx.engine, ctx.data_dir, config))
    dispatcher = DispatchJob(ctx, (lambda: external) if embedded is None else (lambda: embedded.api_url))
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    scheduler = build_scheduler(
        ctx,
        interval_seconds=seconds,
        first_run_at=datetime.now(UTC),
        dispatch=dispatcher,
        dispatch_seconds=dispatch_interval,
    )
    try:
        if embedded is not None:
            try:
                embedded.start()
            except AlreadyServing as exc:
                fail("INPUT", "--database", exc.zh, exc.en)
        scheduler.start()
        web_server = _start_web(ctx, listener) if listener is not None else None
        where = ctx.engine.url.render_as_string(hide_password=True)
        typer.echo(
            f"decisionflow serve started / 已启动: 每 {seconds:g} 秒巡检 / sweep every {seconds:g} s, "
            f"channels {', '.join(settings.channels)}, database {where}"
        )
        where_prefect = (
            f"{external} (workers run the deployments / 由工作进程运行部署)"
            if embedded is None
            else f"local server / 本地服务 under {embedded.home} (starting / 启动中)"
        )
        typer.echo(f"Prefect: {where_prefect}, dispatch every {dispatch_interval:g} s")
        if listener is not None:
            bound_host, bound_port = listener.getsockname()[:2]
            typer.echo(f"web / 网页: http://{bound_host}:{bound_port}/  (staff / 工作人员: /login)")
        while not stop.wait(timeout=3600):
            pass
        name = signal.Signals(received[0]).name if received else "stop"
        typer.echo(f"{name}: 正在停止 / stopping (waiting for a running sweep)")
    finally:
        if "web_server" in locals() and web_server is not None:
            web_server.stop()
        if listener is not None:
            listener.close()
        if scheduler.running:
            scheduler.shutdown(wait=True)
        if embedded is not None:
            embedded.stop()
        ctx.engine.dispose()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("decisionflow serve stopped / 已停止")


def flow_environment(engine: Engine, data_dir: Path, config: Path | None) -> dict[str, str]:
    """The environment of the flows that serve runs: the same database, data folder and
    notification settings as serve itself (never a run parameter: the URL may hold a password)."""
    from models.db import DATA_DIR_ENV, engine_url

    env = dict(os.environ)
    env["DECISIONFLOW_DATABASE_URL"] = engine_url(engine)
    env[DATA_DIR_ENV] = str(data_dir)
    if config is not None:
        env["DECISIONFLOW_NOTIFY_CONFIG"] = str(config.resolve())
    return env


def _configure_logging() -> None:
    """Sweep reports and failures (with tracebacks) go to stderr. APScheduler's per-run chatter
    is kept to warnings, and its warning that a run was skipped because the previous one is
    still going is dropped: each job runs one at a time by design (`max_instances=1`), and the
    dispatcher skips ticks whenever Prefect is slow. Job failures still show (logged as errors by
    APScheduler's executor). httpx would log a line per call to the Prefect API."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_not_a_skipped_run)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _not_a_skipped_run(record: logging.LogRecord) -> bool:
    return "maximum number of running instances reached" not in record.getMessage()


class WebServer:
    """The web app served by uvicorn in a thread, on a socket bound before it starts."""

    def __init__(self, app: Any, listener: socket.socket) -> None:
        import uvicorn

        # the process's own signal handling stays serve's (uvicorn runs off the main thread)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [listener]}, name="web", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def listen(host: str, port: int) -> socket.socket:
    """The web app's socket, listening at once (browsers may connect while the rest starts)."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        fail(
            "INPUT",
            "--port",
            f"无法监听 {host}:{port}（{exc.strerror}）",
            f"cannot listen on {host}:{port} ({exc.strerror})",
        )
    listener.listen(128)
    return listener


def _start_web(ctx: ServiceContext, listener: socket.socket) -> WebServer:
    from web.app import WebConfig, create_app

    server = WebServer(create_app(ctx, WebConfig.from_environment(ctx.data_dir)), listener)
    server.start()
    return server
