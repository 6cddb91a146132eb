"""GET /app/admin/automations: each automation as GET /policies shows it (on or off, its
settings, its place in the log, its lag, the last error it met, a warning), with a switch
and its settings as JSON, which admin.js sends with PUT /policies/{name}; a refusal (bad
settings: 422 naming settings.<field>) is shown as the problem says it."""

from __future__ import annotations

import json
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.channels import configured
from crm_es.entrypoints.http.answers import PolicyList
from crm_es.entrypoints.web.guard import read_position
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.policies.catalogue import POLICIES
from crm_es.policies.runtime import status


async def automations_page(request: Request, viewer: Viewer) -> Response:
    await read_position(request)
    policies = await run_in_threadpool(_policies, request.app.state.services)
    return page(request, "admin_automations.html", viewer, policies=policies)


def _policies(services: Any) -> list[dict[str, Any]]:
    answer = PolicyList.model_validate({"items": status(services.store, POLICIES, configured(services.settings))})
    items = answer.model_dump(mode="json")["items"]  # as GET /policies writes them
    for item in items:
        item["settings_json"] = json.dumps(item["settings"], indent=2, ensure_ascii=False, sort_keys=True)
    return items
