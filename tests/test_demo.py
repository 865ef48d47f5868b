"""The demonstration district: built only through the service layer, a dozen decisions at
different stages, valid audit chains, and the `demo` and `decision` commands."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from flows.demo import build_demo, demo_status
from flows.service import ServiceContext, row_digests
from flows.service.accounts import verify_sign_in
from flows.service.audit import verify_all
from models import AuditEvent, CommentPeriod, Decision, DecisionStatus, StageInstance, StageStatus
from models.db import make_engine, mark_database
from web.app import WebConfig

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def stage_status(session: Session, decision: Decision, stage: str) -> StageStatus:
    row = session.exec(
        select(StageInstance).where(StageInstance.decision_id == decision.id, StageInstance.stage == stage)
    ).one()
    return row.status


def test_the_demo_builds_a_dozen_decisions_at_different_stages(ctx: ServiceContext) -> None:
    mark_database(ctx.engine, "demo", "tests")  # the demo writes only to a database marked demo
    result = build_demo(ctx, NOW)
    with Session(ctx.engine) as session:
        decisions = {d.code: d for d in session.exec(select(Decision))}
        rows = demo_status(session, NOW)
        by_title = {d.title: d for d in decisions.values()}
        assert 10 <= len(decisions) <= 15
        assert set(result.codes.values()) == set(decisions)
        assert [r.code for r in rows] == sorted(decisions)

        # where each stands: at least six different statuses and current stages
        standing = {(r.status, tuple(stage for stage, _ in r.current)) for r in rows}
        assert len(standing) >= 6
        assert {d.status for d in decisions.values()} >= {
            DecisionStatus.proposed,
            DecisionStatus.in_procedure,
            DecisionStatus.decided,
            DecisionStatus.rejected,
            DecisionStatus.published,
            DecisionStatus.archived,
        }

        industry = by_title["区促进先进制造业高质量发展产业扶持政策"]
        assert stage_status(session, industry, "public_participation") == StageStatus.awaiting_approval
        epidemic = by_title["区突发公共卫生事件应急防控措施"]
        assert stage_status(session, epidemic, "legality_review") == StageStatus.active
        renewal = by_title["区旧城改造房屋征收补偿标准"]
        period = session.exec(select(CommentPeriod).where(CommentPeriod.decision_id == renewal.id)).one()
        assert period.status == "open" and period.start_date < NOW.date() < period.end_date
        assert {"stability_risk", "affects_specific_group"} <= set(renewal.flags)
        reserve = by_title["区应急物资储备库布局方案"]
        assert "confidential" in reserve.flags
        assert stage_status(session, reserve, "public_participation") == StageStatus.not_required
        assert stage_status(session, reserve, "discussion") == StageStatus.active
        parking = by_title["区公共停车场收费标准调整方案"]
        assert stage_status(session, parking, "hearing") == StageStatus.pending

        # history is played before `now`, and every action is on the decision's audit chain
        last = session.exec(select(AuditEvent).order_by(col(AuditEvent.occurred_at).desc())).first()
        assert last is not None and last.occurred_at <= NOW
        chains, events, breaks = verify_all(session)
        assert breaks == []
        assert row_digests.verify(session)[1] == []  # every row matches its audit digest
        assert (
            chains == len(decisions) + 2
        )  # one per decision, one for the set-up, one for the catalogue year
        assert events >= result.actions

    status_of = {r.code: r for r in rows}
    renewal_row = status_of[renewal.code]
    next_end = next(s for s in renewal_row.steps if s.key == "comment_period_end")
    assert next_end.source == "deadline" and next_end.day == period.end_date
    assert status_of[by_title["区农贸市场升级改造实施方案"].code].steps == []  # archived
    parking_steps = {s.key for s in status_of[parking.code].steps}
    assert {"hearing_earliest", "hearing_materials", "legality_review_min"} <= parking_steps


def test_the_demo_command_prints_every_decision_and_the_decision_commands_work(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    # just after the 2026 Spring Festival (02-15..02-23): planning must step over it
    now = "2026-02-24T10:00"
    (tmp_path / "demo.db").write_bytes(b"not a database")  # not a demo: --fresh alone refuses it
    refused = runner.invoke(app, ["demo", "--database", url, "--fresh", "--now", now])
    assert refused.exit_code == 2 and "--force" in refused.output, refused.output
    assert (tmp_path / "demo.db").read_bytes() == b"not a database"
    shown = runner.invoke(app, ["demo", "--database", url, "--fresh", "--force", "--now", now])
    assert shown.exit_code == 0, shown.output
    assert (tmp_path / "demo-data" / "documents").is_dir()  # evidence beside the database file
    engine = make_engine(url)
    with Session(engine) as session:
        decisions = list(session.exec(select(Decision)))
    engine.dispose()
    assert len(decisions) >= 10
    for decision in decisions:
        assert decision.code in shown.output
    assert "审计链" in shown.output and "全部有效 all valid" in shown.output

    # a rebuilt demo gets a new web key: the old demo's sessions and receipts stop working
    first_key = WebConfig.from_environment(tmp_path / "demo-data").secret_key
    rebuilt = runner.invoke(app, ["demo", "--database", url, "--fresh", "--now", now])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert WebConfig.from_environment(tmp_path / "demo-data").secret_key != first_key
    engine = make_engine(url)
    with Session(engine) as session:
        decisions = list(session.exec(select(Decision)))
    engine.dispose()

    # without --fresh an existing demo is shown again, not built a second time
    again = runner.invoke(app, ["demo", "--database", url, "--now", now])
    assert again.exit_code == 0, again.output
    assert "--fresh" in again.output and all(d.code in again.output for d in decisions)
    engine = make_engine(url)
    with Session(engine) as session:
        assert len(session.exec(select(Decision)).all()) == len(decisions)
    engine.dispose()

    renewal = next(d for d in decisions if d.title == "区旧城改造房屋征收补偿标准")
    timeline = runner.invoke(app, ["decision", "timeline", renewal.code, "--database", url, "--now", now])
    assert timeline.exit_code == 0, timeline.output
    for article in ("Art. 15(1)", "Art. 26(2)", "Art. 32; P9", "Art. 33; P10"):
        assert article in timeline.output
    assert "星期" in timeline.output

    # the government office may read every decision, the confidential one too (issue 8)
    listed = runner.invoke(app, ["decision", "list", "--database", url, "--actor", "zhouwen"])
    assert listed.exit_code == 0 and all(d.code in listed.output for d in decisions)
    shown_one = runner.invoke(app, ["decision", "show", renewal.code, "--database", url])
    assert shown_one.exit_code == 0, shown_one.output
    assert "公众参与" in shown_one.output and "comment_period_end" in shown_one.output

    for command in ("timeline", "show"):
        missing = runner.invoke(app, ["decision", command, "NO-SUCH", "--database", url])
        assert missing.exit_code == 2
        assert "error NOT_FOUND [REF]" in missing.output and "NO-SUCH" in missing.output

    # every demo account signs in with the password the command printed
    assert "演示账号 demo accounts" in shown.output and "demo-liuyang-2026" in shown.output
    engine = make_engine(url)
    signed = verify_sign_in(ServiceContext(engine=engine), "liuyang", "demo-liuyang-2026", "127.0.0.1")
    engine.dispose()
    assert signed.ok and signed.actor is not None and "admin" in signed.actor.roles
