"""The CSV import page (GET /app/admin/imports): a contacts file read in the browser, its
columns mapped to properties, a dry run, then the import — both sent by
static/admin_imports.js to POST /imports/contacts exactly as any client sends them
(multipart: file, map, dry_run). The page only says which properties a column may fill
(crm_es.imports.mapping's, and the contact properties the configuration defines) and how
a header is read as one (its aliases), so that the browser guesses as the import does."""

from __future__ import annotations

from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.commands.setup import current_setup
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.imports.mapping import ALIASES, PROPERTY_PREFIX, TARGETS

IMPORT_PATH = "/imports/contacts"


async def imports_page(request: Request, viewer: Viewer) -> Response:
    custom = await run_in_threadpool(_custom_properties, request.app.state.services.store)
    targets = [*TARGETS, *(PROPERTY_PREFIX + name for name in custom)]
    return page(request, "admin_imports.html", viewer, targets=targets, aliases=ALIASES, import_path=IMPORT_PATH,
                may_import=viewer.may("POST", IMPORT_PATH))


def _custom_properties(store: Any) -> list[str]:
    """The contact properties the configuration defines (``properties.NAME`` in a mapping)."""
    [setup] = current_setup(store)
    return sorted(p.name for p in setup.properties_of("contact"))
