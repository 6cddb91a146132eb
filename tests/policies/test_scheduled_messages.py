"""Scheduled messages (F22) on SQLite and PostgreSQL: the price list after a call with a
given outcome; a reminder to the customer the day before a meeting, following the
meeting when it moves and forgetting it when it is cancelled. Real SMTP server, the
test's clock (1 March 2026, 09:00 UTC)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from tests.http.helpers import assert_problem, ok
from tests.policies.conftest import Inbox
from tests.policies.test_missed_meeting import World

POLICY = "scheduled-messages"


@pytest.fixture
def world(client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> World:
    w = World(client, services, clock, smtp[1])
    ok(client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {
        "price_list": {"outcomes": ["interested"], "url": "https://seller.example/prices-2026.pdf"}}}), 200)
    return w


def meeting(world: World, due_at: str) -> dict[str, Any]:
    return ok(world.client.post("/tasks", json={"type": "meeting_on_site", "title": "Demo at Acme", "due_at": due_at,
                                                "owner_id": world.alice, "contact_id": world.jean}))


def body(inbox: Inbox, index: int = -1) -> str:
    return inbox.parsed(index).get_payload(decode=True).decode().replace("\r\n", "\n")


def test_the_price_list_follows_a_call_with_the_outcome_set(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    world.interaction("call", direction="outbound", outcome="no_answer")
    world.settle()
    assert not inbox.mails
    world.interaction("call", direction="outbound", outcome="interested", duration_seconds=300)
    world.settle()
    [mail] = inbox.mails
    assert inbox.parsed()["Subject"] == "Our price list"
    assert "https://seller.example/prices-2026.pdf" in body(inbox) and body(inbox).rstrip().endswith("Alice Martin")
    world.settle()
    assert len(inbox.mails) == 1


def test_a_meeting_reminder_goes_out_the_day_before_and_follows_the_meeting(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    task = meeting(world, "2026-03-04T14:00:00Z")
    world.settle()
    world.days(2 + 5 / 24 - 1 / 1440)  # 3 March, 13:59
    assert not inbox.mails
    world.days(2 / 1440)  # 14:01: a day before
    assert inbox.parsed()["Subject"] == "See you tomorrow"
    assert "our meeting (Demo at Acme) on Wednesday 04 March at 14:00 UTC" in body(inbox)

    # Moved: one reminder, the day before the new time; cancelled: none.
    moved = meeting(world, "2026-03-10T10:00:00Z")
    ok(world.client.post(f"/tasks/{moved['id']}/reschedule", json={"due_at": "2026-03-12T10:00:00Z"}), 200)
    dropped = meeting(world, "2026-03-11T10:00:00Z")
    ok(world.client.post(f"/tasks/{dropped['id']}/cancel", json={}), 200)
    world.settle()
    # The timers of the old time and of the cancelled meeting are cancelled, not left to fire.
    assert ok(world.client.get("/outbox"), 200)["counts"]["cancelled"] == 2
    world.days(7)  # 10 March, 14:01
    assert len(inbox.mails) == 1
    world.days(1)  # 11 March, 14:01: past 10:00 the day before the 12th
    assert len(inbox.mails) == 2 and "Thursday 12 March at 10:00 UTC" in body(inbox)
    world.days(30)
    assert len(inbox.mails) == 2
    assert task["id"] != moved["id"]


def test_bad_templates_are_refused_naming_the_setting(world: World) -> None:
    before = world.services.store.max_position()
    bad = {"meeting_reminder": {"body": "See you at {place}"}}
    problem = assert_problem(world.client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": bad}), 422)
    assert problem["errors"][0]["field"] == "settings.meeting_reminder.body" and "{place}" in problem["detail"]
    assert_problem(world.client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {
        "meeting_reminder": {"channel": "pigeon"}}}), 422)
    assert world.services.store.max_position() == before
