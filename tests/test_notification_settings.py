"""Bad notification settings fail at start-up with the field named, Chinese first,
never at the first send."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from notifications.config import RetrySettings, load_settings, parse_settings
from notifications.errors import ConfigError
from notifications.render import EVENTS, Renderer, template_name
from notifications.runtime import build_channels, check_startup


def error_of(raw: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw)
    return caught.value


def test_the_default_is_the_inbox_only() -> None:
    settings = load_settings(environ={})
    assert settings.channels == ("inbox",)
    assert build_channels(settings) == {}


def test_an_unknown_channel_is_named() -> None:
    error = error_of({"channels": ["inbox", "sms"]})
    assert error.field == "notifications.channels"
    assert "未知渠道 'sms'" in error.zh and "unknown channel 'sms'" in error.en


def test_a_users_default_channel_must_be_known_too() -> None:
    assert error_of({"default_channels": ["pager"]}).field == "notifications.default_channels"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"channels": ["inbox", "email"]}, "notifications.smtp"),
        ({"channels": ["inbox", "webhook"]}, "notifications.webhooks"),
        ({"smtp": {"host": "mail", "security": "tls13"}}, "notifications.smtp.security"),
        ({"smtp": {"host": "mail", "port": 0}}, "notifications.smtp.port"),
        ({"webhooks": {"*": {"url": "ftp://x"}}}, "notifications.webhooks.*.url"),
        ({"webhooks": {"*": {"url": "http://x", "format": "slack"}}}, "notifications.webhooks.*.format"),
        ({"retry": {"max_attempts": 0}}, "notifications.retry.max_attempts"),
        ({"colour": "red"}, "notifications.colour"),
    ],
)
def test_bad_values_name_their_field(raw: dict[str, Any], field: str) -> None:
    error = error_of(raw)
    assert error.field == field
    assert error.zh and error.en


def test_settings_file_is_read_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text("notifications:\n  channels: [inbox, fax]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"DECISIONFLOW_NOTIFY_CONFIG": str(path)})
    assert caught.value.field == "notifications.channels"
    with pytest.raises(ConfigError) as missing:
        load_settings(tmp_path / "nope.yaml", environ={})
    assert "nope.yaml" in missing.value.field


def test_an_smtp_host_that_does_not_resolve_stops_start_up() -> None:
    settings = parse_settings(
        {"channels": ["inbox", "email"], "smtp": {"host": "smtp.no-such-host.invalid", "port": 25}}
    )
    with pytest.raises(ConfigError) as caught:
        check_startup(settings)
    assert caught.value.field == "notifications.smtp.host"
    assert "smtp.no-such-host.invalid" in str(caught.value)


def test_a_resolvable_host_passes_and_nothing_connects() -> None:
    asked: list[tuple[Any, ...]] = []

    def resolve(*args: Any, **kwargs: Any) -> Any:
        asked.append(args)
        return socket.getaddrinfo(*args, **kwargs)

    settings = parse_settings({"channels": ["inbox", "email"], "smtp": {"host": "127.0.0.1", "port": 1}})
    check_startup(settings, resolve=resolve)  # port 1 has no server: only resolving is checked
    assert asked and asked[0][0] == "127.0.0.1"
    assert set(build_channels(settings)) == {"email"}


def test_a_template_using_a_missing_variable_stops_start_up(tmp_path: Path) -> None:
    name = template_name(EVENTS[2], "zh_CN", "subject")
    (tmp_path / name).parent.mkdir(parents=True)
    (tmp_path / name).write_text("【逾期】{{ decision.code }} {{ assignee_phone }}", encoding="utf-8")
    settings = parse_settings({"templates_dir": str(tmp_path)})
    with pytest.raises(ConfigError) as caught:
        check_startup(settings)
    assert caught.value.field.endswith(name)
    assert "assignee_phone" in str(caught.value)
    # the packaged templates themselves pass
    check_startup(parse_settings({}), renderer=Renderer())


def test_backoff_doubles_up_to_its_cap() -> None:
    retry = RetrySettings(base_seconds=30, max_seconds=200)
    assert [retry.backoff(n) for n in range(1, 6)] == [30, 60, 120, 200, 200]
