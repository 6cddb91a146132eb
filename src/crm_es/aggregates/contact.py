"""A contact: a person, with status, owner, tags and custom properties.

E-mail uniqueness is not decided here: it is a claim the store enforces in the same
transaction as the events (see ``crm_es.store``), because no single aggregate sees
every contact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from crm_es.aggregates.base import Aggregate, Decision, Event, InvalidInput, Meta, RuleViolated, later, new_event
from crm_es.aggregates.interactions import KINDS, EmailBounced, Interaction, InteractionSpec, PageVisited, is_new_session


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
class HeldRole:
    """A role the contact holds at a company (F12), from its assignment until it ends."""

    company_id: UUID
    role: str
    assignment_id: UUID  # this holding of the role: the row of `contact_roles`


@dataclass(frozen=True)
class Contact(Aggregate):
    details: ContactDetails
    status: str
    owner_id: UUID | None
    forgotten: bool = False
    email_invalid: bool = False  # a hard bounce said the address does not exist
    last_visit_at: datetime | None = None  # the latest page visit, for telling sessions apart
    lifecycle: str | None = None  # potential, active, loyal, lost … (F16); None: not set yet
    roles: tuple[HeldRole, ...] = ()  # all at the contact's company
    changed_at: datetime | None = None  # business time of the last change (interactions aside)

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

    class EmailInvalidated(Event):
        """The contact's e-mail address is known not to work (F39): a hard bounce."""

        reason: str

    class EmailRevalidated(Event):
        """The address marked invalid was replaced by a new one (not known to bounce)."""

        reason: str

    # Record configuration (F12, F16, F39). Only LeftCompany's note is about the person.
    class LifecycleChanged(Event):
        stage: str
        previous_stage: str | None

    class RoleAssigned(Event):
        """``roles``: every role the contact holds after this one was given."""

        company_id: UUID
        role: str
        assignment_id: UUID
        roles: tuple[str, ...]

    class RoleEnded(Event):
        """``roles``: every role the contact still holds."""

        company_id: UUID
        role: str
        assignment_id: UUID
        roles: tuple[str, ...]

    class LeftCompany(Event):
        """The person left the company (F39): their roles there end and their company is
        cleared; the history stays. ``note`` is free text about them."""

        personal_fields = ("note",)

        company_id: UUID
        ended_roles: tuple[HeldRole, ...]
        note: str | None

    class Forgotten(Event):
        """The person asked to be forgotten (GDPR art. 17): their key is deleted, so their
        personal fields read as null in every event. ``reason`` must not name them."""

        reason: str | None

    @classmethod
    def evolve(cls, state: Contact | None, event: Event) -> Contact:
        if isinstance(event, Contact.Registered):
            return Contact(event.originator_id, event.originator_version, _details(event), event.status, event.owner_id,
                           changed_at=event.occurred_at)
        assert state is not None
        if isinstance(event, Interaction):  # the most frequent events (tracking): one quick copy each
            if isinstance(event, PageVisited) and (state.last_visit_at is None or event.occurred_at > state.last_visit_at):
                return state.moved_on(version=event.originator_version, last_visit_at=event.occurred_at)
            return state.moved_on(version=event.originator_version)
        state = replace(state, version=event.originator_version, changed_at=later(state.changed_at, event.occurred_at))
        match event:
            case Contact.EmailInvalidated():
                return replace(state, email_invalid=True)
            case Contact.EmailRevalidated():
                return replace(state, email_invalid=False)
            case Contact.DetailsChanged():
                return replace(state, details=_details(event))
            case Contact.StatusChanged():
                return replace(state, status=event.status)
            case Contact.OwnerChanged():
                return replace(state, owner_id=event.owner_id)
            case Contact.LifecycleChanged():
                return replace(state, lifecycle=event.stage)
            case Contact.RoleAssigned():
                return replace(state, roles=(*state.roles, HeldRole(event.company_id, event.role, event.assignment_id)))
            case Contact.RoleEnded():
                return replace(state, roles=tuple(r for r in state.roles if r.assignment_id != event.assignment_id))
            case Contact.LeftCompany():
                ended = {r.assignment_id for r in event.ended_roles}
                roles = tuple(r for r in state.roles if r.assignment_id not in ended)
                return replace(state, details=replace(state.details, company_id=None), roles=roles)
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
        if contact.email_invalid and new_details.email != contact.details.email:
            emit(Contact.EmailRevalidated, reason="address changed")
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
        raise forgotten_refusal(contact.id)


def forgotten_refusal(contact_id: UUID) -> RuleViolated:
    """The answer to a change of a forgotten contact (also when the store finds out first:
    their key gone while a batch was being decided)."""
    return RuleViolated("contact-forgotten", f"contact {contact_id} has been forgotten: it can no longer be changed")


def record_interaction(contact: Contact, spec: InteractionSpec, meta: Meta, session_gap: timedelta) -> list[Event]:
    """One interaction on the contact; a hard bounce also marks the address invalid."""
    _require_remembered(contact)
    cls = KINDS[spec.kind]
    fields = {**spec.fields, **cls.derived(spec.fields)}  # what stays in clear of the sealed fields
    if cls is PageVisited:
        fields["new_session"] = is_new_session(contact.last_visit_at, meta.occurred_at, session_gap)
    events: list[Event] = [contact.then(cls, meta, rep_id=spec.rep_id, deal_id=spec.deal_id, **fields)]
    if cls is EmailBounced and fields["bounce"] == "hard" and not contact.email_invalid:
        events.append(new_event(Contact.EmailInvalidated, contact.id, contact.version + 2, meta, reason="hard bounce"))
    return events


# --- lifecycle and roles (F12, F16, F39) ---------------------------------------------


def change_lifecycle(contact: Contact, stage: str | None, meta: Meta) -> list[Event]:
    """Any stage may follow any other (a lost customer can come back); None changes nothing."""
    _require_remembered(contact)
    if stage is None or stage == contact.lifecycle:
        return []
    return [contact.then(Contact.LifecycleChanged, meta, stage=stage, previous_stage=contact.lifecycle)]


def settle_roles(contact: Contact, wanted: tuple[str, ...] | None, meta: Meta) -> list[Event]:
    """The contact's roles at its company become ``wanted`` (None: kept), and the roles
    held at a company it is no longer at end: roles are always at its current company."""
    _require_remembered(contact)
    company_id = contact.details.company_id
    if wanted and company_id is None:
        raise InvalidInput("roles", "the contact has no company: roles are held at a company (set company_id)")
    decision = Decision(contact, meta)

    def held() -> tuple[str, ...]:
        return tuple(r.role for r in decision.state.roles)

    for role in contact.roles:
        if role.company_id != company_id or (wanted is not None and role.role not in wanted):
            still = tuple(r.role for r in decision.state.roles if r.assignment_id != role.assignment_id)
            decision.emit(Contact.RoleEnded, company_id=role.company_id, role=role.role,
                          assignment_id=role.assignment_id, roles=still)
    for name in wanted or ():
        if name not in held():
            # A new holding of the role, named by the event that starts it (pure and stable).
            assignment_id = uuid5(contact.id, f"role:{decision.state.version + 1}")
            decision.emit(Contact.RoleAssigned, company_id=company_id, role=name, assignment_id=assignment_id,
                          roles=(*held(), name))
    return decision.events


def leave_company(contact: Contact, note: str | None, meta: Meta) -> list[Event]:
    """Refused (409 ``no-company``) when the contact is at no company."""
    _require_remembered(contact)
    company_id = contact.details.company_id
    if company_id is None:
        raise RuleViolated("no-company", f"contact {contact.id} is not at a company", field="company_id")
    ended = tuple(r for r in contact.roles if r.company_id == company_id)
    return [contact.then(Contact.LeftCompany, meta, company_id=company_id, ended_roles=ended, note=note)]


def fold_onto(contact: Contact | None, events: list[Event]) -> Contact:
    """The contact after these new events of one decision (None: a new contact)."""
    for event in events:
        contact = Contact.evolve(contact, event)
    assert contact is not None
    return contact
