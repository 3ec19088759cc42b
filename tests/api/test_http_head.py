"""``HEAD`` wherever ``GET`` is: same status and headers, no body; 405 lists ``HEAD``."""

from __future__ import annotations

import pytest

COV, NEWPORT = "39.0837,-84.5086", "39.0912,-84.4960"
#: Headers that may differ between two answers to the same request.
VOLATILE = {"date", "server"}


def _same_headers(get, head) -> None:
    g = {k: v for k, v in get.headers.items() if k not in VOLATILE}
    h = {k: v for k, v in head.headers.items() if k not in VOLATILE}
    assert h == g


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
@pytest.mark.parametrize(("path", "params"), [
    ("/v1/health", None),
    ("/v1/route", {"from": COV, "to": NEWPORT, "mode": "car"}),
    ("/v1/stops", {"near": COV}),
    ("/openapi.json", None),
    ("/docs", None),
    ("/redoc", None),
    ("/static/vendor/swagger-ui/swagger-ui.css", None),
])
def test_head_answers_like_get_without_body(client, path: str, params, encoding: str) -> None:
    hdr = {"Accept-Encoding": encoding}
    get = client.get(path, params=params, headers=hdr)
    head = client.head(path, params=params, headers=hdr)
    assert get.status_code == head.status_code == 200, get.text
    assert head.content == b""
    if path == "/v1/health" and encoding == "gzip":
        # the body carries the current time (`now`): two answers a moment apart can
        # compress to sizes a byte apart, so the length is compared uncompressed only
        get.headers.pop("content-length")
        head.headers.pop("content-length")
    _same_headers(get, head)
    if encoding == "identity":
        assert int(head.headers["content-length"]) == len(get.content) > 0


def test_head_on_health_and_route(client) -> None:
    """The brief's examples, spelled out: 200, no body, Content-Length of the GET."""
    for path, params in (("/v1/health", None),
                         ("/v1/route", {"from": COV, "to": NEWPORT})):
        head = client.head(path, params=params, headers={"Accept-Encoding": "identity"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == "application/json"
        get = client.get(path, params=params, headers={"Accept-Encoding": "identity"})
        assert head.headers["content-length"] == str(len(get.content))


def test_head_keeps_errors_and_pages(client) -> None:
    bad = client.head("/v1/route", params={"from": "abc", "to": NEWPORT})
    assert bad.status_code == 422 and bad.content == b""
    assert bad.headers["content-type"] == "application/problem+json"
    missing = client.head("/v1/nothing-here")
    assert missing.status_code == 404 and missing.content == b""
    root = client.head("/", follow_redirects=False)  # the commuter map page
    assert root.status_code == 200 and root.content == b""
    assert root.headers["content-type"].startswith("text/html")


def test_head_on_a_post_only_path_is_405_with_allow(client) -> None:
    r = client.head("/v1/traffic/speeds")
    assert r.status_code == 405 and r.content == b""
    assert r.headers["allow"] == "POST"


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("POST", "/v1/health", "GET, HEAD"),
    ("PUT", "/v1/incidents/INC-1", "DELETE, GET, HEAD, PATCH"),
    ("DELETE", "/v1/incidents", "GET, HEAD, POST"),
    ("GET", "/v1/traffic/speeds", "POST"),
    ("POST", "/docs", "GET, HEAD"),
    ("POST", "/static/vendor/redoc/LICENSE", "GET, HEAD"),
    # a concrete path wins over a template that also matches it (POST /v1/realtime/{feed_id})
    ("OPTIONS", "/v1/realtime/status", "GET, HEAD"),
    ("POST", "/v1/feeds/gtfs-rt/alerts", "GET, HEAD"),
])
def test_allow_lists_head_wherever_get_is(client, method: str, path: str, allow: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert r.headers["content-type"] == "application/problem+json"


def test_openapi_documents_no_head_operations(client) -> None:
    """HEAD is implied by GET (RFC 9110 §9.3.2); documenting it would double every read
    operation for clients and fuzzers."""
    paths = client.get("/openapi.json").json()["paths"]
    assert paths and not any("head" in ops for ops in paths.values())
    assert "/docs" not in paths and "/redoc" not in paths
