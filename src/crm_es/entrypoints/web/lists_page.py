"""GET /app/contacts, /app/companies, /app/deals: the records as tables, with the JSON
lists' own filters (same names in the query string, same query functions, the caller's
reach), paged as the API pages (``limit``, ``cursor``), the caller's saved views and a
link to the CSV of every matching row (csv_download.py).

The lists are not sortable: the API's are not (newest first, by creation). A forgotten
person's row shows that they were forgotten, never their old data (the read side holds
nulls in their place already)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.commands.setup import current_setup
from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.web.guard import InvalidField, read_position
from crm_es.entrypoints.web.i18n import Words, language
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import board_cards, records
from crm_es.queries.names import REPS, names
from crm_es.queries.saved_views import KEPT_IN_VIEWS, LIST_FILTERS, list_views
from crm_es.queries.sql import LARGEST_PAGE, BadCursor, Page, every_item
from crm_es.queries.visibility import Visibility

DEFAULT_LIMIT = 50  # the API's default page
DEAL_STATUSES = ("open", "won", "lost")


@dataclass(frozen=True)
class Column:
    key: str  # the <td>'s class (col-<key>) and the word of its heading (lists_col_<key>)
    raw: Callable[[dict[str, Any], Lookup], Any]  # the value in the CSV and the cell's data-value
    shown: Callable[[dict[str, Any], Lookup, Words], str] | None = None  # as a person reads it (default: raw)
    in_table: bool = True  # False: in the CSV only (a deal's currency, which its amount shows already)


class Lookup:
    """The names a page of rows shows beside ids (owners, companies, pipelines), read once
    per page and kept for the next ones (a CSV reads page after page)."""

    def __init__(self, cur: Any) -> None:
        self.cur, self.owners, self.companies, self.pipelines = cur, {}, {}, {}

    def read(self, kind: str, rows: list[dict[str, Any]]) -> None:
        self.owners.update(names(self.cur, REPS, (r.get("owner_id") for r in rows if r.get("owner_id") not in self.owners)))
        for company_id in {str(r["company_id"]) for r in rows if r.get("company_id")} - self.companies.keys():
            company = records.get_company(self.cur, UUID(company_id))
            self.companies[company_id] = company["name"] if company else None
        if kind == "deals" and not self.pipelines:
            self.pipelines = {str(p["id"]): p["name"] for p in _pipelines(self.cur)}

    def owner(self, row: dict[str, Any]) -> str | None:
        return self.owners.get(str(row["owner_id"])) if row.get("owner_id") else None

    def company(self, row: dict[str, Any]) -> str | None:
        return self.companies.get(str(row["company_id"])) if row.get("company_id") else None


def _forgotten(row: dict[str, Any]) -> bool:
    return bool(row.get("forgotten_at"))


def _person(row: dict[str, Any], _: Lookup) -> str | None:
    if _forgotten(row):
        return None
    return " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part) or None


def _field(name: str) -> Callable[[dict[str, Any], Lookup], Any]:
    return lambda row, _lookup: row.get(name)


def _day(name: str) -> Callable[[dict[str, Any], Lookup, Words], str]:
    return lambda row, _lookup, t: t.day(row.get(name))


def _tags(row: dict[str, Any], _: Lookup) -> str | None:
    return ", ".join(row["tags"]) if row.get("tags") else None


COLUMNS: dict[str, list[Column]] = {
    "contacts": [
        Column("name", _person, lambda row, lookup, t: _person(row, lookup) or (t.forgotten if _forgotten(row) else "")),
        Column("email", _field("email")), Column("phone", _field("phone")),
        Column("company", lambda row, lookup: lookup.company(row)), Column("status", _field("status")),
        Column("owner", lambda row, lookup: lookup.owner(row)), Column("tags", _tags), Column("source", _field("source")),
        Column("created", _field("created_at"), _day("created_at")),
    ],
    "companies": [
        Column("name", _field("name")), Column("sector", _field("sector")),
        Column("revenue", _field("annual_revenue"), lambda row, _lookup, t: t.money(row.get("annual_revenue"), None)),
        Column("created", _field("created_at"), _day("created_at")),
    ],
    "deals": [
        Column("title", _field("title"), lambda row, _lookup, t: row.get("title") or t.forgotten),
        Column("pipeline", lambda row, lookup: lookup.pipelines.get(str(row["pipeline_id"]))),
        Column("stage", _field("stage")),
        Column("status", _field("status"), lambda row, _lookup, t: t.strings.get(f"lists_status_{row['status']}", row["status"])),
        Column("amount", _field("amount"), lambda row, _lookup, t: t.money(row.get("amount"), row.get("currency"))),
        Column("currency", _field("currency"), in_table=False),
        Column("owner", lambda row, lookup: row.get("owner_name")), Column("company", lambda row, lookup: lookup.company(row)),
        Column("source", _field("source")), Column("expected_close", _field("expected_close"), _day("expected_close")),
        Column("created", _field("created_at"), _day("created_at")),
    ],
}


def cell(column: Column, row: dict[str, Any], lookup: Lookup, t: Words) -> tuple[str, str, str]:
    """``(key, raw, shown)``: the column, its value as the CSV writes it, as the page shows it."""
    value = column.raw(row, lookup)
    raw = "" if value is None else str(value)
    return column.key, raw, column.shown(row, lookup, t) if column.shown else raw


def read_filters(request: Request, kind: str) -> dict[str, Any]:
    """The list's filters from the query string, as its JSON route reads them (an id a UUID,
    else a 422 naming ``query.<name>``); an empty one is no filter (a form sends every field)."""
    filters: dict[str, Any] = {}
    for name, what in LIST_FILTERS[kind].items():
        text = request.query_params.get(name, "").strip()
        if not text:
            continue
        if what == "id":
            try:
                filters[name] = UUID(text)
            except ValueError:
                raise InvalidField(f"query.{name}", "invalid_id") from None
        else:
            filters[name] = text
    return filters


def read_page(cur: Any, kind: str, filters: dict[str, Any], visible: Visibility, limit: int, cursor: str | None) -> Page:
    """One page of the list, by the JSON route's own query (companies have no owner: every
    reader of the catalogue reads all of them, as GET /companies answers)."""
    try:
        if kind == "companies":
            return records.list_companies(cur, **filters, limit=limit, cursor=cursor)
        query = records.list_contacts if kind == "contacts" else records.list_deals
        return query(cur, **filters, limit=limit, cursor=cursor, visible=visible)
    except BadCursor:
        raise InvalidField("query.cursor", "lists_invalid_cursor") from None


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", "").strip()
    if not text:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= LARGEST_PAGE:
        raise InvalidField("query.limit", "lists_invalid_limit")
    return int(text)


def _pipelines(cur: Any) -> list[dict[str, Any]]:
    return every_item(lambda cursor: records.list_pipelines(cur, limit=LARGEST_PAGE, cursor=cursor))


def list_page(kind: str) -> Callable[[Request, Viewer], Any]:
    async def handler(request: Request, viewer: Viewer) -> Response:
        filters, limit = read_filters(request, kind), _limit(request)
        cursor = request.query_params.get("cursor", "").strip() or None
        assert viewer.principal is not None  # not a public page
        visible = await visibility(request, viewer.principal)
        services = request.app.state.services
        await read_position(request)
        t = Words(language(request))
        shown = await run_in_threadpool(_list, services, kind, filters, (limit, cursor), visible, viewer, t)
        query = {name: str(value) for name, value in filters.items()}
        current = {name: query.get(name, "") for name in LIST_FILTERS[kind]}  # every field of the form
        return page(request, "list.html", viewer, kind=kind, filters=current, chosen=query, limit=limit, cursor=cursor or "",
                    kept_in_views=sorted(KEPT_IN_VIEWS[kind]), left_out_of_views=sorted(set(query) - set(KEPT_IN_VIEWS[kind])),
                    query_string=urlencode(query), limit_query="" if limit == DEFAULT_LIMIT else f"&limit={limit}",
                    **shown)

    handler.__name__ = f"{kind}_list_page"
    return handler


def _list(services: Any, kind: str, filters: dict[str, Any], paging: tuple[int, str | None], visible: Visibility,
          viewer: Viewer, t: Words) -> dict[str, Any]:
    limit, cursor = paging
    with services.read_side.cursor() as cur:
        found = read_page(cur, kind, filters, visible, limit, cursor)
        lookup = Lookup(cur)
        lookup.read(kind, found.items)
        columns = [c for c in COLUMNS[kind] if c.in_table]
        rows = [{"id": row["id"], "forgotten": _forgotten(row), "forgotten_at": row.get("forgotten_at"),
                 "cells": [cell(c, row, lookup, t) for c in columns]} for row in found.items]
        choices = _choices(services, cur, kind, visible)
        views = (list_views(cur, viewer.principal.actor, kind, limit=LARGEST_PAGE).items
                 if viewer.principal is not None and viewer.may("GET", "/views") else [])
        named = records.get_company(cur, filters["company"]) if "company" in filters else None  # the filter's
    return {"columns": [c.key for c in columns], "rows": rows, "next_cursor": found.next_cursor, "choices": choices,
            "views": views, "company_name": named["name"] if named else None, "may_save_view": viewer.may("POST", "/views"),
            "may_remove_view": viewer.may("DELETE", "/views/{view_id}")}


def _choices(services: Any, cur: Any, kind: str, visible: Visibility) -> dict[str, Any]:
    """What the filter form offers: the owners within the caller's reach, the statuses,
    sources and tags of the configuration in force (GET /settings), the pipelines' stages."""
    if kind == "companies":
        return {}
    [setup] = current_setup(services.store)
    chosen: dict[str, Any] = {"owners": board_cards.list_owner_choices(cur, visible), "sources": list(setup.sources)}
    if kind == "contacts":
        chosen["statuses"] = list(setup.statuses)
        chosen["tags"] = sorted({tag for category in setup.tag_categories for tag in category.tags})
    else:
        pipelines = _pipelines(cur)
        chosen["statuses"] = list(DEAL_STATUSES)
        chosen["pipelines"] = [{"id": str(p["id"]), "name": p["name"]} for p in pipelines]
        chosen["stages"] = list(dict.fromkeys(s["name"] for p in pipelines for s in p.get("stages") or []))
    return chosen
