"""The statute is the spec: every rule the engine enforces has at least one passing test
that tries to break it, is refused by that rule id, and leaves the database unchanged.

The count comes from running the tests, not from reading their source:
`tests.helpers.refused` records each verified refusal (see `tests/guard_tally.py`). When
this session runs the whole suite the tally is already complete (this module runs last);
when it runs alone, it runs the rest of the suite in a child pytest to build the tally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.procedure import GUARDS, PRODUCT_DECISIONS
from tests import guard_tally
from tests.conftest import WHOLE_SUITE

ROOT = Path(__file__).resolve().parent.parent

# Product decisions that refuse nothing by their own id: counting conventions and reminder
# deadlines, tested by the computations that apply them (calendar, timeline, time-limit and
# reminder tests); P7's outcomes are the payload's type (INPUT); P14 is how R5 and P4 count
# their lead times, and P15 is refused as R12 (Art. 25).
NOT_A_REFUSAL = frozenset({"P1", "P2", "P6", "P7", "P9", "P10", "P13", "P14", "P15"})


def enforced_rules() -> list[str]:
    statutory = [rule for rule in GUARDS if rule.startswith("R")]
    products = [d.id for d in PRODUCT_DECISIONS if d.id not in NOT_A_REFUSAL]
    return statutory + products


def tally(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, set[str]]:
    if request.config.stash.get(WHOLE_SUITE, False):
        return guard_tally.tests_by_rule()
    out = tmp_path / "tally.json"
    env = {**os.environ, guard_tally.TALLY_FILE_ENV: str(out)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests",
            "--deselect",
            f"tests/{Path(__file__).name}",
        ],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
    )
    return guard_tally.read(out)


def test_every_enforced_rule_has_a_passing_test_that_tries_to_break_it(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    seen = tally(request, tmp_path)
    missing = [rule for rule in enforced_rules() if not seen.get(rule)]
    assert not missing, (
        f"rules with no passing refusal test (refused() with the database unchanged): {missing}"
    )


def test_every_guard_cites_an_article_and_both_languages() -> None:
    for guard in GUARDS.values():
        assert guard.article and guard.zh and guard.en, guard.id
