"""Names beside ids: an answer that names a rep or a team by id gives its name too
(``owner_name`` beside ``owner_id``), read from the read side's ``reps`` and ``teams``
tables — the current name, as a person reading the answer today knows them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb

REPS, TEAMS = "reps", "teams"


def names(cur: duckdb.DuckDBPyConnection, table: str, ids: Iterable[Any]) -> dict[str, str]:
    """``{id: name}`` of the reps or teams (``table``) among ``ids`` (None ignored)."""
    assert table in (REPS, TEAMS)
    wanted = sorted({str(i) for i in ids if i is not None})
    if not wanted:
        return {}
    rows = cur.execute(f"SELECT CAST(id AS VARCHAR), name FROM {table} WHERE list_contains(?, CAST(id AS VARCHAR))",
                       [wanted]).fetchall()
    return dict(rows)


def beside(row: dict[str, Any], field: str, name_field: str, found: dict[str, str]) -> dict[str, Any]:
    """The row with ``name_field`` just after ``field`` (null when the id is null or unknown)."""
    value = row.get(field)
    name = None if value is None else found.get(str(value))
    out: dict[str, Any] = {}
    for key, item in row.items():
        if key != name_field:
            out[key] = item
        if key == field:
            out[name_field] = name
    return out


def with_names(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], field: str, name_field: str,
               table: str) -> list[dict[str, Any]]:
    """The rows, each with the name of the rep or team its ``field`` holds beside it."""
    found = names(cur, table, (r.get(field) for r in rows))
    return [beside(r, field, name_field, found) for r in rows]


def key_names(cur: duckdb.DuckDBPyConnection, groups: list[dict[str, Any]], by: str | None) -> list[dict[str, Any]]:
    """A report's groups with ``key_name`` beside ``key``: the rep's name when grouped by
    rep, the team's by team; null for any other grouping (its key is already a name)."""
    table = {"rep": REPS, "team": TEAMS}.get(by or "")
    found = {} if table is None else names(cur, table, (g["key"] for g in groups))
    return [beside(g, "key", "key_name", found) for g in groups]
