"""Which rules the suite has actually seen refused, by running it.

`tests.helpers.refused` records the rule id of every refusal it verified (the rule id
matched and the database was left unchanged) under the running test's node id. The
conftest hooks drop the records of a test that then failed, and can write the tally to a
file for a second pytest process (`DECISIONFLOW_GUARD_TALLY`). `test_guard_coverage.py`
reads the tally: a rule counts only when a passing test was refused by it."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

TALLY_FILE_ENV = "DECISIONFLOW_GUARD_TALLY"

_seen: dict[str, set[str]] = defaultdict(set)


def current_test() -> str:
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]


def record(rule_id: str) -> None:
    _seen[current_test()].add(rule_id)


def forget(nodeid: str) -> None:
    _seen.pop(nodeid, None)


def tests_by_rule() -> dict[str, set[str]]:
    by_rule: dict[str, set[str]] = defaultdict(set)
    for nodeid, rules in _seen.items():
        for rule_id in rules:
            by_rule[rule_id].add(nodeid)
    return dict(by_rule)


def write(path: Path) -> None:
    path.write_text(
        json.dumps({rule: sorted(nodes) for rule, nodes in tests_by_rule().items()}, ensure_ascii=False),
        encoding="utf-8",
    )


def read(path: Path) -> dict[str, set[str]]:
    return {rule: set(nodes) for rule, nodes in json.loads(path.read_text(encoding="utf-8")).items()}
