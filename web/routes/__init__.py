"""The routers of the web app, in the order they are mounted. Each module keeps its own
`router`: `portal` (the public, no sign-in), `auth` (sign-in, sign-out), `staff` (the
pages civil servants work in), `api` (the JSON API, /api/v1) and `api_docs` (its reference
page, /api/docs)."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[tuple[APIRouter, bool]]:
    """Each router with whether the OpenAPI document describes it: only the JSON API (the
    pages are for browsers, and a client generated from the document should not see them)."""
    from web.routes import api, api_docs, auth, portal, staff

    return [
        (auth.router, False),
        (portal.router, False),
        (staff.router, False),
        (api.router, True),
        (api_docs.router, False),
    ]
