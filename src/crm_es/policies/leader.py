"""One active policy runner per store: the others stand by and take over when it dies.

The store gives the lock (``EventStore.leader_lock``). On PostgreSQL: a session advisory
lock, held by a connection of its own; it goes with the connection, so a runner killed (or
cut off) frees it and a standby's next try wins it. On SQLite: an exclusive ``flock`` on a
file beside the store, freed by the OS when the process dies. Either way the lock is for
calm, not for safety: a policy's place in the log moves only from where it was read
(policies/runtime.py), so even two active runners could not act twice on one event.
"""

from __future__ import annotations

from pathlib import Path

from crm_es.store import EventStore
from crm_es.store.values import LockUnknown

ACTIVE, STANDING_BY = "this process runs them", "another runner runs them"


class Leadership:
    def __init__(self, store: EventStore, lock_file: Path) -> None:
        self._lock = store.leader_lock("policies", lock_file)
        # What the last try found: ACTIVE, STANDING_BY, or why no runner is known (the
        # store could not be asked: an outage is not "another runner is active").
        self.status = "not asked yet"

    @property
    def held(self) -> bool:
        return self._lock.held

    @property
    def known(self) -> bool:
        """Whether the automations' runner is known (this process or another)."""
        return self.status in (ACTIVE, STANDING_BY)

    def acquire(self) -> bool:
        """True when this runner holds the lock (kept, or just won)."""
        if self._lock.held and self._lock.still_held():
            return True
        self.release()
        try:
            won = self._lock.try_acquire()
        except LockUnknown as error:
            self.status = f"unknown: the lock could not be asked for ({error})"
            return False
        self.status = ACTIVE if won else STANDING_BY
        return won

    def release(self) -> None:
        self._lock.release()
