"""The API documentation pages in a real browser, offline: ``/docs`` (Swagger UI) and
``/redoc`` (ReDoc) of a running ``citynav serve`` render from the vendored assets alone.

Debian's Chromium, driven by Playwright, loads each page while every request is recorded
and any request to another origin is blocked (so a CDN or web-font regression fails here even
on a machine with internet access). Screenshots go to ``$CITYNAV_E2E_ARTIFACTS`` if set, else
to a pytest temporary directory (printed with ``-s``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.api.live_server import live_server

#: Debian's Chromium (never a Playwright download); CITYNAV_CHROMIUM overrides.
CHROMIUM = os.environ.get("CITYNAV_CHROMIUM") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file()
    else shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
RENDER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def server_url(nky_snapshot_dir: Path) -> Iterator[str]:
    with live_server(nky_snapshot_dir) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; "
                    "`make test` installs it when apt is available)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("CITYNAV_E2E_ARTIFACTS")
    out = Path(env) if env else tmp_path_factory.mktemp("docs-screenshots")
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {out}")
    return out


@dataclass
class Watch:
    """What a page did: every request URL, the ones blocked, console errors."""

    origin: str
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_offline_clean(self) -> None:
        foreign = [u for u in self.requests if not u.startswith(self.origin + "/")]
        assert not foreign, f"requests to other origins: {foreign}"
        assert not self.blocked, f"blocked requests to other origins: {self.blocked}"
        assert not self.errors, f"console errors: {self.errors}"


@pytest.fixture
def page_watch(browser, server_url: str):
    """A fresh page on which requests to any origin but the server's are recorded and
    aborted, and console errors and uncaught exceptions are collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  service_workers="block")
    page = context.new_page()
    watch = Watch(server_url)

    def guard(route) -> None:
        if route.request.url.startswith(server_url + "/"):
            route.continue_()
        else:
            watch.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    page.on("request", lambda req: watch.requests.append(req.url))
    page.on("console", lambda msg: watch.errors.append(f"{msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watch.errors.append(f"uncaught: {exc}"))
    try:
        yield page, watch
    finally:
        context.close()


def test_swagger_ui_renders_offline(page_watch, server_url: str, artifacts: Path) -> None:
    page, watch = page_watch
    resp = page.goto(f"{server_url}/docs", wait_until="load")
    assert resp is not None and resp.status == 200
    route_op = page.locator('.opblock-summary-path[data-path="/v1/route"]')
    route_op.first.wait_for(timeout=RENDER_TIMEOUT_MS)
    page.locator(".info .title", has_text="citynav").wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.locator('.info a[href="redoc"]').count() == 1, "no link to ReDoc"
    # The operation list is complete: the incident write operations are there too.
    assert page.locator('.opblock-patch .opblock-summary-path'
                        '[data-path="/v1/incidents/{incident_id}"]').count() == 1
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts / "docs-swagger-ui.png"), full_page=False)
    urls = set(watch.requests)
    assert f"{server_url}/static/vendor/swagger-ui/swagger-ui-bundle.js" in urls
    assert f"{server_url}/openapi.json" in urls
    watch.assert_offline_clean()


def test_swagger_ui_try_it_out_calls_the_api(page_watch, server_url: str,
                                             artifacts: Path) -> None:
    """"Try it out" works under the page's Content-Security-Policy (same origin only)."""
    page, watch = page_watch
    page.goto(f"{server_url}/docs", wait_until="load")
    op = page.locator("#operations-meta-health_v1_health_get")
    op.wait_for(timeout=RENDER_TIMEOUT_MS)
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    with page.expect_response(lambda r: r.url.startswith(f"{server_url}/v1/health")) as info:
        op.locator("button.execute").click()
    assert info.value.status == 200
    op.locator(".live-responses-table .response-col_status", has_text="200").first.wait_for(
        timeout=RENDER_TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "docs-swagger-ui-try-health.png"))
    watch.assert_offline_clean()


def test_redoc_renders_offline(page_watch, server_url: str, artifacts: Path) -> None:
    page, watch = page_watch
    resp = page.goto(f"{server_url}/redoc", wait_until="load")
    assert resp is not None and resp.status == 200
    title = page.locator("h1", has_text="citynav")
    title.first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert "0.1.0" in title.first.inner_text()
    page.get_by_text("/v1/route", exact=True).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts / "docs-redoc.png"), full_page=False)
    assert f"{server_url}/static/vendor/redoc/redoc.standalone.js" in set(watch.requests)
    assert not any("fonts.googleapis" in u or "fonts.gstatic" in u
                   for u in watch.requests + watch.blocked)
    # The page links back to Swagger UI, and the link works.
    link = page.locator('a[href="docs"]').first
    link.click()
    page.wait_for_url(f"{server_url}/docs")
    page.locator('.opblock-summary-path[data-path="/v1/route"]').first.wait_for(
        timeout=RENDER_TIMEOUT_MS)
    watch.assert_offline_clean()


def test_root_redirects_to_swagger_ui(page_watch, server_url: str) -> None:
    page, watch = page_watch
    page.goto(server_url + "/", wait_until="load")
    assert page.url == f"{server_url}/docs"
    page.locator('.opblock-summary-path[data-path="/v1/route"]').first.wait_for(
        timeout=RENDER_TIMEOUT_MS)
    watch.assert_offline_clean()
