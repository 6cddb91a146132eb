"""The record configuration's rules, what it makes of a record's values, and a contact's
lifecycle and roles: given events / when a decision / then events. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_es.aggregates import contact as contacts
from crm_es.aggregates import setup as setups
from crm_es.aggregates.base import InvalidInput, Meta, NotFound, RuleViolated
from crm_es.aggregates.contact import Contact, ContactDetails
from crm_es.aggregates.record_values import InvalidValues, RecordValues, checked
from crm_es.aggregates.setup import DEFAULT_STATUSES, SETUP_ID, PropertyDefinition, Setup, current

META = Meta(datetime(2026, 1, 15, 11, 0, tzinfo=timezone.utc), datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc), "dev", "req-1")
ACME, GLOBEX = UUID(int=51), UUID(int=52)
BUDGET = PropertyDefinition("contact", "budget", "money", required=True, default_currency="EUR")


def fold(*histories: list[Any]) -> Setup | None:
    return Setup.fold(e for events in histories for e in events)


# --- the configuration ----------------------------------------------------------------


def test_the_defaults_hold_until_the_first_change_which_records_them_first() -> None:
    assert current(None).statuses == DEFAULT_STATUSES and current(None).version == 0

    seeded, changed = setups.change_list(None, "statuses", ("lead", "customer"), META, "statuses")

    assert isinstance(seeded, Setup.Seeded) and seeded.statuses == DEFAULT_STATUSES and seeded.originator_id == SETUP_ID
    assert isinstance(changed, Setup.StatusesChanged)
    assert (changed.values, changed.added, changed.removed) == (("lead", "customer"), (), tuple(
        s for s in DEFAULT_STATUSES if s not in ("lead", "customer")))
    assert [e.originator_version for e in (seeded, changed)] == [1, 2]
    assert fold([seeded, changed]).statuses == ("lead", "customer")


def test_a_change_that_changes_nothing_records_nothing_not_even_the_seed() -> None:
    assert setups.change_list(None, "sources", setups.DEFAULT_SOURCES, META, "sources") == []
    assert setups.set_tag_category(None, "potential", ("Gold", "Silver", "Bronze"), META) == []
    history = setups.define_property(None, BUDGET, META)
    assert setups.define_property(fold(history), BUDGET, META) == []


def test_a_property_is_defined_changed_and_retired() -> None:
    defined = setups.define_property(None, BUDGET, META)
    assert [type(e) for e in defined] == [Setup.Seeded, Setup.PropertyDefined]
    changed = setups.define_property(fold(defined), PropertyDefinition("contact", "budget", "number"), META)
    assert [type(e) for e in changed] == [Setup.PropertyChanged]
    assert fold(defined, changed).property_named("contact", "budget") == PropertyDefinition("contact", "budget", "number")

    retired = setups.retire_property(fold(defined, changed), "contact", "budget", META)

    assert [type(e) for e in retired] == [Setup.PropertyRetired]
    assert fold(defined, changed, retired).properties == ()
    with pytest.raises(NotFound):
        setups.retire_property(fold(defined, changed, retired), "contact", "budget", META)


@pytest.mark.parametrize(("definition", "field"), [
    (PropertyDefinition("deal", "size", "choice"), "choices"),
    (PropertyDefinition("deal", "size", "text", choices=("S",)), "choices"),
    (PropertyDefinition("deal", "size", "multi_choice", choices=("S", "s")), "choices[1]"),
    (PropertyDefinition("deal", "size", "number", default_currency="EUR"), "default_currency"),
    (PropertyDefinition("deal", "size", "money", default_currency="XXX"), "default_currency"),
])
def test_a_definition_that_does_not_hold_together_is_refused_naming_the_field(definition, field) -> None:
    with pytest.raises(InvalidInput) as refused:
        setups.define_property(None, definition, META)
    assert refused.value.field == field


def test_a_tag_is_in_one_category_at_most_and_a_category_can_go() -> None:
    with pytest.raises(InvalidInput) as refused:
        setups.set_tag_category(None, "sector", ("Retail", "Gold"), META)
    assert refused.value.field == "tags[1]"

    history = setups.set_tag_category(None, "sector", ("Retail", "Industry"), META)
    removed = setups.remove_tag_category(fold(history), "potential", META)

    assert [c.name for c in fold(history, removed).tag_categories] == ["sector"]
    assert removed[0].tags == ("Gold", "Silver", "Bronze")
    with pytest.raises(NotFound):
        setups.remove_tag_category(fold(history, removed), "potential", META)


def test_a_value_given_twice_in_a_list_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        setups.change_list(None, "sources", ("ads", "Ads"), META, "sources")
    assert refused.value.field == "sources[1]"


names = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), unique=True, min_size=1)


@given(st.lists(names, min_size=1, max_size=5))
def test_each_list_change_says_what_it_added_and_removed_and_the_fold_is_the_last_list(lists: list[list[str]]) -> None:
    state: Setup | None = None
    for values in lists:
        before = current(state).contact_roles
        events = setups.change_list(state, "contact_roles", tuple(values), META, "roles")
        for event in events:
            state = Setup.evolve(state, event)
        if events:
            change = events[-1]
            assert set(change.added) == set(values) - set(before) and set(change.removed) == set(before) - set(values)
    assert current(state).contact_roles == tuple(lists[-1])


# --- a record's values ----------------------------------------------------------------


def configured(*definitions: PropertyDefinition) -> Setup:
    state = None
    for definition in definitions:
        for event in setups.define_property(state, definition, META):
            state = Setup.evolve(state, event)
    assert state is not None
    return state


SETUP = configured(
    BUDGET,
    PropertyDefinition("contact", "seats", "number"),
    PropertyDefinition("contact", "renewal", "date"),
    PropertyDefinition("contact", "vip", "boolean"),
    PropertyDefinition("contact", "size", "choice", choices=("S", "M", "L")),
    PropertyDefinition("contact", "topics", "multi_choice", choices=("crm", "erp")),
    PropertyDefinition("contact", "notes", "text"),
)
VALID = {"budget": "12.50"}


def errors_of(values: RecordValues, record_type: str = "contact") -> list[str]:
    with pytest.raises(InvalidValues) as refused:
        checked(SETUP, record_type, values)
    return [e["field"] for e in refused.value.errors]


def test_a_required_property_missing_or_empty_is_named() -> None:
    assert errors_of(RecordValues({})) == ["properties.budget"]
    assert errors_of(RecordValues({"budget": None})) == ["properties.budget"]
    assert errors_of(RecordValues({"budget": ""})) == ["properties.budget"]
    assert checked(SETUP, "company", RecordValues({})).properties == {}  # not a company property


@pytest.mark.parametrize(("name", "value"), [
    ("seats", "many"), ("seats", True), ("seats", [1]), ("seats", "1e999"), ("seats", 2**64),
    ("budget", "12,50"), ("budget", {"amount": "1", "currency": "ZZZ"}), ("budget", {"amount": "1", "extra": 1}),
    ("budget", "1.00001"), ("budget", False),
    ("renewal", "01/03/2026"), ("renewal", "2026-02-30"), ("renewal", 20260301),
    ("vip", "maybe"), ("vip", 1),
    ("size", "XL"), ("size", 1),
    ("topics", ["crm", "hr"]), ("topics", {"crm": True}),
    ("notes", 42),
])
def test_a_value_of_the_wrong_type_is_named(name: str, value: Any) -> None:
    assert errors_of(RecordValues({**VALID, name: value})) == [f"properties.{name}"]


@pytest.mark.parametrize(("name", "given_value", "stored"), [
    ("budget", "12.50", {"amount": "12.50", "currency": "EUR"}),
    ("budget", "12.50 USD", {"amount": "12.50", "currency": "USD"}),
    ("budget", {"amount": 3, "currency": "GBP"}, {"amount": "3", "currency": "GBP"}),
    ("seats", "12", 12), ("seats", " 2.5 ", 2.5), ("seats", 7, 7),
    ("renewal", "2026-03-01", "2026-03-01"),
    ("vip", "Yes", True), ("vip", False, False),
    ("size", "m", "M"),
    ("topics", ["ERP", "crm", "erp"], ["erp", "crm"]), ("topics", "crm", ["crm"]),
])
def test_a_value_is_kept_in_its_one_stored_form(name: str, given_value: Any, stored: Any) -> None:
    values = checked(SETUP, "contact", RecordValues({"budget": "1", name: given_value}))
    assert values.properties is not None and values.properties[name] == stored


def test_every_problem_is_reported_at_once_and_lists_say_what_is_allowed() -> None:
    with pytest.raises(InvalidValues) as refused:
        checked(SETUP, "contact", RecordValues({"seats": "x"}, status="lost", source="fair", lifecycle="gone",
                                              roles=("decision maker", "boss")))
    errors = {e["field"]: e for e in refused.value.errors}
    assert set(errors) == {"properties.budget", "properties.seats", "status", "source", "lifecycle", "roles[1]"}
    assert errors["status"]["allowed"] == list(DEFAULT_STATUSES)
    assert "customer" in errors["status"]["message"]


def test_list_values_take_their_configured_spelling() -> None:
    values = checked(SETUP, "contact", RecordValues(status="Customer", source="Trade Show", lifecycle="ACTIVE",
                                                   roles=("Billing Contact", "billing contact")))
    assert (values.status, values.source, values.lifecycle, values.roles) == (
        "customer", "trade show", "active", ("billing contact",))


@given(st.fixed_dictionaries({}, optional={
    "seats": st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.integers(0, 999).map(str),
    "vip": st.booleans() | st.sampled_from(["true", "no", "1"]),
    "size": st.sampled_from(["S", "m", "l"]),
    "topics": st.lists(st.sampled_from(["crm", "ERP"]), max_size=3),
    "budget": st.decimals(0, 10**6, places=2).map(str),
}))
def test_checking_a_stored_form_again_changes_nothing(properties: dict[str, Any]) -> None:
    once = checked(SETUP, "contact", RecordValues({"budget": "5", **properties}))
    assert checked(SETUP, "contact", once) == once


# --- a contact's lifecycle and roles --------------------------------------------------


def a_contact(company_id: UUID | None = ACME) -> Contact:
    events = contacts.register(UUID(int=31), ContactDetails("Ada", "Lovelace", "ada@example.com", company_id=company_id),
                               "prospect", None, META)
    return contacts.fold_onto(None, events)


def test_each_lifecycle_change_names_the_stage_before() -> None:
    first = contacts.change_lifecycle(a_contact(), "potential", META)
    contact = contacts.fold_onto(a_contact(), first)
    second = contacts.change_lifecycle(contact, "active", META)

    assert [(e.stage, e.previous_stage) for e in first + second] == [("potential", None), ("active", "potential")]
    assert contacts.change_lifecycle(contacts.fold_onto(contact, second), "active", META) == []
    assert contacts.change_lifecycle(contact, None, META) == []


def test_roles_are_assigned_and_ended_each_with_its_own_holding() -> None:
    assigned = contacts.settle_roles(a_contact(), ("decision maker", "billing contact"), META)
    contact = contacts.fold_onto(a_contact(), assigned)
    changed = contacts.settle_roles(contact, ("billing contact",), META)
    after = contacts.fold_onto(contact, changed)

    assert [(type(e).__name__, e.role, e.roles) for e in assigned + changed] == [
        ("RoleAssigned", "decision maker", ("decision maker",)),
        ("RoleAssigned", "billing contact", ("decision maker", "billing contact")),
        ("RoleEnded", "decision maker", ("billing contact",)),
    ]
    assert len({e.assignment_id for e in assigned}) == 2
    assert changed[0].assignment_id == assigned[0].assignment_id
    assert [r.role for r in after.roles] == ["billing contact"]
    assert contacts.settle_roles(after, None, META) == [] and contacts.settle_roles(after, ("billing contact",), META) == []


def test_roles_need_a_company_and_end_when_the_contact_moves() -> None:
    with pytest.raises(InvalidInput) as refused:
        contacts.settle_roles(a_contact(None), ("user",), META)
    assert refused.value.field == "roles"

    contact = contacts.fold_onto(a_contact(), contacts.settle_roles(a_contact(), ("user",), META))
    moved = contacts.fold_onto(contact, contacts.change(contact, {"company_id": GLOBEX}, None, None, False, META))
    [ended] = contacts.settle_roles(moved, None, META)

    assert isinstance(ended, Contact.RoleEnded) and (ended.company_id, ended.roles) == (ACME, ())


def test_leaving_the_company_ends_its_roles_and_clears_the_company() -> None:
    contact = contacts.fold_onto(a_contact(), contacts.settle_roles(a_contact(), ("user", "influencer"), META))

    [left] = contacts.leave_company(contact, "retired", META)
    after = contacts.fold_onto(contact, [left])

    assert isinstance(left, Contact.LeftCompany) and left.company_id == ACME and left.note == "retired"
    assert [r.role for r in left.ended_roles] == ["user", "influencer"]
    assert (after.details.company_id, after.roles) == (None, ())
    assert Contact.LeftCompany.personal_fields == ("note",)
    with pytest.raises(RuleViolated) as refused:
        contacts.leave_company(after, None, META)
    assert refused.value.rule == "no-company"
