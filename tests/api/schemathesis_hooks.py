"""Schemathesis hooks (``SCHEMATHESIS_HOOKS``) of the fuzz test: GTFS-Realtime request bodies
(``application/x-protobuf``) are sent as the raw bytes generated, like octet streams."""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")
