"""Request plumbing: request ids, body size and JSON shape limits, the X-Position header,
and the access log."""

from __future__ import annotations

import copy
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_es.entrypoints.http import json_guard
from crm_es.entrypoints.http.problems import problem

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODILESS = {"GET", "HEAD", "OPTIONS"}  # no route reads a body there
ACCESS_LOGGER = "crm_es.access"
access_log = logging.getLogger(ACCESS_LOGGER)


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus our access log (``crm_es.access``, INFO, on stdout where
    uvicorn's own went). Serve it with uvicorn's access log off: that one writes each
    request's query string, and a query names people (``?q=jean.dupont@…``)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["crm_es_access"] = {"formatter": "default", "class": "logging.StreamHandler",
                                           "stream": "ext://sys.stdout"}
    config["loggers"][ACCESS_LOGGER] = {"handlers": ["crm_es_access"], "level": "INFO", "propagate": False}
    return config


class RequestPlumbing:
    """Pure ASGI middleware (it must see the body before FastAPI parses it):

    - takes ``X-Request-ID`` (or makes one) as the correlation id, and echoes it back;
    - refuses bodies over the limit with 413 before reading them whole (``larger_bodies``:
      the few routes allowed more, by path — file uploads — so no other route is weakened);
    - refuses JSON bodies nested too deep, malformed or holding what the store cannot
      write, before any parser sees them (``json_guard``);
    - adds ``X-Position`` (the read side's position when the data was read) to GETs;
    - logs one line per request: method, route, status and time — the route's template
      (``/contacts/{contact_id}``), or the path when no route matched, never the query —
      and tells ``answered`` the same (the metrics).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, larger_bodies: dict[str, int] | None = None,
                 answered: Callable[[Scope, int, float], None] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger_bodies = larger_bodies or {}
        # Told of every answer, the plumbing's own refusals too, with its status and seconds
        # (the metrics: entrypoints/http/metrics.py) — timed once, here, with the access log.
        self.answered = answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500  # the server answers 500 when the app raises

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, noting_status)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or scope["path"]  # the router sets it on a match
            access_log.info("%s %s %d %.1f ms", scope["method"], route, status, seconds * 1000)
            if self.answered is not None:
                self.answered(scope, status, seconds)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode().lower(): v.decode(errors="replace") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        echo = [(b"x-request-id", request_id.encode())]

        larger = self.larger_bodies.get(scope["path"]) if scope["method"] == "POST" else None
        limit = larger or self.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(scope, receive, send, echo, limit)
            return
        body, too_large = await self._read_body(receive, limit)
        if too_large:
            await self._too_large(scope, receive, send, echo, limit)
            return
        content_type = headers.get("content-type")
        if (body and scope["method"] not in _BODILESS and _is_json(content_type)
                and not json_guard.checked_by_route(scope["method"], scope["path"], content_type)):
            refusal = json_guard.refusal(body)
            if refusal is not None:
                await self._refuse(refusal, scope, receive, send, echo)
                return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(echo)
                position = scope["state"].get("read_position")
                if scope["method"] == "GET" and position is not None:
                    extra.append((b"x-position", str(position).encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, replay, send_with_headers)

    async def _read_body(self, receive: Receive, limit: int) -> tuple[bytes, bool]:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, echo: list[Any], limit: int) -> None:
        response = problem(413, "body-too-large", f"the request body is over {limit} bytes")
        await self._refuse(response, scope, receive, send, echo)

    @staticmethod
    async def _refuse(response: JSONResponse, scope: Scope, receive: Receive, send: Send, echo: list[Any]) -> None:
        response.headers.raw.extend(echo)
        await response(scope, receive, send)


def _is_json(content_type: str | None) -> bool:
    """As FastAPI decides to parse a body as JSON: no type, application/json or application/*+json."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("application/") and (media.endswith("/json") or media.endswith("+json"))
