"""A contact: a person, with status, owner, tags and custom properties.

E-mail uniqueness is not decided here: it is a claim the store enforces in the same
transaction as the events (see ``crm_es.store``), because no single aggregate sees
every contact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Decision, Event, Meta, RuleViolated, new_event


# What identifies the person: sealed in the store with the contact's own key, and
# null everywhere once the contact is forgotten. Tags, status, city, job title, the
# company and dates stay, so counts and analytics keep their figures.
PERSONAL = ("first_name", "last_name", "email", "phone", "properties")


@dataclass(frozen=True)
class ContactDetails:
    first_name: str | None  # None: erased (the contact was forgotten)
    last_name: str | None
    email: str | None
    phone: str | None = None
    job_title: str | None = None
    company_id: UUID | None = None
    city: str | None = None
    source: str | None = None
    tags: tuple[str, ...] = ()
    properties: dict[str, Any] | None = None


@dataclass(frozen=True)
class Contact(Aggregate):
    details: ContactDetails
    status: str
    owner_id: UUID | None
    forgotten: bool = False

    class Registered(Event):
        personal_fields = PERSONAL

        first_name: str
        last_name: str
        email: str
        phone: str | None
        job_title: str | None
        company_id: UUID | None
        city: str | None
        source: str | None
        tags: tuple[str, ...]
        properties: dict[str, Any]
        status: str
        owner_id: UUID | None

    class DetailsChanged(Event):
        """The contact's details after the change (a whole snapshot)."""

        personal_fields = PERSONAL

        first_name: str
        last_name: str
        email: str
        phone: str | None
        job_title: str | None
        company_id: UUID | None
        city: str | None
        source: str | None
        tags: tuple[str, ...]
        properties: dict[str, Any]

    class StatusChanged(Event):
        status: str
        previous_status: str

    class OwnerChanged(Event):
        owner_id: UUID | None
        previous_owner_id: UUID | None

    class Forgotten(Event):
        """The person asked to be forgotten (GDPR art. 17): their key is deleted, so their
        personal fields read as null in every event. ``reason`` must not name them."""

        reason: str | None

    @classmethod
    def evolve(cls, state: Contact | None, event: Event) -> Contact:
        if isinstance(event, Contact.Registered):
            return Contact(event.originator_id, event.originator_version, _details(event), event.status, event.owner_id)
        assert state is not None
        state = replace(state, version=event.originator_version)
        match event:
            case Contact.DetailsChanged():
                return replace(state, details=_details(event))
            case Contact.StatusChanged():
                return replace(state, status=event.status)
            case Contact.OwnerChanged():
                return replace(state, owner_id=event.owner_id)
            case Contact.Forgotten():
                erased = replace(state.details, **{name: None for name in PERSONAL})
                return replace(state, details=erased, forgotten=True)
        raise TypeError(f"Contact cannot apply {type(event).__qualname__}")


def _details(event: Contact.Registered | Contact.DetailsChanged) -> ContactDetails:
    fields = {name: getattr(event, name) for name in ContactDetails.__dataclass_fields__}
    fields["tags"] = tuple(fields["tags"])
    if fields["properties"] is not None:
        fields["properties"] = dict(fields["properties"])
    return ContactDetails(**fields)


def _fields(details: ContactDetails) -> dict[str, Any]:
    fields = asdict(details)
    fields["tags"] = tuple(details.tags)
    fields["properties"] = dict(details.properties or {})
    return fields


def register(contact_id: UUID, details: ContactDetails, status: str, owner_id: UUID | None, meta: Meta) -> list[Event]:
    return [new_event(Contact.Registered, contact_id, 1, meta, status=status, owner_id=owner_id, **_fields(details))]


def change(
    contact: Contact,
    details: dict[str, Any],
    status: str | None,
    owner_id: UUID | None,
    owner_given: bool,
    meta: Meta,
) -> list[Event]:
    """Record what changed: details, status and owner are separate facts."""
    _require_remembered(contact)
    decision = Decision(contact, meta)
    emit = decision.emit
    new_details = replace(contact.details, **details)
    if new_details != contact.details:
        emit(Contact.DetailsChanged, **_fields(new_details))
    if status is not None and status != contact.status:
        emit(Contact.StatusChanged, status=status, previous_status=contact.status)
    if owner_given and owner_id != contact.owner_id:
        emit(Contact.OwnerChanged, owner_id=owner_id, previous_owner_id=contact.owner_id)
    return decision.events


def forget(contact: Contact, reason: str | None, meta: Meta) -> list[Event]:
    """Forgetting twice changes nothing: the first time is the fact."""
    if contact.forgotten:
        return []
    return [contact.then(Contact.Forgotten, meta, reason=reason)]


def _require_remembered(contact: Contact) -> None:
    if contact.forgotten:
        raise RuleViolated("contact-forgotten", f"contact {contact.id} has been forgotten: it can no longer be changed")
