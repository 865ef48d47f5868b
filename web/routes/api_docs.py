"""The API reference, /api/docs: a page rendered on the server from the app's own OpenAPI
document, in the site's layout, readable by anyone without signing in (web/permissions.py).

It replaces FastAPI's Swagger UI, which loads its script and style from a CDN and starts with
an inline script: the Content-Security-Policy blocks both, and a government intranet has no
CDN. This page needs neither; the machine-readable document stays at /api/v1/openapi.json."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web.api_reference import SUCCESS, reference
from web.app import render
from web.permissions import API_DOCS, API_PREFIX, OPENAPI_DOCUMENT

router = APIRouter(include_in_schema=False)


@router.get(API_DOCS, response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    groups = reference(request.app.openapi(), API_PREFIX + "/")
    return render(
        request,
        "api_docs.html",
        {
            "groups": groups,
            "openapi_url": OPENAPI_DOCUMENT,
            "api_prefix": API_PREFIX,
            "success": SUCCESS,
            "operation_count": sum(len(g.operations) for g in groups),
        },
    )
