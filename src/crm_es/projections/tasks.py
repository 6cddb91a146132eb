"""tasks and activity_types."""

from __future__ import annotations

from crm_es.projections.rows import EventRow, Insert, Op, Patch, created, stamp

PLANNED = ("type", "title", "due_at", "duration_minutes", "owner_id", "contact_id", "deal_id", "notes")


def task_planned(e: EventRow) -> list[Op]:
    row = {**created(e), **{name: e.data[name] for name in PLANNED}, "status": "open", "done_at": None, "done_recorded_at": None, "done_by": None,
           "outcome": None}
    return [Insert("tasks", row)]


def task_rescheduled(e: EventRow) -> list[Op]:
    return [Patch("tasks", e.id, {**stamp(e), "due_at": e.data["due_at"]})]


def task_done(e: EventRow) -> list[Op]:
    done = {"status": "done", "done_at": e.occurred_at, "done_recorded_at": e.recorded_at, "done_by": e.data["actor"],
            "outcome": e.data["outcome"]}
    return [Patch("tasks", e.id, {**stamp(e), **done})]


def task_cancelled(e: EventRow) -> list[Op]:
    return [Patch("tasks", e.id, {**stamp(e), "status": "cancelled"})]


def activity_types_seeded(e: EventRow) -> list[Op]:
    return [Insert("activity_types", dict(t)) for t in e.data["types"]]


def activity_type_added(e: EventRow) -> list[Op]:
    d = e.data
    return [Insert("activity_types", {"name": d["name"], "label": d["label"], "colour": d["colour"]})]


def activity_type_changed(e: EventRow) -> list[Op]:
    d = e.data
    return [Patch("activity_types", d["name"], {"label": d["label"], "colour": d["colour"]})]
