"""Turn-by-turn steps from a road path — depart, turns, name changes, ramps, exits, forks,
merges, roundabouts with exit numbers, arrive — with instructions in English or Simplified
Chinese (templates in ``routing.i18n``).

Naming, after OSRM's and Valhalla's guidance: a step is labelled with the road's name and
ref ("Scott Boulevard (KY 17)"), the ref alone when unnamed ("I 71 / I 75"), or what the
way is when it has neither ("the sidewalk", "the crossing", "the ramp").

A new step starts
* on a turn of 30° or more where three or more streets meet, on a U-turn, on entering or
  leaving a roundabout;
* on entering a ramp: "off ramp" when leaving a motorway or trunk road (with the exit number
  of the ``motorway_junction`` or the ramp's ``junction:ref``), "on ramp" otherwise, toward
  the ramp's signposts (``destination:ref``, ``destination``) or the road it leads to;
* at a fork: ramps that split, or a motorway that splits into motorways (side from the
  other branch); on leaving a ramp ("merge" onto a motorway or trunk road);
* where the road changes (:func:`routing.labels.same_road`) — not where a ref is added or
  dropped, a name is dropped, or refs continue on a motorway.
Afterwards a short unnamed connector before a name change takes that name, and short name
flips (A → B → A) and announcements of the road one is already on are folded into the step
before. Distances and durations are summed per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from routing import i18n
from routing.kernels.pathgeom import (
    branch_marks,
    road_classes,
    step_candidates,
    step_marks,
)
from routing.labels import (
    FAST_HIGHWAYS,
    FORK_MAX_ANGLE,
    PathLabels,
    display_destination,
    display_value,
    generic_kind,
    same_road,
)
from routing.profiles import Mode

#: English compass words (kept for callers of the old module).
COMPASS = i18n.COMPASS["en"]
#: Steps shorter than this on an unnamed connector take the name announced next.
CONNECTOR_MAX_M = 30.0
#: A name that lasts less than this between two pieces of one road is not announced.
FLIP_MAX_M = 60.0
#: A bend of the road one is on is not announced when every other way turns this much more.
OBVIOUS_MARGIN_DEG = 20.0


@dataclass(slots=True)
class Step:
    """One instruction and the stretch of road it covers."""

    type: str  # depart | turn | continue | new name | on ramp | off ramp | fork | merge |
    #            roundabout | exit roundabout | arrive
    modifier: str  # straight | slight left | left | sharp left | uturn | ... | "" for arrive
    name: str  # street name, else the ref; "" when the way has neither (see `generic`)
    distance_m: float
    duration_s: float
    location: tuple[float, float]  # [lon, lat] where the manoeuvre happens
    bearing_before: int
    bearing_after: int
    exit: int | None = None  # roundabout exit number
    mode: str = Mode.CAR
    ref: str = ""  # road number(s) as shown: "I 71 / I 75"
    destination: str = ""  # where a ramp or fork leads: "I 71 North / Cincinnati"
    exit_ref: str = ""  # motorway exit number: "192"
    generic: str = "road"  # what the way is, naming it when unnamed: sidewalk, ramp, ...
    pushed: bool = False  # bike mode: the bike is pushed (walking) along this step

    @property
    def instruction(self) -> str:
        """Human-readable instruction in English."""
        return self.instruction_for(i18n.DEFAULT_LANG)

    def label(self, lang: str = i18n.DEFAULT_LANG) -> str:
        """The road as shown: "Scott Boulevard (KY 17)", "I 75", or "the sidewalk"."""
        if self.name and self.ref and self.name != self.ref:
            return f"{self.name} ({self.ref})"
        if self.name:
            return self.name
        generic = i18n.GENERIC[_lang(lang)]
        return generic.get(self.generic, generic["road"])

    def instruction_for(self, lang: str = i18n.DEFAULT_LANG) -> str:
        """The instruction in ``lang`` (``en``, ``zh-CN`` or an alias). Raises
        :class:`routing.i18n.UnsupportedLanguageError` for other languages."""
        return _instruction(self, _lang(lang))

    def to_dict(self, lang: str = i18n.DEFAULT_LANG) -> dict:
        """JSON-ready form with the name and instruction in ``lang`` (edges omitted);
        ``ref``, ``destination``, ``exit_ref`` and ``exit`` only when known."""
        lang = _lang(lang)
        d = {
            "type": self.type,
            "modifier": self.modifier,
            "name": self.name or self.label(lang),
            "distance_m": round(self.distance_m, 1),
            "duration_s": round(self.duration_s, 1),
            "location": [round(self.location[0], 7), round(self.location[1], 7)],
            "bearing_before": self.bearing_before,
            "bearing_after": self.bearing_after,
            "instruction": _instruction(self, lang),
        }
        if self.pushed:
            d["pushed"] = True
        if self.exit is not None:
            d["exit"] = self.exit
        if self.ref:
            d["ref"] = self.ref
        if self.destination:
            d["destination"] = self.destination
        if self.exit_ref:
            d["exit_ref"] = self.exit_ref
        return d


_RIGHT = ("slight right", "right", "sharp right")
_LEFT = ("slight left", "left", "sharp left")


def turn_modifier(angle: float) -> str:
    """Classify a signed turn angle (degrees, right positive) into a modifier."""
    a = abs(angle)
    if a < 20:
        return "straight"
    if a >= 170:
        return "uturn"
    return (_RIGHT if angle > 0 else _LEFT)[0 if a < 60 else 1 if a < 135 else 2]


def _side(modifier: str) -> str:
    return "left" if "left" in modifier else "right" if "right" in modifier else "straight"


class _ModeMessages:
    """A language's templates where ``"key.<mode>"`` (e.g. ``turn.slight left.walk``)
    overrides ``"key"`` for that travel mode (a view: the templates are not copied)."""

    __slots__ = ("_found", "messages", "mode")

    def __init__(self, messages: dict[str, str], mode: str) -> None:
        self.messages = messages
        self.mode = mode
        self._found: dict[str, str] = {}  # key → template, as looked up before

    def __getitem__(self, key: str) -> str:
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = (self.messages.get(f"{key}.{self.mode}")
                                        or self.messages[key])
        return found

    def __contains__(self, key: object) -> bool:
        return key in self.messages or f"{key}.{self.mode}" in self.messages


def _lang(lang: str) -> str:
    """:func:`routing.i18n.normalize_lang`, short-cut for a tag already canonical."""
    return lang if lang in i18n.MESSAGES else i18n.normalize_lang(lang)


@lru_cache(maxsize=64)
def _mode_messages(lang: str, mode: str) -> _ModeMessages:
    """The templates of canonical language ``lang`` for travel ``mode`` (made once)."""
    return _ModeMessages(i18n.MESSAGES[lang], mode)


@lru_cache(maxsize=65536)
def _same_road(name_a: str, ref_a: str, name_b: str, ref_b: str, fast: bool) -> bool:
    """:func:`routing.labels.same_road`, remembered (the step rules ask about the same
    pairs of labels again and again)."""
    return same_road(name_a, ref_a, name_b, ref_b, fast=fast)


_generic_kind = lru_cache(maxsize=4096)(generic_kind)

_RAMP_MODIFIER = {"slight left": "slight left", "slight right": "slight right", "left": "left",
                  "right": "right", "sharp left": "left", "sharp right": "right"}


def _instruction(s: Step, lang: str) -> str:
    text = _plain_instruction(s, lang)
    if s.pushed and s.type != "arrive":
        return i18n.MESSAGES[lang]["push"].format(instruction=text)
    return text


def _plain_instruction(s: Step, lang: str) -> str:
    msg = _mode_messages(lang, s.mode)
    road = s.label(lang)
    toward = msg["toward"].format(destination=s.destination) if s.destination else ""
    if s.type == "depart":
        compass = i18n.COMPASS[lang][int(((s.bearing_after % 360) + 22.5) // 45) % 8]
        return msg["depart"].format(direction=compass, road=road)
    if s.type == "arrive":
        return msg["arrive"]
    if s.type in ("roundabout", "exit roundabout"):
        onto = toward or msg["onto"].format(road=road)  # onto a ramp: toward its signposts
        return msg[s.type].format(ordinal=i18n.ordinal(lang, s.exit or 1), onto=onto)
    if s.type == "off ramp" and s.exit_ref:
        key = "exit.left" if _side(s.modifier) == "left" else "exit.right"
        return msg[key].format(exit=s.exit_ref, toward=toward)
    if s.type in ("on ramp", "off ramp"):
        mod = _RAMP_MODIFIER.get(s.modifier, "straight")
        if not toward and s.name:  # a named ramp without signposts
            toward = msg["onto"].format(road=road)
        return msg[f"ramp.{mod}"].format(toward=toward)
    if s.type == "fork":
        side = _side(s.modifier)
        if toward:
            return msg[f"fork.{side}"].format(target=toward)
        if s.name:
            return msg[f"fork.{side}"].format(target=msg["onto"].format(road=road))
        return msg[f"fork.{side}.bare"]
    if s.type == "merge":
        return msg["merge"].format(road=road)
    if s.type == "new name":
        return msg["new name"].format(road=road)
    if s.type == "continue":
        return msg["continue"].format(road=road)
    key = f"turn.{s.modifier}" if f"turn.{s.modifier}" in msg else "turn.straight"
    return msg[key].format(road=road)


@dataclass(slots=True)
class _Break:
    """Where a step starts: path edge ``i``, what happens there, and the edge naming it."""

    i: int
    type: str
    modifier: str
    label_edge: int
    destination: str = ""
    exit_ref: str = ""


@lru_cache(maxsize=64)
def _highway_classes(highways: tuple[str, ...], driving: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per highway class: a ramp, a fast road (motorway, trunk). Ramps, exits, forks and
    merges are driving manoeuvres: walkers and cyclists on a ramp or a trunk road get
    ordinary turns, so for them neither is set."""
    is_link = np.array([driving and h.endswith("_link") for h in highways], dtype=bool)
    is_fast = np.array([driving and h in FAST_HIGHWAYS for h in highways], dtype=bool)
    is_link.flags.writeable = False
    is_fast.flags.writeable = False
    return is_link, is_fast


@lru_cache(maxsize=64)
def _branch_classes(highways: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per highway class: a fast road (motorway, trunk); a fast road or a ramp (the
    classes :func:`_fork_side` looks at, whatever the travel mode)."""
    fast = np.array([h in FAST_HIGHWAYS for h in highways], dtype=bool)
    ramp = np.array([h in _RAMP_CLASSES or h.endswith("_link") for h in highways],
                    dtype=bool)
    fast.flags.writeable = False
    ramp.flags.writeable = False
    return fast, ramp


_SIDES = (None, "left", "right", "straight")


class _Forks:
    """:func:`_fork_side` and :func:`_obvious` for every edge of a path at once (a numba
    kernel over the branch arrays of :func:`routing.labels.path_labels`)."""

    __slots__ = ("fast", "obvious", "ramp", "side")

    def __init__(self, br: object, b_end: np.ndarray, ang: np.ndarray) -> None:
        fast, ramp = _branch_classes(tuple(br.highways))  # type: ignore[attr-defined]
        side, side_ramp, side_fast, obvious = branch_marks(
            br.off_a, br.bearing_a, br.highway_a, fast, ramp, b_end,  # type: ignore[attr-defined]
            ang, FORK_MAX_ANGLE, OBVIOUS_MARGIN_DEG)
        self.side: list[int] = side.tolist()
        self.ramp: list[int] = side_ramp.tolist()
        self.fast: list[int] = side_fast.tolist()
        self.obvious: list[bool] = obvious.tolist()


class _Road:
    """Per-edge label text of a path (the label indices read once as Python lists: the
    step rules look edges up one at a time, which is slow on numpy arrays)."""

    __slots__ = ("_disp", "_idx", "after_ramp_l", "before_ramp_l", "fast", "fast_l", "hw_idx",
                 "hws", "lb", "link", "link_l", "n", "rf", "st", "texts")

    def __init__(self, labels: PathLabels, mode: str) -> None:
        self.lb = labels
        self.texts = labels.labels
        hw_idx = np.asarray(labels.highway)
        hws = labels.highways
        self.hws = hws
        self.hw_idx: list[int] = hw_idx.tolist()
        self.n = len(self.hw_idx)
        is_link, is_fast = _highway_classes(tuple(hws), mode == Mode.CAR)
        #: per edge: a ramp, a fast road; the first edge at or after it that is not a ramp
        #: (n: none), the last one at or before it (-1: none)
        self.link, self.fast, after, before = road_classes(hw_idx, is_link, is_fast)
        self.link_l: list[bool] = self.link.tolist()
        self.fast_l: list[bool] = self.fast.tolist()
        self.after_ramp_l: list[int] = after.tolist()
        self.before_ramp_l: list[int] = before.tolist()
        #: label indices of the street name and the ref per edge
        self.st: list[int] = np.asarray(labels.street).tolist()
        self.rf: list[int] = np.asarray(labels.ref).tolist()
        self._idx: dict[str, list[int]] = {}
        self._disp: dict[int, str] = {}  # label index → display value (names)

    def text(self, field: str, i: int) -> str:
        """Raw tag value of ``field`` on edge ``i`` (as :meth:`PathLabels.text`)."""
        col = self._idx.get(field)
        if col is None:
            col = self._idx[field] = np.asarray(getattr(self.lb, field)).tolist()
        k = col[i]
        return self.texts[k] if k >= 0 else ""

    def slip_lane(self, i: int) -> bool:
        """Edge ``i`` is on a ramp run that joins two ordinary roads (a slip lane: read as
        a turn from one street onto the other)."""
        if not self.link_l[i]:
            return False
        q, j = self.before_ramp_l[i], self.after_ramp_l[i]
        fast = self.fast_l
        return q >= 0 and j < self.n and not fast[q] and not fast[j]

    def street(self, i: int) -> str:
        k = self.st[i]
        if k < 0:
            return ""
        v = self._disp.get(k)
        if v is None:
            v = self._disp[k] = display_value(self.texts[k])
        return v

    def ref(self, i: int) -> str:
        k = self.rf[i]
        return self.texts[k] if k >= 0 else ""

    def same(self, i: int, j: int) -> bool:
        """Edges ``i`` and ``j`` are on one road (no announcement between them)."""
        st, rf = self.st, self.rf
        if st[i] == st[j] and rf[i] == rf[j]:
            return True  # the very same labels (same_road of equal labels is true)
        return _same_road(self.street(i), self.ref(i), self.street(j), self.ref(j),
                          self.fast_l[i] and self.fast_l[j])

    def richest(self, i: int, end: int, look: int = 64) -> int:
        """The first edge from ``i`` (before ``end``) on the same road that carries both a
        name and a ref, when edge ``i`` lacks one of them; else ``i``."""
        st, rf = self.st, self.rf
        if st[i] >= 0 and rf[i] >= 0 and self.street(i) and self.ref(i):
            return i
        for j in range(i + 1, min(end, i + look)):
            if (st[j] >= 0 and rf[j] >= 0 and self.street(j) and self.ref(j)
                    and self.same(i, j)):
                return j
        return i

    def unnamed(self, i: int) -> bool:
        return not self.street(i) and not self.ref(i)

    def step_fields(self, i: int) -> dict:
        name, ref, generic = self.fields(i)
        return {"name": name, "ref": ref, "generic": generic}

    def fields(self, i: int) -> tuple[str, str, str]:
        """A step's (name, ref, generic) when edge ``i`` names it."""
        ref = display_value(self.ref(i))
        generic = _generic_kind(self.hws[self.hw_idx[i]], self.text("footway", i))
        return self.street(i) or ref, ref, generic

    def ramp_destination(self, i: int) -> str:
        """Signposts of the ramp that starts at edge ``i`` (first signed piece), else the
        label of the motorway or trunk road it leads to."""
        n = self.n
        j = i
        while j < n and self.link_l[j]:
            d = display_destination(self.text("dest_ref", j), self.text("dest", j))
            if d:
                return d
            j += 1
        if j < n and self.fast_l[j]:
            f = self.step_fields(j)
            if f["name"] and f["ref"] and f["name"] != f["ref"]:
                return f"{f['name']} ({f['ref']})"
            return f["name"]
        return ""

    def exit_number(self, i: int) -> str:
        """Exit number where the ramp starting at edge ``i`` leaves the motorway."""
        ex = self.text("exit_ref", i)
        j, n = i, self.n
        while not ex and j < n and self.link_l[j]:
            ex = self.text("junction_ref", j)
            j += 1
        return display_value(ex)


def build_steps(
    mode: str,
    labels: PathLabels,
    roundabout: np.ndarray,
    junction_degree: np.ndarray,
    lengths_m: np.ndarray,
    durations_s: np.ndarray,
    b_start: np.ndarray,
    b_end: np.ndarray,
    loc_lon: np.ndarray,
    loc_lat: np.ndarray,
    end_location: tuple[float, float],
    pushed: np.ndarray | None = None,
) -> list[Step]:
    """Steps for a path of ``n`` edges. ``labels`` names each edge (see
    :func:`routing.labels.path_labels`); the arrays are per path edge: roundabout flag,
    number of streets at the edge's start, travelled length (m) and duration (s), bearings
    at its start and end (degrees, -1 unknown), and where it starts ([lon, lat]); ``pushed``
    marks edges where a bike is pushed (a new step starts where pushing starts or ends, and
    says "push your bike")."""
    n = int(np.asarray(lengths_m).shape[0])
    if n == 0:
        return []
    road = _Road(labels, mode)
    rb = np.asarray(roundabout, dtype=bool)
    deg = np.asarray(junction_degree)
    b_start = np.asarray(b_start, dtype=np.float64)
    b_end = np.asarray(b_end, dtype=np.float64)
    ang, turned, enter, leave, cand = step_marks(
        rb, deg, b_start, b_end, np.asarray(labels.street), np.asarray(labels.ref),
        np.asarray(labels.dest), np.asarray(labels.dest_ref), np.asarray(labels.footway),
        road.link, road.fast)
    a = np.abs(ang)

    forks = (_Forks(labels.branches, b_end, ang)
             if hasattr(labels.branches, "off_a") else None)
    breaks = [_Break(0, "depart", "", 0)]
    # the rules read single edges: Python lists are much faster to index than numpy arrays
    ang_l, a_l, turned_l = ang.tolist(), a.tolist(), turned.tolist()
    enter_l, leave_l = enter.tolist(), leave.tolist()
    be_l, bs_l = b_end.tolist(), b_start.tolist()
    # candidates off roundabouts, ramps and fast-road pairs (the last two rules of _decide,
    # decided here without the rules before them)
    cand_idx, plain = step_candidates(cand, ang, enter, leave, road.link, road.fast)
    same, unnamed = road.same, road.unnamed
    for i, simple in zip(cand_idx.tolist(), plain.tolist(), strict=True):
        if simple == 2:  # both fast roads: a fork, else as an ordinary candidate
            if forks is None:
                simple = 0
            elif forks.fast[i]:
                side = _SIDES[forks.fast[i]]
                breaks.append(_Break(i, "fork", f"slight {side}" if side != "straight"
                                     else "straight", i))
                continue
        if simple:
            if turned_l[i]:
                if not unnamed(i) and same(i - 1, i) and (
                        forks.obvious[i] if forks is not None
                        else _obvious(i, labels, ang_l, be_l)):
                    continue  # the road bends at a junction and no other way is straighter
                breaks.append(_Break(i, "turn", turn_modifier(ang_l[i]), i))
                continue
            if same(i - 1, i):
                continue
            mod = turn_modifier(ang_l[i])
            breaks.append(_Break(i, "turn" if mod != "straight" else "new name", mod, i))
            continue
        b = _decide(i, road, labels, ang_l, a_l, turned_l, enter_l, leave_l, bs_l, be_l,
                    forks)
        if b is not None:
            breaks.append(b)
    _collapse(breaks, road, np.asarray(lengths_m, dtype=np.float64))
    push = np.zeros(n, dtype=bool) if pushed is None else np.asarray(pushed, dtype=bool)
    if push.any():  # a step starts wherever pushing starts or stops
        at = {b.i for b in breaks}
        for i in (np.flatnonzero(push[1:] != push[:-1]) + 1).tolist():
            if i not in at:
                breaks.append(_Break(i, "continue", "straight", i))
        breaks.sort(key=lambda b: b.i)
    for k, br in enumerate(breaks):  # "Scott Boulevard" → "Scott Boulevard (KY 17)"
        end = breaks[k + 1].i if k + 1 < len(breaks) else n
        br.label_edge = road.richest(br.label_edge, end)

    start_l = [b.i for b in breaks]
    starts = np.asarray(start_l, dtype=np.int64)
    dist = np.add.reduceat(np.asarray(lengths_m, dtype=np.float64), starts).tolist()
    dur = np.add.reduceat(np.asarray(durations_s, dtype=np.float64), starts).tolist()
    ends = [*start_l[1:], n]
    rb_any = bool(rb.any())
    # running count of roundabout exits passed
    exits_at = np.cumsum(rb & (deg > 2)).tolist() if rb_any else []
    any_push = bool(push.any())
    lon_l, lat_l = np.asarray(loc_lon).tolist(), np.asarray(loc_lat).tolist()
    fields, link_l = road.fields, road.link_l
    # bearings as whole degrees (round half to even, as round()), unknown (-1) as 0
    bb_l = np.rint(np.maximum(b_end[np.maximum(starts - 1, 0)], 0.0)).astype(np.int64).tolist()
    ba_l = np.rint(np.maximum(b_start[starts], 0.0)).astype(np.int64).tolist()
    steps: list[Step] = []
    for k, br in enumerate(breaks):
        i, j_end = br.i, ends[k]
        bb = bb_l[k] if i > 0 else 0
        ba = ba_l[k]
        label_edge = br.label_edge
        kind = br.type
        if kind == "roundabout" and j_end < n:
            label_edge = j_end  # named after the road it leaves onto
        name, ref, generic = fields(label_edge)
        st = Step(kind, br.modifier, name, dist[k], dur[k], (lon_l[i], lat_l[i]), bb, ba,
                  None, mode, ref, br.destination, br.exit_ref, generic,
                  any_push and bool(push[i:j_end].all()))
        if rb_any and (kind == "roundabout" or (i == 0 and rb[0])):
            st.exit = exits_at[j_end - 1] - exits_at[i] + 1
        if (kind == "roundabout" or kind == "exit roundabout") and link_l[label_edge]:
            st.destination = road.ramp_destination(label_edge)
        steps.append(st)
    last = n - 1
    name, ref, generic = fields(last)
    steps.append(Step("arrive", "", name, 0.0, 0.0, end_location,
                      int(round(max(be_l[last], 0))), 0, None, mode, ref, "", "", generic))
    return steps


def _fork_side(i: int, labels: PathLabels, ang: Sequence[float], b_end: Sequence[float],
               classes: frozenset[str] | None) -> str | None:
    """At a fork where edge ``i`` starts: "left" / "right" / "straight" for the branch the
    path takes among the forward branches (within :data:`FORK_MAX_ANGLE`), or None when no
    other forward branch (of ``classes``, or of any ramp/fast class) is open there."""
    if labels.branches is None or b_end[i - 1] < 0:
        return None
    rel = []
    for bearing, hw in labels.branches(i):
        if classes is not None and hw not in classes and not (
                "link" in classes and hw.endswith("_link")):
            continue
        r = (bearing - b_end[i - 1] + 540.0) % 360.0 - 180.0
        if abs(r) < FORK_MAX_ANGLE:
            rel.append(r)
    if not rel:
        return None
    mine = ang[i]
    if all(r < mine for r in rel):
        return "right"
    if all(r > mine for r in rel):
        return "left"
    return "straight"


_RAMP_CLASSES = frozenset(FAST_HIGHWAYS | {"link"})


def _obvious(i: int, labels: PathLabels, ang: Sequence[float], b_end: Sequence[float]
             ) -> bool:
    """Every other way open where edge ``i`` starts turns clearly more than the path."""
    if labels.branches is None or b_end[i - 1] < 0:
        return False
    mine = abs(float(ang[i]))
    for bearing, _ in labels.branches(i):
        r = abs((bearing - b_end[i - 1] + 540.0) % 360.0 - 180.0)
        if r < mine + OBVIOUS_MARGIN_DEG:
            return False
    return True


def _decide(i: int, road: _Road, labels: PathLabels, ang: Sequence[float],
            a: Sequence[float], turned: Sequence[bool], enter: Sequence[bool],
            leave: Sequence[bool], b_start: Sequence[float], b_end: Sequence[float],
            forks: _Forks | None = None) -> _Break | None:
    """What happens where path edge ``i`` starts (None: the step goes on); the per-edge
    values come as Python lists, forks and obvious bends from ``forks`` when given."""
    mod = turn_modifier(float(ang[i]))
    sign = "right" if ang[i] >= 0 else "left"
    link, fast = road.link_l, road.fast_l
    if enter[i]:
        return _Break(i, "roundabout", mod, i)
    if leave[i]:
        return _Break(i, "exit roundabout", mod, i)
    if a[i] >= 170:
        return _Break(i, "turn", "uturn", i)
    p = i - 1
    if road.slip_lane(i):
        if link[p]:
            return None  # announced where the slip lane starts
        j = road.after_ramp_l[i]
        total = (b_start[j] - b_end[p] + 540.0) % 360.0 - 180.0 \
            if b_start[j] >= 0 and b_end[p] >= 0 else float(ang[i])
        mod = turn_modifier(total)
        if abs(total) < 30 and road.same(p, j):
            return None
        return _Break(i, "turn" if mod != "straight" else "new name", mod, j)
    if link[p] and not link[i] and road.slip_lane(p):
        return None
    if link[i] and not link[p]:
        side = (_SIDES[forks.side[i]] if forks is not None
                else _fork_side(i, labels, ang, b_end, None))
        if a[i] < 60:
            mod = f"slight {side}" if side in ("left", "right") else (
                f"slight {sign}" if fast[p] or a[i] >= 5 else "straight")
        kind = "off ramp" if fast[p] else "on ramp"
        return _Break(i, kind, mod, i, road.ramp_destination(i),
                      road.exit_number(i) if fast[p] else "")
    if link[p] and not link[i]:
        if fast[i]:
            return _Break(i, "merge", f"slight {sign}" if a[i] >= 1 else "straight", i)
        return _Break(i, "turn" if mod != "straight" else "new name", mod, i)
    if link[p] and link[i]:
        side = (_SIDES[forks.ramp[i]] if forks is not None
                else _fork_side(i, labels, ang, b_end, _RAMP_CLASSES))
        if side is not None:
            return _Break(i, "fork", f"slight {side}" if side != "straight" else "straight",
                          i, road.ramp_destination(i))
        return _Break(i, "turn", mod, i) if turned[i] else None
    if fast[p] and fast[i]:
        side = (_SIDES[forks.fast[i]] if forks is not None
                else _fork_side(i, labels, ang, b_end, FAST_HIGHWAYS))
        if side is not None:
            return _Break(i, "fork", f"slight {side}" if side != "straight" else "straight",
                          i)
    if turned[i]:
        if a[i] < 170 and not road.unnamed(i) and road.same(p, i) and (
                forks.obvious[i] if forks is not None else _obvious(i, labels, ang, b_end)):
            return None  # the road bends at a junction and no other way is straighter
        return _Break(i, "turn", mod, i)
    if not road.same(p, i):
        return _Break(i, "turn" if mod != "straight" else "new name", mod, i)
    return None


def _collapse(breaks: list[_Break], road: _Road, lengths_m: np.ndarray) -> None:
    """Fold spurious steps into the one before (in place): a short unnamed connector
    followed by a name change takes that name; a short name flip A → B → A disappears; and
    a "new name" for the road the previous step is already on is dropped."""
    def length(k: int) -> float:
        end = breaks[k + 1].i if k + 1 < len(breaks) else lengths_m.shape[0]
        return float(lengths_m[breaks[k].i:end].sum())

    k = 1
    while k < len(breaks) - 1:  # connector + name change
        cur, nxt = breaks[k], breaks[k + 1]
        if (cur.type in ("turn", "new name") and nxt.type == "new name"
                and road.unnamed(cur.label_edge) and length(k) < CONNECTOR_MAX_M):
            cur.label_edge = nxt.label_edge
            del breaks[k + 1]
            continue
        k += 1
    k = 1
    while k < len(breaks) - 1:  # A → B → A
        cur, nxt = breaks[k], breaks[k + 1]
        if (cur.type == "new name" and nxt.type == "new name" and length(k) < FLIP_MAX_M
                and road.same(breaks[k - 1].label_edge, nxt.label_edge)):
            del breaks[k:k + 2]
            continue
        k += 1
    k = 1
    while k < len(breaks):  # announcing the road one is on
        if breaks[k].type == "new name" and road.same(breaks[k - 1].label_edge,
                                                      breaks[k].label_edge):
            del breaks[k]
            continue
        k += 1
