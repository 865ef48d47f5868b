"""Scenario files: set up a jurisdiction, then play actions against the
service layer at given times, sweeping deadlines in between. An adapter: it writes
nothing except through the service layer."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows.errors import ProcedureError
from flows.service import ServiceContext, run_action, setup_jurisdiction
from flows.service.audit import verify_all
from flows.service.clock import mark_database
from flows.service.sweep import next_due, sweep
from models import (
    CommentPeriod,
    Deadline,
    Decision,
    EvidenceDocument,
    Notification,
    StageInstance,
    User,
)
from models.db import create_all, make_engine


class _Loader(yaml.SafeLoader):
    """Keep timestamps as text so that a local time is read in the scenario's time zone,
    not silently converted to naive UTC as PyYAML does."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class ScenarioError(Exception):
    """A malformed scenario: names the file, the step and the field."""


class DeadlineCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    due: date | None = None
    provisional: bool | None = None
    status: str | None = None


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str | None = None
    stage: str | None = None
    status: str | None = None
    decision_status: str | None = None
    deadline: DeadlineCheck | None = None
    comment_period: Literal["open", "closed", "none"] | None = None
    evidence: dict[str, int] | None = None
    audit_valid: bool | None = None
    # notifications to one user so far: how many, optionally only of one event, reminder
    # point, deadline kind, lateness or escalation level (and of `decision`, when given)
    notifications_to: str | None = None
    count: int | None = None
    event: str | None = None
    point: str | None = None
    kind: str | None = None
    late: bool | None = None
    level: int | None = None

    @model_validator(mode="after")
    def count_with_recipient(self) -> Check:
        if (self.notifications_to is None) != (self.count is None):
            raise ValueError("`notifications_to` and `count` go together")
        filters = (self.event, self.point, self.kind, self.late, self.level)
        if self.notifications_to is None and any(f is not None for f in filters):
            raise ValueError("event/point/kind/late/level filter `notifications_to`")
        return self


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    at: str
    actor: str | None = None
    action: str | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    expect: str = "ok"
    check: Check | None = None

    @model_validator(mode="after")
    def action_or_check(self) -> Step:
        if (self.action is None) == (self.check is None):
            raise ValueError("a step has either `action` (with `actor`) or `check`")
        if self.action is not None and self.actor is None:
            raise ValueError("an action step needs `actor`")
        if not (self.expect in {"ok", "refused"} or self.expect.startswith("refused ")):
            raise ValueError("expect is `ok`, `refused` or `refused RULE_ID`")
        return self


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    timezone: str = "Asia/Shanghai"
    jurisdiction: dict[str, Any]
    units: list[dict[str, Any]]
    users: list[dict[str, Any]]
    steps: list[Step] = Field(min_length=1)


@dataclass
class StepOutcome:
    number: int
    label: str
    result: str
    passed: bool
    detail: str = ""

    def line(self) -> str:
        mark = "" if self.passed else "  <-- FAILED"
        extra = f"  {self.detail}" if self.detail else ""
        return f"{self.number:>3} {self.label} {self.result}{mark}{extra}"


@dataclass
class ScenarioReport:
    name: str
    outcomes: list[StepOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)


def load(path: Path) -> Scenario:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "steps":
            where = f"step {int(loc[1]) + 1}, field {'.'.join(str(p) for p in loc[2:]) or '(step)'}"
        raise ScenarioError(f"{path}: {where}: {err['msg']}") from None


def parse_at(text: str, tz: ZoneInfo, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise ScenarioError(f"{where}, field at: {text!r} is not an ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def run_file(path: Path, database_url: str = "sqlite://", engine: Engine | None = None) -> ScenarioReport:
    scenario = load(path)
    engine = engine or make_engine(database_url)
    create_all(engine)
    mark_database(engine, "scenario")  # simulated clock: the file's steps carry their own times
    with tempfile.TemporaryDirectory(prefix="decisionflow-scenario-") as data_dir:
        return play(scenario, ServiceContext(engine=engine, data_dir=Path(data_dir)), str(path))


def play(scenario: Scenario, ctx: ServiceContext, where: str = "scenario") -> ScenarioReport:
    tz = ZoneInfo(scenario.timezone)
    times = [parse_at(step.at, tz, f"{where}: step {i}") for i, step in enumerate(scenario.steps, 1)]
    for i in range(1, len(times)):
        if times[i] < times[i - 1]:
            raise ScenarioError(f"{where}: step {i + 1}, field at: earlier than the step before it")
    jurisdiction = {"timezone": scenario.timezone, **scenario.jurisdiction}
    try:
        setup_jurisdiction(ctx, jurisdiction, scenario.units, scenario.users, now=times[0])
    except ProcedureError as exc:
        raise ScenarioError(f"{where}: set-up: {exc}") from None
    report = ScenarioReport(scenario.name)
    for number, (step, moment) in enumerate(zip(scenario.steps, times, strict=True), 1):
        sweep_until(ctx, moment)
        if step.check is not None:
            report.outcomes.append(run_check(ctx, number, step.check, tz))
            continue
        assert step.action is not None and step.actor is not None
        try:
            run_action(ctx, step.action, step.actor, step.with_, now=moment)
            result, rule = "ok", None
        except ProcedureError as exc:
            if exc.kind == "invalid" or (exc.kind == "not_found" and exc.field != "decision"):
                raise ScenarioError(
                    f"{where}: step {number} ({step.action}), field {exc.field}: {exc}"
                ) from None
            result, rule = f"refused {exc.rule_id}", exc
        expected = step.expect
        passed = result == expected or (expected == "refused" and result.startswith("refused"))
        detail = "" if passed else f"expected {expected}" + (f": {rule}" if rule else "")
        report.outcomes.append(StepOutcome(number, step.action, result, passed, detail))
    return report


def sweep_until(ctx: ServiceContext, moment: datetime) -> None:
    """Run the sweep at every instant something falls due up to `moment`, as the
    scheduler would have: transitions, reminders and deliveries happen on time."""
    while True:
        with Session(ctx.engine) as session:
            due = next_due(session)
        if due is None or due > moment:
            return
        sweep(ctx, due)


def run_check(ctx: ServiceContext, number: int, check: Check, tz: ZoneInfo) -> StepOutcome:
    problems: list[str] = []
    with Session(ctx.engine) as session:
        decision = None
        if check.decision is not None:
            decision = session.exec(select(Decision).where(Decision.code == check.decision)).first()
            if decision is None:
                return StepOutcome(number, "check", "FAILED", False, f"no decision {check.decision}")
        if (
            check.decision_status is not None
            and decision is not None
            and decision.status.value != check.decision_status
        ):
            problems.append(
                f"decision status: expected {check.decision_status}, found {decision.status.value}"
            )
        if check.stage is not None and decision is not None:
            stage = session.exec(
                select(StageInstance).where(
                    StageInstance.decision_id == decision.id, StageInstance.stage == check.stage
                )
            ).first()
            found = stage.status.value if stage else "missing"
            if check.status is not None and found != check.status:
                problems.append(f"stage {check.stage}: expected {check.status}, found {found}")
        if check.deadline is not None and decision is not None:
            rows = list(
                session.exec(
                    select(Deadline)
                    .where(Deadline.decision_id == decision.id, Deadline.kind == check.deadline.kind)
                    .order_by(col(Deadline.id).desc())
                )
            )
            if not rows:
                problems.append(f"deadline {check.deadline.kind}: none")
            else:
                row = rows[0]
                if check.deadline.due is not None and row.due_date != check.deadline.due:
                    problems.append(
                        f"deadline {row.kind}: expected due {check.deadline.due}, found {row.due_date}"
                    )
                if check.deadline.provisional is not None and row.provisional != check.deadline.provisional:
                    problems.append(
                        f"deadline {row.kind}: expected provisional={check.deadline.provisional}, found {row.provisional}"
                    )
                if check.deadline.status is not None and row.status.value != check.deadline.status:
                    problems.append(
                        f"deadline {row.kind}: expected {check.deadline.status}, found {row.status.value}"
                    )
        if check.comment_period is not None and decision is not None:
            period = session.exec(
                select(CommentPeriod)
                .where(CommentPeriod.decision_id == decision.id)
                .order_by(col(CommentPeriod.id).desc())
            ).first()
            found = period.status if period else "none"
            if found != check.comment_period:
                problems.append(f"comment period: expected {check.comment_period}, found {found}")
        if check.evidence is not None and decision is not None:
            for kind, expected in check.evidence.items():
                count = len(
                    session.exec(
                        select(EvidenceDocument.id).where(
                            EvidenceDocument.decision_id == decision.id, EvidenceDocument.kind == kind
                        )
                    ).all()
                )
                if count != expected:
                    problems.append(f"evidence {kind}: expected {expected}, found {count}")
        if check.notifications_to is not None:
            query = (
                select(Notification.id)
                .join(User, col(User.id) == col(Notification.user_id))
                .where(User.code == check.notifications_to)
            )
            if decision is not None:
                query = query.where(Notification.decision_id == decision.id)
            if check.kind is not None:
                query = query.join(Deadline, col(Deadline.id) == col(Notification.deadline_id)).where(
                    Deadline.kind == check.kind
                )
            for column, value in (
                (Notification.event, check.event),
                (Notification.point, check.point),
                (Notification.late, check.late),
                (Notification.level, check.level),
            ):
                if value is not None:
                    query = query.where(column == value)
            found_count = len(session.exec(query).all())
            if found_count != check.count:
                what = ", ".join(
                    f"{k}={v}"
                    for k, v in (
                        ("event", check.event),
                        ("point", check.point),
                        ("kind", check.kind),
                        ("late", check.late),
                        ("level", check.level),
                    )
                    if v is not None
                )
                problems.append(
                    f"notifications to {check.notifications_to}{f' ({what})' if what else ''}:"
                    f" expected {check.count}, found {found_count}"
                )
        if check.audit_valid is not None:
            _, _, breaks = verify_all(session)
            if (not breaks) != check.audit_valid:
                problems.append(f"audit valid: expected {check.audit_valid}, found breaks {breaks}")
    if problems:
        return StepOutcome(number, "check", "FAILED", False, "; ".join(problems))
    return StepOutcome(number, "check", "ok", True)
