"""Applying an imported WZDx or DATEX II document to the store, record by record.

:func:`apply_document` takes a document read by an adapter (:mod:`incidents.adapters`) and
applies the valid records, reporting each one: ``created``, ``updated``, ``unchanged``,
``ended``, ``unlocatable``, ``unmatched_geometry``, ``unsupported`` or ``invalid`` with the
reason. Nothing about one record stops the others.

Idempotency: the standard's id is the incident's ``external_id`` (per agency); the
standard's version of the last applied record is kept in ``import_records`` (with the
source and the DATEX II situation it came from). The same version again changes nothing;
an older one is ignored; a newer one with other content patches the incident (a history
row); a newer one with the same content only moves the recorded version. A record the
source ends (cancelled, completed, suspended) ends the incident — ``resolved`` when active,
``cancelled`` when still scheduled — and so does a record missing from a *complete* document
(a subscribed feed) or from a DATEX II situation sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incidents.adapters.alertc import LocationTables
from incidents.adapters.common import Outcome, ParsedDocument, SourceRecord
from incidents.auth import Principal, authorize_write
from incidents.db import Database
from incidents.errors import Conflict, IncidentError, InvalidIncident
from incidents.matching import GeometryMatchError, MatchResult
from incidents.model import Incident, IncidentCreate, IncidentStatus, validate_model
from incidents.store import ActorLike, IncidentStore

Matcher = Callable[[Any, Any], MatchResult]
"""``match(geometry, direction)``: what a geometry matches on the network."""

_COMPARED = ("type", "severity", "start", "end", "recurrence", "geometry", "direction",
             "lanes", "road_effect", "transit_effect", "description")
_NULLABLE = frozenset({"end", "recurrence", "lanes", "road_effect", "transit_effect"})
_TERMINAL = (IncidentStatus.RESOLVED, IncidentStatus.CANCELLED)


@dataclass
class RecordReport:
    """What happened to one record."""

    external_id: str
    outcome: Outcome
    reason: str | None = None
    incident_id: str | None = None
    source_version: str | None = None
    record_type: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {"external_id": self.external_id, "outcome": self.outcome.value,
                "reason": self.reason, "incident_id": self.incident_id,
                "source_version": self.source_version, "record_type": self.record_type}


@dataclass
class ImportReport:
    """The report of one import: the document and one entry per record (and per record
    ended because it disappeared)."""

    standard: str
    standard_version: str
    agency: str
    source: str
    publisher: str | None = None
    published_at: datetime | None = None
    records: list[RecordReport] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Records per outcome (every outcome listed, zeros included)."""
        out = {o.value: 0 for o in Outcome}
        for r in self.records:
            out[r.outcome.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {"standard": self.standard, "standard_version": self.standard_version,
                "agency": self.agency, "source": self.source, "publisher": self.publisher,
                "published_at": self.published_at.isoformat() if self.published_at else None,
                "counts": self.counts, "records": [r.to_dict() for r in self.records]}


@dataclass
class LedgerRow:
    """One row of ``import_records``."""

    agency: str
    external_id: str
    standard: str
    source: str
    group_id: str | None
    source_version: str | None
    version_time: datetime | None
    incident_id: str


class ImportLedger:
    """The ``import_records`` table: which standard version of which record was applied."""

    _COLS = ("agency, external_id, standard, source, group_id, source_version, version_time,"
             " incident_id")

    def __init__(self, db: Database) -> None:
        self.db = db

    def _row(self, r: tuple[Any, ...]) -> LedgerRow:
        return LedgerRow(r[0], r[1], r[2], r[3], r[4], r[5],
                         None if r[6] is None else self.db.ts_out(r[6]), r[7])

    def get(self, agency: str, external_id: str) -> LedgerRow | None:
        """The row of one record, or ``None``."""
        with self.db.transaction() as tx:
            r = tx.one(f"SELECT {self._COLS} FROM import_records WHERE agency = ? AND "
                       "external_id = ?", (agency, external_id))
        return None if r is None else self._row(r)

    def rows(self, agency: str, *, source: str | None = None,
             groups: Iterable[str] = ()) -> list[LedgerRow]:
        """Rows of ``agency`` from ``source`` and/or in the DATEX II situations ``groups``."""
        out: dict[str, LedgerRow] = {}
        with self.db.transaction() as tx:
            if source is not None:
                for r in tx.execute(f"SELECT {self._COLS} FROM import_records WHERE agency = ?"
                                    " AND source = ?", (agency, source)):
                    out[r[1]] = self._row(r)
            for g in groups:
                for r in tx.execute(f"SELECT {self._COLS} FROM import_records WHERE agency = ?"
                                    " AND group_id = ?", (agency, g)):
                    out[r[1]] = self._row(r)
        return list(out.values())

    def get_many(self, agency: str, external_ids: Iterable[str]) -> dict[str, LedgerRow]:
        """The rows of several records of ``agency`` (by external id)."""
        ids = list(dict.fromkeys(external_ids))
        out: dict[str, LedgerRow] = {}
        with self.db.transaction() as tx:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ", ".join("?" for _ in chunk)
                for r in tx.execute(f"SELECT {self._COLS} FROM import_records WHERE agency = ?"
                                    f" AND external_id IN ({marks})", (agency, *chunk)):
                    out[r[1]] = self._row(r)
        return out

    def put(self, row: LedgerRow, now: datetime) -> None:
        """Insert or replace the row of ``(agency, external_id)``."""
        self.put_many([row], now)

    def put_many(self, rows: Iterable[LedgerRow], now: datetime) -> None:
        """Insert or replace several rows in one transaction."""
        rows = list(rows)
        if not rows:
            return
        with self.db.transaction(write=True) as tx:
            for row in rows:
                vt = None if row.version_time is None else self.db.ts_in(row.version_time)
                tx.execute("DELETE FROM import_records WHERE agency = ? AND external_id = ?",
                           (row.agency, row.external_id))
                tx.execute(f"INSERT INTO import_records ({self._COLS}, imported_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (row.agency, row.external_id, row.standard, row.source,
                            row.group_id, row.source_version, vt, row.incident_id,
                            self.db.ts_in(now)))


def _version_key(version: str | None, version_time: datetime | None
                 ) -> tuple[int, float, float]:
    """Sort key of a standard version: a numeric version first, then its time."""
    num = float(version) if version is not None and version.strip().isdigit() else -1.0
    t = version_time.timestamp() if version_time is not None else -1.0
    return (1 if num >= 0 or t >= 0 else 0, num, t)


def _newer(rec: SourceRecord, row: LedgerRow) -> bool | None:
    """True if ``rec`` is a newer version than the applied one, False if the same, None if
    older."""
    if rec.version == row.source_version and (
            rec.version_time is None or row.version_time is None
            or rec.version_time == row.version_time):
        return False
    a = _version_key(rec.version, rec.version_time)
    b = _version_key(row.source_version, row.version_time)
    if a > b:
        return True
    if a == b:
        return False
    return None


def _dedupe(records: list[SourceRecord]) -> tuple[list[SourceRecord], list[RecordReport]]:
    """Keep the newest version of each id in the document; report the others."""
    best: dict[str, SourceRecord] = {}
    for r in records:
        cur = best.get(r.external_id)
        if cur is None or _version_key(r.version, r.version_time) > _version_key(
                cur.version, cur.version_time):
            best[r.external_id] = r
    kept = list(best.values())
    dropped = [RecordReport(r.external_id, Outcome.UNCHANGED,
                            f"superseded in this document by version "
                            f"{best[r.external_id].version}",
                            source_version=r.version, record_type=r.kind)
               for r in records if best[r.external_id] is not r]
    return kept, dropped


def _compare(inc: Incident, new: IncidentCreate) -> dict[str, Any]:
    """The JSON patch that turns ``inc`` into ``new`` (empty when they are equal)."""
    cur = inc.model_dump()
    want = new.model_dump()
    want_json = new.model_dump(mode="json")
    patch: dict[str, Any] = {}
    for name in _COMPARED:
        if cur.get(name) != want.get(name):
            if want.get(name) is None and name not in _NULLABLE:
                continue
            patch[name] = want_json.get(name)
    if new.status == IncidentStatus.ACTIVE and inc.status == IncidentStatus.SCHEDULED:
        patch["status"] = IncidentStatus.ACTIVE.value  # the source confirms it started
    return patch


class _Importer:
    def __init__(self, store: IncidentStore, agency: str, actor: ActorLike, match: Matcher,
                 report: ImportReport, standard: str) -> None:
        self.store = store
        self.agency = agency
        self.actor = actor
        self.match = match
        self.report = report
        self.standard = standard
        self.ledger = ImportLedger(store.db)
        #: ledger rows of the document's records, read once up front
        self.known: dict[str, LedgerRow] = {}
        #: ledger rows to write, in one transaction at the end (a crash in between loses
        #: only versions: the next import compares content and re-records them)
        self.pending: list[LedgerRow] = []

    def add(self, rec: SourceRecord | str, outcome: Outcome, reason: str | None = None,
            incident_id: str | None = None) -> None:
        if isinstance(rec, str):
            self.report.records.append(RecordReport(rec, outcome, reason, incident_id))
        else:
            self.report.records.append(RecordReport(rec.external_id, outcome, reason,
                                                    incident_id, rec.version, rec.kind))

    def end(self, inc: Incident) -> Incident:
        if inc.status == IncidentStatus.ACTIVE:
            return self.store.resolve(inc.id, self.actor, inc.version)
        return self.store.cancel(inc.id, self.actor, inc.version)

    def remember(self, rec: SourceRecord, incident_id: str) -> None:
        self.pending.append(LedgerRow(self.agency, rec.external_id, self.standard,
                                      self.report.source, rec.group, rec.version,
                                      rec.version_time, incident_id))

    def flush(self) -> None:
        rows, self.pending = self.pending, []
        self.ledger.put_many(rows, self.store.now())

    def apply(self, rec: SourceRecord) -> None:
        row = self.known.get(rec.external_id)
        existing = self.store.find_external(self.agency, rec.external_id)
        live = existing is not None and existing.status not in _TERMINAL
        if rec.ended:
            if existing is not None and live:
                ended = self.end(existing)
                self.remember(rec, ended.id)
                self.add(rec, Outcome.ENDED, f"the source ends it; {ended.id} is "
                         f"{ended.status.value}", ended.id)
            elif existing is not None:
                self.add(rec, Outcome.UNCHANGED, f"already {existing.status.value}",
                         existing.id)
            else:
                self.add(rec, Outcome.UNCHANGED, "the source ends it and it was never "
                         "imported: nothing stored")
            return
        if rec.problem is not None:
            outcome, reason = rec.problem
            self.add(rec, outcome, reason, existing.id if existing else None)
            return
        assert rec.fields is not None
        if existing is not None and row is not None:
            newer = _newer(rec, row)
            if newer is None:
                self.add(rec, Outcome.UNCHANGED, f"version {rec.version} is older than the "
                         f"applied version {row.source_version}", existing.id)
                return
            if newer is False:
                self.add(rec, Outcome.UNCHANGED, f"version {rec.version} already applied",
                         existing.id)
                return
        try:
            new = validate_model(IncidentCreate, {**rec.fields, "external_id": rec.external_id})
        except InvalidIncident as exc:
            self.add(rec, Outcome.INVALID, exc.detail, existing.id if existing else None)
            return
        if existing is not None and not live:
            self.add(rec, Outcome.UNCHANGED, f"{existing.id} is {existing.status.value}; "
                     "it does not reopen", existing.id)
            return
        patch = _compare(existing, new) if existing is not None else None
        if existing is None or (patch is not None
                                and ("geometry" in patch or "direction" in patch)):
            try:
                m = self.match(new.geometry, new.direction)
            except (GeometryMatchError, ValueError) as exc:
                self.add(rec, Outcome.INVALID, f"geometry: {exc}",
                         existing.id if existing else None)
                return
            if m.empty:
                self.add(rec, Outcome.UNMATCHED_GEOMETRY, "the geometry matches no road, "
                         "path or stop of the network (outside the city?)",
                         existing.id if existing else None)
                return
        try:
            if existing is None:
                try:
                    inc = self.store.create(new, self.actor, self.agency)
                except Conflict:
                    # another import (a replica, a concurrent push) created it meanwhile
                    raced = self.store.find_external(self.agency, rec.external_id)
                    if raced is None:
                        raise
                    self.add(rec, Outcome.UNCHANGED, f"{raced.id} was created meanwhile by "
                             "another import", raced.id)
                    return
                self.remember(rec, inc.id)
                self.add(rec, Outcome.CREATED, None, inc.id)
                return
            assert patch is not None
            if not patch:
                self.remember(rec, existing.id)
                self.add(rec, Outcome.UNCHANGED, f"version {rec.version} has the same "
                         "content", existing.id)
                return
            inc = self.store.patch(existing.id, patch, self.actor, existing.version)
            self.remember(rec, inc.id)
            self.add(rec, Outcome.UPDATED, "changed: " + ", ".join(sorted(patch)), inc.id)
        except IncidentError as exc:
            self.add(rec, Outcome.INVALID, exc.detail, existing.id if existing else None)

    def end_missing(self, present: set[str], rows: list[LedgerRow], why: str) -> None:
        for row in rows:
            if row.external_id in present:
                continue
            inc = self.store.find_external(self.agency, row.external_id)
            if inc is None or inc.status in _TERMINAL:
                continue
            ended = self.end(inc)
            self.add(row.external_id, Outcome.ENDED,
                     f"{why}; {ended.id} is {ended.status.value}", ended.id)


def apply_document(store: IncidentStore, doc: ParsedDocument, *, agency: str,
                   actor: ActorLike, match: Matcher, source: str = "push",
                   complete: bool = False) -> ImportReport:
    """Apply the records of ``doc`` for ``agency`` and report each (see the module docstring).

    ``match`` checks geometries against the network; ``source`` names where the document came
    from (a subscription's name, ``push``, ``cli``); ``complete`` says the document is the
    source's whole current set (a subscribed feed), so records of that source missing from
    it are ended. A principal ``actor`` must be allowed to write ``agency``'s incidents
    (:class:`incidents.errors.Forbidden` before anything is stored)."""
    if isinstance(actor, Principal):
        authorize_write(actor, agency)
    report = ImportReport(doc.standard, doc.standard_version, agency, source,
                          doc.publisher, doc.published_at)
    imp = _Importer(store, agency, actor, match, report, doc.standard)
    kept, dropped = _dedupe(doc.records)
    report.records.extend(dropped)
    imp.known = imp.ledger.get_many(agency, [r.external_id for r in kept])
    try:
        for rec in kept:
            imp.apply(rec)
    finally:
        imp.flush()
    present = {r.external_id for r in kept}
    groups = sorted({r.group for r in kept if r.group})
    if complete:
        imp.end_missing(present, imp.ledger.rows(agency, source=source),
                        "no longer in the subscribed feed")
    if groups:
        imp.end_missing(present, imp.ledger.rows(agency, groups=groups),
                        "no longer in its DATEX II situation")
    return report


def detect_format(body: bytes | str) -> str:
    """``"datex2"`` for XML, ``"wzdx"`` for JSON (by the first non-blank character); raises
    :class:`incidents.adapters.common.DocumentRefused` for anything else."""
    from incidents.adapters.common import DocumentRefused

    head = (body[:512].decode("utf-8", "replace") if isinstance(body, bytes) else body[:512])
    head = head.lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        return "datex2"
    if head.startswith(("{", "[")):
        return "wzdx"
    raise DocumentRefused("neither XML (DATEX II) nor JSON (WZDx)", 415,
                          "unsupported-media-type")


def parse_document(body: bytes | str | dict[str, Any], fmt: str | None = None,
                   tables: LocationTables | None = None,
                   timezone: str | None = None) -> ParsedDocument:
    """Read a WZDx (``fmt="wzdx"``) or DATEX II (``"datex2"``) document; ``None`` detects
    the format. ``timezone``: the IANA zone DATEX II recurring times of day are read in (the
    city's). Raises :class:`incidents.adapters.common.DocumentRefused`."""
    from incidents.adapters.datex2 import parse_datex2
    from incidents.adapters.wzdx import parse_wzdx

    if isinstance(body, dict):
        fmt = fmt or "wzdx"
    fmt = fmt or detect_format(body)  # type: ignore[arg-type]
    if fmt == "datex2":
        if isinstance(body, dict):
            raise ValueError("a DATEX II document is XML text, not a JSON object")
        return parse_datex2(body, tables, timezone)
    if fmt == "wzdx":
        return parse_wzdx(body)
    raise ValueError(f"unknown import format {fmt!r} (wzdx or datex2)")
