"""The poller logic the realtime sources and the feed subscriptions share
(incidents/polling.py): backoff after failures, conditional GETs against a real local HTTP
server, watched files."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from incidents.polling import (
    MAX_BACKOFF_S,
    FetchError,
    PollState,
    backoff_delay,
    fetch_url,
    read_file,
)


@pytest.mark.parametrize(("interval", "failures", "want"), [
    (30.0, 0, 30.0), (30.0, 1, 60.0), (30.0, 2, 120.0), (30.0, 4, 480.0),
    (30.0, 5, MAX_BACKOFF_S), (30.0, 50, MAX_BACKOFF_S),
    (1.0, 12, MAX_BACKOFF_S), (0.1, 12, 409.6), (0.1, 40, 409.6),
    (900.0, 0, 900.0), (900.0, 3, 900.0),  # an interval above the cap is kept as is
])
def test_backoff_doubles_per_failure_up_to_the_cap(interval: float, failures: int,
                                                   want: float) -> None:
    assert backoff_delay(interval, failures) == pytest.approx(want)


def test_schedule_sets_the_next_poll() -> None:
    st = PollState(failures=3)
    st.schedule(10.0, now=100.0)
    assert st.next_at == 180.0
    st.failures = 0
    st.schedule(10.0, now=100.0)
    assert st.next_at == 110.0


class _Feed(BaseHTTPRequestHandler):
    """Answers /feed with a body and validators, 304 when the request's validators match;
    /broken with 500; /plain with a body and no validators."""

    seen: list[dict[str, str]] = []
    body = b"v1"
    etag = '"abc"'
    modified = "Wed, 02 Dec 2026 00:00:00 GMT"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Feed.seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.path == "/broken":
            self.send_response(500)
            self.end_headers()
            return
        if self.path == "/feed" and (self.headers.get("If-None-Match") == self.etag
                                     or self.headers.get("If-Modified-Since") == self.modified):
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        if self.path == "/feed":
            self.send_header("ETag", self.etag)
            self.send_header("Last-Modified", self.modified)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    _Feed.seen = []
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_conditional_get_uses_the_last_validators(server: str) -> None:
    st = PollState()
    with httpx.Client() as client:
        assert fetch_url(client, server + "/feed", {"x-api-key": "k"}, 5.0, st) == b"v1"
        assert st.etag == '"abc"' and st.last_modified == _Feed.modified
        assert "if-none-match" not in _Feed.seen[0] and _Feed.seen[0]["x-api-key"] == "k"
        assert fetch_url(client, server + "/feed", {"x-api-key": "k"}, 5.0, st) is None
        assert st.last_outcome == "not_modified"
        assert _Feed.seen[1]["if-none-match"] == '"abc"'
        assert _Feed.seen[1]["if-modified-since"] == _Feed.modified
        assert _Feed.seen[1]["x-api-key"] == "k"
        # no validators in the answer: the time of the answer stands in for Last-Modified
        plain = PollState()
        assert fetch_url(client, server + "/plain", {}, 5.0, plain) == b"v1"
        assert plain.etag is None and plain.last_modified is not None
        assert plain.last_modified.endswith("GMT")


def test_failed_fetches_raise_fetch_error(server: str) -> None:
    st = PollState()
    with httpx.Client() as client:
        with pytest.raises(FetchError, match="HTTP 500"):
            fetch_url(client, server + "/broken", {}, 5.0, st)
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with pytest.raises(FetchError, match="ConnectError"):
            fetch_url(client, f"http://127.0.0.1:{port}/x", {}, 2.0, st)
    assert st.etag is None


def test_watched_file_is_read_when_it_changes(tmp_path: Path) -> None:
    f = tmp_path / "feed.pb"
    f.write_bytes(b"one")
    st = PollState()
    assert read_file(f, st) == b"one"
    assert read_file(f, st) is None and st.last_outcome == "unchanged"
    f.write_bytes(b"three")  # another size
    assert read_file(f, st) == b"three"
    info = f.stat()
    f.write_bytes(b"four!")  # same size, later modification time
    os.utime(f, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    assert read_file(f, st) == b"four!"
    f.unlink()
    with pytest.raises(OSError):
        read_file(f, st)
