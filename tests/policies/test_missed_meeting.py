"""The missed-meeting workflow (F21) end to end, on SQLite and PostgreSQL: through HTTP,
the policy runner and the outbox, to a real SMTP server in the test process. The clock is
the test's: days pass in a line. 1 March 2026 is a Sunday."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.policies.missed_meeting import free_slots
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.outbox.senders import SmtpSender
from tests.http.helpers import assert_problem, ok, read
from tests.policies.conftest import Inbox, configure_smtp, settle

POLICY = "missed-meeting-follow-up"
emails = itertools.count()
UTC = timezone.utc


class World:
    def __init__(self, client: TestClient, services: Services, clock: FrozenClock, port: int) -> None:
        self.client, self.services, self.clock = client, services, clock
        configure_smtp(services, port)
        self.dispatcher = Dispatcher(services.store, clock, {"email": SmtpSender(f"smtp://127.0.0.1:{port}",
                                                                                  "crm@seller.example")})
        self.alice = ok(client.post("/reps", json={"name": "Alice Martin", "email": f"alice{next(emails)}@seller.example"}))["id"]
        self.jean = ok(client.post("/contacts", json={"first_name": "Jean", "last_name": "Dupont", "owner_id": self.alice,
                                                      "email": f"jean{next(emails)}@acme.example"}))["id"]

    def settle(self) -> None:
        settle(self.services, self.dispatcher)

    def days(self, n: float) -> None:
        self.clock.advance(days=n)
        self.settle()

    def interaction(self, type: str, **fields: Any) -> dict[str, Any]:
        return ok(self.client.post(f"/contacts/{self.jean}/interactions", json={"type": type, "rep_id": self.alice, **fields}))

    def tasks(self) -> list[dict[str, Any]]:
        return read(self.client, f"/tasks?rep={self.alice}&status=open", self.services.store.max_position())["items"]


@pytest.fixture
def world(client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> World:
    w = World(client, services, clock, smtp[1])
    # Alice is busy on Monday 2 March from 09:00 to 10:00: Monday's first free slot is 10:00.
    ok(client.post("/tasks", json={"type": "meeting_video", "title": "Team meeting", "due_at": "2026-03-02T09:00:00Z",
                                   "duration_minutes": 60, "owner_id": w.alice}))
    ok(client.put(f"/policies/{POLICY}", json={"enabled": True}), 200)
    return w


def test_no_answer_gets_the_slots_then_a_reminder_then_a_call_task(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    world.interaction("meeting_missed", mode="video")
    world.settle()
    [first] = [inbox.parsed(i) for i in range(len(inbox.mails))]
    assert first["Subject"] == "Sorry we missed you" and first["To"].endswith("@acme.example")
    body = first.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert body.startswith("Hello Jean,") and body.rstrip().endswith("Alice Martin")
    # One free slot a working day: Monday after the team meeting, then Tuesday and Wednesday at nine.
    assert "- Monday 02 March, 10:00 UTC\n- Tuesday 03 March, 09:00 UTC\n- Wednesday 04 March, 09:00 UTC" in body

    world.days(2.9)
    assert len(inbox.mails) == 1  # not yet
    world.days(0.2)  # three days after the missed meeting
    assert len(inbox.mails) == 2 and inbox.parsed()["Subject"] == "Shall we find another time?"
    assert [t["title"] for t in world.tasks()] == ["Team meeting"]
    world.days(3)
    assert len(inbox.mails) == 2  # no more e-mails: the rep calls
    calls = [t for t in world.tasks() if t["type"] == "call"]
    assert [(t["title"], t["contact_id"]) for t in calls] == [("Call Jean Dupont: missed meeting, no answer", world.jean)]
    world.days(30)
    assert len(inbox.mails) == 2 and len([t for t in world.tasks() if t["type"] == "call"]) == 1


@pytest.mark.parametrize("answer", [{"type": "email_received", "subject": "Re: Sorry we missed you"},
                                    {"type": "meeting_held", "mode": "phone"}])
def test_an_answer_stops_the_follow_up(world: World, smtp: tuple[Inbox, int], answer: dict[str, Any]) -> None:
    inbox, _ = smtp
    world.interaction("meeting_missed")
    world.settle()
    world.days(1)
    world.interaction(**answer)
    world.days(10)
    assert len(inbox.mails) == 1  # the proposal only: no reminder
    assert not [t for t in world.tasks() if t["type"] == "call"]
    # A later missed meeting starts a new follow-up.
    world.interaction("meeting_missed")
    world.settle()
    print("SUBJECTS", [inbox.parsed(i)["Subject"] for i in range(len(inbox.mails))])
    assert len(inbox.mails) == 2 and inbox.parsed()["Subject"] == "Sorry we missed you"


def test_a_meeting_planned_counts_as_an_answer(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    world.interaction("meeting_missed")
    world.settle()
    world.days(1)
    ok(world.client.post("/tasks", json={"type": "meeting_on_site", "title": "Visit", "due_at": "2026-03-05T14:00:00Z",
                                         "owner_id": world.alice, "contact_id": world.jean}))
    world.days(10)
    assert len(inbox.mails) == 1 and not [t for t in world.tasks() if t["type"] == "call"]


def test_a_template_with_an_unknown_variable_is_refused_and_changes_nothing(world: World) -> None:
    before = world.services.store.max_position()
    body = {"enabled": True, "settings": {"body": "Hello {first_name}, your order {order_number} …"}}
    problem = assert_problem(world.client.put(f"/policies/{POLICY}", json=body), 422)
    assert problem["errors"][0]["field"] == "settings.body" and "{order_number}" in problem["detail"]
    assert_problem(world.client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {"first_hour": 18,
                                                                                                "last_hour": 9}}), 422)
    assert world.services.store.max_position() == before


def test_free_slots_take_the_first_free_time_of_each_working_day() -> None:
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    busy = [(datetime(2026, 3, 9, 9, 0, tzinfo=UTC), datetime(2026, 3, 9, 11, 30, tzinfo=UTC))]
    slots = free_slots(busy, friday, 2, 30, 9, 17, (0, 1, 2, 3, 4))
    # The weekend is skipped; Monday is busy until 11:30.
    assert slots == [datetime(2026, 3, 9, 11, 30, tzinfo=UTC), datetime(2026, 3, 10, 9, 0, tzinfo=UTC)]
    full_day = [(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), datetime(2026, 3, 10, 17, 0, tzinfo=UTC))]
    assert free_slots(full_day, datetime(2026, 3, 9, 12, tzinfo=UTC), 1, 30, 9, 17, (0, 1, 2, 3, 4)) == \
        [datetime(2026, 3, 11, 9, 0, tzinfo=UTC)]


def test_a_year_of_activity_sends_exactly_the_expected_emails(client: TestClient, services: Services, clock: FrozenClock,
                                                               smtp: tuple[Inbox, int]) -> None:
    """A year, day by day, with the test's clock: five contacts miss meetings, reply, hold
    meetings at random moments. A plain model of the workflow (below) says which e-mails
    and calls each should get; the SMTP server receives exactly those, no more, no fewer."""
    import random

    inbox, port = smtp
    rnd = random.Random(2026)
    world = World(client, services, clock, port)
    people = [world.jean] + [ok(client.post("/contacts", json={
        "first_name": f"P{i}", "last_name": "Test", "owner_id": world.alice, "email": f"p{i}-{next(emails)}@acme.example"}))["id"]
        for i in range(4)]
    address = {}
    ok(client.put(f"/policies/{POLICY}", json={"enabled": True}), 200)
    start = clock.now()
    moments: list[tuple[datetime, str | None, str | None]] = [(start + timedelta(days=d), None, None) for d in range(1, 366)]
    for person in people:
        t = start
        while (t := t + timedelta(seconds=rnd.randint(3_600, 9 * 86_400))) < start + timedelta(days=365):
            moments.append((t, person, rnd.choice(["meeting_missed", "meeting_missed", "email_received", "meeting_held"])))
    moments.sort(key=lambda m: m[0])

    # The model: per person, None or (stage, timer due); timers fire at the first moment at or after their due time.
    state: dict[str, tuple[str, datetime] | None] = dict.fromkeys(people)
    expected_mails = dict.fromkeys(people, 0)
    expected_calls = dict.fromkeys(people, 0)
    for at, person, kind in moments:
        for who, current in sorted(state.items(), key=lambda kv: kv[1][1] if kv[1] else at):
            if current is not None and current[1] <= at:
                if current[0] == "proposed":
                    expected_mails[who] += 1
                    state[who] = ("reminded", at + timedelta(days=3))
                else:
                    expected_calls[who] += 1
                    state[who] = None
        if person is None:
            continue
        if kind == "meeting_missed" and state[person] is None:
            expected_mails[person] += 1
            state[person] = ("proposed", at + timedelta(days=3))
        elif kind != "meeting_missed":
            state[person] = None

    for at, person, kind in moments:  # the same year, through the service
        clock.advance(seconds=(at - clock.now()).total_seconds())
        world.settle()
        if person is not None:
            fields = {"subject": "Re: hello"} if kind == "email_received" else {"mode": "video"}
            ok(client.post(f"/contacts/{person}/interactions", json={"type": kind, "rep_id": world.alice, **fields}))
            world.settle()

    for person in people:
        address[person] = read(client, f"/contacts/{person}", services.store.max_position())["email"]
    received: dict[str, int] = {}
    for envelope in inbox.mails:
        for to in envelope.rcpt_tos:
            received[to] = received.get(to, 0) + 1
    assert received == {address[p]: n for p, n in expected_mails.items() if n}
    calls = read(client, f"/tasks?rep={world.alice}&type=call&limit=500", services.store.max_position())["items"]
    got_calls = {p: sum(1 for t in calls if t["contact_id"] == p) for p in people}
    assert got_calls == expected_calls
    assert sum(expected_mails.values()) > 30 and sum(expected_calls.values()) > 3  # the year was not a quiet one


def test_a_follow_up_paused_by_switching_off_goes_on_when_switched_on(world: World, smtp: tuple[Inbox, int]) -> None:
    """Switched off, the policy's reminder waits (its timer is not fired unheard); switched
    on again, the follow-up goes on where it was: the reminder now, late, then the call."""
    inbox, _ = smtp
    world.interaction("meeting_missed")
    world.settle()
    ok(world.client.put(f"/policies/{POLICY}", json={"enabled": False}), 200)
    world.days(4)  # the reminder's time passes while it is off: no reminder
    assert len(inbox.mails) == 1
    ok(world.client.put(f"/policies/{POLICY}", json={"enabled": True}), 200)
    world.settle()
    assert len(inbox.mails) == 2 and inbox.parsed()["Subject"] == "Shall we find another time?"
    world.days(10)
    assert len(inbox.mails) == 2
    assert len([t for t in world.tasks() if t["type"] == "call"]) == 1


def test_the_call_goes_to_the_owner_when_the_rep_who_missed_it_has_left(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    bob = ok(world.client.post("/reps", json={"name": "Bob Leroy", "email": f"bob{next(emails)}@seller.example"}))["id"]
    world.interaction("meeting_missed", mode="video")
    world.settle()
    ok(world.client.patch(f"/contacts/{world.jean}", json={"owner_id": bob}), 200)
    ok(world.client.post(f"/reps/{world.alice}/deactivate", json={"reason": "left"}), 200)
    world.days(3.1)  # the reminder, signed by the owner now
    world.days(3.1)  # then the call
    reminder = inbox.parsed()
    assert len(inbox.mails) == 2 and reminder["Subject"] == "Shall we find another time?"
    assert reminder.get_payload(decode=True).decode().rstrip().endswith("Bob Leroy")
    calls = read(world.client, "/tasks?type=call&status=open", world.services.store.max_position())["items"]
    assert [(t["owner_id"], t["contact_id"]) for t in calls] == [(bob, world.jean)]


def test_a_miss_with_no_active_rep_left_starts_nothing(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    ok(world.client.post(f"/reps/{world.alice}/deactivate", json={"reason": "left"}), 200)  # rep and owner
    world.interaction("meeting_missed", mode="video")
    world.days(10)
    assert inbox.mails == [] and not read(world.client, "/tasks?type=call", world.services.store.max_position())["items"]
