"""The read side: pure functions from events to rows, and the runner that writes them
into DuckDB with the log position in the same transaction."""
