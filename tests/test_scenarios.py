"""Every shipped scenario runs green, on the suite's database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from flows.scenario import load, play

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_passes(path: Path, engine: Engine, tmp_path: Path) -> None:
    from flows.service import ServiceContext

    report = play(load(path), ServiceContext(engine=engine, data_dir=tmp_path), str(path))
    failed = [o.line() for o in report.outcomes if not o.passed]
    assert not failed, "\n".join(failed)
    assert report.outcomes, "a scenario must have steps"
