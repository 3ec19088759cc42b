"""HTTP plumbing around the routes: ``HEAD`` wherever ``GET`` is, and CORS for configured
browser origins."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Methods a cross-origin browser page may use (preflight answers list them).
CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
#: Request headers a cross-origin page may send beyond the CORS-safelisted ones.
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match"]
#: Response headers a cross-origin page may read beyond the CORS-safelisted ones.
CORS_EXPOSED_HEADERS = ["ETag", "Location", "Retry-After"]


class HeadAsGetMiddleware:
    """Answer ``HEAD`` exactly as ``GET`` would, without the body (RFC 9110 §9.3.2).

    FastAPI routes accept only their declared methods, so a ``HEAD`` request would get 405.
    This middleware runs ``HEAD`` as ``GET`` through the whole inner stack (routing,
    compression, handlers) and drops the body, so status and headers, ``Content-Length``
    included, are those of the ``GET``. A route that declares ``HEAD`` itself is left
    alone. Mounts (static files) are run as ``GET`` too, although Starlette's
    ``StaticFiles`` knows ``HEAD``: its ``HEAD`` answer would skip compression and so differ
    from the ``GET``'s headers. On a path without ``GET`` the answer is the ``GET``'s: 405
    with an ``Allow`` header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or _handles_head(scope):
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        # A copy: the server keeps its own scope, whose method stays HEAD.
        await self.app({**scope, "method": "GET"}, receive, send_without_body)


def _handles_head(scope: Scope) -> bool:
    """Whether a route of the app (not a mount) declares ``HEAD`` for this request's path."""
    router = getattr(scope.get("app"), "router", None)
    for route in getattr(router, "routes", ()):
        if isinstance(route, Mount):
            continue
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return True
    return False


def install(app: FastAPI, cors_origins: Sequence[str] = ()) -> None:
    """Add the middleware to ``app`` (call after the app's other middleware: these wrap it).

    ``cors_origins``: normalised origins (:func:`api.settings.parse_origins`) allowed to call
    the API from a browser page on another origin; ``*`` allows any. Without origins no CORS
    middleware is installed and browsers keep the same-origin policy.
    """
    app.add_middleware(HeadAsGetMiddleware)
    if cors_origins:
        # Outermost, so error answers (401, 404, 412, 422 …) carry the CORS headers too.
        # No credentials mode: the API authenticates with an explicit Bearer header.
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=CORS_METHODS, allow_headers=CORS_REQUEST_HEADERS,
                           expose_headers=CORS_EXPOSED_HEADERS, allow_credentials=False,
                           max_age=600)
