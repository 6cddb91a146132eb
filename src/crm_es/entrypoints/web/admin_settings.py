"""GET /app/admin/settings: the record configuration as GET /settings answers it (read from
the event store, never behind a write) and the activity types as GET /settings/activity-types
does, each list with the form admin.js sends: statuses, sources, lifecycle stages and contact
roles replaced whole (PUT /settings/…, one item a line), tag categories (PUT / DELETE),
custom properties (PUT / DELETE /settings/properties/{record_type}/{name}), activity types
and their colours (PUT /settings/activity-types/{name})."""

from __future__ import annotations

from typing import Any, get_args

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.setup import RECORD_TYPES
from crm_es.commands.setup import current_setup
from crm_es.entrypoints.http.routers.setup import PropertyIn, SettingsOut
from crm_es.entrypoints.web.guard import read_position
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import tasks

# The lists replaced whole: (the part of GET /settings, its PUT path, the body's field).
LISTS = (("statuses", "/settings/statuses", "statuses"), ("sources", "/settings/sources", "sources"),
         ("lifecycle_stages", "/settings/lifecycle-stages", "stages"),
         ("contact_roles", "/settings/contact-roles", "roles"))
PROPERTY_TYPES = get_args(PropertyIn.model_fields["type"].annotation)  # text, number, money … (the PUT's own)


async def settings_page(request: Request, viewer: Viewer) -> Response:
    await read_position(request)
    settings, activity_types = await run_in_threadpool(_settings, request.app.state.services)
    return page(request, "admin_settings.html", viewer, settings=settings, activity_types=activity_types,
                lists=LISTS, record_types=RECORD_TYPES, property_types=PROPERTY_TYPES)


def _settings(services: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    [setup] = current_setup(services.store)
    settings = SettingsOut.model_validate(setup).model_dump(mode="json")  # as GET /settings writes it
    with services.read_side.cursor() as cur:
        return settings, tasks.activity_types(cur)
