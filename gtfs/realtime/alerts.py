"""GTFS-Realtime ServiceAlerts as typed values, resolved to the timetable, and the service
they remove.

:func:`parse_alerts` turns the Alert entities of a decoded feed into :class:`Alert` values:
id, cause and effect (the spec's enum names), active periods (Unix seconds, open ends None),
header / description / url translations (language -> text; ``""`` for a translation without
language) and informed entities. With a timetable and feed name each informed entity is
resolved to timetable indices (agency, route, direction, route type, trips, stops - a station
id resolves to its routable stops); ids that do not resolve are listed in the entity's
``unknown`` and counted in the report. :func:`new_alert` builds one from plain data (alerts
made from incidents), :mod:`gtfs.realtime.encode` writes them out.

**Service removed** (:func:`add_alert_effects`), for ``NO_SERVICE`` and ``STOP_MOVED`` only:

* informed stop alone (possibly with an agency): ``NO_SERVICE`` or ``STOP_MOVED`` closes the
  stop (:meth:`~gtfs.live.TransitLiveBuilder.close_stop`; closures have no date in the live
  data, so a stop is closed when an active period overlaps any of the given service dates);
* informed stop with a route (and direction), route type or trip: ``NO_SERVICE`` or
  ``STOP_MOVED`` makes the selected trips skip that stop (per trip instance, below);
* route (and direction), route type, trip or agency without a stop: ``NO_SERVICE`` cancels
  the selected trips (``STOP_MOVED`` without a stop removes nothing).

A trip instance (trip, service date) is affected when the trip runs on that date (one of the
given ``service_dates``) and an active period overlaps its scheduled span ``[first departure,
last arrival]`` (an alert without active periods is always active). Every other effect is
informational: a later layer attaches it to legs, stops and routes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.day import service_midnight_epoch_s
from gtfs.live import TransitLiveBuilder
from gtfs.realtime.decode import DecodedFeed, text
from gtfs.realtime.match import FeedMatcher
from gtfs.timetable import Timetable

CAUSES: tuple[str, ...] = tuple(pb.Alert.Cause.keys())
EFFECTS: tuple[str, ...] = tuple(pb.Alert.Effect.keys())
SEVERITIES: tuple[str, ...] = tuple(pb.Alert.SeverityLevel.keys())
#: Effects that remove service (see the module docstring).
REMOVING_EFFECTS: frozenset[str] = frozenset({"NO_SERVICE", "STOP_MOVED"})


@dataclass(frozen=True)
class ActivePeriod:
    """``[start_s, end_s]`` in Unix seconds; None = open at that end."""

    start_s: int | None = None
    end_s: int | None = None

    def overlaps(self, a_s: int, b_s: int) -> bool:
        """True when the period meets ``[a_s, b_s]``."""
        return (self.start_s is None or self.start_s <= b_s) and \
            (self.end_s is None or a_s <= self.end_s)


@dataclass(frozen=True)
class InformedEntity:
    """One informed entity: the feed's plain ids and, when resolved, timetable indices.

    ``agency`` / ``route``: index or -1 (not given or unknown); ``trips`` / ``stops``: indices
    (a frequency trip has several instances, a station several stops). ``unknown``: the
    fields whose ids did not resolve (``"agency_id"``, ``"route_id"``, ``"trip_id"``,
    ``"stop_id"``).
    """

    agency_id: str | None = None
    route_id: str | None = None
    route_type: int | None = None
    direction_id: int | None = None
    trip_id: str | None = None
    stop_id: str | None = None
    agency: int = -1
    route: int = -1
    trips: tuple[int, ...] = ()
    stops: tuple[int, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def selects_trips(self) -> bool:
        """True when the entity names a set of trips (agency, route, route type or trip)."""
        return any(x is not None for x in (self.agency_id, self.route_id, self.route_type,
                                           self.trip_id))


@dataclass(frozen=True)
class Alert:
    """A service alert (see the module docstring); texts map language -> text."""

    id: str
    cause: str = "UNKNOWN_CAUSE"
    effect: str = "UNKNOWN_EFFECT"
    severity: str | None = None
    active_periods: tuple[ActivePeriod, ...] = ()
    header_text: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    description_text: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    url: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    informed: tuple[InformedEntity, ...] = ()

    def active_between(self, a_s: int, b_s: int) -> bool:
        """True when some active period meets ``[a_s, b_s]`` (always without periods)."""
        return not self.active_periods or any(p.overlaps(a_s, b_s) for p in self.active_periods)

    def is_active(self, at_s: int) -> bool:
        """True when active at Unix time ``at_s``."""
        return self.active_between(at_s, at_s)

    @property
    def removes_service(self) -> bool:
        """True for the effects :func:`add_alert_effects` acts on."""
        return self.effect in REMOVING_EFFECTS


@dataclass
class AlertsReport:
    """Alerts read from a feed: ``alerts`` accepted, ``ignored`` per reason (``invalid_text``,
    ``no_informed_entity``), ``unknown_entities`` per field, ``other_entities``."""

    alerts: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    unknown_entities: Counter[str] = field(default_factory=Counter)
    other_entities: int = 0


def _translations(ts: Any) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for tr in ts.translation:
        t, lang = text(tr.text), text(tr.language)
        if t is None or lang is None:
            return None
        out[lang] = t
    return out


def resolve_entity(sel: Any, matcher: FeedMatcher | None) -> InformedEntity | None:
    """An EntitySelector as :class:`InformedEntity` (resolved with ``matcher`` when given);
    None when a field is not UTF-8 text."""
    raw: dict[str, str | None] = {}
    for name in ("agency_id", "route_id", "stop_id"):
        v = text(getattr(sel, name))
        if v is None:
            return None
        raw[name] = v or None
    trip_id: str | None = None
    if sel.HasField("trip"):
        t = text(sel.trip.trip_id)
        r = text(sel.trip.route_id)
        if t is None or r is None:
            return None
        trip_id = t or None
        if raw["route_id"] is None and r:
            raw["route_id"] = r
    route_type = int(sel.route_type) if sel.HasField("route_type") else None
    direction = int(sel.direction_id) if sel.HasField("direction_id") else None
    if direction is None and sel.HasField("trip") and sel.trip.HasField("direction_id"):
        direction = int(sel.trip.direction_id)
    ent = InformedEntity(agency_id=raw["agency_id"], route_id=raw["route_id"],
                         route_type=route_type, direction_id=direction, trip_id=trip_id,
                         stop_id=raw["stop_id"])
    return ent if matcher is None else resolve_ids(ent, matcher)


def resolve_ids(ent: InformedEntity, matcher: FeedMatcher) -> InformedEntity:
    """``ent`` with its plain ids resolved to the timetable indices of ``matcher``'s feed."""
    unknown: list[str] = []
    agency = route = -1
    trips: tuple[int, ...] = ()
    stops: tuple[int, ...] = ()
    if ent.agency_id is not None:
        agency = matcher.agency(ent.agency_id)
        if agency < 0:
            unknown.append("agency_id")
    if ent.route_id is not None:
        route = matcher.route(ent.route_id)
        if route < 0:
            unknown.append("route_id")
    if ent.trip_id is not None:
        trips = tuple(matcher.trips_of_id(ent.trip_id))
        if not trips:
            unknown.append("trip_id")
    if ent.stop_id is not None:
        stops = matcher.stops(ent.stop_id)
        if not stops:
            unknown.append("stop_id")
    return InformedEntity(ent.agency_id, ent.route_id, ent.route_type, ent.direction_id,
                          ent.trip_id, ent.stop_id, agency, route, trips, stops,
                          tuple(unknown))


def parse_alert(e: pb.FeedEntity, matcher: FeedMatcher | None) -> Alert | str:
    """One Alert entity as :class:`Alert`, or the reason it was ignored."""
    a = e.alert
    periods = tuple(ActivePeriod(int(p.start) if p.HasField("start") and p.start else None,
                                 int(p.end) if p.HasField("end") and p.end else None)
                    for p in a.active_period)
    texts = [_translations(a.header_text), _translations(a.description_text),
             _translations(a.url)]
    informed = [resolve_entity(s, matcher) for s in a.informed_entity]
    if any(t is None for t in texts) or any(x is None for x in informed):
        return "invalid_text"
    if not informed:
        return "no_informed_entity"
    header, description, url = (MappingProxyType(t or {}) for t in texts)
    severity = pb.Alert.SeverityLevel.Name(a.severity_level) \
        if a.HasField("severity_level") else None
    return Alert(id=str(e.id), cause=pb.Alert.Cause.Name(a.cause),
                 effect=pb.Alert.Effect.Name(a.effect), severity=severity,
                 active_periods=periods, header_text=header, description_text=description,
                 url=url, informed=tuple(x for x in informed if x is not None))


def parse_alerts(feed: DecodedFeed, tt: Timetable | None = None,
                 feed_name: str | None = None) -> tuple[list[Alert], AlertsReport]:
    """The alerts of a decoded feed; resolved to ``tt`` when a timetable and the static feed
    name are given (KeyError for an unknown feed name)."""
    matcher = FeedMatcher(tt, feed_name) if tt is not None and feed_name is not None else None
    rep = AlertsReport()
    out: list[Alert] = []
    for e in feed.entities:
        if not e.HasField("alert"):
            rep.other_entities += 1
            continue
        res = parse_alert(e, matcher)
        if isinstance(res, str):
            rep.ignored[res] += 1
            continue
        rep.alerts += 1
        for ent in res.informed:
            rep.unknown_entities.update(ent.unknown)
        out.append(res)
    return out, rep


def new_alert(
    alert_id: str, *, cause: str = "UNKNOWN_CAUSE", effect: str = "UNKNOWN_EFFECT",
    periods: Iterable[tuple[int | None, int | None]] = (),
    header: Mapping[str, str] | None = None, description: Mapping[str, str] | None = None,
    url: Mapping[str, str] | None = None, stop_ids: Sequence[str] = (),
    route_ids: Sequence[str] = (), severity: str | None = None,
) -> Alert:
    """An alert from plain data (e.g. an incident): ``periods`` as ``(start_s, end_s)`` Unix
    seconds (None = open), texts as language -> text, informed stops and routes as the
    static feed's plain ids (one informed entity each). Raises ValueError for an unknown
    cause, effect or severity name or an empty id."""
    if not alert_id:
        raise ValueError("alert id must not be empty")
    for value, allowed, what in ((cause, CAUSES, "cause"), (effect, EFFECTS, "effect")):
        if value not in allowed:
            raise ValueError(f"unknown {what} {value!r}; one of {', '.join(allowed)}")
    if severity is not None and severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; one of {', '.join(SEVERITIES)}")
    informed = tuple([InformedEntity(stop_id=s) for s in stop_ids]
                     + [InformedEntity(route_id=r) for r in route_ids])
    return Alert(alert_id, cause, effect, severity,
                 tuple(ActivePeriod(a, b) for a, b in periods),
                 MappingProxyType(dict(header or {})),
                 MappingProxyType(dict(description or {})), MappingProxyType(dict(url or {})),
                 informed)


# --------------------------------------------------------------------------- effects


@dataclass
class AlertEffectsReport:
    """What :func:`add_alert_effects` did: stops closed, trip instances cancelled, stop
    positions skipped, and alerts that remove service but selected nothing resolvable."""

    stops_closed: int = 0
    trips_cancelled: int = 0
    stops_skipped: int = 0
    unresolved: int = 0


def _selected_trips(ent: InformedEntity, m: FeedMatcher) -> np.ndarray | None:
    """Trip indices an entity selects (None: it selects by stop only - an agency with a stop
    counts as the stop alone - or did not resolve)."""
    if not ent.selects_trips or ent.unknown:
        return None
    if ent.stop_id is not None and ent.route_id is None and ent.route_type is None \
            and ent.trip_id is None:
        return None
    tt = m.tt
    svc_feed = np.asarray(tt.arrays["service_feed"])
    sel = svc_feed[m.trip_service] == m.feed_index
    if ent.trips:
        only = np.zeros_like(sel)
        only[list(ent.trips)] = True
        sel &= only
    if ent.route >= 0:
        sel &= m.trip_route == ent.route
    if ent.agency >= 0:
        sel &= np.asarray(tt.arrays["route_agency"])[m.trip_route] == ent.agency
    if ent.route_type is not None:
        sel &= np.asarray(tt.arrays["route_type"])[m.trip_route] == ent.route_type
    if ent.direction_id is not None:
        sel &= m.trip_direction == ent.direction_id
    return np.flatnonzero(sel)


def add_alert_effects(builder: TransitLiveBuilder, tt: Timetable, feed_name: str,
                      alerts: Iterable[Alert], service_dates: Iterable[dt.date],
                      ) -> AlertEffectsReport:
    """Add the service that ``alerts`` remove (rules in the module docstring) to ``builder``
    for ``service_dates``. Entities are re-resolved against ``tt`` / ``feed_name`` (plain
    ids), so alerts made by :func:`new_alert` work too. KeyError for an unknown feed."""
    m = FeedMatcher(tt, feed_name)
    dates = sorted(set(service_dates))
    rep = AlertEffectsReport()
    for alert in alerts:
        if not alert.removes_service:
            continue
        for raw in alert.informed:
            ent = resolve_ids(raw, m)
            trips = _selected_trips(ent, m)
            if ent.unknown or (trips is None and not ent.stops):
                rep.unresolved += 1
                continue
            if trips is None:  # a stop alone: closed if active on one of the dates
                tz = m.timezone
                if any(alert.active_between(service_midnight_epoch_s(d, tz),
                                            service_midnight_epoch_s(d, tz) + 86400)
                       for d in dates):
                    for s in ent.stops:
                        builder.close_stop(s)
                        rep.stops_closed += 1
                continue
            if not ent.stops and alert.effect != "NO_SERVICE":
                continue
            for d in dates:
                for t in trips:
                    t = int(t)
                    if not m.runs_on(t, d):
                        continue
                    first, last = m.first_last_s(t)
                    mid = m.midnight_s(t, d)
                    if not alert.active_between(mid + first, mid + last):
                        continue
                    if not ent.stops:
                        builder.cancel_trip(d, t)
                        rep.trips_cancelled += 1
                        continue
                    for pos in np.flatnonzero(np.isin(m.trip_stops(t), ent.stops)):
                        builder.skip_stop(d, t, int(pos))
                        rep.stops_skipped += 1
    return rep
