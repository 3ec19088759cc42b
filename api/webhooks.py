"""Webhook endpoints: register a URL and an event filter, change, pause/resume, remove, and
read the delivery log. Any API key or personal token may hold webhooks; each sees its own."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from api import examples
from api.owners import required_owner
from api.problems import ApiProblem, problem_example, responses
from incidents.events import EVENT_TYPES, EventFilter, parse_types
from incidents.webhooks import WebhookStore

router = APIRouter(prefix="/v1/webhooks", tags=["events"])
_TYPES = ("Event types to deliver (see `GET /v1/events`; `state` is not delivered by "
          "webhooks). Default: incident, feed_status, congestion and watch")
_BBOX = ("[W, S, E, N] in degrees: only incident changes whose geometry (before or after) "
         "intersects it")


class WebhookCreate(BaseModel):
    """A new webhook."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="http(s) URL that receives the POSTs",
                     examples=["https://example.org/hooks/citynav"])
    types: list[str] | None = Field(default=None, max_length=len(EVENT_TYPES),
                                    description=_TYPES, examples=[["incident"]])
    bbox: list[StrictFloat | StrictInt] | None = Field(
        default=None, min_length=4, max_length=4, description=_BBOX,
        examples=[[-84.52, 39.07, -84.49, 39.10]])
    agencies: list[str] | None = Field(default=None, max_length=50, description=(
        "Only incidents of these agencies and status of these feeds"), examples=[["KYTC"]])


class WebhookPatch(BaseModel):
    """Changes to a webhook (only the fields sent)."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, max_length=2000, description="New URL")
    types: list[str] | None = Field(default=None, max_length=len(EVENT_TYPES),
                                    description=_TYPES)
    bbox: list[StrictFloat | StrictInt] | None = Field(
        default=None, min_length=4, max_length=4, description=_BBOX + "; null: everywhere")
    agencies: list[str] | None = Field(default=None, max_length=50, description=(
        "Agencies and feeds; null: all"))
    status: Literal["active", "paused"] | None = Field(default=None, description=(
        "`paused` stops deliveries; `active` resumes a paused webhook (its pending "
        "deliveries are sent at once, nothing it missed is lost)"))


class WebhookOut(BaseModel):
    """A webhook as stored (the secret only in the answer that created it)."""

    id: str = Field(description="WH-<n>")
    url: str = Field(description="Where deliveries go")
    types: list[str] = Field(description="Event types delivered")
    bbox: list[float] | None = Field(description="Area filter of incident changes")
    agencies: list[str] | None = Field(description="Agency / feed filter")
    status: str = Field(description="active, or paused (by its owner, or after a delivery "
                        "failed too often: see paused_reason)")
    paused_reason: str | None = Field(description="Why it is paused")
    consecutive_failures: int = Field(description="Failed attempts since the last success")
    position: str = Field(description="Event-stream position up to which deliveries are "
                          "queued")
    created_at: str = Field(description="ISO 8601")
    updated_at: str = Field(description="ISO 8601")
    secret: str | None = Field(default=None, description="The signing secret: returned only "
                               "when the webhook is created — keep it")


class AttemptOut(BaseModel):
    """One attempt of a delivery."""

    attempt: int = Field(description="1, 2, …")
    at: str = Field(description="When it was made (ISO 8601)")
    status_code: int | None = Field(description="The endpoint's HTTP status (null: no answer)")
    error: str | None = Field(description="Transport error, if any")
    duration_ms: float = Field(description="How long the endpoint took")


class DeliveryOut(BaseModel):
    """One event queued for a webhook."""

    id: int = Field(description="Delivery id (the `Citynav-Delivery` header)")
    event_id: str = Field(description="The event (the `Citynav-Event-Id` header)")
    event_type: str = Field(description="Its type")
    status: str = Field(description="pending or delivered")
    attempts: int = Field(description="Attempts so far")
    next_attempt_at: str | None = Field(description="When it is tried next (pending)")
    created_at: str = Field(description="When it was queued")
    delivered_at: str | None = Field(description="When an attempt succeeded")
    last_status: int | None = Field(description="HTTP status of the last attempt")
    last_error: str | None = Field(description="Why the last attempt failed")
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first")


class DeliveriesOut(BaseModel):
    """Answer of GET /v1/webhooks/{id}/deliveries."""

    webhook_id: str = Field(description="The webhook")
    deliveries: list[DeliveryOut] = Field(description="Newest first")


_AUTH = {401: ("No key or token, or an unknown or revoked one",
               problem_example(401, "an API key or a personal token is required: send "
                               "'Authorization: Bearer KEY'", "/v1/webhooks"))}
_NF = {404: ("No webhook with this id among yours (or no store on this server)",
             problem_example(404, "webhook 'WH-3' does not exist", "/v1/webhooks/WH-3"))}
_400 = {400: "The body is not JSON"}
_422 = {422: ("A malformed body: URL not http(s), unknown event type, bad box",
              problem_example(422, "body.url: expected an http(s) URL with a host and no "
                              "credentials, e.g. https://example.org/hooks/citynav",
                              "/v1/webhooks", "invalid-incident", "Invalid request"))}
_ID_422 = {422: ("The webhook id does not look like WH-3",
                 problem_example(422, "path.webhook_id: String should match pattern "
                                 "'^WH-[0-9]{1,12}$'", "/v1/webhooks/3", "invalid-request",
                                 "Invalid request"))}


def _ok(example: Any, status: int = 200, description: str | None = None) -> dict[int | str,
                                                                                dict[str, Any]]:
    out: dict[str, Any] = {"content": {"application/json": {"example": example}}}
    if description:
        out["description"] = description
    return {status: out}


HookId = Annotated[str, Path(max_length=24, pattern=r"^WH-[0-9]{1,12}$",
                             description="Webhook id, e.g. WH-3", examples=["WH-3"])]


def _hooks(request: Request) -> WebhookStore:
    svc = request.app.state.service
    if svc.webhooks is None:
        raise ApiProblem(404, "no-incidents", "the incident store is not enabled on this "
                         "server (webhooks need it)")
    return svc.webhooks.hooks


def _filter(types: list[str] | None, bbox: list[float] | None, agencies: list[str] | None,
            owner: str) -> EventFilter:
    try:
        want = parse_types(types, True) - {"state"}
    except ValueError as exc:
        raise ApiProblem(422, "invalid-parameter", f"types: {exc}", "Invalid parameter",
                         invalid_params=[{"name": "body.types", "reason": str(exc)}]) from exc
    if not want:
        raise ApiProblem(422, "invalid-parameter", "types: nothing left to deliver ('state' "
                         "is not delivered by webhooks)", "Invalid parameter",
                         invalid_params=[{"name": "body.types", "reason": "empty"}])
    box = None
    if bbox is not None:
        from api.incidents import _bbox

        box = _bbox(",".join(repr(float(v)) for v in bbox))
    return EventFilter(frozenset(want), box, frozenset(agencies) if agencies else None, owner)


@router.post("", status_code=201, response_model=WebhookOut, summary="Register a webhook",
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "example": examples.WEBHOOK_CREATE}}}},
             responses={**_ok(examples.WEBHOOK_CREATED, 201,
                              "Created; `secret` signs every delivery (shown only now)"),
                        **responses(_AUTH, _422, _400, {
                            409: "This key or token already holds 20 webhooks",
                            404: "The incident store is not enabled on this server"})})
def create_webhook(request: Request, response: Response, body: WebhookCreate,
                   owner: Annotated[str, Depends(required_owner)]) -> dict[str, Any]:
    """Register a URL to receive events matching a filter as signed POSTs (see the README:
    headers, signature check, retries). Deliveries start with the events committed after
    this call."""
    hooks = _hooks(request)
    flt = _filter(body.types, body.bbox, body.agencies, owner)
    svc = request.app.state.service
    hook = hooks.create(owner, body.url, flt, svc.hub.log.heads())
    response.headers["Location"] = f"/v1/webhooks/{hook.id}"
    return hook.to_doc(with_secret=True)


@router.get("", response_model=list[WebhookOut], summary="Your webhooks",
            responses={**_ok([examples.WEBHOOK]), **responses(_AUTH, {
                404: "The incident store is not enabled on this server"})})
def list_webhooks(request: Request, owner: Annotated[str, Depends(required_owner)]
                  ) -> list[dict[str, Any]]:
    """The webhooks of this key or token, oldest first."""
    return [h.to_doc() for h in _hooks(request).list(owner)]


@router.get("/{webhook_id}", response_model=WebhookOut, summary="One webhook",
            responses={**_ok(examples.WEBHOOK), **responses(_AUTH, _NF, _ID_422)})
def get_webhook(request: Request, webhook_id: HookId,
                owner: Annotated[str, Depends(required_owner)]) -> dict[str, Any]:
    """A webhook with its status (paused, and why)."""
    return _hooks(request).get(webhook_id, owner).to_doc()


@router.patch("/{webhook_id}", response_model=WebhookOut, summary="Change, pause or resume",
              openapi_extra={"requestBody": {"content": {"application/json": {
                  "example": {"status": "active"}}}}},
              responses={**_ok(examples.WEBHOOK), **responses(_AUTH, _NF, _400, {
                  422: ("A malformed id or body: URL not http(s), unknown event type or "
                        "status, bad box", problem_example(
                            422, "types: unknown event type 'x'; expected some of incident, "
                            "feed_status, congestion, state, watch", "/v1/webhooks/WH-3",
                            "invalid-parameter", "Invalid parameter"))})})
def patch_webhook(request: Request, webhook_id: HookId, body: WebhookPatch,
                  owner: Annotated[str, Depends(required_owner)]) -> dict[str, Any]:
    """Change the URL or filter, pause, or resume a paused webhook (its pending deliveries
    are retried at once)."""
    hooks = _hooks(request)
    cur = hooks.get(webhook_id, owner)
    flt = None
    sent = body.model_fields_set
    if sent & {"types", "bbox", "agencies"}:
        doc = cur.filter.to_doc()
        flt = _filter(body.types if "types" in sent else doc["types"],
                      body.bbox if "bbox" in sent else doc["bbox"],
                      body.agencies if "agencies" in sent else doc["agencies"], owner)
    hook = hooks.update(webhook_id, owner, body.url, flt, body.status)
    request.app.state.service.webhooks.poke()
    return hook.to_doc()


@router.delete("/{webhook_id}", status_code=204, summary="Remove a webhook",
               responses=responses(_AUTH, _NF, _ID_422))
def delete_webhook(request: Request, webhook_id: HookId,
                   owner: Annotated[str, Depends(required_owner)]) -> Response:
    """Remove a webhook with its pending deliveries and log."""
    _hooks(request).delete(webhook_id, owner)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveriesOut,
            summary="Delivery log of a webhook",
            responses={**_ok(examples.WEBHOOK_DELIVERIES), **responses(_AUTH, _NF, {
                422: ("A malformed webhook id, status or limit",
                      problem_example(422, "query.limit: Input should be less than or equal "
                                      "to 1000", "/v1/webhooks/WH-3/deliveries",
                                      "invalid-request", "Invalid request"))})})
def webhook_deliveries(
    request: Request, webhook_id: HookId, owner: Annotated[str, Depends(required_owner)],
    status: Annotated[Literal["pending", "delivered"] | None, Query(
        description="Only pending or only delivered", examples=["pending"])] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most deliveries",
                                examples=[100])] = 100,
) -> dict[str, Any]:
    """Queued and delivered events, newest first, each with every attempt (time, HTTP
    status or error, duration)."""
    rows = _hooks(request).deliveries(webhook_id, owner, status, limit)
    return {"webhook_id": webhook_id,
            "deliveries": [{**d.to_doc(), "attempt_log": a} for d, a in rows]}
