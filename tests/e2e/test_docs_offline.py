"""The API documentation pages in a real browser, offline: ``/docs`` (Swagger UI) and
``/redoc`` (ReDoc) of a running ``citynav serve`` render from the vendored assets alone.

Debian's Chromium, driven by Playwright, loads each page while every request is recorded
and any request to another origin is blocked (so a CDN or web-font regression fails here even
on a machine with internet access). Screenshots go to ``$CITYNAV_E2E_ARTIFACTS`` if set, else
to a pytest temporary directory (printed with ``-s``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live_server import live_server
from tests.e2e.conftest import RENDER_TIMEOUT_MS


@pytest.fixture(scope="module")
def server_url(nky_snapshot_dir: Path) -> Iterator[str]:
    with live_server(nky_snapshot_dir) as (url, _):
        yield url


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


@pytest.mark.parametrize("page_path", ["/", "/console"])
def test_map_pages_link_to_the_api_docs(page_watch, server_url: str, page_path: str) -> None:
    page, watch = page_watch
    page.goto(server_url + page_path, wait_until="load")
    page.locator('a[href="docs"]').click()  # relative: works under a proxy prefix
    page.wait_for_url(f"{server_url}/docs")
    page.locator('.opblock-summary-path[data-path="/v1/route"]').first.wait_for(
        timeout=RENDER_TIMEOUT_MS)
    watch.assert_offline_clean()
