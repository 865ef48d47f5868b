"""The statutory procedure of Decree 713 (重大行政决策程序暂行条例), as versioned data.

A legal officer should be able to check this file against the regulation article by
article. Every step, condition, time limit, guard and product decision names its source.
Decisions pin `Procedure.version` at registration, so a later version never changes the
rules under which a running decision started (design: "versioned data").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from flows.conditions import ALWAYS, NEVER, Condition, Not, any_of, flag
from models.enums import DayUnit, StageStatus

# --------------------------------------------------------------------------- flags
FLAGS: dict[str, tuple[str, str, str]] = {
    # name: (zh, en, article)
    "confidential": ("依法不予公开", "not to be disclosed by law", "Arts. 14, 32; GD-H Art. 2"),
    "technical": ("专业性、技术性较强", "highly specialised or technical", "Art. 19"),
    "stability_risk": ("可能影响社会稳定、公共安全", "may harm social stability or public safety", "Art. 22"),
    "market_activity": ("涉及市场主体经济活动", "involves businesses' economic activity", "Art. 29(1)"),
    "hearing_required_by_law": ("法律法规规章要求听证", "a hearing is required by another law", "Art. 16(1)"),
    "hearing_in_catalogue": ("目录标明听证", "the catalogue marks the matter for a hearing", "GD-H Art. 3"),
    "affects_specific_group": ("涉及特定群体利益", "affects a specific group's interests", "Art. 14(3)"),
    "high_public_concern": ("社会广泛关注", "of wide public concern", "Art. 32"),
    "exploratory_reform": ("探索性改革事项", "exploratory reform matter", "Art. 25(2)"),
    "congress_step": ("需人大讨论决定或报告", "needs a people's congress step", "Art. 8"),
}

PROPOSAL_SOURCES: dict[str, str] = {
    "leader": "Art. 10(1)",
    "department": "Art. 10(2)",
    "lower_government": "Art. 10(2)",
    "deputy_or_cppcc": "Art. 10(3)",
    "public": "Art. 10(3)",
}

CATEGORIES: dict[int, str] = {
    1: "重大公共政策和措施 / major public policies and measures",
    2: "重要规划 / important plans",
    3: "重要自然与文化资源 / important natural and cultural resources",
    4: "重大公共建设项目 / major public construction projects",
    5: "其他重大事项 / other major matters",
}

ROLES: dict[str, tuple[str, str]] = {
    "department_staff": ("承办单位经办人", "department staff"),
    "department_head": ("承办单位负责人", "department head"),
    "legal_reviewer": ("合法性审查人员", "legal reviewer"),
    "legal_head": ("司法局负责人", "legal office head"),
    "gov_office": ("政府办", "government office"),
    "head": ("行政首长", "administrative head"),
    "meeting_member": ("会议组成人员", "meeting member"),
    "party_liaison": ("党委联络人", "Party liaison"),
    "expert": ("专家", "expert"),
    "admin": ("系统管理员", "administrator"),
    "supervisor": ("监督人员", "supervisor"),
    "public": ("社会公众", "member of the public"),
}

SYSTEM_ACTOR = "system"


# --------------------------------------------------------------------------- evidence
@dataclass(frozen=True)
class EvidenceKind:
    id: str
    zh: str
    en: str
    article: str


EVIDENCE_KINDS: dict[str, EvidenceKind] = {
    e.id: e
    for e in (
        EvidenceKind("proposal", "决策事项建议及论证材料", "proposal and argumentation", "Art. 10"),
        EvidenceKind("initiation_decision", "启动决定", "initiation decision", "Arts. 10-11"),
        EvidenceKind("draft", "决策草案", "decision draft", "Art. 12"),
        EvidenceKind("draft_explanation", "起草说明", "explanation of the draft", "Arts. 12, 15"),
        EvidenceKind("comment_notice", "公开征求意见公告", "public comment notice", "Art. 15"),
        EvidenceKind(
            "participation_activity", "公众参与活动记录", "participation activity record", "Art. 14"
        ),
        EvidenceKind(
            "specific_group_consultation", "特定群体意见听取记录", "specific-group consultation", "Art. 14(3)"
        ),
        EvidenceKind(
            "participation_summary", "意见研究采纳情况", "summary of opinions adopted", "Arts. 18, 29(2)"
        ),
        EvidenceKind("hearing_notice", "听证公告", "hearing notice", "Art. 16(2)"),
        EvidenceKind("selection_method", "遴选办法", "selection method", "Art. 16(2)"),
        EvidenceKind("hearing_draw", "抽签记录（公布随机种子）", "draw record with its seed", "Art. 16(2)"),
        EvidenceKind("participant_list", "听证参加人名单", "participant list", "Art. 16(2)"),
        EvidenceKind("materials_delivery", "听证材料送达记录", "hearing materials delivery", "Art. 16(3)"),
        EvidenceKind("hearing_record", "听证会记录（参加人签字）", "signed hearing record", "Art. 17"),
        EvidenceKind("hearing_report", "听证报告", "hearing report", "PRACTICE"),
        EvidenceKind(
            "hearing_answers", "听证意见研究采纳情况", "answers to the hearing statements", "Arts. 18, 29(2)"
        ),
        EvidenceKind("expert_opinion", "专家论证意见（署名盖章）", "signed expert opinion", "Art. 19(2)"),
        EvidenceKind("expert_summary", "专家意见采纳情况", "adoption of expert opinions", "Art. 29(3)"),
        EvidenceKind("risk_report", "风险评估报告", "risk assessment report", "Art. 23"),
        EvidenceKind("risk_judgement", "风险可控性判断", "controllability judgement", "Art. 24"),
        EvidenceKind(
            "fcr_conclusion", "公平竞争审查结论", "fair competition review conclusion", "Art. 29(1)"
        ),
        EvidenceKind("legality_package", "合法性审查送审材料", "legality review package", "Art. 26"),
        EvidenceKind("supplement_notice", "退回补充通知", "return for supplement notice", "Art. 26(1)"),
        EvidenceKind("legal_adviser_opinion", "法律顾问/公职律师意见", "legal adviser opinion", "Art. 28"),
        EvidenceKind("legality_opinion", "合法性审查意见", "legality review opinion", "Arts. 25, 28"),
        EvidenceKind("changes_record", "根据审查意见修改情况", "changes after review", "Art. 28"),
        EvidenceKind("legal_risk_statement", "法律风险说明", "legal risk statement", "Art. 25(2)"),
        EvidenceKind("discussion_package", "提请审议材料", "discussion package", "Art. 29"),
        EvidenceKind("meeting_minutes", "会议记录（含不同意见）", "meeting minutes with dissent", "Art. 30"),
        EvidenceKind("party_report", "向党委请示报告", "request-report to the Party committee", "Art. 31"),
        EvidenceKind("party_reply", "党委批复", "Party committee reply", "Art. 31"),
        EvidenceKind("congress_record", "人大程序记录", "people's congress record", "Art. 8"),
        EvidenceKind("publication_text", "决策公布文本", "published decision", "Art. 32"),
        EvidenceKind("adoption_explanation", "意见采纳情况说明", "adoption explanation", "Art. 32"),
        EvidenceKind("interpretation", "政策解读材料", "interpretation material", "Art. 32"),
        EvidenceKind("archive_manifest", "决策档案目录", "archive manifest", "Art. 33"),
        EvidenceKind("execution_report", "执行情况报告", "execution report", "Art. 34"),
        EvidenceKind("problem_report", "执行问题报告", "execution problem report", "Art. 35"),
        EvidenceKind("post_evaluation_report", "决策后评估报告", "post-evaluation report", "Art. 36"),
        EvidenceKind("suspension_decision", "中止执行决定", "suspension decision", "Art. 37"),
    )
}


@dataclass(frozen=True)
class EvidenceRequirement:
    kind: str
    when: Condition = ALWAYS


def ev(kind: str, when: Condition = ALWAYS) -> EvidenceRequirement:
    assert kind in EVIDENCE_KINDS, kind
    return EvidenceRequirement(kind, when)


# --------------------------------------------------------------------------- stages
StageRequirement = Literal["required", "optional", "excluded"]


@dataclass(frozen=True)
class Stage:
    """One step of the procedure. `required_when` decides whether a decision must go
    through it; `excluded_when` switches it off entirely (R2); `optional` stages may be
    activated by an action even where not required (e.g. a discretionary hearing)."""

    id: str
    section: str
    zh: str
    en: str
    articles: str
    required_when: Condition
    guard: str  # the rule that refuses moving on while this stage is incomplete
    after: tuple[str, ...] = ()
    excluded_when: Condition = NEVER
    optional: bool = False
    evidence: tuple[EvidenceRequirement, ...] = ()
    pre_review: bool = False  # must be approved before legality review (Art. 26, 27(2))

    def requirement(self, flags: frozenset[str]) -> StageRequirement:
        if self.excluded_when.holds(flags):
            return "excluded"
        if self.required_when.holds(flags):
            return "required"
        return "optional"


CONFIDENTIAL = flag("confidential")
PUBLIC = Not(CONFIDENTIAL)

STAGES: tuple[Stage, ...] = (
    Stage(
        "initiation",
        "S1",
        "决策启动",
        "Initiation",
        "Arts. 10-11",
        ALWAYS,
        "R1",
        evidence=(ev("initiation_decision"),),
    ),
    Stage(
        "drafting",
        "S2",
        "拟订草案",
        "Drafting",
        "Arts. 12-13",
        ALWAYS,
        "R1",
        after=("initiation",),
        evidence=(ev("draft"),),
    ),
    Stage(
        "public_participation",
        "S3",
        "公众参与",
        "Public participation",
        "Arts. 14-18",
        ALWAYS,
        "R3",
        after=("drafting",),
        excluded_when=CONFIDENTIAL,
        pre_review=True,
        evidence=(
            ev("participation_summary"),
            ev("specific_group_consultation", flag("affects_specific_group")),
        ),
    ),
    Stage(
        "hearing",
        "S3b",
        "听证",
        "Hearing",
        "Arts. 16-17; GD-H Arts. 2-3",
        any_of(flag("hearing_required_by_law"), flag("hearing_in_catalogue")),
        "R5",
        after=("drafting",),
        excluded_when=CONFIDENTIAL,
        optional=True,
        pre_review=True,
        evidence=(
            ev("hearing_notice"),
            ev("selection_method"),
            ev("hearing_draw"),
            ev("participant_list"),
            ev("materials_delivery"),
            ev("hearing_record"),
            ev("hearing_report"),
            ev("hearing_answers"),
        ),
    ),
    Stage(
        "expert_review",
        "S4",
        "专家论证",
        "Expert review",
        "Arts. 19-21",
        flag("technical"),
        "R6",
        after=("drafting",),
        optional=True,
        pre_review=True,
        evidence=(ev("expert_opinion"), ev("expert_summary")),
    ),
    Stage(
        "risk_assessment",
        "S5",
        "风险评估",
        "Risk assessment",
        "Arts. 22-24",
        flag("stability_risk"),
        "R7",
        after=("drafting",),
        optional=True,
        pre_review=True,
        evidence=(ev("risk_report"), ev("risk_judgement")),
    ),
    Stage(
        "fair_competition_review",
        "S6",
        "公平竞争审查",
        "Fair competition review",
        "Art. 29(1); FCR Regs Arts. 14, 18",
        flag("market_activity"),
        "R8",
        after=("drafting",),
        pre_review=True,
        evidence=(ev("fcr_conclusion"),),
    ),
    Stage(
        "legality_review",
        "S7",
        "合法性审查",
        "Legality review",
        "Arts. 25-28",
        ALWAYS,
        "R12",
        after=("drafting",),
        evidence=(ev("legality_package"), ev("legal_adviser_opinion"), ev("legality_opinion")),
    ),
    Stage(
        "discussion",
        "S8-S9",
        "集体讨论决定",
        "Collective discussion",
        "Arts. 29-30",
        ALWAYS,
        "R12",
        after=("legality_review",),
        evidence=(ev("discussion_package"), ev("meeting_minutes")),
    ),
    Stage(
        "party_report",
        "S10",
        "党委请示报告",
        "Party committee report",
        "Art. 31",
        ALWAYS,
        "R15",
        after=("drafting",),
        evidence=(ev("party_report"), ev("party_reply")),
    ),
    Stage(
        "congress",
        "S10b",
        "人大程序",
        "People's congress step",
        "Art. 8",
        flag("congress_step"),
        "R15",
        after=("discussion",),
        evidence=(ev("congress_record"),),
    ),
    Stage(
        "publication",
        "S11",
        "决策公布",
        "Publication",
        "Art. 32",
        ALWAYS,
        "R16",
        after=("discussion", "party_report", "congress"),
        excluded_when=CONFIDENTIAL,
        evidence=(
            ev("publication_text"),
            ev("adoption_explanation", any_of(flag("high_public_concern"), flag("technical"))),
            ev("interpretation", any_of(flag("high_public_concern"), flag("technical"))),
        ),
    ),
    Stage(
        "archive",
        "S12",
        "归档",
        "Archive",
        "Art. 33",
        ALWAYS,
        "R17",
        after=("discussion", "party_report", "publication"),
        evidence=(ev("archive_manifest"),),
    ),
    Stage("execution", "S13", "执行", "Execution", "Arts. 34-35", ALWAYS, "R18", after=("discussion",)),
    Stage(
        "post_evaluation",
        "S13",
        "决策后评估",
        "Post-evaluation",
        "Art. 36",
        NEVER,
        "R19",
        after=("execution",),
        optional=True,
        evidence=(ev("post_evaluation_report"),),
    ),
)

STAGE_BY_ID: dict[str, Stage] = {s.id: s for s in STAGES}

# Every legal status change of a stage; there is no "go to any state" shortcut.
STAGE_TRANSITIONS: frozenset[tuple[StageStatus, StageStatus]] = frozenset(
    {
        (StageStatus.not_required, StageStatus.active),  # a discretionary stage is taken up
        (StageStatus.pending, StageStatus.active),
        (StageStatus.pending, StageStatus.completed),  # a one-shot stage (e.g. FCR conclusion)
        (StageStatus.pending, StageStatus.awaiting_approval),
        (StageStatus.pending, StageStatus.waived),
        (StageStatus.active, StageStatus.awaiting_approval),
        (StageStatus.active, StageStatus.completed),
        (StageStatus.awaiting_approval, StageStatus.completed),  # approve_stage
        (StageStatus.awaiting_approval, StageStatus.returned),  # return_stage
        (StageStatus.returned, StageStatus.active),
        (StageStatus.returned, StageStatus.awaiting_approval),
        (StageStatus.returned, StageStatus.completed),
        (StageStatus.completed, StageStatus.active),  # re-opened after a draft revision (§7.2)
    }
)

DONE_STATUSES = frozenset({StageStatus.completed, StageStatus.waived, StageStatus.not_required})


# --------------------------------------------------------------------------- guards
@dataclass(frozen=True)
class Guard:
    id: str
    article: str
    zh: str
    en: str


GUARDS: dict[str, Guard] = {
    g.id: g
    for g in (
        Guard(
            "R1",
            "Art. 11",
            "启动决策须确定决策承办单位（多个单位时须确定牵头单位）后方可拟订草案",
            "a decision needs its undertaking unit, and a lead unit if several, before drafting",
        ),
        Guard(
            "R2",
            "Arts. 14, 25, 30-33",
            "依法不予公开的事项不进行公开征求意见、听证和公布",
            "a confidential matter has no public comment, hearing or publication",
        ),
        Guard(
            "R3",
            "Arts. 14-15",
            "须开展公众参与；公开征求意见期限一般不少于30日，缩短须在公告中说明理由",
            "public participation is required; open comment lasts at least 30 days unless an urgent reason is published",
        ),
        Guard(
            "R4",
            "Art. 14(3)",
            "涉及特定群体利益的，应当听取相关人民团体、社会组织及群众代表意见",
            "a matter affecting a specific group needs a consultation with that group",
        ),
        Guard(
            "R5",
            "Arts. 16-18",
            "听证须提前公告（附草案及其说明）、公布遴选办法和参加人名单，听证材料按规定日数提前送达，"
            "记录经参加人签字或载明拒签，听证意见逐条答复",
            "a hearing needs prior notice with the draft, a published selection method and list, materials "
            "delivered the set number of days before, a record signed or naming who refused, and every "
            "statement answered",
        ),
        Guard(
            "R6",
            "Arts. 19-20",
            "专家论证意见须书面署名或盖章，与决策事项有直接利害关系的专家应当回避",
            "expert opinions are written and signed; experts with a direct interest are excluded",
        ),
        Guard(
            "R7",
            "Arts. 22-24",
            "须作出风险评估报告；风险不可控的，应当调整草案后方可决策",
            "a risk assessment report is required; an uncontrollable risk needs a revised draft before deciding",
        ),
        Guard(
            "R8",
            "Art. 29(1); FCR Regs Arts. 14, 18",
            "涉及市场主体经济活动的，须有公平竞争审查结论",
            "a matter involving businesses' activity needs a fair competition review conclusion",
        ),
        Guard(
            "R9",
            "Arts. 25-26",
            "送请合法性审查须提供草案、法律依据及履行法定程序的说明；不得以征求意见代替合法性审查",
            "a legality review submission needs the draft, its legal basis and the statement of procedures performed",
        ),
        Guard(
            "R10",
            "Art. 26(2)",
            "合法性审查时间一般不少于7个工作日",
            "the legality review must be given at least 7 working days",
        ),
        Guard(
            "R11",
            "Art. 28",
            "合法性审查应当听取法律顾问、公职律师的意见",
            "the legality review must include a legal adviser's or public lawyer's opinion",
        ),
        Guard(
            "R12",
            "Art. 25",
            "未经合法性审查或经审查不合法的，不得提交讨论（探索性改革事项须明示法律风险）",
            "no discussion without a legality opinion that is not 'unlawful' (exploratory reform: legal risks stated)",
        ),
        Guard("R13", "Art. 29", "提请审议材料须齐全", "the discussion package must be complete"),
        Guard(
            "R14",
            "Art. 30",
            "须经常务会议或全体会议讨论，行政首长最后发言，与多数意见不一致的应当说明理由",
            "an executive or plenary meeting, the head speaks last and gives reasons when departing from the majority",
        ),
        Guard(
            "R15",
            "Arts. 31, 8",
            "决策出台前应当向同级党委请示报告，需人大程序的应当履行",
            "the Party committee report, and the congress step where flagged, must precede issuance",
        ),
        Guard(
            "R16",
            "Art. 32",
            "决策应当通过政府公报、政府网站及报刊公布；社会广泛关注或专业性强的应当说明意见采纳情况并解读",
            "publish through gazette, website and newspaper; explain adoption and interpret where required",
        ),
        Guard(
            "R17",
            "Art. 33",
            "决策过程材料应当及时完整归档，缺少必需材料不得结档",
            "the dossier cannot be closed while required items are missing",
        ),
        Guard(
            "R18",
            "Arts. 34-35",
            "决策执行须确定执行单位，问题报告须符合第三十五条情形",
            "execution needs an execution unit; problem reports follow the Art. 35 triggers",
        ),
        Guard(
            "R19",
            "Art. 36",
            "决策后评估不得由承担主要论证评估工作的单位进行",
            "the post-evaluation may not be done by the unit that did the main pre-decision work",
        ),
        Guard(
            "R20",
            "Art. 37",
            "依法作出的决策不得随意变更或者停止执行",
            "a decision cannot be changed or stopped except by suspension or an adjustment procedure",
        ),
        Guard(
            "R21",
            "Art. 3",
            "决策事项目录经同级党委同意后方可公布",
            "a catalogue may only be published after Party approval",
        ),
        Guard(
            "R22",
            "§5, §13",
            "地方设置项须为已知项且取值有效",
            "a jurisdiction setting must be a known key with a valid value",
        ),
        Guard("P1", "P1", "期限计算单位", "unit of the period"),
        Guard(
            "P3",
            "Art. 15; P3",
            "公开征求意见自公布草案及说明之日起算",
            "the comment period starts on the day the draft and explanation are published",
        ),
        Guard(
            "P4",
            "Art. 16(2); P4",
            "听证公告、遴选办法应于听证会前提前公布，参加人名单应提前公布",
            "hearing notice and participant list must be published the set number of days before",
        ),
        Guard("P5", "Art. 26(1); P5", "退回补充的材料须重新送审", "returned materials must be resubmitted"),
        Guard(
            "P7",
            "P7",
            "合法性审查意见须为合法、修改后合法、不合法或退回补充",
            "a legality outcome is lawful, lawful after changes, unlawful or returned",
        ),
        Guard(
            "P8",
            "Art. 31; P8",
            "党委请示报告的时序须符合本地设置",
            "the Party report order follows the local setting",
        ),
        Guard(
            "P11", "P11", "出席会议人数须超过组成人员半数", "more than half of the members must be present"
        ),
        Guard("P12", "Art. 24; P12", "风险等级须为高、中、低", "a risk level is high, medium or low"),
        Guard(
            "ORDER",
            "§7.1; Arts. 10-12, 15, 19, 22, 25, 31",
            "此前的法定步骤尚未完成",
            "an earlier statutory step is not complete",
        ),
        Guard(
            "STATE", "§4", "当前阶段状态不允许此操作", "the stage is not in a state that allows this action"
        ),
        Guard(
            "AUTH", "design decision 5", "操作人无权进行此操作", "the actor's role does not allow this action"
        ),
        Guard("INPUT", "—", "输入无效", "invalid input"),
        Guard("NOT_FOUND", "—", "对象不存在", "no such object"),
    )
}


# --------------------------------------------------------------------------- product decisions
@dataclass(frozen=True)
class ProductDecision:
    id: str
    text: str
    setting: str | None


PRODUCT_DECISIONS: tuple[ProductDecision, ...] = (
    ProductDecision(
        "P1", "comment period and hearing-materials lead time in calendar days", "comment_period_unit"
    ),
    ProductDecision(
        "P2", "start day not counted; ends 24:00 Asia/Shanghai; rolls to the next working day", None
    ),
    ProductDecision("P3", "the comment period starts on the day the draft is published", None),
    ProductDecision(
        "P4", "hearing notice >= 10 days before; participant list >= 5 days before", "hearing_notice_days"
    ),
    ProductDecision("P5", "the 7-working-day minimum restarts on resubmission", "legality_clock_restarts"),
    ProductDecision(
        "P6",
        "legality opinion due 15 working days after (re)submission (reminder)",
        "legality_opinion_due_working_days",
    ),
    ProductDecision("P7", "legality outcomes: lawful, lawful after changes, unlawful, returned", None),
    ProductDecision("P8", "Party report after the meeting and before publication", "party_report_order"),
    ProductDecision(
        "P9", "publication due 20 working days after the decision (reminder)", "publication_due_working_days"
    ),
    ProductDecision("P10", "archive due 30 calendar days after publication or decision", "archive_due_days"),
    ProductDecision("P11", "quorum: more than half of the members present", "quorum_fraction"),
    ProductDecision("P12", "risk levels high / medium / low; controllability alone gates", None),
    ProductDecision("P13", "uncovered years: weekends only, provisional; recomputed on load", None),
)


# --------------------------------------------------------------------------- settings (R22)
@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    source: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("comment_period_min_days", 30, "Art. 15(1), T1", minimum=1),
        Setting("comment_period_unit", "calendar", "P1", choices=("calendar", "working")),
        Setting("hearing_materials_days", 7, "Art. 16(3), T2", minimum=1),
        Setting("hearing_materials_unit", "calendar", "P1", choices=("calendar", "working")),
        Setting("hearing_notice_days", 10, "Art. 16(2), P4", minimum=0),
        Setting("hearing_list_days", 5, "Art. 16(2), P4", minimum=0),
        Setting("legality_review_min_working_days", 7, "Art. 26(2), T4", minimum=1),
        Setting("legality_clock_restarts", True, "P5", choices=(True, False)),
        Setting("legality_opinion_due_working_days", 15, "P6", minimum=1),
        Setting(
            "party_report_order",
            "after_meeting",
            "Art. 31, P8",
            choices=("after_meeting", "before_meeting", "either"),
        ),
        Setting("publication_due_working_days", 20, "政府信息公开条例 Art. 26, P9", minimum=1),
        Setting("archive_due_days", 30, "Art. 33, P10", minimum=1),
        Setting("quorum_fraction", 0.5, "P11", minimum=0),
        Setting(
            "stages_needing_legal_approval",
            (
                "public_participation",
                "hearing",
                "expert_review",
                "risk_assessment",
                "fair_competition_review",
            ),
            "actions.md: stage approval by the legal office",
        ),
        Setting("anonymous_comments", True, "Art. 15", choices=(True, False)),
        Setting("publication_channels", ("gazette", "website", "newspaper"), "Art. 32(1)"),
        # overrides of notifications.policy.DEFAULT_POLICIES, per deadline kind (issue 3)
        Setting(
            "reminder_policy", {}, "reminder policy per deadline kind; defaults: notifications/policy.py"
        ),
    )
}


# --------------------------------------------------------------------------- time limits and deadlines
@dataclass(frozen=True)
class TimeLimit:
    id: str
    zh: str
    en: str
    article: str
    days_setting: str | None
    unit_setting: str | None = None
    unit: DayUnit = DayUnit.calendar


TIME_LIMITS: dict[str, TimeLimit] = {
    t.id: t
    for t in (
        TimeLimit(
            "T1",
            "公开征求意见期限",
            "open comment period",
            "Art. 15(1)",
            "comment_period_min_days",
            "comment_period_unit",
        ),
        TimeLimit(
            "T2",
            "听证材料送达",
            "hearing materials delivery",
            "Art. 16(3)",
            "hearing_materials_days",
            "hearing_materials_unit",
        ),
        TimeLimit("T3", "听证公告及名单", "hearing notice and list", "Art. 16(2)", "hearing_notice_days"),
        TimeLimit(
            "T4",
            "合法性审查时间",
            "legality review time",
            "Art. 26(2)",
            "legality_review_min_working_days",
            unit=DayUnit.working,
        ),
        TimeLimit(
            "T5",
            "合法性审查意见",
            "legality opinion",
            "Art. 28; P6",
            "legality_opinion_due_working_days",
            unit=DayUnit.working,
        ),
        TimeLimit(
            "T6",
            "决策公布",
            "publication",
            "Art. 32; P9",
            "publication_due_working_days",
            unit=DayUnit.working,
        ),
        TimeLimit("T7", "执行问题报告", "problem report", "Art. 35", None),
        TimeLimit("T8", "归档", "archiving", "Art. 33; P10", "archive_due_days"),
    )
}

Fires = Literal["start_of_day", "end_of_day"]


@dataclass(frozen=True)
class DeadlineKind:
    id: str
    time_limit: str | None
    stage: str
    zh: str
    en: str
    article: str
    fires: Fires  # a lead time becomes binding at the start of its day; a period ends at 24:00 (P2)
    blocking: bool
    days_setting: str | None = None  # overrides the time limit's setting (P4 list)
    direction: int = 1  # -1: a lead time counted back from an event (the hearing)


DEADLINE_KINDS: dict[str, DeadlineKind] = {
    d.id: d
    for d in (
        DeadlineKind(
            "comment_period_end",
            "T1",
            "public_participation",
            "公开征求意见截止",
            "comment period ends",
            "Art. 15(1)",
            "end_of_day",
            True,
        ),
        DeadlineKind(
            "hearing_notice",
            "T3",
            "hearing",
            "听证公告最迟发布",
            "latest hearing notice",
            "Art. 16(2); P4",
            "end_of_day",
            True,
            direction=-1,
        ),
        DeadlineKind(
            "hearing_participant_list",
            "T3",
            "hearing",
            "听证参加人名单最迟公布",
            "latest participant list",
            "Art. 16(2); P4",
            "end_of_day",
            True,
            days_setting="hearing_list_days",
            direction=-1,
        ),
        DeadlineKind(
            "hearing_materials",
            "T2",
            "hearing",
            "听证材料最迟送达",
            "latest materials delivery",
            "Art. 16(3)",
            "end_of_day",
            True,
            direction=-1,
        ),
        DeadlineKind(
            "legality_review_min",
            "T4",
            "legality_review",
            "最早可提交讨论日",
            "earliest discussion date",
            "Art. 26(2)",
            "start_of_day",
            True,
        ),
        DeadlineKind(
            "legality_opinion_due",
            "T5",
            "legality_review",
            "合法性审查意见应出具",
            "legality opinion due",
            "Art. 28; P6",
            "end_of_day",
            False,
        ),
        DeadlineKind(
            "publication_due",
            "T6",
            "publication",
            "决策应公布",
            "publication due",
            "Art. 32; P9",
            "end_of_day",
            False,
        ),
        DeadlineKind(
            "archive_due", "T8", "archive", "应归档", "archiving due", "Art. 33; P10", "end_of_day", False
        ),
        DeadlineKind(
            "stage_planned",
            None,
            "discussion",
            "目录计划决策时间",
            "planned decision time",
            "Art. 3; catalogue",
            "end_of_day",
            False,
        ),
    )
}


# --------------------------------------------------------------------------- actions and their roles
@dataclass(frozen=True)
class ActionRule:
    roles: frozenset[str]
    stage: str | None
    articles: str


def _a(roles: str, stage: str | None, articles: str) -> ActionRule:
    return ActionRule(frozenset(roles.split()), stage, articles)


DEPT = "department_staff department_head"
LEGAL = "legal_reviewer legal_head"

# Who may perform each action (design decision 5). The service refuses any other role (AUTH).
ACTIONS: dict[str, ActionRule] = {
    # catalogue, Art. 3
    "propose_catalogue_entry": _a(DEPT, None, "Art. 3(3)"),
    "review_catalogue_entry": _a(LEGAL, None, "Art. 3(3)"),
    "approve_catalogue": _a("gov_office", None, "Art. 3(3)"),
    "record_catalogue_party_approval": _a("party_liaison", None, "Art. 3(3)"),
    "publish_catalogue": _a("gov_office", None, "Art. 3(3)"),
    "adjust_catalogue": _a(f"{DEPT} gov_office {LEGAL}", None, "Art. 3(3)"),
    # lifecycle
    "register_decision": _a(f"{DEPT} gov_office", "initiation", "Art. 10"),
    "start_procedure": _a("gov_office head", "initiation", "Arts. 10-11"),
    "submit_draft": _a(DEPT, "drafting", "Arts. 12-13"),
    "revise_draft": _a(DEPT, "drafting", "Arts. 12, 24, 28"),
    "withdraw_decision": _a(f"{DEPT} gov_office head", None, "Art. 10"),
    "approve_stage": _a(LEGAL, None, "actions.md"),
    "return_stage": _a(LEGAL, None, "actions.md"),
    # public participation
    "open_comment_period": _a(DEPT, "public_participation", "Art. 15"),
    "submit_public_comment": _a("public", "public_participation", "Art. 15"),
    "record_participation_activity": _a(DEPT, "public_participation", "Art. 14"),
    "respond_to_input": _a(DEPT, None, "Art. 18"),
    "complete_participation": _a(DEPT, "public_participation", "Art. 18"),
    # hearing
    "announce_hearing": _a(DEPT, "hearing", "Art. 16"),
    "register_for_hearing": _a("public", "hearing", "Art. 16(2)"),
    "select_hearing_participants": _a(DEPT, "hearing", "Art. 16(2)"),
    "publish_participant_list": _a(DEPT, "hearing", "Art. 16(2)"),
    "deliver_hearing_materials": _a(DEPT, "hearing", "Art. 16(3)"),
    "record_hearing": _a(DEPT, "hearing", "Art. 17"),
    "submit_hearing_report": _a(DEPT, "hearing", "Art. 17; PRACTICE"),
    # expert review
    "add_expert_to_pool": _a(f"admin {LEGAL}", None, "Art. 21"),
    "select_experts": _a(DEPT, "expert_review", "Art. 20"),
    "record_expert_opinion": _a(f"{DEPT} expert", "expert_review", "Art. 19"),
    "complete_expert_review": _a(DEPT, "expert_review", "Art. 29(3)"),
    # risk assessment
    "submit_risk_assessment": _a(DEPT, "risk_assessment", "Arts. 22-23"),
    "reference_existing_assessment": _a(DEPT, "risk_assessment", "Art. 22(2)"),
    "judge_risk": _a("head gov_office", "risk_assessment", "Art. 24"),
    # fair competition
    "record_fair_competition_review": _a(DEPT, "fair_competition_review", "Art. 29(1)"),
    # legality review
    "submit_for_legality_review": _a(DEPT, "legality_review", "Arts. 25-26"),
    "return_for_supplement": _a(LEGAL, "legality_review", "Art. 26(1)"),
    "resubmit_for_legality_review": _a(DEPT, "legality_review", "Art. 26; P5"),
    "record_legal_adviser_opinion": _a(LEGAL, "legality_review", "Art. 28"),
    "issue_legality_opinion": _a(LEGAL, "legality_review", "Arts. 25, 28"),
    "record_changes_after_review": _a(DEPT, "legality_review", "Art. 28"),
    # discussion
    "submit_for_discussion": _a(DEPT, "discussion", "Arts. 25, 26, 29"),
    "record_meeting": _a("gov_office", "discussion", "Art. 30"),
    # party, congress, publication, archive
    "record_party_report": _a("party_liaison gov_office", "party_report", "Art. 31"),
    "record_party_reply": _a("party_liaison", "party_report", "Art. 31"),
    "record_congress_step": _a("gov_office", "congress", "Art. 8"),
    "publish_decision": _a("gov_office", "publication", "Art. 32"),
    "archive_decision": _a("gov_office", "archive", "Art. 33"),
    # after the decision
    "assign_execution_unit": _a("gov_office head", "execution", "Art. 34"),
    "report_execution_progress": _a(DEPT, "execution", "Art. 34"),
    "report_execution_problem": _a(DEPT, "execution", "Art. 35"),
    "start_post_evaluation": _a("gov_office head", "post_evaluation", "Art. 36"),
    "submit_post_evaluation_report": _a(f"{DEPT} gov_office", "post_evaluation", "Art. 36"),
    "suspend_execution": _a("head", "execution", "Art. 37"),
    "start_adjustment": _a("gov_office head", None, "Art. 37"),
    # time
    "extend_deadline": _a(f"{DEPT} {LEGAL} gov_office", None, "Arts. 15, 16"),
    "shorten_deadline": _a(f"{DEPT} {LEGAL} gov_office", None, "Arts. 15, 16"),
}


# --------------------------------------------------------------------------- the versioned procedure
@dataclass(frozen=True)
class Procedure:
    version: str
    stages: tuple[Stage, ...]
    guards: dict[str, Guard]
    time_limits: dict[str, TimeLimit]
    deadline_kinds: dict[str, DeadlineKind]
    settings: dict[str, Setting]
    actions: dict[str, ActionRule]
    stage_by_id: dict[str, Stage] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage_by_id", {s.id: s for s in self.stages})

    def stage(self, stage_id: str) -> Stage:
        return self.stage_by_id[stage_id]


CURRENT_VERSION = "713-2019/1"

PROCEDURES: dict[str, Procedure] = {
    CURRENT_VERSION: Procedure(
        CURRENT_VERSION, STAGES, GUARDS, TIME_LIMITS, DEADLINE_KINDS, SETTINGS, ACTIONS
    ),
}


def procedure(version: str = CURRENT_VERSION) -> Procedure:
    return PROCEDURES[version]
