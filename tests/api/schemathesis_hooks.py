"""Schemathesis hooks for tests/api/test_schemathesis.py: GTFS-Realtime pushes are protobuf
(``application/x-protobuf``), which schemathesis cannot serialize by itself — generated
bodies for it are sent as raw bytes (random bytes exercise the feed's refusals)."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.serializer("application/x-protobuf")
def protobuf_bytes(ctx: Any, value: Any) -> bytes:
    """Send a generated body as it is: bytes, or text encoded as UTF-8."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return str(value).encode("utf-8")
