"""The dispatcher: turns committed outbox events into Prefect flow runs (issue 9).

Every action writes its outbox events in its own transaction (`Tx.emit`); nothing in an action
waits for Prefect. One dispatch, at the instant `now`:

1. **Claim** a batch of waiting events, oldest first, in one short transaction: events not yet
   dispatched whose claim is free. PostgreSQL locks them `FOR UPDATE SKIP LOCKED`, so two
   dispatchers take disjoint events; SQLite serialises writers (BEGIN IMMEDIATE). A claimed
   event carries a lease (`lease_until`) until its outcome is recorded, so a dispatcher that
   dies mid-batch holds it only until the lease runs out.
2. **Route** each event by the procedure data (`procedure.EVENT_ROUTES`). An event that needs no
   machine work is done with no run. For the others, outside any transaction, create a run of
   the flow's deployment with the idempotency key `outbox-<event id>-<digest>` (`run_key`):
   Prefect returns the existing run for a key it has seen, so an event never starts two runs,
   whoever dispatches it and however often. The digest of the event's own unique key keeps
   the events of another database (a new demo, another jurisdiction on a shared Prefect
   server), whose ids start at 1 too, from being taken for runs Prefect has already seen. Each run is tagged `decision:<code>` and `event:<type>` and named
   `<code>·<event>·<id>`. Its parameters never hold a secret: the flows read the database and the
   data folder from the environment of the process that runs them.
3. **Record** the batch's outcomes in one transaction: `dispatched_at`, the flow and its run, or
   the failed attempt with its error (the event waits, and is tried again after a backoff:
   5 s, doubling, at most an hour).

When Prefect cannot be reached (no API configured, a refused connection, a server error), the
dispatch stops: the events stay in the outbox and the report says why. Nothing else fails, and
the next dispatch after Prefect is back starts each waiting event once.

The dispatcher's marks are bookkeeping, like the delivery outbox's: written through `transact`,
with no audit event (outbox rows are not tracked by the audit digests). The flow run's own
writes are the `system` actor's (flows/event_work.py)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal, Protocol

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from flows import procedure as proc
from flows.deployments import BY_NAME
from flows.service.framework import ServiceContext
from models import OutboxEvent
from models.db import transact

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0  # a claim outlives any batch: BATCH_SIZE runs at ~30 ms each
BATCH_SIZE = 100
ERROR_LENGTH = 500


class PrefectUnavailable(Exception):
    """Prefect cannot be reached, or no API is configured: nothing can be started now."""


class FlowRuns(Protocol):
    """What the dispatcher needs of a Prefect client (a fake stands in for it in tests)."""

    def deployment_id(self, full_name: str) -> Any:
        """The id of the deployment `<flow>/<deployment>`; LookupError if there is none."""

    def start(
        self,
        deployment_id: Any,
        *,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        tags: Sequence[str],
        name: str,
    ) -> str:
        """Create (or, for a key already used, find) the flow run; returns its id."""


ClientFactory = Callable[[], AbstractContextManager[FlowRuns]]


# ------------------------------------------------------------------------ the Prefect client
class _PrefectFlowRuns:
    def __init__(self, client: Any) -> None:
        self.client = client

    def deployment_id(self, full_name: str) -> Any:
        from prefect.exceptions import ObjectNotFound

        try:
            return self.client.read_deployment_by_name(full_name).id
        except ObjectNotFound:
            raise LookupError(f"Prefect 中没有部署 {full_name} / no deployment {full_name}") from None

    def start(
        self,
        deployment_id: Any,
        *,
        parameters: Mapping[str, Any],
        idempotency_key: str,
        tags: Sequence[str],
        name: str,
    ) -> str:
        run = self.client.create_flow_run_from_deployment(
            deployment_id,
            parameters=dict(parameters),
            idempotency_key=idempotency_key,
            tags=list(tags),
            name=name,
        )
        return str(run.id)


def prefect_client(api_url: str | None = None) -> ClientFactory:
    """The Prefect API at `api_url`, else the one configured (PREFECT_API_URL). With neither,
    Prefect counts as unavailable: the dispatcher never starts a temporary server of its own."""

    @contextmanager
    def open_client() -> Iterator[FlowRuns]:
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        url = api_url or PREFECT_API_URL.value()
        if not url:
            raise PrefectUnavailable("未配置 Prefect 服务（PREFECT_API_URL）/ no Prefect API is configured")
        with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
            yield _PrefectFlowRuns(client)

    return open_client


def unavailable_reason(exc: BaseException) -> str | None:
    """Why `exc` means Prefect cannot be reached now (None: it is about this one event)."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    if isinstance(exc, PrefectUnavailable):
        return str(exc)
    if isinstance(exc, httpx.TransportError):  # refused, reset, timed out
        return f"无法连接 Prefect / cannot reach Prefect: {type(exc).__name__}: {exc}"
    if isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code >= 500:
        return f"Prefect 服务出错 / Prefect server error {exc.response.status_code}"
    return None


# ------------------------------------------------------------------------ the report
Outcome = Literal["started", "unrouted", "failed"]


@dataclass(frozen=True)
class Dispatched:
    event_id: int
    event_type: str
    outcome: Outcome
    flow: str = ""
    flow_run_id: str | None = None
    error: str = ""


@dataclass(frozen=True)
class DispatchReport:
    now: datetime
    started: int = 0  # flow runs created (or found again by their idempotency key)
    unrouted: int = 0  # events that need no machine work: done, with no run
    failed: int = 0  # runs that could not be created: the events wait for the next dispatch
    waiting: int = 0  # events still in the outbox after this dispatch
    unreachable: str | None = None  # why Prefect could not be reached; None when it could
    events: tuple[Dispatched, ...] = ()

    def line(self) -> str:
        text = (
            f"started {self.started}, unrouted {self.unrouted}, failed {self.failed}, waiting {self.waiting}"
        )
        if self.unreachable:
            text += f"; Prefect unreachable: {self.unreachable}"
        return text


# ------------------------------------------------------------------------ dispatch
def run_key(event_id: int, event_key: str) -> str:
    """The idempotency key of the one flow run of an outbox event: its id, and a digest of
    its own key (unique per emitted event, see `Tx.emit`)."""
    return f"outbox-{event_id}-{hashlib.sha256(event_key.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class _Claim:
    event_id: int
    event_key: str  # the outbox row's idempotency key
    event_type: str
    decision: str | None  # the decision's code
    payload: dict[str, Any]
    lease_until: datetime  # identifies this dispatch's claim when the outcome is recorded


@dataclass
class _Batch:
    outcomes: list[Dispatched] = field(default_factory=list)
    unreachable: str | None = None


def run_parameters(flow: str, claim: _Claim) -> dict[str, Any]:
    """The parameters of the run an event starts: ids and years, never a secret."""
    if flow == proc.DECISION_PROCEDURE:
        return {"outbox_event_id": claim.event_id}
    if flow == proc.CATALOGUES:  # the version the event concerns, when it names one
        version = claim.payload.get("version")
        return {
            "year": int(claim.payload["year"]),
            **({"version": version} if isinstance(version, int) else {}),
        }
    raise LookupError(f"不知道如何启动流程 {flow} / no parameters for the flow {flow}")


def run_labels(claim: _Claim) -> tuple[list[str], str]:
    """The run's tags and name: `decision:<code>` (or the catalogue's year) and `event:<type>`;
    `<code>·<event>·<id>`."""
    if claim.decision:
        subject, tag = claim.decision, f"decision:{claim.decision}"
    elif "year" in claim.payload:
        subject, tag = f"catalogue-{claim.payload['year']}", f"catalogue:{claim.payload['year']}"
    else:
        subject, tag = "jurisdiction", "jurisdiction"
    return [tag, f"event:{claim.event_type}"], f"{subject}·{claim.event_type}·{claim.event_id}"


def dispatch_once(
    ctx: ServiceContext,
    *,
    now: datetime,
    client_factory: ClientFactory | None = None,
    batch_size: int = BATCH_SIZE,
    limit: int | None = None,
) -> DispatchReport:
    """Dispatch the waiting outbox events at `now`, oldest first, at most `limit` of them,
    claiming `batch_size` at a time (see the module's description). Safe in several processes
    at once. Prefect unreachable: the report says so and the events wait."""
    if batch_size < 1:
        raise ValueError("batch_size: 须至少为 1 / must be at least 1")
    now = ctx.write_time(now)
    factory = client_factory or prefect_client()
    outcomes: list[Dispatched] = []
    unreachable: str | None = None
    cursor = 0  # events tried in this dispatch are not claimed again by it
    client: FlowRuns | None = None
    deployments: dict[str, Any] = {}
    with _Client(factory) as opener:
        while limit is None or len(outcomes) < limit:
            size = batch_size if limit is None else min(batch_size, limit - len(outcomes))
            claims = transact(ctx.engine, partial(_claim, now=now, cursor=cursor, size=size))
            if not claims:
                break
            cursor = claims[-1].event_id
            batch = _Batch()
            for claim in claims:
                if not _needs_run(claim):
                    _dispatch_one(claim, None, deployments, batch)  # done with no run, Prefect or not
                    continue
                if batch.unreachable is not None:
                    continue  # released when the batch is recorded: it waits for the next dispatch
                if client is None:
                    try:
                        client = opener.open()
                    except Exception as exc:
                        batch.unreachable = unavailable_reason(exc) or _error_text(exc)
                        continue
                _dispatch_one(claim, client, deployments, batch)
            transact(ctx.engine, partial(_record, claims=claims, batch=batch, now=now))
            outcomes.extend(batch.outcomes)
            if batch.unreachable is not None:
                unreachable = batch.unreachable
                # the caller reports it (serve's dispatch job once, when it changes)
                log.debug(
                    "dispatch at %s: Prefect unreachable, events wait: %s", now.isoformat(), unreachable
                )
                break
    counts = {
        kind: sum(1 for o in outcomes if o.outcome == kind) for kind in ("started", "unrouted", "failed")
    }
    return DispatchReport(
        now=now,
        started=counts["started"],
        unrouted=counts["unrouted"],
        failed=counts["failed"],
        waiting=waiting_events(ctx),
        unreachable=unreachable,
        events=tuple(outcomes),
    )


class _Client:
    """Opens the Prefect client on first use (a batch of unrouted events needs none) and
    closes it at the end of the dispatch."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory
        self.manager: AbstractContextManager[FlowRuns] | None = None

    def open(self) -> FlowRuns:
        self.manager = self.factory()
        return self.manager.__enter__()

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.manager is not None:
            try:
                self.manager.__exit__(None, None, None)
            except Exception:  # closing a client of an unreachable server: nothing to keep
                log.debug("closing the Prefect client failed", exc_info=True)


def _needs_run(claim: _Claim) -> bool:
    route = proc.EVENT_ROUTES.get(claim.event_type)
    return route is not None and route.flow is not None


def _dispatch_one(claim: _Claim, client: FlowRuns | None, deployments: dict[str, Any], batch: _Batch) -> None:
    route = proc.EVENT_ROUTES.get(claim.event_type)
    if route is None or route.flow is None:
        if route is None:
            log.warning("outbox event %s: unknown event type %s, no run", claim.event_id, claim.event_type)
        batch.outcomes.append(Dispatched(claim.event_id, claim.event_type, "unrouted"))
        return
    assert client is not None
    flow = route.flow
    try:
        if flow not in deployments:
            deployments[flow] = client.deployment_id(BY_NAME[flow].full_name)
        tags, name = run_labels(claim)
        run_id = client.start(
            deployments[flow],
            parameters=run_parameters(flow, claim),
            idempotency_key=run_key(claim.event_id, claim.event_key),
            tags=tags,
            name=name,
        )
    except Exception as exc:
        reason = unavailable_reason(exc)
        if reason is not None:
            batch.unreachable = reason
            return
        log.warning("outbox event %s: could not start %s: %s", claim.event_id, flow, _error_text(exc))
        batch.outcomes.append(
            Dispatched(claim.event_id, claim.event_type, "failed", flow=flow, error=_error_text(exc))
        )
        return
    batch.outcomes.append(
        Dispatched(claim.event_id, claim.event_type, "started", flow=flow, flow_run_id=run_id)
    )


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]


def _claim(session: Session, now: datetime, cursor: int, size: int) -> list[_Claim]:
    lease_until = now + timedelta(seconds=LEASE_SECONDS)
    rows = session.exec(
        select(OutboxEvent)
        .where(
            col(OutboxEvent.dispatched_at).is_(None),
            col(OutboxEvent.id) > cursor,
            or_(col(OutboxEvent.lease_until).is_(None), col(OutboxEvent.lease_until) < now),
        )
        .order_by(col(OutboxEvent.id))
        .limit(size)
        .with_for_update(skip_locked=True)
    ).all()
    claims = []
    for row in rows:
        if row.lease_until is not None:
            log.warning("outbox event %s: reclaiming the expired claim of %s", row.id, row.lease_until)
        row.lease_until = lease_until
        session.add(row)
        code = row.payload.get("decision")
        claims.append(
            _Claim(
                event_id=row.id or 0,
                event_key=row.idempotency_key,
                event_type=row.event_type,
                decision=code if isinstance(code, str) else None,
                payload=dict(row.payload),
                lease_until=lease_until,
            )
        )
    return claims


def _record(session: Session, claims: Sequence[_Claim], batch: _Batch, now: datetime) -> None:
    """The outcomes of one batch, in one transaction; the claims not tried (Prefect became
    unreachable) are released, so the next dispatch takes them at once."""
    leases = {claim.event_id: claim.lease_until for claim in claims}
    rows = {
        row.id: row
        for row in session.exec(
            select(OutboxEvent).where(col(OutboxEvent.id).in_(sorted(leases))).with_for_update()
        )
    }
    done = {outcome.event_id: outcome for outcome in batch.outcomes}
    for event_id, lease in leases.items():
        row = rows[event_id]
        outcome = done.get(event_id)
        if outcome is not None and outcome.outcome != "failed":
            # true whoever holds the claim now: the run exists (one per idempotency key)
            row.dispatched_at = row.dispatched_at or now
            row.flow = outcome.flow
            row.flow_run_id = outcome.flow_run_id
            row.dispatch_error = ""
        elif row.lease_until != lease or row.dispatched_at is not None:
            continue  # our claim ran out and another dispatcher took the event over
        elif outcome is not None:
            row.dispatch_attempts += 1
            row.dispatch_error = outcome.error
            # not tried again before the backoff: a run Prefect refuses is not asked for every
            # few seconds, and the events behind it go on
            row.lease_until = now + timedelta(seconds=retry_backoff(row.dispatch_attempts))
            session.add(row)
            continue
        row.lease_until = None
        session.add(row)


def retry_backoff(attempts: int) -> float:
    """Seconds before an event whose run could not be created is tried again: 5 after the
    first failed attempt, doubling, at most an hour."""
    return float(min(3600, 5 * 2 ** (attempts - 1)))


def waiting_events(ctx: ServiceContext) -> int:
    """How many outbox events are not dispatched yet."""
    with Session(ctx.engine) as session:
        return int(
            session.exec(
                select(func.count()).select_from(OutboxEvent).where(col(OutboxEvent.dispatched_at).is_(None))
            ).one()
        )
