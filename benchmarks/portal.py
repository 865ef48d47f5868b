"""How fast the public portal answers (issue 10, part 3).

    .venv/bin/python -m benchmarks.portal [--runs N] [--comments N]

Builds the demo district in a temporary SQLite file and drives the web app in process
(FastAPI's TestClient: no network, no server), at the demo's `now`:

- pages: the median and the slowest time of each public page over `--runs` requests;
- comments: `--comments` comments sent through the form (size limit, CSRF, sanitising,
  duplicate check, the service's transaction, the receipt page), each a different text
  from a different address so that the rate limit does not hold them back; prints the
  median time per comment and comments per second in one process;
- look-ups: the median time of a receipt look-up."""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from flows.demo import build_demo
from flows.service import ServiceContext
from models.db import create_schema, make_engine
from web.abuse import Limit, PortalGuard, RateLimiter
from web.app import WebConfig, create_app

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def timed(action: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--comments", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"portal benchmark on {platform.python_implementation()} {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'demo.db'}")
        create_schema(engine, "demo", "benchmarks.portal")
        ctx = ServiceContext(engine=engine, data_dir=Path(folder) / "data", clock=lambda: NOW)
        codes = build_demo(ctx, NOW).codes
        app = create_app(ctx, WebConfig(secret_key="benchmark"))
        unlimited = Limit(10**9, 1.0)
        guard = PortalGuard.make()
        guard.comments, guard.lookups = RateLimiter(unlimited), RateLimiter(unlimited)
        app.state.portal_guard = guard
        web = TestClient(app)
        pages = [
            "/",
            "/consultations",
            f"/consultations/{codes['renewal']}",
            "/decisions",
            f"/decisions/{codes['school']}",
            "/catalogues/2026",
            "/catalogues/2026/v2/decisions.xlsx",
        ]
        print(f"\npages (median / slowest of {args.runs}, ms)")
        for url in pages:
            times = timed(lambda url=url: web.get(url).raise_for_status(), args.runs)
            print(f"  {url:<40} {statistics.median(times) * 1000:7.1f} {max(times) * 1000:7.1f}")

        target = f"/consultations/{codes['renewal']}"
        page = web.get(target).text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found is not None
        token = found.group(1)
        receipts: list[str] = []
        times = []
        for n in range(args.comments):
            client = TestClient(app, client=(f"10.0.{n // 250}.{n % 250}", 40000), cookies=web.cookies)
            start = time.perf_counter()
            answer = client.post(
                target, data={"csrf_token": token, "text": f"第{n}条意见：建议补偿标准再提高。"}
            )
            times.append(time.perf_counter() - start)
            assert answer.status_code == 201, answer.text
            receipt = re.search(r'id="receipt">([^<]+)<', answer.text)
            assert receipt is not None
            receipts.append(receipt.group(1))
        median = statistics.median(times)
        print(f"\ncomments through the form: {args.comments}, median {median * 1000:.1f} ms,")
        print(
            f"  {args.comments / sum(times):.0f} per second in one process (slowest {max(times) * 1000:.1f} ms)"
        )

        lookups = timed(
            lambda: web.post(
                "/receipts", data={"csrf_token": token, "receipt": receipts[0]}
            ).raise_for_status(),
            args.runs,
        )
        print(f"\nreceipt look-up: median {statistics.median(lookups) * 1000:.1f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()
