"""Browser-test plumbing: the web app served by a real uvicorn on loopback, and Debian's
Chromium driven by Playwright (never `playwright install`: the browser is the system's).

The listening socket is bound and put in listen mode before the server thread starts, so a
browser can connect at once: the kernel queues the connection until uvicorn accepts it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("DECISIONFLOW_CHROMIUM", "/usr/bin/chromium")


def chromium_path() -> str:
    """The system Chromium; missing is a failure in CI (.ci/run installs it), a skip elsewhere."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI") or os.environ.get("DECISIONFLOW_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
    pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a thread, as `decisionflow serve` does;
    yields the base URL."""
    from cli.serve_cmd import WebServer, listen

    listener = listen("127.0.0.1", 0)
    server = WebServer(app, listener)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.stop()
        listener.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless: one browser for a whole story, in which each person gets
    a context of their own (`new_page`)."""
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    expect.set_options(timeout=15_000)  # as long as an action may take: CI machines are busy
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, base_url: str, locale: str = "zh-CN") -> Any:
    """A page in a new context of `browser` (its own cookies: another person), zh-CN."""
    context = browser.new_context(base_url=base_url, locale=locale, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@contextmanager
def browser_page(base_url: str) -> Iterator[Any]:
    """A fresh Chromium page (its own context: its own cookies) with the zh-CN locale."""
    with chromium() as browser:
        page = new_page(browser, base_url)
        yield page
        page.context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot for the README (docs/screenshots/<name>.png). The pointer is
    moved away and the focus taken off the page first, so that the same page gives the same
    picture run after run (no hover or focus ring caught half-drawn)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    target = SCREENSHOTS / f"{name}.png"
    scratch = target.with_suffix(".tmp.png")
    page.screenshot(path=str(scratch), full_page=True, animations="disabled", caret="hide")
    shutil.move(scratch, target)
    return target
