"""Recurring visits to Gold customers (F20) end to end, on SQLite and PostgreSQL: through
HTTP and the policy rounds, with the outbox's dispatcher firing the timers on the test's
clock. 1 March 2026 is a Sunday: the first visit is on Monday 2 March at 10:00 UTC."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.policies.recurring_visits import add_months, next_visit
from tests.http.helpers import assert_problem, ok, read
from tests.policies.conftest import settle

POLICY = "recurring-visits"
UTC = timezone.utc
unique = itertools.count()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Agenda:
    """A rep, her customers, and the rounds of the policies and the timers."""

    def __init__(self, client: TestClient, services: Services, clock: FrozenClock) -> None:
        self.client, self.services, self.clock = client, services, clock
        self.dispatcher = Dispatcher(services.store, clock, {})  # only timers: no message to send
        email = f"alice{next(unique)}@seller.example"
        self.alice = ok(client.post("/reps", json={"name": "Alice Martin", "email": email}))["id"]

    def customer(self, *tags: str, owner: str | None = "alice") -> str:
        n = next(unique)
        body = {"first_name": "Jean", "last_name": f"Dupont{n}", "email": f"jean{n}@acme.example", "tags": list(tags),
                "owner_id": self.alice if owner == "alice" else owner}
        contact = ok(self.client.post("/contacts", json=body))["id"]
        self.settle()
        return contact

    def settle(self) -> None:
        settle(self.services, self.dispatcher)

    def until(self, moment: datetime) -> None:
        self.clock.advance(seconds=(moment - self.clock.now()).total_seconds())
        self.settle()

    def days(self, n: float) -> None:
        self.until(self.clock.now() + timedelta(days=n))

    def tag(self, contact: str, *tags: str) -> None:
        ok(self.client.patch(f"/contacts/{contact}", json={"tags": list(tags)}), 200)
        self.settle()

    def visits(self, contact: str, status: str | None = None) -> list[dict[str, Any]]:
        query = f"/tasks?contact={contact}&type=customer_visit&limit=200" + (f"&status={status}" if status else "")
        items = read(self.client, query, self.services.store.max_position())["items"]
        return sorted(items, key=lambda t: at(t["due_at"]))

    def done(self, task: dict[str, Any]) -> None:
        ok(self.client.post(f"/tasks/{task['id']}/done"), 200)
        self.settle()


@pytest.fixture
def agenda(client: TestClient, services: Services, clock: FrozenClock) -> Agenda:
    a = Agenda(client, services, clock)
    ok(client.put(f"/policies/{POLICY}", json={"enabled": True}), 200)
    a.settle()
    return a


def test_a_gold_customer_gets_one_visit_and_the_next_four_months_after_it_is_done(agenda: Agenda) -> None:
    gold = agenda.customer("Gold")
    silver = agenda.customer("Silver")
    [visit] = agenda.visits(gold, "open")
    assert at(visit["due_at"]) == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert (visit["owner_id"], visit["title"], visit["duration_minutes"]) == (agenda.alice, "Customer visit", 60)
    assert agenda.visits(silver) == []
    agenda.tag(gold, "Gold", "VIP")  # still Gold: nothing more
    assert len(agenda.visits(gold)) == 1

    agenda.until(datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
    agenda.done(visit)
    [done] = agenda.visits(gold, "done")
    [following] = agenda.visits(gold, "open")
    assert done["id"] == visit["id"]
    assert at(following["due_at"]) == datetime(2026, 7, 2, 10, 0, tzinfo=UTC)  # a Thursday


def test_two_years_give_exactly_the_expected_visits_and_never_two_open(agenda: Agenda) -> None:
    """Day by day for two years: the rep does each visit on its day, except the third and
    the sixth, left open: a week after their time the policy cancels them and books the next
    four months after their day."""
    gold = agenda.customer("Gold")
    booked = 0
    for _ in range(730):
        agenda.days(1)
        open_visits = agenda.visits(gold, "open")
        assert len(open_visits) <= 1
        for visit in open_visits:
            if at(visit["due_at"]).date() == agenda.clock.now().date():
                booked += 1
                if booked not in (3, 6):
                    agenda.done(visit)
    assert agenda.clock.now().date() == date(2028, 2, 29)
    got = [(at(v["due_at"]).date().isoformat(), v["status"]) for v in agenda.visits(gold)]
    assert got == [("2026-03-02", "done"), ("2026-07-02", "done"), ("2026-11-02", "cancelled"),
                   ("2027-03-02", "done"), ("2027-07-02", "done"), ("2027-11-02", "cancelled"),
                   ("2028-03-02", "open")]


def test_the_tag_removed_stops_the_visits(agenda: Agenda) -> None:
    gold = agenda.customer("Gold")
    [visit] = agenda.visits(gold)
    agenda.tag(gold, "Silver")
    for _ in range(40):  # a year and more, in steps the timers can fire in
        agenda.days(10)
    # The visit booked stays the rep's (it may be agreed with the customer); no other comes.
    assert [(v["id"], v["status"]) for v in agenda.visits(gold)] == [(visit["id"], "open")]
    # Gold again: the overdue visit is taken over, counts as passed, and the next is booked, one at a time.
    agenda.tag(gold, "Gold")
    old, new = agenda.visits(gold)
    assert (old["id"], old["status"], new["status"]) == (visit["id"], "cancelled", "open")
    assert at(new["due_at"]) > agenda.clock.now()


def test_a_visit_the_rep_booked_is_taken_over_not_doubled(agenda: Agenda) -> None:
    customer = agenda.customer("Silver")
    own = ok(agenda.client.post("/tasks", json={"type": "customer_visit", "title": "Visit at their plant",
                                                "due_at": "2026-03-20T14:00:00Z", "owner_id": agenda.alice,
                                                "contact_id": customer}))["id"]
    agenda.tag(customer, "Gold")
    assert [v["id"] for v in agenda.visits(customer)] == [own]
    agenda.until(datetime(2026, 3, 20, 16, 0, tzinfo=UTC))
    agenda.done({"id": own})
    [following] = agenda.visits(customer, "open")
    assert at(following["due_at"]) == datetime(2026, 7, 20, 10, 0, tzinfo=UTC)


def test_a_visit_moved_later_is_waited_for(agenda: Agenda) -> None:
    gold = agenda.customer("Gold")
    [visit] = agenda.visits(gold)
    ok(agenda.client.post(f"/tasks/{visit['id']}/reschedule", json={"due_at": "2026-03-30T10:00:00Z"}), 200)
    agenda.until(datetime(2026, 3, 30, 9, 0, tzinfo=UTC))  # past the first time and its week of grace
    assert [(v["id"], v["status"]) for v in agenda.visits(gold)] == [(visit["id"], "open")]
    agenda.done(visit)
    [following] = agenda.visits(gold, "open")
    assert at(following["due_at"]) == datetime(2026, 7, 30, 10, 0, tzinfo=UTC)


def test_a_forgotten_customer_gets_no_more_visits(agenda: Agenda) -> None:
    gold = agenda.customer("Gold")
    ok(agenda.client.post(f"/contacts/{gold}/forget", json={"reason": "ticket 42"}), 200)
    agenda.settle()
    assert [v["status"] for v in agenda.visits(gold)] == ["cancelled"]  # no one left to visit
    agenda.days(200)
    assert len(agenda.visits(gold)) == 1


def test_no_owner_no_visit_until_one_is_given(agenda: Agenda) -> None:
    gold = agenda.customer("Gold", owner=None)
    assert agenda.visits(gold) == []
    ok(agenda.client.patch(f"/contacts/{gold}", json={"owner_id": agenda.alice}), 200)
    agenda.settle()
    assert len(agenda.visits(gold, "open")) == 1


def test_switched_on_it_books_for_the_gold_customers_already_there(client: TestClient, services: Services,
                                                                   clock: FrozenClock) -> None:
    agenda = Agenda(client, services, clock)
    gold, silver = agenda.customer("Gold"), agenda.customer("Silver")
    assert agenda.visits(gold) == []
    ok(client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {"every_months": 6}}), 200)
    agenda.settle()
    [visit] = agenda.visits(gold)
    assert agenda.visits(silver) == []
    agenda.until(at(visit["due_at"]))
    agenda.done(visit)
    assert at(agenda.visits(gold, "open")[0]["due_at"]) == datetime(2026, 9, 2, 10, 0, tzinfo=UTC)


def test_bad_settings_are_refused(agenda: Agenda) -> None:
    before = agenda.services.store.max_position()
    problem = assert_problem(agenda.client.put(f"/policies/{POLICY}", json={
        "enabled": True, "settings": {"activity_type": "picnic"}}), 422)
    assert problem["errors"][0]["field"] == "settings.activity_type"
    problem = assert_problem(agenda.client.put(f"/policies/{POLICY}", json={
        "enabled": True, "settings": {"every_months": 25}}), 422)
    assert problem["errors"][0]["field"] == "settings.every_months"
    assert agenda.services.store.max_position() == before


def test_months_are_calendar_months_and_visits_fall_on_working_days() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2026, 10, 15), 4) == date(2027, 2, 15)
    now = datetime(2026, 3, 1, 9, tzinfo=UTC)
    # 31 January + 1 month: Saturday 28 February → Monday 2 March.
    assert next_visit(datetime(2026, 1, 31, 15, tzinfo=UTC), 1, 10, now) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    # Long past: the next working day after now instead.
    assert next_visit(datetime(2025, 1, 1, tzinfo=UTC), 4, 10, datetime(2026, 3, 6, 12, tzinfo=UTC)) == \
        datetime(2026, 3, 9, 10, tzinfo=UTC)


def test_an_owner_who_left_is_booked_no_visit_and_the_new_owner_is(agenda: Agenda) -> None:
    gold = agenda.customer("Gold")
    [first] = agenda.visits(gold, "open")
    agenda.done(first)
    ok(agenda.client.post(f"/reps/{agenda.alice}/deactivate", json={"reason": "left"}), 200)
    agenda.days(200)  # the next visit falls due: Alice has left, so no one is booked
    assert agenda.visits(gold, "open") == []
    bob = ok(agenda.client.post("/reps", json={"name": "Bob Leroy", "email": f"bob{next(unique)}@seller.example"}))["id"]
    ok(agenda.client.patch(f"/contacts/{gold}", json={"owner_id": bob}), 200)
    agenda.settle()
    assert [v["owner_id"] for v in agenda.visits(gold, "open")] == [bob]
