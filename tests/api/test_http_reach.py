"""HTTP: /v1/matrix and /v1/isochrone on the bundled city (answers, limits, problem details)."""

from __future__ import annotations

PTS = ["39.0837,-84.5086", "39.0912,-84.4960", "39.0500,-84.5500"]
TRANSIT_T = "2020-01-15T08:00:00-05:00"


def test_post_matrix_car_equals_routes(client) -> None:
    r = client.post("/v1/matrix", json={"sources": PTS, "targets": PTS, "mode": "car"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["durations_s"]) == 3 and all(len(row) == 3 for row in body["durations_s"])
    assert body["durations_s"][0][0] == 0.0
    assert body["statistic"] == "earliest" and body["unreachable"] == []
    route = client.get("/v1/route", params={"from": PTS[0], "to": PTS[1]}).json()["routes"][0]
    assert abs(body["durations_s"][0][1] - route["duration_s"]) <= 0.1
    assert abs(body["distances_m"][0][1] - route["distance_m"]) <= 1.0


def test_get_matrix_and_durations_only(client) -> None:
    r = client.get("/v1/matrix", params={"sources": ";".join(PTS[:2]), "targets": PTS[2],
                                         "mode": "walk"})
    assert r.status_code == 200, r.text
    assert len(r.json()["durations_s"]) == 2
    r = client.post("/v1/matrix", json={"sources": PTS, "targets": PTS, "mode": "bike",
                                        "annotations": ["duration"]})
    assert r.status_code == 200 and r.json()["distances_m"] is None


def test_matrix_unreachable_has_a_reason(client) -> None:
    r = client.post("/v1/matrix", json={"sources": [PTS[0], "10.0,10.0"], "targets": PTS[:2]})
    assert r.status_code == 200
    body = r.json()
    assert body["durations_s"][1] == [None, None]
    assert {u["reason"] for u in body["unreachable"]} == {"source_not_on_network"}


def test_matrix_limits_and_bad_input_are_problems(client) -> None:
    many = ["39.08,-84.50"] * 101
    r = client.post("/v1/matrix", json={"sources": many, "targets": PTS})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "POST /v1/matrix/jobs" in r.json()["detail"]
    r = client.get("/v1/matrix", params={"sources": ";".join(["39.08,-84.50"] * 30),
                                         "targets": ";".join(["39.08,-84.50"] * 30)})
    assert r.status_code == 413
    r = client.post("/v1/matrix", json={"sources": ["abc"], "targets": PTS})
    assert r.status_code == 422
    assert r.json()["invalid_params"][0]["name"] == "query.sources[0]"
    r = client.post("/v1/matrix", json={"sources": PTS, "targets": PTS, "mode": "boat"})
    assert r.status_code == 422
    r = client.post("/v1/matrix", json={"sources": PTS, "targets": PTS, "mode": "transit",
                                        "depart_at": "2031-01-15T08:00:00-05:00"})
    assert r.status_code == 422 and r.json()["type"].endswith("outside-service-period")


def test_transit_matrix_earliest_and_median(client) -> None:
    r = client.post("/v1/matrix", json={"sources": PTS, "targets": PTS, "mode": "transit",
                                        "depart_at": TRANSIT_T})
    assert r.status_code == 200, r.text
    one = r.json()
    assert one["statistic"] == "earliest" and one["distances_m"] is None
    r = client.post("/v1/matrix", json={"sources": PTS, "targets": PTS, "mode": "transit",
                                        "depart_at": TRANSIT_T, "window_min": 60,
                                        "step_min": 10})
    med = r.json()
    assert med["statistic"] == "median" and med["departures_sampled"] == 7
    assert med["durations_s"][0][0] == 0.0


def test_isochrone_car_geojson(client) -> None:
    r = client.get("/v1/isochrone", params={"at": PTS[0], "mode": "car",
                                            "minutes": "10,5"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert [f["properties"]["minutes"] for f in fc["features"]] == [10.0, 5.0]
    for f in fc["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert f["properties"]["area_m2"] > 0 and f["properties"]["road_length_m"] > 0
        assert f["properties"]["tolerance_m"] >= 100
    big, small = fc["features"]
    assert big["properties"]["area_m2"] > small["properties"]["area_m2"]
    # the bundled city has a timetable: road contours count the stops on reached streets
    assert big["properties"]["stops_reached"] > small["properties"]["stops_reached"] > 0


def test_isochrone_transit_and_compare(client) -> None:
    r = client.get("/v1/isochrone", params={"at": PTS[0], "mode": "transit",
                                            "minutes": "15,30", "depart_at": TRANSIT_T,
                                            "compare": "baseline"})
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    reach = [f for f in feats if f["properties"]["kind"] == "reachable"]
    assert reach[0]["properties"]["stops_reached"] > reach[1]["properties"]["stops_reached"]
    assert "stops_lost" in reach[0]["properties"]
    assert len([f for f in feats if f["properties"]["kind"] == "lost"]) == 2


def test_isochrone_bad_input(client) -> None:
    for params in ({"at": PTS[0], "minutes": "abc"}, {"at": PTS[0], "minutes": "500"},
                   {"at": "1,2,3"}, {"at": "10.0,10.0"}):
        r = client.get("/v1/isochrone", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
