"""Accounts: local passwords, sign-in and API tokens. Passwords and tokens are kept only as
hashes; neither ever enters an audit payload or a log.

Passwords (`set_password`) are argon2id hashes (argon2-cffi's `PasswordHasher`, RFC 9106
low-memory profile). An administrator sets anyone's; users change their own with their
current password. Each change is an audited event on the jurisdiction's chain
(`set_password`, `change_password`) naming the account, never the password. A new password
ends the account's web sessions (`Credential.session_epoch`).

Sign-in (`verify_sign_in`) is limited twice:

- per account, in the database (every web process sees it): `MAX_FAILURES` failures in a
  row lock the account for `LOCK_DURATION`; a locked account is told so, with until when;
- per client address, in memory (`AddressThrottle`, one per process and database):
  `ADDRESS_FAILURES` failures within `ADDRESS_WINDOW`, over all accounts, known or not, and
  the address waits until the oldest of them leaves the window. With several web processes
  each keeps its own count, so an address may try that many times per process.

Neither the answer nor its timing tells which accounts exist. An unknown account costs the
same hash verification as a known one (a dummy hash); a password longer than any account's
is refused before any account is read; and a name without a password (unknown, or an account
never given one) is counted and locked as an account is (`UnknownNames`, in memory), so that
it too is shown as locked after `MAX_FAILURES` failures, until the same minute. A hash made with older argon2
parameters is made again at the next successful sign-in (an audited `rehash_password`).
Failed attempts are logged, not audited: they would flood the chain, and the bookkeeping
columns they move are left out of the row digests (`row_digests.VOLATILE`).

API tokens (`issue_api_token`, `revoke_api_token`, `actor_for_token`) let other government
systems call the JSON API as a user: the secret is shown once and only its SHA-256 is kept.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal
from weakref import WeakKeyDictionary

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows import hygiene
from flows.errors import ProcedureError, invalid, not_found, refusal
from flows.service import audit
from flows.service.framework import Actor, ServiceContext, load_actor, require_role, the_jurisdiction
from models import ApiToken, Credential, User
from models.db import transact

log = logging.getLogger(__name__)

# argon2id with the RFC 9106 low-memory profile (t=3, m=64 MiB, p=4): about 0.2 s a hash
HASHER = PasswordHasher()
# a demo's passwords are published; its hashes are made cheaply (argon2id, t=1, m=1 MiB)
# and made again with HASHER's parameters at each account's first sign-in
DEMO_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PASSWORD_MIN = 10
PASSWORD_MAX = 256  # characters; argon2 takes any length, a form does not need more
MAX_FAILURES = 5  # failed sign-ins in a row that lock an account ...
LOCK_DURATION = timedelta(minutes=15)  # ... for this long
ADDRESS_FAILURES = 20  # failed sign-ins from one address, over all accounts ...
ADDRESS_WINDOW = timedelta(minutes=10)  # ... within this window
TOKEN_PREFIX = "dfk_"  # makes a leaked token recognisable to secret scanners
TOKEN_NAME_MAX = 100
TOKEN_TOUCH = timedelta(minutes=1)  # last_used_at is kept to the minute: no write per call
ADMIN = frozenset({"admin"})


# ---------------------------------------------------------------------------- passwords
def password_problem(user_code: str, password: str) -> tuple[str, str] | None:
    """Why `password` may not be the password of `user_code` (zh, en), or None."""
    if len(password) < PASSWORD_MIN:
        return f"密码至少须有 {PASSWORD_MIN} 个字符", f"a password needs at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"密码不得超过 {PASSWORD_MAX} 个字符", f"a password has at most {PASSWORD_MAX} characters"
    if not password.strip():
        return "密码不得全为空白", "a password cannot be only spaces"
    if password.strip().casefold() == user_code.strip().casefold():
        return "密码不得与账号相同", "the password cannot be the account name"
    found = hygiene.text_problem(password, multiline=False)
    if found is not None:
        return "密码不得含控制字符或换行", "a password cannot contain control characters or line breaks"
    return None


def check_password_policy(user_code: str, password: str, field: str = "password") -> None:
    """Refuse (INPUT, naming `field`) a password the policy does not accept."""
    problem = password_problem(user_code, password)
    if problem is not None:
        raise invalid(field, *problem)


@cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int, hash_len: int, salt_len: int) -> str:
    """A hash with the current parameters, verified in place of an account that has none."""
    hasher = PasswordHasher(time_cost, memory_cost, parallelism, hash_len, salt_len)
    return hasher.hash(secrets.token_urlsafe(16))


def _matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one `password_hash` was made from. Without a hash the same
    work is done against a dummy, and the answer is no."""
    hasher = HASHER
    if len(password) > PASSWORD_MAX:
        return False  # no account has such a password; no hashing of megabytes
    target = password_hash or _dummy_hash(
        hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len, hasher.salt_len
    )
    try:
        return hasher.verify(target, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Account:
    """A user as sign-in sees it (read without locks)."""

    user_id: int
    code: str
    active: bool
    password_hash: str | None
    locked_until: datetime | None
    session_epoch: int
    timezone: str


def read_account(session: Session, user_code: str) -> Account | None:
    """The user `user_code` of the jurisdiction with its credential, or None."""
    jurisdiction = the_jurisdiction(session)
    row = session.exec(
        select(User, Credential)
        .outerjoin(Credential, col(Credential.user_id) == col(User.id))
        .where(User.jurisdiction_id == jurisdiction.id, User.code == user_code)
    ).first()
    if row is None:
        return None
    user, credential = row
    return Account(
        user_id=user.id or 0,
        code=user.code,
        active=user.active,
        password_hash=credential.password_hash if credential else None,
        locked_until=credential.locked_until if credential else None,
        session_epoch=credential.session_epoch if credential else 0,
        timezone=jurisdiction.timezone,
    )


@dataclass(frozen=True)
class PasswordSet:
    users: tuple[str, ...]
    changed_at: datetime
    session_epoch: int  # of the (last) account: what its web session now carries
    audit_seq: int  # of the event on the jurisdiction's chain


def set_password(
    ctx: ServiceContext,
    actor_code: str,
    user_code: str,
    password: str,
    now: datetime | None = None,
    *,
    old_password: str | None = None,
) -> PasswordSet:
    """Set `user_code`'s password. An administrator sets anyone's; users change their own
    with their current password (`old_password`; not needed for the first one). A wrong
    current password counts as a failed sign-in. The account's failures and lock are cleared
    and its web sessions end. Audited on the jurisdiction's chain without the password."""
    check_password_policy(user_code, password)
    moment = ctx.write_time(now)
    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        actor = load_actor(session, jurisdiction, actor_code)
        account = read_account(session, user_code)
    if account is None:
        raise not_found("user", user_code)
    own = actor.code == account.code
    if not own:
        require_role(actor, ADMIN, "设置他人的密码", "setting another user's password")
    if not account.active:
        raise refusal("STATE", f"用户 {user_code} 已停用", f"user {user_code} is disabled", field="user")
    expected: str | None = None
    if own and account.password_hash is not None:
        if account.locked_until is not None and account.locked_until > moment:
            raise _locked_error(account.locked_until, "old_password")
        if old_password is None or not _matches(account.password_hash, old_password):
            locked_until = _record_failure(ctx, account.user_id, moment)
            log.info("password change for %s: the current password was wrong", account.code)
            if locked_until is not None:
                raise _locked_error(locked_until, "old_password")
            raise refusal(
                "AUTH",
                "当前密码不正确",
                "the current password is wrong",
                field="old_password",
                kind="forbidden",
            )
        if old_password == password:
            raise invalid(
                "password", "新密码须与当前密码不同", "the new password must differ from the current one"
            )
        expected = account.password_hash
    new_hash = HASHER.hash(password)  # before the transaction: no lock is held while hashing
    action = "change_password" if own else "set_password"
    return transact(
        ctx.engine,
        lambda session: _store(session, ctx, actor.code, {user_code: new_hash}, moment, action, expected),
    )


def set_demo_passwords(
    ctx: ServiceContext, admin: str, passwords: Mapping[str, str], now: datetime | None = None
) -> PasswordSet:
    """Give a demo's accounts their published passwords in one audited event. Only on a
    database marked `demo`; the hashes are cheap (`DEMO_HASHER`) and are made again with
    the full parameters at each account's first sign-in."""
    if ctx.database_kind != "demo":
        raise refusal(
            "AUTH",
            f"公开的演示密码只能用于演示数据库（此数据库为 {ctx.database_kind}）",
            f"published demo passwords are only for a demo database (this one is {ctx.database_kind})",
            field="database",
            kind="forbidden",
        )
    for code, password in passwords.items():
        check_password_policy(code, password, f"passwords.{code}")
    moment = ctx.write_time(now)
    hashes = {code: DEMO_HASHER.hash(password) for code, password in passwords.items()}
    with Session(ctx.engine) as session:
        require_role(
            load_actor(session, the_jurisdiction(session), admin), ADMIN, "设置密码", "setting passwords"
        )
    return transact(
        ctx.engine, lambda session: _store(session, ctx, admin, hashes, moment, "set_password", None)
    )


def _store(
    session: Session,
    ctx: ServiceContext,
    actor_code: str,
    hashes: Mapping[str, str],
    now: datetime,
    action: str,
    expected: str | None,
) -> PasswordSet:
    """Write the accounts' new hashes and the one audit event that covers them. `expected`:
    the hash the current password was checked against (a change by the user), which must
    still be the stored one."""
    jurisdiction = the_jurisdiction(session, lock=True)  # serialise appends to the set-up chain
    actor = load_actor(session, jurisdiction, actor_code)
    epoch = 0
    for code, password_hash in hashes.items():
        target = load_actor(session, jurisdiction, code, "user")  # exists and is active
        if target.user_id is None:
            raise not_found("user", code)
        credential = session.exec(
            select(Credential).where(Credential.user_id == target.user_id).with_for_update()
        ).first()
        if expected is not None and (credential is None or credential.password_hash != expected):
            raise refusal(
                "STATE",
                "密码已在此期间被修改，请重试",
                "the password was changed meanwhile; try again",
                field="old_password",
            )
        if credential is None:
            credential = Credential(user_id=target.user_id, password_hash=password_hash, changed_at=now)
        else:
            credential.password_hash = password_hash
            credential.changed_at = now
            credential.failed_attempts = 0
            credential.locked_until = None
            credential.session_epoch += 1
        session.add(credential)
        epoch = credential.session_epoch
    session.flush()
    users = tuple(hashes)
    event = _audit(
        session,
        ctx,
        jurisdiction.id,
        actor,
        action,
        {"input": {"users": list(users)}, "result": {"changed_at": now.isoformat()}},
        now,
    )
    return PasswordSet(users, now, epoch, event.seq)


def _audit(
    session: Session,
    ctx: ServiceContext,
    jurisdiction_id: int | None,
    actor: Actor,
    action: str,
    payload: dict[str, Any],
    now: datetime,
) -> audit.Appended:
    """An account event on the jurisdiction's chain (the caller holds the jurisdiction's lock)."""
    return audit.append(
        session,
        chain=f"jurisdiction:{jurisdiction_id}",
        action=action,
        actor=actor.code,
        actor_roles=actor.roles_text,
        occurred_at=now,
        payload=payload,
        decision_id=None,
        os_account=ctx.os_account,
    )


def _locked_error(until: datetime, field: str) -> ProcedureError:
    return refusal(
        "AUTH",
        f"账号已锁定，至 {until.isoformat(timespec='minutes')}",
        f"the account is locked until {until.isoformat(timespec='minutes')}",
        field=field,
        kind="forbidden",
    )


def _record_failure(ctx: ServiceContext, user_id: int, now: datetime) -> datetime | None:
    """Count one failed attempt on the account; the lock's end if the account is (now) locked."""

    def work(session: Session) -> datetime | None:
        credential = session.exec(
            select(Credential).where(Credential.user_id == user_id).with_for_update()
        ).first()
        if credential is None:
            return None
        if credential.locked_until is not None and credential.locked_until > now:
            return credential.locked_until
        credential.failed_attempts += 1
        session.add(credential)
        if credential.failed_attempts < MAX_FAILURES:
            return None
        credential.failed_attempts = 0  # after the lock, the account has its tries again
        credential.locked_until = now + LOCK_DURATION
        return credential.locked_until

    return transact(ctx.engine, work)


def end_sessions(ctx: ServiceContext, user_code: str) -> int:
    """Sign the account out everywhere: every web session it holds stops working. Returns
    the new session number. (Bookkeeping, not audited: it changes no record.)"""

    def work(session: Session) -> int:
        account = read_account(session, user_code)
        if account is None:
            raise not_found("user", user_code)
        credential = session.exec(
            select(Credential).where(Credential.user_id == account.user_id).with_for_update()
        ).first()
        if credential is None:
            return 0
        credential.session_epoch += 1
        session.add(credential)
        return credential.session_epoch

    return transact(ctx.engine, work)


# ---------------------------------------------------------------------------- sign-in
class AddressThrottle:
    """Failed sign-ins per client address within a sliding window, kept in memory. Thread
    safe (the web app answers requests on a thread pool); at most `max_addresses` addresses
    are remembered, the longest quiet forgotten first."""

    def __init__(
        self,
        limit: int = ADDRESS_FAILURES,
        window: timedelta = ADDRESS_WINDOW,
        max_addresses: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, address: str, now: datetime) -> int:
        """Seconds until `address` may try again; 0 if it may now."""
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.limit:
                return 0
            return max(1, math.ceil((times[-self.limit] + self.window - now).total_seconds()))

    def record(self, address: str, now: datetime) -> None:
        with self._lock:
            times = self._recent(address, now)
            times.append(now)
            self._failures.pop(address, None)
            self._failures[address] = times  # the most recently failing address goes last
            while len(self._failures) > self.max_addresses:
                del self._failures[next(iter(self._failures))]


_THROTTLES: WeakKeyDictionary[Engine, AddressThrottle] = WeakKeyDictionary()
_THROTTLES_LOCK = threading.Lock()


def address_throttle(engine: Engine) -> AddressThrottle:
    """This process's per-address count for the database behind `engine`."""
    with _THROTTLES_LOCK:
        throttle = _THROTTLES.get(engine)
        if throttle is None:
            throttle = _THROTTLES[engine] = AddressThrottle()
        return throttle


class UnknownNames:
    """Failed sign-ins on names that have no password (no such account, or one never given a
    password), counted exactly as `_record_failure` counts an account's: `MAX_FAILURES` in a
    row lock the name for `LOCK_DURATION`. Otherwise only real accounts would ever be shown
    as locked, and five wrong passwords would tell whether an account exists. In memory, per
    process (one process serves the app; with several, a name is locked per process), at
    most `max_names` names (digests), the longest quiet forgotten first. Thread safe."""

    def __init__(self, max_names: int = 100_000) -> None:
        self.max_names = max_names
        self._names: dict[bytes, tuple[int, datetime | None]] = {}  # failures, locked until
        self._lock = threading.Lock()

    @staticmethod
    def _key(name: str) -> bytes:
        return hashlib.sha256(name.encode()).digest()

    def locked_until(self, name: str, now: datetime) -> datetime | None:
        with self._lock:
            _, until = self._names.get(self._key(name), (0, None))
        return until if until is not None and until > now else None

    def record(self, name: str, now: datetime) -> datetime | None:
        """One more failure; the lock's end if the name is (now) locked."""
        key = self._key(name)
        with self._lock:
            failures, until = self._names.pop(key, (0, None))
            if until is not None and until > now:
                self._names[key] = (failures, until)
                return until
            failures += 1
            if failures >= MAX_FAILURES:
                failures, until = 0, now + LOCK_DURATION
            self._names[key] = (failures, until)  # the most recent goes last
            while len(self._names) > self.max_names:
                del self._names[next(iter(self._names))]
            return until if failures == 0 else None


_UNKNOWN: WeakKeyDictionary[Engine, UnknownNames] = WeakKeyDictionary()


def unknown_names(engine: Engine) -> UnknownNames:
    """This process's count of failures on names without a password, for `engine`'s database."""
    with _THROTTLES_LOCK:
        names = _UNKNOWN.get(engine)
        if names is None:
            names = _UNKNOWN[engine] = UnknownNames()
        return names


Outcome = Literal["ok", "wrong", "locked", "throttled", "disabled"]


@dataclass(frozen=True)
class SignInResult:
    """What a sign-in attempt came to. `wrong` does not tell an unknown account from a wrong
    password; `disabled` is told only to whoever gave the right password."""

    outcome: Outcome
    user_code: str
    actor: Actor | None = None  # ok: who is now signed in
    session_epoch: int = 0  # ok: what the web session carries (see Credential.session_epoch)
    locked_until: datetime | None = None  # locked: until when
    retry_after: int = 0  # throttled: seconds until the address may try again
    timezone: str = "Asia/Shanghai"  # the jurisdiction's, for showing `locked_until`

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def verify_sign_in(
    ctx: ServiceContext, user_code: str, password: str, address: str, now: datetime | None = None
) -> SignInResult:
    """Check a sign-in and keep the books: a failure counts against the account and the
    address; a success clears the account's failures, notes the time and, if the hash was
    made with older parameters, makes it again (audited)."""
    moment = ctx.write_time(now)
    code = user_code.strip()
    throttle = address_throttle(ctx.engine)
    wait = throttle.wait(address, moment)
    if wait:
        log.warning(
            "sign-in from %s refused: %d failures within %s", address, throttle.limit, throttle.window
        )
        return SignInResult("throttled", code, retry_after=wait)
    if len(password) > PASSWORD_MAX:  # no account has it: refused before any account is read
        throttle.record(address, moment)
        return SignInResult("wrong", code)
    readable = bool(code) and hygiene.text_problem(code, multiline=False) is None  # no NUL for the database
    with Session(ctx.engine) as session:
        zone = the_jurisdiction(session).timezone
        account = read_account(session, code) if readable else None
    stored = account.password_hash if account else None
    unknown = unknown_names(ctx.engine) if account is None or stored is None else None
    locked: datetime | None = None
    if unknown is not None:
        locked = unknown.locked_until(code, moment)
    elif account is not None and account.locked_until is not None and account.locked_until > moment:
        locked = account.locked_until
    if locked is not None:
        return SignInResult("locked", code, locked_until=locked, timezone=zone)
    if not _matches(stored, password):
        throttle.record(address, moment)
        log.info("failed sign-in for %r from %s", code[:64], address)
        if account is not None and stored is not None:
            locked_until = _record_failure(ctx, account.user_id, moment)
            if locked_until is not None:
                log.warning("account %s locked until %s", account.code, locked_until.isoformat())
        else:
            assert unknown is not None
            locked_until = unknown.record(code, moment)
        if locked_until is not None:
            return SignInResult("locked", code, locked_until=locked_until, timezone=zone)
        return SignInResult("wrong", code)
    assert account is not None and stored is not None
    if not account.active:
        return SignInResult("disabled", code)
    new_hash = HASHER.hash(password) if HASHER.check_needs_rehash(stored) else None
    signed_in = transact(
        ctx.engine, lambda session: _signed_in(session, ctx, account, stored, new_hash, moment)
    )
    if signed_in is None:  # the password changed between the check and now
        return SignInResult("wrong", code)
    actor, epoch = signed_in
    return SignInResult("ok", code, actor=actor, session_epoch=epoch, timezone=zone)


def _signed_in(
    session: Session, ctx: ServiceContext, account: Account, stored: str, new_hash: str | None, now: datetime
) -> tuple[Actor, int] | None:
    jurisdiction = the_jurisdiction(session, lock=new_hash is not None)
    try:
        actor = load_actor(session, jurisdiction, account.code)
    except ProcedureError:
        return None  # disabled in the meantime
    credential = session.exec(
        select(Credential).where(Credential.user_id == account.user_id).with_for_update()
    ).first()
    if credential is None or credential.password_hash != stored:
        return None
    credential.failed_attempts = 0
    credential.locked_until = None
    credential.last_sign_in_at = now
    session.add(credential)
    if new_hash is not None:
        credential.password_hash = new_hash
        session.flush()
        _audit(
            session,
            ctx,
            jurisdiction.id,
            actor,
            "rehash_password",
            {
                "input": {"users": [actor.code]},
                "result": {
                    "argon2": {
                        "time_cost": HASHER.time_cost,
                        "memory_cost": HASHER.memory_cost,
                        "parallelism": HASHER.parallelism,
                    }
                },
            },
            now,
        )
    return actor, credential.session_epoch


# ---------------------------------------------------------------------------- API tokens
def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user: str
    name: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


def issue_api_token(
    ctx: ServiceContext, admin: str, user_code: str, name: str, now: datetime | None = None
) -> str:
    """A new API token acting as `user_code`, issued by an administrator and audited. The
    secret is returned once; only its SHA-256 is kept."""
    name = name.strip()
    if not name or len(name) > TOKEN_NAME_MAX:
        raise invalid("name", f"须为 1–{TOKEN_NAME_MAX} 个字符", f"1-{TOKEN_NAME_MAX} characters")
    problem = hygiene.text_problem(name, multiline=False)
    if problem is not None:
        raise invalid("name", *problem)
    moment = ctx.write_time(now)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)

    def work(session: Session) -> None:
        jurisdiction = the_jurisdiction(session, lock=True)
        actor = load_actor(session, jurisdiction, admin)
        require_role(actor, ADMIN, "签发接口令牌", "issuing an API token")
        target = load_actor(session, jurisdiction, user_code, "user")
        if target.user_id is None:
            raise invalid("user", "令牌须代表一名用户", "a token acts as a user")
        token = ApiToken(
            user_id=target.user_id,
            name=name,
            token_hash=token_digest(secret),
            created_at=moment,
            created_by=actor.code,
        )
        session.add(token)
        session.flush()
        _audit(
            session,
            ctx,
            jurisdiction.id,
            actor,
            "issue_api_token",
            {"input": {"user": user_code, "name": name}, "result": {"token": token.id}},
            moment,
        )

    transact(ctx.engine, work)
    return secret


def revoke_api_token(
    ctx: ServiceContext, actor_code: str, token_id: int, now: datetime | None = None
) -> None:
    """Revoke a token (an administrator, or the user it acts as); audited. It stops working
    at once."""
    moment = ctx.write_time(now)

    def work(session: Session) -> None:
        jurisdiction = the_jurisdiction(session, lock=True)
        actor = load_actor(session, jurisdiction, actor_code)
        token = session.exec(select(ApiToken).where(ApiToken.id == token_id).with_for_update()).first()
        if token is None:
            raise not_found("token", token_id)
        if token.user_id != actor.user_id:
            require_role(actor, ADMIN, "吊销他人的接口令牌", "revoking another user's API token")
        if token.revoked_at is not None:
            raise refusal(
                "STATE", f"令牌 {token_id} 已吊销", f"token {token_id} is already revoked", field="token"
            )
        token.revoked_at = moment
        session.add(token)
        session.flush()
        _audit(
            session,
            ctx,
            jurisdiction.id,
            actor,
            "revoke_api_token",
            {"input": {"token": token_id}, "result": {"revoked_at": moment.isoformat()}},
            moment,
        )

    transact(ctx.engine, work)


def list_api_tokens(session: Session, user_code: str | None = None) -> list[TokenInfo]:
    """The tokens (never their secrets), newest first; only `user_code`'s if given."""
    query = select(ApiToken, User.code).join(User, col(User.id) == col(ApiToken.user_id))
    if user_code is not None:
        query = query.where(User.code == user_code)
    return [
        TokenInfo(
            id=token.id or 0,
            user=code,
            name=token.name,
            created_at=token.created_at,
            created_by=token.created_by,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )
        for token, code in session.exec(query.order_by(col(ApiToken.id).desc()))
    ]


def token_id(session: Session, secret: str) -> int | None:
    """The id of the token whose secret this is."""
    return session.exec(select(ApiToken.id).where(ApiToken.token_hash == token_digest(secret))).first()


@dataclass(frozen=True)
class TokenHolder:
    """An authenticated API caller: the token's user as the service's `Actor`, and the
    token's own name (which the audit records as the account that acted)."""

    actor: Actor
    token_id: int
    token_name: str


def authenticate_token(session: Session, secret: str, now: datetime) -> TokenHolder | None:
    """Who a bearer token acts as, or None (unknown, revoked, or its user disabled): the
    user's unit and roles are read again on every call. Notes the time of use, to the minute
    (sign-in bookkeeping the row digests leave out), and commits `session` when it does."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200 or not secret.isascii():
        return None
    found = session.exec(
        select(ApiToken, User.code)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(ApiToken.token_hash == token_digest(secret))
    ).first()
    if found is None or found[0].revoked_at is not None:
        return None
    token, code = found
    try:
        actor = load_actor(session, the_jurisdiction(session), code)
    except ProcedureError:
        return None  # the user was disabled
    if actor.user_id is None:
        return None
    if token.last_used_at is None or token.last_used_at < now - TOKEN_TOUCH:
        token.last_used_at = now
        session.add(token)
        session.commit()
    return TokenHolder(actor, token.id or 0, token.name)


def actor_for_token(session: Session, secret: str, now: datetime) -> Actor | None:
    """The user a bearer token acts as (see `authenticate_token`)."""
    holder = authenticate_token(session, secret, now)
    return holder.actor if holder is not None else None


__all__ = [
    "ADDRESS_FAILURES",
    "ADDRESS_WINDOW",
    "LOCK_DURATION",
    "MAX_FAILURES",
    "PASSWORD_MIN",
    "AddressThrottle",
    "PasswordSet",
    "SignInResult",
    "TokenHolder",
    "TokenInfo",
    "UnknownNames",
    "actor_for_token",
    "authenticate_token",
    "check_password_policy",
    "end_sessions",
    "issue_api_token",
    "list_api_tokens",
    "revoke_api_token",
    "set_demo_passwords",
    "set_password",
    "verify_sign_in",
]
