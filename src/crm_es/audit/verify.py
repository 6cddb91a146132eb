"""Walk the log in order and find the first broken link of its hash chain.

The log is read in pages, each event joined to its record's previous version, so
nothing grows with the size of the log. At the first event that does not hold, the
verdict says why:

- ``edited``: its content no longer makes its hash (its link to the event before is fine);
- ``deleted``: it is intact but the event it was chained to is gone (or was rewritten),
  or its record's previous version is missing;
- ``inserted``: a row the service did not write: neither its hash nor its link hold, it
  starts a second chain, or it is chained to an event another one already follows;
- ``reordered``: it is chained to an event that now sits later in the log.

Removing the log's last events, or recomputing the whole chain (SHA-256 has no secret),
leaves a chain that holds: only a head hash kept elsewhere (``expect_head``) tells.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from crm_es.store.chain import GENESIS, ChainRow

PAGE = 5_000


@dataclass(frozen=True)
class Broken:
    position: int
    reason: str  # edited | deleted | inserted | reordered
    detail: str


@dataclass(frozen=True)
class Verdict:
    checked: int  # events found intact, in order, before the first broken one
    first_broken: Broken | None
    head: ChainRow | None  # the last intact event: its hash can be kept elsewhere as an anchor
    expected_head: bytes | None = None
    expected_head_position: int | None = None  # where the expected head was met; None: not met

    @property
    def ok(self) -> bool:
        return self.first_broken is None and (self.expected_head is None or self.expected_head_position is not None)

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "ok": self.ok,
            "checked": self.checked,
            "first_broken": None if self.first_broken is None else vars(self.first_broken),
            "head": None if self.head is None or self.head.hash is None
            else {"position": self.head.position, "hash": self.head.hash.hex()},
        }
        if self.expected_head is not None:
            answer["expected_head"] = {"hash": self.expected_head.hex(), "position": self.expected_head_position}
        return answer


def verify_chain(
    rows: Iterable[ChainRow], holders: Callable[[bytes], list[int]], *, expected_head: bytes | None = None,
) -> Verdict:
    """The verdict on a log given in position order; ``holders(hash)`` answers the
    positions of the events with that hash (asked only at a broken link)."""
    checked, previous, met = 0, None, None
    for row, following in _with_next(rows):
        broken = _check(row, previous, following, holders)
        if broken is not None:
            return Verdict(checked, broken, previous, expected_head, met)
        checked, previous = checked + 1, row
        if met is None and expected_head is not None and row.hash == expected_head:
            met = row.position
    return Verdict(checked, None, previous, expected_head, met)


def verify_store(store: Any, *, expected_head: bytes | None = None, progress: Callable[[int], None] | None = None) -> Verdict:
    """The verdict on the whole log of ``store`` (an EventStore); ``progress(n)`` is
    told how many positions each page advanced."""
    return verify_chain(_pages(store, progress), store.positions_with_hash, expected_head=expected_head)


def _pages(store: Any, progress: Callable[[int], None] | None) -> Iterator[ChainRow]:
    after = 0
    while rows := store.chain(after, PAGE):
        yield from rows
        if progress is not None:
            progress(rows[-1].position - after)
        after = rows[-1].position


def _with_next(rows: Iterable[ChainRow]) -> Iterator[tuple[ChainRow, ChainRow | None]]:
    iterator = iter(rows)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following
        current = following


def _check(
    row: ChainRow, previous: ChainRow | None, following: ChainRow | None, holders: Callable[[bytes], list[int]]
) -> Broken | None:
    expected_prev = GENESIS if previous is None else previous.hash
    recomputed = row.recomputed()
    intact = recomputed is not None and recomputed == row.hash
    record_gap = row.version > 1 and row.record_prev_hash is None
    if row.prev_hash == expected_prev and intact:
        return None

    def broken(reason: str, detail: str) -> Broken:
        return Broken(row.position, reason, detail)

    if row.prev_hash == expected_prev:
        if record_gap:
            return broken("deleted", f"version {row.version - 1} of {row.originator_id} is missing")
        if following is not None and following.prev_hash == row.prev_hash:
            return broken("inserted", f"it is chained to the same event as the one at position {following.position}")
        return broken("edited", "its content does not match its hash")
    if row.prev_hash == GENESIS:
        return broken("inserted", "it starts a second chain: only the log's first event follows nothing")
    if row.prev_hash is not None:
        others = [p for p in holders(row.prev_hash) if p != row.position]
        if later := [p for p in others if p > row.position]:
            return broken("reordered", f"it follows the event now at position {later[0]}, later in the log")
        if others:
            return broken("inserted", f"it is chained to the event at position {others[-1]}, which another event already follows")
    if intact or record_gap:
        gone = f"version {row.version - 1} of {row.originator_id}" if record_gap else "the event it follows"
        return broken("deleted", f"{gone} is gone from the log (or was rewritten)")
    return broken("inserted", "neither its hash nor its link match what the service wrote")
