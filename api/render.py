"""Domain objects → JSON-ready dicts (the API's answers; the CLI's ``--json``).

Coordinates leave in GeoJSON ``[lon, lat]`` order rounded to 7 decimals; times as ISO 8601
with their UTC offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from api.operations import RouteAnswer, RouteItem
from gtfs.realtime.vehicles import VehiclePosition
from routing.i18n import explain_messages, pick_text, snap_note
from routing.itinerary import Itinerary, Leg, Place, PlanResult, TransitRouteInfo
from routing.live import LIVE_PARTS
from routing.road import EtaSources, Explanation
from routing.snap import SNAP_DISCONNECTED_PIECE, SnapCandidate
from routing.snapshot import Snapshot
from routing.steps import Step
from routing.transit_info import TransitAlert


def line_string(xy: np.ndarray, as_array: bool = False) -> dict[str, Any]:
    """GeoJSON LineString from an ``(n, 2)`` array of [lon, lat] (repeats dropped after
    rounding; at least two positions). ``as_array``: the coordinates stay an ``(n, 2)``
    float64 array (for :func:`api.fastjson.dumps`, which writes it as the list would be
    written, without making a Python float per number)."""
    pts = np.round(np.asarray(xy, dtype=np.float64).reshape(-1, 2), 7)
    if pts.shape[0] == 0:
        return {"type": "LineString", "coordinates": []}
    keep = np.ones(pts.shape[0], dtype=bool)
    keep[1:] = (pts[1:] != pts[:-1]).any(axis=1)
    if keep.sum() < 2:
        keep[-1] = True
    out = pts[keep]
    if out.shape[0] == 1:
        out = np.repeat(out, 2, axis=0)
    return {"type": "LineString",
            "coordinates": np.ascontiguousarray(out) if as_array else out.tolist()}


def step_json(s: Step, lang: str = "en") -> dict[str, Any]:
    """One turn-by-turn step, its instruction in ``lang`` (every optional member present,
    ``null`` when it does not apply, as in the ``Step`` schema)."""
    d = s.to_dict(lang)
    for k in _STEP_OPTIONAL:
        d.setdefault(k, None)
    return d


#: The ``Step`` schema's optional members (``api.schemas.Step``).
_STEP_OPTIONAL = ("exit", "ref", "destination", "exit_ref", "pushed")


def waypoint_json(snapshot: Snapshot, latlon: tuple[float, float], snap: SnapCandidate,
                  lang: str = "en", which: str = "start") -> dict[str, Any]:
    """Where an input coordinate was snapped, and why there (``snap``: the reason, the
    road kind snapped to, the passed-over nearest road's distance, a note in ``lang``;
    ``which``: ``"start"`` or ``"end"``)."""
    name_idx = int(snapshot.segments.name_idx[snap.segment])
    piece_m = None if snap.nearest_road_m is None else round(snap.nearest_road_m, 1)
    return {"input": [latlon[0], latlon[1]],
            "location": [round(snap.lon, 7), round(snap.lat, 7)],
            "distance_m": round(snap.distance_m, 1),
            "name": snapshot.segments.names[name_idx] if name_idx >= 0 else "",
            "snap": {"reason": snap.reason,
                     "snapped_to": "nearest_connected_road"
                     if snap.reason == SNAP_DISCONNECTED_PIECE else "nearest_road",
                     "distance_m": round(snap.distance_m, 1),
                     "nearest_road_m": piece_m,
                     "note": snap_note(lang, snap.reason, which, snap.distance_m, piece_m)}}


def explanation_json(e: Explanation, lang: str = "en") -> dict[str, Any]:
    """What incidents did to a route (messages in ``lang``)."""
    about = {i: (x.type, x.streets[0] if x.streets else None) for i, x in e.about.items()}
    return {"incidents": list(e.incidents), "avoided": list(e.avoided),
            "delay_s": e.delay_s, "no_incident_duration_s": e.no_incident_duration_s,
            "messages": explain_messages(e.incidents, e.avoided, e.delay_s, about, lang)}


def eta_json(e: EtaSources) -> dict[str, Any]:
    """Where the ETA comes from."""
    return {"free_flow_s": e.free_flow_s, "typical_s": e.typical_s, "live_s": e.live_s,
            "live_sources": {k: e.live_sources.get(k, 0.0) for k in LIVE_PARTS},
            "day_type": e.day_type,
            "arrival": e.arrival.isoformat() if e.arrival is not None else None}


def route_item_json(snapshot: Snapshot, item: RouteItem, frm: tuple[float, float],
                    to: tuple[float, float], lang: str = "en",
                    arrays: bool = False) -> dict[str, Any]:
    """One road route with explanation and ETA sources (``arrays``: see
    :func:`route_answer_json`)."""
    r = item.route
    return {
        "mode": r.mode,
        "duration_s": round(r.duration_s, 1),
        "distance_m": round(r.distance_m, 1),
        "extra_s": round(r.extra_s, 1),
        "geometry": line_string(np.column_stack([r.lon, r.lat]), as_array=arrays),
        "bbox": [round(x, 7) for x in r.bbox],
        "steps": [step_json(s, lang) for s in r.steps],
        "origin": waypoint_json(snapshot, frm, r.origin, lang, "start"),
        "destination": waypoint_json(snapshot, to, r.destination, lang, "end"),
        "live_version": r.live_version,
        "explanation": explanation_json(item.explanation, lang),
        "eta_sources": eta_json(item.eta),
    }


def route_answer_json(snapshot: Snapshot, ans: RouteAnswer, frm: tuple[float, float],
                      to: tuple[float, float], lang: str = "en",
                      arrays: bool = False) -> dict[str, Any]:
    """The body of ``GET /v1/route`` (instructions in ``lang``). ``arrays``: geometry
    coordinates as numpy arrays, for encoding with :func:`api.fastjson.dumps` only (the
    same bytes as the lists, a fraction of the time on long routes)."""
    out: dict[str, Any] = {
        "routes": [route_item_json(snapshot, it, frm, to, lang, arrays) for it in ans.items],
        "snapshot_id": snapshot.snapshot_id, "live_version": ans.state.version,
        "at": ans.state.at.isoformat(), "timezone": ans.state.timezone}
    out["vehicle"] = None if ans.vehicle is None else {
        "height_m": ans.vehicle.height_m, "width_m": ans.vehicle.width_m,
        "weight_t": ans.vehicle.weight_t, "length_m": ans.vehicle.length_m}
    return out


def place_json(p: Place) -> dict[str, Any]:
    """A stop or coordinate."""
    out: dict[str, Any] = {"name": p.name, "lat": p.lat, "lon": p.lon}
    if p.stop_id is not None:
        out = {"stop_id": p.stop_id, **out}
    return out


def transit_route_json(r: TransitRouteInfo) -> dict[str, Any]:
    """A transit route."""
    return {"id": r.id, "short_name": r.short_name, "long_name": r.long_name, "type": r.type,
            "type_name": r.type_name, "color": r.color, "text_color": r.text_color}


def _text(texts: Any, lang: str) -> str | None:
    hit = pick_text(texts, lang)
    return hit[1] if hit is not None else None


def _epoch_iso(t: int | None, tz: ZoneInfo) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, tz).isoformat()


def alert_json(ta: TransitAlert, lang: str = "en") -> dict[str, Any]:
    """An alert with its texts in ``lang`` (else English, else the first) and its active
    periods in its feed's timezone."""
    a = ta.alert
    tz = ZoneInfo(ta.timezone)
    return {"id": ta.uid, "source": ta.source, "feed_id": ta.feed_id, "effect": a.effect,
            "cause": a.cause, "severity": a.severity, "header": _text(a.header_text, lang),
            "description": _text(a.description_text, lang), "url": _text(a.url, lang),
            "active_periods": [{"start": _epoch_iso(p.start_s, tz),
                                "end": _epoch_iso(p.end_s, tz)} for p in a.active_periods]}


def vehicle_json(v: VehiclePosition, now_s: float) -> dict[str, Any]:
    """A vehicle's latest position (``age_s`` against ``now_s``, Unix seconds)."""
    return {"id": v.vehicle_id, "label": v.label, "lat": round(v.lat, 7),
            "lon": round(v.lon, 7), "bearing_deg": v.bearing_deg,
            "speed_mps": None if v.speed_mps is None else round(v.speed_mps, 2),
            "status": v.current_status, "occupancy": v.occupancy,
            "timestamp": _epoch_iso(v.timestamp_s, ZoneInfo("UTC")),
            "age_s": round(now_s - v.timestamp_s, 1)}


def leg_json(leg: Leg, lang: str = "en") -> dict[str, Any]:
    """One leg of an itinerary (instructions in ``lang``)."""
    out: dict[str, Any] = {
        "mode": leg.mode, "from": place_json(leg.origin), "to": place_json(leg.destination),
        "departure": leg.departure.isoformat(), "arrival": leg.arrival.isoformat(),
        "duration_s": leg.duration_s, "geometry": line_string(leg.geometry),
    }
    if leg.mode != "transit":
        out["distance_m"] = leg.distance_m or 0.0
        out["steps"] = [step_json(s, lang) for s in (leg.steps or [])]
        out["straight_line"] = leg.straight_line
        return out
    assert leg.route is not None and leg.agency is not None
    out.update(
        route=transit_route_json(leg.route),
        agency={"id": leg.agency.id, "name": leg.agency.name, "timezone": leg.agency.timezone},
        trip_id=leg.trip_id, headsign=leg.headsign,
        service_date=leg.service_date.isoformat() if leg.service_date else None,
        intermediate_stops=[{**place_json(c.place), "arrival": c.arrival.isoformat()}
                            for c in (leg.intermediate_stops or [])],
        scheduled_departure=_iso(leg.scheduled_departure),
        scheduled_arrival=_iso(leg.scheduled_arrival),
        departure_delay_s=leg.departure_delay_s, arrival_delay_s=leg.arrival_delay_s,
        realtime=leg.realtime, alerts=[alert_json(a, lang) for a in leg.alerts or []],
        wheelchair_accessible=leg.wheelchair_accessible)
    return out


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def itinerary_json(it: Itinerary, lang: str = "en") -> dict[str, Any]:
    """A door-to-door journey."""
    unknown = sum(1 for x in it.legs if x.mode == "transit" and x.wheelchair_accessible is None)
    return {"departure": it.departure.isoformat(), "arrival": it.arrival.isoformat(),
            "duration_s": it.duration_s, "transfers": it.transfers, "walk_m": it.walk_m,
            "wait_s": it.wait_s, "legs": [leg_json(x, lang) for x in it.legs],
            "alerts": list(it.alerts), "wheelchair_unknown_legs": unknown}


def plan_json(res: PlanResult, lang: str = "en") -> dict[str, Any]:
    """The body of ``GET /v1/plan`` (without ``messages``), every member of the response
    model present (``null`` when it does not apply), as the model would give it: the
    endpoint sends it without the model's pass."""
    its = [itinerary_json(i, lang) for i in res.itineraries]
    leg_nulls, place_nulls = _optional_members()
    for it in its:
        for leg in it["legs"]:
            for k in leg_nulls:
                leg.setdefault(k, None)
            for end in ("from", "to"):
                for k in place_nulls:
                    leg[end].setdefault(k, None)
    return {"itineraries": its,
            "service_date": res.service_date.isoformat(), "live_version": res.live_version,
            "access_stops": res.access_stops, "egress_stops": res.egress_stops}


_OPTIONAL: tuple[tuple[str, ...], tuple[str, ...]] | None = None


def _optional_members() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The optional members (default ``None``) of a plan's legs and of their ends, read
    from the response models once."""
    global _OPTIONAL
    if _OPTIONAL is None:
        from api.schemas import LegOut, PlaceOut

        _OPTIONAL = tuple(tuple(f.alias or name for name, f in m.model_fields.items()
                                if not f.is_required() and f.default is None)
                          for m in (LegOut, PlaceOut))  # type: ignore[assignment]
    assert _OPTIONAL is not None
    return _OPTIONAL
