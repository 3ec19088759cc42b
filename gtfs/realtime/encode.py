"""GTFS-Realtime out: TripUpdates from a :class:`~gtfs.live.TransitLive` and ServiceAlerts
from :class:`~gtfs.realtime.alerts.Alert` values, as protobuf bytes or the JSON form.

Every message has a valid header (``gtfs_realtime_version`` "2.0", FULL_DATASET, the given
timestamp) and unique entity ids, and parses back with gtfs-realtime-bindings and with
:func:`gtfs.realtime.decode.decode_feed`.

TripUpdates (:func:`trip_updates_message`) are written for the trips of one static feed that
run on the given service dates and have realtime data there (reported by a source - on time
included -, a cancellation, a skipped stop, or a non-zero delay). Ids are the static feed's
plain ids (the namespace removed). Entity id:
``<trip_id>-<YYYYMMDD>`` (``<trip_id>@HH:MM:SS-<YYYYMMDD>`` for a frequency instance). The
trip descriptor carries trip_id, route_id, direction_id, start_date and start_time (the
instance's first departure). A cancelled trip is CANCELED without stop updates. Otherwise
every stop gets an update with ``stop_sequence`` (when the timetable has it) and ``stop_id``,
arrival and departure each with ``delay`` and absolute ``time``; skipped stops are SKIPPED
(with their times). So decoding the output gives back the same delays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

import numpy as np
from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.live import TransitLive
from gtfs.realtime.alerts import Alert
from gtfs.realtime.match import FeedMatcher
from gtfs.timetable import Timetable

OutFormat = Literal["protobuf", "json"]


def new_message(timestamp_s: int) -> pb.FeedMessage:
    """An empty FULL_DATASET message with a version 2.0 header."""
    msg = pb.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = pb.FeedHeader.FULL_DATASET
    msg.header.timestamp = int(timestamp_s)
    return msg


def serialize(msg: pb.FeedMessage, fmt: OutFormat = "protobuf") -> bytes:
    """Protobuf bytes, or the JSON form (UTF-8, proto field names)."""
    if fmt == "protobuf":
        return msg.SerializeToString()
    if fmt == "json":
        return json_format.MessageToJson(msg, preserving_proto_field_name=True,
                                         ensure_ascii=False).encode("utf-8")
    raise ValueError(f"unknown format {fmt!r} (protobuf or json)")


def _hms(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def trip_updates_message(tt: Timetable, live: TransitLive, feed_name: str,
                         service_dates: Iterable[dt.date], *,
                         timestamp_s: int) -> pb.FeedMessage:
    """TripUpdates of static feed ``feed_name`` for ``service_dates`` (see the module
    docstring). KeyError for an unknown feed."""
    m = FeedMatcher(tt, feed_name)
    cut = len(m.prefix)
    msg = new_message(timestamp_s)
    n_of_trip = (m.pso[1:] - m.pso[:-1])[m.trip_pattern]
    st_trip = np.repeat(np.arange(tt.n_trips), n_of_trip)
    in_feed = np.asarray(tt.arrays["service_feed"])[m.trip_service] == m.feed_index
    strings = tt.strings
    for date in sorted(set(service_dates)):
        sdl = live.day(date)
        if sdl is None:
            continue
        touched = sdl.skipped | (sdl.arrival_delay_s != 0) | (sdl.departure_delay_s != 0)
        has = sdl.trip_cancelled | sdl.trip_realtime
        has[np.unique(st_trip[touched])] = True
        active = tt.active_service_mask(date)
        runs = active[m.trip_service] if active.shape[0] else np.zeros(tt.n_trips, bool)
        ymd = date.strftime("%Y%m%d")
        for ti in np.flatnonzero(has & runs & in_feed):
            t = int(ti)
            inst_id = strings["trip_id"][t][cut:]
            ent = msg.entity.add()
            ent.id = f"{inst_id}-{ymd}"
            tu = ent.trip_update
            tu.trip.trip_id = strings["trip_gtfs_id"][t][cut:]
            tu.trip.route_id = strings["route_id"][int(m.trip_route[t])][cut:]
            if int(m.trip_direction[t]) >= 0:
                tu.trip.direction_id = int(m.trip_direction[t])
            tu.trip.start_date = ymd
            tu.trip.start_time = _hms(int(m.trip_start[t]))
            if sdl.trip_cancelled[t]:
                tu.trip.schedule_relationship = pb.TripDescriptor.CANCELED
                continue
            tu.trip.schedule_relationship = pb.TripDescriptor.SCHEDULED
            base, n = m.trip_span(t)
            mid = m.midnight_s(t, date)
            stops = m.trip_stops(t)
            for pos in range(n):
                x = base + pos
                stu = tu.stop_time_update.add()
                if m.st_seq is not None:
                    stu.stop_sequence = int(m.st_seq[x])
                stu.stop_id = strings["stop_id"][int(stops[pos])][cut:]
                a, d = int(sdl.arrival_delay_s[x]), int(sdl.departure_delay_s[x])
                stu.arrival.delay = a
                stu.arrival.time = mid + int(m.st_arr[x]) + a
                stu.departure.delay = d
                stu.departure.time = mid + int(m.st_dep[x]) + d
                stu.schedule_relationship = (pb.TripUpdate.StopTimeUpdate.SKIPPED
                                             if sdl.skipped[x] else
                                             pb.TripUpdate.StopTimeUpdate.SCHEDULED)
    return msg


def encode_trip_updates(tt: Timetable, live: TransitLive, feed_name: str,
                        service_dates: Iterable[dt.date], *, timestamp_s: int,
                        fmt: OutFormat = "protobuf") -> bytes:
    """:func:`trip_updates_message` serialized (protobuf or JSON)."""
    return serialize(trip_updates_message(tt, live, feed_name, service_dates,
                                          timestamp_s=timestamp_s), fmt)


def _texts(ts: pb.TranslatedString, texts: Iterable[tuple[str, str]]) -> None:
    for lang, value in texts:
        tr = ts.translation.add()
        tr.text = value
        if lang:
            tr.language = lang


def alerts_message(alerts: Iterable[Alert], *, timestamp_s: int) -> pb.FeedMessage:
    """ServiceAlerts for ``alerts`` (plain ids as stored in the alerts). Raises ValueError
    for a duplicate or empty alert id."""
    msg = new_message(timestamp_s)
    seen: set[str] = set()
    for al in alerts:
        if not al.id or al.id in seen:
            raise ValueError(f"alert ids must be unique and non-empty: {al.id!r}")
        seen.add(al.id)
        ent = msg.entity.add()
        ent.id = al.id
        a = ent.alert
        for p in al.active_periods:
            tr = a.active_period.add()
            if p.start_s is not None:
                tr.start = int(p.start_s)
            if p.end_s is not None:
                tr.end = int(p.end_s)
        for ie in al.informed:
            sel = a.informed_entity.add()
            if ie.agency_id is not None:
                sel.agency_id = ie.agency_id
            if ie.route_id is not None:
                sel.route_id = ie.route_id
            if ie.route_type is not None:
                sel.route_type = ie.route_type
            if ie.direction_id is not None:
                sel.direction_id = ie.direction_id
            if ie.trip_id is not None:
                sel.trip.trip_id = ie.trip_id
            if ie.stop_id is not None:
                sel.stop_id = ie.stop_id
        # enum fields by name (the constructor takes names; checked against the enum)
        a.MergeFrom(pb.Alert(cause=al.cause, effect=al.effect))
        if al.severity is not None:
            a.MergeFrom(pb.Alert(severity_level=al.severity))
        _texts(a.header_text, al.header_text.items())
        _texts(a.description_text, al.description_text.items())
        _texts(a.url, al.url.items())
    return msg


def encode_alerts(alerts: Iterable[Alert], *, timestamp_s: int,
                  fmt: OutFormat = "protobuf") -> bytes:
    """:func:`alerts_message` serialized (protobuf or JSON)."""
    return serialize(alerts_message(alerts, timestamp_s=timestamp_s), fmt)
