"""Whose contacts and deals a reader sees, by owner: SQL over the reps and teams tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import duckdb

from crm_es.auth.roles import Reach
from crm_es.queries.sql import Filters


@dataclass(frozen=True)
class Visibility:
    reach: Reach
    rep_id: UUID | None = None  # the reader, for a team's or their own reach

    def clause(self, column: str) -> tuple[str, list[Any]] | None:
        """A WHERE clause keeping the records whose ``column`` (an owner) is in reach; None: all are."""
        if self.reach is Reach.ALL:
            return None
        me = str(self.rep_id)
        if self.reach is Reach.OWN:
            return f"{column} = ?", [me]
        # A team's records are its reps'; the reader's teams: the one they are in, those they manage.
        teams = "SELECT team_id FROM reps WHERE id = ? UNION SELECT id FROM teams WHERE manager_id = ?"
        return f"({column} = ? OR {column} IN (SELECT id FROM reps WHERE team_id IN ({teams})))", [me, me, me]

    def restrict(self, filters: Filters, column: str = "owner_id") -> None:
        clause = self.clause(column)
        if clause is not None:
            filters.clauses.append(clause[0])
            filters.params.extend(clause[1])

    def sees(self, cur: duckdb.DuckDBPyConnection, owner_id: str | None) -> bool:
        clause = self.clause("id")
        if clause is None:
            return True
        if owner_id is None:
            return False
        row = cur.execute(f"SELECT count(*) FROM reps WHERE id = ? AND {clause[0]}", [owner_id, *clause[1]]).fetchone()
        return bool(row and row[0])


EVERYONE = Visibility(Reach.ALL)
