"""The access-control matrix: every route the app serves, tried as every role of the demo
district and as anonymous, each answer checked against the one table of who may call what
(web/permissions.py, and the procedure's roles for the actions).

- every route is declared in the table (a new page that is not fails here);
- every API action: anonymous 401 (the public's own actions excepted), a role that may not
  take it 403, a role that may 422 for an empty body (nothing is written: the demo is shared);
- a department acting on another unit's decision: 403;
- every read of every decision: seen only with a role on it or once published (a department
  never reads another unit's draft), its audit trail only with a role on it;
- pages: the public ones open to anyone, the staff ones a redirect to /login for anonymous
  and 403 for a role the table does not admit.

The expectations for decisions are computed here from the rows, independently of
flows.service.access, so that a change of the product's rule shows up as a failure."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows.demo import USERS, build_demo
from flows.service import ServiceContext
from models import AuditEvent, Decision, Unit, User
from models.db import make_engine, normalise_url
from tests import conftest
from tests.api_helpers import Clock, api_client, bearer, issue_token, session_cookie
from tests.conftest import POSTGRES_URL, postgres_reachable, require_postgres
from tests.schema import create_all
from web import permissions
from web.permissions import PUBLIC

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
# roles with a role on every decision (the legal office, the government office, the head and the
# meeting, the Party liaison, supervisors); an administrator has none by that role
SEES_EVERY_DECISION = {
    "legal_reviewer",
    "legal_head",
    "gov_office",
    "head",
    "meeting_member",
    "party_liaison",
    "supervisor",
}
# sample values for the path parameters of pages (a decision code is tried for each decision)
SAMPLES = {
    "locale": "en",
    "year": "2026",
    "path": "site.css",
    "version": "1",
    "filename": "decisions.xlsx",
    "hearing": "H1",
    "action": "submit_draft",
    "name": "decisions.xlsx",
    "document_id": "1",
}


@dataclass(frozen=True)
class Caller:
    code: str | None  # None: anonymous
    roles: frozenset[str] | None
    unit: str | None
    token: str | None

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token) if self.token else {}


@dataclass
class Demo:
    ctx: ServiceContext
    web: TestClient
    callers: list[Caller]  # every demo user, then anonymous
    decisions: list[Decision]

    def visible(self, caller: Caller, decision: Decision) -> bool:
        return self.has_role(caller, decision) or (
            decision.published_on is not None and "confidential" not in decision.flags
        )

    def has_role(self, caller: Caller, decision: Decision) -> bool:
        if caller.roles is None:
            return False
        return bool(caller.roles & SEES_EVERY_DECISION) or caller.unit in decision.unit_codes


@contextmanager
def module_engine(tmp: Path) -> Iterator[Engine]:
    """The suite's database for this module alone (a schema of its own on PostgreSQL)."""
    url = conftest.test_database_url()
    if url == "sqlite-file":
        url = f"sqlite:///{tmp / 'matrix.db'}"
    if not normalise_url(url).startswith("postgresql"):
        engine = make_engine(url)
        yield engine
        engine.dispose()
        return
    if not postgres_reachable():
        if require_postgres():
            pytest.fail(f"PostgreSQL is required but {POSTGRES_URL} is unreachable")
        pytest.skip("no PostgreSQL server reachable")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("matrix")
    with module_engine(tmp) as engine:
        create_all(engine, kind="demo")
        ctx = ServiceContext(engine=engine, data_dir=tmp / "data")
        build_demo(ctx, NOW)
        with Session(ctx.engine) as session:
            unit_of = {
                user.code: unit.code
                for user, unit in session.exec(select(User, Unit).join(Unit, col(Unit.id) == User.unit_id))
            }
            decisions = list(session.exec(select(Decision).order_by(col(Decision.code))))
        callers = [
            Caller(u["id"], frozenset(u["roles"]), unit_of[u["id"]], issue_token(ctx.engine, u["id"], NOW))
            for u in USERS
        ]
        callers.append(Caller(None, None, None, None))
        yield Demo(ctx, api_client(ctx, Clock(NOW)), callers, decisions)


def audit_count(demo: Demo) -> int:
    with Session(demo.ctx.engine) as session:
        return int(session.exec(select(func.count()).select_from(AuditEvent)).one())


def one_per_role_set(demo: Demo) -> list[Caller]:
    """A caller for each distinct set of roles in the demo, and anonymous."""
    seen: dict[frozenset[str] | None, Caller] = {}
    for caller in demo.callers:
        seen.setdefault(caller.roles, caller)
    return list(seen.values())


# ---------------------------------------------------------------------------- the table
def test_every_route_is_declared_in_the_table(demo: Demo) -> None:
    undeclared = sorted(
        path for path, _ in permissions.routes(demo.web.app) if permissions.audience_of(path) is None
    )
    assert undeclared == [], f"declare these routes in web/permissions.py: {undeclared}"
    # the demo's roles cover every audience the table names, and every role is a procedure role
    from flows import procedure as proc

    for path, _ in permissions.routes(demo.web.app):
        audience = permissions.audience_of(path)
        if isinstance(audience, frozenset):
            assert audience <= set(proc.ROLES), path


# ---------------------------------------------------------------------------- actions
def test_every_action_as_every_role(demo: Demo) -> None:
    before = audit_count(demo)
    actions = sorted(
        path
        for path, methods in permissions.routes(demo.web.app)
        if path.startswith("/api/v1/actions/") and "POST" in methods
    )
    assert len(actions) >= 60
    callers = one_per_role_set(demo)
    covered: set[str] = set()
    for path in actions:
        audience = permissions.audience_of(path)
        assert audience is not None
        if audience == permissions.BY_ACTION:
            audience = permissions.action_audience(SAMPLES["action"])
        for caller in callers:
            answer = demo.web.post(path, headers=caller.headers, json={})
            if audience == PUBLIC:
                expected = 422  # anyone may; the empty body is invalid
            elif caller.roles is None:
                expected = 401
            else:
                expected = 422 if permissions.admits(audience, caller.roles) else 403
            assert answer.status_code == expected, (path, caller.code, answer.text)
            error = answer.json()["error"]
            assert error["rule_id"] == {401: "AUTH", 403: "AUTH", 422: "INPUT"}[expected]
            if expected == 403:
                covered |= caller.roles or set()
    assert audit_count(demo) == before  # nothing was written
    assert covered >= {"department_staff", "legal_reviewer", "gov_office", "head", "supervisor"}


def test_a_department_cannot_act_on_another_unit_s_decision(demo: Demo) -> None:
    before = audit_count(demo)
    departments: dict[str, Caller] = {}  # one department user per unit
    for caller in demo.callers:
        if caller.roles and caller.roles <= {"department_staff", "department_head"} and caller.unit:
            departments.setdefault(caller.unit, caller)
    attempts = (
        ("withdraw_decision", {"reason": "越权测试"}),
        ("revise_draft", {"draft": "越权修改", "reason": "越权测试"}),
        ("report_execution_progress", {"text": "越权报告"}),
    )
    tried = 0
    for caller in departments.values():
        for decision in demo.decisions:
            if caller.unit in decision.unit_codes:
                continue
            action, payload = attempts[tried % len(attempts)]
            answer = demo.web.post(
                f"/api/v1/actions/{action}",
                headers=caller.headers,
                json={"decision": decision.code, **payload},
            )
            assert answer.status_code == 403, (caller.code, decision.code, action, answer.text)
            assert answer.json()["error"]["rule_id"] == "AUTH"
            tried += 1
    assert len(departments) >= 8 and tried > 60
    assert audit_count(demo) == before


# ---------------------------------------------------------------------------- reads
def test_decisions_are_read_only_by_those_who_may_see_them(demo: Demo) -> None:
    confidential = [d for d in demo.decisions if "confidential" in d.flags]
    unpublished = [d for d in demo.decisions if d.published_on is None]
    assert confidential and unpublished and len(unpublished) < len(demo.decisions)
    for caller in demo.callers:
        listed = demo.web.get("/api/v1/decisions", headers=caller.headers)
        if caller.roles is None:
            assert listed.status_code == 401
        else:
            assert listed.status_code == 200, listed.text
            expected = [d.code for d in demo.decisions if demo.visible(caller, d)]
            assert [d["code"] for d in listed.json()] == expected, caller.code
        for decision in demo.decisions:
            shown = demo.web.get(f"/api/v1/decisions/{decision.code}", headers=caller.headers)
            audit = demo.web.get(f"/api/v1/decisions/{decision.code}/audit", headers=caller.headers)
            if caller.roles is None:
                assert (shown.status_code, audit.status_code) == (401, 401)
                continue
            sees, has_role = demo.visible(caller, decision), demo.has_role(caller, decision)
            assert shown.status_code == (200 if sees else 403), (caller.code, decision.code)
            assert audit.status_code == (200 if has_role else 403), (caller.code, decision.code)
            for refused in (a for a in (shown, audit) if a.status_code == 403):
                assert decision.title not in refused.text
            if sees:
                assert shown.json()["decision"]["code"] == decision.code
            if has_role:
                assert [e["seq"] for e in audit.json()] == list(range(1, len(audit.json()) + 1))


def test_each_user_s_deadlines_are_on_decisions_they_may_see(demo: Demo) -> None:
    by_code = {d.code: d for d in demo.decisions}
    with_deadlines = 0
    for caller in demo.callers:
        answer = demo.web.get("/api/v1/deadlines", headers=caller.headers)
        if caller.roles is None:
            assert answer.status_code == 401
            continue
        assert answer.status_code == 200, answer.text
        rows = answer.json()
        with_deadlines += bool(rows)
        for row in rows:
            assert demo.has_role(caller, by_code[row["decision"]]), (caller.code, row)
            assert row["light"] in {"overdue", "due_today", "due_soon", "on_track"}
        if caller.roles == {"department_staff"}:
            assert all(caller.unit in by_code[row["decision"]].unit_codes for row in rows)
    assert with_deadlines >= 3


def test_the_public_reads_open_to_anyone(demo: Demo) -> None:
    published = {d.code for d in demo.decisions if d.published_on is not None}
    assert published
    for caller in (demo.callers[0], demo.callers[-1]):
        answer = demo.web.get("/api/v1/published", headers=caller.headers)
        assert answer.status_code == 200
        rows = answer.json()
        assert {r["code"] for r in rows} == published
        assert all(r["text"] and r["channels"] for r in rows)
        catalogue = demo.web.get("/api/v1/catalogues/2026", headers=caller.headers)
        assert catalogue.status_code == 200, catalogue.text
        body = catalogue.json()
        assert body["decisions"]["rows"] and body["versions"][0]["published_on"]
    assert demo.web.get("/api/v1/catalogues/2027").status_code == 404


# ---------------------------------------------------------------------------- pages
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def page_paths(demo: Demo, path: str) -> list[tuple[str, Decision | None]]:
    """The URLs to try for a page route: one per decision when it takes a decision code."""
    names = PARAM.findall(path)
    codes = [n for n in names if n in {"code", "decision"}]
    unknown = [n for n in names if n not in SAMPLES and n not in codes]
    assert not unknown, f"add a sample value for {unknown} of {path} to SAMPLES"
    filled = PARAM.sub(lambda m: SAMPLES.get(m.group(1), "{" + m.group(1) + "}"), path)
    if not codes:
        return [(filled, None)]
    return [(filled.replace("{code}", d.code).replace("{decision}", d.code), d) for d in demo.decisions]


def page_routes(demo: Demo) -> list[tuple[str, frozenset[str]]]:
    documents = set(permissions.API_DOCUMENTS)
    return sorted(
        (path, methods)
        for path, methods in permissions.routes(demo.web.app)
        if not path.startswith("/api/") and path not in documents
    )


def refused_page(answer: object) -> bool:
    status = getattr(answer, "status_code", 0)
    return status in (401, 403, 404) or (
        status in (302, 303, 307) and getattr(answer, "headers", {}).get("location", "").startswith("/login")
    )


def test_every_page_as_every_role_and_anonymous(demo: Demo) -> None:
    routes = page_routes(demo)
    assert any(path == "/" for path, _ in routes)
    web = demo.web
    wrong: list[tuple[object, ...]] = []  # every mismatch, not just the first

    def check(holds: bool, *what: object) -> None:
        if not holds:
            wrong.append(what)

    callers = [c for c in demo.callers if c.code is not None]
    for path, methods in routes:
        audience = permissions.audience_of(path)
        assert audience is not None
        if audience == permissions.BY_ACTION:
            audience = permissions.action_audience(SAMPLES["action"])
        for url, decision in page_paths(demo, path):
            if "GET" in methods:
                web.cookies.clear()
                answer = web.get(url, follow_redirects=False)
                if audience == PUBLIC:
                    check(answer.status_code not in (401, 403), url, answer.status_code)
                    check(not answer.headers.get("location", "").startswith("/login"), url)
                else:
                    check(answer.status_code in (302, 303, 307), url, answer.status_code)
                    check(answer.headers.get("location", "").startswith("/login"), url)
                for caller in callers:
                    web.cookies.clear()
                    web.cookies.update(session_cookie(caller.code or "", ctx=demo.ctx, signed_in_at=NOW))
                    answer = web.get(url, follow_redirects=False)
                    # a staff page of one decision is its working file: its units and the offices
                    if decision is not None and audience != PUBLIC and not demo.has_role(caller, decision):
                        check(refused_page(answer), url, caller.code, answer.status_code)  # no leak
                    elif permissions.admits(audience, caller.roles):
                        check(answer.status_code not in (401, 403), url, caller.code, answer.status_code)
                        check(not answer.headers.get("location", "").startswith("/login"), url, caller.code)
                    else:
                        check(answer.status_code in (403, 404), url, caller.code, answer.status_code)
            for method in methods - {"GET", "HEAD"}:
                if audience == PUBLIC:
                    continue
                web.cookies.clear()
                answer = web.request(method, url, follow_redirects=False)
                check(refused_page(answer), method, url, answer.status_code)  # anonymous never acts
    assert wrong == [], "\n".join(map(repr, wrong))
    web.cookies.clear()
