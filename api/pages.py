"""The web pages: the commuter map (``/``) and the traffic-centre console (``/console``).

Both are static files under ``api/static/web`` that load only this server's vendored
MapLibre GL JS and call the ``/v1`` API; a Content-Security-Policy makes the browser refuse
anything from another origin.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse

from api.docs import STATIC_DIR

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
