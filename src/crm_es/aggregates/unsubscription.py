"""A contact's unsubscribe (F19): the person asked for no more automated sequences. One
record per contact, with an id from the contact's; the fact is recorded once. The drip
sequences stop on it and never enrol the contact again.

Its own record rather than an interaction kind: a kind is enumerated by the read side,
the API's schemas, the demo and the generators, and an unsubscribe is the automations'
business only.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event


def unsubscription_id(contact_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:unsubscription:{contact_id}")


@dataclass(frozen=True)
class Unsubscription(Aggregate):
    contact_id: UUID

    class Unsubscribed(Event):
        # Why, in the person's words or the rep's: free text about them, sealed with their key.
        personal_fields = ("reason",)
        subject_field = "contact_id"

        contact_id: UUID
        reason: str | None

    @classmethod
    def evolve(cls, state: Unsubscription | None, event: Event) -> Unsubscription:
        if isinstance(event, Unsubscription.Unsubscribed):
            return Unsubscription(event.originator_id, event.originator_version, event.contact_id)
        raise TypeError(f"Unsubscription cannot apply {type(event).__qualname__}")


def unsubscribe(state: Unsubscription | None, contact_id: UUID, reason: str | None, meta: Meta) -> list[Event]:
    """Unsubscribing twice records nothing: the first time is the fact."""
    if state is not None:
        return []
    return [new_event(Unsubscription.Unsubscribed, unsubscription_id(contact_id), 1, meta, contact_id=contact_id,
                      reason=reason)]
