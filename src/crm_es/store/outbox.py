"""The outbox table (``outbox``, see store/schema.py): the delivery state of the messages
and timers the policies queued. Its rows are written with the events that decide them
(``EventStore.save(outbox=…)``); here is what is asked of it: what is due and when the
next is, what a contact was sent lately (the contact-frequency cap), what waits for a
channel, and the pages GET /outbox shows.

Times are UTC text (crm_es.aggregates.message.utc_text): ordered as the times are.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from crm_es.aggregates.message import FAILED, HELD, PENDING, SENT
from crm_es.aggregates.timer import CHANNEL as TIMERS
from crm_es.store.schema import OUTBOX_COLUMNS
from crm_es.store.side_tables import SideTables

OPEN = (PENDING, FAILED, HELD)  # still to be delivered (or fired)


def _marks(values: Collection[Any]) -> str:
    return ", ".join("?" * len(values))


def _deliverable(channels: Sequence[str], paused: Sequence[str]) -> str:
    """Only these channels, and not the timers of the policies named in ``paused``."""
    but_paused = f" AND NOT (channel = ? AND policy IN ({_marks(paused)}))" if paused else ""
    return f"AND channel IN ({_marks(channels)}){but_paused}"


class Outbox:
    def __init__(self, tables: SideTables) -> None:
        self.tables = tables

    def due(self, now: str, channels: Sequence[str], paused: Sequence[str], limit: int) -> list[tuple[str, str]]:
        """(delivery id, channel) of what is due at ``now`` on these channels, but the timers
        of the ``paused`` policies; due together, in the order queued."""
        rows = self.tables.read(
            f"SELECT delivery_id, channel FROM {{outbox}} WHERE status IN (?, ?, ?) AND next_attempt_at <= ? "
            f"{_deliverable(channels, paused)} ORDER BY next_attempt_at, created_at, delivery_id LIMIT ?",
            (*OPEN, now, *channels, *((TIMERS, *paused) if paused else ()), limit),
        )
        return [(row["delivery_id"], row["channel"]) for row in rows]

    def next_due(self, channels: Sequence[str], paused: Sequence[str]) -> str | None:
        """When the next of them is due (perhaps already), or None when none waits."""
        rows = self.tables.read(
            f"SELECT MIN(next_attempt_at) AS at FROM {{outbox}} WHERE status IN (?, ?, ?) {_deliverable(channels, paused)}",
            (*OPEN, *channels, *((TIMERS, *paused) if paused else ())),
        )
        return rows[0]["at"]

    def policies_with_timers(self) -> list[str]:
        """The policies that have a timer waiting."""
        rows = self.tables.read("SELECT DISTINCT policy FROM {outbox} WHERE channel = ? AND status = ?", (TIMERS, PENDING))
        return [row["policy"] for row in rows]

    def sent_at(self, contact_id: str, channels: Sequence[str], after: str) -> list[str]:
        """When a contact was sent messages on these channels after a time, oldest first."""
        rows = self.tables.read(
            f"SELECT sent_at FROM {{outbox}} WHERE contact_id = ? AND status = ? AND channel IN ({_marks(channels)}) "
            "AND sent_at > ? ORDER BY sent_at",
            (contact_id, SENT, *channels, after),
        )
        return [row["sent_at"] for row in rows]

    def waiting(self, configured: Collection[str]) -> list[tuple[str, str, int]]:
        """(policy, channel, how many) of the messages still to go on a channel that is not
        configured (nor the timers'), by policy and channel."""
        known = sorted({*configured, TIMERS})
        rows = self.tables.read(
            f"SELECT policy, channel, count(*) AS n FROM {{outbox}} WHERE status IN (?, ?, ?) "
            f"AND channel NOT IN ({_marks(known)}) GROUP BY policy, channel ORDER BY policy, channel",
            (*OPEN, *known),
        )
        return [(row["policy"], row["channel"], int(row["n"])) for row in rows]

    def page(self, status: str | None, after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        """Rows newest first (by created_at, then delivery id), in this status when given,
        after the row ``after`` (created_at, delivery id) when given."""
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if after is not None:
            clauses.append("(created_at < ? OR (created_at = ? AND delivery_id < ?))")
            created_at, delivery_id = after
            params += [created_at, created_at, delivery_id]
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        rows = self.tables.read(f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM {{outbox}} {where}"
                                "ORDER BY created_at DESC, delivery_id DESC LIMIT ?", (*params, limit))
        return [{column: row[column] for column in OUTBOX_COLUMNS} for row in rows]

    def counts(self) -> dict[str, int]:
        """How many rows are in each status (those with any)."""
        rows = self.tables.read("SELECT status, COUNT(*) AS n FROM {outbox} GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}
