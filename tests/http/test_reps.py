"""Reps renamed, moved, deactivated and reactivated through HTTP, on SQLite and PostgreSQL.
A deactivated rep keeps their records and history; nothing new is given to them (409
rep-deactivated naming the field, nothing written); their API keys stop working.
The test's clock: 1 March 2026, 09:00 UTC."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from helpers import assert_problem, ok, pipeline, read

from crm_es.auth.api_keys import KeyRefused
from crm_es.auth.roles import Role
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock

LINES = [{"description": "Licence", "quantity": "1", "unit_price": "100.00"}]


class World:
    """Bob, who leaves; Ann, who stays; Bob's contact, deal and task from 1 March."""

    def __init__(self, client: TestClient, services: Services) -> None:
        self.client, self.services = client, services
        self.team = ok(client.post("/teams", json={"name": "West"}))["id"]
        self.bob = ok(client.post("/reps", json={"name": "Bob Stone", "email": "bob@seller.example", "team_id": self.team}))["id"]
        self.ann = ok(client.post("/reps", json={"name": "Ann Lee", "email": "ann@seller.example"}))["id"]
        self.pipeline = pipeline(client)["id"]
        self.contact = ok(client.post("/contacts", json={"first_name": "Jean", "last_name": "Dupont", "email": "jean@acme.example",
                                                         "owner_id": self.bob}))["id"]
        self.deal = ok(client.post("/deals", json=self.deal_body(self.bob)))["id"]
        self.task = ok(client.post("/tasks", json=self.task_body(self.bob)))["id"]

    def deal_body(self, owner: str, **fields: Any) -> dict[str, Any]:
        return {"title": "Fleet renewal", "pipeline_id": self.pipeline, "stage": "Contact", "amount": "12000.00",
                "currency": "EUR", "owner_id": owner, **fields}

    def task_body(self, owner: str) -> dict[str, Any]:
        return {"type": "call", "title": "Call back", "due_at": "2026-03-05T10:00:00Z", "owner_id": owner,
                "contact_id": self.contact}

    def rep(self, rep_id: str) -> dict[str, Any]:
        return read(self.client, f"/reps/{rep_id}", self.services.store.max_position())

    def refused(self, method: str, path: str, body: dict[str, Any], field: str) -> dict[str, Any]:
        """409 rep-deactivated naming ``field``, and nothing written."""
        before = self.services.store.max_position()
        problem = assert_problem(self.client.request(method, path, json=body), 409, "rep-deactivated")
        assert problem["field"] == field and problem["rep_id"] == self.bob, problem
        assert self.services.store.max_position() == before, f"{method} {path} was refused, yet it wrote"
        return problem


@pytest.fixture
def world(client: TestClient, services: Services) -> World:
    return World(client, services)


def test_a_rep_is_renamed_moved_and_taken_out_of_their_team(world: World) -> None:
    client = world.client
    changed = ok(client.patch(f"/reps/{world.bob}", json={"name": "Bob Stone-Martin", "email": "bob.sm@seller.example"}), 200)
    assert changed["version"] == 3  # added, renamed, e-mail changed
    shown = world.rep(world.bob)
    assert (shown["name"], shown["email"], shown["team_id"], shown["active"]) == (
        "Bob Stone-Martin", "bob.sm@seller.example", world.team, True)

    end = world.services.store.max_position()
    again = ok(client.patch(f"/reps/{world.bob}", json={"name": "Bob Stone-Martin"}), 200)
    assert (again["version"], world.services.store.max_position()) == (3, end), "the same name again writes nothing"

    ok(client.patch(f"/reps/{world.bob}", json={"team_id": None}), 200)
    assert world.rep(world.bob)["team_id"] is None
    early = {"team_id": world.team, "occurred_at": "2026-03-01T08:30:00Z"}  # before Bob was added at 09:00
    assert assert_problem(client.patch(f"/reps/{world.bob}", json=early), 409, "before-created")["field"] == "occurred_at"
    ok(client.patch(f"/reps/{world.bob}", json={**early, "occurred_at": "2026-03-01T09:00:00Z"}), 200)
    assert world.rep(world.bob)["team_id"] == world.team
    assert read(client, f"/deals/{world.deal}", world.services.store.max_position())["owner_id"] == world.bob


@pytest.mark.parametrize("body, status, field", [
    ({"name": None}, 422, "name"),
    ({"email": "not an address"}, 422, "email"),
    ({"nickname": "Bobby"}, 422, "nickname"),
    ({"team_id": "6f1c1a52-8a46-4b8e-9d43-2a4f7a9b3c11"}, 404, "team_id"),
    ({"name": "Bob", "occurred_at": "2026-03-01T10:00:00"}, 422, "occurred_at"),  # no time zone
])
def test_a_bad_change_is_refused_naming_the_field(world: World, body: dict[str, Any], status: int, field: str) -> None:
    before = world.services.store.max_position()
    problem = assert_problem(world.client.patch(f"/reps/{world.bob}", json=body), status)
    assert field in {e["field"] for e in problem["errors"]}, problem
    assert world.services.store.max_position() == before
    assert_problem(world.client.patch(f"/reps/{UUID(int=5)}", json={"name": "Nobody"}), 404, "not-found")


def test_a_deactivated_rep_keeps_their_records_and_gets_no_new_ones(world: World, clock: FrozenClock) -> None:
    client, bob = world.client, world.bob
    clock.advance(days=1)  # 2 March, 09:00
    gone = ok(client.post(f"/reps/{bob}/deactivate", json={"reason": "left the company",
                                                           "occurred_at": "2026-03-02T08:00:00Z"}), 200)
    shown = world.rep(bob)
    assert (shown["active"], shown["deactivated_at"]) == (False, "2026-03-02T08:00:00+00:00")
    end = world.services.store.max_position()
    assert ok(client.post(f"/reps/{bob}/deactivate", json={}), 200)["version"] == gone["version"]
    assert world.services.store.max_position() == end, "deactivated again: nothing written"

    # What was his stays his: reads and lists name him, his records may still be worked on.
    at = world.services.store.max_position()
    assert read(client, f"/deals/{world.deal}", at)["owner_id"] == bob
    assert read(client, f"/contacts/{world.contact}", at)["owner_id"] == bob
    assert read(client, f"/tasks/{world.task}", at)["owner_id"] == bob
    assert [d["id"] for d in read(client, f"/deals?owner={bob}", at)["items"]] == [world.deal]
    board = read(client, f"/pipelines/{world.pipeline}/board", at)
    assert [d["owner_id"] for stage in board["stages"] for d in stage["deals"]] == [bob]
    assert {r["id"] for r in read(client, "/reps?active=false", at)["items"]} == {bob}
    assert {r["id"] for r in read(client, "/reps?active=true", at)["items"]} == {world.ann}
    ok(client.patch(f"/deals/{world.deal}", json={"amount": "15000.00"}), 200)
    ok(client.patch(f"/contacts/{world.contact}", json={"city": "Lyon", "owner_id": bob}), 200)  # his already
    ok(client.post(f"/tasks/{world.task}/done", json={"outcome": "agreed"}), 200)

    # Nothing new is given to him.
    world.refused("POST", "/contacts", {"first_name": "A", "last_name": "B", "email": "ab@acme.example", "owner_id": bob},
                  "owner_id")
    world.refused("POST", "/deals", world.deal_body(bob), "owner_id")
    other = ok(client.post("/deals", json=world.deal_body(world.ann)))["id"]
    world.refused("PATCH", f"/deals/{other}", {"owner_id": bob}, "owner_id")
    annes = ok(client.post("/contacts", json={"first_name": "C", "last_name": "D", "email": "cd@acme.example",
                                              "owner_id": world.ann}))["id"]
    world.refused("PATCH", f"/contacts/{annes}", {"owner_id": bob}, "owner_id")
    world.refused("POST", "/tasks", world.task_body(bob), "owner_id")
    world.refused("POST", "/documents", {"kind": "quote", "contact_id": annes, "currency": "EUR", "lines": LINES,
                                         "rep_id": bob}, "rep_id")
    # His contact's documents are signed by him by default: the caller names who signs instead.
    world.refused("POST", "/documents", {"kind": "quote", "contact_id": world.contact, "currency": "EUR", "lines": LINES},
                  "rep_id")
    ok(client.post("/documents", json={"kind": "quote", "contact_id": world.contact, "currency": "EUR", "lines": LINES,
                                       "rep_id": world.ann}))
    world.refused("POST", f"/reps/{bob}/quotas", {"period_start": "2026-04-01", "period_end": "2026-07-01",
                                                 "amount": "50000", "currency": "EUR"}, "rep_id")
    world.refused("POST", "/teams", {"name": "East", "manager_id": bob}, "manager_id")

    # A fact of his time (an import of the history he made) is still his.
    ok(client.post("/deals", json=world.deal_body(bob, title="Imported", occurred_at="2026-03-01T12:00:00Z")))
    # Handed over, his deal is Ann's.
    ok(client.patch(f"/deals/{world.deal}", json={"owner_id": world.ann}), 200)


def test_a_reactivated_rep_is_given_records_again(world: World, clock: FrozenClock) -> None:
    client, bob = world.client, world.bob
    clock.advance(days=1)
    ok(client.post(f"/reps/{bob}/deactivate"), 200)  # no body: now
    before = world.services.store.max_position()
    problem = assert_problem(client.post(f"/reps/{bob}/reactivate", json={"occurred_at": "2026-03-01T12:00:00Z"}), 409,
                             "before-last-change")
    assert problem["field"] == "occurred_at" and world.services.store.max_position() == before
    clock.advance(days=7)
    ok(client.post(f"/reps/{bob}/reactivate", json={}), 200)
    shown = world.rep(bob)
    assert (shown["active"], shown["deactivated_at"]) == (True, None)
    ok(client.post("/deals", json=world.deal_body(bob)))


def test_a_deactivated_rep_s_key_is_refused_until_they_are_back(world: World, services: Services) -> None:
    client, bob = world.client, world.bob
    _, admin = services.api_keys.create(Role.ADMIN, name="admin")
    _, bobs = services.api_keys.create(Role.REP, UUID(bob), "bob")
    as_admin, as_bob = {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {bobs}"}
    assert client.get("/deals", headers=as_bob).status_code == 200
    ok(client.post(f"/reps/{bob}/deactivate", json={"reason": "left"}, headers=as_admin), 200)

    before = services.store.max_position()
    for method, path, body in (("GET", "/deals", None), ("GET", f"/deals/{world.deal}", None),
                               ("POST", f"/deals/{world.deal}/stage", {"stage": "Demo"})):
        problem = assert_problem(client.request(method, path, json=body, headers=as_bob), 403, "rep-deactivated")
        assert problem["rep_id"] == bob
    assert services.store.max_position() == before
    with pytest.raises(KeyRefused, match="deactivated"):
        services.api_keys.create(Role.REP, UUID(bob), "bob's new phone")

    ok(client.post(f"/reps/{bob}/reactivate", headers=as_admin), 200)
    ok(client.post(f"/deals/{world.deal}/stage", json={"stage": "Demo"}, headers=as_bob), 200)

