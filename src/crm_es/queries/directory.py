"""Companies by name and reps by e-mail: how a file from another tool names them.

Answers are kept for the directory's life (one import): a file names the same few
companies on many rows."""

from __future__ import annotations

from functools import cache
from uuid import UUID

import duckdb


class ReadSideDirectory:
    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self.cur = cur
        self.companies_named = cache(self._companies_named)
        self.rep_with_email = cache(self._rep_with_email)

    def _companies_named(self, name: str) -> list[UUID]:
        """Companies whose name is this one, ignoring case and surrounding spaces."""
        rows = self.cur.execute(
            "SELECT id FROM companies WHERE lower(trim(name)) = lower(trim(?)) ORDER BY id", [name]
        ).fetchall()
        return [UUID(str(row[0])) for row in rows]

    def _rep_with_email(self, email: str) -> UUID | None:
        rows = self.cur.execute("SELECT id FROM reps WHERE lower(email) = lower(trim(?))", [email]).fetchall()
        return UUID(str(rows[0][0])) if len(rows) == 1 else None
