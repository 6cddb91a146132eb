"""The read side's answers: SQL over DuckDB, returning plain rows (dicts of JSON-ready values)."""
