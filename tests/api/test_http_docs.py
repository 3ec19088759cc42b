"""The documentation pages reference only this server, and the vendored assets they load are
the pinned npm files (tests/e2e/test_docs_offline.py renders them in a browser)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urljoin

import pytest

from api.docs import STATIC_DIR

REPO = Path(__file__).resolve().parents[2]
VENDOR = STATIC_DIR / "vendor"
PINS = {"swagger-ui-dist": "swagger-ui", "redoc": "redoc", "maplibre-gl": "maplibre-gl",
        "@mapbox/mapbox-gl-draw": "mapbox-gl-draw"}


def _refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html) + re.findall(r"url: '([^']*)'", html)


@pytest.mark.parametrize(("page", "assets"), [
    ("/docs", ["/static/vendor/swagger-ui/swagger-ui-bundle.js",
               "/static/vendor/swagger-ui/swagger-ui.css",
               "/static/vendor/swagger-ui/favicon-32x32.png", "/openapi.json"]),
    ("/redoc", ["/static/vendor/redoc/redoc.standalone.js",
                "/static/vendor/swagger-ui/favicon-32x32.png"]),
])
def test_pages_load_only_local_assets(client, page: str, assets: list[str]) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I), html
    assert sorted(set(_refs(html))) == sorted(assets)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    for url in assets:
        got = client.get(url)
        assert got.status_code == 200, url
        assert len(got.content) > 100, url
    if page == "/redoc":
        assert "spec-url=\"/openapi.json\"" in html


def test_swagger_ui_has_no_validator_badge(client) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_pages_link_to_each_other(client) -> None:
    description = client.get("/openapi.json").json()["info"]["description"]
    assert "[Swagger UI](docs)" in description and "[ReDoc](redoc)" in description


@pytest.mark.parametrize("page", ["/", "/console"])
def test_map_pages_load_only_vendored_assets(client, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    refs = _refs(r.text)
    # relative references, so the pages also work under a reverse proxy's path prefix
    assert "static/vendor/maplibre-gl/maplibre-gl.js" in refs
    for ref in refs:
        assert "//" not in ref and not ref.startswith("/"), f"{page} loads {ref} absolutely"
        for base in ("http://testserver" + page, "http://testserver/citynav" + page):
            url = urljoin(base, ref)
            assert url.startswith("http://testserver/"), url
            path = url.removeprefix("http://testserver").removeprefix("/citynav")
            assert client.get(path).status_code == 200, (base, ref)


def test_vendored_files_match_the_manifest_and_the_lockfile() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    lock = json.loads((REPO / "web" / "package-lock.json").read_text())
    pins = json.loads((REPO / "web" / "package.json").read_text())["dependencies"]
    assert set(pins) == set(PINS) == set(manifest["packages"])
    for name, folder in PINS.items():
        pkg = manifest["packages"][name]
        assert re.fullmatch(r"\d+\.\d+\.\d+", pins[name]), "pin exact versions"
        assert pkg["version"] == pins[name] == lock["packages"][f"node_modules/{name}"]["version"]
        assert pkg["dir"] == folder
        shipped = json.loads((VENDOR / folder / "package.json").read_text())
        assert shipped["name"] == name and shipped["version"] == pins[name]
        on_disk = {p.name for p in (VENDOR / folder).iterdir()}
        assert on_disk == set(pkg["files"]), "run scripts/vendor-web.sh"
        assert on_disk & {"LICENSE", "LICENSE.txt"}, f"{name}: no licence"
        for fname, meta in pkg["files"].items():
            data = (VENDOR / folder / fname).read_bytes()
            assert hashlib.sha256(data).hexdigest() == meta["sha256"], fname
    assert {p["file"] for p in manifest["patches"]} == {"redoc.standalone.js"}


def test_vendored_bundles_fetch_nothing_from_known_cdns() -> None:
    for path in VENDOR.rglob("*"):
        if path.suffix in (".js", ".css"):
            text = path.read_text(errors="replace")
            for host in ("cdn.redoc.ly", "fonts.googleapis.com", "fonts.gstatic.com",
                         "cdn.jsdelivr.net", "unpkg.com"):
                assert host not in text, f"{path.name} mentions {host}"
