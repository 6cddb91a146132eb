"""A lock only one process holds at a time beside a SQLite store: an exclusive ``flock``
on a file, freed by the OS when the process dies."""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import Any

from crm_es.store.outage import one_line
from crm_es.store.values import LockUnknown


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None  # the open file that holds the lock

    @property
    def held(self) -> bool:
        return self._handle is not None

    def still_held(self) -> bool:
        return self._handle is not None  # a flock lasts as long as the open file

    def try_acquire(self) -> bool:
        """True when won; False when another process holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held elsewhere
                handle.close()
                return False
        except OSError as error:
            raise LockUnknown(one_line(error)) from error
        self._handle = handle
        return True

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(Exception):
                handle.close()  # closing the file frees the lock
