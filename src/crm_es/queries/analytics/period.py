"""What every report takes: a period of business time, the two pasts, a pipeline, a grouping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_es.aggregates.base import InvalidInput

# What a report can be grouped by, and the SQL of each key over a stay or transition
# (``owner_id``: the rep then; their team: the one they are in now).
GROUPINGS = {
    "rep": "owner_id",
    "team": "(SELECT team_id FROM reps WHERE reps.id = owner_id)",
    "source": "source",
}


@dataclass(frozen=True)
class Period:
    """[start, end) in business time; ``as_of``: facts that had happened by then (default:
    all); ``known_at``: only facts recorded by then."""

    start: datetime
    end: datetime
    as_of: datetime | None = None
    known_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidInput("to", "`to` must come after `from`")

    def body(self) -> dict[str, Any]:
        def text(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {"from": text(self.start), "to": text(self.end), "as_of": text(self.as_of), "known_at": text(self.known_at)}


def grouping(by: str | None, groupings: dict[str, str] = GROUPINGS) -> str:
    """The SQL of a report's group key (``groupings``: the report's own, if not these)."""
    if by is None:
        return "NULL"
    if by not in groupings:
        raise InvalidInput("by", f"`by` is one of {', '.join(groupings)}")
    return groupings[by]


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def text(value: Any) -> str | None:
    return None if value is None else str(value)
