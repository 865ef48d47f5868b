"""The statute is the spec: every guard of the procedure has at least one test or
scenario step that tries to break it and expects the refusal by its rule id."""

from __future__ import annotations

import re
from pathlib import Path

from flows.procedure import GUARDS

ROOT = Path(__file__).resolve().parent.parent
STATUTORY = [g for g in GUARDS if re.fullmatch(r"R\d+", g)]


def _refusals_expected() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        found |= set(re.findall(r"""refused\(\s*\w+,\s*["'](\w+)["']""", path.read_text(encoding="utf-8")))
    for path in (ROOT / "scenarios").glob("*.yaml"):
        found |= set(re.findall(r"expect:\s*refused\s+(\w+)", path.read_text(encoding="utf-8")))
    return found


def test_every_statutory_guard_has_a_test_that_tries_to_break_it() -> None:
    missing = [g for g in STATUTORY if g not in _refusals_expected()]
    assert not missing, f"guards without a refusal test: {missing}"


def test_every_guard_cites_an_article_and_both_languages() -> None:
    for guard in GUARDS.values():
        assert guard.article and guard.zh and guard.en, guard.id
