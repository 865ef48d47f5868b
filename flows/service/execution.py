"""After the decision (S13): execution and its reports (Arts. 34-35), post-decision
evaluation (Art. 36), suspension, its end (resumed or terminated) and adjustment
(Art. 37), and the public's feedback on a decision being carried out (Art. 35(2)).

Who may act on a decision: the framework lets a department act only on decisions whose
`unit_codes` name it (Art. 11). The execution unit and the post-evaluation unit are often
other departments, so while they hold that role their code is added to `unit_codes`
(`_sync_acting_units`). The undertaking units themselves are kept on the execution
assignment, because R19 must still tell which units did the main pre-decision work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, cast, get_args

from pydantic import Field, ValidationError
from sqlmodel import col, select

from flows import rules
from flows.errors import refusal
from flows.hygiene import next_free_code
from flows.service import audit
from flows.service.framework import DEPARTMENT_ROLES, DecisionPayload, Tx, action, validation_error
from flows.service.issuance import standing_status
from flows.service.lifecycle import FlagName, RegisterDecision, create_decision
from models import (
    CatalogueEntry,
    Decision,
    DecisionStatus,
    ExecutionAssignment,
    ExecutionReport,
    PostEvaluation,
    StageStatus,
    Suspension,
    Unit,
    User,
)
from models.enums import DeadlineStatus
from models.execution import ExecutionFeedback

# Pre-decision evidence whose authors did the main argumentation or assessment (Art. 36).
MAIN_WORK_EVIDENCE = ("risk_report",)


# ------------------------------------------------------------------ reading
def current_assignment(tx: Tx) -> ExecutionAssignment | None:
    decision = tx.require_decision()
    return tx.session.exec(
        select(ExecutionAssignment)
        .where(ExecutionAssignment.decision_id == decision.id)
        .order_by(col(ExecutionAssignment.id).desc())
    ).first()


def open_evaluation(tx: Tx) -> PostEvaluation | None:
    decision = tx.require_decision()
    return tx.session.exec(
        select(PostEvaluation).where(
            PostEvaluation.decision_id == decision.id, col(PostEvaluation.reported_at).is_(None)
        )
    ).first()


def undertaking_units(tx: Tx) -> list[str]:
    """The undertaking units named at initiation (Art. 11), without the after-decision
    units that `_sync_acting_units` added to `unit_codes`."""
    assignment = current_assignment(tx)
    if assignment is not None:
        return list(assignment.undertaking_units)
    return list(tx.require_decision().unit_codes)


def main_work_units(tx: Tx) -> set[str]:
    """Units that did the main pre-decision argumentation or assessment (Art. 36): the lead
    and undertaking units, and the units whose staff submitted the risk assessment."""
    decision = tx.require_decision()
    units = set(undertaking_units(tx))
    if decision.lead_unit_id is not None:
        units.add(tx.unit_by_id(decision.lead_unit_id).code)
    authors = {e.created_by for kind in MAIN_WORK_EVIDENCE for e in tx.evidence(kind)}
    if authors:
        rows = tx.session.exec(
            select(Unit.code)
            .join(User, col(User.unit_id) == col(Unit.id))
            .where(User.jurisdiction_id == tx.jurisdiction.id, col(User.code).in_(sorted(authors)))
        )
        units.update(rows)
    return units


def _sync_acting_units(tx: Tx) -> None:
    """`unit_codes` = the undertaking units + the current execution unit + the unit doing an
    open post-evaluation, so that the framework's department check lets exactly these act."""
    decision = tx.require_decision()
    acting = undertaking_units(tx)
    assignment = current_assignment(tx)
    if assignment is not None:
        acting.append(tx.unit_by_id(assignment.unit_id).code)
    evaluation = open_evaluation(tx)
    if evaluation is not None:
        acting.append(tx.unit_by_id(evaluation.evaluator_unit_id).code)
    acting = list(dict.fromkeys(acting))
    if acting != list(decision.unit_codes):
        tx.notes["acting_units"] = acting
        decision.unit_codes = acting
        tx.session.add(decision)


def _acts_as_department(tx: Tx) -> bool:
    """The actor acts through a department role (as the framework's unit check reads it)."""
    acting = tx.procedure.actions[tx.action].roles & tx.actor.roles
    return bool(acting) and acting <= DEPARTMENT_ROLES


def _refuse_department_outside(tx: Tx, allowed_units: set[str], what_zh: str, what_en: str) -> None:
    """A department acts here only for one of `allowed_units` (the framework lets in every
    unit in `unit_codes`, which also holds the other after-decision units)."""
    if _acts_as_department(tx) and tx.actor.unit_code not in allowed_units:
        raise refusal(
            "AUTH",
            f"{tx.actor.unit_code} 不是{what_zh}",
            f"{tx.actor.unit_code} is not {what_en}",
            field="actor",
            kind="forbidden",
        )


# ------------------------------------------------------------------ Art. 34: execution
class AssignExecutionUnit(DecisionPayload):
    unit: str = Field(min_length=1, max_length=64)


@action("assign_execution_unit", AssignExecutionUnit)
def assign_execution_unit(tx: Tx, p: AssignExecutionUnit) -> Mapping[str, Any]:
    """Art. 34: the organ names the execution unit; naming another one replaces it."""
    decision = tx.require_decision()  # made (declared)
    unit = tx.unit(p.unit, "unit")
    previous = current_assignment(tx)
    tx.check(rules.execution_unit_changes(previous is not None and previous.unit_id == unit.id, p.unit))
    tx.enter_stage("execution")
    undertaking = undertaking_units(tx)  # read before unit_codes changes
    tx.session.add(
        ExecutionAssignment(
            decision_id=decision.id or 0,
            unit_id=unit.id or 0,
            undertaking_units=undertaking,
            assigned_by=tx.actor.code,
            assigned_at=tx.now,
        )
    )
    tx.session.flush()
    _sync_acting_units(tx)
    tx.emit("execution_unit_assigned", {"unit": p.unit, "replaces": _unit_code(tx, previous)})
    return {"execution_unit": p.unit}


def _unit_code(tx: Tx, assignment: ExecutionAssignment | None) -> str | None:
    return tx.unit_by_id(assignment.unit_id).code if assignment else None


def _require_reporter(tx: Tx) -> ExecutionAssignment:
    """R18: reports come once an execution unit is named, from it or an undertaking unit;
    none after the organ terminated the decision (R20)."""
    assignment = current_assignment(tx)
    tx.check(rules.execution_unit_assigned(assignment is not None))
    assert assignment is not None
    allowed = {*undertaking_units(tx), tx.unit_by_id(assignment.unit_id).code}
    _refuse_department_outside(tx, allowed, "执行单位或承办单位", "the execution unit or an undertaking unit")
    return assignment


class ExecutionProgress(DecisionPayload):
    text: str = Field(min_length=1, max_length=20000)


@action("report_execution_progress", ExecutionProgress)
def report_execution_progress(tx: Tx, p: ExecutionProgress) -> Mapping[str, Any]:
    """Art. 34: the execution unit reports how the decision is being carried out."""
    decision = tx.require_decision()
    _require_reporter(tx)
    evidence = tx.add_evidence("execution", "execution_report", p.text)
    report = ExecutionReport(
        decision_id=decision.id or 0,
        kind="progress",
        text=p.text,
        evidence_id=evidence.id,
        reported_by=tx.actor.code,
        reported_at=tx.now,
    )
    tx.session.add(report)
    tx.session.flush()
    return {"report": report.id}


class ExecutionProblem(DecisionPayload):
    trigger: str = Field(min_length=1, max_length=32)  # checked by R18, not by the schema
    text: str = Field(min_length=1, max_length=20000)


@action("report_execution_problem", ExecutionProblem)
def report_execution_problem(tx: Tx, p: ExecutionProblem) -> Mapping[str, Any]:
    """Art. 35: the execution unit promptly reports a problem with the decision, a major
    change of circumstances, or force majeure; the organ is notified."""
    decision = tx.require_decision()
    tx.check(rules.problem_trigger_known(p.trigger))
    _require_reporter(tx)
    evidence = tx.add_evidence("execution", "problem_report", p.text)
    report = ExecutionReport(
        decision_id=decision.id or 0,
        kind="problem",
        trigger=p.trigger,
        text=p.text,
        evidence_id=evidence.id,
        reported_by=tx.actor.code,
        reported_at=tx.now,
    )
    tx.session.add(report)
    tx.session.flush()
    # the organ decides what follows: post-evaluation, suspension or adjustment (Arts. 36-37)
    tx.emit("execution_problem_reported", {"trigger": p.trigger, "organ": decision.organ})
    return {"report": report.id, "trigger": p.trigger}


# ------------------------------------------------------------------ Art. 36: post-evaluation
class StartPostEvaluation(DecisionPayload):
    trigger: str = Field(min_length=1, max_length=32)  # checked by R19, not by the schema
    evaluator_unit: str = Field(min_length=1, max_length=64)


@action("start_post_evaluation", StartPostEvaluation)
def start_post_evaluation(tx: Tx, p: StartPostEvaluation) -> Mapping[str, Any]:
    """Art. 36: the organ may organise a post-evaluation once the decision is being carried
    out, naming an evaluator that did not do the main pre-decision work (R19)."""
    decision = tx.require_decision()  # made, or suspended (declared)
    tx.check(rules.evaluation_trigger_known(p.trigger))
    evaluator = tx.unit(p.evaluator_unit, "evaluator_unit")
    tx.check(rules.evaluator_independent(evaluator.code, main_work_units(tx)))
    _enter_post_evaluation(tx)
    tx.session.add(
        PostEvaluation(
            decision_id=decision.id or 0,
            trigger=p.trigger,
            evaluator_unit_id=evaluator.id or 0,
            started_by=tx.actor.code,
            started_at=tx.now,
        )
    )
    tx.session.flush()
    _sync_acting_units(tx)
    tx.emit("post_evaluation_started", {"trigger": p.trigger, "evaluator_unit": evaluator.code})
    return {"evaluator_unit": evaluator.code, "trigger": p.trigger}


def _enter_post_evaluation(tx: Tx) -> None:
    """Declared: execution has started (Art. 36 evaluates a decision while it is being
    implemented, and execution never "completes"), and no evaluation is under way; a
    finished one may be followed by a new one (completed -> active)."""
    tx.move_stage("post_evaluation", StageStatus.active)


class PostEvaluationReport(DecisionPayload):
    report: str = Field(min_length=1)


@action("submit_post_evaluation_report", PostEvaluationReport)
def submit_post_evaluation_report(tx: Tx, p: PostEvaluationReport) -> Mapping[str, Any]:
    """Art. 36: the evaluator's report, an important basis for adjusting the decision.
    A department submits it only as the named evaluator (R19 for a main-work unit)."""
    evaluation = open_evaluation(tx)
    assert evaluation is not None, "the post_evaluation stage is active only while one is open (declared)"
    evaluator = tx.unit_by_id(evaluation.evaluator_unit_id).code
    if _acts_as_department(tx) and tx.actor.unit_code != evaluator:
        tx.check(rules.evaluator_independent(tx.actor.unit_code or "", main_work_units(tx)))
        _refuse_department_outside(tx, {evaluator}, "评估单位", "the evaluating unit")
    evidence = tx.add_evidence("post_evaluation", "post_evaluation_report", p.report)
    evaluation.report_evidence_id = evidence.id
    evaluation.reported_by = tx.actor.code
    evaluation.reported_at = tx.now
    tx.session.add(evaluation)
    tx.session.flush()
    row = tx.finish_stage("post_evaluation")
    _sync_acting_units(tx)
    tx.emit("post_evaluation_reported", {"evaluator_unit": evaluator, "trigger": evaluation.trigger})
    return {"stage": "post_evaluation", "status": row.status.value}


# ------------------------------------------------------------------ Art. 37: suspension, adjustment
class SuspendExecution(DecisionPayload):
    trigger: str = Field(default="", max_length=32)  # an Art. 35 situation, checked by R20
    urgency: str = Field(default="", max_length=5000)  # required, checked by R20
    on_date: date


@action("suspend_execution", SuspendExecution)
def suspend_execution(tx: Tx, p: SuspendExecution) -> Mapping[str, Any]:
    """Art. 37: in an Art. 35 situation that is urgent, the head may first suspend
    execution. The only way, besides an adjustment, to stop a made decision (R20)."""
    decision = tx.require_decision()  # made and not yet suspended (declared)
    tx.check(rules.suspension_justified(p.trigger, p.urgency))
    tx.check(rules.recorded_date_not_future("R20", "on_date", p.on_date, tx.today))  # §15.4
    decided_on = decision.decided_on.astimezone(tx.tz).date() if decision.decided_on else None
    tx.check(rules.suspension_not_before_decision(p.on_date, decided_on))
    text = (
        f"关于中止执行《{decision.title}》的决定：自{p.on_date}起中止执行。"
        f"情形：{p.trigger}（第三十五条）。紧急情况：{p.urgency}"
    )
    evidence = tx.add_evidence("execution", "suspension_decision", text)
    tx.session.add(
        Suspension(
            decision_id=decision.id or 0,
            trigger=p.trigger,
            urgency=p.urgency,
            previous_status=decision.status.value,
            evidence_id=evidence.id,
            decided_by=tx.actor.code,
            on_date=p.on_date,
            recorded_at=tx.now,
        )
    )
    tx.notes["previous_status"] = decision.status.value
    tx.set_decision_status(DecisionStatus.suspended)
    tx.emit("execution_suspended", {"trigger": p.trigger, "on_date": str(p.on_date)})
    return {"status": decision.status.value, "on_date": str(p.on_date)}


class StartAdjustment(DecisionPayload):
    ref: str | None = Field(default=None, min_length=1, max_length=64)  # the new decision's code
    title: str = Field(min_length=1, max_length=300)
    reason: str = Field(min_length=1)


KNOWN_FLAGS = frozenset(get_args(FlagName))


@action("start_adjustment", StartAdjustment)
def start_adjustment(tx: Tx, p: StartAdjustment) -> Mapping[str, Any]:
    """Art. 37: a major adjustment goes through the statutory procedure again, as a new
    decision linked to the original; the original stays as it is (R20)."""
    original = tx.require_decision()  # made, or suspended (declared)
    running = tx.session.exec(
        select(Decision.code).where(
            Decision.adjusts_decision_id == original.id,
            col(Decision.status).in_([DecisionStatus.proposed, DecisionStatus.in_procedure]),
        )
    ).first()
    tx.check(rules.one_adjustment_at_a_time(running))
    lead = tx.unit_by_id(original.lead_unit_id).code if original.lead_unit_id else None
    try:
        registration = RegisterDecision(
            ref=p.ref,
            title=p.title,
            category=original.category,
            lead_unit=lead,
            units=undertaking_units(tx),
            proposal_source="leader",  # the organ itself moves the adjustment (Art. 10(1))
            proposal=f"调整《{original.title}》（{original.code}）。理由：{p.reason}",
            # derived flags (hearing_in_catalogue) are derived again from the entry
            flags=cast(list[FlagName], [f for f in original.flags if f in KNOWN_FLAGS]),
            organ=original.organ,
        )
    except ValidationError as exc:
        raise validation_error(exc) from None
    entry = (
        tx.session.get(CatalogueEntry, original.catalogue_entry_id) if original.catalogue_entry_id else None
    )
    original.updated_at = tx.now
    tx.session.add(original)
    adjustment = create_decision(tx, registration, entry=entry, adjusts=original)
    tx.emit("adjustment_started", {"adjusts": original.code, "reason": p.reason})
    # The framework records this action on the new decision's chain (its first event);
    # the original's chain records it too, so each dossier shows the link (Art. 33).
    audit.append(
        tx.session,
        chain=f"decision:{original.id}",
        action="start_adjustment",
        actor=tx.actor.code,
        actor_roles=tx.actor.roles_text,
        occurred_at=tx.now,
        payload={"input": p.model_dump(mode="json"), "result": {"adjustment": adjustment.code}},
        decision_id=original.id,
        os_account=tx.os_account,
    )
    return {"decision": adjustment.code, "adjusts": original.code}


# ------------------------------------------------------------------ Art. 37: the end of a suspension (§15.7)
def active_suspension(tx: Tx) -> Suspension | None:
    """The suspension in force: the latest one not yet resumed or terminated."""
    decision = tx.require_decision()
    return tx.session.exec(
        select(Suspension)
        .where(Suspension.decision_id == decision.id, Suspension.ended_how == "")
        .order_by(col(Suspension.id).desc())
    ).first()


class EndSuspension(DecisionPayload):
    reason: str = Field(min_length=1, max_length=5000)
    on_date: date


def _end_suspension(tx: Tx, p: EndSuspension, how: str, kind: str, text: str) -> Suspension:
    """Record how the suspension in force ends, dated no later than today and not before
    it began (§15.4), with the organ's written decision as evidence."""
    suspension = active_suspension(tx)
    assert suspension is not None
    tx.check(rules.recorded_date_not_future("R20", "on_date", p.on_date, tx.today))
    tx.check(rules.suspension_end_not_before_start(p.on_date, suspension.on_date))
    evidence = tx.add_evidence("execution", kind, text)
    suspension.ended_how = how
    suspension.ended_on = p.on_date
    suspension.end_reason = p.reason
    suspension.end_evidence_id = evidence.id
    suspension.ended_by = tx.actor.code
    suspension.ended_at = tx.now
    tx.session.add(suspension)
    return suspension


@action("resume_execution", EndSuspension)
def resume_execution(tx: Tx, p: EndSuspension) -> Mapping[str, Any]:
    """Art. 37: the organ lifts the head's suspension once the urgency is over; the decision
    returns to what the issuance steps made of it (decided, published or archived)."""
    decision = tx.require_decision()  # suspended (declared)
    assert active_suspension(tx) is not None, "a suspended decision has its suspension on record"
    back = standing_status(tx)
    _end_suspension(
        tx,
        p,
        "resumed",
        "resumption_decision",
        f"关于恢复执行《{decision.title}》的决定：自{p.on_date}起恢复执行。理由：{p.reason}",
    )
    tx.notes["previous_status"] = decision.status.value
    tx.set_decision_status(back)
    tx.emit("execution_resumed", {"on_date": str(p.on_date), "reason": p.reason})
    return {"status": back.value, "on_date": str(p.on_date)}


# stages that a terminated decision will never go through (it is not issued)
NOT_AFTER_TERMINATION = ("party_report", "congress", "publication", "execution")


@action("terminate_decision", EndSuspension)
def terminate_decision(tx: Tx, p: EndSuspension) -> Mapping[str, Any]:
    """Art. 37: a made decision is not stopped at will; only once the head has suspended it
    may the organ decide, with its reason, to stop it for good. Afterwards only archiving
    remains: no execution reports, evaluation, publication or adjustment (R20)."""
    decision = tx.require_decision()
    tx.check(
        rules.suspension_in_force(
            decision.status == DecisionStatus.suspended and active_suspension(tx) is not None
        )
    )
    _end_suspension(
        tx,
        p,
        "terminated",
        "termination_decision",
        f"关于终止执行《{decision.title}》的决定：自{p.on_date}起终止执行。理由：{p.reason}",
    )
    archived = standing_status(tx) == DecisionStatus.archived
    for stage_id in NOT_AFTER_TERMINATION:
        row = tx.stage(stage_id)
        if row.status == StageStatus.pending:
            tx.move_stage(stage_id, StageStatus.waived, "decision terminated (Art. 37)")
        elif stage_id == "execution" and row.status == StageStatus.active:
            tx.move_stage(stage_id, StageStatus.completed, "decision terminated (Art. 37)")
    tx.close_deadlines("publication_due", status=DeadlineStatus.cancelled)
    if not archived and tx.open_deadline("archive_due") is None:
        tx.schedule("archive_due", p.on_date)  # P10: archived from the decision that ended it
    tx.notes["previous_status"] = decision.status.value
    tx.set_decision_status(DecisionStatus.terminated)
    tx.emit("decision_terminated", {"on_date": str(p.on_date), "reason": p.reason})
    return {"status": decision.status.value, "on_date": str(p.on_date)}


# ------------------------------------------------------------------ Art. 35(2): the public's feedback
class SubmitExecutionFeedback(DecisionPayload):
    text: str = Field(min_length=1, max_length=20000)
    contact: str = Field(default="", max_length=200)


@action("submit_execution_feedback", SubmitExecutionFeedback)
def submit_execution_feedback(tx: Tx, p: SubmitExecutionFeedback) -> Mapping[str, Any]:
    """Art. 35(2): the public may send its opinion on a decision being carried out, i.e.
    once the organ named the execution unit (R18), also while suspended, never after the
    decision was terminated (R20). The system numbers it; the sender chooses nothing."""
    decision = tx.require_decision()
    assignment = current_assignment(tx)
    tx.check(rules.execution_unit_assigned(assignment is not None))
    assert assignment is not None
    taken = set(
        tx.session.exec(
            select(ExecutionFeedback.code).where(ExecutionFeedback.decision_id == decision.id)
        ).all()
    )
    code = next_free_code("F", len(taken) + 1, taken)
    tx.session.add(
        ExecutionFeedback(
            decision_id=decision.id or 0,
            code=code,
            text=p.text,
            contact=p.contact,
            submitted_at=tx.now,
        )
    )
    # the execution unit is told: it answers with respond_to_input (input_kind feedback)
    tx.emit("execution_feedback_received", {"feedback": code, "unit": _unit_code(tx, assignment)})
    return {"feedback": code}


def authorise_answer(tx: Tx, input_kind: str) -> None:
    """Called by `respond_to_input`, which the framework lets through on a closed decision
    (it is in AFTER_ARCHIVE, for feedback). Feedback on execution (Art. 35(2)) is answered
    by the current execution unit only: the framework also lets in the undertaking units
    and an evaluator (all in `unit_codes`), who do not carry the decision out. Other inputs
    belong to the procedure before the decision: a closed or terminated decision refuses
    them as the framework refuses any action on it."""
    status = standing_status(tx)  # a withdrawn decision is refused by the declared statuses
    if input_kind == "feedback":
        assignment = current_assignment(tx)
        tx.check(rules.execution_unit_assigned(assignment is not None))
        _refuse_department_outside(tx, {_unit_code(tx, assignment) or ""}, "执行单位", "the execution unit")
        return
    if status in (DecisionStatus.archived, DecisionStatus.terminated):
        tx.refuse("R20", f"决策状态为 {status.value}", f"the decision is {status.value}", field="decision")
