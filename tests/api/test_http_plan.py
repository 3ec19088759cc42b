"""Transit endpoints end to end on the bundled city (TANK, Wed 2020-01-15)."""

from __future__ import annotations

import datetime as dt

COV = "39.0837,-84.5086"
FLORENCE = "38.9836,-84.6451"
AT = "2020-01-15T08:00:00-05:00"


def test_plan_itineraries(client) -> None:
    r = client.get("/v1/plan", params={"from": COV, "to": FLORENCE, "depart_at": AT,
                                       "window_min": 60, "num_itineraries": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["service_date"] == "2020-01-15" and body["messages"] == []
    its = body["itineraries"]
    assert 1 <= len(its) <= 3
    first = its[0]
    assert dt.datetime.fromisoformat(first["departure"]) >= dt.datetime.fromisoformat(AT)
    modes = [leg["mode"] for leg in first["legs"]]
    assert "transit" in modes
    t = next(leg for leg in first["legs"] if leg["mode"] == "transit")
    assert t["route"]["short_name"] and t["agency"]["timezone"] == "America/New_York"
    assert t["headsign"] and t["intermediate_stops"]
    assert t["geometry"]["type"] == "LineString"


def test_plan_from_stop_and_arrive_by(client) -> None:
    r = client.get("/v1/plan", params={"from": "stop:nky_tank:100580", "to": COV,
                                       "depart_at": "2020-01-15T17:00:00", "arrive_by": "true"})
    assert r.status_code == 200, r.text
    its = r.json()["itineraries"]
    assert its and all(it["arrival"] <= "2020-01-15T17:00:00-05:00" for it in its)
    assert its[0]["legs"][0]["mode"] == "transit"  # starting at the stop itself


def test_plan_errors(client) -> None:
    r = client.get("/v1/plan", params={"from": COV, "to": FLORENCE,
                                       "depart_at": "2023-06-01T08:00:00"})
    assert r.status_code == 422
    assert "2019-10-31 to 2020-08-27" in r.json()["detail"]
    assert client.get("/v1/plan", params={"from": "stop:nope", "to": COV}).status_code == 404
    r = client.get("/v1/plan", params={"from": COV, "to": FLORENCE, "depart_at": "tomorrow"})
    assert r.status_code == 422 and "ISO 8601" in r.json()["detail"]
    r = client.get("/v1/plan", params={"from": COV, "to": FLORENCE, "max_transfers": 99})
    assert r.status_code == 422


def test_stops_and_departures(client) -> None:
    found = client.get("/v1/stops", params={"q": "scott fifth"}).json()["stops"]
    assert found and all("Scott" in s["name"] for s in found)
    near = client.get("/v1/stops", params={"near": COV, "radius_m": 300}).json()["stops"]
    assert near and near[0]["name"].startswith("Scott at 7th")
    assert client.get("/v1/stops").status_code == 422
    r = client.get("/v1/stops/100580/departures", params={"at": AT, "limit": 4})
    assert r.status_code == 200
    deps = r.json()["departures"]
    assert len(deps) == 4
    times = [d["scheduled"] for d in deps]
    assert times == sorted(times) and times[0] >= "2020-01-15T08:00"
    assert all(d["delay_s"] == 0 and not d["cancelled"] for d in deps)
    assert client.get("/v1/stops/unknown/departures").status_code == 404


def test_plan_walk_steps_in_chinese(client) -> None:
    params = {"from": COV, "to": FLORENCE, "depart_at": AT, "num_itineraries": 1}
    en = client.get("/v1/plan", params=params).json()
    zh = client.get("/v1/plan", params={**params, "lang": "zh-CN"}).json()

    def walk_steps(body: dict) -> list[dict]:
        return [s for it in body["itineraries"] for leg in it["legs"]
                if leg["mode"] == "walk" for s in leg["steps"]]

    assert walk_steps(en) and len(walk_steps(en)) == len(walk_steps(zh))
    assert all(s["name"] for s in walk_steps(zh))  # unnamed footways are named ("人行道")
    assert walk_steps(zh)[-1]["instruction"] == "到达目的地"
    assert walk_steps(zh)[0]["instruction"].startswith("向")
    assert walk_steps(en)[0]["instruction"].startswith("Walk ")
    r = client.get("/v1/plan", params={**params, "lang": "klingon"})
    assert r.status_code == 422 and "zh-CN" in r.json()["detail"]
