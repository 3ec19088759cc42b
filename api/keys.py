"""API key administration over HTTP: list, create, revoke, expire, usage (the same as
``citynav keys …``). Admins manage every key; an agency's keys see their agency's keys and
usage only; readers see none."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api import examples
from api.bodies import parse_json, read_body
from api.incidents import principal
from api.problems import ApiProblem, responses
from incidents.auth import Plan, Principal, Role, require_admin
from incidents.fields import is_iso_datetime
from incidents.keys import ApiKeyInfo, create_key, expire_key, get_key, list_keys, revoke_key, usage

router = APIRouter(prefix="/v1/keys", tags=["keys"])
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The key id (12 hex "
                            "characters, the non-secret part of the key)",
                            examples=["3f9a61c2d7e4"])]
_ID_ERRORS = {404: "No key with this id (or no key store)",
              422: "The key id is not 12 hex characters, or `at` is not an ISO 8601 instant "
                   "with offset"}
_MAX_BODY = 4096


class KeyOut(BaseModel):
    """A key without its secret."""

    key_id: str = Field(description="The non-secret key id")
    role: Role = Field(description="reader, traffic_centre, transit_agency or admin")
    agency: str | None = Field(description="The agency (traffic centre) or feed id (transit "
                               "agency) it writes for")
    label: str | None = Field(description="A note on who holds it")
    plan: Plan = Field(description="Its API plan (quotas)")
    area: list[float] | None = Field(description="W,S,E,N its writes are limited to")
    created_at: datetime = Field(description="When it was created (ISO 8601, UTC)")
    revoked_at: datetime | None = Field(description="When it was revoked (null: never)")
    expires_at: datetime | None = Field(description="When it stops or stopped working "
                                        "(null: never)")
    usable: bool = Field(description="Neither revoked nor expired now")


class KeyCreated(KeyOut):
    """A new key: ``key`` is shown this once."""

    key: str = Field(description="The key itself (only its hash is stored): keep it secret")


class KeyCreate(BaseModel):
    """Body of POST /v1/keys."""

    model_config = ConfigDict(extra="forbid")
    role: Role = Field(description="reader, traffic_centre, transit_agency or admin")
    agency: str | None = Field(default=None, max_length=64, description=(
        "traffic_centre: the agency it writes incidents for (required); transit_agency: "
        "the static feed id whose GTFS-Realtime it may push (required)"))
    label: str | None = Field(default=None, max_length=200,
                              description="A note on who holds the key")
    plan: Plan = Field(default=Plan.STANDARD, description="API plan: open, standard or "
                       "partner (quotas per minute and per day)")
    area: list[float] | None = Field(default=None, min_length=4, max_length=4, description=(
        "[W, S, E, N] in degrees: the key's writes must lie inside this box (403 outside)"))
    expires_at: str | None = Field(default=None, max_length=64, description=(
        "When the key stops working: ISO 8601 instant with offset, e.g. "
        "2027-01-01T00:00:00Z"))


class UsageOut(BaseModel):
    """Usage of one key (``anonymous``: callers without a key) on one UTC day and
    operation."""

    key_id: str = Field(description="The key id, or 'anonymous' for callers without a key")
    day: str = Field(description="UTC date, YYYY-MM-DD")
    operation: str = Field(description="route, plan, congestion, congestion_summary, "
                           "diversions, departures, read or write")
    requests: int = Field(description="Requests counted")
    cost: int = Field(description="Cost units used (refused requests cost nothing)")
    rejected: int = Field(description="Requests refused for the quota (429)")


def _key_out(info: ApiKeyInfo, now: datetime) -> dict[str, Any]:
    return {"key_id": info.key_id, "role": info.role, "agency": info.agency,
            "label": info.label, "plan": info.plan,
            "area": list(info.area) if info.area else None, "created_at": info.created_at,
            "revoked_at": info.revoked_at, "expires_at": info.expires_at,
            "usable": info.usable_at(now)}


def _store(request: Request) -> Any:
    svc = request.app.state.service
    if svc.store is None:
        raise ApiProblem(404, "no-store", "this server has no key store")
    return svc.store


def _expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    if not is_iso_datetime(value):
        raise ApiProblem(422, "invalid-body", "expires_at: expected an ISO 8601 instant with "
                         "offset", invalid_params=[{"name": "body.expires_at",
                                                    "reason": "not ISO 8601"}])
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ApiProblem(422, "invalid-body", "expires_at needs a UTC offset",
                         invalid_params=[{"name": "body.expires_at", "reason": "no offset"}])
    return t


def _may_read(p: Principal) -> str | None:
    """The agency whose keys ``p`` may see (``None``: all, for admins); 403 for others."""
    if p.role == Role.ADMIN:
        return None
    if p.agency is None or p.role == Role.READER:
        raise ApiProblem(403, "forbidden", f"role {p.role.value!r} may not list keys",
                         "Forbidden")
    return p.agency


_AUTH = {401: "No API key, or an unknown, revoked or expired one",
         403: "Not allowed for this key's role (admins manage keys; an agency's keys may "
              "list their agency's keys and usage)"}
_CREATE_EXAMPLE = {"role": "traffic_centre", "agency": "KYTC", "label": "Covington dispatch",
                   "plan": "standard", "area": [-84.7, 38.9, -84.3, 39.2]}
_USAGE_EXAMPLE = [{"key_id": "3f9a61c2d7e4", "day": "2026-11-24", "operation": "route",
                   "requests": 1200, "cost": 1200, "rejected": 3}]


def _ok(example: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"example": example}}}


@router.get("", response_model=list[KeyOut], summary="List API keys",
            responses={200: _ok([examples.KEY]), **responses(_AUTH)})
def keys_list(request: Request, p: Annotated[Principal, Depends(principal)]) -> list[dict]:
    """Keys without secrets: all for admins, an agency's own for its keys."""
    store = _store(request)
    now = store.now()
    return [_key_out(k, now) for k in list_keys(store, agency=_may_read(p))]


@router.get("/usage", response_model=list[UsageOut], summary="API usage per key",
            responses={200: _ok(_USAGE_EXAMPLE), **responses(_AUTH, {
                422: "`key_id` is not a key id (12 hex characters) nor `anonymous`, or "
                     "`days` is not in 1..366"})})
def keys_usage(request: Request, p: Annotated[Principal, Depends(principal)],
               key_id: Annotated[str | None, Query(pattern=r"^([0-9a-f]{12}|anonymous)$",
                                                   description="One key id, or `anonymous`",
                                                   examples=["3f9a61c2d7e4"])] = None,
               days: Annotated[int, Query(ge=1, le=366, description="UTC days back, today "
                                          "included", examples=[7])] = 30) -> list[dict]:
    """Requests, cost units and quota refusals per key, UTC day and operation (recorded
    every few seconds by each worker)."""
    rows = usage(_store(request), key_id, days, agency=_may_read(p))
    return [r.__dict__ for r in rows]


@router.post("", status_code=201, response_model=KeyCreated, summary="Create an API key",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"$ref": "#/components/schemas/KeyCreate"},
                                      "example": _CREATE_EXAMPLE}}}},
             responses={201: _ok(examples.KEY_CREATED),
                        **responses(_AUTH, {
                            404: "This server has no key store",
                            413: "The body is larger than 4 KiB",
                            415: "The body is not sent as `application/json`",
                            422: "The body is not JSON or not a valid key (unknown role or "
                                 "plan, a traffic_centre or transit_agency key without "
                                 "agency, a malformed area or expiry)"})})
async def keys_create(request: Request, p: Annotated[Principal, Depends(principal)]) -> dict:
    """Create a key (admin only); the answer shows it once."""
    require_admin(p)
    raw = await read_body(request, _MAX_BODY)
    doc = parse_json(raw)
    try:
        body = KeyCreate.model_validate(doc)
    except ValueError as exc:
        raise ApiProblem(422, "invalid-body", str(exc).splitlines()[0]) from None
    store = _store(request)
    expires = _expiry(body.expires_at)

    def create() -> dict:
        key = create_key(store, body.role, body.agency, body.label, plan=body.plan,
                         area=tuple(body.area) if body.area else None,  # type: ignore[arg-type]
                         expires_at=expires)
        return {**_key_out(get_key(store, key.split("_")[1]), store.now()), "key": key}

    return await run_in_threadpool(create)


@router.post("/{key_id}/revoke", response_model=KeyOut, summary="Revoke an API key",
             responses={200: _ok(examples.KEY_REVOKED), **responses(_AUTH, _ID_ERRORS)})
def keys_revoke(request: Request, key_id: KeyId,
                p: Annotated[Principal, Depends(principal)]) -> dict:
    """Revoke a key (admin only); every worker refuses it within a second."""
    require_admin(p)
    store = _store(request)
    return _key_out(revoke_key(store, key_id), store.now())


@router.post("/{key_id}/expire", response_model=KeyOut, summary="Expire an API key",
             responses={200: _ok(examples.KEY_EXPIRING),
                        **responses(_AUTH, _ID_ERRORS)})
def keys_expire(request: Request, key_id: KeyId,
                p: Annotated[Principal, Depends(principal)],
                at: Annotated[str | None, Query(max_length=64, description=(
                    "When it stops working (default: now): ISO 8601 instant with a UTC "
                    "offset, e.g. `2027-01-01T00:00:00Z` — unlike other times it is not read "
                    "in the city's timezone"), examples=["2027-01-01T00:00:00Z"])
                              ] = None) -> dict:
    """Set when a key stops working (admin only)."""
    require_admin(p)
    store = _store(request)
    return _key_out(expire_key(store, key_id, _expiry(at)), store.now())


def openapi_components() -> dict[str, Any]:
    """JSON schemas of the key creation body and what it uses (the body is read by hand,
    so FastAPI does not register them)."""
    js = KeyCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    out: dict[str, Any] = dict(js.pop("$defs", {}))
    out["KeyCreate"] = js
    return out
