"""A short way through the stack for the busiest request, ``GET /v1/route``.

Measured on the bundled city, FastAPI's request handling (routing, solving eleven query
parameters through pydantic, the exception and exit-stack layers, anyio's thread hand-off)
cost more CPU per route answer than computing the route. :class:`RouteFastPath` sits just
inside compression and answers ``GET /v1/route`` itself when its query is plainly
well-formed — only ``from``, ``to``, ``mode``, ``alternatives``, ``lang`` and ``depart_at``,
each at most once and within its declared bounds — through the same work as the handler
(:func:`api.app.route_answer`) in a small thread pool of its own. Anything else (vehicle
dimensions, repeated or unknown parameters, a value the declared bounds refuse) takes the
ordinary way, so every refusal is the one FastAPI's validation gives. Problems raised by the
shared work are answered as the app's handler answers them. Everything around it stays:
CORS, ``HEAD``, metrics and access log (labelled with the route's template), quotas, the
deadline, and gzip.
"""

from __future__ import annotations

import asyncio
import os
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.fastjson import dumps
from api.problems import ApiProblem, problem_response
from routing.profiles import Mode

#: Threads computing fast-path routes per process. Route work holds the GIL most of the
#: time, so more threads only interleave answers (raising every answer's latency) without
#: adding throughput; a few let the kernels' GIL-free stretches overlap. The environment's
#: ``CITYNAV_ROUTE_THREADS`` overrides it.
DEFAULT_THREADS = 2
PATH = "/v1/route"
#: The handler's parameters this path takes, with their declared ``max_length``.
_MAX_LEN = {"from": 64, "to": 64, "lang": 16, "depart_at": 64, "mode": 16, "alternatives": 1}
_ALTERNATIVES = re.compile(r"[0-3]")
_MODES = {m.value: m for m in Mode}


def plain_query(query_string: bytes) -> dict[str, str] | None:
    """The route query as a dict when every parameter is one the fast path takes, given
    once and within its declared length; else ``None`` (the ordinary way decides)."""
    out: dict[str, str] = {}
    # decoded as Starlette decodes query strings
    for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        limit = _MAX_LEN.get(k)
        if limit is None or k in out or len(v) > limit:
            return None
        out[k] = v
    if "from" not in out or "to" not in out:
        return None
    if "mode" in out and out["mode"] not in _MODES:
        return None
    if "alternatives" in out and not _ALTERNATIVES.fullmatch(out["alternatives"]):
        return None
    return out


class _RouteTemplate:
    """What the router leaves in ``scope["route"]``, as far as :func:`api.metrics.endpoint_of`
    reads it."""

    path = PATH


_ROUTE = _RouteTemplate()


class RouteFastPath:
    """ASGI middleware answering plainly well-formed ``GET /v1/route`` requests (see the
    module docstring); install it inside compression, outside the app's router."""

    def __init__(self, app: ASGIApp, threads: int | None = None) -> None:
        self.app = app
        self.threads = (
            threads or int(os.environ.get("CITYNAV_ROUTE_THREADS", "0")) or DEFAULT_THREADS
        )
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:  # created in the serving process (after any fork)
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="route")
        return self._pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        svc = getattr(getattr(app, "state", None), "service", None)
        q = plain_query(scope["query_string"]) if svc is not None else None
        if svc is None or q is None:
            await self.app(scope, receive, send)
            return
        from api.app import route_answer  # noqa: PLC0415 (api.app installs this module)

        scope["route"] = _ROUTE  # metrics and access logs label by the route's template
        mode = _MODES[q.get("mode", Mode.CAR.value)]
        alternatives = int(q.get("alternatives", "0"))

        def work() -> bytes | ApiProblem:
            try:
                return dumps(
                    route_answer(
                        svc,
                        q["from"],
                        q["to"],
                        mode,
                        q.get("depart_at"),
                        alternatives,
                        q.get("lang", "en"),
                    )
                )
            except ApiProblem as exc:
                return exc

        res = await asyncio.get_running_loop().run_in_executor(self._executor(), work)
        if isinstance(res, ApiProblem):
            await problem_response(
                Request(scope),
                res.status,
                res.kind,
                res.title,
                res.detail,
                res.invalid_params,
                res.headers,
            )(scope, receive, send)
            return
        # the headers FastJSONResponse gives (the handler's answer)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(res)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": res})

    def close(self) -> None:
        """Stop the thread pool (after the server stopped taking requests)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
