"""The procedure data is the one place for order: every action declares its preconditions
beside its roles (`flows.procedure.ACTIONS`), one generic check enforces them, and every
lifecycle moves only along declared transitions."""

from __future__ import annotations

import dataclasses

import pytest

from flows import procedure as proc
from flows import rules
from flows.service import ServiceContext
from flows.service.framework import REGISTRY
from models import DecisionStatus, StageStatus
from tests.helpers import act, district, drafted, refused

PROCEDURE = proc.procedure()


def test_every_registered_action_has_its_rule_and_every_rule_its_handler() -> None:
    assert set(REGISTRY) == set(PROCEDURE.actions)


def test_declared_stages_and_lifecycles_exist() -> None:
    for name, rule in PROCEDURE.actions.items():
        for stage in (rule.stage, *rule.done, *rule.started):
            if stage not in (None, proc.PAYLOAD_STAGE):
                assert stage in PROCEDURE.stage_by_id, (name, stage)
        for lifecycle, statuses in rule.needs.items():
            spec = PROCEDURE.lifecycles[lifecycle]
            known = {s for pair in spec.transitions for s in pair}
            assert statuses <= known, (name, lifecycle, statuses - known)
        for rule_id in (rule.decision_rule, *rule.status_rules.values()):
            assert rule_id in proc.RULES, (name, rule_id)


def test_every_decision_transition_is_made_by_a_known_action() -> None:
    for (before, after), name in PROCEDURE.decision_transitions.items():
        assert name in PROCEDURE.actions, name
        # the action that makes the change may act on the decision in its starting status
        assert before in PROCEDURE.actions[name].decision, (name, before)
        assert before != after


def test_guards_product_rules_and_error_kinds_are_kept_apart() -> None:
    assert all(key.startswith("R") for key in proc.GUARDS)
    assert all(key.startswith("P") for key in proc.PRODUCT_RULES)
    assert set(proc.ERROR_KINDS) == {"ORDER", "STATE", "AUTH", "INPUT", "NOT_FOUND"}
    assert proc.RULES == {**proc.GUARDS, **proc.PRODUCT_RULES, **proc.ERROR_KINDS}


@pytest.mark.parametrize(
    "kind", [proc.Stage, proc.Guard, proc.EvidenceKind, proc.Setting, proc.ActionRule, proc.Lifecycle]
)
def test_procedure_entries_are_built_with_keywords_only(kind: type) -> None:
    fields = [f for f in dataclasses.fields(kind) if f.init]
    with pytest.raises(TypeError):
        kind(*["x"] * len(fields))


# ------------------------------------------------------------------ the generic check, alone
RULE = proc.action(
    "department_staff",
    articles="test",
    stage="legality_review",
    decision=frozenset({DecisionStatus.in_procedure}),
    decision_rule="R1",
    enters=True,
    done=("public_participation",),
)
STAGE = PROCEDURE.stage("legality_review")
DONE = {s.id: StageStatus.completed for s in PROCEDURE.stages} | {"legality_review": StageStatus.pending}


def check(
    status: DecisionStatus, statuses: dict[str, StageStatus], flags: frozenset[str] = frozenset()
) -> str | None:
    violation = rules.action_preconditions(RULE, STAGE, flags, status, statuses)
    return violation.rule_id if violation else None


def test_the_generic_check_lets_a_ready_action_through() -> None:
    assert check(DecisionStatus.in_procedure, DONE) is None


def test_a_wrong_decision_status_is_refused_with_the_declared_rule() -> None:
    assert check(DecisionStatus.proposed, DONE) == "R1"
    assert check(DecisionStatus.archived, DONE) == "R20"  # closed: Art. 37
    assert check(DecisionStatus.withdrawn, DONE) == "STATE"


def test_an_unfinished_earlier_stage_is_order() -> None:
    assert check(DecisionStatus.in_procedure, DONE | {"public_participation": StageStatus.active}) == "ORDER"
    assert (
        check(DecisionStatus.in_procedure, DONE | {"drafting": StageStatus.active}) == "ORDER"
    )  # Stage.after


def test_a_stage_not_open_to_work_is_state() -> None:
    assert check(DecisionStatus.in_procedure, DONE | {"legality_review": StageStatus.completed}) == "STATE"


def test_a_stage_the_law_switches_off_is_r2() -> None:
    participation = proc.action("department_staff", articles="t", stage="public_participation", enters=True)
    violation = rules.action_preconditions(
        participation,
        PROCEDURE.stage("public_participation"),
        frozenset({"confidential"}),
        DecisionStatus.in_procedure,
        DONE,
    )
    assert violation is not None and violation.rule_id == "R2"


def test_an_ordered_sub_procedure_names_the_missing_step() -> None:
    hearing = PROCEDURE.lifecycles["hearing"]
    early = rules.subject_ready(hearing, frozenset({"materials_delivered"}), "selected", "H1")
    assert early is not None and early.rule_id == "R5" and "名单" in early.zh
    over = rules.subject_ready(hearing, frozenset({"announced"}), "held", "H1")
    assert over is not None and over.rule_id == "STATE"
    assert rules.subject_ready(hearing, frozenset({"held"}), "held", "H1") is None


# ------------------------------------------------------------------ P3 through the service
def test_p3_a_comment_period_does_not_start_in_the_past(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    period = {"decision": "D1", "end_date": "2026-04-06", "channels": ["website"]}
    refused(ctx, "P3", "open_comment_period", "li", "2026-03-04T09:00", start_date="2026-03-03", **period)
    act(ctx, "open_comment_period", "li", "2026-03-04T09:05", start_date="2026-03-04", **period)


def test_an_error_cites_its_article_and_bad_input_cites_none() -> None:
    from flows.errors import invalid, refusal

    assert str(invalid("title", "必填", "is required")).endswith("field title: is required")
    guard = proc.RULES["R3"]
    assert str(refusal("R3")).endswith(f"({guard.article})") and guard.article.strip("—- ")
