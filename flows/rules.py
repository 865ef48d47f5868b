"""The guards as pure, named predicates (no I/O). Each returns None when the rule holds,
or a `Violation` naming the rule, the field and what is wrong. The service turns a
violation into a `ProcedureError` carrying the article from `flows.procedure.GUARDS`."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flows.procedure import CLOSED_RULE, DONE_STATUSES, ENTERABLE, ActionRule, Lifecycle, Stage
from models.enums import DecisionStatus, StageStatus


@dataclass(frozen=True)
class Violation:
    rule_id: str
    field: str
    zh: str
    en: str


def unfinished_prerequisites(stage: Stage, statuses: Mapping[str, StageStatus]) -> list[str]:
    """§7.1: the stages `stage` comes after that are not yet done."""
    return [s for s in stage.after if statuses.get(s) not in DONE_STATUSES]


def action_preconditions(
    rule: ActionRule,
    stage: Stage | None,
    flags: frozenset[str],
    decision_status: DecisionStatus,
    statuses: Mapping[str, StageStatus],
    required_stages: frozenset[str] = frozenset(),
) -> Violation | None:
    """The one check of what an action needs before it runs, declared beside the action in
    `flows.procedure.ACTIONS`: the decision's status, then (for an action working in a
    stage) that the stage applies (R2), that what it comes after is done, and its status."""
    if decision_status not in rule.decision:
        rule_id = rule.status_rules.get(decision_status) or CLOSED_RULE.get(
            decision_status, rule.decision_rule
        )
        return Violation(
            rule_id,
            "decision",
            f"决策状态为 {decision_status.value}，此操作需要：{'/'.join(sorted(rule.decision))}",
            f"the decision is {decision_status.value}; this action needs {'/'.join(sorted(rule.decision))}",
        )
    before = list(rule.done)
    if stage is not None and rule.enters:
        if stage.requirement(flags, required_stages) == "excluded":  # only confidential excludes (R2)
            return Violation("R2", "decision", f"{stage.zh}不适用", f"{stage.en} does not apply")
        before = [*stage.after, *before]
    missing = [s for s in dict.fromkeys(before) if statuses.get(s) not in DONE_STATUSES]
    if missing:
        return Violation(
            "ORDER", "decision", f"须先完成：{', '.join(missing)}", f"first complete: {', '.join(missing)}"
        )
    unstarted = [
        s for s in rule.started if statuses.get(s) not in (StageStatus.active, StageStatus.completed)
    ]
    if unstarted:
        return Violation(
            "ORDER", "decision", f"须先开始：{', '.join(unstarted)}", f"first start: {', '.join(unstarted)}"
        )
    allowed = ENTERABLE if rule.enters and not rule.stage_status else rule.stage_status
    if stage is not None and allowed and statuses.get(stage.id) not in allowed:
        current = statuses.get(stage.id)
        shown = current.value if current is not None else "—"
        return Violation(
            "STATE",
            "decision",
            f"{stage.zh}当前状态为 {shown}，此操作需要：{'/'.join(sorted(allowed))}",
            f"{stage.en} is {shown}; this action needs {'/'.join(sorted(allowed))}",
        )
    return None


def subject_ready(lifecycle: Lifecycle, needed: frozenset[str], current: str, label: str) -> Violation | None:
    """An object of a sub-procedure (a hearing, a review round…) has a status the action
    declares it needs. In an ordered sub-procedure a step taken too early names what is
    missing, under the sub-procedure's own rule (e.g. R5 for a hearing, Arts. 16-17)."""
    if current in needed:
        return None
    order = lifecycle.sequence
    if current in order and all(n in order and order.index(n) > order.index(current) for n in needed):
        missing_zh, missing_en = lifecycle.missing.get(
            order[order.index(current) + 1], ("此前的步骤尚未完成", "an earlier step is not done")
        )
        return Violation(lifecycle.early_rule, lifecycle.name, missing_zh, missing_en)
    return Violation(
        "STATE",
        lifecycle.name,
        f"{lifecycle.zh} {label} 当前状态为 {current}，此操作需要：{'/'.join(sorted(needed))}",
        f"{lifecycle.en} {label} is {current}; this action needs {'/'.join(sorted(needed))}",
    )


def stage_initial_status(
    stage: Stage, flags: frozenset[str], required_stages: frozenset[str] = frozenset()
) -> StageStatus:
    """R2, the triggers of §6 and the catalogue's listed procedures (Art. 3(3)): which stages a
    decision must go through. `flags` are the flags in effect (P16: a proposed confidential
    or exploratory-reform flag is not one until the legal office confirms it)."""
    requirement = stage.requirement(flags, required_stages)
    if requirement == "required":
        return StageStatus.pending
    return StageStatus.not_required


def initial_stage_statuses(
    stages: Sequence[Stage], flags: frozenset[str], required_stages: frozenset[str] = frozenset()
) -> dict[str, StageStatus]:
    return {stage.id: stage_initial_status(stage, flags, required_stages) for stage in stages}


NOT_STARTED = frozenset({StageStatus.pending, StageStatus.not_required})
IN_PROGRESS = frozenset({StageStatus.active, StageStatus.awaiting_approval, StageStatus.returned})


@dataclass(frozen=True)
class StageChanges:
    """What a change of flags or of the catalogue-required stages does to the stage set (P16)."""

    to_pending: tuple[str, ...]  # newly required: must now be done (before legality review if pre_review)
    to_not_required: tuple[str, ...]  # no longer required and not started
    kept: tuple[str, ...]  # no longer required but already started or done: kept as they are


def recomputed_stages(
    stages: Sequence[Stage],
    current: Mapping[str, StageStatus],
    old: tuple[frozenset[str], frozenset[str]],
    new: tuple[frozenset[str], frozenset[str]],
) -> StageChanges:
    """P16: the stage set recomputed from (flags in effect, catalogue-required stages), old
    and new. A stage that becomes required and was not required is pending; one that is no
    longer required goes back to not required only if it has not started (pending)."""
    to_pending: list[str] = []
    to_not_required: list[str] = []
    kept: list[str] = []
    for stage in stages:
        status = current.get(stage.id)
        was = stage_initial_status(stage, *old)
        wanted = stage_initial_status(stage, *new)
        if wanted == was or status is None:
            continue
        if wanted == StageStatus.pending and status == StageStatus.not_required:
            to_pending.append(stage.id)
        elif wanted == StageStatus.not_required and status == StageStatus.pending:
            to_not_required.append(stage.id)
        elif wanted == StageStatus.not_required and status not in NOT_STARTED:
            kept.append(stage.id)
    return StageChanges(tuple(to_pending), tuple(to_not_required), tuple(kept))


def exclusion_possible(
    stages: Sequence[Stage], current: Mapping[str, StageStatus], flags: frozenset[str]
) -> Violation | None:
    """R2 with P16: a flag that switches a stage off (confidential) cannot take effect while
    that stage is under way: the matter is before the public. Finish the stage first; a
    completed stage stays on the record."""
    running = [
        stage.id
        for stage in stages
        if stage.requirement(flags) == "excluded" and current.get(stage.id) in IN_PROGRESS
    ]
    if running:
        return Violation(
            "R2",
            "flag",
            f"以下阶段正在进行，事项已向社会公开，须先完成：{', '.join(running)}",
            f"these stages are under way and the matter is before the public; finish them first: "
            f"{', '.join(running)}",
        )
    return None


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


def one_comment_period_at_a_time(one_is_open: bool) -> Violation | None:
    """Art. 15: one open comment period at a time, so that its notice is the one in force."""
    if one_is_open:
        return Violation("STATE", "decision", "已有进行中的征求意见", "a comment period is already open")
    return None


def comment_window_open(
    now: datetime, today: date, starts: date | None, closes_at: datetime | None
) -> Violation | None:
    """Art. 15: comments are received from the first day of the period until it ends (P2:
    24:00 of its last day), whether or not the sweep has closed it yet."""
    if starts is None or today < starts or (closes_at is not None and now >= closes_at):
        return Violation("STATE", "decision", "不在征求意见期间", "no comment period is open now")
    return None


def deadline_not_passed(now: datetime, due_at: datetime, kind: str) -> Violation | None:
    """A time limit that has run out cannot be moved (Arts. 15, 16): it is over."""
    if now >= due_at:
        return Violation("STATE", "kind", f"{kind} 已届满", f"the {kind} deadline has passed")
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


def expert_selected(selected: bool, code: str) -> Violation | None:
    """Art. 20: opinions come from the experts selected for this decision, whose interest
    declarations were checked at selection."""
    if not selected:
        return Violation(
            "R6",
            "expert",
            f"专家 {code} 未被选定参加本决策的论证",
            f"expert {code} was not selected for this decision",
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


def standing_uncontrollable_draft(judgements: Sequence[tuple[bool, int]]) -> int | None:
    """Art. 24, §15.1: the draft judged uncontrollable that still stands, or None.

    `judgements` are the organ's judgements in the order they were made, as
    (controllable, draft judged). An uncontrollable judgement stands until a later
    judgement finds the risk controllable on a draft no older than it; a revision of the
    draft by itself clears nothing."""
    standing: int | None = None
    for controllable, draft in judgements:
        if not controllable:
            standing = draft if standing is None else max(standing, draft)
        elif standing is not None and draft >= standing:
            standing = None
    return standing


def risk_open_to_judgement(stage_status: StageStatus, rejudging: bool) -> Violation | None:
    """Art. 24: the organ judges a report while the stage is open; a standing uncontrollable
    judgement may be revisited whatever the stage's status (§15.1)."""
    if stage_status not in (StageStatus.active, StageStatus.returned) and not rejudging:
        return Violation(
            "STATE",
            "decision",
            f"风险评估阶段为 {stage_status.value}",
            f"the risk assessment stage is {stage_status.value}",
        )
    return None


def uncontrollable_risk_addressed(judgements: Sequence[tuple[bool, int]]) -> Violation | None:
    """Art. 24: no decision while a judgement that the risk is uncontrollable stands."""
    standing = standing_uncontrollable_draft(judgements)
    if standing is not None:
        return Violation(
            "R7",
            "decision",
            f"风险于第{standing}稿被判断为不可控；须调整草案或采取其他措施，"
            f"并由决策机关就第{standing}稿或其后的草案重新判断风险可控，仅修改草案不能解除",
            f"the risk was judged uncontrollable on draft {standing}; the organ must judge it controllable "
            f"on draft {standing} or later (a revision by itself clears nothing)",
        )
    return None


def risk_judgement_draft_usable(
    controllable: bool, draft: int, judgements: Sequence[tuple[bool, int]]
) -> Violation | None:
    """Art. 24: a judgement that the risk is controllable cannot be made on a draft older than
    the one that stands judged uncontrollable."""
    standing = standing_uncontrollable_draft(judgements)
    if controllable and standing is not None and draft < standing:
        return Violation(
            "R7",
            "draft",
            f"第{standing}稿的风险已被判断为不可控，不得依据更早的第{draft}稿判断风险可控",
            f"draft {standing} was judged uncontrollable; a controllable judgement cannot rest on "
            f"the older draft {draft}",
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


def draft_covered_by_opinion(
    reviewed_draft: int, confirmed_drafts: Iterable[int], current_draft: int
) -> Violation | None:
    """Art. 25, P15: a legality opinion covers the draft version it reviewed. A later version
    goes to discussion only after a new review or the legal office's written confirmation
    that the changes do not touch legality (`confirm_revision`), which covers that version only."""
    if current_draft > reviewed_draft and current_draft not in set(confirmed_drafts):
        return Violation(
            "R12",
            "decision",
            f"合法性审查意见针对第{reviewed_draft}稿，现草案为第{current_draft}稿；"
            "须就新稿重新送审，或由合法性审查机构书面确认修改不涉及合法性",
            f"the legality opinion covers draft {reviewed_draft} but the draft is now version "
            f"{current_draft}; the new version needs a review or the legal office's confirmation "
            "that the changes do not touch legality",
        )
    return None


def changes_made_after_review(
    outcome: str | None, reviewed_draft: int | None, current_draft: int
) -> Violation | None:
    """Art. 28, P7: "lawful after the listed changes" is met by a revised draft, not by a
    statement that the changes were made. The revision then needs the legal office's
    confirmation or a new review before discussion (P15, R12)."""
    if outcome != "lawful_after_changes":
        return Violation("STATE", "decision", "审查意见未要求修改", "the opinion did not require changes")
    if reviewed_draft is not None and current_draft <= reviewed_draft:
        return Violation(
            "R12",
            "decision",
            f"须先按审查意见修改草案（送审稿为第{reviewed_draft}稿，尚无修改稿）",
            f"the draft must first be revised as the opinion requires (draft {reviewed_draft} was "
            "reviewed and no later version exists)",
        )
    return None


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
# Art. 30; Local Organic Law Art. 78 (who sits in the meeting); P11 (quorum).
@dataclass(frozen=True)
class Speech:
    member: str  # user code of a member present
    position: str  # agree | disagree | abstain
    text: str = ""


APPROVING_DECISIONS = frozenset({"approve", "approve_with_changes"})


def majority_position(speeches: Sequence[Speech]) -> str:
    """The majority view of the meeting: agree, disagree or split.

    Counted over ALL members present, the head's (or acting head's) own opinion included:
    every member present has exactly one speech (checked by `meeting_valid`). It is a
    relative majority: the side, agree or disagree, that more members present took than the
    other; abstentions count for neither, and a tie is "split" (no majority view). An
    absolute majority of those present would let abstentions hide a clear balance (three
    against, two for, one abstaining), and the head could then overrule the dissent
    without a word, which Art. 30(2) is there to prevent."""
    agree = sum(1 for s in speeches if s.position == "agree")
    disagree = sum(1 for s in speeches if s.position == "disagree")
    if agree > disagree:
        return "agree"
    if disagree > agree:
        return "disagree"
    return "split"


def head_decision_matches(decision: str, view: str) -> bool:
    """Whether the head's decision follows a view (the majority's, or the head's own).

    "agree" asks for approval (approve, approve_with_changes); "disagree" withholds it.
    Defer approves nothing: it follows a disagreeing view but departs from an agreeing one
    (postponing what most present wanted decided must be explained, or a head could shelve
    a matter indefinitely without reasons). "split" and "abstain" bind the head to nothing."""
    if view not in ("agree", "disagree"):
        return True
    return (decision in APPROVING_DECISIONS) == (view == "agree")


def attendance_valid(
    roster: Sequence[str], present: Sequence[str], quorum_fraction: float
) -> Violation | None:
    """P11: the members present are members on the roster, each listed once, and more than
    `quorum_fraction` of the roster. The roster, not a number in the form, is the base."""
    outsiders = [m for m in present if m not in roster]
    if outsiders:
        return Violation(
            "P11",
            "members_present",
            f"{'、'.join(outsiders)} 不是会议组成人员，不计入出席",
            f"{', '.join(outsiders)} not on the roster of meeting members; cannot count as present",
        )
    twice = sorted({m for m in present if present.count(m) > 1})
    if twice:
        return Violation(
            "P11",
            "members_present",
            f"{'、'.join(twice)} 被重复列为出席",
            f"{', '.join(twice)} listed as present more than once",
        )
    if not roster or len(present) / len(roster) <= quorum_fraction:
        return Violation(
            "P11",
            "members_present",
            f"出席 {len(present)}/{len(roster)}，未超过组成人员的 {quorum_fraction:.0%}",
            f"{len(present)}/{len(roster)} present, not more than {quorum_fraction:.0%} of the members",
        )
    return None


def presiding_head(present: Sequence[str], heads: Collection[str], acting_head: str) -> str | None:
    """Who decides: the present member holding `head`, else the acting head named."""
    present_heads = [m for m in present if m in heads]
    if present_heads:
        return present_heads[0]
    return acting_head or None


def opinions_complete(present: Sequence[str], speeches: Sequence[Speech]) -> Violation | None:
    """R14, Art. 30(2)-(3): every member present gives exactly one opinion, nobody else
    does, and a dissent is recorded as stated."""
    speakers = [s.member for s in speeches]
    strangers = [m for m in speakers if m not in present]
    if strangers:
        return Violation(
            "R14",
            "opinions",
            f"{'、'.join(strangers)} 未出席会议，不得记录其意见",
            f"{', '.join(strangers)} not present; no opinion may be recorded for them",
        )
    twice = sorted({m for m in speakers if speakers.count(m) > 1})
    if twice:
        return Violation(
            "R14",
            "opinions",
            f"{'、'.join(twice)} 的意见被记录多次",
            f"more than one opinion recorded for {', '.join(twice)}",
        )
    silent = [m for m in present if m not in speakers]
    if silent:
        return Violation(
            "R14",
            "opinions",
            f"出席成员 {'、'.join(silent)} 的意见未记录",
            f"no opinion recorded for {', '.join(silent)}, present",
        )
    bare = [s.member for s in speeches if s.position == "disagree" and not s.text.strip()]
    if bare:
        return Violation(
            "R14",
            "opinions",
            f"{'、'.join(bare)} 的不同意见须如实载明",
            f"the dissent of {', '.join(bare)} must be recorded as stated (text)",
        )
    return None


def head_identified(present: Sequence[str], heads: Collection[str], acting_head: str) -> Violation | None:
    """R14, Art. 30(1): the administrative head decides; when absent, a member present
    acts as head and is named in the record."""
    present_heads = [m for m in present if m in heads]
    if len(present_heads) > 1:
        return Violation(
            "R14",
            "members_present",
            f"出席成员中有多名行政首长：{'、'.join(present_heads)}",
            f"more than one administrative head present: {', '.join(present_heads)}",
        )
    if present_heads:
        if acting_head and acting_head != present_heads[0]:
            return Violation(
                "R14",
                "acting_head",
                "行政首长出席会议，不得由他人代行",
                "the head is present; nobody else acts as head",
            )
        return None
    if not acting_head:
        return Violation(
            "R14",
            "acting_head",
            "行政首长未出席，须记录代行行政首长职责的出席成员",
            "the head is absent; name the member present who acts as head",
        )
    if acting_head not in present:
        return Violation(
            "R14",
            "acting_head",
            f"代行行政首长职责的 {acting_head} 须为出席成员",
            f"the acting head {acting_head} must be a member present",
        )
    return None


def meeting_valid(
    meeting_type: str,
    roster: Sequence[str],
    heads: Collection[str],
    present: Sequence[str],
    acting_head: str,
    speeches: Sequence[Speech],
    head_decision: str,
    head_reason: str,
    quorum_fraction: float,
) -> Violation | None:
    """R14 and P11 over one meeting record. `roster`: codes of the active users holding
    `meeting_member`; `heads`: codes of the active users holding `head`."""
    if meeting_type not in ("executive", "plenary"):
        return Violation(
            "R14", "meeting_type", "须为常务会议或全体会议", "must be an executive or a plenary meeting"
        )
    for violation in (
        attendance_valid(roster, present, quorum_fraction),
        opinions_complete(present, speeches),
        head_identified(present, heads, acting_head),
    ):
        if violation is not None:
            return violation
    head = presiding_head(present, heads, acting_head)
    if not speeches or speeches[-1].member != head:
        return Violation(
            "R14",
            "opinions",
            f"行政首长（{head}）须最后发言",
            f"the head ({head}) must speak last",
        )
    if head_reason.strip():
        return None
    majority = majority_position(speeches)
    if not head_decision_matches(head_decision, majority):
        return Violation(
            "R14",
            "head_reason",
            "行政首长的决定与多数人意见不一致，应当说明理由",
            "the head's decision differs from the majority; the reason must be given",
        )
    if not head_decision_matches(head_decision, speeches[-1].position):
        return Violation(
            "R14",
            "head_reason",
            "行政首长的决定与其本人发言意见不一致，应当说明理由",
            "the head's decision differs from the head's own recorded opinion; the reason must be given",
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


def catalogue_open_for_proposals(year: int, published_version: int | None) -> Violation | None:
    """§2.3-2.4: proposals build the year's first catalogue; once it is published, a new
    matter comes in through an adjustment, which opens a new version (Art. 3(3))."""
    if published_version is not None:
        return Violation(
            "STATE",
            "year",
            f"{year}年目录已公布，新增事项须通过目录调整",
            f"the {year} catalogue is published; add matters with adjust_catalogue",
        )
    return None


def catalogue_adjustable(version_status: str, version_number: int) -> Violation | None:
    """§2.4: an adjustment changes a catalogue that has been reviewed; the first draft is
    still compiled by proposals and reviews."""
    if version_status == "draft" and version_number == 1:
        return Violation(
            "STATE",
            "year",
            "目录尚在编制，请直接提出或审核事项",
            "the catalogue is still being compiled; propose or review entries instead",
        )
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


NOT_YET_HELD = ("announced", "selected", "list_published", "materials_delivered")


def one_hearing_at_a_time(statuses: Mapping[str, str], replaces: str | None) -> Violation | None:
    """One hearing of a decision runs at a time, so that the public knows which notice is in
    force (Art. 16(2); a product rule, so STATE). A new notice while one is not yet held must name the one it
    postpones; a held hearing needs its report first. (The postponable statuses are the
    hearing lifecycle's transitions to `postponed`.)"""
    for code, status in statuses.items():
        if status == "held":
            return Violation(
                "STATE",
                "decision",
                f"听证会 {code} 已召开，请先提交听证报告",
                f"hearing {code} was held; submit its report first",
            )
        if status in NOT_YET_HELD and code != replaces:
            return Violation(
                "STATE",
                "replaces",
                f"听证会 {code} 正在进行；改期须在 replaces 中写明",
                f"hearing {code} is under way; name it in `replaces` to postpone it",
            )
    return None


def draw_after_registration(today: date, registration_closes: date) -> Violation | None:
    """Art. 16(2): the draw is made from every registration, so only after the window closes."""
    if today <= registration_closes:
        return Violation(
            "R5",
            "hearing",
            f"报名于 {registration_closes.isoformat()} 截止后方可抽签",
            f"the draw comes after registration closes on {registration_closes.isoformat()}",
        )
    return None


def hearing_started(now: datetime, starts_at: datetime) -> Violation | None:
    """Art. 17: a record is made of a hearing that has taken place."""
    if now < starts_at:
        return Violation("R5", "held_on", "听证会尚未召开", "the hearing has not started yet")
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


# ------------------------------------------------------------------ §15.4, Arts. 30-32: recorded dates must be possible
# No recorded date may lie after the action's own time (it would record something that has
# not happened yet), nor before the event it depends on. Both are refused under the rule of
# the step whose date it is (R15 Party and congress steps, R16 publication, R20 suspension),
# as refusals, not as bad input: the date is well formed, the procedure makes it impossible.
def recorded_date_not_future(rule_id: str, field: str, on: date, today: date) -> Violation | None:
    if on > today:
        return Violation(
            rule_id,
            field,
            f"记录的日期 {on.isoformat()} 晚于今天 {today.isoformat()}，该事项尚未发生",
            f"the recorded date {on.isoformat()} is after today, {today.isoformat()}: it has not happened yet",
        )
    return None


def _not_before(
    rule_id: str, field: str, on: date, earlier: date | None, what_zh: str, what_en: str
) -> Violation | None:
    if earlier is not None and on < earlier:
        return Violation(
            rule_id,
            field,
            f"日期 {on.isoformat()} 早于{what_zh}（{earlier.isoformat()}）",
            f"the date {on.isoformat()} is before {what_en} ({earlier.isoformat()})",
        )
    return None


def party_report_not_before_meeting(report_on: date, held_on: date | None, order: str) -> Violation | None:
    """P8, Art. 31: where the report follows the meeting, it is not dated before it."""
    if order != "after_meeting":
        return None
    return _not_before("P8", "on_date", report_on, held_on, "决定该事项的会议", "the meeting that decided")


def party_reply_not_before_report(reply_on: date, report_on: date | None) -> Violation | None:
    """R15, Art. 31: the Party committee answers a request-report already made."""
    return _not_before("R15", "on_date", reply_on, report_on, "向党委请示报告的日期", "the request-report")


def meeting_not_before_submission(held_on: date, submitted_on: date) -> Violation | None:
    """R12, Arts. 29-30: the meeting discusses the package submitted to it, so it is held
    on or after the day of the submission."""
    return _not_before(
        "R12", "held_on", held_on, submitted_on, "提请审议的日期", "the submission for discussion"
    )


def meeting_not_before_party_reply(
    held_on: date, report_on: date | None, reply_on: date | None
) -> Violation | None:
    """P8, Art. 31: where local rules put the Party committee first, the meeting follows its
    request-report and reply."""
    return _not_before(
        "P8", "held_on", held_on, report_on, "向党委请示报告的日期", "the request-report"
    ) or _not_before("P8", "held_on", held_on, reply_on, "党委批复", "the Party committee's reply")


def submitted_since_last_meeting(
    submitted_at: datetime, last_meeting_at: datetime | None
) -> Violation | None:
    """R12, Art. 29: a matter the meeting deferred is submitted again, with a fresh package,
    before it goes to another meeting."""
    if last_meeting_at is not None and submitted_at <= last_meeting_at:
        return Violation(
            "R12",
            "decision",
            "该事项已被会议暂缓，须重新提请审议",
            "the meeting deferred the matter; it must be submitted again",
        )
    return None


def meeting_date_ahead(meeting_date: date, today: date) -> Violation | None:
    """Art. 29: a submission is for a meeting still to come."""
    if meeting_date < today:
        return Violation(
            "STATE", "meeting_date", "会议日期不得早于今天", "the meeting date cannot be in the past"
        )
    return None


def congress_step_not_before_meeting(step_on: date, held_on: date | None) -> Violation | None:
    """R15, Art. 8: the congress step follows the organ's decision (the congress stage comes
    after discussion)."""
    return _not_before("R15", "on_date", step_on, held_on, "决定该事项的会议", "the meeting that decided")


def publication_not_before_meeting(published_on: date, held_on: date | None) -> Violation | None:
    """R16, Art. 32: a decision is published once it is made."""
    return _not_before(
        "R16", "published_on", published_on, held_on, "决定该事项的会议", "the meeting that decided"
    )


def publication_not_before_party_reply(published_on: date, reply_on: date | None) -> Violation | None:
    """R16, Arts. 31-32: published only after the Party committee answered (出台前请示报告)."""
    return _not_before(
        "R16", "published_on", published_on, reply_on, "党委批复", "the Party committee's reply"
    )


def publication_not_before_congress_step(published_on: date, step_on: date | None) -> Violation | None:
    """R16, Arts. 8, 32: published only after the people's congress step, where there is one."""
    return _not_before("R16", "published_on", published_on, step_on, "人大程序", "the people's congress step")


# ------------------------------------------------------------------ §15.7, Art. 37: ending a suspension
def suspension_not_before_decision(on: date, decided_on: date | None) -> Violation | None:
    """R20, Art. 37: execution is suspended once there is a decision to carry out."""
    return _not_before("R20", "on_date", on, decided_on, "决策日期", "the decision")


def execution_unit_changes(same_unit: bool, unit: str) -> Violation | None:
    """Art. 34: naming the execution unit again replaces it; naming the same one is nothing."""
    if same_unit:
        return Violation("STATE", "unit", f"{unit} 已是执行单位", f"{unit} is already the execution unit")
    return None


def one_adjustment_at_a_time(running: str | None) -> Violation | None:
    """Art. 37: a major adjustment runs as one new procedure linked to the original."""
    if running is not None:
        return Violation(
            "STATE",
            "decision",
            f"调整程序 {running} 正在进行",
            f"the adjustment {running} is already under way",
        )
    return None


def suspension_end_not_before_start(on: date, suspended_on: date) -> Violation | None:
    """R20, Art. 37: a suspension is resumed or turned into a termination after it began."""
    return _not_before("R20", "on_date", on, suspended_on, "中止执行的日期", "the suspension")


def suspension_in_force(suspended: bool) -> Violation | None:
    """R20, Art. 37: a made decision is stopped only after the head suspended it; the organ
    then terminates it (or resumes it, or adjusts it through a new procedure)."""
    if not suspended:
        return Violation(
            "R20",
            "decision",
            "决策未中止执行，不得终止；须先由行政首长决定中止执行",
            "the decision is not suspended; it can only be terminated after the head suspended it",
        )
    return None
