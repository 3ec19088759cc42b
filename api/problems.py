"""RFC 9457 problem details: one response shape for every error the API returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.apiproblem import ApiProblem

__all__ = ["ApiProblem"]  # re-exported: its home is api.apiproblem (no web framework)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://citynav.dev/problems/"


class InvalidParam(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    name: str = Field(description="Parameter or field path, e.g. 'query.from' or 'body.end'",
                      examples=["query.from"])
    reason: str = Field(description="What is wrong with it, in words",
                        examples=["expected 'LAT,LON' as decimal degrees, got 'abc'"])


class Problem(BaseModel):
    """An RFC 9457 problem details object (media type ``application/problem+json``).

    Problems about incidents may carry more members: ``errors`` (every field path, message
    and error type of an invalid body), ``from_status`` and ``to_status`` (an illegal status
    change, 409), ``expected_version`` and ``current_version`` (a stale ``If-Match``, 412)."""

    type: str = Field(description="URI identifying the problem type; the part after "
                      "/problems/ is a stable machine-readable kind, e.g. 'no-route'",
                      examples=[TYPE_BASE + "invalid-parameter"])
    title: str = Field(description="Short human-readable summary of the problem type",
                       examples=["Invalid parameter"])
    status: int = Field(description="The HTTP status code of this answer", examples=[422])
    detail: str = Field(description="What went wrong with this request, in words",
                        examples=["from: expected 'LAT,LON' as decimal degrees, got 'abc'"])
    instance: str | None = Field(default=None, description="Path of the request that "
                                 "failed", examples=["/v1/route"])
    invalid_params: list[InvalidParam] | None = Field(
        default=None, description="Per-parameter errors, for validation problems")


def no_street_network(detail: str | None = None) -> ApiProblem:
    """The 422 answer to a road question (route, congestion, speeds) on a transit-only
    snapshot (built from GTFS without a street network)."""
    from routing.road import NO_STREET_NETWORK  # noqa: PLC0415 (one message for all layers)

    return ApiProblem(422, "no-street-network", detail or NO_STREET_NETWORK,
                      "No street network")


def problem_response(request: Request | None, status: int, kind: str, title: str,
                     detail: str, invalid_params: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    """Build the JSON response for a problem."""
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status,
                            "detail": detail}
    if request is not None:
        body["instance"] = str(request.url.path)
    if invalid_params:
        body["invalid_params"] = invalid_params
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(x) for x in loc)


def install(app: FastAPI) -> None:
    """Register handlers so every error leaves as problem+json."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(request, exc.status, exc.kind, exc.title, exc.detail,
                                exc.invalid_params, exc.headers)

    from incidents.errors import IncidentError

    @app.exception_handler(IncidentError)
    async def _incident_error(request: Request, exc: IncidentError) -> JSONResponse:
        body = exc.to_problem(str(request.url.path))
        if "errors" in body and "invalid_params" not in body:
            body["invalid_params"] = [{"name": "body." + ".".join(str(x) for x in e["loc"]),
                                       "reason": e["msg"]} for e in body["errors"]]
        return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_JSON)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        params = [{"name": _loc(e.get("loc", ())), "reason": _reason(e)} for e in exc.errors()]
        detail = "; ".join(f"{p['name']}: {p['reason']}" for p in params[:5])
        return problem_response(request, 422, "invalid-request", "Invalid request", detail,
                                params)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized",
                403: "forbidden"}.get(exc.status_code, "http-error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            route_allow = next((v for k, v in headers.items() if k.lower() == "allow"), "")
            headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
            headers["Allow"] = ", ".join(_allowed_methods(request, route_allow))
        return problem_response(request, exc.status_code, kind,
                                kind.replace("-", " ").capitalize(), str(exc.detail),
                                headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, 500, "internal-error", "Internal error",
                                "the server failed to answer this request; it has been logged")


def _reason(error: Any) -> str:
    """A validation error's message in words: never the regular expression a value failed
    (parameters are checked by hand where the format matters; this is the safety net)."""
    if error.get("type") == "string_pattern_mismatch":
        return "does not have the documented format (see the parameter's description)"
    return str(error.get("msg", "invalid"))


def _allowed_methods(request: Request, route_allow: str = "") -> list[str]:
    """Every method the API documents for this path (Starlette's 405 lists only the methods
    of one matching route), plus ``route_allow`` (that route's own list, which covers pages
    left out of the OpenAPI), and ``HEAD`` wherever ``GET`` is (see
    :class:`api.middleware.HeadAsGetMiddleware`)."""
    import re

    path = request.url.path
    paths = request.app.openapi().get("paths", {})
    # a literal path (/v1/realtime/status) is its own resource, not an instance of a
    # templated one (/v1/realtime/{feed_id}) that Starlette's route list also matches
    allowed: set[str] = set() if path in paths else {
        m.strip().upper() for m in route_allow.split(",") if m.strip()}
    matching = [paths[path]] if path in paths else [
        ops for template, ops in paths.items()
        if re.match("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$", path)]
    for ops in matching:
        allowed |= {m.upper() for m in ops if m.lower() in
                    ("get", "post", "put", "patch", "delete", "head", "options")}
    if "GET" in allowed:
        allowed.add("HEAD")
    return sorted(allowed)


#: What each problem status means when an operation does not say more.
DEFAULT_MEANING = {
    400: "Bad request", 401: "Missing or invalid API key (`Authorization: Bearer KEY`)",
    403: "The API key's role may not do this", 404: "Not found", 409: "Conflict",
    412: "Version precondition failed: `If-Match` does not name the current version",
    413: "Payload too large", 415: "Unsupported media type: send `application/json`",
    422: "Invalid input: `detail` and `invalid_params` say which parameter and why",
    428: "Precondition required: send `If-Match`", 500: "Internal error (logged on the server)"}
_KIND = {401: ("unauthorized", "Unauthorized"), 403: ("forbidden", "Forbidden"),
         404: ("not-found", "Not found"), 409: ("conflict", "Conflict"),
         412: ("precondition-failed", "Precondition failed"),
         413: ("payload-too-large", "Payload too large"),
         415: ("unsupported-media-type", "Unsupported media type"),
         422: ("invalid-parameter", "Invalid parameter"),
         428: ("precondition-required", "Precondition required"),
         500: ("internal-error", "Internal error")}


def problem_example(status: int, detail: str, instance: str, kind: str | None = None,
                    title: str | None = None, **extra: Any) -> dict[str, Any]:
    """A problem-details body for the OpenAPI examples."""
    k, t = _KIND.get(status, ("http-error", "Error"))
    return {"type": TYPE_BASE + (kind or k), "title": title or t, "status": status,
            "detail": detail, "instance": instance, **extra}


#: What a status means for one operation: a description, or a description and an example body.
ProblemMeaning = str | tuple[str, dict[str, Any]]


def responses(*codes: int | Mapping[int, ProblemMeaning]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem answers.

    Give status codes (generic wording) and/or a mapping ``{status: description}`` or
    ``{status: (description, example_body)}`` saying what the status means for this
    operation; 500 is always documented."""
    spec: dict[int, ProblemMeaning] = {}
    for c in codes:
        if isinstance(c, Mapping):
            spec.update(c)
        else:
            spec.setdefault(c, DEFAULT_MEANING.get(c, "Error"))
    spec.setdefault(500, DEFAULT_MEANING[500])
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted(spec):
        value = spec[code]
        text, example = (value, None) if isinstance(value, str) else value
        content: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Problem"}}
        if example is not None:
            content["example"] = example
        out[code] = {"description": text, "content": {PROBLEM_JSON: content}}
    return out


def openapi_components() -> dict[str, Any]:
    """JSON schemas of :class:`Problem` and what it uses (registered in the OpenAPI, where
    every error answer refers to them under ``application/problem+json``)."""
    js = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    out: dict[str, Any] = dict(js.pop("$defs", {}))
    out["Problem"] = js
    return out
