"""The load guard's 503 answers are counted in /metrics: ``heavy_slots`` when a heavy
operation found no free slot before its deadline, ``deadline`` when a read did not start
answering within it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from api.app import create_app
from api.limits import LoadGuard
from api.metrics import metrics


def _count(reason: str) -> float:
    text = metrics().exposition()[0].decode()
    for line in text.splitlines():
        if line.startswith("citynav_overload_rejections_total{") and f'reason="{reason}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no citynav_overload_rejections_total{{reason={reason!r}}}")


def test_rejections_for_lack_of_heavy_slots_and_past_deadline_are_counted() -> None:
    async def main() -> tuple[list[int], list[int]]:
        release = asyncio.Event()
        entered = asyncio.Event()

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["path"] == "/v1/plan":  # heavy: holds its slot until released
                entered.set()
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        guard = LoadGuard(inner, deadline_s=0.3, heavy_slots=1)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=guard), base_url="http://t"
        ) as c:
            first = asyncio.create_task(c.get("/v1/plan"))
            await entered.wait()
            # the only slot is taken: the second heavy read waits its deadline out
            second = await c.get("/v1/plan")
            # a light read that does not answer within its deadline
            light = await c.get("/v1/route")
            release.set()
            done = await first
            return [second.status_code, light.status_code, done.status_code], [
                guard.rejected,
                guard.rejected_slots,
            ]

    slots0, deadline0 = _count("heavy_slots"), _count("deadline")
    statuses, (rejected, rejected_slots) = asyncio.run(main())
    # the first heavy read held its slot past its own deadline, so it is a 503 too
    assert statuses == [503, 503, 503]
    assert (rejected, rejected_slots) == (3, 1)
    assert _count("heavy_slots") == slots0 + 1
    assert _count("deadline") == deadline0 + 2


@pytest.fixture(scope="module")
def client(nky_snapshot_dir):
    with TestClient(create_app(nky_snapshot_dir, heavy_slots=1)) as c:
        yield c


def test_metrics_export_the_overload_counter_from_the_start(client) -> None:
    text = client.get("/metrics").text
    assert "# TYPE citynav_overload_rejections_total counter" in text
    for reason in ("heavy_slots", "deadline"):
        assert f'citynav_overload_rejections_total{{reason="{reason}"}}' in text
