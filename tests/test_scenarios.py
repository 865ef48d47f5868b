"""Every shipped scenario runs green, on the suite's database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from flows.scenario import load, play
from flows.service import row_digests

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_passes(path: Path, engine: Engine, tmp_path: Path) -> None:
    from flows.service import ServiceContext

    report = play(load(path), ServiceContext(engine=engine, data_dir=tmp_path), str(path))
    failed = [o.line() for o in report.outcomes if not o.passed]
    assert not failed, "\n".join(failed)
    assert report.outcomes, "a scenario must have steps"
    # every state row the scenario wrote still matches the digest its audit event recorded
    with Session(engine) as session:
        checked, problems = row_digests.verify(session)
    assert checked and not problems, [p.line() for p in problems]
