"""saved_views: each person's saved views of the console's lists, while they exist."""

from __future__ import annotations

import orjson

from crm_es.projections.rows import Delete, EventRow, Insert, Op, Patch, created, stamp


def _filters(e: EventRow) -> str:
    return orjson.dumps(e.data["filters"]).decode()


def view_saved(e: EventRow) -> list[Op]:
    return [Insert("saved_views", {**created(e), "saved_by": e.data["saved_by"], "list": e.data["list"],
                                   "name": e.data["name"], "filters": _filters(e)})]


def view_changed(e: EventRow) -> list[Op]:
    return [Patch("saved_views", e.id, {**stamp(e), "list": e.data["list"], "name": e.data["name"], "filters": _filters(e)})]


def view_removed(e: EventRow) -> list[Op]:
    return [Delete("saved_views", e.id)]
