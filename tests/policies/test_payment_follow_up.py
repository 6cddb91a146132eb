"""The payment follow-up (F22) over a year, on SQLite and PostgreSQL: invoices issued through
HTTP, the policy runner and the outbox run day after day on the test's clock, reminders
delivered to a real SMTP server with the invoice attached — the expected ones, no more and
no fewer; a payment or a void stops them. 1 March 2026, 09:00 UTC, to 1 March 2027."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.outbox.senders import SmtpSender
from crm_es.queries import timeline as timelines
from tests.http.helpers import assert_problem, ok
from tests.policies.conftest import Inbox, settle

POLICY = "payment-follow-up"


class World:
    def __init__(self, client: TestClient, services: Services, clock: FrozenClock, inbox: Inbox, port: int) -> None:
        self.client, self.services, self.clock, self.inbox = client, services, clock, inbox
        self.dispatcher = Dispatcher(services.store, clock, {"email": SmtpSender(f"smtp://127.0.0.1:{port}",
                                                                                  "billing@seller.example")})
        self.alice = ok(client.post("/reps", json={"name": "Alice Martin", "email": "alice@seller.example"}))["id"]
        self.zoe = ok(client.post("/contacts", json={"first_name": "Zoë", "last_name": "Łukasz",
                                                     "email": "zoe@acme.example", "owner_id": self.alice}))["id"]
        self.received: list[tuple[date, str, str]] = []  # (day, subject, attached file)

    def invoice(self, due_on: str, amount: str = "1000.00") -> dict[str, Any]:
        return ok(self.client.post("/documents", json={
            "kind": "invoice", "contact_id": self.zoe, "currency": "EUR", "due_on": due_on,
            "lines": [{"description": "Licence", "quantity": "1", "unit_price": amount}]}))

    def settle(self) -> None:
        before = len(self.inbox.mails)
        settle(self.services, self.dispatcher)
        for index in range(before, len(self.inbox.mails)):
            mail = self.inbox.parsed(index)
            [pdf] = [part for part in mail.walk() if part.get_filename()]
            self.received.append((self.clock.now().date(), mail["Subject"], pdf.get_filename()))

    def until(self, day: date) -> None:
        """Day after day (at 09:00), each day's rounds run."""
        while self.clock.now().date() < day:
            self.clock.advance(days=1)
            self.settle()

    def reminders(self, number: str) -> list[date]:
        return [day for day, subject, _ in self.received if number in subject]


@pytest.fixture
def world(client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> World:
    ok(client.put(f"/policies/{POLICY}", json={"enabled": True}), 200)
    return World(client, services, clock, *smtp)


def test_a_year_of_invoices_gets_the_expected_reminders_and_no_more(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    unpaid = world.invoice("2026-03-31")  # never paid: three reminders, a week apart
    paid_late = world.invoice("2026-04-30")  # paid in part, then in full after its second reminder
    paid_early = world.invoice("2026-05-31")  # paid before it is due: none
    voided = world.invoice("2026-06-15")  # voided after its first reminder
    world.settle()

    world.until(date(2026, 5, 3))
    ok(world.client.post(f"/documents/{paid_late['id']}/payments", json={"amount": "400.00"}), 200)
    world.until(date(2026, 5, 9))
    ok(world.client.post(f"/documents/{paid_late['id']}/payments", json={"amount": "600.00"}), 200)
    ok(world.client.post(f"/documents/{paid_early['id']}/payments", json={"amount": "1000.00"}), 200)
    world.until(date(2026, 6, 17))
    ok(world.client.post(f"/documents/{voided['id']}/void", json={"reason": "sent to the wrong company"}), 200)
    world.until(date(2027, 3, 1))

    assert world.reminders(unpaid["number"]) == [date(2026, 4, 1), date(2026, 4, 8), date(2026, 4, 15)]
    assert world.reminders(paid_late["number"]) == [date(2026, 5, 1), date(2026, 5, 8)]
    assert world.reminders(paid_early["number"]) == []
    assert world.reminders(voided["number"]) == [date(2026, 6, 16)]
    assert len(inbox.mails) == 6
    for _, subject, attached in world.received:
        number = subject.removeprefix("Reminder: invoice ").removesuffix(" is overdue")
        assert attached == f"{number}.pdf"

    # Each carries the invoice as issued, and says what is left to pay.
    [second_of_paid_late] = [i for i, (_, subject, _) in enumerate(world.received) if paid_late["number"] in subject][1:]
    mail = inbox.parsed(second_of_paid_late)
    [pdf] = [part for part in mail.walk() if part.get_filename()]
    assert hashlib.sha256(pdf.get_payload(decode=True)).hexdigest() == paid_late["pdf_sha256"]
    text = mail.get_payload(0).get_payload(decode=True).decode()
    assert text.startswith("Hello Zoë,") and "600.00 EUR remain to be paid" in text and text.rstrip().endswith("Alice Martin")
    # The pending reminders of the paid invoices and the voided one were cancelled, not left to fire.
    assert ok(world.client.get("/outbox?status=cancelled"), 200)["counts"]["cancelled"] == 3


def test_each_reminder_names_the_policy_and_its_cause_on_the_timeline(world: World) -> None:
    invoice = world.invoice("2026-03-05")
    world.settle()
    world.until(date(2026, 3, 6))
    [sent] = timelines.timeline(world.services.store, UUID(world.zoe), types=["document_sent"]).items
    assert (sent["actor"], sent["data"]["number"]) == (f"policy:{POLICY}", invoice["number"])
    message_id = sent["cause"].removesuffix(":1")
    [queued] = world.services.store.events(UUID(message_id), lte=1)
    [fired] = [e for e in world.services.store.events(UUID(queued.causation_id.split(":")[0]))
               if type(e).__name__ == "Fired"]
    assert queued.actor == f"policy:{POLICY}" and queued.causation_id == f"{fired.originator_id}:{fired.originator_version}"
    document = ok(world.client.get(f"/documents/{invoice['id']}"), 200)
    assert [s["message_id"] for s in document["sent"]] == [message_id]


def test_the_settings_move_the_reminders(world: World) -> None:
    ok(world.client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {
        "grace_days": 3, "repeat_days": 10, "max_reminders": 2, "subject": "Invoice {number}: {days_overdue} days late",
        "body": "Dear {first_name} {last_name}, {balance} {currency} are due since {due_on}. {rep_name}"}}), 200)
    invoice = world.invoice("2026-03-10")
    world.settle()
    world.until(date(2026, 6, 1))
    assert world.reminders(invoice["number"]) == [date(2026, 3, 14), date(2026, 3, 24)]
    assert [subject for _, subject, _ in world.received] == [f"Invoice {invoice['number']}: 4 days late",
                                                             f"Invoice {invoice['number']}: 14 days late"]


@pytest.mark.parametrize(("bad", "field"), [
    ({"grace_days": -1}, "settings.grace_days"),
    ({"repeat_days": -7}, "settings.repeat_days"),
    ({"repeat_days": 0}, "settings.repeat_days"),
    ({"max_reminders": 0}, "settings.max_reminders"),
    ({"body": "Pay {amount_due} now"}, "settings.body"),
    ({"subject": "Invoice {number}\nBcc: x@example.com"}, "settings.subject"),
])
def test_bad_settings_are_refused_naming_the_setting(world: World, bad: dict[str, Any], field: str) -> None:
    before = world.services.store.max_position()
    problem = assert_problem(world.client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": bad}), 422)
    assert problem["errors"][0]["field"] == field, problem
    assert world.services.store.max_position() == before

