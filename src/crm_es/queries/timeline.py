"""The customer card's history (a record's timeline) and the news feed, from `timeline`."""

from __future__ import annotations

import base64
from datetime import datetime
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import duckdb
import orjson

from crm_es.queries.sql import BadCursor, Filters, Page, fetch
from crm_es.queries.visibility import EVERYONE, Visibility
from crm_es.store import RawEvent

# What the news feed shows (F14): the moves that matter to the whole team.
FEED_TYPES = ("contact_registered", "deal_opened", "deal_stage_changed", "deal_won", "deal_lost", "deal_reopened",
              "meeting_missed")


def encode_position(position: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(["p", position])).decode()


def decode_position(cursor: str) -> int:
    try:
        tag, position = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if tag != "p" or type(position) is not int:
            raise ValueError(tag)
        return position
    except Exception as error:
        raise BadCursor("cursor is not one this service gave out") from error


# What every event carries: the timeline shows it in its own fields, not in ``data``.
ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "occurred_at", "actor", "correlation_id",
                      "causation_id", "class_version"})

# Opens stored events' personal fields (``EventStore.open_states``): the read side keeps
# them sealed, and only the store holds the keys.
Opener = Callable[[Sequence[RawEvent]], list[dict[str, Any]]]


def _opened(rows: list[dict[str, Any]], open_states: Opener) -> list[dict[str, Any]]:
    """Each row's event fields in today's shape, personal ones opened (null once forgotten)."""
    raw = [RawEvent(r["position"], r["record_id"], r["version"], r["topic"], r["data"].encode()) for r in rows]
    return [{k: v for k, v in state.items() if k not in ENVELOPE} for state in open_states(raw)]


def _items(rows: list[dict[str, Any]], open_states: Opener, linked: dict[tuple[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    sources = [linked.get((r["contact_id"], r["contact_version"]), r) for r in rows]
    return [
        {k: row[k] for k in ("position", "type", "occurred_at", "recorded_at", "actor")}
        # A deal's interaction shows the contact's event it mirrors (and which contact).
        | {"data": data if source is row else {**data, "contact_id": row["contact_id"]}}
        for row, source, data in zip(rows, sources, _opened(sources, open_states), strict=True)
    ]


def timeline(
    cur: duckdb.DuckDBPyConnection, record_id: UUID, open_states: Opener, *, types: list[str] | None = None,
    occurred_from: datetime | None = None, occurred_to: datetime | None = None, limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Every event on the record, oldest first (log order), filtered by type and by
    business time (``occurred_from`` inclusive, ``occurred_to`` exclusive)."""
    f = Filters()
    f.equal("record_id", record_id)
    if types:
        f.clauses.append(f"type IN ({', '.join('?' * len(types))})")
        f.params.extend(types)
    if occurred_from is not None:
        f.clauses.append("occurred_at >= ?")
        f.params.append(occurred_from)
    if occurred_to is not None:
        f.clauses.append("occurred_at < ?")
        f.params.append(occurred_to)
    if cursor:
        f.clauses.append("position > ?")
        f.params.append(decode_position(cursor))
    rows = fetch(cur, f"SELECT * FROM timeline {f.where()} ORDER BY position LIMIT ?", [*f.params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    linked = _linked(cur, [r for r in rows if r["contact_version"] is not None])
    return Page(_items(rows, open_states, linked), encode_position(rows[-1]["position"]) if more else None)


def _linked(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The contacts' rows that a deal's interactions point at, in one query."""
    if not rows:
        return {}
    pairs = [(r["contact_id"], r["contact_version"]) for r in rows]
    found = fetch(
        cur,
        "SELECT t.* FROM timeline t JOIN (SELECT unnest(?::UUID[]) AS id, unnest(?::INTEGER[]) AS v) w "
        "ON t.record_id = w.id AND t.version = w.v",
        [[p[0] for p in pairs], [p[1] for p in pairs]],
    )
    return {(r["record_id"], r["version"]): r for r in found}


def feed(cur: duckdb.DuckDBPyConnection, open_states: Opener, *, limit: int = 50, cursor: str | None = None,
         visible: Visibility = EVERYONE) -> Page:
    """The important events, newest first, on the records the reader may see."""
    f = Filters()
    f.clauses.append(f"t.type IN ({', '.join('?' * len(FEED_TYPES))})")
    f.params.extend(FEED_TYPES)
    # A deal's mirrored interaction is already on its contact's timeline: shown once.
    f.clauses.append("NOT (t.record_type = 'deal' AND t.contact_version IS NOT NULL)")
    visible.restrict(f, "coalesce(c.owner_id, d.owner_id)")
    if cursor:
        f.clauses.append("t.position < ?")
        f.params.append(decode_position(cursor))
    rows = fetch(
        cur,
        "SELECT t.*, coalesce(c.owner_id, d.owner_id) AS owner_id, d.title AS deal_title, "
        "c.first_name, c.last_name FROM timeline t "
        "LEFT JOIN contacts c ON t.record_type = 'contact' AND c.id = t.record_id "
        f"LEFT JOIN deals d ON t.record_type = 'deal' AND d.id = t.record_id {f.where()} "
        "ORDER BY t.position DESC LIMIT ?",
        [*f.params, limit + 1],
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = []
    for r, item in zip(rows, _items(rows, open_states, {}), strict=True):
        item |= {"record_type": r["record_type"], "record_id": r["record_id"], "owner_id": r["owner_id"]}
        item["title"] = r["deal_title"] if r["record_type"] == "deal" else _name(r)
        items.append(item)
    return Page(items, encode_position(rows[-1]["position"]) if more else None)


def _name(row: dict[str, Any]) -> str | None:
    names = [n for n in (row["first_name"], row["last_name"]) if n]
    return " ".join(names) or None
