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
def lead_time_words(days: int, working: bool = False) -> tuple[str, str]:
    """ "N days before the hearing" in both languages, N being the jurisdiction's setting."""
    if working:
        return f"听证会{days}个工作日前", f"{days} working days before the hearing"
    return f"听证会{days}日前", f"{days} days before the hearing"


def materials_in_time(delivered_on: date, latest: date, days: int, working: bool = False) -> Violation | None:
    """Art. 16(3), P14: any day on or before the hearing day minus the lead time is in time."""
    if delivered_on > latest:
        zh, en = lead_time_words(days, working)
        return Violation(
            "R5",
            "delivered_on",
            f"听证材料须于 {latest.isoformat()} 前送达（至少{zh}）",
            f"materials must be delivered by {latest.isoformat()} (at least {en})",
        )
    return None


def hearing_notice_in_time(announced_on: date, latest: date, days: int) -> Violation | None:
    if announced_on > latest:
        zh, en = lead_time_words(days)
        return Violation(
            "P4",
            "starts_at",
            f"听证公告最迟应于 {latest.isoformat()} 发布（至少{zh}）",
            f"the hearing notice had to be published by {latest.isoformat()} (at least {en})",
        )
    return None


def record_signed(
    selected: Iterable[str], signed_by: Iterable[str], refused_to_sign: Iterable[str] = ()
) -> Violation | None:
    """Art. 17: every participant either signs the record or is named in it as refusing
    (or failing) to sign; nobody is both."""
    chosen, signed, refusing = set(selected), set(signed_by), set(refused_to_sign)
    both = sorted(chosen & signed & refusing)
    if both:
        return Violation(
            "R5",
            "refused_to_sign",
            f"参加人不能既签字又拒绝签字：{', '.join(both)}",
            f"a participant cannot both sign and refuse to sign: {', '.join(both)}",
        )
    missing = sorted(chosen - signed - refusing)
    if missing or not chosen:
        return Violation(
            "R5",
            "signed_by",
            f"听证记录须经参加人确认签字，或载明其拒绝签字；未签字：{', '.join(missing) or '全部'}",
            f"each participant signs the record or is named as refusing to sign; unaccounted for: "
            f"{', '.join(missing) or 'all'}",
        )
    return None


def hearing_statements_answered(statements: Iterable[str], answered: Iterable[str]) -> Violation | None:
    """Art. 18: every hearing statement is studied and answered before the hearing stage ends."""
    missing = sorted(set(statements) - set(answered))
    if missing:
        return Violation(
            "R5",
            "decision",
            f"以下听证意见尚未研究答复（采纳、部分采纳或不采纳并说明理由）：{', '.join(missing)}",
            f"these hearing statements have no answer (adopted, partly or not, with a reason): "
            f"{', '.join(missing)}",
        )
    return None


def hearing_notice_carries_draft(has_draft: bool, has_explanation: bool, draft_link: str) -> Violation | None:
    """Art. 16(2): the notice publishes the draft and its explanation, or a link to them."""
    if draft_link.strip():
        return None
    if not has_draft:
        return Violation(
            "R5", "draft_link", "听证公告须附决策草案或其链接", "the notice needs the draft or a link to it"
        )
    if not has_explanation:
        return Violation(
            "R5",
            "draft_link",
            "现行草案没有起草说明：听证公告须附草案及其说明，或给出载有二者的链接",
            "the current draft has no explanation: the notice needs the draft and its explanation, "
            "or a link to both",
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


# ------------------------------------------------------------------ R6, Arts. 19-20, 29(3)
def expert_review_complete(opinions: Sequence[str], answered: Iterable[str]) -> Violation | None:
    """Expert review ends with at least one opinion, each studied and answered (Arts. 19, 29(3))."""
    if not opinions:
        return Violation("R6", "decision", "尚无专家论证意见", "there is no expert opinion yet")
    missing = sorted(set(opinions) - set(answered))
    if missing:
        return Violation(
            "R6",
            "decision",
            f"以下专家论证意见尚未研究答复：{', '.join(missing)}",
            f"these expert opinions have no response yet: {', '.join(missing)}",
        )
    return None


# ------------------------------------------------------------------ P12, Art. 24
RISK_LEVELS = ("high", "medium", "low")


def risk_level_valid(level: str) -> Violation | None:
    if level not in RISK_LEVELS:
        return Violation(
            "P12",
            "level",
            f"风险等级 {level!r} 无效，须为 high（高）、medium（中）或 low（低）",
            f"risk level {level!r} is invalid; use high, medium or low",
        )
    return None


# ------------------------------------------------------------------ R8, Art. 29(1); FCR Regs Arts. 14, 18
def fair_competition_conclusion_usable(
    conclusion: str, notes: str, failed_on_draft: int | None, current_draft: int
) -> Violation | None:
    """A conclusion that lets the stage complete: an exception must be explained, and after a
    non-compliant conclusion only a review of a revised draft can pass (FCR Regs Art. 18)."""
    if conclusion == "exception_applies" and not notes.strip():
        return Violation(
            "R8", "notes", "适用例外规定的，须说明所适用的例外情形", "an exception must be explained"
        )
    if conclusion != "non_compliant" and failed_on_draft is not None and current_draft <= failed_on_draft:
        return Violation(
            "R8",
            "conclusion",
            f"第{failed_on_draft}稿经审查不符合公平竞争要求，须先修改草案再审查",
            f"draft {failed_on_draft} failed the review; the draft must be revised before a new conclusion",
        )
    return None


# ------------------------------------------------------------------ R18-R20 triggers, Arts. 34-37
def execution_unit_assigned(assigned: bool) -> Violation | None:
    """Art. 34: execution and its reports start once the organ names the execution unit."""
    if not assigned:
        return Violation(
            "R18", "decision", "决策机关尚未确定决策执行单位", "the organ has not named the execution unit"
        )
    return None


def problem_trigger_known(trigger: str) -> Violation | None:
    if trigger not in PROBLEM_TRIGGERS:
        return Violation(
            "R18",
            "trigger",
            f"问题报告须属第三十五条情形（{'、'.join(sorted(PROBLEM_TRIGGERS))}）",
            f"a problem report needs an Art. 35 situation ({', '.join(sorted(PROBLEM_TRIGGERS))})",
        )
    return None


def evaluation_trigger_known(trigger: str) -> Violation | None:
    if trigger not in EVALUATION_TRIGGERS:
        return Violation(
            "R19",
            "trigger",
            f"决策后评估须属第三十六条情形（{'、'.join(sorted(EVALUATION_TRIGGERS))}）",
            f"a post-evaluation needs an Art. 36 situation ({', '.join(sorted(EVALUATION_TRIGGERS))})",
        )
    return None


def suspension_justified(trigger: str, urgency: str) -> Violation | None:
    """Art. 37: the head may suspend only on an Art. 35 situation that is urgent."""
    if trigger not in PROBLEM_TRIGGERS:
        return Violation(
            "R20",
            "trigger",
            "中止执行须出现第三十五条规定的情形",
            "a suspension needs an Art. 35 situation",
        )
    if not urgency.strip():
        return Violation(
            "R20", "urgency", "中止执行须说明情况紧急", "a suspension must state why it is urgent"
        )
    return None


# ------------------------------------------------------------------ time limits changed, Arts. 15-16, 26
def minimum_kept(new_due: date, limit: date, direction: int, rule_id: str) -> Violation | None:
    """A statutory minimum protects someone (the reviewer, the hearing participants):
    counted forward, the deadline may not come before `limit`; counted back from an event
    (a lead time), the latest date may not come after it."""
    if (direction > 0 and new_due < limit) or (direction < 0 and new_due > limit):
        side_zh, side_en = ("早于", "before") if direction > 0 else ("晚于", "after")
        return Violation(
            rule_id,
            "new_due",
            f"调整后的期限不得{side_zh} {limit.isoformat()}（法定最低期限）",
            f"the new due date may not be {side_en} {limit.isoformat()} (the statutory minimum)",
        )
    return None


# ------------------------------------------------------------------ R21, Art. 3(3): the catalogue
def catalogue_ready_for_review(proposed: Sequence[str], included: Sequence[str]) -> Violation | None:
    """The executive meeting reviews a catalogue version once every proposed entry has been
    reviewed by the legal office and at least one entry is included (§2.3 steps 3-4)."""
    if proposed:
        return Violation(
            "STATE",
            "year",
            f"以下事项尚未经司法局审核：{', '.join(proposed)}",
            f"these entries are not yet reviewed by the legal office: {', '.join(proposed)}",
        )
    if not included:
        return Violation("STATE", "year", "目录中没有纳入的事项", "the catalogue includes no entry")
    return None


def catalogue_publishable(
    version_status: str, party_approved_on: date | None, published_on: date
) -> Violation | None:
    """R21: a catalogue version is published only after the same-level Party committee
    approved it, and not on a date before that approval."""
    if version_status != "party_approved" or party_approved_on is None:
        return Violation(
            "R21",
            "year",
            "该版本目录尚未经同级党委同意",
            "this catalogue version has not been approved by the Party committee",
        )
    if published_on < party_approved_on:
        return Violation(
            "R21",
            "published_on",
            f"公布日期早于党委同意日期 {party_approved_on.isoformat()}",
            f"the publication date is before the Party approval of {party_approved_on.isoformat()}",
        )
    return None


# ------------------------------------------------------------------ R5, P4, Arts. 16-17: the hearing sub-sequence
def registration_window_fits(
    opens: date, closes: date, notice_latest: date, list_latest: date, materials_latest: date
) -> Violation | None:
    """P4: registration opens with the notice, at least the notice lead time before the
    hearing; it must close early enough to draw and publish the list (P4) and to deliver
    the materials (Art. 16(3)) on time."""
    if opens > notice_latest:
        return Violation(
            "P4",
            "registration_opens",
            f"报名最迟应于 {notice_latest.isoformat()} 开始",
            f"registration must open by {notice_latest.isoformat()}",
        )
    if closes >= list_latest:
        return Violation(
            "P4",
            "registration_closes",
            f"报名须在参加人名单最迟公布日 {list_latest.isoformat()} 之前截止",
            f"registration must close before the participant list is due ({list_latest.isoformat()})",
        )
    if closes >= materials_latest:
        return Violation(
            "R5",
            "registration_closes",
            f"报名须在听证材料最迟送达日 {materials_latest.isoformat()} 之前截止",
            f"registration must close before the materials are due ({materials_latest.isoformat()})",
        )
    return None


def hearing_registration_open(today: date, opens: date, closes: date) -> Violation | None:
    if not opens <= today <= closes:
        return Violation(
            "STATE",
            "decision",
            f"不在听证报名期间（{opens.isoformat()} 至 {closes.isoformat()}）",
            f"hearing registration is not open ({opens.isoformat()} to {closes.isoformat()})",
        )
    return None


def participant_list_in_time(published_on: date, latest: date, days: int) -> Violation | None:
    if published_on > latest:
        zh, en = lead_time_words(days)
        return Violation(
            "P4",
            "decision",
            f"听证参加人名单最迟应于 {latest.isoformat()} 公布（至少{zh}）",
            f"the participant list had to be published by {latest.isoformat()} (at least {en})",
        )
    return None


def hearing_held_as_announced(held_on: date, announced_day: date) -> Violation | None:
    """Art. 16(2): the hearing takes place at the announced time; the lead times were counted from it."""
    if held_on != announced_day:
        return Violation(
            "R5",
            "held_on",
            f"听证会应于公告的 {announced_day.isoformat()} 召开；改期须重新公告",
            f"the hearing must be held on the announced day {announced_day.isoformat()}; a new date needs a new notice",
        )
    return None
