"""The statutory procedure of Decree 713 (重大行政决策程序暂行条例), as versioned data.

A legal officer should be able to check this file against the regulation article by
article. Every step, condition, time limit, guard and product decision names its source.
Decisions pin `Procedure.version` at registration, so a later version never changes the
rules under which a running decision started (design: "versioned data").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flows.conditions import ALWAYS, NEVER, Condition, Not, any_of, flag
from models.enums import (
    CatalogueEntryStatus,
    CatalogueVersionStatus,
    CommentPeriodStatus,
    DayUnit,
    DeadlineStatus,
    DecisionStatus,
    HearingStatus,
    ReviewStatus,
    StageStatus,
)

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

# P16: flags that take effect only once the legal office confirms them with a legal basis;
# until then the decision is treated as not having them. flag: (what the basis is, zh, en)
FLAGS_NEEDING_CONFIRMATION: dict[str, tuple[str, str]] = {
    "confidential": ("不予公开所依据的法律规定", "the law under which the matter is not disclosed"),
    "exploratory_reform": ("探索性改革的依据", "the basis on which the matter is an exploratory reform"),
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
@dataclass(frozen=True, kw_only=True)
class EvidenceKind:
    id: str
    zh: str
    en: str
    article: str


EVIDENCE_KINDS: dict[str, EvidenceKind] = {
    e.id: e
    for e in (
        EvidenceKind(
            id="proposal", zh="决策事项建议及论证材料", en="proposal and argumentation", article="Art. 10"
        ),
        EvidenceKind(
            id="flag_confirmation",
            zh="标记确认意见（法律依据）",
            en="flag confirmation with its legal basis",
            article="P16",
        ),
        EvidenceKind(id="flag_change", zh="标记变更记录", en="record of a flag change", article="P16"),
        EvidenceKind(
            id="initiation_decision", zh="启动决定", en="initiation decision", article="Arts. 10-11"
        ),
        EvidenceKind(id="draft", zh="决策草案", en="decision draft", article="Art. 12"),
        EvidenceKind(
            id="draft_explanation", zh="起草说明", en="explanation of the draft", article="Arts. 12, 15"
        ),
        EvidenceKind(
            id="comment_notice", zh="公开征求意见公告", en="public comment notice", article="Art. 15"
        ),
        EvidenceKind(
            id="participation_activity",
            zh="公众参与活动记录",
            en="participation activity record",
            article="Art. 14",
        ),
        EvidenceKind(
            id="specific_group_consultation",
            zh="特定群体意见听取记录",
            en="specific-group consultation",
            article="Art. 14(3)",
        ),
        EvidenceKind(
            id="participation_summary",
            zh="意见研究采纳情况",
            en="summary of opinions adopted",
            article="Arts. 18, 29(2)",
        ),
        EvidenceKind(id="hearing_notice", zh="听证公告", en="hearing notice", article="Art. 16(2)"),
        EvidenceKind(id="selection_method", zh="遴选办法", en="selection method", article="Art. 16(2)"),
        EvidenceKind(
            id="hearing_draw",
            zh="抽签记录（公布随机种子）",
            en="draw record with its seed",
            article="Art. 16(2)",
        ),
        EvidenceKind(id="participant_list", zh="听证参加人名单", en="participant list", article="Art. 16(2)"),
        EvidenceKind(
            id="materials_delivery",
            zh="听证材料送达记录",
            en="hearing materials delivery",
            article="Art. 16(3)",
        ),
        EvidenceKind(
            id="hearing_record", zh="听证会记录（参加人签字）", en="signed hearing record", article="Art. 17"
        ),
        EvidenceKind(id="hearing_report", zh="听证报告", en="hearing report", article="PRACTICE"),
        EvidenceKind(
            id="hearing_answers",
            zh="听证意见研究采纳情况",
            en="answers to the hearing statements",
            article="Arts. 18, 29(2)",
        ),
        EvidenceKind(
            id="expert_opinion",
            zh="专家论证意见（署名盖章）",
            en="signed expert opinion",
            article="Art. 19(2)",
        ),
        EvidenceKind(
            id="expert_summary", zh="专家意见采纳情况", en="adoption of expert opinions", article="Art. 29(3)"
        ),
        EvidenceKind(id="risk_report", zh="风险评估报告", en="risk assessment report", article="Art. 23"),
        EvidenceKind(
            id="risk_judgement", zh="风险可控性判断", en="controllability judgement", article="Art. 24"
        ),
        EvidenceKind(
            id="fcr_conclusion",
            zh="公平竞争审查结论",
            en="fair competition review conclusion",
            article="Art. 29(1)",
        ),
        EvidenceKind(
            id="legality_package", zh="合法性审查送审材料", en="legality review package", article="Art. 26"
        ),
        EvidenceKind(
            id="supplement_notice", zh="退回补充通知", en="return for supplement notice", article="Art. 26(1)"
        ),
        EvidenceKind(
            id="legal_adviser_opinion",
            zh="法律顾问/公职律师意见",
            en="legal adviser opinion",
            article="Art. 28",
        ),
        EvidenceKind(
            id="legality_opinion", zh="合法性审查意见", en="legality review opinion", article="Arts. 25, 28"
        ),
        EvidenceKind(
            id="changes_record", zh="根据审查意见修改情况", en="changes after review", article="Art. 28"
        ),
        EvidenceKind(
            id="legal_risk_statement", zh="法律风险说明", en="legal risk statement", article="Art. 25(2)"
        ),
        EvidenceKind(id="discussion_package", zh="提请审议材料", en="discussion package", article="Art. 29"),
        EvidenceKind(
            id="meeting_minutes",
            zh="会议记录（含不同意见）",
            en="meeting minutes with dissent",
            article="Art. 30",
        ),
        EvidenceKind(
            id="party_report",
            zh="向党委请示报告",
            en="request-report to the Party committee",
            article="Art. 31",
        ),
        EvidenceKind(id="party_reply", zh="党委批复", en="Party committee reply", article="Art. 31"),
        EvidenceKind(
            id="congress_record", zh="人大程序记录", en="people's congress record", article="Art. 8"
        ),
        EvidenceKind(id="publication_text", zh="决策公布文本", en="published decision", article="Art. 32"),
        EvidenceKind(
            id="adoption_explanation", zh="意见采纳情况说明", en="adoption explanation", article="Art. 32"
        ),
        EvidenceKind(id="interpretation", zh="政策解读材料", en="interpretation material", article="Art. 32"),
        EvidenceKind(id="archive_manifest", zh="决策档案目录", en="archive manifest", article="Art. 33"),
        EvidenceKind(id="execution_report", zh="执行情况报告", en="execution report", article="Art. 34"),
        EvidenceKind(
            id="problem_report", zh="执行问题报告", en="execution problem report", article="Art. 35"
        ),
        EvidenceKind(
            id="post_evaluation_report", zh="决策后评估报告", en="post-evaluation report", article="Art. 36"
        ),
        EvidenceKind(
            id="suspension_decision", zh="中止执行决定", en="suspension decision", article="Art. 37"
        ),
        # §15.7: the organ ends a suspension (Art. 37)
        EvidenceKind(
            id="resumption_decision", zh="恢复执行决定", en="decision to resume execution", article="Art. 37"
        ),
        EvidenceKind(
            id="termination_decision",
            zh="终止执行决定",
            en="decision to terminate execution",
            article="Art. 37",
        ),
        # §15.1, P15: revisions after the legality opinion
        EvidenceKind(
            id="revision_confirmation",
            zh="合法性审查机构关于修改不涉及合法性的确认",
            en="legal office's confirmation that a revision does not touch legality",
            article="Arts. 25, 28; P15",
        ),
        EvidenceKind(
            id="draft_revisions",
            zh="审查后草案修改情况及对照",
            en="revisions since the reviewed draft, with their reasons and a diff",
            article="Art. 29",
        ),
    )
}


@dataclass(frozen=True, kw_only=True)
class EvidenceRequirement:
    kind: str
    when: Condition = ALWAYS


def ev(kind: str, when: Condition = ALWAYS) -> EvidenceRequirement:
    assert kind in EVIDENCE_KINDS, kind
    return EvidenceRequirement(kind=kind, when=when)


# --------------------------------------------------------------------------- stages
StageRequirement = Literal["required", "optional", "excluded"]


@dataclass(frozen=True, kw_only=True)
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

    def requirement(
        self, flags: frozenset[str], required_stages: frozenset[str] = frozenset()
    ) -> StageRequirement:
        """`required_stages` are the stages the decision's catalogue entry lists (Art. 3(3)). An
        exclusion by law (R2: a confirmed confidential matter) still wins over a listing."""
        if self.excluded_when.holds(flags):
            return "excluded"
        if self.required_when.holds(flags) or self.id in required_stages:
            return "required"
        return "optional"


CONFIDENTIAL = flag("confidential")
PUBLIC = Not(CONFIDENTIAL)

STAGES: tuple[Stage, ...] = (
    Stage(
        id="initiation",
        section="S1",
        zh="决策启动",
        en="Initiation",
        articles="Arts. 10-11",
        required_when=ALWAYS,
        guard="R1",
        evidence=(ev("initiation_decision"),),
    ),
    Stage(
        id="drafting",
        section="S2",
        zh="拟订草案",
        en="Drafting",
        articles="Arts. 12-13",
        required_when=ALWAYS,
        guard="R1",
        after=("initiation",),
        evidence=(ev("draft"),),
    ),
    Stage(
        id="public_participation",
        section="S3",
        zh="公众参与",
        en="Public participation",
        articles="Arts. 14-18",
        required_when=ALWAYS,
        guard="R3",
        after=("drafting",),
        excluded_when=CONFIDENTIAL,
        pre_review=True,
        evidence=(
            ev("participation_summary"),
            ev("specific_group_consultation", flag("affects_specific_group")),
        ),
    ),
    Stage(
        id="hearing",
        section="S3b",
        zh="听证",
        en="Hearing",
        articles="Arts. 16-17; GD-H Arts. 2-3",
        required_when=any_of(flag("hearing_required_by_law"), flag("hearing_in_catalogue")),
        guard="R5",
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
        id="expert_review",
        section="S4",
        zh="专家论证",
        en="Expert review",
        articles="Arts. 19-21",
        required_when=flag("technical"),
        guard="R6",
        after=("drafting",),
        optional=True,
        pre_review=True,
        evidence=(ev("expert_opinion"), ev("expert_summary")),
    ),
    Stage(
        id="risk_assessment",
        section="S5",
        zh="风险评估",
        en="Risk assessment",
        articles="Arts. 22-24",
        required_when=flag("stability_risk"),
        guard="R7",
        after=("drafting",),
        optional=True,
        pre_review=True,
        evidence=(ev("risk_report"), ev("risk_judgement")),
    ),
    Stage(
        id="fair_competition_review",
        section="S6",
        zh="公平竞争审查",
        en="Fair competition review",
        articles="Art. 29(1); FCR Regs Arts. 14, 18",
        required_when=flag("market_activity"),
        guard="R8",
        after=("drafting",),
        pre_review=True,
        evidence=(ev("fcr_conclusion"),),
    ),
    Stage(
        id="legality_review",
        section="S7",
        zh="合法性审查",
        en="Legality review",
        articles="Arts. 25-28",
        required_when=ALWAYS,
        guard="R12",
        after=("drafting",),
        evidence=(ev("legality_package"), ev("legal_adviser_opinion"), ev("legality_opinion")),
    ),
    Stage(
        id="discussion",
        section="S8-S9",
        zh="集体讨论决定",
        en="Collective discussion",
        articles="Arts. 29-30",
        required_when=ALWAYS,
        guard="R12",
        after=("legality_review",),
        evidence=(ev("discussion_package"), ev("meeting_minutes")),
    ),
    Stage(
        id="party_report",
        section="S10",
        zh="党委请示报告",
        en="Party committee report",
        articles="Art. 31",
        required_when=ALWAYS,
        guard="R15",
        after=("drafting",),
        evidence=(ev("party_report"), ev("party_reply")),
    ),
    Stage(
        id="congress",
        section="S10b",
        zh="人大程序",
        en="People's congress step",
        articles="Art. 8",
        required_when=flag("congress_step"),
        guard="R15",
        after=("discussion",),
        evidence=(ev("congress_record"),),
    ),
    Stage(
        id="publication",
        section="S11",
        zh="决策公布",
        en="Publication",
        articles="Art. 32",
        required_when=ALWAYS,
        guard="R16",
        after=("discussion", "party_report", "congress"),
        excluded_when=CONFIDENTIAL,
        evidence=(
            ev("publication_text"),
            ev("adoption_explanation", any_of(flag("high_public_concern"), flag("technical"))),
            ev("interpretation", any_of(flag("high_public_concern"), flag("technical"))),
        ),
    ),
    Stage(
        id="archive",
        section="S12",
        zh="归档",
        en="Archive",
        articles="Art. 33",
        required_when=ALWAYS,
        guard="R17",
        after=("discussion", "party_report", "publication"),
        evidence=(ev("archive_manifest"),),
    ),
    Stage(
        id="execution",
        section="S13",
        zh="执行",
        en="Execution",
        articles="Arts. 34-35",
        required_when=ALWAYS,
        guard="R18",
        after=("discussion",),
    ),
    Stage(
        id="post_evaluation",
        section="S13",
        zh="决策后评估",
        en="Post-evaluation",
        articles="Art. 36",
        required_when=NEVER,
        guard="R19",
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
        (StageStatus.not_required, StageStatus.pending),  # change_flags: newly required (P16)
        (StageStatus.pending, StageStatus.not_required),  # change_flags: no longer required, not started
    }
)

DONE_STATUSES = frozenset({StageStatus.completed, StageStatus.waived, StageStatus.not_required})


# --------------------------------------------------------------------------- guards
@dataclass(frozen=True, kw_only=True)
class Guard:
    id: str
    article: str
    zh: str
    en: str


GUARDS: dict[str, Guard] = {
    g.id: g
    for g in (
        Guard(
            id="R1",
            article="Art. 11",
            zh="启动决策须确定决策承办单位（多个单位时须确定牵头单位）后方可拟订草案",
            en="a decision needs its undertaking unit, and a lead unit if several, before drafting",
        ),
        Guard(
            id="R2",
            article="Arts. 14, 25, 30-33",
            zh="依法不予公开的事项不进行公开征求意见、听证和公布",
            en="a confidential matter has no public comment, hearing or publication",
        ),
        Guard(
            id="R3",
            article="Arts. 14-15",
            zh="须开展公众参与；公开征求意见期限一般不少于30日，缩短须在公告中说明理由",
            en="public participation is required; open comment lasts at least 30 days unless an urgent reason is published",
        ),
        Guard(
            id="R4",
            article="Art. 14(3)",
            zh="涉及特定群体利益的，应当听取相关人民团体、社会组织及群众代表意见",
            en="a matter affecting a specific group needs a consultation with that group",
        ),
        Guard(
            id="R5",
            article="Arts. 16-18",
            zh="听证须提前公告（附草案及其说明）、公布遴选办法和参加人名单，听证材料按规定日数提前送达，"
            "记录经参加人签字或载明拒签，听证意见逐条答复",
            en="a hearing needs prior notice with the draft, a published selection method and list, materials "
            "delivered the set number of days before, a record signed or naming who refused, and every "
            "statement answered",
        ),
        Guard(
            id="R6",
            article="Arts. 19-20",
            zh="专家论证意见须书面署名或盖章，与决策事项有直接利害关系的专家应当回避",
            en="expert opinions are written and signed; experts with a direct interest are excluded",
        ),
        Guard(
            id="R7",
            article="Arts. 22-24",
            zh="须作出风险评估报告；风险被判断为不可控的，须经决策机关重新判断风险可控后方可决策",
            en="a risk assessment report is required; a risk judged uncontrollable blocks the decision until "
            "the organ judges it controllable on a draft no older than the one judged",
        ),
        Guard(
            id="R8",
            article="Art. 29(1); FCR Regs Arts. 14, 18",
            zh="涉及市场主体经济活动的，须有公平竞争审查结论",
            en="a matter involving businesses' activity needs a fair competition review conclusion",
        ),
        Guard(
            id="R9",
            article="Arts. 25-26",
            zh="送请合法性审查须提供草案、法律依据及履行法定程序的说明；不得以征求意见代替合法性审查",
            en="a legality review submission needs the draft, its legal basis and the statement of procedures performed",
        ),
        Guard(
            id="R10",
            article="Art. 26(2)",
            zh="合法性审查时间一般不少于7个工作日",
            en="the legality review must be given at least 7 working days",
        ),
        Guard(
            id="R11",
            article="Art. 28",
            zh="合法性审查应当听取法律顾问、公职律师的意见",
            en="the legality review must include a legal adviser's or public lawyer's opinion",
        ),
        Guard(
            id="R12",
            article="Art. 25",
            zh="未经合法性审查或经审查不合法的，不得提交讨论（探索性改革事项须明示法律风险）",
            en="no discussion without a legality opinion that is not 'unlawful' (exploratory reform: legal risks stated)",
        ),
        Guard(
            id="R13", article="Art. 29", zh="提请审议材料须齐全", en="the discussion package must be complete"
        ),
        Guard(
            id="R14",
            article="Art. 30",
            zh="须经常务会议或全体会议讨论，出席成员各记录一项意见，行政首长最后发言，"
            "与多数意见或本人意见不一致的应当说明理由",
            en="an executive or plenary meeting, one recorded opinion per member present, the head speaks last "
            "and gives reasons when departing from the majority or from the head's own opinion",
        ),
        Guard(
            id="R15",
            article="Arts. 31, 8",
            zh="决策出台前应当向同级党委请示报告，需人大程序的应当履行",
            en="the Party committee report, and the congress step where flagged, must precede issuance",
        ),
        Guard(
            id="R16",
            article="Art. 32",
            zh="决策应当通过政府公报、政府网站及报刊公布；社会广泛关注或专业性强的应当说明意见采纳情况并解读",
            en="publish through gazette, website and newspaper; explain adoption and interpret where required",
        ),
        Guard(
            id="R17",
            article="Art. 33",
            zh="决策过程材料应当及时完整归档，缺少必需材料不得结档",
            en="the dossier cannot be closed while required items are missing",
        ),
        Guard(
            id="R18",
            article="Arts. 34-35",
            zh="决策执行须确定执行单位，问题报告须符合第三十五条情形",
            en="execution needs an execution unit; problem reports follow the Art. 35 triggers",
        ),
        Guard(
            id="R19",
            article="Art. 36",
            zh="决策后评估不得由承担主要论证评估工作的单位进行",
            en="the post-evaluation may not be done by the unit that did the main pre-decision work",
        ),
        Guard(
            id="R20",
            article="Art. 37",
            zh="依法作出的决策不得随意变更或者停止执行",
            en="a decision cannot be changed or stopped except by suspension or an adjustment procedure",
        ),
        Guard(
            id="R21",
            article="Art. 3",
            zh="决策事项目录经同级党委同意后方可公布",
            en="a catalogue may only be published after Party approval",
        ),
        Guard(
            id="R22",
            article="local rules",
            zh="地方设置项须为已知项且取值有效",
            en="a jurisdiction setting must be a known key with a valid value",
        ),
    )
}


# Product decisions that refuse an action (the P-rules): the same shape as a guard, kept
# apart because they are this product's readings of open points, not the statute's words.
PRODUCT_RULES: dict[str, Guard] = {
    g.id: g
    for g in (
        Guard(
            id="P3",
            article="Art. 15; P3",
            zh="公开征求意见自公布草案及说明之日起算",
            en="the comment period starts on the day the draft and explanation are published",
        ),
        Guard(
            id="P4",
            article="Art. 16(2); P4",
            zh="听证公告、遴选办法应于听证会前提前公布，参加人名单应提前公布",
            en="hearing notice and participant list must be published the set number of days before",
        ),
        Guard(
            id="P5",
            article="Art. 26(1); P5",
            zh="退回补充的材料须重新送审",
            en="returned materials must be resubmitted",
        ),
        Guard(
            id="P8",
            article="Art. 31; P8",
            zh="党委请示报告的时序须符合本地设置",
            en="the Party report order follows the local setting",
        ),
        Guard(
            id="P11",
            article="Art. 30; Local Organic Law Art. 78; P11",
            zh="出席会议的组成人员须超过名册人数的法定比例",
            en="more than the quorum fraction of the roster of meeting members must be present",
        ),
        Guard(
            id="P12",
            article="Art. 24; P12",
            zh="风险等级须为高、中、低",
            en="a risk level is high, medium or low",
        ),
        Guard(
            id="P16",
            article="Arts. 14, 19, 22, 25(2); P16",
            zh="标记由承办单位提出；依法不予公开和探索性改革标记须经司法局确认法律依据后生效",
            en="the undertaking unit proposes flags; confidential and exploratory reform take effect "
            "only when the legal office confirms their legal basis",
        ),
        Guard(
            id="P17",
            article="Arts. 15(1), 16(3), 26(2); P17",
            zh="地方设置可以延长而不得缩短《条例》规定的最低期限",
            en="a jurisdiction may lengthen a Decree 713 minimum but never shorten it",
        ),
    )
}

# Error kinds: refusals that are not a rule of the procedure (wrong state or order, a role
# that may not act, bad input, an unknown object).
ERROR_KINDS: dict[str, Guard] = {
    g.id: g
    for g in (
        Guard(
            id="ORDER",
            article="Arts. 10-12, 15, 19, 22, 25, 31",
            zh="此前的法定步骤尚未完成",
            en="an earlier statutory step is not complete",
        ),
        Guard(
            id="STATE",
            article="—",
            zh="当前阶段状态不允许此操作",
            en="the stage is not in a state that allows this action",
        ),
        Guard(
            id="AUTH",
            article="—",  # who may act is the product's role table, not an article
            zh="操作人无权进行此操作",
            en="the actor's role does not allow this action",
        ),
        Guard(id="INPUT", article="—", zh="输入无效", en="invalid input"),
        Guard(id="NOT_FOUND", article="—", zh="对象不存在", en="no such object"),
    )
}

RULES: dict[str, Guard] = {**GUARDS, **PRODUCT_RULES, **ERROR_KINDS}


# --------------------------------------------------------------------------- product decisions
@dataclass(frozen=True, kw_only=True)
class ProductDecision:
    id: str
    text: str
    setting: str | None


PRODUCT_DECISIONS: tuple[ProductDecision, ...] = (
    ProductDecision(
        id="P1",
        text="comment period and hearing-materials lead time in calendar days",
        setting="comment_period_unit",
    ),
    ProductDecision(
        id="P2",
        text="start day not counted; ends 24:00 Asia/Shanghai; rolls to the next working day",
        setting=None,
    ),
    ProductDecision(
        id="P3", text="the comment period starts on the day the draft is published", setting=None
    ),
    ProductDecision(
        id="P4",
        text="hearing notice >= 10 days before; participant list >= 5 days before",
        setting="hearing_notice_days",
    ),
    ProductDecision(
        id="P5", text="the 7-working-day minimum restarts on resubmission", setting="legality_clock_restarts"
    ),
    ProductDecision(
        id="P6",
        text="legality opinion due 15 working days after (re)submission (reminder)",
        setting="legality_opinion_due_working_days",
    ),
    ProductDecision(
        id="P7", text="legality outcomes: lawful, lawful after changes, unlawful, returned", setting=None
    ),
    ProductDecision(
        id="P8", text="Party report after the meeting and before publication", setting="party_report_order"
    ),
    ProductDecision(
        id="P9",
        text="publication due 20 working days after the decision (reminder)",
        setting="publication_due_working_days",
    ),
    ProductDecision(
        id="P10",
        text="archive due 30 calendar days after publication or decision",
        setting="archive_due_days",
    ),
    ProductDecision(
        id="P11", text="quorum: more than half of the members present", setting="quorum_fraction"
    ),
    ProductDecision(
        id="P12", text="risk levels high / medium / low; controllability alone gates", setting=None
    ),
    ProductDecision(
        id="P13", text="uncovered years: weekends only, provisional; recomputed on load", setting=None
    ),
    ProductDecision(
        id="P14",
        text="lead times: any date on or before H-N, unrolled; only the reminder rolls back",
        setting=None,
    ),
    ProductDecision(
        id="P15",
        text="a revised draft needs a new review or the legal office's confirm_revision",
        setting=None,
    ),
    ProductDecision(
        id="P16",
        text="confidential and exploratory reform take effect when the legal office confirms them",
        setting=None,
    ),
    ProductDecision(
        id="P17",
        text="statutory floors: a jurisdiction may lengthen a Decree 713 minimum, never shorten it",
        setting=None,
    ),
)


# --------------------------------------------------------------------------- settings (R22)
SettingKind = Literal["days", "fraction", "choice", "stages", "channels", "policy"]


@dataclass(frozen=True, kw_only=True)
class Setting:
    """A value local rules may vary (R22), with its Decree 713 default and source.

    `statutory_floor` is a Decree 713 minimum: a jurisdiction may lengthen it but never
    shorten it (P17). A `days` setting is a whole number of days; a `fraction` lies strictly
    between 0 and 1; a `channels` list may not be empty; a `stages` list names stages."""

    key: str
    default: Any
    source: str
    kind: SettingKind
    choices: tuple[Any, ...] = ()
    minimum: int = 0
    statutory_floor: int | None = None


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting(
            key="comment_period_min_days",
            default=30,
            source="Art. 15(1), T1",
            kind="days",
            minimum=1,
            statutory_floor=30,  # P17: shorter only per decision, with an urgent reason (R3)
        ),
        Setting(
            key="comment_period_unit",
            default="calendar",
            source="P1",
            kind="choice",
            choices=("calendar", "working"),
        ),
        Setting(
            key="hearing_materials_days",
            default=7,
            source="Art. 16(3), T2",
            kind="days",
            minimum=1,
            statutory_floor=7,  # P17
        ),
        Setting(
            key="hearing_materials_unit",
            default="calendar",
            source="P1",
            kind="choice",
            choices=("calendar", "working"),
        ),
        Setting(key="hearing_notice_days", default=10, source="Art. 16(2), P4", kind="days"),
        Setting(key="hearing_list_days", default=5, source="Art. 16(2), P4", kind="days"),
        Setting(
            key="legality_review_min_working_days",
            default=7,
            source="Art. 26(2), T4",
            kind="days",
            minimum=1,
            statutory_floor=7,  # P17
        ),
        Setting(
            key="legality_clock_restarts", default=True, source="P5", kind="choice", choices=(True, False)
        ),
        Setting(key="legality_opinion_due_working_days", default=15, source="P6", kind="days", minimum=1),
        Setting(
            key="party_report_order",
            default="after_meeting",
            source="Art. 31, P8",
            kind="choice",
            choices=("after_meeting", "before_meeting", "either"),
        ),
        Setting(
            key="publication_due_working_days",
            default=20,
            source="政府信息公开条例 Art. 26, P9",
            kind="days",
            minimum=1,
        ),
        Setting(key="archive_due_days", default=30, source="Art. 33, P10", kind="days", minimum=1),
        Setting(key="quorum_fraction", default=0.5, source="P11", kind="fraction"),
        Setting(
            key="stages_needing_legal_approval",
            default=(
                "public_participation",
                "hearing",
                "expert_review",
                "risk_assessment",
                "fair_competition_review",
            ),
            source="stage approval by the legal office (司法局审核)",
            kind="stages",
        ),
        Setting(
            key="anonymous_comments", default=True, source="Art. 15", kind="choice", choices=(True, False)
        ),
        Setting(
            key="publication_channels",
            default=("gazette", "website", "newspaper"),
            source="Art. 32(1)",
            kind="channels",
        ),
        # overrides of notifications.policy.DEFAULT_POLICIES, per deadline kind
        Setting(
            key="reminder_policy",
            default={},
            source="reminder policy per deadline kind; defaults: notifications/policy.py",
            kind="policy",
        ),
    )
}


# --------------------------------------------------------------------------- time limits and deadlines
@dataclass(frozen=True, kw_only=True)
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
            id="T1",
            zh="公开征求意见期限",
            en="open comment period",
            article="Art. 15(1)",
            days_setting="comment_period_min_days",
            unit_setting="comment_period_unit",
        ),
        TimeLimit(
            id="T2",
            zh="听证材料送达",
            en="hearing materials delivery",
            article="Art. 16(3)",
            days_setting="hearing_materials_days",
            unit_setting="hearing_materials_unit",
        ),
        TimeLimit(
            id="T3",
            zh="听证公告及名单",
            en="hearing notice and list",
            article="Art. 16(2)",
            days_setting="hearing_notice_days",
        ),
        TimeLimit(
            id="T4",
            zh="合法性审查时间",
            en="legality review time",
            article="Art. 26(2)",
            days_setting="legality_review_min_working_days",
            unit=DayUnit.working,
        ),
        TimeLimit(
            id="T5",
            zh="合法性审查意见",
            en="legality opinion",
            article="Art. 28; P6",
            days_setting="legality_opinion_due_working_days",
            unit=DayUnit.working,
        ),
        TimeLimit(
            id="T6",
            zh="决策公布",
            en="publication",
            article="Art. 32; P9",
            days_setting="publication_due_working_days",
            unit=DayUnit.working,
        ),
        TimeLimit(id="T7", zh="执行问题报告", en="problem report", article="Art. 35", days_setting=None),
        TimeLimit(
            id="T8", zh="归档", en="archiving", article="Art. 33; P10", days_setting="archive_due_days"
        ),
    )
}

Fires = Literal["start_of_day", "end_of_day"]


@dataclass(frozen=True, kw_only=True)
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
            id="comment_period_end",
            time_limit="T1",
            stage="public_participation",
            zh="公开征求意见截止",
            en="comment period ends",
            article="Art. 15(1)",
            fires="end_of_day",
            blocking=True,
        ),
        DeadlineKind(
            id="hearing_notice",
            time_limit="T3",
            stage="hearing",
            zh="听证公告最迟发布",
            en="latest hearing notice",
            article="Art. 16(2); P4",
            fires="end_of_day",
            blocking=True,
            direction=-1,
        ),
        DeadlineKind(
            id="hearing_participant_list",
            time_limit="T3",
            stage="hearing",
            zh="听证参加人名单最迟公布",
            en="latest participant list",
            article="Art. 16(2); P4",
            fires="end_of_day",
            blocking=True,
            days_setting="hearing_list_days",
            direction=-1,
        ),
        DeadlineKind(
            id="hearing_materials",
            time_limit="T2",
            stage="hearing",
            zh="听证材料最迟送达",
            en="latest materials delivery",
            article="Art. 16(3)",
            fires="end_of_day",
            blocking=True,
            direction=-1,
        ),
        DeadlineKind(
            id="legality_review_min",
            time_limit="T4",
            stage="legality_review",
            zh="最早可提交讨论日",
            en="earliest discussion date",
            article="Art. 26(2)",
            fires="start_of_day",
            blocking=True,
        ),
        DeadlineKind(
            id="legality_opinion_due",
            time_limit="T5",
            stage="legality_review",
            zh="合法性审查意见应出具",
            en="legality opinion due",
            article="Art. 28; P6",
            fires="end_of_day",
            blocking=False,
        ),
        DeadlineKind(
            id="publication_due",
            time_limit="T6",
            stage="publication",
            zh="决策应公布",
            en="publication due",
            article="Art. 32; P9",
            fires="end_of_day",
            blocking=False,
        ),
        DeadlineKind(
            id="archive_due",
            time_limit="T8",
            stage="archive",
            zh="应归档",
            en="archiving due",
            article="Art. 33; P10",
            fires="end_of_day",
            blocking=False,
        ),
        DeadlineKind(
            id="stage_planned",
            time_limit=None,
            stage="discussion",
            zh="目录计划决策时间",
            en="planned decision time",
            article="Art. 3; catalogue",
            fires="end_of_day",
            blocking=False,
        ),
    )
}


# --------------------------------------------------------------------------- decision lifecycle
_D = DecisionStatus

# Every legal change of a decision's status (Arts. 10, 30, 32-33, 37), and the action that
# makes it. There is no "go to any state" shortcut: `Tx.set_decision_status` refuses others.
DECISION_TRANSITIONS: dict[tuple[DecisionStatus, DecisionStatus], str] = {
    (_D.proposed, _D.in_procedure): "start_procedure",  # Arts. 10-11
    (_D.proposed, _D.withdrawn): "withdraw_decision",
    (_D.in_procedure, _D.withdrawn): "withdraw_decision",
    (_D.in_procedure, _D.decided): "record_meeting",  # Art. 30
    (_D.in_procedure, _D.rejected): "record_meeting",
    (_D.decided, _D.published): "publish_decision",  # Art. 32
    (_D.decided, _D.archived): "archive_decision",  # a confidential decision is not published
    (_D.rejected, _D.archived): "archive_decision",
    (_D.published, _D.archived): "archive_decision",  # Art. 33
    (_D.decided, _D.suspended): "suspend_execution",  # Art. 37
    (_D.published, _D.suspended): "suspend_execution",
    (_D.archived, _D.suspended): "suspend_execution",
    # §15.7: the organ ends a suspension; resuming returns the decision to where it stood
    (_D.suspended, _D.decided): "resume_execution",
    (_D.suspended, _D.published): "resume_execution",
    (_D.suspended, _D.archived): "resume_execution",
    (_D.suspended, _D.terminated): "terminate_decision",
}


# --------------------------------------------------------------------------- lifecycles of the sub-procedures
@dataclass(frozen=True, kw_only=True)
class Lifecycle:
    """The statuses of one kind of object (a hearing, a review round, a comment period, a
    catalogue entry or version) and every legal change between them. An action that works
    on such an object declares the statuses it needs (`ActionRule.needs`); one generic
    check refuses the others. Where the statuses are the ordered steps of a statutory
    sub-procedure (`sequence`), a step taken before an earlier one is refused with
    `early_rule` and the missing step is named; a step already over is STATE."""

    name: str
    zh: str
    en: str
    transitions: frozenset[tuple[str, str]]
    sequence: tuple[str, ...] = ()
    early_rule: str = "STATE"
    missing: dict[str, tuple[str, str]] = field(default_factory=dict)


_H = HearingStatus
LIFECYCLES: dict[str, Lifecycle] = {
    c.name: c
    for c in (
        Lifecycle(
            name="comment_period",
            zh="公开征求意见",
            en="comment period",
            transitions=frozenset({(CommentPeriodStatus.open, CommentPeriodStatus.closed)}),  # Art. 15
        ),
        Lifecycle(
            name="deadline",
            zh="期限",
            en="deadline",
            # open until met, fired when it falls due (overdue, or an automatic transition such
            # as closing a comment period), cancelled when its subject goes away
            transitions=frozenset(
                {
                    (DeadlineStatus.open, DeadlineStatus.met),
                    (DeadlineStatus.open, DeadlineStatus.fired),
                    (DeadlineStatus.open, DeadlineStatus.cancelled),
                    (DeadlineStatus.fired, DeadlineStatus.met),
                    (DeadlineStatus.fired, DeadlineStatus.cancelled),
                }
            ),
        ),
        Lifecycle(
            name="hearing",
            zh="听证会",
            en="hearing",
            # Arts. 16-17: notice, draw, list, materials, hearing, report; or postponed
            transitions=frozenset(
                {
                    (_H.announced, _H.selected),
                    (_H.selected, _H.list_published),
                    (_H.list_published, _H.materials_delivered),
                    (_H.materials_delivered, _H.held),
                    (_H.held, _H.reported),
                    (_H.announced, _H.postponed),
                    (_H.selected, _H.postponed),
                    (_H.list_published, _H.postponed),
                    (_H.materials_delivered, _H.postponed),
                }
            ),
            sequence=(
                _H.announced,
                _H.selected,
                _H.list_published,
                _H.materials_delivered,
                _H.held,
                _H.reported,
            ),
            early_rule="R5",
            missing={
                _H.selected: ("尚未遴选参加人", "participants have not been selected"),
                _H.list_published: ("尚未公布参加人名单", "the participant list has not been published"),
                _H.materials_delivered: ("听证材料尚未送达", "the hearing materials have not been delivered"),
                _H.held: ("尚无经参加人签字的听证会记录", "there is no signed hearing record"),
            },
        ),
        Lifecycle(
            name="legality_review",
            zh="合法性审查",
            en="legality review round",
            # Art. 26(1), P5, P7: a round ends with a return for supplement or an opinion
            transitions=frozenset(
                {
                    (ReviewStatus.under_review, ReviewStatus.returned),
                    (ReviewStatus.under_review, ReviewStatus.opinion_issued),
                }
            ),
        ),
        Lifecycle(
            name="catalogue_entry",
            zh="目录事项",
            en="catalogue entry",
            transitions=frozenset(
                {
                    (
                        CatalogueEntryStatus.proposed,
                        CatalogueEntryStatus.included,
                    ),  # the legal office includes it
                    (
                        CatalogueEntryStatus.proposed,
                        CatalogueEntryStatus.rejected,
                    ),  # or leaves it out, with reason
                    (CatalogueEntryStatus.included, CatalogueEntryStatus.removed),  # adjust_catalogue remove
                    (CatalogueEntryStatus.included, CatalogueEntryStatus.deferred),  # adjust_catalogue defer
                }
            ),
        ),
        Lifecycle(
            name="catalogue_version",
            zh="目录版本",
            en="catalogue version",
            # Art. 3(3), R21: executive meeting, Party committee, publication; an approved
            # version adjusted before publication is superseded by the next one
            transitions=frozenset(
                {
                    (CatalogueVersionStatus.draft, CatalogueVersionStatus.approved),
                    (CatalogueVersionStatus.approved, CatalogueVersionStatus.party_approved),
                    (CatalogueVersionStatus.party_approved, CatalogueVersionStatus.published),
                    (CatalogueVersionStatus.approved, CatalogueVersionStatus.superseded),
                    (CatalogueVersionStatus.party_approved, CatalogueVersionStatus.superseded),
                }
            ),
        ),
    )
}

OPEN = frozenset(s for s in DecisionStatus if s not in (_D.withdrawn, _D.archived, _D.terminated))
BEFORE_DECISION = frozenset({_D.proposed, _D.in_procedure})
MADE = frozenset({_D.decided, _D.published, _D.archived})
# A closed decision refuses every other action with this rule: an archived decision may be
# changed only by suspension or adjustment, a terminated one only archived (R20, Art. 37);
# a withdrawn one is over.
CLOSED_RULE: dict[DecisionStatus, str] = {_D.archived: "R20", _D.terminated: "R20", _D.withdrawn: "STATE"}

# The statuses in which work may start or continue in a stage (`enters`).
ENTERABLE = frozenset(
    {StageStatus.pending, StageStatus.not_required, StageStatus.active, StageStatus.returned}
)


# --------------------------------------------------------------------------- actions: roles and preconditions
@dataclass(frozen=True, kw_only=True)
class ActionRule:
    """Who may perform an action, and what must hold before it does (§7.1 ordering). One
    generic check (`rules.action_preconditions`) enforces these before the handler runs,
    so handlers test only the rules of their own step.

    - `stage`: the stage the action works in; `PAYLOAD_STAGE` takes it from the payload.
    - `decision`: the statuses the decision must have (refused with `decision_rule`;
      a closed decision with `CLOSED_RULE`).
    - `enters`: work starts or continues in `stage`: it must apply to the decision (R2), the
      stages it comes after must be done (ORDER), and it must be open to work (STATE).
    - `stage_status`: the statuses `stage` must have (STATE); empty means any.
    - `done`: further stages that must be done first (ORDER); `started`: stages that must
      have started (ORDER), for steps that run alongside them (Art. 36 during execution).
    - `status_rules`: the rule refusing a particular decision status, where it is not the
      action's `decision_rule` (e.g. R20 for a suspended decision, Art. 37).
    - `needs`: for each object the action works on (a hearing, a review round…), by its
      lifecycle, the statuses it must have; checked once the handler has found it."""

    roles: frozenset[str]
    articles: str
    stage: str | None = None
    decision: frozenset[DecisionStatus] = OPEN
    decision_rule: str = "STATE"
    enters: bool = False
    stage_status: frozenset[StageStatus] = frozenset()
    done: tuple[str, ...] = ()
    started: tuple[str, ...] = ()
    status_rules: Mapping[DecisionStatus, str] = field(default_factory=dict)
    needs: Mapping[str, frozenset[str]] = field(default_factory=dict)


PAYLOAD_STAGE = "<payload>"


def action(
    roles: str,
    *,
    articles: str,
    stage: str | None = None,
    decision: frozenset[DecisionStatus] = OPEN,
    decision_rule: str = "STATE",
    enters: bool = False,
    stage_status: tuple[StageStatus, ...] = (),
    done: tuple[str, ...] = (),
    started: tuple[str, ...] = (),
    status_rules: Mapping[DecisionStatus, str] | None = None,
    needs: Mapping[str, tuple[str, ...]] | None = None,
) -> ActionRule:
    return ActionRule(
        roles=frozenset(roles.split()),
        articles=articles,
        stage=stage,
        decision=decision,
        decision_rule=decision_rule,
        enters=enters,
        stage_status=frozenset(stage_status),
        done=done,
        started=started,
        status_rules=dict(status_rules or {}),
        needs={name: frozenset(statuses) for name, statuses in (needs or {}).items()},
    )


DEPT = "department_staff department_head"
LEGAL = "legal_reviewer legal_head"
_S = StageStatus

# After the decision: what may be carried out, and what runs after archiving too.
AFTER = OPEN | {_D.archived}
CARRIED_OUT: dict[str, Any] = {
    "decision": MADE,
    "decision_rule": "ORDER",  # there is no decision to carry out yet
    "status_rules": {_D.suspended: "R20"},
}

# The steps after the notice work in an open hearing stage.
HEARING_STEP: dict[str, Any] = {"stage": "hearing", "stage_status": (_S.active, _S.returned)}

# The reviewer's steps work on the round under review.
UNDER_REVIEW: dict[str, Any] = {
    "stage": "legality_review",
    "stage_status": (_S.active,),
    "needs": {"legality_review": (ReviewStatus.under_review,)},
}

# Who may perform each action, and what must hold first. The service refuses any other
# role (AUTH) and any unmet precondition (STATE, ORDER or the named rule).
ACTIONS: dict[str, ActionRule] = {
    # catalogue, Art. 3(3): each step works on the year's current version (and entry)
    # an administrator enters the matters of a catalogue compiled outside the system (an
    # imported file), in their own name, for any unit
    "propose_catalogue_entry": action(
        f"{DEPT} admin", articles="Art. 3(3)", needs={"catalogue_version": (CatalogueVersionStatus.draft,)}
    ),
    "review_catalogue_entry": action(
        LEGAL,
        articles="Art. 3(3)",
        needs={
            "catalogue_entry": (CatalogueEntryStatus.proposed,),
            "catalogue_version": (CatalogueVersionStatus.draft,),
        },
    ),
    "approve_catalogue": action(
        "gov_office", articles="Art. 3(3)", needs={"catalogue_version": (CatalogueVersionStatus.draft,)}
    ),
    "record_catalogue_party_approval": action(
        "party_liaison", articles="Art. 3(3)", needs={"catalogue_version": (CatalogueVersionStatus.approved,)}
    ),
    # R21 refuses a version the Party committee has not approved; STATE one already published
    "publish_catalogue": action(
        "gov_office",
        articles="Art. 3(3)",
        needs={
            "catalogue_version": (
                CatalogueVersionStatus.draft,
                CatalogueVersionStatus.approved,
                CatalogueVersionStatus.party_approved,
            )
        },
    ),
    "adjust_catalogue": action(
        f"{DEPT} gov_office {LEGAL}",
        articles="Art. 3(3)",
        needs={"catalogue_entry": (CatalogueEntryStatus.included,)},  # removed or deferred
    ),
    # lifecycle
    "register_decision": action(f"{DEPT} gov_office", articles="Art. 10", stage="initiation"),
    "start_procedure": action(
        "gov_office head", articles="Arts. 10-11", stage="initiation", decision=frozenset({_D.proposed})
    ),
    "submit_draft": action(
        DEPT,
        articles="Arts. 12-13",
        stage="drafting",
        decision=frozenset({_D.in_procedure}),
        decision_rule="R1",  # drafting starts once the organ named the undertaking unit (Art. 11)
        stage_status=(_S.active,),  # a second draft is a revision
    ),
    "revise_draft": action(
        DEPT,
        articles="Arts. 12, 24, 28",
        stage="drafting",
        decision=frozenset({_D.in_procedure}),
        decision_rule="R20",  # after the decision only suspension or adjustment (Art. 37)
        done=("drafting",),
    ),
    "withdraw_decision": action(
        f"{DEPT} gov_office head", articles="Art. 10", decision=BEFORE_DECISION, decision_rule="R20"
    ),
    "approve_stage": action(
        LEGAL, articles="Arts. 26, 27(2)", stage=PAYLOAD_STAGE, stage_status=(_S.awaiting_approval,)
    ),
    "return_stage": action(
        LEGAL, articles="Arts. 26, 27(2)", stage=PAYLOAD_STAGE, stage_status=(_S.awaiting_approval,)
    ),
    # public participation
    "open_comment_period": action(DEPT, articles="Art. 15", stage="public_participation", enters=True),
    "submit_public_comment": action("public", articles="Art. 15", stage="public_participation"),
    "record_participation_activity": action(
        DEPT, articles="Art. 14", stage="public_participation", enters=True
    ),
    # feedback received before a termination is still answered (Art. 35(2))
    "respond_to_input": action(
        DEPT, articles="Arts. 18, 35(2)", decision=OPEN | {_D.archived, _D.terminated}
    ),
    "complete_participation": action(DEPT, articles="Art. 18", stage="public_participation", enters=True),
    # hearing
    "announce_hearing": action(
        DEPT, articles="Art. 16", stage="hearing", decision=frozenset({_D.in_procedure}), enters=True
    ),
    "register_for_hearing": action(
        "public", articles="Art. 16(2)", **HEARING_STEP, needs={"hearing": (_H.announced,)}
    ),
    "select_hearing_participants": action(
        DEPT, articles="Art. 16(2)", **HEARING_STEP, needs={"hearing": (_H.announced,)}
    ),
    "publish_participant_list": action(
        DEPT, articles="Art. 16(2)", **HEARING_STEP, needs={"hearing": (_H.selected,)}
    ),
    "deliver_hearing_materials": action(
        DEPT, articles="Art. 16(3)", **HEARING_STEP, needs={"hearing": (_H.list_published,)}
    ),
    "record_hearing": action(
        DEPT, articles="Art. 17", **HEARING_STEP, needs={"hearing": (_H.materials_delivered,)}
    ),
    # a report already submitted is revised only after a return (the stage is then `returned`)
    "submit_hearing_report": action(
        DEPT, articles="Art. 17; PRACTICE", **HEARING_STEP, needs={"hearing": (_H.held, _H.reported)}
    ),
    # expert review
    "add_expert_to_pool": action(f"admin {LEGAL}", articles="Art. 21"),
    "select_experts": action(DEPT, articles="Art. 20", stage="expert_review", enters=True),
    "record_expert_opinion": action(f"{DEPT} expert", articles="Art. 19", stage="expert_review", enters=True),
    "complete_expert_review": action(DEPT, articles="Art. 29(3)", stage="expert_review", enters=True),
    # risk assessment
    "submit_risk_assessment": action(DEPT, articles="Arts. 22-23", stage="risk_assessment", enters=True),
    "reference_existing_assessment": action(
        DEPT, articles="Art. 22(2)", stage="risk_assessment", enters=True
    ),
    "judge_risk": action("head gov_office", articles="Art. 24", stage="risk_assessment"),
    # fair competition
    # only where the stage set requires it (flag, catalogue listing, change_flags)
    "record_fair_competition_review": action(
        DEPT,
        articles="Art. 29(1)",
        stage="fair_competition_review",
        enters=True,
        stage_status=(_S.pending, _S.active, _S.returned),
    ),
    # legality review
    "submit_for_legality_review": action(
        DEPT,
        articles="Arts. 25-26",
        stage="legality_review",
        stage_status=(_S.pending,),  # then resubmit
    ),
    "return_for_supplement": action(LEGAL, articles="Art. 26(1)", **UNDER_REVIEW),
    "resubmit_for_legality_review": action(DEPT, articles="Art. 26; P5", stage="legality_review"),
    "record_legal_adviser_opinion": action(LEGAL, articles="Art. 28", **UNDER_REVIEW),
    "issue_legality_opinion": action(LEGAL, articles="Arts. 25, 28", **UNDER_REVIEW),
    "record_changes_after_review": action(DEPT, articles="Art. 28", stage="legality_review"),
    # discussion
    "submit_for_discussion": action(
        DEPT,
        articles="Arts. 25, 26, 29",
        stage="discussion",
        decision=frozenset({_D.in_procedure}),
        stage_status=(_S.pending, _S.active),  # a deferred matter is submitted again
    ),
    "record_meeting": action("gov_office", articles="Art. 30", stage="discussion"),
    # party, congress, publication, archive
    "record_party_report": action("party_liaison gov_office", articles="Art. 31", stage="party_report"),
    "record_party_reply": action("party_liaison", articles="Art. 31", stage="party_report"),
    "record_congress_step": action(
        "gov_office",
        articles="Art. 8",
        stage="congress",
        stage_status=(_S.pending, _S.active, _S.returned),  # only when flagged
    ),
    "publish_decision": action(
        "gov_office",
        articles="Art. 32",
        stage="publication",
        decision=frozenset({_D.decided, _D.suspended}),  # suspended before publication (§15.7)
        decision_rule="ORDER",
    ),
    "archive_decision": action(
        "gov_office",
        articles="Art. 33",
        stage="archive",
        decision=frozenset({_D.published, _D.decided, _D.rejected, _D.suspended, _D.terminated}),
        stage_status=(_S.pending, _S.active, _S.returned),  # archived once
        decision_rule="ORDER",
    ),
    # after the decision (Arts. 34-37 run after archiving too); a suspended decision changes
    # only by the organ ending the suspension or by an adjustment (R20, Art. 37)
    "assign_execution_unit": action("gov_office head", articles="Art. 34", stage="execution", **CARRIED_OUT),
    "report_execution_progress": action(DEPT, articles="Art. 34", stage="execution", decision=AFTER),
    "report_execution_problem": action(DEPT, articles="Art. 35", stage="execution", decision=AFTER),
    "start_post_evaluation": action(
        "gov_office head",
        articles="Art. 36",
        stage="post_evaluation",
        decision=MADE | {_D.suspended},
        decision_rule="ORDER",
        started=("execution",),  # Art. 36 evaluates a decision while it is carried out
        stage_status=(_S.not_required, _S.pending, _S.completed),  # not while one is under way
    ),
    "submit_post_evaluation_report": action(
        f"{DEPT} gov_office",
        articles="Art. 36",
        stage="post_evaluation",
        decision=AFTER,
        stage_status=(_S.active,),
    ),
    "suspend_execution": action(
        "head",
        articles="Art. 37",
        stage="execution",
        **CARRIED_OUT | {"status_rules": {_D.suspended: "STATE"}},
    ),
    "start_adjustment": action(
        "gov_office head", articles="Art. 37", decision=MADE | {_D.suspended}, decision_rule="ORDER"
    ),
    # the jurisdiction administers itself (units, accounts, settings: R22, P17)
    "add_unit": action("admin", articles="R22"),
    "add_user": action("admin", articles="R22"),
    "disable_user": action("admin", articles="R22"),
    "change_settings": action("admin", articles="R22; P17"),
    # time
    "extend_deadline": action(
        f"{DEPT} {LEGAL} gov_office", articles="Arts. 15, 16", needs={"deadline": (DeadlineStatus.open,)}
    ),
    "shorten_deadline": action(
        f"{DEPT} {LEGAL} gov_office", articles="Arts. 15, 16", needs={"deadline": (DeadlineStatus.open,)}
    ),
    # §15.1, P15: the legal office confirms that a revision does not touch legality
    "confirm_revision": action(LEGAL, articles="Arts. 25, 28; P15", stage="legality_review"),
    # §15.3, P16: flags and the stages they switch
    "confirm_flag": action(LEGAL, articles="Arts. 14, 25(2), 32; P16"),
    "change_flags": action(DEPT, articles="Arts. 14, 19, 22, 25(2), 29(1); P16"),
    # §15.7: the organ ends a suspension; the public's feedback on execution (Arts. 35(2), 37)
    "resume_execution": action(
        "head gov_office",
        articles="Art. 37",
        stage="execution",
        decision=frozenset({_D.suspended}),
        status_rules={_D.archived: "STATE"},  # an archived decision that is not suspended
    ),
    # stopping a decision the head has not suspended is what Art. 37 forbids
    "terminate_decision": action(
        "head gov_office",
        articles="Art. 37",
        stage="execution",
        decision=frozenset({_D.suspended}),
        decision_rule="R20",
    ),
    "submit_execution_feedback": action("public", articles="Art. 35(2)", stage="execution", decision=AFTER),
}


# --------------------------------------------------------------------------- the machine work of events
# Every committed action writes outbox events (`Tx.emit`). The dispatcher (flows/dispatcher.py)
# looks each one up here: the Prefect flow it starts, or none. Only events that need machine
# work start a run; the run then does the `work` listed for the event. The table is the
# current code's machinery, not the statute: it is not pinned with a decision's procedure
# version, and an event type missing from it is never started (the dispatcher marks it done
# and logs it; a test checks that every event the service can emit is listed).
DECISION_PROCEDURE = "decision-procedure"  # the per-decision flow: one run per routed event
CATALOGUES = "catalogues"  # regenerates one year's decision and hearing catalogues

EventWork = Literal["notify", "notice", "catalogues", "dossier"]
EVENT_WORK: dict[str, tuple[str, str]] = {
    # work: (zh, en)
    "notify": ("通知等待办理的人员", "tell the people who wait for this event"),
    "notice": ("生成本环节的公告文书", "render the public notice the step needs"),
    "catalogues": ("刷新决策所属年度的目录", "refresh the catalogues of the decision's year"),
    "dossier": ("组卷（一事一档）", "assemble the archive dossier"),
}


@dataclass(frozen=True, kw_only=True)
class EventRoute:
    flow: str | None  # the flow (deployment) the event starts; None: no run
    work: tuple[EventWork, ...] = ()  # what a decision-procedure run does for the event
    reason: str


def route(flow: str | None, *work: EventWork, reason: str) -> EventRoute:
    return EventRoute(flow=flow, work=work, reason=reason)


def no_run(reason: str) -> EventRoute:
    return EventRoute(flow=None, reason=reason)


_DP = DECISION_PROCEDURE
EVENT_ROUTES: dict[str, EventRoute] = {
    # registration and initiation (Arts. 3, 10-11)
    "decision_registered": route(_DP, "notify", reason="the government office starts the procedure"),
    "catalogue_adjustment_needed": route(
        _DP, "notify", reason="the legal office must adjust the catalogue to include the matter (Art. 3(1))"
    ),
    "flags_proposed": route(_DP, "notify", reason="the legal office confirms or refuses the flag (P16)"),
    "flag_confirmed": no_run("the decision's record shows it; the stage set is already recomputed"),
    "flag_refused": no_run("the decision's record shows it with the reason"),
    "flags_changed": no_run("the stage set is recomputed by the action itself"),
    "procedure_started": route(_DP, "catalogues", reason="the catalogue shows the matter under way"),
    "decision_withdrawn": route(
        _DP, "catalogues", reason="the catalogue shows the matter withdrawn (暂缓/调整)"
    ),
    # drafting and the stages
    "draft_submitted": no_run("the department's own record; nobody waits for it"),
    "draft_revised": no_run("a revision is checked when the review or the meeting uses the draft"),
    "legality_review_affected": no_run("the legal office confirms the revision when it next acts (P15)"),
    "stages_kept": no_run("a note on the decision's record"),
    "stage_awaiting_approval": route(_DP, "notify", reason="the legal office approves or returns the stage"),
    "stage_approved": route(_DP, "notify", reason="the department goes on with its next stage"),
    "stage_returned": route(_DP, "notify", reason="the department redoes the stage, with the reasons"),
    # public participation and hearings (Arts. 14-18)
    "comment_period_opened": route(_DP, "notice", reason="the public comment notice (Art. 15)"),
    "comment_period_closed": no_run("the sweep closed it and told the department itself"),
    "participation_completed": no_run("the department's own step; the legal office approves it if listed"),
    "hearing_announced": route(_DP, "notice", reason="the hearing notice (Art. 16(2))"),
    "hearing_participants_selected": no_run("the list is published by its own action"),
    "hearing_list_published": route(_DP, "notice", reason="the hearing participant list (Art. 16(3))"),
    "hearing_materials_delivered": no_run("a record of delivery; the deadline row tracks the lead time"),
    "hearing_held": no_run("the hearing record is evidence of the action itself"),
    "hearing_report_submitted": no_run("the report is evidence of the action itself"),
    # expert review, risk assessment, fair competition (Arts. 19-24)
    "expert_review_completed": no_run("the department's own record"),
    "risk_assessment_submitted": no_run("the department's own record"),
    "risk_judged": no_run("the judgement is checked when the meeting is recorded (R7)"),
    "fair_competition_review_failed": no_run("the failure blocks the meeting by its guard"),
    # legality review (Arts. 25-28)
    "legality_review_submitted": route(_DP, "notify", reason="the legal office reviews it (Art. 25)"),
    "legality_review_returned": route(_DP, "notify", reason="the department completes the materials"),
    "legality_opinion_issued": route(_DP, "notify", reason="the department goes on, or revises the draft"),
    "revision_confirmed": no_run("the decision's record shows it"),
    # collective discussion and the decision (Arts. 29-31)
    "submitted_for_discussion": route(_DP, "notify", reason="the government office puts it on the meeting"),
    "decision_deferred": no_run("the matter stays under way; the meeting takes it up again"),
    "decision_made": route(
        _DP,
        "notify",
        "catalogues",
        reason="the department learns the decision; the catalogue shows it completed",
    ),
    "party_replied": no_run("the reply is evidence of the action itself"),
    "decision_published": route(_DP, "notice", reason="the published decision text (Art. 32)"),
    "decision_archived": route(_DP, "dossier", reason="the archive dossier (一事一档, Art. 33)"),
    # execution, evaluation, suspension (Arts. 34-38)
    "execution_unit_assigned": no_run("the execution unit sees the decision in its list"),
    "execution_problem_reported": no_run("the report is evidence of the action itself"),
    "execution_feedback_received": no_run("the execution unit answers it in its own list"),
    "post_evaluation_started": no_run("the evaluator's own step"),
    "post_evaluation_reported": no_run("the report is evidence of the action itself"),
    "execution_suspended": route(_DP, "catalogues", reason="the catalogue shows the matter suspended (暂缓)"),
    "execution_resumed": route(_DP, "catalogues", reason="the catalogue shows the matter completed again"),
    "adjustment_started": no_run("the adjustment is a new decision with events of its own"),
    "decision_terminated": no_run("a suspended matter already shows as 暂缓 in the catalogue"),
    # time limits: the deadline rows carry their own reminders (the sweep)
    "deadline_extended": no_run("the sweep reminds from the moved deadline row"),
    "deadline_shortened": no_run("the sweep reminds from the moved deadline row"),
    "deadline_recomputed": no_run("the sweep reminds from the recomputed deadline row (P13)"),
    # the annual catalogue (Art. 3(3)): events of the catalogue year, not of a decision
    "catalogue_entry_proposed": route(CATALOGUES, reason="the draft catalogue lists the proposal"),
    "catalogue_entry_reviewed": route(CATALOGUES, reason="the draft catalogue shows the review"),
    "catalogue_approved": route(CATALOGUES, reason="the approved catalogue"),
    "catalogue_party_approved": route(CATALOGUES, reason="the catalogue approved by the Party committee"),
    "catalogue_published": route(CATALOGUES, reason="the published catalogue (R21)"),
    "catalogue_adjusted": route(CATALOGUES, reason="a new numbered version of the catalogue"),
}


# --------------------------------------------------------------------------- the versioned procedure
@dataclass(frozen=True, kw_only=True)
class Procedure:
    """One version of the procedure. Code reads the rules of a decision only through the
    version it pinned at registration (`procedure(decision.procedure_version)`)."""

    version: str
    stages: tuple[Stage, ...]
    guards: dict[str, Guard]
    time_limits: dict[str, TimeLimit]
    deadline_kinds: dict[str, DeadlineKind]
    settings: dict[str, Setting]
    actions: dict[str, ActionRule]
    evidence_kinds: dict[str, EvidenceKind]
    decision_transitions: dict[tuple[DecisionStatus, DecisionStatus], str]
    lifecycles: dict[str, Lifecycle]
    stage_by_id: dict[str, Stage] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage_by_id", {s.id: s for s in self.stages})

    def stage(self, stage_id: str) -> Stage:
        return self.stage_by_id[stage_id]


CURRENT_VERSION = "713-2019/1"

PROCEDURES: dict[str, Procedure] = {
    CURRENT_VERSION: Procedure(
        version=CURRENT_VERSION,
        stages=STAGES,
        guards=GUARDS,
        time_limits=TIME_LIMITS,
        deadline_kinds=DEADLINE_KINDS,
        settings=SETTINGS,
        actions=ACTIONS,
        evidence_kinds=EVIDENCE_KINDS,
        decision_transitions=DECISION_TRANSITIONS,
        lifecycles=LIFECYCLES,
    ),
}


def procedure(version: str = CURRENT_VERSION) -> Procedure:
    return PROCEDURES[version]
