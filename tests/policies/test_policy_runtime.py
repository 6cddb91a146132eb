"""The policy runtime and the task-after-meeting automation (F20, E7), through HTTP and the
runner itself, on SQLite and PostgreSQL. The clock is injected: rounds run when the test
says so (``services.policies.run_once()``); the service's own background round may run
too — the law is the same either way: one reaction per event, never two."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from crm_es.aggregates.base import Event
from crm_es.aggregates.interactions import CallLogged
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.policies.after_meeting import TaskAfterMeeting
from crm_es.policies.base import Policy, PolicyContext, PolicySettingsModel, Reaction
from crm_es.policies.runtime import PolicyRunner
from tests.http.helpers import assert_problem, ok, read

emails = itertools.count()
POLICY = "task-after-meeting"


def rep(client: TestClient, name: str = "Alice") -> str:
    return ok(client.post("/reps", json={"name": name, "email": f"{name.lower()}{next(emails)}@example.com"}))["id"]


def contact(client: TestClient, owner: str | None = None) -> str:
    body = {"first_name": "Jean", "last_name": "Dupont", "email": f"jean{next(emails)}@acme.example", "owner_id": owner}
    return ok(client.post("/contacts", json=body))["id"]


def meeting(client: TestClient, contact_id: str, rep_id: str | None = None, kind: str = "meeting_held",
            occurred_at: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "rep_id": rep_id, "mode": "video"}
    if occurred_at is not None:
        body["occurred_at"] = occurred_at.isoformat()
    return ok(client.post(f"/contacts/{contact_id}/interactions", json=body))


def switch(client: TestClient, enabled: bool, **settings: Any) -> dict[str, Any]:
    return ok(client.put(f"/policies/{POLICY}", json={"enabled": enabled, "settings": settings}), 200)


def tasks_of(client: TestClient, services: Services, rep_id: str) -> list[dict[str, Any]]:
    return read(client, f"/tasks?rep={rep_id}", services.store.max_position())["items"]


def policy_status(client: TestClient, name: str = POLICY) -> dict[str, Any]:
    return next(p for p in ok(client.get("/policies"), 200)["items"] if p["name"] == name)


def test_a_meeting_held_puts_one_task_in_the_reps_agenda_naming_the_policy_and_its_cause(
        client: TestClient, services: Services, clock: FrozenClock) -> None:
    alice = rep(client)
    jean = contact(client, owner=alice)
    switch(client, True, title="Send the brochure", due_after_hours=2)
    held = meeting(client, jean, alice, occurred_at=clock.now() - timedelta(hours=1))
    services.policies.run_once()
    services.policies.run_once()  # a second round finds nothing new

    [task] = tasks_of(client, services, alice)
    assert (task["title"], task["type"], task["contact_id"]) == ("Send the brochure", "email", jean)
    assert task["due_at"] == (clock.now() + timedelta(hours=1)).isoformat()  # the meeting + 2 hours
    [planned] = services.store.events(task_id(services, task))
    assert planned.actor == f"policy:{POLICY}"
    [trigger] = services.store.read(held["position"] - 1, 1)
    assert planned.causation_id == f"{trigger.originator_id}:{trigger.version}"


def test_the_task_of_a_meeting_with_a_rep_who_has_left_goes_to_the_contacts_owner(
        client: TestClient, services: Services, clock: FrozenClock) -> None:
    alice, bob = rep(client), rep(client, "Bob")
    jean = contact(client, owner=bob)
    switch(client, True)
    meeting(client, jean, alice, occurred_at=clock.now() - timedelta(hours=1))  # she met them, then left
    ok(client.post(f"/reps/{alice}/deactivate", json={"reason": "left"}), 200)
    services.policies.run_once()
    assert tasks_of(client, services, alice) == []
    assert [t["contact_id"] for t in tasks_of(client, services, bob)] == [jean]
    ok(client.post(f"/reps/{bob}/deactivate", json={}), 200)
    meeting(client, jean, alice, occurred_at=clock.now() - timedelta(minutes=30))
    services.policies.run_once()  # nobody active to give it to: no task at all
    assert tasks_of(client, services, alice) == [] and len(tasks_of(client, services, bob)) == 1


def task_id(services: Services, task: dict[str, Any]) -> Any:
    from uuid import UUID

    return UUID(task["id"])


def test_switched_off_it_does_nothing_and_switched_on_it_acts_only_on_what_follows(
        client: TestClient, services: Services) -> None:
    alice = rep(client)
    jean = contact(client, owner=alice)
    meeting(client, jean, alice)  # before it was ever switched on
    services.policies.run_once()
    switch(client, True)
    meeting(client, jean, alice)  # while on
    switch(client, False)
    meeting(client, jean, alice)  # off again
    services.policies.run_once()
    assert len(tasks_of(client, services, alice)) == 1
    shown = policy_status(client)
    assert shown["enabled"] is False and shown["lag"] == 0 and shown["last_error"] is None


def test_the_owner_gets_the_task_when_no_rep_is_named_and_nobody_when_there_is_no_owner(
        client: TestClient, services: Services) -> None:
    alice = rep(client)
    owned, orphan = contact(client, owner=alice), contact(client)
    switch(client, True)
    meeting(client, owned)
    meeting(client, orphan)
    meeting(client, owned, kind="meeting_missed")  # not this policy's event
    services.policies.run_once()
    assert [t["contact_id"] for t in tasks_of(client, services, alice)] == [owned]


def test_a_second_runner_on_the_same_store_never_acts_twice(client: TestClient, services: Services) -> None:
    alice = rep(client)
    jean = contact(client, owner=alice)
    switch(client, True)
    other = PolicyRunner(services.store, services.clock, [TaskAfterMeeting()])
    for _ in range(5):
        meeting(client, jean, alice)
        # Both read the same place; whichever saves second finds it moved, and follows.
        other.run_once()
        services.policies.run_once()
    assert len(tasks_of(client, services, alice)) == 5


def test_bad_settings_are_refused_naming_the_setting_and_change_nothing(client: TestClient, services: Services) -> None:
    before = services.store.max_position()
    problem = assert_problem(client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {"due_after_hours": -1}}), 422)
    assert "settings.due_after_hours" in str(problem)
    problem = assert_problem(client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {"activity_type": "fax"}}), 422)
    assert "settings.activity_type" in str(problem)
    problem = assert_problem(client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": {"titel": "typo"}}), 422)
    assert "titel" in str(problem)
    assert_problem(client.put("/policies/no-such-policy", json={"enabled": True}), 404)
    assert_problem(client.put(f"/policies/{POLICY}", json={"enabled": "maybe"}), 422)
    assert services.store.max_position() == before
    assert policy_status(client)["enabled"] is False


class Exploding(Policy):
    """A policy that fails on calls: the runtime must keep it on the event, say why, and
    let the other policies run."""

    name = "exploding"
    description = "fails on every call logged"
    reacts_to = (CallLogged,)

    class Settings(PolicySettingsModel):
        pass

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        raise RuntimeError("the template has an unknown variable")


def test_a_failing_policy_stays_on_its_event_says_why_and_the_others_keep_running(
        client: TestClient, services: Services) -> None:
    from crm_es.aggregates import policy as policies
    from crm_es.aggregates.base import Meta
    from crm_es.policies.runtime import status

    alice = rep(client)
    jean = contact(client, owner=alice)
    switch(client, True)
    now = services.clock.now()
    services.store.save(policies.configure(None, "exploding", True, {}, Meta(now, now, "test", "c1")))
    runner = PolicyRunner(services.store, services.clock, [Exploding(), TaskAfterMeeting()])
    call = ok(client.post(f"/contacts/{jean}/interactions", json={"type": "call", "rep_id": alice}))
    meeting(client, jean, alice)
    runner.run_once()
    runner.run_once()
    assert len(tasks_of(client, services, alice)) == 1  # the other policy went on
    [exploding, _] = status(services.store, [Exploding(), TaskAfterMeeting()])
    assert exploding["last_error"] == "RuntimeError: the template has an unknown variable"
    assert exploding["failed_position"] == call["position"] and exploding["position"] == call["position"] - 1


def test_the_service_runs_the_automations_in_the_background(settings, clock: FrozenClock) -> None:
    """What `crm-es serve` does unless CRM_ES_POLICIES=off: no one calls run_once()."""
    import dataclasses
    import time

    from crm_es.entrypoints.http.app import create_app
    from crm_es.bootstrap import service

    services = service(dataclasses.replace(settings, run_policies=True), clock=clock)
    try:
        services.start()
        with TestClient(create_app(services)) as client:
            alice = rep(client)
            jean = contact(client, owner=alice)
            switch(client, True)
            meeting(client, jean, alice)
            deadline = time.monotonic() + 10
            while not (found := tasks_of(client, services, alice)) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [t["contact_id"] for t in found] == [jean]
    finally:
        services.close()
