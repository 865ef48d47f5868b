"""The JSON API (/api/v1): bearer tokens, actions as the token's user with the audit naming
the token, refusals with their rule, article and messages, the reads each user may make,
and the OpenAPI document (a route per action, the error schema with every rule id)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from flows import procedure as proc
from flows.calendar import WorkingCalendar
from flows.service import REGISTRY, ServiceContext
from flows.service.queries import light_of
from models import AuditEvent, CommentPeriod, Deadline, Decision, PublicComment
from models.web import ApiToken
from tests.api_helpers import Clock, api_client, bearer, issue_token
from tests.helpers import act, at, district, drafted, snapshot
from web.abuse import COMMENT_LIMIT
from web.routes import api as api_routes

OPEN_PERIOD = {
    "decision": "D1",
    "start_date": "2026-03-03",
    "end_date": "2026-04-02",
    "channels": ["website"],
}


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-03-03T09:00"))


@pytest.fixture
def web(ctx: ServiceContext, clock: Clock) -> TestClient:
    """The standard district with D1 drafted by the housing bureau, and a client."""
    district(ctx)
    drafted(ctx)
    return api_client(ctx, clock)


def error_of(answer: Any, status: int, rule_id: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"rule_id", "article", "message_zh", "message_en", "field", "kind"}
    assert error["rule_id"] == rule_id, error
    assert error["message_zh"] and error["message_en"] and error["article"]
    return error


# ---------------------------------------------------------------------------- tokens
def test_staff_routes_need_a_good_token(ctx: ServiceContext, web: TestClient, clock: Clock) -> None:
    good = issue_token(ctx.engine, "li", clock.now)
    revoked = issue_token(ctx.engine, "li", clock.now, name="old", revoked_at=clock.now)
    assert web.get("/api/v1/me", headers=bearer(good)).json()["code"] == "li"

    for headers in (
        {},  # no token
        bearer("not-a-token"),  # unknown
        bearer(revoked),
        {"Authorization": f"Basic {good}"},  # not a bearer token
        bearer("x" * 300),  # longer than any token
    ):
        for answer in (
            web.get("/api/v1/me", headers=headers),
            web.get("/api/v1/decisions", headers=headers),
            web.post("/api/v1/actions/open_comment_period", headers=headers, json=OPEN_PERIOD),
        ):
            error = error_of(answer, 401, "AUTH")
            assert error["kind"] == "unauthenticated" and error["field"] == "Authorization"
            assert answer.headers["www-authenticate"].startswith("Bearer")
    # a bad token is refused on public routes too, rather than silently taken as the public
    error_of(web.get("/api/v1/published", headers=bearer(revoked)), 401, "AUTH")
    with Session(ctx.engine) as session:
        assert session.exec(select(CommentPeriod)).all() == []


def test_the_page_session_does_not_authenticate_the_api(ctx: ServiceContext, web: TestClient) -> None:
    from tests.api_helpers import session_cookie

    web.cookies.update(session_cookie("li"))
    error_of(web.get("/api/v1/me"), 401, "AUTH")
    error_of(web.post("/api/v1/actions/open_comment_period", json=OPEN_PERIOD), 401, "AUTH")


def test_a_disabled_user_s_token_stops_working_at_once(
    ctx: ServiceContext, web: TestClient, clock: Clock
) -> None:
    token = issue_token(ctx.engine, "li", clock.now)
    admin = issue_token(ctx.engine, "liu", clock.now)
    assert web.get("/api/v1/me", headers=bearer(token)).status_code == 200
    done = web.post(
        "/api/v1/actions/disable_user", headers=bearer(admin), json={"id": "li", "reason": "调离"}
    )
    assert done.status_code == 200, done.text
    error_of(web.get("/api/v1/me", headers=bearer(token)), 401, "AUTH")


def test_last_use_is_recorded_at_most_once_a_minute(
    ctx: ServiceContext, web: TestClient, clock: Clock
) -> None:
    token = issue_token(ctx.engine, "li", clock.now)

    def last_used() -> Any:
        with Session(ctx.engine) as session:
            return session.exec(select(ApiToken.last_used_at)).one()

    assert last_used() is None
    web.get("/api/v1/me", headers=bearer(token))
    first = last_used()
    assert first == clock.now
    clock.now += timedelta(seconds=30)
    web.get("/api/v1/me", headers=bearer(token))
    assert last_used() == first
    clock.now += timedelta(seconds=31)
    web.get("/api/v1/me", headers=bearer(token))
    assert last_used() == clock.now


# ---------------------------------------------------------------------------- actions
def test_an_action_changes_state_and_is_audited_as_the_token_s_user(
    ctx: ServiceContext, web: TestClient, clock: Clock
) -> None:
    token = issue_token(ctx.engine, "li", clock.now, name="housing-oa")
    answer = web.post("/api/v1/actions/open_comment_period", headers=bearer(token), json=OPEN_PERIOD)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["action"] == "open_comment_period" and body["data"]["last_day"] == "2026-04-02"
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == "D1")).one()
        period = session.exec(select(CommentPeriod)).one()
        assert period.status == "open" and period.decision_id == decision.id
        event = session.exec(
            select(AuditEvent).where(AuditEvent.chain == body["chain"], AuditEvent.seq == body["audit_seq"])
        ).one()
    assert event.action == "open_comment_period"
    assert event.actor == "li" and event.actor_roles == "department_staff"
    assert event.os_account == "api:housing-oa@testclient"
    assert event.occurred_at == clock.now  # the app's clock dates the write


def test_the_public_acts_without_a_token_and_is_audited_as_public(
    ctx: ServiceContext, web: TestClient, clock: Clock
) -> None:
    act(ctx, "open_comment_period", "li", "2026-03-03T09:00", **OPEN_PERIOD)
    clock.now = at("2026-03-05T10:00")
    answer = web.post(
        "/api/v1/actions/submit_public_comment", json={"decision": "D1", "text": "建议延长过渡期"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["comment"] == "C1"
    # an integration that forwards comments names itself with its token; the actor stays public
    token = issue_token(ctx.engine, "zhou", clock.now, name="12345-hotline")
    forwarded = web.post(
        "/api/v1/actions/submit_public_comment",
        headers=bearer(token),
        json={"decision": "D1", "text": "热线转来的意见"},
    )
    assert forwarded.status_code == 200, forwarded.text
    with Session(ctx.engine) as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "submit_public_comment")
            .order_by(col(AuditEvent.seq))
        ).all()
        assert len(session.exec(select(PublicComment)).all()) == 2
    assert [(e.actor, e.os_account) for e in events] == [
        ("public", "api:-@testclient"),
        ("public", "api:12345-hotline@testclient"),
    ]


def test_refusals_carry_rule_article_and_messages_and_change_nothing(
    ctx: ServiceContext, web: TestClient, clock: Clock
) -> None:
    li = bearer(issue_token(ctx.engine, "li", clock.now))
    sun = bearer(issue_token(ctx.engine, "sun", clock.now))  # the commerce bureau
    before = snapshot(ctx)

    # a guard of the procedure: a comment period shorter than 30 days needs a reason (R3)
    short = {**OPEN_PERIOD, "end_date": "2026-03-10"}
    error = error_of(web.post("/api/v1/actions/open_comment_period", headers=li, json=short), 409, "R3")
    assert error["kind"] == "refused" and error["article"] == proc.RULES["R3"].article
    assert proc.RULES["R3"].zh in error["message_zh"] and proc.RULES["R3"].en in error["message_en"]
    # the wrong role (checked before the body is even read)
    error = error_of(web.post("/api/v1/actions/issue_legality_opinion", headers=li, json={}), 403, "AUTH")
    assert error["kind"] == "forbidden" and error["field"] == "actor"
    # the right role, the wrong unit: a department acts only on the decisions it undertakes
    error = error_of(
        web.post("/api/v1/actions/open_comment_period", headers=sun, json=OPEN_PERIOD), 403, "AUTH"
    )
    assert "commerce" in error["message_en"]
    # bad input names the field
    error = error_of(
        web.post("/api/v1/actions/open_comment_period", headers=li, json={**OPEN_PERIOD, "colour": "red"}),
        422,
        "INPUT",
    )
    assert error["field"] == "colour" and error["kind"] == "invalid"
    error = error_of(
        web.post("/api/v1/actions/open_comment_period", headers=li, json={**OPEN_PERIOD, "start_date": 3}),
        422,
        "INPUT",
    )
    assert error["field"] == "start_date"
    # an unknown decision
    error = error_of(
        web.post("/api/v1/actions/open_comment_period", headers=li, json={**OPEN_PERIOD, "decision": "D9"}),
        404,
        "NOT_FOUND",
    )
    assert error["field"] == "decision" and error["kind"] == "not_found"
    assert snapshot(ctx) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"decision": "D1", "decision": "D2"}', "decision"),  # a key twice
        (b"[1, 2]", "payload"),  # not an object
        (b"{not json", "payload"),
        (b'{"decision": NaN}', "payload"),
        (b"", "payload"),
    ],
)
def test_a_body_that_is_not_one_plain_json_object_is_refused(
    ctx: ServiceContext, web: TestClient, clock: Clock, body: bytes, field: str
) -> None:
    li = bearer(issue_token(ctx.engine, "li", clock.now))
    answer = web.post(
        "/api/v1/actions/withdraw_decision", headers={**li, "Content-Type": "application/json"}, content=body
    )
    assert error_of(answer, 422, "INPUT")["field"] == field


def test_a_body_too_large_is_refused_before_it_is_read_whole(
    ctx: ServiceContext, web: TestClient, clock: Clock
) -> None:
    li = bearer(issue_token(ctx.engine, "li", clock.now))
    huge = {"decision": "D1", "reason": "x" * (api_routes.MAX_BODY + 1)}
    error = error_of(web.post("/api/v1/actions/withdraw_decision", headers=li, json=huge), 413, "INPUT")
    assert error["kind"] == "too_large"
    anonymous = {"decision": "D1", "text": "x" * (api_routes.MAX_PUBLIC_BODY + 1)}
    error_of(web.post("/api/v1/actions/submit_public_comment", json=anonymous), 413, "INPUT")
    with Session(ctx.engine) as session:
        assert session.exec(select(Decision.status)).one() == "in_procedure"


def test_anonymous_public_actions_are_rate_limited_per_address(ctx: ServiceContext, web: TestClient) -> None:
    """The portal's own limit (web.abuse.COMMENT_LIMIT), shared with the portal's form."""
    act(ctx, "open_comment_period", "li", "2026-03-03T09:00", **OPEN_PERIOD)
    answers = [
        web.post("/api/v1/actions/submit_public_comment", json={"decision": "D1", "text": f"意见{i}"})
        for i in range(COMMENT_LIMIT.count + 1)
    ]
    assert [a.status_code for a in answers] == [200] * COMMENT_LIMIT.count + [429]
    error = error_of(answers[-1], 429, "INPUT")
    assert error["kind"] == "rate_limited" and int(answers[-1].headers["retry-after"]) > 0
    with Session(ctx.engine) as session:
        assert len(session.exec(select(PublicComment)).all()) == COMMENT_LIMIT.count


# ---------------------------------------------------------------------------- reads
def test_a_department_sees_its_own_drafts_and_not_another_unit_s(
    ctx: ServiceContext, web: TestClient, clock: Clock
) -> None:
    drafted(ctx, "D2", lead_unit="commerce")
    li, sun, wang = (bearer(issue_token(ctx.engine, code, clock.now)) for code in ("li", "sun", "wang"))
    assert [d["code"] for d in web.get("/api/v1/decisions", headers=li).json()] == ["D1"]
    assert [d["code"] for d in web.get("/api/v1/decisions", headers=sun).json()] == ["D2"]
    assert [d["code"] for d in web.get("/api/v1/decisions", headers=wang).json()] == ["D1", "D2"]
    detail = web.get("/api/v1/decisions/D1", headers=li).json()
    assert detail["decision"]["lead_unit"] == "housing"
    assert [d["number"] for d in detail["drafts"]] == [1]
    assert {d["kind"] for d in detail["documents"]} >= {"draft"}
    assert detail["stages"][0]["id"] == "initiation"
    assert any(step["key"] == "legality_review_min" for step in detail["timeline"])
    # the fields the schemas declare, no more (the staff file's rows carry more); names from the procedure
    assert set(detail["documents"][0]) == {
        *("id", "stage", "kind", "title", "sha256", "size", "created_by", "created_at"),
    }
    assert set(detail["stages"][0]) == {"id", "section", "zh", "en", "status", "updated_at", "note"}
    assert detail["stages"][0]["zh"] == proc.procedure().stage("initiation").zh
    refused = web.get("/api/v1/decisions/D1", headers=sun)
    error_of(refused, 403, "AUTH")
    assert "决策D1" not in refused.text  # not even the title
    error_of(web.get("/api/v1/decisions/D1/audit", headers=sun), 403, "AUTH")
    audit = web.get("/api/v1/decisions/D1/audit", headers=li).json()
    assert [e["action"] for e in audit] == ["register_decision", "start_procedure", "submit_draft"]
    assert [e["seq"] for e in audit] == [1, 2, 3]
    assert audit[1]["prev_hash"] == audit[0]["hash"] and "backdate_reason" in audit[0]
    error_of(web.get("/api/v1/decisions/D9", headers=li), 404, "NOT_FOUND")
    # filters
    assert web.get("/api/v1/decisions?unit=commerce", headers=wang).json()[0]["code"] == "D2"
    assert web.get("/api/v1/decisions?status=published", headers=wang).json() == []
    error_of(web.get("/api/v1/decisions?status=nonsense", headers=wang), 422, "INPUT")


def test_a_confidential_decision_only_for_users_with_a_role_on_it(
    ctx: ServiceContext, web: TestClient, clock: Clock
) -> None:
    drafted(ctx, "D2", flags=["confidential"])
    for code, sees in (("li", True), ("zhou", True), ("watcher", True), ("sun", False), ("liu", True)):
        token = bearer(issue_token(ctx.engine, code, clock.now))
        listed = [d["code"] for d in web.get("/api/v1/decisions", headers=token).json()]
        assert ("D2" in listed) is sees, code
        assert web.get("/api/v1/decisions/D2", headers=token).status_code == (200 if sees else 403)


def test_my_deadlines_with_traffic_lights(ctx: ServiceContext, web: TestClient, clock: Clock) -> None:
    act(ctx, "open_comment_period", "li", "2026-03-03T09:00", **OPEN_PERIOD)
    li, wang = (
        bearer(issue_token(ctx.engine, "li", clock.now)),
        bearer(issue_token(ctx.engine, "wang", clock.now)),
    )
    mine = web.get("/api/v1/deadlines", headers=li).json()
    assert [(d["decision"], d["kind"], d["light"]) for d in mine] == [
        ("D1", "comment_period_end", "on_track")
    ]
    assert mine[0]["due_date"] == "2026-04-02" and mine[0]["article"] == "Art. 15(1)"
    kinds = proc.procedure().deadline_kinds
    assert mine[0]["zh"] == kinds["comment_period_end"].zh != "comment_period_end"
    # the decision's deadlines in the order they were set, named by the procedure
    detail = web.get("/api/v1/decisions/D1", headers=li).json()
    with Session(ctx.engine) as session:
        set_order = [
            row.kind
            for row in session.exec(
                select(Deadline).join(Decision).where(Decision.code == "D1").order_by(col(Deadline.id))
            )
        ]
    assert set_order and [(d["kind"], d["zh"], d["en"]) for d in detail["deadlines"]] == [
        (k, kinds[k].zh, kinds[k].en) for k in set_order
    ]
    assert web.get("/api/v1/deadlines", headers=wang).json() == []  # the department's, not the legal office's
    clock.now = at("2026-03-30T09:00")  # Mon: Tue, Wed, Thu left
    assert web.get("/api/v1/deadlines", headers=li).json()[0]["light"] == "due_soon"
    clock.now = at("2026-04-02T09:00")
    assert web.get("/api/v1/deadlines", headers=li).json()[0]["light"] == "due_today"
    clock.now = at("2026-04-03T09:00")  # past 24:00 of the last day, before the sweep closes it
    assert web.get("/api/v1/deadlines", headers=li).json()[0]["light"] == "overdue"


def test_traffic_lights_count_working_days() -> None:
    calendar = WorkingCalendar()
    now = at("2026-09-28T09:00")  # Monday before the National Day holiday (10-01..10-07)
    today = now.date()
    due = at("2026-10-08T23:59")  # ten calendar days ahead, three working days
    # 09-29, 09-30 and 10-08 are working days; the holiday is not counted
    assert light_of(due.date(), due, "open", now, today, calendar) == ("due_soon", 3)
    assert light_of(due.date(), due, "fired", now, today, calendar) == ("overdue", 0)
    later = at("2026-10-20T23:59")
    assert light_of(later.date(), later, "open", now, today, calendar)[0] == "on_track"


# ---------------------------------------------------------------------------- the OpenAPI document
def test_the_openapi_document_describes_the_api_and_no_page(web: TestClient) -> None:
    paths = web.get("/api/v1/openapi.json").json()["paths"]
    assert paths and all(path.startswith("/api/v1/") for path in paths), sorted(paths)


def test_the_openapi_document_has_a_route_per_action_and_the_error_schema(web: TestClient) -> None:
    document = web.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    schemas = document["components"]["schemas"]
    for name, spec in REGISTRY.items():
        operation = paths[f"/api/v1/actions/{name}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert set(body["properties"]) == set(spec.payload.model_fields), name
        assert body["additionalProperties"] is False
        assert "$defs" not in body and "#/$defs/" not in str(body)  # self-contained
        assert ", ".join(sorted(proc.ACTIONS[name].roles - {"public"})) in operation["description"] or (
            proc.ACTIONS[name].roles == {"public"}
        )
        public = proc.ACTIONS[name].roles == {"public"}
        assert ({} in operation["security"]) is public, name
    assert len([p for p in paths if p.startswith("/api/v1/actions/")]) == len(REGISTRY) == len(proc.ACTIONS)
    # the error body on every route of the API, with the rule id an enum of every rule
    for path, item in paths.items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in item.values():
            for status in ("401", "403", "404", "409", "422"):
                ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody", (path, status)
    detail = schemas["ErrorDetail"]["properties"]
    assert detail["rule_id"]["enum"] == list(proc.RULES)
    assert {"R1", "R22", "P17", "AUTH", "INPUT"} <= set(detail["rule_id"]["enum"])
    assert set(schemas["ErrorDetail"]["required"]) >= {
        "rule_id",
        "article",
        "message_zh",
        "message_en",
        "kind",
    }
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
