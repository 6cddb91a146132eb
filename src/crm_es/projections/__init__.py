"""The read side: pure functions from events to rows (one module per group of tables),
the catalogue that says which of them handles which event (catalogue.py), and the
runner that writes their rows into DuckDB with the log position in the same transaction.

May import: the domain (aggregates) and the store. Never commands, queries, policies or
entry points: they read what is written here, not the other way round."""
