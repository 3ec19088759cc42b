"""Conditional access and conditional turn restrictions, evaluated at the trip's time.

Drawn networks (``tests/routing/gridnet.py``) checked at instants inside and outside each
condition, in both directions and for every mode; the edge-based oracle (which re-reads the
raw tags and evaluates the conditions itself) on many random pairs and instants; the live
state following a rule boundary; timed car routes honouring a closure that starts on the way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.clock import ReplayClock
from routing.conditional import (
    ConditionError,
    ConditionTable,
    parse_condition,
    split_conditional,
)
from routing.road import NoRouteError, SnapError
from routing.state import StatePublisher
from routing.tdroute import td_route
from tests.routing.gridnet import GridNet
from tests.routing.oracle import LineGraphOracle
from tests.routing.test_profile_scenarios import DRAWING, RESTRICTION_DRAWING, RESTRICTION_WAYS

MODES = ("car", "bike", "walk", "bus", "truck")
TZ = ZoneInfo("Europe/Rome")  # the drawn networks lie at 45° N 7° E
TUE_0800 = datetime(2026, 12, 1, 8, 0, tzinfo=TZ)  # a Tuesday, inside Mo-Fr 07:00-09:00
TUE_1000 = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
TUE_2300 = datetime(2026, 12, 1, 23, 0, tzinfo=TZ)
SAT_1200 = datetime(2026, 12, 5, 12, 0, tzinfo=TZ)


# ---- parsing ------------------------------------------------------------------------------
def test_split_conditional_keeps_semicolons_inside_parentheses() -> None:
    assert split_conditional("no @ (Mo-Fr 07:00-09:00; Sa 10:00-12:00); yes @ Su") == [
        ("no", "Mo-Fr 07:00-09:00; Sa 10:00-12:00"),
        ("yes", "Su"),
    ]
    for bad in ("no", "no @ (Mo", "@ (Mo-Fr)", "no @ ()", "no @ Mo)"):
        with pytest.raises(ConditionError):
            split_conditional(bad)


def test_parse_condition_terms() -> None:
    c = parse_condition("weight>7.5 AND Mo-Fr 07:00-19:00")
    assert c.hours == "Mo-Fr 07:00-19:00" and c.vehicle == ((2, ">", 7.5),)
    assert parse_condition("Jun-Aug").hours == "Jun-Aug"
    assert parse_condition("length>=12 m").vehicle == ((3, ">=", 12.0),)
    for bad in ("delivery", "wet", "stay<2h", "snow", "destination", "Mo-Fr AND Sa"):
        with pytest.raises(ConditionError):
            parse_condition(bad)


def _naive_weekday_hours(days: range, h0: int, h1: int, t: datetime) -> bool:
    """Independent reading of ``Dd-Dd HH:00-HH:00`` (h0 < h1)."""
    return t.weekday() in days and h0 <= t.hour < h1


_DAYS = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]


@settings(max_examples=200, deadline=None)
@given(
    d0=st.integers(0, 6),
    d1=st.integers(0, 6),
    h0=st.integers(0, 22),
    span=st.integers(1, 23),
    minute=st.integers(0, 60 * 24 * 14 - 1),
)
def test_weekday_hours_against_naive_reading(
    d0: int, d1: int, h0: int, span: int, minute: int
) -> None:
    lo, hi = min(d0, d1), max(d0, d1)
    h1 = min(h0 + span, 24)
    spec = f"{_DAYS[lo]}-{_DAYS[hi]} {h0:02d}:00-{h1:02d}:00"
    table = ConditionTable([spec], "Europe/Rome")
    t = datetime(2026, 11, 30, tzinfo=TZ) + timedelta(minutes=minute)  # from a Monday
    want = _naive_weekday_hours(range(lo, hi + 1), h0, h1, t)
    assert bool(table.active(t, None)[0]) == want, (spec, t)


@settings(max_examples=60, deadline=None)
@given(
    spec=st.sampled_from(
        [
            "Mo-Fr 07:00-09:00",
            "22:00-06:00",
            "Sa,Su",
            "Jun-Aug",
            "Mo-Fr 07:00-09:00,16:00-18:30",
            "Nov-Mar: Mo-Fr 08:00-18:00",
            "Mo-Fr 07:00-09:00; PH off",
        ]
    ),
    start_h=st.integers(0, 24 * 200),
    probe_min=st.lists(st.integers(0, 48 * 60 - 1), min_size=1, max_size=20),
)
def test_windows_agree_with_point_evaluation(spec: str, start_h: int, probe_min: list[int]) -> None:
    """The closure windows timed routes use say the same as evaluating at each instant,
    across DST changes too."""
    table = ConditionTable([spec], "Europe/Rome")
    lo = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000) + start_h * 3_600_000
    hi = lo + 48 * 3_600_000
    wins = table.windows(0, lo, hi)
    for m in probe_min:
        t_ms = lo + m * 60_000 + 30_000
        inside = any(a <= t_ms < b for a, b in wins)
        t = datetime.fromtimestamp(t_ms / 1000, UTC)
        assert inside == bool(table.active(t, None)[0]), (spec, t)


def test_public_holidays_never_match_without_coordinates() -> None:
    """Without the city's coordinates there is no holiday calendar: ``PH`` never holds."""
    table = ConditionTable(["PH", "Mo-Fr 07:00-09:00; PH off"], "Europe/Rome")
    christmas = datetime(2026, 12, 25, 8, 0, tzinfo=TZ)  # a Friday
    assert table.active(christmas, None).tolist() == [False, True]


@pytest.mark.parametrize(("zone", "coords", "holiday", "workday"), [
    # Christmas (Fri) / the Friday before, northern Kentucky
    ("America/New_York", (39.08, -84.51), datetime(2026, 12, 25, 8), datetime(2026, 12, 18, 8)),
    # Portugal Day (Wed 10 June) / the Wednesday before, Porto
    ("Europe/Lisbon", (41.15, -8.61), datetime(2026, 6, 10, 8), datetime(2026, 6, 3, 8)),
    # National Day (Thu 1 October) / the Thursday after the Golden Week, Beijing
    ("Asia/Shanghai", (39.90, 116.40), datetime(2026, 10, 1, 8), datetime(2026, 10, 15, 8)),
])
def test_public_holidays_of_the_citys_country(zone: str, coords: tuple[float, float],
                                             holiday: datetime, workday: datetime) -> None:
    """With the city's coordinates, ``PH`` follows its country's calendar (in local time):
    a weekday rush-hour rule with ``PH off`` is off on the holiday, on the week after it."""
    table = ConditionTable(["PH", "Mo-Fr 07:00-09:00; PH off"], zone, coords)
    tz = ZoneInfo(zone)
    assert table.active(holiday.replace(tzinfo=tz), None).tolist() == [True, False]
    assert table.active(workday.replace(tzinfo=tz), None).tolist() == [False, True]
    # the rule changes at the holiday's end: on the next working day at 07:00 local at the
    # latest
    ch = table.next_change(holiday.replace(tzinfo=tz))
    assert ch is not None and holiday.replace(tzinfo=tz) < ch


def test_sun_times_follow_the_city() -> None:
    """``sunrise-sunset`` uses the city's place: in Cincinnati on 2 December the sun rises
    near 07:40 local, not at the parser's fixed 07:00."""
    tz = ZoneInfo("America/New_York")
    table = ConditionTable(["sunrise-sunset"], "America/New_York", (39.10, -84.51))
    assert not table.active(datetime(2026, 12, 2, 7, 20, tzinfo=tz), None)[0]
    assert table.active(datetime(2026, 12, 2, 8, 0, tzinfo=tz), None)[0]
    rise = table.next_change(datetime(2026, 12, 2, 3, 0, tzinfo=tz))
    assert rise is not None
    local = rise.astimezone(tz)
    assert (7, 30) <= (local.hour, local.minute) <= (7, 50)
    plain = ConditionTable(["sunrise-sunset"], "America/New_York")
    assert plain.active(datetime(2026, 12, 2, 7, 20, tzinfo=tz), None)[0]


def test_country_of_zone() -> None:
    from routing.timezones import country_of_zone

    assert country_of_zone("Europe/Lisbon") == "PT"
    assert country_of_zone("America/Kentucky/Louisville") == "US"
    assert country_of_zone("Asia/Shanghai") == "CN"
    assert country_of_zone("UTC") is None


# ---- conditional access on a drawn network ---------------------------------------------------
def _net(tmp_path: Path, tags: dict[str, str]) -> GridNet:
    ways = {
        "ab": {"highway": "residential"},
        "cd": {"highway": "residential"},
        "bxc": {"highway": "residential", **tags},
        "be": {"highway": "residential"},
        "ef": {"highway": "residential"},
        "fc": {"highway": "residential"},
    }
    return GridNet(DRAWING, ways, tmp_path=tmp_path)


def _uses(net: GridNet, frm: str, to: str, mode: str, at: datetime) -> bool:
    state = net.publisher.at(net.publisher.current(), at)
    r = net.route(frm, to, mode, state=state)
    assert r is not None, (mode, frm, to, at, "no route at all")
    return "bxc" in r.ways


Y, N = True, False
# tags on b…c, then per instant: {mode: (forward a→d uses it, backward d→a uses it)}
ACCESS_CASES = [
    (
        {"motor_vehicle:conditional": "no @ (Mo-Fr 07:00-09:00)"},
        {
            TUE_0800: dict(car=(N, N), bus=(N, N), truck=(N, N), bike=(Y, Y), walk=(Y, Y)),
            TUE_1000: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(Y, Y), walk=(Y, Y)),
            SAT_1200: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(Y, Y), walk=(Y, Y)),
        },
    ),
    (
        {"access": "no", "access:conditional": "yes @ (Sa,Su)"},
        {
            TUE_1000: dict(car=(N, N), bus=(N, N), truck=(N, N), bike=(N, N), walk=(N, N)),
            SAT_1200: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(Y, Y), walk=(Y, Y)),
        },
    ),
    (
        {"bicycle:conditional": "no @ (22:00-06:00)"},
        {
            TUE_2300: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(N, N), walk=(Y, Y)),
            TUE_1000: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(Y, Y), walk=(Y, Y)),
        },
    ),
    (
        {"hgv:conditional": "no @ (weight>7.5)"},
        {  # the standard truck weighs 18 t
            TUE_1000: dict(car=(Y, Y), bus=(Y, Y), truck=(N, N), bike=(Y, Y), walk=(Y, Y))
        },
    ),
    (
        {"motor_vehicle:conditional": "no @ (weight>3.5 AND Mo-Fr 07:00-09:00)"},
        {
            TUE_0800: dict(car=(Y, Y), bus=(N, N), truck=(N, N), bike=(Y, Y), walk=(Y, Y)),
            TUE_1000: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(Y, Y), walk=(Y, Y)),
        },
    ),
    (
        {"oneway:conditional": "yes @ (Mo-Fr 07:00-09:00)"},
        {
            # bikes are pushed against it (80 m pushed beats the 320 m bypass)
            TUE_0800: dict(car=(Y, N), bus=(Y, N), truck=(Y, N), bike=(Y, Y), walk=(Y, Y)),
            TUE_1000: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(Y, Y), walk=(Y, Y)),
        },
    ),
    (
        {"motor_vehicle:backward:conditional": "no @ (Mo-Fr 07:00-09:00)"},
        {
            TUE_0800: dict(car=(Y, N), bus=(Y, N), truck=(Y, N), bike=(Y, Y), walk=(Y, Y)),
            TUE_1000: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(Y, Y), walk=(Y, Y)),
        },
    ),
    (
        {"motor_vehicle:conditional": "no @ (Mo-Fr 07:00-09:00); yes @ (Mo-Fr 08:00-08:30)"},
        {
            # the last part in force wins: open again 08:00-08:30
            TUE_0800: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(Y, Y), walk=(Y, Y)),
            TUE_0800 + timedelta(minutes=45): dict(
                car=(N, N), bus=(N, N), truck=(N, N), bike=(Y, Y), walk=(Y, Y)
            ),
        },
    ),
    (
        {"motor_vehicle:conditional": "no @ (wet); no @ (delivery)"},
        {  # unparseable: ignored
            TUE_0800: dict(car=(Y, Y), bus=(Y, Y), truck=(Y, Y), bike=(Y, Y), walk=(Y, Y))
        },
    ),
]


@pytest.mark.parametrize(
    "tags,expect",
    ACCESS_CASES,
    ids=[
        next(iter(t.values())).split("@")[0].strip() + "@" + k
        for t, _ in ACCESS_CASES
        for k in [next(reversed(t))]
    ],
)
def test_conditional_access(
    tmp_path: Path, tags: dict[str, str], expect: dict[datetime, dict[str, tuple[bool, bool]]]
) -> None:
    net = _net(tmp_path, tags)
    assert net.snapshot.timezone == "Europe/Rome"
    for at, per_mode in expect.items():
        for mode in MODES:
            fwd, bwd = per_mode[mode]
            assert _uses(net, "a", "d", mode, at) == fwd, (mode, "a→d", at)
            assert _uses(net, "d", "a", mode, at) == bwd, (mode, "d→a", at)


def test_unparseable_conditions_are_counted(tmp_path: Path) -> None:
    net = _net(
        tmp_path,
        {
            "motor_vehicle:conditional": "no @ (wet); no @ (Mo-Fr 07:00-09:00)",
            "bicycle:conditional": "garbage",
        },
    )
    counts = net.meta["counts"]
    assert counts["conditional_tags_read"] == 2
    assert counts["conditional_parts_unparsed"] == 2
    assert counts["conditions"] == 1
    assert counts["car_conditional_access_edges"] == 2
    assert counts["bike_conditional_access_edges"] == 0


def test_closed_way_never_starts_a_route_while_closed(tmp_path: Path) -> None:
    """Snapping follows the state: a point on the conditional way is tied to it only while
    it is open (outside it snaps to nothing within reach here)."""
    net = _net(tmp_path, {"access": "no", "access:conditional": "yes @ (Sa,Su)"})
    for at, ok in ((SAT_1200, True), (TUE_1000, False)):
        state = net.publisher.at(net.publisher.current(), at)
        got = net.route("bx", "d", "car", state=state)
        assert (got is not None) == ok, at


# ---- conditional turn restrictions ----------------------------------------------------------
def _rnet(tmp_path: Path, *relations: dict) -> GridNet:
    return GridNet(RESTRICTION_DRAWING, RESTRICTION_WAYS, relations=relations, tmp_path=tmp_path)


def _route_ways(net: GridNet, frm: str, to: str, mode: str, at: datetime) -> list[str]:
    state = net.publisher.at(net.publisher.current(), at)
    r = net.route(frm, to, mode, state=state)
    assert r is not None, (frm, to, mode, at)
    return r.ways


@pytest.mark.parametrize(
    "key,bound",
    [
        ("restriction:conditional", {"car", "bike", "bus", "truck"}),
        ("restriction:hgv:conditional", {"truck"}),
        ("restriction:bicycle:conditional", {"bike"}),
    ],
)
def test_conditional_no_straight_on(tmp_path: Path, key: str, bound: set[str]) -> None:
    net = _rnet(
        tmp_path,
        {"from": "ab", "via": "b", "to": "bc", key: "no_straight_on @ (Mo-Fr 07:00-09:00)"},
    )
    assert net.meta["counts"]["restrictions_conditional_read"] == 1
    for mode in ("car", "bike", "bus", "truck"):
        straight_in = _route_ways(net, "a", "c", mode, TUE_0800)[:2] == ["ab", "bc"]
        straight_out = _route_ways(net, "a", "c", mode, TUE_1000)[:2] == ["ab", "bc"]
        assert straight_out, mode
        assert straight_in == (mode not in bound), mode
        # the other direction (c→a) is not restricted at any time
        assert _route_ways(net, "c", "a", mode, TUE_0800)[:2] == ["bc", "ab"], mode
    assert _route_ways(net, "a", "c", "walk", TUE_0800)[:2] == ["ab", "bc"]  # walkers free


def test_conditional_only_turn_and_except(tmp_path: Path) -> None:
    net = _rnet(
        tmp_path,
        {
            "from": "ab",
            "via": "b",
            "to": "be",
            "except": "psv",
            "restriction:conditional": "only_right_turn @ (Sa,Su)",
        },
    )
    for mode in ("car", "truck"):
        assert _route_ways(net, "a", "c", mode, SAT_1200)[:2] != ["ab", "bc"], mode
        assert _route_ways(net, "a", "c", mode, TUE_1000)[:2] == ["ab", "bc"], mode
    assert _route_ways(net, "a", "c", "bus", SAT_1200)[:2] == ["ab", "bc"]  # excepted


def test_conditional_via_way_restriction(tmp_path: Path) -> None:
    net = _rnet(
        tmp_path,
        {
            "from": "ab",
            "via": ["bc"],
            "to": "cd",
            "restriction:conditional": "no_straight_on @ (Mo-Fr 07:00-09:00)",
        },
    )
    assert _route_ways(net, "a", "d", "car", TUE_1000) == ["ab", "bc", "cd"]
    assert _route_ways(net, "a", "d", "car", TUE_0800)[:3] != ["ab", "bc", "cd"]
    # b…c then c…d without coming from a…b is not the watched path
    assert _route_ways(net, "bc", "d", "car", TUE_0800) == ["bc", "cd"]


def test_unparseable_restriction_condition_is_counted_and_ignored(tmp_path: Path) -> None:
    net = _rnet(
        tmp_path,
        {"from": "ab", "via": "b", "to": "bc", "restriction:conditional": "no_straight_on @ (wet)"},
    )
    assert net.meta["osm_read"]["restrictions_conditional_unparsed"] == 1
    assert _route_ways(net, "a", "c", "car", TUE_0800)[:2] == ["ab", "bc"]


# ---- the live state follows rule boundaries -----------------------------------------------
def test_live_state_refreshes_when_a_rule_boundary_passes(tmp_path: Path) -> None:
    net = _net(tmp_path, {"motor_vehicle:conditional": "no @ (Mo-Fr 07:00-09:00)"})
    clock = ReplayClock(datetime(2026, 12, 1, 6, 59, 0, tzinfo=TZ), frozen=True)
    pub = StatePublisher(net.router, timezone=net.snapshot.timezone, clock=clock)
    before = pub.current()
    r = net.route("a", "d", "car", state=before)
    assert r is not None and "bxc" in r.ways
    assert pub.refresh(datetime(2026, 12, 1, 6, 59, 40, tzinfo=TZ)) is None  # nothing new
    after = pub.refresh(datetime(2026, 12, 1, 7, 0, 10, tzinfo=TZ))
    assert after is not None and after.version > before.version
    r = net.route("a", "d", "car", state=after)
    assert r is not None and "bxc" not in r.ways
    r = net.route("a", "d", "bike", state=after)
    assert r is not None and "bxc" in r.ways
    reopened = pub.refresh(datetime(2026, 12, 1, 9, 0, 5, tzinfo=TZ))
    assert reopened is not None
    r = net.route("a", "d", "car", state=reopened)
    assert r is not None and "bxc" in r.ways


def test_turn_ban_follows_the_live_state(tmp_path: Path) -> None:
    net = _rnet(
        tmp_path,
        {
            "from": "ab",
            "via": "b",
            "to": "bc",
            "restriction:conditional": "no_straight_on @ (Mo-Fr 07:00-09:00)",
        },
    )
    clock = ReplayClock(datetime(2026, 12, 1, 7, 30, tzinfo=TZ), frozen=True)
    pub = StatePublisher(net.router, timezone=net.snapshot.timezone, clock=clock)
    inside = pub.current()
    assert inside.banned_arcs("car").shape[0] == 1
    r = net.route("a", "c", "car", state=inside)
    assert r is not None and r.ways[:2] != ["ab", "bc"]
    outside = pub.refresh(datetime(2026, 12, 1, 9, 0, 1, tzinfo=TZ))
    assert outside is not None and outside.banned_arcs("car").shape[0] == 0
    r = net.route("a", "c", "car", state=outside)
    assert r is not None and r.ways[:2] == ["ab", "bc"]


# ---- timed car routes: a closure that starts on the way ---------------------------------------
def test_timed_route_meets_a_closure_that_starts_on_the_way(tmp_path: Path) -> None:
    ways = {
        "ab": {"highway": "residential"},
        "cd": {"highway": "residential"},
        "bxc": {"highway": "residential", "motor_vehicle:conditional": "no @ (Mo-Fr 07:00-09:00)"},
        "be": {"highway": "residential"},
        "ef": {"highway": "residential"},
        "fc": {"highway": "residential"},
    }
    net = GridNet(DRAWING, ways, tmp_path=tmp_path, cell_m=400.0, max_snap_m=50.0)
    seven = datetime(2026, 12, 1, 7, 0, tzinfo=TZ)
    free = net.route(
        "a", "b", "car", state=net.publisher.at(net.publisher.current(), seven - timedelta(hours=2))
    )
    assert free is not None
    t_ab = timedelta(seconds=free.duration_s)
    assert t_ab > timedelta(seconds=60)  # the network is drawn big enough for this check
    cur = net.publisher.current()
    # leaving so that b is reached after 07:00: the state at departure still has it open,
    # the timed route finds it closed when it gets there
    depart = seven - t_ab / 2
    st_dep = net.publisher.at(cur, depart)
    r = net.route("a", "d", "car", state=st_dep)
    assert r is not None and "bxc" in r.ways
    td = td_route(net.router, st_dep, *net.point("a"), *net.point("d"), depart)
    assert "bxc" not in net.describe(td.route).ways
    # leaving early enough to enter b…c before 07:00: taken
    depart = seven - t_ab - timedelta(seconds=30)
    td = td_route(
        net.router, net.publisher.at(cur, depart), *net.point("a"), *net.point("d"), depart
    )
    assert "bxc" in net.describe(td.route).ways


# ---- the oracle on random networks, instants and pairs -------------------------------------------
CONDITIONAL_POOL: list[dict[str, str]] = [
    {"motor_vehicle:conditional": "no @ (Mo-Fr 07:00-09:00)"},
    {"access": "no", "access:conditional": "yes @ (Sa,Su)"},
    {"bicycle:conditional": "no @ (22:00-06:00)"},
    {"hgv:conditional": "no @ (weight>7.5)"},
    {"motor_vehicle:conditional": "no @ (weight>3.5 AND Mo-Fr 07:00-09:00)"},
    {"oneway:conditional": "yes @ (Mo-Fr 07:00-09:00)"},
    {"foot:conditional": "no @ (Sa,Su)"},
    {"motor_vehicle:forward:conditional": "no @ (Mo-Fr 07:00-09:00); yes @ (Mo 08:00-08:30)"},
    {"oneway": "yes", "oneway:conditional": "no @ (22:00-06:00)"},
]
RESTRICTION_POOL = [
    "no_left_turn @ (Mo-Fr 07:00-09:00)",
    "no_right_turn @ (Sa,Su)",
    "no_straight_on @ (22:00-06:00)",
    "only_straight_on @ (Mo-Fr 07:00-09:00)",
]
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"


def _random_grid(rng: np.random.Generator, tmp_path: Path, n: int = 6) -> GridNet:
    names = [[LETTERS[r * n + c] for c in range(n)] for r in range(n)]
    drawing = "\n".join(("   ".join(row) + "\n") for row in names)
    ways: dict[str, dict[str, str]] = {}
    edges: list[str] = []
    for r in range(n):
        for c in range(n):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr < n and c + dc < n:
                    if rng.random() < 0.12:
                        continue
                    w = names[r][c] + names[r + dr][c + dc]
                    tags = {"highway": str(rng.choice(["residential", "secondary", "tertiary"]))}
                    if rng.random() < 0.35:
                        tags.update(CONDITIONAL_POOL[int(rng.integers(len(CONDITIONAL_POOL)))])
                    ways[w] = tags
                    edges.append(w)
    relations = []
    for _ in range(10):
        a = edges[int(rng.integers(len(edges)))]
        via = a[1]
        tos = [w for w in edges if via in w and w != a]
        if not tos:
            continue
        to = tos[int(rng.integers(len(tos)))]
        rel: dict = {"from": a, "via": via, "to": to}
        val = RESTRICTION_POOL[int(rng.integers(len(RESTRICTION_POOL)))]
        if rng.random() < 0.25:
            rel["restriction"] = val.split(" @ ")[0]
        else:
            rel["restriction:conditional"] = val
        relations.append(rel)
    return GridNet(
        drawing, ways, relations=relations, tmp_path=tmp_path, cell_m=60.0, max_snap_m=40.0
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_routes_equal_oracle_at_many_instants(tmp_path: Path, seed: int) -> None:
    """Routes on random drawn networks with random conditional tags and restrictions equal
    the edge-based oracle, which evaluates every condition from the raw tags itself, at
    instants inside and outside the conditions, for every mode."""
    from routing.osm import read_osm

    rng = np.random.default_rng(seed)
    net = _random_grid(rng, tmp_path)
    osm = read_osm(net.pbf)
    cur = net.publisher.current()
    letters = sorted(net.coords)
    checked = found = 0
    for at in (TUE_0800, TUE_1000, TUE_2300, SAT_1200, datetime(2026, 12, 7, 8, 15, tzinfo=TZ)):
        state = net.publisher.at(cur, at)
        for mode in MODES:
            oracle = LineGraphOracle(net.router, mode, osm, at=at)
            ff = net.router.modes[mode].free_flow_ms
            for _ in range(25):
                p = net.point(letters[int(rng.integers(len(letters)))])
                q = net.point(letters[int(rng.integers(len(letters)))])
                p = (p[0] + rng.normal(0, 1e-4), p[1] + rng.normal(0, 1e-4))
                q = (q[0] + rng.normal(0, 1e-4), q[1] + rng.normal(0, 1e-4))
                try:
                    src = net.router.snap(state, mode, *p)
                    dst = net.router.snap(state, mode, *q)
                except SnapError:
                    continue
                want = oracle.cost_ms(src.edges, dst.edges, ff)
                try:
                    got = net.router.route_endpoints(state, mode, src, dst).weight_ms
                except NoRouteError:
                    got = None
                assert got == want, (seed, mode, at, p, q)
                checked += 1
                found += got is not None
    assert checked >= 400 and found >= checked * 0.6


def test_truck_vehicle_terms_use_the_requested_dimensions(tmp_path: Path) -> None:
    """``weight>7.5`` conditions are checked against the truck of the request: a 5 t van
    passes where the default 18 t truck may not, for access and for turn bans."""
    from routing.profiles import VehicleDims

    van = VehicleDims(height_m=2.5, width_m=2.0, weight_t=5.0, length_m=6.0)
    net = _net(tmp_path, {"hgv:conditional": "no @ (weight>7.5 AND Mo-Fr 07:00-09:00)"})
    state = net.publisher.at(net.publisher.current(), TUE_0800)
    heavy = net.route("a", "d", "truck", state=state)
    light = net.route("a", "d", "truck", state=state, vehicle=van)
    assert heavy is not None and "bxc" not in heavy.ways
    assert light is not None and "bxc" in light.ways
    later = net.publisher.at(net.publisher.current(), TUE_1000)
    assert "bxc" in net.route("a", "d", "truck", state=later).ways  # type: ignore[union-attr]

    rnet = _rnet(
        tmp_path / "r",
        {
            "from": "ab",
            "via": "b",
            "to": "bc",
            "restriction:hgv:conditional": "no_straight_on @ (weight>7.5)",
        },
    )
    state = rnet.publisher.at(rnet.publisher.current(), TUE_1000)
    assert _route_ways(rnet, "a", "c", "truck", TUE_1000)[:2] != ["ab", "bc"]
    r = rnet.route("a", "c", "truck", state=state, vehicle=van)
    assert r is not None and r.ways[:2] == ["ab", "bc"]


# ---- real data: São Paulo maps time-shared streets (weekends and nights) ------------------------
@pytest.fixture(scope="module")
def spo(tmp_path_factory):
    from routing.build import build_snapshot
    from routing.osm import read_osm
    from routing.road import RoadRouter
    from routing.snapshot import load_snapshot
    from tests.conftest import SPO_OSM

    out = tmp_path_factory.mktemp("spo") / "snap"
    meta = build_snapshot(SPO_OSM, out)
    router = RoadRouter(load_snapshot(out))
    return meta, router, read_osm(SPO_OSM)


SPO_TZ = ZoneInfo("America/Sao_Paulo")


@pytest.mark.parametrize("mode", MODES)
def test_real_data_routes_equal_oracle_inside_and_outside(spo, mode: str) -> None:
    """On São Paulo's extract (``motor_vehicle:conditional=no @ (… Su 00:00-24:00)``,
    ``bicycle``/``foot:conditional=yes @ (…)`` on streets shared by time), routes at a
    weekday noon and on a Sunday equal the oracle that evaluates the raw tags itself."""
    meta, router, osm = spo
    counts = meta["counts"]
    assert counts["conditions"] >= 1 and counts["car_conditional_access_edges"] > 0
    assert router.snapshot.timezone == "America/Sao_Paulo"
    pub = StatePublisher(router, timezone=router.snapshot.timezone)
    lat = np.asarray(router.snapshot.node_lat)
    lon = np.asarray(router.snapshot.node_lon)
    rng = np.random.default_rng(400 + len(mode))
    weekday = datetime(2026, 12, 2, 12, 0, tzinfo=SPO_TZ)
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=SPO_TZ)
    states = {at: pub.at(pub.current(), at) for at in (weekday, sunday)}
    if mode in ("car", "walk", "bike"):  # these modes' weights differ between the instants
        assert not np.array_equal(states[weekday].weights(mode), states[sunday].weights(mode))
    checked = 0
    for at, state in states.items():
        oracle = LineGraphOracle(router, mode, osm, at=at)
        ff = router.modes[mode].free_flow_ms
        for a, b in rng.integers(0, lat.shape[0], size=(100, 2)).tolist():
            p = (lat[a] + rng.normal(0, 2e-4), lon[a] + rng.normal(0, 2e-4))
            q = (lat[b] + rng.normal(0, 2e-4), lon[b] + rng.normal(0, 2e-4))
            try:
                src = router.snap(state, mode, *p)
                dst = router.snap(state, mode, *q)
            except SnapError:
                continue
            want = oracle.cost_ms(src.edges, dst.edges, ff)
            try:
                got = router.route_endpoints(state, mode, src, dst).weight_ms
            except NoRouteError:
                got = None
            assert got == want, (mode, at, p, q)
            checked += 1
    assert checked >= 150
