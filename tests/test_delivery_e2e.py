"""From a deadline to a delivered message: the sweep creates the reminder, writes the
inbox entry and the outbox rows its recipient's preferences ask for, and delivers them
to a real SMTP server and a real HTTP endpoint, once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows.scenario import sweep_until
from flows.service import ServiceContext, setup_jurisdiction
from flows.service.sweep import sweep
from models import Delivery, DeliveryStatus, Notification
from notifications.config import parse_settings
from notifications.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from tests.helpers import UNITS, USERS, act, at, comment_window
from tests.http_receiver import HttpReceiver
from tests.smtp_server import serve_smtp

SECRET = "s3cret-for-tests"


def test_a_reminder_reaches_inbox_mail_and_webhook_exactly_once(engine: Engine, tmp_path: Path) -> None:
    with serve_smtp() as smtp, HttpReceiver() as hook:
        settings = parse_settings(
            {
                "channels": ["inbox", "email", "webhook"],
                "default_channels": ["inbox"],
                "smtp": smtp.settings().model_dump(mode="json"),
                "webhooks": {"housing": {"url": hook.url_for("/oa"), "secret": SECRET}},
                "web_base_url": "https://decisions.example.gov.cn",
            }
        )
        ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data", notifications=settings)
        users = [
            {**u, "email": "li@example.gov.cn", "channels": ["email", "webhook"]} if u["id"] == "li" else u
            for u in USERS
        ]
        users = [{**u, "email": "zhao@example.gov.cn"} if u["id"] == "zhao" else u for u in users]
        setup_jurisdiction(ctx, {"organ": "香洲区人民政府"}, UNITS, users, now=at("2026-09-01T08:00"))
        act(
            ctx,
            "register_decision",
            "li",
            "2026-09-01T09:00",
            ref="D1",
            title="加装电梯补贴办法",
            category=1,
            lead_unit="housing",
        )
        act(ctx, "start_procedure", "zhou", "2026-09-01T10:00", decision="D1")
        act(
            ctx,
            "submit_draft",
            "li",
            "2026-09-02T09:00",
            decision="D1",
            draft="草案",
            explanation="说明",
            legal_bases=["国务院令第713号"],
        )
        comment_window(ctx, "2026-09-09", "2026-10-09")
        sweep_until(ctx, at("2026-09-29T09:00"))

        (mail,) = smtp.wait_for(1)
        assert mail.to == "li@example.gov.cn"
        assert "加装电梯补贴办法" in mail.subject
        body = mail.message.get_body(preferencelist=("plain",))
        assert body is not None and "2026年10月9日（星期五）" in body.get_content()
        assert "https://decisions.example.gov.cn/decisions/D1" in body.get_content()

        (post,) = hook.wait_for(1)
        assert post.path == "/oa"
        assert post.json["event"] == "deadline.upcoming" and post.json["decision"] == "D1"
        assert verify_signature(
            SECRET, post.header(TIMESTAMP_HEADER) or "", post.body, post.header(SIGNATURE_HEADER) or ""
        )

        with Session(engine) as session:
            note = session.exec(select(Notification)).one()
            deliveries = session.exec(select(Delivery).order_by(col(Delivery.channel))).all()
        assert mail.key == f"{note.key}:email" and post.header("Idempotency-Key") == f"{note.key}:webhook"
        assert [(d.channel, d.status, d.attempts) for d in deliveries] == [
            ("email", DeliveryStatus.sent, 1),
            ("webhook", DeliveryStatus.sent, 1),
        ]
        # zhao has an address but is not a recipient of this step; nothing goes twice
        for moment in ("2026-09-29T09:00:30", "2026-09-29T10:00"):
            sweep(ctx, at(moment))
        assert len(smtp.messages) == 1 and len(hook.requests) == 1
