"""The company's rules, given events / when a decision / then events. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

from crm_es.aggregates import company as companies
from crm_es.aggregates.base import Event, Meta
from crm_es.aggregates.company import Company, CompanyDetails

META = Meta(
    occurred_at=datetime(2025, 12, 31, 23, 59, tzinfo=timezone.utc),
    recorded_at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc),
    actor="rep:carol",
    correlation_id="req-5",
)
COMPANY_ID = UUID(int=61)
DETAILS = CompanyDetails("Acme", "manufacturing", Decimal("12500000.00"), {"employees": 120})


def registered(details: CompanyDetails = DETAILS) -> list[Event]:
    return companies.register(COMPANY_ID, details, META)


def given(*history: Sequence[Event]) -> Company:
    state = Company.fold(e for events in history for e in events)
    assert state is not None
    return state


def test_a_registered_company_has_its_details() -> None:
    [event] = registered()

    assert isinstance(event, Company.Registered)
    assert (event.originator_id, event.originator_version) == (COMPANY_ID, 1)
    company = given([event])
    assert company.details == DETAILS
    assert company.version == 1


def test_a_company_registered_without_properties_has_empty_properties() -> None:
    [event] = registered(CompanyDetails("Initech"))

    assert (event.sector, event.annual_revenue, event.properties) == (None, None, {})
    assert given([event]).details.properties == {}


def test_changing_nothing_records_nothing() -> None:
    company = given(registered())

    assert companies.change(company, {}, META) == []
    assert companies.change(company, {"name": "Acme", "annual_revenue": Decimal("12500000.00")}, META) == []


def test_a_change_records_a_snapshot_of_all_details() -> None:
    [event] = companies.change(given(registered()), {"sector": "robotics"}, META)

    assert isinstance(event, Company.DetailsChanged)
    assert (event.originator_version, event.name, event.sector) == (2, "Acme", "robotics")
    assert (event.annual_revenue, event.properties) == (Decimal("12500000.00"), {"employees": 120})


def test_every_event_carries_who_when_and_why_from_the_meta() -> None:
    history = registered()
    history += companies.change(given(history), {"name": "Acme Corp"}, META)

    assert len(history) == 2
    for event in history:
        assert (event.occurred_at, event.timestamp) == (META.occurred_at, META.recorded_at)
        assert (event.actor, event.correlation_id, event.causation_id) == ("rep:carol", "req-5", None)


def test_folding_the_events_gives_the_state_built_step_by_step() -> None:
    state: Company | None = None
    history: list[Event] = []
    for decide in (
        lambda c: registered(),
        lambda c: companies.change(c, {"name": "Acme Corp"}, META),
        lambda c: companies.change(c, {"annual_revenue": None, "properties": {"employees": 150}}, META),
    ):
        for event in decide(state):
            state = Company.evolve(state, event)
            history.append(event)

    assert Company.fold(history) == state
    assert state == Company(COMPANY_ID, 3, CompanyDetails("Acme Corp", "manufacturing", None, {"employees": 150}))
