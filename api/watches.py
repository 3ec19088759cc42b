"""Commute-watch endpoints: save a trip to watch, list, read (with its current best answer and
latest notifications), remove. A reader key, any other API key or a personal token owns
watches; without credentials, ``POST`` mints a personal token for the new watch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import ValidationError

from api import examples
from api.owners import OPTIONAL_AUTH, optional_owner, required_owner
from api.problems import ApiProblem, problem_example, responses
from api.watching import WatchPlanError, WatchWorker
from incidents.tokens import create_token
from incidents.watches import WatchSpec

router = APIRouter(prefix="/v1/watches", tags=["events"])
WatchId = Annotated[str, Path(max_length=24, pattern=r"^W-[0-9]{1,12}$",
                              description="Watch id, e.g. W-7", examples=["W-7"])]
_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/WatchSpec"}, "example": examples.WATCH_CREATE}}}}
_ID_422 = {422: ("The watch id does not look like W-7",
                 problem_example(422, "path.watch_id: String should match pattern "
                                 "'^W-[0-9]{1,12}$'", "/v1/watches/7", "invalid-request",
                                 "Invalid request"))}
_NOT_ENABLED = {404: "The incident store is not enabled on this server"}
_AUTH = {401: ("An unknown or revoked key or token (or none, where one is required)",
               problem_example(401, "an API key or a personal token is required: send "
                               "'Authorization: Bearer KEY'", "/v1/watches"))}
_NF = {404: ("No watch with this id among yours (or no store on this server)",
             problem_example(404, "watch 'W-7' does not exist", "/v1/watches/W-7"))}


def _worker(request: Request) -> WatchWorker:
    svc = request.app.state.service
    w = getattr(svc, "watches", None)
    if w is None:
        raise ApiProblem(404, "no-incidents", "the incident store is not enabled on this "
                         "server (watches need it)")
    return w


def openapi_components() -> dict[str, Any]:
    """JSON schema of the watch body (read by hand, registered in the OpenAPI)."""
    js = WatchSpec.model_json_schema(ref_template="#/components/schemas/{model}",
                                     by_alias=True)
    out: dict[str, Any] = dict(js.pop("$defs", {}))
    out["WatchSpec"] = js
    return out


@router.post("", status_code=201, summary="Watch a commute",
             openapi_extra={**_BODY, **OPTIONAL_AUTH},
             responses={201: {"description": "Created: the watch with its current best answer "
                              "(and `token` when none was sent)", "content": {
                                  "application/json": {"example": examples.WATCH_CREATED}}},
                        **responses(_AUTH, {
                            404: "The incident store is not enabled on this server",
                            409: "The key or token holds the most watches it may",
                            413: "The body is larger than 16 KiB",
                            415: "The body is not sent as `application/json`",
                            422: ("A malformed body, a point off the network, or a trip "
                                  "without route or itinerary",
                                  problem_example(422, "no car route between the two points",
                                                  "/v1/watches", "no-answer", "No answer"))})})
async def create_watch(request: Request, response: Response,
                       owner: Annotated[str | None, Depends(optional_owner)]) -> dict[str, Any]:
    """Save a trip (from, to, mode car|transit|bike|walk, days, departure window, threshold)
    and be told — on `GET /v1/events` (`types=watch`, with the same key or token) and by
    your webhooks subscribed to `watch` — whenever an incident, a realtime delay or alert,
    or congestion changes its best answer by more than the threshold or puts an incident on
    it, with the explanation, the new route and the time lost or saved. Without a key or
    token, a personal token is minted and returned once (`token`): keep it to read, delete
    and follow your watches."""
    worker = _worker(request)
    from api.incidents import _body

    raw = await _body(request, 16_384)
    try:
        spec = WatchSpec.model_validate_json(raw)
    except ValidationError as exc:
        params = [{"name": "body." + ".".join(str(x) for x in e["loc"]), "reason": e["msg"]}
                  for e in exc.errors(include_url=False)]
        raise ApiProblem(422, "invalid-watch", "; ".join(f"{p['name']}: {p['reason']}"
                                                         for p in params[:5]),
                         "Invalid watch", invalid_params=params) from exc
    token = None
    if owner is None:
        token, owner = create_token(worker.svc.store)  # type: ignore[arg-type]
    from starlette.concurrency import run_in_threadpool

    try:
        w = await run_in_threadpool(worker.create, owner, spec)
    except WatchPlanError as exc:
        raise ApiProblem(422, "no-answer", str(exc), "No answer") from exc
    response.headers["Location"] = f"/v1/watches/{w.id}"
    doc = w.to_doc()
    if token is not None:
        doc["token"] = token
    return doc


@router.get("", summary="Your watches", responses={
    200: {"content": {"application/json": {"example": [examples.WATCH]}}},
    **responses(_AUTH, _NOT_ENABLED)})
def list_watches(request: Request, owner: Annotated[str, Depends(required_owner)]
                 ) -> list[dict[str, Any]]:
    """The watches of this key or token, oldest first, each with its current answer."""
    return [w.to_doc() for w in _worker(request).store.list(owner)]


@router.get("/{watch_id}", summary="One watch", responses={
    200: {"content": {"application/json": {"example": examples.WATCH_WITH_NOTICES}}},
    **responses(_AUTH, _NF, _ID_422)})
def get_watch(request: Request, watch_id: WatchId,
              owner: Annotated[str, Depends(required_owner)],
              notifications: Annotated[int, Query(
                  ge=0, le=100, description="How many of the latest notifications to include",
                  examples=[10])] = 10) -> dict[str, Any]:
    """A watch, its current best answer and its latest notifications (newest first)."""
    store = _worker(request).store
    doc = store.get(watch_id, owner).to_doc()
    doc["notifications"] = store.notices(watch_id, owner, notifications) \
        if notifications else []
    return doc


@router.delete("/{watch_id}", status_code=204, summary="Stop watching",
               responses=responses(_AUTH, _NF, _ID_422))
def delete_watch(request: Request, watch_id: WatchId,
                 owner: Annotated[str, Depends(required_owner)]) -> Response:
    """Remove a watch (its past notifications stay in the event log)."""
    _worker(request).delete(watch_id, owner)
    return Response(status_code=204)
