"""Turn-by-turn instructions from a road path: depart, turns (slight/sharp/left/right),
continue, name changes, roundabouts with exit numbers, arrive.

A new step starts where the street name changes, where the path turns by 30° or more at a
real intersection (three or more streets meet), on a U-turn, and on entering or leaving a
roundabout. Distances and durations are summed per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west",
           "northwest")
ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


@dataclass(slots=True)
class Step:
    """One instruction and the stretch of road it covers."""

    type: str  # depart | turn | continue | new name | roundabout | exit roundabout | arrive
    modifier: str  # straight | slight left | left | sharp left | uturn | ... | "" for arrive
    name: str
    distance_m: float
    duration_s: float
    location: tuple[float, float]  # [lon, lat] where the manoeuvre happens
    bearing_before: int
    bearing_after: int
    exit: int | None = None
    mode: str = "car"

    @property
    def instruction(self) -> str:
        """Human-readable instruction (English)."""
        return _instruction(self, self.mode)

    def to_dict(self) -> dict:
        """JSON-ready form (edges omitted)."""
        d = {
            "type": self.type,
            "modifier": self.modifier,
            "name": self.name,
            "distance_m": round(self.distance_m, 1),
            "duration_s": round(self.duration_s, 1),
            "location": [round(self.location[0], 7), round(self.location[1], 7)],
            "bearing_before": self.bearing_before,
            "bearing_after": self.bearing_after,
            "instruction": self.instruction,
        }
        if self.exit is not None:
            d["exit"] = self.exit
        return d


def turn_modifier(angle: float) -> str:
    """Classify a signed turn angle (degrees, right positive) into a modifier."""
    a = abs(angle)
    side = "right" if angle > 0 else "left"
    if a < 20:
        return "straight"
    if a < 60:
        return f"slight {side}"
    if a < 135:
        return side
    if a < 170:
        return f"sharp {side}"
    return "uturn"


def _compass(bearing: float) -> str:
    return COMPASS[int(((bearing % 360) + 22.5) // 45) % 8]


def _onto(name: str) -> str:
    return f" onto {name}" if name else ""


def _instruction(s: Step, mode: str) -> str:
    if s.type == "depart":
        road = f" on {s.name}" if s.name else ""
        verb = {"walk": "Walk", "bike": "Cycle"}.get(mode, "Head")
        return f"{verb} {_compass(s.bearing_after)}{road}"
    if s.type == "arrive":
        return "Arrive at your destination"
    if s.type == "roundabout":
        n = s.exit or 1
        return f"Enter the roundabout and take the {ORDINALS.get(n, f'{n}th')} exit" + \
            _onto(s.name)
    if s.type == "exit roundabout":
        return "Exit the roundabout" + _onto(s.name)
    if s.modifier == "uturn":
        return "Make a U-turn" + _onto(s.name)
    if s.modifier == "straight":
        return ("Continue straight" + _onto(s.name)) if s.type != "new name" else \
            f"Continue onto {s.name or 'the unnamed road'}"
    return f"Turn {s.modifier}" + _onto(s.name)


def build_steps(
    mode: str,
    name_idx: np.ndarray,
    names: list[str],
    roundabout: np.ndarray,
    junction_degree: np.ndarray,
    lengths_m: np.ndarray,
    durations_s: np.ndarray,
    b_start: np.ndarray,
    b_end: np.ndarray,
    loc_lon: np.ndarray,
    loc_lat: np.ndarray,
    end_location: tuple[float, float],
) -> list[Step]:
    """Steps for a path of ``n`` edges. Arrays are per path edge: street name index into
    ``names`` (-1 unnamed), roundabout flag, number of streets at the edge's start, travelled
    length and duration, bearings at its start and end, and where it starts."""
    n = int(name_idx.shape[0])
    if n == 0:
        return []
    rb = np.asarray(roundabout, dtype=bool)
    deg = np.asarray(junction_degree)
    ang = np.zeros(n)
    if n > 1:
        bi, bo = b_end[:-1], b_start[1:]
        d = (bo - bi + 540.0) % 360.0 - 180.0
        ang[1:] = np.where((bi < 0) | (bo < 0), 0.0, d)
    brk = np.zeros(n, dtype=bool)
    enter = np.zeros(n, dtype=bool)
    leave = np.zeros(n, dtype=bool)
    enter[1:] = rb[1:] & ~rb[:-1]
    leave[1:] = ~rb[1:] & rb[:-1]
    normal = np.zeros(n, dtype=bool)
    normal[1:] = ~rb[1:] & ~rb[:-1]
    a = np.abs(ang)
    renamed = np.zeros(n, dtype=bool)
    renamed[1:] = name_idx[1:] != name_idx[:-1]
    brk = enter | leave | (normal & ((a >= 170) | ((a >= 30) & (deg >= 3)) | renamed))
    brk[0] = True
    starts = np.flatnonzero(brk)
    dist = np.add.reduceat(lengths_m, starts)
    dur = np.add.reduceat(durations_s, starts)
    ends = np.append(starts[1:], n)
    exits_at = np.cumsum(rb & (deg > 2))  # running count of roundabout exits passed

    nm = name_idx.tolist()

    def name(i: int) -> str:
        k = nm[i]
        return names[k] if k >= 0 else ""

    be_l, bs_l = b_end.tolist(), b_start.tolist()
    lon_l, lat_l = loc_lon.tolist(), loc_lat.tolist()
    ang_l, dist_l, dur_l, ends_l = ang.tolist(), dist.tolist(), dur.tolist(), ends.tolist()
    enter_l, leave_l, ren_l, ex_l = enter.tolist(), leave.tolist(), renamed.tolist(), \
        exits_at.tolist()
    steps: list[Step] = []
    for k, i in enumerate(starts.tolist()):
        j_end = ends_l[k]
        bb = int(round(max(be_l[i - 1], 0))) if i > 0 else 0
        ba = int(round(max(bs_l[i], 0)))
        loc = (lon_l[i], lat_l[i])
        mod = turn_modifier(ang_l[i])
        if i == 0:
            st = Step("depart", "", name(0), 0, 0, loc, 0, ba)
            if rb[0]:
                st.exit = ex_l[j_end - 1] - ex_l[0] + 1
        elif enter_l[i]:
            st = Step("roundabout", mod, name(j_end) if j_end < n else name(i), 0, 0, loc,
                      bb, ba)
            st.exit = ex_l[j_end - 1] - ex_l[i] + 1
        elif leave_l[i]:
            st = Step("exit roundabout", mod, name(i), 0, 0, loc, bb, ba)
        else:
            kind = "turn" if mod != "straight" else ("new name" if ren_l[i] else "continue")
            st = Step(kind, mod, name(i), 0, 0, loc, bb, ba)
        st.distance_m = dist_l[k]
        st.duration_s = dur_l[k]
        steps.append(st)
    last = n - 1
    steps.append(Step("arrive", "", name(last), 0.0, 0.0, end_location,
                      int(round(max(be_l[last], 0))), 0))
    for st in steps:
        st.mode = mode
    return steps
