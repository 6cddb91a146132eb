"""A contact's place in a drip sequence (F19): one record per contact and sequence, with an
id from both, so "already enrolled?" is one load. It says which step's e-mail goes next,
and whether the sequence still runs for them: it ends completed (every step sent) or
stopped (a reply, a hand-over to a rep, an unsubscribe, the person forgotten …). Once
enrolled, never again in the same sequence: a stopped sequence is not restarted by a
later change to the contact.

Pure: the policy (policies/drip_sequences.py) decides when; this records what.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_es.aggregates.base import Aggregate, Event, Meta, RuleViolated, new_event

ACTIVE, STOPPED, COMPLETED = "active", "stopped", "completed"


def enrolment_id(contact_id: UUID, sequence: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:drip-sequences:{contact_id}:{sequence}")


@dataclass(frozen=True)
class Enrolment(Aggregate):
    contact_id: UUID
    sequence: str
    next_step: int  # the index of the step whose e-mail goes next
    status: str
    stop_reason: str | None = None

    # The events carry ids, a sequence's name (set by an admin) and step numbers: nothing
    # about the person. Declared empty on purpose.
    class Enrolled(Event):
        personal_fields = ()
        subject_field = "contact_id"

        contact_id: UUID
        sequence: str

    class StepQueued(Event):
        """The step's e-mail was queued in the outbox (``message_id``: its delivery id)."""

        personal_fields = ()
        subject_field = "contact_id"

        contact_id: UUID
        step: int
        message_id: UUID

    class Completed(Event):
        personal_fields = ()
        subject_field = "contact_id"

        contact_id: UUID

    class Stopped(Event):
        """``reason``: one of the policy's fixed words (replied, handed to a rep …)."""

        personal_fields = ()
        subject_field = "contact_id"

        contact_id: UUID
        reason: str

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @classmethod
    def evolve(cls, state: Enrolment | None, event: Event) -> Enrolment:
        if isinstance(event, Enrolment.Enrolled):
            return Enrolment(event.originator_id, event.originator_version, event.contact_id, event.sequence, 0, ACTIVE)
        assert state is not None
        state = state.moved_on(version=event.originator_version)
        match event:
            case Enrolment.StepQueued():
                return state.moved_on(next_step=event.step + 1)
            case Enrolment.Completed():
                return state.moved_on(status=COMPLETED)
            case Enrolment.Stopped():
                return state.moved_on(status=STOPPED, stop_reason=event.reason)
        raise TypeError(f"Enrolment cannot apply {type(event).__qualname__}")


def enrol(contact_id: UUID, sequence: str, meta: Meta) -> list[Event]:
    return [new_event(Enrolment.Enrolled, enrolment_id(contact_id, sequence), 1, meta, contact_id=contact_id,
                      sequence=sequence)]


def _require_active(state: Enrolment, action: str) -> None:
    if not state.active:
        raise RuleViolated("enrolment-ended", f"the sequence is {state.status} for this contact: no step can be {action}")


def step_queued(state: Enrolment, message_id: UUID, meta: Meta) -> list[Event]:
    _require_active(state, "queued")
    return [state.then(Enrolment.StepQueued, meta, contact_id=state.contact_id, step=state.next_step,
                       message_id=message_id)]


def complete(state: Enrolment, meta: Meta) -> list[Event]:
    _require_active(state, "completed")
    return [state.then(Enrolment.Completed, meta, contact_id=state.contact_id)]


def stop(state: Enrolment, reason: str, meta: Meta) -> list[Event]:
    """Stop a running sequence; one that has ended already is left as it is."""
    if not state.active:
        return []
    return [state.then(Enrolment.Stopped, meta, contact_id=state.contact_id, reason=reason)]
