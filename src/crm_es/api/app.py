"""The FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm_es.api import problems
from crm_es.api.middleware import RequestPlumbing
from crm_es.api.routers import deals, health, people, pipelines, records
from crm_es.bootstrap import Services, bootstrap
from crm_es.settings import Settings

log = logging.getLogger("crm_es")

DESCRIPTION = """An event-sourced CRM: every command records immutable events; reads come from
a DuckDB read side built from them. See the README for the conventions (Idempotency-Key,
If-Match / ETag, ?after= read-your-writes, problem+json errors)."""


OPEN_MODE_BANNER = [
    "!" * 72,
    "!! OPEN DEVELOPMENT MODE: no API keys are configured.",
    "!! Every request is accepted, unauthenticated, as actor 'dev'. Do not expose this port.",
    "!" * 72,
]


def create_app(services: Services | None = None, settings: Settings | None = None) -> FastAPI:
    """``services`` given: the caller owns them (tests). Otherwise they are built from
    settings at start-up, follow the log in the background, and close at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or bootstrap(settings)
        if owned:
            app.state.services.start()
        for line in OPEN_MODE_BANNER:
            log.warning(line)
        try:
            yield
        finally:
            if owned:
                app.state.services.close()

    app = FastAPI(title="crm-es", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    max_body = (services.settings if services else settings or Settings.from_env()).max_body_bytes
    app.add_middleware(RequestPlumbing, max_body_bytes=max_body)
    problems.install(app)
    for module in (people, pipelines, records, deals, health):
        app.include_router(module.router)
    return app
