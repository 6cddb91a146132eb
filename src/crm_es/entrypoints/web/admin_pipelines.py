"""GET /app/admin/pipelines: each pipeline with its stages in order and their probabilities
(GET /pipelines' own rows, queries/records.py); each as a table admin.js sends whole with
PATCH /pipelines/{id} (rename, reorder, add, remove a stage, change a probability: stages
keep their ids, so a renamed stage keeps its deals), If-Match its version; and a form for
a new pipeline (POST /pipelines). ``?pipeline=`` shows one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.web.guard import read_position
from crm_es.entrypoints.web.params import query_id
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import records
from crm_es.queries.sql import LARGEST_PAGE, every_item


async def pipelines_page(request: Request, viewer: Viewer) -> Response:
    chosen = query_id(request, "pipeline")
    await read_position(request)
    pipelines = await run_in_threadpool(_pipelines, request.app.state.services, chosen)
    return page(request, "admin_pipelines.html", viewer, pipelines=pipelines, chosen=str(chosen or ""))


def _pipelines(services: Any, chosen: UUID | None) -> list[dict[str, Any]]:
    with services.read_side.cursor() as cur:
        if chosen is not None:
            pipeline = records.get_pipeline(cur, chosen)
            if pipeline is None:
                raise NotFound("pipeline", chosen)
            return [pipeline]
        return every_item(lambda cursor: records.list_pipelines(cur, limit=LARGEST_PAGE, cursor=cursor))
