"""Group commit: saves that arrive together share one transaction and one commit.

A commit costs a disk flush (SQLite) or a round trip and a WAL flush under the table
lock that keeps the log's order (PostgreSQL): paid once per save, it caps a busy
service at that rate whatever the cores. Here the first thread to arrive leads: it
takes every save waiting (its own included) and writes them in one transaction, while
the saves that arrive meanwhile wait for the next one. One client alone waits for
no one (a group of one); 32 at once share a few commits.

Each save keeps its own checks — expected versions, claims, the Idempotency-Key, a
policy's place — and its own answer: the recorder writes each inside a savepoint, so
one refused (``IntegrityError``: another writer got there first) is rolled back alone
and the others commit. A failure of the whole transaction (the store unreachable) is
every save's answer.

Only the leader asks the database for its write lock, so the other threads never queue
for it inside the connection pool, where they would hold up readers too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from crm_es.store.values import Appended, Write

MOST = 256  # saves in one transaction: more wait for the next one (a bounded wait each)

Outcome = Appended | Exception
WriteGroup = Callable[[Sequence[Write]], list[Outcome]]


class _Waiting:
    __slots__ = ("write", "outcome")

    def __init__(self, write: Write) -> None:
        self.write = write
        self.outcome: Outcome | None = None


class GroupCommit:
    """``write(w)`` returns what ``w`` appended, or raises its own refusal, once the
    transaction holding it has committed. ``write_group(writes)`` (the recorder's) writes
    them in one transaction and answers each: its ``Appended`` or its exception."""

    def __init__(self, write_group: WriteGroup, most: int = MOST) -> None:
        self._write_group = write_group
        self._most = most
        self._changed = threading.Condition()
        self._queue: list[_Waiting] = []
        self._leading = False
        self.transactions = 0  # written so far (a failed one too), and the saves they held:
        self.writes = 0  # writes / transactions is how many saves share a commit

    def write(self, write: Write) -> Appended:
        mine = _Waiting(write)
        with self._changed:
            self._queue.append(mine)
        while True:
            with self._changed:
                while mine.outcome is None and self._leading:
                    self._changed.wait()
                if mine.outcome is not None:
                    break
                # No one leads: this thread does, for the first ones waiting, in their order
                # (its own save among them, or in a later group when more than MOST wait).
                self._leading = True
                group, self._queue = self._queue[: self._most], self._queue[self._most:]
            self._lead(group)
        outcome = mine.outcome
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _lead(self, group: list[_Waiting]) -> None:
        outcomes: Sequence[Outcome] | None = None
        try:
            outcomes = self._write_group([waiting.write for waiting in group])
        except Exception as error:  # the whole transaction failed: each save's answer
            outcomes = [error] * len(group)
        finally:
            if outcomes is None:  # interrupted (KeyboardInterrupt): the others must not wait forever
                outcomes = [RuntimeError("the save leading this transaction was interrupted")] * len(group)
            # Answers and the lead handed back at once: a thread woken here either has its
            # answer or finds its save still waiting, and leads.
            with self._changed:
                for waiting, outcome in zip(group, outcomes, strict=True):
                    waiting.outcome = outcome
                self.transactions += 1
                self.writes += len(group)
                self._leading = False
                self._changed.notify_all()
