"""The record configuration (properties, statuses, sources, lifecycle_stages, roles,
tags) and what it governs on contacts: contact_roles, contact_lifecycle_changes and the
contacts' lifecycle and roles columns."""

from __future__ import annotations

from typing import Any

from eventsourcing.utils import get_topic

from crm_es.aggregates.setup import Setup
from crm_es.projections.rows import Delete, EventRow, Insert, Op, Patch, stamp

# The lists replaced as a whole, by the event recording a change: their table.
LIST_TABLES = {
    Setup.StatusesChanged: "statuses",
    Setup.SourcesChanged: "sources",
    Setup.LifecycleStagesChanged: "lifecycle_stages",
    Setup.ContactRolesChanged: "roles",
}
TABLE_BY_TOPIC = {get_topic(cls): table for cls, table in LIST_TABLES.items()}
SEEDED_LISTS = {"statuses": "statuses", "sources": "sources", "lifecycle_stages": "lifecycle_stages", "contact_roles": "roles"}


def _list(table: str, values: list[str], added: list[str], removed: list[str]) -> list[Op]:
    """Removed rows go (a Delete comes first in its batch), added ones come, and every
    value takes its place in the order."""
    ops: list[Op] = [Delete(table, value) for value in removed]
    ops += [Insert(table, {"name": value, "sort_order": 0}) for value in added]
    return ops + [Patch(table, value, {"sort_order": i}) for i, value in enumerate(values)]


def _tags(category: str, tags: list[str], added: list[str], removed: list[str]) -> list[Op]:
    ops: list[Op] = [Delete("tags", tag) for tag in removed]
    ops += [Insert("tags", {"tag": tag, "category": category, "sort_order": 0}) for tag in added]
    return ops + [Patch("tags", tag, {"sort_order": i}) for i, tag in enumerate(tags)]


def seeded(e: EventRow) -> list[Op]:
    ops: list[Op] = []
    for field, table in SEEDED_LISTS.items():
        ops += _list(table, e.data[field], e.data[field], [])
    for category in e.data["tag_categories"]:
        ops += _tags(category["name"], category["tags"], category["tags"], [])
    return ops


def list_changed(e: EventRow) -> list[Op]:
    return _list(TABLE_BY_TOPIC[e.topic], e.data["values"], e.data["added"], e.data["removed"])


def tag_category_changed(e: EventRow) -> list[Op]:
    d = e.data
    return _tags(d["category"], d["tags"], d["added"], d["removed"])


def tag_category_removed(e: EventRow) -> list[Op]:
    return [Delete("tags", tag) for tag in e.data["tags"]]


def _definition(d: dict[str, Any]) -> dict[str, Any]:
    return {"type": d["type"], "required": d["required"], "choices": d["choices"], "default_currency": d["default_currency"]}


def _property_id(d: dict[str, Any]) -> str:
    return f"{d['record_type']}:{d['name']}"


def property_defined(e: EventRow) -> list[Op]:
    """A property defined again after it was retired starts a new row."""
    d = e.data
    row = {"id": _property_id(d), "record_type": d["record_type"], "name": d["name"], **_definition(d),
           "retired_at": None, "defined_at": e.occurred_at, "updated_at": e.occurred_at, "position": e.position}
    return [Delete("properties", row["id"]), Insert("properties", row)]


def property_changed(e: EventRow) -> list[Op]:
    values = {**_definition(e.data), "updated_at": e.occurred_at, "position": e.position}
    return [Patch("properties", _property_id(e.data), values)]


def property_retired(e: EventRow) -> list[Op]:
    values = {"retired_at": e.occurred_at, "updated_at": e.occurred_at, "position": e.position}
    return [Patch("properties", _property_id(e.data), values)]


# --- on contacts ----------------------------------------------------------------------


def contact_registered(e: EventRow) -> list[Op]:
    return [Patch("contacts", e.id, {"roles": []})]  # merged into the new row: none yet, not unknown


def lifecycle_changed(e: EventRow) -> list[Op]:
    d = e.data
    change = {"position": e.position, "contact_id": e.id, "stage": d["stage"], "previous_stage": d["previous_stage"],
              "occurred_at": e.occurred_at, "recorded_at": e.recorded_at, "actor": d["actor"]}
    return [
        Patch("contacts", e.id, {**stamp(e), "lifecycle": d["stage"], "lifecycle_changed_at": e.occurred_at}),
        Insert("contact_lifecycle_changes", change),
    ]


def role_assigned(e: EventRow) -> list[Op]:
    d = e.data
    row = {"id": d["assignment_id"], "contact_id": e.id, "company_id": d["company_id"], "role": d["role"],
           "started_at": e.occurred_at, "ended_at": None}
    return [Patch("contacts", e.id, {**stamp(e), "roles": d["roles"]}), Insert("contact_roles", row)]


def role_ended(e: EventRow) -> list[Op]:
    d = e.data
    return [
        Patch("contacts", e.id, {**stamp(e), "roles": d["roles"]}),
        Patch("contact_roles", d["assignment_id"], {"ended_at": e.occurred_at}),
    ]


def left_company(e: EventRow) -> list[Op]:
    ended: list[Op] = [Patch("contact_roles", r["assignment_id"], {"ended_at": e.occurred_at}) for r in e.data["ended_roles"]]
    return [Patch("contacts", e.id, {**stamp(e), "company_id": None, "roles": []}), *ended]
