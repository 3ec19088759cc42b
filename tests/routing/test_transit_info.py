"""Alert texts in the requested language, incidents as GTFS-Realtime alerts (for answers and
for publishing), and which alerts concern a trip at its stops."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import numpy as np

from gtfs.live import TransitLiveBuilder
from gtfs.realtime.alerts import add_alert_effects
from routing.i18n import pick_text
from routing.live import FOREVER_MS, IncidentInfo, LiveState
from routing.transit_info import TransitInfo, incident_alerts

WED = dt.date(2020, 1, 15)
T0 = int(dt.datetime(2020, 1, 15, 8, tzinfo=dt.UTC).timestamp())


def test_pick_text_prefers_the_language_then_english() -> None:
    texts = {"en-US": "Delay", "zh-Hans": "延误", "fr": "Retard"}
    assert pick_text(texts, "en") == ("en-US", "Delay")
    assert pick_text(texts, "zh-CN") == ("zh-Hans", "延误")
    assert pick_text({"zh-TW": "延誤", "zh": "延误"}, "zh-CN") == ("zh", "延误")
    assert pick_text({"zh-TW": "延誤"}, "zh-CN") == ("zh-TW", "延誤")
    assert pick_text({"fr": "Retard", "EN": "Delay"}, "zh-CN") == ("EN", "Delay")
    assert pick_text({"fr": "Retard", "": "Delay"}, "zh-CN") == ("", "Delay")
    assert pick_text({"fr": "Retard", "de": "Verspätung"}, "en") == ("fr", "Retard")
    assert pick_text({}, "en") is None


def _stop_and_routes(tt) -> tuple[str, list[str], str]:
    """A stop, the routes serving it, and a route that does not."""
    a = tt.arrays
    s = int(np.argmax(np.diff(np.asarray(a["stop_pattern_offsets"]))))  # the busiest
    pats = np.asarray(a["stop_patterns"])[int(a["stop_pattern_offsets"][s]):
                                          int(a["stop_pattern_offsets"][s + 1])]
    serving = sorted({tt.strings["route_id"][int(a["pattern_route"][p])] for p in pats})
    other = next(r for r in tt.strings["route_id"] if r not in serving)
    return tt.strings["stop_id"][s], serving, other


def test_incident_alerts_for_answers_and_for_publishing(nky_planner) -> None:
    tt = nky_planner.tt
    stop, serving, other = _stop_and_routes(tt)
    info = IncidentInfo("INC-7", "transit_disruption", "moderate", stops_closed=(stop,),
                        routes_affected=(*serving, other),
                        windows=((T0 * 1000, int(FOREVER_MS)),),
                        description=MappingProxyType({"en": "Works"}))
    [(feed, ans)] = incident_alerts(tt, info)
    assert feed == "nky_tank" and ans.id == "INC-7" and ans.effect == "NO_SERVICE"
    assert ans.severity == "WARNING" and ans.cause == "OTHER_CAUSE"
    assert [(p.start_s, p.end_s) for p in ans.active_periods] == [(T0, None)]
    assert ans.description_text == {"en": "Works"} and "INC-7" in ans.header_text["en"]
    plain = stop.split(":", 1)[1]
    assert ans.informed[0].stop_id == plain and ans.informed[0].agency_id
    assert {e.route_id for e in ans.informed[1:]} == {r.split(":", 1)[1]
                                                       for r in (*serving, other)}
    assert all(e.stop_id is None for e in ans.informed[1:])  # routes alone: wherever they run
    pub = incident_alerts(tt, info, publish=True)
    assert [a.id for _, a in pub] == ["INC-7", "INC-7:routes"]
    first, rest = pub[0][1], pub[1][1]
    assert first.effect == "NO_SERVICE"
    assert all(e.stop_id == plain for e in first.informed)  # each route at the closed stop
    assert {e.route_id for e in first.informed if e.route_id} == {r.split(":", 1)[1]
                                                                 for r in serving}
    assert rest.effect == "OTHER_EFFECT" and [e.route_id for e in rest.informed] == [
        other.split(":", 1)[1]]
    # read back as GTFS-Realtime, the published alerts close the stop and cancel nothing
    b = TransitLiveBuilder(tt)
    rep = add_alert_effects(b, tt, feed, [a for _, a in pub], [WED])
    assert rep.trips_cancelled == 0 and rep.stops_closed == 1 and rep.stops_skipped > 0
    # an incident without a transit effect is no alert
    assert incident_alerts(tt, IncidentInfo("INC-8", "closure", "high")) == []


def test_alerts_concern_trips_at_their_stops(nky_planner) -> None:
    tt = nky_planner.tt
    stop, serving, other = _stop_and_routes(tt)
    s = tt.stop_index(stop)
    info = IncidentInfo("INC-7", "transit_disruption", "high", stops_closed=(stop,),
                        routes_affected=(other,), windows=((T0 * 1000, (T0 + 3600) * 1000),))
    live = LiveState(incidents=MappingProxyType({"INC-7": info}), incident_ids=("INC-7",))
    ti = TransitInfo(tt, live)
    route_of = np.asarray(tt.arrays["trip_route"])
    on_other = int(np.flatnonzero(route_of == tt.strings["route_id"].index(other))[0])
    on_serving = int(np.flatnonzero(route_of == tt.strings["route_id"].index(serving[0]))[0])
    assert [a.uid for a in ti.alerts_for(on_other, (), T0, T0)] == ["INC-7"]
    assert ti.alerts_for(on_other, (), T0 + 3700, T0 + 4000) == []  # over by then
    assert ti.alerts_for(on_serving, (), T0, T0) == []  # the route is not named
    assert [a.uid for a in ti.alerts_for(on_serving, (s,), T0, T0)] == ["INC-7"]
    assert ti.alerts_for(on_serving, (s,), T0 - 7200, T0 - 3600) == []
    assert ti.feed_alerts(at_s=T0 + 7200) == [] and len(ti.feed_alerts(at_s=T0)) == 2
