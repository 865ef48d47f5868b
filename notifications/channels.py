"""The channel interface. A channel takes one rendered message to one target and either
returns (delivered) or raises DeliveryError. Channels hold connections between sends
(an SMTP session is reused across a batch); `close` releases them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str  # the delivery's key; receivers can de-duplicate on it
    target: str  # e-mail address, or the webhook endpoint's name (a unit code or "*")
    subject: str
    text: str
    html: str
    link: str
    event: str
    recipient: str  # the recipient's display name
    decision: str  # the decision's code, "" when none
    now: datetime  # the dispatcher's clock


class Channel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> None: ...

    def close(self) -> None: ...
