"""A message's words about a person stay sealed or out of the clear copies (issue 16): a
canceller's note, a refusal quoting the address. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

import orjson

from crm_es.aggregates import message as messages
from crm_es.aggregates.base import Meta
from crm_es.aggregates.message import Message
from crm_es.store import personal
from crm_es.store.codec import dumps, is_token, upcast

AT = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
META = Meta(AT, AT, "dev", "req-1")
JEAN, MESSAGE = UUID(int=1), UUID(int=2)
KEYS = {str(JEAN): personal.new_key()}
LAST_ERROR = 7  # its place in OUTBOX_COLUMNS


def queued(to: str = "Jean.Dupont@Example.com") -> Message:
    [event], _row = messages.queue(MESSAGE, "email", to, "Hello Jean", "user-message", META, contact_id=JEAN,
                                   subject="Your order")
    return Message.evolve(None, event)


def stored(event) -> dict:
    state = dict(vars(personal.seal_event(event, KEYS)))
    del state["originator_id"], state["originator_version"]
    return orjson.loads(dumps(state))


def test_a_cancellers_note_is_sealed_and_the_outbox_row_keeps_only_the_services_words() -> None:
    [event], row = messages.cancel(queued(), "cancelled by dev", META, note="Jean called: his wife is ill")
    state = stored(event)
    assert is_token(state["note"]) and state["reason"] == "cancelled by dev"
    assert b"Jean" not in dumps(state)
    assert row[LAST_ERROR] == "cancelled by dev"

    opened = personal.open_state(Message.Cancelled, state, MESSAGE, KEYS)
    assert opened["note"] == "Jean called: his wife is ill"  # GET /messages/{id} shows it while the key lives
    assert Message.evolve(queued(), event).last_error == "Jean called: his wife is ill"
    assert personal.open_state(Message.Cancelled, stored(event), MESSAGE, {})["note"] is None  # forgotten


def test_a_v1_cancel_keeps_its_reason_as_stored_and_gets_no_note() -> None:
    [event], _row = messages.cancel(queued(), "they called first", META)
    v1 = {k: v for k, v in stored(event).items() if k not in ("note", "contact_id", "class_version")}
    upcast_state = upcast(Message.Cancelled, v1)
    assert (upcast_state["reason"], upcast_state["note"], upcast_state["contact_id"]) == ("they called first", None, None)


def test_a_refusal_quoting_the_address_in_another_case_is_redacted() -> None:
    error = "550 5.1.1 <jean.dupont@example.com>: Recipient address rejected"
    assert messages.redacted(error, queued()) == "550 5.1.1 <<recipient>>: Recipient address rejected"
