"""The app factory each worker process of ``citynav serve --workers N`` imports.

The parent process checks the options and hands them to the workers as JSON in the
``CITYNAV_SERVE_CONFIG`` environment variable; each worker then memory-maps the same
snapshot (the operating system shares its pages between the workers), opens the store and
follows its change log on its own (see :mod:`incidents.engine`), so every worker answers on
the same live versions within the propagation bound (README, "Serving on every core").
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime

from fastapi import FastAPI

#: The environment variable carrying :class:`ServeConfig` as JSON.
CONFIG_ENV = "CITYNAV_SERVE_CONFIG"


@dataclass
class ServeConfig:
    """What ``citynav serve`` passes on to each worker."""

    snapshot: str
    db: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    clock: str | None = None
    freeze_clock: bool = False
    realtime: str | None = None
    deadline_s: float = 15.0
    heavy_slots: int = 2
    quotas: str | None = None
    access_log: bool = True

    def to_env(self) -> str:
        """The JSON for :data:`CONFIG_ENV`."""
        return json.dumps(asdict(self))


def build_app(cfg: ServeConfig) -> FastAPI:
    """The app for one server process (options already checked by the CLI)."""
    from api.app import create_app
    from routing.clock import SYSTEM_CLOCK, Clock, ReplayClock

    the_clock: Clock = SYSTEM_CLOCK
    if cfg.clock is not None:
        the_clock = ReplayClock(datetime.fromisoformat(cfg.clock.replace("Z", "+00:00")),
                                frozen=cfg.freeze_clock)
    rt = None
    if cfg.realtime is not None:
        from incidents.realtime_sources import RealtimeSettings

        rt = RealtimeSettings.from_file(cfg.realtime)
    return create_app(cfg.snapshot, db_url=cfg.db, cors_origins=cfg.cors_origins,
                      clock=the_clock, realtime=rt, freeze_gc=True,
                      deadline_s=cfg.deadline_s, heavy_slots=cfg.heavy_slots,
                      quotas=cfg.quotas)


def app() -> FastAPI:
    """uvicorn's factory (``api.worker:app``): the app of :data:`CONFIG_ENV`."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start workers with `citynav serve`")
    cfg = ServeConfig(**json.loads(raw))
    if cfg.access_log:
        from api.metrics import configure_access_log

        configure_access_log()
    return build_app(cfg)
