"""Small helpers every query shares: rows as JSON-ready dicts and keyset pagination."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb
import orjson


def jsonable(value: Any) -> Any:
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def fetch(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any], json_columns: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description]
    rows = []
    for values in result.fetchall():
        row = {name: jsonable(v) for name, v in zip(names, values, strict=True)}
        for name in json_columns:
            if row.get(name) is not None:
                row[name] = orjson.loads(row[name])
        rows.append(row)
    return rows


class BadCursor(ValueError):
    pass


def encode_cursor(created_at: str, id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([created_at, id])).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        created_at, id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        # Handed on in the one spelling each DuckDB cast reads: Python also accepts forms
        # such as "09:00:00,5" or "urn:uuid:…" that the cast refuses (a 500 before).
        return dt.datetime.fromisoformat(created_at).isoformat(), str(UUID(id))
    except Exception as error:
        raise BadCursor("cursor is not one this service gave out") from error


@dataclass
class Filters:
    """WHERE clauses built from known filters only; every value is a bound parameter."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def equal(self, column: str, value: Any) -> None:
        if value is not None:
            self.clauses.append(f"{column} = ?")
            self.params.append(str(value))

    def contains(self, column: str, value: Any) -> None:
        if value is not None:
            self.clauses.append(f"list_contains({column}, ?)")
            self.params.append(value)

    def text(self, columns: tuple[str, ...], q: str | None) -> None:
        if q:
            # DuckDB's ILIKE has no escape character unless told: without ESCAPE, "100%"
            # found nothing and "%" matched any text with a backslash in it.
            self.clauses.append("(" + " OR ".join(f"{c} ILIKE ? ESCAPE '\\'" for c in columns) + ")")
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            self.params.extend([pattern] * len(columns))

    def where(self) -> str:
        return ("WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


LARGEST_PAGE = 1000  # the most items a list query gives at once (the API's ?limit= too)


def every_item(read: Callable[[str | None], Page]) -> list[dict[str, Any]]:
    """Every item of a paged read, in its order: ``read(cursor)`` page after page, from the
    first (``None``) to the one with no next cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        found = read(cursor)
        items.extend(found.items)
        if not found.next_cursor:
            return items
        cursor = found.next_cursor


def page(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    filters: Filters,
    limit: int,
    cursor: str | None,
    json_columns: tuple[str, ...] = (),
) -> Page:
    """Newest first, by (created_at, id): stable while records are added."""
    if cursor:
        created_at, id = decode_cursor(cursor)
        filters.clauses.append("(created_at, id) < (CAST(? AS TIMESTAMPTZ), CAST(? AS UUID))")
        filters.params.extend([created_at, id])
    sql = f"SELECT * FROM {table} {filters.where()} ORDER BY created_at DESC, id DESC LIMIT ?"
    rows = fetch(cur, sql, [*filters.params, limit + 1], json_columns)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return Page(rows, next_cursor)


def one(cur: duckdb.DuckDBPyConnection, table: str, key: str, id: Any, json_columns: tuple[str, ...] = ()) -> dict[str, Any] | None:
    rows = fetch(cur, f"SELECT * FROM {table} WHERE {key} = ?", [str(id)], json_columns)
    return rows[0] if rows else None
