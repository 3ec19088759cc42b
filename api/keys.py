"""API key administration over HTTP: list, create, revoke, expire, usage (the same as
``citynav keys …``). Admins manage every key; an agency's keys see their agency's keys and
usage only; readers see none."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.bodies import parse_json, read_body
from api.incidents import principal
from api.problems import ApiProblem, responses
from incidents.auth import Plan, Principal, Role, require_admin
from incidents.fields import is_iso_datetime
from incidents.keys import ApiKeyInfo, create_key, expire_key, get_key, list_keys, revoke_key, usage

router = APIRouter(prefix="/v1/keys", tags=["keys"])
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The key id (12 hex "
                            "characters, the non-secret part of the key)")]
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
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None
    usable: bool = Field(description="Neither revoked nor expired now")


class KeyCreated(KeyOut):
    """A new key: ``key`` is shown this once."""

    key: str = Field(description="The key itself (only its hash is stored): keep it secret")


class KeyCreate(BaseModel):
    """Body of POST /v1/keys."""

    model_config = ConfigDict(extra="forbid")
    role: Role
    agency: str | None = None
    label: str | None = None
    plan: Plan = Plan.STANDARD
    area: list[float] | None = Field(default=None, min_length=4, max_length=4)
    expires_at: str | None = Field(default=None, max_length=64)


class UsageOut(BaseModel):
    """Usage of one key (``anonymous``: callers without a key) on one UTC day and
    operation."""

    key_id: str
    day: str
    operation: str
    requests: int
    cost: int
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


_ERRORS = responses({401: "No API key, or an unknown, revoked or expired one",
                     403: "Not allowed for this key's role"})


@router.get("", response_model=list[KeyOut], summary="List API keys", responses=_ERRORS)
def keys_list(request: Request, p: Annotated[Principal, Depends(principal)]) -> list[dict]:
    """Keys without secrets: all for admins, an agency's own for its keys."""
    store = _store(request)
    now = store.now()
    return [_key_out(k, now) for k in list_keys(store, agency=_may_read(p))]


@router.get("/usage", response_model=list[UsageOut], summary="API usage per key",
            responses=_ERRORS)
def keys_usage(request: Request, p: Annotated[Principal, Depends(principal)],
               key_id: Annotated[str | None, Query(pattern=r"^([0-9a-f]{12}|anonymous)$",
                                                   description="One key")] = None,
               days: Annotated[int, Query(ge=1, le=366, description="UTC days back, today "
                                          "included")] = 30) -> list[dict]:
    """Requests, cost units and quota refusals per key, UTC day and operation (recorded
    every few seconds by each worker)."""
    rows = usage(_store(request), key_id, days, agency=_may_read(p))
    return [r.__dict__ for r in rows]


@router.post("", status_code=201, response_model=KeyCreated, summary="Create an API key",
             responses=_ERRORS)
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
             responses=_ERRORS)
def keys_revoke(request: Request, key_id: KeyId,
                p: Annotated[Principal, Depends(principal)]) -> dict:
    """Revoke a key (admin only); every worker refuses it within a second."""
    require_admin(p)
    store = _store(request)
    return _key_out(revoke_key(store, key_id), store.now())


@router.post("/{key_id}/expire", response_model=KeyOut, summary="Expire an API key",
             responses=_ERRORS)
def keys_expire(request: Request, response: Response, key_id: KeyId,
                p: Annotated[Principal, Depends(principal)],
                at: Annotated[str | None, Query(max_length=64, description=(
                    "When it stops working: ISO 8601 instant with offset (default: now)"))
                              ] = None) -> dict:
    """Set when a key stops working (admin only)."""
    require_admin(p)
    store = _store(request)
    return _key_out(expire_key(store, key_id, _expiry(at)), store.now())
