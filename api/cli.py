"""The ``citynav`` command line: build snapshots, serve the API, ask for routes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from incidents.store import IncidentStore

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="citynav: urban traffic guidance and transit information.")
console = Console()
err = Console(stderr=True)


class _Bar:
    """Adapts progress(step, done, total) callbacks to a rich progress display."""

    def __init__(self, progress: Progress) -> None:
        self.p = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        key = step.split(" (")[0]
        if key not in self.tasks:
            self.tasks[key] = self.p.add_task(step, total=max(total, 1))
        self.p.update(self.tasks[key], completed=done, total=max(total, 1), description=step)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:<32}"), BarColumn(), TextColumn(
        "{task.completed}/{task.total}"), TimeElapsedColumn(), console=err, transient=False)


def _require_extra(extra: str, modules: tuple[str, ...], what: str) -> None:
    """Exit 2 with how to install ``extra`` when one of ``modules`` is not installed (the
    serving install leaves optional features out)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        err.print(f"[red]error:[/] {what} needs the optional '{extra}' dependencies "
                  f"({', '.join(missing)} not installed): pip install 'citynav\\[{extra}]' "
                  f"(or `make test`, which installs every extra the tests use)")
        raise typer.Exit(2)


def _resolve_snapshot(snapshot: Path | None) -> Path:
    from api.sample import ensure_sample_snapshot

    if snapshot is not None:
        return snapshot
    with _progress() as p:
        err.print("[bold]Preparing the bundled sample city (northern-kentucky)…[/]")
        return ensure_sample_snapshot(_Bar(p))


@app.command()
def build(
    out: Annotated[Path, typer.Option(help="Snapshot directory to write")],
    osm: Annotated[Path | None, typer.Option(help=(
        "OpenStreetMap extract (.osm.pbf). Without it, --gtfs builds a transit-only "
        "snapshot: no road modes, straight-line walking (× 1.3) for access, egress and "
        "transfers"))] = None,
    gtfs: Annotated[list[Path] | None, typer.Option(help="GTFS feed (.zip); repeatable")] = None,
    traffic: Annotated[Path | None, typer.Option(help="Typical speed observations (CSV or "
                                                 "Parquet; see data/traffic/README.md)")
                       ] = None,
    timezone: Annotated[str | None, typer.Option(
        help="The city's IANA timezone, e.g. America/New_York (default: the first GTFS "
             "feed's agency timezone, else looked up offline from the map's location)")
                        ] = None,
) -> None:
    """Build a network snapshot from OSM (and GTFS, typical speeds) data, or a transit-only
    snapshot from GTFS alone."""
    from routing.build import BuildInputError, build_snapshot
    from routing.osm import OsmError
    from routing.timezones import TimezoneError, validate_timezone

    if timezone is not None:
        try:
            timezone = validate_timezone(timezone)
        except TimezoneError as exc:
            err.print(f"[red]error:[/] --timezone: {exc}")
            raise typer.Exit(2) from exc
    if osm is None and not gtfs:
        err.print("[red]error:[/] give --osm (a street network), --gtfs (a timetable), or "
                  "both")
        raise typer.Exit(2)
    try:
        with _progress() as p:
            meta = build_snapshot(osm, out, gtfs or [], progress=_Bar(p),
                                  traffic_path=traffic, timezone=timezone)
    except (OsmError, BuildInputError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    except Exception as exc:  # GTFS and other input errors carry their own messages
        if type(exc).__module__.startswith(("gtfs", "routing")):
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from exc
        raise
    _print_build_summary(meta, out)


_TZ_SOURCE = {"option": "--timezone", "gtfs": "GTFS agency", "bbox": "from the map's location"}


@contextmanager
def _answering(close: Callable[[], None]) -> Iterator[None]:
    """Around a one-off answer: an API problem (a bad parameter) exits 2 and a routing error
    (no route) exits 1, each printed as one plain line; ``close`` runs in any case."""
    from api.apiproblem import ApiProblem
    from routing.road import RoutingError

    try:
        yield
    except ApiProblem as exc:
        err.print(f"[red]error:[/] {exc.detail}")
        raise typer.Exit(2) from exc
    except RoutingError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        close()


def _print_json(doc: Any) -> None:
    json.dump(doc, sys.stdout)
    sys.stdout.write("\n")


def _print_build_summary(meta: dict, out: Path) -> None:
    """The snapshot's counts, then one table per GTFS feed with what was wrong with its
    data (validation errors and warnings, rows skipped, stops left unlinked), then warning
    lines for what needs a look."""
    t = Table(title=f"snapshot {meta['snapshot_id']} → {out}", show_header=False)
    c = meta["counts"]
    for k in ("junctions", "segments", "car_edges", "bike_edges", "walk_edges",
              "car_restrictions_applied", "restrictions_via_way_skipped"):
        if k in c:
            t.add_row(k.replace("_", " "), f"{c[k]:,}")
    if meta.get("road") is False:
        walking = meta.get("walking") or {}
        t.add_row("street network", "none (transit-only: built from GTFS without --osm)")
        t.add_row("road modes", "none")
        t.add_row("walking", f"straight line × {walking.get('detour_factor', '?')} "
                  f"(transfers up to {walking.get('transfer_max_m', '?'):g} m walking)")
    places = meta.get("places")
    if places is not None:
        keys = ", ".join(f"{k} {v:,}" for k, v in places.get("by_key", {}).items()
                         if not k.startswith("skipped"))
        t.add_row("named places", f"{places['count']:,} ({keys})" if places["count"] else
                  "none in the OSM extract: the geocoder finds streets, intersections and "
                  "stops only")
    t.add_row("timezone", f"{meta['timezone']} ({_TZ_SOURCE.get(meta['timezone_source'], '?')})")
    t.add_row("size", f"{meta['size_bytes'] / 1e6:.1f} MB")
    t.add_row("build time", f"{meta['build_seconds']:.1f} s")
    warnings: list[str] = []
    traffic = meta.get("traffic")
    if traffic:
        skipped = traffic.get("rows_skipped") or {}
        why = ", ".join(f"{k} {v:,}" for k, v in skipped.items())
        t.add_row("typical speeds", f"{traffic['rows_used']:,} of {traffic['rows_read']:,} "
                  f"rows used, {traffic['edges_with_data']:,} edges with data")
        if skipped:
            t.add_row("typical speeds skipped", f"{sum(skipped.values()):,} rows ({why})")
        if traffic["rows_read"] and not traffic["rows_used"]:
            warnings.append(f"no row of {traffic['source']} matches this network's car roads "
                            f"— is it for another city? ({why})")
    transit = meta.get("transit")
    if transit:
        for k, v in transit.get("counts", {}).items():
            t.add_row(f"transit {k}", f"{v:,}" if isinstance(v, int) else str(v))
    console.print(t)
    if transit:
        warnings.extend(_print_feed_tables(meta, transit))
    for w in warnings:
        console.print(f"[yellow]warning:[/] {w}", soft_wrap=True, highlight=False)


def _print_feed_tables(meta: dict, transit: dict) -> list[str]:
    """One table per GTFS feed; returns the warning lines."""
    warnings = []
    by_feed = transit.get("validation", {}).get("feeds", {})
    unlinked = transit.get("unlinked_stops", {})
    max_m = transit.get("stop_link_max_m", 300)
    for feed in transit.get("feeds", []):
        name = feed["name"]
        v = by_feed.get(name, {"errors": 0, "warnings": 0, "files": {}})
        t = Table(title=f"GTFS feed {name} ({feed.get('timezone')})", show_header=False)
        t.add_row("errors (rows skipped)", f"{v['errors']:,}",
                  style="red" if v["errors"] else None)
        t.add_row("warnings (rows kept)", f"{v['warnings']:,}",
                  style="yellow" if v["warnings"] else None)
        for file, f in v.get("files", {}).items():
            counts = ", ".join(x for x in (
                f"{f['errors']:,} errors (rows skipped)" if f["errors"] else "",
                f"{f['warnings']:,} warnings" if f["warnings"] else "") if x)
            t.add_row(f"  {file}", counts + (": " + "; ".join(f["messages"])
                                            if f.get("messages") else ""))
        u = unlinked.get(name)
        if u is not None:
            n, k = u["stops"], u["unlinked"]
            share = f"{100 * u['share']:.1f} %; " if u.get("share") is not None else ""
            t.add_row("stops unlinked", f"{k:,} of {n:,} stops unlinked ({share}farther than "
                      f"{u.get('max_link_m', max_m):.0f} m from any walkable street)",
                      style="yellow" if n and k / n >= 0.25 else None)
            if n and k == n:
                warnings.append(f"feed {name}: {k:,} of {n:,} stops unlinked — is this feed "
                                "for another city?")
        console.print(t)
        if feed.get("timezone") and feed["timezone"] != meta["timezone"]:
            warnings.append(f"feed {name}: agency timezone {feed['timezone']} differs from "
                            f"the snapshot's {meta['timezone']} "
                            f"({_TZ_SOURCE.get(meta['timezone_source'], '?')})")
    return warnings


@app.command()
def serve(
    snapshot: Annotated[Path | None, typer.Option(help="Snapshot dir (default: sample city)")
                        ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    db: Annotated[str | None, typer.Option(help="Incident store URL: sqlite:///FILE or "
                                           "postgresql://… (default: SQLite beside the "
                                           "snapshot)")] = None,
    clock: Annotated[str | None, typer.Option(help=(
        "Run as if it were this ISO 8601 instant (with offset), time moving on from there: "
        "replay historical feeds, demos, tests"))] = None,
    freeze_clock: Annotated[bool, typer.Option(help=(
        "With --clock: the clock stands still at that instant (reproducible demos and "
        "tests)"))] = False,
    cors_origin: Annotated[list[str] | None, typer.Option(
        help="Browser origin (scheme://host[:port], or * for any) allowed to call the API "
             "cross-origin; repeatable. Default: CITYNAV_CORS_ORIGINS (comma-separated), "
             "else same-origin only")] = None,
    realtime: Annotated[Path | None, typer.Option(help=(
        "GTFS-Realtime settings file (TOML, or .json): limits and the URLs to poll or files "
        "to watch per feed and kind; pushes to POST /v1/realtime/{feed_id} work without "
        "it"))] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64, help="Worker processes (default: the machine's cores). With more "
        "than one, the city is loaded once and the workers are forked from that process, "
        "sharing it; each follows the store's change log, and one that dies is replaced")
        ] = None,
    deadline_s: Annotated[float, typer.Option(
        min=0.1, max=600, help="A read request's deadline in seconds: 503 with Retry-After "
        "past it")] = 15.0,
    heavy_slots: Annotated[int, typer.Option(
        min=1, max=64, help="Heavy operations (plans, congestion map, writes) that run at "
        "once per worker; more wait for a slot until their deadline")] = 2,
    quotas: Annotated[str | None, typer.Option(help=(
        "Where the API plans' quotas are counted: memory (one process), store (the incident "
        "store, shared by the workers), redis://HOST:PORT/DB (shared by servers), or off. "
        "Default: memory with one worker, store with several"))] = None,
    access_log: Annotated[bool, typer.Option(help="One JSON line per request on standard "
                                             "error (method, path, status, duration, "
                                             "client, key id)")] = True,
) -> None:
    """Serve the HTTP API (docs at /docs and /redoc, OpenAPI at /openapi.json).

    On SIGTERM each worker stops accepting, answers `/v1/ready` with 503, finishes the
    requests in flight (up to 30 s) and exits. With several workers one parent process
    loads the city and forks them (api.prefork): it replaces a worker that dies and hands
    SIGTERM / SIGINT on to all of them."""
    import os

    import uvicorn

    from api.app import create_app
    from api.sample import default_db_url
    from api.settings import Settings, parse_origins
    from routing.clock import SYSTEM_CLOCK, Clock, ReplayClock

    the_clock: Clock = SYSTEM_CLOCK
    if clock is not None:
        try:
            the_clock = ReplayClock(datetime.fromisoformat(clock.replace("Z", "+00:00")),
                                    frozen=freeze_clock)
        except ValueError as exc:
            err.print(f"[red]error:[/] --clock: {exc} (expected e.g. 2020-01-15T08:00:00-05:00)")
            raise typer.Exit(2) from exc
    try:
        origins = parse_origins(cors_origin) if cors_origin else Settings().cors_origins
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    rt_settings = None
    if realtime is not None:
        from incidents.realtime_sources import RealtimeConfigError, RealtimeSettings

        try:
            rt_settings = RealtimeSettings.from_file(realtime)
        except RealtimeConfigError as exc:
            err.print(f"[red]error:[/] --realtime: {exc}")
            raise typer.Exit(2) from exc
    snap = _resolve_snapshot(snapshot)
    if rt_settings is not None and rt_settings.sources:
        err.print(f"GTFS-Realtime: {len(rt_settings.sources)} source(s) from {realtime}: "
                  + ", ".join(f"{s.feed_id}/{s.kind}" for s in rt_settings.sources))
    err.print(f"[green]Serving[/] {snap} on http://{host}:{port}  (API docs: /docs, /redoc; "
              f"incidents: {_redact(db or default_db_url(snap))}"
              + (f"; CORS origins: {', '.join(origins)}" if origins else "")
              + (f"; clock {the_clock.now().isoformat()}" if clock else "") + ")")
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if quotas is None:
        quotas = "memory" if n_workers == 1 else "store"
    if quotas == "memory" and n_workers > 1:
        err.print("[red]error:[/] --quotas memory counts per process; with several workers "
                  "use store or redis://…")
        raise typer.Exit(2)
    quota_spec = None if quotas == "off" else quotas
    if quota_spec is not None:
        from api.quotas import open_counter

        try:
            open_counter(quota_spec, db or default_db_url(snap)).close()
        except Exception as exc:  # noqa: BLE001 - bad spec, unreachable Redis
            err.print(f"[red]error:[/] --quotas {quotas}: {exc}")
            raise typer.Exit(2) from exc
    err.print(f"quotas: {quotas}")
    err.print(f"{n_workers} worker process(es); deadline {deadline_s:g} s, {heavy_slots} "
              "heavy operation(s) at once per worker")
    from api.metrics import configure_access_log

    if access_log:
        configure_access_log()
    if n_workers == 1:
        uvicorn.run(create_app(snap, db_url=db, cors_origins=origins, clock=the_clock,
                               realtime=rt_settings, freeze_gc=True, deadline_s=deadline_s,
                               heavy_slots=heavy_slots, quotas=quota_spec),
                    host=host, port=port, log_level="info", timeout_graceful_shutdown=30,
                    access_log=False)
        return
    from api.worker import ServeConfig

    if db is None:  # every worker must open the same store
        db = default_db_url(snap)
    frozen = the_clock.now().isoformat() if clock is not None else None
    cfg = ServeConfig(
        snapshot=str(Path(snap).absolute()), db=db, cors_origins=list(origins), clock=frozen,
        freeze_clock=freeze_clock, realtime=str(realtime) if realtime is not None else None,
        deadline_s=deadline_s, heavy_slots=heavy_slots, quotas=quota_spec,
        access_log=access_log)
    from incidents.store import open_store

    # create the store (and run its migrations) once, before the workers start; closed
    # again: no connection may cross the fork
    open_store(db).close()
    # prometheus-client's multiprocess mode: each worker writes its metrics here, /metrics
    # of any worker sums them up (set before anything imports prometheus-client)
    import shutil
    import tempfile

    metrics_dir = tempfile.mkdtemp(prefix="citynav-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    from api import prefork

    try:
        try:
            sock = prefork.bind_socket(host, port)
        except OSError as exc:  # the port is taken, the address is not this machine's
            err.print(f"[red]error:[/] cannot listen on {host}:{port}: {exc}")
            raise typer.Exit(1) from exc
        status = prefork.serve(cfg, n_workers, sock, graceful_s=30.0)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if status:
        raise typer.Exit(status)


def _redact(url: str) -> str:
    import re

    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", url)


def _store(db: str | None, snapshot: Path | None) -> IncidentStore:
    from api.sample import default_db_url
    from incidents.store import open_store

    if db is None:
        db = default_db_url(_resolve_snapshot(snapshot))
    return open_store(db)


@app.command()
def backup(
    out: Annotated[Path, typer.Argument(help="The backup file to write (must not exist)")],
    db: DbOpt = None,
    snapshot: SnapOpt = None,
) -> None:
    """Copy the incident store (incidents, history, keys, usage, logs) while it serves:
    SQLite's online backup, or pg_dump for PostgreSQL. Restore with `citynav restore`."""
    import time

    from api.sample import default_db_url
    from incidents.backup import BackupError
    from incidents.backup import backup as do_backup

    url = db or default_db_url(_resolve_snapshot(snapshot))
    t0 = time.perf_counter()
    try:
        do_backup(url, out)
    except BackupError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    err.print(f"[green]Backed up[/] {_redact(url)} → {out} ({out.stat().st_size / 1e6:.1f} MB, "
              f"{time.perf_counter() - t0:.1f} s)")


@app.command()
def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `citynav backup`")],
    db: Annotated[str, typer.Option(help="The new, empty store to load it into: "
                                    "sqlite:///FILE or postgresql://…")],
) -> None:
    """Load a backup into an empty store (never over an existing one); then check it opens
    and say what it holds."""
    from incidents.backup import BackupError
    from incidents.backup import restore as do_restore
    from incidents.store import open_store

    try:
        do_restore(backup_file, db)
        store = open_store(db)  # runs newer migrations, if the backup is older
    except BackupError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    try:
        counts = store.count_by_status()
        seq = store.last_seq()
    finally:
        store.close()
    err.print(f"[green]Restored[/] {backup_file} → {_redact(db)}: "
              f"{sum(counts.values())} incidents, change log at {seq}")


keys_app = typer.Typer(no_args_is_help=True, help="API keys (stored hashed).")
incident_app = typer.Typer(no_args_is_help=True, help="Incidents, written to the store "
                           "directly; a running server applies them within a second.")
app.add_typer(keys_app, name="keys")
app.add_typer(incident_app, name="incident")
DbOpt = Annotated[str | None, typer.Option(help="Store URL (default: SQLite beside the "
                                           "snapshot)")]
SnapOpt = Annotated[Path | None, typer.Option(help="Snapshot dir (default: sample city)")]


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="reader, traffic_centre, transit_agency or admin")],
    agency: Annotated[str | None, typer.Option(help=(
        "traffic_centre: the agency it writes incidents for; transit_agency: the static feed "
        "id (FEED of FEED:ID) whose GTFS-Realtime it may push"))] = None,
    label: Annotated[str | None, typer.Option(help="A note on who holds the key")] = None,
    plan: Annotated[str, typer.Option(help="API plan: open, standard or partner (its quotas "
                                      "per minute and per day)")] = "standard",
    area: Annotated[str | None, typer.Option(help="W,S,E,N in degrees: the key's writes must "
                                             "lie inside this box (403 outside)")] = None,
    expires_at: Annotated[str | None, typer.Option(help="ISO 8601 instant with offset when "
                                                   "the key stops working")] = None,
    db: DbOpt = None,
    snapshot: SnapOpt = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from incidents.errors import IncidentError
    from incidents.keys import create_key

    if role not in ("reader", "traffic_centre", "transit_agency", "admin"):
        err.print(f"[red]error:[/] unknown role {role!r}; use reader, traffic_centre, "
                  "transit_agency or admin")
        raise typer.Exit(2)
    if role in ("traffic_centre", "transit_agency") and not agency:
        err.print(f"[red]error:[/] a {role} key needs --agency"
                  + (" (the feed id it may push)" if role == "transit_agency" else ""))
        raise typer.Exit(2)
    store = _store(db, snapshot)
    try:
        key = create_key(store, role, agency, label, plan=plan, area=area,
                         expires_at=_instant(expires_at, "--expires-at"))
    except (IncidentError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    err.print(f"[green]Created[/] {role} key{' for ' + agency if agency else ''}. "
              "It is shown once; keep it secret:")
    console.print(key)


def _instant(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 instant with offset from an option, or exit 2."""
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        err.print(f"[red]error:[/] {name}: expected an ISO 8601 instant with offset, e.g. "
                  "2027-01-01T00:00:00Z")
        raise typer.Exit(2)
    return t


@keys_app.command("list")
def keys_list(db: DbOpt = None, snapshot: SnapOpt = None,
              agency: Annotated[str | None, typer.Option(help="Only this agency's keys")
                                ] = None) -> None:
    """List keys (ids, roles, agencies, plans, state; never secrets)."""
    from incidents.keys import list_keys

    store = _store(db, snapshot)
    try:
        rows = list_keys(store, agency=agency)
        now = store.now()
    finally:
        store.close()
    t = Table("key id", "role", "agency", "plan", "area", "label", "state", "expires")
    for k in rows:
        state = "revoked" if not k.active else ("active" if k.usable_at(now) else "expired")
        t.add_row(k.key_id, str(k.role), k.agency or "", str(k.plan),
                  ",".join(f"{x:g}" for x in k.area) if k.area else "", k.label or "", state,
                  k.expires_at.isoformat() if k.expires_at else "")
    console.print(t)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (12 hex characters)")],
                db: DbOpt = None, snapshot: SnapOpt = None) -> None:
    """Revoke a key: every worker refuses it within a second."""
    from incidents.errors import NotFound
    from incidents.keys import revoke_key

    store = _store(db, snapshot)
    try:
        info = revoke_key(store, key_id)
    except NotFound as exc:
        err.print(f"[red]error:[/] no API key {key_id!r}")
        raise typer.Exit(1) from exc
    finally:
        store.close()
    err.print(f"[green]Revoked[/] {info.key_id} ({info.role}"
              f"{', ' + info.agency if info.agency else ''}) at {info.revoked_at}")


@keys_app.command("expire")
def keys_expire(key_id: Annotated[str, typer.Argument(help="The key id (12 hex characters)")],
                at: Annotated[str | None, typer.Option(help="ISO 8601 instant with offset "
                                                       "(default: now)")] = None,
                db: DbOpt = None, snapshot: SnapOpt = None) -> None:
    """Set when a key stops working (now, or a later instant)."""
    from incidents.errors import NotFound
    from incidents.keys import expire_key

    when = _instant(at, "--at")
    store = _store(db, snapshot)
    try:
        info = expire_key(store, key_id, when)
    except NotFound as exc:
        err.print(f"[red]error:[/] no API key {key_id!r}")
        raise typer.Exit(1) from exc
    finally:
        store.close()
    err.print(f"[green]Expires[/] {info.key_id} at {info.expires_at}")


@keys_app.command("usage")
def keys_usage(key_id: Annotated[str | None, typer.Argument(help="One key id (default: "
                                                            "all)")] = None,
               days: Annotated[int, typer.Option(min=1, max=3660, help="UTC days back, "
                                                 "today included")] = 30,
               db: DbOpt = None, snapshot: SnapOpt = None) -> None:
    """Requests, cost units and quota refusals (429) per key, UTC day and operation, as
    recorded by the servers (`anonymous`: callers without a key)."""
    from incidents.keys import usage

    store = _store(db, snapshot)
    try:
        rows = usage(store, key_id, days)
    finally:
        store.close()
    t = Table("day", "key id", "operation", "requests", "cost", "refused")
    for r in rows:
        t.add_row(r.day, r.key_id, r.operation, f"{r.requests:,}", f"{r.cost:,}",
                  f"{r.rejected:,}")
    console.print(t)


@incident_app.command("add")
def incident_add(
    type_: Annotated[str, typer.Option("--type", help="accident, roadworks, closure, "
                                       "congestion, event, hazard, weather, "
                                       "transit_disruption")],
    geometry: Annotated[str, typer.Option(help="GeoJSON geometry, or @FILE")],
    agency: Annotated[str, typer.Option(help="Reporting agency")],
    severity: Annotated[str, typer.Option(help="low, moderate, high, severe")] = "moderate",
    start: Annotated[str | None, typer.Option(help="ISO 8601 (default now)")] = None,
    end: Annotated[str | None, typer.Option(help="ISO 8601")] = None,
    closed_to: Annotated[str | None, typer.Option(help="Comma list: car,truck,bus,bike,walk,"
                                                  "all")] = None,
    speed_limit_kmh: Annotated[float | None, typer.Option(help="Slowdown")] = None,
    delay_s: Annotated[int | None, typer.Option(help="Extra delay over the stretch")] = None,
    direction: Annotated[str, typer.Option(help="forward, backward or both")] = "both",
    description: Annotated[str | None, typer.Option(help="Text (English)")] = None,
    db: DbOpt = None,
    snapshot: SnapOpt = None,
) -> None:
    """Record an incident; shows what its geometry matched (refused if nothing)."""
    from datetime import UTC, datetime

    from incidents.errors import IncidentError
    from incidents.matching import GeometryMatchError, NetworkMatcher
    from routing.plan import TransitData
    from routing.snapshot import load_snapshot

    geo_text = Path(geometry[1:]).read_text() if geometry.startswith("@") else geometry
    try:
        geo = json.loads(geo_text)
    except ValueError as exc:
        err.print(f"[red]error:[/] --geometry is not JSON: {exc}")
        raise typer.Exit(2) from exc
    body: dict = {"type": type_, "severity": severity, "geometry": geo,
                  "start": start or datetime.now(UTC).isoformat(timespec="seconds"),
                  "direction": direction}
    if end:
        body["end"] = end
    effect: dict[str, Any] = {}
    if closed_to:
        effect["closed_to"] = [c.strip() for c in closed_to.split(",") if c.strip()]
    if speed_limit_kmh is not None:
        effect["speed_limit_kmh"] = speed_limit_kmh
    if delay_s is not None:
        effect["delay_s"] = delay_s
    if effect:
        body["road_effect"] = effect
    if description:
        body["description"] = {"en": description}
    snap_dir = _resolve_snapshot(snapshot)
    transit = TransitData.load(snap_dir)
    stops = None if transit is None else (
        transit.tt.strings["stop_id"], transit.tt.arrays["stop_lat"],
        transit.tt.arrays["stop_lon"])
    try:
        match = NetworkMatcher(load_snapshot(snap_dir), stops).match(geo, direction)
    except (GeometryMatchError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if match.empty:
        err.print("[red]error:[/] the geometry matches no road, path or stop of the network")
        raise typer.Exit(2)
    store = _store(db, snap_dir)
    try:
        inc = store.create(body, f"cli:{agency}", agency)
    except IncidentError as exc:
        err.print(f"[red]error:[/] {exc.detail}")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    m = match.to_dict()
    console.print(f"[green]{inc.id}[/] {inc.type.value} ({inc.status.value}), version "
                  f"{inc.version}: {m['edge_count']} edges, {m['length_m']:.0f} m on "
                  f"{', '.join(m['street_names'][:4]) or 'unnamed roads'}"
                  + (f"; stops {', '.join(m['stops'][:4])}" if m["stops"] else ""))


@incident_app.command("import")
def incident_import(
    document: Annotated[str, typer.Argument(help="A WZDx or DATEX II file, or an http(s) URL")],
    agency: Annotated[str, typer.Option(help="The agency the incidents belong to")],
    format_: Annotated[str | None, typer.Option("--format", help="wzdx or datex2 (default: "
                                                "detected, XML = DATEX II)")] = None,
    location_table: Annotated[list[Path] | None, typer.Option(help=(
        "ALERT-C location table CSV (table,code,lat,lon or the ISO POINTS form); "
        "repeatable"))] = None,
    source: Annotated[str, typer.Option(help="Name the records are remembered under")] = "cli",
    complete: Annotated[bool, typer.Option(help=(
        "The document is the source's whole current set: records imported earlier from "
        "the same --source and missing now are ended"))] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    db: DbOpt = None,
    snapshot: SnapOpt = None,
) -> None:
    """Import WZDx 4.x or DATEX II 2.x/3.x: apply the valid records and report every one
    (created, updated, unchanged, ended, unlocatable, unmatched_geometry, unsupported,
    invalid). Re-importing the same document changes nothing."""
    from incidents.adapters.alertc import LocationTableError, load_tables
    from incidents.errors import IncidentError
    from incidents.imports import apply_document, parse_document
    from incidents.matching import NetworkMatcher
    from routing.plan import TransitData
    from routing.snapshot import load_snapshot

    if format_ not in (None, "wzdx", "datex2"):
        err.print(f"[red]error:[/] --format must be wzdx or datex2, not {format_!r}")
        raise typer.Exit(2)
    try:
        tables = load_tables(location_table)
    except LocationTableError as exc:
        err.print(f"[red]error:[/] --location-table: {exc}")
        raise typer.Exit(2) from exc
    if document.startswith(("http://", "https://")):
        import httpx

        try:
            r = httpx.get(document, timeout=30, follow_redirects=True)
            r.raise_for_status()
        except httpx.HTTPError as exc:
            err.print(f"[red]error:[/] cannot fetch {document}: {exc}")
            raise typer.Exit(2) from exc
        body = r.content
    else:
        try:
            body = Path(document).read_bytes()
        except OSError as exc:
            err.print(f"[red]error:[/] cannot read {document}: {exc.strerror}")
            raise typer.Exit(2) from exc
    snap_dir = _resolve_snapshot(snapshot)
    snap = load_snapshot(snap_dir)
    try:
        doc = parse_document(body, format_, tables, snap.timezone or None)
    except IncidentError as exc:
        err.print(f"[red]refused:[/] {exc.detail} (nothing stored)")
        raise typer.Exit(2) from exc
    transit = TransitData.load(snap_dir)
    stops = None if transit is None else (
        transit.tt.strings["stop_id"], transit.tt.arrays["stop_lat"],
        transit.tt.arrays["stop_lon"])
    matcher = NetworkMatcher(snap, stops)
    store = _store(db, snap_dir)
    try:
        report = apply_document(store, doc, agency=agency, actor=f"cli:{agency}",
                                match=matcher.match, source=source, complete=complete)
    except IncidentError as exc:
        err.print(f"[red]error:[/] {exc.detail}")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
        return
    t = Table("record", "type", "outcome", "incident", "reason")
    for rec in report.records:
        t.add_row(rec.external_id, rec.record_type, rec.outcome.value, rec.incident_id or "",
                  (rec.reason or "")[:80])
    console.print(t)
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items() if v)
    console.print(f"{doc.standard} {doc.standard_version}: {len(report.records)} records "
                  f"({counts or 'none'})")


@incident_app.command("list")
def incident_list(
    status: Annotated[str | None, typer.Option(help="scheduled, active, resolved, "
                                               "cancelled")] = None,
    db: DbOpt = None,
    snapshot: SnapOpt = None,
) -> None:
    """List incidents."""
    store = _store(db, snapshot)
    try:
        items = store.list_incidents(status=status, limit=1000)
    finally:
        store.close()
    t = Table("id", "type", "severity", "status", "agency", "start", "end", "version",
              "description")
    for i in items:
        desc = next(iter((i.description or {}).values()), "")
        t.add_row(i.id, i.type.value, i.severity.value, i.status.value, i.agency,
                  str(i.start)[:16], str(i.end or "")[:16], str(i.version), desc[:40])
    console.print(t)


@incident_app.command("resolve")
def incident_resolve(
    incident_id: Annotated[str, typer.Argument(help="e.g. INC-12")],
    db: DbOpt = None,
    snapshot: SnapOpt = None,
) -> None:
    """Mark an incident resolved (its history keeps every version)."""
    from incidents.errors import IncidentError

    store = _store(db, snapshot)
    try:
        inc = store.get(incident_id)
        inc = store.resolve(incident_id, f"cli:{inc.agency}", inc.version)
    except IncidentError as exc:
        err.print(f"[red]error:[/] {exc.detail}")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    console.print(f"[green]{inc.id}[/] resolved (version {inc.version})")


@app.command()
def route(
    from_: Annotated[str, typer.Option("--from", help="Origin LAT,LON")],
    to: Annotated[str, typer.Option(help="Destination LAT,LON")],
    mode: Annotated[str, typer.Option(help="car, bike, walk, bus or truck")] = "car",
    depart_at: Annotated[str | None, typer.Option(help="ISO 8601 departure (default now)")
                         ] = None,
    snapshot: Annotated[Path | None, typer.Option(help="Snapshot dir (default: sample)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")] = False,
) -> None:
    """Print a road route: summary and turn-by-turn steps."""
    from api import operations, render
    from api.apiproblem import ApiProblem
    from api.params import parse_latlon, parse_time
    from api.service import load_service

    try:
        frm, dst = parse_latlon(from_, "from"), parse_latlon(to, "to")
    except ApiProblem as exc:
        err.print(f"[red]error:[/] {exc.detail}")
        raise typer.Exit(2) from exc
    # one mode, no warm-up: a one-off answer loads only the kernels it uses
    svc = load_service(_resolve_snapshot(snapshot), modes=(mode,), warm=False, push=False)
    with _answering(svc.close):
        depart = parse_time(depart_at, "depart_at", svc.tz, svc.clock) if depart_at else None
        ans = operations.route(svc, svc.state(), operations.RouteQuery(frm, dst, mode, depart))
    if as_json:
        _print_json(render.route_answer_json(svc.snapshot, ans, frm, dst))
        return
    r = ans.items[0].route
    mins = r.duration_s / 60
    console.print(f"[bold]{mode}[/]: {r.distance_m / 1000:.2f} km, {mins:.1f} min "
                  f"(snapshot {svc.snapshot.snapshot_id}, live v{r.live_version})")
    for msg in render.explanation_json(ans.items[0].explanation)["messages"]:
        console.print(f"[yellow]{msg}[/]")
    t = Table(show_header=True, header_style="bold")
    t.add_column("#", justify="right")
    t.add_column("instruction")
    t.add_column("distance", justify="right")
    t.add_column("time", justify="right")
    for i, s in enumerate(r.steps, 1):
        t.add_row(str(i), s.instruction, f"{s.distance_m:,.0f} m" if s.distance_m else "",
                  f"{s.duration_s / 60:.1f} min" if s.duration_s else "")
    console.print(t)


@app.command()
def plan(
    from_: Annotated[str, typer.Option("--from", help="Origin LAT,LON or stop:ID")],
    to: Annotated[str, typer.Option(help="Destination LAT,LON or stop:ID")],
    at: Annotated[str | None, typer.Option(help="ISO 8601 departure (arrival with "
                                           "--arrive-by); default now")] = None,
    arrive_by: Annotated[bool, typer.Option(help="--at is the latest arrival")] = False,
    window_min: Annotated[int, typer.Option(help="Range of departures (minutes)")] = 0,
    max_transfers: Annotated[int, typer.Option(help="Most transfers")] = 4,
    num: Annotated[int, typer.Option(help="Number of itineraries")] = 3,
    snapshot: Annotated[Path | None, typer.Option(help="Snapshot dir (default: sample)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")] = False,
) -> None:
    """Plan a public-transport journey and print readable itineraries."""
    from api import operations, render
    from api.params import parse_latlon, parse_time
    from api.service import load_service
    from routing.plan import PlanRequest, UnknownStopError

    # a one-off answer: no warm-up, no event hub or webhooks
    svc = load_service(_resolve_snapshot(snapshot), warm=False, push=False)
    with _answering(svc.close):
        p = svc.planner
        if p is None:
            err.print("[red]error:[/] this snapshot has no public-transport timetable")
            raise typer.Exit(1)

        def place(value: str, name: str) -> tuple[float, float] | int:
            if not value.startswith("stop:"):
                return parse_latlon(value, name)
            try:
                return p.resolve_stop(value[5:])
            except UnknownStopError as exc:  # a bad parameter, as a bad coordinate is
                err.print(f"[red]error:[/] --{name}: {exc}")
                raise typer.Exit(2) from exc

        req = PlanRequest(place(from_, "from"), place(to, "to"),
                          parse_time(at, "at", p.transit.ref_tz, svc.clock),
                          arrive_by=arrive_by, window_s=window_min * 60,
                          max_transfers=max_transfers, num_itineraries=num)
        res = operations.plan(svc, svc.state(), req)
    if as_json:
        _print_json(render.plan_json(res))
        return
    if not res.itineraries:
        err.print("No itinerary found for these settings")
        raise typer.Exit(1)
    for n, it in enumerate(res.itineraries, 1):
        dep, arr = it.departure.strftime("%H:%M"), it.arrival.strftime("%H:%M")
        console.print(f"[bold]Option {n}[/]: {dep} → {arr}  ({it.duration_s / 60:.0f} min, "
                      f"{it.transfers} transfer(s), {it.walk_m:.0f} m walking)")
        for leg in it.legs:
            t0, t1 = leg.departure.strftime("%H:%M"), leg.arrival.strftime("%H:%M")
            if leg.mode != "transit":
                console.print(f"   {t0}–{t1}  {leg.mode} {leg.distance_m or 0:.0f} m to "
                              f"{leg.destination.name}")
            else:
                assert leg.route is not None
                ids = ", ".join(a.uid for a in leg.alerts or [])
                alerts = f"  [yellow]⚠ {ids}[/]" if ids else ""
                late_s = leg.departure_delay_s or 0
                late = f" [red]+{late_s // 60} min[/]" if late_s >= 60 else ""
                console.print(f"   {t0}–{t1}{late}  [bold]{leg.route.type_name} "
                              f"{leg.route.short_name}[/] towards {leg.headsign}: "
                              f"{leg.origin.name} → {leg.destination.name} "
                              f"({len(leg.intermediate_stops or [])} stops){alerts}")


@app.command()
def accessibility(
    snapshot: Annotated[Path, typer.Option(help="Snapshot directory (memory-mapped by every "
                                           "worker once)")],
    opportunities: Annotated[Path, typer.Option(help=(
        "CSV or Parquet of opportunities: columns lat, lon and optionally weight (default 1); "
        "malformed rows are skipped and counted"))],
    out: Annotated[Path, typer.Option(help=(
        "Result Parquet (one row per origin); a GeoJSON and a PNG map are written beside it"))],
    origins: Annotated[str, typer.Option(help=(
        "grid:SPACING (e.g. grid:500m) over the network, or a CSV/Parquet file with lat, "
        "lon"))] = "grid:500m",
    mode: Annotated[str, typer.Option(help="transit, car, bike or walk")] = "transit",
    depart_window: Annotated[str, typer.Option(help=(
        "Departures HH:MM-HH:MM (city time); the median travel time over them counts"))
                             ] = "07:00-09:00",
    step_min: Annotated[int, typer.Option(min=1, max=120, help=(
        "Minutes between sampled departures in the window"))] = 15,
    date: Annotated[str | None, typer.Option(help=(
        "Date YYYY-MM-DD (default today; for transit outside the timetable's period, its "
        "first Wednesday)"))] = None,
    scheduler: Annotated[str | None, typer.Option(help=(
        "Address of an existing Dask scheduler (tcp://HOST:PORT), or 'synchronous' to run "
        "in this process; default: a local Dask cluster"))] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help=(
        "Workers of the local cluster (one thread each)"))] = 2,
    block_size: Annotated[int, typer.Option(min=1, max=10_000, help="Origins per Dask task")
                          ] = 16,
    live: Annotated[str | None, typer.Option(help=(
        "Incident store URL (sqlite:///… or postgresql://…): apply its live state — "
        "closures, slowdowns, closed stops, realtime transit data — as a server would; "
        "default: the timetable / typical-speed state alone"))] = None,
) -> None:
    """Cumulative opportunities reachable within 15/30/45/60 minutes from every origin,
    computed as Dask tasks (a local cluster by default, an existing scheduler by address).
    Needs the ``analysis`` extra (Dask, matplotlib, pyarrow)."""
    import datetime as dt

    _require_extra("analysis", ("dask", "distributed", "matplotlib", "pyarrow"),
                   "citynav accessibility")

    import numpy as np

    from routing import accessibility as acc

    try:
        if mode not in acc.MODES:
            raise acc.AccessibilityInputError(f"--mode: expected one of "
                                              f"{', '.join(acc.MODES)}, got {mode!r}")
        if not (snapshot / "meta.json").is_file():
            raise acc.AccessibilityInputError(f"--snapshot: {snapshot} is not a snapshot "
                                              "directory (no meta.json)")
        window = acc.parse_window(depart_window)
        ctx = acc.worker_context(str(snapshot))
        if mode == "transit" and ctx.planner is None:
            raise acc.AccessibilityInputError("--mode transit: the snapshot has no timetable")
        if mode != "transit" and mode not in ctx.router.modes:
            raise acc.AccessibilityInputError(f"--mode {mode}: the snapshot has no street "
                                              "network for it")
        day = dt.date.fromisoformat(date) if date else acc.default_date(ctx, mode)
        o_lat, o_lon, o_skip = _origins(acc, snapshot, origins, mode)
        p_lat, p_lon, p_w, p_skip = acc.read_points(opportunities, "--opportunities", True)
    except (acc.AccessibilityInputError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    for what, n in (("origins", o_skip), ("opportunities", p_skip)):
        if n:
            err.print(f"[yellow]{what}: skipped {n} malformed rows[/]")
    err.print(f"{o_lat.shape[0]} origins, {p_lat.shape[0]} opportunities "
              f"(total weight {float(p_w.sum()):g}), {mode}, {day.isoformat()} {depart_window}")
    live_job = None
    if live is not None:
        from api.service import apply_live_state
        from incidents.errors import StoreConfigError

        try:
            version = acc.live_version(str(snapshot), apply_live_state, live)
        except StoreConfigError as exc:
            err.print(f"[red]error:[/] --live: {exc}")
            raise typer.Exit(2) from None
        live_job = (apply_live_state, live, version)
        err.print(f"live state of the incident store: version {version}")
    job = acc.Job(str(snapshot.resolve()), mode, day.isoformat(), window, step_min * 60,
                  p_lat, p_lon, p_w, live_job)
    client = cluster = None
    if scheduler != "synchronous":
        from distributed import Client, LocalCluster

        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
    try:
        with _progress() as p:
            bar = _Bar(p)
            result = acc.run(job, o_lat, o_lon, client, block_size,
                             lambda done, total: bar("origin blocks", done, total))
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    meta = {"mode": mode, "date": day.isoformat(), "window": depart_window,
            "step_min": step_min, "cutoffs_min": list(acc.CUTOFFS_MIN),
            "state": "live" if live_job else "timetable",
            "live_version": live_job[2] if live_job else None}
    paths = acc.write_outputs(out, o_lat, o_lon, result, meta)
    ok = np.isfinite(result[:, 0])
    err.print(f"{int(ok.sum())} origins answered ({int((~ok).sum())} off the network)")
    for path in paths:
        console.print(str(path))


def _origins(acc: Any, snapshot: Path, spec: str, mode: str) -> tuple[Any, Any, int]:
    """Origins from ``grid:SPACING`` (m, km suffixes) or a file."""
    if spec.startswith("grid:"):
        v = spec[5:].strip().lower()
        try:
            spacing = float(v[:-2]) * 1000 if v.endswith("km") else float(v.rstrip("m"))
        except ValueError:
            raise acc.AccessibilityInputError(f"--origins: expected grid:SPACING such as "
                                              f"grid:500m, got {spec!r}") from None
        lat, lon = acc.grid_origins(snapshot, spacing, mode)
        return lat, lon, 0
    lat, lon, _, skipped = acc.read_points(Path(spec), "--origins", False)
    return lat, lon, skipped


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
