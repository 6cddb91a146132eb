"""GET /app/contacts.csv, /app/companies.csv, /app/deals.csv: every row the list's filters
match (not one page), with the table's columns, the record's id first.

The rows are read page after page (the API's largest page) and written as they come, so
a large list streams in constant memory. The first page is read before the answer
starts: a bad filter is still a 422 page, not a broken download.

The file is UTF-8 **with a byte order mark**: Excel (the spreadsheet most of the first
customers open a download with) reads a CSV without one in the machine's legacy code
page, and "Hélène" arrives as "HÃ©lÃ¨ne"; LibreOffice, Numbers, Google Sheets and
Python's ``utf-8-sig`` read the mark and drop it. Commas and RFC 4180 quoting, as
GET /<list> with ``Accept: text/csv`` writes (entrypoints/http/csv_pages.py); values as
the API gives them (ISO dates, amounts as decimals beside their currency), headings in the
page's language.

A text a spreadsheet would run as a formula (one starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return, and not a plain number) gets a leading apostrophe, as OWASP
advises against CSV injection: a contact named ``=HYPERLINK(...)`` by a web form must not
become a live formula on a manager's machine. A phone number written ``+33 …`` is such a
text too (a spreadsheet would read it as a sum)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.web.guard import read_position
from crm_es.entrypoints.web.i18n import Words, language
from crm_es.entrypoints.web.lists_page import (
    COLUMNS,
    Lookup,
    cell,
    read_filters,
    read_page,
)
from crm_es.entrypoints.web.render import Viewer
from crm_es.queries.sql import LARGEST_PAGE, Page
from crm_es.queries.visibility import Visibility

BOM = "\ufeff"
PAGE_SIZE = LARGEST_PAGE  # rows read at a time
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def csv_download(kind: str) -> Callable[[Request, Viewer], Any]:
    async def handler(request: Request, viewer: Viewer) -> Response:
        filters = read_filters(request, kind)
        assert viewer.principal is not None  # not a public page
        visible = await visibility(request, viewer.principal)
        services = request.app.state.services
        await read_position(request)
        t = Words(language(request))
        first = await run_in_threadpool(_first_page, services, kind, filters, visible)
        day = services.clock.now().date().isoformat()  # the request's day names the file
        return StreamingResponse(_lines(services, kind, filters, visible, t, first), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{kind}-{day}.csv"',
                                          "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    handler.__name__ = f"{kind}_csv_download"
    return handler


def _first_page(services: Any, kind: str, filters: dict[str, Any], visible: Visibility) -> Page:
    with services.read_side.cursor() as cur:
        return read_page(cur, kind, filters, visible, PAGE_SIZE, None)


def _lines(services: Any, kind: str, filters: dict[str, Any], visible: Visibility, t: Words, first: Page) -> Iterator[str]:
    """The file, a page of rows at a time (Starlette runs this on its thread pool)."""
    columns = COLUMNS[kind]
    yield BOM + _row(["id", *(t.strings[f"lists_col_{c.key}"] for c in columns)])
    found: Page | None = first
    with services.read_side.cursor() as cur:
        lookup = Lookup(cur)
        while found is not None:
            lookup.read(kind, found.items)
            yield "".join(_row([row["id"], *(cell(c, row, lookup, t)[1] for c in columns)]) for row in found.items)
            found = read_page(cur, kind, filters, visible, PAGE_SIZE, found.next_cursor) if found.next_cursor else None


def _row(values: list[Any]) -> str:
    out = io.StringIO(newline="")
    csv.writer(out).writerow([_inert(str(value)) for value in values])  # RFC 4180: quoted as needed, CRLF line ends
    return out.getvalue()


def _inert(text: str) -> str:
    """The text as a spreadsheet shows it, never runs it (see the module doc)."""
    return "'" + text if text.startswith(FORMULA_START) and not NUMBER.match(text) else text
