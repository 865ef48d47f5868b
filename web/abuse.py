"""Abuse protection for the public portal's forms: comments, hearing registration and
receipt look-ups. Nobody signs in to use them, so each is protected here:

- **Rate limits per client address** (`RateLimiter`): a sliding window kept in memory, per
  process. `COMMENT_LIMIT` (5 per 10 minutes) for comments, `REGISTRATION_LIMIT` for hearing
  registrations, `LOOKUP_LIMIT` for receipt look-ups. A request over the limit is answered 429
  with `Retry-After`. Several web processes each keep their own count, so N replicas allow N
  times the limit: a hard cap across replicas belongs in the reverse proxy in front of them.
  The address is the connection's peer (`request.client.host`; an IPv6 address counts by its
  /64, `client_address`); behind a reverse proxy, run uvicorn with `--proxy-headers
  --forwarded-allow-ips=<the proxy>` so that it is the client's.
- **A size limit** (`limit_body`): a form body larger than `MAX_FORM_BYTES` is refused with 413
  before it is read (its Content-Length), or as soon as reading passes the limit (a body sent
  without one). The service's own limits (a comment's 20,000 characters) apply after it.
- **HTML sanitising** (`plain_text`): the text is stored as plain text, so every tag is
  stripped with nh3 (script and style contents with them) until none is left; every page
  escapes what it shows in any case.
- **Duplicate submissions** (`RecentSubmissions`): the same submission (text, name and
  contact: two people behind one address who send the same words under their own names are
  two submissions) from the same address within `DUPLICATE_WINDOW` is answered with the
  answer to the first one, and nothing is made a second time. Identical submissions in flight
  at once are taken one at a time.

The public's actions go through `submit_public` whichever way they come, the portal's forms
or the JSON API (`POST /api/v1/actions/<action>` without a token): sanitised, checked for a
duplicate and against the rate limit, and refused NOT_FOUND, as the portal's pages are, where
the public may not act (`portal_reads.check_public_target`: nothing tells a confidential
decision from one that does not exist), then taken as `public` through `run_action`.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import nh3
from fastapi import HTTPException, Request
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flows.service import ActionResult, ServiceContext, portal_reads, run_action

MAX_FORM_BYTES = 256 * 1024  # a 20,000-character comment in Chinese, URL-encoded, fits (~180 KiB)
DUPLICATE_WINDOW = 24 * 3600.0  # seconds: a resubmission within a day gets the first receipt
MAX_KEYS = 100_000  # addresses remembered per limiter before expired ones are swept


@dataclass(frozen=True)
class Limit:
    count: int  # attempts allowed ...
    window: float  # ... per this many seconds


COMMENT_LIMIT = Limit(5, 600.0)
REGISTRATION_LIMIT = Limit(5, 600.0)
FEEDBACK_LIMIT = Limit(5, 600.0)  # opinions on a decision being carried out (API only)
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


V = TypeVar("V")


class RecentSubmissions(Generic[V]):
    """The answers to recent submissions, by (form, address, digest of what was sent)."""

    STRIPES = 64

    def __init__(self, window: float = DUPLICATE_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._seen: dict[tuple[str, str, str], tuple[float, V]] = {}
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

    def recall(self, key: tuple[str, str, str]) -> V | None:
        now = self._clock()
        with self._lock:
            found = self._seen.get(key)
            if found is None or found[0] <= now - self.window:
                return None
            return found[1]

    def remember(self, key: tuple[str, str, str], answer: V) -> None:
        now = self._clock()
        with self._lock:
            self._seen[key] = (now, answer)
            if len(self._seen) > MAX_KEYS:
                for old in [k for k, (at, _) in self._seen.items() if at <= now - self.window]:
                    del self._seen[old]


@dataclass
class PortalGuard:
    """One app's limiters and memory of recent submissions."""

    comments: RateLimiter
    registrations: RateLimiter
    lookups: RateLimiter
    recent: RecentSubmissions[ActionResult]
    feedback: RateLimiter

    @classmethod
    def make(cls, clock: Callable[[], float] = time.monotonic) -> PortalGuard:
        return cls(
            RateLimiter(COMMENT_LIMIT, clock),
            RateLimiter(REGISTRATION_LIMIT, clock),
            RateLimiter(LOOKUP_LIMIT, clock),
            RecentSubmissions(DUPLICATE_WINDOW, clock),
            RateLimiter(FEEDBACK_LIMIT, clock),
        )

    def limiter(self, action: str) -> RateLimiter:
        """The limiter that counts the public's `action`."""
        return {
            "submit_public_comment": self.comments,
            "register_for_hearing": self.registrations,
            "submit_execution_feedback": self.feedback,
        }[action]


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
    """The address the per-address limits count a request against: the connection's peer,
    an IPv6 address by its /64 network (one subscriber is given a whole /64 and could
    otherwise take a new address for every attempt), an IPv4-mapped one as IPv4."""
    host = request.client.host if request.client else "-"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return host


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


# ------------------------------------------------------------------ the public's actions
# the actions whose resubmission is answered with the first answer (a registration twice is
# refused by the service itself)
ONCE_ONLY = frozenset({"submit_public_comment", "submit_execution_feedback"})


@dataclass(frozen=True)
class Submission:
    """What became of one of the public's submissions."""

    payload: dict[str, Any]  # as sanitised: what was (or would have been) submitted
    result: ActionResult | None  # None: over the rate limit, nothing was made
    duplicate: bool = False  # the answer to the same submission made earlier
    retry_after: float = 0.0  # over the rate limit: seconds until the next may be made


def clean_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with every text sanitised (`plain_text`); other values as they are."""
    return {key: plain_text(value) if isinstance(value, str) else value for key, value in payload.items()}


def submit_public(
    app: Starlette,
    ctx: ServiceContext,
    action: str,
    payload: Mapping[str, Any],
    address: str,
    *,
    limited: bool = True,
) -> Submission:
    """Take one of the public's actions the one way the portal and the API both use: the
    payload sanitised; a resubmission (`ONCE_ONLY`) answered with the first answer; the
    address's rate limit (unless `limited` is off: an API token names its sender); NOT_FOUND
    where the public may not act; then `run_action` as `public` with `ctx` (whose account the
    audit records). A refusal of the service is raised as it comes (ProcedureError)."""
    guard = portal_guard(app)
    clean = clean_payload(payload)
    sent = {name: value for name, value in clean.items() if value not in ("", None)}  # "" as left out
    digest = json.dumps(sent, sort_keys=True, ensure_ascii=False, default=str)
    key = guard.recent.key(action, address, digest)
    once = action in ONCE_ONLY
    with guard.recent.one_at_a_time(key) if once else _nothing():
        earlier = guard.recent.recall(key) if once else None
        if earlier is not None:
            return Submission(clean, earlier, duplicate=True)
        wait = guard.limiter(action).hit(address) if limited else None
        if wait is not None:
            return Submission(clean, None, retry_after=wait)
        with Session(ctx.engine) as session:
            portal_reads.check_public_target(session, action, clean)
        result = run_action(ctx, action, "public", clean)
        if once:
            guard.recent.remember(key, result)
    return Submission(clean, result)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


MAX_REQUEST_BODY = 8 * 1024 * 1024  # bytes any request may send (the API and the portal limit theirs lower)


class BodyLimit:
    """ASGI middleware: no request body larger than `limit` bytes is read, on any route. A
    page's form is read whole by FastAPI (its `Form()` fields) before any dependency could
    refuse it, and Starlette alone keeps up to 1,000 fields of 1 MiB each in memory: the
    sign-in form would take a gigabyte from anyone. Reading past the limit (as declared by
    Content-Length, or as counted) raises 413 where the body is read, so the app answers it."""

    def __init__(self, app: ASGIApp, limit: int | None = None) -> None:
        self.app = app
        self.limit = MAX_REQUEST_BODY if limit is None else limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        refuse = declared is not None and (not declared.isdigit() or int(declared) > self.limit)
        received = 0

        async def limited() -> Message:
            nonlocal received
            if refuse:
                raise HTTPException(status_code=413, detail=too_large(self.limit))
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(status_code=413, detail=too_large(self.limit))
            return message

        await self.app(scope, limited, send)


def too_large(limit: int) -> str:
    return f"提交内容过大（上限 {limit // 1024} KiB） / the submission is too large (at most {limit // 1024} KiB)"


TOO_LARGE = too_large(MAX_FORM_BYTES)


__all__ = [
    "COMMENT_LIMIT",
    "DUPLICATE_WINDOW",
    "FEEDBACK_LIMIT",
    "LOOKUP_LIMIT",
    "MAX_FORM_BYTES",
    "MAX_REQUEST_BODY",
    "ONCE_ONLY",
    "REGISTRATION_LIMIT",
    "BodyLimit",
    "Limit",
    "PortalGuard",
    "RateLimiter",
    "RecentSubmissions",
    "Submission",
    "clean_payload",
    "client_address",
    "limit_body",
    "plain_text",
    "portal_guard",
    "submit_public",
]
