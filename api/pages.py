"""The web pages: the commuter map (``/``) and the traffic-centre console (``/console``).

Both are static files under ``api/static/web`` that load only this server's vendored
MapLibre GL JS and call the ``/v1`` API; a Content-Security-Policy makes the browser refuse
anything from another origin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.docs import STATIC_DIR
from api.incidents import principal
from api.problems import problem_example, responses
from incidents.auth import Principal, Role

WEB_DIR = STATIC_DIR / "web"
#: Only this origin. MapLibre starts its workers from blobs and sets inline styles.
PAGES_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
             "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; "
             "child-src 'self' blob:; connect-src 'self'; base-uri 'self'; "
             "form-action 'self'; frame-ancestors 'self'")


def _page(name: str) -> FileResponse:
    return FileResponse(WEB_DIR / name, media_type="text/html",
                        headers={"Content-Security-Policy": PAGES_CSP,
                                 "Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    """Add ``/`` (commuter map) and ``/console`` (traffic-centre console) to ``app``."""

    @app.get("/", include_in_schema=False)
    def commuter() -> FileResponse:
        return _page("index.html")

    @app.get("/console", include_in_schema=False)
    def console() -> FileResponse:
        return _page("console.html")

    app.include_router(auth_router)


class WhoAmI(BaseModel):
    """The caller's API key as the server sees it (never the secret)."""

    key_id: str = Field(description="The key's public id")
    role: str = Field(description="reader, traffic_centre, transit_agency or admin")
    agency: str | None = Field(description="The agency a traffic-centre key writes for")
    can_write_incidents: bool = Field(description="Whether the key may create and change "
                                      "incidents (traffic_centre or admin)")


auth_router = APIRouter(prefix="/v1", tags=["incidents"])


@auth_router.get("/whoami", response_model=WhoAmI, summary="Check an API key",
                 responses={200: {"content": {"application/json": {"example": {
                     "key_id": "3f9a61c2d7e4", "role": "traffic_centre", "agency": "KYTC",
                     "can_write_incidents": True}}}},
                     **responses({401: ("No API key, or an unknown or revoked one",
                                        problem_example(401, "the API key is unknown or "
                                                        "revoked", "/v1/whoami",
                                                        "unauthorized", "Unauthorized")),
                                  404: "Incidents (and so keys) are not enabled on this "
                                       "server"})})
def whoami(p: Annotated[Principal, Depends(principal)]) -> dict[str, object]:
    """Who the `Authorization: Bearer KEY` header's key belongs to: the console signs in
    with it."""
    return {"key_id": p.key_id, "role": p.role.value, "agency": p.agency,
            "can_write_incidents": p.role in (Role.TRAFFIC_CENTRE, Role.ADMIN)}
