"""What a handler needs around its decision: loading, meta, idempotency, saving."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from crm_es.aggregates.base import Aggregate, DomainError, Event, InvalidInput, Meta, NotFound, RuleViolated
from crm_es.clock import Clock
from crm_es.store import Claim, EventStore, IdempotencyRecord
from crm_es.store.event_store import IntegrityError

A = TypeVar("A", bound=Aggregate)

# How far ahead of our clock a client's occurred_at may be (their clock drifts too).
CLOCK_DRIFT = timedelta(minutes=5)


class Lookups(Protocol):
    """Facts a decision needs from outside its aggregate, answered by the read side."""

    def open_deals_in_stage(self, stage_id: UUID) -> int: ...


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

    def meta(self, occurred_at: datetime | None = None) -> Meta:
        now = self.clock.now()
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
        """The record the command changes: 404 if absent, 412 if If-Match is stale."""
        return self.check_version(self.load(cls, aggregate_id))

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

    def save(
        self,
        aggregate_id: UUID,
        events: Sequence[Event],
        *,
        current_version: int = 0,
        created: bool = False,
        claims: Sequence[Claim] = (),
        releases: Sequence[Claim] = (),
    ) -> CommandResult:
        version = max((e.originator_version for e in events if e.originator_id == aggregate_id), default=current_version)
        status = 201 if created else 200
        record = None
        if self.idempotency_key is not None:
            body = json.dumps({"id": str(aggregate_id), "version": version})
            record = IdempotencyRecord(self.actor, self.idempotency_key, self.fingerprint, status, body)
        position = self.store.save(events, idempotency=record, claims=claims, releases=releases)
        if position is None:  # nothing changed: the answer points at the log's end
            position = self.store.max_position()
        return CommandResult(aggregate_id, version, position, status)

    def first_answer(self) -> CommandResult | None:
        """The answer already given to this Idempotency-Key, if any."""
        if self.idempotency_key is None:
            return None
        found = self.store.find_idempotency(self.actor, self.idempotency_key)
        if found is None:
            return None
        fingerprint, status, body, position = found
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was first used with another request; use a new key",
                field="Idempotency-Key",
            )
        data = json.loads(body)
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
