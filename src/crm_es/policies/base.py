"""What every policy is: a name, the events it reacts to, its settings, and ``react``.

A policy is a decider over the log: ``react(event, context) -> Reaction`` — new events
(and outbox rows for the world outside), nothing else. It reads states through the
context, never writes: the runner saves the reaction with the policy's new place in the
log, in one transaction (policies/runtime.py). Every event it makes names the policy as
its actor and the triggering event as its cause.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

import duckdb
from pydantic import BaseModel, ConfigDict

from crm_es.aggregates.base import Aggregate, Event, Meta
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.store import EventStore

A = TypeVar("A", bound=Aggregate)
Loader = Callable[[type[A], Any], A | None]  # what reads a record's state (EventStore.load)
ReadSide = Callable[[], duckdb.DuckDBPyConnection]  # opens a cursor on the read side, caught up


class PolicySettingsModel(BaseModel):
    """Base of each policy's settings: unknown settings are refused (a typo is not silently
    ignored), and each has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def cause_of(event: Event) -> str:
    """How a policy's events name the event that caused them: its record and version."""
    return f"{event.originator_id}:{event.originator_version}"


def task_for(trigger: Event, policy: str) -> UUID:
    """The id of the task a policy plans in answer to an event: one per event and policy,
    whatever happens (a reaction repeated is refused by the store, not doubled)."""
    return uuid5(NAMESPACE_URL, f"urn:crm-es:{policy}:{cause_of(trigger)}")


@dataclass(frozen=True)
class Reaction:
    events: Sequence[Event] = ()
    outbox: Sequence[tuple[Any, ...]] = ()  # rows of store.schema.OUTBOX_COLUMNS

    def __add__(self, other: Reaction) -> Reaction:
        return Reaction([*self.events, *other.events], [*self.outbox, *other.outbox])


NOTHING = Reaction()


@dataclass
class PolicyContext:
    """What a policy may know when it reacts: the states in the store, its settings as of
    the event, the time (injected), and who it acts as."""

    store: EventStore | UnitOfWork  # the runner's unit of work: reads see what the reactions before staged
    policy: str
    settings: Any  # the policy's Settings model
    now: datetime
    trigger: Event
    read_side: ReadSide | None = None  # None: this runner has no read side
    # The batch this reaction is one of: every event of the policy's kinds from the batch's
    # first to its last, in log order (the trigger among them; one settings throughout), and
    # what its reactions share — answers read once for all of them (one query, not one each).
    batch: Sequence[Event] = ()
    memo: dict[str, Any] = field(default_factory=dict)
    read_side_before_batch: ReadSide | None = None

    @property
    def actor(self) -> str:
        return f"policy:{self.policy}"

    def meta(self, occurred_at: datetime | None = None) -> Meta:
        return Meta(occurred_at or self.now, self.now, self.actor, self.trigger.correlation_id, cause_of(self.trigger))

    def load(self, cls: type[A], aggregate_id: Any) -> A | None:
        return self.store.load(cls, aggregate_id) if aggregate_id is not None else None

    def active_rep(self, *candidates: UUID | None) -> UUID | None:
        """The first of these reps still active: a deactivated rep is given nothing new
        (their work goes to the next one named, or to no one)."""
        from crm_es.aggregates.rep import Rep  # the policies' base stays free of any one aggregate

        for rep_id in candidates:
            rep = self.load(Rep, rep_id)
            if rep is not None and rep.active:
                return rep_id
        return None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the read side (``with ctx.cursor() as cur``: closed after), caught up
        with the log at least to the event reacted to — for queries/automations.py's typed
        reads (a rep's agenda, a team's reps): a policy holds no SQL."""
        if self.read_side is None:
            raise RuntimeError(f"policy {self.policy} needs the read side, and this runner has none")
        return self.read_side()

    def cursor_before_batch(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the read side caught up at least to the event just before the batch:
        with ``batch``, all that happened up to each of its events — asked once for the whole
        batch without waiting for the projector to catch up with the batch itself (a tracking
        feed's 10,000 visits are scored while they are projected)."""
        if self.read_side_before_batch is None:
            return self.cursor()
        return self.read_side_before_batch()


class Policy:
    """Subclasses set the class attributes and define ``react``."""

    name: ClassVar[str]
    description: ClassVar[str]
    reacts_to: ClassVar[tuple[type[Event], ...]]
    Settings: ClassVar[type[PolicySettingsModel]]

    def check(self, settings: Any, load: Loader) -> None:
        """Refuse settings that pass their model but not the records (InvalidInput naming
        ``settings.<field>``): an unknown activity type, template, rep…"""

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        raise NotImplementedError

    def prefetch(self, events: Sequence[Event]) -> Sequence[tuple[type[Aggregate], Any]]:
        """The records the reactions to these events will load (``ctx.load``): the runner
        reads them in one query before a batch of reactions, instead of one query each."""
        return ()
