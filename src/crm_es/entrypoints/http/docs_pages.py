"""/docs (Swagger UI) and /redoc without a CDN: FastAPI's own pages load their scripts from
the internet, so on a machine without it they stay blank. The same pages here load the
files that the fastapi-offline wheel ships (installed with the project), served under
/docs/assets/. Like the document itself, they need no key (auth/roles.py)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

ASSETS = "/docs/assets"
SHIPPED = Path(str(files("fastapi_offline") / "static"))
NAMES = frozenset(path.name for path in SHIPPED.iterdir() if path.is_file())  # nothing else is served


def install(app: FastAPI, docs: str = "/docs", redoc: str = "/redoc") -> None:
    """Call with ``FastAPI(docs_url=None, redoc_url=None)``: these pages take their places."""
    assert app.openapi_url and app.swagger_ui_oauth2_redirect_url

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS}/{name}"

    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{request.scope.get('root_path', '')}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url, swagger_js_url=asset(request, "swagger-ui-bundle.js"),
            swagger_css_url=asset(request, "swagger-ui.css"), swagger_favicon_url=asset(request, "favicon.png"),
            swagger_ui_parameters=app.swagger_ui_parameters)

    async def oauth2_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc_page(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=f"{request.scope.get('root_path', '')}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=asset(request, "redoc.standalone.js"), redoc_favicon_url=asset(request, "favicon.png"),
            with_google_fonts=False)

    async def shipped_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in NAMES:
            raise HTTPException(404, f"no documentation file {name!r}")
        return FileResponse(SHIPPED / name, headers={"Cache-Control": "public, max-age=86400"})

    app.add_route(docs, swagger_ui, include_in_schema=False)
    app.add_route(app.swagger_ui_oauth2_redirect_url, oauth2_redirect, include_in_schema=False)
    app.add_route(redoc, redoc_page, include_in_schema=False)
    app.add_route(ASSETS + "/{name}", shipped_file, include_in_schema=False)
