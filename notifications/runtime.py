"""Putting the notification machinery together at start-up: building the channels from
the settings, and checking those settings before anything is sent, so that a bad
configuration stops `decisionflow serve` at once instead of failing at the first send."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from notifications.channels import Channel
from notifications.config import NotificationSettings
from notifications.email import EmailChannel, check_smtp_host
from notifications.render import Renderer
from notifications.webhook import WebhookChannel


def build_channels(
    settings: NotificationSettings, environ: Mapping[str, str] | None = None
) -> dict[str, Channel]:
    """The external channels the installation enables (the inbox needs none). They
    connect lazily, on their first send; the caller closes them."""
    channels: dict[str, Channel] = {}
    if "email" in settings.channels and settings.smtp is not None:
        channels["email"] = EmailChannel(settings.smtp, environ)
    if "webhook" in settings.channels and settings.webhooks:
        channels["webhook"] = WebhookChannel(settings.webhooks, environ)
    return channels


def check_startup(
    settings: NotificationSettings,
    renderer: Renderer | None = None,
    resolve: Callable[..., Any] | None = None,
) -> Renderer:
    """Fail fast: the SMTP host must resolve and every template must render with the
    documented variables. Unknown channels were refused when the settings were parsed.
    Returns the checked renderer for the process to use."""
    renderer = renderer or Renderer(settings.templates_dir)
    renderer.check()
    if "email" in settings.channels and settings.smtp is not None:
        if resolve is None:
            check_smtp_host(settings.smtp)
        else:
            check_smtp_host(settings.smtp, resolve)
    return renderer
