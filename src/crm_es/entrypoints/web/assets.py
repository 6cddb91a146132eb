"""The console's own scripts and style sheets (no CDN, no build step), needing no key; and
plotly.js, the charts' library, served from the file the `plotly` wheel ships."""

from __future__ import annotations

import gzip
import importlib.util
from functools import cache
from importlib.metadata import version
from pathlib import Path

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from crm_es.entrypoints.web.render import Viewer, error_page

STATIC = Path(__file__).parent / "static"
JS, CSS = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
TYPES = {".js": JS, ".css": CSS}
# Every script and style sheet of static/, by name (a route parameter holds no "/"); nothing else.
SERVED = {path.name: TYPES[path.suffix] for path in STATIC.iterdir() if path.suffix in TYPES}

# plotly.js, found without importing plotly's Python package (seconds of imports for one file).
# Its address carries the package's version (PLOTLY_URL), so browsers may keep it a year.
PLOTLY = "plotly.min.js"
PLOTLY_URL = f"/app/static/{PLOTLY}?v={version('plotly')}"
YEAR = "public, max-age=31536000, immutable"


def plotly_file() -> Path:
    spec = importlib.util.find_spec("plotly")
    assert spec is not None and spec.submodule_search_locations, "the plotly package is a dependency (pyproject.toml)"
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / PLOTLY


@cache
def _plotly_gzipped() -> bytes:
    """4.8 MB of script, 1.4 MB gzipped: compressed once, on its first request."""
    return gzip.compress(plotly_file().read_bytes(), compresslevel=6)


async def static_file(request: Request, viewer: Viewer) -> Response:
    name = request.path_params["name"]
    if name == PLOTLY:
        return await _plotly(request)
    if name not in SERVED:
        return error_page(request, viewer, 404, "not-found")
    return FileResponse(STATIC / name, media_type=SERVED[name], headers={"Cache-Control": "no-cache"})


async def _plotly(request: Request) -> Response:
    headers = {"Cache-Control": YEAR, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = await run_in_threadpool(_plotly_gzipped)
        return Response(body, media_type=JS, headers={**headers, "Content-Encoding": "gzip"})
    return FileResponse(plotly_file(), media_type=JS, headers=headers)
