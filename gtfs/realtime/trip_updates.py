"""GTFS-Realtime TripUpdates -> per-trip realtime data -> :class:`~gtfs.live.TransitLive`.

Each TripUpdate is matched to a trip instance of one static feed (:mod:`gtfs.realtime.match`)
and turned into a :class:`TripRealtime`: a delay for the arrival and the departure at every
stop of the trip (seconds against the schedule of that service date), skipped stops, or a
cancellation. :class:`TripUpdatesState` keeps them per feed and fills a
:class:`~gtfs.live.TransitLiveBuilder` (which normalises the times so they never decrease
along a trip).

**Stop time updates.** A StopTimeUpdate refers to a stop position by ``stop_sequence`` (the
position with that GTFS stop_sequence; when ``stop_id`` is given too it must be that stop or
its station, else ``stop_mismatch``; an unknown sequence is ``unknown_stop_sequence``; with
``mismatch_by_stop_id`` both are found by their ``stop_id`` instead, as below, and counted in
``stop_sequence_mismatches``) or, without it, by ``stop_id`` (the first position after the
previously matched one that serves that stop or a child of that station: loops are walked in
order). Updates must follow the trip in order; one that maps to a position at or
before the previous one is ignored (``out_of_order``). An event (arrival or departure) gives
``time`` (absolute; it wins when both are given, as the spec says) or ``delay``; ``time`` is
converted to seconds after the service day's midnight ("noon minus 12 h") in the trip's
agency timezone, like the timetable. An event whose delay is beyond ``max_abs_delay_s``
(default 6 h) is ``implausible_time`` and its update ignored. Only the departure given: the
arrival takes the departure's delay; only the arrival: the departure takes the arrival's.

**Propagation** (per trip, stop positions in order):

* before the first usable StopTimeUpdate: the trip-level ``TripUpdate.delay`` when given,
  else the schedule (delay 0). Delays are never propagated backwards;
* a SCHEDULED (or UNSCHEDULED) update sets that stop's arrival and departure delays; its
  departure delay then applies to every later stop until the next update;
* SKIPPED: the stop is marked skipped (nobody boards or alights; the vehicle passes). Its
  times are its own events when given, else the propagated delay; the propagated delay
  carries on over it unchanged;
* NO_DATA: that stop and every later stop up to the next SCHEDULED/SKIPPED update keep the
  schedule (propagation stops);
* an update with neither arrival nor departure (SCHEDULED) is ``no_time`` and ignored.

**Trips.** ``CANCELED`` and ``DELETED`` cancel the trip instance. ``ADDED``, ``UNSCHEDULED``,
``DUPLICATED``, ``REPLACEMENT`` and ``NEW`` are not supported (``unsupported_relationship``).
A second TripUpdate for the same trip instance in one feed is ``duplicate_trip``. An update
whose own ``timestamp`` is older than ``now - max_entity_age_s`` is ``stale``. A matched update
without any usable stop update, trip delay or cancellation is ``no_realtime_data``.

**Feeds.** The feed name is the static feed's namespace (``FEED`` in ``FEED:trip_id``). A
FULL_DATASET feed replaces everything that feed said before. A DIFFERENTIAL feed is supported
at trip granularity: each TripUpdate replaces all earlier data of its trip instance (no
per-stop merging), an entity with ``is_deleted`` drops what was received under that entity
id, and an entity id that now names another trip drops the old trip's data. Differential data
lasts until deleted, replaced or a FULL_DATASET arrives. A feed older than the last one
applied for the same feed name is refused (``FeedRejected("stale")``), as is - when
``min_known_share`` is set (default 0.5) - a feed whose known share of trip ids is below it
(``FeedRejected("wrong_feed")``: probably the realtime feed of another static feed); neither
changes the state.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.live import TransitLive, TransitLiveBuilder
from gtfs.realtime.decode import Clock, DecodedFeed, FeedRejected, epoch_s, text
from gtfs.realtime.match import FeedMatcher, NoMatch, TripMatch
from gtfs.timetable import Timetable

DEFAULT_MAX_ENTITY_AGE_S = 3600
DEFAULT_MAX_ABS_DELAY_S = 6 * 3600
DEFAULT_MIN_KNOWN_SHARE = 0.5
MAX_EXAMPLES = 5

_TD = pb.TripDescriptor
_STU = pb.TripUpdate.StopTimeUpdate
_UNSUPPORTED = {_TD.ADDED: "ADDED", _TD.UNSCHEDULED: "UNSCHEDULED",
                _TD.DUPLICATED: "DUPLICATED", _TD.REPLACEMENT: "REPLACEMENT",
                _TD.NEW: "NEW"}
#: relationships that carry new trip ids (left out of the known-trip-id share)
_NEW_IDS = (_TD.ADDED, _TD.NEW)

Key = tuple[int, dt.date]


@dataclass(frozen=True, eq=False)
class TripRealtime:
    """Realtime data of one trip instance (``trip`` index, ``service_date``).

    ``cancelled`` trips carry no stop data (None). Otherwise ``arrival_delay_s`` /
    ``departure_delay_s`` (int32, seconds vs. the schedule) and ``skipped`` (bool) have one
    value per stop position of the trip's pattern. ``entity_id`` / ``timestamp_s``: where and
    when it came from (update timestamp, else the header's).
    """

    trip: int
    service_date: dt.date
    entity_id: str
    timestamp_s: int
    cancelled: bool = False
    arrival_delay_s: np.ndarray | None = None
    departure_delay_s: np.ndarray | None = None
    skipped: np.ndarray | None = None


@dataclass
class TripUpdatesReport:
    """What happened to the TripUpdates of one feed message.

    ``entities``: all entities in the message; ``rejected_entities``: left out by the decoder
    per reason; ``trip_updates``: accepted TripUpdate entities; ``applied`` (of which
    ``cancelled``) and ``ignored`` per reason add up to ``trip_updates``. ``stop_time_updates``
    = applied + ignored per reason (of the matched, supported trips). ``trip_ids`` /
    ``known_trip_ids``: TripUpdates naming an existing trip (not ADDED/NEW) / of those, how
    many are in the static feed. ``deleted``: differential deletions. ``examples``: a few
    entity ids (with detail) per ignore reason.
    """

    feed: str
    incrementality: str
    timestamp_s: int
    entities: int = 0
    rejected_entities: Counter[str] = field(default_factory=Counter)
    other_entities: int = 0
    trip_updates: int = 0
    applied: int = 0
    cancelled: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    unsupported: Counter[str] = field(default_factory=Counter)
    stop_time_updates: int = 0
    stop_time_updates_applied: int = 0
    stop_time_updates_ignored: Counter[str] = field(default_factory=Counter)
    stop_sequence_mismatches: int = 0
    skipped_stops: int = 0
    trip_ids: int = 0
    known_trip_ids: int = 0
    deleted: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def known_trip_share(self) -> float | None:
        """Share of named trip ids found in the static feed (None without any)."""
        return self.known_trip_ids / self.trip_ids if self.trip_ids else None

    def ignore(self, reason: str, entity_id: str, detail: str = "") -> None:
        """Count an ignored TripUpdate."""
        self.ignored[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < MAX_EXAMPLES:
            ex.append(f"{entity_id}: {detail}" if detail else entity_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready summary."""
        return {
            "feed": self.feed, "incrementality": self.incrementality,
            "timestamp_s": self.timestamp_s, "entities": self.entities,
            "rejected_entities": dict(self.rejected_entities),
            "other_entities": self.other_entities, "trip_updates": self.trip_updates,
            "applied": self.applied, "cancelled": self.cancelled,
            "ignored": dict(self.ignored), "unsupported": dict(self.unsupported),
            "stop_time_updates": self.stop_time_updates,
            "stop_time_updates_applied": self.stop_time_updates_applied,
            "stop_time_updates_ignored": dict(self.stop_time_updates_ignored),
            "stop_sequence_mismatches": self.stop_sequence_mismatches,
            "skipped_stops": self.skipped_stops, "trip_ids": self.trip_ids,
            "known_trip_ids": self.known_trip_ids, "known_trip_share": self.known_trip_share,
            "deleted": self.deleted, "examples": self.examples,
        }


# --------------------------------------------------------------------------- one trip


@dataclass
class _Event:
    pos: int
    kind: int  # _STU.SCHEDULED / SKIPPED / NO_DATA
    arr: int | None
    dep: int | None


class _TripDecoder:
    """Turns the StopTimeUpdates of one matched trip into delay arrays."""

    def __init__(self, m: FeedMatcher, max_abs_delay_s: int, report: TripUpdatesReport,
                 mismatch_by_stop_id: bool = False) -> None:
        self.m = m
        self.by_stop_id = mismatch_by_stop_id
        self.max_abs = max_abs_delay_s
        self.report = report

    def _locate(self, stu: Any, stops: list[int], seq_pos: dict[int, int] | None,
                prev: int) -> tuple[int, str]:
        has_seq = stu.HasField("stop_sequence")
        sid = text(stu.stop_id)
        if sid is None:
            return -1, "invalid_text"
        cand: tuple[int, ...] = ()
        if sid:
            cand = self.m.stops(sid)
            if not cand:
                return -1, "unknown_stop"
        if has_seq:
            if seq_pos is None:
                if not sid:
                    return -1, "stop_sequence_unavailable"
            else:
                pos = seq_pos.get(int(stu.stop_sequence), -1)
                if pos >= 0 and (not sid or stops[pos] in cand):
                    return (pos, "") if pos > prev else (-1, "out_of_order")
                if not (self.by_stop_id and sid):
                    return -1, "stop_mismatch" if pos >= 0 else "unknown_stop_sequence"
                self.report.stop_sequence_mismatches += 1
        if not sid:
            return -1, "no_stop_reference"
        for pos in range(prev + 1, len(stops)):
            if stops[pos] in cand:
                return pos, ""
        return -1, ("out_of_order" if any(s in cand for s in stops[: prev + 1])
                    else "stop_not_on_trip")

    def _event(self, ev: Any, sched_s: int, midnight_s: int) -> int | None:
        if ev.HasField("time") and ev.time != 0:
            return int(ev.time) - midnight_s - sched_s
        if ev.HasField("delay"):
            return int(ev.delay)
        return None

    def decode(self, tu: Any, match: TripMatch) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          bool]:
        """(arrival delays, departure delays, skipped, has data) of one trip."""
        m, trip = self.m, match.trip
        base, n = m.trip_span(trip)
        stops, seq_pos = m.trip_positions(trip)
        st_arr, st_dep = m.st_arr, m.st_dep
        midnight = m.midnight_s(trip, match.service_date)
        events: list[_Event] = []
        prev = -1
        rep = self.report
        for stu in tu.stop_time_update:
            rep.stop_time_updates += 1
            pos, why = self._locate(stu, stops, seq_pos, prev)
            if why:
                rep.stop_time_updates_ignored[why] += 1
                continue
            rel = stu.schedule_relationship
            a = d = None
            if rel != _STU.NO_DATA:
                if stu.HasField("arrival"):
                    a = self._event(stu.arrival, int(st_arr[base + pos]), midnight)
                if stu.HasField("departure"):
                    d = self._event(stu.departure, int(st_dep[base + pos]), midnight)
                if rel != _STU.SKIPPED and a is None and d is None:
                    rep.stop_time_updates_ignored["no_time"] += 1
                    continue
                if any(x is not None and abs(x) > self.max_abs for x in (a, d)):
                    rep.stop_time_updates_ignored["implausible_time"] += 1
                    continue
            kind = rel if rel in (_STU.SKIPPED, _STU.NO_DATA) else _STU.SCHEDULED
            events.append(_Event(pos, kind, a, d))
            rep.stop_time_updates_applied += 1
            prev = pos
        # built as lists (a trip has tens of stops: cheaper than numpy slices)
        arr = [0] * n
        dep = [0] * n
        skipped: list[int] = []
        cur: int | None = None
        if tu.HasField("delay") and abs(int(tu.delay)) <= self.max_abs:
            cur = int(tu.delay)
        has_data = cur is not None
        i = 0
        for e in events:
            if cur is not None and e.pos > i:
                arr[i: e.pos] = dep[i: e.pos] = [cur] * (e.pos - i)
            a = e.arr if e.arr is not None else e.dep
            d = e.dep if e.dep is not None else e.arr
            if e.kind == _STU.SKIPPED:
                skipped.append(e.pos)
                fill = 0 if cur is None else cur
                arr[e.pos] = fill if a is None else a
                dep[e.pos] = fill if d is None else d
                has_data = True
            elif e.kind == _STU.NO_DATA:
                cur = None
            else:
                assert a is not None and d is not None
                arr[e.pos], dep[e.pos] = a, d
                cur = d
                has_data = True
            i = e.pos + 1
        if cur is not None and n > i:
            arr[i:] = dep[i:] = [cur] * (n - i)
        skip = np.zeros(n, dtype=np.bool_)
        if skipped:
            skip[skipped] = True
            rep.skipped_stops += len(set(skipped))
        return (np.array(arr, dtype=np.int32), np.array(dep, dtype=np.int32), skip,
                has_data)


def trip_id_counts(feed: DecodedFeed, matcher: FeedMatcher) -> tuple[int, int]:
    """(trip ids named, trip ids of the matcher's feed) in the TripUpdates of ``feed``,
    counted as :func:`match_trip_updates` counts them for its ``known_trip_share`` —
    without matching (for a quick wrong-feed check)."""
    named = known = 0
    for e in feed.entities:
        if e.is_deleted or not e.HasField("trip_update"):
            continue
        trip = e.trip_update.trip
        trip_id = text(trip.trip_id)
        if trip_id and trip.schedule_relationship not in _NEW_IDS:
            named += 1
            known += matcher.has_trip_id(trip_id)
    return named, known


def match_trip_updates(
    tt: Timetable, feed: DecodedFeed, feed_name: str, *, now: Clock | None = None,
    max_entity_age_s: float | None = DEFAULT_MAX_ENTITY_AGE_S,
    max_abs_delay_s: int = DEFAULT_MAX_ABS_DELAY_S, mismatch_by_stop_id: bool = False,
    matcher: FeedMatcher | None = None,
) -> tuple[list[TripRealtime], list[str], TripUpdatesReport]:
    """Match the TripUpdates of ``feed`` to the timetable of static feed ``feed_name``
    (the rules are in the module docstring); the state is not touched.

    ``now``: the caller's clock for the ``stale`` check (default: the header time);
    ``max_entity_age_s``: None disables it. ``max_abs_delay_s``: larger delays are
    ``implausible_time``. ``mismatch_by_stop_id``: when ``stop_sequence`` and ``stop_id``
    disagree, trust the ``stop_id`` (default: ignore the update). Returns ``(trip data,
    entity ids deleted by a DIFFERENTIAL feed, report)``. Raises KeyError for an unknown
    ``feed_name``.
    """
    m = matcher if matcher is not None else FeedMatcher(tt, feed_name)
    rep = TripUpdatesReport(feed_name, feed.incrementality, feed.timestamp_s,
                            entities=feed.n_entities,
                            rejected_entities=feed.rejection_counts())
    t_now = epoch_s(now) if now is not None else float(feed.timestamp_s)
    ref_default = feed.timestamp_s if feed.timestamp_s > 0 else int(t_now)
    dec = _TripDecoder(m, int(max_abs_delay_s), rep, mismatch_by_stop_id)
    out: list[TripRealtime] = []
    deleted: list[str] = []
    seen: set[Key] = set()
    for e in feed.entities:
        eid = str(e.id)
        if e.is_deleted:
            deleted.append(eid)
            rep.deleted += 1
            continue
        if not e.HasField("trip_update"):
            rep.other_entities += 1
            continue
        rep.trip_updates += 1
        tu = e.trip_update
        if not tu.HasField("trip"):
            rep.ignore("no_trip_descriptor", eid)
            continue
        rel = tu.trip.schedule_relationship
        trip_id = text(tu.trip.trip_id)
        if trip_id and rel not in _NEW_IDS:
            rep.trip_ids += 1
            rep.known_trip_ids += m.has_trip_id(trip_id)
        if rel in _UNSUPPORTED:
            rep.unsupported[_UNSUPPORTED[rel]] += 1
            rep.ignore("unsupported_relationship", eid, _UNSUPPORTED[rel])
            continue
        ts = int(tu.timestamp)
        if max_entity_age_s is not None and ts > 0 and ts < t_now - max_entity_age_s:
            rep.ignore("stale", eid, f"update time {ts}")
            continue
        # the update's own time dates it, unless absent or implausibly far ahead
        ref = ts if 0 < ts <= t_now + max(max_entity_age_s or 0, 3600) else ref_default
        match = m.match_trip(tu.trip, ref)
        if isinstance(match, NoMatch):
            rep.ignore(match.reason, eid, match.detail)
            continue
        key = (match.trip, match.service_date)
        if key in seen:
            rep.ignore("duplicate_trip", eid, f"{tt.strings['trip_id'][match.trip]} on "
                                              f"{match.service_date}")
            continue
        stamp = ts if ts > 0 else feed.timestamp_s
        if rel in (_TD.CANCELED, _TD.DELETED):
            seen.add(key)
            out.append(TripRealtime(match.trip, match.service_date, eid, stamp, True))
            rep.applied += 1
            rep.cancelled += 1
            continue
        arr, dep, skip, has_data = dec.decode(tu, match)
        if not has_data:
            rep.ignore("no_realtime_data", eid)
            continue
        seen.add(key)
        out.append(TripRealtime(match.trip, match.service_date, eid, stamp, False,
                                arr, dep, skip))
        rep.applied += 1
    return out, deleted, rep


# --------------------------------------------------------------------------- state


@dataclass
class _FeedData:
    timestamp_s: int = 0
    trips: dict[Key, TripRealtime] = field(default_factory=dict)
    by_entity: dict[str, Key] = field(default_factory=dict)


def add_trip_realtime(builder: TransitLiveBuilder, data: TripRealtime) -> TransitLiveBuilder:
    """Write one :class:`TripRealtime` into a builder (cancellation, or delays and skipped
    stops)."""
    if data.cancelled:
        return builder.cancel_trip(data.service_date, data.trip)
    assert data.arrival_delay_s is not None and data.departure_delay_s is not None
    builder.set_trip_delays(data.service_date, data.trip, data.arrival_delay_s,
                            data.departure_delay_s)
    if data.skipped is not None and data.skipped.any():
        for pos in np.flatnonzero(data.skipped):
            builder.skip_stop(data.service_date, data.trip, int(pos))
    return builder


class TripUpdatesState:
    """Realtime trip data per static feed, fed by TripUpdates feed messages.

    Not thread-safe: one publisher applies feeds and builds the next live value. Apply with
    :meth:`apply`; read with :meth:`trip_data`; turn into live data with :meth:`build` (or
    :meth:`add_to` an existing builder). ``base`` live data (closures from incidents or
    alerts) must not itself contain earlier GTFS-RT data, or replaced updates would linger.
    """

    def __init__(self, tt: Timetable) -> None:
        self.tt = tt
        self._feeds: dict[str, _FeedData] = {}
        self._matchers: dict[str, FeedMatcher] = {}

    def matcher(self, feed_name: str) -> FeedMatcher:
        """The (cached) :class:`FeedMatcher` of a static feed."""
        m = self._matchers.get(feed_name)
        if m is None:
            m = FeedMatcher(self.tt, feed_name)
            self._matchers[feed_name] = m
        return m

    def apply(
        self, feed: DecodedFeed, feed_name: str, *, now: Clock | None = None,
        max_entity_age_s: float | None = DEFAULT_MAX_ENTITY_AGE_S,
        max_abs_delay_s: int = DEFAULT_MAX_ABS_DELAY_S, mismatch_by_stop_id: bool = False,
        min_known_share: float | None = DEFAULT_MIN_KNOWN_SHARE,
    ) -> TripUpdatesReport:
        """Apply one decoded feed of static feed ``feed_name`` (FULL_DATASET replaces,
        DIFFERENTIAL updates; see the module docstring; options as
        :func:`match_trip_updates`). Raises :class:`FeedRejected`
        (``stale``: older than the last feed applied; ``wrong_feed``: known trip-id share
        below ``min_known_share``) without changing anything; KeyError for an unknown feed."""
        prev = self._feeds.get(feed_name)
        if prev is not None and 0 < feed.timestamp_s < prev.timestamp_s:
            raise FeedRejected("stale", f"header time {feed.timestamp_s} is before the last "
                                        f"applied feed's ({prev.timestamp_s})")
        trips, deleted, rep = match_trip_updates(
            self.tt, feed, feed_name, now=now, max_entity_age_s=max_entity_age_s,
            max_abs_delay_s=max_abs_delay_s, mismatch_by_stop_id=mismatch_by_stop_id,
            matcher=self.matcher(feed_name))
        share = rep.known_trip_share
        if min_known_share is not None and share is not None and share < min_known_share:
            raise FeedRejected("wrong_feed", f"{rep.known_trip_ids} of {rep.trip_ids} trip ids "
                                             f"({share:.0%}) are trips of feed {feed_name}, at "
                                             f"least {min_known_share:.0%} expected")
        data = _FeedData() if feed.is_full_dataset or prev is None else prev
        data.timestamp_s = max(data.timestamp_s, feed.timestamp_s)
        for eid in deleted:
            key = data.by_entity.pop(eid, None)
            if key is not None:
                data.trips.pop(key, None)
        for t in trips:
            key = (t.trip, t.service_date)
            old = data.by_entity.get(t.entity_id)
            if old is not None and old != key:
                data.trips.pop(old, None)
            replaced = data.trips.get(key)
            if replaced is not None and replaced.entity_id != t.entity_id:
                data.by_entity.pop(replaced.entity_id, None)
            data.trips[key] = t
            data.by_entity[t.entity_id] = key
        self._feeds[feed_name] = data
        return rep

    def feeds(self) -> list[str]:
        """Feed names with realtime data."""
        return sorted(self._feeds)

    def trip_data(self, feed_name: str) -> Mapping[Key, TripRealtime]:
        """Read-only view of a feed's data, keyed by (trip index, service date)."""
        d = self._feeds.get(feed_name)
        return MappingProxyType(d.trips if d is not None else {})

    def forget(self, feed_name: str) -> None:
        """Drop all realtime data of a feed (e.g. its source went away)."""
        self._feeds.pop(feed_name, None)

    def add_to(self, builder: TransitLiveBuilder) -> TransitLiveBuilder:
        """Write every feed's trip data into ``builder``."""
        for name in sorted(self._feeds):
            for data in self._feeds[name].trips.values():
                add_trip_realtime(builder, data)
        return builder

    def build(self, version: int, base: TransitLive | None = None) -> TransitLive:
        """A new live value: ``base`` (closures etc., see the class docstring) plus all trip
        data, normalised by the builder."""
        return self.add_to(TransitLiveBuilder(self.tt, base)).build(version)


def trip_updates_to_live(
    tt: Timetable, feed: DecodedFeed, feed_name: str, version: int, *,
    base: TransitLive | None = None, now: Clock | None = None,
    max_entity_age_s: float | None = DEFAULT_MAX_ENTITY_AGE_S,
    max_abs_delay_s: int = DEFAULT_MAX_ABS_DELAY_S, mismatch_by_stop_id: bool = False,
    min_known_share: float | None = DEFAULT_MIN_KNOWN_SHARE,
) -> tuple[TransitLive, TripUpdatesReport]:
    """One feed straight to a live value (a fresh :class:`TripUpdatesState`); raises as
    :meth:`TripUpdatesState.apply`."""
    state = TripUpdatesState(tt)
    rep = state.apply(feed, feed_name, now=now, max_entity_age_s=max_entity_age_s,
                      max_abs_delay_s=max_abs_delay_s, mismatch_by_stop_id=mismatch_by_stop_id,
                      min_known_share=min_known_share)
    return state.build(version, base), rep
