"""Companies, pipelines and reps by name, reps and contacts by e-mail: how a file from
another tool names them.

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
        self.reps_named = cache(self._reps_named)
        self.pipelines_named = cache(self._pipelines_named)
        self.contact_with_email = cache(self._contact_with_email)

    def _companies_named(self, name: str) -> list[UUID]:
        """Companies whose name is this one, ignoring case and surrounding spaces."""
        rows = self.cur.execute(
            "SELECT id FROM companies WHERE lower(trim(name)) = lower(trim(?)) ORDER BY id", [name]
        ).fetchall()
        return [UUID(str(row[0])) for row in rows]

    def _rep_with_email(self, email: str) -> UUID | None:
        rows = self.cur.execute("SELECT id FROM reps WHERE lower(email) = lower(trim(?))", [email]).fetchall()
        return UUID(str(rows[0][0])) if len(rows) == 1 else None

    def _reps_named(self, name: str) -> list[UUID]:
        return self._ids("SELECT id FROM reps WHERE lower(trim(name)) = lower(trim(?)) ORDER BY id", name)

    def _pipelines_named(self, name: str) -> list[UUID]:
        return self._ids("SELECT id FROM pipelines WHERE lower(trim(name)) = lower(trim(?)) ORDER BY id", name)

    def _contact_with_email(self, email: str) -> UUID | None:
        """The contact holding this e-mail (one at most: e-mails are claimed), not a forgotten one."""
        found = self._ids("SELECT id FROM contacts WHERE lower(email) = lower(trim(?))", email)
        return found[0] if len(found) == 1 else None

    def _ids(self, sql: str, value: str) -> list[UUID]:
        return [UUID(str(row[0])) for row in self.cur.execute(sql, [value]).fetchall()]
