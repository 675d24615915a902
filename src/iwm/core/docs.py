"""The API's front door: `/`, and Swagger UI and ReDoc served from the installed package.

FastAPI's own documentation pages load their scripts from a CDN, so they are blank on a
machine without internet access; `fastapi-offline` ships the same Swagger UI and ReDoc
files, served here under `/docs/static/`.
"""

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from iwm.core.config import Settings

DOCS_STATIC = "/docs/static"
SURFACES = {
    "auth": "/auth",
    "partner": "/partner",
    "kiosk": "/kiosk/{kioskId}",
    "admin": "/api/v1/admin",
    "dashboard": "/dashboard",
    "health": "/healthz",
    "readiness": "/readyz",
}


def install_docs(app: FastAPI, settings: Settings) -> None:
    """`/docs`, `/redoc` and `/` on `app` (create it with docs_url=None, redoc_url=None)."""
    if settings.docs_on:
        _install_pages(app)

        @app.get("/", include_in_schema=False)
        async def root() -> Response:
            return RedirectResponse("/docs")

        return

    # Documentation off (production): a small index of the surfaces instead.
    @app.get("/", include_in_schema=False)
    async def index() -> dict[str, Any]:
        return {"name": app.title, "version": app.version, "surfaces": SURFACES}


def _install_pages(app: FastAPI) -> None:
    static = files("fastapi_offline") / "static"
    app.mount(DOCS_STATIC, StaticFiles(directory=str(static)), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=oauth2_redirect,
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_STATIC}/favicon.png",
            with_google_fonts=False,
        )
