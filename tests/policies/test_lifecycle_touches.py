"""Lifecycle triggers (F38) on SQLite and PostgreSQL: touches fired by what the customer
did — a won deal (at once, a week later, a month before its anniversary), becoming loyal.
Real SMTP server, the test's clock (1 March 2026, 09:00 UTC)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from tests.http.helpers import assert_problem, ok, pipeline, read
from tests.policies.conftest import Inbox
from tests.policies.test_missed_meeting import World

POLICY = "lifecycle-touches"
TOUCHES = [
    {"name": "thanks", "trigger": "deal_won", "subject": "Thank you, {first_name}", "body": "Welcome aboard: {deal_title}."},
    {"name": "onboarding", "trigger": "deal_won", "delay_days": 7, "action": "task", "task_type": "call",
     "task_title": "Onboarding call with {first_name} {last_name}"},
    {"name": "renewal", "trigger": "renewal", "delay_days": 30, "subject": "Your renewal", "body": "{deal_title} renews soon."},
    {"name": "loyal", "trigger": "lifecycle_changed", "lifecycle": "loyal", "subject": "Thank you for your loyalty",
     "body": "Hello {first_name}"},
]


@pytest.fixture
def world(client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> World:
    w = World(client, services, clock, smtp[1])
    ok(client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {"touches": TOUCHES}}), 200)
    return w


def won_deal(world: World) -> dict[str, Any]:
    pipe = pipeline(world.client)["id"]
    deal = ok(world.client.post("/deals", json={"title": "Fleet contract", "pipeline_id": pipe, "stage": "Contact",
                                                "amount": "12000", "currency": "EUR", "owner_id": world.alice,
                                                "contact_ids": [world.jean]}))
    ok(world.client.post(f"/deals/{deal['id']}/won", json={}), 200)
    return deal


def subjects(inbox: Inbox) -> list[str]:
    return [inbox.parsed(i)["Subject"] for i in range(len(inbox.mails))]


def test_a_won_deal_fires_its_touches_at_their_times(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    deal = won_deal(world)
    world.settle()
    assert subjects(inbox) == ["Thank you, Jean"]
    world.days(6.9)
    assert not [t for t in world.tasks() if t["type"] == "call"]
    world.days(0.2)
    [call] = [t for t in world.tasks() if t["type"] == "call"]
    assert (call["title"], call["contact_id"], call["deal_id"]) == ("Onboarding call with Jean Dupont", world.jean, deal["id"])
    world.days(327.8)  # 334.9 days after the win: not yet
    assert subjects(inbox) == ["Thank you, Jean"]
    world.days(0.2)  # 30 days before the anniversary
    assert subjects(inbox) == ["Thank you, Jean", "Your renewal"]
    world.days(60)
    assert len(inbox.mails) == 2 and len([t for t in world.tasks() if t["type"] == "call"]) == 1


def test_becoming_loyal_is_a_trigger_and_other_stages_are_not(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    ok(world.client.patch(f"/contacts/{world.jean}", json={"lifecycle": "active"}), 200)
    world.settle()
    assert not inbox.mails
    ok(world.client.patch(f"/contacts/{world.jean}", json={"lifecycle": "loyal"}), 200)
    world.settle()
    assert subjects(inbox) == ["Thank you for your loyalty"]


def test_an_unsubscribed_customer_gets_the_rep_s_call_but_no_more_e_mails(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    ok(world.client.post(f"/contacts/{world.jean}/unsubscribe", json={}), 200)
    won_deal(world)
    world.days(8)
    assert not inbox.mails
    [call] = [t for t in world.tasks() if t["type"] == "call"]
    assert call["contact_id"] == world.jean


def test_an_onboarding_call_is_given_to_no_rep_who_has_left(world: World, smtp: tuple[Inbox, int]) -> None:
    won_deal(world)
    world.settle()
    ok(world.client.post(f"/reps/{world.alice}/deactivate", json={"reason": "left"}), 200)  # owner of deal and contact
    world.days(8)
    all_tasks = read(world.client, "/tasks?status=open", world.services.store.max_position())["items"]
    assert not [t for t in all_tasks if t["type"] == "call"]  # nobody active to call: no task for a rep who left


@pytest.mark.parametrize(("touches", "field"), [
    ([TOUCHES[0], TOUCHES[0]], "settings.touches[1].name"),
    ([{**TOUCHES[0], "body": "Hi {nickname}"}], "settings.touches[0].body"),
    ([{**TOUCHES[1], "task_type": "fax"}], "settings.touches[0].task_type"),
    ([{"name": "x", "trigger": "lifecycle_changed"}], "settings.touches[0]"),
    ([{**TOUCHES[0], "name": f"t{i}"} for i in range(16)], "settings.touches"),
])
def test_bad_touches_are_refused_naming_the_setting(world: World, touches: list[dict[str, Any]], field: str) -> None:
    before = world.services.store.max_position()
    problem = assert_problem(world.client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {"touches": touches}}), 422)
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert world.services.store.max_position() == before
