"""Answers of reads kept between two projector batches.

The read side changes only when the projector commits a batch, and every batch moves its
position (projections/runner.py commits rows and position together): the same read, with
the same parameters, by a caller of the same reach, answers the same at the same position.
So an answer is computed once per position: inside one read transaction that also reads
the position it sees (`snapshot`), and kept under that position; a read is answered from
here only when the read side is at that very position (the X-Position its answer carries).

Kept per read-side database: a rebuild swaps in another one (and a recreate opens another),
so nothing kept over the old one is ever given for the new. Only the newest position is
kept: the first answer kept at a new position drops the older ones.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from crm_es.projections.read_side import READ_SIDE

# Beyond this many bytes of answers at one position, start over: a card is ~1.5 kB, a
# 500-deal board ~100 kB; every card of 20,000 contacts fits, and nothing grows unbounded.
MAX_BYTES = 64 * 1024 * 1024


class _Generation:
    __slots__ = ("answers", "position", "size")

    def __init__(self, position: int) -> None:
        self.position = position
        self.answers: dict[Hashable, Any] = {}
        self.size = 0


# Weak: a swapped-out read side's database closes with its last cursor, not with this cache.
_kept: weakref.WeakKeyDictionary[object, _Generation] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@contextmanager
def snapshot(cur: duckdb.DuckDBPyConnection) -> Iterator[int]:
    """One read transaction on ``cur``: every query in it sees the same read side, at the
    position yielded (the projector's batch may commit meanwhile; this does not see it)."""
    cur.execute("BEGIN TRANSACTION")
    try:
        row = cur.execute("SELECT position FROM projection_positions WHERE name = ?", [READ_SIDE]).fetchone()
        yield row[0] if row else 0
    finally:
        cur.execute("ROLLBACK")  # it read only


def kept(db: object, position: int, key: Hashable) -> Any | None:
    """The answer kept for ``key`` at exactly ``position`` of the read side ``db``, if any."""
    generation = _kept.get(db)
    if generation is None or generation.position != position:
        if generation is not None and generation.position < position:
            forget(db)  # the read side moved on: what was kept (a forgotten person's card too) goes now
        return None
    return generation.answers.get(key)


def forget(db: object) -> None:
    """Drop what is kept for ``db`` (nothing kept is given after a batch anyway: this frees it)."""
    with _lock:
        _kept.pop(db, None)


def keep(db: object, position: int, key: Hashable, answer: Any) -> None:
    """Keep ``answer`` (bytes, or a tuple holding bytes: what is counted against MAX_BYTES),
    computed at ``position`` of ``db`` (in a `snapshot`, or by one statement)."""
    with _lock:
        generation = _kept.get(db)
        if generation is None or generation.position != position:
            if generation is not None and generation.position > position:
                return  # computed before a batch whose answers are kept already: they are what is asked now
            generation = _kept[db] = _Generation(position)
        size = _size(answer)
        if generation.size + size > MAX_BYTES:
            generation.answers.clear()
            generation.size = 0
        if key not in generation.answers:
            generation.size += size
        generation.answers[key] = answer


# Answers being computed, by (read side, the position the readers asked at, key): readers
# arriving meanwhile wait for that one computation rather than run the same queries (after
# each batch, every reader in flight would otherwise compute the same board at once).
_running: dict[tuple[int, int, Hashable], asyncio.Task[Any]] = {}


async def once(db: object, position: int, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
    """``compute()``'s answer, shared by the readers asking for ``key`` at ``position`` while
    it runs (its exception too: a 404 is the same for all of them). On the event loop only.
    The computation is a task of its own: a reader that goes away cancels only its wait."""
    ident = (id(db), position, key)  # id(): the entry goes when the task ends, db still held by its reader
    task = _running.get(ident)
    if task is None:
        task = _running[ident] = asyncio.ensure_future(compute())
        task.add_done_callback(lambda done: _ended(ident, done))
    return await asyncio.shield(task)


def _ended(ident: tuple[int, int, Hashable], task: asyncio.Task[Any]) -> None:
    _running.pop(ident, None)
    if not task.cancelled():
        task.exception()  # seen: no "never retrieved" warning when every reader went away


def _size(answer: Any) -> int:
    if isinstance(answer, bytes):
        return len(answer)
    return sum(len(part) for part in answer if isinstance(part, bytes)) if isinstance(answer, tuple) else 0
