"""The console's routes, added to the API's app. Plain Starlette routes, like /metrics and
/docs: pages, not API, so outside the OpenAPI document and its contract tests; each one
still goes through the role rules (guard.py, auth/roles.py)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Route

from crm_es.entrypoints.web import access, assets, board_page, contact_page
from crm_es.entrypoints.web.guard import guarded

PAGES = [
    ("/", access.root, "GET"),
    ("/app/", access.console_home, "GET"),
    ("/app/sign-in", access.sign_in_page, "GET"),
    ("/app/sign-in", access.sign_in, "POST"),
    ("/app/sign-out", access.sign_out, "POST"),
    ("/app/lang", access.choose_language, "GET"),
    ("/app/static/{name}", assets.static_file, "GET"),
    ("/app/board", board_page.board_page, "GET"),
    ("/app/contacts/{contact_id}", contact_page.contact_page, "GET"),
]


def install(app: FastAPI) -> None:
    for path, handler, method in PAGES:
        template = Route(path, handler, methods=[method], include_in_schema=False)  # the rule's name for it
        app.router.routes.append(Route(path, guarded(handler, template), methods=[method], include_in_schema=False))
