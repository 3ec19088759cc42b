"""``GET /v1/events`` on a real uvicorn server: incident changes arrive as they commit, and a
client reconnecting with ``Last-Event-ID`` after a server restart receives every change it
missed (made while the server was down, and after), in order, none twice."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from incidents.keys import create_key
from incidents.store import open_store
from tests.api.live_server import live_server

A, B = "39.0837,-84.5086", "39.0912,-84.4960"


class SseReader:
    """Reads an event stream in a thread; keeps the parsed events."""

    def __init__(self, url: str, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.comments = 0
        self.last_id: str | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(url, params, headers),
                                        daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "stream did not open"

    def _run(self, url: str, params: dict[str, Any] | None,
             headers: dict[str, str] | None) -> None:
        try:
            with httpx.stream("GET", url, params=params, headers=headers,
                              timeout=httpx.Timeout(60, read=120)) as r:
                assert r.status_code == 200, r.read()
                assert r.headers["content-type"].startswith("text/event-stream")
                self._ready.set()
                fields: dict[str, str] = {}
                for line in r.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if "id" in fields:
                            self.last_id = fields["id"]
                        if "data" in fields:
                            self.events.append({"id": fields.get("id"),
                                                "event": fields.get("event"),
                                                "data": json.loads(fields["data"])})
                        fields = {}
                    elif line.startswith(":"):
                        self.comments += 1
                    else:
                        k, _, v = line.partition(":")
                        fields[k] = v[1:] if v.startswith(" ") else v
        except httpx.HTTPError:
            pass  # the server went away
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self._ready.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    def wait_for(self, kind: str, n: int, timeout_s: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.of(kind)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError(f"only {len(self.of(kind))} {kind} events of {n}: {self.events}")

    def close(self) -> None:
        self._stop.set()


def _closure(coords: list[list[float]], n: int) -> dict[str, Any]:
    return {"type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
            "geometry": {"type": "LineString", "coordinates": coords}, "direction": "both",
            "road_effect": {"closed_to": ["car"]}, "description": {"en": f"closure {n}"}}


@pytest.mark.slow
def test_sse_resume_after_restart_gets_every_missed_change(nky_snapshot_dir: Path,
                                                           tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'incidents.db'}"
    with open_store(db_url) as store:
        key = create_key(store, "traffic_centre", "KYTC")
    auth = {"Authorization": f"Bearer {key}"}
    args = ["--db", db_url]
    with live_server(nky_snapshot_dir, args) as (url, _proc):
        route = httpx.get(f"{url}/v1/route", params={"from": A, "to": B}).json()
        coords = route["routes"][0]["geometry"]["coordinates"]
        reader = SseReader(f"{url}/v1/events", {"types": "incident,state", "heartbeat_s": 1})
        first = reader.wait_for("state", 1)[0]
        assert first["data"]["data"]["live_version"] >= 0
        made = []
        for n in range(3):
            k = (n + 1) * len(coords) // 5
            r = httpx.post(f"{url}/v1/incidents", json=_closure(coords[k:k + 3], n),
                           headers=auth)
            assert r.status_code == 201, r.text
            made.append(r.json())
        got = reader.wait_for("incident", 3)
        assert [e["data"]["data"]["incident_id"] for e in got] == [i["id"] for i in made]
        assert [e["data"]["name"] for e in got] == ["incident.create"] * 3
        # speed observations: a congestion event with the area's summary
        cong = SseReader(f"{url}/v1/events", {"types": "congestion",
                                              "bbox": "-84.6,39.0,-84.4,39.2"})
        now = datetime.now(UTC).isoformat()
        r = httpx.post(f"{url}/v1/traffic/speeds", headers=auth, json={"observations": [
            {"ref": {"geometry": {"type": "LineString", "coordinates": coords[1:4]}},
             "speed_kmh": 7, "observed_at": now}]})
        assert r.status_code == 200, r.text
        [c_ev] = cong.wait_for("congestion", 1)
        cong.close()
        assert c_ev["data"]["data"]["speed_batch"]["observations"] >= 1
        assert c_ev["data"]["data"]["summary"]["live_speed_edges"] >= 1
        # the stream's heartbeats keep an idle connection open
        time.sleep(2.5)
        assert reader.comments >= 1
        last_id = reader.last_id
        assert last_id is not None
        reader.close()
    # the server is down: changes keep being committed (another replica, the CLI)
    with open_store(db_url) as store:
        inc = store.get(made[0]["id"])
        store.resolve(inc.id, "cli:ops", inc.version)
        k = len(coords) // 2
        extra = store.create(_closure(coords[k:k + 3], 9), "cli:ops", "KYTC")
        store.delete(made[1]["id"], "cli:ops", store.get(made[1]["id"]).version)
    with live_server(nky_snapshot_dir, args) as (url, _proc):
        inc = httpx.get(f"{url}/v1/incidents/{made[2]['id']}").json()
        r = httpx.patch(f"{url}/v1/incidents/{inc['id']}", json={"severity": "severe"},
                        headers={**auth, "If-Match": f'"{inc["version"]}"'})
        assert r.status_code == 200, r.text
        reader = SseReader(f"{url}/v1/events", {"types": "incident"},
                           {"Last-Event-ID": last_id})
        got = reader.wait_for("incident", 4)
        time.sleep(0.5)
        reader.close()
        got = reader.of("incident")
        assert [(e["data"]["data"]["incident_id"], e["data"]["name"]) for e in got] == [
            (made[0]["id"], "incident.resolve"), (extra.id, "incident.create"),
            (made[1]["id"], "incident.delete"), (made[2]["id"], "incident.update")]
        seqs = [e["data"]["data"]["seq"] for e in got]
        assert seqs == list(range(seqs[0], seqs[0] + 4))
        # ids grow and the last one is where a further reconnect resumes: nothing more
        again = SseReader(f"{url}/v1/events", {"types": "incident"},
                          {"Last-Event-ID": got[-1]["id"]})
        time.sleep(1.0)
        again.close()
        assert again.of("incident") == []
        # a bad Last-Event-ID is a problem, not a silent restart from now
        bad = httpx.get(f"{url}/v1/events", headers={"Last-Event-ID": "nonsense"})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")


@pytest.mark.slow
def test_watch_notified_on_stream_and_webhook(nky_snapshot_dir: Path, tmp_path: Path) -> None:
    """A commuter with a personal token follows their watch on the event stream and by
    webhook; a closure on their route reaches both, signed, with the time lost."""
    from incidents.webhooks import verify_signature
    from tests.api.test_http_webhooks import Receiver

    db_url = f"sqlite:///{tmp_path / 'incidents.db'}"
    with open_store(db_url) as store:
        key = create_key(store, "traffic_centre", "KYTC")
    auth = {"Authorization": f"Bearer {key}"}
    rx = Receiver()
    rx.mode = "ok"
    args = ["--db", db_url, "--clock", "2020-01-15T08:00:00-05:00", "--freeze-clock"]
    try:
        with live_server(nky_snapshot_dir, args,
                         env={"CITYNAV_WEBHOOK_ALLOW_PRIVATE": "1"}) as (url, _proc):
            r = httpx.post(f"{url}/v1/watches", json={
                "from": A, "to": B, "mode": "car", "days": ["wed"],
                "window": {"start": "07:30", "end": "09:00"}, "threshold_s": 30})
            assert r.status_code == 201, r.text
            watch = r.json()
            mine = {"Authorization": f"Bearer {watch['token']}"}
            hook = httpx.post(f"{url}/v1/webhooks", json={"url": rx.url, "types": ["watch"]},
                              headers=mine).json()
            # the stream needs the owner's token for watch events
            assert httpx.get(f"{url}/v1/events", params={"types": "watch"}).status_code == 401
            reader = SseReader(f"{url}/v1/events", {"types": "watch"}, mine)
            route = httpx.get(f"{url}/v1/route", params={"from": A, "to": B}).json()
            coords = route["routes"][0]["geometry"]["coordinates"]
            k = len(coords) // 2
            t0 = time.monotonic()
            r = httpx.post(f"{url}/v1/incidents", json=_closure(coords[k:k + 3], 1),
                           headers=auth)
            assert r.status_code == 201, r.text
            [ev] = reader.wait_for("watch", 1)
            print(f"\nwatch event {1000 * (time.monotonic() - t0):.0f} ms after the POST")
            data = ev["data"]["data"]
            assert data["watch_id"] == watch["id"] and data["time_lost_s"] > 30
            assert r.json()["id"] in data["explanation"]["avoided"]
            deadline = time.monotonic() + 30
            while not rx.processed and time.monotonic() < deadline:
                time.sleep(0.05)
            [req] = rx.processed
            h = {k.lower(): v for k, v in req["headers"].items()}
            assert verify_signature(hook["secret"], h["citynav-timestamp"], req["body"],
                                    h["citynav-signature"])
            assert json.loads(req["body"])["data"]["watch_id"] == watch["id"]
            got = httpx.get(f"{url}/v1/watches/{watch['id']}", headers=mine).json()
            assert [n["seq"] for n in got["notifications"]] == [data["seq"]]
            reader.close()
    finally:
        rx.close()
