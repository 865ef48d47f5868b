"""The core CLI commands: `act` reports bad input with the field and rule INPUT (exit 2),
`procedure show` prints the procedure with its articles, `scenario run` passes a good
file and names the step and field of a broken one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from cli import app
from flows import procedure as proc
from flows.service import ServiceContext
from models.db import make_engine, mark_database, normalise_url
from tests import conftest as suite
from tests.helpers import district
from tests.schema import create_all

ROOT = Path(__file__).resolve().parent.parent
THIN_PATH = ROOT / "scenarios" / "01_thin_path.yaml"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def schema_url(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections use `schema` (libpq `options`)."""
    return f"{url}?options=-csearch_path%3D{schema}"


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The suite's database (a SQLite file, or a fresh PostgreSQL schema) with the standard
    district set up, as a URL for --database."""
    if normalise_url(suite.test_database_url()).startswith("postgresql"):
        url = schema_url(*request.getfixturevalue("fresh_postgres_schema"))
    else:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    create_all(engine)
    mark_database(engine, "scenario", "tests")  # simulated clock: the test replays time
    district(ServiceContext(engine=engine, data_dir=tmp_path / "data"))
    engine.dispose()
    return url


REGISTER = {"ref": "D1", "title": "区政务服务事项清单调整", "category": 1, "lead_unit": "housing"}


def register(database: str, payload: dict[str, object], *extra: str) -> Result:
    return run(
        "act",
        "register_decision",
        "--actor",
        "li",
        "--with",
        json.dumps(payload, ensure_ascii=False),
        "--now",
        "2026-03-02T09:00",
        "--database",
        database,
        *extra,
    )


def assert_input_error(result: Result, field: str) -> None:
    assert result.exit_code == 2, result.output
    assert "INPUT" in result.output, result.output
    assert f"[{field}]" in result.output, result.output


# ---------------------------------------------------------------- act
def test_act_performs_an_action_and_prints_json(database: str) -> None:
    result = register(database, REGISTER)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["ok"] is True and printed["decision"] == "D1"


def test_act_with_bad_json_names_the_option(database: str) -> None:
    result = run("act", "register_decision", "--actor", "li", "--with", "{ref: D1", "--database", database)
    assert_input_error(result, "--with")
    assert "JSON" in result.output


def test_act_with_json_that_is_not_an_object(database: str) -> None:
    result = run("act", "register_decision", "--actor", "li", "--with", "[1, 2]", "--database", database)
    assert_input_error(result, "--with")


def test_act_with_an_unknown_action_names_it(database: str) -> None:
    result = run("act", "frobnicate_decision", "--actor", "li", "--with", "{}", "--database", database)
    assert_input_error(result, "action")
    assert "frobnicate_decision" in result.output
    # and lists the valid ones, so the user can pick one
    assert "the actions are: " in result.output and "register_decision" in result.output


def test_act_with_an_unknown_field_names_the_field(database: str) -> None:
    result = register(database, {**REGISTER, "colour": "blue"})
    assert_input_error(result, "colour")
    assert "unknown field" in result.output


def test_act_with_a_missing_field_names_the_field(database: str) -> None:
    payload = {key: value for key, value in REGISTER.items() if key != "title"}
    result = register(database, payload)
    assert_input_error(result, "title")
    assert "required" in result.output


def test_act_with_a_bad_value_names_the_field(database: str) -> None:
    result = register(database, {**REGISTER, "category": 9})
    assert_input_error(result, "category")


def test_act_set_and_bad_set(database: str) -> None:
    ok = run(
        "act",
        "register_decision",
        "--actor",
        "li",
        "--set",
        "ref=D7",
        "--set",
        "title=决策",
        "--set",
        "category=1",
        "--set",
        "lead_unit=housing",
        "--database",
        database,
    )
    assert ok.exit_code == 0, ok.output
    bad = run("act", "register_decision", "--actor", "li", "--set", "no-equals-sign", "--database", database)
    assert_input_error(bad, "--set")


def test_act_with_a_bad_time_names_the_option(database: str) -> None:
    result = register(database, REGISTER, "--now", "next tuesday")
    assert_input_error(result, "--now")


def test_act_refused_by_a_guard_names_the_rule_and_article(database: str) -> None:
    assert register(database, REGISTER).exit_code == 0
    result = run(
        "act",
        "submit_draft",
        "--actor",
        "li",
        "--with",
        json.dumps({"decision": "D1", "draft": "草案"}),
        "--now",
        "2026-03-02T10:00",
        "--database",
        database,
    )
    assert result.exit_code == 2, result.output
    assert "R1" in result.output
    assert proc.GUARDS["R1"].article in result.output


# ---------------------------------------------------------------- procedure show
def test_procedure_show_prints_every_stage_and_article() -> None:
    result = run("procedure", "show")
    assert result.exit_code == 0, result.output
    for stage in proc.STAGES:
        assert stage.id in result.output, stage.id
        assert stage.articles in result.output, stage.articles


def test_procedure_show_as_mermaid_is_a_flowchart() -> None:
    result = run("procedure", "show", "--format", "mermaid")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("flowchart")
    for stage in proc.STAGES:
        assert stage.id in result.output, stage.id


def test_procedure_show_with_an_unknown_format_is_refused() -> None:
    result = run("procedure", "show", "--format", "svg")
    assert_input_error(result, "--format")


# ---------------------------------------------------------------- scenario run
def test_scenario_run_passes_the_thin_path() -> None:
    result = run("scenario", "run", str(THIN_PATH))
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output
    assert "FAILED" not in result.output


def test_scenario_run_passes_the_thin_path_on_postgres(
    fresh_postgres_schema: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECISIONFLOW_DATA_DIR", str(tmp_path / "data"))  # PostgreSQL: no default folder
    result = run("scenario", "run", str(THIN_PATH), "--database", schema_url(*fresh_postgres_schema))
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output


HEADER = """\
name: broken
jurisdiction: {organ: 香洲区人民政府}
units:
  - {id: housing, name: 区住房和城乡建设局, kind: department}
  - {id: govoffice, name: 区政府办公室, kind: gov_office}
users:
  - {id: li, unit: housing, roles: [department_staff]}
  - {id: zhou, unit: govoffice, roles: [gov_office]}
steps:
  - {at: 2026-03-02T09:00, actor: li, action: register_decision,
     with: {ref: D1, title: 决策, category: 1, lead_unit: housing}}
"""


def broken_scenario(tmp_path: Path, steps: str) -> Result:
    path = tmp_path / "broken.yaml"
    path.write_text(HEADER + steps, encoding="utf-8")
    return run("scenario", "run", str(path))


def test_scenario_with_an_unknown_step_field_names_step_and_field(tmp_path: Path) -> None:
    result = broken_scenario(
        tmp_path,
        "  - {at: 2026-03-02T10:00, actor: zhou, action: start_procedure, with: {decision: D1}, colour: red}\n",
    )
    assert result.exit_code != 0, result.output
    assert "step 2" in result.output and "colour" in result.output, result.output


def test_scenario_with_an_unknown_payload_field_names_step_and_field(tmp_path: Path) -> None:
    result = broken_scenario(
        tmp_path,
        "  - {at: 2026-03-02T10:00, actor: zhou, action: start_procedure, with: {decision: D1, colour: red}}\n",
    )
    assert result.exit_code != 0, result.output
    assert "step 2" in result.output and "colour" in result.output, result.output


def test_scenario_whose_time_goes_backwards_names_the_step(tmp_path: Path) -> None:
    result = broken_scenario(
        tmp_path,
        "  - {at: 2026-03-02T10:00, actor: zhou, action: start_procedure, with: {decision: D1}}\n"
        "  - {at: 2026-03-02T09:30, check: {decision: D1, stage: drafting, status: pending}}\n",
    )
    assert result.exit_code != 0, result.output
    assert "step 3" in result.output and "field at" in result.output, result.output
    assert "earlier" in result.output


def test_scenario_with_an_unknown_action_names_the_step(tmp_path: Path) -> None:
    result = broken_scenario(
        tmp_path,
        "  - {at: 2026-03-02T10:00, actor: zhou, action: launch_rocket, with: {decision: D1}}\n",
    )
    assert result.exit_code != 0, result.output
    assert "step 2" in result.output and "launch_rocket" in result.output, result.output
    assert "field action" in result.output


def test_scenario_with_an_unmet_expectation_fails(tmp_path: Path) -> None:
    """A well-formed file whose step is refused where it expects ok: exit 1, the step marked."""
    result = broken_scenario(
        tmp_path,
        "  - {at: 2026-03-02T10:00, actor: li, action: submit_draft, with: {decision: D1, draft: 草案}}\n",
    )
    assert result.exit_code == 1, result.output
    assert "refused R1" in result.output and "FAILED" in result.output


def test_scenario_run_of_a_missing_file_names_it(tmp_path: Path) -> None:
    result = run("scenario", "run", str(tmp_path / "nowhere.yaml"))
    assert_input_error(result, "FILE")
