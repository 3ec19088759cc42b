"""DATEX II in and out: situation records of a 2.x ``SituationPublication``
(``d2LogicalModel``) or a 3.x ``d2Payload`` read into records of citynav incident fields
(:func:`parse_datex2`), and citynav's incidents written as a DATEX II 3 ``SituationPublication``
(:func:`situation_publication`). The field mapping is documented in ``docs/standards.md``.

XML is parsed with ``defusedxml``: a DOCTYPE, entity declarations and external references
are refused (so entity-expansion bombs and XXE never run), as are documents over
``MAX_DOCUMENT_BYTES`` and roots outside the DATEX II 2 / 3 namespaces — the whole document
is then refused (:class:`DocumentRefused`) and nothing of it is stored.

Locations are taken, in this order, from GML line coordinates (3.x ``gmlLineString``),
OpenLR (XML location reference points or a binary line location), TPEG linear from/to
points, points by coordinates, and ALERT-C codes through a loaded location table
(:mod:`incidents.adapters.alertc`). A record with an ALERT-C location whose table is not
loaded is ``unlocatable: ALERT-C table N not loaded``; a display point alone
(``locationForDisplay``) is not used as the incident's place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from incidents.adapters.alertc import LocationTables
from incidents.adapters.common import (
    MAX_DOCUMENT_BYTES,
    MAX_RECORDS,
    DocumentRefused,
    Outcome,
    ParsedDocument,
    SourceRecord,
    clean_text,
    iso,
    language_tag,
    parse_time,
)
from incidents.adapters.openlr import OpenLRError, decode_line
from incidents.model import Direction, Incident, IncidentType

NS2 = "http://datex2.eu/schema/2/2_0"
NS3_PAYLOAD = "http://datex2.eu/schema/3/d2Payload"
NS3_SIT = "http://datex2.eu/schema/3/situation"
NS3_COM = "http://datex2.eu/schema/3/common"
NS3_LOC = "http://datex2.eu/schema/3/locationReferencing"
NS3_MC = "http://datex2.eu/schema/3/messageContainer"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

#: DATEX II situation record class -> citynav incident type (others: unsupported).
RECORD_TYPES: dict[str, IncidentType] = {
    "Accident": IncidentType.ACCIDENT,
    "RoadOrCarriagewayOrLaneManagement": IncidentType.CLOSURE,
    "MaintenanceWorks": IncidentType.ROADWORKS,
    "ConstructionWorks": IncidentType.ROADWORKS,
    "SpeedManagement": IncidentType.HAZARD,
    "AbnormalTraffic": IncidentType.CONGESTION,
    "PublicEvent": IncidentType.EVENT,
    "GeneralObstruction": IncidentType.HAZARD,
    "VehicleObstruction": IncidentType.HAZARD,
    "AnimalPresenceObstruction": IncidentType.HAZARD,
    "EnvironmentalObstruction": IncidentType.HAZARD,
    "InfrastructureDamageObstruction": IncidentType.HAZARD,
    "TransitInformation": IncidentType.TRANSIT_DISRUPTION,
    "PoorEnvironmentConditions": IncidentType.WEATHER,
    "WeatherRelatedRoadConditions": IncidentType.WEATHER,
}
#: DATEX II severity -> citynav severity (absent, ``unknown``, ``none``: moderate).
SEVERITIES = {"highest": "severe", "high": "high", "medium": "moderate", "low": "low",
              "lowest": "low"}
#: ``roadOrCarriagewayOrLaneManagementType`` values that close the road to motor traffic.
ROAD_CLOSED = frozenset({"roadClosed", "carriagewayClosures", "bridgeClosed", "tunnelClosed",
                         "iceRoadClosed", "closedPermanentlyForTheWinter", "rampClosures",
                         "roadClosedPermanently"})
_MOTOR = ["car", "truck", "bus"]
#: The record element that carries the subtype, per record class (for descriptions).
_SUBTYPE = ("accidentType", "roadOrCarriagewayOrLaneManagementType", "roadMaintenanceType",
            "constructionWorkType", "speedManagementType", "abnormalTrafficType",
            "publicEventType", "obstructionType", "vehicleObstructionType",
            "animalPresenceType", "environmentalObstructionType", "transitServiceType",
            "transitServiceInformation", "poorEnvironmentType", "weatherRelatedRoadConditionType")


# ---------------------------------------------------------------------------------------------
# XML helpers (elements matched by local name once the root's namespace is checked)
# ---------------------------------------------------------------------------------------------
def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _xsi_type(el: Element) -> str:
    return el.get(f"{{{XSI}}}type", "").rsplit(":", 1)[-1]


def _kids(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _kid(el: Element | None, *path: str) -> Element | None:
    cur = el
    for name in path:
        if cur is None:
            return None
        cur = next((c for c in cur if _local(c.tag) == name), None)
    return cur


def _text(el: Element | None, *path: str) -> str | None:
    node = _kid(el, *path) if path else el
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


def _either(a: Element | None, b: Element | None) -> Element | None:
    """``a`` unless it is None (an Element without children is falsy: never use ``or``)."""
    return a if a is not None else b


def _descendants(el: Element, name: str) -> Iterator[Element]:
    return (d for d in el.iter() if _local(d.tag) == name)


def _first(el: Element, name: str) -> Element | None:
    return next(_descendants(el, name), None)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
def parse_xml(body: bytes | str) -> Element:
    """Parse untrusted XML safely; refuses (413/422) oversized, hostile or malformed input."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise DocumentRefused(f"the document is {len(raw)} bytes; at most "
                              f"{MAX_DOCUMENT_BYTES} are read", 413, "payload-too-large")
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as exc:
        raise DocumentRefused(f"refused XML: {type(exc).__name__} (document type "
                              "declarations, entities and external references are not "
                              "accepted)", 422, "xml-forbidden") from None
    except ParseError as exc:
        raise DocumentRefused(f"not well-formed XML: {exc}", 422, "invalid-xml") from None
    return root


def _publication(root: Element) -> tuple[Element, str]:
    tag = root.tag if isinstance(root.tag, str) else ""
    ns, name = _ns(tag), _local(tag)
    if ns == NS2 and name == "d2LogicalModel":
        pub = _kid(root, "payloadPublication")
        if pub is None:
            raise DocumentRefused("DATEX II 2 document without a payloadPublication")
        return pub, "2"
    if ns == NS3_PAYLOAD and name == "payload":
        return root, "3"
    if ns == NS3_MC and name == "messageContainer":
        pub = _kid(root, "payload")
        if pub is None:
            raise DocumentRefused("DATEX II 3 messageContainer without a payload")
        return pub, "3"
    raise DocumentRefused(
        f"not DATEX II: the root element is {name!r} in namespace {ns or '(none)'!r}; "
        f"expected d2LogicalModel in {NS2} (2.x) or payload in {NS3_PAYLOAD} (3.x)",
        422, "wrong-namespace")


def parse_datex2(body: bytes | str, tables: LocationTables | None = None,
                 timezone: str | None = None) -> ParsedDocument:
    """Read the situation records of a DATEX II 2.x ``SituationPublication`` or 3.x
    ``d2Payload`` (optionally inside a 3.x ``messageContainer``).

    ``tables``: loaded ALERT-C location tables. ``timezone``: the IANA zone the times of day
    of recurring validity periods are read in (records with such periods are unsupported
    without it). Raises :class:`DocumentRefused` for hostile,
    malformed or oversized XML, a wrong namespace, another publication type or more than
    ``MAX_RECORDS`` records."""
    root = parse_xml(body)
    pub, major = _publication(root)
    kind = _xsi_type(pub)
    if kind != "SituationPublication":
        raise DocumentRefused(f"a DATEX II {kind or 'untyped'} publication; only "
                              "SituationPublication is imported")
    lang = language_tag(pub.get("lang"))
    creator = _kid(pub, "publicationCreator")
    publisher = None
    if creator is not None:
        publisher = "/".join(x for x in (_text(creator, "country"),
                                         _text(creator, "nationalIdentifier")) if x) or None
    doc = ParsedDocument("datex2", major, publisher=publisher,
                         published_at=parse_time(_text(pub, "publicationTime")))
    n = 0
    for situation in _kids(pub, "situation"):
        for rec in _kids(situation, "situationRecord"):
            n += 1
            if n > MAX_RECORDS:
                raise DocumentRefused(f"more than {MAX_RECORDS} situation records in one "
                                      "document", 413, "payload-too-large")
            doc.records.append(_record(situation, rec, lang, tables or LocationTables(),
                                       timezone))
    return doc


class _ProblemError(Exception):
    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome, self.reason = outcome, reason


def _record(situation: Element, rec: Element, lang: str, tables: LocationTables,
            timezone: str | None = None) -> SourceRecord:
    rid = rec.get("id") or ""
    kind = _xsi_type(rec)
    out = SourceRecord(f"datex2:{rid.strip()}" if rid.strip() else "datex2:(no id)",
                       version=rec.get("version"),
                       version_time=parse_time(_text(rec, "situationRecordVersionTime")),
                       group=situation.get("id"), kind=kind)
    validity = _kid(rec, "validity")
    status = _text(validity, "validityStatus")
    management = _first(rec, "lifeCycleManagement")
    if status == "suspended" or (management is not None and any(
            _text(management, flag) == "true" for flag in ("end", "cancel"))):
        out.ended = True
    try:
        if not rid.strip():
            raise _ProblemError(Outcome.INVALID, "the situation record has no id")
        itype = RECORD_TYPES.get(kind)
        if itype is None:
            raise _ProblemError(Outcome.UNSUPPORTED, f"DATEX II record type {kind or '(none)'!r} "
                                "is not imported")
        start = _text(validity, "validityTimeSpecification", "overallStartTime")
        if start is None or parse_time(start) is None:
            raise _ProblemError(Outcome.INVALID, "validity has no overallStartTime with a UTC "
                                "offset")
        end = _text(validity, "validityTimeSpecification", "overallEndTime")
        if end is not None and parse_time(end) is None:
            raise _ProblemError(Outcome.INVALID, f"overallEndTime {end!r} is not a date-time "
                                "with a UTC offset")
        loc = _either(_kid(rec, "groupOfLocations"), _kid(rec, "locationReference"))
        if loc is None:
            raise _ProblemError(Outcome.UNLOCATABLE, "unlocatable: the record has no location")
        if len(loc) == 0:
            raise _ProblemError(Outcome.UNLOCATABLE, f"unlocatable: its {_local(loc.tag)} "
                                f"({_xsi_type(loc) or 'untyped'}) is empty")
        recurrence = _recurrence(_kid(validity, "validityTimeSpecification"), timezone)
        geometry, direction = _locate(loc, tables)
        out.fields = _fields(rec, kind, itype, start, end, geometry, direction, lang,
                             _text(situation, "overallSeverity"))
        if recurrence is not None:
            out.fields["recurrence"] = recurrence
    except _ProblemError as p:
        out.problem = (p.outcome, p.reason)
    return out


_DAYS = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
         "friday": "fri", "saturday": "sat", "sunday": "sun"}


def _local_time(text: str | None) -> str | None:
    """``HH:MM[:SS]`` of an xs:time (an offset, if any, is dropped: the times are read in
    the timezone given to the parser)."""
    if text is None:
        return None
    t = text.strip()
    for sep in ("Z", "+"):
        t = t.split(sep, 1)[0]
    if len(t) > 8 and t[8] == "-":
        t = t[:8]
    parts = t.split(":")
    if len(parts) < 2 or not all(p.split(".")[0].isdigit() for p in parts):
        return None
    return ":".join(p.split(".")[0].zfill(2) for p in parts[:3])


def _recurrence(spec: Element | None, timezone: str | None) -> dict[str, Any] | None:
    """A weekly window from one ``validPeriod`` with a time of day (and days of the week)."""
    if spec is None:
        return None
    periods = _kids(spec, "validPeriod")
    if _kids(spec, "exceptionPeriod") or len(periods) > 1:
        raise _ProblemError(Outcome.UNSUPPORTED, "several valid periods or exception periods "
                            "are not imported")
    if not periods:
        return None
    period = periods[0]
    tod = _first(period, "recurringTimePeriodOfDay")
    dwm = _first(period, "recurringDayWeekMonthPeriod")
    if (tod is None or _first(period, "startOfPeriod") is not None
            or _first(period, "endOfPeriod") is not None
            or (dwm is not None and (_first(dwm, "applicableWeek") is not None
                                     or _first(dwm, "applicableMonth") is not None))):
        raise _ProblemError(Outcome.UNSUPPORTED, "only a valid period recurring at a time of "
                            "day on days of the week is imported")
    start = _local_time(_text(_first(tod, "startTimeOfPeriod")))
    end = _local_time(_text(_first(tod, "endTimeOfPeriod")))
    if start is None or end is None:
        raise _ProblemError(Outcome.INVALID, "recurringTimePeriodOfDay needs "
                            "startTimeOfPeriod and endTimeOfPeriod (HH:MM:SS)")
    if timezone is None:
        raise _ProblemError(Outcome.UNSUPPORTED, "a recurring valid period needs the "
                            "timezone its times of day are in")
    days = [] if dwm is None else [_DAYS.get((d.text or "").strip(), "?")
                                   for d in _descendants(dwm, "applicableDay")]
    if "?" in days:
        raise _ProblemError(Outcome.INVALID, "applicableDay is not a day of the week")
    return {"days": days or list(_DAYS.values()), "start_time": start, "end_time": end,
            "timezone": timezone}


def _fields(rec: Element, kind: str, itype: IncidentType, start: str, end: str | None,
            geometry: dict[str, Any], direction: str, lang: str,
            overall_severity: str | None) -> dict[str, Any]:
    sev = SEVERITIES.get(_text(rec, "severity") or overall_severity or "", "moderate")
    subtype = next((t for name in _SUBTYPE if (t := _text(rec, name))), None)
    effect: dict[str, Any] | None = None
    if kind == "RoadOrCarriagewayOrLaneManagement":
        # a closure without road_effect closes everything: other management types get an
        # explicit (possibly empty) effect instead
        types = {t.text.strip() for t in _kids(rec, "roadOrCarriagewayOrLaneManagementType")
                 if t.text}
        effect = {"closed_to": list(_MOTOR)} if types & ROAD_CLOSED else {}
    limit = _text(rec, "temporarySpeedLimit")
    if limit is not None:
        effect = effect or {}
        try:
            effect["speed_limit_kmh"] = float(limit)
        except ValueError:
            raise _ProblemError(Outcome.INVALID, f"temporarySpeedLimit {limit!r} is not a "
                                "number") from None
    delays = _first(rec, "delays")
    delay = _text(delays, "delayTimeValue") if delays is not None else None
    if delay is not None:
        try:
            effect = effect or {}
            effect["delay_s"] = float(delay)
        except ValueError:
            raise _ProblemError(Outcome.INVALID, f"delayTimeValue {delay!r} is not a "
                                "number") from None
    fields: dict[str, Any] = {"type": itype.value, "severity": sev, "start": start, "end": end,
                              "geometry": geometry, "direction": direction}
    if effect is not None:
        fields["road_effect"] = effect
    restricted = _text(_first(rec, "numberOfLanesRestricted"))
    operational = _text(_first(rec, "numberOfOperationalLanes"))
    if restricted is not None and operational is not None:
        try:
            closed, open_ = int(restricted), int(operational)
        except ValueError:
            raise _ProblemError(Outcome.INVALID, "lane counts are not integers") from None
        if closed + open_ >= 1:
            fields["lanes"] = {"total": closed + open_, "closed": closed}
    desc = _comments(rec, lang)
    if not desc:
        desc = {"en": f"{kind}: {subtype}" if subtype else kind}
    fields["description"] = desc
    return fields


def _comments(rec: Element, lang: str) -> dict[str, str]:
    texts: dict[str, list[str]] = {}
    for gpc in _kids(rec, "generalPublicComment"):
        for value in _descendants(gpc, "value"):
            text = clean_text(value.text or "")
            if text:
                tag = language_tag(value.get("lang"), lang)
                texts.setdefault(tag, []).append(text)
    out = {}
    for tag, parts in list(texts.items())[:20]:
        joined = clean_text("\n\n".join(parts))
        if joined:
            out[tag] = joined
    return out


def _coord(el: Element | None) -> list[float] | None:
    """``[lon, lat]`` of an element holding ``latitude`` and ``longitude``."""
    if el is None:
        return None
    lat, lon = _text(el, "latitude"), _text(el, "longitude")
    if lat is None or lon is None:
        return None
    try:
        return [float(lon), float(lat)]
    except ValueError:
        raise _ProblemError(Outcome.INVALID, f"coordinates {lat!r}, {lon!r} are not "
                            "numbers") from None


def _point_of(el: Element | None) -> Element | None:
    return None if el is None else _first(el, "pointCoordinates")


def _both(loc: Element) -> bool:
    return any((d.text or "").strip() == "both"
               for name in ("alertCAffectedDirection", "directionRelativeOnLinearSection",
                            "affectedCarriagewayAndLanes")
               for d in _descendants(loc, name))


def _line(points: list[list[float]], loc: Element) -> tuple[dict[str, Any], str]:
    if len(points) < 2:
        raise _ProblemError(Outcome.UNLOCATABLE, "unlocatable: a linear location with fewer than "
                            "two points")
    return ({"type": "LineString", "coordinates": points},
            Direction.BOTH.value if _both(loc) else Direction.FORWARD.value)


def _locate(loc: Element, tables: LocationTables) -> tuple[dict[str, Any], str]:
    """The GeoJSON geometry and direction of a location element."""
    parts = [d for d in loc.iter() if d is not loc and _local(d.tag) in (
        "locationContainedInItinerary", "locationContainedInGroup")]
    if parts:
        located = []
        for p in parts:
            inner = _either(_kid(p, "location"), _kid(p, "locationReference"))
            located.append(_locate(inner if inner is not None else p, tables))
        lines = [g["coordinates"] for g, _ in located if g["type"] == "LineString"]
        if lines:
            return {"type": "MultiLineString", "coordinates": lines}, located[0][1]
        return located[0]
    gml = _first(loc, "posList")
    if gml is not None and gml.text:
        try:
            nums = [float(x) for x in gml.text.split()]
        except ValueError:
            raise _ProblemError(Outcome.INVALID, "gmlLineString posList is not numbers") from None
        if len(nums) % 2:
            raise _ProblemError(Outcome.INVALID, "gmlLineString posList has an odd count")
        # DATEX II 3 GML positions are "latitude longitude" (EPSG:4326 axis order)
        return _line([[nums[i + 1], nums[i]] for i in range(0, len(nums), 2)], loc)
    lrps = [c for d in loc.iter() if _local(d.tag) in ("openlrLocationReferencePoint",
                                                       "openlrLastLocationReferencePoint")
            for c in [_coord(_kid(d, "openlrCoordinates"))] if c is not None]
    if lrps:
        return _line(lrps, loc)
    binary = _first(loc, "openlrBinary")
    if binary is None:
        binary = _first(loc, "binary")
    if binary is not None and binary.text:
        try:
            return _line([list(p) for p in decode_line(binary.text)], loc)
        except OpenLRError as exc:
            raise _ProblemError(Outcome.UNSUPPORTED, f"OpenLR binary location: {exc}") from None
    tpeg = _first(loc, "tpegLinearLocation")
    if tpeg is not None:
        pts = [c for end in ("from", "to")
               for c in [_coord(_point_of(_kid(tpeg, end)))] if c is not None]
        if len(pts) == 2:
            return _line(pts, loc)
    point = _first(loc, "pointByCoordinates")
    if point is not None:
        c = _coord(_kid(point, "pointCoordinates"))
        if c is not None:
            return {"type": "Point", "coordinates": c}, Direction.BOTH.value
    tpeg_point = _first(loc, "tpegPointLocation")
    if tpeg_point is not None:
        c = _coord(_first(tpeg_point, "pointCoordinates"))
        if c is not None:
            return {"type": "Point", "coordinates": c}, Direction.BOTH.value
    alertc = next((d for d in loc.iter() if _local(d.tag) in ("alertCLinear", "alertCPoint")),
                  None)
    if alertc is not None:
        return _alertc(alertc, loc, tables)
    if _first(loc, "locationForDisplay") is not None \
            or _first(loc, "coordinatesForDisplay") is not None:
        raise _ProblemError(Outcome.UNLOCATABLE, "unlocatable: only a display point "
                            "(locationForDisplay) is given, not the affected stretch")
    raise _ProblemError(Outcome.UNLOCATABLE, "unlocatable: no location by coordinates, OpenLR, "
                        "TPEG or ALERT-C")


def _alertc(alertc: Element, loc: Element, tables: LocationTables
            ) -> tuple[dict[str, Any], str]:
    table = _text(alertc, "alertCLocationTableNumber") or "?"
    if not tables.has_table(table):
        raise _ProblemError(Outcome.UNLOCATABLE, f"unlocatable: ALERT-C table {table} not loaded")
    codes = []
    for which in ("Primary", "Secondary"):
        el = next((d for d in alertc.iter() if _local(d.tag).endswith(f"{which}PointLocation")),
                  None)
        code = _text(_first(el, "specificLocation")) if el is not None else None
        if code is not None:
            codes.append(code)
    if not codes:
        raise _ProblemError(Outcome.UNLOCATABLE, f"unlocatable: ALERT-C location in table {table} "
                            "without a location code")
    pts = []
    for code in codes:
        p = tables.lookup(table, code)
        if p is None:
            raise _ProblemError(Outcome.UNLOCATABLE, f"unlocatable: ALERT-C location {code} is not "
                                f"in table {table}")
        pts.append([p[0], p[1]])
    coded = _text(_first(alertc, "alertCDirectionCoded"))
    if len(pts) == 1:
        return {"type": "Point", "coordinates": pts[0]}, Direction.BOTH.value
    # method 2/4 linear: traffic runs from the secondary location to the primary one
    line = [pts[1], pts[0]]
    if pts[0] == pts[1]:
        return {"type": "Point", "coordinates": pts[0]}, Direction.BOTH.value
    both = _both(loc) or coded == "both"
    return ({"type": "LineString", "coordinates": line},
            Direction.BOTH.value if both else Direction.FORWARD.value)


# ---------------------------------------------------------------------------------------------
# Writing (DATEX II 3)
# ---------------------------------------------------------------------------------------------
_OUT_CLASS = {
    IncidentType.ACCIDENT: "Accident",
    IncidentType.ROADWORKS: "MaintenanceWorks",
    IncidentType.CLOSURE: "RoadOrCarriagewayOrLaneManagement",
    IncidentType.CONGESTION: "AbnormalTraffic",
    IncidentType.EVENT: "PublicEvent",
    IncidentType.HAZARD: "GeneralObstruction",
    IncidentType.WEATHER: "PoorEnvironmentConditions",
    IncidentType.TRANSIT_DISRUPTION: "TransitInformation",
}
_OUT_SEVERITY = {"severe": "highest", "high": "high", "moderate": "medium", "low": "low"}
_OUT_SUBTYPE = {
    "Accident": ("accidentType", "accident"),
    "MaintenanceWorks": ("roadMaintenanceType", "roadworks"),
    "AbnormalTraffic": ("abnormalTrafficType", "queuingTraffic"),
    "PublicEvent": ("publicEventType", "other"),
    "GeneralObstruction": ("obstructionType", "other"),
    "PoorEnvironmentConditions": ("poorEnvironmentType", "badWeather"),
    "TransitInformation": ("transitServiceType", "other"),
}


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _sit(parent: Element, name: str, text: str | None = None, **attrs: str) -> Element:
    el = SubElement(parent, _q(NS3_SIT, name), attrs)
    if text is not None:
        el.text = text
    return el


def _com(parent: Element, name: str, text: str | None = None, **attrs: str) -> Element:
    el = SubElement(parent, _q(NS3_COM, name), attrs)
    if text is not None:
        el.text = text
    return el


def _loc(parent: Element, name: str, text: str | None = None) -> Element:
    el = SubElement(parent, _q(NS3_LOC, name))
    if text is not None:
        el.text = text
    return el


def _location(parent: Element, inc: Incident) -> None:
    g = inc.geometry.model_dump()
    xsi_type = _q(XSI, "type")
    if g["type"] == "Point":
        ref = _sit(parent, "locationReference", **{xsi_type: "loc:PointLocation"})
        pc = _loc(_loc(ref, "pointByCoordinates"), "pointCoordinates")
        _loc(pc, "latitude", f"{g['coordinates'][1]:.7f}")
        _loc(pc, "longitude", f"{g['coordinates'][0]:.7f}")
        return
    if g["type"] == "LineString":
        lines = [g["coordinates"]]
    elif g["type"] == "MultiLineString":
        lines = g["coordinates"]
    else:  # Polygon: its outer ring as the boundary line of the area
        lines = [g["coordinates"][0]]
    if inc.direction == Direction.BACKWARD:
        lines = [list(reversed(line)) for line in lines]

    def linear(into: Element) -> None:
        gml = _loc(into, "gmlLineString")
        gml.set("srsName", "EPSG:4326")
        _loc(gml, "posList", " ".join(f"{p[1]:.7f} {p[0]:.7f}" for p in lines_iter.pop(0)))

    lines_iter = list(lines)
    if len(lines) == 1:
        linear(_sit(parent, "locationReference", **{xsi_type: "loc:SingleRoadLinearLocation"}))
        return
    group = _sit(parent, "locationReference", **{xsi_type: "loc:LocationGroupByList"})
    for _ in lines:
        item = _loc(group, "locationContainedInGroup")
        item.set(xsi_type, "loc:SingleRoadLinearLocation")
        linear(item)


def situation_publication(incidents: Iterable[Incident], now: datetime, *, publisher: str,
                          country: str = "US", lang: str = "en") -> bytes:
    """A DATEX II 3 ``SituationPublication`` (``d2:payload``) of the given incidents, one
    situation with one record each, as UTF-8 XML bytes."""
    root = Element(_q(NS3_PAYLOAD, "payload"), {
        _q(XSI, "type"): "sit:SituationPublication", "lang": lang, "modelBaseVersion": "3"})
    _com(root, "publicationTime", iso(now))
    creator = _com(root, "publicationCreator")
    _com(creator, "country", country)
    _com(creator, "nationalIdentifier", publisher)
    for inc in incidents:
        situation = _sit(root, "situation", id=inc.id)
        header = _sit(situation, "headerInformation")
        _com(header, "confidentiality", "noRestriction")
        _com(header, "informationStatus", "real")
        cls = _OUT_CLASS[inc.type]
        rec = _sit(situation, "situationRecord", id=inc.id, version=str(inc.version),
                   **{_q(XSI, "type"): f"sit:{cls}"})
        _sit(rec, "situationRecordCreationTime", iso(inc.created_at))
        _sit(rec, "situationRecordVersionTime", iso(inc.updated_at))
        _sit(rec, "probabilityOfOccurrence", "certain")
        _sit(rec, "severity", _OUT_SEVERITY[inc.severity.value])
        validity = _sit(rec, "validity")
        _com(validity, "validityStatus", "definedByValidityTimeSpec")
        spec = _com(validity, "validityTimeSpecification")
        _com(spec, "overallStartTime", iso(inc.start))
        if inc.end is not None:
            _com(spec, "overallEndTime", iso(inc.end))
        if inc.recurrence is not None:
            period = _com(spec, "validPeriod")
            tod = _com(period, "recurringTimePeriodOfDay",
                       **{_q(XSI, "type"): "com:TimePeriodByHour"})
            _com(tod, "startTimeOfPeriod", inc.recurrence.start_time.isoformat())
            _com(tod, "endTimeOfPeriod", inc.recurrence.end_time.isoformat())
            dwm = _com(period, "recurringDayWeekMonthPeriod")
            names = {v: k for k, v in _DAYS.items()}
            for day in inc.recurrence.days:
                _com(dwm, "applicableDay", names[day.value])
        eff = inc.road_effect
        if inc.lanes is not None or (eff is not None and eff.delay_s is not None):
            impact = _sit(rec, "impact")
            if inc.lanes is not None:
                _sit(impact, "numberOfLanesRestricted", str(inc.lanes.closed))
                _sit(impact, "numberOfOperationalLanes",
                     str(inc.lanes.total - inc.lanes.closed))
            if eff is not None and eff.delay_s is not None:
                _sit(_sit(impact, "delays"), "delayTimeValue", f"{eff.delay_s:g}")
        if inc.description:
            values = _com(_sit(_sit(rec, "generalPublicComment"), "comment"), "values")
            for tag, text in inc.description.items():
                _com(values, "value", text, lang=tag)
        _location(rec, inc)
        if cls == "RoadOrCarriagewayOrLaneManagement":
            closed = inc.road_effect is None or bool(
                {"car", "all"} & {c.value for c in inc.road_effect.closed_to})
            _sit(rec, "roadOrCarriagewayOrLaneManagementType",
                 "roadClosed" if closed else "laneClosures")
        elif cls in _OUT_SUBTYPE:
            name, value = _OUT_SUBTYPE[cls]
            _sit(rec, name, value)
        if eff is not None and eff.speed_limit_kmh is not None:
            _sit(rec, "temporarySpeedLimit", f"{eff.speed_limit_kmh:g}")
    body: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _register_prefixes() -> None:
    from xml.etree.ElementTree import register_namespace

    for prefix, uri in (("d2", NS3_PAYLOAD), ("sit", NS3_SIT), ("com", NS3_COM),
                        ("loc", NS3_LOC), ("xsi", XSI)):
        register_namespace(prefix, uri)


_register_prefixes()
