"""The incident store: validated writes, append-only history and an ordered change log.

One :class:`IncidentStore` class works on both backends (:mod:`incidents.db`), chosen by URL
(:func:`open_store`). Every change (create, patch, cancel, resolve, delete) is one
transaction that

1. takes the global write lock (so changes commit in sequence order),
2. checks existence, authorization, the caller's expected ``version``, the lifecycle and the
   merged document (nothing is written when any check fails),
3. writes the incident row, appends a history row ``(seq, incident_id, version, action, actor,
   recorded_at, before_doc, after_doc)`` with the next gap-free ``seq`` from ``counters``,
4. on PostgreSQL ``NOTIFY citynav_incidents, '<seq>'`` (delivered at commit).

Replicas read :meth:`IncidentStore.changes_since` from their last ``seq`` and then follow
:meth:`IncidentStore.listen`, which never skips or reorders a change.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from incidents.auth import Principal, Role, authorize_write
from incidents.changelog import (
    HISTORY_COLS,
    MAX_PAGE,
    Change,
    ChangeAction,
    change_from_row,
    changes_since,
    follow,
)
from incidents.db import Database, Tx, connect
from incidents.errors import (
    Conflict,
    InvalidIncident,
    NotFound,
    VersionConflict,
)
from incidents.migrate import applied_versions, migrate
from incidents.model import (
    Actor,
    AgencyId,
    Incident,
    IncidentCreate,
    IncidentPatch,
    IncidentStatus,
    Point,
    check_doc_size,
    check_transition,
    default_status,
    geometry_bounds,
    is_in_effect,
    to_shapely,
    utc_now,
    validate_model,
)

_ACTOR = TypeAdapter(Actor)
_AGENCY = TypeAdapter(AgencyId)
_LIVE = (IncidentStatus.SCHEDULED.value, IncidentStatus.ACTIVE.value)
_TERMINAL = frozenset({IncidentStatus.RESOLVED, IncidentStatus.CANCELLED})
_AUDIT_FIELDS = frozenset({"updated_by", "updated_at", "version"})

ActorLike = str | Principal
"""Who makes a change: a trusted actor name (CLI, importer) or an authenticated principal,
whose role and agency are then enforced."""
BBox = tuple[float, float, float, float]
"""``(min_lon, min_lat, max_lon, max_lat)`` in WGS 84 degrees."""


_STATUS_ACTION = {
    IncidentStatus.ACTIVE: ChangeAction.ACTIVATE,
    IncidentStatus.RESOLVED: ChangeAction.RESOLVE,
    IncidentStatus.CANCELLED: ChangeAction.CANCEL,
}


def _check_limit(limit: int, offset: int = 0) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidIncident.single(("limit",), f"must be an integer in 1..{MAX_PAGE}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidIncident.single(("offset",), "must be a non-negative integer")


def _check_bbox(bbox: Iterable[float]) -> BBox:
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InvalidIncident.single(
            ("bbox",), "expected min_lon,min_lat,max_lon,max_lat"
        ) from None
    ok = -180 <= west <= east <= 180 and -90 <= south <= north <= 90  # NaN fails every comparison
    if not ok:
        raise InvalidIncident.single(
            ("bbox",), "need -180<=min_lon<=max_lon<=180 and -90<=min_lat<=max_lat<=90"
        )
    return west, south, east, north


def _check_aware(at: datetime, name: str = "at") -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise InvalidIncident.single((name,), "must be a timezone-aware datetime")
    return at


class IncidentStore:
    """Incidents with history and a change log, over SQLite or PostgreSQL (same behaviour).

    Use :func:`open_store` to create one; it applies schema migrations. Thread-safe (calls are
    serialised on one connection); several processes may share one database.
    """

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.db = db
        self._clock = clock

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The store URL this store was opened with."""
        return self.db.url

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.db.dialect

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def __enter__(self) -> IncidentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """Highest applied migration version."""
        versions = applied_versions(self.db)
        return max(versions, default=0)

    # -- helpers -------------------------------------------------------------------------
    def now(self) -> datetime:
        """The store clock's current time (aware); stamps ``updated_at`` and history."""
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("store clock must return timezone-aware datetimes")
        return now

    @staticmethod
    def _actor_name(actor: ActorLike) -> str:
        if isinstance(actor, Principal):
            return actor.actor
        try:
            return _ACTOR.validate_python(actor)
        except ValidationError as exc:
            raise InvalidIncident.from_validation_error(exc, ("actor",)) from None

    @staticmethod
    def _next(tx: Tx, counter: str) -> int:
        row = tx.one(
            "UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value", (counter,)
        )
        assert row is not None, f"counter {counter} missing"
        return int(row[0])

    def _load(self, tx: Tx, incident_id: str) -> Incident:
        if not isinstance(incident_id, str):
            raise NotFound(repr(incident_id))
        row = tx.one("SELECT doc FROM incidents WHERE id = ?", (incident_id,))
        if row is None:
            raise NotFound(incident_id)
        return Incident.model_validate(self.db.json_out(row[0]))

    @staticmethod
    def _build(fields: Mapping[str, Any]) -> Incident:
        try:
            return Incident.model_validate(fields)
        except ValidationError as exc:
            raise InvalidIncident.from_validation_error(exc) from None

    def _check_external_id(
        self, tx: Tx, agency: str, external_id: str | None, own_id: str | None = None
    ) -> None:
        if external_id is None:
            return
        row = tx.one(
            "SELECT id FROM incidents WHERE agency = ? AND external_id = ?", (agency, external_id)
        )
        if row is not None and row[0] != own_id:
            raise Conflict(
                f"agency {agency!r} already has incident {row[0]} with external_id {external_id!r}"
            )

    def _row(self, inc: Incident, seq: int, doc_text: str) -> tuple[Any, ...]:
        min_lon, min_lat, max_lon, max_lat = geometry_bounds(inc.geometry)
        return (
            inc.agency,
            inc.external_id,
            inc.type.value,
            inc.severity.value,
            inc.status.value,
            self.db.ts_in(inc.start),
            None if inc.end is None else self.db.ts_in(inc.end),
            min_lon,
            min_lat,
            max_lon,
            max_lat,
            inc.version,
            self.db.ts_in(inc.created_at),
            self.db.ts_in(inc.updated_at),
            seq,
            doc_text,
        )

    def _append_history(
        self,
        tx: Tx,
        seq: int,
        incident_id: str,
        version: int | None,
        action: ChangeAction,
        actor: str,
        at: datetime,
        before: str | None,
        after: str | None,
    ) -> None:
        tx.execute(
            f"INSERT INTO incident_history ({HISTORY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, incident_id, version, action.value, actor, self.db.ts_in(at), before, after),
        )
        self.db.notify(tx, str(seq))

    @staticmethod
    def _check_version(inc: Incident, if_match_version: int) -> None:
        if isinstance(if_match_version, bool) or not isinstance(if_match_version, int):
            raise InvalidIncident.single(("if_match_version",), "must be an integer")
        if inc.version != if_match_version:
            raise VersionConflict(inc.id, if_match_version, inc.version)

    # -- writes --------------------------------------------------------------------------
    def create(
        self,
        data: IncidentCreate | Mapping[str, Any] | str | bytes,
        actor: ActorLike,
        agency: str | None = None,
    ) -> Incident:
        """Validate and store a new incident; return it with its server-assigned ``id``.

        ``agency`` defaults to a traffic centre principal's own agency; a trusted string actor
        or an admin must name it. Raises :class:`InvalidIncident`, :class:`Forbidden`, or
        :class:`Conflict` (duplicate ``(agency, external_id)``).
        """
        if isinstance(actor, Principal) and actor.role == Role.READER:
            authorize_write(actor, agency or "")  # raises Forbidden before anything else
        payload = validate_model(IncidentCreate, data)
        actor_name = self._actor_name(actor)
        if agency is None and isinstance(actor, Principal):
            agency = actor.agency
        if agency is None:
            raise InvalidIncident.single(("agency",), "agency is required")
        try:
            agency = _AGENCY.validate_python(agency)
        except ValidationError as exc:
            raise InvalidIncident.from_validation_error(exc, ("agency",)) from None
        if isinstance(actor, Principal):
            authorize_write(actor, agency)
        now = self.now()
        fields = payload.model_dump(exclude={"status"})
        fields.update(
            id="INC-1",  # placeholder until the counter is read inside the transaction
            agency=agency,
            status=payload.status or default_status(payload.start, now),
            created_by=actor_name,
            updated_by=actor_name,
            created_at=now,
            updated_at=now,
            version=1,
        )
        draft = self._build(fields)
        with self.db.transaction(write=True) as tx:
            self._check_external_id(tx, agency, draft.external_id)
            inc = draft.model_copy(update={"id": f"INC-{self._next(tx, 'incident_id')}"})
            doc_text = check_doc_size(inc.to_doc())
            seq = self._next(tx, "change_seq")
            num = int(inc.id[4:])
            try:
                tx.execute(
                    "INSERT INTO incidents (id, num, agency, external_id, type, severity, status,"
                    " start_at, end_at, min_lon, min_lat, max_lon, max_lat, version, created_at,"
                    " updated_at, last_seq, doc)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (inc.id, num, *self._row(inc, seq, doc_text)),
                )
            except Exception as exc:
                if self.db.is_unique_violation(exc):
                    raise Conflict(f"duplicate incident for agency {agency!r}: {exc}") from None
                raise
            self._append_history(
                tx, seq, inc.id, 1, ChangeAction.CREATE, actor_name, now, None, doc_text
            )
        return inc

    def patch(
        self,
        incident_id: str,
        changes: IncidentPatch | Mapping[str, Any] | str | bytes,
        actor: ActorLike,
        if_match_version: int,
    ) -> Incident:
        """Apply a partial change if the stored version equals ``if_match_version``.

        Returns the new incident (version + 1), or the unchanged one if the patch changes
        nothing. Raises :class:`NotFound`, :class:`Forbidden`, :class:`VersionConflict`,
        :class:`InvalidTransition`, :class:`Conflict` (terminal status, duplicate external
        id) or :class:`InvalidIncident`.
        """
        patch = validate_model(IncidentPatch, changes)
        actor_name = self._actor_name(actor)
        with self.db.transaction(write=True) as tx:
            current = self._load(tx, incident_id)
            if isinstance(actor, Principal):
                authorize_write(actor, current.agency)
            self._check_version(current, if_match_version)
            if current.status in _TERMINAL:
                raise Conflict(
                    f"incident {current.id} is {current.status.value}; it can no longer change"
                )
            new_status = patch.status if "status" in patch.model_fields_set else None
            if new_status is not None:
                check_transition(current.status, new_status, current.id)
            merged = current.model_dump()
            merged.update(patch.model_dump(include=patch.model_fields_set))
            now = self.now()
            merged.update(updated_by=actor_name, updated_at=now, version=current.version + 1)
            new = self._build(merged)
            audit = set(_AUDIT_FIELDS)
            if new.model_dump(exclude=audit) == current.model_dump(exclude=audit):
                return current
            if new.external_id != current.external_id:
                self._check_external_id(tx, new.agency, new.external_id, new.id)
            doc_text = check_doc_size(new.to_doc())
            seq = self._next(tx, "change_seq")
            tx.execute(
                "UPDATE incidents SET agency = ?, external_id = ?, type = ?, severity = ?,"
                " status = ?, start_at = ?, end_at = ?, min_lon = ?, min_lat = ?, max_lon = ?,"
                " max_lat = ?, version = ?, created_at = ?, updated_at = ?, last_seq = ?, doc = ?"
                " WHERE id = ?",
                (*self._row(new, seq, doc_text), new.id),
            )
            action = (
                _STATUS_ACTION.get(new.status, ChangeAction.UPDATE)
                if new.status != current.status
                else ChangeAction.UPDATE
            )
            self._append_history(
                tx,
                seq,
                new.id,
                new.version,
                action,
                actor_name,
                now,
                check_doc_size(current.to_doc()),
                doc_text,
            )
        return new

    def cancel(self, incident_id: str, actor: ActorLike, if_match_version: int) -> Incident:
        """Set status ``cancelled`` (from scheduled or active). Same errors as :meth:`patch`."""
        return self.patch(
            incident_id, {"status": IncidentStatus.CANCELLED.value}, actor, if_match_version
        )

    def resolve(self, incident_id: str, actor: ActorLike, if_match_version: int) -> Incident:
        """Set status ``resolved`` (from active). Same errors as :meth:`patch`."""
        return self.patch(
            incident_id, {"status": IncidentStatus.RESOLVED.value}, actor, if_match_version
        )

    def delete(self, incident_id: str, actor: ActorLike, if_match_version: int) -> None:
        """Remove an incident (history keeps it; its external id becomes free again).

        Raises :class:`NotFound`, :class:`Forbidden` or :class:`VersionConflict`.
        """
        actor_name = self._actor_name(actor)
        with self.db.transaction(write=True) as tx:
            current = self._load(tx, incident_id)
            if isinstance(actor, Principal):
                authorize_write(actor, current.agency)
            self._check_version(current, if_match_version)
            seq = self._next(tx, "change_seq")
            tx.execute("DELETE FROM incidents WHERE id = ?", (current.id,))
            self._append_history(
                tx,
                seq,
                current.id,
                None,
                ChangeAction.DELETE,
                actor_name,
                self.now(),
                check_doc_size(current.to_doc()),
                None,
            )

    # -- reads ---------------------------------------------------------------------------
    def get(self, incident_id: str) -> Incident:
        """Return the current incident. Raises :class:`NotFound`."""
        with self.db.transaction() as tx:
            return self._load(tx, incident_id)

    def find_external(self, agency: str, external_id: str) -> Incident | None:
        """The incident of ``agency`` with the source's id ``external_id``, or ``None``."""
        with self.db.transaction() as tx:
            row = tx.one("SELECT doc FROM incidents WHERE agency = ? AND external_id = ?",
                         (agency, external_id))
        return None if row is None else Incident.model_validate(self.db.json_out(row[0]))

    def list_incidents(
        self,
        *,
        bbox: Iterable[float] | None = None,
        status: IncidentStatus | str | Iterable[IncidentStatus | str] | None = None,
        at: datetime | None = None,
        agency: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Incident]:
        """Current incidents, oldest first, filtered by all given criteria.

        ``bbox`` keeps incidents whose geometry intersects the box; ``status`` one or several
        stored statuses; ``at`` only those in effect at that instant (:func:`is_in_effect`);
        ``agency`` one source agency. Raises :class:`InvalidIncident` for bad arguments.
        """
        _check_limit(limit, offset)
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if status is not None:
            items = [status] if isinstance(status, str) else builtins.list(status)
            try:
                statuses = [IncidentStatus(s).value for s in items]
            except ValueError as exc:
                raise InvalidIncident.single(("status",), str(exc)) from None
            if not statuses:
                return []
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        if agency is not None:
            where.append("agency = ?")
            params.append(agency)
        box = None
        if bbox is not None:
            box = _check_bbox(bbox)
            west, south, east, north = box
            where.append("min_lon <= ? AND max_lon >= ? AND min_lat <= ? AND max_lat >= ?")
            params.extend([east, west, north, south])
        if at is not None:
            _check_aware(at)
            where.append("status IN (?, ?) AND start_at <= ? AND (end_at IS NULL OR end_at > ?)")
            params.extend([*_LIVE, self.db.ts_in(at), self.db.ts_in(at)])
        sql = "SELECT doc FROM incidents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY num"
        exact = at is not None or box is not None
        if not exact:
            sql += " LIMIT ? OFFSET ?"
            params.extend([limit, offset])
        with self.db.transaction() as tx:
            rows = tx.execute(sql, params)
        found = [Incident.model_validate(self.db.json_out(r[0])) for r in rows]
        if not exact:
            return found
        if box is not None:
            import shapely

            query = shapely.box(*box)
            found = [
                i
                for i in found
                if isinstance(i.geometry, Point) or query.intersects(to_shapely(i.geometry))
            ]
        if at is not None:
            found = [i for i in found if is_in_effect(i, at)]
        return found[offset : offset + limit]

    list = list_incidents  # the brief's name; same method

    def active_at(
        self, at: datetime, *, as_recorded_at: datetime | None = None
    ) -> builtins.list[Incident]:
        """Incidents in effect at ``at`` as the store knew them at ``as_recorded_at``
        (default: ``at`` itself), reconstructed from history.

        So ``active_at(08:12)`` answers "what was in effect at 08:12 according to what had been
        recorded by 08:12", unaffected by later edits, resolutions or deletions; pass
        ``as_recorded_at=now`` for "what we know now was in effect then".
        """
        _check_aware(at)
        known_at = _check_aware(as_recorded_at, "as_recorded_at") if as_recorded_at else at
        with self.db.transaction() as tx:
            rows = tx.execute(
                "SELECT h.after_doc FROM incident_history h JOIN ("
                " SELECT incident_id, MAX(seq) AS seq FROM incident_history"
                " WHERE recorded_at <= ? GROUP BY incident_id) last ON h.seq = last.seq"
                " WHERE h.after_doc IS NOT NULL",
                (self.db.ts_in(known_at),),
            )
        found = [Incident.model_validate(self.db.json_out(r[0])) for r in rows]
        found.sort(key=lambda i: int(i.id[4:]))
        return [i for i in found if is_in_effect(i, at)]

    def history(self, incident_id: str) -> builtins.list[Change]:
        """All changes of one incident, oldest first. Raises :class:`NotFound`."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                f"SELECT {HISTORY_COLS} FROM incident_history WHERE incident_id = ? ORDER BY seq",
                (incident_id,),
            )
        if not rows:
            raise NotFound(incident_id)
        return [change_from_row(self.db, r) for r in rows]

    def changes_since(self, seq: int, limit: int = MAX_PAGE) -> builtins.list[Change]:
        """Committed changes with sequence number ``> seq`` in ascending order (at most
        ``limit``). Sequence numbers are gap-free and committed in order."""
        _check_limit(limit)
        return changes_since(self.db, seq, limit)

    def count_by_status(self) -> dict[str, int]:
        """Stored incidents per status (deleted ones are not counted)."""
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT status, COUNT(*) FROM incidents GROUP BY status")
        return {str(r[0]): int(r[1]) for r in rows}

    def last_seq(self) -> int:
        """The sequence number of the latest committed change (0 if none)."""
        with self.db.transaction() as tx:
            row = tx.one("SELECT value FROM counters WHERE name = 'change_seq'")
        return int(row[0]) if row else 0

    def listen(
        self,
        since_seq: int,
        *,
        poll_interval_s: float = 2.0,
        idle_timeout_s: float | None = None,
    ) -> Iterator[Change]:
        """Yield every change after ``since_seq`` in order, then new ones as they commit (see
        :func:`incidents.changelog.follow`)."""
        return follow(self.db, since_seq, poll_interval_s=poll_interval_s,
                      idle_timeout_s=idle_timeout_s)


def open_store(url: str, *, clock: Callable[[], datetime] | None = None) -> IncidentStore:
    """Open (and migrate) the store at ``url``: ``sqlite:///path.db`` or
    ``postgresql://user@host:port/db[?schema=name]``. Raises ``StoreConfigError``."""
    db = connect(url)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return IncidentStore(db, clock=clock or utc_now)


__all__ = [
    "MAX_PAGE",
    "ActorLike",
    "BBox",
    "Change",
    "ChangeAction",
    "IncidentStore",
    "open_store",
]
