"""The commuter map (``/``) and the traffic-centre console (``/console``) in a real browser on
the bundled city, offline: a car route and a transit trip (Wednesday 2020-01-15, the
timetable's service), the language switch, and an operator who draws a closure, previews it,
publishes it — after which the commuter's route avoids it and says why.

The server runs with its clock frozen at 2020-01-15 08:00 in Covington. Every test checks that
no request went to another origin and that the page logged no JavaScript error.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.api.live_server import live_server
from tests.e2e.conftest import RENDER_TIMEOUT_MS

CLOCK = "2020-01-15T08:00:00-05:00"
#: East 7th Street at Scott Boulevard → a street in Covington's east side (the HTTP incident
#: tests' pair): the fastest car route runs along Scott Boulevard / 5th Street.
A, B = "39.0837,-84.5086", "39.0912,-84.4960"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _create_key(snapshot: Path, db: str, role: str, agency: str) -> str:
    out = subprocess.run([sys.executable, "-m", "api.cli", "keys", "create", "--role",
                          role, "--agency", agency, "--db", db, "--snapshot",
                          str(snapshot)], capture_output=True, text=True, check=True)
    key = out.stdout.strip().splitlines()[-1].strip()
    assert key.startswith("cnk_"), out.stdout
    return key


#: Keys of the module's server beside the traffic centre's (e.g. the transit agency's).
KEYS: dict[str, str] = {}


@pytest.fixture(scope="module")
def server(nky_snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, str]]:
    """(base URL, traffic-centre key for KYTC) of a server on its own incident store; the
    TANK feed's transit-agency key (for GTFS-Realtime pushes) is ``KEYS["nky_tank"]``."""
    db = f"sqlite:///{tmp_path_factory.mktemp('webdb') / 'incidents.db'}"
    key = _create_key(nky_snapshot_dir, db, "traffic_centre", "KYTC")
    KEYS["nky_tank"] = _create_key(nky_snapshot_dir, db, "transit_agency", "nky_tank")
    with live_server(nky_snapshot_dir, ["--db", db, "--clock", CLOCK, "--freeze-clock"]) as (
            url, _):
        yield url, key


@pytest.fixture(scope="module")
def server_url(server: tuple[str, str]) -> str:
    return server[0]


def _ready(page, url: str) -> None:
    resp = page.goto(url, wait_until="load")
    assert resp is not None and resp.status == 200
    page.locator("body[data-ready='1']").wait_for(state="attached", timeout=RENDER_TIMEOUT_MS)


def _plan(page, frm: str, to: str) -> None:
    page.fill("#from", frm)
    page.fill("#to", to)
    page.click("#plan")


def _basemap_drawn(page) -> None:
    page.wait_for_function("() => citynavMap.loaded() && citynavMap.areTilesLoaded()",
                           timeout=RENDER_TIMEOUT_MS)
    n = page.evaluate("citynavMap.queryRenderedFeatures().filter("
                      "f => f.sourceLayer === 'roads').length")
    assert n > 0, "no road of the vector tiles was drawn"


def test_commuter_plans_a_car_route(page_watch, server_url: str, artifacts: Path) -> None:
    page, watch = page_watch
    _ready(page, server_url + "/")
    page.select_option("#lang", "en")
    _plan(page, "5th St & Scott Blvd", "Madison Ave & 20th St")
    cards = page.locator(".card.route")
    cards.first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert cards.count() >= 2, "alternatives are listed"
    assert page.input_value("#from") == "East 5th Street & Scott Boulevard"
    steps = page.locator(".card.route.selected .steps li")
    assert steps.count() >= 3
    assert "Head" in steps.first.inner_text()
    assert re.search(r"\d+ min · \d+\.\d km", cards.first.inner_text())
    assert "ETA sources" in cards.first.inner_text()
    # a step moves the map to where it happens
    target = page.evaluate("citynavMap.getCenter().toArray()")
    steps.nth(1).click()
    page.wait_for_function("() => !citynavMap.isMoving()", timeout=RENDER_TIMEOUT_MS)
    page.wait_for_timeout(300)
    moved = page.evaluate("citynavMap.getCenter().toArray()")
    assert moved != target
    # choosing the alternative draws it as the selected route
    cards.nth(1).locator("button.pick").click()
    assert "selected" in (page.locator(".card.route").nth(1).get_attribute("class") or "")
    _basemap_drawn(page)
    page.screenshot(path=str(artifacts / "commuter-car.png"))
    watch.assert_offline_clean()


def test_commuter_plans_a_transit_trip_and_sees_departures(page_watch, server_url: str,
                                                           artifacts: Path) -> None:
    page, watch = page_watch
    _ready(page, server_url + "/")
    page.select_option("#lang", "en")
    page.get_by_role("tab", name="Transit").click()
    assert page.get_by_role("tab", name="Transit").get_attribute("aria-selected") == "true"
    _plan(page, A, "39.048,-84.5")
    card = page.locator(".card.itinerary").first
    card.wait_for(timeout=RENDER_TIMEOUT_MS)
    text = card.inner_text()
    assert re.search(r"\d\d:\d\d – \d\d:\d\d", text)
    legs = card.locator(".leg.transit")
    assert legs.count() >= 1
    style = legs.first.get_attribute("style") or ""
    assert "background:#" in style.replace(" ", ""), "transit legs carry the route colour"
    items = card.locator(".steps li")
    assert items.count() >= 2 and "→" in items.nth(1).inner_text()
    assert "(scheduled)" in card.inner_text() or "on time" in card.inner_text()
    _basemap_drawn(page)
    # the stop under the first transit leg's start: its departures board
    page.evaluate("""() => { const f = citynavMap.querySourceFeatures('citynav',
        {sourceLayer: 'stops'}).find(s => s.properties.stop_id === 'nky_tank:10094');
        citynavMap.jumpTo({center: f.geometry.coordinates, zoom: 17}); }""")
    page.wait_for_function("() => citynavMap.loaded() && citynavMap.areTilesLoaded()",
                           timeout=RENDER_TIMEOUT_MS)
    box = page.locator("#map canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    board = page.locator("#stop-board")
    board.locator("table").wait_for(timeout=RENDER_TIMEOUT_MS)
    assert "Scott at 7th" in board.inner_text()
    assert board.locator("tr").count() >= 2
    page.screenshot(path=str(artifacts / "commuter-transit.png"))
    watch.assert_offline_clean()


def test_language_switch_changes_ui_and_instructions(page_watch, server_url: str,
                                                     artifacts: Path) -> None:
    page, watch = page_watch
    _ready(page, server_url + "/")
    page.select_option("#lang", "en")
    _plan(page, A, B)
    page.locator(".card.route .steps li").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    english = page.locator(".card.route.selected .steps").inner_text()
    assert not CJK.search(english)
    with page.expect_response(lambda r: "/v1/route" in r.url and "lang=zh-CN" in r.url):
        page.select_option("#lang", "zh-CN")
    page.wait_for_function("() => document.querySelector('.card.route.selected .steps') && "
                           "/[\\u4e00-\\u9fff]/.test(document.querySelector("
                           "'.card.route.selected .steps').innerText)",
                           timeout=RENDER_TIMEOUT_MS)
    assert page.locator("h1").inner_text() == "citynav — 出行规划"
    assert page.get_by_role("tab", name="公交").count() == 1
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.screenshot(path=str(artifacts / "commuter-zh-CN.png"))
    # the choice is kept: a reload stays in Chinese
    _ready(page, server_url + "/")
    assert page.locator("label[for=from]").inner_text() == "起点"
    page.select_option("#lang", "en")
    assert page.locator("label[for=from]").inner_text() == "From"
    watch.assert_offline_clean()


def test_operator_closes_a_street_and_the_commuter_route_avoids_it(
        page_watch, browser, server: tuple[str, str], artifacts: Path) -> None:
    url, key = server
    page, watch = page_watch
    before = httpx.get(f"{url}/v1/route", params={"from": A, "to": B}).json()["routes"][0]
    coords = before["geometry"]["coordinates"]
    k = len(coords) // 3
    stretch = coords[k:k + 6]

    _ready(page, url + "/console")
    page.select_option("#lang", "en")
    # a wrong key is refused plainly
    page.fill("#key", "cnk_000000000000_wrong")
    page.click("#signin button[type=submit]")
    page.locator("#signin-msg .error").wait_for(timeout=RENDER_TIMEOUT_MS)
    page.fill("#key", key)
    page.click("#signin button[type=submit]")
    page.locator("#editor").wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
    assert "traffic_centre · KYTC" in page.inner_text("#signed-in")
    assert page.evaluate("sessionStorage.getItem('citynav.console.key')") == key

    # draw the closure along the route's stretch with the drawing control
    page.evaluate(f"citynavMap.fitBounds(CN.lineBounds({stretch}), "
                  "{padding: 120, duration: 0, maxZoom: 18})")
    page.wait_for_function("() => citynavMap.loaded()", timeout=RENDER_TIMEOUT_MS)
    box = page.locator("#map canvas.maplibregl-canvas").bounding_box()
    pts = [page.evaluate(f"citynavMap.project({c})") for c in stretch]
    page.click("#draw-line")
    for p in pts[:-1]:
        page.mouse.click(box["x"] + p["x"], box["y"] + p["y"])
        page.wait_for_timeout(150)
    page.mouse.dblclick(box["x"] + pts[-1]["x"], box["y"] + pts[-1]["y"])
    drawn = page.evaluate("citynavDraw.getAll().features.map(f => f.geometry.type)")
    assert drawn == ["LineString"]
    page.fill("#f-desc-en", "Closed for works (browser test)")

    # preview: the match and the impact, nothing stored
    with page.expect_response(lambda r: "dry_run=true" in r.url) as info:
        page.click("#preview")
    assert info.value.status == 200
    preview = page.locator("#preview-out .preview")
    preview.wait_for(timeout=RENDER_TIMEOUT_MS)
    text = preview.inner_text()
    assert re.search(r"[1-9]\d* edges · \d+ m", text)
    assert re.search(r"Sampled routes that change: [1-9]\d* / \d+", text)
    assert httpx.get(f"{url}/v1/incidents").json()["features"] == []
    page.screenshot(path=str(artifacts / "console-preview.png"))

    # publish
    with page.expect_response(lambda r: r.url.endswith("/v1/incidents")
                              and r.request.method == "POST") as info:
        page.click("#publish")
    assert info.value.status == 201
    inc_id = info.value.json()["id"]
    page.locator("#preview-out .published", has_text=inc_id).wait_for(timeout=RENDER_TIMEOUT_MS)
    page.locator(f"#incidents tr[data-id='{inc_id}']").wait_for(timeout=RENDER_TIMEOUT_MS)
    # its diversions, drawn and with the sign text
    page.locator(f"#incidents tr[data-id='{inc_id}'] button.diversions").click()
    sign = page.locator("#diversions-out li.sign").first
    sign.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert "CLOSED" in sign.inner_text()
    page.wait_for_function("() => citynavMap.loaded() && citynavMap.queryRenderedFeatures("
                           "{layers: ['diversions']}).length > 0", timeout=RENDER_TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "console-published.png"))
    watch.assert_offline_clean(expected_errors=("401",))  # the wrong key's answer

    # the commuter's route now avoids the closure and says why
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    try:
        commuter = ctx.new_page()
        errors: list[str] = []
        seen: list[str] = []
        commuter.on("request", lambda req: seen.append(req.url))
        commuter.on("pageerror", lambda exc: errors.append(str(exc)))
        commuter.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        _ready(commuter, url + "/")
        _plan(commuter, A, B)
        msg = commuter.locator(".card.route.selected .explanation").first
        msg.wait_for(timeout=RENDER_TIMEOUT_MS)
        assert inc_id in msg.inner_text()
        after = httpx.get(f"{url}/v1/route", params={"from": A, "to": B}).json()["routes"][0]
        assert after["geometry"] != before["geometry"]
        assert inc_id in after["explanation"]["avoided"] + after["explanation"]["incidents"]
        commuter.screenshot(path=str(artifacts / "commuter-phone-closure.png"), full_page=True)
        assert not errors, errors
        assert all(u.startswith((url + "/", "blob:" + url + "/")) for u in seen), seen
    finally:
        ctx.close()


def test_operator_resolve_conflict_is_shown_plainly(page_watch, server: tuple[str, str],
                                                    artifacts: Path) -> None:
    url, key = server
    page, watch = page_watch
    hdr = {"Authorization": f"Bearer {key}"}
    geom = {"type": "Point", "coordinates": [-84.5086, 39.0837]}
    inc = httpx.post(f"{url}/v1/incidents", headers=hdr, json={
        "type": "hazard", "severity": "low", "start": "2020-01-15T07:00:00-05:00",
        "geometry": geom, "road_effect": {"delay_s": 30}}).json()
    _ready(page, url + "/console")
    page.select_option("#lang", "en")
    page.evaluate(f"sessionStorage.setItem('citynav.console.key', '{key}')")
    _ready(page, url + "/console")
    row = page.locator(f"#incidents tr[data-id='{inc['id']}']")
    row.wait_for(timeout=RENDER_TIMEOUT_MS)
    # someone else changes it meanwhile
    r = httpx.patch(f"{url}/v1/incidents/{inc['id']}", headers={**hdr, "If-Match": '"1"'},
                    json={"severity": "high"})
    assert r.status_code == 200
    row.locator("button.resolve").click()
    conflict = page.locator("#list-msg .conflict")
    conflict.wait_for(timeout=RENDER_TIMEOUT_MS)
    # who changed it (the agency) and when, in the city's time
    assert f"changed by KYTC at {_city_hhmm(url, inc['id'])} — reload" in conflict.inner_text()
    page.screenshot(path=str(artifacts / "console-conflict.png"))
    # the time slider asks what was in effect two hours before the server's now (07:00 local
    # is the hazard's start; at 06:00 local nothing was in effect)
    with page.expect_response(lambda r: "/v1/incidents?" in r.url and "at=" in r.url) as info:
        page.eval_on_selector("#at", "el => { el.value = '-120'; "
                              "el.dispatchEvent(new Event('change')); }")
    assert info.value.status == 200
    assert "2020-01-15 11:00Z" in page.inner_text("#at-out")
    assert info.value.json()["features"] == []
    page.locator(f"#incidents tr[data-id='{inc['id']}']").wait_for(state="detached",
                                                                   timeout=RENDER_TIMEOUT_MS)
    watch.assert_offline_clean(expected_errors=("412",))


def _city_hhmm(url: str, incident_id: str) -> str:
    """When the incident was last changed, HH:MM in the city's timezone (the store stamps
    changes with the wall clock, not the server's replay clock)."""
    cur = httpx.get(f"{url}/v1/incidents/{incident_id}").json()
    tz = ZoneInfo(httpx.get(f"{url}/v1/health").json()["timezone"])
    return datetime.fromisoformat(cur["updated_at"]).astimezone(tz).strftime("%H:%M")


def _sign_in(page, url: str, key: str) -> None:
    _ready(page, url + "/console")
    page.select_option("#lang", "en")
    page.evaluate(f"sessionStorage.setItem('citynav.console.key', '{key}')")
    _ready(page, url + "/console")


def test_operator_edits_an_incident_with_etag_and_filters_by_severity(
        page_watch, server: tuple[str, str], artifacts: Path) -> None:
    """Edit fields (severity, vehicle classes closed to) with If-Match; the list filters
    by severity and type; a concurrent change is shown as "changed by KYTC at HH:MM"."""
    url, key = server
    page, watch = page_watch
    hdr = {"Authorization": f"Bearer {key}"}
    geom = {"type": "Point", "coordinates": [-84.5121, 39.0835]}
    inc = httpx.post(f"{url}/v1/incidents", headers=hdr, json={
        "type": "roadworks", "severity": "low", "start": "2020-01-15T07:30:00-05:00",
        "geometry": geom, "road_effect": {"closed_to": ["car"]},
        "description": {"en": "Lane works (edit test)", "es": "Obras"}}).json()
    row_sel = f"#incidents tr[data-id='{inc['id']}']"
    _sign_in(page, url, key)
    page.locator(row_sel).wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.locator(row_sel + " td.severity").inner_text() == "low"
    # the filters: severity and type hide it, "any" shows it again
    page.select_option("#flt-severity", "severe")
    page.locator(row_sel).wait_for(state="detached", timeout=RENDER_TIMEOUT_MS)
    page.select_option("#flt-severity", "low")
    page.locator(row_sel).wait_for(timeout=RENDER_TIMEOUT_MS)
    page.select_option("#flt-type", "closure")
    page.locator(row_sel).wait_for(state="detached", timeout=RENDER_TIMEOUT_MS)
    page.select_option("#flt-type", "roadworks")
    page.locator(row_sel).wait_for(timeout=RENDER_TIMEOUT_MS)
    for sel in ("#flt-type", "#flt-severity"):
        page.select_option(sel, "")

    # edit: the form shows the stored fields and the ETag
    page.locator(row_sel + " button.edit").click()
    page.locator("#editing").wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
    assert '"1"' in page.inner_text("#editing")
    assert page.input_value("#f-severity") == "low" and page.input_value("#f-type") == "roadworks"
    assert page.input_value("#f-start") == "2020-01-15T07:30"  # the city's time
    checked = page.eval_on_selector_all("#f-closed input:checked", "els => els.map(e => e.value)")
    assert checked == ["car"]
    assert page.input_value("#f-desc-en") == "Lane works (edit test)"
    page.select_option("#f-severity", "moderate")
    page.check("#f-closed input[value=bus]")
    page.check("#f-closed input[value=truck]")
    with page.expect_response(lambda r: r.request.method == "PATCH") as info:
        page.click("#save")
    assert info.value.status == 200
    sent = info.value.request
    assert sent.headers["if-match"] == '"1"'
    patch = sent.post_data_json
    assert patch == {"severity": "moderate",
                     "road_effect": {"closed_to": ["car", "bus", "truck"]}}, patch
    page.locator("#preview-out .saved").wait_for(timeout=RENDER_TIMEOUT_MS)
    now = httpx.get(f"{url}/v1/incidents/{inc['id']}").json()
    assert now["version"] == 2 and now["severity"] == "moderate"
    assert now["road_effect"]["closed_to"] == ["car", "bus", "truck"]
    assert now["description"] == inc["description"] and now["geometry"] == inc["geometry"]
    page.locator(row_sel + " td.severity", has_text="moderate").wait_for(
        timeout=RENDER_TIMEOUT_MS)

    # a conflict: someone else changes it while the form is open
    page.locator(row_sel + " button.edit").click()
    page.locator("#editing", has_text='"2"').wait_for(timeout=RENDER_TIMEOUT_MS)
    r = httpx.patch(f"{url}/v1/incidents/{inc['id']}", headers={**hdr, "If-Match": '"2"'},
                    json={"severity": "high"})
    assert r.status_code == 200
    page.fill("#f-desc-en", "Lane works, two lanes (edit test)")
    with page.expect_response(lambda r: r.request.method == "PATCH") as info:
        page.click("#save")
    assert info.value.status == 412
    conflict = page.locator("#preview-out .conflict")
    conflict.wait_for(timeout=RENDER_TIMEOUT_MS)
    when = _city_hhmm(url, inc["id"])
    assert f"{inc['id']}: changed by KYTC at {when} — reload" in conflict.inner_text()
    page.screenshot(path=str(artifacts / "console-edit-conflict.png"))
    # reload reads the new version into the form
    conflict.locator("button.reload").click()
    page.locator("#editing", has_text='"3"').wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.input_value("#f-severity") == "high"
    page.click("#edit-cancel")
    # the live feed came from the event stream
    assert page.evaluate("document.body.dataset.live") == "sse"
    page.locator("#feed li.live", has_text=f"{inc['id']} v3").wait_for(timeout=RENDER_TIMEOUT_MS)
    watch.assert_offline_clean(expected_errors=("412",))


def test_commuter_transit_trip_shows_realtime_delays_and_alerts(
        page_watch, server: tuple[str, str], artifacts: Path) -> None:
    """A TripUpdate (every departure of the trip's first stop four minutes late) and an Alert
    on its routes, pushed through the realtime ingest, reach an itinerary already on the
    page through the event stream: its leg turns "+4 min late" and the alert shows."""
    from tests.api.rt_support import PROTO, message

    url, _key = server
    page, watch = page_watch
    _ready(page, url + "/")
    page.select_option("#lang", "en")
    page.get_by_role("tab", name="Transit").click()
    _plan(page, A, "39.048,-84.5")
    card = page.locator(".card.itinerary").first
    card.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert "(scheduled)" in card.inner_text()
    assert not page.locator(".card.itinerary .late").count()
    page.wait_for_function("() => document.body.dataset.live === 'sse'",
                           timeout=RENDER_TIMEOUT_MS)

    at_s = int(datetime.fromisoformat(CLOCK).timestamp())
    deps = httpx.get(f"{url}/v1/stops/nky_tank:10094/departures",
                     params={"limit": 30}).json()["departures"]
    assert deps
    tu = message(at_s)
    for i, d in enumerate(deps):
        e = tu.entity.add()
        e.id = f"tu{i}"
        e.trip_update.trip.trip_id = d["trip_id"].split(":", 1)[1]
        u = e.trip_update.stop_time_update.add()
        u.stop_id = "10094"
        u.departure.delay = u.arrival.delay = 240
    agency = {"Authorization": f"Bearer {KEYS['nky_tank']}", **PROTO}
    r = httpx.post(f"{url}/v1/realtime/nky_tank", content=tu.SerializeToString(),
                   headers=agency, timeout=60)
    assert r.status_code == 200 and r.json()["applied"]["applied"] == len(deps), r.text
    al = message(at_s)
    e = al.entity.add()
    e.id = "detour-7th"
    for rid in sorted({d["route"]["id"].split(":", 1)[1] for d in deps}):
        e.alert.informed_entity.add().route_id = rid
    tr = e.alert.header_text.translation.add()
    tr.text, tr.language = "Detour at 7th Street (browser test)", "en"
    r = httpx.post(f"{url}/v1/realtime/nky_tank", content=al.SerializeToString(),
                   headers=agency, timeout=60)
    assert r.status_code == 200, r.text

    # no click: the page plans again when the stream reports new realtime data
    late = page.locator(".card.itinerary.selected .late").first
    late.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert late.inner_text().strip() == "+4 min late"
    card = page.locator(".card.itinerary.selected")
    card.locator(".alert", has_text="Detour at 7th Street (browser test)").wait_for(
        timeout=RENDER_TIMEOUT_MS)
    # the answer the page shows is the server's: the selected itinerary's first transit leg
    plan = httpx.get(f"{url}/v1/plan", params={"from": A, "to": "39.048,-84.5"}).json()
    leg = next(lg for lg in plan["itineraries"][0]["legs"] if lg["mode"] != "walk")
    assert leg["realtime"] and leg["departure_delay_s"] == 240
    assert int(page.evaluate("document.body.dataset.planned")) >= 2
    _basemap_drawn(page)
    page.screenshot(path=str(artifacts / "commuter-realtime.png"))
    watch.assert_offline_clean()


def test_console_falls_back_to_polling_without_the_event_stream(
        page_watch, server: tuple[str, str]) -> None:
    """With /v1/events unreachable the console polls: a change made elsewhere still reaches
    its table and feed."""
    url, key = server
    page, watch = page_watch
    blocked: list[str] = []

    def refuse(route) -> None:
        blocked.append(route.request.url)
        route.abort("connectionrefused")

    page.route("**/v1/events*", refuse)
    _sign_in(page, url, key)
    page.wait_for_function("() => document.body.dataset.live === 'poll'",
                           timeout=RENDER_TIMEOUT_MS)
    assert blocked, "the page tried the event stream first"
    inc = httpx.post(f"{url}/v1/incidents", headers={"Authorization": f"Bearer {key}"}, json={
        "type": "event", "severity": "moderate", "start": "2020-01-15T07:45:00-05:00",
        "geometry": {"type": "Point", "coordinates": [-84.5095, 39.0870]},
        "road_effect": {"delay_s": 60}}).json()
    page.locator(f"#incidents tr[data-id='{inc['id']}']").wait_for(timeout=RENDER_TIMEOUT_MS)
    page.locator("#feed li", has_text=f"{inc['id']} v1").wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.evaluate("document.body.dataset.live") == "poll"
    watch.assert_offline_clean(expected_errors=("ERR_CONNECTION_REFUSED", "/v1/events"))


def test_commuter_search_suggests_named_places(page_watch, server_url: str) -> None:
    """Typing part of an OSM place's name suggests it (with its category) and planning to it
    works."""
    page, watch = page_watch
    _ready(page, server_url + "/")
    page.select_option("#lang", "en")
    page.fill("#to", "black brig")
    option = page.locator('#to-list option[value="Black Brigade Monument"]')
    option.wait_for(state="attached", timeout=RENDER_TIMEOUT_MS)
    assert option.inner_text() == "historic=monument"
    _plan(page, A, "Black Brigade Monument")
    page.locator(".card.route").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.input_value("#to") == "Black Brigade Monument"
    watch.assert_offline_clean()


def test_commuter_typing_on_is_not_overwritten_by_a_late_lookup(page_watch,
                                                                server_url: str) -> None:
    """A place lookup that answers after the user typed on (here: held back 1.5 s) does not
    overwrite the field or the chosen destination (it once garbled the field to
    "Black Brigade MonumentBlack Brigade Monument")."""
    page, watch = page_watch
    _ready(page, server_url + "/")
    page.select_option("#lang", "en")
    page.evaluate("""() => { const f = window.fetch;
      window.fetch = async (u, o) => {
        if (String(u).includes("q=Madison%20Ave&limit=1&"))
          await new Promise((r) => setTimeout(r, 1500));
        return f(u, o); }; }""")
    page.fill("#to", "Madison Ave")
    # leaving the field fires its change (a lookup of "Madison Ave", held back) ...
    _plan(page, A, "Black Brigade Monument")
    page.locator(".card.route").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    # ... which answers now, after the plan: it must change nothing
    page.wait_for_function("""() => performance.getEntriesByType("resource").some(
        (e) => e.name.includes("q=Madison%20Ave&limit=1&") && e.responseEnd > 0)""",
                           timeout=RENDER_TIMEOUT_MS)
    page.wait_for_timeout(300)
    assert page.input_value("#to") == "Black Brigade Monument"
    assert page.evaluate("document.body.dataset.planned") == "1"
    watch.assert_offline_clean()


def test_commuter_retyping_a_field_is_not_garbled_by_its_lookup(page_watch,
                                                                 server_url: str) -> None:
    """The user leaves a field (its lookup starts, here held back), comes back and selects its
    text to type over it; the lookup answering then sets the place but leaves the field's text
    and selection alone, so what they type replaces the text (it once appended to the
    looked-up name: "Black Brigade MonumentBlack Brigade Monument")."""
    page, watch = page_watch
    _ready(page, server_url + "/")
    page.select_option("#lang", "en")
    page.evaluate("""() => { const f = window.fetch;
      let go; const held = new Promise((r) => { go = r; });
      window.releaseLookup = () => go();
      window.fetch = async (u, o) => {
        if (String(u).includes("q=Madison%20Ave&limit=1&")) await held;
        return f(u, o); }; }""")
    page.fill("#to", "Madison Ave")
    page.focus("#from")  # leaving the field fires its change: a lookup, held back
    page.focus("#to")
    page.evaluate("document.getElementById('to').select()")
    page.evaluate("releaseLookup()")
    page.locator(".marker.destination").wait_for(state="attached", timeout=RENDER_TIMEOUT_MS)
    assert page.evaluate("""() => { const i = document.getElementById('to');
      return [i.value, i.selectionStart, i.selectionEnd]; }""") == ["Madison Ave", 0, 11]
    page.keyboard.insert_text("Black Brigade Monument")
    assert page.input_value("#to") == "Black Brigade Monument"
    page.fill("#from", A)
    page.click("#plan")
    page.locator(".card.route").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.input_value("#to") == "Black Brigade Monument"
    watch.assert_offline_clean()
