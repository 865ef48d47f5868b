"""Issue 3, the operator's commands: `deadlines` with its traffic light on the working-day
calendar, `inbox` with read marks, `sweep` (idempotent), and `outbox` showing a failed
e-mail with its error and retrying it into a real SMTP server. Each runs through the CLI
against a database file (or a PostgreSQL schema) prepared by the service layer."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from flows.service import ServiceContext, setup_jurisdiction
from models import Deadline, Delivery, DeliveryStatus, Notification, User
from models.db import make_engine, mark_database, normalise_url
from tests import conftest as suite
from tests.helpers import UNITS, USERS, act, at, drafted, participation_done
from tests.schema import create_all
from tests.smtp_server import serve_smtp

LI_EMAIL = "li@example.org"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@dataclass
class Db:
    url: str
    ctx: ServiceContext

    def cli(self, *args: str) -> Result:
        return run(*args, "--database", self.url)


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Db]:
    """The suite's database as a URL for --database (a SQLite file, or a fresh PostgreSQL
    schema) with the standard district set up, li having an e-mail address."""
    monkeypatch.chdir(tmp_path)  # the CLI's data folder (./var) lands in tmp_path
    if normalise_url(suite.test_database_url()).startswith("postgresql"):
        url, schema = request.getfixturevalue("fresh_postgres_schema")
        url = f"{url}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    create_all(engine)
    mark_database(engine, "scenario", "tests")  # simulated clock: the test replays time
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    users = [{**u, "email": LI_EMAIL} if u["id"] == "li" else u for u in USERS]
    setup_jurisdiction(
        ctx, {"organ": "香洲区人民政府", "settings": {}}, UNITS, users, now=at("2026-01-05T09:00")
    )
    yield Db(url, ctx)
    engine.dispose()


def open_window(db: Db, ref: str, start: str, end: str, lead_unit: str = "housing", **extra: Any) -> None:
    drafted(db.ctx, ref, lead_unit=lead_unit, **extra)
    act(
        db.ctx,
        "open_comment_period",
        "li" if lead_unit == "housing" else "sun",
        f"{start}T09:00",
        decision=ref,
        start_date=start,
        end_date=end,
        channels=["website"],
    )


def three_lights(db: Db) -> None:
    """At Thursday 2026-04-30, just before the May Day holiday (05-01..05-05, make-up working
    Saturday 05-09):
    - D1 (housing): the legal office's opinion was due Wednesday 04-29: overdue, red;
    - D2 (commerce): its comment window ends Friday 05-08, 8 calendar days but only 3 working
      days away: amber;
    - D3 (housing, undertaken jointly with evaluator): its window ends Monday 05-11, 5 working
      days away: green."""
    drafted(db.ctx, "D1")
    participation_done(db.ctx, "D1")
    act(
        db.ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:00",
        decision="D1",
        procedures_statement="已履行公众参与程序",
    )
    open_window(db, "D2", "2026-04-08", "2026-05-08", lead_unit="commerce")
    open_window(db, "D3", "2026-04-10", "2026-05-11", units=["housing", "evaluator"])


def table_rows(output: str) -> dict[str, str]:
    """The deadlines table's rows by decision code (the row's whole line)."""
    rows: dict[str, str] = {}
    for line in output.splitlines():
        found = re.search(r"│\s*● .*?│\s*(D\d+)", line)
        if found:
            rows.setdefault(found.group(1), line)
    return rows


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("│").split("│")]


# ---------------------------------------------------------------- deadlines
def test_deadlines_show_a_traffic_light_on_working_days(db: Db) -> None:
    three_lights(db)
    result = db.cli("deadlines", "--now", "2026-04-30T10:00")
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[1]
    for column in ("决策 decision", "期限 deadline", "到期 due", "剩余工作日", "状态 status", "下次提醒"):
        assert column in header, header
    rows = table_rows(result.output)
    assert set(rows) == {"D1", "D2", "D3"}, result.output
    d1, d2, d3 = cells(rows["D1"]), cells(rows["D2"]), cells(rows["D3"])
    assert d1[0] == "● 红 red"
    assert "合法性审查意见应出具 legality opinion due" in d1[2]
    assert d1[3] == "2026-04-29 星期三 Wed"
    assert d1[4] == "-1"  # one working day past the due day
    assert d2[0] == "● 黄 amber" and d2[3] == "2026-05-08 星期五 Fri" and d2[4] == "3"
    assert "公开征求意见截止 comment period ends" in d2[2]
    assert d3[0] == "● 绿 green" and d3[3] == "2026-05-11 星期一 Mon" and d3[4] == "5"
    # D3's next reminder: three working days before 05-11 counts the make-up Saturday 05-09
    assert d3[6] == "2026-05-07 09:00"
    # D1's own comment window closed by itself on 04-03: it is no overdue deadline
    assert result.output.count("comment period ends") == 2
    assert "红 red 1, 黄 amber 1, 绿 green 1" in result.output

    # the day before, D1's opinion is due the next working day: amber, not red
    earlier = db.cli("deadlines", "--now", "2026-04-28T10:00")
    assert cells(table_rows(earlier.output)["D1"])[0] == "● 黄 amber"
    assert cells(table_rows(earlier.output)["D1"])[4] == "1"


def test_deadlines_filters_overdue_and_unit(db: Db) -> None:
    three_lights(db)
    overdue = db.cli("deadlines", "--overdue", "--now", "2026-04-30T10:00")
    assert overdue.exit_code == 0, overdue.output
    assert set(table_rows(overdue.output)) == {"D1"}
    # a sweep fires it; it stays listed, now with the status "overdue"
    assert db.cli("sweep", "--now", "2026-04-30T10:00").exit_code == 0
    overdue = db.cli("deadlines", "--overdue", "--now", "2026-04-30T10:00")
    assert "已逾期 overdue" in cells(table_rows(overdue.output)["D1"])[5]

    commerce = db.cli("deadlines", "--unit", "commerce", "--now", "2026-04-30T10:00")
    assert commerce.exit_code == 0, commerce.output
    assert set(table_rows(commerce.output)) == {"D2"}
    housing = db.cli("deadlines", "--unit", "housing", "--now", "2026-04-30T10:00")
    assert set(table_rows(housing.output)) == {"D1", "D3"}
    acting = db.cli("deadlines", "--unit", "evaluator", "--now", "2026-04-30T10:00")
    assert set(table_rows(acting.output)) == {"D3"}  # an acting unit, not the lead
    party = db.cli("deadlines", "--unit", "party", "--now", "2026-04-30T10:00")
    assert party.exit_code == 0 and "（无 / none）" in party.output

    unknown = db.cli("deadlines", "--unit", "nosuch", "--now", "2026-04-30T10:00")
    assert unknown.exit_code == 2, unknown.output
    assert "[unit]" in unknown.output and "nosuch" in unknown.output


# ---------------------------------------------------------------- inbox
def inbox_ids(output: str) -> list[int]:
    return [int(m) for m in re.findall(r"^#(\d+)", output, flags=re.MULTILINE)]


def unread_of(db: Db, user: str) -> list[int]:
    with Session(db.ctx.engine) as session:
        return list(
            session.exec(
                select(Notification.id)
                .join(User, col(User.id) == col(Notification.user_id))
                .where(User.code == user, col(Notification.read_at).is_(None))
            )
        )


def test_inbox_lists_marks_read_and_refuses_another_users_notification(db: Db) -> None:
    three_lights(db)
    assert db.cli("sweep", "--now", "2026-04-30T10:00").exit_code == 0
    li_unread, wang_unread = unread_of(db, "li"), unread_of(db, "wang")
    assert len(li_unread) == 3 and wang_unread  # D1's window: before:3, due, transition

    listing = db.cli("inbox", "li")
    assert listing.exit_code == 0, listing.output
    assert sorted(inbox_ids(listing.output)) == sorted(li_unread)
    assert listing.output.count("未读 unread") == 3
    assert "D1" in listing.output and "/decisions/D1" in listing.output

    # another user's notification is refused by id, and nothing is marked
    refused = db.cli(
        "inbox", "li", "--actor", "li", "--read", str(li_unread[0]), "--read", str(wang_unread[0])
    )
    assert refused.exit_code == 2, refused.output
    assert "[id]" in refused.output and f"{wang_unread[0]}" in refused.output
    assert unread_of(db, "li") == li_unread and unread_of(db, "wang") == wang_unread
    missing = db.cli("inbox", "li", "--actor", "li", "--read", "999999")
    assert missing.exit_code == 2 and "[id]" in missing.output

    one = db.cli("inbox", "li", "--actor", "li", "--read", str(li_unread[0]), "--now", "2026-04-30T11:00")
    assert one.exit_code == 0, one.output
    assert "marked read: 1" in one.output
    assert sorted(unread_of(db, "li")) == sorted(li_unread[1:])

    everything = db.cli("inbox", "li", "--actor", "li", "--read-all", "--now", "2026-04-30T11:05")
    assert everything.exit_code == 0 and "marked read: 2" in everything.output
    unread = db.cli("inbox", "li", "--unread")
    assert unread.exit_code == 0 and inbox_ids(unread.output) == [] and "（无 / none）" in unread.output
    assert db.cli("inbox", "li").output.count("已读 read") == 3
    assert unread_of(db, "wang") == wang_unread  # only li's were marked

    nobody = db.cli("inbox", "nobody")
    assert nobody.exit_code == 2 and "[user]" in nobody.output


# ---------------------------------------------------------------- sweep
SWEEP_LINE = re.compile(
    r"fired (\d+) \(transitions (\d+)\), reminders (\d+) \(late (\d+)\), sent (\d+), retried (\d+), failed (\d+)"
)


def test_sweep_prints_its_counts_and_is_idempotent(db: Db) -> None:
    three_lights(db)
    first = db.cli("sweep", "--now", "2026-04-30T10:00")
    assert first.exit_code == 0, first.output
    counts = SWEEP_LINE.search(first.output)
    assert counts, first.output
    fired, transitions, reminders, late, *_ = (int(g) for g in counts.groups())
    with Session(db.ctx.engine) as session:
        created = sorted(
            (code, note.point)
            for note, code in session.exec(
                select(Notification, User.code)
                .join(User, col(User.id) == col(Notification.user_id))
                .where(Notification.created_at == at("2026-04-30T10:00"))
            )
        )
    # D1's opinion (due 04-29) fired (and its earliest discussion date); wang was reminded
    # before:3 (04-24), due (04-29) and overdue:1 (04-30 09:00); sun three working days before
    # D2's window ends (04-30 09:00): all late at 10:00
    assert created == [("sun", "before:3"), ("wang", "before:3"), ("wang", "due"), ("wang", "overdue:1")]
    assert (fired, transitions, reminders, late) == (2, 0, 4, 4)
    with Session(db.ctx.engine) as session:
        kinds = session.exec(select(Deadline.kind).where(Deadline.fired_at == at("2026-04-30T10:00"))).all()
    assert sorted(kinds) == ["legality_opinion_due", "legality_review_min"]
    second = db.cli("sweep", "--now", "2026-04-30T10:00")
    assert second.exit_code == 0, second.output
    assert "fired 0 (transitions 0), reminders 0 (late 0)" in second.output
    # the same counts in Chinese, first
    assert second.output.startswith(
        "到期触发 0（状态变化 0），提醒 0（补发 0），已发送 0，重试 0，失败 0 / fired 0 (transitions 0)"
    ), second.output
    assert "到期触发 2（状态变化 0），提醒 4（补发 4）" in first.output, first.output


# ---------------------------------------------------------------- outbox
@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def email_config(path: Path, port: int) -> Path:
    path.write_text(
        "notifications:\n"
        "  channels: [inbox, email]\n"
        "  smtp:\n"
        "    host: 127.0.0.1\n"
        f"    port: {port}\n"
        "    timeout_seconds: 5\n"
        "  retry:\n"
        "    max_attempts: 1\n",
        encoding="utf-8",
    )
    return path


def test_outbox_shows_a_failed_delivery_and_retry_delivers_it(
    db: Db, tmp_path: Path, closed_port: int
) -> None:
    open_window(db, "D1", "2026-03-03", "2026-04-02")  # before:3 on Monday 03-30
    broken = email_config(tmp_path / "broken.yaml", closed_port)
    swept = db.cli("sweep", "--now", "2026-03-30T09:00", "--config", str(broken))
    assert swept.exit_code == 0, swept.output
    assert "reminders 1 " in swept.output and "sent 0, retried 0, failed 1" in swept.output

    failed = db.cli("outbox", "--failed")
    assert failed.exit_code == 0, failed.output
    (delivery_id,) = inbox_ids(failed.output)
    assert f"email -> {LI_EMAIL}" in failed.output and "失败 failed" in failed.output
    error_line = next(line for line in failed.output.splitlines() if "last error" in line)
    with Session(db.ctx.engine) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None and row.status == DeliveryStatus.failed and row.last_error
        assert row.last_error in error_line
    assert db.cli("outbox").output.count("#") == 1

    retried = db.cli("outbox", "retry", str(delivery_id), "--actor", "liu", "--now", "2026-03-30T10:00")
    assert retried.exit_code == 0, retried.output
    assert "待发 pending" in retried.output
    assert db.cli("outbox", "--failed").output.strip() == "（无 / none）"

    with serve_smtp() as server:
        working = email_config(tmp_path / "working.yaml", server.port)
        delivered = db.cli("sweep", "--now", "2026-03-30T10:00", "--config", str(working))
        assert delivered.exit_code == 0, delivered.output
        assert "sent 1, retried 0, failed 0" in delivered.output
        (message,) = server.wait_for(1)
    assert message.to == LI_EMAIL and "D1" in message.subject
    listing = db.cli("outbox")
    assert "已发 sent" in listing.output and "last error" not in listing.output

    # a sent delivery is never sent again; an unknown one is named
    again = db.cli("outbox", "retry", str(delivery_id), "--actor", "liu")
    assert again.exit_code == 2 and "[delivery_id]" in again.output, again.output
    unknown = db.cli("outbox", "retry", "999999", "--actor", "liu")
    assert unknown.exit_code == 2 and "[delivery_id]" in unknown.output, unknown.output


def test_sweep_with_a_bad_config_names_the_field(db: Db, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("notifications:\n  channels: [inbox, sms]\n", encoding="utf-8")
    result = db.cli("sweep", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "CONFIG" in result.output and "[notifications.channels" in result.output
