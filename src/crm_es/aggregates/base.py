"""What every aggregate shares: the event envelope, the fold, and the domain errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, NamedTuple, Self, TypeVar
from uuid import UUID

from eventsourcing.domain import DomainEvent


class Event(DomainEvent):
    """An immutable fact about one aggregate.

    ``timestamp`` (the library's field) is when the service recorded the fact;
    ``occurred_at`` is when it happened in the business. ``actor`` says who did it,
    ``correlation_id`` which request it came from, ``causation_id`` which event
    caused it (for policy output).
    """

    occurred_at: datetime
    actor: str
    correlation_id: str
    causation_id: str | None

    # Fields that hold personal data (names, contact details, free text about a person).
    # The store seals them with the key of the person named by ``subject_field``, so
    # that forgetting the person erases them everywhere (see crm_es.store.personal).
    # Plain class attributes, not event fields.
    personal_fields = ()
    subject_field = "originator_id"

    # False for the facts that leave a record's state as it was (interactions): those may
    # be dated before its last change; the others may not (see Aggregate.then).
    changes_state = True


class Meta(NamedTuple):  # a tuple: made for every item of a tracking batch
    """Who, when and why: arrives with every command, from the edge."""

    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: str
    causation_id: str | None = None


E = TypeVar("E", bound=Event)


def new_event(cls: type[E], originator_id: UUID, version: int, meta: Meta, **fields: Any) -> E:
    state = {
        "originator_id": originator_id,
        "originator_version": version,
        "timestamp": meta.recorded_at,
        "occurred_at": meta.occurred_at,
        "actor": meta.actor,
        "correlation_id": meta.correlation_id,
        "causation_id": meta.causation_id,
        **fields,
    }
    names, name_set = _field_names(cls)
    if type(originator_id) is not UUID or state.keys() != name_set:
        return cls(**state)  # the dataclass's own checks say what is wrong
    # Built as the store's mapper builds events: the frozen dataclass's __init__ sets each
    # field through object.__setattr__, a cost a tracking batch pays 10,000 times. The
    # fields keep the dataclass's order (the stored JSON's order).
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", state if tuple(state) == names else {name: state[name] for name in names})
    return event


@cache
def _field_names(cls: type) -> tuple[tuple[str, ...], frozenset[str]]:
    names = tuple(f.name for f in dataclasses.fields(cls))
    return names, frozenset(names)


@dataclass(frozen=True)
class Aggregate:
    """Base of every aggregate's state. Subclasses define ``evolve``."""

    id: UUID
    version: int

    creation_event: ClassVar[type[Event]]

    @classmethod
    def evolve(cls, state: Self | None, event: Event) -> Self:
        raise NotImplementedError

    @classmethod
    def fold(cls, events: Iterable[Event]) -> Self | None:
        state: Self | None = None
        for event in events:
            state = cls.evolve(state, event)
        return state

    @classmethod
    def owns(cls, event: Event) -> bool:
        """True when this event class belongs to this aggregate type: nested in it, or
        defined beside it and saying so (``recorded_on``, as interactions do)."""
        kind = type(event)
        return (getattr(kind, "recorded_on", None) or kind.__qualname__.split(".")[0]) == cls.__name__

    def moved_on(self, **changes: Any) -> Self:
        """A copy with these fields changed: ``dataclasses.replace`` without its checks
        (the fields are the state's own), for the folds of frequent events."""
        state = object.__new__(type(self))
        state.__dict__.update(self.__dict__, **changes)
        return state

    def then(self, cls: type[E], meta: Meta, **fields: Any) -> E:
        """The next event on this aggregate. A change may not be dated before the record's
        last change (``changed_at``, kept by the records whose history is reported): its
        versions follow each other in business time, so "as of T" has one answer."""
        changed_at = getattr(self, "changed_at", None)
        if changed_at is not None and cls.changes_state and meta.occurred_at < changed_at:
            raise RuleViolated(
                "before-last-change",
                f"occurred_at {meta.occurred_at.isoformat()} is before this record's last change "
                f"({changed_at.isoformat()}): a change cannot be dated before the one it follows",
                field="occurred_at", changed_at=changed_at.isoformat(),
            )
        return new_event(cls, self.id, self.version + 1, meta, **fields)


def later(current: datetime | None, occurred_at: datetime) -> datetime:
    """A record's ``changed_at`` after a change that occurred at ``occurred_at`` (events
    stored before the rule in ``then`` may go back in time: the latest stays)."""
    return occurred_at if current is None or occurred_at > current else current


# What sort of "no" a domain error is: its category. Each entry point answers a category
# its own way (HTTP: one status per category, entrypoints/http/statuses.py); the domain and
# the layers below it only name the rule and its category.
CONFLICT = "conflict"  # the records as they stand refuse it: a closed deal moved, an e-mail already taken
NOT_FOUND = "not-found"  # a record the command names does not exist
INVALID = "invalid-input"  # the input passed the schema but not a domain check
FORBIDDEN = "forbidden"  # not the actor's to do: another rep's record, SQL analysts may not run
STALE = "stale"  # the client named a version the record is no longer at (If-Match)


class DomainError(Exception):
    """A business rule said no. ``rule`` names it for the client; ``category`` says what
    sort of "no" it is (one of those above)."""

    rule = "domain-error"
    category = CONFLICT

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class RuleViolated(DomainError):
    def __init__(self, rule: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.rule = rule


class NotFound(DomainError):
    rule = "not-found"
    category = NOT_FOUND

    def __init__(self, kind: str, id: UUID | str, field: str | None = None) -> None:
        super().__init__(f"{kind} {id} does not exist", kind=kind, id=str(id))
        self.field = field


class InvalidInput(DomainError):
    """Input that passed the schema but not a domain check, naming the field."""

    rule = "invalid-input"
    category = INVALID

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


A = TypeVar("A", bound=Aggregate)


class Decision:
    """Collects the events of one decision, folding each into the state as it goes,
    so later checks in the same decision see the earlier events."""

    def __init__(self, state: Aggregate, meta: Meta) -> None:
        self.state = state
        self.meta = meta
        self.events: list[Event] = []

    def emit(self, cls: type[Event], **fields: Any) -> None:
        event = self.state.then(cls, self.meta, **fields)
        self.events.append(event)
        self.state = type(self.state).evolve(self.state, event)
