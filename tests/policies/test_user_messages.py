"""Messages people send (F22 "at a set date and time"), on SQLite and PostgreSQL: queued
in the outbox, sent at their time to a real SMTP server, on the contact's timeline after;
cancelled before they go; bad requests refused naming the field, with nothing written.
The test's clock: 1 March 2026, 09:00 UTC."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from tests.http.helpers import assert_problem, ok, read
from tests.policies.conftest import Inbox
from tests.policies.test_missed_meeting import World

TOMORROW_TEN = "2026-03-02T10:00:00+01:00"  # 09:00 UTC, 24 hours from the test's start


@pytest.fixture
def world(client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> World:
    return World(client, services, clock, smtp[1])


def send(world: World, **body: Any) -> dict[str, Any]:
    return ok(world.client.post(f"/contacts/{world.jean}/messages", json={"subject": "Our offer", "body": "Hello Jean",
                                                                          **body}), 202)


def test_a_message_set_for_tomorrow_goes_then_and_lands_on_the_timeline(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    queued = send(world, send_at=TOMORROW_TEN)
    assert queued["delivery_id"] == queued["id"]
    world.settle()
    world.days(0.99)
    assert not inbox.mails  # not before its time
    assert ok(world.client.get(f"/messages/{queued['id']}"), 200)["status"] == "pending"
    world.days(0.02)
    [mail] = [inbox.parsed(i) for i in range(len(inbox.mails))]
    assert (mail["Subject"], mail["X-CRM-ES-Delivery-Id"]) == ("Our offer", queued["id"])
    shown = ok(world.client.get(f"/messages/{queued['id']}"), 200)
    assert (shown["status"], shown["sent_by"]) == ("sent", "dev")
    assert shown["send_at"] == TOMORROW_TEN  # as the sender set it, in their own offset
    timeline = read(world.client, f"/contacts/{world.jean}/timeline?limit=50", world.services.store.max_position())
    [sent] = [item for item in timeline["items"] if item["type"] == "email_sent"]
    assert sent["actor"] == "dev" and sent["data"]["message_id"] == f"<{queued['id']}@crm-es>"
    assert sent["cause"] == f"{queued['id']}:1"  # the message it was
    world.days(30)
    assert len(inbox.mails) == 1


def test_a_retried_send_writes_nothing_more(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    headers = {"Idempotency-Key": "send-offer-1"}
    body = {"subject": "Our offer", "body": "Hello Jean"}
    first = world.client.post(f"/contacts/{world.jean}/messages", json=body, headers=headers)
    end = world.services.store.max_position()
    again = world.client.post(f"/contacts/{world.jean}/messages", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202) and again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true" and world.services.store.max_position() == end
    world.settle()
    assert len(inbox.mails) == 1


def test_a_message_cancelled_before_its_time_never_goes(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    queued = send(world, send_at=TOMORROW_TEN)
    ok(world.client.post(f"/messages/{queued['id']}/cancel", json={"reason": "they called first"}), 200)
    world.days(2)
    assert not inbox.mails
    assert ok(world.client.get(f"/messages/{queued['id']}"), 200)["status"] == "cancelled"
    sent = send(world)
    world.settle()
    problem = assert_problem(world.client.post(f"/messages/{sent['id']}/cancel"), 409, "message-closed")
    assert "sent" in problem["detail"]


def test_the_cap_on_automated_messages_does_not_hold_a_person_s_back(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    ok(world.client.put("/policies/contact-frequency-cap", json={"enabled": True, "settings": {
        "max_messages": 1, "window_days": 7}}), 200)
    send(world)
    send(world, subject="And a second thought")
    world.settle()
    assert len(inbox.mails) == 2


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"body": "Hi", "send_at": "2026-02-28T09:00:00Z"}, 422, "send_at"),  # yesterday
    ({"body": "Hi", "send_at": "2027-06-01T09:00:00Z"}, 422, "send_at"),  # over a year ahead
    ({"body": "Hi", "send_at": "2026-03-02T10:00:00"}, 422, "send_at"),  # no offset: whose ten o'clock?
    ({"body": "Hi", "send_at": "tomorrow"}, 422, "send_at"),
    ({"body": ""}, 422, "body"),
    ({"body": "Hi", "channel": "fax"}, 422, "channel"),
    ({"body": "Hi", "channel": "sms"}, 409, "channel"),  # Jean has no phone number
    ({"body": "Hi", "channel": "sms", "document_ids": ["00000000-0000-4000-8000-000000000001"]}, 422, "document_ids"),
    ({"body": "Hi", "document_ids": ["00000000-0000-4000-8000-000000000001"]}, 404, "document_ids[0]"),
    ({"body": "Hi", "cc": "boss@acme.example"}, 422, "cc"),
])
def test_bad_requests_are_refused_naming_the_field_and_write_nothing(world: World, body: dict[str, Any], status: int,
                                                                     field: str) -> None:
    end = world.services.store.max_position()
    problem = assert_problem(world.client.post(f"/contacts/{world.jean}/messages", json=body), status)
    named = {problem.get("field")} | {e["field"] for e in problem.get("errors", [])}
    assert field in named, problem
    assert world.services.store.max_position() == end


def test_unknown_records_are_404(world: World) -> None:
    missing = "00000000-0000-4000-8000-00000000beef"
    assert_problem(world.client.post(f"/contacts/{missing}/messages", json={"body": "Hi"}), 404)
    assert_problem(world.client.get(f"/messages/{missing}"), 404)
    assert_problem(world.client.post(f"/messages/{missing}/cancel"), 404)
