"""The tables beside the events that both recorders create and write in the events' own
transaction, their columns written once for both backends.

- ``idempotency_keys``: the first answer to a command sent with an Idempotency-Key,
  so a retry — even after a crash or a restart — returns it and writes nothing;
- ``unique_claims``: values that must be unique (a contact's e-mail), kept in a
  mutable table so that a claim can be erased with the person (not in the log), each as
  a keyed digest of the value (``crm_es.store.claims``), never the value itself;
- ``policy_positions``: how far each policy has read the log, moved only from where
  the policy says it read (``Tracking``), so two runners can never both act on an event;
- ``outbox``: the messages policies send out, their delivery state (``outbox`` rows).

A conflict on any of them rolls back the events with it. Statements are written
SQLite-style (``?``, ``{table}``) and composed for PostgreSQL by its recorder.
"""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError

from crm_es.store.values import Tracking

# The domain builds its rows in this order (crm_es.aggregates.message.outbox_row).
OUTBOX_COLUMNS = ("delivery_id", "policy", "channel", "contact_id", "status", "attempts", "next_attempt_at",
                  "last_error", "created_at", "sent_at")
POLICY_TABLES = {
    "policy_positions": "name TEXT PRIMARY KEY, position BIGINT NOT NULL, last_error TEXT, last_error_at TEXT, "
                        "failed_position BIGINT",
    "outbox": "delivery_id TEXT PRIMARY KEY, policy TEXT NOT NULL, channel TEXT NOT NULL, contact_id TEXT, "
              "status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at TEXT NOT NULL, last_error TEXT, "
              "created_at TEXT NOT NULL, sent_at TEXT",
}
# What the outbox is searched by, every round of the automations: what is due and when the
# next is (status, time), which automations have timers waiting (channel, status, policy),
# and what a contact was sent lately (the contact-frequency cap). The table keeps every
# message ever queued: without these, each look is a scan of all of them.
POLICY_INDEXES = {"outbox": (("due", "status, next_attempt_at"), ("timers", "channel, status, policy"),
                             ("contact", "contact_id, sent_at"))}
# What a claim row holds: ``value`` is the digest of the claimed value (store/claims.py), never the value.
CLAIMS_COLUMNS = "scope TEXT NOT NULL, value TEXT NOT NULL, owner_id TEXT NOT NULL, PRIMARY KEY (scope, value)"
MOVE_TRACKING = "UPDATE {table} SET position = ? WHERE name = ? AND position = ?"
UPSERT_OUTBOX = (
    f"INSERT INTO {{table}} ({', '.join(OUTBOX_COLUMNS)}) VALUES ({', '.join('?' for _ in OUTBOX_COLUMNS)}) "
    "ON CONFLICT (delivery_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in OUTBOX_COLUMNS[4:])
)


def moved_elsewhere(tracking: Tracking) -> IntegrityError:
    return IntegrityError(f"policy {tracking.name!r} is no longer at position {tracking.after}: another runner moved it")
