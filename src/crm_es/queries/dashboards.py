"""Saved dashboards (F34), listed: the read side's ``dashboards`` table, newest change
first. There is no ``GET /dashboards`` route; the console lists them from here, and
fills one in through ``GET /dashboards/{id}``'s own route."""

from __future__ import annotations

from typing import Any

import duckdb

from crm_es.queries.sql import fetch

LARGEST = 500  # a console list, not an export: the newest saved are the ones looked for

_LIST = ("SELECT CAST(id AS VARCHAR) AS id, name, saved_by, created_at, updated_at, version, "
         "json_array_length(reports) AS reports FROM dashboards ORDER BY updated_at DESC, id LIMIT ?")


def list_dashboards(cur: duckdb.DuckDBPyConnection, limit: int = LARGEST) -> list[dict[str, Any]]:
    """Each dashboard: id, name, who saved it first (``saved_by``, an actor: ``rep:<id>``,
    ``key:<id>`` or ``dev``), when it was saved and last changed, how many reports it holds."""
    return fetch(cur, _LIST, [limit])
