"""The embedded Prefect of `decisionflow serve` (issue 9): with no PREFECT_API_URL, serve runs

- a local Prefect server on 127.0.0.1 (a free port), its home and SQLite database under the
  data folder (`<data folder>/prefect/`, log in `server.log`);
- a serving process that serves the deployments of flows/deployments.py against it (a Prefect
  `Runner`: `python -m flows.prefect_runtime`, log in `runner.log`), which runs each flow run in
  a child process;

and supervises both: a process that dies is logged and started again (the serving process exits
when the server answers with errors, for instance while the server restarts). The local server's
address is written to `<data folder>/prefect/api.json` while it runs, so that `decisionflow
dispatch` on the same data folder finds it.

With PREFECT_API_URL set, none of this runs: that server is used, and workers of the
`decisionflow` process pool run the deployments of `prefect.yaml`.

Nothing starts at import."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

PREFECT_FOLDER = "prefect"  # under the data folder
API_FILE = "api.json"
STARTUP_TIMEOUT = 90.0  # seconds for the server to answer its health check
STOP_TIMEOUT = 20.0  # seconds a process is given to stop before it is killed
SUPERVISE_SECONDS = 2.0


def configured_api_url() -> str | None:
    """The Prefect API that PREFECT_API_URL (or the Prefect profile) names, if any."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    return str(url) if url else None


def prefect_home(data_dir: Path) -> Path:
    return data_dir / PREFECT_FOLDER


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(home: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the local server: its home and SQLite database under `home`, no
    analytics, and no outside Prefect API (the server is its own)."""
    env = dict(os.environ if environ is None else environ)
    env.pop("PREFECT_API_URL", None)
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
        }
    )
    return env


def _log_file(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


def _stop(process: subprocess.Popen[bytes] | None, name: str) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.warning("%s (pid %s) did not stop in %.0f s: killed", name, process.pid, STOP_TIMEOUT)
        process.kill()
        process.wait()


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    import httpx

    try:
        return httpx.get(f"{api_url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class LocalServer:
    """A local Prefect server process: `start` waits until it answers, `stop` ends it."""

    home: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = STARTUP_TIMEOUT, cancel: threading.Event | None = None) -> None:
        """Start the server and wait until it answers (RuntimeError if it does not; the wait
        ends early, with the server stopped, when `cancel` is set)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with _log_file(self.home / "server.log") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=server_environment(self.home),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while not healthy(self.api_url):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Prefect 服务未能启动（退出码 {self.process.returncode}，见 {self.home / 'server.log'}）"
                    f" / the Prefect server did not start (exit {self.process.returncode}; "
                    f"see {self.home / 'server.log'})"
                )
            if cancel is not None and cancel.is_set():
                self.stop()
                raise RuntimeError("Prefect 服务启动已取消 / the Prefect server's start was cancelled")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"Prefect 服务 {timeout:.0f} 秒内未就绪 / the Prefect server was not ready in {timeout:.0f} s"
                )
            time.sleep(0.2)  # polling a process that is starting, not synchronising a test
        log.info("local Prefect server at %s (pid %s)", self.api_url, self.process.pid)

    def stop(self) -> None:
        _stop(self.process, "the Prefect server")


@dataclass
class Servant:
    """The serving process: serves the deployments against `api_url` and runs their flow
    runs. Its environment carries the database and data folder the flows use."""

    home: Path
    api_url: str
    environ: Mapping[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        env = {**self.environ, "PREFECT_API_URL": self.api_url, "PREFECT_HOME": str(self.home)}
        with _log_file(self.home / "runner.log") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flows.prefect_runtime"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def stop(self) -> None:
        _stop(self.process, "the serving process")


class EmbeddedPrefect:
    """The local server and the serving process, started and supervised in a thread of their
    own (serve does not wait for them: until the server answers, events wait in the outbox).
    `api_url` is None until the server is ready."""

    def __init__(self, data_dir: Path, flow_environ: Mapping[str, str]) -> None:
        self.home = prefect_home(data_dir)
        self.flow_environ = dict(flow_environ)
        self.server = LocalServer(self.home)
        self.servant: Servant | None = None
        self.ready = threading.Event()
        self.restarts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def api_url(self) -> str | None:
        return self.server.api_url if self.ready.is_set() else None

    def start(self) -> None:
        """Start supervising (the server and the serving process start in the background).
        Processes left behind by an earlier serve of this data folder that was killed are
        stopped first; a serve still running on it is refused (AlreadyServing)."""
        stop_leftovers(self.home)
        self._thread = threading.Thread(target=self._supervise, name="prefect-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop supervising, then the serving process, then the server."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT + STOP_TIMEOUT)
        with self._lock:
            self.ready.clear()
            if self.servant is not None:
                self.servant.stop()
            self.server.stop()
            (self.home / API_FILE).unlink(missing_ok=True)

    def _supervise(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                with self._lock:
                    if self._stop.is_set():
                        return
                    self._check(first)
                first = False
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("the embedded Prefect could not be started; trying again")
                if not self.server.alive:
                    self.server.port = free_port()  # the port may have been taken meanwhile
            self._stop.wait(SUPERVISE_SECONDS)

    def _check(self, first: bool) -> None:
        if not self.server.alive:
            if not first:
                code = self.server.process.returncode if self.server.process else None
                log.warning("the local Prefect server stopped (exit %s): starting it again", code)
                self.restarts += 1
            self.ready.clear()
            if self.servant is not None:
                self.servant.stop()  # it serves the old server; started again below
                self.servant = None
            self.server.start(cancel=self._stop)
            self.ready.set()
        if self.servant is None or not self.servant.alive:
            if self.servant is not None:
                code = self.servant.process.returncode if self.servant.process else None
                log.warning("the serving process stopped (exit %s): starting it again", code)
                self.restarts += 1
            self.servant = Servant(self.home, self.server.api_url, self.flow_environ)
            self.servant.start()
            self._record()
            pid = self.servant.process.pid if self.servant.process else None
            log.info("serving the deployments (pid %s, log %s)", pid, self.home / "runner.log")

    def _record(self) -> None:
        """Where the local server is, and which processes serve (for `decisionflow dispatch`
        and for operators)."""
        pids = {
            "serve": os.getpid(),
            "server": self.server.process.pid if self.server.process else None,
            "runner": self.servant.process.pid if self.servant and self.servant.process else None,
        }
        (self.home / API_FILE).write_text(
            json.dumps({"url": self.server.api_url, "pids": pids}), encoding="utf-8"
        )


class AlreadyServing(RuntimeError):
    """Another `decisionflow serve` runs the embedded Prefect of this data folder."""

    def __init__(self, pid: int, home: Path) -> None:
        self.zh = f"另一个 decisionflow serve（进程 {pid}）正在使用 {home}"
        self.en = f"another decisionflow serve (pid {pid}) is using {home}"
        super().__init__(f"{self.zh} / {self.en}")


def _command_line(pid: int) -> str:
    """The command line of process `pid` ("" when it is gone or cannot be read)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_leftovers(home: Path) -> None:
    """Stop the local server and serving process that a killed `decisionflow serve` left
    running on this data folder (recorded in api.json, and still running the same commands).
    A serve that is still running on the folder is refused: two would share one database."""
    try:
        pids = json.loads((home / API_FILE).read_text(encoding="utf-8"))["pids"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    serve = pids.get("serve")
    if isinstance(serve, int) and serve != os.getpid() and _alive(serve) and "serve" in _command_line(serve):
        raise AlreadyServing(serve, home)
    for name, marker in (("runner", "flows.prefect_runtime"), ("server", "prefect")):
        pid = pids.get(name)
        if isinstance(pid, int) and _alive(pid) and marker in _command_line(pid):
            log.warning("stopping the %s (pid %s) an earlier serve left running", name, pid)
            os.kill(pid, signal.SIGTERM)
    (home / API_FILE).unlink(missing_ok=True)


def recorded_api_url(data_dir: Path | None) -> str | None:
    """The API of the local server a running `decisionflow serve` started for `data_dir`,
    if it answers."""
    if data_dir is None:
        return None
    path = prefect_home(data_dir) / API_FILE
    try:
        url = json.loads(path.read_text(encoding="utf-8"))["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if isinstance(url, str) and healthy(url) else None


@contextmanager
def local_server(home: Path) -> Iterator[LocalServer]:
    """A local Prefect server for the length of the block (tests, benchmarks)."""
    server = LocalServer(home)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------ the serving process
@contextmanager
def no_heartbeats() -> Iterator[None]:
    """Flow runs started inside this block send no heartbeat. A runner hands its settings to
    the processes of the runs it starts; the heartbeat thread would cost each short sync run
    about a second at exit, and these runs are tracked by their states. (Prefect cannot take
    "no heartbeat" from an environment variable, so it is set here, in code.)"""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


async def serve_deployments() -> None:
    """Serve every deployment of flows/deployments.py against PREFECT_API_URL until SIGTERM."""
    from prefect.runner import Runner
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from flows import prefect_flows
    from flows.deployments import DEPLOYMENTS, TIMEZONE

    runner = Runner(name="decisionflow", pause_on_shutdown=False, query_seconds=1)
    for spec in DEPLOYMENTS:
        schedules: list[Any] = (
            [Cron(spec.cron, timezone=TIMEZONE)] if spec.cron and spec.schedule_when_served else []
        )
        await runner.aadd_flow(
            getattr(prefect_flows, spec.function),
            name=spec.name,
            description=spec.description,
            schedules=schedules,
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
    with no_heartbeats():
        await runner.start()


if __name__ == "__main__":
    import asyncio

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per API request otherwise
    asyncio.run(serve_deployments())
