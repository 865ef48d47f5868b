"""Attacks on the hot write paths: comments, outbox rows and audit events written by Core
INSERT, registration's one-statement read of its units, the reserved account names and the
CSV exports. Each test does what an attacker or a careless operator would, and asserts that
the record or the file still tells the truth."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from flows.catalogue_files import generate_catalogue_files
from flows.catalogue_import import import_catalogue
from flows.scenario import sweep_until
from flows.service import ServiceContext, audit, row_digests
from flows.service.audit import verify_all, verify_documents
from models import AuditEvent, CatalogueEntry, Decision, OutboxEvent, PublicComment
from tests.helpers import act, at, comment_window, district, drafted, refused


def commented(ctx: ServiceContext) -> None:
    """D1 drafted, its comment window open, two comments in."""
    district(ctx)
    drafted(ctx, "D1")
    comment_window(ctx, "2026-03-03", "2026-04-02")
    act(ctx, "submit_public_comment", "public", "2026-03-04T09:00", decision="D1", text="反对", name="张三")
    act(ctx, "submit_public_comment", "public", "2026-03-04T10:00", decision="D1", text="赞成")


# ---------------------------------------------------------------- rows that escape the audit
def test_a_comment_forged_behind_the_service_is_caught(ctx: ServiceContext) -> None:
    """A comment goes in by Core INSERT with its digest on the event. One inserted straight
    into the table, with no event, used to pass `audit verify` (rows no event recorded were
    not judged): a consultation could be stuffed unseen. A row newer than the first row its
    table's events recorded was written after digests were kept, so it must have an event."""
    commented(ctx)
    with Session(ctx.engine) as session:
        assert row_digests.verify(session)[1] == []
        genuine = session.exec(select(PublicComment).order_by(col(PublicComment.id))).first()
        assert genuine is not None
        forged = PublicComment(
            decision_id=genuine.decision_id,
            period_id=genuine.period_id,
            code="C3",
            text="一致支持",
            submitted_at=datetime(2026, 3, 5, 1, tzinfo=UTC),
        )
        session.add(forged)  # a plain write, no service and no audit event
        session.commit()
        forged_key = f"publiccomment:{forged.id}"
    with Session(ctx.engine) as session:
        assert verify_all(session)[2] == []  # the chains alone see nothing
        problems = row_digests.verify(session)[1]
    assert [p.line() for p in problems] == [
        f"ROW {forged_key}: written behind the service (no audit event recorded it)"
    ]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            'UPDATE outboxevent SET payload = \'{"decision": "D1", "url": "http://evil.example"}\' '
            "WHERE event_type = 'comment_period_opened'",
            "edited behind the service",
        ),
        (
            "DELETE FROM outboxevent WHERE event_type = 'flags_proposed' OR event_type = 'draft_submitted'",
            "deleted behind the service",
        ),
        (
            "INSERT INTO outboxevent (event_type, decision_id, idempotency_key, payload, created_at, flow, "
            "dispatch_attempts, dispatch_error) SELECT 'decision_published', decision_id, 'forged', payload, "
            "created_at, '', 0, '' FROM outboxevent WHERE event_type = 'draft_submitted'",
            "written behind the service (no audit event recorded it)",
        ),
    ],
    ids=["edited", "deleted", "forged"],
)
def test_an_outbox_row_changed_behind_the_service_is_caught(
    ctx: ServiceContext, edit: str, problem: str
) -> None:
    """The dispatcher turns outbox rows into Prefect runs and notices. Outbox rows were not
    guarded at all: one edited (a link sent to every recipient), deleted (a notice never
    sent) or forged passed `audit verify`. Their dispatch bookkeeping still moves freely."""
    commented(ctx)
    with ctx.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE outboxevent SET flow = 'decision-procedure', flow_run_id = 'run-1', dispatch_attempts = 2, "
                "dispatch_error = 'timeout', lease_until = created_at, dispatched_at = created_at"
            )
        )
    with Session(ctx.engine) as session:
        assert row_digests.verify(session)[1] == []
    with ctx.engine.begin() as conn:
        conn.execute(text(edit))
    with Session(ctx.engine) as session:
        assert verify_all(session)[2] == []
        problems = row_digests.verify(session)[1]
    assert [p.row.split(":")[0] for p in problems] == ["outboxevent"]
    assert problems[0].reason == problem


def test_a_comment_attachment_altered_in_the_data_folder_is_caught(ctx: ServiceContext) -> None:
    """A comment's attachment went into the data folder with no `StoredDocument` row, so
    `audit verify`, which re-hashes every recorded file, never looked at it: the file could
    be swapped or removed unseen."""
    commented(ctx)
    sent = act(
        ctx,
        "submit_public_comment",
        "public",
        "2026-03-05T09:00",
        decision="D1",
        text="见附件",
        attachment="原件",
    )
    with Session(ctx.engine) as session:
        comment = session.exec(select(PublicComment).where(PublicComment.code == sent.data["comment"])).one()
        assert comment.attachment_sha256 is not None
        assert verify_documents(session, ctx.documents)[1] == []
        ctx.documents.path_for(comment.attachment_sha256).write_bytes("篡改".encode())
        problems = verify_documents(session, ctx.documents)[1]
        assert [(p.sha256, p.reason.split(":")[0]) for p in problems] == [
            (comment.attachment_sha256, "altered")
        ]
        assert row_digests.verify(session)[1] == []


def test_a_database_older_than_the_digests_still_leaves_its_unrecorded_rows_unjudged(
    ctx: ServiceContext,
) -> None:
    """Where the first event recorded no digests (a database from before them), a row no
    event recorded may predate them: it is not judged, so an upgrade raises no false alarm."""
    with Session(ctx.engine) as session:
        audit.append(
            session,
            chain="setup:legacy",
            action="setup_jurisdiction",
            actor="system",
            actor_roles="system",
            occurred_at=at("2025-12-01T09:00"),
            payload={},
            decision_id=None,
        )
        session.commit()
    commented(ctx)
    with Session(ctx.engine) as session:
        genuine = session.exec(select(PublicComment)).first()
        assert genuine is not None
        session.add(PublicComment(**{**genuine.model_dump(exclude={"id"}), "code": "C9"}))
        session.commit()
    with Session(ctx.engine) as session:
        assert verify_all(session)[2] == [] and row_digests.verify(session)[1] == []


def test_every_event_an_action_or_the_sweep_emits_reaches_the_outbox(ctx: ServiceContext) -> None:
    """`Tx.emit` only queues; `write_outbox` writes. Every event type an audit event lists
    under `events` (registration, the comment window, the sweep closing it) is in the outbox
    once, and the record verifies."""
    commented(ctx)
    sweep_until(ctx, at("2026-04-03T09:00"))
    with Session(ctx.engine) as session:
        listed = Counter(
            kind
            for payload in session.exec(select(AuditEvent.payload).order_by(col(AuditEvent.id)))
            for kind in (payload or {}).get("events", [])
        )
        written = Counter(session.exec(select(OutboxEvent.event_type)).all())
        assert listed == written and listed["comment_period_closed"] == 1
        assert row_digests.verify(session)[1] == []


# ---------------------------------------------------------------- reserved and look-alike names
@pytest.mark.parametrize("look_alike", ["ѕystem", "system\u200b", "ｓｙｓｔｅｍ", "publіc"])
def test_a_look_alike_of_a_reserved_account_is_refused_naming_the_field(
    ctx: ServiceContext, look_alike: str
) -> None:
    """A Cyrillic `ѕ`, a zero-width space or full-width letters: `user add` (and the web's
    admin page, the same action) used to let pydantic's own error escape the service as a
    traceback instead of an INPUT refusal naming `id`; nothing may be written."""
    district(ctx)
    account = {"id": look_alike, "unit": "housing", "roles": ["department_staff"]}
    error = refused(ctx, "INPUT", "add_user", "liu", "2026-03-01T09:00", **account)
    assert error.field == "id"
    error = refused(
        ctx, "INPUT", "add_unit", "liu", "2026-03-01T09:00", id=look_alike, name="单位", kind="department"
    )
    assert error.field == "id"


# ---------------------------------------------------------------- registration's units
@pytest.mark.parametrize(
    ("units", "recorded"),
    [
        (["housing", "housing"], ["housing"]),
        (["commerce", "housing", "commerce"], ["commerce", "housing"]),
        ([], []),
    ],
)
def test_registration_keeps_each_unit_once(
    ctx: ServiceContext, units: list[str], recorded: list[str]
) -> None:
    district(ctx)
    act(ctx, "register_decision", "li", "2026-03-02T09:00", ref="D1", title="决策", category=1, units=units)
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision)).one()
        assert decision.unit_codes == recorded
        assert row_digests.verify(session)[1] == []


@pytest.mark.parametrize(
    ("units", "rule_id"),
    [
        (["HOUSING"], "NOT_FOUND"),
        (["housing", "Housing"], "NOT_FOUND"),
        (["housing", "nowhere"], "NOT_FOUND"),
        # read in one IN (...) statement: 70,000 codes passed PostgreSQL's 65,535 bound
        # parameters and came back as a raw database error
        ([f"u{i}" for i in range(70_000)], "INPUT"),
    ],
    ids=["upper-case", "case-variant", "unknown", "seventy-thousand"],
)
def test_registration_refuses_units_it_cannot_name(
    ctx: ServiceContext, units: list[str], rule_id: str
) -> None:
    district(ctx)
    registration = {"ref": "D1", "title": "决策", "category": 1, "units": units}
    error = refused(ctx, rule_id, "register_decision", "li", "2026-03-02T09:00", **registration)
    assert error.field == "units"


# ---------------------------------------------------------------- CSV cells
# formula starts the first escaping missed (test_spreadsheet_cells checks each cell)
PAYLOADS = [
    '＝HYPERLINK("http://evil.example","点击")',  # full-width equals sign
    "＋1+1",
    "－2+3+cmd|' /C calc'!A0",
    "＠SUM(A1)",
    " =1+1",  # blanks before the sign (LibreOffice's trim spaces)
    "\u3000=1+1",  # an ideographic space
    "\xa0-2+3+cmd|' /C calc'!A0",
    "\n=1+1",
    "'＝已转义",
    "' =已转义",
]


def test_a_catalogue_of_full_width_formulas_exports_as_text_and_reads_back(ctx: ServiceContext) -> None:
    names = [p for p in PAYLOADS if p == p.strip()]  # a payload's text has no blanks around it
    district(ctx)
    for name in names:
        act(
            ctx,
            "propose_catalogue_entry",
            "li",
            "2026-01-10T09:00",
            year=2026,
            matter_name=name,
            category=1,
            units=["housing"],
            legal_basis=name,
        )
    files = generate_catalogue_files(ctx, 2026, now=at("2026-01-10T09:00"))
    cells = [
        cell for row in csv.reader(io.StringIO(files.decisions["csv"].read_text("utf-8-sig"))) for cell in row
    ]
    for name in names:
        assert name not in cells and f"'{name}" in cells
    report = import_catalogue(
        ctx, files.decisions["csv"], year=2027, actor="liu", now=at("2026-01-10T09:00"), default_category=1
    )
    assert report.problems == [] and len(report.imported) == len(names)
    with Session(ctx.engine) as session:
        imported = session.exec(select(CatalogueEntry).order_by(col(CatalogueEntry.id))).all()[len(names) :]
    assert sorted(e.matter_name for e in imported) == sorted(names)
    assert sorted(e.legal_basis for e in imported) == sorted(names)
