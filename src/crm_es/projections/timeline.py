"""timeline: every event on a contact or a deal, one row each (the customer card's history).

A row keeps the event's JSON as stored (``data``): personal fields stay sealed with the
person's key, so the timeline is erased with the person (their key gone, the tokens
cannot be opened) and a rebuild gives the same bytes. The query opens them
(``queries/timeline.py``). Nothing is decoded or encoded again here: it is the most
written table of the read side.
"""

from __future__ import annotations

import re
from typing import Any

from crm_es.aggregates import Contact, Deal
from crm_es.aggregates.base import Aggregate, Event
from crm_es.aggregates.interactions import KINDS
from crm_es.projections.rows import EventRow, Insert, Op, on


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def type_name(cls: type) -> str:
    """What the timeline calls an event: an interaction by its type (``call``), anything
    else by its record and what happened (``deal_stage_changed``)."""
    kind = getattr(cls, "kind", None)
    if kind:
        return kind
    record, _, event = cls.__qualname__.partition(".")
    return f"{record.lower()}_{_snake(event)}"


def _row(e: EventRow, record_type: str, kind: str, contact_id: Any = None) -> dict[str, Any]:
    return {
        "position": e.position, "record_id": e.id, "record_type": record_type, "version": e.version, "type": kind,
        "topic": e.topic, "occurred_at": e.occurred_at, "recorded_at": e.recorded_at, "actor": e.data["actor"],
        "data": e.stored.decode(), "contact_id": contact_id, "contact_version": None,
    }


def _on_event(cls: type[Event], record_type: str):  # noqa: ANN202 (a projection function)
    kind = type_name(cls)

    def record_event(e: EventRow) -> list[Op]:
        return [Insert("timeline", _row(e, record_type, kind, e.id if record_type == "contact" else None))]

    return record_event


@on(Deal.InteractionRecorded)
def deal_interaction(e: EventRow) -> list[Op]:
    """Shown as the interaction it mirrors: the contact's own row holds the fields."""
    row = _row(e, "deal", e.data["kind"], e.data["contact_id"])
    row["contact_version"] = e.data["contact_version"]
    return [Insert("timeline", row)]


def events_of(aggregate: type[Aggregate]) -> list[type[Event]]:
    """The event classes nested in an aggregate (those added later too)."""
    return [v for v in vars(aggregate).values() if isinstance(v, type) and issubclass(v, Event)]


for _cls in [*events_of(Contact), *KINDS.values()]:
    on(_cls)(_on_event(_cls, "contact"))
for _cls in events_of(Deal):
    if _cls is not Deal.InteractionRecorded:
        on(_cls)(_on_event(_cls, "deal"))
