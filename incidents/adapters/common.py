"""What every standard adapter produces: the records of one document, each mapped to
citynav's incident fields or refused with an outcome and a reason; and the whole-document
refusal (:class:`DocumentRefused`) for input that is not a readable document of the standard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from incidents.errors import IncidentError
from incidents.fields import MAX_TEXT_CHARS

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""Largest document an import reads (raw bytes); larger ones are refused (413)."""
MAX_RECORDS = 20_000
"""Most records (road events, situation records) one document may carry."""


class Outcome(StrEnum):
    """What an import did with one record."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ENDED = "ended"
    UNLOCATABLE = "unlocatable"
    UNMATCHED_GEOMETRY = "unmatched_geometry"
    UNSUPPORTED = "unsupported"
    INVALID = "invalid"


class DocumentRefused(IncidentError):  # noqa: N818 - like the other incident errors
    """The document as a whole cannot be read (not the standard, wrong namespace, hostile or
    too large XML, bad JSON). Nothing of it is stored. HTTP ``status`` (4xx)."""

    title = "Document refused"
    code = "document-refused"

    def __init__(self, detail: str, status: int = 422, code: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        if code is not None:
            self.code = code


@dataclass
class SourceRecord:
    """One record of a standard's document, mapped to incident fields.

    ``external_id`` is the standard's own id (with a ``wzdx:`` / ``datex2:`` prefix) and
    ``version`` its version (DATEX II ``version``, WZDx ``update_date``); ``version_time``
    orders versions when the version itself is not a number. ``fields`` are the
    :class:`incidents.model.IncidentCreate` fields when the record could be mapped;
    ``problem`` is ``(outcome, reason)`` when it cannot (unlocatable, unsupported, invalid).
    ``ended`` says the source itself ends it (cancelled, completed, suspended). ``group`` is
    the DATEX II situation a record belongs to (a record missing from a situation sent again
    has ended).
    """

    external_id: str
    version: str | None = None
    version_time: datetime | None = None
    fields: dict[str, Any] | None = None
    problem: tuple[Outcome, str] | None = None
    ended: bool = False
    group: str | None = None
    kind: str = ""


@dataclass
class ParsedDocument:
    """A document of one standard, read: who published it, when, and its records."""

    standard: str  # "wzdx" | "datex2"
    standard_version: str
    publisher: str | None = None
    published_at: datetime | None = None
    records: list[SourceRecord] = field(default_factory=list)


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 / RFC 3339 / xsd:dateTime instant as an aware UTC datetime, or ``None``
    (absent, unparsable or without a UTC offset)."""
    if text is None:
        return None
    s = text.strip()
    if not s:
        return None
    s = s.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return None
    if t.tzinfo is None or t.utcoffset() is None:
        return None
    return t.astimezone(UTC)


def iso(t: datetime) -> str:
    """RFC 3339 UTC text ``YYYY-MM-DDTHH:MM:SSZ`` (fractions kept when present)."""
    u = t.astimezone(UTC)
    text = u.isoformat(timespec="milliseconds" if u.microsecond else "seconds")
    return text.replace("+00:00", "Z")


_BLANKS = re.compile(r"[ \t]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str) -> str | None:
    """Free text as citynav stores it: control characters dropped, each line stripped, runs
    of blank lines collapsed, at most ``MAX_TEXT_CHARS`` (cut with an ellipsis); ``None``
    when nothing is left."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_BLANKS.sub(" ", ln).strip() for ln in text.split("\n")]
    out: list[str] = []
    for ln in lines:
        if ln or (out and out[-1]):
            out.append(ln)
    while out and not out[-1]:
        out.pop()
    joined = "\n".join(out)
    if not joined.strip():
        return None
    if len(joined) > MAX_TEXT_CHARS:
        joined = joined[: MAX_TEXT_CHARS - 1] + "…"
    return joined


_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$")


def language_tag(value: str | None, default: str = "en") -> str:
    """A BCP 47 tag as the incident model accepts it (primary subtag lower-case); ``default``
    for a missing or malformed one."""
    if not value:
        return default
    parts = value.strip().replace("_", "-").split("-")
    tag = "-".join([parts[0].lower(), *parts[1:]])
    return tag if _LANG.match(tag) else default
