"""The staff pages read on the demo district (built once for the module): each page for the
role it serves, with that role's data, and refused to the wrong role, unit or to anyone
without a role on a confidential decision."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest

from flows import procedure as proc
from flows.demo import DemoResult
from flows.service import ServiceContext
from tests.staff_helpers import DEMO_NOW, SHANGHAI, client, demo_database, signed_in


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[ServiceContext, DemoResult]]:
    with demo_database() as built:
        yield built


@pytest.fixture(scope="module")
def codes(demo: tuple[ServiceContext, DemoResult]) -> dict[str, str]:
    return demo[1].codes


@pytest.fixture(scope="module")
def ctx(demo: tuple[ServiceContext, DemoResult]) -> ServiceContext:
    return demo[0]


def table_rows(html: str, section: str) -> list[str]:
    """The rows of the first table inside <section ... id="section">."""
    start = html.index(f'id="{section}"')
    body = html[start : html.index("</section>", start)]
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)


def listed_codes(html: str) -> set[str]:
    return set(re.findall(r'href="/work/decisions/(SF-\d{4}-\d{3})"', html))


# ---------------------------------------------------------------------------- the home page
def test_every_staff_page_needs_a_signed_in_user(ctx: ServiceContext, codes: dict[str, str]) -> None:
    web = client(ctx)
    for path in (
        "/work",
        "/work/decisions",
        f"/work/decisions/{codes['renewal']}",
        "/work/decisions/new",
        "/work/legality",
        f"/work/meetings/{codes['reserve']}",
        "/work/catalogue/2026",
        "/work/admin/users",
        "/work/admin/calendar",
    ):
        answer = web.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == f"/login?next={path}"
    refused = web.post(f"/work/decisions/{codes['renewal']}/act/respond_to_input", data={"csrf_token": "x"})
    assert refused.status_code == 303  # sent to sign in before anything else is looked at


def test_the_home_page_lists_what_each_role_can_do_now(ctx: ServiceContext, codes: dict[str, str]) -> None:
    department = signed_in(ctx, "liwei").get("/work")  # 区住房和城乡建设局, renewal in its comment period
    assert department.status_code == 200
    tasks = table_rows(department.text, "tasks")
    assert any(codes["renewal"] in row and "提交风险评估报告" in row for row in tasks)
    assert any(codes["renewal"] in row and "答复意见" in row for row in tasks)
    assert all(codes["industry"] not in row for row in tasks)  # another department's decision

    legal = signed_in(ctx, "wanglei").get("/work").text
    rows = table_rows(legal, "tasks")
    assert any(codes["epidemic"] in row and "出具合法性审查意见" in row for row in rows)
    assert any(codes["industry"] in row and "审核通过阶段" in row for row in rows)

    office = signed_in(ctx, "zhouwen").get("/work").text
    rows = table_rows(office, "tasks")
    meeting = next(row for row in rows if codes["reserve"] in row)
    assert f'href="/work/meetings/{codes["reserve"]}"' in meeting and "记录集体讨论会议" in meeting
    assert any(codes["elevators"] in row and "决定启动决策程序" in row for row in rows)

    supervisor = signed_in(ctx, "yangfan").get("/work").text
    assert table_rows(supervisor, "tasks") == [] and "暂无待办事项" in supervisor


def test_deadlines_show_their_traffic_light_on_the_working_day_calendar(
    ctx: ServiceContext, codes: dict[str, str]
) -> None:
    """The renewal's comment period ends on 2026-12-17 (Thursday): on time at the demo's now,
    due soon within three working days, due today on the day; the epidemic's legality opinion
    is due 2026-12-15 and is overdue the morning after (P6)."""

    def light(user: str, moment: datetime, code: str, kind: str) -> str:
        page = signed_in(replace(ctx, clock=lambda: moment), user).get("/work").text
        row = next(r for r in table_rows(page, "deadlines") if code in r and kind in r)
        return re.search(r'class="lamp (\w+)"', row).group(1)  # type: ignore[union-attr]

    assert light("liwei", DEMO_NOW, codes["renewal"], "公开征求意见截止") == "ok"
    assert (
        light("liwei", datetime(2026, 12, 15, 9, 0, tzinfo=SHANGHAI), codes["renewal"], "公开征求意见截止")
        == "soon"
    )
    assert (
        light("liwei", datetime(2026, 12, 17, 9, 0, tzinfo=SHANGHAI), codes["renewal"], "公开征求意见截止")
        == "today"
    )
    overdue = datetime(2026, 12, 16, 9, 0, tzinfo=SHANGHAI)
    assert light("wanglei", overdue, codes["epidemic"], "合法性审查意见") == "late"
    page = signed_in(replace(ctx, clock=lambda: overdue), "wanglei").get("/work").text
    assert re.search(r'class="tile late"><span class="num">[1-9]', page)  # counted in the summary
    # a department sees the deadlines of its own decisions only
    assert codes["epidemic"] not in "".join(
        table_rows(signed_in(ctx, "liwei").get("/work").text, "deadlines")
    )


# ---------------------------------------------------------------------------- decisions
def test_a_department_lists_only_its_own_decisions(ctx: ServiceContext, codes: dict[str, str]) -> None:
    fgj = listed_codes(signed_in(ctx, "zhoumin").get("/work/decisions").text)  # 区发展和改革局
    assert fgj == {codes["industry"], codes["reserve"], codes["parking"]}
    zjj = listed_codes(signed_in(ctx, "liwei").get("/work/decisions").text)
    assert zjj == {codes["renewal"], codes["elevators"]}
    everything = listed_codes(signed_in(ctx, "zhouwen").get("/work/decisions").text)
    assert everything == set(codes.values())


def test_the_decision_list_filters_by_status_unit_and_stage(
    ctx: ServiceContext, codes: dict[str, str]
) -> None:
    web = signed_in(ctx, "zhouwen")
    assert listed_codes(web.get("/work/decisions", params={"status": "published"}).text) == {codes["school"]}
    assert listed_codes(web.get("/work/decisions", params={"unit": "fgj"}).text) == {
        codes["industry"],
        codes["reserve"],
        codes["parking"],
    }
    assert listed_codes(web.get("/work/decisions", params={"stage": "legality_review"}).text) == {
        codes["epidemic"]
    }
    assert listed_codes(web.get("/work/decisions", params={"status": "proposed", "unit": "zjj"}).text) == {
        codes["elevators"]
    }


def test_another_departments_file_is_refused(ctx: ServiceContext, codes: dict[str, str]) -> None:
    web = signed_in(ctx, "liwei")  # 区住房和城乡建设局; the industry policy is 区发展和改革局's
    industry = codes["industry"]
    for path in (
        f"/work/decisions/{industry}",
        f"/work/decisions/{industry}/act/record_fair_competition_review",
        f"/work/decisions/{industry}/diff?old=1&new=2",
        f"/work/decisions/{industry}/documents/1",
        f"/work/meetings/{industry}",
    ):
        answer = web.get(path)
        assert answer.status_code == 403, path
        assert "AUTH" in answer.text and "区促进先进制造业" not in answer.text


def test_a_confidential_decision_is_hidden_from_those_without_a_role_on_it(
    ctx: ServiceContext, codes: dict[str, str]
) -> None:
    reserve = codes["reserve"]  # 区应急物资储备库布局方案, confidential, 区发展和改革局
    for outsider in ("liwei", "qianfang", "zhengjie"):  # other departments
        web = signed_in(ctx, outsider)
        assert reserve not in web.get("/work/decisions").text
        assert reserve not in web.get("/work").text
        assert web.get(f"/work/decisions/{reserve}").status_code == 403
        assert web.get(f"/work/meetings/{reserve}").status_code == 403
    for insider in ("zhoumin", "wanglei", "zhouwen", "quzhang", "chenchen", "yangfan"):
        page = signed_in(ctx, insider).get(f"/work/decisions/{reserve}")
        assert page.status_code == 200, insider
        assert "区应急物资储备库布局方案" in page.text and "依法不予公开" in page.text


def test_the_decision_page_shows_the_whole_file(ctx: ServiceContext, codes: dict[str, str]) -> None:
    page = signed_in(ctx, "liwei").get(f"/work/decisions/{codes['renewal']}")
    assert page.status_code == 200
    html = page.text
    # stages as a timeline, the current one marked
    assert re.search(r'class="tl-active tl-current">.*?S3 公众参与.*?进行中', html, re.S)
    assert re.search(r'class="tl-completed">.*?S2 拟订草案.*?已完成', html, re.S)
    # the projected statutory dates of the remaining steps, with their articles
    dates = "".join(table_rows(html, "dates"))
    assert "2026-12-17 星期四" in dates and "公开征求意见截止" in dates and "Art. 15(1)" in dates
    assert "送请合法性审查" in dates and "Art. 26(1)" in dates and "Art. 33; P10" in dates
    # drafts and documents, inputs and their responses, the audit trail
    assert "第1稿" in html and "/documents/" in html
    # documents and deadlines named as the procedure names their kinds
    procedure = proc.procedure()
    assert f"<td>{procedure.evidence_kinds['draft'].zh}</td>" in html
    deadline = re.escape(procedure.deadline_kinds["comment_period_end"].zh)
    assert re.search(r'<tr class="row-\w+">\s*<td>.*?</td>\s*<td>' + deadline, html, re.S)
    inputs = "".join(table_rows(html, "inputs"))
    assert "补偿标准应参照周边新建商品房价格" in inputs and "尚未答复" in inputs
    assert (
        f"/work/decisions/{codes['renewal']}/act/respond_to_input?input=C1&amp;input_kind=comment" in inputs
    )
    audit = "".join(table_rows(html, "audit"))
    assert "登记决策事项" in audit and "公开征求意见" in audit and "liwei" in audit
    # the roles each actor held, by their names, not their codes; a first draft says so in Chinese
    assert proc.ROLES["department_staff"][0] in audit and "department_staff" not in audit
    assert "初稿" in "".join(table_rows(html, "drafts"))
    # the actions the user may take now, as forms posting with the CSRF token
    assert 'action="/work/decisions/' + codes["renewal"] + '/act/submit_risk_assessment"' in html
    assert 'name="csrf_token"' in html and 'name="risk_points"' in html
    assert "/act/submit_for_legality_review" not in html  # the risk assessment must come first
    # the legal office's reviewer sees the file but none of the department's forms
    legal = signed_in(ctx, "wanglei").get(f"/work/decisions/{codes['renewal']}").text
    assert "补偿标准应参照周边新建商品房价格" in legal and "/act/submit_risk_assessment" not in legal


def test_two_draft_versions_are_compared(ctx: ServiceContext, codes: dict[str, str]) -> None:
    web = signed_in(ctx, "wanglei")
    page = web.get(f"/work/decisions/{codes['reserve']}/diff", params={"old": 1, "new": 2})
    assert page.status_code == 200
    assert re.search(r"<del>[^<]*征求意见稿[^<]*</del>", page.text)
    assert re.search(r"<ins>[^<]*删除原第十二条[^<]*</ins>", page.text)
    assert "按合法性审查意见删除第十二条" in page.text  # the revision's reason
    assert web.get(f"/work/decisions/{codes['reserve']}/diff", params={"old": 1, "new": 9}).status_code == 404


def test_a_document_is_shown_only_under_its_own_decision(ctx: ServiceContext, codes: dict[str, str]) -> None:
    web = signed_in(ctx, "liwei")
    html = web.get(f"/work/decisions/{codes['renewal']}").text
    first = re.search(r'/work/decisions/SF-\d{4}-\d{3}/documents/(\d+)">决策草案', html)
    assert first is not None
    document = first.group(1)
    shown = web.get(f"/work/decisions/{codes['renewal']}/documents/{document}")
    assert shown.status_code == 200 and "（征求意见稿）" in shown.text
    elsewhere = signed_in(ctx, "zhouwen").get(f"/work/decisions/{codes['school']}/documents/{document}")
    assert elsewhere.status_code == 404


# ---------------------------------------------------------------------------- the legal office
def test_the_legality_queue_shows_the_working_day_clock(ctx: ServiceContext, codes: dict[str, str]) -> None:
    page = signed_in(ctx, "wanglei").get("/work/legality")
    assert page.status_code == 200
    (row,) = table_rows(page.text, "reviews")[1:]
    # submitted Tue 2026-11-24; now Fri 11-27: 3 working days of the 7 used, 4 left before the
    # earliest meeting on Thu 12-03; the opinion is due on 12-15 (15 working days, P6)
    assert codes["epidemic"] in row and "2026-11-24 星期二" in row
    assert re.search(r"<strong>3</strong> / 7", row)
    assert "距可召开会议尚需 4 个工作日" in row
    assert "2026-12-03 星期四" in row and "2026-12-15 星期二" in row and "2026-12-15 24:00" in row
    assert "剩余 12 个工作日" in row
    approvals = "".join(table_rows(page.text, "approvals"))
    assert codes["industry"] in approvals and "公众参与" in approvals
    for other in ("liwei", "zhouwen", "yangfan"):
        assert signed_in(ctx, other).get("/work/legality").status_code == 403


# ---------------------------------------------------------------------------- the meeting
def test_the_meeting_page_shows_the_roster_quorum_and_opinions_in_speaking_order(
    ctx: ServiceContext, codes: dict[str, str]
) -> None:
    office = signed_in(ctx, "zhouwen")
    page = office.get(f"/work/meetings/{codes['reserve']}").text
    assert "至少 3 人出席" in page  # 5 members, more than half (P11)
    names = re.findall(r"<td>(\S+) <code>(\w+)</code>", page)
    assert [code for _, code in names][-1] == "quzhang"  # the head speaks last
    assert 'action="/work/meetings/' + codes["reserve"] + '"' in page
    decided = office.get(f"/work/meetings/{codes['elderly']}").text
    spoken = re.findall(r"<tr><td>(\d)</td><td>([^<]+)", decided)
    assert [name for _, name in spoken] == [
        "常务副区长张明",
        "副区长王芳",
        "副区长刘强",
        "副区长黄海",
        "区长 ",
    ]
    assert "应到 5 人，实到 5 人" in decided and 'action="/work/meetings/' not in decided
    # the department that undertakes it reads the record but cannot record a meeting
    own = signed_in(ctx, "zhoumin").get(f"/work/meetings/{codes['reserve']}")
    assert own.status_code == 200 and 'action="/work/meetings/' not in own.text


# ---------------------------------------------------------------------------- catalogue and administration
def test_the_catalogue_workspace_shows_versions_entries_and_exports(
    ctx: ServiceContext, codes: dict[str, str]
) -> None:
    web = signed_in(ctx, "zhouwen")
    page = web.get("/work/catalogue/2026")
    assert page.status_code == 200
    versions = table_rows(page.text, "versions")[1:]
    assert len(versions) == 2 and "现行有效" in versions[1]
    entries = "".join(table_rows(page.text, "entries"))
    assert "区防汛防旱防风应急预案修订" in entries and "未纳入" in entries and "突发事件应对法" in entries
    assert "区应急物资储备库布局方案" not in entries  # a confidential matter is not catalogued
    exported = web.get("/work/catalogue/2026/export/2/decisions.csv")
    assert exported.status_code == 200 and "区旧城改造房屋征收补偿标准" in exported.content.decode(
        "utf-8-sig"
    )
    assert web.get("/work/catalogue/2026/export/2/secrets.csv").status_code == 404
    assert web.get("/work/catalogue").headers["location"] == "/work/catalogue/2026"
    # the forms follow the roles: the department may adjust, not publish
    department = signed_in(ctx, "liwei").get("/work/catalogue/2026").text
    assert "/act/adjust_catalogue" in department and "/act/publish_catalogue" not in department


def test_administration_is_for_administrators(ctx: ServiceContext) -> None:
    admin = signed_in(ctx, "liuyang")
    users = admin.get("/work/admin/users")
    assert users.status_code == 200 and "周文" in users.text and "区政府办公室" in users.text
    assert "区教育局" in admin.get("/work/admin/units").text
    calendar = admin.get("/work/admin/calendar")
    assert calendar.status_code == 200 and "春节" in calendar.text and 'type="file"' in calendar.text
    for path in (
        "/work/admin/users",
        "/work/admin/units",
        "/work/admin/calendar",
        "/work/admin/act/add_user",
    ):
        assert signed_in(ctx, "zhouwen").get(path).status_code == 403, path


def test_english_is_switchable_on_the_staff_pages(ctx: ServiceContext, codes: dict[str, str]) -> None:
    web = signed_in(ctx, "liwei")
    web.cookies.set("lang", "en")
    page = web.get(f"/work/decisions/{codes['renewal']}").text
    assert "Statutory dates of the remaining steps" in page and "Submit the risk assessment" in page
    assert "尚待完成步骤的法定日期" not in page


def test_every_action_on_a_decision_has_a_form_for_the_roles_it_names(
    ctx: ServiceContext, codes: dict[str, str]
) -> None:
    """On the parking decision (区发展和改革局), each action's form opens for a user holding one
    of its roles, with an input for every payload field; the public's actions are the portal's."""
    from flows import procedure as proc
    from flows.service import REGISTRY
    from flows.service.worklist import decision_actions

    holder = {
        "department_staff": "zhoumin",
        "legal_reviewer": "wanglei",
        "gov_office": "zhouwen",
        "head": "quzhang",
        "party_liaison": "chenchen",
    }
    clients = {user: signed_in(ctx, user) for user in holder.values()}
    parking = codes["parking"]
    for action in decision_actions():
        roles = proc.procedure().actions[action].roles
        user = next((holder[role] for role in sorted(roles) if role in holder), None)
        if user is None:
            assert roles == {"public"}, action
            assert clients["zhoumin"].get(f"/work/decisions/{parking}/act/{action}").status_code == 403
            continue
        page = clients[user].get(f"/work/decisions/{parking}/act/{action}")
        if action == "record_meeting":  # the meeting has a page of its own
            assert page.status_code == 303 and page.headers["location"] == f"/work/meetings/{parking}"
            continue
        assert page.status_code == 200, (action, user)
        for name in set(REGISTRY[action].payload.model_fields) - {"decision"}:
            assert f'name="{name}"' in page.text, (action, name)


def test_a_catalogued_matter_links_to_a_prefilled_registration(ctx: ServiceContext) -> None:
    web = signed_in(ctx, "liwei")
    page = web.get("/work/catalogue/2026").text
    link = re.search(r'href="(/work/decisions/new\?catalogue_entry=2026%2FE7&amp;[^"]*)"', page)
    assert link is not None
    form = web.get(link.group(1).replace("&amp;", "&")).text
    assert 'value="2026/E7"' in form and 'value="区旧城改造房屋征收补偿标准"' in form
    assert re.search(r'<option value="zjj" selected>', form)
