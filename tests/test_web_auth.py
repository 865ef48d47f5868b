"""Accounts and sign-in: argon2id passwords with a policy, set by an administrator or changed
by their owner (audited, never the password), lock-out per account and throttling per
address, rehashing, API tokens, the demo's passwords, the CLI and the web pages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from flows.errors import ProcedureError
from flows.service import ServiceContext, accounts, row_digests
from flows.service.accounts import (
    ADDRESS_FAILURES,
    LOCK_DURATION,
    MAX_FAILURES,
    actor_for_token,
    issue_api_token,
    list_api_tokens,
    revoke_api_token,
    set_demo_passwords,
    set_password,
    verify_sign_in,
)
from flows.service.audit import verify_all
from models import ApiToken, AuditEvent, Credential, User
from models.db import make_engine, mark_database
from tests.helpers import act, at, district
from tests.web_helpers import (  # noqa: F401  (fast_passwords is a fixture)
    another_browser,
    csrf_of,
    fast_passwords,
    form_token,
    give_password,
    password_of,
    sign_in,
    signed_in_client,
    web_client,
)
from web.csrf import CSRF_FIELD

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
START = at("2026-03-02T09:00")


class Clock:
    """A clock the test moves."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(engine: Engine, tmp_path: Path, clock: Clock, fast_passwords: None) -> ServiceContext:  # noqa: F811
    """A district on a context whose clock the test moves, with cheap hashes."""
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data", clock=clock)
    district(ctx)
    return ctx


def audit_events(ctx: ServiceContext, action: str) -> list[AuditEvent]:
    with Session(ctx.engine) as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        return list(session.exec(query))


def credential(ctx: ServiceContext, code: str) -> Credential:
    with Session(ctx.engine) as session:
        user = session.exec(select(User).where(User.code == code)).one()
        return session.exec(select(Credential).where(Credential.user_id == user.id)).one()


def error_of(call: object, *args: object, **kwargs: object) -> ProcedureError:
    with pytest.raises(ProcedureError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


# ---------------------------------------------------------------- passwords
def test_the_production_hasher_is_argon2id_with_the_rfc_9106_parameters() -> None:
    hasher = accounts.HASHER
    assert hasher.type.name == "ID"
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) >= (3, 64 * 1024, 4)


def test_a_password_is_kept_as_an_argon2id_hash_and_audited_without_it(timed: ServiceContext) -> None:
    done = set_password(timed, "liu", "li", "li-secret-2026")
    stored = credential(timed, "li")
    assert stored.password_hash.startswith("$argon2id$") and "li-secret-2026" not in stored.password_hash
    [event] = audit_events(timed, "set_password")
    assert event.actor == "liu" and event.seq == done.audit_seq
    assert event.payload["input"] == {"users": ["li"]}
    assert "li-secret-2026" not in json.dumps(event.payload, ensure_ascii=False)
    signed = verify_sign_in(timed, "li", "li-secret-2026", "10.0.0.1")
    assert signed.ok and signed.actor is not None and signed.actor.roles == {"department_staff"}
    assert signed.actor.unit_code == "housing"
    assert credential(timed, "li").last_sign_in_at == START
    with Session(timed.engine) as session:
        assert verify_all(session)[2] == [] and row_digests.verify(session)[1] == []


def test_the_password_policy_refuses_naming_the_field_chinese_first(timed: ServiceContext) -> None:
    act(
        timed,
        "add_user",
        "liu",
        "2026-03-01T09:00",
        id="zhangxiaoming",
        unit="housing",
        roles=["department_staff"],
    )
    cases = {
        "short-pw": "至少须有 10 个字符",
        "ZhangXiaoMing": "不得与账号相同",
        "          ": "不得全为空白",
        "tab\tin-the-middle": "控制字符或换行",
        "x" * 257: "不得超过 256 个字符",
    }
    for password, zh in cases.items():
        error = error_of(set_password, timed, "liu", "zhangxiaoming", password)
        assert (error.rule_id, error.field, error.kind) == ("INPUT", "password", "invalid")
        assert zh in error.message_zh and error.message_en
        assert str(error).index(zh) < str(error).index(error.message_en)
    assert audit_events(timed, "set_password") == []


def test_users_change_their_own_with_the_current_password_admins_set_anyones(timed: ServiceContext) -> None:
    set_password(timed, "li", "li", "first-password-li")  # the first one needs no current password
    wrong = error_of(set_password, timed, "li", "li", "second-password-li", old_password="not-it-at-all")
    assert (wrong.rule_id, wrong.field) == ("AUTH", "old_password")
    missing = error_of(set_password, timed, "li", "li", "second-password-li")
    assert missing.field == "old_password"
    assert credential(timed, "li").failed_attempts == 2  # each counts as a failed sign-in
    same = error_of(set_password, timed, "li", "li", "first-password-li", old_password="first-password-li")
    assert (same.rule_id, same.field) == ("INPUT", "password")
    set_password(timed, "li", "li", "second-password-li", old_password="first-password-li")
    assert [e.actor for e in audit_events(timed, "change_password")] == ["li", "li"]
    others = error_of(set_password, timed, "li", "wang", "wangs-new-password")
    assert (others.rule_id, others.kind) == ("AUTH", "forbidden")
    assert error_of(set_password, timed, "liu", "nobody", "some-password-1").rule_id == "NOT_FOUND"
    assert error_of(set_password, timed, "public", "li", "some-password-1").rule_id == "AUTH"
    # an administrator's reset clears the failures and ends the account's sessions
    verify_sign_in(timed, "li", "typed-wrong-password", "10.0.0.1")
    assert credential(timed, "li").failed_attempts == 1
    epoch = credential(timed, "li").session_epoch
    set_password(timed, "liu", "li", "third-password-li")
    assert credential(timed, "li").failed_attempts == 0
    assert credential(timed, "li").session_epoch == epoch + 1
    assert verify_sign_in(timed, "li", "third-password-li", "10.0.0.1").ok
    assert not verify_sign_in(timed, "li", "second-password-li", "10.0.0.1").ok


def test_a_disabled_account_cannot_sign_in_or_get_a_password(timed: ServiceContext) -> None:
    give_password(timed, "li")
    act(timed, "disable_user", "liu", "2026-03-01T09:00", id="li", reason="调离")
    assert verify_sign_in(timed, "li", password_of("li"), "10.0.0.1").outcome == "disabled"
    assert verify_sign_in(timed, "li", "not-the-password", "10.0.0.1").outcome == "wrong"
    assert error_of(set_password, timed, "liu", "li", "a-new-password").rule_id == "STATE"


# ---------------------------------------------------------------- sign-in limits
def test_five_failures_in_a_row_lock_the_account_for_fifteen_minutes(
    timed: ServiceContext, clock: Clock
) -> None:
    give_password(timed, "li")
    for _ in range(MAX_FAILURES - 1):
        assert verify_sign_in(timed, "li", "not-the-password", "10.0.0.1").outcome == "wrong"
    locked = verify_sign_in(timed, "li", "not-the-password", "10.0.0.2")
    assert locked.outcome == "locked" and locked.locked_until == START + LOCK_DURATION
    # locked: even the right password is refused, and the lock is not moved on
    clock.advance(timedelta(minutes=14))
    still = verify_sign_in(timed, "li", password_of("li"), "10.0.0.3")
    assert still.outcome == "locked" and still.locked_until == START + LOCK_DURATION
    error = error_of(set_password, timed, "li", "li", "another-password", old_password=password_of("li"))
    assert error.rule_id == "AUTH" and "锁定" in error.message_zh
    clock.advance(timedelta(minutes=1))
    assert verify_sign_in(timed, "li", password_of("li"), "10.0.0.3").ok
    # a success clears the count: four more failures do not lock
    for _ in range(MAX_FAILURES - 1):
        assert verify_sign_in(timed, "li", "not-the-password", "10.0.0.4").outcome == "wrong"
    assert verify_sign_in(timed, "li", password_of("li"), "10.0.0.4").ok
    # other accounts are not affected by li's lock
    give_password(timed, "wang")
    assert verify_sign_in(timed, "wang", password_of("wang"), "10.0.0.1").ok


def test_failures_from_one_address_over_any_accounts_are_throttled(
    timed: ServiceContext, clock: Clock
) -> None:
    give_password(timed, "li")
    for index in range(ADDRESS_FAILURES):
        code = f"guess{index}"  # unknown accounts count too (each name once: none gets locked)
        assert verify_sign_in(timed, code, "password-guess", "203.0.113.9").outcome == "wrong"
        clock.advance(timedelta(seconds=10))
    throttled = verify_sign_in(timed, "li", password_of("li"), "203.0.113.9")
    assert throttled.outcome == "throttled"
    assert throttled.retry_after == 600 - ADDRESS_FAILURES * 10  # when the first failure leaves the window
    assert verify_sign_in(timed, "li", password_of("li"), "203.0.113.10").ok  # another address
    clock.advance(timedelta(seconds=throttled.retry_after))
    assert verify_sign_in(timed, "li", password_of("li"), "203.0.113.9").ok


def test_an_unknown_account_costs_a_hash_verification_like_a_known_one(
    timed: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            calls.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "HASHER", Counting(time_cost=1, memory_cost=1024, parallelism=1))
    give_password(timed, "li")
    for code in ("li", "nobody", "zhao"):  # zhao exists but has no password
        assert verify_sign_in(timed, code, "password-guess", "10.0.0.1").outcome == "wrong"
    assert len(calls) == 3 and all(h.startswith("$argon2id$v=19$m=1024,t=1,p=1$") for h in calls)


def test_a_hash_with_older_parameters_is_made_again_at_sign_in_and_audited(
    timed: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    give_password(timed, "li")  # with the demo's cheap parameters
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    monkeypatch.setattr(accounts, "HASHER", stronger)
    assert verify_sign_in(timed, "li", password_of("li"), "10.0.0.1").ok
    assert credential(timed, "li").password_hash.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    [event] = audit_events(timed, "rehash_password")
    assert event.actor == "li" and event.payload["result"]["argon2"]["memory_cost"] == 2048
    assert verify_sign_in(timed, "li", password_of("li"), "10.0.0.1").ok
    assert len(audit_events(timed, "rehash_password")) == 1  # once
    with Session(timed.engine) as session:
        assert verify_all(session)[2] == [] and row_digests.verify(session)[1] == []


def test_the_demo_passwords_are_only_for_a_database_marked_demo(
    timed: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = error_of(set_demo_passwords, timed, "liu", {"li": "demo-li-2026"})
    assert (error.rule_id, error.field) == ("AUTH", "database")
    assert credential_count(timed) == 0
    mark_database(timed.engine, "demo", "tests")
    demo = ServiceContext(engine=timed.engine, clock=timed.clock)
    assert error_of(set_demo_passwords, demo, "li", {"li": "demo-li-2026"}).rule_id == "AUTH"
    set_demo_passwords(demo, "liu", {"li": "demo-li-2026", "wang": "demo-wang-2026"})
    assert credential(demo, "li").password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    [event] = audit_events(demo, "set_password")
    assert event.payload["input"] == {"users": ["li", "wang"]}
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    assert verify_sign_in(demo, "wang", "demo-wang-2026", "10.0.0.1").ok  # upgraded on sign-in
    assert credential(demo, "wang").password_hash.startswith("$argon2id$v=19$m=2048,t=2,p=1$")


def credential_count(ctx: ServiceContext) -> int:
    with Session(ctx.engine) as session:
        return len(session.exec(select(Credential)).all())


# ---------------------------------------------------------------- API tokens
def test_an_api_token_acts_as_its_user_until_revoked(timed: ServiceContext, clock: Clock) -> None:
    assert error_of(issue_api_token, timed, "li", "li", "系统对接").rule_id == "AUTH"
    assert error_of(issue_api_token, timed, "liu", "public", "x").field == "user"
    assert error_of(issue_api_token, timed, "liu", "li", "bad\nname").field == "name"
    secret = issue_api_token(timed, "liu", "li", "政务服务平台对接")
    assert secret.startswith("dfk_") and len(secret) > 40
    with Session(timed.engine) as session:
        row = session.exec(select(ApiToken)).one()
        assert row.token_hash == accounts.token_digest(secret) and secret not in row.token_hash
        actor = actor_for_token(session, secret, START)
        assert actor is not None and actor.code == "li" and actor.unit_code == "housing"
        assert actor_for_token(session, secret[:-1] + "x", START) is None
        assert actor_for_token(session, "Bearer nonsense", START) is None
    with Session(timed.engine) as session:  # the time of use was committed, to the minute
        assert session.exec(select(ApiToken)).one().last_used_at == START
        actor_for_token(session, secret, START + timedelta(seconds=30))
    with Session(timed.engine) as session:
        assert session.exec(select(ApiToken)).one().last_used_at == START
        [info] = list_api_tokens(session, "li")
        assert (info.user, info.name, info.created_by, info.revoked_at) == (
            "li",
            "政务服务平台对接",
            "liu",
            None,
        )
    assert error_of(revoke_api_token, timed, "wang", info.id).rule_id == "AUTH"  # another user's token
    revoke_api_token(timed, "li", info.id)  # the user it acts as may revoke it
    assert error_of(revoke_api_token, timed, "liu", info.id).rule_id == "STATE"
    assert error_of(revoke_api_token, timed, "liu", 999).rule_id == "NOT_FOUND"
    with Session(timed.engine) as session:
        assert actor_for_token(session, secret, START) is None
    issued, revoked = audit_events(timed, "issue_api_token"), audit_events(timed, "revoke_api_token")
    assert issued[0].payload["input"] == {"user": "li", "name": "政务服务平台对接"}
    assert revoked[0].actor == "li"
    assert all(secret not in json.dumps(e.payload) for e in issued + revoked)
    with Session(timed.engine) as session:
        assert row_digests.verify(session)[1] == []


def test_a_disabled_users_token_stops_working(timed: ServiceContext) -> None:
    secret = issue_api_token(timed, "liu", "li", "对接")
    act(timed, "disable_user", "liu", "2026-03-01T09:00", id="li", reason="调离")
    with Session(timed.engine) as session:
        assert actor_for_token(session, secret, START) is None


# ---------------------------------------------------------------- the CLI
def district_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'district.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--database", url]).exit_code == 0
    made = runner.invoke(app, ["init", str(ROOT / "examples" / "district.yaml"), "--database", url])
    assert made.exit_code == 0, made.output
    return url


def cli_context(url: str) -> ServiceContext:
    return ServiceContext(engine=make_engine(url))


def test_user_add_with_a_password_from_stdin_and_user_password(tmp_path: Path, fast_passwords: None) -> None:  # noqa: F811
    url = district_database(tmp_path)
    base = ["user", "add", "xu", "--unit", "justice", "--role", "legal_reviewer", "--actor", "admin"]
    short = runner.invoke(app, [*base, "--password-stdin", "--database", url], input="short\n")
    assert short.exit_code == 2 and "[password]" in short.output and "至少须有 10 个字符" in short.output
    ctx = cli_context(url)
    with Session(ctx.engine) as session:  # nothing was added
        assert session.exec(select(User).where(User.code == "xu")).first() is None
    added = runner.invoke(app, [*base, "--password-stdin", "--database", url], input="xu-first-password\n")
    assert added.exit_code == 0, added.output
    assert '"action": "set_password"' in added.output and "xu-first-password" not in added.output
    assert verify_sign_in(ctx, "xu", "xu-first-password", "cli").ok
    # an administrator sets it again; the user changes it with the current one
    reset = ["user", "password", "xu", "--actor", "admin", "--password-stdin", "--database", url]
    assert runner.invoke(app, reset, input="xu-second-password\n").exit_code == 0
    own = ["user", "password", "xu", "--actor", "xu", "--password-stdin", "--database", url]
    wrong = runner.invoke(app, own, input="not-the-current\nxu-third-password\n")
    assert wrong.exit_code == 2 and "AUTH" in wrong.output and "old_password" in wrong.output
    changed = runner.invoke(app, own, input="xu-second-password\nxu-third-password\n")
    assert changed.exit_code == 0 and '"action": "change_password"' in changed.output
    assert verify_sign_in(ctx, "xu", "xu-third-password", "cli").ok
    others = runner.invoke(
        app,
        ["user", "password", "admin", "--actor", "xu", "--password-stdin", "--database", url],
        input="admin-password-1\n",
    )
    assert others.exit_code == 2 and "AUTH" in others.output
    interactive = runner.invoke(
        app,
        ["user", "password", "zhou", "--actor", "admin", "--database", url],
        input="zhou-password-1\nzhou-password-1\n",
    )
    assert interactive.exit_code == 0 and "zhou-password-1" not in interactive.output
    assert verify_sign_in(ctx, "zhou", "zhou-password-1", "cli").ok
    ctx.engine.dispose()


def test_token_create_list_and_revoke(tmp_path: Path) -> None:
    url = district_database(tmp_path)
    created = runner.invoke(
        app, ["token", "create", "zhou", "--name", "OA 对接", "--actor", "admin", "--database", url]
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("dfk_") and "仅显示这一次" in created.output
    refused_create = runner.invoke(
        app, ["token", "create", "zhou", "--name", "x", "--actor", "zhou", "--database", url]
    )
    assert refused_create.exit_code == 2 and "AUTH" in refused_create.output
    listing = runner.invoke(app, ["token", "list", "--database", url]).output
    assert "OA 对接" in listing and "zhou" in listing and "有效 / active" in listing and secret not in listing
    ctx = cli_context(url)
    with Session(ctx.engine) as session:
        [info] = list_api_tokens(session)
        assert actor_for_token(session, secret, datetime.now().astimezone()) is not None
    revoked = runner.invoke(app, ["token", "revoke", str(info.id), "--actor", "admin", "--database", url])
    assert revoked.exit_code == 0, revoked.output
    assert (
        "已吊销 / revoked"
        in runner.invoke(app, ["token", "list", "--user", "zhou", "--database", url]).output
    )
    with Session(ctx.engine) as session:
        assert actor_for_token(session, secret, datetime.now().astimezone()) is None
    ctx.engine.dispose()


# ---------------------------------------------------------------- the web pages
def test_the_sign_in_page_speaks_chinese_first_and_carries_a_csrf_field(timed: ServiceContext) -> None:
    web = web_client(timed)
    page = web.get("/login", params={"next": "/decisions/D1"})
    assert page.status_code == 200 and "工作人员登录" in page.text and "账号" in page.text
    assert csrf_of(page.text) and 'name="next" value="/decisions/D1"' in page.text
    assert 'autocomplete="current-password"' in page.text
    web.get("/lang/en")
    assert "Staff sign-in" in web.get("/login").text


def test_signing_in_goes_on_only_to_a_path_on_this_site(timed: ServiceContext) -> None:
    give_password(timed, "li")
    for target, expected in (
        ("/decisions/D1?tab=audit", "/decisions/D1?tab=audit"),
        ("https://evil.example/", "/work"),
        ("//evil.example/x", "/work"),
        ("/\\evil.example", "/work"),
        ("javascript:alert(1)", "/work"),
        ("", "/work"),
    ):
        web = web_client(timed)
        answer = sign_in(web, "li", next=target)
        assert answer.status_code == 303 and answer.headers["location"] == expected, target
    page = web.get("/account/password")  # the masthead names the signed-in user
    assert page.status_code == 200 and 'href="/account/password" title="修改密码">li</a>' in page.text


def test_a_wrong_password_keeps_the_account_typed_and_never_echoes_the_password(
    timed: ServiceContext,
) -> None:
    give_password(timed, "li")
    web = web_client(timed)
    answer = sign_in(web, "li", "typed-wrong-password")
    assert answer.status_code == 401 and "账号或密码不正确" in answer.text
    assert 'value="li"' in answer.text and "typed-wrong-password" not in answer.text
    unknown = sign_in(web, "nobody", "typed-wrong-password")
    assert unknown.status_code == 401 and "账号或密码不正确" in unknown.text  # the same answer
    empty = web.post("/login", data={CSRF_FIELD: form_token(web), "user": "li", "password": ""})
    assert empty.status_code == 422 and "请输入账号和密码" in empty.text


def test_a_locked_account_is_shown_as_locked_with_until_when(timed: ServiceContext, clock: Clock) -> None:
    give_password(timed, "li")
    web = web_client(timed)
    for _ in range(MAX_FAILURES - 1):
        assert sign_in(web, "li", "typed-wrong-password").status_code == 401
    locked = sign_in(web, "li", "typed-wrong-password")
    assert locked.status_code == 423
    assert "账号已锁定" in locked.text and "2026-03-02 09:15" in locked.text  # local time
    assert sign_in(web, "li").status_code == 423  # the right password, still locked
    clock.advance(LOCK_DURATION)
    assert sign_in(web, "li").status_code == 303


def test_a_throttled_address_gets_429_with_retry_after(timed: ServiceContext) -> None:
    give_password(timed, "li")
    web = web_client(timed, address="198.51.100.7")
    for index in range(ADDRESS_FAILURES):
        assert sign_in(web, f"guess{index}", "typed-wrong-password").status_code == 401
    answer = sign_in(web, "li")
    assert answer.status_code == 429 and answer.headers["retry-after"] == "600"
    assert "此地址登录失败次数过多" in answer.text and "10 分钟" in answer.text
    assert sign_in(web_client(timed, address="198.51.100.8"), "li").status_code == 303


def test_the_password_page_shows_each_refusal_next_to_its_field(timed: ServiceContext) -> None:
    web = signed_in_client(timed, "li")
    other = another_browser(web)
    assert sign_in(other, "li").status_code == 303
    token = form_token(web, "/account/password")

    def post(old: str, new: str, confirm: str | None = None) -> str:
        answer = web.post(
            "/account/password",
            data={
                CSRF_FIELD: token,
                "old_password": old,
                "new_password": new,
                "confirm_password": confirm or new,
            },
        )
        return f"{answer.status_code} {answer.text}"

    mismatch = post(password_of("li"), "new-password-li", "new-password-lj")
    assert (
        mismatch.startswith("422")
        and 'id="confirm_password-error"' in mismatch
        and "两次输入的新密码不一致" in mismatch
    )
    wrong = post("typed-wrong-password", "new-password-li")
    assert wrong.startswith("403") and 'id="old_password-error"' in wrong and "当前密码不正确" in wrong
    assert '<span class="rule-id">AUTH</span>' in wrong
    short = post(password_of("li"), "short")
    assert short.startswith("422") and 'id="new_password-error"' in short and "至少须有 10 个字符" in short
    done = web.post(
        "/account/password",
        data={
            CSRF_FIELD: token,
            "old_password": password_of("li"),
            "new_password": "new-password-li",
            "confirm_password": "new-password-li",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/account/password?done=1"
    assert "密码已修改" in web.get(done.headers["location"]).text  # this session goes on
    assert other.get("/account/password").status_code == 303  # the other one ended
    assert verify_sign_in(timed, "li", "new-password-li", "10.0.0.1").ok


def test_the_password_page_needs_a_signed_in_user(timed: ServiceContext) -> None:
    answer = web_client(timed).get("/account/password")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/account/password"


def test_signing_out_ends_every_session_of_the_account(timed: ServiceContext) -> None:
    office = signed_in_client(timed, "li")
    laptop = another_browser(office)
    assert sign_in(laptop, "li").status_code == 303
    kept = dict(laptop.cookies)
    out = office.post("/logout", data={CSRF_FIELD: form_token(office, "/account/password")})
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert office.get("/account/password").status_code == 303
    assert laptop.get("/account/password").status_code == 303
    replay = another_browser(office)
    replay.cookies.update(kept)  # the cookie as it was before signing out
    assert replay.get("/account/password").status_code == 303
