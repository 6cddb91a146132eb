"""Contact-frequency caps (F37) on SQLite and PostgreSQL: set through HTTP, applied by the
outbox's dispatcher to every automated e-mail and SMS about a contact, delivered to a real
SMTP server in the test process. What the cap holds back is recorded and sent later."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from fastapi.testclient import TestClient

from crm_es.aggregates import message as messages
from crm_es.aggregates.base import Meta
from crm_es.aggregates.message import Message
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.outbox.caps import Cap
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.outbox.senders import SmtpSender
from tests.http.helpers import assert_problem, ok
from tests.policies.conftest import Inbox

CAP = "/policies/contact-frequency-cap"


def contact(client: TestClient, email: str) -> str:
    return ok(client.post("/contacts", json={"first_name": "Jean", "last_name": "Dupont", "email": email}))["id"]


def queue(services: Services, clock: FrozenClock, contact_id: str, to: str, channel: str = "email") -> str:
    """A message as a sending policy queues it."""
    message_id = uuid4()
    meta = Meta(clock.now(), clock.now(), "policy:drip-sequences", "req-1", "some-event:1")
    subject = "News" if channel == "email" else None
    events, row = messages.queue(message_id, channel, to, "Hello", "drip-sequences", meta, contact_id=UUID(contact_id),
                                 subject=subject)
    services.store.save(events, outbox=[row])
    return str(message_id)


def outbox(client: TestClient, **params: str) -> dict[str, Any]:
    return ok(client.get("/outbox", params=params), 200)


def dispatcher(services: Services, clock: FrozenClock, port: int) -> Dispatcher:
    return Dispatcher(services.store, clock, {"email": SmtpSender(f"smtp://127.0.0.1:{port}", "crm@seller.example")})


def test_over_the_cap_a_message_is_held_back_and_sent_when_the_window_frees_a_place(
        client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    ok(client.put(CAP, json={"enabled": True, "settings": {"max_messages": 2, "window_days": 7}}), 200)
    jean = contact(client, "jean@acme.example")
    anne = contact(client, "anne@acme.example")
    start = clock.now()
    ids = [queue(services, clock, jean, "jean@acme.example") for _ in range(3)]
    other = queue(services, clock, anne, "anne@acme.example")  # another contact has a cap of their own
    outbound = dispatcher(services, clock, port)

    assert outbound.run_once() == 3
    assert sorted(to for mail in inbox.mails for to in mail.rcpt_tos) == ["anne@acme.example", *["jean@acme.example"] * 2]
    states = {i: services.store.load(Message, UUID(i)) for i in [*ids, other]}
    [held] = [m for m in states.values() if m.status == "held"]
    assert held.contact_id == UUID(jean) and held.attempts == 0
    assert held.next_attempt_at == start + timedelta(days=7), "the window frees a place when the first two leave it"
    [event] = [e for e in services.store.events(held.id) if isinstance(e, Message.HeldBack)]
    assert "2 automated message(s) in 7 day(s)" in event.reason and event.actor == "outbox"

    # Visible in GET /outbox: counted, listed with its reason and when it is due.
    listed = outbox(client, status="held")
    assert listed["counts"]["held"] == 1 and listed["counts"]["sent"] == 3
    [row] = listed["items"]
    assert (row["delivery_id"], row["last_error"]) == (str(held.id), event.reason)
    assert datetime.fromisoformat(row["next_attempt_at"]) == start + timedelta(days=7)

    clock.advance(days=6, hours=23)
    assert outbound.run_once() == 0 and len(inbox.mails) == 3
    assert len([e for e in services.store.events(held.id) if isinstance(e, Message.HeldBack)]) == 1, \
        "not due: not looked at again"
    clock.advance(hours=1)
    assert outbound.run_once() == 1
    assert len(inbox.mails) == 4 and inbox.mails[-1].rcpt_tos == ["jean@acme.example"]
    assert services.store.load(Message, held.id).status == "sent"
    assert outbox(client)["counts"] == {"pending": 0, "sent": 4, "failed": 0, "dead": 0, "cancelled": 0, "held": 0}


def test_a_held_message_waits_again_when_others_took_the_freed_places(
        client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    ok(client.put(CAP, json={"enabled": True, "settings": {"max_messages": 1, "window_days": 1}}), 200)
    jean = contact(client, "jean@acme.example")
    outbound = dispatcher(services, clock, port)
    first, second, third = (queue(services, clock, jean, "jean@acme.example") for _ in range(3))
    assert outbound.run_once() == 1
    clock.advance(days=1)
    assert outbound.run_once() == 1  # one place freed: one of the two held goes, the other waits a day more
    assert len(inbox.mails) == 2
    statuses = sorted(services.store.load(Message, UUID(i)).status for i in (first, second, third))
    assert statuses == ["held", "sent", "sent"]
    clock.advance(days=1)
    assert outbound.run_once() == 1 and len(inbox.mails) == 3


def test_with_the_cap_off_every_message_goes(client: TestClient, services: Services, clock: FrozenClock,
                                             smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    jean = contact(client, "jean@acme.example")
    for _ in range(3):
        queue(services, clock, jean, "jean@acme.example")
    assert dispatcher(services, clock, port).run_once() == 3 and len(inbox.mails) == 3
    # Switched on, then off again: off means off, whatever its settings.
    ok(client.put(CAP, json={"enabled": True, "settings": {"max_messages": 1}}), 200)
    ok(client.put(CAP, json={"enabled": False, "settings": {"max_messages": 1}}), 200)
    queue(services, clock, jean, "jean@acme.example")
    assert dispatcher(services, clock, port).run_once() == 1 and len(inbox.mails) == 4
    assert outbox(client)["counts"]["held"] == 0


def test_the_cap_is_listed_and_bad_settings_are_refused(client: TestClient, services: Services) -> None:
    listed = {p["name"]: p for p in ok(client.get("/policies"), 200)["items"]}
    assert listed["contact-frequency-cap"]["enabled"] is False
    assert listed["contact-frequency-cap"]["settings"] == {"max_messages": 3, "window_days": 7.0}
    before = services.store.max_position()
    for settings, field in (({"max_messages": 0}, "max_messages"), ({"window_days": 0}, "window_days"),
                            ({"max_messages": 2, "per_day": 1}, "per_day")):
        problem = assert_problem(client.put(CAP, json={"enabled": True, "settings": settings}), 422)
        assert problem["errors"][0]["field"] == f"settings.{field}"
    assert services.store.max_position() == before


def test_the_place_frees_when_the_oldest_message_that_must_leave_the_window_has_left() -> None:
    t = datetime.fromisoformat("2026-03-01T09:00:00+00:00")
    cap = Cap(2, timedelta(days=7))
    assert cap.held_until([]) is None and cap.held_until([t]) is None
    assert cap.held_until([t, t + timedelta(days=1)]) == t + timedelta(days=7)
    # Three in the window (the cap was lower before): two must leave, the second's exit frees a place.
    assert cap.held_until([t, t + timedelta(days=1), t + timedelta(days=2)]) == t + timedelta(days=8)
