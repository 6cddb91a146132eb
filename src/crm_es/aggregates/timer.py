"""A policy's timer: "remind them in 3 days", "call if still nothing". Timers are events,
so they survive restarts and replay: ``Scheduled`` (with its due time) → ``Fired`` (the
outbox's dispatcher records it when the time has come; the policy reacts to it like to
any event) or ``Cancelled`` (what it waited for happened first).

A scheduled timer has a row in the outbox (channel ``timer``, due at ``due_at``), saved
with its events: the dispatcher finds what is due there, as it finds the messages to send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event, Meta, RuleViolated, new_event
from crm_es.aggregates.message import CANCELLED, PENDING, SENT, OutboxRow, utc_text

CHANNEL = "timer"
FIRED = SENT  # the outbox's word for a row that is done


@dataclass(frozen=True)
class Timer(Aggregate):
    policy: str
    purpose: str
    due_at: datetime
    contact_id: UUID | None
    data: dict[str, Any]
    status: str  # pending | sent (fired) | cancelled, as its outbox row says
    scheduled_at: datetime
    correlation_id: str
    done_at: datetime | None = None

    class Scheduled(Event):
        # What a timer carries is the policy's bookkeeping (a cycle, a purpose), not
        # anything about the person: no personal fields.
        policy: str
        purpose: str
        due_at: datetime
        contact_id: UUID | None
        data: dict[str, Any]

    class Fired(Event):
        """The time came. Carries what the policy set, so reacting needs no lookup."""

        policy: str
        purpose: str
        due_at: datetime
        contact_id: UUID | None
        data: dict[str, Any]

    class Cancelled(Event):
        reason: str

    @classmethod
    def evolve(cls, state: Timer | None, event: Event) -> Timer:
        if isinstance(event, Timer.Scheduled):
            return Timer(event.originator_id, event.originator_version, event.policy, event.purpose, event.due_at,
                         event.contact_id, dict(event.data), PENDING, event.timestamp, event.correlation_id)
        assert state is not None
        state = state.moved_on(version=event.originator_version)
        match event:
            case Timer.Fired():
                return state.moved_on(status=FIRED, done_at=event.timestamp)
            case Timer.Cancelled():
                return state.moved_on(status=CANCELLED, done_at=event.timestamp)
        raise TypeError(f"Timer cannot apply {type(event).__qualname__}")


def outbox_row(timer: Timer) -> OutboxRow:
    done = None if timer.done_at is None else utc_text(timer.done_at)
    return (str(timer.id), timer.policy, CHANNEL, None if timer.contact_id is None else str(timer.contact_id),
            timer.status, 0 if timer.status == PENDING else 1, utc_text(timer.due_at), None,
            utc_text(timer.scheduled_at), done)


def _decided(timer: Timer | None, events: list[Event]) -> tuple[list[Event], list[OutboxRow]]:
    for event in events:
        timer = Timer.evolve(timer, event)
    return events, ([] if timer is None or not events else [outbox_row(timer)])


def schedule(timer_id: UUID, policy: str, purpose: str, due_at: datetime, contact_id: UUID | None,
             data: dict[str, Any], meta: Meta) -> tuple[list[Event], list[OutboxRow]]:
    return _decided(None, [new_event(Timer.Scheduled, timer_id, 1, meta, policy=policy, purpose=purpose,
                                     due_at=due_at, contact_id=contact_id, data=data)])


def fire(timer: Timer, meta: Meta) -> tuple[list[Event], list[OutboxRow]]:
    if timer.status != PENDING:
        raise RuleViolated("timer-done", f"timer {timer.id} is {timer.status}: it cannot fire")
    return _decided(timer, [timer.then(Timer.Fired, meta, policy=timer.policy, purpose=timer.purpose,
                                       due_at=timer.due_at, contact_id=timer.contact_id, data=timer.data)])


def cancel(timer: Timer | None, reason: str, meta: Meta) -> tuple[list[Event], list[OutboxRow]]:
    """Cancel a timer that has not fired; one already done (or never set) is left as it is."""
    if timer is None or timer.status != PENDING:
        return [], []
    return _decided(timer, [timer.then(Timer.Cancelled, meta, reason=reason)])
