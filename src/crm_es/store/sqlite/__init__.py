"""The event store on SQLite: the recorder (saving, its tables), the log's reads, claims
and Idempotency-Keys, side tables, and the lock beside the store's file; ``backend.py``
puts them together for the facade (store/event_store.py).

May import: crm_es.store's shared modules (values, schema, chain, side_tables, outage),
the domain, libraries; never the PostgreSQL backend nor anything built on the store.
"""
