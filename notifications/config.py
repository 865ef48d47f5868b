"""Delivery settings: one validated object, read from a YAML file named by
DECISIONFLOW_NOTIFY_CONFIG (or passed in), never at import time. Secrets may be given
as `*_env` names of environment variables instead of inline values."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from notifications.errors import ConfigError

CHANNELS = ("inbox", "email", "webhook")
WEBHOOK_FORMATS = ("generic", "dingtalk", "wecom", "feishu")
LOCALES = ("zh_CN", "en")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpSettings(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["plain", "starttls"] = "plain"
    username: str | None = None
    password: str | None = None
    password_env: str | None = None  # read the password from this environment variable
    sender: str = "decisionflow@localhost"
    timeout_seconds: float = Field(default=10.0, gt=0)
    ca_file: Path | None = None  # trust this CA for STARTTLS (e.g. an internal CA)

    def resolved_password(self, environ: Mapping[str, str] | None = None) -> str | None:
        if self.password_env:
            return (environ if environ is not None else os.environ).get(self.password_env)
        return self.password


class WebhookTarget(_Strict):
    url: str = Field(min_length=1)
    format: Literal["generic", "dingtalk", "wecom", "feishu"] = "generic"
    secret: str | None = None  # HMAC key (generic), or the robot's signing secret
    secret_env: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    def resolved_secret(self, environ: Mapping[str, str] | None = None) -> str | None:
        if self.secret_env:
            return (environ if environ is not None else os.environ).get(self.secret_env)
        return self.secret


class RetrySettings(_Strict):
    max_attempts: int = Field(default=8, ge=1)
    base_seconds: float = Field(default=30.0, gt=0)  # first retry after this, then doubling
    max_seconds: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=300.0, gt=0)  # a claimed delivery's lease

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt: 30, 60, 120, ... capped."""
        return float(min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1)))


class NotificationSettings(_Strict):
    # channels enabled in this installation; a user's preference picks among them
    channels: tuple[str, ...] = ("inbox",)
    default_channels: tuple[str, ...] = ("inbox", "email")  # for users with no preference
    default_locale: Literal["zh_CN", "en"] = "zh_CN"
    smtp: SmtpSettings | None = None
    # webhook endpoints by unit code; "*" is the default for units without their own
    webhooks: dict[str, WebhookTarget] = Field(default_factory=dict)
    web_base_url: str = "http://127.0.0.1:8000"
    templates_dir: Path | None = None  # overrides of the packaged templates
    retry: RetrySettings = RetrySettings()
    late_after_seconds: float = Field(default=900.0, gt=0)  # later than this is "late"
    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    batch_size: int = Field(default=500, ge=1)

    @field_validator("channels", "default_channels")
    @classmethod
    def _known_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in CHANNELS:
                raise ValueError(
                    f"未知渠道 {name!r}（可用：{'、'.join(CHANNELS)}） / "
                    f"unknown channel {name!r} (known: {', '.join(CHANNELS)})"
                )
        return value


def parse_settings(raw: Mapping[str, object] | None) -> NotificationSettings:
    """Validate a settings mapping; the first problem becomes a ConfigError naming its field."""
    try:
        settings = NotificationSettings.model_validate(dict(raw or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = "notifications." + ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if " / " in message:
            zh, en = message.split(" / ", 1)
        else:
            zh, en = f"设置无效：{message}", message
        raise ConfigError(field, zh, en) from None
    if "email" in settings.channels and settings.smtp is None:
        raise ConfigError(
            "notifications.smtp", "启用了 email 渠道但未配置 SMTP", "the email channel needs smtp settings"
        )
    if "webhook" in settings.channels and not settings.webhooks:
        raise ConfigError(
            "notifications.webhooks",
            "启用了 webhook 渠道但未配置地址",
            "the webhook channel needs at least one endpoint",
        )
    return settings


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> NotificationSettings:
    """Settings from `path`, else from DECISIONFLOW_NOTIFY_CONFIG, else the defaults
    (in-app inbox only)."""
    env = environ if environ is not None else os.environ
    if path is None and env.get("DECISIONFLOW_NOTIFY_CONFIG"):
        path = Path(env["DECISIONFLOW_NOTIFY_CONFIG"])
    if path is None:
        return parse_settings({})
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            str(path), f"无法读取通知设置：{exc}", f"cannot read notification settings: {exc}"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "通知设置须为映射", "notification settings must be a mapping")
    section = raw.get("notifications", raw)
    return parse_settings(section if isinstance(section, dict) else {})
