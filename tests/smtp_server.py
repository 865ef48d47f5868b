"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd in its own thread).

    with serve_smtp() as server:                      # plain
    with serve_smtp(tls=make_tls_files(tmp_path)) as server:   # STARTTLS required
        channel = EmailChannel(server.settings(security="starttls"))

The server records every accepted message (parsed, with the connection that carried it),
can refuse for now (451) or reject (550) at RCPT or DATA, optionally after accepting a
number of messages first, can drop its open connections, and lets a test wait for N
messages on a threading.Condition (no sleeping). Every method is thread-safe.

To use it as a fixture, wrap it in the test module:

    @pytest.fixture
    def smtp() -> Iterator[SmtpTestServer]:
        with serve_smtp() as server:
            yield server
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.config import SmtpSettings

HOST = "127.0.0.1"
REFUSE_REPLY = "451 4.3.0 try again later"
REJECT_REPLY = "550 5.1.1 mailbox unavailable"
Stage = Literal["RCPT", "DATA"]


@dataclass(frozen=True)
class Received:
    message_id: str
    key: str  # the X-Decisionflow-Key header
    to: str
    subject: str
    connection: int  # which connection carried it: 1, 2, ... in the order they were opened
    tls: bool
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path  # what the client trusts
    cert_file: Path  # the server's certificate, signed by that CA, for 127.0.0.1 and localhost
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_tls_files(directory: Path) -> TlsFiles:
    """A throwaway CA and a server certificate it signed, generated now and written to
    `directory` (a test's tmp_path)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)  # certificates are checked against the real clock
    valid_from, valid_to = now - dt.timedelta(hours=1), now + dt.timedelta(days=1)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "decisionflow test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class _Connection(SMTP):  # type: ignore[misc]
    """aiosmtpd's protocol, one per client connection, numbered and told when it ends."""

    def __init__(self, number: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.number = number
        self.lost = asyncio.Event()

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self.lost.set()


class _Controller(Controller):  # type: ignore[misc]
    """Binds port 0 (the OS picks a free port) and learns the port before aiosmtpd's own
    start-up probe connects to it."""

    def __init__(self, owner: SmtpTestServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def factory(self) -> SMTP:
        return self.owner._new_connection(self.handler, self.SMTP_kwargs)


class SmtpTestServer:
    """The handler (aiosmtpd calls its handle_* hooks in the server thread) and the test's
    view of what arrived."""

    def __init__(self, tls: TlsFiles | None = None, users: dict[str, str] | None = None) -> None:
        self.tls = tls
        self.users = users  # login -> password; when given, AUTH is required
        self._cond = threading.Condition()
        self._received: list[Received] = []
        self._refusals: list[str] = []
        self._reply: str | None = None
        self._stage: Stage = "DATA"
        self._budget = 0
        self._connections: list[_Connection] = []
        self.quits = 0
        self.logins = 0
        self._controller: _Controller | None = None
        self.port = 0

    # ---------------------------------------------------------------- life cycle
    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.tls is not None:
            kwargs.update(tls_context=self.tls.server_context(), require_starttls=True)
        if self.users is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        with self._cond:
            before = len(self._connections)
        controller = _Controller(self, self, hostname=HOST, port=self.port, server_hostname=HOST, **kwargs)
        controller.start()
        self._controller = controller
        self.port = controller.port
        with self._cond:
            del self._connections[before:]  # aiosmtpd's start-up probe is no client

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> None:
        """Stop and start again on the same port (open connections are cut)."""
        self.stop()
        self.start()

    def settings(self, **overrides: Any) -> SmtpSettings:
        values: dict[str, Any] = {"host": HOST, "port": self.port, "sender": "decisionflow@example.org"}
        if self.tls is not None:
            values.update(security="starttls", ca_file=self.tls.ca_file)
        values.update(overrides)
        return SmtpSettings(**values)

    # ---------------------------------------------------------------- behaviour switches
    def accept(self) -> None:
        """Accept everything from now on."""
        with self._cond:
            self._reply = None

    def refuse(self, at: Stage = "DATA", after: int = 0) -> None:
        """Answer 451 (try again later) at RCPT or DATA, after accepting `after` more messages."""
        self._fail(REFUSE_REPLY, at, after)

    def reject(self, at: Stage = "RCPT", after: int = 0) -> None:
        """Answer 550 (permanent) at RCPT or DATA, after accepting `after` more messages."""
        self._fail(REJECT_REPLY, at, after)

    def _fail(self, reply: str, at: Stage, after: int) -> None:
        with self._cond:
            self._reply, self._stage, self._budget = reply, at, after

    def drop_connections(self) -> None:
        """Close every open client connection from the server side (as an idle timeout
        would) and return once they are closed."""
        controller = self._controller
        assert controller is not None

        async def drop() -> None:
            with self._cond:
                live = [c for c in self._connections if not c.lost.is_set()]
            for connection in live:
                transport = connection._original_transport or connection.transport
                if transport is not None:
                    transport.abort()
            for connection in live:
                await connection.lost.wait()

        asyncio.run_coroutine_threadsafe(drop(), controller.loop).result(timeout=10)

    # ---------------------------------------------------------------- what arrived
    @property
    def messages(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    @property
    def refusals(self) -> list[str]:
        """Every 4xx/5xx reply given by the switches, in order."""
        with self._cond:
            return list(self._refusals)

    @property
    def connections(self) -> int:
        """Client connections accepted so far."""
        with self._cond:
            return len(self._connections)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` messages have arrived (a safety timeout only)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._received) >= count, timeout=timeout):
                raise AssertionError(f"expected {count} messages, got {len(self._received)}")
            return list(self._received)

    def duplicates(self) -> dict[str, int]:
        """Message-IDs that arrived more than once, with their counts."""
        counts = Counter(m.message_id for m in self.messages)
        return {mid: n for mid, n in counts.items() if n > 1}

    # ---------------------------------------------------------------- aiosmtpd side
    def _new_connection(self, handler: Any, kwargs: dict[str, Any]) -> _Connection:
        with self._cond:
            connection = _Connection(len(self._connections) + 1, handler, **kwargs)
            self._connections.append(connection)
            return connection

    def _refusal(self, stage: Stage) -> str | None:
        with self._cond:
            if self._reply is None or stage != self._stage or self._budget > 0:
                return None
            self._refusals.append(self._reply)
            return self._reply

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.users is not None
            and self.users.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        if ok:
            with self._cond:
                self.logins += 1
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self._refusal("RCPT")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        refusal = self._refusal("DATA")
        if refusal is not None:
            return refusal
        parsed = cast(EmailMessage, message_from_bytes(envelope.original_content, policy=policy.default))
        received = Received(
            message_id=str(parsed["Message-ID"]),
            key=str(parsed["X-Decisionflow-Key"]),
            to=str(parsed["To"]),
            subject=str(parsed["Subject"]),
            connection=cast(_Connection, server).number,
            tls=session.ssl is not None,
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=parsed,
        )
        with self._cond:
            if self._reply is not None and self._budget > 0:
                self._budget -= 1
            self._received.append(received)
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        with self._cond:
            self.quits += 1
        return "221 Bye"


@contextmanager
def serve_smtp(tls: TlsFiles | None = None, users: dict[str, str] | None = None) -> Iterator[SmtpTestServer]:
    """A running SmtpTestServer, stopped afterwards."""
    server = SmtpTestServer(tls=tls, users=users)
    server.start()
    try:
        yield server
    finally:
        server.stop()
