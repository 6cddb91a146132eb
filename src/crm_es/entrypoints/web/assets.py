"""The console's own script and style sheet (no CDN, no build step), needing no key."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from crm_es.entrypoints.web.render import Viewer, error_page

STATIC = Path(__file__).parent / "static"
TYPES = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}  # nothing else is served


async def static_file(request: Request, viewer: Viewer) -> Response:
    name = request.path_params["name"]
    if name not in TYPES:
        return error_page(request, viewer, 404, "not-found")
    return FileResponse(STATIC / name, media_type=TYPES[name], headers={"Cache-Control": "no-cache"})
