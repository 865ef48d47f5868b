"""Who may call which endpoint: the one table that the JSON API registers its routes from and
that the access-control matrix test (tests/test_web_access_matrix.py) checks every answer of
every route against, as every role and as anonymous.

An audience is `PUBLIC` (anyone: no sign-in, no token), `SIGNED_IN` (any active user: a
session on pages, a bearer token on the API) or a set of roles. The roles of the API's
actions are not repeated here: they are the procedure's own (`flows.procedure.ACTIONS`).
Beyond the audience, reads of one decision apply `flows.service.access` (a decision only
with a role on it or once published; its audit trail only with a role on it) and actions
apply the service's unit rule (a department acts only on decisions it undertakes).

A route that is in none of these tables is a test failure: declare every new page here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flows import procedure as proc

PUBLIC = "public"
SIGNED_IN = "signed_in"
Audience = str | frozenset[str]

API_PREFIX = "/api/v1"
ACTION_PATH = API_PREFIX + "/actions/{name}"

# the JSON API's reads (path -> audience)
API_READS: dict[str, Audience] = {
    f"{API_PREFIX}/me": SIGNED_IN,
    f"{API_PREFIX}/decisions": SIGNED_IN,
    f"{API_PREFIX}/decisions/{{code}}": SIGNED_IN,  # then access.may_see
    f"{API_PREFIX}/decisions/{{code}}/audit": SIGNED_IN,  # then access.has_role_on
    f"{API_PREFIX}/deadlines": SIGNED_IN,
    f"{API_PREFIX}/catalogues/{{year}}": PUBLIC,
    f"{API_PREFIX}/published": PUBLIC,
}

OPENAPI_DOCUMENT = f"{API_PREFIX}/openapi.json"
API_DOCS = "/api/docs"  # the reference page rendered from the OpenAPI document

# the API's own documents
API_DOCUMENTS: dict[str, Audience] = {
    OPENAPI_DOCUMENT: PUBLIC,
    API_DOCS: PUBLIC,
}

# pages anyone may open without signing in (the allow-list; exact route paths)
PUBLIC_PAGES: frozenset[str] = frozenset(
    {
        "/",
        "/lang/{locale}",
        "/static",
        "/login",
        "/logout",
    }
)
# page paths by prefix, the most specific first; anything else under a prefix inherits it
PAGE_PREFIXES: tuple[tuple[str, Audience], ...] = (
    ("/work/admin", frozenset({"admin"})),
    ("/work", SIGNED_IN),
    ("/account", SIGNED_IN),
)
# an action's page: its audience is the action's own (`action_audience`)
BY_ACTION = "by_action"


def staff_pages() -> dict[str, Audience]:
    """Staff pages narrower than their prefix (exact route paths). A page of one decision
    then applies `access.may_read_file`: its own units and the offices with a role on it."""
    from flows.service.worklist import LEGAL_ROLES

    return {
        "/work/decisions/new": action_audience("register_decision"),
        "/work/legality": LEGAL_ROLES,
        "/work/decisions/{code}/act/{action}": BY_ACTION,
        "/work/catalogue/{year}/act/{action}": BY_ACTION,
    }


# the portal's pages: public by prefix (issue 10, part 3)
PUBLIC_PREFIXES: tuple[str, ...] = ("/catalogues", "/consultations", "/hearings", "/decisions", "/receipts")


def action_audience(name: str) -> Audience:
    """The roles that may take action `name` in any procedure version; `PUBLIC` for the
    public's own actions (submit_public_comment, register_for_hearing, ...)."""
    roles: frozenset[str] = frozenset().union(
        *(p.actions[name].roles for p in proc.PROCEDURES.values() if name in p.actions)
    )
    if not roles:
        raise KeyError(name)
    return PUBLIC if "public" in roles else roles


def audience_of(path: str) -> Audience | None:
    """The audience of a route path as the app registers it (e.g. `/api/v1/decisions/{code}`);
    None when the path is not declared."""
    if path.startswith(API_PREFIX + "/actions/"):
        return action_audience(path.removeprefix(API_PREFIX + "/actions/"))
    for table in (API_READS, API_DOCUMENTS):
        if path in table:
            return table[path]
    if path in PUBLIC_PAGES:
        return PUBLIC
    narrower = staff_pages().get(path)
    if narrower is not None:
        return narrower
    for prefix, audience in PAGE_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return audience
    if any(path == p or path.startswith(p + "/") for p in PUBLIC_PREFIXES):
        return PUBLIC
    return None


def admits(audience: Audience, roles: frozenset[str] | None) -> bool:
    """Whether a caller with `roles` (None: anonymous) is within `audience`."""
    if audience == PUBLIC:
        return True
    if roles is None:
        return False
    if audience == SIGNED_IN:
        return True
    assert isinstance(audience, frozenset)
    return bool(audience & roles)


def routes(app: Any) -> Iterator[tuple[str, frozenset[str]]]:
    """Every (path, methods) the app serves, included routers and mounts flattened (a mount
    yields its own path with GET)."""
    from fastapi import routing

    flatten = getattr(routing, "iter_route_contexts", None)
    found = flatten(app.routes) if flatten is not None else iter(app.routes)
    for route in found:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        methods = getattr(route, "methods", None)
        yield path, frozenset(methods) if methods else frozenset({"GET"})


__all__ = [
    "ACTION_PATH",
    "API_DOCS",
    "API_DOCUMENTS",
    "API_PREFIX",
    "API_READS",
    "BY_ACTION",
    "OPENAPI_DOCUMENT",
    "PUBLIC",
    "PUBLIC_PAGES",
    "SIGNED_IN",
    "Audience",
    "action_audience",
    "admits",
    "audience_of",
    "routes",
    "staff_pages",
]
