"""What transit answers say about live conditions: alerts on a trip at its stops, the vehicle
running a trip and its delay.

Alerts come from two sources, as :class:`TransitAlert` values with informed entities resolved
to timetable indices:

* ``gtfs_rt`` — the ServiceAlerts held per static feed (:attr:`LiveState.transit_alerts`);
  ``uid`` ``FEED:ALERT_ID``;
* ``incident`` — every incident with a transit effect (stops closed or routes affected,
  :class:`routing.live.IncidentInfo`), one alert per static feed it touches
  (:func:`incident_alerts`); ``uid`` the incident id.

:meth:`TransitInfo.alerts_for` selects the alerts concerning a trip at some of its stops
during a time span: an informed entity matches when every selector it gives matches (agency,
route, route type, direction, trip, and — when it names a stop — one of the given stops);
entities with ids that did not resolve match nothing. One :class:`TransitInfo` is made per
routing state (:func:`transit_info`), so an answer reads one version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from gtfs.live import TransitLive
from gtfs.realtime.alerts import ActivePeriod, Alert, InformedEntity, resolve_ids
from gtfs.realtime.match import FeedMatcher
from gtfs.realtime.vehicles import VehiclePosition
from gtfs.timetable import Timetable
from routing.live import FOREVER_MS, IncidentInfo, LiveState
from routing.state import RoutingState

ALERT_SOURCES = ("gtfs_rt", "incident")
#: GTFS-RT cause and (without closed stops) effect of an incident, by incident type.
INCIDENT_CAUSE = {"accident": "ACCIDENT", "roadworks": "CONSTRUCTION", "weather": "WEATHER"}
INCIDENT_EFFECT = {"closure": "DETOUR", "roadworks": "DETOUR", "accident": "SIGNIFICANT_DELAYS",
                   "congestion": "SIGNIFICANT_DELAYS"}
INCIDENT_SEVERITY = {"low": "INFO", "moderate": "WARNING", "high": "SEVERE",
                     "severe": "SEVERE"}
_TYPE_NAMES = {
    "en": {"accident": "Accident", "roadworks": "Roadworks", "closure": "Closure",
           "congestion": "Congestion", "event": "Event", "hazard": "Hazard",
           "weather": "Weather", "transit_disruption": "Transit disruption"},
    "zh-CN": {"accident": "事故", "roadworks": "道路施工", "closure": "封闭", "congestion": "拥堵",
              "event": "活动", "hazard": "危险", "weather": "天气",
              "transit_disruption": "公共交通中断"},
}


@dataclass(frozen=True)
class TransitAlert:
    """An alert as answers attach it (see the module docstring): ``uid`` unique across
    sources, ``source`` one of :data:`ALERT_SOURCES`, ``feed_id`` the static feed its
    entities speak of, ``alert`` with resolved informed entities, ``timezone`` the feed's
    (agency) timezone, to show its active periods in."""

    uid: str
    source: str
    feed_id: str
    alert: Alert
    timezone: str = "UTC"


def matcher(tt: Timetable, feed: str) -> FeedMatcher:
    """The :class:`FeedMatcher` of a static feed, made once per timetable."""
    key = ("feed_matcher", feed)
    m: FeedMatcher | None = tt.derived.get(key)
    if m is None:
        m = tt.derived[key] = FeedMatcher(tt, feed)
    return m


def id_index(tt: Timetable, name: str) -> dict[str, int]:
    """Id -> index of a string table (``stop_id``, ``route_id``), made once per timetable."""
    key = ("id_index", name)
    ix: dict[str, int] | None = tt.derived.get(key)
    if ix is None:
        ix = tt.derived[key] = {s: i for i, s in enumerate(tt.strings[name])}
    return ix


def _plain(ns_id: str) -> tuple[str, str]:
    feed, _, plain = ns_id.partition(":")
    return feed, plain


def _routes_of_stops(tt: Timetable, stops: Iterable[int]) -> dict[int, set[int]]:
    """Route index -> the given stops it serves."""
    a = tt.arrays
    spo, sp, pr = (np.asarray(a[n]) for n in ("stop_pattern_offsets", "stop_patterns",
                                              "pattern_route"))
    out: dict[int, set[int]] = {}
    for s in stops:
        for p in sp[int(spo[s]): int(spo[s + 1])].tolist():
            out.setdefault(int(pr[p]), set()).add(int(s))
    return out


def _header(info: IncidentInfo, tt: Timetable, stops: Sequence[int]) -> dict[str, str]:
    en, zh = _TYPE_NAMES["en"], _TYPE_NAMES["zh-CN"]
    kind_en = en.get(info.type, info.type.replace("_", " ").capitalize())
    kind_zh = zh.get(info.type, info.type)
    if len(stops) == 1:
        name = tt.strings["stop_name"][int(stops[0])]
        return {"en": f"{kind_en} {info.id}: {name} closed",
                "zh-CN": f"{kind_zh} {info.id}：{name} 站关闭"}
    if stops:
        return {"en": f"{kind_en} {info.id}: {len(stops)} stops closed",
                "zh-CN": f"{kind_zh} {info.id}：{len(stops)} 个站点关闭"}
    where_en = f" on {info.streets[0]}" if info.streets else ""
    where_zh = f"（{info.streets[0]}）" if info.streets else ""
    return {"en": f"{kind_en} {info.id}{where_en}", "zh-CN": f"{kind_zh} {info.id}{where_zh}"}


def incident_alerts(tt: Timetable, info: IncidentInfo, *, publish: bool = False
                    ) -> list[tuple[str, Alert]]:
    """``(feed, alert)`` per static feed whose stops or routes the incident names (none
    without a transit effect), with the feed's plain ids; alert id the incident id.

    Effect ``NO_SERVICE`` when it closes stops, else by type (:data:`INCIDENT_EFFECT`,
    default ``OTHER_EFFECT``); cause and severity by :data:`INCIDENT_CAUSE` /
    :data:`INCIDENT_SEVERITY`; active periods its windows (an open end stays open); header
    from its type, id and closed stops (English and Simplified Chinese), description its own
    text per language. Informed entities: each closed stop (with the feed's agency when it
    has only one) and each affected route with its agency — the route alone, since the
    incident names it affected wherever it runs (what answers match legs against).

    ``publish``: as GTFS-Realtime consumers read it, where a route alone under
    ``NO_SERVICE`` would cancel the whole route: routes serving a closed stop are paired
    with it (that route at that stop), and the routes serving none go to a second alert
    ``<id>:routes`` with the type's effect."""
    feeds = list(tt.strings["feed_name"])
    stop_ix, route_ix = id_index(tt, "stop_id"), id_index(tt, "route_id")
    by_feed: dict[str, tuple[list[int], list[int]]] = {}
    for sid in info.stops_closed:
        if sid in stop_ix and _plain(sid)[0] in feeds:
            by_feed.setdefault(_plain(sid)[0], ([], []))[0].append(stop_ix[sid])
    for rid in info.routes_affected:
        if rid in route_ix and _plain(rid)[0] in feeds:
            by_feed.setdefault(_plain(rid)[0], ([], []))[1].append(route_ix[rid])
    a = tt.arrays
    route_agency = np.asarray(a["route_agency"])
    agency_feed = np.asarray(a["agency_feed"])
    agency_ids = tt.strings["agency_id"]
    stop_ids, route_ids = tt.strings["stop_id"], tt.strings["route_id"]
    type_effect = INCIDENT_EFFECT.get(info.type, "OTHER_EFFECT")

    def alert(aid: str, effect: str, ents: list[InformedEntity], stops: list[int]) -> Alert:
        periods = tuple(ActivePeriod(lo // 1000, None if hi >= int(FOREVER_MS) else hi // 1000)
                        for lo, hi in info.windows)
        return Alert(aid, INCIDENT_CAUSE.get(info.type, "OTHER_CAUSE"), effect,
                     INCIDENT_SEVERITY.get(info.severity), periods,
                     MappingProxyType(_header(info, tt, stops)),
                     MappingProxyType(dict(info.description)), MappingProxyType({}),
                     tuple(ents))

    out: list[tuple[str, Alert]] = []
    for feed in sorted(by_feed):
        stops, routes = by_feed[feed]
        ags = np.flatnonzero(agency_feed == feeds.index(feed))
        feed_agency = _plain(agency_ids[int(ags[0])])[1] if ags.shape[0] == 1 else None
        stop_ents = [InformedEntity(agency_id=feed_agency, stop_id=_plain(stop_ids[s])[1])
                     for s in stops]
        effect = "NO_SERVICE" if stops else type_effect
        route_ents: list[InformedEntity] = []
        alone: list[InformedEntity] = []
        served = _routes_of_stops(tt, stops)
        for r in routes:
            ag, rid = _plain(agency_ids[int(route_agency[r])])[1], _plain(route_ids[r])[1]
            if not publish or not stops:
                route_ents.append(InformedEntity(agency_id=ag, route_id=rid))
                continue
            at = sorted(served.get(r, ()))
            route_ents += [InformedEntity(agency_id=ag, route_id=rid,
                                          stop_id=_plain(stop_ids[s])[1]) for s in at]
            if not at:
                alone.append(InformedEntity(agency_id=ag, route_id=rid))
        out.append((feed, alert(info.id, effect, stop_ents + route_ents, stops)))
        if alone:
            out.append((feed, alert(f"{info.id}:routes", type_effect, alone, [])))
    return out


def _resolved(tt: Timetable, feed: str, alert: Alert) -> Alert:
    m = matcher(tt, feed)
    return Alert(alert.id, alert.cause, alert.effect, alert.severity, alert.active_periods,
                 alert.header_text, alert.description_text, alert.url,
                 tuple(resolve_ids(e, m) for e in alert.informed))


class TransitInfo:
    """Alerts and vehicles of one live state, indexed for answers (see the module
    docstring)."""

    def __init__(self, tt: Timetable, live: LiveState) -> None:
        self.tt = tt
        self.live = live
        a = tt.arrays
        self._trip_route = np.asarray(a["trip_route"])
        self._trip_direction = np.asarray(a["trip_direction"])
        self._route_agency = np.asarray(a["route_agency"])
        self._route_type = np.asarray(a["route_type"])
        feeds = set(tt.strings["feed_name"])
        alerts: list[TransitAlert] = []
        for feed, held in sorted(live.transit_alerts.items()):
            if feed in feeds:
                tz = matcher(tt, feed).timezone
                alerts += [TransitAlert(f"{feed}:{al.id}", "gtfs_rt", feed,
                                        _resolved(tt, feed, al), tz) for al in held]
        published = [(ta.feed_id, ta.alert) for ta in alerts]
        for inc_id in live.incident_ids:
            info = live.incidents[inc_id]
            for feed, al in incident_alerts(tt, info):
                alerts.append(TransitAlert(inc_id, "incident", feed, _resolved(tt, feed, al),
                                           matcher(tt, feed).timezone))
            published += incident_alerts(tt, info, publish=True)
        self.alerts: tuple[TransitAlert, ...] = tuple(alerts)
        self._published = tuple(published)
        vehicles: dict[tuple[int, dt.date], VehiclePosition] = {}
        for _, held_v in sorted(live.vehicles.items()):
            for v in held_v:
                if v.trip < 0 or v.service_date is None:
                    continue
                key = (v.trip, v.service_date)
                old = vehicles.get(key)
                if old is None or v.timestamp_s > old.timestamp_s:
                    vehicles[key] = v
        self._vehicles: Mapping[tuple[int, dt.date], VehiclePosition] = \
            MappingProxyType(vehicles)

    # ---------------------------------------------------------------- alerts
    def _matches(self, e: InformedEntity, trip: int, stops: Sequence[int]) -> bool:
        if e.unknown or not (e.selects_trips or e.stop_id is not None):
            return False
        route = int(self._trip_route[trip])
        return ((e.agency_id is None or e.agency == int(self._route_agency[route]))
                and (e.route_id is None or e.route == route)
                and (e.route_type is None or e.route_type == int(self._route_type[route]))
                and (e.direction_id is None
                     or e.direction_id == int(self._trip_direction[trip]))
                and (e.trip_id is None or trip in e.trips)
                and (e.stop_id is None or any(s in e.stops for s in stops)))

    def alerts_for(self, trip: int, stops: Sequence[int], start_s: int, end_s: int
                   ) -> list[TransitAlert]:
        """Alerts concerning ``trip`` at ``stops`` (timetable indices) that are active at
        some time in ``[start_s, end_s]`` (Unix seconds); one per ``uid``, in source order
        (feed alerts, then incidents)."""
        out: dict[str, TransitAlert] = {}
        for ta in self.alerts:
            if ta.uid in out or not ta.alert.active_between(start_s, end_s):
                continue
            if any(self._matches(e, trip, stops) for e in ta.alert.informed):
                out[ta.uid] = ta
        return list(out.values())

    def feed_alerts(self, feed: str | None = None, at_s: int | None = None
                    ) -> list[tuple[str, Alert]]:
        """``(feed, alert)`` to publish as ServiceAlerts (of ``feed`` only, when given): the
        feeds' alerts and the incidents' (:func:`incident_alerts` with ``publish``), leaving
        out those whose every active period ended before ``at_s``."""
        return [(f, al) for f, al in self._published
                if (feed is None or f == feed)
                and (at_s is None or not al.active_periods or any(
                    p.end_s is None or p.end_s >= at_s for p in al.active_periods))]

    # ---------------------------------------------------------------- vehicles
    def vehicle(self, trip: int, service_date: dt.date) -> VehiclePosition | None:
        """The latest position of the vehicle running ``trip`` on ``service_date``."""
        return self._vehicles.get((trip, service_date))

    def vehicle_delay_s(self, v: VehiclePosition) -> int | None:
        """The realtime delay of a vehicle's trip at its current or next stop: the stop of
        ``current_stop_sequence``, else its ``stop_id``, else the first stop whose expected
        departure is not before the position's time; the departure delay when
        ``STOPPED_AT``, else the arrival delay. None without a matched trip or realtime
        data for it (or when it is cancelled)."""
        rt: TransitLive | None = self.live.transit_realtime
        if v.trip < 0 or v.service_date is None or rt is None:
            return None
        sdl = rt.day(v.service_date)
        if sdl is None or sdl.trip_realtime is None or not sdl.trip_realtime[v.trip] \
                or sdl.trip_cancelled[v.trip]:
            return None
        m = matcher(self.tt, self.tt.strings["feed_name"][int(np.asarray(
            self.tt.arrays["service_feed"])[int(self.tt.arrays["trip_service"][v.trip])])])
        base, n = m.trip_span(v.trip)
        pos = -1
        if v.current_stop_sequence is not None and m.st_seq is not None:
            hit = np.flatnonzero(m.st_seq[base: base + n] == v.current_stop_sequence)
            pos = int(hit[0]) if hit.shape[0] else -1
        if pos < 0 and v.stop >= 0:
            hit = np.flatnonzero(m.trip_stops(v.trip) == v.stop)
            pos = int(hit[0]) if hit.shape[0] else -1
        if pos < 0:
            mid = m.midnight_s(v.trip, v.service_date)
            dep = mid + m.st_dep[base: base + n].astype(np.int64) + \
                sdl.departure_delay_s[base: base + n]
            later = np.flatnonzero(dep >= v.timestamp_s)
            pos = int(later[0]) if later.shape[0] else n - 1
        x = base + pos
        return int(sdl.departure_delay_s[x] if v.current_status == "STOPPED_AT"
                   else sdl.arrival_delay_s[x])


def transit_info(state: RoutingState, tt: Timetable) -> TransitInfo:
    """The :class:`TransitInfo` of a routing state (made once per state)."""
    return state.memo("transit_info", lambda: TransitInfo(tt, state.live))

