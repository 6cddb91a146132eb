"""What a handler needs around its decision: loading, meta, idempotency, saving."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from crm_es.aggregates.base import (
    FORBIDDEN,
    INVALID,
    STALE,
    Aggregate,
    DomainError,
    Event,
    InvalidInput,
    Meta,
    NotFound,
    RuleViolated,
)
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.message import CHANNELS
from crm_es.clock import Clock
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.store import Claim, EventStore, IdempotencyRecord
from crm_es.store.event_store import IntegrityError
from crm_es.store.keys import ERASED_FINGERPRINT

A = TypeVar("A", bound=Aggregate)

# How far ahead of our clock a client's occurred_at may be (their clock drifts too).
CLOCK_DRIFT = timedelta(minutes=5)


class Lookups(Protocol):
    """Facts a decision needs from outside its aggregate, answered by the read side."""

    def open_deals_in_stage(self, stage_id: UUID) -> int: ...

    def deals_naming(self, contact_id: UUID) -> list[UUID]:
        """Every deal that names the contact or once did (whose text may name them)."""


class Ownership(Protocol):
    """Whose contacts and deals the actor may change, and may name in a command (those
    they may read). The edge decides (an API key's role); the domain knows nothing of it."""

    @property
    def default_owner(self) -> UUID | None:
        """Who owns what the actor creates without naming an owner (a rep: themselves)."""

    @property
    def limited(self) -> bool:
        """True when some contacts and deals are out of the actor's reach."""

    def may_write_for(self, owner_id: UUID | None) -> bool: ...

    def may_read(self, owner_id: UUID | None) -> bool: ...


class Anyone:
    """No limit: admins, open development mode, the demo, policies."""

    default_owner = None
    limited = False

    def may_write_for(self, owner_id: UUID | None) -> bool:
        return True

    def may_read(self, owner_id: UUID | None) -> bool:
        return True


ANYONE = Anyone()


class NotYours(DomainError):
    rule = "not-your-record"
    category = FORBIDDEN

    def __init__(self, detail: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.field = field  # the body field naming the record, when one did (a batch's item says it too)


class PreconditionFailed(DomainError):
    rule = "version-mismatch"
    category = STALE


class IdempotencyKeyReused(DomainError):
    rule = "idempotency-key-reused"
    category = INVALID


class TooMuchContention(DomainError):
    rule = "contention"


# What a kept refusal holds where a kept answer holds its status: none. The entry point
# answers a refusal by its category (HTTP: entrypoints/http/statuses.py), replayed or not.
REFUSED = 0


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    version: int
    position: int
    status: int = 200  # 201 when the command created the record
    replayed: bool = False  # True when an Idempotency-Key returned the first answer

    def body(self) -> dict[str, object]:
        return {"id": str(self.id), "version": self.version, "position": self.position}


@dataclass
class CommandContext:
    store: EventStore | UnitOfWork  # a unit of work while a command is decided (commands.pipeline)
    clock: Clock
    lookups: Lookups
    actor: str = "system"
    correlation_id: str = field(default_factory=lambda: str(uuid4()))
    causation_id: str | None = None
    expected_version: int | None = None  # from If-Match
    idempotency_key: str | None = None
    fingerprint: str = ""  # what the key was first used with (method, path, body)
    new_id: Callable[[], UUID] = uuid4
    ownership: Ownership = ANYONE
    # The channels the outbox has a sender for (crm_es.channels): a person's send on another is refused.
    channels: frozenset[str] = frozenset(CHANNELS)

    @property
    def default_owner(self) -> UUID | None:
        return self.ownership.default_owner

    def meta(self, occurred_at: datetime | None = None, now: datetime | None = None) -> Meta:
        """Who, when and why for the events of a decision. ``now``: the time a batch is
        recorded at, read once for all its items (default: the clock, now)."""
        now = now or self.clock.now()
        if occurred_at is not None and occurred_at > now + CLOCK_DRIFT:
            raise InvalidInput("occurred_at", "occurred_at is in the future: a fact is recorded once it has happened")
        return Meta(
            occurred_at=occurred_at or now,
            recorded_at=now,
            actor=self.actor,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
        )

    def load(self, cls: type[A], aggregate_id: UUID, field: str | None = None) -> A:
        """A record the command refers to; 404 naming the field when it does not exist."""
        state = self.store.load(cls, aggregate_id)
        if state is None:
            raise NotFound(cls.__name__.lower(), aggregate_id, field)
        return state

    def exists(self, cls: type[Aggregate], aggregate_id: UUID | None, field: str) -> None:
        if aggregate_id is not None:
            self.referenced(cls, aggregate_id, field)

    def referenced(self, cls: type[A], aggregate_id: UUID, field: str, *, changed: bool = False) -> A:
        """A record the command names in ``field`` besides the one it changes (a task's
        contact, a deal's contacts, an interaction's deal), checked against the actor's
        reach: see ``check_reference``."""
        return self.check_reference(cls, aggregate_id, self.store.load(cls, aggregate_id), field, changed=changed)

    def check_reference(self, cls: type[A], aggregate_id: UUID | str, state: A | None, field: str, *,
                        changed: bool = False) -> A:
        """A record named in ``field`` (``state``: as loaded, None if absent). Contacts and
        deals, and what is about a contact (its documents), are named only within the
        actor's reach — else a task or a deal would put a record on another team's card.
        An actor whose reach is limited hears 403 naming the field for an id that does not
        exist too, in the same words: the answer must not tell whether it exists. Others
        (admins) hear 404. The catalogue (companies, pipelines, reps, teams) has no owner:
        every sales role reads all of it, so it is named freely. ``changed``: the command
        changes that record too (an interaction mirrored on its deal): the actor must be
        able to write for its owner, not only to read it."""
        if self.ownership.limited and _has_owner(cls):
            allowed = self.ownership.may_write_for if changed else self.ownership.may_read
            if state is None or not allowed(self._owner_of(state)):
                raise NotYours(f"{field} {aggregate_id} is not a record this key may name", field=field)
        if state is None:
            raise NotFound(cls.__name__.lower(), aggregate_id, field)
        return state

    def _owner_of(self, state: Aggregate) -> UUID | None:
        """Whose a record is: its owner's, or (a document, a message) its contact's."""
        if hasattr(state, "owner_id"):
            return state.owner_id
        contact_id = getattr(state, "contact_id", None)
        contact = self.store.load(Contact, contact_id) if contact_id is not None else None
        return contact.owner_id if contact is not None else None

    def target(self, cls: type[A], aggregate_id: UUID) -> A:
        """The record the command changes: 404 if absent, 403 if not the actor's to
        change, 412 if If-Match is stale."""
        return self.check_target(self.load(cls, aggregate_id))

    def check_target(self, state: A) -> A:
        return self.check_version(self.check_reach(state))

    def check_reach(self, state: A) -> A:
        """403 unless the actor may change the record (what is about a contact — its
        documents, its messages — goes by the contact's reach)."""
        # Contacts and deals have an owner, whose reach decides; other records have none.
        if hasattr(state, "owner_id") and not self.ownership.may_write_for(state.owner_id):
            raise NotYours(f"{type(state).__name__.lower()} {state.id} is not a record this key may change")
        return state

    def check_new_owners(self, events: Sequence[Event]) -> None:
        """Whatever the events give an owner (a new contact or deal, a handover) must go
        to someone the actor may write for: a rep cannot give a deal away."""
        for event in events:
            if hasattr(event, "owner_id") and not self.ownership.may_write_for(event.owner_id):
                raise NotYours(f"owner_id {event.owner_id or 'null'} is not someone this key may write for",
                               field="owner_id")

    def check_version(self, state: A) -> A:
        if self.expected_version is not None and state.version != self.expected_version:
            raise PreconditionFailed(
                f"{type(state).__name__.lower()} is at version {state.version}, not {self.expected_version}",
                current_version=state.version,
            )
        return state

    def check_claim(self, claim: Claim, rule: str, detail: str) -> None:
        owner = self.store.claim_owner(claim.scope, claim.value)
        if owner is not None and owner != str(claim.owner_id):
            raise RuleViolated(rule, detail, existing_id=owner)

    def erase_personal_data(self, subject_id: UUID) -> None:
        """Delete the person's key (and their e-mail claim): their personal fields become
        unreadable in every event at once. Cannot be undone."""
        self.store.keys.forget(str(subject_id), self.clock.now())

    def save(
        self,
        aggregate_id: UUID,
        events: Sequence[Event],
        *,
        current_version: int = 0,
        created: bool = False,
        claims: Sequence[Claim] = (),
        releases: Sequence[Claim] = (),
        outbox: Sequence[tuple[Any, ...]] = (),
        status: int | None = None,
    ) -> CommandResult:
        """``outbox``: rows of messages the events queue (store.schema.OUTBOX_COLUMNS),
        saved in the same transaction; ``status``: the answer's, when not 201/200 (a message
        queued is 202: the outbox delivers it later)."""
        self.check_new_owners(events)
        version = max((e.originator_version for e in events if e.originator_id == aggregate_id), default=current_version)
        status = status or (201 if created else 200)
        record = None
        if self.idempotency_key is not None:
            body = json.dumps({"id": str(aggregate_id), "version": version})
            record = IdempotencyRecord(self.actor, self.idempotency_key, self.fingerprint, status, body)
        if not isinstance(self.store, UnitOfWork):
            raise TypeError("a handler saves into a unit of work: run it with crm_es.commands.pipeline.execute")
        self.store.save(events, idempotency=record, claims=claims, releases=releases, outbox=outbox)
        return CommandResult(aggregate_id, version, 0, status)  # the position comes with the commit (execute)

    def stored_answer(self, kind: str | None = None) -> tuple[int, dict[str, Any], int | None] | None:
        """The answer kept for this Idempotency-Key — status, body, position — or None for
        a new key. ``kind``: the key of the body a batch or an import keeps its answer under;
        a key first used for another request is a 422."""
        if self.idempotency_key is None:
            return None
        found = self.store.find_idempotency(self.actor, self.idempotency_key)
        if found is None:
            return None
        fingerprint, status, body, position = found
        data = json.loads(body)
        # An erased fingerprint (its person was forgotten) cannot be compared: the key's
        # first answer is returned, as a retry must hear it.
        if fingerprint not in (self.fingerprint, ERASED_FINGERPRINT) or (kind is not None and kind not in data):
            raise IdempotencyKeyReused(
                "this Idempotency-Key was first used with another request; use a new key",
                field="Idempotency-Key",
            )
        return status, data, position

    def first_answer(self) -> CommandResult | None:
        """The answer already given to this Idempotency-Key, if any."""
        stored = self.stored_answer()
        if stored is None:
            return None
        status, data, position = stored
        if "refusal" in data:
            raise ReplayedRefusal(data["refusal"], status or None)
        return CommandResult(UUID(data["id"]), data["version"], position or 0, status, replayed=True)

    def remember_refusal(self, refusal: DomainError) -> bool:
        """Keep a refusal as this key's first answer: the retry of a request whose answer
        was lost must hear the same "no", even if the record has changed since. False when
        a twin (a request with this key, at the same time) answered first."""
        if self.idempotency_key is None:
            return True
        body = json.dumps({"refusal": {
            "rule": refusal.rule, "category": refusal.category, "detail": refusal.detail, "field": getattr(refusal, "field", None),
            "extra": refusal.extra,
        }})
        record = IdempotencyRecord(self.actor, self.idempotency_key, self.fingerprint, REFUSED, body)
        try:
            work = UnitOfWork(self.store)
            work.save([], idempotency=record)  # an answer kept, nothing written
            work.commit()
        except IntegrityError:
            return False
        return True

    @contextmanager
    def alone(self) -> Iterator[None]:
        """While this process answers a request with this Idempotency-Key, its twins here
        wait, then hear its answer. For the long requests (an import) whose answer a twin
        cannot decide the same way once the first has written; across processes the key's
        row in the store still decides who answered first."""
        if self.idempotency_key is None:
            yield
            return
        with _ANSWERING.held((self.actor, self.idempotency_key)):
            yield


@cache
def _has_owner(cls: type[Aggregate]) -> bool:
    """Records with an owner (contacts, deals) or about a contact (documents, messages)."""
    return bool({"owner_id", "contact_id"} & {f.name for f in dataclasses.fields(cls)})


class _KeyLocks:
    """One lock per Idempotency-Key being answered, dropped when no request holds it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], tuple[threading.Lock, int]] = {}

    @contextmanager
    def held(self, key: tuple[str, str]) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


_ANSWERING = _KeyLocks()


class ReplayedRefusal(DomainError):
    """A refusal kept as an Idempotency-Key's first answer, heard again as it was given.
    ``first_status``: the status it was answered with, held by the keys kept before
    refusals named their category (None for the others: the entry point answers by category)."""

    def __init__(self, refusal: dict[str, Any], first_status: int | None) -> None:
        super().__init__(refusal["detail"], **refusal["extra"])
        self.rule = refusal["rule"]
        self.category = refusal.get("category", self.category)
        self.field = refusal["field"]
        self.first_status = first_status

