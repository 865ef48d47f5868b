"""The webhook channel against a real HTTP server on 127.0.0.1 (tests/http_receiver.py):
the generic signed payload, the DingTalk / WeCom / Feishu robot formats and their
signatures (recomputed here from the secret), endpoint selection, error classification,
timeouts and connection reuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import pytest

from notifications.channels import OutgoingMessage
from notifications.config import WebhookTarget
from notifications.errors import ConfigError, DeliveryError
from notifications.webhook import WebhookChannel, verify_signature
from tests.http_receiver import HttpReceiver, ReceivedRequest, unused_port

NOW = datetime(2025, 3, 3, 1, 30, 15, 250000, tzinfo=UTC)
SUBJECT = "【提醒】公众意见征求期限将至"
TEXT = "“老旧小区改造实施方案”的公众意见征求将于 3 月 5 日截止。\n请及时汇总意见。"
LINK = "http://127.0.0.1:8000/decisions/D-2025-001"
KEY = "notification:17:webhook:housing"


def message(target: str = "housing", **changes: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "idempotency_key": KEY,
        "target": target,
        "subject": SUBJECT,
        "text": TEXT,
        "html": "<p>“老旧小区改造实施方案”的公众意见征求将于 3 月 5 日截止。</p>",
        "link": LINK,
        "event": "deadline.reminder",
        "recipient": "李明",
        "decision": "D-2025-001",
        "now": NOW,
    }
    fields.update(changes)
    return OutgoingMessage(**fields)


def compact(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


ChannelFactory = Callable[..., WebhookChannel]


@pytest.fixture
def make_channel() -> Iterator[ChannelFactory]:
    """Channels built from plain dicts, closed at teardown (before the receiver stops)."""
    made: list[WebhookChannel] = []

    def make(targets: dict[str, dict[str, Any]], environ: dict[str, str] | None = None) -> WebhookChannel:
        channel = WebhookChannel(
            {key: WebhookTarget.model_validate(value) for key, value in targets.items()}, environ=environ
        )
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.close()


def send_one(receiver: HttpReceiver, channel: WebhookChannel, msg: OutgoingMessage) -> ReceivedRequest:
    before = len(receiver.requests)
    channel.send(msg)
    return receiver.wait_for(before + 1)[before]


# -- generic -------------------------------------------------------------------------------------


def test_generic_post_is_signed_compact_utf8_json_with_idempotency_key(receiver, make_channel):
    secret = "whsec-decisionflow-test"
    channel = make_channel({"*": {"url": receiver.url_for("/hooks/decisionflow"), "secret": secret}})

    request = send_one(receiver, channel, message())

    assert (request.method, request.path) == ("POST", "/hooks/decisionflow")
    assert request.header("Content-Type").startswith("application/json")
    assert request.header("Idempotency-Key") == KEY
    timestamp = request.header("X-Decisionflow-Timestamp")
    assert timestamp == str(int(NOW.timestamp())) == "1740965415"
    expected = {
        "event": "deadline.reminder",
        "idempotency_key": KEY,
        "decision": "D-2025-001",
        "recipient": "李明",
        "subject": SUBJECT,
        "text": TEXT,
        "html": "<p>“老旧小区改造实施方案”的公众意见征求将于 3 月 5 日截止。</p>",
        "link": LINK,
        "sent_at": "2025-03-03T01:30:15.250000+00:00",
    }
    # byte for byte: sorted keys, no spaces, Chinese as raw UTF-8 (not \\u escapes)
    assert request.body == compact(expected)
    assert "李明".encode() in request.body
    assert request.json == expected

    signature = request.header("X-Decisionflow-Signature")
    recomputed = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert signature == "sha256=" + recomputed.hexdigest()
    assert verify_signature(secret, timestamp, request.body, signature)
    # anything changed fails verification
    tampered = request.body.replace("李明".encode(), "王芳".encode())
    assert tampered != request.body
    assert not verify_signature(secret, timestamp, tampered, signature)
    assert not verify_signature(secret, str(int(timestamp) + 1), request.body, signature)
    assert not verify_signature("another-secret", timestamp, request.body, signature)
    assert not verify_signature(secret, timestamp, request.body, signature.removeprefix("sha256="))
    assert not verify_signature(secret, timestamp, request.body, "sha256=" + "0" * 64)


def test_generic_without_secret_is_unsigned_and_sent_at_is_utc(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/plain")}})
    shanghai_now = datetime(2025, 3, 3, 9, 30, 15, tzinfo=ZoneInfo("Asia/Shanghai"))

    request = send_one(receiver, channel, message(now=shanghai_now))

    assert request.header("X-Decisionflow-Signature") is None
    assert request.header("X-Decisionflow-Timestamp") == "1740965415"
    assert request.json["sent_at"] == "2025-03-03T01:30:15+00:00"


def test_secret_env_is_read_from_the_given_environ(receiver, make_channel):
    channel = make_channel(
        {"*": {"url": receiver.url_for("/env"), "secret_env": "DF_HOOK_SECRET"}},
        environ={"DF_HOOK_SECRET": "from-env"},
    )
    request = send_one(receiver, channel, message())
    assert verify_signature(
        "from-env",
        request.header("X-Decisionflow-Timestamp"),
        request.body,
        request.header("X-Decisionflow-Signature"),
    )


def test_missing_secret_env_is_a_config_error_at_construction(receiver, make_channel):
    with pytest.raises(ConfigError) as caught:
        make_channel({"housing": {"url": receiver.url, "secret_env": "DF_MISSING"}}, environ={})
    assert caught.value.field == "notifications.webhooks.housing.secret_env"
    assert "DF_MISSING" in str(caught.value)


# -- robots ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "joiner"), [("/robot/send?access_token=tok-abc", "&"), ("/robot/send", "?")]
)
def test_dingtalk_markdown_signed_in_the_url(receiver, make_channel, path, joiner):
    secret = "SEC0123456789abcdef"
    channel = make_channel({"*": {"url": receiver.url_for(path), "format": "dingtalk", "secret": secret}})

    request = send_one(receiver, channel, message())

    assert request.body == compact(
        {
            "msgtype": "markdown",
            "markdown": {"title": SUBJECT, "text": f"#### {SUBJECT}\n\n{TEXT}\n\n[{LINK}]({LINK})"},
        }
    )
    timestamp = str(int(NOW.timestamp() * 1000))
    assert timestamp == "1740965415250"
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = base64.b64encode(digest).decode()
    assert request.query["timestamp"] == [timestamp]
    assert request.query["sign"] == [sign]
    # the signature travels URL-encoded, appended after the existing query (or starting one)
    assert request.raw_query.endswith(f"timestamp={timestamp}&sign={quote_plus(sign)}")
    assert request.path == "/robot/send"
    if joiner == "&":
        assert request.raw_query.startswith("access_token=tok-abc&timestamp=")
    else:
        assert request.raw_query.startswith("timestamp=")


def test_wecom_markdown_is_not_signed(receiver, make_channel):
    channel = make_channel(
        {"*": {"url": receiver.url_for("/cgi-bin/webhook/send?key=wk-123"), "format": "wecom", "secret": "x"}}
    )
    request = send_one(receiver, channel, message())
    assert request.body == compact(
        {"msgtype": "markdown", "markdown": {"content": f"**{SUBJECT}**\n>{TEXT}\n[{LINK}]({LINK})"}}
    )
    assert request.query == {"key": ["wk-123"]}


def test_wecom_long_text_is_cut_to_the_markdown_limit(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/wecom"), "format": "wecom"}})
    request = send_one(receiver, channel, message(text="意见" * 2000))  # 12000 bytes of UTF-8
    content = request.json["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert content.startswith(f"**{SUBJECT}**\n>意见意见")
    assert content.endswith(f"…\n[{LINK}]({LINK})")


def test_feishu_text_signed_in_the_body(receiver, make_channel):
    secret = "feishu-secret-42"
    channel = make_channel(
        {"*": {"url": receiver.url_for("/open-apis/bot/v2/hook/abc"), "format": "feishu", "secret": secret}}
    )
    request = send_one(receiver, channel, message())
    timestamp = "1740965415"
    sign = base64.b64encode(
        hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    ).decode()
    assert request.body == compact(
        {
            "msg_type": "text",
            "content": {"text": f"{SUBJECT}\n{TEXT}\n{LINK}"},
            "timestamp": timestamp,
            "sign": sign,
        }
    )


def test_feishu_unsigned_and_legacy_status_code_answer(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/feishu"), "format": "feishu"}})
    receiver.respond(200, {"Extra": None, "StatusCode": 0, "StatusMessage": "success"})
    request = send_one(receiver, channel, message())
    assert set(request.json) == {"msg_type", "content"}


@pytest.mark.parametrize(
    ("fmt", "shown"),
    [
        ("dingtalk", lambda body: body["markdown"]["text"]),
        ("wecom", lambda body: body["markdown"]["content"]),
        ("feishu", lambda body: body["content"]["text"]),
    ],
)
def test_robots_leave_out_an_empty_link(receiver, make_channel, fmt, shown):
    channel = make_channel({"*": {"url": receiver.url_for("/r"), "format": fmt}})
    request = send_one(receiver, channel, message(link=""))
    expected = {
        "dingtalk": f"#### {SUBJECT}\n\n{TEXT}",
        "wecom": f"**{SUBJECT}**\n>{TEXT}",
        "feishu": f"{SUBJECT}\n{TEXT}",
    }[fmt]
    assert shown(request.json) == expected


# -- endpoint selection ----------------------------------------------------------------------------


def test_unit_endpoint_first_then_default(receiver, make_channel):
    channel = make_channel(
        {"housing": {"url": receiver.url_for("/housing")}, "*": {"url": receiver.url_for("/default")}}
    )
    assert send_one(receiver, channel, message(target="housing")).path == "/housing"
    assert send_one(receiver, channel, message(target="commerce")).path == "/default"


def test_unknown_endpoint_without_default_is_permanent(receiver, make_channel):
    channel = make_channel({"housing": {"url": receiver.url_for("/housing")}})
    with pytest.raises(DeliveryError) as caught:
        channel.send(message(target="commerce"))
    assert caught.value.permanent
    assert "commerce" in str(caught.value)
    assert receiver.requests == []


# -- failures --------------------------------------------------------------------------------------


def test_500_is_transient_and_the_retry_succeeds(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/flaky")}})
    receiver.respond(500, {"error": "upstream 暂时不可用"})

    with pytest.raises(DeliveryError) as caught:
        channel.send(message())
    assert not caught.value.permanent
    assert "500" in str(caught.value)
    assert "upstream 暂时不可用" in str(caught.value)

    channel.send(message())  # the default reply: 200
    first, second = receiver.wait_for(2)
    assert first.header("Idempotency-Key") == second.header("Idempotency-Key") == KEY
    assert first.body == second.body


def test_429_is_transient(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/busy")}})
    receiver.respond(429, {"error": "slow down"})
    with pytest.raises(DeliveryError) as caught:
        channel.send(message())
    assert not caught.value.permanent
    assert "429" in str(caught.value)


def test_400_is_permanent_and_the_message_keeps_secrets_out(receiver, make_channel):
    secret = "SECdingtalk-very-secret"
    channel = make_channel(
        {
            "*": {
                "url": receiver.url_for("/robot/send?access_token=tok-private-777"),
                "format": "dingtalk",
                "secret": secret,
            }
        }
    )
    receiver.respond(
        400,
        body=f"bad request for access_token=tok-private-777 key {secret}".encode(),
        content_type="text/plain",
    )
    with pytest.raises(DeliveryError) as caught:
        channel.send(message())
    error = str(caught.value)
    assert caught.value.permanent
    assert "400" in error
    assert "bad request for" in error
    assert "tok-private-777" not in error
    assert secret not in error


@pytest.mark.parametrize(
    ("fmt", "answer", "permanent"),
    [
        ("dingtalk", {"errcode": 310000, "errmsg": "keywords not in content"}, True),
        ("dingtalk", {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, False),
        ("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, True),
        ("wecom", {"errcode": 45009, "errmsg": "api freq out of limit"}, False),
        ("feishu", {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}, True),
        ("feishu", {"code": 9499, "msg": "Bad Request"}, True),
        ("feishu", {"code": 9499, "msg": "too many request"}, False),
        ("feishu", {"code": 11232, "msg": "frequency limited"}, False),
    ],
)
def test_robot_error_codes(receiver, make_channel, fmt, answer, permanent):
    channel = make_channel({"*": {"url": receiver.url_for("/robot"), "format": fmt}})
    receiver.respond(200, answer)
    with pytest.raises(DeliveryError) as caught:
        channel.send(message())
    assert caught.value.permanent is permanent
    code = answer.get("errcode", answer.get("code"))
    assert f"code {code}" in str(caught.value)
    assert "HTTP 200" in str(caught.value)


def test_robot_rate_limit_code_on_a_4xx_is_transient(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/robot"), "format": "feishu"}})
    receiver.respond(400, {"code": 11232, "msg": "frequency limited"})
    with pytest.raises(DeliveryError) as caught:
        channel.send(message())
    assert not caught.value.permanent


def test_robot_answer_that_is_not_json_is_permanent(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/robot"), "format": "dingtalk"}})
    receiver.respond(200, body=b"<html>portal login</html>", content_type="text/html")
    with pytest.raises(DeliveryError) as caught:
        channel.send(message())
    assert caught.value.permanent
    assert "portal login" in str(caught.value)


def test_generic_2xx_body_is_not_inspected(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/generic")}})
    receiver.respond(204, body=b"", content_type="text/plain")
    channel.send(message())
    receiver.wait_for(1)


def test_connection_refused_is_transient(make_channel):
    channel = make_channel({"*": {"url": f"http://127.0.0.1:{unused_port()}/hook", "timeout_seconds": 5}})
    with pytest.raises(DeliveryError) as caught:
        channel.send(message())
    assert not caught.value.permanent
    assert "ConnectError" in str(caught.value)


def test_timeout_is_transient(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/slow"), "timeout_seconds": 0.2}})
    release = threading.Event()
    receiver.respond(200, hold=release)
    try:
        with pytest.raises(DeliveryError) as caught:
            channel.send(message())
    finally:
        release.set()
    assert not caught.value.permanent
    assert "超时" in str(caught.value)
    assert "ReadTimeout" in str(caught.value)
    assert len(receiver.wait_for(1)) == 1


# -- the HTTP client -------------------------------------------------------------------------------


def test_one_client_created_lazily_reused_and_closed(receiver, make_channel):
    channel = make_channel({"*": {"url": receiver.url_for("/keepalive")}})
    assert channel._client is None  # nothing opened at construction

    first = send_one(receiver, channel, message())
    client = channel._client
    assert client is not None
    second = send_one(receiver, channel, message(target="commerce"))
    assert channel._client is client
    assert second.client_port == first.client_port  # the same kept-alive TCP connection

    channel.close()
    assert client.is_closed
    assert channel._client is None

    third = send_one(receiver, channel, message())  # a closed channel opens a fresh client
    assert channel._client is not client
    assert third.client_port != first.client_port
    channel.close()
    channel.close()  # idempotent
