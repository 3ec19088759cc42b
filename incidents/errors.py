"""Specific exceptions raised by the incident layer.

Each exception carries an HTTP status and a short title so the API can turn it into an
RFC 9457 problem-details document with :meth:`IncidentError.to_problem` without knowing the
individual classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

PROBLEM_TYPE_BASE = "https://citynav.dev/problems/"


@dataclass(frozen=True)
class FieldError:
    """One validation problem: where (``loc``, a path of keys/indexes) and what (``msg``)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "value_error"

    @property
    def pointer(self) -> str:
        """The location as a JSON pointer (RFC 6901), e.g. ``/geometry/coordinates/3/1``."""
        parts = (str(p).replace("~", "~0").replace("/", "~1") for p in self.loc)
        return "/" + "/".join(parts) if self.loc else ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form used in problem details (``errors`` member)."""
        return {"loc": list(self.loc), "pointer": self.pointer, "msg": self.msg, "type": self.type}


class IncidentError(Exception):
    """Base class of every error raised by ``incidents``; maps to an HTTP status."""

    status: int = 500
    title: str = "Incident store error"
    code: str = "incident-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """Return an RFC 9457 problem-details dict (``type``, ``title``, ``status``, ...)."""
        problem: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            problem["instance"] = instance
        problem.update(self._extra_members())
        return problem

    def _extra_members(self) -> dict[str, Any]:
        return {}


class NotFound(IncidentError):  # noqa: N818 - names are part of the API
    """The incident (or key) does not exist. HTTP 404."""

    status = 404
    title = "Not found"
    code = "not-found"

    def __init__(self, incident_id: str, what: str = "incident") -> None:
        super().__init__(f"{what} {incident_id!r} does not exist")
        self.incident_id = incident_id


class VersionConflict(IncidentError):  # noqa: N818 - names are part of the API
    """The caller's expected version is not the stored one. HTTP 412 (If-Match failed)."""

    status = 412
    title = "Version mismatch"
    code = "version-conflict"

    def __init__(self, incident_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"incident {incident_id!r} is at version {actual}, not the expected {expected}"
        )
        self.incident_id = incident_id
        self.expected = expected
        self.actual = actual

    def _extra_members(self) -> dict[str, Any]:
        return {"expected_version": self.expected, "current_version": self.actual}


class Conflict(IncidentError):  # noqa: N818 - names are part of the API
    """The change conflicts with stored state, e.g. duplicate (agency, external_id). HTTP 409."""

    status = 409
    title = "Conflict"
    code = "conflict"


class InvalidTransition(Conflict):
    """An illegal status lifecycle transition, e.g. ``resolved -> active``. HTTP 409."""

    title = "Illegal status transition"
    code = "invalid-transition"

    def __init__(self, incident_id: str | None, from_status: str, to_status: str) -> None:
        where = f"incident {incident_id!r}: " if incident_id else ""
        super().__init__(f"{where}status cannot change from {from_status!r} to {to_status!r}")
        self.from_status = from_status
        self.to_status = to_status

    def _extra_members(self) -> dict[str, Any]:
        return {"from_status": self.from_status, "to_status": self.to_status}


class Forbidden(IncidentError):  # noqa: N818 - names are part of the API
    """The principal may not perform this change (role or agency). HTTP 403."""

    status = 403
    title = "Forbidden"
    code = "forbidden"


class InvalidIncident(IncidentError):  # noqa: N818 - names are part of the API
    """The request data is invalid; ``errors`` lists every field path and message. HTTP 422."""

    status = 422
    title = "Invalid incident"
    code = "invalid-incident"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        self.errors = list(errors)
        if detail is None:
            detail = "; ".join(f"{e.pointer or '/'}: {e.msg}" for e in self.errors[:5])
            if len(self.errors) > 5:
                detail += f"; ... ({len(self.errors)} errors)"
        super().__init__(detail)

    @classmethod
    def from_validation_error(
        cls, exc: ValidationError, prefix: Iterable[str | int] = ()
    ) -> InvalidIncident:
        """Convert a pydantic ``ValidationError`` keeping each error's field path."""
        pre = tuple(prefix)
        errors = [
            FieldError(loc=pre + tuple(err["loc"]), msg=err["msg"], type=err["type"])
            for err in exc.errors(include_url=False, include_input=False)
        ]
        return cls(errors)

    @classmethod
    def single(
        cls, loc: Iterable[str | int], msg: str, type_: str = "value_error"
    ) -> InvalidIncident:
        """Build an error about a single field."""
        return cls([FieldError(tuple(loc), msg, type_)])

    def _extra_members(self) -> dict[str, Any]:
        return {"errors": [e.as_dict() for e in self.errors]}


class StoreConfigError(IncidentError):
    """The store URL or database is unusable (unknown scheme, bad schema name, ...)."""

    status = 500
    title = "Store configuration error"
    code = "store-config"
