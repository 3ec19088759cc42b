"""Decode and validate a GTFS-Realtime ``FeedMessage`` (protobuf or its JSON form).

The bindings parse much that is not a feed (an empty body is a valid empty message, random
bytes sometimes parse, required fields are not enforced, invalid UTF-8 comes back as
``bytes``), so everything is checked here before any consumer sees it.

Whole-feed rejections raise :class:`FeedRejected` with one of :data:`FEED_REJECTION_REASONS`:

========================  ==============================================================
``empty``                 no bytes (or only whitespace in the JSON form)
``too_large``             more than ``max_bytes`` (default 16 MiB)
``malformed``             not a parseable FeedMessage (protobuf or JSON as asked)
``missing_header``        no header, or a header missing a required field
``unsupported_version``   ``gtfs_realtime_version`` not in :data:`SUPPORTED_VERSIONS`
``missing_timestamp``     header timestamp absent or 0 (when ``require_timestamp``)
``stale``                 header older than ``now - max_age_s``
``future``                header newer than ``now + future_tolerance_s``
``too_many_entities``     more than ``max_entities`` entities (default 100 000)
========================  ==============================================================

Per-entity rejections (the entity is left out, the rest of the feed is kept) are listed in
:attr:`DecodedFeed.rejected` with one of :data:`ENTITY_REJECTION_REASONS`:

* ``missing_id`` - empty entity id; ``invalid_id`` - an id that is not UTF-8 text;
* ``duplicate_id`` - every entity whose id occurs more than once (none of them is trusted);
* ``empty`` - no payload and not a deletion; ``multiple_payloads`` - more than one of
  trip_update / vehicle / alert / shape / stop / trip_modifications;
* ``deleted_in_full_dataset`` - ``is_deleted`` in a FULL_DATASET feed (only DIFFERENTIAL
  feeds delete).

Nothing else is raised for bad input: the parser's own errors become ``malformed``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as pb

#: Header versions accepted.
SUPPORTED_VERSIONS: tuple[str, ...] = ("1.0", "2.0")
MAX_BYTES = 16 * 1024 * 1024
MAX_ENTITIES = 100_000
DEFAULT_MAX_AGE_S = 600
DEFAULT_FUTURE_TOLERANCE_S = 120

FEED_REJECTION_REASONS: tuple[str, ...] = (
    "empty", "too_large", "malformed", "missing_header", "unsupported_version",
    "missing_timestamp", "stale", "future", "too_many_entities",
    "wrong_feed",  # raised by gtfs.realtime.trip_updates (most trip ids unknown)
)
ENTITY_REJECTION_REASONS: tuple[str, ...] = (
    "missing_id", "invalid_id", "duplicate_id", "empty", "multiple_payloads",
    "deleted_in_full_dataset",
)

PAYLOADS: tuple[str, ...] = ("trip_update", "vehicle", "alert", "shape", "stop",
                             "trip_modifications")

FeedFormat = Literal["protobuf", "json"]
Clock = float | int | dt.datetime


class FeedRejected(ValueError):  # noqa: N818 - the name the callers were promised
    """The whole feed was refused: ``reason`` (one of :data:`FEED_REJECTION_REASONS`) and a
    ``detail`` in words."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"GTFS-RT feed rejected ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class EntityRejection:
    """One entity left out of a feed: its position, id (as far as readable) and why."""

    index: int
    entity_id: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class DecodedFeed:
    """A validated feed: the message, its header values and the accepted entities.

    ``entities`` keeps the feed's order and holds only accepted entities; ``rejected`` the
    others. ``timestamp_s`` is the header time (0 when absent and not required).
    """

    message: pb.FeedMessage
    version: str
    incrementality: Literal["FULL_DATASET", "DIFFERENTIAL"]
    timestamp_s: int
    entities: tuple[pb.FeedEntity, ...]
    rejected: tuple[EntityRejection, ...] = ()
    n_bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # accepted entities per payload

    @property
    def is_full_dataset(self) -> bool:
        """True for FULL_DATASET (the feed replaces everything its source said before)."""
        return self.incrementality == "FULL_DATASET"

    @property
    def n_entities(self) -> int:
        """Entities in the message (accepted and rejected)."""
        return len(self.entities) + len(self.rejected)

    def of_kind(self, payload: str) -> list[pb.FeedEntity]:
        """Accepted entities carrying ``payload`` (one of :data:`PAYLOADS`)."""
        return [e for e in self.entities if e.HasField(payload)]

    def rejection_counts(self) -> Counter[str]:
        """Rejected entities per reason."""
        return Counter(r.reason for r in self.rejected)


def text(value: object) -> str | None:
    """A protobuf string field as text, or None when it is not valid UTF-8 (the bindings
    return such values as ``bytes``)."""
    return value if isinstance(value, str) else None


def epoch_s(now: Clock) -> float:
    """Unix seconds of a clock value (timezone-aware datetime or number)."""
    if isinstance(now, dt.datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.timestamp()
    return float(now)


def _parse(data: bytes, fmt: FeedFormat) -> pb.FeedMessage:
    msg = pb.FeedMessage()
    if fmt == "protobuf":
        try:
            msg.ParseFromString(data)
        except (DecodeError, RecursionError, ValueError) as e:
            raise FeedRejected("malformed", f"not a GTFS-RT protobuf: {e}") from None
        return msg
    if fmt != "json":
        raise ValueError(f"unknown feed format {fmt!r} (protobuf or json)")
    try:
        json_format.Parse(data.decode("utf-8-sig"), msg)
    except (json_format.ParseError, UnicodeDecodeError, RecursionError, ValueError,
            TypeError) as e:
        raise FeedRejected("malformed", f"not a GTFS-RT JSON feed: {str(e)[:300]}") from None
    return msg


def decode_feed(
    data: bytes, *, now: Clock | None, fmt: FeedFormat = "protobuf",
    max_age_s: float = DEFAULT_MAX_AGE_S,
    future_tolerance_s: float = DEFAULT_FUTURE_TOLERANCE_S,
    max_bytes: int = MAX_BYTES, max_entities: int = MAX_ENTITIES,
    require_timestamp: bool = True,
) -> DecodedFeed:
    """Parse and validate a feed (see the module docstring for every check).

    ``data``: the body. ``now``: the caller's clock (Unix seconds or an aware datetime; a
    replay passes the recorded time); None skips the age checks. ``fmt``: ``"protobuf"`` or
    ``"json"`` (the bindings' ``json_format``). ``max_age_s`` / ``future_tolerance_s``:
    seconds the header time may lie before / after ``now``. Raises :class:`FeedRejected`;
    ValueError only for a bad ``fmt`` or a naive ``now``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FeedRejected("malformed", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise FeedRejected("too_large", f"{len(data)} bytes, at most {max_bytes}")
    if not data or (fmt == "json" and not data.strip()):
        raise FeedRejected("empty", "empty body")
    msg = _parse(data, fmt)
    if not msg.HasField("header"):
        raise FeedRejected("missing_header", "the message has no header")
    header = msg.header
    if not header.HasField("gtfs_realtime_version"):
        raise FeedRejected("missing_header", "header without gtfs_realtime_version")
    version = text(header.gtfs_realtime_version)
    if version not in SUPPORTED_VERSIONS:
        raise FeedRejected("unsupported_version",
                           f"gtfs_realtime_version {header.gtfs_realtime_version!r}, "
                           f"supported: {', '.join(SUPPORTED_VERSIONS)}")
    assert version is not None
    ts = int(header.timestamp)
    if require_timestamp and ts <= 0:
        raise FeedRejected("missing_timestamp", "header timestamp absent or 0")
    if now is not None and ts > 0:
        t_now = epoch_s(now)
        if ts < t_now - max_age_s:
            raise FeedRejected("stale", f"header time {ts} is {t_now - ts:.0f} s before now "
                                        f"({t_now:.0f}), at most {max_age_s:.0f} s allowed")
        if ts > t_now + future_tolerance_s:
            raise FeedRejected("future", f"header time {ts} is {ts - t_now:.0f} s after now "
                                         f"({t_now:.0f}), at most {future_tolerance_s:.0f} s "
                                         "allowed")
    n = len(msg.entity)
    if n > max_entities:
        raise FeedRejected("too_many_entities", f"{n} entities, at most {max_entities}")
    full = header.incrementality == pb.FeedHeader.FULL_DATASET
    ids: list[str | None] = [text(e.id) for e in msg.entity]
    seen = Counter(i for i in ids if i)
    accepted: list[pb.FeedEntity] = []
    rejected: list[EntityRejection] = []
    counts: Counter[str] = Counter()
    for k, e in enumerate(msg.entity):
        eid = ids[k]
        payloads = [p for p in PAYLOADS if e.HasField(p)]
        reason, detail = "", ""
        if eid is None:
            reason, detail = "invalid_id", "entity id is not UTF-8 text"
        elif not eid:
            reason = "missing_id"
        elif seen[eid] > 1:
            reason, detail = "duplicate_id", f"{seen[eid]} entities share this id"
        elif e.is_deleted and full:
            reason = "deleted_in_full_dataset"
        elif len(payloads) > 1:
            reason, detail = "multiple_payloads", ", ".join(payloads)
        elif not payloads and not e.is_deleted:
            reason = "empty"
        if reason:
            rejected.append(EntityRejection(k, eid or "", reason, detail))
            continue
        accepted.append(e)
        counts[payloads[0] if payloads else "deleted"] += 1
    return DecodedFeed(
        message=msg, version=version,
        incrementality="FULL_DATASET" if full else "DIFFERENTIAL", timestamp_s=ts,
        entities=tuple(accepted), rejected=tuple(rejected), n_bytes=len(data),
        counts=dict(counts))
