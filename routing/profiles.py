"""Per-mode access, direction and speed rules for OSM ways (car, bike, walk).

The rules are data (tables below) plus small pure functions that read a way's tags and
answer: may this mode use the way forward / backward, and at what speed. They follow the
conventions of the OSM wiki (access-tag hierarchy, implied oneways, ``maxspeed`` formats).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    """A road travel mode: the one definition every layer uses (its value is the name in
    APIs, snapshots and incidents). Each has its profile below (``ACCESS_RULES``) and a
    graph in every snapshot."""

    CAR = "car"
    BIKE = "bike"
    WALK = "walk"


MODES: tuple[Mode, ...] = tuple(Mode)
#: Highest speed (km/h) any observation, typical profile or live report may state; faster
#: values are rejected as bad data.
MAX_SPEED_KMH = 250.0

#: Default car speeds by highway class (km/h), used when ``maxspeed`` is absent.
CAR_DEFAULT_SPEED_KMH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 45.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
}
#: Share of the posted limit a car keeps on average on each class (junctions, lights).
CAR_SPEED_FACTOR: dict[str, float] = {"motorway": 0.9, "motorway_link": 0.8, "trunk": 0.85}
CAR_SPEED_FACTOR_DEFAULT = 0.8
#: Service-road subtypes and their speed (km/h); ``None`` means not routable by car.
CAR_SERVICE_SPEED_KMH: dict[str, float | None] = {
    "parking_aisle": 8.0,
    "driveway": 10.0,
    "alley": 10.0,
    "drive-through": 8.0,
    "emergency_access": None,
}

#: Bike speeds by highway class (km/h). Ways walked (pushed) use BIKE_PUSH_SPEED_KMH.
BIKE_SPEED_KMH: dict[str, float] = {
    "cycleway": 18.0,
    "primary": 16.0,
    "primary_link": 16.0,
    "secondary": 16.0,
    "secondary_link": 16.0,
    "tertiary": 16.0,
    "tertiary_link": 16.0,
    "trunk": 15.0,
    "trunk_link": 15.0,
    "unclassified": 15.0,
    "residential": 15.0,
    "living_street": 12.0,
    "service": 12.0,
    "road": 14.0,
    "track": 12.0,
    "path": 12.0,
}
BIKE_PUSH_SPEED_KMH = 5.0
#: Highway classes a bike may be pushed along (walking beside it) when not allowed to ride.
BIKE_PUSH_HIGHWAYS = frozenset({"footway", "pedestrian", "platform", "corridor"})

#: Walking speeds by highway class (km/h).
WALK_SPEED_KMH_DEFAULT = 5.0
WALK_SPEED_KMH: dict[str, float] = {"steps": 2.5}
WALK_HIGHWAYS = frozenset(
    {
        "footway", "pedestrian", "path", "steps", "living_street", "residential", "service",
        "track", "unclassified", "tertiary", "tertiary_link", "secondary", "secondary_link",
        "primary", "primary_link", "trunk", "trunk_link", "cycleway", "road", "platform",
        "corridor", "bridleway",
    }
)

#: Implicit maxspeed values (``CC:zone`` style), in km/h; keys are the part after ``:``.
IMPLICIT_MAXSPEED_KMH: dict[str, float] = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 100.0,
    "motorway": 120.0,
    "living_street": 10.0,
    "walk": 7.0,
    "zone20": 20.0,
    "zone30": 30.0,
    "zone:30": 30.0,
    "bicycle_road": 30.0,
    "school": 30.0,
}
#: Country-specific overrides of implicit values (km/h).
IMPLICIT_MAXSPEED_COUNTRY_KMH: dict[str, dict[str, float]] = {
    "DE": {"rural": 100.0, "motorway": 130.0},
    "FR": {"rural": 80.0, "motorway": 130.0},
    "PT": {"rural": 90.0, "motorway": 120.0},
    "US": {"urban": 40.0, "rural": 88.0, "motorway": 105.0},
    "GB": {"urban": 48.0, "rural": 96.0, "motorway": 112.0, "nsl_single": 96.0,
           "nsl_dual": 112.0},
    "UK": {"urban": 48.0, "rural": 96.0, "motorway": 112.0, "nsl_single": 96.0,
           "nsl_dual": 112.0},
}

DENIED_ACCESS = frozenset(
    {"no", "private", "agricultural", "forestry", "emergency", "military", "restricted",
     "discouraged_no", "use_sidepath", "permit"}
)
_MPH_KMH = 1.609344
_KNOTS_KMH = 1.852
_NUM = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ModeAccess:
    """How one mode may use one way: directions allowed and speed (km/h) per direction."""

    forward: bool
    backward: bool
    speed_fwd_kmh: float
    speed_bwd_kmh: float

    @property
    def usable(self) -> bool:
        """True when the way can be used in at least one direction."""
        return self.forward or self.backward


NO_ACCESS = ModeAccess(False, False, 0.0, 0.0)


def parse_maxspeed(value: str | None, highway: str | None = None) -> float | None:
    """Parse an OSM ``maxspeed`` value into km/h.

    Handles plain numbers (km/h), ``mph`` and ``knots`` suffixes, implicit values such as
    ``DE:urban``, ``PT:rural``, ``US:urban``, ``walk``, ``none`` (→ the class default) and
    lists separated by ``;`` (the lowest counts). Returns ``None`` when the value carries no
    usable speed (``signals``, ``variable``, garbage, zero or absurd numbers).
    """
    if not value:
        return None
    value = value.strip()
    if ";" in value:
        parsed = [parse_maxspeed(v, highway) for v in value.split(";")]
        speeds = [s for s in parsed if s is not None]
        return min(speeds) if speeds else None
    low = value.lower()
    if low == "none":
        return CAR_DEFAULT_SPEED_KMH.get(highway or "") if highway else None
    if low == "walk":
        return IMPLICIT_MAXSPEED_KMH["walk"]
    m = _NUM.match(low)
    if m:
        speed = float(m.group(1).replace(",", "."))
        unit = (m.group(2) or "").lower()
        if unit == "mph":
            speed *= _MPH_KMH
        elif unit == "knots":
            speed *= _KNOTS_KMH
        if not math.isfinite(speed) or speed <= 0 or speed > 300:
            return None
        return speed
    if ":" in low:
        country, _, zone = value.partition(":")
        zone = zone.lower()
        by_country = IMPLICIT_MAXSPEED_COUNTRY_KMH.get(country.upper(), {})
        if zone in by_country:
            return by_country[zone]
        if zone in IMPLICIT_MAXSPEED_KMH:
            return IMPLICIT_MAXSPEED_KMH[zone]
        m = re.match(r"^zone:?(\d+)$", zone)
        if m:
            return float(m.group(1))
    return None


def _oneway(tags: Mapping[str, str], keys: tuple[str, ...], implied: bool) -> int:
    """Return 1 (forward only), -1 (backward only), 0 (both) or 2 (reversible: unusable)."""
    for key in keys:
        v = tags.get(key)
        if v is None:
            continue
        v = v.strip().lower()
        if v in ("yes", "true", "1"):
            return 1
        if v in ("-1", "reverse"):
            return -1
        if v in ("no", "false", "0"):
            return 0
        if v in ("reversible", "alternating"):
            return 2
    return 1 if implied else 0


def _access_denied(tags: Mapping[str, str], hierarchy: tuple[str, ...]) -> bool | None:
    """Walk an access-tag hierarchy from most to least specific.

    Returns True (denied), False (explicitly allowed) or None (no tag says anything).
    """
    for key in reversed(hierarchy):
        v = tags.get(key)
        if v is None:
            continue
        v = v.split(";")[0].strip().lower()
        return v in DENIED_ACCESS
    return None


def _directional_access(tags: Mapping[str, str], key: str) -> tuple[bool | None, bool | None]:
    """Read ``KEY:forward`` / ``KEY:backward`` access tags (None when absent)."""
    out: list[bool | None] = []
    for suffix in ("forward", "backward"):
        v = tags.get(f"{key}:{suffix}")
        out.append(None if v is None else v.strip().lower() not in DENIED_ACCESS)
    return out[0], out[1]


def car_access(tags: Mapping[str, str]) -> ModeAccess:
    """Car rules: highway class, access hierarchy, oneway (implied on motorways and
    roundabouts), ``maxspeed`` (incl. ``maxspeed:forward/backward``)."""
    hw = tags.get("highway", "")
    if hw not in CAR_DEFAULT_SPEED_KMH or tags.get("area") == "yes":
        return NO_ACCESS
    denied = _access_denied(tags, ("access", "vehicle", "motor_vehicle", "motorcar"))
    if denied:
        return NO_ACCESS
    if tags.get("impassable") == "yes" or tags.get("status") == "impassable":
        return NO_ACCESS
    base = CAR_DEFAULT_SPEED_KMH[hw]
    if hw == "service":
        service = tags.get("service", "")
        if service in CAR_SERVICE_SPEED_KMH:
            s = CAR_SERVICE_SPEED_KMH[service]
            if s is None:
                return NO_ACCESS
            base = s
    roundabout = tags.get("junction") in ("roundabout", "circular")
    implied = hw in ("motorway",) or roundabout
    ow = _oneway(tags, ("oneway:motorcar", "oneway:motor_vehicle", "oneway:vehicle", "oneway"),
                 implied)
    if ow == 2:
        return NO_ACCESS
    factor = CAR_SPEED_FACTOR.get(hw, CAR_SPEED_FACTOR_DEFAULT)
    posted = parse_maxspeed(tags.get("maxspeed"), hw)
    fwd_posted = parse_maxspeed(tags.get("maxspeed:forward"), hw) or posted
    bwd_posted = parse_maxspeed(tags.get("maxspeed:backward"), hw) or posted
    speed_fwd = fwd_posted * factor if fwd_posted else base
    speed_bwd = bwd_posted * factor if bwd_posted else base
    if hw == "service" and tags.get("service") in CAR_SERVICE_SPEED_KMH:
        speed_fwd, speed_bwd = min(speed_fwd, base), min(speed_bwd, base)
    fwd, bwd = ow in (0, 1), ow in (0, -1)
    dfwd, dbwd = _directional_access(tags, "motor_vehicle")
    if dfwd is not None:
        fwd = fwd and dfwd
    if dbwd is not None:
        bwd = bwd and dbwd
    if not (fwd or bwd):
        return NO_ACCESS
    return ModeAccess(fwd, bwd, max(speed_fwd, 3.0), max(speed_bwd, 3.0))


_BIKE_CONTRAFLOW = ("opposite", "opposite_lane", "opposite_track", "opposite_share_busway")


def bike_access(tags: Mapping[str, str]) -> ModeAccess:
    """Bike rules: cycleways, ``bicycle=*`` access, ``oneway:bicycle``, contraflow lanes;
    footways and pedestrian streets are usable at walking pace (pushing the bike)."""
    hw = tags.get("highway", "")
    bicycle = (tags.get("bicycle") or "").strip().lower()
    if hw in ("motorway", "motorway_link") and bicycle not in ("yes", "designated"):
        return NO_ACCESS
    if tags.get("motorroad") == "yes" and bicycle not in ("yes", "designated"):
        return NO_ACCESS
    denied = _access_denied(tags, ("access", "vehicle", "bicycle"))
    if hw in BIKE_SPEED_KMH or bicycle in ("yes", "designated", "permissive"):
        if denied:
            return NO_ACCESS
        speed = BIKE_SPEED_KMH.get(hw, 14.0)
        if hw == "steps":
            speed = 3.0
    elif hw in BIKE_PUSH_HIGHWAYS:
        if bicycle in DENIED_ACCESS or _access_denied(tags, ("access", "foot")):
            return NO_ACCESS
        speed = BIKE_PUSH_SPEED_KMH
        return ModeAccess(True, True, speed, speed)
    else:
        return NO_ACCESS
    roundabout = tags.get("junction") in ("roundabout", "circular")
    ow = _oneway(tags, ("oneway:bicycle", "oneway"), roundabout or hw == "motorway")
    if ow == 2:
        return NO_ACCESS
    if ow != 0:
        contraflow = any(
            (tags.get(k) or "") in _BIKE_CONTRAFLOW
            for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
        )
        if contraflow:
            ow = 0
    fwd, bwd = ow in (0, 1), ow in (0, -1)
    return ModeAccess(fwd, bwd, speed, speed)


def walk_access(tags: Mapping[str, str]) -> ModeAccess:
    """Walk rules: footways, paths, steps, pedestrian streets and most roads, both ways
    (``oneway:foot`` aside), ``foot=no`` and ``access=no`` honoured, motorways excluded."""
    hw = tags.get("highway", "")
    foot = (tags.get("foot") or "").strip().lower()
    if hw not in WALK_HIGHWAYS and foot not in ("yes", "designated", "permissive"):
        return NO_ACCESS
    if hw in ("motorway", "motorway_link"):
        return NO_ACCESS
    if tags.get("motorroad") == "yes" and foot not in ("yes", "designated"):
        return NO_ACCESS
    if _access_denied(tags, ("access", "foot")):
        return NO_ACCESS
    if hw in ("trunk", "trunk_link") and tags.get("sidewalk") in ("no", "none") and not foot:
        return NO_ACCESS
    speed = WALK_SPEED_KMH.get(hw, WALK_SPEED_KMH_DEFAULT)
    ow = _oneway(tags, ("oneway:foot",), False)
    fwd, bwd = ow in (0, 1), ow in (0, -1)
    return ModeAccess(fwd, bwd, speed, speed)


ACCESS_RULES = {Mode.CAR: car_access, Mode.BIKE: bike_access, Mode.WALK: walk_access}

#: Barrier node values that stop cars (bikes and pedestrians pass).
CAR_BLOCKING_BARRIERS = frozenset(
    {"bollard", "block", "jersey_barrier", "chain", "kissing_gate", "stile", "turnstile",
     "full-height_turnstile", "log", "motorcycle_barrier", "bus_trap", "sump_buster",
     "swing_gate", "cycle_barrier", "planter", "debris"}
)
#: Barrier node values that stop bikes and pedestrians too (when not explicitly allowed).
ALL_BLOCKING_BARRIERS = frozenset({"wall", "fence", "retaining_wall", "city_wall"})


def barrier_blocks(mode: str, tags: Mapping[str, str]) -> bool:
    """True when a barrier node with these tags cannot be passed by ``mode``."""
    barrier = tags.get("barrier")
    if not barrier:
        return False
    key = {Mode.CAR: "motor_vehicle", Mode.BIKE: "bicycle", Mode.WALK: "foot"}[Mode(mode)]
    explicit = tags.get(key) or (tags.get("motorcar") if mode == Mode.CAR else None)
    if explicit is not None:
        return explicit.strip().lower() in DENIED_ACCESS
    access = tags.get("access")
    if access is not None and access.strip().lower() in DENIED_ACCESS and barrier != "gate":
        return True
    if barrier in ALL_BLOCKING_BARRIERS:
        return True
    if mode == Mode.CAR:
        if barrier == "gate":
            return access is not None and access.strip().lower() in DENIED_ACCESS
        return barrier in CAR_BLOCKING_BARRIERS
    return False
