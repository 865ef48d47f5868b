"""The e-mail channel against a real SMTP server on 127.0.0.1 (aiosmtpd): the message it
builds, plain and STARTTLS sessions, one session reused across sends, reconnection after
the server dropped it, how SMTP answers map to transient and permanent errors, and the
start-up check of the host name."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from notifications.channels import OutgoingMessage
from notifications.config import SmtpSettings
from notifications.email import EmailChannel, check_smtp_host, message_id
from notifications.errors import ConfigError, DeliveryError
from tests.smtp_server import SmtpTestServer, Stage, make_tls_files, serve_smtp

NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with serve_smtp() as server:
        yield server


def outgoing(key: str = "n-1:email", target: str = "li@example.org", **changes: str) -> OutgoingMessage:
    values: dict[str, str] = {
        "subject": "【提醒】决策D1 征求意见将于3日后截止",
        "text": "您好，李：征求意见将于 2026-04-02 截止。\nhttp://127.0.0.1:8000/decisions/D1",
        "html": "<p>您好，李：征求意见将于 <b>2026-04-02</b> 截止。</p>",
    }
    values.update(changes)
    return OutgoingMessage(
        idempotency_key=key,
        target=target,
        link="http://127.0.0.1:8000/decisions/D1",
        event="deadline.before",
        recipient="李",
        decision="D1",
        now=NOW,
        **values,
    )


def test_the_message_has_its_headers_and_both_alternatives(smtp: SmtpTestServer) -> None:
    channel = EmailChannel(smtp.settings())
    try:
        channel.send(outgoing())
    finally:
        channel.close()
    (received,) = smtp.wait_for(1)
    mail = received.message
    expected_id = f"<{hashlib.sha256(b'n-1:email').hexdigest()[:32]}@decisionflow>"
    assert received.message_id == expected_id == message_id("n-1:email")
    assert received.key == "n-1:email"
    assert mail["From"] == "decisionflow@example.org"
    assert received.to == "li@example.org" and received.rcpt_tos == ("li@example.org",)
    assert received.subject == "【提醒】决策D1 征求意见将于3日后截止"  # UTF-8 survives the wire
    assert parsedate_to_datetime(mail["Date"]) == NOW
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "征求意见将于 2026-04-02 截止" in plain.get_content()
    assert "<b>2026-04-02</b>" in html.get_content()
    assert not received.tls


def test_the_message_id_is_deterministic_and_differs_by_key() -> None:
    assert message_id("a:email") == message_id("a:email")
    assert message_id("a:email") != message_id("b:email")


def test_one_session_carries_many_messages_and_close_quits(smtp: SmtpTestServer) -> None:
    channel = EmailChannel(smtp.settings())
    for i in range(6):
        channel.send(outgoing(f"n-{i}:email"))
    received = smtp.wait_for(6)
    assert {m.connection for m in received} == {1}
    assert smtp.connections == 1 and channel.connections == 1
    channel.close()
    assert smtp.quits == 1
    channel.close()  # closing twice is harmless
    channel.send(outgoing("n-after:email"))  # a closed channel opens a new session when used
    channel.close()
    assert smtp.connections == 2


def test_a_session_the_server_dropped_is_reopened_once_without_duplicates(smtp: SmtpTestServer) -> None:
    channel = EmailChannel(smtp.settings())
    channel.send(outgoing("n-1:email"))
    smtp.drop_connections()  # e.g. the server's idle timeout
    channel.send(outgoing("n-2:email"))
    channel.close()
    received = smtp.wait_for(2)
    assert [m.key for m in received] == ["n-1:email", "n-2:email"]
    assert [m.connection for m in received] == [1, 2]
    assert channel.connections == 2


def test_a_restarted_server_is_reached_again(smtp: SmtpTestServer) -> None:
    channel = EmailChannel(smtp.settings())
    channel.send(outgoing("n-1:email"))
    smtp.restart()
    channel.send(outgoing("n-2:email"))
    channel.close()
    assert [m.key for m in smtp.wait_for(2)] == ["n-1:email", "n-2:email"]


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
def test_451_is_transient_and_the_next_send_reconnects(smtp: SmtpTestServer, stage: Stage) -> None:
    channel = EmailChannel(smtp.settings())
    channel.send(outgoing("n-0:email"))
    smtp.refuse(at=stage)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing("n-1:email"))
    assert not caught.value.permanent
    assert "451 4.3.0 try again later" in str(caught.value)
    smtp.accept()
    channel.send(outgoing("n-1:email"))
    channel.close()
    assert [m.key for m in smtp.messages] == ["n-0:email", "n-1:email"]
    assert channel.connections == 2  # the error dropped the first session


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
def test_550_is_permanent(smtp: SmtpTestServer, stage: Stage) -> None:
    smtp.reject(at=stage)
    channel = EmailChannel(smtp.settings())
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    channel.close()
    assert caught.value.permanent
    assert "550 5.1.1 mailbox unavailable" in str(caught.value)
    assert smtp.messages == []


def test_a_refused_connection_is_transient(smtp: SmtpTestServer) -> None:
    settings = smtp.settings()
    smtp.stop()
    channel = EmailChannel(settings)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert not caught.value.permanent
    assert "refused the connection" in str(caught.value)
    assert channel.connections == 0


def test_a_header_breaking_target_is_permanent(smtp: SmtpTestServer) -> None:
    channel = EmailChannel(smtp.settings())
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing(target="li@example.org\r\nBcc: all@example.org"))
    assert caught.value.permanent
    assert smtp.messages == [] and smtp.connections == 0


def test_starttls_with_the_trusted_ca_and_a_login(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    with serve_smtp(tls=tls, users={"notifier": "s3cret"}) as server:
        settings = server.settings(username="notifier", password_env="DF_SMTP_PASSWORD")
        channel = EmailChannel(settings, environ={"DF_SMTP_PASSWORD": "s3cret"})
        channel.send(outgoing("n-1:email"))
        channel.send(outgoing("n-2:email"))
        channel.close()
        received = server.wait_for(2)
        assert all(m.tls for m in received)
        assert server.logins == 1 and channel.connections == 1


def test_starttls_is_required_by_that_server(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    with serve_smtp(tls=tls) as server:
        channel = EmailChannel(server.settings(security="plain", ca_file=None))
        with pytest.raises(DeliveryError) as caught:
            channel.send(outgoing())
        assert "530" in str(caught.value)  # must issue STARTTLS first
        assert server.messages == []


def test_starttls_refuses_a_certificate_nobody_trusts(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    with serve_smtp(tls=tls) as server:
        channel = EmailChannel(server.settings(ca_file=None))  # the system's CAs only
        with pytest.raises(DeliveryError) as caught:
            channel.send(outgoing())
        assert not caught.value.permanent
        assert "certificate" in str(caught.value)
        assert server.messages == []


def test_a_wrong_password_is_reported(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    with serve_smtp(tls=tls, users={"notifier": "s3cret"}) as server:
        channel = EmailChannel(server.settings(username="notifier", password="wrong"))
        with pytest.raises(DeliveryError) as caught:
            channel.send(outgoing())
        assert "535" in str(caught.value) and "login refused" in str(caught.value)
        assert server.messages == []


def test_settings_problems_are_found_when_the_channel_is_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        EmailChannel(SmtpSettings(host="127.0.0.1", username="u", password_env="DF_NOPE"), environ={})
    assert caught.value.field == "notifications.smtp.password_env"
    with pytest.raises(ConfigError) as caught:
        EmailChannel(SmtpSettings(host="127.0.0.1", security="starttls", ca_file=tmp_path / "missing.pem"))
    assert caught.value.field == "notifications.smtp.ca_file"


def test_check_smtp_host_resolves_without_connecting() -> None:
    with pytest.raises(ConfigError) as caught:
        check_smtp_host(SmtpSettings(host="smtp.no-such-host.invalid"))
    assert caught.value.field == "notifications.smtp.host"
    assert "无法解析 SMTP 主机" in caught.value.zh and "cannot resolve SMTP host" in caught.value.en
    assert "smtp.no-such-host.invalid" in str(caught.value)

    # a free port with nothing listening: resolving must succeed, connecting would not
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    check_smtp_host(SmtpSettings(host="127.0.0.1", port=free_port))

    looked_up: list[tuple[object, ...]] = []

    def resolve(*args: object, **kwargs: object) -> object:
        looked_up.append(args)
        return []

    check_smtp_host(SmtpSettings(host="mail.example.org", port=587), resolve=resolve)
    assert looked_up == [("mail.example.org", 587)]
