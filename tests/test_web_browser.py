"""The web app in a real browser: Debian's Chromium, headless, against uvicorn on loopback."""

from __future__ import annotations

from flows.service import ServiceContext
from tests.browser import browser_page, live_server
from web.app import WebConfig, create_app


def test_the_portal_renders_in_chromium_in_chinese_and_switches_to_english(ctx: ServiceContext) -> None:
    app = create_app(ctx, WebConfig(secret_key="browser-test"))
    with live_server(app) as base, browser_page(base) as page:
        page.goto("/")
        assert page.locator("h1.page-title").inner_text() == "公众参与平台"
        page.get_by_role("link", name="English").click()
        page.wait_for_url(f"{base}/")
        assert page.locator("h1.page-title").inner_text() == "Public portal"
