"""The API documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with
the vendored assets under ``/static`` so they work without internet access."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: The web files packaged with ``api`` (vendored npm assets under ``vendor/``).
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Where the vendored files are served (below the ``/static`` mount).
VENDOR_URL = "/static/vendor"

#: The documentation pages may load nothing from other origins (fonts, validator badges,
#: analytics …): the browser enforces it. Swagger UI and ReDoc set inline styles and
#: FastAPI's page templates start them with an inline script; ReDoc runs its search index in
#: a worker made from a blob.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "worker-src 'self' blob:; connect-src 'self'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'self'")


def install(app: FastAPI) -> None:
    """Mount ``/static`` and add the ``/docs`` and ``/redoc`` pages to ``app``.

    Create ``app`` with ``docs_url=None, redoc_url=None`` so FastAPI's CDN-based pages are
    not registered as well.
    """
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def _urls(request: Request) -> tuple[str, str]:
        root = request.scope.get("root_path", "").rstrip("/")
        return root + (app.openapi_url or "/openapi.json"), root + VENDOR_URL

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        openapi_url, vendor = _urls(request)
        page = get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} API – Swagger UI",
            swagger_js_url=f"{vendor}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/swagger-ui/favicon-32x32.png",
            # No "valid spec" badge: it would load an image from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        openapi_url, vendor = _urls(request)
        page = get_redoc_html(
            openapi_url=openapi_url, title=f"{app.title} API – ReDoc",
            redoc_js_url=f"{vendor}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{vendor}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,  # ReDoc falls back to local fonts
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page
