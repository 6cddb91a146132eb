"""The event store: the `eventsourcing` library's Application and recorders, on SQLite or
PostgreSQL, with what the library lacks (typed JSON, personal fields sealed per person,
idempotency keys and uniqueness claims written in the same transaction as the events, a
hash chain over the log, the policies' places and outbox beside it).

``EventStore`` (event_store.py) is the one door, a facade over a module per concern —
records.py (loading records, with their caches), decoding.py, claims.py, keys.py,
tracking.py, outbox.py, api_keys.py, chain.py — and over the backend in use, chosen
there once: ``sqlite/`` or ``postgres/``, each with its recorder (saving), its log
(reads), its claims and its side tables (how a statement written once is run there).
SQL that differs between the backends lives only in those two packages; SQL that is the
same is written once, SQLite-style, in its concern's module (side_tables.py says how).

May import: the domain (crm_es.aggregates) and libraries; nothing built on the store.
"""

from crm_es.store.event_store import Claim, EventStore, IdempotencyRecord, RawEvent, StoreUnavailable

__all__ = ["Claim", "EventStore", "IdempotencyRecord", "RawEvent", "StoreUnavailable"]
