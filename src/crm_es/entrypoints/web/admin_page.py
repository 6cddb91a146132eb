"""GET /app/admin: the administrators' index — a link to each admin page, with what it is for.

The set-up pages (people, pipelines, settings, automations) are admin_people.py,
admin_pipelines.py, admin_settings.py and admin_automations.py; the keys, outbox and import
pages are the ops pages'. Every one is admins only (auth/roles.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from crm_es.entrypoints.web.render import Viewer, page

# (path, the catalog's key of its title, of its one-line description), in the order shown.
ADMIN_PAGES = (
    ("/app/admin/people", "admin_people_title", "admin_people_about"),
    ("/app/admin/pipelines", "admin_pipelines_title", "admin_pipelines_about"),
    ("/app/admin/settings", "admin_settings_title", "admin_settings_about"),
    ("/app/admin/automations", "admin_automations_title", "admin_automations_about"),
    ("/app/admin/keys", "admin_index_keys", "admin_index_keys_about"),
    ("/app/admin/outbox", "admin_index_outbox", "admin_index_outbox_about"),
    ("/app/admin/imports", "admin_index_imports", "admin_index_imports_about"),
)


async def admin_index(request: Request, viewer: Viewer) -> Response:
    return page(request, "admin.html", viewer, admin_pages=ADMIN_PAGES)
