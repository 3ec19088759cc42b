"""CORS: same-origin only by default; configured origins (``CITYNAV_CORS_ORIGINS`` or
``citynav serve --cors-origin``) may call the API from a browser page, writes included."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import Settings, normalize_origin, parse_origins

MAP = "https://map.example.org"
OTHER = "https://evil.example.com"


@pytest.fixture(scope="module")
def cors_client(nky_service):
    # No lifespan (no `with`): the session's service and its engine stay as they are.
    return TestClient(create_app(service=nky_service, cors_origins=[MAP + "/",
                                                                    "http://localhost:3000"]),
                      raise_server_exceptions=False)


def _preflight(c: TestClient, origin: str, method: str = "PATCH",
               headers: str = "authorization, content-type, if-match"):
    return c.options("/v1/incidents/INC-1", headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers})


def _csv(value: str | None) -> set[str]:
    return {v.strip().lower() for v in (value or "").split(",") if v.strip()}


def test_same_origin_only_by_default(client) -> None:
    r = client.get("/v1/health", headers={"Origin": MAP})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    pre = _preflight(client, MAP)
    assert pre.status_code == 405 and "access-control-allow-origin" not in pre.headers


def test_configured_origin_gets_cors_headers(cors_client) -> None:
    r = cors_client.get("/v1/health", headers={"Origin": MAP})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == MAP
    assert _csv(r.headers.get("access-control-expose-headers")) >= {"etag", "location",
                                                                     "retry-after"}
    assert "origin" in _csv(r.headers.get("vary"))
    assert "access-control-allow-credentials" not in r.headers


def test_unconfigured_origin_gets_no_cors_headers(cors_client) -> None:
    r = cors_client.get("/v1/health", headers={"Origin": OTHER})
    assert r.status_code == 200  # the answer is sent; the browser withholds it from the page
    # (Starlette still lists the exposed headers; without Allow-Origin they mean nothing.)
    assert "access-control-allow-origin" not in r.headers


def test_error_answers_carry_cors_headers(cors_client) -> None:
    r = cors_client.get("/v1/route", params={"from": "abc", "to": "1,2"},
                        headers={"Origin": MAP})
    assert r.status_code == 422
    assert r.headers["access-control-allow-origin"] == MAP
    r = cors_client.patch("/v1/incidents/INC-1", json={"severity": "low"},
                          headers={"Origin": MAP, "If-Match": '"1"'})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == MAP


def test_preflight_for_patch_with_if_match(cors_client) -> None:
    r = _preflight(cors_client, MAP)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == MAP
    assert "PATCH" in r.headers["access-control-allow-methods"]
    assert _csv(r.headers["access-control-allow-headers"]) >= {"authorization",
                                                               "content-type", "if-match"}
    assert int(r.headers["access-control-max-age"]) > 0
    other_port = _preflight(cors_client, "http://localhost:3000", "DELETE", "if-match")
    assert other_port.status_code == 200
    assert other_port.headers["access-control-allow-origin"] == "http://localhost:3000"


@pytest.mark.parametrize(("origin", "method", "headers"), [
    (OTHER, "PATCH", "if-match"),                    # origin not configured
    ("http://localhost:3001", "PATCH", "if-match"),  # another port is another origin
    (MAP, "PATCH", "x-api-key"),                     # header not allowed
    (MAP, "TRACE", "if-match"),                      # method not allowed
])
def test_preflight_refused(cors_client, origin: str, method: str, headers: str) -> None:
    r = _preflight(cors_client, origin, method, headers)
    assert r.status_code == 400
    if origin != MAP:
        assert "access-control-allow-origin" not in r.headers


def test_any_origin(nky_service) -> None:
    c = TestClient(create_app(service=nky_service, cors_origins=["*"]))
    r = c.get("/v1/health", headers={"Origin": OTHER})
    assert r.headers["access-control-allow-origin"] == "*"


def test_setting_from_the_environment(monkeypatch, nky_service) -> None:
    monkeypatch.setenv("CITYNAV_CORS_ORIGINS", f" {MAP}/ , http://LOCALHOST:8080,{MAP}")
    assert Settings().cors_origins == [MAP, "http://localhost:8080"]
    c = TestClient(create_app(service=nky_service))
    r = c.get("/v1/health", headers={"Origin": "http://localhost:8080"})
    assert r.headers["access-control-allow-origin"] == "http://localhost:8080"
    monkeypatch.setenv("CITYNAV_CORS_ORIGINS", "")
    assert Settings().cors_origins == []


@pytest.mark.parametrize("bad", ["map.example.org", "https://map.example.org/app",
                                 "ftp://map.example.org", "https://map.example.org?x=1",
                                 "https://user:pw@map.example.org", "https://:80",
                                 "https://map.example.org:99999"])
def test_malformed_origins_are_refused(monkeypatch, bad: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        normalize_origin(bad)
    monkeypatch.setenv("CITYNAV_CORS_ORIGINS", bad)
    with pytest.raises(ValueError):
        Settings()


def test_origins_are_normalised() -> None:
    assert parse_origins("HTTPS://Map.Example.org:8443/,http://[::1]:3000") == [
        "https://map.example.org:8443", "http://[::1]:3000"]
    assert parse_origins(["a", ""][1:]) == []


def test_cli_cors_origin_is_repeatable(monkeypatch, nky_snapshot_dir) -> None:
    import uvicorn

    import api.app
    from api.cli import app as cli

    seen: list[dict] = []

    def fake_create_app(*args, **kwargs):
        seen.append(kwargs)
        return object()

    monkeypatch.setattr(api.app, "create_app", fake_create_app)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setenv("CITYNAV_CORS_ORIGINS", "https://from-env.example")
    runner = CliRunner()
    base = ["serve", "--snapshot", str(nky_snapshot_dir), "--workers", "1"]
    r = runner.invoke(cli, [*base, "--cors-origin", MAP, "--cors-origin",
                            "http://localhost:3000/"])
    assert r.exit_code == 0, r.output
    assert seen[-1]["cors_origins"] == [MAP, "http://localhost:3000"]
    r = runner.invoke(cli, base)  # no option: the environment setting applies
    assert r.exit_code == 0, r.output
    assert seen[-1]["cors_origins"] == ["https://from-env.example"]
    r = runner.invoke(cli, [*base, "--cors-origin", "map.example.org"])
    assert r.exit_code == 2 and "scheme://host" in r.output
