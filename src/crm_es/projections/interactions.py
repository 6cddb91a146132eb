"""interactions (one row each), the contacts' counters, and their invalid e-mails."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_es.aggregates.interactions import TOUCHES
from crm_es.projections.rows import Count, EventRow, Insert, Op, Patch, stamp

# What a new contact's counters start at.
NO_ACTIVITY: dict[str, Any] = {
    "calls": 0, "emails_sent": 0, "emails_received": 0, "emails_opened": 0, "emails_clicked": 0, "page_visits": 0,
    "sessions": 0, "meetings_held": 0, "meetings_missed": 0, "interactions": 0,
    "last_contacted_at": None, "last_activity_at": None, "email_invalid": False,
}

# The counter each type adds to (beside `interactions`, which counts them all).
COUNTER = {
    "call": "calls", "email_sent": "emails_sent", "email_received": "emails_received", "email_opened": "emails_opened",
    "email_clicked": "emails_clicked", "page_visited": "page_visits", "meeting_held": "meetings_held",
    "meeting_missed": "meetings_missed",
}

# Event fields copied as they are into the interactions table (the personal ones opened
# by the contact's key; the clear parts derived from them beside them).
SAME_NAME = ("rep_id", "deal_id", "direction", "duration_seconds", "outcome", "outcome_kind", "mode", "subject",
             "message_id", "link", "link_host", "bounce", "url", "url_host", "url_path", "title", "referrer",
             "referrer_host", "seconds_on_page", "new_session", "visitor_id", "session_id", "quote_id")


def interaction_row(e: EventRow, kind: str) -> dict[str, Any]:
    d = e.data
    row = {name: d.get(name) for name in SAME_NAME}
    minutes = d.get("duration_minutes")
    if minutes is not None:
        row["duration_seconds"] = minutes * 60
    # One column for what was written about it: a note's or an SMS's text, a call's notes.
    row["text"] = d.get("text") or d.get("notes") or d.get("reason")
    return {
        **row, "position": e.position, "contact_id": e.id, "version": e.version, "type": kind,
        "occurred_at": e.occurred_at, "recorded_at": e.recorded_at, "actor": d["actor"],
    }


def counts(e: EventRow, kind: str) -> Count:
    add = {"interactions": 1}
    if kind in COUNTER:
        add[COUNTER[kind]] = 1
    if kind == "page_visited" and e.data["new_session"]:
        add["sessions"] = 1
    latest = {"last_activity_at": e.occurred_at}
    if kind in TOUCHES:
        latest["last_contacted_at"] = e.occurred_at
    return Count("contacts", e.id, add, latest)


def recorded(kind: str) -> Callable[[EventRow], list[Op]]:
    """The projection of one kind of interaction (every kind alike: its row, the
    contact's counters and version), named after it."""

    def interaction_recorded(e: EventRow) -> list[Op]:
        return [Insert("interactions", interaction_row(e, kind)), counts(e, kind), Patch("contacts", e.id, stamp(e))]

    interaction_recorded.__name__ = f"{kind}_recorded"
    return interaction_recorded


def document_sent(e: EventRow) -> list[Op]:
    """The e-mail that carried the document is a row and a count already (email_sent):
    only the contact's version moves."""
    return [Patch("contacts", e.id, stamp(e))]


def email_invalidated(e: EventRow) -> list[Op]:
    return [Patch("contacts", e.id, {**stamp(e), "email_invalid": True})]


def email_revalidated(e: EventRow) -> list[Op]:
    return [Patch("contacts", e.id, {**stamp(e), "email_invalid": False})]


def deal_interaction_recorded(e: EventRow) -> list[Op]:
    return [Patch("deals", e.id, stamp(e))]
