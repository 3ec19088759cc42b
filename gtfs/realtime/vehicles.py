"""GTFS-Realtime VehiclePositions as typed values: the latest position of each vehicle.

:func:`parse_vehicle_positions` reads the VehiclePosition entities of a decoded feed. A
vehicle is identified by ``vehicle.id``, else ``vehicle.label``, else the entity id. When a
vehicle appears more than once, the entry with the latest timestamp (the position's own, else
the header's) wins; ties keep the first. With a timetable and static feed name, the trip is
matched like a TripUpdate's (:mod:`gtfs.realtime.match`; ``trip`` -1 when it has none or it
does not match, the reason in ``trip_unmatched``) and the stop id resolved.

Ignored (counted in the report): ``no_position``, ``bad_position`` (latitude/longitude not
finite, out of range, or exactly 0/0), ``invalid_text``, ``stale`` (older than ``now -
max_age_s`` when both are given). Out-of-range optional values are dropped, not fatal:
bearing outside [0, 360), negative or non-finite speed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from google.transit import gtfs_realtime_pb2 as pb

from gtfs.realtime.decode import Clock, DecodedFeed, epoch_s, text
from gtfs.realtime.match import FeedMatcher, NoMatch
from gtfs.timetable import Timetable


@dataclass(frozen=True)
class VehiclePosition:
    """Latest known position of one vehicle (WGS84 degrees, speed m/s, Unix seconds).

    ``current_status`` / ``occupancy`` are the spec's enum names (None when absent).
    ``trip`` / ``stop``: timetable indices or -1; ``service_date`` of the matched trip.
    """

    vehicle_id: str
    label: str | None
    lat: float
    lon: float
    bearing_deg: float | None
    speed_mps: float | None
    timestamp_s: int
    current_status: str | None
    stop_id: str | None
    current_stop_sequence: int | None
    occupancy: str | None
    trip_id: str | None
    route_id: str | None
    entity_id: str
    trip: int = -1
    service_date: dt.date | None = None
    trip_unmatched: str | None = None
    stop: int = -1


@dataclass
class VehiclesReport:
    """Counts: ``vehicles`` kept, ``superseded`` (older duplicates), ``ignored`` per reason,
    ``trips_matched`` and ``trips_unmatched`` per reason, ``other_entities``."""

    vehicles: int = 0
    superseded: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    trips_matched: int = 0
    trips_unmatched: Counter[str] = field(default_factory=Counter)
    other_entities: int = 0


def _opt_float(msg: Any, name: str) -> float | None:
    if not msg.HasField(name):
        return None
    v = float(getattr(msg, name))
    return v if math.isfinite(v) else None


def parse_vehicle_positions(
    feed: DecodedFeed, tt: Timetable | None = None, feed_name: str | None = None, *,
    now: Clock | None = None, max_age_s: float | None = None,
) -> tuple[dict[str, VehiclePosition], VehiclesReport]:
    """Latest position per vehicle id (see the module docstring). KeyError for an unknown
    ``feed_name``."""
    m = FeedMatcher(tt, feed_name) if tt is not None and feed_name is not None else None
    t_now = epoch_s(now) if now is not None else None
    rep = VehiclesReport()
    out: dict[str, VehiclePosition] = {}
    for e in feed.entities:
        if not e.HasField("vehicle"):
            rep.other_entities += 1
            continue
        v = e.vehicle
        if not v.HasField("position"):
            rep.ignored["no_position"] += 1
            continue
        lat, lon = float(v.position.latitude), float(v.position.longitude)
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
                and -180 <= lon <= 180) or (lat == 0 and lon == 0):
            rep.ignored["bad_position"] += 1
            continue
        vid = text(v.vehicle.id)
        label = text(v.vehicle.label)
        stop_id = text(v.stop_id)
        trip_id = text(v.trip.trip_id)
        route_id = text(v.trip.route_id)
        if None in (vid, label, stop_id, trip_id, route_id):
            rep.ignored["invalid_text"] += 1
            continue
        ts = int(v.timestamp) if v.timestamp > 0 else feed.timestamp_s
        if t_now is not None and max_age_s is not None and ts < t_now - max_age_s:
            rep.ignored["stale"] += 1
            continue
        key = vid or label or str(e.id)
        bearing = _opt_float(v.position, "bearing")
        if bearing is not None and not 0 <= bearing < 360:
            bearing = None
        speed = _opt_float(v.position, "speed")
        if speed is not None and speed < 0:
            speed = None
        trip, date, unmatched, stop = -1, None, None, -1
        if m is not None and v.HasField("trip"):
            res = m.match_trip(v.trip, ts if ts > 0 else int(t_now or 0))
            if isinstance(res, NoMatch):
                unmatched = res.reason
                rep.trips_unmatched[res.reason] += 1
            else:
                trip, date = res.trip, res.service_date
                rep.trips_matched += 1
        if m is not None and stop_id:
            stops = m.stops(stop_id)
            stop = stops[0] if stops else -1
        pos = VehiclePosition(
            vehicle_id=key, label=label or None, lat=lat, lon=lon, bearing_deg=bearing,
            speed_mps=speed, timestamp_s=ts,
            current_status=pb.VehiclePosition.VehicleStopStatus.Name(v.current_status)
            if v.HasField("current_status") else None,
            stop_id=stop_id or None,
            current_stop_sequence=int(v.current_stop_sequence)
            if v.HasField("current_stop_sequence") else None,
            occupancy=pb.VehiclePosition.OccupancyStatus.Name(v.occupancy_status)
            if v.HasField("occupancy_status") else None,
            trip_id=trip_id or None, route_id=route_id or None, entity_id=str(e.id),
            trip=trip, service_date=date, trip_unmatched=unmatched, stop=stop)
        old = out.get(key)
        if old is not None:
            rep.superseded += 1
            if old.timestamp_s >= ts:
                continue
        out[key] = pos
    rep.vehicles = len(out)
    return out, rep
