"""The customer card's history — a record's timeline, read from the event store itself —
and the news feed, whose index is on the read side.

A timeline is one record's stream, in version order: the store answers it exactly, at
once after a write, with personal fields opened by the person's key (null once they are
forgotten). Copying every event into DuckDB for it cost the projector a quarter of its
speed, for a question the store's primary key already answers.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import duckdb
import orjson
from eventsourcing.utils import get_topic

from crm_es.aggregates import Contact, Deal
from crm_es.aggregates.base import Aggregate, Event
from crm_es.aggregates.interactions import KINDS, DocumentSent
from crm_es.queries.names import REPS, with_names
from crm_es.queries.sql import BadCursor, Filters, Page, fetch
from crm_es.queries.visibility import EVERYONE, Visibility
from crm_es.store import EventStore, RawEvent
from crm_es.store.codec import event_class

# What every event carries: an item shows it in its own fields, not in ``data``.
ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "occurred_at", "actor", "correlation_id",
                      "causation_id", "class_version"})
PAGE_READ = 500  # events read from the store at a time while filling a filtered page


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def type_name(cls: type) -> str:
    """What a timeline calls an event: an interaction by its type (``call``), anything
    else by its record and what happened (``deal_stage_changed``)."""
    kind = getattr(cls, "kind", None)
    if kind:
        return kind
    record, _, event = cls.__qualname__.partition(".")
    return f"{record.lower()}_{_snake(event)}"


def events_of(aggregate: type[Aggregate]) -> list[type[Event]]:
    """The event classes nested in an aggregate (those added later too)."""
    return [v for v in vars(aggregate).values() if isinstance(v, type) and issubclass(v, Event)]


MIRROR = get_topic(Deal.InteractionRecorded)  # on a deal: shown as the interaction it points at
TOPICS_OF: dict[str, set[str]] = {}
for _cls in [*events_of(Contact), *KINDS.values(), DocumentSent, *events_of(Deal)]:
    if _cls is not Deal.InteractionRecorded:
        TOPICS_OF.setdefault(type_name(_cls), set()).add(get_topic(_cls))
for _kind in KINDS:
    TOPICS_OF[_kind].add(MIRROR)
TYPES = sorted(TOPICS_OF)  # every type a timeline may be filtered by


def encode_cursor(tag: str, value: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([tag, value])).decode()


def decode_cursor(tag: str, cursor: str) -> int:
    try:
        found, value = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if found != tag or type(value) is not int:
            raise ValueError(found)
        return value
    except Exception as error:
        raise BadCursor("cursor is not one this service gave out") from error


@dataclass(frozen=True)
class Period:
    """Business time: ``start`` inclusive, ``end`` exclusive; either may be open."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, when: datetime) -> bool:
        return (self.start is None or when >= self.start) and (self.end is None or when < self.end)


def _item(position: int, kind: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "position": position, "type": kind,
        # The times as recorded in the event (with the offset the client gave), who, and
        # why: an automation's action names the event that caused it (``record:version``).
        "occurred_at": state["occurred_at"], "recorded_at": state["timestamp"], "actor": state["actor"],
        "cause": state.get("causation_id"), "data": _fields(state),
    }


def _fields(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ENVELOPE}


def timeline(
    store: EventStore, record_id: UUID, *, types: Collection[str] | None = None, period: Period = Period(),
    limit: int = 50, cursor: str | None = None,
) -> Page:
    """Every event on the record, oldest first, filtered by type and business time. A
    deal's interaction shows the fields of the contact's event it points at."""
    topics = None if not types else {t for name in types for t in TOPICS_OF.get(name, ())}
    if topics is not None and not topics:
        return Page([], None)
    after = decode_cursor("v", cursor) if cursor else 0
    found: list[tuple[int, dict[str, Any]]] = []
    while len(found) <= limit:
        rows = store.record_events(record_id, after, PAGE_READ, topics)
        for row, state in zip(rows, store.open_states(rows), strict=True):
            after = row.version
            kind = state["kind"] if row.topic == MIRROR else type_name(event_class(row.topic))
            if (types and kind not in types) or not period.holds(datetime.fromisoformat(state["occurred_at"])):
                continue  # decided before a mirrored interaction's fields are read
            found.append((row.version, _mirrored(store, row, state) if row.topic == MIRROR else _item(row.position, kind, state)))
            if len(found) > limit:
                break
        if len(rows) < PAGE_READ:
            break
    more = len(found) > limit
    found = found[:limit]
    return Page([item for _, item in found], encode_cursor("v", found[-1][0]) if more else None)


def _mirrored(store: EventStore, row: RawEvent, state: dict[str, Any]) -> dict[str, Any]:
    """A deal's record of an interaction, shown as the interaction (the contact's event)."""
    contact_id = UUID(state["contact_id"])
    [event] = store.record_events(contact_id, state["contact_version"] - 1, 1)
    [contact_state] = store.open_states([event])
    item = _item(row.position, state["kind"], state)
    item["data"] = {**_fields(contact_state), "contact_id": str(contact_id)}
    return item


# --- the news feed --------------------------------------------------------------------

# Deal moves come from their own history table; the rest of the news from `news`.
FEED_SQL = """
WITH feed AS (
    SELECT position, CASE kind WHEN 'opened' THEN 'deal_opened' WHEN 'moved' THEN 'deal_stage_changed'
           ELSE 'deal_reopened' END AS type, 'deal' AS record_type, deal_id AS record_id
    FROM deal_stage_changes
    UNION ALL SELECT position, type, record_type, record_id FROM news
)
SELECT f.*, coalesce(c.owner_id, d.owner_id) AS owner_id, d.title AS deal_title, c.first_name, c.last_name
FROM feed f
LEFT JOIN contacts c ON f.record_type = 'contact' AND c.id = f.record_id
LEFT JOIN deals d ON f.record_type = 'deal' AND d.id = f.record_id
"""


def feed(cur: duckdb.DuckDBPyConnection, store: EventStore, *, limit: int = 50, cursor: str | None = None,
         visible: Visibility = EVERYONE) -> Page:
    """The important events (F14), newest first, on the records the reader may see; the
    record's owner now, by id and name."""
    f = Filters()
    visible.restrict(f, "coalesce(c.owner_id, d.owner_id)")
    if cursor:
        f.clauses.append("f.position < ?")
        f.params.append(decode_cursor("p", cursor))
    rows = fetch(cur, f"{FEED_SQL} {f.where()} ORDER BY f.position DESC LIMIT ?", [*f.params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    states = store.states_at([r["position"] for r in rows])
    items = []
    for r in rows:
        state = states[r["position"]]
        item = _item(r["position"], r["type"], state)
        title = r["deal_title"] if r["record_type"] == "deal" else " ".join(filter(None, (r["first_name"], r["last_name"])))
        items.append(item | {"record_type": r["record_type"], "record_id": r["record_id"], "owner_id": r["owner_id"],
                             "title": title or None})
    return Page(with_names(cur, items, "owner_id", "owner_name", REPS), encode_cursor("p", rows[-1]["position"]) if more else None)
