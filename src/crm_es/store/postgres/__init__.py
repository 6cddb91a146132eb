"""The event store on PostgreSQL: the recorder (saving, its tables), the log's reads,
claims and Idempotency-Keys, side tables, and the advisory lock; ``backend.py`` puts them
together for the facade (store/event_store.py). Its connection pool is store/pg_pool.py.

May import: crm_es.store's shared modules (values, schema, chain, side_tables, outage,
pg_pool), the domain, libraries; never the SQLite backend nor anything built on the store.
"""
