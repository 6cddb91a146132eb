"""/metrics: the Prometheus text format, with no key (it holds no personal data: see
entrypoints/http/metrics.py for what it says and how cheaply it is measured).

A plain Starlette route: outside the OpenAPI document, like the docs pages, and outside
FastAPI's dependencies (auth/roles.py still lists it as public). Its function is sync, so
it runs on the thread pool: the figures read from the store never hold up the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from crm_es.entrypoints.http.metrics import Metrics

router = APIRouter()
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"  # the classic format, read by every Prometheus


def scrape(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=TEXT_FORMAT)


router.add_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
