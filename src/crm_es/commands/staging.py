"""The event store as commands see it while many of them are decided before any is saved.

An import runs every row through the normal command handlers (the same checks, the same
events), with a ``CommandContext`` whose store is a ``StagedStore``: reads answer from the
event store plus the writes staged so far (a later row sees the contact an earlier row
registered, and its e-mail claim), and ``save`` stages instead of writing. Then:

- a real run commits the staged writes of many rows in ONE store transaction
  (``commit``), with their claims; if another writer got there first, nothing of the
  batch was written and the caller decides it again, row by row;
- a dry run never commits: the same decisions, nothing written (not even a person's key).

Only what commands read and write is offered; anything else (erasing a person's key, say)
is absent, so a dry run cannot write by a side door.

A deals import decides a deal as several commands (open, moves, close) that stand or fall
together: ``mark`` and ``rollback`` take back what was staged since a mark.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event
from crm_es.store import Claim, EventStore, IdempotencyRecord

A = TypeVar("A", bound=Aggregate)


class Mark(NamedTuple):
    """How much was staged at a moment (``StagedStore.mark``)."""

    events: int
    claims: int
    releases: int
    claim_changes: int


class StagedStore:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.events: list[Event] = []
        self.claims: list[Claim] = []
        self.releases: list[Claim] = []
        # Records and claims as read from the store once (a batch reads each once), and
        # the events staged on each record since.
        self._read: dict[tuple[type, UUID], Any] = {}
        self._staged: dict[UUID, list[Event]] = defaultdict(list)
        self._claims: dict[tuple[str, str], str | None] = {}
        self._claim_changes: list[tuple[tuple[str, str], str | None, bool]] = []  # key, before, was known
        self._born: set[UUID] = set()  # records whose first event is staged: the store has none of theirs
        self._links: dict[UUID, UUID] = {}
        self._position = store.max_position()

    # --- what commands read ----------------------------------------------------------

    def load(self, cls: type[A], aggregate_id: UUID, *, version: int | None = None) -> A | None:
        if version is not None:  # a past version: staged writes are no one's past yet
            return self.store.load(cls, aggregate_id, version=version)
        key = (cls, aggregate_id)
        if key not in self._read:
            self._read[key] = None if aggregate_id in self._born else self.store.load(cls, aggregate_id)
        return self._with_staged(cls, aggregate_id, self._read[key])

    def load_many(self, wanted: Sequence[tuple[type[Aggregate], UUID]]) -> list[Any]:
        missing = [key for key in dict.fromkeys(wanted) if key not in self._read and key[1] not in self._born]
        if missing:  # one query for all the records not read yet
            self._read.update(zip(missing, self.store.load_many(missing), strict=True))
        return [self.load(cls, aggregate_id) for cls, aggregate_id in wanted]

    def _with_staged(self, cls: type[A], aggregate_id: UUID, state: A | None) -> A | None:
        staged = self._staged.get(aggregate_id)
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

    def max_position(self) -> int:
        return self._position  # nothing staged has a position yet

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
        """Stage the events and claims of one command; the position is the store's as it
        was when staging began (the real one comes with the commit)."""
        if idempotency is not None:
            raise ValueError("staged commands keep no Idempotency-Key: the whole import answers for it")
        if outbox:
            raise ValueError("staged commands queue no messages: an import sends nothing")
        self.events += events
        self.claims += claims
        self.releases += releases
        for event in events:
            self._staged[event.originator_id].append(event)
            if event.originator_version == 1:
                self._born.add(event.originator_id)
        for claim in releases:
            self._set_claim((claim.scope, claim.value), None)
        for claim in claims:
            self._set_claim((claim.scope, claim.value), str(claim.owner_id))
        return self._position

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
        return Mark(len(self.events), len(self.claims), len(self.releases), len(self._claim_changes))

    def rollback(self, mark: Mark) -> None:
        """Unstage everything staged since ``mark``, as if it had never been decided."""
        for event in reversed(self.events[mark.events:]):
            self._staged[event.originator_id].pop()  # each record's events are staged in order
            if event.originator_version == 1:
                self._born.discard(event.originator_id)
                self._links.pop(event.originator_id, None)
        del self.events[mark.events:], self.claims[mark.claims:], self.releases[mark.releases:]
        for key, before, known in reversed(self._claim_changes[mark.claim_changes:]):
            if known:
                self._claims[key] = before
            else:
                self._claims.pop(key, None)
        del self._claim_changes[mark.claim_changes:]

    def commit(self) -> int | None:
        """Write everything staged in one store transaction; the position of its last
        event (None when nothing was staged). Raises as ``EventStore.save`` does, having
        written nothing."""
        if not self.events:
            return None
        return self.store.save(self.events, claims=self.claims, releases=self.releases)
