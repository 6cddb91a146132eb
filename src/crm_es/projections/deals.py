"""deals, deal_stage_changes and deal_contacts; the erasure of a deal's free text."""

from __future__ import annotations

from typing import Any

import orjson

from crm_es.projections.rows import EventRow, Insert, Op, Patch, PatchWhere, created, stamp, version
from crm_es.projections.schema import DEAL_TEXT

DETAILS = ("title", "contact_ids", "company_id", "source", "expected_close")
HISTORY = "deal_history"
HISTORY_DETAILS = ("title", "company_id", "source", "expected_close")  # contact_ids and properties: not versioned


def _details(d: dict[str, Any]) -> dict[str, Any]:
    return {**{name: d[name] for name in DETAILS}, "properties": orjson.dumps(d["properties"]).decode()}


def _named(e: EventRow) -> list[Op]:
    """The contacts the event names: whom forgetting must find the deal by."""
    return [Insert("deal_contacts", {"position": e.position, "deal_id": e.id, "contact_id": contact_id})
            for contact_id in e.data["contact_ids"]]


def _move(e: EventRow, kind: str, pipeline_id: str, from_id: Any, from_name: Any, to_id: str, to_name: str) -> Insert:
    return Insert(
        "deal_stage_changes",
        {
            "position": e.position,
            "deal_id": e.id,
            "pipeline_id": pipeline_id,
            "kind": kind,
            "from_stage_id": from_id,
            "from_stage": from_name,
            "to_stage_id": to_id,
            "to_stage": to_name,
            "occurred_at": e.occurred_at,
            "recorded_at": e.recorded_at,
            "actor": e.data["actor"],
        },
    )


def deal_opened(e: EventRow) -> list[Op]:
    d = e.data
    row = {
        **created(e),
        **_details(d),
        "pipeline_id": d["pipeline_id"],
        "stage_id": d["stage_id"],
        "stage": d["stage"],
        "status": "open",
        "amount": d["amount"],
        "currency": d["currency"],
        "owner_id": d["owner_id"],
        "stage_entered_at": e.occurred_at,
        "closed_at": None,
        "lost_reason": None,
        "lost_to": None,
    }
    first = {c: row[c] for c in (*HISTORY_DETAILS, "pipeline_id", "stage_id", "status", "amount", "currency", "owner_id",
                                 "stage_entered_at", "closed_at", "lost_reason", "lost_to")}
    return [
        Insert("deals", row),
        _move(e, "opened", d["pipeline_id"], None, None, d["stage_id"], d["stage"]),
        version(HISTORY, e, **first),
        *_named(e),
    ]


def deal_moved(e: EventRow) -> list[Op]:
    d = e.data
    return [
        Patch("deals", e.id, {**stamp(e), "stage_id": d["to_stage_id"], "stage": d["to_stage"], "stage_entered_at": e.occurred_at}),
        _move(e, "moved", d["pipeline_id"], d["from_stage_id"], d["from_stage"], d["to_stage_id"], d["to_stage"]),
        version(HISTORY, e, stage_id=d["to_stage_id"], stage_entered_at=e.occurred_at),
    ]


def deal_won(e: EventRow) -> list[Op]:
    won = {"status": "won", "closed_at": e.occurred_at}
    return [Patch("deals", e.id, {**stamp(e), **won}), version(HISTORY, e, **won)]


def deal_lost(e: EventRow) -> list[Op]:
    lost = {"status": "lost", "closed_at": e.occurred_at, "lost_reason": e.data["reason"], "lost_to": e.data["competitor"]}
    return [Patch("deals", e.id, {**stamp(e), **lost}), version(HISTORY, e, **lost)]


def deal_reopened(e: EventRow) -> list[Op]:
    d = e.data
    values = {"status": "open", "closed_at": None, "lost_reason": None, "lost_to": None, "stage_id": d["stage_id"], "stage": d["stage"],
              "stage_entered_at": e.occurred_at}
    return [
        Patch("deals", e.id, {**stamp(e), **values}),
        _move(e, "reopened", d["pipeline_id"], None, None, d["stage_id"], d["stage"]),
        version(HISTORY, e, **{k: v for k, v in values.items() if k != "stage"}),
    ]


def deal_owner_changed(e: EventRow) -> list[Op]:
    owner = {"owner_id": e.data["owner_id"]}
    return [Patch("deals", e.id, {**stamp(e), **owner}), version(HISTORY, e, **owner)]


def deal_amount_changed(e: EventRow) -> list[Op]:
    amount = {"amount": e.data["amount"], "currency": e.data["currency"]}
    return [Patch("deals", e.id, {**stamp(e), **amount}), version(HISTORY, e, **amount)]


def deal_details_changed(e: EventRow) -> list[Op]:
    details = {c: e.data[c] for c in HISTORY_DETAILS}
    return [Patch("deals", e.id, {**stamp(e), **_details(e.data)}), version(HISTORY, e, **details), *_named(e)]


def deal_text_erased(e: EventRow) -> list[Op]:
    """The key of the deal's free text is gone: its title and lost reason wherever they
    were copied (every version), and the text of its tasks about no contact (sealed
    under that key), read as null — as a rebuild reads them. Not a business change: no
    version of its history, its ``updated_at`` stays."""
    erased = dict.fromkeys(DEAL_TEXT)
    return [
        Patch("deals", e.id, {"version": e.version, "position": e.position, **erased}),
        PatchWhere(HISTORY, {"deal_id": e.id}, erased),
        PatchWhere("tasks", {"deal_id": e.id, "contact_id": None}, {"title": None, "notes": None, "outcome": None}),
    ]
