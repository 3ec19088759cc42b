"""What each worker process of ``citynav serve --workers N`` serves: the options and the app.

The CLI checks the options into a :class:`ServeConfig`; :mod:`api.prefork` loads the city
once in its parent (:func:`load_city_for`) and each forked worker builds its app on that
city (:func:`build_app`): it opens the store and follows its change log on its own (see
:mod:`incidents.engine`), so every worker answers on the same live versions within the
propagation bound (README, "Serving on every core"). :func:`app` is a factory for running
workers under another server (``uvicorn --factory api.worker:app`` with the options as JSON
in the ``CITYNAV_SERVE_CONFIG`` environment variable); each such worker loads the city
itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from api.service import Service
    from routing.clock import Clock

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


def make_clock(cfg: ServeConfig) -> Clock:
    """The service's clock: the system's, or a replay clock from ``cfg.clock``."""
    from routing.clock import SYSTEM_CLOCK, ReplayClock

    if cfg.clock is None:
        return SYSTEM_CLOCK
    return ReplayClock(datetime.fromisoformat(cfg.clock.replace("Z", "+00:00")),
                       frozen=cfg.freeze_clock)


def load_city_for(cfg: ServeConfig) -> Service:
    """The read-only city the workers share (:func:`api.service.load_city`: snapshot,
    routers and their CCH kernels, timetable, publisher; the vector tile source and the
    incident engines' view of the network too), with no store, thread or socket: what a
    pre-fork parent loads before forking."""
    from api.service import load_city

    city = load_city(cfg.snapshot, clock=make_clock(cfg))
    city.tiles()  # served from the first map view on: build it once, share it
    city.share_engine_network()  # each worker's incident engine reads the same one
    return city


def build_app(cfg: ServeConfig, city: Service | None = None) -> FastAPI:
    """The app for one server process (options already checked by the CLI). With ``city``
    (from :func:`load_city_for`, loaded before the fork) the app opens only its live side at
    start-up; without, it loads the whole city itself."""
    from api.app import create_app

    rt = None
    if cfg.realtime is not None:
        from incidents.realtime_sources import RealtimeSettings

        rt = RealtimeSettings.from_file(cfg.realtime)
    return create_app(cfg.snapshot, db_url=cfg.db, cors_origins=cfg.cors_origins,
                      clock=city.clock if city is not None else make_clock(cfg),
                      realtime=rt, freeze_gc=True, deadline_s=cfg.deadline_s,
                      heavy_slots=cfg.heavy_slots, quotas=cfg.quotas, city=city)


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
