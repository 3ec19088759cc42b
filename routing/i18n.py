"""The message catalogue of turn-by-turn instructions: English and Simplified Chinese.

Plain dicts of ``str.format`` templates per language, the words for compass directions
and unnamed ways, :func:`normalize_lang` to read a requested language and
:func:`pick_text` to choose from translated texts (alerts). Which template a step uses is
decided in ``routing.steps``.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Languages instructions are available in (canonical tags).
SUPPORTED_LANGS = ("en", "zh-CN")
DEFAULT_LANG = "en"
#: Accepted spellings (compared case-insensitively, ``_`` read as ``-``).
LANG_ALIASES = {"en": "en", "zh-cn": "zh-CN", "zh": "zh-CN", "zh-hans": "zh-CN",
                "zh-hans-cn": "zh-CN"}


class UnsupportedLanguageError(ValueError):
    """A requested instruction language that the catalogue does not have."""

    def __init__(self, lang: str) -> None:
        super().__init__(f"language {lang!r} is not supported; supported languages: "
                         f"{', '.join(SUPPORTED_LANGS)} (also accepted: zh, zh-Hans)")
        self.lang = lang


def normalize_lang(lang: str | None) -> str:
    """Canonical tag (``en`` or ``zh-CN``) of a requested language; ``None`` or ``""`` is
    English. Raises :class:`UnsupportedLanguageError` for anything else."""
    if lang is None or not lang.strip():
        return DEFAULT_LANG
    key = lang.strip().replace("_", "-").lower()
    try:
        return LANG_ALIASES[key]
    except KeyError:
        raise UnsupportedLanguageError(lang) from None


COMPASS = {
    "en": ("north", "northeast", "east", "southeast", "south", "southwest", "west",
           "northwest"),
    "zh-CN": ("北", "东北", "东", "东南", "南", "西南", "西", "西北"),
}

#: What unnamed ways are called (see ``routing.labels.generic_kind``).
GENERIC = {
    "en": {"sidewalk": "the sidewalk", "crossing": "the crossing", "footway": "the footway",
           "path": "the path", "steps": "the steps", "pedestrian": "the pedestrian street",
           "cycleway": "the cycleway", "track": "the track", "service": "the service road",
           "ramp": "the ramp", "motorway": "the motorway", "road": "an unnamed road"},
    "zh-CN": {"sidewalk": "人行道", "crossing": "人行横道", "footway": "步行道",
              "path": "小路", "steps": "台阶", "pedestrian": "步行街", "cycleway": "自行车道",
              "track": "土路", "service": "内部道路", "ramp": "匝道", "motorway": "高速公路",
              "road": "无名道路"},
}

#: Templates. Placeholders: {direction} {road} {exit} {ordinal}, and the optional parts
#: {toward} / {onto} / {target} rendered from the "toward" / "onto" templates (or "").
#: A key ending in ".walk" / ".bike" / ".car" overrides the plain key for that mode.
MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "depart": "Head {direction} on {road}",
        "depart.bike": "Cycle {direction} on {road}",
        "depart.walk": "Walk {direction} on {road}",
        "turn.left": "Turn left onto {road}",
        "turn.right": "Turn right onto {road}",
        "turn.slight left": "Bear left onto {road}",
        "turn.slight right": "Bear right onto {road}",
        "turn.sharp left": "Make a sharp left onto {road}",
        "turn.sharp right": "Make a sharp right onto {road}",
        "turn.straight": "Continue straight onto {road}",
        "turn.uturn": "Make a U-turn and continue on {road}",
        "new name": "Continue onto {road}",
        "continue": "Continue on {road}",
        "ramp.straight": "Take the ramp{toward}",
        "ramp.slight left": "Take the ramp on the left{toward}",
        "ramp.slight right": "Take the ramp on the right{toward}",
        "ramp.left": "Turn left to take the ramp{toward}",
        "ramp.right": "Turn right to take the ramp{toward}",
        "exit.right": "Take exit {exit}{toward}",
        "exit.left": "Take exit {exit} on the left{toward}",
        "fork.left": "Keep left{target}",
        "fork.right": "Keep right{target}",
        "fork.straight": "Keep straight{target}",
        "fork.left.bare": "Keep left at the fork",
        "fork.right.bare": "Keep right at the fork",
        "fork.straight.bare": "Keep straight at the fork",
        "merge": "Merge onto {road}",
        "roundabout": "Enter the roundabout and take the {ordinal} exit{onto}",
        "exit roundabout": "Exit the roundabout{onto}",
        "arrive": "Arrive at your destination",
        "toward": " toward {destination}",
        "onto": " onto {road}",
        "push": "{instruction}, and push your bike",
    },
    "zh-CN": {
        "depart": "向{direction}出发，沿{road}行驶",
        "depart.bike": "向{direction}骑行，沿{road}前行",
        "depart.walk": "向{direction}步行，沿{road}前行",
        "turn.left": "左转进入{road}",
        "turn.right": "右转进入{road}",
        "turn.slight left": "向左前方行驶，进入{road}",
        "turn.slight right": "向右前方行驶，进入{road}",
        "turn.slight left.walk": "向左前方走，进入{road}",
        "turn.slight right.walk": "向右前方走，进入{road}",
        "turn.slight left.bike": "向左前方骑行，进入{road}",
        "turn.slight right.bike": "向右前方骑行，进入{road}",
        "turn.sharp left": "向左后方转弯，进入{road}",
        "turn.sharp right": "向右后方转弯，进入{road}",
        "turn.straight": "直行进入{road}",
        "turn.uturn": "掉头，沿{road}前行",
        "new name": "继续直行，进入{road}",
        "continue": "沿{road}继续前行",
        "ramp.straight": "进入匝道{toward}",
        "ramp.slight left": "靠左进入匝道{toward}",
        "ramp.slight right": "靠右进入匝道{toward}",
        "ramp.left": "左转进入匝道{toward}",
        "ramp.right": "右转进入匝道{toward}",
        "exit.right": "从{exit}出口驶出{toward}",
        "exit.left": "靠左从{exit}出口驶出{toward}",
        "fork.left": "靠左行驶{target}",
        "fork.right": "靠右行驶{target}",
        "fork.straight": "保持直行{target}",
        "fork.left.bare": "在岔路口靠左行驶",
        "fork.right.bare": "在岔路口靠右行驶",
        "fork.straight.bare": "在岔路口保持直行",
        "merge": "汇入{road}",
        "roundabout": "进入环岛，从{ordinal}出口驶出{onto}",
        "exit roundabout": "驶出环岛{onto}",
        "arrive": "到达目的地",
        "toward": "，前往 {destination}",
        "onto": "，进入{road}",
        "push": "{instruction}，推着自行车步行",
    },
}


def ordinal(lang: str, n: int) -> str:
    """``1st``, ``2nd``, ``11th`` … in English; ``第1个`` … in Chinese."""
    if lang == "zh-CN":
        return f"第{n}个"
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def message(lang: str, key: str, **values: str) -> str:
    """The template ``key`` of ``lang`` filled with ``values``."""
    return MESSAGES[lang][key].format(**values)


#: Explanations of routes under incidents. Placeholders: {amount} ("+5 min"), {what}
#: (incident labels joined).
EXPLAIN: dict[str, dict[str, str]] = {
    "en": {"on": "{amount}: {what}", "avoids": "Avoids {what} ({amount} against the usual "
           "route)", "also_avoids": "Also avoids {what}", "min": "{sign}{n} min",
           "s": "{sign}{n} s", "join": "; ", "label": "{type} {id}{where}",
           "where": " on {street}"},
    "zh-CN": {"on": "{amount}：{what}", "avoids": "已避开{what}（比平常路线{amount}）",
              "also_avoids": "还避开了{what}", "min": "{sign}{n} 分钟", "s": "{sign}{n} 秒",
              "join": "；", "label": "{type} {id}{where}", "where": "（{street}）"},
}

#: Notes on where a route's end was snapped (``routing.snap.SNAP_REASONS``). Placeholders:
#: {which} (start / destination), {piece_m} (metres to the nearest road), {snap_m} (metres
#: to the road used).
SNAP_NOTES: dict[str, dict[str, str]] = {
    "en": {"connected_piece": "The {which} is on a small road piece off the main network (a "
           "car park or private road, for instance) that connects to it in this direction; "
           "the route uses it.",
           "disconnected_piece": "The nearest road ({piece_m} m away) does not connect to "
           "the rest of the network in this direction for this mode; the {which} is on the "
           "nearest road that does ({snap_m} m away).",
           "start": "start", "end": "destination"},
    "zh-CN": {"connected_piece": "{which}位于主路网之外的一小段道路上（例如停车场或私人道路），"
              "该路段在此方向上与主路网相连，路线经由该路段。",
              "disconnected_piece": "最近的道路（{piece_m} 米外）在此方向上与该出行方式的路网"
              "不连通；{which}已设在最近的连通道路上（{snap_m} 米外）。",
              "start": "起点", "end": "终点"},
}


def snap_note(lang: str, reason: str, which: str, snap_m: float,
              piece_m: float | None = None) -> str | None:
    """A sentence in ``lang`` on why a route's end (``which``: ``"start"`` / ``"end"``) is
    where it is, or ``None`` for a plain nearest-road snap. Distances in metres."""
    notes = SNAP_NOTES[lang]
    if reason not in notes:
        return None
    return notes[reason].format(which=notes[which], snap_m=f"{snap_m:.0f}",
                                piece_m=f"{(piece_m or 0.0):.0f}")


#: Incident types by language (the model's ``IncidentType`` values).
INCIDENT_TYPES: dict[str, dict[str, str]] = {
    "en": {"accident": "accident", "roadworks": "roadworks", "closure": "closure",
           "congestion": "congestion", "event": "event", "hazard": "hazard",
           "weather": "weather", "transit_disruption": "transit disruption"},
    "zh-CN": {"accident": "交通事故", "roadworks": "道路施工", "closure": "道路封闭",
              "congestion": "交通拥堵", "event": "活动管制", "hazard": "道路危险",
              "weather": "恶劣天气", "transit_disruption": "公交中断"},
}


def explain_messages(incidents: list[str], avoided: list[str], delay_s: float,
                     about: dict[str, tuple[str, str | None]], lang: str = DEFAULT_LANG
                     ) -> list[str]:
    """Sentences for a route's explanation in ``lang``: ``about[id] = (type, first street)``.
    Raises :class:`UnsupportedLanguageError`."""
    lang = normalize_lang(lang)
    t = EXPLAIN[lang]
    if not incidents and not avoided:
        return []
    sign = "+" if delay_s >= 0 else "-"
    mins = abs(delay_s) / 60
    amount = t["min"].format(sign=sign, n=f"{mins:.0f}") if mins >= 1 else \
        t["s"].format(sign=sign, n=f"{abs(delay_s):.0f}")

    def label(i: str) -> str:
        kind, street = about.get(i, ("incident", None))
        where = t["where"].format(street=street) if street else ""
        return t["label"].format(type=INCIDENT_TYPES[lang].get(kind, kind), id=i, where=where)

    out = []
    if incidents:
        out.append(t["on"].format(amount=amount, what=t["join"].join(label(i) for i in incidents)))
    if avoided:
        what = t["join"].join(label(i) for i in avoided)
        out.append(t["also_avoids"].format(what=what) if incidents else
                   t["avoids"].format(what=what, amount=amount))
    return out



def pick_text(texts: Mapping[str, str], lang: str) -> tuple[str, str] | None:
    """``(language, text)`` of a translated text (GTFS-RT ``TranslatedString``: language tag
    -> text, ``""`` for no language) in ``lang`` (a canonical tag): the same tag (any case),
    else one of the same language (``zh`` and ``zh-Hans`` for ``zh-CN``, ``en-US`` for
    ``en``), else English, else the one without language, else the first; None when empty."""
    if not texts:
        return None
    items = list(texts.items())
    want = lang.lower()
    primary = want.split("-")[0]
    for pred in (lambda t: t.lower() == want,
                 lambda t: LANG_ALIASES.get(t.lower().replace("_", "-")) == lang,
                 lambda t: t.lower().split("-")[0] == primary,
                 lambda t: t.lower().split("-")[0] == "en",
                 lambda t: t == ""):
        for tag, text in items:
            if pred(tag):
                return tag, text
    return items[0]
