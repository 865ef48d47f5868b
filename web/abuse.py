"""Abuse protection for the public portal's forms: comments, hearing registration and
receipt look-ups. Nobody signs in to use them, so each is protected here:

- **Rate limits per client address** (`RateLimiter`): a sliding window kept in memory, per
  process. `COMMENT_LIMIT` (5 per 10 minutes) for comments, `REGISTRATION_LIMIT` for hearing
  registrations, `LOOKUP_LIMIT` for receipt look-ups. A request over the limit is answered 429
  with `Retry-After`. Several web processes each keep their own count, so N replicas allow N
  times the limit: a hard cap across replicas belongs in the reverse proxy in front of them.
  The address is the connection's peer (`request.client.host`); behind a reverse proxy, run
  uvicorn with `--proxy-headers --forwarded-allow-ips=<the proxy>` so that it is the client's.
- **A size limit** (`limit_body`): a form body larger than `MAX_FORM_BYTES` is refused with 413
  before it is read (its Content-Length), or as soon as reading passes the limit (a body sent
  without one). The service's own limits (a comment's 20,000 characters) apply after it.
- **HTML sanitising** (`plain_text`): the text is stored as plain text, so every tag is
  stripped with nh3 (script and style contents with them) until none is left; every page
  escapes what it shows in any case.
- **Duplicate submissions** (`RecentSubmissions`): the same text from the same address to the
  same form within `DUPLICATE_WINDOW` is answered with the receipt of the first one, and no
  second comment is made. Identical submissions in flight at once are taken one at a time.
"""

from __future__ import annotations

import hashlib
import html
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import nh3
from fastapi import HTTPException, Request
from starlette.applications import Starlette

MAX_FORM_BYTES = 256 * 1024  # a 20,000-character comment in Chinese, URL-encoded, fits (~180 KiB)
DUPLICATE_WINDOW = 24 * 3600.0  # seconds: a resubmission within a day gets the first receipt
MAX_KEYS = 100_000  # addresses remembered per limiter before expired ones are swept


@dataclass(frozen=True)
class Limit:
    count: int  # attempts allowed ...
    window: float  # ... per this many seconds


COMMENT_LIMIT = Limit(5, 600.0)
REGISTRATION_LIMIT = Limit(5, 600.0)
LOOKUP_LIMIT = Limit(30, 600.0)


class RateLimiter:
    """A sliding-window counter per key (a client address), in memory, thread-safe."""

    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count one attempt by `key`: None when it is allowed, else the seconds until the
        next one will be (a refused attempt is not counted)."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.limit.window:
                hits.popleft()
            if len(hits) >= self.limit.count:
                return max(hits[0] + self.limit.window - now, 0.0)
            hits.append(now)
            if len(self._hits) > MAX_KEYS:
                self._sweep(now)
            return None

    def _sweep(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.limit.window]:
            del self._hits[key]


class RecentSubmissions:
    """The receipts of recent submissions, by (form, address, text digest)."""

    STRIPES = 64

    def __init__(self, window: float = DUPLICATE_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._seen: dict[tuple[str, str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(self.STRIPES)]

    @staticmethod
    def key(target: str, address: str, text: str) -> tuple[str, str, str]:
        return target, address, hashlib.sha256(text.encode()).hexdigest()

    @contextmanager
    def one_at_a_time(self, key: tuple[str, str, str]) -> Iterator[None]:
        """Hold while checking for and making a submission, so that two identical ones sent
        at once do not both go through (different keys rarely share a lock, briefly)."""
        with self._stripes[hash(key) % self.STRIPES]:
            yield

    def recall(self, key: tuple[str, str, str]) -> str | None:
        now = self._clock()
        with self._lock:
            found = self._seen.get(key)
            if found is None or found[0] <= now - self.window:
                return None
            return found[1]

    def remember(self, key: tuple[str, str, str], receipt: str) -> None:
        now = self._clock()
        with self._lock:
            self._seen[key] = (now, receipt)
            if len(self._seen) > MAX_KEYS:
                for old in [k for k, (at, _) in self._seen.items() if at <= now - self.window]:
                    del self._seen[old]


@dataclass
class PortalGuard:
    """One app's limiters and memory of recent submissions."""

    comments: RateLimiter
    registrations: RateLimiter
    lookups: RateLimiter
    recent: RecentSubmissions

    @classmethod
    def make(cls, clock: Callable[[], float] = time.monotonic) -> PortalGuard:
        return cls(
            RateLimiter(COMMENT_LIMIT, clock),
            RateLimiter(REGISTRATION_LIMIT, clock),
            RateLimiter(LOOKUP_LIMIT, clock),
            RecentSubmissions(DUPLICATE_WINDOW, clock),
        )


_MAKING = threading.Lock()


def portal_guard(app: Starlette) -> PortalGuard:
    """The app's guard, made on first use (kept on `app.state.portal_guard`)."""
    guard = getattr(app.state, "portal_guard", None)
    if guard is None:
        with _MAKING:
            guard = getattr(app.state, "portal_guard", None)
            if guard is None:
                guard = PortalGuard.make()
                app.state.portal_guard = guard
    assert isinstance(guard, PortalGuard)
    return guard


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def plain_text(text: str, rounds: int = 5) -> str:
    """`text` with every HTML tag removed (nh3), as plain text: entities are decoded, and the
    result is cleaned again until nothing changes, so that no tag survives (an encoded
    `&lt;script&gt;` does not become a tag either)."""
    for _ in range(rounds):
        cleaned = html.unescape(nh3.clean(text, tags=set()))
        if cleaned == text:
            break
        text = cleaned
    return text


async def limit_body(request: Request) -> None:
    """Refuse (413) a form body over MAX_FORM_BYTES before reading it, or as soon as reading
    passes the limit; a body within it is kept for the form parser."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise HTTPException(status_code=413, detail=TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail=TOO_LARGE)
        chunks.append(chunk)
    request._body = b"".join(chunks)  # what Request.body() and form() read from then on


TOO_LARGE = f"提交内容过大（上限 {MAX_FORM_BYTES // 1024} KiB） / the submission is too large (at most {MAX_FORM_BYTES // 1024} KiB)"


__all__ = [
    "COMMENT_LIMIT",
    "DUPLICATE_WINDOW",
    "LOOKUP_LIMIT",
    "MAX_FORM_BYTES",
    "REGISTRATION_LIMIT",
    "Limit",
    "PortalGuard",
    "RateLimiter",
    "RecentSubmissions",
    "client_address",
    "limit_body",
    "plain_text",
    "portal_guard",
]
