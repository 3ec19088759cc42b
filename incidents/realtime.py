"""GTFS-Realtime in the live engine: what every process holds of the city's realtime feeds.

A feed id is a static feed of the snapshot (the ``FEED`` of ``FEED:ID`` stop ids). Each feed
has up to three kinds of message — ``trip_updates``, ``alerts``, ``vehicle_positions`` —
arriving by push (``POST /v1/realtime/{feed_id}``), from a polled URL or from a watched file.

**Checked before it is logged** (:meth:`RealtimeFeeds.check`): a message must decode and pass
:func:`gtfs.realtime.decode.decode_feed` (empty, malformed, stale or future header, too many
entities…), be of one kind (or the one asked for), and — for TripUpdates — name mostly trips
of that static feed (``wrong_feed``) and not be older than what was applied (``stale``). A
FULL_DATASET without any entity of its kind while the feed holds data is refused
(``empty_full_dataset``: it would wipe everything; data ages out on its own). A refused
message changes nothing; its reason is logged and counted in the status.

**Applied by every process** from the store's realtime log, in order
(:meth:`RealtimeFeeds.apply`): TripUpdates through :class:`gtfs.realtime.trip_updates.
TripUpdatesState` (FULL_DATASET replaces, DIFFERENTIAL updates per trip), alerts and vehicle
positions replaced (FULL_DATASET) or updated per entity (DIFFERENTIAL; ``is_deleted`` drops).
:meth:`RealtimeFeeds.transit_live` turns it into the :class:`gtfs.live.TransitLive` routing
reads: trip delays, cancellations and skipped stops, plus the service alerts remove
(``NO_SERVICE``, ``STOP_MOVED``) on the service dates around now.

Status (:meth:`RealtimeFeeds.status`): per feed and kind the last good message (time, source,
header time, age), what its last message applied and ignored by reason, refusals by reason
and the last error; the process that polls adds the source's polling state.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gtfs.live import TransitLive, TransitLiveBuilder
from gtfs.realtime.alerts import Alert, add_alert_effects, parse_alerts
from gtfs.realtime.decode import DecodedFeed, FeedRejected, decode_feed
from gtfs.realtime.trip_updates import TripUpdatesState, trip_id_counts
from gtfs.realtime.vehicles import VehiclePosition, parse_vehicle_positions
from gtfs.timetable import Timetable
from incidents.realtimelog import KINDS, RealtimeMessage

FeedFormat = Literal["protobuf", "json"]
#: The GTFS-RT payload each kind carries.
PAYLOAD_OF_KIND = {"trip_updates": "trip_update", "alerts": "alert",
                   "vehicle_positions": "vehicle"}
KIND_OF_PAYLOAD = {v: k for k, v in PAYLOAD_OF_KIND.items()}
#: Refusals this layer adds to :data:`gtfs.realtime.decode.FEED_REJECTION_REASONS`.
MESSAGE_REJECTION_REASONS = ("mixed_kinds", "wrong_kind", "empty_full_dataset")


class UnknownFeed(KeyError):  # noqa: N818 - reads as "unknown feed"
    """A feed id that is not one of the snapshot's static feeds."""


@dataclass(frozen=True)
class CheckedMessage:
    """A message that passed :meth:`RealtimeFeeds.check`, ready to log."""

    feed_id: str
    kind: str
    decoded: DecodedFeed
    #: the message as protobuf bytes (what the log stores, whatever form it came in)
    body: bytes

    @property
    def header_at(self) -> datetime | None:
        """Header time (None when absent)."""
        ts = self.decoded.timestamp_s
        return datetime.fromtimestamp(ts, UTC) if ts > 0 else None


@dataclass
class FeedStatus:
    """What is known of one feed and kind (see the module docstring)."""

    feed_id: str
    kind: str
    source: str | None = None
    last_good_at: datetime | None = None
    header_at: datetime | None = None
    messages_applied: int = 0
    full_dataset: bool | None = None
    entities: int = 0
    last_applied: dict[str, Any] | None = None
    rejected: Counter[str] = field(default_factory=Counter)
    last_error: dict[str, Any] | None = None
    #: set by the process that polls this source (see incidents.realtime_sources)
    polling: dict[str, Any] | None = None

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """JSON-ready status; ``age_s`` = now − header time."""
        age = (now - self.header_at).total_seconds() if self.header_at is not None else None
        return {
            "feed_id": self.feed_id, "kind": self.kind, "source": self.source,
            "last_good_at": _iso(self.last_good_at), "header_at": _iso(self.header_at),
            "age_s": round(age, 1) if age is not None else None,
            "messages_applied": self.messages_applied, "full_dataset": self.full_dataset,
            "entities": self.entities, "last_applied": self.last_applied,
            "rejected": dict(self.rejected), "last_error": self.last_error,
            "polling": self.polling,
        }


def _iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


class RealtimeFeeds:
    """The realtime data of one process (see the module docstring). Thread-safe."""

    def __init__(self, tt: Timetable, timezone: str, *, max_age_s: float = 600.0,
                 future_tolerance_s: float = 120.0, mismatch_by_stop_id: bool = False,
                 min_known_share: float = 0.5) -> None:
        self.tt = tt
        self.timezone = timezone
        self.feed_ids: tuple[str, ...] = tuple(str(f) for f in tt.strings["feed_name"])
        self.max_age_s = float(max_age_s)
        self.future_tolerance_s = float(future_tolerance_s)
        self.mismatch_by_stop_id = mismatch_by_stop_id
        self.min_known_share = min_known_share
        #: per-feed overrides of max_age_s (sources with their own limit)
        self.max_age_by_feed: dict[str, float] = {}
        self._trips = TripUpdatesState(tt)
        self._alerts: dict[str, dict[str, Alert]] = {}
        self._vehicles: dict[str, dict[str, VehiclePosition]] = {}
        self._status: dict[tuple[str, str], FeedStatus] = {}
        self._decoded: dict[int, DecodedFeed] = {}  # checked here, applied on the log's turn
        self._lock = threading.RLock()
        self.version = 0
        self._live: tuple[tuple[int, tuple[dt.date, ...]], TransitLive | None] | None = None

    # ---------------------------------------------------------------- checking
    def feed(self, feed_id: str) -> str:
        """``feed_id`` if it is a static feed of the snapshot, else :class:`UnknownFeed`."""
        if feed_id not in self.feed_ids:
            raise UnknownFeed(f"{feed_id!r} is not a feed of this snapshot (feeds: "
                              f"{', '.join(self.feed_ids)})")
        return feed_id

    def check(self, feed_id: str, body: bytes, fmt: FeedFormat, now: datetime,
              kind: str | None = None) -> CheckedMessage:
        """Validate a message for ``feed_id`` (see the module docstring); raises
        :class:`UnknownFeed`, :class:`gtfs.realtime.decode.FeedRejected` or ``ValueError``
        for an unknown ``kind``."""
        self.feed(feed_id)
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        decoded = decode_feed(body, now=now, fmt=fmt,
                              max_age_s=self.max_age_by_feed.get(feed_id, self.max_age_s),
                              future_tolerance_s=self.future_tolerance_s)
        present = sorted({KIND_OF_PAYLOAD[p] for p in decoded.counts if p in KIND_OF_PAYLOAD})
        if kind is None:
            if len(present) > 1:
                raise FeedRejected("mixed_kinds", f"the message mixes {', '.join(present)}; "
                                   "push each kind separately or name it with ?kind=")
            if not present:
                raise FeedRejected("empty_full_dataset" if decoded.is_full_dataset
                                   else "wrong_kind",
                                   "no trip update, alert or vehicle entity: the kind cannot "
                                   "be told (name it with ?kind=)")
            kind = present[0]
        elif present and present != [kind]:
            raise FeedRejected("wrong_kind", f"expected {kind}, the message carries "
                               f"{', '.join(present)}")
        n_kind = decoded.counts.get(PAYLOAD_OF_KIND[kind], 0)
        with self._lock:
            if decoded.is_full_dataset and n_kind == 0 and self._holds(feed_id, kind):
                raise FeedRejected("empty_full_dataset",
                                   f"an empty FULL_DATASET would wipe the {kind} of "
                                   f"{feed_id}; refused (the data ages out instead)")
            if kind == "trip_updates":
                self._check_trip_updates(feed_id, decoded, now)
        return CheckedMessage(feed_id, kind, decoded, decoded.message.SerializeToString())

    @staticmethod
    def guess_kind(body: bytes, fmt: FeedFormat) -> str | None:
        """Best-effort kind of a message that failed :meth:`check` (to count the refusal
        under its kind): the one payload its entities carry, else None. Never raises."""
        try:
            decoded = decode_feed(body, now=None, fmt=fmt, require_timestamp=False)
        except (FeedRejected, ValueError):
            return None
        kinds = {KIND_OF_PAYLOAD[p] for p in decoded.counts if p in KIND_OF_PAYLOAD}
        return kinds.pop() if len(kinds) == 1 else None

    def _holds(self, feed_id: str, kind: str) -> bool:
        if kind == "trip_updates":
            return bool(self._trips.trip_data(feed_id))
        if kind == "alerts":
            return bool(self._alerts.get(feed_id))
        return bool(self._vehicles.get(feed_id))

    def _check_trip_updates(self, feed_id: str, decoded: DecodedFeed, now: datetime) -> None:
        st = self._status.get((feed_id, "trip_updates"))
        last = st.header_at if st is not None else None
        if last is not None and 0 < decoded.timestamp_s < last.timestamp():
            raise FeedRejected("stale", f"header time {decoded.timestamp_s} is before the "
                               f"last applied message's ({int(last.timestamp())})")
        named, known = trip_id_counts(decoded, self._trips.matcher(feed_id))
        share = known / named if named else None
        if share is not None and share < self.min_known_share:
            raise FeedRejected("wrong_feed", f"{known} of {named} trip ids ({share:.0%}) are "
                               f"trips of feed {feed_id}; at least "
                               f"{self.min_known_share:.0%} expected")

    def remember(self, seq: int, checked: CheckedMessage) -> None:
        """Keep the decoded form of a message this process logged as ``seq`` (applied when
        the log gets there, without decoding it again)."""
        with self._lock:
            self._decoded[seq] = checked.decoded

    # ---------------------------------------------------------------- applying
    def apply(self, msg: RealtimeMessage, now: datetime) -> bool:
        """Apply one logged message (or count a logged refusal); True when realtime data
        changed. Never raises for the message's content: a refusal at this point (a stale
        TripUpdates message, say) is counted like any other."""
        with self._lock:
            decoded = self._decoded.pop(msg.seq, None)
            st = self._status_of(msg.feed_id, msg.kind)
            if not msg.accepted:
                self._refused(st, msg.reason or "unknown", msg.detail or "", msg.received_at,
                              msg.source)
                return False
            if msg.feed_id not in self.feed_ids or msg.kind not in KINDS:
                self._refused(st, "unknown_feed", f"{msg.feed_id}/{msg.kind}",
                              msg.received_at, msg.source)
                return False
            try:
                if decoded is None:  # logged by another process: decode (no age check now)
                    decoded = decode_feed(msg.body, now=None)
                applied = self._apply_kind(msg.feed_id, msg.kind, decoded, now)
            except FeedRejected as exc:
                self._refused(st, exc.reason, exc.detail, msg.received_at, msg.source)
                return False
            st.source = msg.source
            st.last_good_at = msg.received_at
            st.header_at = msg.header_at
            st.messages_applied += 1
            st.full_dataset = decoded.is_full_dataset
            st.entities = decoded.n_entities
            st.last_applied = applied
            self.version += 1
            return True

    def _apply_kind(self, feed_id: str, kind: str, decoded: DecodedFeed,
                    now: datetime) -> dict[str, Any]:
        rejected = dict(decoded.rejection_counts())
        if kind == "trip_updates":
            rep = self._trips.apply(decoded, feed_id, now=now,
                                    mismatch_by_stop_id=self.mismatch_by_stop_id,
                                    min_known_share=self.min_known_share)
            d = rep.to_dict()
            return {"trip_updates": d["trip_updates"], "applied": d["applied"],
                    "cancelled": d["cancelled"], "ignored": d["ignored"],
                    "unsupported": d["unsupported"],
                    "stop_time_updates_applied": d["stop_time_updates_applied"],
                    "stop_time_updates_ignored": d["stop_time_updates_ignored"],
                    "rejected_entities": rejected, "examples": d["examples"]}
        if kind == "alerts":
            alerts, arep = parse_alerts(decoded, self.tt, feed_id)
            cur = {} if decoded.is_full_dataset else dict(self._alerts.get(feed_id, {}))
            for e in decoded.entities:
                if e.is_deleted:
                    cur.pop(e.id, None)
            for a in alerts:
                cur[a.id] = a
            self._alerts[feed_id] = cur
            return {"alerts": arep.alerts, "ignored": dict(arep.ignored),
                    "unknown_entities": dict(arep.unknown_entities),
                    "other_entities": arep.other_entities, "rejected_entities": rejected,
                    "held": len(cur)}
        vehicles, vrep = parse_vehicle_positions(decoded, self.tt, feed_id, now=now)
        vcur = {} if decoded.is_full_dataset else dict(self._vehicles.get(feed_id, {}))
        for e in decoded.entities:
            if e.is_deleted:
                vcur = {k: v for k, v in vcur.items() if v.entity_id != e.id}
        vcur.update(vehicles)
        self._vehicles[feed_id] = vcur
        return {"vehicles": vrep.vehicles, "superseded": vrep.superseded,
                "ignored": dict(vrep.ignored), "trips_matched": vrep.trips_matched,
                "trips_unmatched": dict(vrep.trips_unmatched),
                "other_entities": vrep.other_entities, "rejected_entities": rejected,
                "held": len(vcur)}

    def _status_of(self, feed_id: str, kind: str) -> FeedStatus:
        st = self._status.get((feed_id, kind))
        if st is None:
            st = self._status[(feed_id, kind)] = FeedStatus(feed_id, kind)
        return st

    @staticmethod
    def _refused(st: FeedStatus, reason: str, detail: str, at: datetime, source: str) -> None:
        st.rejected[reason] += 1
        st.last_error = {"reason": reason, "detail": detail, "at": _iso(at), "source": source}

    # ---------------------------------------------------------------- reading
    def service_dates(self, now: datetime) -> tuple[dt.date, ...]:
        """The service dates realtime acts on at ``now``: yesterday, today and tomorrow in
        the city's timezone (trips after midnight belong to the day before)."""
        today = now.astimezone(ZoneInfo(self.timezone)).date()
        return (today - timedelta(days=1), today, today + timedelta(days=1))

    def transit_live(self, now: datetime) -> TransitLive | None:
        """Trip delays, cancellations, skipped stops and the service alerts remove, on the
        service dates around ``now`` (None without any realtime data). The same object while
        nothing changed (routing states compare it by identity)."""
        dates = self.service_dates(now)
        with self._lock:
            key = (self.version, dates)
            if self._live is not None and self._live[0] == key:
                return self._live[1]
            live: TransitLive | None = None
            if self._trips.feeds() or any(self._alerts.values()):
                b = TransitLiveBuilder(self.tt)
                self._trips.add_to(b)
                for feed_id, alerts in sorted(self._alerts.items()):
                    removing = [a for a in alerts.values() if a.removes_service]
                    if removing:
                        add_alert_effects(b, self.tt, feed_id, removing, dates)
                live = b.build(self.version)
            self._live = (key, live)
            return live

    def alerts(self) -> Mapping[str, tuple[Alert, ...]]:
        """Every held alert per feed (active or not; callers filter by time)."""
        with self._lock:
            return MappingProxyType({f: tuple(a.values()) for f, a in self._alerts.items()
                                     if a})

    def vehicles(self) -> Mapping[str, tuple[VehiclePosition, ...]]:
        """The latest position of every vehicle per feed."""
        with self._lock:
            return MappingProxyType({f: tuple(v.values()) for f, v in self._vehicles.items()
                                     if v})

    def status(self, now: datetime) -> list[dict[str, Any]]:
        """Every feed and kind seen (and each static feed, even without messages)."""
        with self._lock:
            out = [st.to_dict(now) for _, st in sorted(self._status.items())]
            seen = {st.feed_id for st in self._status.values()}
        out += [FeedStatus(f, "none").to_dict(now) | {"kind": None}
                for f in self.feed_ids if f not in seen]
        return out

    def set_polling(self, feed_id: str, kind: str, info: dict[str, Any]) -> None:
        """Polling state of a source, from the process that polls it."""
        with self._lock:
            self._status_of(feed_id, kind).polling = info
