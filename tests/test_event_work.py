"""Issue 9, the work of one outbox event, without Prefect (flows/event_work.py): the
notifications people wait for reach the right people in their language with what they need
(the reasons of a return), through the inbox and the delivery outbox; the public notice page is
rendered from the action's evidence; running the work twice for an event changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from flows.event_work import NOTICE_EVIDENCE, notify, read_event, render_notices
from flows.service import ServiceContext
from models import Delivery, Notification, OutboxEvent, RecipientPreference, User
from notifications.config import NotificationSettings, SmtpSettings
from notifications.events import EventMessage, notify_event
from notifications.render import Renderer
from tests.helpers import act, at, comment_window, district, drafted, snapshot


def event_id(ctx: ServiceContext, event_type: str) -> int:
    with Session(ctx.engine) as session:
        row = session.exec(
            select(OutboxEvent)
            .where(OutboxEvent.event_type == event_type)
            .order_by(col(OutboxEvent.id).desc())
        ).first()
        assert row is not None, event_type
        return row.id or 0


def inbox_of(ctx: ServiceContext) -> dict[str, list[Notification]]:
    """Each user's notifications of domain events (not the deadline reminders)."""
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(User.code, Notification)
            .join(Notification, col(Notification.user_id) == col(User.id))
            .where(col(Notification.key).startswith("ev:"))
            .order_by(col(Notification.id))
        ).all()
    found: dict[str, list[Notification]] = {}
    for code, note in rows:
        found.setdefault(code, []).append(note)
    return found


def participation_completed(ctx: ServiceContext) -> None:
    """D1's comment window has run; the department completed the stage, which awaits the
    legal office's approval."""
    district(ctx)
    drafted(ctx)
    comment_window(ctx, "2026-03-03", "2026-04-02")
    from flows.scenario import sweep_until

    sweep_until(ctx, at("2026-04-03T09:00"))
    act(ctx, "complete_participation", "li", "2026-04-03T09:30", decision="D1")


def test_a_stage_awaiting_approval_is_told_to_the_legal_office_once(ctx: ServiceContext) -> None:
    participation_completed(ctx)
    event = event_id(ctx, "stage_awaiting_approval")

    done = notify(ctx, event)

    assert (done.notifications, done.already, done.unaddressed) == (2, 0, False)
    told = inbox_of(ctx)
    assert sorted(told) == ["liu", "wang"]  # the legal reviewer and the legal head
    note = told["wang"][0]
    assert note.event == "event.approval_requested" and note.point == "stage_awaiting_approval"
    assert note.subject == "【环节审核】D1 决策D1：“公众参与”环节待审核"
    assert "须经司法行政部门审核同意" in note.body_text and "区住房和城乡建设局" in note.body_text
    assert note.created_at == at("2026-04-03T09:30")  # a simulated clock: dated at the event
    assert note.link.endswith("/decisions/D1") and not note.late

    before = snapshot(ctx)
    again = notify(ctx, event)
    assert (again.notifications, again.already) == (0, 2)
    assert snapshot(ctx) == before  # a second run changes nothing


def test_a_returned_stage_tells_the_department_with_its_reasons(ctx: ServiceContext) -> None:
    participation_completed(ctx)
    reason = "请补充公众意见采纳情况说明"
    act(
        ctx,
        "return_stage",
        "wang",
        "2026-04-03T10:00",
        decision="D1",
        stage="public_participation",
        reason=reason,
    )
    with Session(ctx.engine) as session:  # zhao reads English
        zhao = session.exec(select(User).where(User.code == "zhao")).one()
        session.add(RecipientPreference(user_id=zhao.id or 0, locale="en"))
        session.commit()

    notify(ctx, event_id(ctx, "stage_returned"))

    told = inbox_of(ctx)
    assert sorted(told) == ["li", "zhao"]  # the lead unit's staff and its head
    (li,) = told["li"]
    assert li.subject == "【退回】D1 决策D1：“公众参与”已被退回"
    assert f"退回理由：{reason}" in li.body_text and "区司法局" in li.body_text
    assert reason in li.body_html
    (zhao_note,) = told["zhao"]
    assert zhao_note.locale == "en"
    assert zhao_note.subject == "[Returned] D1 决策D1: your “Public participation” submission was returned"
    assert f"The reasons: {reason}" in zhao_note.body_text


def test_a_legality_review_submitted_goes_to_the_legal_office_by_email_too(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx.notifications = NotificationSettings(
        channels=("inbox", "email"), smtp=SmtpSettings(host="127.0.0.1", port=2525)
    )
    participation_completed(ctx)
    act(ctx, "approve_stage", "wang", "2026-04-03T10:00", decision="D1", stage="public_participation")
    with Session(ctx.engine) as session:
        wang = session.exec(select(User).where(User.code == "wang")).one()
        wang.email = "wang@justice.example.cn"
        session.add(wang)
        session.commit()
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:00",
        decision="D1",
        procedures_statement="已履行公众参与程序",
    )
    notify(ctx, event_id(ctx, "legality_review_submitted"))
    told = inbox_of(ctx)
    assert sorted(told) == ["liu", "wang"]
    (note,) = told["wang"]
    assert note.subject == "【合法性审查】D1 决策D1：已提交合法性审查，请予审查"
    assert "（第1轮）" in note.body_text
    with Session(ctx.engine) as session:
        deliveries = session.exec(select(Delivery)).all()
    # the inbox always, and e-mail to whoever has an address; the sweep's outbox sends it
    assert [(d.channel, d.target, d.status) for d in deliveries] == [
        ("email", "wang@justice.example.cn", "pending")
    ]
    # the department was told of the approval
    notify(ctx, event_id(ctx, "stage_approved"))
    assert [n.event for n in inbox_of(ctx)["li"]] == ["event.stage_approved"]


def test_events_with_no_notice_tell_nobody(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    done = notify(ctx, event_id(ctx, "draft_submitted"))
    assert done.notifications == 0 and inbox_of(ctx) == {}


def test_a_notification_written_long_after_its_event_says_it_is_late(ctx: ServiceContext) -> None:
    participation_completed(ctx)
    facts = read_event(ctx, event_id(ctx, "stage_awaiting_approval"))
    message: dict[str, Any] = {
        "organ": "香洲区人民政府",
        "decision": {"code": "D1", "title": "决策D1"},
        "event": {
            "type": facts.event_type,
            "at": facts.created_at,
            "by": {"code": "li", "name": "李", "unit": "住建局"},
        },
        "step": {"zh": "公众参与", "en": "Public participation"},
        "detail": {"zh": "", "en": ""},
        "reason": "",
    }
    with Session(ctx.engine) as session:
        done = notify_event(
            session,
            EventMessage(facts.id, facts.event_type, None, facts.created_at, message),
            facts.created_at + timedelta(hours=2),  # Prefect was down for two hours
            NotificationSettings(),
            Renderer(),
        )
        session.commit()
    assert done.notifications == 2
    notes = [n for notes in inbox_of(ctx).values() for n in notes]
    assert all(n.late and n.subject.startswith("【环节审核】（补发）") for n in notes)
    assert all("现予补发" in n.body_text for n in notes)


def test_the_comment_notice_page_is_rendered_from_the_evidence(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-04-04",  # a Saturday: the last day rolls to Tuesday 04-07 (Qingming)
        channels=["website"],
    )
    event = event_id(ctx, "comment_period_opened")
    assert NOTICE_EVIDENCE["comment_period_opened"] == ("comment_notice",)

    (page,) = render_notices(ctx, event)

    assert ctx.data_dir is not None and page.parent == ctx.data_dir / "notices" / "D1"
    html = page.read_text(encoding="utf-8")
    assert "香洲区人民政府" in html and "关于公开征求《决策D1》意见的公告" in html
    assert "2026-04-07" in html and "2026年3月3日" in html  # the rolled last day; the issue date
    first = page.read_bytes()
    assert render_notices(ctx, event) == [page] and page.read_bytes() == first  # the same page again
    assert render_notices(ctx, event_id(ctx, "draft_submitted")) == []  # no notice for this step


def test_an_unknown_event_id_is_named(ctx: ServiceContext) -> None:
    from flows.errors import ProcedureError

    district(ctx)
    with pytest.raises(ProcedureError) as caught:
        notify(ctx, 999)
    assert caught.value.rule_id == "NOT_FOUND" and caught.value.field == "outbox_event_id"


# ---------------------------------------------------------------- catalogues and the dossier
def test_a_catalogued_decision_refreshes_its_catalogue_files(ctx: ServiceContext) -> None:
    import csv

    from flows.event_work import refresh_catalogues
    from tests.test_catalogue import published as catalogue_published

    catalogue_published(ctx)  # 2026: E1 and E2 published as version 1
    act(
        ctx,
        "register_decision",
        "sun",
        "2026-03-02T09:00",
        ref="D9",
        title="招商引资若干扶持政策",
        category=1,
        lead_unit="commerce",
        flags=[],
        catalogue_entry="2026/E2",
    )
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision="D9")
    files = refresh_catalogues(ctx, event_id(ctx, "procedure_started"))
    assert files is not None and (files.year, files.version, files.published) == (2026, 1, True)
    with files.decisions["csv"].open(encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    (e2,) = [row for row in table if "招商引资若干扶持政策" in row]
    assert "推进中" in e2  # the registered decision is under way

    district_only = refresh_catalogues(ctx, event_id(ctx, "catalogue_published"))
    assert district_only is None  # an event of no decision: the catalogues flow does that


def test_an_archived_decision_gets_its_dossier(ctx: ServiceContext) -> None:
    import zipfile

    from flows.event_work import assemble_dossier, refresh_catalogues
    from tests.helpers import decided, legality_lawful, participation_done, published

    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    decided(ctx)
    published(ctx)
    act(ctx, "archive_decision", "zhou", "2026-04-23T09:00", decision="D1")
    event = event_id(ctx, "decision_archived")

    path = assemble_dossier(ctx, event)

    assert ctx.data_dir is not None and path == ctx.data_dir / "dossiers" / "D1.zip"
    assert "manifest.json" in zipfile.ZipFile(path).namelist()
    first = path.read_bytes()
    assert assemble_dossier(ctx, event).read_bytes() == first  # dated at the event: the same bytes
    assert refresh_catalogues(ctx, event) is None  # D1 is in no catalogue


def test_only_failures_that_may_pass_are_retried() -> None:
    from prefect.states import Failed
    from sqlalchemy.exc import OperationalError

    from flows.errors import not_found
    from flows.prefect_flows import worth_retrying

    def failed(exc: BaseException) -> bool:
        return worth_retrying(None, None, Failed(data=exc))

    assert failed(OperationalError("SELECT 1", {}, Exception("the server closed the connection")))
    assert failed(OSError(5, "Input/output error"))
    assert not failed(FileNotFoundError("evidence file missing"))
    assert not failed(not_found("outbox_event_id", 7))
    assert not failed(KeyError("no_such_name"))
