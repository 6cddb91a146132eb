"""A moment of the past, as reports ask for it (DESIGN.md, "two times on every event").

``as_of`` is business time: the world as it was then, with everything known now (a call
logged late, a deal imported from an old CRM, land at their time). ``known_at`` is
recorded time: only what had been recorded by then — what a report printed that day
said. Given alone, ``known_at`` also sets ``as_of``: that day's report, that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Past:
    as_of: datetime
    known_at: datetime | None = None

    @classmethod
    def of(cls, as_of: datetime | None, known_at: datetime | None) -> Past | None:
        """None when neither is given: the present (the current tables answer)."""
        if as_of is None and known_at is None:
            return None
        return cls(as_of or known_at, known_at)  # type: ignore[arg-type]

    def holds(self, alias: str) -> tuple[str, list[Any]]:
        """The condition on a history table's row (``alias``) for the version that held
        then, and its parameters."""
        in_force = f"{alias}.valid_from <= ? AND ({alias}.valid_to IS NULL OR {alias}.valid_to > ?"
        if self.known_at is None:
            return in_force + ")", [self.as_of, self.as_of]
        # A version superseded only after known_at was, as known then, still in force.
        return (f"{alias}.recorded_at <= ? AND {in_force} OR {alias}.superseded_at > ?)",
                [self.known_at, self.as_of, self.as_of, self.known_at])

    def body(self) -> dict[str, str | None]:
        return {"as_of": self.as_of.isoformat(), "known_at": None if self.known_at is None else self.known_at.isoformat()}
