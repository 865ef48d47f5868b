"""The guards as pure, named predicates (no I/O). Each returns None when the rule holds,
or a `Violation` naming the rule, the field and what is wrong. The service turns a
violation into a `ProcedureError` carrying the article from `flows.procedure.GUARDS`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from flows.procedure import DONE_STATUSES, STAGES, Stage
from models.enums import StageStatus


@dataclass(frozen=True)
class Violation:
    rule_id: str
    field: str
    zh: str
    en: str


def unfinished_prerequisites(stage: Stage, statuses: Mapping[str, StageStatus]) -> list[str]:
    """§7.1: the stages `stage` comes after that are not yet done."""
    return [s for s in stage.after if statuses.get(s) not in DONE_STATUSES]


def stage_initial_status(stage: Stage, flags: frozenset[str]) -> StageStatus:
    """R2 and the triggers of §6: which stages a new decision must go through."""
    requirement = stage.requirement(flags)
    if requirement == "required":
        return StageStatus.pending
    return StageStatus.not_required


def initial_stage_statuses(flags: frozenset[str]) -> dict[str, StageStatus]:
    return {stage.id: stage_initial_status(stage, flags) for stage in STAGES}


# ------------------------------------------------------------------ R1, Art. 11
def undertaking_units_named(unit_codes: Sequence[str], lead_unit: str | None) -> Violation | None:
    if not unit_codes:
        return Violation("R1", "units", "须确定决策承办单位", "an undertaking unit must be named")
    if lead_unit is None and len(unit_codes) > 1:
        return Violation("R1", "lead_unit", "多个承办单位须确定牵头单位", "several units need a lead unit")
    if lead_unit is not None and lead_unit not in unit_codes:
        return Violation(
            "R1", "lead_unit", "牵头单位须为承办单位之一", "the lead unit must be one of the units"
        )
    return None


# ------------------------------------------------------------------ R3, Arts. 14-15
def comment_period_long_enough(
    start: date, end: date, minimum_days: int, urgent_reason: str, working_days_in_period: int | None = None
) -> Violation | None:
    """`end - start >= minimum` (the start day is not counted, "not less than" includes N;
    P2). `working_days_in_period` is given when the jurisdiction counts in working days (P1)."""
    if end <= start:
        return Violation(
            "R3", "end_date", "截止日期须晚于开始日期", "the end date must be after the start date"
        )
    length = working_days_in_period if working_days_in_period is not None else (end - start).days
    if length < minimum_days and not urgent_reason.strip():
        return Violation(
            "R3",
            "urgent_reason",
            f"期限为 {length} 日，少于 {minimum_days} 日，须在公告中说明紧急理由",
            f"the period is {length} days, under {minimum_days}; an urgent reason must be stated in the notice",
        )
    return None


def participation_done(activity_count: int, comment_periods: int) -> Violation | None:
    if activity_count + comment_periods == 0:
        return Violation(
            "R3", "decision", "尚未开展任何公众参与活动", "no public participation activity has taken place"
        )
    return None


def specific_group_consulted(flags: frozenset[str], group_consultations: int) -> Violation | None:
    if "affects_specific_group" in flags and group_consultations == 0:
        return Violation(
            "R4",
            "decision",
            "涉及特定群体利益，尚无特定群体意见听取记录",
            "the matter affects a specific group and no consultation with it is recorded",
        )
    return None


def unanswered_inputs(inputs: Iterable[str], answered: Iterable[str]) -> Violation | None:
    missing = sorted(set(inputs) - set(answered))
    if missing:
        return Violation(
            "R3",
            "decision",
            f"以下意见尚未答复：{', '.join(missing)}",
            f"these inputs have no response yet: {', '.join(missing)}",
        )
    return None


# ------------------------------------------------------------------ R5, Arts. 16-17
def materials_in_time(delivered_on: date, latest: date) -> Violation | None:
    if delivered_on > latest:
        return Violation(
            "R5",
            "delivered_on",
            f"听证材料须于 {latest.isoformat()} 前送达（听证会7日前）",
            f"materials must be delivered by {latest.isoformat()} (7 days before the hearing)",
        )
    return None


def hearing_notice_in_time(announced_on: date, latest: date) -> Violation | None:
    if announced_on > latest:
        return Violation(
            "P4",
            "starts_at",
            f"听证公告最迟应于 {latest.isoformat()} 发布",
            f"the hearing notice had to be published by {latest.isoformat()}",
        )
    return None


def record_signed(selected: Iterable[str], signed_by: Iterable[str]) -> Violation | None:
    missing = sorted(set(selected) - set(signed_by))
    if not list(signed_by) or missing:
        return Violation(
            "R5",
            "signed_by",
            f"听证记录须经参加人确认签字，未签字：{', '.join(missing) or '全部'}",
            f"the record must be signed by the participants; unsigned: {', '.join(missing) or 'all'}",
        )
    return None


# ------------------------------------------------------------------ R6, Arts. 19-20
def expert_eligible(has_direct_interest: bool) -> Violation | None:
    if has_direct_interest:
        return Violation(
            "R6",
            "experts",
            "与决策事项有直接利害关系的专家应当回避",
            "an expert with a direct interest in the matter is excluded",
        )
    return None


def expert_opinion_signed(signed: bool, sealed: bool) -> Violation | None:
    if not (signed or sealed):
        return Violation(
            "R6", "signed", "专家论证意见须署名或盖章", "an expert opinion must be signed or sealed"
        )
    return None


# ------------------------------------------------------------------ R7, Arts. 23-24
def risk_report_complete(
    risk_points: Sequence[str], measures: Sequence[str], plan: str, departments: Sequence[str]
) -> Violation | None:
    for name, value in (
        ("risk_points", risk_points),
        ("prevention_measures", measures),
        ("handling_plan", plan),
        ("departments_consulted", departments),
    ):
        if not value:
            return Violation("R7", name, "风险评估报告缺少该项", "the risk assessment report lacks this item")
    return None


def uncontrollable_risk_addressed(
    controllable: bool | None, judged_draft: int | None, current_draft: int
) -> Violation | None:
    """Art. 24: a draft judged uncontrollable must be revised before the decision."""
    if controllable is False and judged_draft is not None and current_draft <= judged_draft:
        return Violation(
            "R7",
            "decision",
            "风险被判断为不可控，须先调整决策草案",
            "the risk was judged uncontrollable; the draft must be revised first",
        )
    return None


# ------------------------------------------------------------------ R10, R12, Arts. 25-26
LAWFUL_OUTCOMES = frozenset({"lawful", "lawful_after_changes"})


def discussion_allowed(
    outcome: str | None,
    changes_recorded: bool,
    exploratory_reform: bool,
    legal_risk_statement: str,
) -> Violation | None:
    if outcome is None:
        return Violation("R12", "decision", "尚无合法性审查意见", "there is no legality review opinion yet")
    if outcome == "lawful_after_changes" and not changes_recorded:
        return Violation(
            "R12",
            "decision",
            "须先记录根据审查意见所作的修改",
            "the changes required by the opinion must be recorded",
        )
    if outcome in LAWFUL_OUTCOMES:
        return None
    if exploratory_reform and legal_risk_statement.strip():
        return None
    return Violation(
        "R12",
        "decision",
        "合法性审查意见为不合法，不得提交讨论",
        "the legality opinion is 'unlawful'; the draft may not go to discussion",
    )


def review_time_respected(meeting_date: date, earliest: date) -> Violation | None:
    if meeting_date < earliest:
        return Violation(
            "R10",
            "meeting_date",
            f"会议日期不得早于 {earliest.isoformat()}（送审后7个工作日）",
            f"the meeting may not be before {earliest.isoformat()} (7 working days after submission)",
        )
    return None


# ------------------------------------------------------------------ R14, P11, Art. 30
@dataclass(frozen=True)
class Speech:
    member: str
    position: str  # agree | disagree | abstain
    is_head: bool


def majority_position(speeches: Sequence[Speech]) -> str:
    """The members' majority view, the head excluded: agree, disagree or split."""
    agree = sum(1 for s in speeches if not s.is_head and s.position == "agree")
    disagree = sum(1 for s in speeches if not s.is_head and s.position == "disagree")
    if agree > disagree:
        return "agree"
    if disagree > agree:
        return "disagree"
    return "split"


def head_decision_matches(decision: str, majority: str) -> bool:
    if majority == "split":
        return True
    approving = decision in ("approve", "approve_with_changes")
    return approving == (majority == "agree")


def meeting_valid(
    meeting_type: str,
    speeches: Sequence[Speech],
    head_decision: str,
    head_reason: str,
    present: int,
    total: int,
    quorum_fraction: float,
) -> Violation | None:
    if meeting_type not in ("executive", "plenary"):
        return Violation(
            "R14", "meeting_type", "须为常务会议或全体会议", "must be an executive or a plenary meeting"
        )
    if total <= 0 or present / total <= quorum_fraction:
        return Violation(
            "P11",
            "members_present",
            f"出席 {present}/{total}，未超过组成人员的 {quorum_fraction:.0%}",
            f"{present}/{total} present, not more than {quorum_fraction:.0%} of the members",
        )
    heads = [i for i, s in enumerate(speeches) if s.is_head]
    if len(heads) != 1 or heads[0] != len(speeches) - 1:
        return Violation("R14", "opinions", "行政首长须最后发言", "the head must speak last")
    majority = majority_position(speeches)
    if not head_decision_matches(head_decision, majority) and not head_reason.strip():
        return Violation(
            "R14",
            "head_reason",
            "行政首长的决定与多数人意见不一致，应当说明理由",
            "the head's decision differs from the majority; the reason must be given",
        )
    return None


# ------------------------------------------------------------------ R16, Art. 32
def publication_complete(
    channels: Iterable[str],
    required_channels: Iterable[str],
    flags: frozenset[str],
    adoption_explanation: str,
    interpretation: str,
) -> Violation | None:
    missing = sorted(set(required_channels) - set(channels))
    if missing:
        return Violation(
            "R16",
            "channels",
            f"缺少公布渠道：{', '.join(missing)}",
            f"missing channels: {', '.join(missing)}",
        )
    if flags & {"high_public_concern", "technical"}:
        if not adoption_explanation.strip():
            return Violation(
                "R16",
                "adoption_explanation",
                "须说明公众和专家意见采纳情况",
                "an adoption explanation is required",
            )
        if not interpretation.strip():
            return Violation("R16", "interpretation", "须提供解读材料", "interpretation material is required")
    return None


# ------------------------------------------------------------------ R17, Art. 33
def missing_archive_items(required: Iterable[str], present: Iterable[str]) -> list[str]:
    return sorted(set(required) - set(present))


# ------------------------------------------------------------------ R18-R20, Arts. 34-37
PROBLEM_TRIGGERS = frozenset({"decision_problem", "circumstances_changed", "force_majeure"})  # Art. 35
EVALUATION_TRIGGERS = frozenset({"effect_short", "many_objections", "organ_considers_necessary"})  # Art. 36


def evaluator_independent(evaluator_unit: str, main_work_units: Iterable[str]) -> Violation | None:
    if evaluator_unit in set(main_work_units):
        return Violation(
            "R19",
            "evaluator_unit",
            "评估单位不得为承担主要论证评估工作的单位",
            "the evaluator may not be the unit that did the main pre-decision work",
        )
    return None
