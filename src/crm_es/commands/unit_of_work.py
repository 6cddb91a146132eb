"""The unit of work: what one decision reads and writes, and the one door to the log.

Everything that decides — an HTTP command, a tracking batch, an import, an automation's
reaction, the sample data — reads through a ``UnitOfWork`` and writes into it: reads
answer from the event store plus what was staged so far (a later row of an import sees the
contact an earlier row registered, and its e-mail claim), ``save`` stages instead of
writing, and ``commit`` writes everything staged in ONE store transaction, with what goes
with it: the answer kept under an Idempotency-Key, a policy's new place in the log
(tracking), its messages' outbox rows, and the records' states after the events. If
another writer got there first, ``commit`` raises and nothing was written: the caller
decides again on fresh state (``crm_es.commands.pipeline``).

What must happen once the events are in the log (a check that races a forgetting, see
``commands/deals.py``) is handed to ``after_commit``; a dry run never commits, so it
never runs.

Only what commands read and write is offered; anything else is absent, so a dry run
cannot write by a side door (a person's key is the exception: forgetting is immediate).

A deals import decides a deal as several commands (open, moves, close) that stand or fall
together: ``mark`` and ``rollback`` take back what was staged since a mark.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event
from crm_es.store import Claim, EventStore, IdempotencyRecord
from crm_es.store.event_store import Tracking

A = TypeVar("A", bound=Aggregate)


class Mark(NamedTuple):
    """How much was staged at a moment (``UnitOfWork.mark``)."""

    events: int
    claims: int
    releases: int
    claim_changes: int
    after_commit: int


class UnitOfWork:
    def __init__(self, store: EventStore, *, rows_of_import: bool = False) -> None:
        """``rows_of_import``: the commands staged here are an import's rows, which keep no
        Idempotency-Key (the whole import answers for it) and queue no messages."""
        self.store = store
        self.keys = store.keys  # forgetting a person is immediate, never staged
        self.rows_of_import = rows_of_import
        self.staged: list[Event] = []
        self.claims: list[Claim] = []
        self.releases: list[Claim] = []
        # Records and claims as read from the store once (a batch reads each once), and
        # the events staged on each record since.
        self._read: dict[tuple[type, UUID], Any] = {}
        self._by_record: dict[UUID, list[Event]] = defaultdict(list)
        self._claims: dict[tuple[str, str], str | None] = {}
        self._claim_changes: list[tuple[tuple[str, str], str | None, bool]] = []  # key, before, was known
        self._born: set[UUID] = set()  # records whose first event is staged: the store has none of theirs
        self._filed = 0  # staged events filed under their records so far (filed when a read needs them)
        self._links: dict[UUID, UUID] = {}
        self._position: int | None = None  # the store's, read when first asked (most commands never ask)
        self.idempotency: IdempotencyRecord | None = None
        self.outbox: list[tuple[Any, ...]] = []
        self.states: list[Aggregate] = []
        self.tracking: Tracking | None = None
        self._after_commit: list[Callable[[EventStore], None]] = []

    # --- what commands read ----------------------------------------------------------

    def load(self, cls: type[A], aggregate_id: UUID, *, version: int | None = None) -> A | None:
        if version is not None:  # a past version: staged writes are no one's past yet
            return self.store.load(cls, aggregate_id, version=version)
        self._file_staged()
        key = (cls, aggregate_id)
        if key not in self._read:
            self._read[key] = None if aggregate_id in self._born else self.store.load(cls, aggregate_id)
        return self._with_staged(cls, aggregate_id, self._read[key])

    def load_many(self, wanted: Sequence[tuple[type[Aggregate], UUID]]) -> list[Any]:
        self._file_staged()
        missing = [key for key in dict.fromkeys(wanted) if key not in self._read and key[1] not in self._born]
        if missing:  # one query for all the records not read yet
            self._read.update(zip(missing, self.store.load_many(missing), strict=True))
        return [self.load(cls, aggregate_id) for cls, aggregate_id in wanted]

    def _file_staged(self) -> None:
        """File the events staged since the last read under their records. Lazily: most
        units (a command, a batch, the generator's chunks) never read after staging."""
        if self._filed == len(self.staged):
            return
        for event in self.staged[self._filed:]:
            self._by_record[event.originator_id].append(event)
            if event.originator_version == 1:
                self._born.add(event.originator_id)
        self._filed = len(self.staged)

    def _with_staged(self, cls: type[A], aggregate_id: UUID, state: A | None) -> A | None:
        staged = self._by_record.get(aggregate_id)
        if not staged or (state is None and not cls.owns(staged[0])):
            return state
        for event in staged:
            state = cls.evolve(state, event)
        return state

    def claim_owner(self, scope: str, value: str) -> str | None:
        key = (scope, value)
        if key not in self._claims:
            self._claims[key] = self.store.claim_owner(scope, value)
        return self._claims[key]

    def claim_owners(self, scope: str, values: Collection[str]) -> dict[str, str]:
        missing = [v for v in set(values) if (scope, v) not in self._claims]
        if missing:  # one query for all the values not asked yet
            found = self.store.claim_owners(scope, missing)
            self._claims.update(((scope, v), found.get(v)) for v in missing)
        return {v: owner for v in values if (owner := self._claims[(scope, v)]) is not None}

    def fixed_link(self, child_id: UUID) -> UUID | None:
        return self._links.get(child_id) or self.store.fixed_link(child_id)

    def remember_fixed_link(self, child_id: UUID, parent_id: UUID) -> None:
        self._links[child_id] = parent_id

    def find_idempotency(self, scope: str, key: str) -> tuple[str, int, str, int | None] | None:
        return self.store.find_idempotency(scope, key)

    def events(self, aggregate_id: UUID, *, lte: int | None = None) -> list[Event]:
        """A record's events as stored (staged ones are no one's past yet)."""
        return self.store.events(aggregate_id, lte=lte)

    def max_position(self) -> int:
        """The log's end when this unit began (nothing staged has a position yet)."""
        if self._position is None:
            self._position = self.store.max_position()
        return self._position

    # --- what commands write ---------------------------------------------------------

    def save(
        self,
        events: Sequence[Event],
        *,
        idempotency: IdempotencyRecord | None = None,
        claims: Sequence[Claim] = (),
        releases: Sequence[Claim] = (),
        outbox: Sequence[tuple[Any, ...]] = (),
    ) -> int | None:
        """Stage the events and claims of one command, the answer kept under its
        Idempotency-Key and its messages' outbox rows. The position comes with the commit:
        None here."""
        if self.rows_of_import and idempotency is not None:
            raise ValueError("an import's rows keep no Idempotency-Key: the whole import answers for it")
        if self.rows_of_import and outbox:
            raise ValueError("an import's rows queue no messages: an import sends nothing")
        if idempotency is not None:
            self.idempotency = idempotency  # the last answer decided is the one kept
        self.outbox += outbox
        self.staged += events
        self.claims += claims
        self.releases += releases
        for claim in releases:
            self._set_claim((claim.scope, claim.value), None)
        for claim in claims:
            self._set_claim((claim.scope, claim.value), str(claim.owner_id))
        return None

    def follow(self, tracking: Tracking) -> None:
        """A policy's new place in the log, written with what it reacted with: the write
        fails (IntegrityError) if another runner moved the place meanwhile."""
        self.tracking = tracking

    def fold_states(self, states: Sequence[Aggregate]) -> None:
        """The records' states after the staged events, when the decision folded them
        already (a batch): the store remembers them as they are instead of folding again."""
        self.states += states

    def after_commit(self, action: Callable[[EventStore], None]) -> None:
        """Run ``action(store)`` once this unit's events are in the log (never, if it is
        not committed: a dry run, a refusal, a lost race)."""
        self._after_commit.append(action)

    def claim(self, claim: Claim) -> None:
        """Stage a claim of a record staged here (an imported deal's id in the old CRM),
        saved with the events at ``commit``."""
        self.claims.append(claim)
        self._set_claim((claim.scope, claim.value), str(claim.owner_id))

    def _set_claim(self, key: tuple[str, str], owner: str | None) -> None:
        self._claim_changes.append((key, self._claims.get(key), key in self._claims))
        self._claims[key] = owner

    # --- taking back ------------------------------------------------------------------

    def mark(self) -> Mark:
        return Mark(len(self.staged), len(self.claims), len(self.releases), len(self._claim_changes),
                    len(self._after_commit))

    def rollback(self, mark: Mark) -> None:
        """Unstage everything staged since ``mark``, as if it had never been decided."""
        self._file_staged()
        for event in reversed(self.staged[mark.events:]):
            self._by_record[event.originator_id].pop()  # each record's events are staged in order
            if event.originator_version == 1:
                self._born.discard(event.originator_id)
                self._links.pop(event.originator_id, None)
        del self.staged[mark.events:], self.claims[mark.claims:], self.releases[mark.releases:]
        self._filed = len(self.staged)
        for key, before, known in reversed(self._claim_changes[mark.claim_changes:]):
            if known:
                self._claims[key] = before
            else:
                self._claims.pop(key, None)
        del self._claim_changes[mark.claim_changes:]
        del self._after_commit[mark.after_commit:]

    def commit(self) -> int | None:
        """``write`` then ``finish``: everything staged in one transaction, then what waits
        for it. Raises as ``EventStore.save`` does, having written nothing."""
        position = self.write()
        self.finish()
        return position

    def write(self) -> int | None:
        """Write everything staged in one store transaction: the events and claims, the
        answer kept under an Idempotency-Key, a policy's new place (``follow``), the outbox
        rows and the records' states when the decision folded them (``fold_states``). The
        position of its last event; None when no event was written. Raises as
        ``EventStore.save`` does, having written nothing."""
        if not self.staged and self.idempotency is None and self.tracking is None and not self.outbox:
            return None
        position = self.store.save(self.staged, idempotency=self.idempotency, claims=self.claims,
                                   releases=self.releases, states=self.states, tracking=self.tracking,
                                   outbox=self.outbox)
        for child_id, parent_id in self._links.items():
            self.store.remember_fixed_link(child_id, parent_id)
        return position

    def finish(self) -> None:
        """Run what waited for the events to be in the log (``after_commit``): its own
        writes, its own units of work — a failure there is not this unit's lost race."""
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action(self.store)


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """A large unit (a tracking batch, the generator's chunks) makes some 100,000
    short-lived objects; the cycle collector's passes over them cost a fifth of its time,
    for nothing (they hold no cycles: reference counting frees them). Paused for the
    unit, then as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
