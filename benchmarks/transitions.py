"""How fast the service layer applies actions, against the physical limit of the machine.

    .venv/bin/python -m benchmarks.transitions [--database URL] [--decisions N]

Prints actions per second for register_decision and for a comment submission on an open
period, each one transaction with its audit event. The bare unit to
compare with: one UPDATE + one INSERT per transaction runs at ~1,800/s on PostgreSQL with
one client."""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from flows.service import ServiceContext, run_action, setup_jurisdiction
from models.db import create_schema, make_engine
from tests.helpers import UNITS, USERS, at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite:///var/bench.db")
    parser.add_argument("--decisions", type=int, default=300)
    args = parser.parse_args()
    schema = None
    if args.database.startswith("postgres"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.database)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    elif args.database.startswith("sqlite:///"):
        Path(args.database.removeprefix("sqlite:///")).unlink(missing_ok=True)
    engine = make_engine(args.database, schema=schema)
    create_schema(engine, "scenario", "benchmarks/transitions.py")
    with tempfile.TemporaryDirectory() as data_dir:
        ctx = ServiceContext(engine=engine, data_dir=Path(data_dir))
        setup_jurisdiction(ctx, {"organ": "基准区人民政府"}, UNITS, USERS, now=at("2026-01-05T09:00"))
        start = at("2026-03-02T09:00")
        began = time.perf_counter()
        for i in range(args.decisions):
            run_action(
                ctx,
                "register_decision",
                "li",
                {"ref": f"B{i}", "title": f"基准决策{i}", "category": 1, "lead_unit": "housing"},
                now=start + timedelta(seconds=i),
            )
        elapsed = time.perf_counter() - began
        print(
            f"register_decision: {args.decisions / elapsed:8.1f} actions/s ({elapsed * 1000 / args.decisions:.2f} ms each)"
        )
        run_action(ctx, "start_procedure", "zhou", {"decision": "B0"}, now=start + timedelta(hours=1))
        run_action(
            ctx,
            "submit_draft",
            "li",
            {"decision": "B0", "draft": "草案", "explanation": "说明"},
            now=start + timedelta(hours=2),
        )
        run_action(
            ctx,
            "open_comment_period",
            "li",
            {"decision": "B0", "start_date": "2026-03-03", "end_date": "2026-04-02", "channels": ["website"]},
            now=at("2026-03-03T08:00"),
        )
        began = time.perf_counter()
        for i in range(args.decisions):
            run_action(
                ctx,
                "submit_public_comment",
                "public",
                {"decision": "B0", "text": f"意见{i}"},
                now=at("2026-03-04T09:00") + timedelta(seconds=i),
            )
        elapsed = time.perf_counter() - began
        print(
            f"submit_public_comment (one decision's chain): {args.decisions / elapsed:8.1f} actions/s "
            f"({elapsed * 1000 / args.decisions:.2f} ms each)"
        )
    engine.dispose()
    if schema:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
