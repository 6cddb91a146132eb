"""What projections take (an event as stored) and give (row operations).

Projections never touch the database: they say what should happen to which row,
and the runner applies a whole batch of those in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class EventRow:
    """A stored event as projections see it: the JSON as stored, plus its place in the log."""

    position: int
    id: str
    version: int
    topic: str
    data: dict[str, Any]

    @property
    def occurred_at(self) -> str:
        return self.data["occurred_at"]

    @property
    def recorded_at(self) -> str:
        return self.data["timestamp"]


@dataclass(frozen=True, slots=True)
class Insert:
    """A new row (the record's first event)."""

    table: str
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Patch:
    """Set some columns of the row with this key."""

    table: str
    key: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PatchWhere:
    """Set some columns of every row matching ``where`` (rare: a renamed stage); a None
    there matches the rows where that column is null."""

    table: str
    where: dict[str, Any]
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delete:
    table: str
    key: str


@dataclass(frozen=True, slots=True)
class Count:
    """Add to counters of the row with this key (``add``), and move times forward
    (``latest``: a column keeps the later of its value and this one). Merged with the
    other counts of a batch, in any order: a call logged late still counts once."""

    table: str
    key: str
    add: dict[str, int]
    latest: dict[str, str]


@dataclass(frozen=True, slots=True)
class Version:
    """A new version of a record in a history table (see projections/history.py): the
    columns this event changes; the others keep the previous version's values. Valid
    from the event's business time, known from its recorded time."""

    table: str
    key: str
    version: int
    position: int
    valid_from: str
    recorded_at: str
    values: dict[str, Any]


def version(table: str, e: EventRow, **values: Any) -> Version:
    return Version(table, e.id, e.version, e.position, e.occurred_at, e.recorded_at, values)


Op = Insert | Patch | PatchWhere | Delete | Count | Version
# A projection function: an event's row operations (which runs for which event: catalogue.py).
Handler = Callable[[EventRow], Iterable[Op]]


def stamp(e: EventRow) -> dict[str, Any]:
    """The columns every record table keeps about its last change."""
    return {"version": e.version, "position": e.position, "updated_at": e.occurred_at}


def created(e: EventRow) -> dict[str, Any]:
    return {"id": e.id, "created_at": e.occurred_at, **stamp(e)}
