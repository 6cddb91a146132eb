#!/usr/bin/env python
"""`crm-es serve`, unchanged, with one more route: ``POST /bench/noop`` answering ``{"ok": true}``.

The load bench (bench/bench_http.py) measures every route beside this trivial one, served
by the same uvicorn in the same process, through the same middleware (request ids, the
body guards, the access log) and the same key check (a route without a rule of its own is
for admin keys: auth/roles.py). What a command costs beyond it is ours.

The route is added by wrapping ``create_app`` before the real ``serve`` command runs, so
whatever ``serve`` does (loading, catching up, starting the projector and the automations,
uvicorn's settings) is what gets measured. Arguments are ``serve``'s::

    .venv/bin/python bench/http/serve_with_noop.py --host 127.0.0.1 --port 8680
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import FastAPI

NOOP_PATH = "/bench/noop"


def with_noop(app: FastAPI) -> FastAPI:
    """``app`` with ``POST /bench/noop``: an async route that reads nothing and answers at
    once (the body, if any, still passes the middleware's guards)."""

    @app.post(NOOP_PATH, include_in_schema=False)
    async def bench_noop() -> dict[str, Any]:
        return {"ok": True}

    return app


def main(argv: list[str]) -> None:
    from crm_es.entrypoints.cli.main import main as cli
    from crm_es.entrypoints.http import app as http_app

    real = http_app.create_app
    http_app.create_app = lambda *args, **kwargs: with_noop(real(*args, **kwargs))  # serve imports it when it runs
    cli(["serve", *argv], prog_name="crm-es")


if __name__ == "__main__":
    main(sys.argv[1:])
