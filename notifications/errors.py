"""Errors of the notification machinery. Like the service's refusals they name the field
and say what is wrong in Chinese first, English second."""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad notification settings, found at start-up rather than at the first send."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(f"{field}: {zh} / {en}")
        self.field = field
        self.zh = zh
        self.en = en


class DeliveryError(Exception):
    """A channel could not deliver. `permanent` errors are not retried (e.g. SMTP 5xx,
    HTTP 4xx); the others are retried with exponential backoff."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
