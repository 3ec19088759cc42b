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


def test_plan_answers_are_what_the_model_gives(client, nky_service) -> None:
    """/v1/plan is encoded with orjson too: random journeys (walk, bike and car access,
    ranges, arrive-by, wheelchair, both languages) validate against ``PlanResponse`` and
    come back unchanged from its serialisation."""
    import random

    import numpy as np

    from api.schemas import PlanResponse

    snap = nky_service.snapshot
    lat, lon = np.asarray(snap.node_lat), np.asarray(snap.node_lon)
    rng = random.Random(15)
    legs = 0
    for k in range(24):
        a, b = rng.randrange(lat.shape[0]), rng.randrange(lat.shape[0])
        params = {"from": f"{lat[a]:.6f},{lon[a]:.6f}", "to": f"{lat[b]:.6f},{lon[b]:.6f}",
                  "depart_at": f"2020-01-15T{7 + k % 10:02d}:{k * 7 % 60:02d}:00-05:00",
                  "access_mode": ["walk", "walk", "bike", "car"][k % 4],
                  "lang": ["en", "zh-CN"][k % 2], "num_itineraries": 1 + k % 3,
                  "window_min": [0, 0, 20][k % 3], "arrive_by": k % 5 == 4,
                  "wheelchair": k % 6 == 5}
        r = client.get("/v1/plan", params=params)
        assert r.status_code in (200, 404, 422), r.text
        if r.status_code != 200:
            continue
        assert r.headers["content-type"] == "application/json"
        doc = r.json()
        assert PlanResponse.model_validate(doc).model_dump(mode="json", by_alias=True) == doc
        legs += sum(len(it["legs"]) for it in doc["itineraries"])
    assert legs >= 20
