"""The route answer, encoded with orjson without FastAPI's response-model pass, is exactly
what the response model gives (nothing added, nothing missing, same values)."""

from __future__ import annotations

import pytest

from api.schemas import RouteResponse

A, B = "39.0837,-84.5086", "39.0412,-84.4960"


@pytest.mark.parametrize(("mode", "alternatives", "lang"), [
    ("car", 0, "en"), ("car", 2, "zh-CN"), ("bike", 1, "en"), ("walk", 0, "zh-CN"),
    ("truck", 0, "en"), ("bus", 1, "en")])
def test_route_answer_is_what_the_model_gives(client, mode: str, alternatives: int,
                                              lang: str) -> None:
    r = client.get("/v1/route", params={"from": A, "to": B, "mode": mode,
                                        "alternatives": alternatives, "lang": lang})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert RouteResponse.model_validate(doc).model_dump(mode="json") == doc
    assert all("exit_ref" in s for route in doc["routes"] for s in route["steps"])
