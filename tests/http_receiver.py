"""A real HTTP server on 127.0.0.1 for tests of outgoing HTTP (webhooks, robots).

    with HttpReceiver() as receiver:
        receiver.respond(500, {"error": "boom"})     # the next request gets this
        ... code under test POSTs to receiver.url_for("/hook") ...
        [first] = receiver.wait_for(1)
        first.json, first.header("Idempotency-Key"), first.query, first.client_port

Every request is recorded (method, path, query, headers, body bytes, parsed JSON, the
client's port) under a lock. Replies come from a queue filled by `respond`; when it is
empty, `default` is used (200 with a body every robot format reads as success). A reply
may `hold` until a threading.Event is set, to provoke client timeouts without sleeping.
The server speaks HTTP/1.1 keep-alive, so a client that reuses its connection shows the
same `client_port` on consecutive requests. `stop()` closes open connections, releases
held replies and joins every thread."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROBOT_OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "code": 0, "msg": "success"}
SAFETY_TIMEOUT = 10.0  # a stuck test fails instead of hanging


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str  # without the query
    raw_query: str  # exactly as sent (still percent-encoded)
    query: dict[str, list[str]]  # decoded
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any  # the parsed body, or None when it is not JSON
    client_port: int

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: Any = field(default_factory=lambda: dict(ROBOT_OK))
    body: bytes | None = None  # raw body; overrides `json`
    content_type: str = "application/json; charset=utf-8"
    hold: threading.Event | None = None  # answer only once this is set

    def payload(self) -> bytes:
        if self.body is not None:
            return self.body
        return json.dumps(self.json, ensure_ascii=False).encode("utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads

    def __init__(self, receiver: HttpReceiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SAFETY_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.receiver._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.receiver._closed(self.connection)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = ReceivedRequest(
            method=self.command,
            path=parts.path,
            raw_query=parts.query,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json=parsed,
            client_port=self.client_address[1],
        )
        reply = self.server.receiver._record(request)
        if reply.hold is not None:
            reply.hold.wait(SAFETY_TIMEOUT)
        payload = reply.payload()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout) or the receiver is stopping
            self.close_connection = True

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HttpReceiver:
    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self._cond = threading.Condition()
        self._requests: list[ReceivedRequest] = []
        self._replies: deque[Reply] = deque()
        self._connections: set[socket.socket] = set()
        self._holds: list[threading.Event] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> HttpReceiver:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-receiver", kwargs={"poll_interval": 0.05}
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()  # returns once serve_forever has left its loop
        thread.join()
        with self._cond:
            for event in self._holds:
                event.set()
            connections = list(self._connections)
        for conn in connections:  # wake handlers waiting on an idle keep-alive connection
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads
        self._server = self._thread = None

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "receiver not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    # -- programming replies and reading requests ----------------------------------------------

    def respond(
        self,
        status: int = 200,
        json: Any = None,
        *,
        body: bytes | None = None,
        content_type: str = "application/json; charset=utf-8",
        hold: threading.Event | None = None,
    ) -> None:
        """Queue the reply to the next unanswered request (FIFO)."""
        payload = dict(ROBOT_OK) if json is None and body is None else json
        with self._cond:
            self._replies.append(Reply(status, payload, body, content_type, hold))

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._cond:
            return list(self._requests)

    def wait_for(self, n: int, timeout: float = SAFETY_TIMEOUT) -> list[ReceivedRequest]:
        """Block until at least `n` requests have arrived; return them all."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise AssertionError(f"expected {n} request(s), got {len(self._requests)}")
            return list(self._requests)

    # -- called by the handler threads ----------------------------------------------------------

    def _record(self, request: ReceivedRequest) -> Reply:
        with self._cond:
            self._requests.append(request)
            reply = self._replies.popleft() if self._replies else self.default
            if reply.hold is not None:
                self._holds.append(reply.hold)
            self._cond.notify_all()
            return reply

    def _opened(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.add(conn)

    def _closed(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.discard(conn)


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
