"""The Prefect overhead per outbox event (issue 9), measured from the commit of the action that
wrote the event to the completion of the flow run it started, on a local Prefect server.

    .venv/bin/python -m benchmarks.prefect_overhead [--events N]

The set-up is the one `decisionflow serve` runs with no PREFECT_API_URL: a local Prefect
server (SQLite, in a temporary folder) and the serving process (`python -m
flows.prefect_runtime`, the deployments served by a Runner polling every second, heartbeats
off), with the database a SQLite file beside it. Each event is one action through the service
layer (the department completes public participation, the legal office returns it, and again),
each writing a `stage_awaiting_approval` or `stage_returned` event whose run sends the
notifications. After each commit the dispatcher runs at once (serve runs it every
`--dispatch-interval` seconds, 2 by default, which adds up to that much), then the run is
awaited. Printed: median and p95 of the whole, and of its parts: commit to run created
(the dispatcher), created to running (the runner's poll and the run's process starting),
running to completed (the flow run itself, as Prefect records it)."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.sweep import median_p95, say
from flows import procedure as proc
from flows.deployments import BY_NAME
from flows.dispatcher import dispatch_once, prefect_client
from flows.prefect_runtime import LocalServer, Servant
from flows.scenario import sweep_until
from flows.service import ServiceContext, run_action
from models.db import create_schema, make_engine
from tests.helpers import at, district, drafted
from tests.test_dispatcher import FakeRuns

TIMEOUT = 120.0


@dataclass(frozen=True)
class Sample:
    total: float  # commit to run completed
    dispatch: float  # commit to run created
    pickup: float  # created to running
    run: float  # running to completed


def wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def prepare(ctx: ServiceContext) -> None:
    """D1 drafted, its comment window over: participation can be completed."""
    district(ctx)
    drafted(ctx)
    run_action(
        ctx,
        "open_comment_period",
        "li",
        {
            "decision": "D1",
            "start_date": "2026-03-03",
            "end_date": "2026-04-02",
            "channels": ["website"],
        },
        now=at("2026-03-03T09:00"),
    )
    sweep_until(ctx, at("2026-04-03T09:00"))


def one_event(ctx: ServiceContext, n: int) -> None:
    """The n-th action: complete participation (even n) or return it (odd n)."""
    when = at("2026-04-03T10:00") + timedelta(minutes=n)
    if n % 2 == 0:
        run_action(ctx, "complete_participation", "li", {"decision": "D1"}, now=when)
    else:
        payload = {"decision": "D1", "stage": "public_participation", "reason": f"第{n}次退回：请补充材料"}
        run_action(ctx, "return_stage", "wang", payload, now=when)


def measure(events: int) -> list[Sample]:
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    folder = Path(tempfile.mkdtemp(prefix="prefect-overhead-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    create_schema(engine, "scenario", "benchmarks.prefect_overhead")
    ctx = ServiceContext(engine=engine, data_dir=folder / "data")
    prepare(ctx)
    dispatch_once(ctx, now=at("2026-04-03T09:59"), client_factory=FakeRuns().factory())  # the set-up's
    server = LocalServer(folder / "prefect")
    say(f"local Prefect server in {folder / 'prefect'} ...")
    server.start()
    environ = {**os.environ, "DECISIONFLOW_DATABASE_URL": url, "DECISIONFLOW_DATA_DIR": str(folder / "data")}
    servant = Servant(folder / "prefect", server.api_url, environ)
    servant.start()
    samples: list[Sample] = []
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
            name = BY_NAME[proc.DECISION_PROCEDURE].full_name
            wait_for(lambda: _deployed(client, name), "the serving process")
            for n in range(events + 1):  # the first run warms the serving process up
                one_event(ctx, n)
                committed = time.perf_counter()
                report = dispatch_once(
                    ctx, now=datetime.now(UTC), client_factory=prefect_client(server.api_url)
                )
                created = time.perf_counter()
                (run_id,) = [e.flow_run_id for e in report.events if e.outcome == "started"]
                run = wait_for(partial(_final, client, run_id), f"run {run_id}")
                done = time.perf_counter()
                assert run.state.is_completed(), run.state
                if n == 0:
                    continue
                running = (run.start_time - run.expected_start_time).total_seconds()
                took = (run.end_time - run.start_time).total_seconds()
                samples.append(Sample(done - committed, created - committed, running, took))
                say(f"event {n}: {1000 * (done - committed):.0f} ms")
    finally:
        servant.stop()
        server.stop()
        engine.dispose()
    return samples


def _deployed(client: Any, name: str) -> bool:
    from prefect.exceptions import ObjectNotFound

    try:
        client.read_deployment_by_name(name)
    except ObjectNotFound:
        return False
    return True


def _final(client: Any, run_id: str | None) -> Any:
    run = client.read_flow_run(run_id)
    return run if run.state is not None and run.state.is_final() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20, help="events to measure (after one warm-up)")
    report(parser.parse_args().events)


def report(events: int) -> None:
    """Measure `events` events on a local Prefect server and print median and p95."""
    args = argparse.Namespace(events=events)
    say(f"Prefect overhead per event on {platform.node()} ({os.cpu_count()} CPUs), {args.events} events")
    samples = measure(args.events)
    for label, values in (
        ("commit → run completed", [s.total for s in samples]),
        ("  commit → run created (dispatch)", [s.dispatch for s in samples]),
        ("  created → running (runner poll, process start)", [s.pickup for s in samples]),
        ("  running → completed (the flow run)", [s.run for s in samples]),
    ):
        median, p95 = median_p95(values)
        say(f"{label:<50} median {1000 * median:7.0f} ms   p95 {1000 * p95:7.0f} ms")


if __name__ == "__main__":
    main()
