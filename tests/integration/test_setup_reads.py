"""The record configuration as commands read it (SQLite and PostgreSQL): remembered by
the store between reads, yet never behind a change written by another process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_es.aggregates import Company
from crm_es.aggregates.base import NotFound
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.record_values import InvalidValues
from crm_es.aggregates.setup import SETUP_ID, Setup
from crm_es.bootstrap import Services
from crm_es.commands import execute
from crm_es.commands.records import RegisterContact, register_contact
from crm_es.commands.setup import ChangeList, change_list, current_setup, read_setup
from crm_es.store import EventStore


@pytest.fixture
def other_store(services: Services) -> Iterator[EventStore]:
    """Another process's view of the same event store."""
    store = EventStore(services.store.env)
    try:
        yield store
    finally:
        store.close()


def statuses(services: Services, values: tuple[str, ...]) -> None:
    execute(change_list, ChangeList("statuses", values, "statuses"), services.context())


def test_a_change_made_elsewhere_is_seen_by_the_next_command(services: Services, other_store: EventStore) -> None:
    [before] = current_setup(other_store)  # remembered by the other store from now on
    assert before.version == 0
    statuses(services, ("new", "won over"))
    statuses(services, ("new", "won over", "gone"))

    [after] = current_setup(other_store)

    assert after.version == 3 and after.statuses == ("new", "won over", "gone")
    assert after == Setup.fold(services.store.events(SETUP_ID))  # as if folded from all its events
    register = RegisterContact(ContactDetails("Ada", "Lovelace", "ada@example.com"), status="gone")
    other = services.context()
    other.store = other_store
    assert execute(register_contact, register, other).version == 1
    with pytest.raises(InvalidValues):
        execute(register_contact, RegisterContact(ContactDetails("Bea", "B", "bea@example.com"), status="lead"), other)


def test_the_configuration_and_the_records_a_command_names_are_one_read(services: Services) -> None:
    ctx = services.context()
    with pytest.raises(NotFound) as missing:
        read_setup(ctx, (Company, None, "company_id"), (Company, SETUP_ID, "company_id"))
    assert missing.value.field == "company_id"  # the configuration's id is no company

    setup, [nothing] = read_setup(ctx, (Company, None, "company_id"))
    assert nothing is None and setup.version == 0
