"""The sweep flow runs on a real (test-harness) Prefect server, served by a Runner, and
closes a comment period through the service layer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from flows.service import ServiceContext
from models import CommentPeriod, Notification
from models.db import make_engine, mark_database
from tests.helpers import act, at, district, drafted
from tests.schema import create_all


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


def test_sweep_flow_closes_a_comment_period(prefect_server: None, tmp_path: Path) -> None:
    from prefect import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.runner import Runner

    from flows.prefect_flows import sweep_deadlines

    url = f"sqlite:///{tmp_path / 'flow.db'}"
    engine = make_engine(url)
    create_all(engine)
    mark_database(engine, "scenario", "tests")  # simulated clock: the test replays time
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    district(ctx)
    drafted(ctx)
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-04-02",
        channels=["website"],
    )

    async def run() -> StateType:
        runner = Runner(query_seconds=0.2, pause_on_shutdown=False)
        deployment_id = await runner.aadd_flow(sweep_deadlines, name="test-sweep-deadlines")
        async with get_client() as client:
            flow_run = await client.create_flow_run_from_deployment(
                deployment_id,
                parameters={
                    "now": at("2026-04-03T00:30").isoformat(),
                    "database_url": url,
                    "data_dir": str(tmp_path / "data"),
                },
                idempotency_key="sweep-2026-04-03T00:30",
            )
            await runner.start(run_once=True)
            finished = await client.read_flow_run(flow_run.id)
        assert finished.state is not None
        return finished.state.type

    assert asyncio.run(run()) == StateType.COMPLETED
    with Session(engine) as session:
        period = session.exec(select(CommentPeriod)).one()
        assert period.status == "closed"
        # the one run caught up on the reminders nothing had sent: each once, marked late
        sent = session.exec(select(Notification).order_by(col(Notification.scheduled_at))).all()
        assert [(n.point, n.late) for n in sent] == [("before:3", True), ("due", True), ("transition", True)]
    engine.dispose()
