"""WZDx 4.x (Work Zone Data Exchange) in and out: a ``WorkZoneFeed`` read into records of
citynav incident fields (:func:`parse_wzdx`), and citynav's road incidents written as a
WZDx 4.2 ``WorkZoneFeed`` (:func:`wzdx_feed`). The field mapping is documented in
``docs/standards.md``.

Reading: every ``RoadEventFeature`` becomes one :class:`SourceRecord` with external id
``wzdx:<feature id>`` and version ``core_details.update_date``. Work zones and detours are
mapped; ``restriction`` events and the features of a ``DeviceFeed`` (field devices) are
reported unsupported. A document that is not a WZDx feed at all is refused whole
(:class:`DocumentRefused`).

Writing: one ``work-zone`` road event per open incident with a road part (a LineString, or
a Point as a one-point MultiPoint; each line of a MultiLineString is its own event with id
``INC-n/k``; Polygons have no WZDx form and are left out). What WZDx cannot say (citynav's
type, severity, the vehicle classes of a closure, a fixed delay) travels in the extension
member ``properties.citynav``, which WZDx consumers ignore and citynav reads back, so a
feed imported again gives the same incidents.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from incidents.adapters.common import (
    MAX_DOCUMENT_BYTES,
    MAX_RECORDS,
    DocumentRefused,
    Outcome,
    ParsedDocument,
    SourceRecord,
    clean_text,
    iso,
    parse_time,
)
from incidents.model import Direction, Incident, IncidentStatus, IncidentType, Severity

WZDX_VERSION = "4.2"
LICENSE_CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"
OPEN_ENDED_ESTIMATE = timedelta(hours=24)
"""WZDx requires an ``end_date``: an open-ended incident is published with an *unverified*
end this long after the later of its start and the feed time."""

_COMPASS = ("northbound", "eastbound", "southbound", "westbound")
_DRIVING_LANES = frozenset({"general", "exit-lane", "entrance-lane", "exit-ramp",
                            "entrance-ramp", "two-way-center-turn-lane",
                            "center-left-turn-lane"})
_MOTOR = ["car", "truck", "bus"]
_IMPACT_SEVERITY = {"all-lanes-closed": Severity.HIGH,
                    "some-lanes-closed": Severity.MODERATE,
                    "some-lanes-closed-merge-left": Severity.MODERATE,
                    "some-lanes-closed-merge-right": Severity.MODERATE,
                    "some-lanes-closed-split": Severity.MODERATE,
                    "alternating-one-way": Severity.MODERATE,
                    "flagging": Severity.MODERATE,
                    "temporary-traffic-signal": Severity.LOW}


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
def load_json(body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """The document as a JSON object; refuses (413/422) oversized or malformed input."""
    if isinstance(body, dict):
        return body
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise DocumentRefused(f"the document is {len(raw)} bytes; at most "
                              f"{MAX_DOCUMENT_BYTES} are read", 413, "payload-too-large")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DocumentRefused(f"not JSON: {exc}") from None
    except RecursionError:
        raise DocumentRefused("not a WZDx feed: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise DocumentRefused("a WZDx feed is a JSON object (a GeoJSON FeatureCollection)")
    return doc


def parse_wzdx(body: bytes | str | dict[str, Any], now: datetime | None = None
               ) -> ParsedDocument:
    """Read a WZDx 4.x feed (``WorkZoneFeed``; a ``DeviceFeed`` yields unsupported records).

    Raises :class:`DocumentRefused` when the document is not a WZDx 4.x feed (no
    ``feed_info``/``road_event_feed_info``, not a FeatureCollection, another major version,
    more than ``MAX_RECORDS`` features, over ``MAX_DOCUMENT_BYTES``). ``now`` (default: the
    current time) decides whether a verified end date has passed."""
    now = now or datetime.now(UTC)
    doc = load_json(body)
    info = doc.get("feed_info", doc.get("road_event_feed_info"))
    if not isinstance(info, dict):
        raise DocumentRefused("not a WZDx feed: it has no feed_info (nor road_event_feed_info)")
    if doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise DocumentRefused("not a WZDx feed: expected a GeoJSON FeatureCollection with "
                              "a features array")
    version = str(info.get("version", ""))
    if not version.startswith("4."):
        raise DocumentRefused(f"WZDx version {version or '(none)'!r} is not read; citynav "
                              "reads WZDx 4.x")
    features = doc["features"]
    if len(features) > MAX_RECORDS:
        raise DocumentRefused(f"{len(features)} features; at most {MAX_RECORDS} per document",
                              413, "payload-too-large")
    out = ParsedDocument("wzdx", version, publisher=_str(info.get("publisher")),
                         published_at=parse_time(_str(info.get("update_date"))))
    for i, feat in enumerate(features):
        out.records.append(_record(feat, i, now))
    return out


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _record(feat: Any, index: int, now: datetime) -> SourceRecord:
    if not isinstance(feat, dict):
        return SourceRecord(f"wzdx:#{index}", problem=(Outcome.INVALID,
                                                       "a feature is not a JSON object"))
    fid = feat.get("id")
    props = feat.get("properties")
    if not isinstance(fid, str | int) or isinstance(fid, bool) or not str(fid).strip():
        return SourceRecord(f"wzdx:#{index}", problem=(Outcome.INVALID,
                                                       f"feature {index} has no id"))
    ext = f"wzdx:{str(fid).strip()}"
    if not isinstance(props, dict) or not isinstance(props.get("core_details"), dict):
        return SourceRecord(ext, problem=(Outcome.INVALID, "no properties.core_details"))
    core = props["core_details"]
    version = _str(core.get("update_date")) or _str(props.get("update_date"))
    rec = SourceRecord(ext, version=version, version_time=parse_time(version),
                       kind=str(core.get("event_type") or core.get("device_type") or ""))
    if "device_type" in core:
        rec.problem = (Outcome.UNSUPPORTED, f"a WZDx field device ({core['device_type']}), "
                       "not a road event: device feeds are not imported")
        return rec
    event_type = core.get("event_type")
    if event_type not in ("work-zone", "detour"):
        rec.problem = (Outcome.UNSUPPORTED, f"WZDx event_type {event_type!r} is not imported "
                       "(work-zone and detour are)")
        return rec
    if props.get("event_status") in ("completed", "cancelled"):
        rec.ended = True
    end = parse_time(_str(props.get("end_date")))
    if props.get("is_end_date_verified") is True and end is not None and end <= now:
        rec.ended = True  # work confirmed to have ended
    try:
        rec.fields = _fields(feat, props, core, event_type)
    except _InvalidError as exc:
        rec.problem = (Outcome.INVALID, str(exc))
    return rec


class _InvalidError(ValueError):
    pass


def _positions(coords: Any) -> list[list[float]]:
    if not isinstance(coords, list):
        raise _InvalidError("geometry coordinates are not an array")
    out = []
    for p in coords:
        if (not isinstance(p, list) or len(p) < 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool)
                           for v in p[:2])):
            raise _InvalidError("a geometry position is not [lon, lat]")
        out.append([float(p[0]), float(p[1])])  # an altitude, if any, is dropped
    return out


def _geometry(geom: Any) -> dict[str, Any]:
    if not isinstance(geom, dict):
        raise _InvalidError("the feature has no geometry")
    kind = geom.get("type")
    if kind == "LineString":
        return {"type": "LineString", "coordinates": _positions(geom.get("coordinates"))}
    if kind == "MultiPoint":
        pts = _positions(geom.get("coordinates"))
        if len(pts) == 1:
            return {"type": "Point", "coordinates": pts[0]}
        return {"type": "LineString", "coordinates": pts}
    raise _InvalidError(f"geometry type {kind!r}; WZDx road events are LineString or MultiPoint")


def _lanes(lanes: Any) -> dict[str, int] | None:
    if not isinstance(lanes, list):
        return None
    driving = [ln for ln in lanes if isinstance(ln, dict) and ln.get("type") in _DRIVING_LANES]
    if not driving:
        return None
    closed = sum(1 for ln in driving if ln.get("status") == "closed")
    return {"total": min(len(driving), 50), "closed": min(closed, len(driving), 50)}


def _fields(feat: dict[str, Any], props: dict[str, Any], core: dict[str, Any],
            event_type: str) -> dict[str, Any]:
    geometry = _geometry(feat.get("geometry"))
    start = props.get("start_date")
    if not isinstance(start, str) or parse_time(start) is None:
        raise _InvalidError("start_date is missing or not an RFC 3339 date-time with offset")
    end = props.get("end_date")
    if end is not None and (not isinstance(end, str) or parse_time(end) is None):
        raise _InvalidError("end_date is not an RFC 3339 date-time with offset")
    raw_ext = props.get("citynav")
    ext: dict[str, Any] = raw_ext if isinstance(raw_ext, dict) else {}
    impact = props.get("vehicle_impact")
    direction: Any = Direction.BOTH.value
    if core.get("direction") not in ("undefined", "unknown", None):
        direction = Direction.FORWARD.value  # WZDx lines are drawn in travel direction
    if isinstance(ext.get("direction"), int | float) and geometry["type"] != "Point":
        direction = float(ext["direction"])
    if geometry["type"] == "Point" and direction == Direction.FORWARD.value:
        direction = Direction.BOTH.value
    effect: dict[str, Any] = {}
    if impact == "all-lanes-closed":
        effect["closed_to"] = list(_MOTOR)
    if isinstance(ext.get("closed_to"), list):
        effect["closed_to"] = ext["closed_to"]
    speed = props.get("reduced_speed_limit_kph")
    if speed is not None:
        effect["speed_limit_kmh"] = speed
    if ext.get("delay_s") is not None:
        effect["delay_s"] = ext["delay_s"]
    fields: dict[str, Any] = {
        "type": ext.get("type") or (IncidentType.ROADWORKS.value if event_type == "work-zone"
                                    else IncidentType.EVENT.value),
        "severity": ext.get("severity") or (
            _IMPACT_SEVERITY.get(str(impact), Severity.LOW).value if event_type == "work-zone"
            else Severity.LOW.value),
        "start": start,
        "end": end,
        "geometry": geometry,
        "direction": direction,
    }
    if props.get("is_start_date_verified") is True:
        fields["status"] = "active"  # work confirmed to have started
    lanes = _lanes(props.get("lanes"))
    if lanes is not None:
        fields["lanes"] = lanes
    if effect:
        fields["road_effect"] = effect
    desc = _description(props, core, event_type)
    if desc:
        fields["description"] = {"en": desc}
    return fields


def _description(props: dict[str, Any], core: dict[str, Any], event_type: str) -> str | None:
    text = _str(core.get("description")) or _str(core.get("name"))
    roads = [r for r in core.get("road_names") or [] if isinstance(r, str)]
    if not text:
        what = "Work zone" if event_type == "work-zone" else "Detour"
        text = f"{what} on {', '.join(roads)}" if roads else what
    extra = []
    for r in props.get("restrictions") or []:
        if isinstance(r, dict) and isinstance(r.get("type"), str):
            val = f" {r['value']} {r.get('unit', '')}".rstrip() if "value" in r else ""
            extra.append(f"{r['type']}{val}")
    if extra:
        text += "\nRestrictions: " + "; ".join(extra)
    return clean_text(text)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _bearing(a: list[float] | tuple[float, float], b: list[float] | tuple[float, float]
             ) -> float:
    lat1, lat2 = math.radians(a[1]), math.radians(b[1])
    dlon = math.radians(b[0] - a[0])
    x = math.sin(dlon) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return math.degrees(math.atan2(x, y)) % 360.0


def compass(bearing_deg: float) -> str:
    """WZDx direction (northbound, eastbound, ...) of a compass bearing in degrees."""
    return _COMPASS[int(((bearing_deg + 45.0) % 360.0) // 90.0)]


def _road_lines(inc: Incident) -> list[list[list[float]]] | None:
    g = inc.geometry.model_dump()
    if g["type"] == "LineString":
        return [[list(p) for p in g["coordinates"]]]
    if g["type"] == "MultiLineString":
        return [[list(p) for p in line] for line in g["coordinates"]]
    return None


def is_road_incident(inc: Incident) -> bool:
    """True for incidents WZDx can carry: a road part (not a transit disruption without a
    road effect) and a line or point geometry."""
    if inc.type == IncidentType.TRANSIT_DISRUPTION and inc.road_effect is None:
        return False
    return inc.geometry.type in ("LineString", "MultiLineString", "Point")


def road_event_features(inc: Incident, now: datetime, data_source_id: str,
                        road_names: list[str]) -> list[dict[str, Any]]:
    """The WZDx 4.2 ``RoadEventFeature``\\ s of one incident (none for a Polygon)."""
    eff = inc.road_effect
    lines = _road_lines(inc)
    parts: list[tuple[str, dict[str, Any], Any]] = []
    direction = inc.direction
    if lines is not None:
        for k, line in enumerate(lines, start=1):
            coords = list(reversed(line)) if direction == Direction.BACKWARD else line
            fid = inc.id if len(lines) == 1 else f"{inc.id}/{k}"
            parts.append((fid, {"type": "LineString", "coordinates": coords}, coords))
    elif inc.geometry.type == "Point":
        pt = list(inc.geometry.model_dump()["coordinates"])
        parts.append((inc.id, {"type": "MultiPoint", "coordinates": [pt]}, None))
    else:
        return []
    closed_motor = eff is not None and bool({"car", "all"} & {c.value for c in eff.closed_to})
    lanes = inc.lanes
    if closed_motor or (lanes is not None and lanes.closed >= lanes.total):
        impact = "all-lanes-closed"
    elif lanes is not None and lanes.closed > 0:
        impact = "some-lanes-closed"
    elif lanes is not None:
        impact = "all-lanes-open"
    else:
        impact = "unknown"
    end = inc.end
    if end is None:
        end = max(now, inc.start) + OPEN_ENDED_ESTIMATE
    desc = inc.description.get("en") or next(iter(inc.description.values()), None)
    ext: dict[str, Any] = {"incident_id": inc.id, "version": inc.version,
                           "type": inc.type.value, "severity": inc.severity.value}
    if eff is not None and eff.closed_to:
        ext["closed_to"] = [c.value for c in eff.closed_to]
    if eff is not None and eff.delay_s is not None:
        ext["delay_s"] = eff.delay_s
    if isinstance(direction, float):
        ext["direction"] = direction
    out = []
    for fid, geom, coords in parts:
        if isinstance(direction, float):
            wz_dir = compass(direction)
        elif direction == Direction.BOTH or coords is None:
            wz_dir = "undefined"
        else:
            wz_dir = compass(_bearing(coords[0], coords[-1]))
        core: dict[str, Any] = {
            "data_source_id": data_source_id, "event_type": "work-zone",
            "road_names": road_names or ["unnamed road"], "direction": wz_dir,
            "creation_date": iso(inc.created_at), "update_date": iso(inc.updated_at)}
        if desc:
            core["description"] = desc
        props: dict[str, Any] = {
            "core_details": core,
            "start_date": iso(inc.start),
            "end_date": iso(end),
            "is_start_date_verified": inc.status == IncidentStatus.ACTIVE,
            "is_end_date_verified": False,
            "is_start_position_verified": False,
            "is_end_position_verified": False,
            "location_method": "other",
            "vehicle_impact": impact,
        }
        if eff is not None and eff.speed_limit_kmh is not None:
            props["reduced_speed_limit_kph"] = eff.speed_limit_kmh
        if lanes is not None:
            props["lanes"] = [{"order": i + 1, "type": "general",
                               "status": "closed" if i < lanes.closed else "open"}
                              for i in range(lanes.total)]
        props["citynav"] = ext
        out.append({"id": fid, "type": "Feature", "properties": props, "geometry": geom})
    return out


def wzdx_feed(incidents: Iterable[Incident], now: datetime, *, publisher: str,
              contact_email: str | None = None, update_frequency_s: int = 60,
              road_names: Callable[[Incident], list[str]] | None = None) -> dict[str, Any]:
    """A WZDx 4.2 ``WorkZoneFeed`` of the given incidents (those :func:`is_road_incident`
    accepts; pass only open ones). ``road_names(incident)`` names the roads each one is on
    (e.g. the matched street names); WZDx requires at least one."""
    feats: list[dict[str, Any]] = []
    for inc in incidents:
        if not is_road_incident(inc):
            continue
        names = road_names(inc) if road_names is not None else []
        feats.extend(road_event_features(inc, now, data_source_id=publisher,
                                         road_names=names))
    source: dict[str, Any] = {"data_source_id": publisher, "organization_name": publisher,
                              "update_date": iso(now), "update_frequency": update_frequency_s}
    info: dict[str, Any] = {"update_date": iso(now), "publisher": publisher,
                            "version": WZDX_VERSION, "license": LICENSE_CC0,
                            "update_frequency": update_frequency_s, "data_sources": [source]}
    if contact_email:
        info["contact_email"] = contact_email
        source["contact_email"] = contact_email
    return {"feed_info": info, "type": "FeatureCollection", "features": feats}
