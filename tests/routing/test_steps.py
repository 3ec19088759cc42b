"""Turn-by-turn guidance: step naming and merging rules and both instruction languages, on
hand-made paths, tiny OSM networks, and real northern Kentucky routes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routing.build import build_snapshot
from routing.i18n import SUPPORTED_LANGS, UnsupportedLanguageError, normalize_lang
from routing.labels import (
    PathLabels,
    display_destination,
    display_value,
    generic_kind,
    same_road,
)
from routing.road import RoadRouter, RoutingError
from routing.snapshot import load_snapshot
from routing.steps import Step, build_steps
from tests.routing.osmxml import GRID, StatefulRouter, grid_ways, mid, write_osm


def _steps(tags: list[dict[str, str]], bearings: list[tuple[float, float]] | None = None,
           lengths: list[float] | None = None, mode: str = "car", degree: int = 3,
           exit_refs: list[str] | None = None, branches=None,
           roundabout: list[bool] | None = None) -> list[Step]:
    """Steps of a hand-made path: one edge per ``tags`` entry, heading north unless
    ``bearings`` gives (start, end) bearings per edge."""
    n = len(tags)
    b = np.asarray(bearings or [(0.0, 0.0)] * n, dtype=np.float64)
    length = np.asarray(lengths or [100.0] * n, dtype=np.float64)
    return build_steps(
        mode, PathLabels.from_tags(tags, exit_refs, branches),
        np.asarray(roundabout or [False] * n), np.full(n, degree), length, length / 10.0,
        b[:, 0], b[:, 1], np.arange(n, dtype=np.float64), np.zeros(n), (float(n), 0.0))


def _say(steps: list[Step], lang: str = "en") -> list[str]:
    return [s.instruction_for(lang) for s in steps]


# ---- labels --------------------------------------------------------------------------
def test_multi_value_tags_are_displayed_with_slashes() -> None:
    assert display_value("I 71;I 75") == "I 71 / I 75"
    assert display_value(" US 42 ; US 127 ;") == "US 42 / US 127"
    assert display_destination("I 71;I 75", "Cincinnati") == "I 71 / I 75 / Cincinnati"
    assert display_destination("", "Louisville;Lexington") == "Louisville / Lexington"
    assert display_destination("I 71", "i 71;Cincinnati") == "I 71 / Cincinnati"  # once


def test_same_road_rules() -> None:
    assert same_road("Scott Boulevard", "", "Scott Boulevard", "KY 17")  # ref added
    assert same_road("Scott Boulevard", "KY 17", "Scott Boulevard", "")  # ref dropped
    assert same_road("", "KY 17", "Scott Boulevard", "KY 17")  # a name appears on KY 17
    assert same_road("Main Street", "", "", "")  # name dropped
    assert same_road("", "I 71;I 75", "", "I 75")  # refs overlap
    assert not same_road("Main Street", "", "Oak Street", "")
    assert not same_road("", "", "Main Street", "")
    assert not same_road("Main Street", "", "", "KY 17")
    assert not same_road("", "I 71", "", "I 471")
    # on motorways the ref identifies the road, whatever the name pieces say
    assert not same_road("Fort Washington Way", "I 71", "Brent Spence Bridge", "I 71;I 75")
    assert same_road("Fort Washington Way", "I 71", "Brent Spence Bridge", "I 71;I 75",
                     fast=True)


def test_generic_kinds() -> None:
    assert generic_kind("footway", "sidewalk") == "sidewalk"
    assert generic_kind("footway", "crossing") == "crossing"
    assert generic_kind("footway") == "footway"
    assert generic_kind("motorway_link") == "ramp"
    assert generic_kind("service") == "service"
    assert generic_kind("residential") == "road"


def test_languages() -> None:
    assert SUPPORTED_LANGS == ("en", "zh-CN")
    assert normalize_lang(None) == normalize_lang("") == normalize_lang("EN") == "en"
    for alias in ("zh-CN", "zh-cn", "zh", "zh-Hans", "zh_CN"):
        assert normalize_lang(alias) == "zh-CN"
    with pytest.raises(UnsupportedLanguageError) as exc:
        normalize_lang("fr")
    assert "en" in str(exc.value) and "zh-CN" in str(exc.value) and "'fr'" in str(exc.value)


# ---- naming and merging ----------------------------------------------------------------
def test_name_and_ref_pieces_of_one_road_make_one_step() -> None:
    road = [{"highway": "primary", "name": "Scott Boulevard"},
            {"highway": "primary", "name": "Scott Boulevard", "ref": "KY 17"},
            {"highway": "primary", "ref": "KY 17"},
            {"highway": "primary", "name": "Scott Boulevard", "ref": "KY 17"}]
    steps = _steps(road)
    assert [s.type for s in steps] == ["depart", "arrive"]
    # the step shows the richest label of the road: name and ref
    assert steps[0].name == "Scott Boulevard" and steps[0].ref == "KY 17"
    assert steps[0].label() == "Scott Boulevard (KY 17)"
    assert steps[0].instruction == "Head north on Scott Boulevard (KY 17)"
    assert steps[0].instruction_for("zh-CN") == "向北出发，沿Scott Boulevard (KY 17)行驶"
    assert steps[0].distance_m == pytest.approx(400)


def test_motorway_name_flips_are_not_announced() -> None:
    way = [{"highway": "motorway", "name": "Fort Washington Way", "ref": "I 71"},
           {"highway": "motorway", "ref": "I 71"},
           {"highway": "motorway", "name": "Fort Washington Way", "ref": "I 71"},
           {"highway": "motorway", "name": "Brent Spence Bridge", "ref": "I 71;I 75"},
           {"highway": "motorway", "ref": "I 71;I 75"}]
    steps = _steps(way)
    assert [s.type for s in steps] == ["depart", "arrive"]
    assert ";" not in steps[-1].label() and steps[-1].ref == "I 71 / I 75"


def test_ref_only_road_is_labelled_by_its_ref() -> None:
    steps = _steps([{"highway": "primary", "name": "Main Street"},
                    {"highway": "primary", "ref": "US 42;US 127"}])
    assert [s.type for s in steps] == ["depart", "new name", "arrive"]
    assert steps[1].name == "US 42 / US 127" and steps[1].ref == "US 42 / US 127"
    assert steps[1].instruction == "Continue onto US 42 / US 127"
    assert steps[1].instruction_for("zh-CN") == "继续直行，进入US 42 / US 127"


def test_turns_name_changes_and_collapses() -> None:
    main, oak = {"name": "Main Street"}, {"name": "Oak Street"}
    right = [(0, 0), (90, 90)]
    steps = _steps([main, oak], right)
    assert _say(steps) == ["Head north on Main Street", "Turn right onto Oak Street",
                           "Arrive at your destination"]
    assert _say(steps, "zh-CN") == ["向北出发，沿Main Street行驶", "右转进入Oak Street",
                                    "到达目的地"]
    # a short name flip A → B → A is not announced
    assert [s.type for s in _steps([main, {"name": "Main Street Bridge"}, main],
                                   lengths=[300, 40, 300])] == ["depart", "arrive"]
    # ... a long one is
    assert [s.type for s in _steps([main, {"name": "Main Street Bridge"}, main],
                                   lengths=[300, 400, 300])] == [
        "depart", "new name", "new name", "arrive"]
    # a road that is unnamed for a while and named again: still one step
    assert [s.type for s in _steps([main, {}, main])] == ["depart", "arrive"]
    # a short unnamed connector before a name change takes that name
    steps = _steps([main, {}, oak], [(0, 0), (90, 90), (90, 90)], [200, 12, 200])
    assert [s.type for s in steps] == ["depart", "turn", "arrive"]
    assert steps[1].instruction == "Turn right onto Oak Street"


def test_bend_of_the_road_is_announced_only_when_another_way_is_straighter() -> None:
    main = {"highway": "primary", "name": "Main Street"}
    bend = [(0, 0), (45, 45)]
    left_only = _steps([main, main], bend, branches=lambda i: [(270.0, "residential")])
    assert [s.type for s in left_only] == ["depart", "arrive"]
    ahead = _steps([main, main], bend, branches=lambda i: [(0.0, "residential")])
    assert _say(ahead)[1] == "Bear right onto Main Street"


def test_walking_unnamed_ways_get_generic_labels() -> None:
    sidewalk = {"highway": "footway", "footway": "sidewalk"}
    crossing = {"highway": "footway", "footway": "crossing"}
    steps = _steps([sidewalk, crossing, sidewalk], [(90, 90), (180, 180), (90, 90)],
                   mode="walk")
    assert _say(steps) == ["Walk east on the sidewalk", "Turn right onto the crossing",
                           "Turn left onto the sidewalk", "Arrive at your destination"]
    assert _say(steps, "zh-CN") == ["向东步行，沿人行道前行", "右转进入人行横道",
                                    "左转进入人行道", "到达目的地"]
    assert [s.to_dict()["name"] for s in steps] == ["the sidewalk", "the crossing",
                                                    "the sidewalk", "the sidewalk"]
    assert steps[1].to_dict("zh-CN")["name"] == "人行横道"
    assert steps[1].name == ""  # the Python field keeps the truth: no street name
    # straight on from sidewalk to crossing and back: one step
    assert len(_steps([sidewalk, crossing, sidewalk], mode="walk")) == 2
    footway = _steps([{"highway": "footway"}, {"highway": "steps"}], [(0, 0), (270, 270)],
                     mode="walk")
    assert _say(footway)[1] == "Turn left onto the steps"
    assert _say(footway, "zh-CN")[1] == "左转进入台阶"


# ---- ramps, exits, forks, merges ---------------------------------------------------------
SCOTT = {"highway": "primary", "name": "Scott Boulevard", "ref": "KY 17"}
RAMP = {"highway": "motorway_link", "destination:ref": "I 71", "destination": "Cincinnati"}
I75 = {"highway": "motorway", "ref": "I 75"}


def test_on_ramp_toward_signposts_then_merge() -> None:
    steps = _steps([SCOTT, RAMP, RAMP, I75], [(0, 0), (35, 40), (40, 30), (20, 20)])
    assert [s.type for s in steps] == ["depart", "on ramp", "merge", "arrive"]
    ramp, merge = steps[1], steps[2]
    assert ramp.destination == "I 71 / Cincinnati" and ramp.name == ""
    assert ramp.instruction == "Take the ramp on the right toward I 71 / Cincinnati"
    assert ramp.instruction_for("zh-CN") == "靠右进入匝道，前往 I 71 / Cincinnati"
    assert ramp.to_dict()["destination"] == "I 71 / Cincinnati"
    assert merge.instruction == "Merge onto I 75"
    assert merge.instruction_for("zh-CN") == "汇入I 75"
    straight_on = _steps([SCOTT, RAMP, I75])
    assert straight_on[1].instruction == "Take the ramp toward I 71 / Cincinnati"
    assert straight_on[1].instruction_for("zh") == "进入匝道，前往 I 71 / Cincinnati"


def test_unsigned_ramp_is_named_after_the_motorway_it_leads_to() -> None:
    steps = _steps([SCOTT, {"highway": "motorway_link"}, {"highway": "motorway",
                                                          "ref": "I 71;I 75"}],
                   [(0, 0), (90, 90), (60, 60)])
    assert steps[1].instruction == "Turn right to take the ramp toward I 71 / I 75"
    assert "unnamed" not in " ".join(_say(steps))


def test_off_ramp_with_exit_number() -> None:
    tags = [I75, RAMP, RAMP, SCOTT]
    steps = _steps(tags, [(0, 0), (20, 60), (60, 90), (90, 90)],
                   exit_refs=["", "192", "", ""],
                   branches=lambda i: [(0.0, "motorway")] if i == 1 else [])
    assert [s.type for s in steps] == ["depart", "off ramp", "new name", "arrive"]
    off = steps[1]
    assert off.exit_ref == "192" and off.modifier == "slight right"
    assert off.instruction == "Take exit 192 toward I 71 / Cincinnati"
    assert off.instruction_for("zh-CN") == "从192出口驶出，前往 I 71 / Cincinnati"
    d = off.to_dict("zh-CN")
    assert d["exit_ref"] == "192" and d["destination"] == "I 71 / Cincinnati"
    # without a motorway_junction ref the ramp's junction:ref numbers the exit
    steps = _steps([I75, {**RAMP, "junction:ref": "186"}, SCOTT], [(0, 0), (20, 20), (20, 20)])
    assert steps[1].instruction == "Take exit 186 toward I 71 / Cincinnati"
    # no number at all: take the ramp
    steps = _steps([I75, RAMP, SCOTT], [(0, 0), (20, 20), (20, 20)])
    assert steps[1].instruction == "Take the ramp on the right toward I 71 / Cincinnati"


def test_forks() -> None:
    a = {"highway": "motorway_link", "destination": "Louisville;Lexington"}
    b = {"highway": "motorway_link", "destination": "Cincinnati"}
    steps = _steps([I75, a, b], [(0, 0), (20, 20), (10, 10)], exit_refs=["", "185", ""],
                   branches=lambda i: [(40.0, "motorway_link")] if i == 2 else [])
    fork = steps[2]
    assert fork.type == "fork" and fork.modifier == "slight left"
    assert fork.instruction == "Keep left toward Cincinnati"
    assert fork.instruction_for("zh-CN") == "靠左行驶，前往 Cincinnati"
    # a motorway that splits into motorways
    steps = _steps([{"highway": "motorway", "ref": "I 71;I 75"}, I75], [(0, 0), (15, 15)],
                   branches=lambda i: [(-20.0 % 360, "motorway")])
    assert steps[1].type == "fork"
    assert steps[1].instruction == "Keep right onto I 75"
    assert steps[1].instruction_for("zh-CN") == "靠右行驶，进入I 75"
    # passing an exit is not a fork
    steps = _steps([I75, I75], branches=lambda i: [(20.0, "motorway_link")])
    assert [s.type for s in steps] == ["depart", "arrive"]


def test_slip_lane_between_streets_reads_as_a_turn() -> None:
    oak = {"highway": "secondary", "name": "Oak Street"}
    steps = _steps([SCOTT, {"highway": "primary_link"}, oak], [(0, 0), (30, 80), (90, 90)])
    assert [s.type for s in steps] == ["depart", "turn", "arrive"]
    assert steps[1].instruction == "Turn right onto Oak Street"


def test_walkers_get_no_ramp_manoeuvres() -> None:
    steps = _steps([SCOTT, RAMP, I75], [(0, 0), (35, 35), (20, 20)], mode="walk")
    assert not {"on ramp", "merge", "off ramp", "fork"} & {s.type for s in steps}


def test_roundabout_in_both_languages() -> None:
    road = {"name": "Main Street"}
    ring = {"highway": "primary", "name": "Circle"}
    steps = _steps([road, ring, ring, {"name": "Oak Street"}],
                   [(0, 0), (60, 300), (300, 200), (180, 180)],
                   roundabout=[False, True, True, False])
    rb = next(s for s in steps if s.type == "roundabout")
    assert rb.instruction == f"Enter the roundabout and take the {['1st', '2nd'][rb.exit - 1]}" \
                             " exit onto Oak Street"
    assert rb.instruction_for("zh-CN") == f"进入环岛，从第{rb.exit}个出口驶出，进入Oak Street"
    out = next(s for s in steps if s.type == "exit roundabout")
    assert out.instruction_for("zh-CN") == "驶出环岛，进入Oak Street"


def test_step_dict_is_backward_compatible() -> None:
    steps = _steps([SCOTT, {"highway": "primary", "name": "Oak Street"}], [(0, 0), (90, 90)])
    d = steps[1].to_dict()
    assert {"type", "modifier", "name", "distance_m", "duration_s", "location",
            "bearing_before", "bearing_after", "instruction"} <= set(d)
    assert d["name"] == "Oak Street" and "ref" not in d and "exit_ref" not in d
    assert steps[0].to_dict()["ref"] == "KY 17"
    assert steps[1].instruction == steps[1].to_dict()["instruction"]
    with pytest.raises(UnsupportedLanguageError):
        steps[1].to_dict("de")


# ---- tiny OSM networks through the snapshot and the router --------------------------------
def _router(tmp_path: Path, ways, nodes=None, node_tags=None) -> StatefulRouter:
    osm = write_osm(tmp_path / "net.osm", ways, [], node_tags, nodes)
    build_snapshot(osm, tmp_path / "snap")
    return StatefulRouter(RoadRouter(load_snapshot(tmp_path / "snap")))


def test_osm_exit_number_and_signposts_reach_the_steps(tmp_path: Path) -> None:
    # I 75 northbound; exit 192 leaves to the right at node 2 toward Scott Boulevard
    nodes = {1: (45.000, 7.000), 2: (45.006, 7.000), 3: (45.012, 7.000),
             4: (45.008, 7.002), 5: (45.009, 7.004), 6: (45.009, 7.000), 7: (45.009, 7.008),
             8: (45.000, 7.008)}
    ways = [(11, [1, 2, 3], {"highway": "motorway", "ref": "I 71;I 75", "oneway": "yes"}),
            (12, [2, 4, 5], {"highway": "motorway_link", "oneway": "yes",
                             "destination:ref": "I 71", "destination": "Cincinnati"}),
            (13, [6, 5, 7], {"highway": "primary", "name": "Scott Boulevard",
                             "ref": "KY 17"}),
            (14, [7, 8, 1], {"highway": "primary", "name": "Back Road"})]  # a way back
    r = _router(tmp_path, ways, nodes, {2: {"highway": "motorway_junction", "ref": "192"}})
    route = r.route(45.002, 7.0, 45.009, 7.0075, mode="car")
    assert [s.type for s in route.steps][:2] == ["depart", "off ramp"]
    assert route.steps[0].instruction == "Head north on I 71 / I 75"
    off = route.steps[1]
    assert (off.exit_ref, off.destination, off.modifier) == ("192", "I 71 / Cincinnati",
                                                             "slight right")
    assert off.instruction == "Take exit 192 toward I 71 / Cincinnati"
    assert off.instruction_for("zh-CN") == "从192出口驶出，前往 I 71 / Cincinnati"
    assert route.steps[2].instruction == "Bear right onto Scott Boulevard (KY 17)"
    assert route.steps[2].instruction_for("zh-CN") == "向右前方行驶，进入Scott Boulevard (KY 17)"


def test_osm_sidewalks_and_crossings_are_labelled(tmp_path: Path) -> None:
    sidewalk = {"highway": "footway", "footway": "sidewalk"}
    ways = [(1, [1, 2], sidewalk), (2, [2, 5], {"highway": "footway", "footway": "crossing"}),
            (3, [5, 6], sidewalk), (4, [2, 3], {"highway": "residential", "name": "Elm"}),
            (5, [4, 5], {"highway": "residential", "name": "Ash"}),
            (6, [5, 8], {"highway": "residential", "name": "Oak"})]
    r = _router(tmp_path, ways)
    route = r.route(*mid(1, 2), *mid(5, 6), mode="walk")
    assert _say(route.steps) == ["Walk east on the sidewalk", "Turn right onto the crossing",
                                 "Turn left onto the sidewalk", "Arrive at your destination"]
    assert _say(route.steps, "zh-CN") == ["向东步行，沿人行道前行", "右转进入人行横道",
                                          "左转进入人行道", "到达目的地"]


def test_osm_name_and_ref_pieces_of_one_street(tmp_path: Path) -> None:
    ways = grid_ways({103: {"highway": "primary", "name": "Scott Boulevard", "ref": "KY 17"},
                      104: {"highway": "primary", "name": "", "ref": "KY 17;KY 1120"}})
    r = _router(tmp_path, ways)
    route = r.route(*mid(4, 5), *mid(5, 6), mode="car")
    assert [s.type for s in route.steps] == ["depart", "arrive"]
    assert route.steps[0].to_dict()["name"] == "Scott Boulevard"
    assert route.steps[0].to_dict()["ref"] == "KY 17"
    assert route.steps[-1].ref == "KY 17 / KY 1120"  # arriving on the multi-ref piece
    assert r.route(*GRID[4], *GRID[6], mode="car").steps[0].label() == \
        "Scott Boulevard (KY 17)"


# ---- real routes in northern Kentucky ------------------------------------------------------
def _random_routes(router: StatefulRouter, mode: str, n: int, seed: int, spread_deg: float | None
                   ) -> list:
    w, s, e, nn = router.snapshot.bbox
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n * 20):
        a = (rng.uniform(s, nn), rng.uniform(w, e))
        b = ((a[0] + rng.normal(0, spread_deg), a[1] + rng.normal(0, spread_deg * 1.3))
             if spread_deg else (rng.uniform(s, nn), rng.uniform(w, e)))
        try:
            out.append(router.route(*a, *b, mode=mode))
        except RoutingError:
            continue
        if len(out) == n:
            break
    assert len(out) == n
    return out


def _spurious_flips(steps: list[Step]) -> list[tuple[str, str]]:
    """A "new name" or "continue" step onto the road the previous step is already on."""
    return [(p.instruction, s.instruction) for p, s in zip(steps, steps[1:], strict=False)
            if s.type in ("new name", "continue") and s.label() == p.label()]


def test_nky_ramp_onto_i71_i75_reads_take_the_ramp_toward(nky_router) -> None:
    # Kyles Lane (Fort Wright) onto I 71 / I 75 northbound toward Cincinnati
    route = StatefulRouter(nky_router).route(39.056, -84.540, 39.096, -84.521, mode="car")
    ramps = [s for s in route.steps if s.type == "on ramp"]
    assert ramps, [s.instruction for s in route.steps]
    ramp = ramps[0]
    assert "I 71" in ramp.destination and "I 75" in ramp.destination
    assert "Cincinnati" in ramp.destination
    assert "Take the ramp" in ramp.instruction or "to take the ramp" in ramp.instruction
    assert f"toward {ramp.destination}" in ramp.instruction
    assert f"匝道，前往 {ramp.destination}" in ramp.instruction_for("zh-CN")
    nxt = route.steps[route.steps.index(ramp) + 1]
    assert nxt.type == "merge" and nxt.instruction == "Merge onto I 71 / I 75"
    said = " ".join(_say(route.steps))
    assert "unnamed" not in said and ";" not in said
    exits = [s for s in route.steps if s.type == "off ramp" and s.exit_ref]
    assert exits and exits[0].instruction.startswith(f"Take exit {exits[0].exit_ref} toward ")
    assert exits[0].instruction_for("zh-CN").startswith(f"从{exits[0].exit_ref}出口驶出，前往 ")


def test_nky_car_routes_have_clean_names(nky_router) -> None:
    routes = _random_routes(StatefulRouter(nky_router), "car", 200, seed=11, spread_deg=None)
    ramp_steps = 0
    for route in routes:
        steps = route.steps
        assert steps[0].type == "depart" and steps[-1].type == "arrive"
        assert sum(s.distance_m for s in steps) == pytest.approx(route.distance_m, abs=0.5)
        for s in steps:
            for lang in ("en", "zh-CN"):
                d = s.to_dict(lang)
                assert ";" not in d["name"] and ";" not in d["instruction"], d
                assert d["name"], d
            if s.type in ("on ramp", "off ramp"):
                ramp_steps += 1
                assert "unnamed" not in s.instruction, s.instruction
                assert "Take" in s.instruction or "take the ramp" in s.instruction
        assert not _spurious_flips(steps)
    assert ramp_steps >= 20  # the sample does exercise ramps


def test_nky_walk_routes_label_every_turn(nky_router) -> None:
    routes = _random_routes(StatefulRouter(nky_router), "walk", 200, seed=12, spread_deg=0.008)
    generic = 0
    for route in routes:
        for s in route.steps:
            for lang in ("en", "zh-CN"):
                d = s.to_dict(lang)
                assert d["name"].strip(), d
                if s.type != "arrive":
                    assert d["name"] in d["instruction"], d
            generic += not s.name
        assert not _spurious_flips(route.steps)
    assert generic > 20  # sidewalks, crossings and footways are walked and named


def test_nky_chinese_instructions_are_chinese(nky_router) -> None:
    routes = _random_routes(StatefulRouter(nky_router), "car", 30, seed=13, spread_deg=None)
    english = ("Turn", "onto", "Head", "Continue", "Take", "Merge", "Keep", "Arrive", "toward")
    for route in routes:
        for s in route.steps:
            zh = s.instruction_for("zh-CN")
            label = s.label("zh-CN")
            rest = zh.replace(label, "").replace(s.destination, "")
            assert not any(w in rest for w in english), zh
            assert any("\u4e00" <= ch <= "\u9fff" for ch in rest), zh


def test_roundabout_exit_onto_a_ramp_names_its_signposts() -> None:
    ring = {"highway": "primary", "junction": "roundabout"}
    steps = _steps([SCOTT, ring, ring, RAMP, I75], [(0, 0), (60, 300), (300, 200),
                                                     (180, 180), (180, 180)],
                   roundabout=[False, True, True, False, False])
    rb = next(s for s in steps if s.type == "roundabout")
    assert rb.destination == "I 71 / Cincinnati"
    assert rb.instruction.endswith("exit toward I 71 / Cincinnati")
    assert rb.instruction_for("zh-CN").endswith("出口驶出，前往 I 71 / Cincinnati")
    assert steps[-2].instruction == "Merge onto I 75"
