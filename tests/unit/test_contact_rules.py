"""The contact's rules, given events / when a decision / then events. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import pytest

from crm_es.aggregates import contact as contacts
from crm_es.aggregates.base import Event, Meta, RuleViolated
from crm_es.aggregates.contact import Contact, ContactDetails

META = Meta(
    occurred_at=datetime(2026, 1, 15, 11, 0, tzinfo=timezone.utc),
    recorded_at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc),
    actor="api-key:import",
    correlation_id="req-77",
    causation_id="evt-3",
)
CONTACT_ID = UUID(int=31)
ALICE, BOB = UUID(int=41), UUID(int=42)
ACME = UUID(int=51)
DETAILS = ContactDetails("Ada", "Lovelace", "ada@example.com", phone="+44 20 1234", company_id=ACME, tags=("vip", "uk"),
                         properties={"newsletter": True})


def registered(details: ContactDetails = DETAILS, status: str = "prospect", owner: UUID | None = ALICE) -> list[Event]:
    return contacts.register(CONTACT_ID, details, status, owner, META)


def given(*history: Sequence[Event]) -> Contact:
    state = Contact.fold(e for events in history for e in events)
    assert state is not None
    return state


def change(contact: Contact, details: dict[str, Any] | None = None, status: str | None = None,
           owner: UUID | None = None, owner_given: bool = False) -> list[Event]:
    return contacts.change(contact, details or {}, status, owner, owner_given, META)


def test_a_registered_contact_has_its_details_status_and_owner() -> None:
    [event] = registered()

    assert isinstance(event, Contact.Registered)
    contact = given([event])
    assert (contact.id, contact.version, contact.status, contact.owner_id) == (CONTACT_ID, 1, "prospect", ALICE)
    assert contact.details == DETAILS


def test_a_contact_registered_without_properties_has_empty_properties() -> None:
    [event] = registered(ContactDetails("Grace", "Hopper", "grace@example.com"))

    assert event.properties == {}
    assert event.tags == ()


def test_changing_nothing_records_nothing() -> None:
    contact = given(registered())

    assert change(contact) == []
    assert change(contact, {"first_name": "Ada", "tags": ("vip", "uk")}, status="prospect", owner=ALICE, owner_given=True) == []


def test_new_details_record_a_snapshot_of_all_details() -> None:
    [event] = change(given(registered()), {"job_title": "Analyst"})

    assert isinstance(event, Contact.DetailsChanged)
    assert event.job_title == "Analyst"
    assert (event.first_name, event.email, event.company_id, event.tags, event.properties) == (
        "Ada", "ada@example.com", ACME, ("vip", "uk"), {"newsletter": True},
    )
    assert given(registered(), [event]).details.job_title == "Analyst"


def test_a_new_status_records_status_changed_with_the_previous_one() -> None:
    [event] = change(given(registered()), status="customer")

    assert isinstance(event, Contact.StatusChanged)
    assert (event.status, event.previous_status) == ("customer", "prospect")
    assert given(registered(), [event]).status == "customer"


def test_the_same_status_records_nothing() -> None:
    assert change(given(registered(status="lead")), status="lead") == []


def test_an_owner_is_changed_only_when_one_is_given() -> None:
    contact = given(registered())

    assert change(contact, owner=BOB, owner_given=False) == []
    [event] = change(contact, owner=BOB, owner_given=True)
    assert isinstance(event, Contact.OwnerChanged)
    assert (event.owner_id, event.previous_owner_id) == (BOB, ALICE)


def test_giving_no_owner_unassigns_the_contact() -> None:
    [event] = change(given(registered()), owner=None, owner_given=True)

    assert (event.owner_id, event.previous_owner_id) == (None, ALICE)
    assert given(registered(), [event]).owner_id is None


def test_details_status_and_owner_are_separate_facts() -> None:
    events = change(given(registered()), {"city": "London"}, status="customer", owner=BOB, owner_given=True)

    assert [type(e) for e in events] == [Contact.DetailsChanged, Contact.StatusChanged, Contact.OwnerChanged]
    assert [e.originator_version for e in events] == [2, 3, 4]
    contact = given(registered(), events)
    assert (contact.details.city, contact.status, contact.owner_id, contact.version) == ("London", "customer", BOB, 4)


def test_every_event_carries_who_when_and_why_from_the_meta() -> None:
    history = registered()
    history += change(given(history), {"email": "ada@lovelace.org"}, status="customer", owner=BOB, owner_given=True)

    assert len(history) == 4
    for event in history:
        assert (event.occurred_at, event.timestamp) == (META.occurred_at, META.recorded_at)
        assert (event.actor, event.correlation_id, event.causation_id) == ("api-key:import", "req-77", "evt-3")
        assert event.originator_id == CONTACT_ID


def test_folding_the_events_gives_the_state_built_step_by_step() -> None:
    state: Contact | None = None
    history: list[Event] = []
    for decide in (
        lambda c: registered(),
        lambda c: change(c, {"tags": ("vip",)}, status="lead"),
        lambda c: change(c, owner=BOB, owner_given=True),
        lambda c: change(c, {"email": "ada@lovelace.org", "properties": {}}, status="customer", owner=None, owner_given=True),
    ):
        for event in decide(state):
            state = Contact.evolve(state, event)
            history.append(event)

    assert Contact.fold(history) == state
    assert state is not None
    assert (state.details.email, state.details.tags, state.details.properties) == ("ada@lovelace.org", ("vip",), {})
    assert (state.status, state.owner_id, state.version) == ("customer", None, len(history))


def test_forgetting_erases_the_personal_details_and_keeps_the_rest() -> None:
    contact = given(registered())
    [event] = contacts.forget(contact, "ticket 12", META)

    assert isinstance(event, Contact.Forgotten) and (event.reason, event.originator_version) == ("ticket 12", 2)
    forgotten = given(registered(), [event])
    assert forgotten.forgotten
    assert [getattr(forgotten.details, f) for f in contacts.PERSONAL] == [None] * len(contacts.PERSONAL)
    assert (forgotten.details.tags, forgotten.details.company_id, forgotten.status, forgotten.owner_id) == (
        ("vip", "uk"), ACME, "prospect", ALICE)


def test_forgetting_twice_records_nothing_and_a_forgotten_contact_cannot_change() -> None:
    forgotten = given(registered(), contacts.forget(given(registered()), None, META))

    assert contacts.forget(forgotten, None, META) == []
    with pytest.raises(RuleViolated) as refused:
        change(forgotten, {"first_name": "Ada"})
    assert refused.value.rule == "contact-forgotten"


def test_the_personal_fields_are_marked_on_the_events_that_carry_them() -> None:
    assert Contact.Registered.personal_fields == Contact.DetailsChanged.personal_fields == contacts.PERSONAL
    assert Contact.StatusChanged.personal_fields == Contact.Forgotten.personal_fields == ()
