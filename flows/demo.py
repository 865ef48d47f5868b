"""A demonstration district: a fictional district government with a dozen major
decisions at different stages and the year's decision catalogue they are listed in
(published, then adjusted once), built only through the service layer.

The matters follow what district justice bureaus' annual reports on major decisions
name: urban renewal compensation, investment promotion contracts, industrial policy,
epidemic prevention measures, the clean-up of normative documents, school districts, a
price hearing for parking fees, elderly-care subsidies. History is played relative to
`now`: every action has an explicit time before `now`, all decisions' actions run in
time order, and the deadline sweep fires what falls due in between, as in production.
Dates are planned on the working-day calendar, so the demo is valid whatever `now` is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from flows.calendar import WorkingCalendar, local_date
from flows.scenario import sweep_until
from flows.service import ServiceContext, run_action, setup_jurisdiction
from flows.service.accounts import set_demo_passwords
from flows.service.framework import load_calendar
from flows.timeline import DecisionOverview, decision_overview
from models.db import DatabaseStateError, database_kind

ORGAN = "示范区人民政府"  # fictional, so that no real government's records are implied
TIMEZONE = ZoneInfo("Asia/Shanghai")

UNITS: list[dict[str, str]] = [
    {"id": "fgj", "name": "区发展和改革局", "kind": "department"},
    {"id": "zjj", "name": "区住房和城乡建设局", "kind": "department"},
    {"id": "swj", "name": "区商务局", "kind": "department"},
    {"id": "wjj", "name": "区卫生健康局", "kind": "department"},
    {"id": "scj", "name": "区市场监督管理局", "kind": "department"},
    {"id": "zrj", "name": "区自然资源局", "kind": "department"},
    {"id": "jyj", "name": "区教育局", "kind": "department"},
    {"id": "mzj", "name": "区民政局", "kind": "department"},
    {"id": "sfj", "name": "区司法局", "kind": "legal_office"},
    {"id": "zfb", "name": "区政府办公室", "kind": "gov_office"},
    {"id": "wb", "name": "区委办公室", "kind": "party_office"},
]

USERS: list[dict[str, Any]] = [
    {"id": "zhoumin", "name": "周敏", "unit": "fgj", "roles": ["department_staff"]},
    {"id": "wuqiang", "name": "吴强", "unit": "fgj", "roles": ["department_head"]},
    {"id": "liwei", "name": "李伟", "unit": "zjj", "roles": ["department_staff"]},
    {"id": "zhaogang", "name": "赵刚", "unit": "zjj", "roles": ["department_head"]},
    {"id": "sunli", "name": "孙丽", "unit": "swj", "roles": ["department_staff"]},
    {"id": "qianfang", "name": "钱芳", "unit": "wjj", "roles": ["department_staff"]},
    {"id": "fengtao", "name": "冯涛", "unit": "scj", "roles": ["department_staff"]},
    {"id": "hejing", "name": "何静", "unit": "zrj", "roles": ["department_staff"]},
    {"id": "zhengjie", "name": "郑洁", "unit": "jyj", "roles": ["department_staff"]},
    {"id": "linhong", "name": "林红", "unit": "mzj", "roles": ["department_staff"]},
    # the justice bureau's normative-documents section undertakes the clean-up; its
    # legality-review section (wanglei) reviews it
    {"id": "xunuo", "name": "许诺", "unit": "sfj", "roles": ["department_staff"]},
    {"id": "wanglei", "name": "王磊", "unit": "sfj", "roles": ["legal_reviewer"]},
    {"id": "liuyang", "name": "刘洋", "unit": "sfj", "roles": ["legal_head", "admin"]},
    {"id": "zhouwen", "name": "周文", "unit": "zfb", "roles": ["gov_office"]},
    {"id": "quzhang", "name": "区长", "unit": "zfb", "roles": ["head", "meeting_member"]},
    # the other members of the executive meeting (Local Organic Law Art. 78)
    {"id": "zhangming", "name": "常务副区长张明", "unit": "zfb", "roles": ["meeting_member"]},
    {"id": "wangfang", "name": "副区长王芳", "unit": "zfb", "roles": ["meeting_member"]},
    {"id": "liuqiang", "name": "副区长刘强", "unit": "zfb", "roles": ["meeting_member"]},
    {"id": "huanghai", "name": "副区长黄海", "unit": "zfb", "roles": ["meeting_member"]},
    {"id": "yangfan", "name": "杨帆", "unit": "zfb", "roles": ["supervisor"]},
    {"id": "chenchen", "name": "陈晨", "unit": "wb", "roles": ["party_liaison"]},
]

# Every demo account signs in with a published password (set only on a database marked demo).
DEMO_PASSWORD = "demo-{code}-2026"
DEMO_ADMIN = "liuyang"


def demo_password(code: str) -> str:
    return DEMO_PASSWORD.format(code=code)


# the roster in speaking order, the head last (Art. 30(2))
MEMBERS = ["zhangming", "wangfang", "liuqiang", "huanghai", "quzhang"]
CHANNELS = ["gazette", "website", "newspaper"]


@dataclass(frozen=True)
class DemoStep:
    at: datetime
    actor: str
    action: str
    payload: dict[str, Any]


@dataclass
class Planner:
    """Working-day arithmetic relative to `now` (all demo dates come from here)."""

    calendar: WorkingCalendar
    today: date

    def back(self, working_days: int, day: date | None = None) -> date:
        return self.calendar.add_working_days(day or self.today, working_days, direction=-1).day

    def after(self, day: date, working_days: int) -> date:
        return self.calendar.add_working_days(day, working_days).day

    def on_or_before(self, day: date) -> date:
        return day if self.calendar.is_working_day(day) else self.back(1, day)

    def comment_end(self, start: date, days: int) -> date:
        """T1's due date as the engine schedules it: rolled to a working day (P2)."""
        return self.calendar.add_calendar_days(start, days).day


@dataclass
class Story:
    """The history of one decision, as actions at planned times."""

    key: str
    title: str
    lead_unit: str
    staff: str
    steps: list[DemoStep] = field(default_factory=list)
    catalogue_entry: str = ""  # "<year>/<code>": registered against this catalogue entry (Art. 3(3))

    def do(self, day: date, hhmm: str, actor: str, action: str, **payload: Any) -> None:
        moment = datetime.combine(day, time.fromisoformat(hhmm), tzinfo=TIMEZONE)
        self.steps.append(DemoStep(moment, actor, action, payload))

    @property
    def registered_at(self) -> datetime:
        return self.steps[0].at


# ------------------------------------------------------------------ building blocks
def register(
    s: Story,
    day: date,
    flags: list[str],
    *,
    category: int = 1,
    source: str = "department",
    proposal: str = "",
    actor: str | None = None,
) -> None:
    s.do(
        day,
        "09:00",
        actor or s.staff,
        "register_decision",
        title=s.title,
        category=category,
        lead_unit=s.lead_unit,
        proposal_source=source,
        proposal=proposal or f"关于将“{s.title}”作为重大行政决策事项的建议",
        flags=flags,
    )


def start_and_draft(s: Story, start: date, draft: date, bases: list[str]) -> None:
    s.do(start, "15:00", "zhouwen", "start_procedure")  # Arts. 10-11
    s.do(
        draft,
        "10:00",
        s.staff,
        "submit_draft",
        draft=f"《{s.title}》（征求意见稿）",
        explanation=f"关于《{s.title}》的起草说明：制定背景、主要内容、法律依据。",
        legal_bases=bases,
        consultation_record="已书面征求相关部门和街道办事处意见，无重大分歧。",
    )


def comment_period(
    s: Story,
    p: Planner,
    start: date,
    comments: list[str],
    *,
    days: int = 30,
    urgent_reason: str = "",
) -> date:
    """Open comment (Art. 15) with public comments spread over the window; returns the
    period's last day."""
    end = start + timedelta(days=days)
    s.do(
        start,
        "09:30",
        s.staff,
        "open_comment_period",
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        channels=["区政府门户网站", "政务新媒体"],
        urgent_reason=urgent_reason,
    )
    for i, text in enumerate(comments, 1):
        s.do(start + timedelta(days=i), "20:15", "public", "submit_public_comment", text=text)
    return p.comment_end(start, days)


def respond_and_complete(s: Story, day: date, comments: int, approve_on: date | None = None) -> None:
    """Art. 18: every comment answered, then the stage goes to the legal office."""
    for i in range(1, comments + 1):
        s.do(
            day,
            "09:00",
            s.staff,
            "respond_to_input",
            input=f"C{i}",
            outcome=("adopted", "partly_adopted", "not_adopted")[i % 3],
            reason="经研究，已在草案中作相应调整或说明理由。",
        )
    s.do(day, "11:00", s.staff, "complete_participation")
    if approve_on is not None:
        s.do(approve_on, "10:00", "wanglei", "approve_stage", stage="public_participation", note="同意")


def consult_group(s: Story, day: date, group: str, summary: str) -> None:
    """Art. 14(3): the specific group's organisations and representatives are heard."""
    s.do(
        day,
        "14:30",
        s.staff,
        "record_participation_activity",
        kind="specific_group_consultation",
        held_on=day.isoformat(),
        summary=summary,
        group_name=group,
    )


def legality(
    s: Story,
    p: Planner,
    submitted: date,
    *,
    outcome: Literal["lawful", "lawful_after_changes", "none", "adviser_only"] = "lawful",
) -> None:
    s.do(
        submitted,
        "09:00",
        s.staff,
        "submit_for_legality_review",
        procedures_statement="已按规定履行公众参与等法定程序，意见采纳情况见附件。",
    )
    if outcome == "none":
        return
    s.do(
        p.after(submitted, 1),
        "15:00",
        "wanglei",
        "record_legal_adviser_opinion",
        adviser="区政府法律顾问广和律师事务所",
        opinion="经审查，草案制定主体、权限、程序符合规定，内容未发现违法情形。",
    )
    if outcome == "adviser_only":
        return
    if outcome == "lawful":
        s.do(
            p.after(submitted, 2),
            "16:00",
            "wanglei",
            "issue_legality_opinion",
            outcome="lawful",
            opinion="合法",
        )
        return
    s.do(
        p.after(submitted, 2),
        "16:00",
        "wanglei",
        "issue_legality_opinion",
        outcome="lawful_after_changes",
        opinion="修改后合法",
        required_changes="删除第十二条增设行政许可的内容。",
    )
    # Art. 28: the draft is revised as the opinion requires; the legal office confirms the
    # revision carries the listed change and nothing else that touches legality (P15)
    s.do(
        p.after(submitted, 3),
        "09:30",
        s.staff,
        "revise_draft",
        draft="（修改稿）删除原第十二条增设行政许可的内容，其余条款不变。",
        reason="按合法性审查意见删除第十二条",
    )
    s.do(p.after(submitted, 3), "10:00", s.staff, "record_changes_after_review", changes="已删除第十二条。")
    s.do(
        p.after(submitted, 3),
        "11:00",
        "wanglei",
        "confirm_revision",
        reason="修改稿已删除第十二条，未作其他修改，不涉及其他合法性问题。",
    )


def meeting(s: Story, p: Planner, submitted: date, held: date, decision: str = "approve") -> None:
    """Arts. 29-30: the package goes in, the executive meeting decides, the head last."""
    s.do(submitted, "14:00", s.staff, "submit_for_discussion", meeting_date=held.isoformat())
    against = decision == "reject"
    opinions: list[dict[str, Any]] = [
        {
            "member": member,
            "position": "disagree" if against and i < 3 else "agree",
            "text": "选址与国土空间规划衔接不足，建议暂缓" if against and i < 3 else "同意",
        }
        for i, member in enumerate(MEMBERS[:-1])
    ]
    opinions.append(
        {"member": MEMBERS[-1], "position": "disagree", "text": "同意多数意见，暂不实施"}
        if against
        else {"member": MEMBERS[-1], "position": "agree", "text": "同意"}
    )
    s.do(
        held,
        "11:30",
        "zhouwen",
        "record_meeting",
        meeting_type="executive",
        held_on=held.isoformat(),
        members_present=MEMBERS,
        opinions=opinions,
        head_decision=decision,
        head_reason="多数意见认为时机不成熟" if against else "",
    )


def party_and_publish(s: Story, p: Planner, held: date, *, publish: bool, archive: bool) -> None:
    """Art. 31 (P8: after the meeting), Art. 32, Art. 33."""
    s.do(p.after(held, 1), "10:00", "chenchen", "record_party_report", on_date=p.after(held, 1).isoformat())
    s.do(
        p.after(held, 3),
        "16:00",
        "chenchen",
        "record_party_reply",
        on_date=p.after(held, 3).isoformat(),
        result="agreed",
    )
    if not publish:
        return
    published = p.after(held, 4)
    s.do(
        published,
        "10:00",
        "zhouwen",
        "publish_decision",
        channels=CHANNELS,
        published_on=published.isoformat(),
        text=f"示范区人民政府关于印发《{s.title}》的通知（全文）",
        adoption_explanation="公众意见共收到若干条，采纳情况及理由见附件。",
        interpretation=f"《{s.title}》政策解读",
        url="https://www.example.gov.cn/zwgk/",
    )
    if archive:
        s.do(p.after(held, 6), "10:00", "zhouwen", "archive_decision", note="全过程材料归档")


def full_path(
    s: Story,
    p: Planner,
    held: date,
    flags: list[str],
    comments: list[str],
    *,
    group: tuple[str, str] | None = None,
    stop: Literal["meeting", "published", "archived"] = "archived",
    decision: str = "approve",
    bases: list[str] | None = None,
) -> None:
    """A decision carried to the meeting on `held` and beyond, planned backwards from it:
    the legality package goes in 9 working days before (T4 needs 7), participation closes
    before that, the 30-day comment period (rolled for holidays) before that."""
    submitted = p.back(9, held)
    completed = p.back(2, submitted)
    comment_start = p.on_or_before(completed - timedelta(days=45))
    drafted = p.back(1, comment_start)
    started = p.back(4, drafted)
    register(s, p.back(3, started), flags)
    start_and_draft(s, started, drafted, bases or ["《重大行政决策程序暂行条例》"])
    comment_period(s, p, comment_start, comments)
    if group is not None:
        consult_group(s, comment_start + timedelta(days=10), *group)
    respond_and_complete(s, completed, len(comments), approve_on=p.after(completed, 1))
    legality(s, p, submitted)
    meeting(s, p, p.after(submitted, 4), held, decision)
    if stop == "meeting" or decision == "reject":
        return
    party_and_publish(s, p, held, publish=True, archive=stop == "archived")


# ------------------------------------------------------------------ the decisions
def _stories(p: Planner) -> list[Story]:
    stories: list[Story] = []

    def story(key: str, title: str, unit: str, staff: str) -> Story:
        stories.append(Story(key, title, unit, staff))
        return stories[-1]

    # Archived: the whole procedure, two months ago.
    s = story("market", "区农贸市场升级改造实施方案", "scj", "fengtao")
    full_path(s, p, p.back(45), [], ["建议改造期间设置临时摊位", "希望增加停车位"])

    # Published, archive due: a school district plan (specific group: parents).
    s = story("school", "区义务教育阶段公办学校招生学区划分方案", "jyj", "zhengjie")
    full_path(
        s,
        p,
        p.back(8),
        ["affects_specific_group", "high_public_concern"],
        ["新建小区应划入就近学校", "建议设置过渡期", "多校划片应公开派位规则"],
        group=("家长代表及社区居委会", "召开家长代表、社区居委会座谈会，听取学区调整意见。"),
        stop="published",
        bases=["《中华人民共和国义务教育法》第十二条"],
    )

    # Decided at the meeting three working days ago; the Party report is next.
    s = story("elderly", "区居家养老服务补贴办法", "mzj", "linhong")
    full_path(
        s,
        p,
        p.back(3),
        ["affects_specific_group"],
        ["建议提高失能老人补贴标准"],
        group=("老年人协会及老年人代表", "召开老年人协会、老年人代表座谈会。"),
        stop="meeting",
        bases=["《中华人民共和国老年人权益保障法》"],
    )

    # Rejected at the meeting; to be archived all the same (P10).
    s = story("billboards", "区户外广告设施设置规划（2026-2030年）", "zrj", "hejing")
    full_path(s, p, p.back(12), [], ["建议减少主干道大型广告牌"], decision="reject", stop="meeting")

    # Confidential: no public comment or publication (R2); legality opinion "lawful after
    # changes"; the executive meeting is scheduled.
    s = story("reserve", "区应急物资储备库布局方案", "fgj", "zhoumin")
    submitted = p.back(5)
    register(s, p.back(14, submitted), ["confidential"], category=4)
    # P16: the flag takes effect once the legal office confirms the law that keeps it undisclosed
    s.do(
        p.back(14, submitted),
        "11:00",
        "wanglei",
        "confirm_flag",
        flag="confidential",
        legal_basis="《中华人民共和国保守国家秘密法》；储备库布局涉及国家秘密，依法不予公开",
    )
    start_and_draft(s, p.back(12, submitted), p.back(8, submitted), ["《中华人民共和国突发事件应对法》"])
    legality(s, p, submitted, outcome="lawful_after_changes")
    s.do(
        p.after(submitted, 4),
        "14:00",
        s.staff,
        "submit_for_discussion",
        meeting_date=p.after(submitted, 8).isoformat(),
    )

    # Under legality review after an urgent, shortened comment period (Art. 15(2)).
    s = story("epidemic", "区突发公共卫生事件应急防控措施", "wjj", "qianfang")
    submitted = p.back(3)
    completed = p.back(2, submitted)
    comment_start = p.on_or_before(completed - timedelta(days=20))
    register(s, p.back(6, comment_start), [])
    start_and_draft(s, p.back(4, comment_start), p.back(1, comment_start), ["《中华人民共和国传染病防治法》"])
    comment_period(
        s,
        p,
        comment_start,
        ["建议明确学校停课的启动条件"],
        days=7,
        urgent_reason="应对突发公共卫生事件，时间紧迫，征求意见期限缩短为7日。",
    )
    respond_and_complete(s, completed, 1, approve_on=p.after(completed, 1))
    legality(s, p, submitted, outcome="adviser_only")

    # Industrial policy (market activity): participation done, awaiting the legal office;
    # the fair competition review is still to come (Art. 29(1)).
    s = story("industry", "区促进先进制造业高质量发展产业扶持政策", "fgj", "zhoumin")
    completed = p.back(1)
    comment_start = p.on_or_before(completed - timedelta(days=42))
    register(s, p.back(6, comment_start), ["market_activity"])
    start_and_draft(
        s, p.back(4, comment_start), p.back(1, comment_start), ["《中华人民共和国中小企业促进法》"]
    )
    comment_period(s, p, comment_start, ["建议扶持资金向中小企业倾斜", "申报材料应简化"])
    respond_and_complete(s, completed, 2)

    # Urban renewal compensation: in the comment period; the risk assessment (Art. 22)
    # and the consultation of residents (Art. 14(3)) run alongside.
    s = story("renewal", "区旧城改造房屋征收补偿标准", "zjj", "liwei")
    comment_start = p.back(8)
    register(
        s, p.back(10, comment_start), ["stability_risk", "affects_specific_group", "high_public_concern"]
    )
    start_and_draft(
        s, p.back(8, comment_start), p.back(1, comment_start), ["《国有土地上房屋征收与补偿条例》"]
    )
    comment_period(s, p, comment_start, ["补偿标准应参照周边新建商品房价格", "希望提供产权调换选项"])
    consult_group(s, p.back(2), "被征收片区居民代表", "召开被征收片区居民代表座谈会，听取对补偿标准的意见。")

    # Parking fees: a price hearing is required by the Price Law Art. 23; comment open.
    s = story("parking", "区公共停车场收费标准调整方案", "fgj", "zhoumin")
    comment_start = p.back(3)
    register(s, p.back(8, comment_start), ["hearing_required_by_law"])
    start_and_draft(
        s, p.back(6, comment_start), p.back(1, comment_start), ["《中华人民共和国价格法》第二十三条"]
    )
    comment_period(s, p, comment_start, ["夜间停车应降低收费"])

    # Investment promotion contracts: the draft is in; participation and the fair
    # competition review are next.
    s = story("investment", "区招商引资项目合同管理办法", "swj", "sunli")
    register(s, p.back(15), ["market_activity"])
    start_and_draft(s, p.back(12), p.back(4), ["《优化营商环境条例》"])

    # The clean-up of normative documents: started, being drafted.
    s = story("cleanup", "区行政规范性文件集中清理工作方案", "sfj", "xunuo")
    register(s, p.back(7), [], category=5)
    s.do(p.back(5), "15:00", "zhouwen", "start_procedure")

    # A proposal from people's congress deputies, registered, not yet started (Art. 10(3)).
    s = story("elevators", "区老旧小区加装电梯补贴办法", "zjj", "liwei")
    register(
        s,
        p.back(2),
        ["affects_specific_group"],
        source="deputy_or_cppcc",
        proposal="区人大代表建议：对老旧小区加装电梯给予财政补贴。",
        actor="zhouwen",
    )
    return stories


# ------------------------------------------------------------------ the catalogue
# The year's decision catalogue (Art. 3(3)) lists every matter of the demo but the
# confidential one, whose existence is not disclosed (Arts. 14, 32). Each entry lists the
# procedures its decision goes through anyway, so the listing adds no stage the story skips:
# (main content, undertaking units with the lead first, legal basis, procedures, hearing).
CATALOGUE: dict[str, tuple[str, list[str], str, list[str], bool]] = {
    "market": (
        "对辖区内8个农贸市场进行升级改造，规范经营秩序，改善消费环境。",
        ["scj", "swj"],
        "《中华人民共和国食品安全法》《集贸市场计量监督管理办法》",
        ["public_participation"],
        False,
    ),
    "school": (
        "根据新建小区和学位供给变化，调整公办小学、初中招生学区范围。",
        ["jyj"],
        "《中华人民共和国义务教育法》第十二条",
        ["public_participation"],
        False,
    ),
    "elderly": (
        "明确居家养老服务补贴对象、标准和申领程序。",
        ["mzj"],
        "《中华人民共和国老年人权益保障法》",
        ["public_participation"],
        False,
    ),
    "billboards": (
        "统筹主干道、商业区户外广告设施的布局、规格和设置期限。",
        ["zrj", "scj"],
        "《城市市容和环境卫生管理条例》",
        ["public_participation"],
        False,
    ),
    "epidemic": (
        "明确突发公共卫生事件的预警分级、响应措施和保障机制。",
        ["wjj"],
        "《中华人民共和国传染病防治法》《突发公共卫生事件应急条例》",
        ["public_participation"],
        False,
    ),
    "industry": (
        "对先进制造业企业技术改造、研发投入给予资金扶持。",
        ["fgj", "swj"],
        "《中华人民共和国中小企业促进法》",
        ["public_participation", "fair_competition_review"],
        False,
    ),
    "renewal": (
        "制定旧城改造范围内国有土地上房屋征收的补偿标准和安置方式。",
        ["zjj", "zrj"],
        "《国有土地上房屋征收与补偿条例》",
        ["public_participation", "risk_assessment"],
        False,
    ),
    "parking": (
        "调整区属公共停车场收费标准，实行差别化收费。",
        ["fgj"],
        "《中华人民共和国价格法》第二十三条",
        ["public_participation"],
        True,  # a price hearing (Price Law Art. 23): in the hearing catalogue too (GD-H Art. 3)
    ),
    "investment": (
        "规范招商引资项目合同的签订、履约监管和违约处置。",
        ["swj"],
        "《优化营商环境条例》",
        ["public_participation", "fair_competition_review"],
        False,
    ),
    "cleanup": (
        "对区政府及其部门制定的行政规范性文件进行全面清理。",
        ["sfj"],
        "《广东省行政规范性文件管理规定》",
        ["public_participation"],
        False,
    ),
    "elevators": (
        "对老旧小区既有住宅加装电梯给予财政补贴，明确补贴对象和标准。",
        ["zjj"],
        "《中华人民共和国民法典》第二百七十八条",
        ["public_participation"],
        False,
    ),
}
ADDED_BY_ADJUSTMENT = "elevators"  # a deputies' proposal taken up during the year (§2.4)
QUARTERS = "一二三四"


def _planned(story: Story) -> str:
    """计划完成时间: the quarter its history reaches, plus some weeks of planning slack."""
    day = max(step.at for step in story.steps).date() + timedelta(days=45)
    return f"{day.year}年第{QUARTERS[(day.month - 1) // 3]}季度"


def _catalogue(p: Planner, stories: list[Story]) -> tuple[int, list[DemoStep]]:
    """The year's catalogue compiled and published before the first registration (§2.3):
    departments propose, the justice bureau reviews (leaving one matter out, with its
    reason), the executive meeting reviews, the district Party committee approves, the
    government office publishes (R21). Later a deputies' proposal is added by an adjustment,
    which makes version 2, reviewed, approved and published again (§2.4). Sets each story's
    `catalogue_entry`; returns the year and the steps."""
    listed = [s for s in sorted(stories, key=lambda s: s.registered_at) if s.key in CATALOGUE]
    first = min(s.registered_at for s in stories).date()
    year = first.year
    steps: list[DemoStep] = []

    def do(day: date, hhmm: str, actor: str, action: str, **payload: Any) -> None:
        moment = datetime.combine(day, time.fromisoformat(hhmm), tzinfo=TIMEZONE)
        steps.append(DemoStep(moment, actor, action, {"year": year, **payload}))

    def fields(s: Story, number: int) -> dict[str, Any]:
        content, units, basis, procedures, hearing = CATALOGUE[s.key]
        return {
            "ref": f"E{number}",
            "matter_name": s.title,
            "main_content": content,
            "category": 1 if s.key != "cleanup" else 5,
            "units": units,
            "lead_unit": units[0],
            "legal_basis": basis,
            "procedures_required": procedures,
            "hearing_required": hearing,
            "planned_decision_time": _planned(s),
        }

    proposed, reviewed = p.back(20, first), p.back(17, first)
    number = 0
    for s in listed:
        if s.key == ADDED_BY_ADJUSTMENT:
            continue
        number += 1
        s.catalogue_entry = f"{year}/E{number}"
        do(proposed, f"10:{number:02d}", s.staff, "propose_catalogue_entry", **fields(s, number))
        do(
            reviewed,
            f"10:{number:02d}",
            "wanglei",
            "review_catalogue_entry",
            entry=f"E{number}",
            include=True,
        )
    # §2.5: a proposal left out, with the reason kept
    number += 1
    do(
        proposed,
        "11:00",
        "zhoumin",
        "propose_catalogue_entry",
        ref=f"E{number}",
        matter_name="区防汛防旱防风应急预案修订",
        category=5,
        units=["fgj"],
        planned_decision_time=f"{year}年第二季度",
    )
    do(
        reviewed,
        "11:00",
        "wanglei",
        "review_catalogue_entry",
        entry=f"E{number}",
        include=False,
        reason_code="excluded_by_art_3_2",
        reason="突发事件应对预案依照《中华人民共和国突发事件应对法》制定，不适用本条例",
    )
    url = f"https://www.example.gov.cn/zwgk/zdxzjc/{year}"
    _publish_version(do, p, p.back(15, first), year, url, meeting=2)

    adjusted = next(s for s in listed if s.key == ADDED_BY_ADJUSTMENT)
    registered = adjusted.registered_at.date()
    number += 1
    adjusted.catalogue_entry = f"{year}/E{number}"
    add = fields(adjusted, number)
    do(
        p.back(9, registered),
        "09:00",
        adjusted.staff,
        "adjust_catalogue",
        kind="add",
        reason="区人大代表建议，年中新增",
        **add,
    )
    do(p.back(8, registered), "10:00", "wanglei", "review_catalogue_entry", entry=f"E{number}", include=True)
    _publish_version(do, p, p.back(7, registered), year, f"{url}-tz1", meeting=9)
    return year, steps


def _publish_version(
    do: Callable[..., None], p: Planner, approved: date, year: int, url: str, *, meeting: int
) -> None:
    """The executive meeting reviews the version, the Party committee approves it, the
    government office publishes it (Art. 3(3), R21)."""
    do(
        approved,
        "15:00",
        "zhouwen",
        "approve_catalogue",
        meeting_ref=f"区政府{year}年第{meeting}次常务会议",
        approved_on=approved.isoformat(),
    )
    party = p.after(approved, 2)
    do(
        party,
        "10:00",
        "chenchen",
        "record_catalogue_party_approval",
        approval_ref=f"区委常委会{year}年第{meeting}次会议",
        approved_on=party.isoformat(),
    )
    published = p.after(party, 1)
    do(published, "09:00", "zhouwen", "publish_catalogue", url=url, published_on=published.isoformat())


@dataclass(frozen=True)
class DemoResult:
    codes: dict[str, str]  # story key -> decision code
    actions: int
    catalogue_year: int = 0  # the year of the demo's catalogue (that of its first registration)


def build_demo(ctx: ServiceContext, now: datetime) -> DemoResult:
    """Create the demonstration district on `ctx`'s database and play its history up to
    `now` (which must be timezone-aware). It plays a back-dated history, so it runs only on a
    database marked `demo` (models.db.create_schema), never on a real one."""
    kind = database_kind(ctx.engine)
    if kind != "demo":
        raise DatabaseStateError(
            f"演示只写入标记为演示的数据库（此数据库为 {kind}），未作改动",
            f"the demo writes only to a database marked demo (this one is {kind}); nothing was changed",
        )
    today = local_date(now, TIMEZONE)
    with Session(ctx.engine) as session:
        calendar = load_calendar(session)
    planner = Planner(calendar, today)
    stories = _stories(planner)
    catalogue_year, catalogue_steps = _catalogue(planner, stories)
    first = min(step.at for step in catalogue_steps)  # the catalogue is compiled before any registration
    setup_jurisdiction(
        ctx, {"organ": ORGAN, "timezone": str(TIMEZONE)}, UNITS, USERS, now=first - timedelta(days=1)
    )
    passwords = {user["id"]: demo_password(user["id"]) for user in USERS}
    set_demo_passwords(ctx, DEMO_ADMIN, passwords, now=first - timedelta(days=1))
    # Codes follow registration order within each year, as the organ would number them.
    codes: dict[str, str] = {}
    per_year: dict[int, int] = {}
    for s in sorted(stories, key=lambda s: s.registered_at):
        year = s.registered_at.year
        per_year[year] = per_year.get(year, 0) + 1
        codes[s.key] = f"SF-{year}-{per_year[year]:03d}"
    entries = {s.key: s.catalogue_entry for s in stories if s.catalogue_entry}
    timeline = sorted(
        [*((step, s.key) for s in stories for step in s.steps), *((step, "") for step in catalogue_steps)],
        key=lambda pair: pair[0].at,
    )
    for step, key in timeline:
        assert step.at < now, f"demo step {step.action} of {key or 'the catalogue'} is not before now"
        sweep_until(ctx, step.at)
        payload = dict(step.payload)
        if not key:  # the catalogue's own steps
            pass
        elif step.action == "register_decision":
            payload["ref"] = codes[key]
            if key in entries:
                payload["catalogue_entry"] = entries[key]
        else:
            payload["decision"] = codes[key]
        run_action(ctx, step.action, step.actor, payload, now=step.at)
    sweep_until(ctx, now)
    return DemoResult(codes, len(timeline), catalogue_year)


def demo_status(session: Session, now: datetime) -> list[DecisionOverview]:
    """Per decision: code, title, status, current stage(s) and next statutory dates."""
    return decision_overview(session, now)


__all__ = ["ORGAN", "USERS", "DemoResult", "build_demo", "demo_password", "demo_status"]
