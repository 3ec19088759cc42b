"""Examples of requests and answers for the OpenAPI document, taken from the bundled city
(northern Kentucky: Covington, Newport, the TANK timetable of 2020-01-15) and shortened
(fewer positions, steps and list items). tests/api/test_openapi_docs.py checks each one
against its schema."""

from __future__ import annotations

import json
from typing import Any

#: GET /v1/health
HEALTH: dict[str, Any] = {
    "status": "ok",
    "snapshot_id": "0891ac85f76d5509",
    "built_at": "2026-11-20T09:14:03+00:00",
    "bbox": [-84.6892977, 38.921446, -84.373993, 39.1181248],
    "counts": {
        "junctions": 25315,
        "segments": 33566,
        "car_edges": 50210,
        "bike_edges": 59673,
        "walk_edges": 64466,
    },
    "modes": ["car", "bike", "walk"],
    "live_version": 0,
    "transit": True,
    "transit_only": False,
    "walking": "street",
    "walk_detour_factor": None,
    "timezone": "America/New_York",
    "now": "2026-11-24T13:00:00.000000+00:00",
}

#: GET /v1/route?from=39.0837,-84.5086&to=39.0912,-84.4960 (geometry and steps shortened)
ROUTE: dict[str, Any] = {
    "routes": [
        {
            "mode": "car",
            "duration_s": 163.0,
            "distance_m": 1678.0,
            "geometry": {
                "type": "LineString",
                "coordinates": [
                    [-84.5085921, 39.08367],
                    [-84.50851, 39.083683],
                    [-84.5083991, 39.0837002],
                ],
            },
            "bbox": [-84.5085921, 39.08367, -84.4961555, 39.091368],
            "steps": [
                {
                    "type": "depart",
                    "modifier": "",
                    "name": "East 7th Street",
                    "distance_m": 224.2,
                    "duration_s": 25.3,
                    "location": [-84.5085921, 39.08367],
                    "bearing_before": 0,
                    "bearing_after": 78,
                    "instruction": "Head east on East 7th Street",
                    "exit": None,
                    "ref": None,
                    "destination": None,
                    "exit_ref": None,
                },
                {
                    "type": "turn",
                    "modifier": "left",
                    "name": "Sanford Street",
                    "distance_m": 271.9,
                    "duration_s": 30.4,
                    "location": [-84.506046, 39.084067],
                    "bearing_before": 79,
                    "bearing_after": 349,
                    "instruction": "Turn left onto Sanford Street",
                    "exit": None,
                    "ref": None,
                    "destination": None,
                    "exit_ref": None,
                },
                {
                    "type": "arrive",
                    "modifier": "",
                    "name": "West 5th Street",
                    "distance_m": 0.0,
                    "duration_s": 0.0,
                    "location": [-84.4961555, 39.091368],
                    "bearing_before": 54,
                    "bearing_after": 0,
                    "instruction": "Arrive at your destination",
                    "exit": None,
                    "ref": None,
                    "destination": None,
                    "exit_ref": None,
                },
            ],
            "origin": {
                "input": [39.0837, -84.5086],
                "location": [-84.5085921, 39.08367],
                "distance_m": 3.4,
                "name": "East 7th Street",
                "snap": {"reason": "nearest", "snapped_to": "nearest_road", "distance_m": 3.4,
                         "nearest_road_m": None, "note": None},
            },
            "destination": {
                "input": [39.0912, -84.496],
                "location": [-84.4961555, 39.091368],
                "distance_m": 23.0,
                "name": "West 5th Street",
                "snap": {"reason": "nearest", "snapped_to": "nearest_road", "distance_m": 23.0,
                         "nearest_road_m": None, "note": None},
            },
            "live_version": 0,
            "extra_s": 0.0,
            "explanation": {
                "incidents": [],
                "avoided": [],
                "delay_s": 0.0,
                "no_incident_duration_s": 163.0,
                "messages": [],
            },
            "eta_sources": {
                "typical_s": 0.0,
                "free_flow_s": 163.0,
                "live_s": 0.0,
                "live_sources": {"traffic_centre": 0.0, "bus_probe": 0.0, "incidents": 0.0},
                "day_type": "weekday",
                "arrival": None,
            },
        }
    ],
    "snapshot_id": "0891ac85f76d5509",
    "live_version": 0,
    "at": "2026-11-24T13:00:00+00:00",
    "timezone": "America/New_York",
}

#: GET /v1/plan?from=39.0837,-84.5086&to=39.0912,-84.4960&depart_at=2020-01-15T08:00:00-05:00
#: (one itinerary, shortened)
PLAN: dict[str, Any] = {
    "itineraries": [
        {
            "departure": "2020-01-15T08:00:11-05:00",
            "arrival": "2020-01-15T08:27:20-05:00",
            "duration_s": 1629,
            "transfers": 0,
            "walk_m": 927.4,
            "wait_s": 0,
            "legs": [
                {
                    "mode": "walk",
                    "from": {"name": "Origin", "lat": 39.0837, "lon": -84.5086, "stop_id": None},
                    "to": {
                        "name": "Covington Transit Center",
                        "lat": 39.08871,
                        "lon": -84.511428,
                        "stop_id": "nky_tank:100035",
                    },
                    "departure": "2020-01-15T08:00:11-05:00",
                    "arrival": "2020-01-15T08:09:00-05:00",
                    "duration_s": 529,
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [
                            [-84.5085921, 39.08367],
                            [-84.5085945, 39.0836696],
                            [-84.5090276, 39.0835984],
                        ],
                    },
                    "distance_m": 734.1,
                    "straight_line": False,
                    "steps": [
                        {
                            "type": "depart",
                            "modifier": "",
                            "name": "East 7th Street",
                            "distance_m": 135.0,
                            "duration_s": 97.2,
                            "location": [-84.5085921, 39.08367],
                            "bearing_before": 0,
                            "bearing_after": 258,
                            "instruction": "Walk west on East 7th Street",
                            "exit": None,
                            "ref": None,
                            "destination": None,
                            "exit_ref": None,
                        }
                    ],
                    "route": None,
                    "agency": None,
                    "trip_id": None,
                    "headsign": None,
                    "service_date": None,
                    "intermediate_stops": None,
                    "alerts": None,
                },
                {
                    "mode": "transit",
                    "from": {
                        "name": "Covington Transit Center",
                        "lat": 39.08871,
                        "lon": -84.511428,
                        "stop_id": "nky_tank:100035",
                    },
                    "to": {
                        "name": "W 4th at Columbia - Out",
                        "lat": 39.091467,
                        "lon": -84.497827,
                        "stop_id": "nky_tank:30169",
                    },
                    "departure": "2020-01-15T08:09:00-05:00",
                    "arrival": "2020-01-15T08:25:00-05:00",
                    "duration_s": 960,
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [
                            [-84.511428, 39.08871],
                            [-84.51145, 39.08871],
                            [-84.51135, 39.08825],
                        ],
                    },
                    "distance_m": None,
                    "steps": None,
                    "route": {
                        "id": "nky_tank:16",
                        "short_name": "16",
                        "long_name": "West Newport/NKU",
                        "type": 3,
                        "type_name": "bus",
                        "color": "#008000",
                        "text_color": "#FFFFFF",
                    },
                    "agency": {
                        "id": "nky_tank:Transit Authority of Northern Kentucky",
                        "name": "Transit Authority of Northern Kentucky",
                        "timezone": "America/New_York",
                    },
                    "trip_id": "nky_tank:4151690",
                    "headsign": "NKU",
                    "service_date": "2020-01-15",
                    "intermediate_stops": [
                        {
                            "stop_id": "nky_tank:100541",
                            "name": "Fourth at Madison - In",
                            "lat": 39.087099,
                            "lon": -84.510977,
                            "arrival": "2020-01-15T08:09:00-05:00",
                        },
                        {
                            "stop_id": "nky_tank:100542",
                            "name": "Fourth at Russell - In",
                            "lat": 39.086618,
                            "lon": -84.514094,
                            "arrival": "2020-01-15T08:10:00-05:00",
                        },
                    ],
                    "scheduled_departure": "2020-01-15T08:09:00-05:00",
                    "scheduled_arrival": "2020-01-15T08:25:00-05:00",
                    "departure_delay_s": 0,
                    "arrival_delay_s": 0,
                    "realtime": False,
                    "alerts": [],
                },
                {
                    "mode": "walk",
                    "from": {
                        "name": "W 4th at Columbia - Out",
                        "lat": 39.091467,
                        "lon": -84.497827,
                        "stop_id": "nky_tank:30169",
                    },
                    "to": {"name": "Destination", "lat": 39.0912, "lon": -84.496, "stop_id": None},
                    "departure": "2020-01-15T08:25:00-05:00",
                    "arrival": "2020-01-15T08:27:20-05:00",
                    "duration_s": 140,
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [
                            [-84.4977792, 39.0914151],
                            [-84.4976861, 39.0914668],
                            [-84.4976472, 39.0914243],
                        ],
                    },
                    "distance_m": 193.3,
                    "straight_line": False,
                    "steps": [
                        {
                            "type": "depart",
                            "modifier": "",
                            "name": "West 4th Street",
                            "distance_m": 9.9,
                            "duration_s": 7.1,
                            "location": [-84.4977792, 39.0914151],
                            "bearing_before": 0,
                            "bearing_after": 54,
                            "instruction": "Walk northeast on West 4th Street",
                            "exit": None,
                            "ref": None,
                            "destination": None,
                            "exit_ref": None,
                        }
                    ],
                    "route": None,
                    "agency": None,
                    "trip_id": None,
                    "headsign": None,
                    "service_date": None,
                    "intermediate_stops": None,
                    "alerts": None,
                },
            ],
            "alerts": [],
        }
    ],
    "service_date": "2020-01-15",
    "live_version": 0,
    "access_stops": 54,
    "egress_stops": 56,
    "messages": [],
}

#: GET /v1/stops?near=39.0837,-84.5086&limit=3
STOPS: dict[str, Any] = {
    "stops": [
        {
            "stop_id": "nky_tank:10094",
            "name": "Scott at 7th - Out",
            "lat": 39.0838,
            "lon": -84.5086,
        },
        {
            "stop_id": "nky_tank:100045",
            "name": "Scott at Sixth - Out",
            "lat": 39.084703,
            "lon": -84.508844,
        },
        {
            "stop_id": "nky_tank:30161",
            "name": "Scott at E 8th - Out",
            "lat": 39.082562,
            "lon": -84.508286,
        },
    ]
}

#: An incident closing a stop, as attached to departures and legs (lang=en)
ALERT_INC_1: dict[str, Any] = {
    "id": "INC-1",
    "source": "incident",
    "feed_id": "nky_tank",
    "effect": "NO_SERVICE",
    "cause": "OTHER_CAUSE",
    "severity": "WARNING",
    "header": "Transit disruption INC-1: Scott at Sixth - Out closed",
    "description": "Scott at Sixth closed for sidewalk works; board at Scott at 7th",
    "url": None,
    "active_periods": [{"start": "2020-01-15T07:00:00-05:00",
                        "end": "2020-01-15T19:00:00-05:00"}],
}
ROUTE_33: dict[str, Any] = {
                "id": "nky_tank:33",
                "short_name": "33",
                "long_name": "Thomas More Pkwy/Crestview Hills",
                "type": 3,
                "type_name": "bus",
                "color": "#008000",
                "text_color": "#FFFFFF",
            }

#: GET /v1/stops/nky_tank:10094/departures?at=2020-01-15T08:00:00-05:00&limit=2, with
#: TripUpdates pushed and an incident closing the next stop up the street (INC-1); the first
#: delay and the vehicle are illustrative (the bundled city has no vehicle-positions feed)
DEPARTURES: dict[str, Any] = {
    "stop": {
        "stop_id": "nky_tank:10094",
        "name": "Scott at 7th - Out",
        "lat": 39.0838,
        "lon": -84.5086,
    },
    "departures": [
        {
            "trip_id": "nky_tank:4154850",
            "route": ROUTE_33,
            "headsign": "Crestview Hills",
            "scheduled": "2020-01-15T08:15:00-05:00",
            "expected": "2020-01-15T08:17:00-05:00",
            "delay_s": 120,
            "cancelled": False,
            "skipped": False,
            "realtime": True,
            "service_date": "2020-01-15",
            "vehicle": {
                "id": "1712",
                "label": "1712",
                "lat": 39.0911483,
                "lon": -84.5102121,
                "bearing_deg": 180.0,
                "speed_mps": 6.2,
                "status": "IN_TRANSIT_TO",
                "occupancy": "MANY_SEATS_AVAILABLE",
                "timestamp": "2020-01-15T12:59:50Z",
                "age_s": 10.0,
            },
            "alerts": [ALERT_INC_1],
        },
        {
            "trip_id": "nky_tank:4160440",
            "route": {
                "id": "nky_tank:8",
                "short_name": "8",
                "long_name": "Eastern Ave/Fort Wright",
                "type": 3,
                "type_name": "bus",
                "color": "#008000",
                "text_color": "#FFFFFF",
            },
            "headsign": "Fort Wright",
            "scheduled": "2020-01-15T08:25:00-05:00",
            "expected": "2020-01-15T08:25:00-05:00",
            "delay_s": 0,
            "cancelled": False,
            "skipped": False,
            "realtime": False,
            "service_date": "2020-01-15",
            "vehicle": None,
            "alerts": [ALERT_INC_1],
        },
    ],
    "live_version": 2,
}

#: Body of POST /v1/incidents: a closure on the Veterans Memorial Bridge
INCIDENT_CREATE: dict[str, Any] = {
    "type": "closure",
    "severity": "high",
    "start": "2026-11-24T06:00:00-05:00",
    "end": "2026-11-24T18:00:00-05:00",
    "geometry": {
        "type": "LineString",
        "coordinates": [
            [-84.503542, 39.08821],
            [-84.502907, 39.088319],
            [-84.5027881, 39.0883457],
            [-84.502701, 39.088364],
        ],
    },
    "direction": "both",
    "road_effect": {"closed_to": ["car"]},
    "description": {"en": "Veterans Memorial Bridge closed for a bridge inspection"},
}

#: Answer of POST /v1/incidents?dry_run=true (nothing stored)
INCIDENT_PREVIEW: dict[str, Any] = {
    "dry_run": True, "stored": False,
    "match": {"geometry_type": "LineString", "edge_count": 14,
              "edge_counts": {"car": 2, "bike": 6, "walk": 6}, "length_m": 862.0,
              "street_names": ["Veterans Memorial Bridge"],
              "way_ids": [33159410, 729223631, 729223628], "stops": []},
    "impact_at": "2026-11-24T06:00:00-05:00",
    "impact": {
        "sampled_routes": 16,
        "changed_routes": [{"from": [39.0937, -84.5031], "to": [39.0829, -84.5031],
                            "before_s": 212.4, "after_s": 388.0, "added_s": 175.6,
                            "avoids": True,
                            "before": {"type": "LineString", "coordinates": [
                                [-84.5031, 39.0937], [-84.5031, 39.0829]]},
                            "after": {"type": "LineString", "coordinates": [
                                [-84.5031, 39.0937], [-84.5085, 39.0881],
                                [-84.5031, 39.0829]]}}],
        "transit": {"stops_closed": [], "stops_on_geometry": [],
                    "routes_affected": [{"id": "nky_tank:1", "name": "1"}]},
        "diversions": [],
    },
    "live_version": 3,
}

#: Answer of POST /v1/incidents (ETag: "1")
INCIDENT: dict[str, Any] = {
    "id": "INC-1",
    "version": 1,
    "status": "active",
    "type": "closure",
    "geometry": {
        "type": "LineString",
        "coordinates": [
            [-84.503542, 39.08821],
            [-84.502907, 39.088319],
            [-84.5027881, 39.0883457],
            [-84.502701, 39.088364],
        ],
    },
    "effective_state": "in_effect",
    "match": {
        "geometry_type": "LineString",
        "edge_count": 14,
        "edge_counts": {"car": 2, "bike": 6, "walk": 6},
        "length_m": 862.0,
        "street_names": ["Veterans Memorial Bridge"],
        "way_ids": [33159410, 729223631, 729223628],
        "stops": [],
    },
    "live_version": 1,
    "agency": "KYTC",
    "external_id": None,
    "severity": "high",
    "start": "2026-11-24T06:00:00-05:00",
    "end": "2026-11-24T18:00:00-05:00",
    "recurrence": None,
    "direction": "both",
    "lanes": None,
    "road_effect": {"closed_to": ["car"], "speed_limit_kmh": None, "delay_s": None},
    "transit_effect": None,
    "description": {"en": "Veterans Memorial Bridge closed for a bridge inspection"},
    "created_by": "key:3f9a61c2d7e4",
    "updated_by": "key:3f9a61c2d7e4",
    "created_at": "2026-11-24T10:58:07.412903Z",
    "updated_at": "2026-11-24T10:58:07.412903Z",
}

#: Answer of PATCH /v1/incidents/INC-1 with {"severity": "severe"} (ETag: "2")
INCIDENT_PATCHED: dict[str, Any] = {
    "id": "INC-1",
    "version": 2,
    "status": "active",
    "type": "closure",
    "geometry": {
        "type": "LineString",
        "coordinates": [
            [-84.503542, 39.08821],
            [-84.502907, 39.088319],
            [-84.5027881, 39.0883457],
            [-84.502701, 39.088364],
        ],
    },
    "effective_state": "in_effect",
    "match": {
        "geometry_type": "LineString",
        "edge_count": 14,
        "edge_counts": {"car": 2, "bike": 6, "walk": 6},
        "length_m": 862.0,
        "street_names": ["Veterans Memorial Bridge"],
        "way_ids": [33159410, 729223631, 729223628],
        "stops": [],
    },
    "live_version": 2,
    "agency": "KYTC",
    "external_id": None,
    "severity": "severe",
    "start": "2026-11-24T06:00:00-05:00",
    "end": "2026-11-24T18:00:00-05:00",
    "recurrence": None,
    "direction": "both",
    "lanes": None,
    "road_effect": {"closed_to": ["car"], "speed_limit_kmh": None, "delay_s": None},
    "transit_effect": None,
    "description": {"en": "Veterans Memorial Bridge closed for a bridge inspection"},
    "created_by": "key:3f9a61c2d7e4",
    "updated_by": "key:3f9a61c2d7e4",
    "created_at": "2026-11-24T10:58:07.412903Z",
    "updated_at": "2026-11-24T11:20:31.086254Z",
}

#: GET /v1/incidents?limit=2
INCIDENTS: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "INC-1",
            "geometry": {
                "type": "LineString",
                "coordinates": [
                    [-84.503542, 39.08821],
                    [-84.502907, 39.088319],
                    [-84.5027881, 39.0883457],
                    [-84.502701, 39.088364],
                ],
            },
            "properties": {
                "id": "INC-1",
                "agency": "KYTC",
                "external_id": None,
                "type": "closure",
                "severity": "severe",
                "status": "active",
                "start": "2026-11-24T06:00:00-05:00",
                "end": "2026-11-24T18:00:00-05:00",
                "recurrence": None,
                "direction": "both",
                "lanes": None,
                "road_effect": {"closed_to": ["car"], "speed_limit_kmh": None, "delay_s": None},
                "transit_effect": None,
                "description": {"en": "Veterans Memorial Bridge closed for a bridge inspection"},
                "created_by": "key:3f9a61c2d7e4",
                "updated_by": "key:3f9a61c2d7e4",
                "created_at": "2026-11-24T10:58:07.412903Z",
                "updated_at": "2026-11-24T11:20:31.086254Z",
                "version": 2,
                "effective_state": "in_effect",
            },
        }
    ],
    "live_version": 2,
}

#: GET /v1/incidents/INC-1/history
HISTORY: dict[str, Any] = {
    "incident_id": "INC-1",
    "history": [
        {
            "seq": 1,
            "version": 1,
            "action": "create",
            "actor": "key:3f9a61c2d7e4",
            "recorded_at": "2026-11-24T10:58:07.412903+00:00",
            "before": None,
            "after": {
                "id": "INC-1",
                "agency": "KYTC",
                "external_id": None,
                "type": "closure",
                "severity": "high",
                "status": "active",
                "start": "2026-11-24T06:00:00-05:00",
                "end": "2026-11-24T18:00:00-05:00",
                "recurrence": None,
                "geometry": {
                    "type": "LineString",
                    "coordinates": [
                        [-84.503542, 39.08821],
                        [-84.502907, 39.088319],
                        [-84.5027881, 39.0883457],
                        [-84.502701, 39.088364],
                    ],
                },
                "direction": "both",
                "lanes": None,
                "road_effect": {"closed_to": ["car"], "speed_limit_kmh": None, "delay_s": None},
                "transit_effect": None,
                "description": {"en": "Veterans Memorial Bridge closed for a bridge inspection"},
                "created_by": "key:3f9a61c2d7e4",
                "updated_by": "key:3f9a61c2d7e4",
                "created_at": "2026-11-24T10:58:07.412903Z",
                "updated_at": "2026-11-24T10:58:07.412903Z",
                "version": 1,
            },
        },
        {
            "seq": 2,
            "version": 2,
            "action": "update",
            "actor": "key:3f9a61c2d7e4",
            "recorded_at": "2026-11-24T11:20:31.086254+00:00",
            "before": {
                "id": "INC-1",
                "agency": "KYTC",
                "external_id": None,
                "type": "closure",
                "severity": "high",
                "status": "active",
                "start": "2026-11-24T06:00:00-05:00",
                "end": "2026-11-24T18:00:00-05:00",
                "recurrence": None,
                "geometry": {
                    "type": "LineString",
                    "coordinates": [
                        [-84.503542, 39.08821],
                        [-84.502907, 39.088319],
                        [-84.5027881, 39.0883457],
                        [-84.502701, 39.088364],
                    ],
                },
                "direction": "both",
                "lanes": None,
                "road_effect": {"closed_to": ["car"], "speed_limit_kmh": None, "delay_s": None},
                "transit_effect": None,
                "description": {"en": "Veterans Memorial Bridge closed for a bridge inspection"},
                "created_by": "key:3f9a61c2d7e4",
                "updated_by": "key:3f9a61c2d7e4",
                "created_at": "2026-11-24T10:58:07.412903Z",
                "updated_at": "2026-11-24T10:58:07.412903Z",
                "version": 1,
            },
            "after": {
                "id": "INC-1",
                "agency": "KYTC",
                "external_id": None,
                "type": "closure",
                "severity": "severe",
                "status": "active",
                "start": "2026-11-24T06:00:00-05:00",
                "end": "2026-11-24T18:00:00-05:00",
                "recurrence": None,
                "geometry": {
                    "type": "LineString",
                    "coordinates": [
                        [-84.503542, 39.08821],
                        [-84.502907, 39.088319],
                        [-84.5027881, 39.0883457],
                        [-84.502701, 39.088364],
                    ],
                },
                "direction": "both",
                "lanes": None,
                "road_effect": {"closed_to": ["car"], "speed_limit_kmh": None, "delay_s": None},
                "transit_effect": None,
                "description": {"en": "Veterans Memorial Bridge closed for a bridge inspection"},
                "created_by": "key:3f9a61c2d7e4",
                "updated_by": "key:3f9a61c2d7e4",
                "created_at": "2026-11-24T10:58:07.412903Z",
                "updated_at": "2026-11-24T11:20:31.086254Z",
                "version": 2,
            },
        },
    ],
}

#: GET /v1/incidents/INC-1/diversions?routes=1 (shortened)
DIVERSIONS: dict[str, Any] = {
    "incident_id": "INC-1",
    "diversions": [
        {
            "entry": {"lat": 39.088534, "lon": -84.502197},
            "exit": {"lat": 39.0878829, "lon": -84.5056066},
            "diversion_point": {"lat": 39.0902177, "lon": -84.4998274},
            "rejoin_point": {"lat": 39.0861675, "lon": -84.5242931},
            "closed_length_m": 303.9,
            "closed_streets": ["Veterans Memorial Bridge"],
            "closed_free_flow_s": 28.3,
            "routes": [
                {
                    "duration_s": 364.4,
                    "distance_m": 4613.7,
                    "extra_s": 158.8,
                    "streets_to_sign": [
                        "East 3rd Street",
                        "US 27",
                        "Taylor–Southgate Bridge",
                        "Broadway Street",
                        "West 3rd Street",
                        "Mill Creek Expressway",
                        "Crescent Avenue",
                    ],
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [
                            [-84.4998274, 39.0902177],
                            [-84.4998419, 39.0902822],
                            [-84.4998564, 39.0903217],
                        ],
                    },
                    "steps": [
                        {
                            "type": "depart",
                            "modifier": "",
                            "name": "East 3rd Street",
                            "distance_m": 442.6,
                            "duration_s": 49.5,
                            "location": [-84.4998274, 39.0902177],
                            "bearing_before": 0,
                            "bearing_after": 350,
                            "instruction": "Head north on East 3rd Street (KY 8)",
                            "ref": "KY 8",
                        },
                        {
                            "type": "roundabout",
                            "modifier": "slight right",
                            "name": "US 27",
                            "distance_m": 109.6,
                            "duration_s": 6.6,
                            "location": [-84.4973562, 39.0931305],
                            "bearing_before": 46,
                            "bearing_after": 85,
                            "instruction": "Enter the roundabout and take the "
                            "5th exit toward US 27 North",
                            "exit": 5,
                            "ref": "US 27",
                            "destination": "US 27 North",
                        },
                    ],
                }
            ],
            "diversion_needed": True,
            "sign_text": "VETERANS MEMORIAL BRIDGE CLOSED — DIVERSION VIA EAST 3RD "
            "STREET → US 27 → TAYLOR–SOUTHGATE BRIDGE (+3 MIN)",
        }
    ],
    "live_version": 2,
}

#: Body of POST /v1/traffic/speeds (the second way is not a car road)
SPEEDS_BODY: dict[str, Any] = {
    "observations": [
        {
            "ref": {"way_id": 356389773, "direction": "forward"},
            "speed_kmh": 12.5,
            "observed_at": "2026-11-24T12:58:30Z",
            "confidence": 0.9,
        },
        {"ref": {"way_id": 5}, "speed_kmh": 30, "observed_at": "2026-11-24T12:58:30Z"},
    ]
}

#: Answer to SPEEDS_BODY
SPEED_BATCH: dict[str, Any] = {
    "accepted": 1,
    "rejected": [{"index": 1, "reason": "way 5 (forward) is not a car road of this network"}],
    "edges_updated": 2,
    "live_version": 3,
}

#: GET /v1/congestion?bbox=-84.52,39.07,-84.49,39.10&min_level=heavy&at=2026-11-24T08:00:00-05:00
#: (shortened)
CONGESTION: dict[str, Any] = {
    "type": "FeatureCollection",
    "feed_info": {"publisher": "citynav",
                  "license": "https://creativecommons.org/publicdomain/zero/1.0/",
                  "attribution": "© OpenStreetMap contributors",
                  "update_date": "2026-11-24T13:00:00+00:00"},
    "live_version": 2,
    "at": "2026-11-24T13:00:00+00:00",
    "features": [
        {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [
                    [-84.519561, 39.075787],
                    [-84.519296, 39.075192],
                    [-84.519139, 39.074782],
                ],
            },
            "properties": {
                "edge": 24549,
                "level": "heavy",
                "speed_kmh": 35.1,
                "free_flow_kmh": 79.7,
                "delay_s": 30.1,
                "name": "I 71 / I 75",
                "way_id": 33651259,
                "direction": "forward",
                "causes": [],
                "source": None,
            },
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [
                    [-84.51956, 39.071177],
                    [-84.520849, 39.066861],
                    [-84.521123, 39.065943],
                ],
            },
            "properties": {
                "edge": 24550,
                "level": "heavy",
                "speed_kmh": 35.1,
                "free_flow_kmh": 79.7,
                "delay_s": 105.0,
                "name": "I 71 / I 75",
                "way_id": 33651259,
                "direction": "forward",
                "causes": [],
                "source": None,
            },
        },
    ],
}

#: GET /v1/congestion/summary?worst=2&at=2026-11-24T08:00:00-05:00
CONGESTION_SUMMARY: dict[str, Any] = {
    "live_version": 2,
    "edges": 50210,
    "network_km": 3699.46,
    "km_by_level": {
        "free": 3563.16,
        "slow": 99.48,
        "heavy": 36.22,
        "standstill": 0.0,
        "closed": 0.61,
    },
    "closed_edges": 2,
    "total_delay_s": 4383.5,
    "vehicle_delay_proxy": 80674.3,
    "worst_segments": [
        {
            "edge": 18971,
            "name": "I 275",
            "way_id": 16249441,
            "level": "heavy",
            "delay_s": 151.8,
            "speed_kmh": 37.0,
            "free_flow_kmh": 94.1,
            "causes": [],
            "source": None,
        },
        {
            "edge": 24550,
            "name": "I 71 / I 75",
            "way_id": 33651259,
            "level": "heavy",
            "delay_s": 105.0,
            "speed_kmh": 35.1,
            "free_flow_kmh": 79.7,
            "causes": [],
            "source": None,
        },
    ],
    "active_causes": [
        {
            "id": "INC-1",
            "edges": 2,
            "type": "closure",
            "severity": "severe",
            "streets": ["Veterans Memorial Bridge"],
        }
    ],
    "live_speed_edges": 0,
    "live_speed_edges_by_source": {"traffic_centre": 0, "bus_probe": 0},
    "at": "2026-11-24T13:00:00+00:00",
}


# GTFS-Realtime (api.realtime)
REALTIME_STATUS = {"now": "2019-08-07T20:31:05Z", "feeds": [{
    "feed_id": "BART", "kind": "trip_updates", "source": "push:3f9a61c2d7e4",
    "last_good_at": "2019-08-07T20:31:02Z", "header_at": "2019-08-07T20:30:58Z",
    "age_s": 7.0, "messages_applied": 12, "full_dataset": True, "entities": 91,
    "last_applied": {"trip_updates": 91, "applied": 54, "cancelled": 0,
                     "ignored": {"unknown_trip": 18, "no_realtime_data": 11}},
    "rejected": {"stale": 1}, "last_error": {"reason": "stale", "detail": "header time "
                                             "1565209800 is 900 s before now",
                                             "at": "2019-08-07T20:15:00Z",
                                             "source": "url:https://example.org/tu.pb"},
    "polling": None}]}
REALTIME_PUSH = {"feed_id": "BART", "kind": "trip_updates", "header_at": "2019-08-07T20:30:58Z",
                 "full_dataset": True, "entities": 91,
                 "applied": {"trip_updates": 91, "applied": 54, "cancelled": 0,
                             "ignored": {"unknown_trip": 18, "no_realtime_data": 11}},
                 "live_version": 42, "realtime_version": 13}
GTFS_RT_JSON = {
    "header": {"gtfs_realtime_version": "2.0", "incrementality": "FULL_DATASET",
               "timestamp": "1565209858"},
    "entity": [{"id": "1", "trip_update": {
        "trip": {"trip_id": "1561990SAT", "start_date": "20190807"},
        "stop_time_update": [{"stop_sequence": 5, "departure": {"delay": 120}}]}}]}

#: GET /v1/vehicles (Caltrain's vehicle positions of 2023-11-08 with its TripUpdates)
VEHICLES: dict[str, Any] = {
    "type": "FeatureCollection", "live_version": 2, "realtime_version": 2,
    "features": [{
        "type": "Feature", "id": "caltrain:126",
        "geometry": {"type": "Point", "coordinates": [-122.4069824, 37.6539497]},
        "properties": {
            "vehicle_id": "126", "label": None, "feed_id": "caltrain",
            "trip_id": "caltrain:126", "trip_matched": True, "route_id": "caltrain:L1",
            "route_short_name": "L1", "service_date": "2023-11-07", "delay_s": 580,
            "stop_id": None, "bearing_deg": None, "speed_mps": None, "status": None,
            "occupancy": None, "timestamp": "2023-11-08T01:05:49Z", "age_s": 15.0}}]}
#: GET /v1/feeds/gtfs-rt/trip-updates?format=json (one entity, two stops shown)
GTFS_RT_TRIP_UPDATES: dict[str, Any] = {
    "header": {"gtfs_realtime_version": "2.0", "incrementality": "FULL_DATASET",
               "timestamp": "1579093200"},
    "entity": [{"id": "nky_tank:4162950-20200115", "trip_update": {
        "trip": {"trip_id": "4162950", "start_time": "07:53:00", "start_date": "20200115",
                 "schedule_relationship": "SCHEDULED", "route_id": "3", "direction_id": 0},
        "stop_time_update": [
            {"stop_sequence": 1, "stop_id": "30186", "schedule_relationship": "SCHEDULED",
             "arrival": {"delay": 95, "time": "1579092875"},
             "departure": {"delay": 95, "time": "1579092875"}},
            {"stop_sequence": 2, "stop_id": "310", "schedule_relationship": "SCHEDULED",
             "arrival": {"delay": 120, "time": "1579092900"},
             "departure": {"delay": 120, "time": "1579092900"}}]}}]}
#: GET /v1/feeds/gtfs-rt/alerts?format=json (an incident closing a stop; entities shortened)
GTFS_RT_ALERTS: dict[str, Any] = {
    "header": {"gtfs_realtime_version": "2.0", "incrementality": "FULL_DATASET",
               "timestamp": "1579093200"},
    "entity": [{"id": "nky_tank:INC-1", "alert": {
        "active_period": [{"start": "1579089600", "end": "1579132800"}],
        "informed_entity": [
            {"agency_id": "Transit Authority of Northern Kentucky", "stop_id": "100045"},
            {"agency_id": "Transit Authority of Northern Kentucky", "route_id": "33",
             "stop_id": "100045"}],
        "cause": "OTHER_CAUSE", "effect": "NO_SERVICE", "severity_level": "WARNING",
        "header_text": {"translation": [
            {"text": "Transit disruption INC-1: Scott at Sixth - Out closed", "language": "en"},
            {"text": "公共交通中断 INC-1：Scott at Sixth - Out 站关闭", "language": "zh-CN"}]},
        "description_text": {"translation": [
            {"text": "Scott at Sixth closed for sidewalk works; board at Scott at 7th",
             "language": "en"},
            {"text": "Scott at Sixth 站因人行道施工关闭；请在 Scott at 7th 上车",
             "language": "zh-CN"}]}}}]}


# ---- push: webhooks and commute watches
WEBHOOK = {"id": "WH-3", "url": "https://example.org/hooks/citynav", "types": ["incident"],
         "bbox": [-84.52, 39.07, -84.49, 39.1], "agencies": ["KYTC"], "status": "active",
         "paused_reason": None, "consecutive_failures": 0, "position": "12-40-7-0",
         "created_at": "2026-11-24T08:00:00+00:00", "updated_at": "2026-11-24T08:00:00+00:00"}
WEBHOOK_CREATE = {"url": "https://example.org/hooks/citynav", "types": ["incident"],
              "bbox": [-84.52, 39.07, -84.49, 39.1], "agencies": ["KYTC"]}
WEBHOOK_DELIVERIES = {"webhook_id": "WH-3", "deliveries": [{
    "id": 57, "event_id": "incident-12", "event_type": "incident", "status": "delivered",
    "attempts": 2, "next_attempt_at": None, "created_at": "2026-11-24T08:02:11+00:00",
    "delivered_at": "2026-11-24T08:02:14+00:00", "last_status": 200, "last_error": None,
    "attempt_log": [
        {"attempt": 1, "at": "2026-11-24T08:02:11+00:00", "status_code": 503, "error": None,
         "duration_ms": 41.2},
        {"attempt": 2, "at": "2026-11-24T08:02:14+00:00", "status_code": 200, "error": None,
         "duration_ms": 38.9}]}]}
WEBHOOK_CREATED = {**WEBHOOK, "secret": "whsec_3q2-7wEXAMPLEc1l0Y7v8Jm2Qx9k4Tz6RbQ1wY5u0P"}
WATCH_CREATE = {"from": "39.0837,-84.5086", "to": "39.0912,-84.4960", "mode": "car",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "window": {"start": "07:30", "end": "09:00"}, "threshold_s": 300,
            "label": "to work"}
WATCH_ANSWER = {"duration_s": 412.3, "distance_m": 5230.4, "signature": "1aeef8251eecee8d",
           "incidents": [], "live_version": 7, "at": "2026-11-24T13:00:00+00:00",
           "reference_s": 412.3}
WATCH = {"id": "W-7", **WATCH_CREATE, "answer": WATCH_ANSWER,
          "created_at": "2026-11-24T13:00:00+00:00", "updated_at": "2026-11-24T13:00:00+00:00"}
WATCH_NOTICE = {"seq": 3, "recorded_at": "2026-11-24T13:02:11+00:00", "watch_id": "W-7",
           "label": "to work", "mode": "car", "cause": "change", "live_version": 8,
           "time_lost_s": 318.4, "duration_s": 730.7, "previous_duration_s": 412.3,
           "route_changed": True, "incidents_on_route": [], "new_incidents_on_route": [],
           "error": None,
           "explanation": {"incidents": [], "avoided": ["INC-12"], "delay_s": 318.4,
                           "no_incident_duration_s": 412.3,
                           "messages": ["Avoids closure INC-12 on Madison Avenue"]},
           "explanation_zh": ["避开 Madison Avenue 上的封路 INC-12"],
           "route": {"geometry": {"type": "LineString", "coordinates": [
               [-84.5086, 39.0837], [-84.496, 39.0912]]}, "distance_m": 6120.0,
               "duration_s": 730.7}}
WATCH_CREATED = {**WATCH, "token": "cnp_3f9a61c2d7e4_EXAMPLE"}
WATCH_WITH_NOTICES = {**WATCH, "notifications": [WATCH_NOTICE]}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


#: POST /v1/incidents/import
IMPORT_REPORT: dict[str, Any] = {
    "standard": "wzdx", "standard_version": "4.2", "agency": "KYTC", "source": "push",
    "publisher": "KYTC", "published_at": "2026-11-24T13:00:00+00:00",
    "counts": {"created": 1, "updated": 0, "unchanged": 0, "ended": 0, "unlocatable": 1,
               "unmatched_geometry": 0, "unsupported": 0, "invalid": 0},
    "records": [{"external_id": "wzdx:wz-7", "outcome": "created", "reason": None,
                 "incident_id": "INC-12", "source_version": "2026-11-24T12:55:00Z",
                 "record_type": "work-zone"},
                {"external_id": "datex2:GUID5039605401", "outcome": "unlocatable",
                 "reason": "unlocatable: ALERT-C table 17 not loaded", "incident_id": None,
                 "source_version": "6", "record_type": "Accident"}],
    "live_version": 7}


#: GET /v1/incidents/import/subscriptions
IMPORT_SUBSCRIPTIONS: dict[str, Any] = {
    "polling": True,
    "subscriptions": [{
        "source": "subscription:kytc-wzdx", "agency": "KYTC", "format": "wzdx",
        "interval_s": 60.0, "last_checked_at": "2026-11-24T13:05:00+00:00",
        "last_outcome": "imported",
        "last_counts": {"created": 2, "updated": 1, "unchanged": 14, "ended": 1,
                        "unlocatable": 0, "unmatched_geometry": 0, "unsupported": 0,
                        "invalid": 0},
        "consecutive_failures": 0, "etag": "\"a1b2c3\""}]}

#: An API key as listed (GET /v1/keys).
KEY = {"key_id": "3f9a61c2d7e4", "role": "traffic_centre", "agency": "KYTC",
       "label": "Covington dispatch", "plan": "standard", "area": [-84.7, 38.9, -84.3, 39.2],
       "created_at": "2026-11-24T08:00:00Z", "revoked_at": None, "expires_at": None,
       "usable": True}
#: A new key (POST /v1/keys): shown once.
KEY_CREATED = {**KEY, "key": "cnk_3f9a61c2d7e4_" + "x" * 43}
#: A revoked key.
KEY_REVOKED = {**KEY, "revoked_at": "2026-11-25T09:00:00Z", "usable": False}
#: A key with an expiry.
KEY_EXPIRING = {**KEY, "expires_at": "2027-01-01T00:00:00Z"}


def restore_nulls(doc: Any) -> None:
    """Put the ``null`` values back into the examples of an OpenAPI document: FastAPI drops
    every ``null`` from the document, examples included, but answers do carry them (and a
    required field may be ``null``). Each ``example`` that equals one of this module's
    examples without its nulls is replaced by that example."""
    originals = {json.dumps(_without_nulls(v), sort_keys=True): v
                 for k, v in globals().items() if k.isupper() and isinstance(v, dict)}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ex = node.get("example")
            if isinstance(ex, dict):
                node["example"] = originals.get(json.dumps(ex, sort_keys=True), ex)
            elif isinstance(ex, list):  # a list answer: each item on its own
                node["example"] = [originals.get(json.dumps(e, sort_keys=True), e)
                                   if isinstance(e, dict) else e for e in ex]

            elif isinstance(ex, list):
                node["example"] = [originals.get(json.dumps(x, sort_keys=True), x)
                                   if isinstance(x, dict) else x for x in ex]
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
