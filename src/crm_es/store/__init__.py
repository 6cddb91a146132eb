"""The event store: the `eventsourcing` library's Application and recorders, on SQLite or
PostgreSQL, with what the library lacks (typed JSON, idempotency keys and uniqueness
claims written in the same transaction as the events)."""

from crm_es.store.event_store import Claim, EventStore, IdempotencyRecord, RawEvent, StoreUnavailable

__all__ = ["Claim", "EventStore", "IdempotencyRecord", "RawEvent", "StoreUnavailable"]
