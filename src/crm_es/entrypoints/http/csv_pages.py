"""Any list as CSV: ``Accept: text/csv`` on a route that answers a page.

One pure ASGI middleware, so every list route — those added later too — gets it without
opting in: when the request prefers ``text/csv`` and the route's answer is a ``200`` JSON
page (``{"items": [...], "next_cursor": ...}``), the page is rewritten as CSV. It works on
the answer the route already made, so the role and visibility rules that shaped the JSON
shape the CSV too, and errors (problem+json) and every other answer pass unchanged.

CSV: a header row of the columns (as the JSON items have them, in order), one row per
item; nested values (lists, objects) as JSON in one cell, null as an empty cell, booleans
as ``true``/``false``. The next page is named by ``Link: <url>; rel="next"`` and
``X-Next-Cursor``. An empty page is an empty body: without items there are no columns.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import orjson
from starlette.datastructures import URL
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSV = "text/csv; charset=utf-8"
PAGE_KEYS = {"items", "next_cursor"}


def wants_csv(accept: str | None) -> bool:
    """Whether an Accept header prefers text/csv to JSON (JSON stays the default).

    Each type takes the quality of the most specific range that matches it (RFC 9110
    §12.5.1); a tie goes to the more specific range, then to the one listed first.
    """
    if not accept:
        return False
    ranges = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((media.lower(), q, index))

    def preference(type_: str) -> tuple[float, int, int]:
        main = type_.split("/")[0]
        for specificity, media in ((2, type_), (1, f"{main}/*"), (0, "*/*")):
            matching = [(q, -index) for m, q, index in ranges if m == media]
            if matching:
                q, order = max(matching)
                return q, specificity, order
        return 0.0, -1, 0

    csv_pref = preference("text/csv")
    return csv_pref[0] > 0 and csv_pref > preference("application/json")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def page_as_csv(items: list[dict[str, Any]]) -> str:
    """The items as CSV text; columns in the order they first appear (items of one list
    usually share them; an item without a column gets an empty cell)."""
    columns = list(dict.fromkeys(key for item in items for key in item))
    out = io.StringIO(newline="")
    writer = csv.writer(out)  # RFC 4180: quoted as needed, CRLF line ends
    if columns:
        writer.writerow(columns)
    for item in items:
        writer.writerow([cell(item.get(column)) for column in columns])
    return out.getvalue()


def _as_page(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not (isinstance(data, dict) and set(data) == PAGE_KEYS and isinstance(data["items"], list)):
        return None
    if not all(isinstance(item, dict) for item in data["items"]):
        return None
    return data


class CsvPages:
    """Rewrites JSON pages as CSV for requests that prefer ``text/csv`` (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not wants_csv(_header(scope, b"accept")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            # The answer is held whole (a page is at most `limit` items) to see if it is a page.
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._answer(scope, start, b"".join(chunks), send)
            else:
                await send(message)

        await self.app(scope, receive, hold)

    @staticmethod
    async def _answer(scope: Scope, start: Message | None, body: bytes, send: Send) -> None:
        assert start is not None
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        content_type = dict(headers).get(b"content-type", b"").split(b";")[0].strip().lower()
        data = _as_page(body) if start["status"] == 200 and content_type == b"application/json" else None
        if data is not None:
            body = page_as_csv(data["items"]).encode()
            headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
            headers += [(b"content-type", CSV.encode()), (b"vary", b"Accept")]
            if data["next_cursor"]:
                next_url = URL(scope=scope).include_query_params(cursor=data["next_cursor"])
                headers += [(b"link", f'<{next_url}>; rel="next"'.encode()),
                            (b"x-next-cursor", str(data["next_cursor"]).encode())]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name]
    return ", ".join(values) if values else None
