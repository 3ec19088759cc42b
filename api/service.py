"""The objects a running server holds: the snapshot, routers, the state publisher and the store.

Built once at start-up by :func:`load_service`; request handlers read them through
``request.app.state.service`` and take **one** :class:`routing.state.RoutingState` per request
(:meth:`Service.state`), which they hand to everything the request calls.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from api.sample import default_db_url  # re-exported (its old home)
from incidents.adapters.alertc import LocationTableError, LocationTables, load_tables
from incidents.db import connect
from incidents.engine import EngineNetwork, IncidentEngine, TransitStops, routes_by_stop
from incidents.realtime import RealtimeFeeds
from incidents.realtime_sources import RealtimeConfigError, RealtimePoller, RealtimeSettings
from incidents.store import IncidentStore, open_store
from incidents.subscriptions import ImportPoller
from routing.clock import SYSTEM_CLOCK, Clock
from routing.plan import Planner, TransitData
from routing.road import DEFAULT_MAX_SNAP_M, RoadRouter
from routing.snapshot import Snapshot, load_snapshot
from routing.state import RoutingState, StatePublisher

if TYPE_CHECKING:
    from api.events import EventHub
    from api.geojson import CongestionGeoJSON
    from api.watching import WatchWorker
    from incidents.probes import BusProbes
    from incidents.webhooks import WebhookWorker
    from routing.congestion import CongestionMap
    from routing.geocode import Geocoder
    from routing.isochrone import Contours
    from routing.reach import Reach
    from routing.tiles import VectorTiles
    from routing.typical import TypicalSpeeds

#: A departure within this much of now is answered on the live state itself.
NOW_TOLERANCE = timedelta(minutes=5)


@dataclass
class Service:
    """Everything a request handler needs."""

    snapshot: Snapshot
    road: RoadRouter
    publisher: StatePublisher
    planner: Planner | None = None
    store: IncidentStore | None = None
    engine: IncidentEngine | None = None
    clock: Clock = SYSTEM_CLOCK
    #: polls the configured realtime sources (None without sources or a store)
    poller: RealtimePoller | None = None
    #: buses as traffic probes (None without a timetable, a street network, a store, or
    #: with ``bus_probes = false``)
    probes: BusProbes | None = None
    #: ALERT-C location tables for DATEX II imports (``alert_c_tables`` of the settings)
    location_tables: LocationTables = field(default_factory=LocationTables)
    #: polls the subscribed WZDx / DATEX II feeds (None without subscriptions or a store)
    import_poller: ImportPoller | None = None
    #: wakes the event stream's connections (None without a store)
    hub: EventHub | None = None
    #: the store on a connection of its own for the event stream, webhooks and watches
    push_store: IncidentStore | None = None
    #: delivers webhooks (None without a store)
    webhooks: WebhookWorker | None = None
    #: re-plans the commute watches a change touches and notifies them (None without a
    #: store)
    watches: WatchWorker | None = None
    _congestion: CongestionMap | None = field(default=None, repr=False)
    _encoder: CongestionGeoJSON | None = field(default=None, repr=False)
    _congestion_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _tiles: VectorTiles | None = field(default=None, repr=False)
    _geocoder: Geocoder | None = field(default=None, repr=False)
    _reach: tuple[Reach, Contours] | None = field(default=None, repr=False)
    #: the incident engine's read-only view of the network, when built ahead of the engine
    #: (:meth:`share_engine_network`)
    _engine_network: tuple[EngineNetwork, TransitStops | None] | None = field(
        default=None, repr=False)

    @property
    def tz(self) -> str:
        """The city's timezone."""
        return self.publisher.timezone

    @property
    def typical(self) -> TypicalSpeeds | None:
        """Current typical speeds (learned ones included)."""
        return self.publisher.typical

    def state(self) -> RoutingState:
        """The routing state in force now: take it once per request."""
        return self.publisher.current()

    def state_at(self, state: RoutingState, t: datetime | None) -> RoutingState:
        """``state`` itself for "now", else the same live inputs at instant ``t`` (a later
        or earlier departure)."""
        if t is None or abs(t - self.clock.now()) <= NOW_TOLERANCE:
            return state
        return self.publisher.at(state, t)

    def congestion_map(self) -> CongestionMap:
        """The congestion map of the car network (built once, under a lock)."""
        with self._congestion_lock:
            if self._congestion is None:
                from routing.congestion import CongestionMap

                self._congestion = CongestionMap(self.snapshot)
            return self._congestion

    def congestion_geojson(self) -> CongestionGeoJSON:
        """The congestion layer's GeoJSON encoder (built once)."""
        with self._congestion_lock:
            if self._encoder is None:
                from api.geojson import CongestionGeoJSON

                self._encoder = CongestionGeoJSON(self.congestion_map(),
                                                  self.snapshot.segments.names)
            return self._encoder

    def tiles(self) -> VectorTiles:
        """The snapshot's vector tiles (the source is built once, under a lock)."""
        with self._congestion_lock:
            if self._tiles is None:
                from routing.tiles import VectorTiles

                self._tiles = VectorTiles(self.snapshot,
                                          self.planner.tt if self.planner else None)
            return self._tiles

    def geocoder(self) -> Geocoder:
        """The snapshot's geocoder (built once, under a lock)."""
        with self._congestion_lock:
            if self._geocoder is None:
                from routing.geocode import Geocoder

                self._geocoder = Geocoder(self.snapshot,
                                          self.planner.tt if self.planner else None)
            return self._geocoder

    def reach(self) -> tuple[Reach, Contours]:
        """Matrices / one-to-all searches and the isochrone outliner (built once)."""
        with self._congestion_lock:
            if self._reach is None:
                from routing.isochrone import Contours
                from routing.reach import Reach

                t = self.planner.transit if self.planner is not None else None
                contours = Contours(self.road, t.stop_seg if t is not None else None,
                                    t.stop_frac if t is not None else None)
                self._reach = (Reach(self.road, self.planner), contours)
            return self._reach

    def share_engine_network(self) -> None:
        """Build the incident engine's read-only view of the network (matcher, free-flow
        times, edge lengths, transit stops) now, for every engine :func:`open_live` makes on
        this service later — in a pre-fork server, once in the parent for all workers."""
        stops = _transit_stops(self.planner)
        self._engine_network = (EngineNetwork.build(self.snapshot, stops), stops)

    def start(self) -> None:
        """Start background work: following the store, polling realtime sources."""
        if self.hub is not None:
            self.hub.start()
        if self.engine is not None:
            self.engine.start()
        if self.poller is not None:
            self.poller.start()
        if self.import_poller is not None:
            self.import_poller.start()
        if self.watches is not None:
            self.watches.start()
        if self.webhooks is not None:
            self.webhooks.start()

    def stop(self) -> None:
        """Stop background work (the store stays open)."""
        if self.import_poller is not None:
            self.import_poller.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        if self.watches is not None:
            self.watches.stop()
        if self.poller is not None:
            self.poller.stop()
        if self.engine is not None:
            self.engine.stop()
        if self.hub is not None:
            self.hub.stop()

    def close(self) -> None:
        """Stop background work and close the incident store."""
        self.stop()
        if self.push_store is not None:
            self.push_store.close()
        if self.store is not None:
            self.store.close()


class LiveService(Protocol):
    """A :class:`Service` with its incident store and engine open (:func:`load_service`
    opens both, or neither): what the incident and traffic endpoints hold once they have
    checked that ``engine`` is set."""

    @property
    def snapshot(self) -> Snapshot: ...
    @property
    def road(self) -> RoadRouter: ...
    @property
    def publisher(self) -> StatePublisher: ...
    @property
    def store(self) -> IncidentStore: ...
    @property
    def engine(self) -> IncidentEngine: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def tz(self) -> str: ...
    def state(self) -> RoutingState: ...
    def state_at(self, state: RoutingState, t: datetime | None) -> RoutingState: ...
    def congestion_map(self) -> CongestionMap: ...
    def congestion_geojson(self) -> CongestionGeoJSON: ...


def snapshot_timezone(snap: Snapshot, planner: Planner | None) -> str:
    """The city's timezone: the snapshot's own (recorded at build time; older snapshots look
    it up from their bbox), else the timetable's reference zone."""
    tz = snap.timezone
    if tz:
        return str(tz)
    if planner is not None:
        return planner.transit.ref_tz
    return "UTC"


def load_service(snapshot_dir: str | Path, max_snap_m: float = DEFAULT_MAX_SNAP_M,
                 db_url: str | None = None, incidents: bool = True,
                 clock: Clock = SYSTEM_CLOCK,
                 realtime: RealtimeSettings | None = None,
                 modes: tuple[str, ...] | None = None, warm: bool = True,
                 push: bool = True) -> Service:
    """Open a snapshot (memory maps), prepare the routers and the state publisher and, unless
    ``incidents`` is false, open the incident store (``db_url``, default SQLite beside the
    snapshot), take GTFS-Realtime in (limits and polled sources from ``realtime``; pushes
    work without; with a street network and ``bus_probes`` on, the vehicle positions this
    process ingests feed :class:`incidents.probes.BusProbes`) and publish the live state of
    what it holds. The city's timezone is the
    snapshot's. ``modes``: the road modes to prepare (default every mode of the snapshot; a
    one-off command asks for the one it answers). ``warm``: answer one route per mode and load
    the transit kernels before returning, so that a server's first request finds its kernels
    loaded (a one-off command skips it). ``push``: make the event hub, webhook worker and
    commute watches (a one-off command that only reads does without). Raises
    :class:`routing.snapshot.SnapshotError` for an unusable snapshot,
    :class:`routing.typical.TrafficDataError` when its typical speeds belong to another
    snapshot and :class:`incidents.realtime_sources.RealtimeConfigError` for realtime sources
    naming feeds the snapshot does not have.

    The same as :func:`load_city` then :func:`open_live` (a pre-fork server runs the first
    in its parent and the second in each worker)."""
    svc = load_city(snapshot_dir, max_snap_m=max_snap_m, clock=clock, modes=modes, warm=warm)
    if incidents:
        open_live(svc, db_url or default_db_url(snapshot_dir), realtime, push=push)
    return svc


def load_city(snapshot_dir: str | Path, max_snap_m: float = DEFAULT_MAX_SNAP_M,
              clock: Clock = SYSTEM_CLOCK, modes: tuple[str, ...] | None = None,
              warm: bool = True) -> Service:
    """The read-only part of :func:`load_service`: the snapshot (memory maps), the routers
    and their RoutingKit CCH kernels, the timetable, typical speeds and the state publisher
    holding the free-flow state, with no store, thread, socket or event loop — what a
    pre-fork server loads once before forking its workers (:mod:`api.prefork`). Raises as
    :func:`load_service` does."""
    snap = load_snapshot(snapshot_dir)
    if modes is not None:
        modes = tuple(m for m in modes if m in snap.modes) or None
    road = RoadRouter(snap, max_snap_m=max_snap_m, modes=modes)
    transit = TransitData.load(Path(snapshot_dir))
    planner = Planner(snap, road, transit, warm=warm) if transit is not None else None
    typical = None
    typical_dir = Path(snapshot_dir) / "traffic" / "typical"
    if typical_dir.is_dir():
        from routing.typical import TypicalSpeeds

        # Refuses (TrafficDataError) typical speeds that belong to another snapshot.
        typical = TypicalSpeeds.load(typical_dir, snapshot_id=snap.snapshot_id)
    publisher = StatePublisher(road, typical, snapshot_timezone(snap, planner),
                               planner.tt.n_stops if planner is not None else None, clock)
    svc = Service(snapshot=snap, road=road, publisher=publisher, planner=planner, clock=clock)
    if warm:
        _warm(svc)
    return svc


def open_live(svc: Service, db_url: str, realtime: RealtimeSettings | None = None,
              push: bool = True) -> Service:
    """Give a service from :func:`load_city` its live side: open the incident store at
    ``db_url``, take GTFS-Realtime in (see :func:`load_service`), make the incident engine,
    the event hub, webhooks and commute watches (unless ``push`` is false), and publish the
    live state the store holds now. Nothing starts yet (:meth:`Service.start`). Returns
    ``svc``. Raises :class:`incidents.realtime_sources.RealtimeConfigError` for realtime
    sources naming feeds the snapshot does not have or unusable ALERT-C tables."""
    if svc.store is not None:
        raise ValueError("open_live: the service already has its store")
    snap, planner, publisher, clock = svc.snapshot, svc.planner, svc.publisher, svc.clock
    svc.store = open_store(db_url)
    try:
        network = None
        if svc._engine_network is not None:
            network, stops = svc._engine_network
        else:
            stops = _transit_stops(planner)
        settings = realtime or RealtimeSettings()
        feeds = None
        if planner is not None:
            feeds = RealtimeFeeds(planner.tt, publisher.timezone,
                                  max_age_s=settings.max_age_s,
                                  future_tolerance_s=settings.future_tolerance_s,
                                  mismatch_by_stop_id=settings.mismatch_by_stop_id,
                                  min_known_share=settings.min_known_share)
            settings.check_feeds(feeds.feed_ids)
        elif settings.sources:
            settings.check_feeds(())
        svc.engine = IncidentEngine(svc.store, snap, publisher, stops, clock=clock,
                                    realtime=feeds, network=network)
        if planner is not None and snap.has_road and settings.bus_probes:
            from incidents.probes import BusProbes

            svc.probes = BusProbes(svc.engine, planner.tt)
            svc.engine.on_vehicle_positions = svc.probes
        if push:
            _push(svc)
        svc.engine.sync()
        if settings.sources:
            svc.poller = RealtimePoller(svc.engine, settings.sources)
        try:
            svc.location_tables = load_tables(settings.alert_c_tables)
        except LocationTableError as exc:
            raise RealtimeConfigError(f"alert_c_tables: {exc}") from None
        if settings.imports:
            svc.import_poller = ImportPoller(svc.engine, settings.imports, svc.location_tables)
    except BaseException:  # nothing started yet: close the connections opened above
        for st in (svc.push_store, svc.store):
            if st is not None:
                st.close()
        svc.store = svc.push_store = None
        raise
    return svc


def _transit_stops(planner: Planner | None) -> TransitStops | None:
    if planner is None:
        return None
    tt = planner.tt
    return TransitStops(
        planner.stop_ids, tt.arrays["stop_lat"], tt.arrays["stop_lon"],
        routes_by_stop(tt.n_stops, tt.arrays["stop_pattern_offsets"],
                       tt.arrays["stop_patterns"], tt.arrays["pattern_route"],
                       tt.strings["route_id"]))


def apply_live_state(snapshot: Snapshot, planner: Planner | None, publisher: StatePublisher,
                     db_url: str) -> int:
    """Publish on ``publisher`` the live state of the incident store at ``db_url`` (open
    incidents: closures, slowdowns, closed stops; learned speeds; the realtime transit data
    it holds), as a server does at start-up, then close the store; returns the state's
    version. What ``citynav accessibility --live`` runs in every worker. Raises
    :class:`incidents.errors.StoreConfigError` for an unusable URL."""
    store = open_store(db_url)
    try:
        feeds = None
        if planner is not None:
            feeds = RealtimeFeeds(planner.tt, publisher.timezone)
        engine = IncidentEngine(store, snapshot, publisher, _transit_stops(planner),
                                realtime=feeds)
        return engine.sync().version
    finally:
        store.close()


def _push(svc: Service) -> None:
    """The event hub (Server-Sent Events), the webhook worker and the commute watches."""
    from api.events import EventHub, congestion_enricher
    from api.settings import Settings
    from incidents.events import EventLog
    from incidents.webhooks import WebhookSettings, WebhookWorker

    assert svc.store is not None and svc.engine is not None
    # A connection of their own: the stream, webhooks and watches never queue behind (or
    # hold up) the engine's reads of the store.
    push = svc.store
    if not svc.store.url.endswith(":memory:"):  # an in-memory database has one connection
        push = svc.push_store = IncidentStore(connect(svc.store.url))
    log = EventLog(push.db)
    svc.hub = EventHub(log)
    svc.engine.on_sync.append(svc.hub.poke)
    cfg = Settings()
    svc.webhooks = WebhookWorker(
        push, log, WebhookSettings(base_backoff_s=cfg.webhook_backoff_s,
                                   max_backoff_s=cfg.webhook_max_backoff_s,
                                   max_attempts=cfg.webhook_max_attempts,
                                   timeout_s=cfg.webhook_timeout_s,
                                   allow_private=cfg.webhook_allow_private),
        enrich=congestion_enricher(svc))
    svc.hub.on_change.append(svc.webhooks.poke)  # new events: dispatch at once
    from api.watching import WatchWorker

    svc.watches = WatchWorker(svc, push)
    svc.watches.on_notify += [svc.hub.poke]
    svc.engine.on_sync.append(svc.watches.poke)


def _warm(svc: Service) -> None:
    """Compile the numba kernels and touch the CCH once so the first request is fast."""
    import numpy as np

    road = svc.road
    if not road.modes:  # transit-only snapshot: no road kernel to warm
        return
    state = svc.state()
    lat, lon = float(np.asarray(road.snapshot.node_lat)[0]), float(
        np.asarray(road.snapshot.node_lon)[0])
    for mode in road.modes:
        # warm-up only: a failure here (e.g. an odd first node) surfaces on real requests
        with contextlib.suppress(Exception):
            road.route(state, mode, lat, lon, lat + 1e-4, lon + 1e-4)
