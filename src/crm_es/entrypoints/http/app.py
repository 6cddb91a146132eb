"""The FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from crm_es.entrypoints.http import contract, docs_pages, problems
from crm_es.entrypoints.http.auth import authorize
from crm_es.entrypoints.http.csv_pages import CsvPages
from crm_es.entrypoints.http.metrics import Metrics
from crm_es.entrypoints.http.middleware import RequestPlumbing
from crm_es.entrypoints.http.routers import (analyst_sql, analytics, audit, dashboards, deals, health, imports, interactions, lead_scores, outbox, people,
                                pipelines, policies, records, setup, subscriptions, tasks)
from crm_es.entrypoints.http.routers import documents, messages, read_side, views
from crm_es.entrypoints.http.routers import metrics as metrics_route
from crm_es.entrypoints.web import console
from crm_es import channels
from crm_es.auth.api_keys import ApiKeys
from crm_es.bootstrap import Services, service
from crm_es.queries import answer_cache
from crm_es.settings import Settings

log = logging.getLogger("crm_es")

DESCRIPTION = """An event-sourced CRM: every command records immutable events; reads come from
a DuckDB read side built from them. See the README for the conventions (Idempotency-Key,
If-Match / ETag, ?after= read-your-writes, problem+json errors) and for the roles an API key
may carry. Send the key as `Authorization: Bearer <key>`; /health, /livez, /readyz, /metrics and these docs
need none."""


OPEN_MODE_BANNER = [
    "!" * 72,
    "!! OPEN DEVELOPMENT MODE: no API keys are configured.",
    "!! Every request is accepted, unauthenticated, as actor 'dev'. Do not expose this port.",
    "!" * 72,
]


def announce_access(api_keys: ApiKeys) -> None:
    """Loud when anyone may call; plain about it when a key is needed. (Warnings: shown
    without any logging set up.)"""
    if not api_keys.configured():
        for line in OPEN_MODE_BANNER:
            log.warning(line)
        return
    keys = api_keys.list()
    active = sum(key.revoked_at is None for key in keys)
    log.warning("API keys: %d active, %d revoked; every request but /health, /livez, /readyz, /metrics and /docs needs "
                "Authorization: Bearer <key>", active, len(keys) - active)


def announce_channels(settings: Settings) -> None:
    """Which channels the outbox can send on, and for those it cannot, the setting that
    would configure them: a send on one is refused (409 channel-not-configured)."""
    log.warning("outgoing channels:")
    for line in channels.describe(settings):
        log.warning("  %s", line)


def operation_id(route: APIRoute) -> str:
    return route.name


def create_app(services: Services | None = None, settings: Settings | None = None) -> FastAPI:
    """``services`` given: the caller owns them (tests). Otherwise they are built from
    settings at start-up, follow the log in the background, and close at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or service(settings)
        app.state.metrics.follow(app.state.services)  # before the projector starts: its first batches count
        if owned:
            app.state.services.start()
        await app.state.services.store.api_keys.open_loop_reads()  # each request's key check (auth.py)
        def forget_kept(_events: object, _seconds: float) -> None:
            """Answers kept at the last position go as the next batch commits (a forgotten
            person's card too), not at the next read (queries/answer_cache.py)."""
            answer_cache.forget(app.state.services.read_side.db)

        app.state.services.projector.batch_observers.append(forget_kept)
        announce_access(app.state.services.api_keys)
        announce_channels(app.state.services.settings)
        try:
            yield
        finally:
            console.stop(app)  # its own background work (a chain being verified) before the store closes
            app.state.services.projector.batch_observers.remove(forget_kept)
            await app.state.services.store.api_keys.close_loop_reads()
            app.state.metrics.unfollow()
            if owned:
                app.state.services.close()

    # Every route, including those added later, goes through the role rules.
    # /docs and /redoc are ours (docs_pages): FastAPI's load their scripts from a CDN.
    # Operation ids are the routes' function names (get_deal, post_stage): what a generated
    # client names its functions after.
    app = FastAPI(title="crm-es", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(authorize)], docs_url=None, redoc_url=None,
                  generate_unique_id_function=operation_id)
    chosen = services.settings if services else settings or Settings.from_env()
    # Any list as CSV (Accept: text/csv), for every route that answers a page; inside the
    # plumbing, so the CSV answer gets X-Request-ID and X-Position too.
    app.add_middleware(CsvPages)
    larger_bodies = {imports.PATH: chosen.max_import_bytes, imports.DEALS_PATH: chosen.max_import_bytes,
                     interactions.BATCH_PATH: chosen.max_batch_bytes,
                     console.EXPORT_CHECK_PATH: chosen.max_import_bytes}  # an auditor's export file, checked
    # Every answer counted and timed by route template, the plumbing's refusals too.
    app.state.metrics = Metrics()  # a registry of this app's own
    app.add_middleware(RequestPlumbing, max_body_bytes=chosen.max_body_bytes, larger_bodies=larger_bodies,
                       answered=app.state.metrics.request)
    problems.install(app)
    for module in (people, pipelines, records, deals, interactions, tasks, imports, setup, audit, analytics, dashboards, analyst_sql,
                   policies, outbox, subscriptions, lead_scores, documents, messages, read_side, views, health, metrics_route):
        app.include_router(module.router)
    docs_pages.install(app)
    console.install(app)  # the web console's pages (HTML, outside /openapi.json): entrypoints/web
    contract.install(app)  # every status each operation can answer, in /openapi.json
    return app
