"""Scheduled reports to managers (F35) end to end, on SQLite and PostgreSQL: through HTTP,
the policy rounds and the outbox, to a real SMTP server in the test process. The clock is
the test's. 1 March 2026 is a Sunday; Europe/Paris moves to summer time on 29 March."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.policies.scheduled_reports import Schedule, next_run, period
from crm_es.outbox.senders import SmtpSender
from tests.http.helpers import STAGES, assert_problem, ok
from tests.policies.conftest import Inbox, settle

POLICY = "scheduled-reports"
UTC = timezone.utc
WEEKLY = {"name": "Weekly", "frequency": "weekly", "weekday": 0, "hour": 8}
unique = itertools.count()


class Office:
    """Two teams, each with a manager: North (Alice, Bob) and South (Carl)."""

    def __init__(self, client: TestClient, services: Services, clock: FrozenClock, port: int) -> None:
        self.client, self.services, self.clock = client, services, clock
        self.dispatcher = Dispatcher(services.store, clock, {"email": SmtpSender(f"smtp://127.0.0.1:{port}",
                                                                                  "crm@seller.example")})
        n = next(unique)
        self.mona = self.rep("Mona Leroy", f"mona{n}@seller.example")
        self.sam = self.rep("Sam Petit", f"sam{n}@seller.example")
        self.north = ok(client.post("/teams", json={"name": "North", "manager_id": self.mona["id"]}))["id"]
        self.south = ok(client.post("/teams", json={"name": "South", "manager_id": self.sam["id"]}))["id"]
        self.alice = self.rep("Alice Martin", f"alice{n}@seller.example", self.north)["id"]
        self.bob = self.rep("Bob Durand", f"bob{n}@seller.example", self.north)["id"]
        self.carl = self.rep("Carl Morel", f"carl{n}@seller.example", self.south)["id"]
        customer = {"first_name": "Jean", "last_name": "Dupont", "email": f"jean{n}@acme.example", "owner_id": self.alice}
        self.customer = ok(client.post("/contacts", json=customer))["id"]
        self.pipeline = ok(client.post("/pipelines", json={"name": "Sales", "stages": STAGES}))["id"]

    def rep(self, name: str, email: str, team: str | None = None) -> dict[str, Any]:
        return {**ok(self.client.post("/reps", json={"name": name, "email": email, "team_id": team})), "email": email}

    def settle(self) -> None:
        settle(self.services, self.dispatcher)

    def until(self, at: datetime) -> None:
        self.clock.advance(seconds=(at - self.clock.now()).total_seconds())
        self.settle()

    def interaction(self, rep: str, type: str, **fields: Any) -> None:
        ok(self.client.post(f"/contacts/{self.customer}/interactions", json={"type": type, "rep_id": rep, **fields}))

    def deal(self, rep: str, amount: str, currency: str, outcome: str) -> None:
        deal = ok(self.client.post("/deals", json={"title": "Fleet", "pipeline_id": self.pipeline, "stage": "Contact",
                                                   "amount": amount, "currency": currency, "owner_id": rep}))["id"]
        if outcome == "won":
            ok(self.client.post(f"/deals/{deal}/won"), 200)
        else:
            ok(self.client.post(f"/deals/{deal}/lost", json={"reason": "price"}), 200)

    def task_done(self, rep: str) -> None:
        task = ok(self.client.post("/tasks", json={"type": "call", "title": "Call back", "owner_id": rep,
                                                   "due_at": self.clock.now().isoformat()}))["id"]
        ok(self.client.post(f"/tasks/{task}/done"), 200)

    def configure(self, *schedules: dict[str, Any], enabled: bool = True) -> None:
        body = {"enabled": enabled, "settings": {"schedules": list(schedules)}}
        ok(self.client.put(f"/policies/{POLICY}", json=body), 200)
        self.settle()


@pytest.fixture
def office(client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> Office:
    return Office(client, services, clock, smtp[1])


def to(inbox: Inbox, address: str) -> list[Any]:
    """The mails the SMTP server received for this address, parsed, in order."""
    return [inbox.parsed(i) for i, mail in enumerate(inbox.mails) if address in mail.rcpt_tos]


def table(mail: Any) -> dict[str, list[str]]:
    """The report's table, by rep: the cells after the rep's name."""
    body = mail.get_payload(decode=True).decode()
    rows = [[c.strip() for c in line.split(" | ")] for line in body.splitlines()]
    return {row[0]: row[1:] for row in rows if len(row) == 10 and row[0] != "Rep"}


def test_a_weekly_report_brings_each_manager_their_own_teams_figures(office: Office, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    monday = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    office.configure(WEEKLY)
    # Alice's customer since Sunday: not one at the first report's start, one at the second's.
    ok(office.client.patch(f"/contacts/{office.customer}", json={"lifecycle": "active"}), 200)
    # Friday of the week before: in the first report, not in the second.
    office.interaction(office.alice, "call", occurred_at="2026-02-27T15:00:00Z")
    office.until(monday - timedelta(minutes=1))
    assert inbox.mails == []
    office.until(monday)
    [first] = to(inbox, office.mona["email"])
    assert first["Subject"] == "Weekly: North, Monday 23 February 2026 to Sunday 1 March 2026"
    assert table(first)["Alice Martin"] == ["0", "-", "0", "1", "0", "0", "0", "0", "-"]
    assert len(to(inbox, office.sam["email"])) == 1 and len(inbox.mails) == 2

    # The week: Tuesday …
    office.until(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    for kind, fields in [("call", {}), ("call", {}), ("call", {"direction": "inbound"}), ("email_sent", {}),
                         ("email_sent", {}), ("email_received", {}), ("meeting_held", {"mode": "on_site"})]:
        office.interaction(office.alice, kind, **fields)
    office.interaction(office.bob, "call")
    office.interaction(office.bob, "email_sent")
    for _ in range(3):
        office.interaction(office.carl, "call")
    office.deal(office.alice, "12000", "EUR", "won")
    office.deal(office.alice, "500", "USD", "won")
    office.deal(office.alice, "8000", "EUR", "lost")
    office.deal(office.bob, "3000", "EUR", "won")
    office.deal(office.carl, "999", "EUR", "won")
    office.task_done(office.alice)
    office.task_done(office.bob)
    office.task_done(office.bob)
    ok(office.client.patch(f"/contacts/{office.customer}", json={"lifecycle": "lost"}), 200)  # Alice's customer leaves
    # … Sunday night (in the week), and Monday before the report (the next week's).
    office.until(datetime(2026, 3, 8, 23, 30, tzinfo=UTC))
    office.interaction(office.bob, "call")
    office.until(datetime(2026, 3, 9, 7, 30, tzinfo=UTC))
    office.interaction(office.bob, "call")
    office.until(monday + timedelta(days=7, minutes=-1))
    assert len(inbox.mails) == 2  # not yet

    office.until(monday + timedelta(days=7))
    north, south = to(inbox, office.mona["email"])[-1], to(inbox, office.sam["email"])[-1]
    assert north["Subject"] == "Weekly: North, Monday 2 March 2026 to Sunday 8 March 2026"
    # Won, won amount, closed (won or lost), calls made (outbound), e-mails sent, received, meetings held, tasks done,
    # retention (customers at the start still customers at the end).
    assert table(north) == {
        "Alice Martin": ["2", "12,000.00 EUR, 500.00 USD", "3", "2", "2", "1", "1", "1", "0/1 (0%)"],
        "Bob Durand": ["1", "3,000.00 EUR", "1", "2", "1", "0", "0", "2", "-"],
        "Team total": ["3", "15,000.00 EUR, 500.00 USD", "4", "4", "3", "1", "1", "3", "0/1 (0%)"],
    }
    assert table(south) == {"Carl Morel": ["1", "999.00 EUR", "1", "3", "0", "0", "0", "0", "-"],
                            "Team total": ["1", "999.00 EUR", "1", "3", "0", "0", "0", "0", "-"]}
    assert "Alice" not in south.get_payload(decode=True).decode()

    # Six more weeks, day by day: exactly one report a Monday for each manager, no more, no fewer.
    for day in range(1, 7 * 6 + 6):
        office.until(monday + timedelta(days=7 + day))
        weeks = 2 + day // 7
        assert (len(to(inbox, office.mona["email"])), len(to(inbox, office.sam["email"]))) == (weeks, weeks)
    assert len(inbox.mails) == 16  # 8 Mondays, 2 managers
    assert {m["Subject"].split(", ")[1][:6] for m in to(inbox, office.mona["email"])} == {"Monday"}


def test_an_unknown_time_zone_is_refused_and_nothing_is_written(office: Office) -> None:
    before = office.services.store.max_position()
    body = {"enabled": True, "settings": {"schedules": [{**WEEKLY, "timezone": "Europe/Atlantis"}]}}
    problem = assert_problem(office.client.put(f"/policies/{POLICY}", json=body), 422)
    assert problem["errors"][0]["field"] == "settings.schedules[0].timezone"
    twice = {"enabled": True, "settings": {"schedules": [WEEKLY, {**WEEKLY, "hour": 9}]}}
    problem = assert_problem(office.client.put(f"/policies/{POLICY}", json=twice), 422)
    assert problem["errors"][0]["field"] == "settings.schedules[1].name"
    assert office.services.store.max_position() == before


def test_a_changed_schedule_replaces_the_old_one_and_a_removed_one_stops(office: Office,
                                                                          smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    office.configure(WEEKLY)
    # Changed on Sunday: daily at 18:00 in Paris (17:00 UTC in winter). The Monday run is cancelled.
    office.configure({"name": "Daily", "frequency": "daily", "hour": 18, "timezone": "Europe/Paris"})
    office.until(datetime(2026, 3, 1, 16, 59, tzinfo=UTC))
    assert inbox.mails == []
    office.until(datetime(2026, 3, 1, 17, 0, tzinfo=UTC))
    assert [m["Subject"] for m in to(inbox, office.mona["email"])] == ["Daily: North, Saturday 28 February 2026"]
    office.until(datetime(2026, 3, 2, 16, 59, tzinfo=UTC))
    assert len(inbox.mails) == 2  # no weekly report on Monday morning
    office.until(datetime(2026, 3, 2, 17, 0, tzinfo=UTC))
    assert len(inbox.mails) == 4
    # Set again as it is: it keeps its next run (no second timer, no second report).
    office.configure({"name": "Daily", "frequency": "daily", "hour": 18, "timezone": "Europe/Paris"})
    office.until(datetime(2026, 3, 3, 17, 0, tzinfo=UTC))
    assert len(inbox.mails) == 6
    office.configure()  # every schedule removed
    office.until(datetime(2026, 3, 20, tzinfo=UTC))
    assert len(inbox.mails) == 6


def test_a_monthly_report_in_paris_follows_summer_time(office: Office, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    office.configure({"name": "Monthly", "frequency": "monthly", "day": 1, "hour": 8, "timezone": "Europe/Paris"})
    office.until(datetime(2026, 4, 1, 5, 59, tzinfo=UTC))  # 07:59 in Paris, summer time since 29 March
    assert inbox.mails == []
    office.until(datetime(2026, 4, 1, 6, 0, tzinfo=UTC))
    [mail] = to(inbox, office.mona["email"])
    assert mail["Subject"] == "Monthly: North, Sunday 1 March 2026 to Tuesday 31 March 2026"


def test_runs_and_periods_are_calendar_arithmetic_in_the_schedules_zone() -> None:
    weekly = Schedule(name="W", frequency="weekly", weekday=4, hour=17, timezone="America/New_York")
    friday = next_run(weekly, datetime(2026, 3, 1, tzinfo=UTC))
    assert friday == datetime(2026, 3, 6, 22, 0, tzinfo=UTC)  # 17:00 EST
    assert next_run(weekly, friday) == datetime(2026, 3, 13, 21, 0, tzinfo=UTC)  # 17:00 EDT
    start, end = period(weekly, friday)
    assert (start.isoformat(), end.isoformat()) == ("2026-02-27T00:00:00-05:00", "2026-03-06T00:00:00-05:00")
    monthly = Schedule(name="M", frequency="monthly", day=28, hour=0)
    start, end = period(monthly, next_run(monthly, datetime(2026, 3, 1, tzinfo=UTC)))
    assert (start.date().isoformat(), end.date().isoformat()) == ("2026-02-01", "2026-03-01")


def test_a_manager_who_left_gets_no_report(office: Office, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    office.configure(WEEKLY)
    ok(office.client.post(f"/reps/{office.sam['id']}/deactivate", json={"reason": "left"}), 200)
    office.until(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    assert to(inbox, office.sam["email"]) == [] and len(to(inbox, office.mona["email"])) == 1
