"""GTFS-Realtime vehicle positions along real trips of a compiled timetable (tests only).

A :class:`TripPath` is one trip's shape with the distance along it of each of its stops; a
test places a bus at distances along it at chosen times (moving normally, stuck in a jam,
dwelling at a stop) and writes the reports as a VehiclePositions FeedMessage the way
producers do (``vehicle.id``, ``trip.trip_id`` + ``start_date``, position, timestamp and,
when given, ``current_status``, ``speed``, ``current_stop_sequence``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.day import service_midnight_epoch_s
from gtfs.timetable import Timetable

VP = pb.VehiclePosition


@dataclass(frozen=True)
class TripPath:
    """A trip of ``tt`` on service date ``date``: shape points and stop distances (metres)."""

    tt: Timetable
    trip: int
    date: dt.date
    lon: np.ndarray
    lat: np.ndarray
    cum: np.ndarray
    stop_along: np.ndarray
    stop_seq: np.ndarray

    @classmethod
    def of(cls, tt: Timetable, trip: int, date: dt.date) -> TripPath:
        a = tt.arrays
        shape = int(a["trip_shape"][trip])
        assert shape >= 0, "the trip has no shape"
        lo, hi = (int(v) for v in a["shape_offsets"][shape:shape + 2])
        pattern = int(a["trip_pattern"][trip])
        n = tt.pattern_stop_list(pattern).shape[0]
        off = int(a["trip_shape_dist_offset"][trip])
        base = int(a["pattern_st_offsets"][pattern]) + \
            (trip - int(a["pattern_trip_offsets"][pattern])) * n
        return cls(tt, trip, date, np.asarray(a["shape_lon"][lo:hi], np.float64),
                   np.asarray(a["shape_lat"][lo:hi], np.float64),
                   np.asarray(a["shape_dist_m"][lo:hi], np.float64),
                   np.asarray(a["shape_stop_dist_m"][off:off + n], np.float64),
                   np.asarray(a["st_stop_sequence"][base:base + n], np.int64))

    @property
    def gtfs_trip_id(self) -> str:
        """The trip id as the realtime feed says it (without the ``FEED:`` prefix)."""
        return self.tt.strings["trip_gtfs_id"][self.trip].split(":", 1)[1]

    @property
    def route_id(self) -> str:
        return self.tt.strings["route_id"][int(self.tt.arrays["trip_route"][self.trip])] \
            .split(":", 1)[1]

    def point(self, along_m: float) -> tuple[float, float]:
        """(lat, lon) at ``along_m`` metres along the shape."""
        return (float(np.interp(along_m, self.cum, self.lat)),
                float(np.interp(along_m, self.cum, self.lon)))

    def stop_gaps(self, min_gap_m: float) -> list[tuple[int, float, float]]:
        """(stop position k, along of stop k, along of stop k+1) of consecutive stops at
        least ``min_gap_m`` apart, in trip order."""
        d = self.stop_along
        return [(k, float(d[k]), float(d[k + 1])) for k in range(d.shape[0] - 1)
                if d[k + 1] - d[k] >= min_gap_m]

    def next_stop_seq(self, along_m: float) -> int:
        """``current_stop_sequence`` of the next stop at ``along_m`` (the stop itself when
        on it)."""
        k = int(np.searchsorted(self.stop_along, along_m - 1.0))
        return int(self.stop_seq[min(k, self.stop_seq.shape[0] - 1)])


def running_trips(tt: Timetable, route_id: str, date: dt.date, local_s: int) -> list[int]:
    """Trips of ``route_id`` (namespaced) running on ``date`` at GTFS time ``local_s``
    (seconds after the service day's origin)."""
    a = tt.arrays
    r = tt.strings["route_id"].index(route_id)
    act = tt.active_service_mask(date)
    out = []
    for t in np.flatnonzero(np.asarray(a["trip_route"]) == r).tolist():
        if not act[int(a["trip_service"][t])]:
            continue
        arr, dep = tt.trip_times(t)
        if int(dep[0]) <= local_s <= int(arr[-1]):
            out.append(int(t))
    return out


def epoch_s(tt: Timetable, date: dt.date, local_s: int) -> int:
    """Unix time of ``local_s`` seconds into service day ``date`` (agency timezone)."""
    return service_midnight_epoch_s(date, tt.strings["agency_timezone"][0]) + local_s


@dataclass
class Report:
    """One vehicle report."""

    vehicle_id: str
    trip_id: str | None
    start_date: str | None
    lat: float
    lon: float
    ts: int
    status: str | None = None  # INCOMING_AT | STOPPED_AT | IN_TRANSIT_TO
    speed_mps: float | None = None
    stop_seq: int | None = None
    route_id: str | None = None


def report_on(path: TripPath, vehicle_id: str, along_m: float, ts: int,
              status: str | None = None, speed_mps: float | None = None,
              stop_seq: bool = False) -> Report:
    """A report of a bus of ``path``'s trip at ``along_m`` metres along its shape."""
    lat, lon = path.point(along_m)
    return Report(vehicle_id, path.gtfs_trip_id, path.date.strftime("%Y%m%d"), lat, lon, ts,
                  status, speed_mps, path.next_stop_seq(along_m) if stop_seq else None,
                  path.route_id)


def vehicle_message(header_s: int, reports: list[Report], full: bool = True) -> bytes:
    """A VehiclePositions FeedMessage of these reports (protobuf bytes)."""
    msg = pb.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = pb.FeedHeader.FULL_DATASET if full else \
        pb.FeedHeader.DIFFERENTIAL
    msg.header.timestamp = header_s
    for i, r in enumerate(reports):
        ent = msg.entity.add()
        ent.id = f"v{i}-{r.vehicle_id}"
        v = ent.vehicle
        v.vehicle.id = r.vehicle_id
        if r.trip_id is not None:
            v.trip.trip_id = r.trip_id
        if r.start_date is not None:
            v.trip.start_date = r.start_date
        if r.route_id is not None:
            v.trip.route_id = r.route_id
        v.position.latitude = r.lat
        v.position.longitude = r.lon
        if r.speed_mps is not None:
            v.position.speed = r.speed_mps
        v.timestamp = r.ts
        if r.status is not None:
            v.current_status = VP.VehicleStopStatus.Value(r.status)
        if r.stop_seq is not None:
            v.current_stop_sequence = r.stop_seq
    return msg.SerializeToString()
