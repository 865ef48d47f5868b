"""The annual statistics report (法治政府建设年度报告): figures computed from a small year of
decisions played through the service layer at known times, checked against what that data
implies; the HTML and the JSON agree figure by figure; titles are escaped and confidential
titles never shown; the checkpoint appendix is verifiable; the demo data keeps the invariants.

The year, district set up on 2026-01-05 (tests.helpers):
- the catalogue: E1 and E2 included, E3 rejected, published 02-12; E2 deferred on 05-06;
- D1 (housing, hearing required by law): a hearing held on 10-15, its three lead times met;
- D2 (housing, catalogue entry E1, a title full of markup): comment period 03-03..04-02,
  approved 04-03; legality review 04-29..05-07 across Labor Day (05-01..05 off); meeting
  05-14 approves (submitted 05-08, Saturday 05-09 a make-up working day); Party 05-15..05-18;
  published 06-22, eleven days after the publication deadline of 06-11 (20 working days);
  archived 06-24; execution suspended 08-03;
- D3 (commerce, confidential): legality review 06-02, returned 06-03, resubmitted 06-05,
  lawful after changes 06-08, revision confirmed 06-09; deferred at the meeting of 06-17;
- D4 (housing, technical and stability risk): two expert opinions, a high risk assessment;
- D5 (commerce): registered 07-01, withdrawn 07-10.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlmodel import Session
from typer.testing import CliRunner

from cli import app
from flows import procedure as proc
from flows.annual_report import (
    CONFIDENTIAL_TITLE,
    DeadlineRow,
    DecisionRow,
    ReportFacts,
    StageEvent,
    annual_statistics,
    build_annual_report,
    compute_statistics,
    deadline_outcome,
    report_data,
)
from flows.calendar import WorkingCalendar
from flows.demo import build_demo
from flows.errors import ProcedureError
from flows.service import ServiceContext
from flows.service import checkpoint as cp
from models import DecisionStatus
from models.db import make_engine, mark_database
from models.enums import DeadlineStatus
from tests.helpers import MEETING_MEMBERS, act, at, district, drafted, legality_submitted, participation_done
from tests.schema import create_all
from tests.test_hearing import announce, record, register_people

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARKUP_TITLE = '<script>alert("x")</script> 旧城改造补偿标准 & <b>安置</b>'
SECRET_TITLE = "应急物资储备库布局方案（涉密）"
NOW = "2027-01-10T12:00"


# ---------------------------------------------------------------- the year of decisions
def register(ctx: ServiceContext, ref: str, title: str, actor: str, when: str, **extra: Any) -> None:
    unit = "housing" if actor == "li" else "commerce"
    act(ctx, "register_decision", actor, when, ref=ref, title=title, category=1, lead_unit=unit, **extra)


def start_and_draft(ctx: ServiceContext, ref: str, actor: str, day: str, started: str = "10:00") -> None:
    act(ctx, "start_procedure", "zhou", f"{day}T{started}", decision=ref)
    act(
        ctx,
        "submit_draft",
        actor,
        f"{day}T{started[:2]}:30",
        decision=ref,
        draft="草案",
        explanation="起草说明",
        legal_bases=["国务院令第713号"],
    )


def adviser(ctx: ServiceContext, ref: str, when: str) -> None:
    """R11: the adviser's opinion the legality opinion of a round needs."""
    act(ctx, "record_legal_adviser_opinion", "wang", when, decision=ref, adviser="张律师", opinion="意见")


def opinion(ctx: ServiceContext, ref: str, day: str, outcome: str = "lawful", **extra: Any) -> None:
    """The adviser at 09:00, the legal office's opinion at 10:00 of `day`."""
    adviser(ctx, ref, f"{day}T09:00")
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        f"{day}T10:00",
        decision=ref,
        outcome=outcome,
        opinion="意见",
        **extra,
    )


def meeting(
    ctx: ServiceContext, ref: str, actor: str, submitted: str, held: str, decision: str, **extra: Any
) -> None:
    """Submitted for discussion at 09:00 of `submitted`; the executive meeting of `held`, every
    member agreeing, the head deciding `decision`."""
    act(ctx, "submit_for_discussion", actor, f"{submitted}T09:00", decision=ref, meeting_date=held)
    act(
        ctx,
        "record_meeting",
        "zhou",
        f"{held}T11:00",
        decision=ref,
        meeting_type="executive",
        held_on=held,
        members_present=MEETING_MEMBERS,
        opinions=[{"member": m, "position": "agree"} for m in MEETING_MEMBERS],
        head_decision=decision,
        **extra,
    )


def catalogue(ctx: ServiceContext) -> None:
    entries = (
        ("li", "E1", "旧城改造房屋征收补偿标准", "housing"),
        ("sun", "E2", "招商引资若干扶持政策", "commerce"),
        ("li", "E3", "住建领域规范性文件清理", "housing"),
    )
    for i, (actor, ref, name, unit) in enumerate(entries):
        act(
            ctx,
            "propose_catalogue_entry",
            actor,
            f"2026-01-12T{9 + i:02d}:00",
            year=2026,
            ref=ref,
            matter_name=name,
            category=1,
            units=[unit],
            lead_unit=unit,
            procedures_required=["public_participation"],
            planned_decision_time="2026年第二季度",
        )
    act(ctx, "review_catalogue_entry", "wang", "2026-01-20T09:00", year=2026, entry="E1", include=True)
    act(ctx, "review_catalogue_entry", "wang", "2026-01-20T09:10", year=2026, entry="E2", include=True)
    act(
        ctx,
        "review_catalogue_entry",
        "wang",
        "2026-01-20T09:20",
        year=2026,
        entry="E3",
        include=False,
        reason_code="not_major",
        reason="不属于重大行政决策事项",
    )
    act(
        ctx,
        "approve_catalogue",
        "zhou",
        "2026-01-29T15:00",
        year=2026,
        meeting_ref="区政府2026年第3次常务会议",
        approved_on="2026-01-29",
    )
    act(
        ctx,
        "record_catalogue_party_approval",
        "chen",
        "2026-02-10T10:00",
        year=2026,
        approval_ref="区委常委会2026年第3次会议",
        approved_on="2026-02-10",
    )
    act(
        ctx,
        "publish_catalogue",
        "zhou",
        "2026-02-12T09:00",
        year=2026,
        url="https://www.example.gov.cn/zdxzjc/2026",
        published_on="2026-02-12",
    )


def hearing_decision(ctx: ServiceContext) -> None:
    """D1: the hearing of tests.test_hearing, held on 2026-10-15 (D1 drafted on 03-02)."""
    drafted(ctx, "D1", flags=["hearing_required_by_law"])
    announce(ctx)
    register_people(ctx)
    act(ctx, "select_hearing_participants", "li", "2026-09-30T09:00", decision="D1", hearing="H1")
    act(ctx, "publish_participant_list", "li", "2026-09-30T10:00", decision="D1", hearing="H1")
    act(
        ctx,
        "deliver_hearing_materials",
        "li",
        "2026-09-30T16:00",
        decision="D1",
        hearing="H1",
        delivered_on="2026-09-30",
    )
    record(ctx)


def decided_and_published_late(ctx: ServiceContext) -> None:
    """D2, from the catalogue's E1, carried to a decision, published late, suspended."""
    register(ctx, "D2", MARKUP_TITLE, "li", "2026-03-02T13:00", catalogue_entry="2026/E1")
    start_and_draft(ctx, "D2", "li", "2026-03-02", started="14:00")
    participation_done(ctx, "D2")
    legality_submitted(ctx, "D2", "2026-04-29T09:00")
    opinion(ctx, "D2", "2026-05-07")
    meeting(ctx, "D2", "li", "2026-05-08", "2026-05-14", "approve")
    act(ctx, "record_party_report", "chen", "2026-05-15T10:00", decision="D2", on_date="2026-05-15")
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-05-18T10:00",
        decision="D2",
        on_date="2026-05-18",
        result="agreed",
    )
    act(
        ctx,
        "publish_decision",
        "zhou",
        "2026-06-22T10:00",
        decision="D2",
        channels=["gazette", "website", "newspaper"],
        published_on="2026-06-22",
        text="决定全文",
    )
    act(ctx, "archive_decision", "zhou", "2026-06-24T10:00", decision="D2")
    act(
        ctx,
        "suspend_execution",
        "mayor",
        "2026-08-03T09:00",
        decision="D2",
        trigger="circumstances_changed",
        urgency="上位政策调整",
        on_date="2026-08-03",
    )


def confidential_deferred(ctx: ServiceContext) -> None:
    """D3: confidential; returned for supplement, lawful after changes, deferred at the meeting."""
    register(ctx, "D3", SECRET_TITLE, "sun", "2026-06-01T09:00", flags=["confidential"])
    act(
        ctx,
        "confirm_flag",
        "wang",
        "2026-06-01T09:30",
        decision="D3",
        flag="confidential",
        legal_basis="保密法",
    )
    start_and_draft(ctx, "D3", "sun", "2026-06-01")
    act(
        ctx,
        "submit_for_legality_review",
        "sun",
        "2026-06-02T09:00",
        decision="D3",
        procedures_statement="依法不公开征求意见",
    )
    adviser(ctx, "D3", "2026-06-03T09:00")
    act(ctx, "return_for_supplement", "wang", "2026-06-03T10:00", decision="D3", reason="请补充依据")
    act(
        ctx,
        "resubmit_for_legality_review",
        "sun",
        "2026-06-05T09:00",
        decision="D3",
        procedures_statement="已补充",
    )
    opinion(ctx, "D3", "2026-06-08", "lawful_after_changes", required_changes="删除第三条")
    act(
        ctx,
        "revise_draft",
        "sun",
        "2026-06-09T09:00",
        decision="D3",
        draft="修改稿",
        reason="按审查意见删除第三条",
    )
    act(ctx, "record_changes_after_review", "sun", "2026-06-09T10:00", decision="D3", changes="已删除第三条")
    act(ctx, "confirm_revision", "wang", "2026-06-09T11:00", decision="D3", reason="仅删除第三条")
    meeting(ctx, "D3", "sun", "2026-06-16", "2026-06-17", "defer", head_reason="储备库选址须进一步论证")


def reviewed_by_experts(ctx: ServiceContext) -> None:
    """D4: two expert opinions and a high-risk assessment; neither stage completed."""
    drafted(ctx, "D4", flags=["technical", "stability_risk"])
    for ref, name in (("X1", "陈教授"), ("X2", "林律师")):
        act(ctx, "add_expert_to_pool", "liu", "2026-06-30T09:00", ref=ref, name=name, fields=["城市规划"])
    act(
        ctx,
        "select_experts",
        "li",
        "2026-07-01T09:00",
        decision="D4",
        experts=[
            {"expert": "X1", "declaration": "无利害关系", "direct_interest": False},
            {"expert": "X2", "declaration": "无利害关系", "direct_interest": False, "differing_view": True},
        ],
    )
    act(
        ctx,
        "record_expert_opinion",
        "li",
        "2026-07-02T09:00",
        decision="D4",
        ref="O1",
        expert="X1",
        text="可行",
        signed=True,
    )
    act(
        ctx,
        "record_expert_opinion",
        "li",
        "2026-07-02T09:10",
        decision="D4",
        ref="O2",
        expert="X2",
        text="补充",
        sealed=True,
    )
    act(
        ctx,
        "submit_risk_assessment",
        "li",
        "2026-07-03T09:00",
        decision="D4",
        report="社会稳定风险评估报告",
        risk_points=["补偿争议"],
        prevention_measures=["分片公示"],
        handling_plan="处置预案",
        level="high",
        departments_consulted=["区信访局"],
    )


def year_of_decisions(ctx: ServiceContext) -> None:
    district(ctx)
    catalogue(ctx)
    hearing_decision(ctx)
    decided_and_published_late(ctx)
    act(
        ctx,
        "adjust_catalogue",
        "sun",
        "2026-05-06T09:00",
        year=2026,
        kind="defer",
        entry="E2",
        reason="条件尚不成熟",
        defer_to="2027年",
    )
    confidential_deferred(ctx)
    reviewed_by_experts(ctx)
    register(ctx, "D5", "区商务局临时事项", "sun", "2026-07-01T09:00")
    act(ctx, "withdraw_decision", "sun", "2026-07-10T09:00", decision="D5", reason="上级已统一部署")


def signed_checkpoints(ctx: ServiceContext, tmp_path: Path) -> None:
    """Two checkpoints in 2026 and one in 2027, signed with a key held in `tmp_path`."""
    key_file = tmp_path / "keys" / "checkpoint.key"
    cp.init_key(key_file)
    ctx.checkpoint_key = key_file
    key = cp.load_private(key_file)
    assert ctx.data_dir is not None
    for moment in ("2026-06-30T12:00", "2026-12-31T20:00", "2027-01-02T09:00"):
        with Session(ctx.engine) as session:
            cp.write(session, key, at(moment), ctx.data_dir)
            session.commit()


@pytest.fixture
def year(ctx: ServiceContext, tmp_path: Path) -> ServiceContext:
    year_of_decisions(ctx)
    signed_checkpoints(ctx, tmp_path)
    return ctx


# ---------------------------------------------------------------- the figures
def test_every_figure_follows_from_the_year_of_decisions(year: ServiceContext) -> None:
    stats = annual_statistics(year, None, 2026, at(NOW))
    assert (stats.period_start, stats.period_end, stats.complete_year) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
        True,
    )
    c = stats.counts
    assert (c.catalogued, c.catalogue_in_force, c.catalogue_deferred, c.catalogue_removed) == (2, 1, 1, 0)
    assert (c.catalogue_completed, c.catalogue_published_version) == (1, 1)  # E1 by D2; v2 is a draft
    assert (c.started, c.completed, c.rejected, c.withdrawn, c.in_progress) == (5, 1, 0, 1, 3)
    # E2 deferred in the catalogue, D3 deferred at its meeting, D2 suspended
    assert (c.deferred, c.deferred_at_meeting, c.suspended, c.terminated) == (3, 1, 1, 0)

    p = stats.procedures
    assert (p.comment_periods, p.public_comments, p.hearings_held) == (1, 0, 1)
    assert (p.expert_reviews, p.expert_opinions) == (1, 2)
    assert p.risk_assessments == 1
    assert p.risk_by_level == {"high": 1, "medium": 0, "low": 0, "unrated": 0}
    assert p.legality_opinions == 2
    assert p.legality_by_outcome == {"lawful": 1, "lawful_after_changes": 1, "unlawful": 0}
    assert p.legality_returned == 1

    stages = {s.stage: s for s in stats.stages}

    def durations(stage: str) -> tuple[int, float | None, int | None]:
        s = stages[stage]
        return s.completed, s.median_working_days, s.max_working_days

    assert durations("initiation") == (4, 0.0, 0)  # started and registered the same day; D5 withdrawn
    assert durations("drafting") == (4, 0.0, 0)
    # 03-03 -> 04-03: the working days of 03-04..04-03 (Qingming starts 04-04)
    assert durations("public_participation") == (1, 23.0, 23)
    # D2 04-29 -> 05-07 across Labor Day: 04-30, 05-06, 05-07; D3 06-02 -> 06-09: five days
    assert durations("legality_review") == (2, 4.0, 5)
    # 05-08 -> 05-14 with Saturday 05-09 a make-up working day
    assert durations("discussion") == (1, 5.0, 5)
    assert durations("party_report") == (1, 1.0, 1)  # Friday 05-15 -> Monday 05-18
    assert durations("publication") == (1, 0.0, 0)  # published in one step
    assert durations("hearing") == (0, None, None)  # held, but its report is not in
    assert durations("expert_review")[0] == durations("risk_assessment")[0] == 0

    def timeliness(stage: str) -> tuple[int, int, int, int, float | None]:
        t = stages[stage].timeliness
        return t.deadlines, t.on_time, t.late, t.overdue, t.on_time_rate

    assert timeliness("hearing") == (3, 3, 0, 0, 1.0)  # notice, list and materials in time
    assert timeliness("legality_review") == (2, 2, 0, 0, 1.0)  # D3's first round was cancelled
    assert timeliness("publication") == (1, 0, 1, 0, 0.0)
    assert timeliness("archive") == (1, 1, 0, 0, 1.0)
    assert not stages["public_participation"].has_time_limit  # the window closes by itself
    assert stages["publication"].has_time_limit

    units = {u.unit: u for u in stats.units}
    assert set(units) == {"housing", "commerce"}
    housing = units["housing"].timeliness
    assert (units["housing"].started, housing.deadlines, housing.on_time, housing.late) == (3, 6, 5, 1)
    assert housing.on_time_rate == pytest.approx(5 / 6)
    assert (units["commerce"].started, units["commerce"].timeliness.on_time_rate) == (2, 1.0)

    [late] = stats.overdue
    assert (late.decision, late.title, late.stage, late.kind) == (
        "D2",
        MARKUP_TITLE,
        "publication",
        "publication_due",
    )
    # named as the procedure names the stage and the deadline kind, not by their keys
    stage, kind = proc.procedure().stage("publication"), proc.procedure().deadline_kinds["publication_due"]
    assert (late.stage_zh, late.stage_en, late.kind_zh, late.kind_en) == (
        stage.zh,
        stage.en,
        kind.zh,
        kind.en,
    )
    assert late.stage_zh != "publication" and late.kind_en != "publication_due"
    # 20 working days after the meeting of 05-14; published 06-22, Dragon Boat (06-19) off
    assert (late.due_date, late.met_on, late.days_overdue, late.working_days_overdue) == (
        date(2026, 6, 11),
        date(2026, 6, 22),
        11,
        6,
    )

    rows = {row.decision: row for row in stats.timeline}
    assert set(rows) == {"D1", "D2", "D3", "D4", "D5"}
    assert rows["D3"].title == CONFIDENTIAL_TITLE and rows["D3"].confidential
    d2 = {bar.stage: bar for bar in rows["D2"].bars}
    assert (d2["legality_review"].start, d2["legality_review"].end) == (date(2026, 4, 29), date(2026, 5, 7))
    assert not any(bar.ongoing for bar in d2.values())
    d3 = {bar.stage: bar for bar in rows["D3"].bars}  # deferred at the meeting: discussion goes on
    assert (d3["discussion"].start, d3["discussion"].end, d3["discussion"].ongoing) == (
        date(2026, 6, 16),
        date(2026, 12, 31),
        True,
    )
    [initiation] = rows["D5"].bars  # withdrawn on 07-10: its stage ends there, not ongoing
    assert (initiation.end, initiation.ongoing) == (date(2026, 7, 10), False)
    assert {bar.stage for bar in rows["D1"].bars if bar.ongoing} == {"hearing"}

    assert (stats.checkpoints.count, stats.checkpoints.first_seq, stats.checkpoints.last_seq) == (2, 1, 2)
    assert not stats.provisional  # 2026 is in the official calendar


def test_the_checkpoint_appendix_can_be_verified_with_the_published_key(year: ServiceContext) -> None:
    head = annual_statistics(year, None, 2026, at(NOW)).checkpoints.latest
    assert head is not None and head.seq == 2 and head.at == at("2026-12-31T20:00")
    assert head.public_key is not None
    public = load_pem_public_key(head.public_key.encode())
    assert isinstance(public, Ed25519PublicKey)
    public.verify(base64.b64decode(head.signature), head.body.encode())  # raises if forged
    body = json.loads(head.body)
    assert body["seq"] == 2 and head.chains == len(body["chains"]) >= 6  # 5 decisions, set-up, catalogue
    assert cp.key_id(public) == head.key_id


def test_a_year_in_progress_counts_to_today_and_leaves_later_deadlines_out(year: ServiceContext) -> None:
    stats = annual_statistics(year, None, 2026, at("2026-06-15T12:00"))
    assert (stats.period_end, stats.complete_year) == (date(2026, 6, 15), False)
    # D1, D2 and D4 registered 03-02, D3 06-01; D5 (07-01) and the later events not yet
    assert (stats.counts.started, stats.counts.completed, stats.counts.withdrawn) == (4, 1, 0)
    publication = next(s for s in stats.stages if s.stage == "publication").timeliness
    # due 06-11 and not met by 06-15: overdue, counted to today
    assert (publication.overdue, publication.late) == (1, 0)
    [item] = stats.overdue
    assert (item.met_on, item.days_overdue, item.working_days_overdue) == (None, 4, 2)
    hearing = next(s for s in stats.stages if s.stage == "hearing").timeliness
    assert hearing.pending == 0 and hearing.deadlines == 0  # announced only in September
    assert stats.checkpoints.count == 0
    with pytest.raises(ProcedureError) as caught:
        annual_statistics(year, None, 2027, at("2026-06-15T12:00"))
    assert caught.value.rule_id == "INPUT" and caught.value.field == "year"


def test_a_decision_registered_the_year_before_counts_where_each_event_happened(ctx: ServiceContext) -> None:
    district(ctx, when="2025-12-01T09:00")
    register(ctx, "D0", "跨年事项", "li", "2025-12-10T09:00")
    act(ctx, "withdraw_decision", "li", "2026-01-06T09:00", decision="D0", reason="不再需要")
    before = annual_statistics(ctx, None, 2025, at(NOW))
    after = annual_statistics(ctx, None, 2026, at(NOW))
    assert (before.counts.started, before.counts.withdrawn, before.counts.in_progress) == (1, 0, 1)
    assert (after.counts.started, after.counts.withdrawn, after.counts.in_progress) == (0, 1, 0)
    [row] = after.timeline
    assert [(b.start, b.end, b.ongoing) for b in row.bars] == [(date(2026, 1, 1), date(2026, 1, 6), False)]
    assert before.timeline[0].bars[0].ongoing  # still under way at the end of 2025


# ---------------------------------------------------------------- the documents
class Figures(HTMLParser):
    """Every element with data-key: its text; and every tag name seen."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.tags: set[str] = set()
        self._open: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        key = dict(attrs).get("data-key")
        if key is not None:
            self._open.append((tag, key))
            self.figures[key] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for _, key in self._open:
            self.figures[key] += data


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), item) for i, item in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in items:
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def shown(key: str, value: Any) -> str:
    """How the report prints a value: a dash for none, rates in percent, 2.0 as 2."""
    if value is None:
        return "—"
    if key.endswith("on_time_rate"):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def test_html_and_json_agree_and_titles_are_escaped(year: ServiceContext, tmp_path: Path) -> None:
    report = build_annual_report(year, 2026, now=at(NOW))
    assert year.data_dir is not None
    assert report.html == year.data_dir / "reports" / "2026" / "annual-report-2026.html"
    html = report.html.read_text(encoding="utf-8")
    data = json.loads(report.json.read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(report_data(report.statistics)))

    parser = Figures()
    parser.feed(html)
    values = flatten(data)
    assert parser.figures, "the HTML marks its figures"
    for key, text in parser.figures.items():
        assert key in values, key
        assert text.strip() == shown(key, values[key]), key
    # every count, every stage's and unit's figure and the overdue item are printed
    wanted = {
        key
        for key in values
        if key.split(".")[0] in ("counts", "procedures", "units")
        or (
            key.startswith("stages.")
            and ".timeliness.pending" not in key
            and not key.endswith(("zh", "en", "stage", "has_time_limit"))
        )
        or key.endswith(("days_overdue", "due_date", "met_on"))
    }
    wanted -= {k for k in values if k.startswith("units.") and k.endswith((".unit", ".name", ".pending"))}
    time_limited = {i for i, s in enumerate(data["stages"]) if s["has_time_limit"]}
    wanted -= {
        k
        for k in values
        if k.startswith("stages.") and ".timeliness." in k and int(k.split(".")[1]) not in time_limited
    }
    assert wanted <= set(parser.figures), sorted(wanted - set(parser.figures))
    assert parser.figures["overdue.0.days_overdue"] == "11"
    assert parser.figures["counts.started"] == "5"

    # the markup in a title is text, never markup; the confidential title is nowhere
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert SECRET_TITLE not in html and SECRET_TITLE not in report.json.read_text(encoding="utf-8")
    assert CONFIDENTIAL_TITLE.split(" / ")[0] in html
    # self-contained: no script, no stylesheet or image to fetch
    assert not parser.tags & {"script", "link", "img", "iframe", "object"}
    assert "url(" not in html and "@import" not in html and 'src="' not in html
    assert html.count("<svg") == 3  # stage durations, on-time rates by unit, the timeline

    # built again (a retried flow run): the same bytes, nothing else in the folder
    again = build_annual_report(year, 2026, now=at(NOW))
    assert again.html.read_bytes() == report.html.read_bytes()
    assert again.json.read_bytes() == report.json.read_bytes()
    assert sorted(p.name for p in report.html.parent.iterdir()) == [
        "annual-report-2026.html",
        "annual-report-2026.json",
    ]


def test_the_command_needs_a_reader_with_a_role_on_every_decision(tmp_path: Path) -> None:
    """The command opens its database by URL: a SQLite file of its own, on either suite."""
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    create_all(engine, kind="scenario")
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "cli-data")
    district(ctx)
    register(ctx, "D1", "公开事项", "li", "2026-03-02T09:00")
    register(ctx, "D2", SECRET_TITLE, "sun", "2026-03-03T09:00", flags=["confidential"])
    engine.dispose()
    runner = CliRunner()
    base = ["report", "annual", "2026", "--database", f"sqlite:///{tmp_path / 'cli.db'}", "--now", NOW]
    refused = runner.invoke(app, [*base, "--actor", "li"])  # a department sees only its own decisions
    assert refused.exit_code == 2 and "AUTH" in refused.output and "[--actor]" in refused.output
    unknown = runner.invoke(app, [*base, "--actor", "nobody"])
    assert unknown.exit_code == 2 and "NOT_FOUND" in unknown.output
    future = runner.invoke(app, ["report", "annual", "2028", *base[3:], "--actor", "wang"])
    assert future.exit_code == 2 and "[YEAR]" in future.output
    done = runner.invoke(app, [*base, "--actor", "wang"])
    assert done.exit_code == 0, done.output
    assert "启动 2 项" in done.output  # the confidential decision is counted
    html = (tmp_path / "cli-data" / "reports" / "2026" / "annual-report-2026.html").read_text(
        encoding="utf-8"
    )
    assert "公开事项" in html and SECRET_TITLE not in html


# ---------------------------------------------------------------- the pure computation
def test_stage_durations_take_the_last_completion_and_deadlines_their_outcome() -> None:
    t = at
    decision = DecisionRow(
        1, "X1", "事项", False, DecisionStatus.in_procedure, "", "u", t("2027-03-01T09:00"), None
    )
    events = (
        StageEvent(1, "drafting", "pending", "active", t("2027-03-01T09:00")),
        StageEvent(1, "drafting", "active", "completed", t("2027-03-03T09:00")),
        StageEvent(1, "drafting", "completed", "active", t("2027-03-04T09:00")),  # re-opened by a revision
        StageEvent(1, "drafting", "active", "completed", t("2027-03-08T09:00")),
    )
    due = t("2027-03-10T00:00")
    deadlines = (
        DeadlineRow(
            1,
            "publication_due",
            "publication",
            date(2027, 3, 9),
            due,
            DeadlineStatus.met,
            t("2027-03-09T18:00"),
        ),
        DeadlineRow(
            1,
            "publication_due",
            "publication",
            date(2027, 3, 9),
            due,
            DeadlineStatus.met,
            t("2027-03-10T08:00"),
        ),
        DeadlineRow(1, "publication_due", "publication", date(2027, 3, 9), due, DeadlineStatus.fired, None),
        DeadlineRow(
            1, "publication_due", "publication", date(2027, 3, 9), due, DeadlineStatus.cancelled, None
        ),
        DeadlineRow(
            1, "archive_due", "archive", date(2027, 4, 9), t("2027-04-10T00:00"), DeadlineStatus.open, None
        ),
    )
    now = t("2027-03-20T12:00")
    assert [deadline_outcome(d, now) for d in deadlines] == ["on_time", "late", "overdue", None, "pending"]
    facts = ReportFacts(
        "某区人民政府", "Asia/Shanghai", {"u": "某局"}, (decision,), events, deadlines=deadlines
    )
    stats = compute_statistics(facts, WorkingCalendar(), 2027, now)
    drafting = next(s for s in stats.stages if s.stage == "drafting")
    # 03-01 -> 03-08 (Mon to Mon): five working days; the first completion is superseded
    assert (drafting.completed, drafting.median_working_days) == (1, 5.0)
    publication = next(s for s in stats.stages if s.stage == "publication").timeliness
    assert (publication.deadlines, publication.on_time, publication.late, publication.overdue) == (3, 1, 1, 1)
    assert publication.on_time_rate == pytest.approx(1 / 3)
    assert next(s for s in stats.stages if s.stage == "archive").timeliness.pending == 1
    assert stats.provisional  # 2027's holiday notice is not in this calendar: weekends only (P13)


# ---------------------------------------------------------------- the demo
def test_the_demo_data_keeps_the_invariants(ctx: ServiceContext) -> None:
    mark_database(ctx.engine, "demo", "tests")
    now = datetime(2026, 12, 20, 9, 0, tzinfo=SHANGHAI)  # the whole demo history lies in 2026
    build_demo(ctx, now)
    stats = annual_statistics(ctx, None, 2026, now)
    c = stats.counts
    assert c.started >= 10 and 0 < c.completed <= c.started
    assert c.completed + c.rejected + c.withdrawn + c.in_progress == c.started
    assert stats.procedures.legality_opinions >= 4 and stats.procedures.comment_periods >= 5
    rates = [s.timeliness.on_time_rate for s in stats.stages] + [
        u.timeliness.on_time_rate for u in stats.units
    ]
    assert all(0.0 <= r <= 1.0 for r in rates if r is not None)
    assert any(r is not None for r in rates)
    for s in stats.stages:
        t = s.timeliness
        assert t.deadlines == t.on_time + t.late + t.overdue
        if s.completed:
            assert s.median_working_days is not None and s.max_working_days is not None
            assert 0 <= s.median_working_days <= s.max_working_days
    assert len(stats.overdue) == sum(s.timeliness.late + s.timeliness.overdue for s in stats.stages)
    assert all(o.days_overdue >= o.working_days_overdue >= 0 for o in stats.overdue)
    for row in stats.timeline:
        assert all(stats.period_start <= bar.start <= bar.end <= stats.period_end for bar in row.bars)
    titles = {row.title for row in stats.timeline}
    assert "区应急物资储备库布局方案" not in titles and CONFIDENTIAL_TITLE in titles
    html = build_annual_report(ctx, 2026, now=now).html.read_text(encoding="utf-8")
    assert "区应急物资储备库布局方案" not in html and "区农贸市场升级改造实施方案" in html
