"""A send that cannot go is refused at once, on SQLite and PostgreSQL: with no SMTP server
configured, a person's e-mail (a message, a document) is a 409 channel-not-configured
naming the channel and its setting, and nothing is written; configured (a real SMTP
server in the test process), the same sends go. An automation's e-mail on the unconfigured
channel waits in the outbox, untouched, its status says why, and goes once SMTP is there.
The test's clock: 1 March 2026, 09:00 UTC."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.policies.service import dispatcher_for
from tests.http.helpers import assert_problem, ok, read
from tests.policies.conftest import Inbox, configure_smtp, settle

POLICY = "missed-meeting-follow-up"
LINES = [{"description": "Licence", "quantity": "1", "unit_price": "100.00"}]


class World:
    def __init__(self, client: TestClient, services: Services) -> None:
        self.client, self.services = client, services
        self.alice = ok(client.post("/reps", json={"name": "Alice Martin", "email": "alice@seller.example"}))["id"]
        self.jean = ok(client.post("/contacts", json={"first_name": "Jean", "last_name": "Dupont", "owner_id": self.alice,
                                                      "email": "jean@acme.example", "phone": "+33612345678"}))["id"]
        self.invoice = ok(client.post("/documents", json={"kind": "invoice", "contact_id": self.jean, "currency": "EUR",
                                                          "due_on": "2026-03-31", "lines": LINES}))["id"]

    def outbox(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.services.store.side_tables.read(
            "SELECT policy, channel, status, attempts FROM {outbox} WHERE channel <> 'timer' ORDER BY created_at")]

    def policy(self, name: str) -> dict[str, Any]:
        items = read(self.client, "/policies", self.services.store.max_position())["items"]
        return next(p for p in items if p["name"] == name)


@pytest.fixture
def world(client: TestClient, services: Services) -> World:
    return World(client, services)


@pytest.mark.parametrize("path, body, channel, setting", [
    ("/contacts/{jean}/messages", {"subject": "Our offer", "body": "Hello"}, "email", "CRM_ES_SMTP_URL"),
    ("/contacts/{jean}/messages", {"subject": "Later", "body": "Hello", "send_at": "2026-03-02T09:00:00Z"}, "email",
     "CRM_ES_SMTP_URL"),
    ("/contacts/{jean}/messages", {"channel": "sms", "body": "See you at 10"}, "sms", "CRM_ES_SMS_URL"),
    ("/documents/{invoice}/send", {}, "email", "CRM_ES_SMTP_URL"),
])
def test_a_send_on_a_channel_not_configured_is_refused_at_once(world: World, path: str, body: dict[str, Any],
                                                               channel: str, setting: str) -> None:
    before = world.services.store.max_position()
    url = path.format(jean=world.jean, invoice=world.invoice)
    problem = assert_problem(world.client.post(url, json=body), 409, "channel-not-configured")
    assert (problem["channel"], problem["setting"]) == (channel, setting)
    assert setting in problem["detail"]
    if "messages" in path:
        assert problem["field"] == "channel"
    assert world.services.store.max_position() == before and world.outbox() == []


def test_with_smtp_configured_the_same_sends_go_to_the_server(world: World, services: Services,
                                                              smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    configure_smtp(services, port)
    message = ok(world.client.post(f"/contacts/{world.jean}/messages", json={"subject": "Our offer", "body": "Hello"}), 202)
    document = ok(world.client.post(f"/documents/{world.invoice}/send", json={}), 202)
    # The outbox as the service wires it from its settings (policies/service.py).
    assert dispatcher_for(services.store, services.clock, services.settings).run_once() == 2
    assert sorted(mail["X-CRM-ES-Delivery-Id"] for mail in map(inbox.parsed, range(len(inbox.mails)))) == sorted(
        [message["id"], document["id"]])
    assert_problem(world.client.post(f"/contacts/{world.jean}/messages", json={"channel": "sms", "body": "Hi"}), 409,
                   "channel-not-configured")


def test_an_automation_s_email_waits_for_smtp_and_its_status_says_so(
        world: World, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int], run) -> None:
    inbox, port = smtp
    client = world.client
    ok(client.put(f"/policies/{POLICY}", json={"enabled": True}), 200)
    ok(client.post(f"/contacts/{world.jean}/interactions", json={"type": "meeting_missed", "rep_id": world.alice,
                                                                 "mode": "video"}))
    unconfigured = dispatcher_for(services.store, clock, services.settings)
    settle(services, unconfigured)
    end = services.store.max_position()
    clock.advance(hours=12)
    assert unconfigured.run_once() == 0 and services.store.max_position() == end, "not tried, nothing written"
    assert world.outbox() == [{"policy": POLICY, "channel": "email", "status": "pending", "attempts": 0}]
    shown = world.policy(POLICY)
    assert shown["last_error"] is None  # the automation did its part: the channel is missing
    assert shown["warning"] == ("1 e-mail message waits in the outbox: e-mail is not configured "
                                "(set CRM_ES_SMTP_URL and restart)")
    assert "warning: 1 e-mail message waits" in run("policies", "--status").stdout

    configure_smtp(services, port)  # the service restarted with SMTP
    assert dispatcher_for(services.store, clock, services.settings).run_once() == 1
    assert inbox.parsed()["To"] == "jean@acme.example"
    assert world.outbox()[0]["status"] == "sent" and world.policy(POLICY)["warning"] is None
