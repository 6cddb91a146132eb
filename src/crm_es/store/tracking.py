"""The policies' places in the log (``policy_positions``, see store/schema.py) and their
last errors, read and written beside the events. A place moves with a policy's reaction,
in the events' own transaction (``EventStore.save(tracking=…)``); what is here is the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_es.store.side_tables import SideTables

POSITION = "SELECT position FROM {policy_positions} WHERE name = ?"


class PolicyPlaces:
    def __init__(self, tables: SideTables) -> None:
        self.tables = tables

    def position(self, name: str, end: Callable[[], int]) -> int:
        """Where a policy has read the log up to; one met for the first time is put at
        ``end()`` (the log's end: it reacts to what happens once it is installed)."""
        rows = self.tables.read(POSITION, (name,))
        if not rows:
            self.tables.write("INSERT INTO {policy_positions} (name, position) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                              (name, end()))
            rows = self.tables.read(POSITION, (name,))
        return int(rows[0]["position"])

    def record_error(self, name: str, position: int | None, error: str | None, at: str | None) -> None:
        """A policy's last error (None: it is past it), the event it failed on and when."""
        self.tables.write(
            "UPDATE {policy_positions} SET last_error = ?, last_error_at = ?, failed_position = ? WHERE name = ?",
            (error, at, position, name),
        )

    def rows(self) -> list[Any]:
        """Every policy met so far: name, position, last_error, last_error_at, failed_position."""
        return self.tables.read("SELECT name, position, last_error, last_error_at, failed_position FROM {policy_positions}")
