"""The offices' desks act: a year's holiday notice loaded from an upload (size capped), user
accounts and units administered, a catalogue matter proposed; each only by the role it
needs, each audited as the signed-in user."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from flows.service import ServiceContext
from flows.service.calendar_admin import MAX_FILE_BYTES
from models import AuditEvent, CalendarDay, CalendarYear, CatalogueEntry, Deadline, Unit, User, UserRole
from tests.helpers import at, district, drafted, snapshot
from tests.staff_helpers import signed_in

ROOT = Path(__file__).resolve().parent.parent
NOTICE = ROOT / "calendars" / "2027.yaml"


def stop_clock(ctx: ServiceContext, when: str) -> None:
    moment = at(when)
    ctx.clock = lambda: moment


def jurisdiction_events(ctx: ServiceContext, action: str) -> list[AuditEvent]:
    with Session(ctx.engine) as session:
        return list(
            session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id)))
        )


def test_a_years_holiday_notice_is_loaded_from_an_upload(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    stop_clock(ctx, "2026-11-20T10:00")
    admin = signed_in(ctx, "liu")  # 区司法局, legal_head and admin
    page = admin.get("/work/admin/calendar")
    assert page.status_code == 200 and "2027" in page.text and "暂定" in page.text
    loaded = admin.form(
        "/work/admin/calendar", files={"file": ("2027.yaml", NOTICE.read_bytes(), "application/x-yaml")}
    )
    assert loaded.status_code == 303
    with Session(ctx.engine) as session:
        year = session.get(CalendarYear, 2027)
        assert year is not None and year.loaded_by == "liu"
        assert session.exec(select(CalendarDay).where(CalendarDay.day == at("2027-02-08T00:00").date())).one()
    (event,) = jurisdiction_events(ctx, "calendar_loaded")
    assert event.actor == "liu" and event.os_account == "web:liu@testclient"
    assert event.payload["file"] == "2027.yaml"
    shown = admin.get("/work/admin/calendar").text
    assert "已载入 2027 年放假安排" in shown and "已载入通知" in shown and "春节" in shown


def test_a_notice_upload_is_capped_and_checked(ctx: ServiceContext) -> None:
    district(ctx)
    stop_clock(ctx, "2026-11-20T10:00")
    admin = signed_in(ctx, "liu")
    others = {user: signed_in(ctx, user) for user in ("li", "zhou")}  # no administrator role
    before = snapshot(ctx)
    too_big = admin.form(
        "/work/admin/calendar", files={"file": ("big.yaml", b"#" * (MAX_FILE_BYTES + 1), "text/plain")}
    )
    assert too_big.status_code == 422
    assert 'id="file-error"' in too_big.text and "1024 KiB" in too_big.text
    huge = admin.form(
        "/work/admin/calendar", files={"file": ("big.yaml", b"#" * (3 * MAX_FILE_BYTES), "text/plain")}
    )
    assert huge.status_code == 422 and "1024 KiB" in huge.text  # refused by its declared length
    wrong = admin.form("/work/admin/calendar", files={"file": ("notice.txt", b"year: 2027", "text/plain")})
    assert wrong.status_code == 422 and ".yaml" in wrong.text
    broken = admin.form(
        "/work/admin/calendar",
        files={"file": ("2027.yaml", b"year: 2027\nholidays: [{name: x}]\n", "text/plain")},
    )
    assert broken.status_code == 422 and 'class="rule-id">INPUT' in broken.text
    none = admin.form("/work/admin/calendar", data={})
    assert none.status_code == 422
    assert snapshot(ctx) == before
    for web in others.values():
        assert web.get("/work/admin/calendar").status_code == 403
        refused = web.form(
            "/work/admin/calendar", files={"file": ("2027.yaml", NOTICE.read_bytes(), "text/plain")}
        )
        assert refused.status_code == 403
    assert snapshot(ctx) == before


def test_users_and_units_are_administered_through_the_actions(ctx: ServiceContext) -> None:
    district(ctx)
    stop_clock(ctx, "2026-03-02T09:00")
    admin = signed_in(ctx, "liu")
    added = admin.form("/work/admin/act/add_unit", {"id": "edu", "name": "区教育局", "kind": "department"})
    assert added.status_code == 303 and added.headers["location"] == "/work/admin/units"
    user = admin.form(
        "/work/admin/act/add_user",
        {"id": "qian", "name": "钱老师", "unit": "edu", "roles": ["department_staff", "department_head"]},
    )
    assert user.status_code == 303
    with Session(ctx.engine) as session:
        unit = session.exec(select(Unit).where(Unit.code == "edu")).one()
        account = session.exec(select(User).where(User.code == "qian")).one()
        roles = set(session.exec(select(UserRole.role).where(UserRole.user_id == account.id)).all())
    assert account.unit_id == unit.id and roles == {"department_staff", "department_head"}
    listed = admin.get("/work/admin/users").text
    assert "钱老师" in listed and "/work/admin/act/disable_user?id=qian" in listed
    form = admin.get("/work/admin/act/disable_user", params={"id": "qian"}).text
    assert 'value="qian"' in form  # prefilled from the list's link
    missing_reason = admin.form("/work/admin/act/disable_user", {"id": "qian"})
    assert missing_reason.status_code == 422 and 'aria-describedby="reason-error"' in missing_reason.text
    disabled = admin.form("/work/admin/act/disable_user", {"id": "qian", "reason": "调离"})
    assert disabled.status_code == 303
    with Session(ctx.engine) as session:
        assert session.exec(select(User).where(User.code == "qian")).one().active is False
    own = admin.form("/work/admin/act/disable_user", {"id": "liu", "reason": "x"})
    assert own.status_code == 422 and "不能停用本人账号" in own.text
    assert [e.os_account for e in jurisdiction_events(ctx, "add_user")] == ["web:liu@testclient"]
    # the disabled account is signed out at once: its session no longer opens the pages
    assert signed_in(ctx, "qian").get("/work").status_code == 303
    assert (
        signed_in(ctx, "li")
        .form("/work/admin/act/add_unit", {"id": "x", "name": "x", "kind": "department"})
        .status_code
        == 403
    )


def test_a_catalogue_matter_is_proposed_and_reviewed_from_the_workspace(ctx: ServiceContext) -> None:
    district(ctx)
    stop_clock(ctx, "2026-01-10T09:00")
    department = signed_in(ctx, "li")
    page = department.get("/work/catalogue/2026").text
    assert "本年度尚未开始编制目录" in page and "/work/catalogue/2026/act/propose_catalogue_entry" in page
    proposed = department.form(
        "/work/catalogue/2026/act/propose_catalogue_entry",
        {
            "matter_name": "旧城改造房屋征收补偿标准",
            "category": "1",
            "units": ["housing"],
            "lead_unit": "housing",
            "procedures_required": ["public_participation", "risk_assessment"],
            "planned_decision_time": "2026年第三季度",
        },
    )
    assert proposed.status_code == 303 and proposed.headers["location"] == "/work/catalogue/2026"
    with Session(ctx.engine) as session:
        entry = session.exec(select(CatalogueEntry)).one()
    assert entry.proposed_by == "li" and entry.procedures_required == [
        "public_participation",
        "risk_assessment",
    ]
    legal = signed_in(ctx, "wang")
    review_page = legal.get("/work/catalogue/2026").text
    assert f'<option value="{entry.code}">' in review_page  # the proposed matter to review
    left_out = legal.form(
        "/work/catalogue/2026/act/review_catalogue_entry", {"entry": entry.code, "include": "0"}
    )
    assert left_out.status_code == 422 and "不纳入目录须说明理由" in left_out.text  # §2.5
    included = legal.form(
        "/work/catalogue/2026/act/review_catalogue_entry", {"entry": entry.code, "include": "1"}
    )
    assert included.status_code == 303
    assert "已纳入" in legal.get("/work/catalogue/2026").text
    # the Party liaison may not publish; the government office is refused R21 before Party approval
    office = signed_in(ctx, "zhou")
    refused = office.form(
        "/work/catalogue/2026/act/publish_catalogue",
        {"url": "https://www.example.gov.cn/ml", "published_on": "2026-01-10"},
    )
    assert refused.status_code == 409 and 'class="rule-id">R21' in refused.text
    assert (
        signed_in(ctx, "chen")
        .form(
            "/work/catalogue/2026/act/publish_catalogue",
            {"url": "https://x.example/", "published_on": "2026-01-10"},
        )
        .status_code
        == 403
    )


def test_deadlines_of_a_loaded_year_are_recomputed_and_shown(ctx: ServiceContext) -> None:
    """A deadline counted over a year without a notice is provisional (P13) on the decision
    page until the notice is loaded from the calendar page."""
    district(ctx)
    drafted(ctx)
    stop_clock(ctx, "2026-12-10T09:00")
    web = signed_in(ctx, "li")
    opened = web.form(
        "/work/decisions/D1/act/open_comment_period",
        {"start_date": "2026-12-10", "end_date": "2027-01-09", "channels": "网站"},
    )
    assert opened.status_code == 303
    with Session(ctx.engine) as session:
        assert session.exec(select(Deadline)).one().provisional
    assert "暂定" in web.get("/work/decisions/D1").text
    signed_in(ctx, "liu").form(
        "/work/admin/calendar", files={"file": ("2027.yaml", NOTICE.read_bytes(), "text/plain")}
    )
    with Session(ctx.engine) as session:
        deadline = session.exec(select(Deadline)).one()
    assert not deadline.provisional
    dates = web.get("/work/decisions/D1").text
    assert deadline.due_date.isoformat() in dates
