"""Comment receipts: the number a commenter keeps to look up the comment and its answer.

A comment's own code (C1, C2, ...) is sequential and so guessable; the receipt adds a tag that
only the server can make: `<decision>-<comment>-<tag>`, the tag being the first
`TAG_LENGTH` base32 characters (60 bits) of HMAC-SHA256 over "<decision>|<comment>", keyed by
a key derived from the web app's secret (`DECISIONFLOW_WEB_SECRET`, or the key file kept in
the data folder). Nothing is stored: a receipt is checked by computing its tag again.
Changing the secret therefore makes earlier receipts unreadable (their comments and answers
remain on the published decision's page). Look-ups are rate-limited per address as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

TAG_LENGTH = 12
_LABEL = b"decisionflow comment receipt v1"


def _tag(secret: str, decision: str, comment: str) -> str:
    key = hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()
    digest = hmac.new(key, f"{decision}|{comment}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:TAG_LENGTH]


def make_receipt(secret: str, decision: str, comment: str) -> str:
    return f"{decision}-{comment}-{_tag(secret, decision, comment)}"


def read_receipt(secret: str, receipt: str) -> tuple[str, str] | None:
    """(decision, comment) of a genuine receipt; None for anything else. The tag is compared
    in constant time and without regard to case (as it may be typed)."""
    parts = "".join(receipt.split()).rsplit("-", 2)
    if len(parts) != 3 or not all(parts) or len(parts[2]) != TAG_LENGTH:
        return None
    decision, comment, tag = parts
    if not hmac.compare_digest(_tag(secret, decision, comment).encode(), tag.upper().encode()):
        return None
    return decision, comment


__all__ = ["TAG_LENGTH", "make_receipt", "read_receipt"]
