"""Where GTFS-Realtime comes from: the settings file, polled URLs and watched files.

The settings file (TOML, or JSON by its ``.json`` suffix; ``citynav serve --realtime FILE``)::

    max_age_s = 600            # refuse messages whose header is older than this
    future_tolerance_s = 120   # ... or newer than now + this
    mismatch_by_stop_id = false
    bus_probes = true          # vehicle positions of road vehicles become speed observations

    [[sources]]
    feed_id = "BART"           # a static feed of the snapshot
    kind = "trip_updates"      # trip_updates | alerts | vehicle_positions
    url = "https://example.org/bart/tripupdates.pb"
    interval_s = 30
    timeout_s = 10
    headers = { "x-api-key" = "..." }

    [[sources]]
    feed_id = "BART"
    kind = "alerts"
    file = "/srv/feeds/bart-alerts.pb"   # re-read whenever it changes
    format = "protobuf"                  # or "json"

The same file subscribes WZDx and DATEX II feeds (``[[imports]]``) and names ALERT-C
location tables (``alert_c_tables``): see :mod:`incidents.subscriptions`.

Every setting can also come from ``CITYNAV_REALTIME_<NAME>`` environment variables.

**Polling** (:class:`RealtimePoller`): URLs with conditional requests (``If-None-Match`` /
``If-Modified-Since``; a 304 changes nothing), a timeout, and exponential backoff after
failures (interval × 2ⁿ, at most 10 min); files whenever their modification time or size
changes (checked every ``interval_s``, default 1 s). Whatever arrives goes through
:meth:`incidents.engine.IncidentEngine.ingest_realtime` — checked, logged, applied — exactly
like a push. One process polls (a lease in the store), so several workers or replicas never
log the same fetch twice; another takes over within ``LEASE_TTL`` when it stops.
"""

from __future__ import annotations

import json
import logging
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gtfs.realtime.decode import FeedRejected
from incidents.polling import (
    LEASE_TTL,
    MAX_BACKOFF_S,
    FetchError,
    LeasedPoller,
    PollState,
    check_location,
)
from incidents.realtime import UnknownFeed
from incidents.subscriptions import ImportSubscription

if TYPE_CHECKING:
    from incidents.engine import IncidentEngine

__all__ = ["LEASE_NAME", "LEASE_TTL", "MAX_BACKOFF_S", "RealtimeConfigError", "RealtimePoller",
           "RealtimeSettings", "SourceConfig"]

log = logging.getLogger("citynav.realtime")

LEASE_NAME = "realtime-poller"


class RealtimeConfigError(ValueError):
    """An unreadable or invalid realtime settings file (the message says what and where)."""


class SourceConfig(BaseModel):
    """One polled URL or watched file of one feed and kind."""

    model_config = ConfigDict(extra="forbid")

    feed_id: str = Field(min_length=1)
    kind: Literal["trip_updates", "alerts", "vehicle_positions"]
    url: str | None = None
    file: Path | None = None
    interval_s: float | None = Field(default=None, ge=0.2, le=86_400)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    headers: dict[str, str] = Field(default_factory=dict)
    format: Literal["protobuf", "json"] = "protobuf"

    @model_validator(mode="after")
    def _one_location(self) -> SourceConfig:
        check_location(self.url, self.file)
        return self

    @property
    def every_s(self) -> float:
        """The polling interval (default 30 s for a URL, 1 s for a file)."""
        if self.interval_s is not None:
            return self.interval_s
        return 30.0 if self.url is not None else 1.0

    @property
    def name(self) -> str:
        """``url:…`` or ``file:…`` (the log's source)."""
        return f"url:{self.url}" if self.url is not None else f"file:{self.file}"


class RealtimeSettings(BaseSettings):
    """Realtime limits and sources (see the module docstring)."""

    model_config = SettingsConfigDict(env_prefix="CITYNAV_REALTIME_", extra="forbid")

    max_age_s: float = Field(default=600.0, gt=0)
    future_tolerance_s: float = Field(default=120.0, ge=0)
    mismatch_by_stop_id: bool = False
    min_known_share: float = Field(default=0.5, ge=0, le=1)
    bus_probes: bool = True
    sources: list[SourceConfig] = Field(default_factory=list)
    #: subscribed WZDx / DATEX II feeds (see :mod:`incidents.subscriptions`)
    imports: list[ImportSubscription] = Field(default_factory=list)
    #: ALERT-C location tables for DATEX II imports (:mod:`incidents.adapters.alertc`)
    alert_c_tables: list[Path] = Field(default_factory=list)

    @classmethod
    def from_file(cls, path: str | Path) -> RealtimeSettings:
        """Read a TOML (or ``.json``) settings file; relative ``file`` paths are resolved
        against its directory. Raises :class:`RealtimeConfigError`."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise RealtimeConfigError(f"{p}: cannot read ({exc.strerror})") from None
        try:
            data: Any = json.loads(raw) if p.suffix.lower() == ".json" else \
                tomllib.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RealtimeConfigError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}"
                                      f": {exc}") from None
        if not isinstance(data, dict):
            raise RealtimeConfigError(f"{p}: expected a table of settings")
        try:
            settings = cls(**data)
        except ValidationError as exc:
            lines = [f"  {'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
                     for e in exc.errors()]
            raise RealtimeConfigError(f"{p}: invalid realtime settings\n" + "\n".join(lines)
                                      ) from None
        for s in settings.sources:
            if s.file is not None and not s.file.is_absolute():
                s.file = (p.parent / s.file).resolve()
        for sub in settings.imports:
            if sub.file is not None and not sub.file.is_absolute():
                sub.file = (p.parent / sub.file).resolve()
        settings.alert_c_tables = [t if t.is_absolute() else (p.parent / t).resolve()
                                   for t in settings.alert_c_tables]
        return settings

    def check_feeds(self, feed_ids: tuple[str, ...]) -> None:
        """Every source names a static feed of the snapshot (else RealtimeConfigError)."""
        bad = sorted({s.feed_id for s in self.sources} - set(feed_ids))
        if bad:
            raise RealtimeConfigError(f"realtime sources name feeds not in the snapshot: "
                                      f"{', '.join(bad)} (feeds: {', '.join(feed_ids)})")


@dataclass(kw_only=True)
class _SourceState(PollState):
    cfg: SourceConfig
    # last_outcome: applied | not_modified | unchanged | rejected | error


class RealtimePoller(LeasedPoller):
    """Polls the configured sources in a background thread while this process holds the
    poller lease (see the module docstring)."""

    def __init__(self, engine: IncidentEngine, sources: list[SourceConfig],
                 tick_s: float = 0.2) -> None:
        self.sources = [_SourceState(cfg=s) for s in sources]
        super().__init__(engine, self.sources, LEASE_NAME, "realtime poller", log, tick_s)

    def poll(self, st: _SourceState) -> None:
        """Fetch one source now and ingest what changed."""
        cfg = st.cfg
        try:
            body = self.fetch(st, cfg)
            if body is not None:
                self.engine.ingest_realtime(cfg.feed_id, body, cfg.format, cfg.name, cfg.kind)
                st.last_outcome = "applied"
            st.failures = 0
        except FeedRejected as exc:
            st.last_outcome = f"rejected: {exc.reason}"
            st.failures = 0  # the source answered; its content was refused (and logged)
        except UnknownFeed as exc:
            st.last_outcome = f"error: {exc}"
            st.failures += 1
        except (OSError, FetchError) as exc:
            st.last_outcome = f"error: {exc}"
            st.failures += 1
            self._record_error(st, str(exc))
        finally:
            st.last_checked_at = datetime.now(UTC)
            st.schedule(cfg.every_s)
            self._publish(st)

    def _record_error(self, st: _SourceState, detail: str) -> None:
        """A fetch that failed (network, HTTP status, unreadable file) is logged as refused
        with reason ``fetch_failed``, so every process's status shows it."""
        cfg = st.cfg
        try:
            self.engine.realtime_log.append_rejection(cfg.feed_id, cfg.kind, cfg.name,
                                                      "fetch_failed", detail,
                                                      self.engine.clock.now())
        except Exception:  # noqa: BLE001 - the store may be what failed
            log.warning("could not log a failed fetch of %s", cfg.name)

    def _publish(self, st: _SourceState) -> None:
        rt = self.engine.realtime
        if rt is None:
            return
        cfg = st.cfg
        rt.set_polling(cfg.feed_id, cfg.kind, {
            "source": cfg.name, "interval_s": cfg.every_s,
            "last_checked_at": st.last_checked_at.isoformat().replace("+00:00", "Z")
            if st.last_checked_at else None,
            "last_outcome": st.last_outcome, "consecutive_failures": st.failures,
            "next_in_s": round(max(st.next_at - time.monotonic(), 0.0), 1),
            "etag": st.etag,
        })

