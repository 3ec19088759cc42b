"""A tiny pre-fork server for tests of :class:`api.prefork.Supervisor` (no city to load):

    python -m tests.api.prefork_app PORT WORKERS [--fail-start]

``GET /pid`` answers the worker's pid; ``GET /slow?s=S`` answers after S seconds;
``--fail-start``: every worker's start-up (lifespan) fails."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from api.prefork import Supervisor, bind_socket, freeze_loaded


def make_app(fail_start: bool) -> Any:
    """A bare ASGI app (lifespan, /pid, /slow)."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    if fail_start:
                        await send({"type": "lifespan.startup.failed", "message": "asked to"})
                        return
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/slow":
            seconds = float(scope["query_string"].decode().partition("=")[2] or 1)
            await asyncio.sleep(seconds)
        body = str(os.getpid()).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    fail_start = "--fail-start" in sys.argv
    sock = bind_socket("127.0.0.1", port)
    freeze_loaded()
    sys.exit(Supervisor(sock, lambda: make_app(fail_start), workers, graceful_s=20).run())


if __name__ == "__main__":
    main()
