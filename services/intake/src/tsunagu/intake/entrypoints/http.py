"""Intake's HTTP surface: the API and the pages on the shared app, with HTML error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from tsunagu.intake.entrypoints import api, pages, privacy, public, reports_api
from tsunagu.intake.entrypoints.i18n import translator
from tsunagu.intake.entrypoints.web import Intake, WebMiddleware, lang_of
from tsunagu.shared import errors

PACKAGE = Path(__file__).resolve().parent.parent


def install(app: FastAPI, intake: Intake) -> None:
    app.state.intake = intake
    app.add_middleware(WebMiddleware, settings=intake.settings)
    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")

    # The service worker is served from the root so its scope covers the staff pages, and the
    # manifest beside it; both are plain files (the CSP allows only 'self' scripts).
    @app.get("/sw.js", include_in_schema=False)
    async def _service_worker() -> FileResponse:
        return FileResponse(
            PACKAGE / "static" / "sw.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )

    @app.get("/manifest.webmanifest", include_in_schema=False)
    async def _manifest() -> FileResponse:
        return FileResponse(
            PACKAGE / "static" / "manifest.webmanifest",
            media_type="application/manifest+json",
            headers={"Cache-Control": "no-cache"},
        )

    app.include_router(api.router)
    app.include_router(reports_api.router)
    app.include_router(public.router)
    app.include_router(privacy.router(intake))
    app.include_router(pages.router)

    @app.exception_handler(StarletteHTTPException)
    async def _error_page(request: Request, exc: StarletteHTTPException) -> Response:
        """JSON for the API; a page in the staff's language for a person."""
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith("/api/") or not wants_html:
            return await errors.http_error(request, exc)
        t = translator(lang_of(request))
        titles = {404: t("error.404"), 403: t("error.403")}
        principal = getattr(request.state, "principal", None)
        return pages.render(
            request,
            "error.html",
            principal,
            status_code=exc.status_code,
            title=titles.get(exc.status_code, t("error.generic")),
            detail=None if exc.status_code in titles else exc.detail,
        )
