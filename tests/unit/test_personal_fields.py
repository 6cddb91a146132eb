"""Sealing personal fields with a person's key, and what reading them gives. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_es.aggregates import contact as contacts
from crm_es.aggregates.base import Meta
from crm_es.aggregates.contact import Contact, ContactDetails
from crm_es.store import personal
from crm_es.store.codec import dumps, is_token

META = Meta(datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc), "dev", "req-1")
ADA, BOB = UUID(int=1), UUID(int=2)
KEYS = {str(ADA): personal.new_key(), str(BOB): personal.new_key()}
DETAILS = ContactDetails("Ada", "Lovelace", "ada@example.com", phone=None, city="London", properties={"vip": True})


def stored(event) -> dict:
    """The event's JSON as the store keeps it (without the envelope columns)."""
    state = dict(vars(personal.seal_event(event, KEYS)))
    del state["originator_id"], state["originator_version"]
    return orjson.loads(dumps(state))


def test_personal_values_are_stored_sealed_and_the_rest_in_clear() -> None:
    [event] = contacts.register(ADA, DETAILS, "prospect", None, META)
    state = stored(event)

    assert all(is_token(state[f]) for f in ("first_name", "last_name", "email", "properties"))
    assert state["phone"] is None, "a null stays null: nothing to seal"
    assert (state["city"], state["status"]) == ("London", "prospect")
    assert b"Ada" not in dumps(state) and b"ada@example.com" not in dumps(state)
    assert event.first_name == "Ada", "the event given to the store is left as it was"


def test_the_key_opens_them_and_without_it_they_read_as_null() -> None:
    [event] = contacts.register(ADA, DETAILS, "prospect", None, META)
    opened = personal.open_state(Contact.Registered, stored(event), ADA, KEYS)
    assert (opened["first_name"], opened["email"], opened["properties"]) == ("Ada", "ada@example.com", {"vip": True})

    erased = personal.open_state(Contact.Registered, stored(event), ADA, {})
    assert (erased["first_name"], erased["email"], erased["properties"], erased["city"]) == (None, None, None, "London")


def test_a_token_moved_to_another_persons_event_does_not_open() -> None:
    token = personal.seal_value("Ada", KEYS[str(ADA)], str(ADA))
    with pytest.raises(InvalidTag):
        personal.open_value(token, KEYS[str(ADA)], str(BOB))
    with pytest.raises(InvalidTag):
        personal.open_value(token, KEYS[str(BOB)], str(ADA))


def test_a_value_stored_before_sealing_existed_reads_as_it_was() -> None:
    plain = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": None}
    assert personal.open_state(Contact.Registered, dict(plain), ADA, {}) == plain


@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)))
def test_any_json_value_round_trips(value) -> None:
    key = KEYS[str(ADA)]
    assert personal.open_value(personal.seal_value(value, key, str(ADA)), key, str(ADA)) == value


def test_one_save_seals_a_persons_same_value_once_and_other_values_apart() -> None:
    sealer = personal.Sealer(KEYS)
    first, again, other = sealer.seal("v-42", str(ADA)), sealer.seal("v-42", str(ADA)), sealer.seal("v-43", str(ADA))
    assert first == again and first is not again  # the same token, not the same dict (events own theirs)
    assert other != first
    assert personal.Sealer(KEYS).seal("v-42", str(ADA)) != first  # another save: a fresh nonce
    bob = sealer.seal("v-42", str(BOB))
    assert bob != first and personal.open_value(bob, KEYS[str(BOB)], str(BOB)) == "v-42"
    assert personal.open_value(again, KEYS[str(ADA)], str(ADA)) == "v-42"
