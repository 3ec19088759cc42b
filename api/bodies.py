"""Reading JSON request bodies safely: media type, size, nesting depth and number range are
checked before anything else looks at the body, so no body can crash or stall a worker.

- a body that is not sent as ``application/json`` (or ``…+json``) is 415, a missing
  ``Content-Type`` included;
- a body larger than the endpoint's limit is 413 (``Content-Length`` checked first, then the
  bytes as they stream in, so a chunked body is cut off at the limit);
- arrays and objects nested deeper than :data:`MAX_JSON_DEPTH` are 422 (found by a
  bracket count over the bytes, before the parser recurses);
- numbers that overflow to infinity or underflow to zero (``1e-400``) are 422: such a
  coordinate would silently become 0.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from starlette.requests import Request

from api.problems import ApiProblem

#: Deepest nesting of arrays and objects a JSON body may have (a GeoJSON MultiPolygon
#: inside an incident is 6 deep).
MAX_JSON_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_DIGITS = re.compile(r"[1-9]")


def check_media_type(request: Request) -> None:
    """Raise a 415 problem unless the request says its body is JSON."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype == "application/json" or (ctype.startswith("application/")
                                            and ctype.endswith("+json"))):
        shown = repr(ctype) if ctype else "no Content-Type"
        raise ApiProblem(415, "unsupported-media-type", "send JSON (Content-Type: "
                         f"application/json), not {shown}", "Unsupported media type")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body of a JSON request: 415 for another media type, 413 past ``max_bytes``
    (without reading further), 422 when empty."""
    check_media_type(request)
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise ApiProblem(422, "empty-body", "the request body is empty; send JSON",
                         "Empty body")
    return body


def _too_large(max_bytes: int) -> ApiProblem:
    return ApiProblem(413, "payload-too-large", f"the body is larger than {max_bytes} bytes",
                      "Payload too large")


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays/objects in the JSON text ``raw`` (strings are skipped;
    the text need not be valid JSON)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    arr = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((arr == ord("[")) | (arr == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is too large")
    if value == 0.0:
        mantissa = text.lower().split("e")[0]
        if _DIGITS.search(mantissa):
            raise ValueError(f"number {text[:40]} is too small to represent (it would "
                             "become 0)")
    return value


def _parse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON body: 422 problems for nesting deeper than ``max_depth``, invalid
    JSON (``NaN``/``Infinity`` included) and numbers that overflow or underflow."""
    depth = json_depth(raw)
    if depth > max_depth:
        raise ApiProblem(422, "json-too-deep", f"the body nests arrays/objects {depth} deep; "
                         f"at most {max_depth} allowed", "JSON nested too deep",
                         invalid_params=[{"name": "body", "reason": f"nesting deeper than "
                                          f"{max_depth}"}])
    try:
        return json.loads(raw, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError:  # defensive: the depth check above comes first
        raise ApiProblem(422, "json-too-deep", "the body nests arrays/objects too deep",
                         "JSON nested too deep") from None
    except ValueError as exc:  # json.JSONDecodeError and the number checks
        raise ApiProblem(422, "invalid-json", f"the body is not valid JSON: {exc}",
                         "Invalid JSON", invalid_params=[{"name": "body",
                                                          "reason": str(exc)}]) from None
