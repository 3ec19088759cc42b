"""Browser-test support: Debian's Chromium driven by Playwright, pages watched for requests
to other origins and console errors, screenshots to ``$CITYNAV_E2E_ARTIFACTS`` (else a pytest
temporary directory, printed with ``-s``). Each test module provides ``server_url``."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: Debian's Chromium (never a Playwright download); CITYNAV_CHROMIUM overrides.
CHROMIUM = os.environ.get("CITYNAV_CHROMIUM") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file()
    else shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
RENDER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("CITYNAV_E2E_ARTIFACTS")
    out = Path(env) if env else tmp_path_factory.mktemp("screenshots")
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

    def assert_offline_clean(self, expected_errors: tuple[str, ...] = ()) -> None:
        """No request left the origin (MapLibre's workers are same-origin blobs), nothing
        was blocked, and no console error but those containing one of
        ``expected_errors`` (e.g. the browser's log line of a 412 the test provoked)."""
        foreign = [u for u in self.requests if not u.startswith(
            (self.origin + "/", "blob:" + self.origin + "/"))]
        assert not foreign, f"requests to other origins: {foreign}"
        assert not self.blocked, f"blocked requests to other origins: {self.blocked}"
        errors = [e for e in self.errors if not any(x in e for x in expected_errors)]
        assert not errors, f"console errors: {errors}"


@pytest.fixture
def page_watch(browser, server_url: str):
    """A fresh page on which requests to any origin but the server's are recorded and
    aborted, and console errors and uncaught exceptions are collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  service_workers="block")
    page = context.new_page()
    watch = Watch(server_url)

    def guard(route) -> None:
        if route.request.url.startswith((server_url + "/", "blob:" + server_url + "/")):
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


