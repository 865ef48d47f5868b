"""The web app's frame: it starts on the service context, speaks zh-CN first with English
switchable, sends its security headers, and every interface text has a Chinese translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from fastapi.testclient import TestClient

from flows.service import ServiceContext
from web import i18n
from web.app import WebConfig, create_app

ROOT = Path(__file__).resolve().parent.parent


def client(ctx: ServiceContext) -> TestClient:
    return TestClient(create_app(ctx, WebConfig(secret_key="test-secret")))


def test_the_portal_speaks_chinese_first_and_english_on_request(ctx: ServiceContext) -> None:
    web = client(ctx)
    page = web.get("/")
    assert page.status_code == 200
    assert "公众参与平台" in page.text and 'lang="zh-CN"' in page.text
    switched = web.get("/lang/en?back=/", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/"
    english = web.get("/")
    assert "Public portal" in english.text and "公众参与平台" not in english.text


def test_the_language_switch_never_redirects_off_site(ctx: ServiceContext) -> None:
    web = client(ctx)
    for back in ("https://evil.example/", "//evil.example/x"):
        answer = web.get("/lang/en", params={"back": back}, follow_redirects=False)
        assert answer.headers["location"] == "/"


def test_every_page_carries_the_security_headers(ctx: ServiceContext) -> None:
    headers = client(ctx).get("/").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"


def test_every_interface_text_has_a_chinese_translation() -> None:
    """Each message the templates and the web code use is in the zh-CN catalog, translated."""
    method_map = [("web/**.py", "python"), ("web/templates/**.html", "jinja2")]
    found = {message for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map)}
    messages = {m if isinstance(m, str) else m[0] for m in found}
    assert "My tasks" in messages  # the extraction sees the templates
    zh = i18n.translations("zh_CN")
    untranslated = sorted(m for m in messages if zh.gettext(m) == m)
    assert untranslated == []
