"""The webhook channel: one rendered message POSTed as JSON to the endpoint configured for
the recipient's unit (or the "*" default), in one of four shapes: a signed generic
payload, or the group robots of DingTalk (钉钉), WeCom (企业微信) and Feishu (飞书).

One `httpx.Client` is opened at the first send and reused (keep-alive) until `close()`.
Every failure becomes a `DeliveryError`; `permanent` says whether retrying can help.
Error messages carry the HTTP status and a short excerpt of the response, never the
endpoint's URL (robot URLs carry their access token) nor a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import httpx

from notifications.channels import OutgoingMessage
from notifications.config import WebhookTarget
from notifications.errors import ConfigError, DeliveryError

DEFAULT_TARGET = "*"
SIGNATURE_HEADER = "X-Decisionflow-Signature"
TIMESTAMP_HEADER = "X-Decisionflow-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "decisionflow-notifications/1"

# Robot error codes that mean "slow down / try later"; every other non-zero code is permanent
# (bad signature, keyword not matched, IP not allowed, robot removed, malformed message, ...).
TRANSIENT_ROBOT_CODES: Mapping[str, Mapping[int, str]] = {
    "dingtalk": {-1: "system busy", 130101: "send too fast"},
    "wecom": {-1: "system busy", 45009: "api freq out of limit"},
    "feishu": {11232: "frequency limited"},
}
# Feishu reuses 9499 for "Bad Request" and for "too many request": the wording decides.
_RATE_LIMIT_WORDS = ("too many", "frequency", "freq out of limit", "rate limit", "频率", "限流")
_EXCERPT_CHARS = 200
WECOM_MARKDOWN_MAX_BYTES = 4096  # WeCom refuses longer markdown content


def _now_utc(now: datetime) -> datetime:
    # The dispatcher's clock is UTC-aware; a naive value is taken as UTC, never as local time.
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _compact_json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def sign_generic(secret: str, timestamp: str, body: bytes) -> str:
    """The generic format's signature header value: `sha256=<hex HMAC-SHA256>` over
    `"<timestamp>." + body`."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """For receivers of the generic format: does `header` (the X-Decisionflow-Signature
    value) sign `timestamp` (the X-Decisionflow-Timestamp value) and `body`? Constant-time.
    Receivers should also refuse timestamps far from their own clock (replays)."""
    if not header.startswith("sha256="):
        return False
    expected = sign_generic(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("ascii"), header.encode("utf-8", "replace"))


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def feishu_sign(secret: str, timestamp: str) -> str:
    """Feishu 签名校验: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    marker = "…"
    cut = encoded[: max(0, max_bytes - len(marker.encode("utf-8")))]
    return cut.decode("utf-8", "ignore") + marker


def _markdown_link(link: str) -> str:
    return f"[{link}]({link})" if link else ""


def dingtalk_payload(message: OutgoingMessage) -> dict[str, Any]:
    text = f"#### {message.subject}\n\n{message.text}"
    if message.link:
        text += f"\n\n{_markdown_link(message.link)}"
    return {"msgtype": "markdown", "markdown": {"title": message.subject, "text": text}}


def wecom_payload(message: OutgoingMessage) -> dict[str, Any]:
    head = f"**{message.subject}**\n>"
    tail = f"\n{_markdown_link(message.link)}" if message.link else ""
    room = WECOM_MARKDOWN_MAX_BYTES - len(head.encode("utf-8")) - len(tail.encode("utf-8"))
    content = head + _truncate_utf8(message.text, max(0, room)) + tail
    return {"msgtype": "markdown", "markdown": {"content": content}}


def feishu_payload(message: OutgoingMessage, secret: str | None) -> dict[str, Any]:
    parts = [message.subject, message.text] + ([message.link] if message.link else [])
    payload: dict[str, Any] = {"msg_type": "text", "content": {"text": "\n".join(parts)}}
    if secret:
        timestamp = str(int(_now_utc(message.now).timestamp()))
        payload["timestamp"] = timestamp
        payload["sign"] = feishu_sign(secret, timestamp)
    return payload


def generic_payload(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "event": message.event,
        "idempotency_key": message.idempotency_key,
        "decision": message.decision,
        "recipient": message.recipient,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "link": message.link,
        "sent_at": _now_utc(message.now).isoformat(),
    }


class WebhookChannel:
    """Channel "webhook". `targets` maps unit codes (and "*", the default) to endpoints;
    `environ` is where `secret_env` names are looked up (os.environ when None). A
    `secret_env` naming a missing variable is a ConfigError here, at start-up."""

    name = "webhook"

    def __init__(
        self, targets: Mapping[str, WebhookTarget], environ: Mapping[str, str] | None = None
    ) -> None:
        env = environ if environ is not None else os.environ
        self._targets: dict[str, WebhookTarget] = dict(targets)
        self._secrets: dict[str, str | None] = {}
        for key, target in self._targets.items():
            secret = target.resolved_secret(env)
            if target.secret_env and not secret:
                raise ConfigError(
                    f"notifications.webhooks.{key}.secret_env",
                    f"环境变量 {target.secret_env} 未设置或为空",
                    f"environment variable {target.secret_env} is not set or empty",
                )
            self._secrets[key] = secret or None
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    # -- the Channel protocol -------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> None:
        key = self._resolve(message.target)
        target = self._targets[key]
        secret = self._secrets[key]
        url, body, headers = self._request_for(target, secret, message)
        label = f"webhook[{key}] ({target.format})"
        try:
            response = self._http().post(
                url, content=body, headers=headers, timeout=httpx.Timeout(target.timeout_seconds)
            )
        except httpx.TimeoutException as exc:
            raise DeliveryError(
                f"{label}: 请求超时（{target.timeout_seconds:g} 秒） / request timed out "
                f"({target.timeout_seconds:g}s): {type(exc).__name__}"
            ) from None
        except httpx.TransportError as exc:
            raise DeliveryError(
                f"{label}: 连接失败 / connection failed: {type(exc).__name__}: "
                f"{_redact(str(exc), target, secret)}"
            ) from None
        except httpx.RequestError as exc:  # e.g. an undecodable (corrupt gzip) answer
            raise DeliveryError(
                f"{label}: 请求失败 / request failed: {type(exc).__name__}: {_redact(str(exc), target, secret)}"
            ) from None
        self._check(label, target, secret, response)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- internals --------------------------------------------------------------------------

    def _resolve(self, name: str) -> str:
        if name in self._targets:
            return name
        if DEFAULT_TARGET in self._targets:
            return DEFAULT_TARGET
        raise DeliveryError(
            f"webhook[{name}]: 未配置该单位的 webhook 地址，也没有默认地址 “*” / "
            f"no webhook endpoint {name!r} and no default '*'",
            permanent=True,
        )

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(headers={"User-Agent": USER_AGENT}, follow_redirects=False)
            return self._client

    def _request_for(
        self, target: WebhookTarget, secret: str | None, message: OutgoingMessage
    ) -> tuple[str, bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        url = target.url
        if target.format == "generic":
            body = _compact_json(generic_payload(message))
            timestamp = str(int(_now_utc(message.now).timestamp()))
            headers[IDEMPOTENCY_HEADER] = message.idempotency_key
            headers[TIMESTAMP_HEADER] = timestamp
            if secret:
                headers[SIGNATURE_HEADER] = sign_generic(secret, timestamp, body)
        elif target.format == "dingtalk":
            body = _compact_json(dingtalk_payload(message))
            if secret:
                timestamp_ms = str(int(_now_utc(message.now).timestamp() * 1000))
                joiner = "&" if "?" in url else "?"
                url = f"{url}{joiner}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"
        elif target.format == "wecom":
            body = _compact_json(wecom_payload(message))
        else:  # feishu
            body = _compact_json(feishu_payload(message, secret))
        return url, body, headers

    def _check(self, label: str, target: WebhookTarget, secret: str | None, response: httpx.Response) -> None:
        status = response.status_code
        excerpt = _excerpt(response, target, secret)
        robot = target.format != "generic"
        data = _json_object(response) if robot else None
        if robot and data is not None:
            code, msg = _robot_code(target.format, data)
            if code is not None and code != 0 and _robot_transient(target.format, code, msg):
                raise DeliveryError(
                    f"{label}: HTTP {status}，机器人限流或繁忙（错误码 {code}） / "
                    f"robot rate-limited or busy (code {code}): {excerpt}"
                )
        if status in {408, 429} or status >= 500:
            raise DeliveryError(
                f"{label}: HTTP {status}，对方暂时无法处理 / endpoint temporarily unavailable: {excerpt}"
            )
        if not 200 <= status < 300:
            raise DeliveryError(
                f"{label}: HTTP {status}，请求被拒绝 / request refused: {excerpt}", permanent=True
            )
        if not robot:
            return
        if data is None:
            raise DeliveryError(
                f"{label}: HTTP {status}，应答不是机器人的 JSON / response is not the robot's JSON: {excerpt}",
                permanent=True,
            )
        code, _msg = _robot_code(target.format, data)
        if code is None:
            raise DeliveryError(
                f"{label}: HTTP {status}，机器人应答缺少结果码 / the robot's answer has no result code: "
                f"{excerpt}",
                permanent=True,
            )
        if code != 0:
            raise DeliveryError(
                f"{label}: HTTP {status}，机器人拒绝了消息（错误码 {code}） / "
                f"robot refused the message (code {code}): {excerpt}",
                permanent=True,
            )


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _robot_code(fmt: str, data: Mapping[str, Any]) -> tuple[int | None, str]:
    """The robot's result code (0 = accepted; None = no code in the answer) and message."""
    if fmt == "feishu":
        # current answers carry `code`/`msg`; older ones `StatusCode`/`StatusMessage`
        for code_key, msg_key in (("code", "msg"), ("StatusCode", "StatusMessage")):
            if isinstance(data.get(code_key), int) and data[code_key] == 0:
                return 0, str(data.get(msg_key, ""))
        for code_key, msg_key in (("code", "msg"), ("StatusCode", "StatusMessage")):
            if isinstance(data.get(code_key), int):
                return int(data[code_key]), str(data.get(msg_key, ""))
        return None, ""
    code = data.get("errcode")
    return (int(code) if isinstance(code, int) else None), str(data.get("errmsg", ""))


def _robot_transient(fmt: str, code: int, msg: str) -> bool:
    if code in TRANSIENT_ROBOT_CODES.get(fmt, {}):
        return True
    lowered = msg.lower()
    return any(word in lowered for word in _RATE_LIMIT_WORDS)


def _redact(text: str, target: WebhookTarget, secret: str | None) -> str:
    """Remove the endpoint's URL (robot URLs carry access tokens) and the secret."""
    secrets = [target.url]
    if "?" in target.url:
        secrets.append(target.url.split("?", 1)[1])
    if secret:
        secrets.append(secret)
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    return text


def _excerpt(response: httpx.Response, target: WebhookTarget, secret: str | None) -> str:
    text = response.content[: _EXCERPT_CHARS * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    if len(text) > _EXCERPT_CHARS:
        text = text[:_EXCERPT_CHARS] + "…"
    return _redact(text, target, secret) or "(empty body)"
