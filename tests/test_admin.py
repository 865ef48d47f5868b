"""A real government sets itself up: `decisionflow init` from a YAML file (and the CSV files
bureaus keep), then audited administration of units, accounts and settings."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from flows.service import ServiceContext
from models import AuditEvent, Jurisdiction, Unit, User, UserRole
from models.db import make_engine
from tests.conftest import POSTGRES_URL
from tests.helpers import act, district, refused

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


# ---------------------------------------------------------------- the service actions
def test_an_admin_adds_a_unit_and_a_user_who_can_then_act(ctx: ServiceContext) -> None:
    district(ctx)
    act(
        ctx,
        "add_unit",
        "liu",
        "2026-03-01T09:00",
        id="culture",
        name="区文化广电旅游体育局",
        kind="department",
    )
    act(ctx, "add_user", "liu", "2026-03-01T09:05", id="xu", unit="culture", roles=["department_staff"])
    result = act(
        ctx,
        "register_decision",
        "xu",
        "2026-03-02T09:00",
        title="公共文化设施免费开放办法",
        category=1,
        lead_unit="culture",
    )
    assert result.data["decision"]
    with Session(ctx.engine) as session:
        actions = [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]
        assert {"add_unit", "add_user"} <= set(actions)


def test_only_an_admin_administers(ctx: ServiceContext) -> None:
    district(ctx)
    refused(ctx, "AUTH", "add_unit", "li", "2026-03-01T09:00", id="x", name="某局", kind="department")
    refused(
        ctx,
        "AUTH",
        "add_user",
        "wang",
        "2026-03-01T09:00",
        id="y",
        unit="housing",
        roles=["department_staff"],
    )
    refused(
        ctx,
        "AUTH",
        "change_settings",
        "zhou",
        "2026-03-01T09:00",
        settings={"archive_due_days": 40},
        reason="r",
    )


def test_a_code_taken_an_unknown_unit_or_role_is_refused(ctx: ServiceContext) -> None:
    district(ctx)
    refused(ctx, "INPUT", "add_unit", "liu", "2026-03-01T09:00", id="housing", name="重复", kind="department")
    refused(
        ctx,
        "INPUT",
        "add_user",
        "liu",
        "2026-03-01T09:00",
        id="li",
        unit="housing",
        roles=["department_staff"],
    )
    refused(
        ctx,
        "NOT_FOUND",
        "add_user",
        "liu",
        "2026-03-01T09:00",
        id="n",
        unit="nowhere",
        roles=["department_staff"],
    )
    refused(ctx, "INPUT", "add_user", "liu", "2026-03-01T09:00", id="n", unit="housing", roles=["public"])


@pytest.mark.parametrize("reserved", ["system", "public", "System", " system", "SYSTEM", "public "])
def test_no_account_takes_the_name_of_the_system_or_the_public(ctx: ServiceContext, reserved: str) -> None:
    """An account named `system` would be refused as an actor forever, or worse be taken for
    the sweep's identity; one named `public` would act as the anonymous public."""
    district(ctx)
    error = refused(
        ctx,
        "INPUT",
        "add_user",
        "liu",
        "2026-03-01T09:00",
        id=reserved,
        unit="justice",
        roles=["admin"],
    )
    assert error.field == "users.id" and "reserved" in str(error)
    with Session(ctx.engine) as session:
        assert session.exec(select(User).where(col(User.code) == reserved)).first() is None


def test_init_refuses_a_reserved_account_name(tmp_path: Path) -> None:
    spec = tmp_path / "reserved.yaml"
    spec.write_text(
        "jurisdiction: {organ: 某区人民政府}\nunits: [{id: j, name: 司法局, kind: legal_office}]\n"
        "users: [{id: a, unit: j, roles: [admin]}, {id: system, unit: j, roles: [admin]}]\n",
        encoding="utf-8",
    )
    url = sqlite_url(tmp_path)
    result = runner.invoke(app, ["init", str(spec), "--database", url])
    assert result.exit_code == 2 and "reserved" in result.output, result.output
    engine = make_engine(url)
    with Session(engine) as session:
        assert session.exec(select(Jurisdiction)).first() is None  # nothing half-written
    engine.dispose()


def test_a_disabled_account_can_no_longer_act_and_is_kept(ctx: ServiceContext) -> None:
    district(ctx)
    refused(ctx, "INPUT", "disable_user", "liu", "2026-03-01T09:00", id="liu", reason="离职")  # not oneself
    act(ctx, "disable_user", "liu", "2026-03-01T09:00", id="li", reason="调离")
    with pytest.raises(Exception) as caught:
        act(ctx, "register_decision", "li", "2026-03-02T09:00", title="t", category=1, lead_unit="housing")
    assert getattr(caught.value, "rule_id", None) in ("NOT_FOUND", "AUTH")
    with Session(ctx.engine) as session:
        assert session.exec(select(User).where(User.code == "li")).one().active is False
    refused(ctx, "STATE", "disable_user", "liu", "2026-03-01T10:00", id="li", reason="again")


def test_settings_change_holds_the_statutory_floors(ctx: ServiceContext) -> None:
    district(ctx)
    refused(
        ctx,
        "P17",
        "change_settings",
        "liu",
        "2026-03-01T09:00",
        settings={"comment_period_min_days": 20},
        reason="r",
    )
    refused(
        ctx, "R22", "change_settings", "liu", "2026-03-01T09:00", settings={"quorum_fraction": 1}, reason="r"
    )
    act(
        ctx,
        "change_settings",
        "liu",
        "2026-03-01T09:00",
        settings={"comment_period_min_days": 40},
        reason="本地规定",
    )
    with Session(ctx.engine) as session:
        assert session.exec(select(Jurisdiction)).one().settings["comment_period_min_days"] == 40


# ---------------------------------------------------------------- the CLI
def sqlite_url(tmp_path: Path) -> str:
    """A new SQLite database, made as an operator makes one: `db upgrade` (init never creates
    a file: a mistyped path is an error)."""
    url = f"sqlite:///{tmp_path / 'district.db'}"
    if not (tmp_path / "district.db").exists():
        made = runner.invoke(app, ["db", "upgrade", "--database", url])
        assert made.exit_code == 0, made.output
    return url


def test_init_reads_yaml_and_the_csv_files_bureaus_keep(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    result = runner.invoke(app, ["init", str(ROOT / "examples" / "district.yaml"), "--database", url])
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with Session(engine) as session:
        units = {u.code: u.kind.value for u in session.exec(select(Unit))}
        assert units["housing"] == "department" and units["justice"] == "legal_office"
        liu = session.exec(select(User).where(User.code == "liu")).one()
        roles = set(session.exec(select(UserRole.role).where(UserRole.user_id == liu.id)).all())
        assert roles == {"legal_head", "supervisor"}  # "legal_head、supervisor" in the CSV
    engine.dispose()
    again = runner.invoke(app, ["init", str(ROOT / "examples" / "district.yaml"), "--database", url])
    assert again.exit_code == 2 and "already has a jurisdiction" in again.output


def test_init_refuses_a_file_without_an_admin_or_below_a_floor(tmp_path: Path) -> None:
    no_admin = tmp_path / "a.yaml"
    no_admin.write_text(
        "jurisdiction: {organ: 某区人民政府}\nunits: [{id: j, name: 司法局, kind: legal_office}]\n"
        "users: [{id: w, unit: j, roles: [legal_reviewer]}]\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["init", str(no_admin), "--database", sqlite_url(tmp_path)])
    assert result.exit_code == 2 and "admin" in result.output
    low = tmp_path / "b.yaml"
    low.write_text(
        "jurisdiction: {organ: 某区人民政府, settings: {legality_review_min_working_days: 5}}\n"
        "units: [{id: j, name: 司法局, kind: legal_office}]\nusers: [{id: a, unit: j, roles: [admin]}]\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["init", str(low), "--database", sqlite_url(tmp_path)])
    assert (
        result.exit_code == 2
        and "P17" in result.output
        and "legality_review_min_working_days" in result.output
    )


def test_unit_user_and_settings_commands_line_up_chinese_text(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    assert (
        runner.invoke(app, ["init", str(ROOT / "examples" / "district.yaml"), "--database", url]).exit_code
        == 0
    )
    added = runner.invoke(
        app,
        [
            "unit",
            "add",
            "culture",
            "区文化广电旅游体育局",
            "--kind",
            "部门",
            "--actor",
            "admin",
            "--database",
            url,
        ],
    )
    assert added.exit_code == 0, added.output
    refused_add = runner.invoke(
        app, ["unit", "add", "x", "某局", "--kind", "department", "--actor", "li", "--database", url]
    )
    assert refused_add.exit_code == 2 and "AUTH" in refused_add.output
    listing = runner.invoke(app, ["unit", "list", "--database", url]).output
    lines = [line for line in listing.splitlines() if "housing" in line or "culture" in line]
    # rich counts a Chinese character as two columns: the border after the name column lines up
    assert len({_display_width(line[: line.rindex("│")]) for line in lines}) == 1, listing
    shown = runner.invoke(app, ["settings", "show", "--database", url]).output
    assert "hearing_notice_days" in shown and "15" in shown


def _display_width(text_value: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text_value)


# ---------------------------------------------------------------- the README's commands
def readme_setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- setup-commands.*?-->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "the README's setup commands are missing"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_sets_up_a_district_on_postgresql_in_three_commands_then_registers(
    fresh_postgres_schema: tuple[str, str], tmp_path: Path
) -> None:
    """Runs exactly the README's lines, on a new PostgreSQL database made for the test."""
    commands = readme_setup_commands()
    assert len(commands) == 4 and commands[-1].split()[1] == "act"
    name = f"readme_{uuid.uuid4().hex[:10]}"
    data_dir = tmp_path / "data"
    admin = make_engine(POSTGRES_URL)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        bin_dir = Path(sys.executable).parent
        environment = {**os.environ, "DECISIONFLOW_DATA_DIR": str(data_dir)}
        outputs = []
        for line in commands:
            args = shlex.split(line.replace("5432/district", f"5432/{name}"))
            args[0] = str(bin_dir / "decisionflow")
            done = subprocess.run(
                args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env=environment
            )
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            outputs.append(done.stdout)
        assert "administrators admin" in outputs[1]
        assert '"decision": "JC-' in outputs[-1]
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
