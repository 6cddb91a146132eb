"""What a handler needs around its decision: loading, meta, idempotency, saving."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from crm_es.aggregates.base import Aggregate, DomainError, Event, InvalidInput, Meta, NotFound, RuleViolated
from crm_es.aggregates.message import CHANNELS
from crm_es.clock import Clock
from crm_es.store import Claim, EventStore, IdempotencyRecord
from crm_es.store.event_store import IntegrityError, SubjectForgotten
from crm_es.store.keys import ERASED_FINGERPRINT

A = TypeVar("A", bound=Aggregate)

# How far ahead of our clock a client's occurred_at may be (their clock drifts too).
CLOCK_DRIFT = timedelta(minutes=5)


class Lookups(Protocol):
    """Facts a decision needs from outside its aggregate, answered by the read side."""

    def open_deals_in_stage(self, stage_id: UUID) -> int: ...


class Ownership(Protocol):
    """Whose contacts and deals the actor may change. The edge decides (an API key's
    role); the domain knows nothing of it."""

    @property
    def default_owner(self) -> UUID | None:
        """Who owns what the actor creates without naming an owner (a rep: themselves)."""

    def may_write_for(self, owner_id: UUID | None) -> bool: ...


class Anyone:
    """No limit: admins, open development mode, the demo, policies."""

    default_owner = None

    def may_write_for(self, owner_id: UUID | None) -> bool:
        return True


ANYONE = Anyone()


class NotYours(DomainError):
    rule = "not-your-record"
    status = 403


class PreconditionFailed(DomainError):
    rule = "version-mismatch"
    status = 412


class IdempotencyKeyReused(DomainError):
    rule = "idempotency-key-reused"
    status = 422


class TooMuchContention(DomainError):
    rule = "contention"
    status = 409


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
    store: EventStore
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
            self.load(cls, aggregate_id, field)

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
        """``outbox``: rows of messages the events queue (store.recorders.OUTBOX_COLUMNS),
        saved in the same transaction; ``status``: the answer's, when not 201/200 (a message
        queued is 202: the outbox delivers it later)."""
        self.check_new_owners(events)
        version = max((e.originator_version for e in events if e.originator_id == aggregate_id), default=current_version)
        status = status or (201 if created else 200)
        record = None
        if self.idempotency_key is not None:
            body = json.dumps({"id": str(aggregate_id), "version": version})
            record = IdempotencyRecord(self.actor, self.idempotency_key, self.fingerprint, status, body)
        try:
            position = self.store.save(events, idempotency=record, claims=claims, releases=releases, outbox=outbox)
        except SubjectForgotten as error:  # forgotten while this command was being decided
            raise RuleViolated("contact-forgotten", str(error)) from error
        if position is None:  # nothing changed: the answer points at the log's end
            position = self.store.max_position()
        return CommandResult(aggregate_id, version, position, status)

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
            raise _replayed_refusal(status, data["refusal"])
        return CommandResult(UUID(data["id"]), data["version"], position or 0, status, replayed=True)

    def remember_refusal(self, refusal: DomainError) -> None:
        """Keep a refusal as this key's first answer: the retry of a request whose answer
        was lost must hear the same "no", even if the record has changed since."""
        if self.idempotency_key is None:
            return
        body = json.dumps({"refusal": {
            "rule": refusal.rule, "detail": refusal.detail, "field": getattr(refusal, "field", None), "extra": refusal.extra,
        }})
        record = IdempotencyRecord(self.actor, self.idempotency_key, self.fingerprint, refusal.status, body)
        try:
            self.store.save([], idempotency=record)
        except IntegrityError:
            pass  # a concurrent request with this key answered first; the retry will hear that answer


def _replayed_refusal(status: int, refusal: dict[str, Any]) -> DomainError:
    error = DomainError(refusal["detail"], **refusal["extra"])
    error.rule, error.status = refusal["rule"], status
    error.field = refusal["field"]  # type: ignore[attr-defined]
    return error


C = TypeVar("C")

ATTEMPTS = 3


def execute(handler: Callable[[C, CommandContext], CommandResult], command: C, ctx: CommandContext) -> CommandResult:
    """Run a handler safely: a retried key returns the first answer; a lost race is
    decided again on fresh state (or is a 412 when the client named a version)."""
    answer = ctx.first_answer()
    if answer is not None:
        return answer
    for _ in range(ATTEMPTS):
        try:
            return handler(command, ctx)
        except DomainError as refusal:
            ctx.remember_refusal(refusal)
            raise
        except IntegrityError:
            # Someone else wrote first. Whatever they wrote, nothing of ours was
            # written; deciding again shows whether it still holds.
            answer = ctx.first_answer()
            if answer is not None:
                return answer
    raise TooMuchContention("the record kept changing while this command was decided; try again")
