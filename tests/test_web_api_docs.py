"""The API reference at /api/docs: a page rendered on the server from the app's OpenAPI
document, under the unchanged Content-Security-Policy, without a script or a CDN, readable
without signing in, Chinese first. Every operation the API router serves is on it, with its
parameters, body fields, response codes and whether it needs a token."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient

from flows.service import ServiceContext
from tests.browser import browser_page, live_server
from web import permissions
from web.app import WebConfig, create_app
from web.routes import api as api_routes

DOCS = "/api/docs"
PREFIX = permissions.API_PREFIX + "/"


@dataclass
class ShownOperation:
    method: str = ""
    path: str = ""
    token: str = ""
    parameters: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)


class ReferenceReader(HTMLParser):
    """The operations as the page shows them: each `section.api-operation`'s method, path,
    token badge, and the first cell of each row of its three tables."""

    def __init__(self) -> None:
        super().__init__()
        self.operations: list[ShownOperation] = []
        self.scripts = 0
        self._capture: str | None = None  # what the text being read is
        self._table: str | None = None
        self._cell = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "script":
            self.scripts += 1
        if tag == "section" and "api-operation" in classes:
            self.operations.append(ShownOperation())
        if not self.operations:
            return
        current = self.operations[-1]
        if "api-method" in classes and not current.method:
            self._capture = "method"
        elif tag == "code" and not current.path:
            self._capture = "path"
        elif "api-token" in classes:
            current.token = found.get("data-token") or ""
        elif tag == "table":
            self._table = next((c for c in classes if c.startswith("api-")), None)
        elif tag == "tr":
            self._cell = 0
        elif tag == "td":
            self._cell += 1
            if self._cell == 1 and self._table is not None:
                self._capture = self._table  # a row's name: the first text of its first cell

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._capture is None or not data.strip():
            return
        current = self.operations[-1]
        text = data.strip()
        if self._capture == "method":
            current.method = text
        elif self._capture == "path":
            current.path = text
        else:
            {
                "api-parameters": current.parameters,
                "api-body": current.body,
                "api-responses": current.answers,
            }[self._capture].append(text)
        self._capture = None


def read_reference(html: str) -> ReferenceReader:
    reader = ReferenceReader()
    reader.feed(html)
    return reader


def client(ctx: ServiceContext) -> TestClient:
    return TestClient(create_app(ctx, WebConfig(secret_key="api-docs-test")))


def api_operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        if path.startswith(PREFIX)
        for method, operation in item.items()
    }


def test_the_reference_shows_every_route_of_the_api_router_as_the_openapi_document_has_it(
    ctx: ServiceContext,
) -> None:
    web = client(ctx)
    answer = web.get(DOCS, follow_redirects=False)  # no cookie, no token: a visitor
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    shown = read_reference(answer.text)
    assert shown.scripts == 0 and "swagger" not in answer.text.lower()

    document = web.get(permissions.OPENAPI_DOCUMENT).json()
    expected = api_operations(document)
    served = {
        (method, permissions.API_PREFIX + route.path.removeprefix(permissions.API_PREFIX))
        for route in api_routes.router.routes
        for method in getattr(route, "methods", set()) - {"HEAD"}
    }
    assert len(served) >= 70 and set(expected) == served  # the document describes the router
    by_key = {(op.method, op.path): op for op in shown.operations}
    assert len(by_key) == len(shown.operations)  # each once
    assert set(by_key) == served

    for key, operation in expected.items():
        on_page = by_key[key]
        assert on_page.parameters == [p["name"] for p in operation.get("parameters", [])], key
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        assert on_page.body == list(body.get("schema", {}).get("properties", {})), key
        assert on_page.answers == sorted(operation["responses"]), key
        # whether it needs a token: as the access table declares, not just as the schema says
        public = permissions.audience_of(key[1]) == permissions.PUBLIC
        assert on_page.token == ("optional" if public else "required"), key
    assert {op.token for op in shown.operations} == {"optional", "required"}
    assert by_key[("GET", "/api/v1/decisions")].parameters == ["status", "unit"]
    assert "decision" in by_key[("POST", "/api/v1/actions/submit_draft")].body
    assert f'href="{permissions.OPENAPI_DOCUMENT}"' in answer.text


def test_the_reference_keeps_the_content_security_policy_and_swagger_is_gone(ctx: ServiceContext) -> None:
    web = client(ctx)
    policy = web.get("/").headers["content-security-policy"]
    docs = web.get(DOCS)
    assert docs.headers["content-security-policy"] == policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "cdn" not in policy
    assert web.get("/docs/oauth2-redirect").status_code == 404  # Swagger UI's companion route
    assert web.get("/docs").status_code == 404 and web.get("/redoc").status_code == 404


def test_the_reference_is_public_in_the_access_table(ctx: ServiceContext) -> None:
    web = client(ctx)
    assert permissions.audience_of(DOCS) == permissions.PUBLIC
    declared = {path for path, _ in permissions.routes(web.app)}
    assert DOCS in declared and "/docs/oauth2-redirect" not in declared
    assert set(permissions.API_DOCUMENTS) <= declared  # no stale entry in the table


def test_the_reference_speaks_chinese_first_and_english_on_request(ctx: ServiceContext) -> None:
    web = client(ctx)
    chinese = web.get(DOCS).text
    assert '<h1 class="page-title">接口文档</h1>' in chinese
    assert "身份认证" in chinese and "须令牌" in chinese and "状态码" in chinese
    assert "提交决策草案" in chinese  # an action's name, as the pages call it
    assert "程序规则不允许" in chinese  # the 409's Chinese description
    web.get("/lang/en", params={"back": DOCS})
    english = web.get(DOCS).text
    assert '<h1 class="page-title">API reference</h1>' in english
    assert "Submit the draft" in english and "refused by a rule of the procedure" in english
    assert "接口文档" not in english and "提交决策草案" not in english


def test_the_reference_renders_in_chromium_without_a_csp_violation(ctx: ServiceContext) -> None:
    app = create_app(ctx, WebConfig(secret_key="api-docs-browser"))
    operations = len(api_operations(app.openapi()))
    problems: list[str] = []
    with live_server(app) as base, browser_page(base) as page:
        # a CSP refusal is reported on the console as an error ("Refused to load ...")
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on("response", lambda response: failed.append(response.url) if not response.ok else None)
        answer = page.goto(DOCS)
        assert answer is not None and answer.status == 200
        page.wait_for_load_state("load")
        assert page.locator("h1.page-title").inner_text() == "接口文档"
        assert page.locator("section.api-operation").count() == operations
        endpoint = page.locator("#post-api-v1-actions-submit_draft h3.api-endpoint")
        assert endpoint.inner_text() == "POST /api/v1/actions/submit_draft"
        # the site's stylesheet applies (a style the CSP refused would leave it unstyled)
        method = page.locator("#get-api-v1-me .api-method")
        assert method.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(31, 35, 40)"
        assert failed == [] and problems == []
        # the machine-readable document is linked (not opened: a JSON page asks for a favicon)
        link = page.get_by_role("link", name="OpenAPI 文档（JSON）").get_attribute("href")
        document = page.request.get(f"{base}{link}")
        assert document.ok and len(api_operations(document.json())) == operations
