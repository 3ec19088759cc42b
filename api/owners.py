"""Who owns a subscription, a webhook or a commute watch: an API key (any role) or a personal
token, both sent as ``Authorization: Bearer …``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ApiProblem
from incidents.keys import authenticate
from incidents.store import IncidentStore
from incidents.tokens import authenticate_token, is_token

bearer = HTTPBearer(auto_error=False, scheme_name="KeyOrPersonalToken",
                    description="API key (any role) or personal token: "
                    "`Authorization: Bearer KEY`")
#: ``openapi_extra`` of an operation whose credentials are optional (OpenAPI: an empty
#: security requirement next to the bearer one).
OPTIONAL_AUTH: dict = {"security": [{}]}
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="citynav"'}


def _store(request: Request) -> IncidentStore:
    svc = request.app.state.service
    if svc.engine is None or svc.store is None:
        raise ApiProblem(404, "no-incidents", "the incident store is not enabled on this "
                         "server (events, webhooks and watches need it)")
    return svc.store


def owner_of(request: Request, credentials: str) -> str | None:
    """``key:<id>`` for a valid API key, ``token:<id>`` for a valid personal token, else
    ``None``."""
    store = _store(request)
    if is_token(credentials):
        return authenticate_token(store, credentials)
    p = authenticate(store, credentials)
    return p.actor if p is not None else None


def optional_owner(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None,
                                                      Depends(bearer)]) -> str | None:
    """The caller's owner name, ``None`` without credentials, 401 for bad ones."""
    if creds is None or not creds.credentials:
        return None
    owner = owner_of(request, creds.credentials)
    if owner is None:
        raise ApiProblem(401, "unauthorized", "the API key or personal token is unknown or "
                         "revoked", "Unauthorized", headers=_CHALLENGE)
    return owner


def required_owner(owner: Annotated[str | None, Depends(optional_owner)]) -> str:
    """The caller's owner name, or 401."""
    if owner is None:
        raise ApiProblem(401, "unauthorized", "an API key or a personal token is required: "
                         "send 'Authorization: Bearer KEY'", "Unauthorized", headers=_CHALLENGE)
    return owner
