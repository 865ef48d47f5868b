"""The service layer's machinery: one function per domain action, each run in one
transaction with its role check, guards, audit event, deadlines and outbox events.

Adapters (CLI, scenario runner, web, Prefect tasks) call `run_action`; nothing else
writes state.
"""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Generic, Literal, NoReturn, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import String, and_, bindparam, cast, func, literal
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from flows import hygiene
from flows import procedure as proc
from flows.calendar import WorkingCalendar, end_of_day, local_date, start_of_day
from flows.errors import ProcedureError, invalid, not_found, refusal
from flows.rules import Violation
from flows.service import audit, row_digests
from flows.service.clock import (
    Backdate,
    DatabaseKind,
    check_backdate,
    database_kind,
    not_before_chain,
    write_time,
)
from flows.service.documents import DocumentStore
from models import (
    AuditEvent,
    CalendarDay,
    CalendarYear,
    Deadline,
    Decision,
    DecisionStatus,
    EvidenceDocument,
    Jurisdiction,
    OutboxEvent,
    StageInstance,
    StageStatus,
    StoredDocument,
    Unit,
    User,
    UserRole,
)
from models.db import transact
from models.enums import DayUnit, DeadlineStatus
from notifications import policy as reminder_policy
from notifications import reminders
from notifications.config import NotificationSettings
from notifications.render import Renderer

P = TypeVar("P", bound="Payload")
M = TypeVar("M", bound=SQLModel)


class CleanInput(BaseModel):
    """Input hygiene for every model that takes input from outside (flows.hygiene): each
    text value, recursively through lists, dicts and nested models, carries no control
    character, ANSI escape or bidi override; single-line fields (by name) no line break;
    a `ref` matches the reference pattern; dates lie in 2000-2100 and integers fit a
    BIGINT column. A failure is an INPUT error naming the field (`validation_error`)."""

    @field_validator("*", mode="after")
    @classmethod
    def _clean(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        problem = _input_problem(value, name, name)
        if problem is not None:
            where, zh, en = problem
            raise PydanticCustomError("input_hygiene", en, {"where": where, "zh": zh})
        return value


def _input_problem(value: Any, name: str, where: str) -> tuple[str, str, str] | None:
    """The first unacceptable value inside `value` of the field `name`, as (where, zh, en)."""
    found: tuple[str, str] | None = None
    if isinstance(value, str):
        found = hygiene.text_problem(value, multiline=not hygiene.single_line(name))
        if found is None and name == "ref":
            found = hygiene.ref_problem(value)
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        found = hygiene.int_problem(value)
    elif isinstance(value, date):
        found = hygiene.date_problem(value)
    elif isinstance(value, CleanInput):
        return None  # a nested input model checked its own fields
    elif isinstance(value, BaseModel):
        for key in type(value).model_fields:
            inner = _input_problem(getattr(value, key), key, f"{where}.{key}")
            if inner is not None:
                return inner
    elif isinstance(value, Mapping):
        for key, item in value.items():
            label = f"{where}.{hygiene.safe_label(key)}"
            if isinstance(key, str):
                problem = hygiene.text_problem(key, multiline=False)
                if problem is not None:
                    return (label, *problem)
            inner = _input_problem(item, name, label)
            if inner is not None:
                return inner
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            inner = _input_problem(item, name, f"{where}.{index}")
            if inner is not None:
                return inner
    return (where, *found) if found is not None else None


class Payload(CleanInput):
    """Base of every action's input. Unknown fields are errors, never ignored; types are
    strict (`"category": true` or `"3"` is not a number; `validate_payload` reads dates
    from ISO strings); every value passes the input hygiene of `CleanInput`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, strict=True)


class DecisionPayload(Payload):
    decision: str  # the decision's code, e.g. D1 or JC-2026-001


@dataclass(frozen=True)
class Actor:
    code: str
    roles: frozenset[str]
    user_id: int | None = None
    unit_id: int | None = None
    unit_code: str | None = None

    @property
    def is_system(self) -> bool:
        """The sweep's and the flows' own actor. `load_actor` never returns it: only internal
        callers hold it (`SYSTEM`, `run_system_action`)."""
        return self is SYSTEM

    @property
    def roles_text(self) -> str:
        """The roles as the audit event records them."""
        return ",".join(sorted(self.roles))


PUBLIC_ACTOR = Actor("public", frozenset({"public"}))
SYSTEM = Actor(proc.SYSTEM_ACTOR, frozenset({"system"}))


def utcnow() -> datetime:
    return datetime.now(UTC)


def os_account() -> str:
    """The operating-system account running this process, recorded on every audit event."""
    try:
        return getpass.getuser()[:64]
    except Exception:  # no login name, no USER variable, no passwd entry
        return "?"


@dataclass
class ServiceContext:
    """What every action needs from outside: the database, the data folder, a clock and
    the account that runs the command (the operating-system user; the web app will inject
    its own). `data_dir` is the one folder for evidence files (models.db.data_dir_for); None
    refuses evidence until it is configured, never a folder relative to the current directory.

    The clock rules live here (`write_time`, backed by `flows.service.clock`): a production
    database accepts writes dated now only; a database marked `scenario` or `demo` accepts
    simulated time."""

    engine: Engine
    data_dir: Path | None = None
    clock: Callable[[], datetime] = utcnow
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    # the Ed25519 key that signs audit checkpoints, held outside the database (None: no
    # automatic checkpoints; `audit checkpoint` names its key itself)
    checkpoint_key: Path | None = None
    os_account: str = field(default_factory=os_account)
    _renderer: Renderer | None = field(default=None, init=False, repr=False)
    _kind: DatabaseKind | None = field(default=None, init=False, repr=False)

    @property
    def database_kind(self) -> DatabaseKind:
        """`demo`, `scenario` or `production` (read once per context)."""
        if self._kind is None:
            self._kind = database_kind(self.engine)
        return self._kind

    def write_time(self, requested: datetime | None = None) -> datetime:
        """The instant a write is dated: now, or `requested` where the database allows it
        (refused with AUTH on a production database unless it is now)."""
        return write_time(self.database_kind, self.clock(), requested)

    @property
    def renderer(self) -> Renderer:
        """The one template environment of this process, built on first use."""
        if self._renderer is None:
            self._renderer = Renderer(self.notifications.templates_dir)
        return self._renderer

    @property
    def documents(self) -> DocumentStore:
        return DocumentStore(self.data_dir)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


def load_calendar(session: Session) -> WorkingCalendar:
    overrides = {row.day: row.is_working_day for row in session.exec(select(CalendarDay))}
    years = [row.year for row in session.exec(select(CalendarYear))]
    return WorkingCalendar(overrides, years)


def plan_reminders(
    deadline: Deadline, settings: Mapping[str, Any], calendar: WorkingCalendar, tz: ZoneInfo, now: datetime
) -> None:
    """Point a new or moved deadline's reminder cursor at its next reminder (issue 3)."""
    policy = reminder_policy.resolve(deadline.kind, settings.get("reminder_policy"))
    reminders.plan(deadline, policy, calendar, tz, now)


def resolved_settings(jurisdiction: Jurisdiction, version: str = proc.CURRENT_VERSION) -> dict[str, Any]:
    """The jurisdiction's settings over the defaults of the procedure version in force (a
    decision's pinned version, for its own actions)."""
    values = {key: s.default for key, s in proc.procedure(version).settings.items()}
    values.update(jurisdiction.settings or {})
    return values


@dataclass
class Tx:
    """One action's transaction: the state it may read and the helpers that write."""

    session: Session
    actor: Actor
    now: datetime
    jurisdiction: Jurisdiction
    settings: dict[str, Any]
    documents: DocumentStore
    action: str
    decision: Decision | None = None
    chain: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    os_account: str = ""  # recorded on the audit events the action appends
    _calendar: WorkingCalendar | None = field(default=None, repr=False)
    _units: dict[str, Unit] = field(default_factory=dict, repr=False)
    _outbox: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def calendar(self) -> WorkingCalendar:
        """The working-day calendar, read on first use (most actions count no days). A calendar
        load and this action cannot race: the jurisdiction's calendar lock is taken first, so
        the deadlines the action computes use the calendar as it stands when it commits."""
        if self._calendar is None:
            if self.session.get_bind().dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE
                the_jurisdiction(self.session, lock="calendar_read")
            self._calendar = load_calendar(self.session)
        return self._calendar

    # ---------------------------------------------------------------- reading
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.jurisdiction.timezone)

    @property
    def today(self) -> date:
        return local_date(self.now, self.tz)

    @property
    def procedure(self) -> proc.Procedure:
        return proc.procedure(self.decision.procedure_version if self.decision else proc.CURRENT_VERSION)

    @property
    def flags(self) -> frozenset[str]:
        return frozenset(self.decision.flags) if self.decision else frozenset()

    @property
    def required_stages(self) -> frozenset[str]:
        """The stages the decision's catalogue entry lists as required (Art. 3(3))."""
        return frozenset(self.decision.catalogue_procedures) if self.decision else frozenset()

    def require_decision(self) -> Decision:
        assert self.decision is not None, "action needs a decision"
        return self.decision

    @property
    def rule(self) -> proc.ActionRule:
        """This action's roles and preconditions, in the decision's pinned procedure."""
        return self.procedure.actions[self.action]

    def check_preconditions(self, payload: BaseModel) -> None:
        """What the procedure data declares this action needs (`ActionRule`)."""
        from flows import rules

        rule = self.rule
        stage_id = getattr(payload, "stage", None) if rule.stage == proc.PAYLOAD_STAGE else rule.stage
        stage = self.procedure.stage_by_id.get(stage_id) if isinstance(stage_id, str) else None
        decision = self.require_decision()
        # the stages' statuses are read only when the rule looks at them
        looks_at_stages = rule.enters or rule.done or rule.started or rule.stage_status
        statuses = self.stage_statuses() if looks_at_stages else {}
        self.check(
            rules.action_preconditions(
                rule, stage, self.flags, decision.status, statuses, self.required_stages
            )
        )

    def require(self, lifecycle: str, subject: Any, label: str, *, field: str | None = None) -> None:
        """An object this action works on has a status the action declares it needs
        (`ActionRule.needs`, e.g. a hearing that has been announced)."""
        from flows import rules

        needed = self.rule.needs.get(lifecycle)
        assert needed is not None, f"{self.action} declares no {lifecycle} status it needs"
        violation = rules.subject_ready(self.procedure.lifecycles[lifecycle], needed, subject.status, label)
        if violation is not None:
            raise refusal(violation.rule_id, violation.zh, violation.en, field=field or violation.field)

    def advance(self, lifecycle: str, subject: Any, to: str, label: str, *, field: str | None = None) -> None:
        """Move an object of a sub-procedure along one declared transition (`LIFECYCLES`)."""
        spec = self.procedure.lifecycles[lifecycle]
        if (subject.status, to) not in spec.transitions:
            self.refuse(
                "STATE",
                f"{spec.zh} {label} 不能从 {subject.status} 变为 {to}",
                f"{spec.en} {label} cannot go from {subject.status} to {to}",
                field=field or lifecycle,
            )
        self.notes.setdefault(lifecycle, {})[label] = f"{subject.status}->{to}"
        subject.status = to
        self.session.add(subject)

    def set_decision_status(self, to: DecisionStatus) -> None:
        """Move the decision along one declared transition (`DECISION_TRANSITIONS`)."""
        decision = self.require_decision()
        if decision.status == to:
            return
        if (decision.status, to) not in self.procedure.decision_transitions:
            self.refuse(
                "STATE",
                f"决策不能从 {decision.status.value} 变为 {to.value}",
                f"the decision cannot go from {decision.status.value} to {to.value}",
                field="decision",
            )
        self.notes["status"] = f"{decision.status.value}->{to.value}"
        decision.status = to
        self.session.add(decision)

    def refuse(
        self, rule_id: str, detail_zh: str = "", detail_en: str = "", *, field: str | None = None
    ) -> NoReturn:
        raise refusal(rule_id, detail_zh, detail_en, field=field)

    def check(self, violation: Violation | None) -> None:
        """Raise the refusal for a pure rule's violation, if any."""
        if violation is not None:
            raise refusal(violation.rule_id, violation.zh, violation.en, field=violation.field)

    def unit(self, code: str, field_name: str = "unit") -> Unit:
        unit = (
            self._units.get(code)
            or self.session.exec(
                select(Unit).where(Unit.jurisdiction_id == self.jurisdiction.id, Unit.code == code)
            ).first()
        )
        if unit is None:
            raise not_found(field_name, code)
        self._units[code] = unit
        return unit

    def read_units(self, codes: Sequence[str], field_name: str, query: Any, params: dict[str, Any]) -> Any:
        """Run `query`, whose rows are (unit, value) for the units named by `codes`, remember
        the units (refusing an unknown one, under `field_name`) and return the value: one
        statement where a caller needs its units and one more fact (registration: whether its
        code is taken)."""
        rows: Sequence[Any] = self.session.execute(query, params).all()
        self._units.update({unit.code: unit for unit, _ in rows})
        for code in codes:
            if code not in self._units:
                raise not_found(field_name, code)
        return rows[0][1]

    def unit_by_id(self, unit_id: int) -> Unit:
        unit = self.session.get(Unit, unit_id)
        assert unit is not None
        return unit

    def stage(self, stage_id: str) -> StageInstance:
        decision = self.require_decision()
        row = self.session.exec(
            select(StageInstance).where(
                StageInstance.decision_id == decision.id, StageInstance.stage == stage_id
            )
        ).one()
        return row

    def latest(self, model: type[M], order: Any = None) -> M | None:
        """The decision's newest row of `model` (by `order`, else by id)."""
        decision = self.require_decision()
        column = order if order is not None else col(model.id)  # type: ignore[attr-defined]
        query = select(model).where(model.decision_id == decision.id)  # type: ignore[attr-defined]
        return self.session.exec(query.order_by(column.desc())).first()

    def evidence(self, kind: str) -> list[EvidenceDocument]:
        decision = self.require_decision()
        return list(
            self.session.exec(
                select(EvidenceDocument)
                .where(EvidenceDocument.decision_id == decision.id, EvidenceDocument.kind == kind)
                .order_by(col(EvidenceDocument.id))
            )
        )

    # ---------------------------------------------------------------- stage status
    def move_stage(self, stage_id: str, to: StageStatus, note: str = "") -> StageInstance:
        row = self.stage(stage_id)
        if row.status == to:
            return row
        if (row.status, to) not in proc.STAGE_TRANSITIONS:
            self.refuse(
                "STATE",
                f"阶段 {stage_id} 不能从 {row.status.value} 变为 {to.value}",
                f"stage {stage_id} cannot go from {row.status.value} to {to.value}",
                field="stage",
            )
        self.notes.setdefault("stages", {})[stage_id] = f"{row.status.value}->{to.value}"
        row.status = to
        row.note = note
        row.updated_at = self.now
        self.session.add(row)
        return row

    def enter_stage(self, stage_id: str) -> StageInstance:
        """Work starts (or continues) in a stage: check that it applies to this decision,
        that the steps it comes after are done, and make it active."""
        from flows import rules

        stage_def = self.procedure.stage(stage_id)
        row = self.stage(stage_id)
        requirement = stage_def.requirement(self.flags, self.required_stages)
        if requirement == "excluded":
            # only the confidential flag excludes a stage (R2)
            self.refuse("R2", f"{stage_def.zh}不适用", f"{stage_def.en} does not apply", field="decision")
        missing = rules.unfinished_prerequisites(stage_def, self.stage_statuses())
        if missing:
            self.refuse(
                "ORDER",
                f"须先完成：{', '.join(missing)}",
                f"first complete: {', '.join(missing)}",
                field="decision",
            )
        if row.status in (StageStatus.active, StageStatus.returned):
            return row
        if row.status in (StageStatus.pending, StageStatus.not_required):
            return self.move_stage(stage_id, StageStatus.active)
        self.refuse(
            "STATE",
            f"{stage_def.zh}当前状态为 {row.status.value}",
            f"{stage_def.en} is {row.status.value}",
            field="decision",
        )

    def finish_stage(self, stage_id: str, note: str = "") -> StageInstance:
        """The department completes a stage; stages the jurisdiction lists go to the legal
        office for approval first (stage approval by the legal office)."""
        if stage_id in self.settings["stages_needing_legal_approval"]:
            row = self.move_stage(stage_id, StageStatus.awaiting_approval, note)
            self.emit("stage_awaiting_approval", {"stage": stage_id})
            return row
        return self.move_stage(stage_id, StageStatus.completed, note)

    def stage_statuses(self) -> dict[str, StageStatus]:
        """Each stage's status, read as plain columns (no stage objects are loaded)."""
        decision = self.require_decision()
        rows = self.session.exec(
            select(StageInstance.stage, StageInstance.status).where(StageInstance.decision_id == decision.id)
        )
        return {stage_id: StageStatus(status) for stage_id, status in rows}

    # ---------------------------------------------------------------- writing
    def store_document(self, data: bytes) -> str:
        """Put a file in the data folder and record it (`StoredDocument`), so that `audit
        verify` re-hashes it; its SHA-256."""
        sha = self.documents.put(data)
        if self.session.get(StoredDocument, sha) is None:
            self.session.add(StoredDocument(sha256=sha, size=len(data), created_at=self.now))
            self.session.flush()  # no ORM relationship orders it before the row naming it
        return sha

    def add_evidence(
        self, stage: str, kind: str, content: str | bytes, title: str | None = None
    ) -> EvidenceDocument:
        decision = self.require_decision()
        assert kind in self.procedure.evidence_kinds, kind
        sha = self.store_document(content.encode() if isinstance(content, str) else content)
        evidence = EvidenceDocument(
            decision_id=decision.id or 0,
            stage=stage,
            kind=kind,
            title=title or self.procedure.evidence_kinds[kind].zh,
            sha256=sha,
            created_by=self.actor.code,
            created_at=self.now,
        )
        self.session.add(evidence)
        self.session.flush()
        self.notes.setdefault("evidence", []).append({"kind": kind, "sha256": sha})
        return evidence

    def schedule(
        self,
        kind: str,
        base_date: date,
        *,
        subject_ref: str = "",
        days: int | None = None,
        unit: DayUnit | None = None,
    ) -> Deadline:
        """Create a deadline row computed from the procedure, the settings and the calendar."""
        decision = self.require_decision()
        spec = self.procedure.deadline_kinds[kind]
        limit = self.procedure.time_limits[spec.time_limit] if spec.time_limit else None
        if days is None:
            setting = spec.days_setting or (limit.days_setting if limit else None)
            assert setting is not None, kind
            days = int(self.settings[setting])
        if unit is None:
            if limit and limit.unit_setting:
                unit = DayUnit(self.settings[limit.unit_setting])
            else:
                unit = limit.unit if limit else DayUnit.calendar
        result = self.calendar.add(base_date, days, unit, direction=spec.direction)
        deadline = Deadline(
            decision_id=decision.id,
            kind=kind,
            stage=spec.stage,
            subject_ref=subject_ref,
            base_date=base_date,
            days=days,
            unit=unit,
            direction=spec.direction,
            roll_to_working_day=spec.direction > 0,  # P14: a lead time counted back never rolls
            due_date=result.day,
            due_at=due_instant(spec, result.day, self.tz),
            provisional=result.provisional,
            blocking=spec.blocking,
            article=spec.article,
            status=DeadlineStatus.open,
            created_at=self.now,
        )
        self.plan_reminders(deadline)
        self.session.add(deadline)
        self.session.flush()
        self.notes.setdefault("deadlines", []).append(
            {"kind": kind, "due": result.day.isoformat(), "provisional": result.provisional}
        )
        return deadline

    def plan_reminders(self, deadline: Deadline) -> None:
        plan_reminders(deadline, self.settings, self.calendar, self.tz, self.now)

    def open_deadline(self, kind: str, subject_ref: str | None = None) -> Deadline | None:
        decision = self.require_decision()
        query = select(Deadline).where(
            Deadline.decision_id == decision.id,
            Deadline.kind == kind,
            col(Deadline.status).in_([DeadlineStatus.open, DeadlineStatus.fired]),
        )
        if subject_ref is not None:
            query = query.where(Deadline.subject_ref == subject_ref)
        return self.session.exec(query.order_by(col(Deadline.id).desc())).first()

    def close_deadlines(
        self, kind: str, *, subject_ref: str | None = None, status: DeadlineStatus = DeadlineStatus.met
    ) -> int:
        decision = self.require_decision()
        query = select(Deadline).where(
            Deadline.decision_id == decision.id,
            Deadline.kind == kind,
            col(Deadline.status).in_([DeadlineStatus.open, DeadlineStatus.fired]),
        )
        if subject_ref is not None:
            query = query.where(Deadline.subject_ref == subject_ref)
        closed = 0
        for row in self.session.exec(query):
            self._close(row, status)
            closed += 1
        return closed

    def _close(self, row: Deadline, status: DeadlineStatus) -> None:
        row.status = status
        row.closed_at = self.now
        if status in (DeadlineStatus.met, DeadlineStatus.cancelled):
            row.next_remind_at = None  # fired (overdue) deadlines keep being reminded
        self.session.add(row)

    def close_all_deadlines(self, status: DeadlineStatus = DeadlineStatus.cancelled) -> None:
        decision = self.require_decision()
        query = select(Deadline).where(
            Deadline.decision_id == decision.id,
            col(Deadline.status).in_([DeadlineStatus.open, DeadlineStatus.fired]),
        )
        for row in self.session.exec(query):
            self._close(row, status)

    def emit(self, event_type: str, payload: Mapping[str, Any] | None = None) -> None:
        """An outbox row, committed with the action (`write_outbox`); the dispatcher acts on it
        later."""
        decision_id = self.decision.id if self.decision else None
        body = {"action": self.action, "actor": self.actor.code, **(payload or {})}
        if self.decision:
            body["decision"] = self.decision.code
        # unique per emitted event (the dispatcher keys each Prefect run on the event's id)
        key = f"{event_type}:{decision_id or 'j' + str(self.jurisdiction.id)}:{uuid.uuid4().hex}"
        self._outbox.append(
            {
                "event_type": event_type,
                "decision_id": decision_id,
                "idempotency_key": key,
                "payload": body,
                "created_at": self.now,
                "dispatched_at": None,
                "flow": "",
                "flow_run_id": None,
                "lease_until": None,
                "dispatch_attempts": 0,
                "dispatch_error": "",
            }
        )
        self.notes.setdefault("events", []).append(event_type)

    def touch(self) -> None:
        if self.decision is not None and self.decision.updated_at != self.now:  # not a new one
            self.decision.updated_at = self.now
            self.session.add(self.decision)

    def write_outbox(self) -> None:
        """The outbox rows `emit` queued, in one statement (no ORM object per event); called
        before the audit event by every writer that runs handlers on a `Tx`."""
        if self._outbox:
            # their digests go on the event too: a row edited or deleted later would make the
            # dispatcher act on what no action said (ids matched by the unique key)
            row_digests.insert_rows(self.session, OutboxEvent, self._outbox, match="idempotency_key")
            self._outbox.clear()


def due_instant(spec: proc.DeadlineKind, day: date, tz: ZoneInfo) -> datetime:
    moment = start_of_day(day, tz) if spec.fires == "start_of_day" else end_of_day(day, tz)
    return moment.astimezone(UTC)


# -------------------------------------------------------------------- registry
Handler = Callable[[Tx, P], Mapping[str, Any] | None]


@dataclass(frozen=True)
class ActionSpec(Generic[P]):
    name: str
    payload: type[P]
    handler: Handler[P]


REGISTRY: dict[str, ActionSpec[Any]] = {}


def action(name: str, payload: type[P]) -> Callable[[Handler[P]], Handler[P]]:
    """Register a handler as the one implementation of a public action."""
    if name not in proc.procedure().actions:
        raise KeyError(f"action {name} has no role rule in flows.procedure.ACTIONS")

    def register(handler: Handler[P]) -> Handler[P]:
        REGISTRY[name] = ActionSpec(name, payload, handler)
        return handler

    return register


@dataclass(frozen=True)
class ActionResult:
    action: str
    data: dict[str, Any]
    audit_seq: int
    chain: str


def validate_payload(name: str, data: Mapping[str, Any]) -> tuple[ActionSpec[Any], Payload]:
    spec = REGISTRY.get(name)
    if spec is None:
        raise invalid("action", f"未知操作 {name!r}", f"unknown action {name!r}")
    return spec, strict_input(spec.payload, data)


B = TypeVar("B", bound=BaseModel)


def strict_input(model: type[B], data: Any, where: str = "") -> B:
    """Validate input from outside (JSON, YAML, a Python dict) strictly, as JSON: a date or
    time may come as an ISO string, but a number is never a string or a boolean and a
    boolean never a number. Keys are text. Raises INPUT naming the field (under `where`,
    e.g. `users.3`, when the input is one item of a list)."""
    if not isinstance(data, Mapping):
        raise invalid(where or "payload", "须为对象（键值映射）", "must be an object (a mapping)")
    try:
        text = json.dumps(_as_json(data, where), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise invalid(
            where or "payload", "含非有限数值（NaN 或无穷）", "holds a number that is not finite"
        ) from None
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise validation_error(exc, where) from None


def _as_json(value: Any, where: str) -> Any:
    """`value` as plain JSON types; dates and times as ISO text; refuses what JSON cannot
    say (non-text keys, bytes, objects) instead of coercing it."""
    if isinstance(value, str):
        value = value.replace("\r\n", "\n")  # Windows line ends; a lone CR is refused
        problem = hygiene.text_problem(value, multiline=True)  # line breaks: by field, later
        if problem is not None:
            raise invalid(where or "payload", *problem)
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise invalid(where or "payload", "键须为文本", "keys must be text")
            problem = hygiene.text_problem(key, multiline=False)
            if problem is not None:
                raise invalid(f"{where}.(?)" if where else "(?)", *problem)
            out[key] = _as_json(item, f"{where}.{key}" if where else key)
        return out
    if isinstance(value, list | tuple):
        return [_as_json(item, f"{where}.{i}" if where else str(i)) for i, item in enumerate(value)]
    raise invalid(where or "payload", "不是 JSON 值", "is not a JSON value")


def validation_error(exc: ValidationError, prefix: str = "") -> ProcedureError:
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    ctx = first.get("ctx") or {}
    if first["type"] == "input_hygiene" and loc:
        loc[-1] = str(ctx["where"])  # the value inside the field: a list item, a dict key
    where = ".".join([prefix, *loc] if prefix else loc) or "payload"
    if first["type"] == "input_hygiene":
        return invalid(where, str(ctx["zh"]), first["msg"])
    if first["type"] == "extra_forbidden":
        return invalid(where, "未知字段", "unknown field")
    if first["type"] == "missing":
        return invalid(where, "必填", "is required")
    return invalid(where, f"取值无效（{first['msg']}）", f"invalid value ({first['msg']})")


def load_actor(session: Session, jurisdiction: Jurisdiction, code: str, field_name: str = "actor") -> Actor:
    """The actor an adapter names: an existing, active user, or the public. `system` is
    reserved for the sweep and the flows and is refused here (they hold `SYSTEM`)."""
    if _named_without_lookup(code, field_name) is not None:
        return PUBLIC_ACTOR
    rows = session.exec(
        select(User, Unit.code, UserRole.role)
        .join(Unit, col(Unit.id) == User.unit_id)
        .outerjoin(UserRole, col(UserRole.user_id) == col(User.id))
        .where(User.jurisdiction_id == jurisdiction.id, User.code == code)
    ).all()
    return _actor_from_rows(code, [(user, unit_code, role) for user, unit_code, role in rows], field_name)


def _named_without_lookup(code: str, field_name: str) -> Actor | None:
    """The public needs no lookup; `system` is refused before any."""
    if code == "public":
        return PUBLIC_ACTOR
    if code.strip().lower() == proc.SYSTEM_ACTOR:
        raise refusal(
            "AUTH",
            "system 仅供系统内部（期限巡检、流程）使用，不能由命令或场景指定",
            "system is reserved for the sweep and the flows; no command or scenario can name it",
            field=field_name,
            kind="forbidden",
        )
    return None


def _actor_from_rows(
    code: str, rows: list[tuple[User | None, str | None, str | None]], field_name: str
) -> Actor:
    """The actor from its user row joined with its unit's code and each of its roles."""
    user, unit_code, _ = rows[0] if rows else (None, None, None)
    if user is None:
        raise not_found(field_name, code)
    if not user.active:
        raise refusal(
            "AUTH", f"用户 {code} 已停用", f"user {code} is not active", field=field_name, kind="forbidden"
        )
    roles = frozenset(role for _, _, role in rows if role is not None)
    return Actor(code, roles, user.id, user.unit_id, unit_code)


JurisdictionLock = Literal["none", "calendar_read", "serial", "calendar_write"]


def the_jurisdiction(session: Session, lock: bool | JurisdictionLock = False) -> Jurisdiction:
    """The jurisdiction row, which also stands for its working-day calendar. On PostgreSQL
    its row lock orders writers (SQLite's BEGIN IMMEDIATE already serialises them):

    - `calendar_read` (FOR KEY SHARE): a writer that counts days on the calendar; many at
      once, but never while a calendar load is in flight;
    - `serial` (`True`, FOR NO KEY UPDATE): one at a time for numbering and the set-up chain,
      alongside calendar readers;
    - `calendar_write` (FOR UPDATE): a calendar load, alone."""
    mode: JurisdictionLock = "serial" if lock is True else "none" if lock is False else lock
    query = select(Jurisdiction).order_by(col(Jurisdiction.id)).limit(1)
    if mode == "calendar_read":
        query = query.with_for_update(read=True, key_share=True)
    elif mode == "serial":
        query = query.with_for_update(key_share=True)
    elif mode == "calendar_write":
        query = query.with_for_update()
    found = session.exec(query).first()
    if found is None:
        raise refusal("NOT_FOUND", "尚未设置辖区", "no jurisdiction has been set up", kind="not_found")
    return found


def lock_decision(session: Session, jurisdiction: Jurisdiction, code: str) -> Decision:
    decision = session.exec(
        select(Decision)
        .where(Decision.jurisdiction_id == jurisdiction.id, Decision.code == code)
        .with_for_update()
    ).first()
    if decision is None:
        raise not_found("decision", code)
    return decision


@dataclass(frozen=True)
class Subject:
    """What an action starts from: the jurisdiction, the acting user, and the decision it
    names (locked), with the head (seq, hash) of that decision's audit chain."""

    jurisdiction: Jurisdiction
    actor: Actor
    decision: Decision | None = None
    head: tuple[int, str] | None = None


def open_subject(session: Session, who: str | Actor, decision_code: str | None) -> Subject:
    """Read the jurisdiction, the actor and the named decision in one round trip, with the
    decision locked FOR UPDATE and its audit head joined (the hot path of every action).
    The jurisdiction is not locked here: a writer that counts working days takes its
    calendar lock when it first reads the calendar (`Tx.calendar`). Refusals come in the
    order of the separate reads: no jurisdiction, then the actor, then the decision."""
    code = who.code if isinstance(who, Actor) else who
    known = who if isinstance(who, Actor) else _named_without_lookup(code, "actor")
    if decision_code is None:
        rows = session.exec(_subject_query(), params={"actor_code": code}).all()
        if not rows:
            the_jurisdiction(session)  # refuses: no jurisdiction
        jurisdiction = rows[0][0]
        actor = known or _actor_from_rows(code, [(u, c, r) for _, u, c, r in rows], "actor")
        return Subject(jurisdiction, actor)
    params = {"actor_code": code, "decision_code": decision_code}
    found = session.exec(_subject_with_decision_query(), params=params).all()
    if not found:
        jurisdiction = the_jurisdiction(session)
        if known is None:
            load_actor(session, jurisdiction, code)
        raise not_found("decision", decision_code)
    decision, jurisdiction, head_hash = found[0][0], found[0][1], found[0][2]
    actor = known or _actor_from_rows(code, [(u, c, r) for _, _, _, u, c, r in found], "actor")
    head = (decision.audit_seq, head_hash) if head_hash is not None else None
    return Subject(jurisdiction, actor, decision, head)


# The two statements every action starts with, built once per process (issue 8: building
# the expression each time cost more than running it).
def _first_jurisdiction() -> Any:
    return select(func.min(Jurisdiction.id)).scalar_subquery()


def _user_of(jurisdiction_id: Any) -> Any:
    return and_(col(User.jurisdiction_id) == jurisdiction_id, col(User.code) == bindparam("actor_code"))


@cache
def _subject_query() -> Any:
    return (
        select(Jurisdiction, User, Unit.code, UserRole.role)
        .outerjoin(User, _user_of(col(Jurisdiction.id)))
        .outerjoin(Unit, col(Unit.id) == col(User.unit_id))
        .outerjoin(UserRole, col(UserRole.user_id) == col(User.id))
        .where(col(Jurisdiction.id) == _first_jurisdiction())
    )


@cache
def _subject_with_decision_query() -> Any:
    head_event = and_(
        col(AuditEvent.chain) == literal("decision:") + cast(col(Decision.id), String),
        col(AuditEvent.seq) == col(Decision.audit_seq),
    )
    # six entities: past sqlmodel's typed `select`, so SQLAlchemy's
    return (
        sa_select(Decision, Jurisdiction, col(AuditEvent.hash), User, col(Unit.code), col(UserRole.role))
        .join(Jurisdiction, col(Jurisdiction.id) == col(Decision.jurisdiction_id))
        .outerjoin(AuditEvent, head_event)
        .outerjoin(User, _user_of(col(Jurisdiction.id)))
        .outerjoin(Unit, col(Unit.id) == col(User.unit_id))
        .outerjoin(UserRole, col(UserRole.user_id) == col(User.id))
        .where(
            col(Jurisdiction.id) == _first_jurisdiction(), col(Decision.code) == bindparam("decision_code")
        )
        .with_for_update(of=Decision)
    )


DEPARTMENT_ROLES = frozenset({"department_staff", "department_head"})


def check_role(name: str, rule: proc.ActionRule, actor: Actor, decision: Decision | None) -> None:
    if actor.is_system:
        return
    if not (rule.roles & actor.roles):
        raise refusal(
            "AUTH",
            f"{name} 需要角色 {'/'.join(sorted(rule.roles))}",
            f"{name} needs role {'/'.join(sorted(rule.roles))}",
            field="actor",
            kind="forbidden",
        )
    # A department acts only on decisions it undertakes (Art. 11).
    acting_roles = rule.roles & actor.roles
    if (
        decision is not None
        and acting_roles <= DEPARTMENT_ROLES
        and actor.unit_code not in decision.unit_codes
    ):
        raise refusal(
            "AUTH",
            f"{actor.unit_code} 不是该决策的承办单位",
            f"{actor.unit_code} is not an undertaking unit of this decision",
            field="actor",
            kind="forbidden",
        )


def require_role(
    actor: Actor, roles: frozenset[str], what_zh: str, what_en: str, field_name: str = "actor"
) -> None:
    """An operation outside the procedure's actions (calendar load, outbox retry, a
    back-dating) needs one of `roles`."""
    if not (roles & actor.roles):
        raise refusal(
            "AUTH",
            f"{what_zh}需要角色 {'/'.join(sorted(roles))}（{actor.code}）",
            f"{what_en} needs role {'/'.join(sorted(roles))} ({actor.code})",
            field=field_name,
            kind="forbidden",
        )


def run_action(
    ctx: ServiceContext,
    name: str,
    actor_code: str,
    data: Mapping[str, Any],
    now: datetime | None = None,
    *,
    backdate: Backdate | None = None,
) -> ActionResult:
    """Validate, authorise, check the guards and apply one action in one transaction.
    A conflicting concurrent writer makes the transaction retry from the start; a
    refusal rolls everything back.

    `actor_code` names an active user or `public`; `system` is refused (internal callers
    use `run_system_action`). `now` is honoured only where the clock rules allow it
    (`ServiceContext.write_time`); `backdate` is an administrator's audited back-dating."""
    return _run(ctx, name, actor_code, data, now, backdate)


class BatchRefused(Exception):
    """One action of a batch was refused (`error`); the batch, `index` in it, wrote nothing."""

    def __init__(self, index: int, error: ProcedureError) -> None:
        super().__init__(f"step {index + 1}: {error}")
        self.index = index
        self.error = error


def run_actions(
    ctx: ServiceContext,
    steps: Sequence[tuple[str, str, Mapping[str, Any]]],
    now: datetime | None = None,
) -> list[ActionResult]:
    """Several actions, each `(action, actor, payload)`, in ONE transaction at one time:
    all of them commit or none does (e.g. a catalogue imported from a file, with the units it
    needs). Each is validated, authorised, checked and audited exactly as by `run_action`.
    A step whose payload is invalid or that is refused raises `BatchRefused` naming it, and
    nothing is written."""
    specs: list[tuple[ActionSpec[Any], Payload, str]] = []
    for index, (name, actor_code, data) in enumerate(steps):
        try:
            spec, payload = validate_payload(name, data)
        except ProcedureError as exc:
            raise BatchRefused(index, exc) from None
        specs.append((spec, payload, actor_code))
    moment = ctx.write_time(now)

    def work(session: Session) -> list[ActionResult]:
        results = []
        for index, (spec, payload, actor_code) in enumerate(specs):
            try:
                results.append(_apply(session, ctx, spec, payload, actor_code, moment, None))
            except ProcedureError as exc:
                raise BatchRefused(index, exc) from None
        return results

    return transact(ctx.engine, work)


def run_system_action(
    ctx: ServiceContext, name: str, data: Mapping[str, Any], now: datetime | None = None
) -> ActionResult:
    """An action taken by the system itself (the sweep, the Prefect flows): the only way to
    act as `SYSTEM`, which no adapter can reach by naming it."""
    return _run(ctx, name, SYSTEM, data, now, None)


def _run(
    ctx: ServiceContext,
    name: str,
    who: str | Actor,
    data: Mapping[str, Any],
    now: datetime | None,
    backdate: Backdate | None,
) -> ActionResult:
    spec, payload = validate_payload(name, data)
    if backdate is not None:
        if now is not None:
            raise invalid("backdate", "--now 与 --backdate 只能给一个", "give either now or backdate")
        moment = check_backdate(backdate, ctx.clock())
    else:
        moment = ctx.write_time(now)
    return transact(ctx.engine, lambda session: _apply(session, ctx, spec, payload, who, moment, backdate))


def _apply(
    session: Session,
    ctx: ServiceContext,
    spec: ActionSpec[Any],
    payload: Payload,
    who: str | Actor,
    now: datetime,
    backdate: Backdate | None,
) -> ActionResult:
    decision_code = getattr(payload, "decision", None)
    subject = open_subject(session, who, decision_code if isinstance(decision_code, str) else None)
    jurisdiction, actor, decision = subject.jurisdiction, subject.actor, subject.decision
    if backdate is not None:
        admin = load_actor(session, jurisdiction, backdate.by, "backdated_by")
        require_role(admin, frozenset({"admin"}), "补记（倒填时间）", "back-dating", "backdated_by")
    version = decision.procedure_version if decision else proc.CURRENT_VERSION
    check_role(spec.name, proc.procedure(version).actions[spec.name], actor, decision)
    tx = Tx(
        session=session,
        actor=actor,
        now=now,
        jurisdiction=jurisdiction,
        settings=resolved_settings(jurisdiction, version),
        documents=ctx.documents,
        action=spec.name,
        decision=decision,
        os_account=ctx.os_account,
    )
    if decision is not None:
        tx.check_preconditions(payload)
    result = dict(spec.handler(tx, payload) or {})
    tx.touch()
    tx.write_outbox()
    chain = tx.chain or (f"decision:{tx.decision.id}" if tx.decision else f"jurisdiction:{jurisdiction.id}")
    if tx.decision is None and tx.chain is None:
        the_jurisdiction(session, lock=True)  # serialise appends to the set-up chain
    if backdate is not None:
        not_before_chain(now, audit.last_occurred_at(session, chain), chain)
    event = audit.append(
        session,
        chain=chain,
        action=spec.name,
        actor=actor.code,
        actor_roles=actor.roles_text,
        occurred_at=now,
        payload={"input": payload.model_dump(mode="json"), "result": result, **tx.notes},
        decision_id=tx.decision.id if tx.decision else None,
        os_account=ctx.os_account,
        backdated_by=backdate.by if backdate else "",
        backdate_reason=backdate.reason.strip() if backdate else "",
        new_chain=decision is None and tx.decision is not None and tx.chain is None,
        head=subject.head if tx.decision is decision and tx.chain is None else None,
    )
    return ActionResult(spec.name, result, event.seq, chain)


def utc(moment: datetime, field_name: str = "at") -> datetime:
    if moment.tzinfo is None:
        raise invalid(field_name, "须带时区", "must carry a time zone")
    return moment.astimezone(UTC)
