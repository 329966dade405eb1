"""Pages that are not there: a dashboard address naming an unknown bead, convoy, run, agent,
rig (or nothing at all) answers a 404 page in words with a way back; under `/api/` the
answer stays JSON, as clients of the API expect."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from gastown.errors import NotFound
from gastown.web.render import render

WAYS_BACK = (
    ("/convoys/", "/convoys", "All convoys"),
    ("/agents/", "/agents", "All agents"),
    ("/runs/", "/agents", "All agents and their runs"),
    ("/merges/", "/merges", "The merge queue"),
    ("/mrs/", "/merges", "The merge queue"),
    ("/escalations/", "/escalations", "Escalations"),
)


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return request.method in ("GET", "HEAD") and not (
        path.startswith("/api/") or path == "/api" or path.startswith("/static/")
    )


def page(path: str, message: str, hint: str | None) -> HTMLResponse:
    """The 404 page: what is missing, and links back to where it could be found."""
    back = [(href, label) for prefix, href, label in WAYS_BACK if path.startswith(prefix)]
    html = render(
        "not_found.html",
        {"message": message, "hint": hint, "back": [*back, ("/", "The town's overview")]},
    )
    return HTMLResponse(html, status_code=404, headers={"cache-control": "no-store"})


def install(app: FastAPI) -> None:
    """Answer unknown things on pages with the 404 page; under `/api/` as before."""

    async def unknown_record(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NotFound)
        if _wants_page(request):
            return page(request.url.path, exc.message, exc.hint)
        return JSONResponse({"error": exc.to_json()}, status_code=404)

    async def unknown_address(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404 and _wants_page(request):
            return page(request.url.path, "There is no page at this address.", None)
        return await http_exception_handler(request, exc)

    app.add_exception_handler(NotFound, unknown_record)
    app.add_exception_handler(HTTPException, unknown_address)
