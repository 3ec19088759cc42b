"""``GET /v1/route`` through the fast path (:mod:`api.fastroute`) answers exactly what the
ordinary FastAPI handler answers: same status, headers and bytes, for random routes in
every mode and language, compressed or not, ``HEAD`` included, and for every kind of
refusal (which the fast path either renders itself or leaves to the ordinary way)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.fastroute import plain_query
from api.service import load_service
from routing.clock import ReplayClock

CLOCK_AT = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pair(nky_snapshot_dir, tmp_path_factory) -> Iterator[tuple[TestClient, TestClient, list]]:
    d = tmp_path_factory.mktemp("fastroute")
    clients = []
    services = []
    for name, fast in (("fast", True), ("slow", False)):
        svc = load_service(
            nky_snapshot_dir,
            db_url=f"sqlite:///{d}/{name}.db",
            clock=ReplayClock(CLOCK_AT, frozen=True),
        )
        services.append(svc)
        # a generous deadline: the first route of a mode prepares it (slow on a busy machine)
        clients.append(
            TestClient(
                create_app(service=svc, fast_route=fast, deadline_s=300),
                raise_server_exceptions=False,
            )
        )
    for c in clients:
        c.__enter__()
    snap = services[0].snapshot
    nodes = np.column_stack([np.asarray(snap.node_lat), np.asarray(snap.node_lon)])
    yield clients[0], clients[1], nodes
    for c in clients:
        c.__exit__(None, None, None)
    for svc in services:
        svc.close()


def _same(
    fast: TestClient,
    slow: TestClient,
    query: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> int:
    a = fast.request(method, "/v1/route?" + query, headers=headers)
    b = slow.request(method, "/v1/route?" + query, headers=headers)
    assert a.status_code == b.status_code, (query, a.text, b.text)
    assert a.headers.multi_items() == b.headers.multi_items(), query
    assert a.content == b.content, query
    return a.status_code


def test_random_routes_are_answered_alike(pair) -> None:
    fast, slow, nodes = pair
    rng = random.Random(14)
    statuses = []
    for k in range(60):
        a, b = nodes[rng.randrange(len(nodes))], nodes[rng.randrange(len(nodes))]
        mode = rng.choice(["car", "car", "bike", "walk", "bus", "truck"])
        q = f"from={a[0]:.6f},{a[1]:.6f}&to={b[0]:.6f},{b[1]:.6f}&mode={mode}"
        if rng.random() < 0.5:
            q += f"&alternatives={rng.randrange(4)}"
        if rng.random() < 0.5:
            q += "&lang=" + rng.choice(["en", "zh-CN", "zh", "EN"])
        if rng.random() < 0.3:
            q += "&depart_at=" + rng.choice(["2026-11-24T08:00:00-05:00", "2026-11-24T17:30"])
        assert plain_query(q.encode()) is not None, q  # these take the fast path
        headers = {"Accept-Encoding": "identity"} if k % 3 == 0 else None
        statuses.append(_same(fast, slow, q, "HEAD" if k % 7 == 0 else "GET", headers))
    assert statuses.count(200) >= 40, statuses


@pytest.mark.parametrize(
    "query",
    [
        "from=39.0837,-84.5086&to=39.0412,-84.4960",
        "from=39.0837,-84.5086&to=39.0412,-84.4960&lang=",  # blank: English
        "from=abc&to=39.0412,-84.4960",  # malformed coordinate (parse_latlon)
        "from=39.0837,-84.5086&to=91,0",  # latitude out of range
        "from=39.0837,-84.5086&to=0.0,0.0",  # far from any road: snapping refused
        "from=39.0837,-84.5086&to=39.0412,-84.4960&lang=fr",  # unsupported language
        "from=39.0837,-84.5086&to=39.0412,-84.4960&depart_at=1700000000",  # not a timestamp
        "from=39.0837,-84.5086&to=39.0412,-84.4960&depart_at=",
        # left to the ordinary way: FastAPI's validation answers
        "from=39.0837,-84.5086&to=39.0412,-84.4960&mode=plane",
        "from=39.0837,-84.5086&to=39.0412,-84.4960&alternatives=4",
        "from=39.0837,-84.5086&to=39.0412,-84.4960&alternatives=%201",
        "from=39.0837,-84.5086&to=39.0412,-84.4960&alternatives=",
        "from=39.0837,-84.5086&from=39.0412,-84.4960&to=39.0412,-84.4960",
        "from=39.0837,-84.5086&to=39.0412,-84.4960&vehicle_height_m=3.8",
        "from=39.0837,-84.5086&to=39.0412,-84.4960&mode=truck&vehicle_height_m=3.8",
        "from=" + "1" * 65 + "&to=39.0412,-84.4960",
        "to=39.0412,-84.4960",
        "from=39.0837,-84.5086&to=39.0412,-84.4960&unknown=1",
        "from=39.0837%2C-84.5086&to=39.0412%2C-84.4960&lang=zh-CN",
    ],
)
def test_edge_cases_are_answered_alike(pair, query: str) -> None:
    fast, slow, _ = pair
    for headers in (None, {"Accept-Encoding": "identity"}):
        status = _same(fast, slow, query, headers=headers)
        assert status < 500, query
    _same(fast, slow, query, "HEAD")


def test_plain_query_takes_only_what_it_can_answer_alike() -> None:
    ok = plain_query(
        b"from=1,2&to=3,4&mode=bike&alternatives=2&lang=zh-CN&depart_at=2026-11-24T08:00"
    )
    assert ok == {
        "from": "1,2",
        "to": "3,4",
        "mode": "bike",
        "alternatives": "2",
        "lang": "zh-CN",
        "depart_at": "2026-11-24T08:00",
    }
    for q in (
        b"from=1,2",
        b"from=1,2&to=3,4&mode=Car",
        b"from=1,2&to=3,4&alternatives=12",
        b"from=1,2&to=3,4&to=5,6",
        b"from=1,2&to=3,4&x=1",
        b"from=1,2&to=3,4&lang=" + b"e" * 17,
    ):
        assert plain_query(q) is None, q


def test_fast_answers_are_counted_under_the_route_template(pair) -> None:
    fast, _, _ = pair

    def count() -> float:
        for line in fast.get("/metrics").text.splitlines():
            if (
                line.startswith("citynav_http_requests_total{")
                and 'endpoint="/v1/route"' in line
                and 'status="200"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count()
    assert (
        fast.get(
            "/v1/route", params={"from": "39.0837,-84.5086", "to": "39.0412,-84.4960"}
        ).status_code
        == 200
    )
    assert count() == before + 1
