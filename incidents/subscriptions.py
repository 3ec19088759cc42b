"""Subscribed WZDx and DATEX II feeds: polled like the GTFS-Realtime sources and imported.

In the settings file (``citynav serve --realtime FILE``, see
:mod:`incidents.realtime_sources`)::

    alert_c_tables = ["tables/fi-17.csv"]   # ALERT-C location tables (incidents.adapters.alertc)

    [[imports]]
    name = "kytc-wzdx"          # names the source; default: the URL or file
    url = "https://example.org/wzdx/feed.geojson"
    format = "wzdx"             # wzdx | datex2
    agency = "KYTC"             # the incidents belong to this agency
    interval_s = 60
    timeout_s = 10
    headers = { "x-api-key" = "..." }

    [[imports]]
    file = "/srv/feeds/situations.xml"   # re-read whenever it changes
    format = "datex2"
    agency = "FTA"

Each fetch is a *complete* document of the source: its records are applied
(:func:`incidents.imports.apply_document`) and the source's records missing from it are
ended. URLs are fetched with conditional requests (``If-None-Match`` / ``If-Modified-Since``;
a 304 changes nothing), a timeout and exponential backoff after failures (interval × 2ⁿ, at
most 10 min); files when their modification time or size changes. One process polls (a lease
in the store, as for the realtime poller), so replicas never import the same fetch twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incidents.adapters.alertc import LocationTables
from incidents.adapters.common import DocumentRefused
from incidents.errors import IncidentError
from incidents.imports import ImportReport, apply_document, parse_document
from incidents.polling import (
    LEASE_TTL,
    MAX_BACKOFF_S,
    FetchError,
    LeasedPoller,
    PollState,
    check_location,
)

if TYPE_CHECKING:
    from incidents.engine import IncidentEngine

__all__ = ["LEASE_NAME", "LEASE_TTL", "MAX_BACKOFF_S", "ImportPoller", "ImportSubscription"]

log = logging.getLogger("citynav.imports")

LEASE_NAME = "import-poller"


class ImportSubscription(BaseModel):
    """One subscribed WZDx or DATEX II feed (a URL or a watched file)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: str | None = None
    file: Path | None = None
    format: Literal["wzdx", "datex2"]
    agency: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
    interval_s: float = Field(default=60.0, ge=0.2, le=86_400)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_location(self) -> ImportSubscription:
        check_location(self.url, self.file)
        return self

    @property
    def source(self) -> str:
        """The source name recorded with each imported record."""
        return "subscription:" + (self.name or self.url or str(self.file))[:200]


@dataclass(kw_only=True)
class _SubState(PollState):
    cfg: ImportSubscription
    last_counts: dict[str, int] | None = None


class ImportPoller(LeasedPoller):
    """Polls the subscribed feeds in a background thread while this process holds the
    import lease, and imports what changed."""

    def __init__(self, engine: IncidentEngine, subscriptions: list[ImportSubscription],
                 tables: LocationTables | None = None, tick_s: float = 0.2) -> None:
        self.subs = [_SubState(cfg=s) for s in subscriptions]
        super().__init__(engine, self.subs, LEASE_NAME, "import poller", log, tick_s)
        self.tables = tables or LocationTables()
        #: the last report of each subscription (by source name)
        self.reports: dict[str, ImportReport] = {}

    def poll(self, st: _SubState) -> ImportReport | None:
        """Fetch one subscription now and import it if it changed; return the report."""
        cfg = st.cfg
        report = None
        try:
            body = self.fetch(st, cfg)
            if body is not None:
                doc = parse_document(body, cfg.format, self.tables,
                                     self.engine.publisher.timezone)
                report = apply_document(self.engine.store, doc, agency=cfg.agency,
                                        actor=f"import:{cfg.agency}", match=self.engine.match,
                                        source=cfg.source, complete=True)
                self.engine.sync()
                self.reports[cfg.source] = report
                st.last_counts = report.counts
                st.last_outcome = "imported"
            st.failures = 0
        except DocumentRefused as exc:
            st.last_outcome = f"refused: {exc.detail}"
            st.failures = 0  # the source answered; its content was refused
            log.warning("import %s refused: %s", cfg.source, exc.detail)
        except (OSError, FetchError, IncidentError) as exc:
            st.last_outcome = f"error: {exc}"
            st.failures += 1
            log.warning("import %s failed: %s", cfg.source, exc)
        finally:
            st.last_checked_at = datetime.now(UTC)
            st.schedule(cfg.interval_s)
        return report

    def status(self) -> list[dict[str, Any]]:
        """Per subscription: source, agency, format, last check, outcome, counts."""
        return [{"source": st.cfg.source, "agency": st.cfg.agency, "format": st.cfg.format,
                 "interval_s": st.cfg.interval_s,
                 "last_checked_at": st.last_checked_at.isoformat()
                 if st.last_checked_at else None,
                 "last_outcome": st.last_outcome, "last_counts": st.last_counts,
                 "consecutive_failures": st.failures, "etag": st.etag} for st in self.subs]
