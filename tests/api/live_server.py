"""Run `citynav serve` in a subprocess on a free local port (end-to-end tests)."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(snapshot: Path, extra_args: list[str] | None = None,
                env: dict[str, str] | None = None, timeout_s: float = 120.0):
    """Yield the base URL of a server running on ``snapshot``; stop it afterwards."""
    port = free_port()
    args = list(extra_args or [])
    if "--workers" not in args:  # one process unless a test asks for more
        args += ["--workers", "1"]
    if "--quotas" not in args:  # tests send many anonymous requests: no quotas unless asked
        args += ["--quotas", "off"]
    cmd = [sys.executable, "-m", "api.cli", "serve", "--snapshot", str(snapshot), "--port",
           str(port), *args]
    # The log goes to a file: an unread pipe fills up and blocks the server.
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
        prefix="citynav-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                out = Path(log.name).read_text(errors="replace")
                raise RuntimeError(f"server exited early ({proc.returncode}):\n{out}")
            try:
                if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not become healthy")
            time.sleep(0.2)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        Path(log.name).unlink(missing_ok=True)


def sigterm_in_flight(proc: subprocess.Popen, clients: list[httpx.Client], path: str,
                      params: dict, join_timeout_s: float) -> list[int | str]:
    """One GET ``path`` per client, all at once; SIGTERM to the server while they are in
    flight (half a second later). Returns each request's status code, or its error's text."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    n = len(clients)
    results: list[int | str] = [""] * n
    gate = threading.Barrier(n + 1)

    def one(i: int) -> None:
        gate.wait()
        try:
            results[i] = clients[i].get(path, params=params).status_code
        except httpx.HTTPError as exc:
            results[i] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    gate.wait()
    time.sleep(0.5)  # the requests are in the server
    proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=join_timeout_s)
    return results


def close_route_stretch(c: httpx.Client, auth: dict[str, str], frm: str, to: str,
                        headers: dict[str, str] | None = None) -> tuple[dict, int]:
    """Close to cars a stretch of six points a third of the way along the car route
    ``frm`` → ``to`` (``POST /v1/incidents`` with ``auth``); returns the route answer before
    and the live version the write was acknowledged with."""
    base = c.get("/v1/route", params={"from": frm, "to": to}, headers=headers).json()
    coords = base["routes"][0]["geometry"]["coordinates"]
    stretch = coords[len(coords) // 3: len(coords) // 3 + 6]
    r = c.post("/v1/incidents", headers=auth, json={
        "type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
        "geometry": {"type": "LineString", "coordinates": stretch},
        "direction": "both", "road_effect": {"closed_to": ["car"]}})
    assert r.status_code == 201, r.text
    return base, int(r.json()["live_version"])


class EtagFeed(http.server.BaseHTTPRequestHandler):
    """A feed publisher's endpoint: serves ``body`` as ``content_type`` with ``etag``,
    answers 304 to a matching ``If-None-Match``; counts requests (``hits``) and 304s."""

    body = b""
    content_type = "application/octet-stream"
    etag = '"v1"'
    hits = 0
    not_modified = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        cls = type(self)
        cls.hits += 1
        if self.headers.get("If-None-Match") == cls.etag:
            cls.not_modified += 1
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", cls.content_type)
        self.send_header("ETag", cls.etag)
        self.send_header("Content-Length", str(len(cls.body)))
        self.end_headers()
        self.wfile.write(cls.body)

    def log_message(self, *args: object) -> None:
        pass


def serve_feed(body: bytes, content_type: str
               ) -> tuple[http.server.ThreadingHTTPServer, type[EtagFeed]]:
    """An :class:`EtagFeed` of its own (its counters start at 0) serving ``body`` on a free
    local port, in a daemon thread; the caller shuts the server down."""
    handler = type("Handler", (EtagFeed,), {"body": body, "content_type": content_type,
                                            "hits": 0, "not_modified": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler
