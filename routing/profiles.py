"""Per-mode access, direction and speed rules for OSM ways (car, bike, walk, bus, truck).

The rules are data (tables below) plus small pure functions that read a way's tags and
answer: may this mode use the way forward / backward, and at what speed. They follow the
conventions of the OSM wiki (access-tag hierarchy, implied oneways, ``maxspeed`` formats);
``docs/profiles.md`` tabulates every tag and value per mode and the deliberate differences
from OSRM's and Valhalla's defaults.
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
    BUS = "bus"
    TRUCK = "truck"


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
#: Pushing a bike up or down steps (km/h).
BIKE_STEPS_SPEED_KMH = 2.0
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

# ---------------------------------------------------------------------------------------
# Access values
# ---------------------------------------------------------------------------------------
#: Values that let the mode in.
ALLOWED_VALUES = frozenset({"yes", "designated", "permissive", "official", "discouraged"})
#: Values that let the mode in only to reach or leave a place on the road (no through
#: traffic): see :data:`DEST_PENALTY_MS`.
DESTINATION_VALUES = frozenset({"destination", "customers", "delivery", "private", "permit"})
#: Destination-only values that refuse walkers; the others (``destination``,
#: ``customers``) let them through: walking has no destination-only state, as the transit
#: planner's walking search is a plain junction graph.
WALK_DENIED_VALUES = frozenset({"private", "permit", "delivery"})
#: Values that keep the mode out.
DENIED_VALUES = frozenset(
    {"no", "agricultural", "forestry", "emergency", "military", "restricted", "use_sidepath",
     "discouraged_no", "dismount", "unknown_no"}
)
#: Values naming a vehicle class: the road is open to the modes listed, closed to others.
CLASS_VALUES: dict[str, frozenset[str]] = {
    "psv": frozenset({"bus"}),
    "bus": frozenset({"bus"}),
    "minibus": frozenset({"bus"}),
    "hov": frozenset({"bus"}),
    "taxi": frozenset(),
    "share_taxi": frozenset(),
    "hgv": frozenset({"truck"}),
    "goods": frozenset({"truck"}),
}
#: Kept for callers that test single values: values that close a way to a mode.
DENIED_ACCESS = DENIED_VALUES

#: Access keys per mode, most specific first (``KEY:forward`` / ``KEY:backward`` is read
#: before ``KEY`` at every level).
ACCESS_KEYS: dict[str, tuple[str, ...]] = {
    "car": ("motorcar", "motor_vehicle", "vehicle", "access"),
    "bus": ("bus", "psv", "motor_vehicle", "vehicle", "access"),
    "truck": ("hgv", "motor_vehicle", "vehicle", "access"),
    "bike": ("bicycle", "vehicle", "access"),
    "walk": ("foot", "access"),
}
#: Keys that name the mode itself: an allowing value there opens a way whatever its class.
OWN_KEYS: dict[str, frozenset[str]] = {
    "car": frozenset({"motorcar", "motor_vehicle"}),
    "bus": frozenset({"bus", "psv", "motor_vehicle"}),
    "truck": frozenset({"hgv", "motor_vehicle"}),
    "bike": frozenset({"bicycle"}),
    "walk": frozenset({"foot"}),
}

YES, DEST, NO = "yes", "destination", "no"


def access_value_class(value: str | None, mode: str) -> str | None:
    """What one access value means for ``mode``: ``"yes"``, ``"destination"``, ``"no"``, or
    ``None`` for an absent or unknown value (the next, less specific key decides). Only
    the first of ``;``-separated values counts."""
    if value is None:
        return None
    v = value.split(";")[0].strip().lower()
    if v in ALLOWED_VALUES:
        return YES
    if v in DESTINATION_VALUES:
        if mode == "walk":  # walkers: no destination-only state (see WALK_DENIED_VALUES)
            return NO if v in WALK_DENIED_VALUES else YES
        return DEST
    if v in DENIED_VALUES:
        return NO
    if v in CLASS_VALUES:
        return YES if mode in CLASS_VALUES[v] else NO
    return None


def resolve_access(tags: Mapping[str, str], mode: str, direction: str | None = None
                   ) -> tuple[str | None, str | None]:
    """Walk ``mode``'s access hierarchy (:data:`ACCESS_KEYS`) for one direction
    (``"forward"``, ``"backward"`` or ``None`` for a node). Returns (value class, deciding
    key) or (None, None) when no key says anything."""
    for key in ACCESS_KEYS[mode]:
        if direction is not None:
            c = access_value_class(tags.get(f"{key}:{direction}"), mode)
            if c is not None:
                return c, key
        c = access_value_class(tags.get(key), mode)
        if c is not None:
            return c, key
    return None, None


@dataclass(frozen=True, slots=True)
class ModeAccess:
    """How one mode may use one way: directions allowed, speed (km/h) per direction, and
    per direction whether the way is destination-only (no through traffic) or the bike is
    pushed. ``duration_s`` is a ferry's scheduled crossing time (the speed then follows from
    the way's length)."""

    forward: bool
    backward: bool
    speed_fwd_kmh: float
    speed_bwd_kmh: float
    dest_fwd: bool = False
    dest_bwd: bool = False
    pushed_fwd: bool = False
    pushed_bwd: bool = False
    duration_s: float | None = None

    @property
    def usable(self) -> bool:
        """True when the way can be used in at least one direction."""
        return self.forward or self.backward


NO_ACCESS = ModeAccess(False, False, 0.0, 0.0)

#: Weight added (ms) each time a route enters destination-only roads from other roads, or
#: passes a node whose access is destination-only (a private gate). Reported durations
#: leave it out. One hour: a through route uses such roads only when every other way is
#: over an hour longer or there is none.
DEST_PENALTY_MS = 3_600_000
#: Car turn costs (time, ms): the most a turn costs (a sharp turn across traffic tends to
#: it), the bias that makes turns towards the kerb side cheaper (right-hand traffic), the
#: U-turn cost (U-turns only at dead ends and barriers), and a traffic signal's delay.
TURN_COST_MAX_MS = 7_500
TURN_SIDE_BIAS = 1.075
UTURN_COST_MS = 20_000
SIGNAL_DELAY_MS = 2_000
#: Routing penalty (not time) of a car U-turn away from a dead end or barrier: such U-turns
#: are taken only when nothing else is sensible (a closure ahead, a missed turn with no
#: block to drive round within two minutes).
UTURN_PENALTY_MS = 120_000
#: Modes with turn costs and "U-turns only at dead ends": every motor vehicle (buses and
#: trucks turn at least as slowly as cars; the same model is used for all three).
TURN_COST_MODES = frozenset({"car", "bus", "truck"})


def turn_cost_ms(angle_deg: float, n_roads: int, uturn: bool) -> int:
    """Time (ms) a car loses turning by ``angle_deg`` (signed, right positive; 0 straight
    on) at a junction of ``n_roads`` road pieces: a logistic curve of the angle — about
    0.01 s straight on, 2.1 s for a right and 5.4 s for a left turn at 90°, up to
    :data:`TURN_COST_MAX_MS` — counted only where more than two roads meet or for a
    U-turn (plus :data:`UTURN_COST_MS`)."""
    if not uturn and n_roads <= 2:
        return 0
    a = min(abs(angle_deg), 180.0) / 180.0
    bias = TURN_SIDE_BIAS if angle_deg >= 0 else 1.0 / TURN_SIDE_BIAS
    cost = TURN_COST_MAX_MS / (1.0 + math.exp(6.5 * bias - 13.0 * a / bias))
    if uturn:
        cost = TURN_COST_MAX_MS + UTURN_COST_MS
    return int(round(cost))


#: Edge flag bits (``edge_flags`` of every mode graph).
FLAG_DEST = 1
FLAG_PUSHED = 2
FLAG_FERRY = 4

_MPH_KMH = 1.609344
_KNOTS_KMH = 1.852
_NUM = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$", re.IGNORECASE)
_FEET_INCH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*'\s*(?:(\d+(?:\.\d+)?)\s*(?:\"|'')?)?\s*$")
_MEASURE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([a-z]*)\s*$")

#: Closed whatever else the way says.
_IMPASSABLE = (("smoothness", "impassable"), ("impassable", "yes"), ("status", "impassable"))


def is_impassable(tags: Mapping[str, str]) -> bool:
    """True for ``smoothness=impassable``, ``impassable=yes`` and ``status=impassable``."""
    return any((tags.get(k) or "").strip().lower() == v for k, v in _IMPASSABLE)


def parse_length_m(value: str | None) -> float | None:
    """A ``maxheight`` / ``maxwidth`` / ``maxlength`` value in metres: ``3.5``, ``3.5 m``,
    ``12'6"``, ``11 ft``. ``None`` for absent, ``none``/``default``/``below_default`` or
    unreadable values."""
    if not value:
        return None
    v = value.split(";")[0].strip().lower()
    m = _FEET_INCH.match(v)
    if m:
        return float(m.group(1)) * 0.3048 + float(m.group(2) or 0) * 0.0254
    m = _MEASURE.match(v)
    if not m:
        return None
    x = float(m.group(1).replace(",", "."))
    unit = m.group(2)
    if unit in ("", "m"):
        pass
    elif unit in ("ft", "feet"):
        x *= 0.3048
    elif unit == "cm":
        x /= 100.0
    else:
        return None
    return x if 0 < x < 100 else None


def parse_weight_t(value: str | None) -> float | None:
    """A ``maxweight`` value in tonnes: ``7.5``, ``7.5 t``, ``3500 kg``, ``10 st`` (short
    tons), ``20000 lbs``. ``None`` when absent or unreadable."""
    if not value:
        return None
    m = _MEASURE.match(value.split(";")[0].strip().lower())
    if not m:
        return None
    x = float(m.group(1).replace(",", "."))
    unit = m.group(2)
    factor = {"": 1.0, "t": 1.0, "kg": 0.001, "st": 0.90718474, "lbs": 0.00045359237,
              "lb": 0.00045359237}.get(unit)
    if factor is None:
        return None
    x *= factor
    return x if 0 < x < 1000 else None


#: Vehicle dimension limits of a way: (height m, width m, weight t, length m), 0 = none.
LIMIT_KEYS: tuple[tuple[str, ...], ...] = (
    ("maxheight", "maxheight:physical"),
    ("maxwidth", "maxwidth:physical"),
    ("maxweight", "maxweight:hgv", "maxgcweight"),
    ("maxlength", "maxlength:hgv"),
)


def vehicle_limits(tags: Mapping[str, str]) -> tuple[float, float, float, float]:
    """(max height m, max width m, max weight t, max length m) of a way or node; 0 where no
    limit is tagged. The lowest of the listed keys counts."""
    out: list[float] = []
    for k, keys in enumerate(LIMIT_KEYS):
        parse = parse_weight_t if k == 2 else parse_length_m
        vals = [x for x in (parse(tags.get(key)) for key in keys) if x is not None]
        out.append(min(vals) if vals else 0.0)
    return out[0], out[1], out[2], out[3]


@dataclass(frozen=True, slots=True)
class VehicleDims:
    """A vehicle's height, width, length (m) and weight (t) checked against ``max*``
    limits (truck mode)."""

    height_m: float
    width_m: float
    weight_t: float
    length_m: float

    def as_tuple(self) -> tuple[float, float, float, float]:
        """(height, width, weight, length) in the order of :func:`vehicle_limits`."""
        return (self.height_m, self.width_m, self.weight_t, self.length_m)


#: Dimensions of the truck when a request gives none (a rigid lorry).
DEFAULT_TRUCK = VehicleDims(height_m=4.0, width_m=2.55, weight_t=18.0, length_m=12.0)
#: Dimensions every bus is assumed to have (a standard 12 m city bus).
BUS_DIMS = VehicleDims(height_m=3.2, width_m=2.55, weight_t=18.0, length_m=12.0)
#: Highest truck speed (km/h).
TRUCK_MAX_SPEED_KMH = 80.0
#: Highest bus speed (km/h).
BUS_MAX_SPEED_KMH = 90.0


def exceeds(limits: tuple[float, float, float, float], dims: VehicleDims) -> bool:
    """True when ``dims`` break any non-zero limit."""
    return any(lim > 0 and d > lim for lim, d in zip(limits, dims.as_tuple(), strict=True))


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




def _oneway_value(v: str | None) -> int | None:
    """1 (forward only), -1 (backward only), 0 (both), 2 (reversible), None (unknown)."""
    if v is None:
        return None
    v = v.strip().lower()
    if v in ("yes", "true", "1"):
        return 1
    if v in ("-1", "reverse"):
        return -1
    if v in ("no", "false", "0", "alternating"):
        return 0
    if v == "reversible":
        return 2
    return None


def _oneway(tags: Mapping[str, str], keys: tuple[str, ...], implied: bool) -> int:
    """Return 1 (forward only), -1 (backward only), 0 (both) or 2 (reversible: unusable).
    ``alternating`` (time-shared single lane) is passable both ways."""
    for key in keys:
        ow = _oneway_value(tags.get(key))
        if ow is not None:
            return ow
    return 1 if implied else 0


#: Car-like classes (car, bus, truck) and their default speeds; buses also use these.
BUS_ONLY_HIGHWAYS = frozenset({"busway", "bus_guideway"})
_FERRY_ROUTES = frozenset({"ferry", "shuttle_train"})
FERRY_DEFAULT_SPEED_KMH = 10.0


def parse_duration_s(value: str | None) -> float | None:
    """A ferry ``duration``: ``HH:MM``, ``HH:MM:SS``, minutes (``45``) or ISO 8601
    (``PT1H30M``). ``None`` when absent or unreadable."""
    if not value:
        return None
    v = value.strip().upper()
    m = re.fullmatch(r"(\d+):(\d{1,2})(?::(\d{1,2}))?", v)
    if m:
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0) or None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)", v)
    if m:
        return float(m.group(1)) * 60 or None
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", v)
    if m and any(m.groups()):
        return (int(m.group(1) or 0) * 3600 + int(m.group(2) or 0) * 60
                + int(m.group(3) or 0)) or None
    return None


def _ferry(mode: str, tags: Mapping[str, str]) -> ModeAccess:
    """Ferries and shuttle trains: walkers and bikes unless refused; motor vehicles only
    when allowed explicitly (``motor_vehicle=yes``, ``motorcar=yes``, ``hgv=yes``...)."""
    dirs = []
    for d in ("forward", "backward"):
        c, _ = resolve_access(tags, mode, d)
        if mode in ("walk", "bike"):
            dirs.append(c != NO)
        else:
            dirs.append(c == YES)
    if not any(dirs):
        return NO_ACCESS
    dur = parse_duration_s(tags.get("duration"))
    sp = FERRY_DEFAULT_SPEED_KMH
    return ModeAccess(dirs[0], dirs[1], sp, sp, duration_s=dur)


def _directions(tags: Mapping[str, str], mode: str, class_ok: bool
                ) -> tuple[tuple[bool, bool], tuple[bool, bool]]:
    """Access per direction: ((forward open, forward destination-only), (backward ...)).
    ``class_ok``: the highway class lets the mode in by default; an allowing value on one
    of the mode's own keys (:data:`OWN_KEYS`) opens it anyway."""
    out = []
    for d in ("forward", "backward"):
        c, key = resolve_access(tags, mode, d)
        if c is None:
            out.append((class_ok, False))
        elif c == NO:
            out.append((False, False))
        else:
            ok = class_ok or key in OWN_KEYS[mode]
            out.append((ok, ok and c == DEST))
    return out[0], out[1]


def _motor_speeds(tags: Mapping[str, str], hw: str) -> tuple[float, float] | None:
    """Car speeds (km/h) forward/backward, or None when the class is not drivable."""
    base = CAR_DEFAULT_SPEED_KMH.get(hw)
    if base is None:
        return None
    if hw == "service":
        service = tags.get("service", "")
        if service in CAR_SERVICE_SPEED_KMH:
            s = CAR_SERVICE_SPEED_KMH[service]
            if s is None:
                return None
            base = s
    factor = CAR_SPEED_FACTOR.get(hw, CAR_SPEED_FACTOR_DEFAULT)
    posted = parse_maxspeed(tags.get("maxspeed"), hw)
    fwd_posted = parse_maxspeed(tags.get("maxspeed:forward"), hw) or posted
    bwd_posted = parse_maxspeed(tags.get("maxspeed:backward"), hw) or posted
    speed_fwd = fwd_posted * factor if fwd_posted else base
    speed_bwd = bwd_posted * factor if bwd_posted else base
    if hw == "service" and tags.get("service") in CAR_SERVICE_SPEED_KMH:
        speed_fwd, speed_bwd = min(speed_fwd, base), min(speed_bwd, base)
    return max(speed_fwd, 3.0), max(speed_bwd, 3.0)


_CAR_ONEWAY_KEYS = ("oneway:motorcar", "oneway:motor_vehicle", "oneway:vehicle", "oneway")
_BUS_ONEWAY_KEYS = ("oneway:bus", "oneway:psv", "oneway:motor_vehicle", "oneway:vehicle",
                    "oneway")
_TRUCK_ONEWAY_KEYS = ("oneway:hgv", "oneway:motor_vehicle", "oneway:vehicle", "oneway")
_BUS_CONTRAFLOW = ("opposite_lane", "opposite_track", "opposite")


def _motor_access(mode: str, tags: Mapping[str, str]) -> ModeAccess:
    """Car, bus and truck: class, access hierarchy per direction, oneway, speed."""
    hw = tags.get("highway", "")
    if tags.get("route") in _FERRY_ROUTES and not hw:
        return _ferry(mode, tags)
    if is_impassable(tags) or tags.get("area") == "yes":
        return NO_ACCESS
    if mode == "bus" and hw in BUS_ONLY_HIGHWAYS:
        speeds: tuple[float, float] | None = (50.0, 50.0)
        class_ok = True
    elif hw == "track":
        speeds, class_ok = (15.0, 15.0), False  # only when the mode is let in explicitly
    else:
        speeds = _motor_speeds(tags, hw)
        class_ok = speeds is not None
    if speeds is None:
        return NO_ACCESS
    (fwd, dfwd), (bwd, dbwd) = _directions(tags, mode, class_ok)
    roundabout = tags.get("junction") in ("roundabout", "circular")
    implied = hw in ("motorway",) or roundabout
    keys = {"car": _CAR_ONEWAY_KEYS, "bus": _BUS_ONEWAY_KEYS,
            "truck": _TRUCK_ONEWAY_KEYS}[mode]
    ow = _oneway(tags, keys, implied)
    if ow == 2:
        return NO_ACCESS
    if mode == "bus" and ow != 0:
        lanes = any((tags.get(k) or "") in _BUS_CONTRAFLOW
                    for k in ("busway", "busway:left", "busway:right", "busway:both"))
        back_lanes = (tags.get("lanes:bus:backward") or tags.get("lanes:psv:backward")
                      or "0").strip()
        if lanes or (back_lanes.isdigit() and int(back_lanes) > 0):
            ow = 0
    fwd = fwd and ow in (0, 1)
    bwd = bwd and ow in (0, -1)
    if not (fwd or bwd):
        return NO_ACCESS
    sf, sb = speeds
    if mode == "truck":
        sf, sb = min(sf, TRUCK_MAX_SPEED_KMH), min(sb, TRUCK_MAX_SPEED_KMH)
    elif mode == "bus":
        if exceeds(vehicle_limits(tags), BUS_DIMS):
            return NO_ACCESS
        sf, sb = min(sf, BUS_MAX_SPEED_KMH), min(sb, BUS_MAX_SPEED_KMH)
    return ModeAccess(fwd, bwd, sf, sb, dest_fwd=dfwd and fwd, dest_bwd=dbwd and bwd)


def car_access(tags: Mapping[str, str]) -> ModeAccess:
    """Car rules: highway class, access hierarchy (``motorcar`` → ``motor_vehicle`` →
    ``vehicle`` → ``access``, each with ``:forward``/``:backward``), oneway (implied on
    motorways and roundabouts), ``maxspeed`` (incl. ``maxspeed:forward/backward``)."""
    return _motor_access("car", tags)


def bus_access(tags: Mapping[str, str]) -> ModeAccess:
    """Bus rules: as cars, with ``bus`` → ``psv`` at the top of the hierarchy, bus-only
    roads (``highway=busway``, ``access=psv|bus``), ``oneway:bus|psv``, contraflow bus
    lanes (``busway=opposite_lane``, ``lanes:bus:backward``) and the dimensions of a
    standard bus (:data:`BUS_DIMS`) against ``max*`` limits."""
    return _motor_access("bus", tags)


def truck_access(tags: Mapping[str, str]) -> ModeAccess:
    """Truck rules: as cars, with ``hgv`` at the top of the hierarchy and at most
    :data:`TRUCK_MAX_SPEED_KMH`; dimension limits are checked per request (see
    :func:`vehicle_limits`)."""
    return _motor_access("truck", tags)


_BIKE_CONTRAFLOW = ("opposite", "opposite_lane", "opposite_track", "opposite_share_busway")


def _walk_dirs(tags: Mapping[str, str]) -> tuple[bool, bool]:
    a = walk_access(tags)
    return a.forward, a.backward


def bike_access(tags: Mapping[str, str]) -> ModeAccess:
    """Bike rules: cycleways and roads ridden, ``bicycle`` → ``vehicle`` → ``access`` per
    direction, ``oneway:bicycle``, contraflow lanes (``cycleway*=opposite*``). Where riding
    is not allowed but walking is and bikes are not refused (footways, pedestrian streets,
    steps, against a oneway, ``bicycle=dismount``), the bike is pushed at walking pace."""
    hw = tags.get("highway", "")
    if tags.get("route") in _FERRY_ROUTES and not hw:
        return _ferry("bike", tags)
    if is_impassable(tags):
        return NO_ACCESS
    bicycle = (tags.get("bicycle") or "").split(";")[0].strip().lower()
    ride_class = hw in BIKE_SPEED_KMH and hw not in ("motorway", "motorway_link")
    if tags.get("motorroad") == "yes":
        ride_class = False
    (fwd, dfwd), (bwd, dbwd) = _directions(tags, "bike", ride_class)
    speed = BIKE_SPEED_KMH.get(hw, 14.0)
    if hw == "steps":
        speed = BIKE_STEPS_SPEED_KMH
    roundabout = tags.get("junction") in ("roundabout", "circular")
    ow = _oneway(tags, ("oneway:bicycle", "oneway:vehicle", "oneway"),
                 roundabout or hw == "motorway")
    if ow == 2:
        fwd = bwd = False
    elif ow != 0:
        contraflow = any(
            (tags.get(k) or "") in _BIKE_CONTRAFLOW
            for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
        )
        if not contraflow:
            fwd, bwd = fwd and ow == 1, bwd and ow == -1
    # Pushing: where walking is allowed and bikes are not refused outright
    # (``bicycle[:direction]=no``; ``dismount`` asks for pushing).
    def refused(d: str) -> bool:
        v = (tags.get(f"bicycle:{d}") or bicycle).split(";")[0].strip().lower()
        return v in DENIED_VALUES and v != "dismount"

    pf = pb = False
    if not fwd or not bwd:
        wf, wb = _walk_dirs(tags)
        push_speed = BIKE_STEPS_SPEED_KMH if hw == "steps" else BIKE_PUSH_SPEED_KMH
        if not fwd and wf and not refused("forward"):
            fwd, pf, dfwd = True, True, False
        if not bwd and wb and not refused("backward"):
            bwd, pb, dbwd = True, True, False
        if pf or pb:
            sf = push_speed if pf else speed
            sb = push_speed if pb else speed
            wa = walk_access(tags)
            return ModeAccess(fwd, bwd, sf, sb, dest_fwd=dfwd or (pf and wa.dest_fwd),
                              dest_bwd=dbwd or (pb and wa.dest_bwd), pushed_fwd=pf,
                              pushed_bwd=pb)
    if not (fwd or bwd):
        return NO_ACCESS
    return ModeAccess(fwd, bwd, speed, speed, dest_fwd=dfwd and fwd, dest_bwd=dbwd and bwd)


#: Sidewalk values that mean walkers have a footpath along the road.
SIDEWALK_YES = frozenset({"both", "left", "right", "yes", "separate"})


def walk_access(tags: Mapping[str, str]) -> ModeAccess:
    """Walk rules: footways, paths, steps, pedestrian streets and most roads, both ways
    (``oneway:foot`` aside); ``foot`` → ``access`` per direction; motorways and
    motorroads only with an explicit ``foot=yes``; trunk roads without a sidewalk
    (``sidewalk=no``) closed unless ``foot`` allows, any road with a sidewalk open."""
    hw = tags.get("highway", "")
    if tags.get("route") in _FERRY_ROUTES and not hw:
        return _ferry("walk", tags)
    if is_impassable(tags):
        return NO_ACCESS
    sidewalk = (tags.get("sidewalk") or tags.get("sidewalk:both") or "").strip().lower()
    has_sidewalk = sidewalk in SIDEWALK_YES or any(
        (tags.get(f"sidewalk:{s}") or "") in ("yes", "separate") for s in ("left", "right"))
    class_ok = hw in WALK_HIGHWAYS
    if hw in ("motorway", "motorway_link") or tags.get("motorroad") == "yes":
        class_ok = False
    if hw in ("trunk", "trunk_link") and sidewalk in ("no", "none"):
        class_ok = False
    if not class_ok and has_sidewalk and hw in CAR_DEFAULT_SPEED_KMH \
            and hw not in ("motorway",):
        class_ok = True
    (fwd, dfwd), (bwd, dbwd) = _directions(tags, "walk", class_ok)
    ow = _oneway(tags, ("oneway:foot",), False)
    if ow == 2:
        return NO_ACCESS
    fwd, bwd = fwd and ow in (0, 1), bwd and ow in (0, -1)
    if not (fwd or bwd):
        return NO_ACCESS
    speed = WALK_SPEED_KMH.get(hw, WALK_SPEED_KMH_DEFAULT)
    return ModeAccess(fwd, bwd, speed, speed, dest_fwd=dfwd and fwd, dest_bwd=dbwd and bwd)


ACCESS_RULES = {Mode.CAR: car_access, Mode.BIKE: bike_access, Mode.WALK: walk_access,
                Mode.BUS: bus_access, Mode.TRUCK: truck_access}

# ---------------------------------------------------------------------------------------
# Nodes: barriers and access tags
# ---------------------------------------------------------------------------------------
#: Barrier values passable by every mode unless access tags on the node say otherwise.
OPEN_BARRIERS = frozenset(
    {"gate", "lift_gate", "swing_gate", "sliding_gate", "toll_booth", "border_control",
     "entrance", "cattle_grid", "kerb", "height_restrictor", "no", "sally_port",
     "hampshire_gate", "spikes", "turnstile_gate"}
)
#: Barriers that stop motor vehicles (walkers and bikes pass; buses pass bus traps).
MOTOR_BLOCKING_BARRIERS = frozenset(
    {"bollard", "block", "jersey_barrier", "chain", "kissing_gate", "stile", "turnstile",
     "full-height_turnstile", "log", "motorcycle_barrier", "bus_trap", "sump_buster",
     "cycle_barrier", "planter", "debris", "rope", "barrier_board", "bump_gate"}
)
#: Kept under its old name for callers.
CAR_BLOCKING_BARRIERS = MOTOR_BLOCKING_BARRIERS
#: Barriers a bus passes (built to let buses through).
BUS_PASSABLE_BARRIERS = frozenset({"bus_trap", "sump_buster"})
#: Barriers that stop bikes too (the bike cannot be lifted through).
BIKE_BLOCKING_BARRIERS = frozenset({"stile", "full-height_turnstile", "kissing_gate",
                                    "turnstile"})
#: Barrier node values that stop every mode (when not explicitly allowed).
ALL_BLOCKING_BARRIERS = frozenset({"wall", "fence", "retaining_wall", "city_wall", "hedge",
                                   "ditch", "guard_rail", "handrail"})
#: Node access outcomes.
NODE_OPEN, NODE_DEST, NODE_BLOCKED = 0, 1, 2


def node_access(mode: str, tags: Mapping[str, str]) -> int:
    """How ``mode`` may pass a node with these tags: :data:`NODE_OPEN`,
    :data:`NODE_DEST` (destination-only: passing counts as entering a destination-only
    area) or :data:`NODE_BLOCKED` (turn back only).

    Access tags on the node decide first (the mode's hierarchy, :data:`ACCESS_KEYS`); a
    node without them is judged by its ``barrier`` value: :data:`OPEN_BARRIERS` pass,
    :data:`MOTOR_BLOCKING_BARRIERS` stop car/bus/truck (a bus passes bus traps),
    :data:`BIKE_BLOCKING_BARRIERS` stop bikes, :data:`ALL_BLOCKING_BARRIERS` stop
    everyone, and an unknown barrier value stops motor vehicles only (as OSRM does).
    A bus is stopped by a ``maxheight``/``maxwidth`` below :data:`BUS_DIMS`; a truck's
    dimensions are checked per request on the ways next to the node.
    """
    m = str(mode)
    c, _ = resolve_access(tags, m, None)
    if c == NO:
        return NODE_BLOCKED
    if c == DEST:
        return NODE_DEST
    if m == "bus" and exceeds(vehicle_limits(tags), BUS_DIMS):
        return NODE_BLOCKED
    if c == YES:
        return NODE_OPEN
    barrier = (tags.get("barrier") or "").strip().lower()
    if not barrier or barrier in OPEN_BARRIERS:
        return NODE_OPEN
    if barrier in ALL_BLOCKING_BARRIERS:
        return NODE_BLOCKED
    motor = m in ("car", "bus", "truck")
    if barrier in MOTOR_BLOCKING_BARRIERS:
        if m == "bus" and barrier in BUS_PASSABLE_BARRIERS:
            return NODE_OPEN
        if motor:
            return NODE_BLOCKED
        if m == "bike" and barrier in BIKE_BLOCKING_BARRIERS:
            return NODE_BLOCKED
        return NODE_OPEN
    return NODE_BLOCKED if motor else NODE_OPEN


def barrier_blocks(mode: str, tags: Mapping[str, str]) -> bool:
    """True when a node with these tags cannot be passed by ``mode`` (see
    :func:`node_access`)."""
    return node_access(mode, tags) == NODE_BLOCKED
