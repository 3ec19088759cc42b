"""Build-time validation of static GTFS: fatal errors as exceptions, row problems in a report.

Fatal problems (a required file or column is missing, a timezone is unknown) raise a
``GtfsError`` subclass naming the file, row and field. Everything else is a bad *row*: it is
counted in a :class:`ValidationReport` (per file, errors and warnings, with the first few
examples carrying row number and field) and the row is skipped, so one bad line never stops a
build. Row numbers are 1-based file line numbers (the header is line 1, the first record 2).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

#: Files a feed must contain (plus calendar.txt or calendar_dates.txt).
REQUIRED_FILES: tuple[str, ...] = ("agency", "stops", "routes", "trips", "stop_times")

#: Columns that must be present (as a header) when the file is present.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "agency": ("agency_name", "agency_timezone"),
    "stops": ("stop_id",),
    "routes": ("route_id", "route_type"),
    "trips": ("route_id", "service_id", "trip_id"),
    "stop_times": ("trip_id", "stop_id", "stop_sequence", "arrival_time", "departure_time"),
    "calendar": (
        "service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
        "sunday", "start_date", "end_date",
    ),
    "calendar_dates": ("service_id", "date", "exception_type"),
    "frequencies": ("trip_id", "start_time", "end_time", "headway_secs"),
    "transfers": ("from_stop_id", "to_stop_id", "transfer_type"),
    "shapes": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
}


class GtfsError(Exception):
    """A fatal problem with a GTFS feed; carries feed, file, row and field where known."""

    def __init__(
        self,
        message: str,
        *,
        feed: str | None = None,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.feed = feed
        self.file = file
        self.row = row
        self.field = field
        where = ", ".join(
            f"{k}={v}" for k, v in (("feed", feed), ("file", file), ("row", row), ("field", field))
            if v is not None
        )
        super().__init__(f"{message} ({where})" if where else message)


class MissingFileError(GtfsError):
    """A required file (e.g. ``stops.txt``) is absent from the feed."""


class MissingColumnError(GtfsError):
    """A required column is absent from a file's header."""


class InvalidValueError(GtfsError):
    """A value that the whole feed depends on (e.g. ``agency_timezone``) is invalid."""


@dataclass(frozen=True)
class Issue:
    """One problem found in one row of one file."""

    severity: str  # "error" (row skipped) or "warning" (row kept, maybe repaired)
    feed: str
    file: str
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        row = f" row {self.row}" if self.row is not None else ""
        fld = f" [{self.field}]" if self.field else ""
        return f"{self.severity}: {self.feed}/{self.file}.txt{row}{fld}: {self.message}"


@dataclass
class ValidationReport:
    """Counts of errors and warnings per (feed, file) plus the first ``max_examples`` of each.

    ``error`` means the row was skipped; ``warning`` means it was kept (possibly repaired).
    """

    max_examples: int = 5
    counts: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    examples: dict[tuple[str, str, str], list[Issue]] = field(
        default_factory=lambda: defaultdict(list)
    )
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        severity: str,
        feed: str,
        file: str,
        message: str,
        *,
        rows: Any = None,
        field: str | None = None,
        count: int | None = None,
    ) -> None:
        """Record ``count`` issues (default: one per entry of ``rows``, or one)."""
        row_list: list[int | None] = [] if rows is None else \
            [int(r) for r in list(rows)[: self.max_examples]]
        n = count if count is not None else (len(rows) if rows is not None else 1)
        if n <= 0:
            return
        key = (feed, file, severity)
        self.counts[key] += n
        ex = self.examples[key]
        for r in row_list or [None]:
            if len(ex) >= self.max_examples:
                break
            ex.append(Issue(severity, feed, file, r, field, message))

    def error(self, feed: str, file: str, message: str, **kw: Any) -> None:
        """Record a row error (the row is skipped)."""
        self.add("error", feed, file, message, **kw)

    def warning(self, feed: str, file: str, message: str, **kw: Any) -> None:
        """Record a warning (the row is kept)."""
        self.add("warning", feed, file, message, **kw)

    def note(self, message: str) -> None:
        """Record an informational line (e.g. what was interpolated or expanded)."""
        self.notes.append(message)

    def count(self, severity: str | None = None, file: str | None = None) -> int:
        """Total number of issues, optionally filtered by severity and file."""
        return sum(
            n for (_f, fl, sev), n in self.counts.items()
            if (severity is None or sev == severity) and (file is None or fl == file)
        )

    @property
    def n_errors(self) -> int:
        """Number of skipped rows over all files."""
        return self.count("error")

    @property
    def n_warnings(self) -> int:
        """Number of warnings over all files."""
        return self.count("warning")

    def issues(self, severity: str | None = None, file: str | None = None) -> list[Issue]:
        """The stored examples, optionally filtered."""
        return [
            i for (_f, fl, sev), lst in self.examples.items() for i in lst
            if (severity is None or sev == severity) and (file is None or fl == file)
        ]

    def summary(self) -> str:
        """A human-readable multi-line summary for the user."""
        lines = [f"GTFS validation: {self.n_errors} errors (rows skipped), "
                 f"{self.n_warnings} warnings"]
        for key in sorted(self.counts):
            feed, file, sev = key
            lines.append(f"  {feed}/{file}.txt: {self.counts[key]} {sev}s")
            for issue in self.examples[key]:
                lines.append(f"    - {issue}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form: totals, per-file counts and examples, notes."""
        files: dict[str, dict[str, Any]] = {}
        for (feed, file, sev), n in sorted(self.counts.items()):
            entry = files.setdefault(f"{feed}/{file}.txt", {"errors": 0, "warnings": 0,
                                                            "examples": []})
            entry["errors" if sev == "error" else "warnings"] += n
            entry["examples"].extend(
                {"severity": i.severity, "row": i.row, "field": i.field, "message": i.message}
                for i in self.examples[(feed, file, sev)]
            )
        return {"errors": self.n_errors, "warnings": self.n_warnings, "files": files,
                "notes": list(self.notes)}
