"""The routers of the web app, in the order they are mounted. Each module keeps its own
`router`: `portal` (the public, no sign-in), `auth` (sign-in, sign-out), `staff` (the
pages civil servants work in), `api` (the JSON API, /api/v1) and `api_docs` (its reference
page, /api/docs)."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    from web.routes import api, api_docs, auth, portal, staff

    return [auth.router, portal.router, staff.router, api.router, api_docs.router]
