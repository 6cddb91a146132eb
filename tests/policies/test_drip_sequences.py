"""Drip sequences (F19) end to end, on SQLite and PostgreSQL: set through HTTP, run by the
policy runner and the outbox, delivered to a real SMTP server in the test process. The
clock is the test's: days pass in a line."""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from crm_es.aggregates.drip import Enrolment, enrolment_id
from crm_es.aggregates.message import Message
from crm_es.aggregates.timer import Timer
from crm_es.aggregates.unsubscription import Unsubscription, unsubscription_id
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.outbox.senders import SmtpSender
from tests.http.helpers import assert_problem, ok, read
from tests.policies.conftest import Inbox, settle

POLICY = "/policies/drip-sequences"
addresses = itertools.count()
WELCOME = {
    "name": "welcome",
    "enrol_when": {"status": "lead"},
    "steps": [
        {"after_days": 0, "subject": "Welcome, {first_name}", "body": "Hello {first_name} {last_name},\n\n{rep_name}"},
        {"after_days": 2, "subject": "Our offer", "body": "Hello {first_name}, here is our offer."},
        {"after_days": 3, "subject": "A last word", "body": "Hello {first_name}, anything we can do?"},
    ],
}


class World:
    def __init__(self, client: TestClient, services: Services, clock: FrozenClock, port: int) -> None:
        self.client, self.services, self.clock = client, services, clock
        self.dispatcher = Dispatcher(services.store, clock, {"email": SmtpSender(f"smtp://127.0.0.1:{port}",
                                                                                  "crm@seller.example")})
        self.alice = ok(client.post("/reps", json={"name": "Alice Martin", "email": f"alice{next(addresses)}@seller.example"}))["id"]

    def contact(self, **fields: Any) -> str:
        body = {"first_name": "Jean", "last_name": "Dupont", "owner_id": self.alice,
                "email": f"jean{next(addresses)}@acme.example", **fields}
        return ok(self.client.post("/contacts", json=body))["id"]

    def settle(self) -> None:
        settle(self.services, self.dispatcher)

    def days(self, n: float) -> None:
        self.clock.advance(days=n)
        self.settle()

    def enrolment(self, contact_id: str, sequence: str = "welcome") -> Enrolment | None:
        return self.services.store.load(Enrolment, enrolment_id(UUID(contact_id), sequence))


def subjects(inbox: Inbox) -> list[str]:
    return [inbox.parsed(i)["Subject"] for i in range(len(inbox.mails))]


@pytest.fixture
def world(client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> World:
    w = World(client, services, clock, smtp[1])
    ok(client.put(POLICY, json={"enabled": True, "settings": {"sequences": [WELCOME]}}), 200)
    return w


def test_a_lead_gets_each_step_after_its_delay_and_no_more(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    jean = world.contact(status="lead")
    world.contact(status="customer")  # matches no sequence: never mailed
    world.settle()
    assert subjects(inbox) == ["Welcome, Jean"]
    first = inbox.parsed(0)
    assert first["To"].startswith("jean") and first.get_payload(decode=True).decode().replace("\r\n", "\n") == \
        "Hello Jean Dupont,\n\nAlice Martin\n"
    world.days(1.9)
    assert len(inbox.mails) == 1  # not yet
    world.days(0.2)
    assert subjects(inbox) == ["Welcome, Jean", "Our offer"]
    world.days(2.9)
    assert len(inbox.mails) == 2
    world.days(0.2)  # three days after the second step
    assert subjects(inbox) == ["Welcome, Jean", "Our offer", "A last word"]
    world.days(60)
    assert len(inbox.mails) == 3
    state = world.enrolment(jean)
    assert state is not None and (state.status, state.next_step) == ("completed", 3)
    assert {to for mail in inbox.mails for to in mail.rcpt_tos} == {first["To"]}


def test_a_contact_is_enrolled_when_it_comes_to_match_and_only_once(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    criteria = {"status": "lead", "tag": "trade-show", "source": "trade show", "lifecycle": "potential"}
    show = {"name": "show", "enrol_when": criteria, "steps": [{"subject": "Nice to meet you", "body": "Hi {first_name}"}]}
    ok(world.client.put(POLICY, json={"enabled": True, "settings": {"sequences": [show]}}), 200)
    jean = world.contact(status="prospect", tags=["trade-show"], source="trade show", lifecycle="potential")
    world.settle()
    assert world.enrolment(jean, "show") is None and not inbox.mails  # not every criterion matches
    ok(world.client.patch(f"/contacts/{jean}", json={"status": "lead"}), 200)
    world.settle()
    assert subjects(inbox) == ["Nice to meet you"]
    assert world.enrolment(jean, "show").status == "completed"  # a single step
    ok(world.client.patch(f"/contacts/{jean}", json={"city": "Lyon"}), 200)  # still matches: not enrolled again
    ok(world.client.patch(f"/contacts/{jean}", json={"status": "prospect"}), 200)
    ok(world.client.patch(f"/contacts/{jean}", json={"status": "lead"}), 200)  # matches again: still not
    world.days(10)
    assert len(inbox.mails) == 1


def lead_scoring_hands_over(world: World, jean: str) -> None:
    ok(world.client.put("/policies/lead-scoring", json={"enabled": True, "settings": {"threshold": 5}}), 200)
    ok(world.client.post(f"/contacts/{jean}/interactions", json={"type": "page_visited",
                                                               "url": "https://seller.example/pricing"}))


STOPS = {
    "replied": lambda w, jean: ok(w.client.post(f"/contacts/{jean}/interactions",
                                                json={"type": "email_received", "subject": "Re: Welcome"})),
    "handed to a rep": lead_scoring_hands_over,
    "unsubscribed": lambda w, jean: ok(w.client.post(f"/contacts/{jean}/unsubscribe", json={"reason": "too many"}), 200),
    "forgotten": lambda w, jean: ok(w.client.post(f"/contacts/{jean}/forget", json={}), 200),
}


@pytest.mark.parametrize("reason", sorted(STOPS))
def test_a_reply_a_hand_over_an_unsubscribe_or_forgetting_stops_it(world: World, smtp: tuple[Inbox, int],
                                                                   reason: str) -> None:
    inbox, _ = smtp
    jean = world.contact(status="lead")
    world.settle()
    world.days(1)
    STOPS[reason](world, jean)
    world.days(30)
    assert subjects(inbox) == ["Welcome, Jean"]  # the first step only
    state = world.enrolment(jean)
    assert (state.status, state.stop_reason, state.next_step) == ("stopped", reason, 1)
    [timer] = world.services.store.side_tables.read(
        "SELECT delivery_id, status FROM {outbox} WHERE channel = 'timer' AND contact_id = ?", (jean,))
    assert timer["status"] == "cancelled", "the pending step's timer is cancelled"
    assert world.services.store.load(Timer, UUID(timer["delivery_id"])).data == {"sequence": "welcome", "step": 1}


def test_an_unsubscribed_contact_is_never_enrolled_and_unsubscribing_again_records_nothing(
        world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    jean = world.contact(status="prospect")
    first = ok(world.client.post(f"/contacts/{jean}/unsubscribe", json={"reason": "said so on the phone"}), 200)
    assert first["id"] == str(unsubscription_id(UUID(jean))) and first["version"] == 1
    again = ok(world.client.post(f"/contacts/{jean}/unsubscribe", json={"reason": "again"}), 200)
    assert again["version"] == 1 and world.services.store.load(Unsubscription, UUID(first["id"])).version == 1
    ok(world.client.patch(f"/contacts/{jean}", json={"status": "lead"}), 200)
    world.days(10)
    assert not inbox.mails and world.enrolment(jean) is None
    assert_problem(world.client.post("/contacts/00000000-0000-0000-0000-000000000001/unsubscribe"), 404, "not-found")
    assert_problem(world.client.post(f"/contacts/{jean}/unsubscribe", json={"reason": "x" * 501}), 422)
    [unsubscribed] = world.services.store.events(UUID(first["id"]))
    assert unsubscribed.reason == "said so on the phone"
    ok(world.client.post(f"/contacts/{jean}/forget", json={}), 200)
    assert_problem(world.client.post(f"/contacts/{jean}/unsubscribe"), 409, "contact-forgotten")
    [unsubscribed] = world.services.store.events(UUID(first["id"]))
    assert unsubscribed.reason is None, "free text about the person: erased with them"


def test_the_emails_message_id_lets_a_tracking_client_report_an_open(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    jean = world.contact(status="lead")
    world.settle()
    header = inbox.parsed(0)["Message-ID"]
    [queued] = [e for e in world.services.store.events(enrolment_id(UUID(jean), "welcome"))
                if isinstance(e, Enrolment.StepQueued)]
    assert header == f"<{queued.message_id}@crm-es>", "the outbox's delivery id, in the e-mail's Message-ID"
    assert world.services.store.load(Message, queued.message_id).status == "sent"
    # A tracking client reports the open with the Message-ID it saw: an ordinary interaction.
    opened = ok(world.client.post(f"/contacts/{jean}/interactions", json={"type": "email_opened", "message_id": header}))
    timeline = read(world.client, f"/contacts/{jean}/timeline?limit=50", opened["position"])["items"]
    by_type = {item["type"]: item for item in timeline}
    assert by_type["email_opened"]["data"]["message_id"] == header
    # The sent e-mail is on the timeline under the same id, with the automation as its actor.
    assert by_type["email_sent"]["data"]["message_id"] == header
    assert by_type["email_sent"]["actor"] == "policy:drip-sequences"


def test_steps_due_together_obey_the_contact_frequency_cap(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    burst = {"name": "burst", "steps": [{"subject": f"Part {n}", "body": "{first_name}"} for n in range(1, 4)]}
    ok(world.client.put(POLICY, json={"enabled": True, "settings": {"sequences": [burst]}}), 200)
    ok(world.client.put("/policies/contact-frequency-cap", json={"enabled": True, "settings": {
        "max_messages": 2, "window_days": 7}}), 200)
    world.contact()
    world.settle()
    assert sorted(subjects(inbox)) == ["Part 1", "Part 2"]
    assert ok(world.client.get("/outbox", params={"status": "held"}), 200)["counts"]["held"] == 1
    world.days(7)
    assert sorted(subjects(inbox)) == ["Part 1", "Part 2", "Part 3"]


@pytest.mark.parametrize(("bad", "field"), [
    ({"sequences": [{**WELCOME, "steps": [WELCOME["steps"][0], {"subject": "Hi", "body": "Your order {order}"}]}]},
     "settings.sequences[0].steps[1].body"),
    ({"sequences": [{**WELCOME, "steps": [{"subject": "Hi {first_name.__class__}", "body": "x"}]}]},
     "settings.sequences[0].steps[0].subject"),
    ({"sequences": [{**WELCOME, "steps": [{"subject": "Hi", "body": "{first_name:d}"}]}]},
     "settings.sequences[0].steps[0].body"),
    ({"sequences": [WELCOME, WELCOME]}, "settings.sequences[1].name"),
    ({"sequences": [{**WELCOME, "steps": []}]}, "settings.sequences[0].steps"),
    ({"sequences": [{**WELCOME, "enrol_when": {"colour": "red"}}]}, "settings.sequences[0].enrol_when.colour"),
])
def test_bad_settings_are_refused_naming_the_field_and_change_nothing(world: World, bad: dict[str, Any],
                                                                      field: str) -> None:
    before = world.services.store.max_position()
    problem = assert_problem(world.client.put(POLICY, json={"enabled": True, "settings": bad}), 422)
    assert problem["errors"][0]["field"] == field, problem
    assert world.services.store.max_position() == before


def test_switched_off_its_steps_wait_and_switched_on_they_go_on(world: World, smtp: tuple[Inbox, int]) -> None:
    """A step's timer due while the automation is off is not fired (it would be passed
    over, and the sequence would wait for ever): it waits, and fires once switched on."""
    inbox, _ = smtp
    jean = world.contact(status="lead")
    world.settle()
    ok(world.client.put(POLICY, json={"enabled": False, "settings": {"sequences": [WELCOME]}}), 200)
    world.days(4)  # step 2 was due after 2 days
    assert subjects(inbox) == ["Welcome, Jean"]
    assert world.enrolment(jean).active
    ok(world.client.put(POLICY, json={"enabled": True, "settings": {"sequences": [WELCOME]}}), 200)
    world.settle()
    assert subjects(inbox) == ["Welcome, Jean", "Our offer"]
    world.days(3)
    assert subjects(inbox) == ["Welcome, Jean", "Our offer", "A last word"]
