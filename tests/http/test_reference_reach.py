"""Every record a command names besides the one it changes — a task's contact and deal, a
deal's contacts, an interaction's deal, a document's contact and deal, a message's
documents, a tracking batch's contacts (by id or e-mail) and deals — is checked against
the caller's reach (SQLite and PostgreSQL, through HTTP with a rep's key).

Another team's record is a 403 `not-your-record` naming the field, and writes nothing (it
would show on that team's customer card). An id that does not exist is the same 403, in
the same words: the answer must not tell a rep whether an id (or an e-mail) is known.
Admins reach everything and hear 404 for an unknown id. What a rep may name is what they
read: their team's contacts and deals; what the command changes too (the deal an
interaction is mirrored on, a document's contact and deal) must be theirs to write.
Companies have no owner and every sales role reads them all: they are named freely."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from helpers import STAGES, assert_problem, ok

from crm_es.auth.roles import Reach, Role
from crm_es.bootstrap import Services

LINES = [{"description": "Licence", "quantity": "1", "unit_price": "100.00"}]


@dataclass
class World:
    """West: Rob and Rita (reps). East: Eve. Each has a contact and a deal; Rob's and Eve's
    contacts have an invoice."""

    client: TestClient
    services: Services
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    counter: itertools.count = field(default_factory=itertools.count)

    def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def admin(self, method: str, path: str, body: Any, status: int = 201) -> dict[str, Any]:
        return ok(self.call("admin", method, path, body), status)


@pytest.fixture
def world(client: TestClient, services: Services) -> World:
    services.settings = replace(services.settings, smtp_url="smtp://127.0.0.1:25")  # people may send
    w = World(client, services)
    _, w.tokens["admin"] = services.api_keys.create(Role.ADMIN, name="admin")
    for name in ("rob", "rita", "eve"):
        w.ids[name] = w.admin("POST", "/reps", {"name": name.title(), "email": f"{name}@example.com"})["id"]
    for team, members in (("West", ("rob", "rita")), ("East", ("eve",))):
        team_id = w.admin("POST", "/teams", {"name": team})["id"]
        for member in members:
            w.admin("POST", f"/teams/{team_id}/members", {"rep_id": w.ids[member]}, 200)
    w.ids["pipeline"] = w.admin("POST", "/pipelines", {"name": "New business", "stages": STAGES})["id"]
    for owner in ("rob", "rita", "eve"):
        w.emails[owner] = f"{owner}.client@example.com"
        w.ids[f"{owner}_contact"] = w.admin("POST", "/contacts", {
            "first_name": "Jean", "last_name": "Dupont", "email": w.emails[owner], "owner_id": w.ids[owner]})["id"]
        w.ids[f"{owner}_deal"] = w.admin("POST", "/deals", {
            "title": "Fleet", "pipeline_id": w.ids["pipeline"], "stage": "Contact", "amount": "10.00", "currency": "EUR",
            "owner_id": w.ids[owner]})["id"]
    for owner in ("rob", "eve"):
        w.ids[f"{owner}_document"] = w.admin("POST", "/documents", {
            "kind": "invoice", "contact_id": w.ids[f"{owner}_contact"], "currency": "EUR", "due_on": "2026-03-31",
            "lines": LINES})["id"]
    for name in ("rob", "rita", "eve"):
        _, w.tokens[name] = services.api_keys.create(Role.REP, UUID(w.ids[name]), name)
    return w


@dataclass(frozen=True)
class Case:
    """A command naming a record in ``field``: ``request(world, named)`` its method, path
    and body naming ``named`` (an id, or an e-mail for ``kind="email"``)."""

    request: Callable[[World, str], tuple[str, str, dict[str, Any]]]
    field: str  # as the answer names it
    kind: str  # contact | deal | document | email: what is named
    in_reach: str  # whose record Rob may name: Rita's (his team's, which he reads) or his own (he writes for)
    status: int  # the answer when it is in reach
    batch: bool = False  # an item of a tracking batch: the answer is the item's


def _task(w: World, named: str, name: str) -> tuple[str, str, dict[str, Any]]:
    return "POST", "/tasks", {"type": "call", "title": "Call back", "due_at": "2026-03-02T10:00:00Z",
                              "owner_id": w.ids["rob"], name: named}


def _deal(w: World, contact_ids: list[str]) -> dict[str, Any]:
    return {"title": "New deal", "pipeline_id": w.ids["pipeline"], "stage": "Contact", "amount": "10.00",
            "currency": "EUR", "contact_ids": contact_ids}


def _batch(item: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    return "POST", "/interactions:batch", {"items": [{"type": "note", "text": "Prefers mornings", **item}]}


CASES = {
    "task's contact": Case(lambda w, n: _task(w, n, "contact_id"), "contact_id", "contact", "rita", 201),
    "task's deal": Case(lambda w, n: _task(w, n, "deal_id"), "deal_id", "deal", "rita", 201),
    "new deal's contacts": Case(lambda w, n: ("POST", "/deals", _deal(w, [n])), "contact_ids[0]", "contact", "rita", 201),
    "changed deal's contacts": Case(lambda w, n: ("PATCH", f"/deals/{w.ids['rob_deal']}", {"contact_ids": [n]}),
                                    "contact_ids[0]", "contact", "rita", 200),
    "interaction's deal": Case(lambda w, n: ("POST", f"/contacts/{w.ids['rob_contact']}/interactions",
                                             {"type": "note", "text": "Prefers mornings", "deal_id": n}),
                               "deal_id", "deal", "rob", 201),
    "document's contact": Case(lambda w, n: ("POST", "/documents", {"kind": "quote", "contact_id": n,
                                                                    "currency": "EUR", "lines": LINES}),
                               "contact_id", "contact", "rob", 201),
    "document's deal": Case(lambda w, n: ("POST", "/documents", {"kind": "quote", "contact_id": w.ids["rob_contact"],
                                                                 "deal_id": n, "currency": "EUR", "lines": LINES}),
                            "deal_id", "deal", "rob", 201),
    "message's documents": Case(lambda w, n: ("POST", f"/contacts/{w.ids['rob_contact']}/messages", {
        "subject": "Your invoice", "body": "Attached", "send_at": "2026-03-20T09:00:00Z", "document_ids": [n]}),
        "document_ids[0]", "document", "rob", 202),
    "batch item's contact": Case(lambda w, n: _batch({"contact_id": n}), "items[0].contact_id", "contact", "rob", 200,
                                 batch=True),
    "batch item's e-mail": Case(lambda w, n: _batch({"email": n}), "items[0].email", "email", "rob", 200, batch=True),
    "batch item's deal": Case(lambda w, n: _batch({"contact_id": w.ids["rob_contact"], "deal_id": n}),
                              "items[0].deal_id", "deal", "rob", 200, batch=True),
}


def named(w: World, case: Case, owner: str) -> str:
    return w.emails[owner] if case.kind == "email" else w.ids[f"{owner}_{case.kind}"]


def unknown(case: Case) -> str:
    return "nobody.known@example.com" if case.kind == "email" else str(uuid4())


def refusal(w: World, who: str, case: Case, name: str) -> dict[str, Any]:
    """The problem answered for ``name`` (a batch's: its item's error); nothing was written."""
    before = w.services.store.max_position()
    response = w.call(who, *case.request(w, name))
    assert w.services.store.max_position() == before, response.text
    if not case.batch:
        return response.json()
    result = ok(response, 200)
    assert (result["accepted"], result["errors"]) == (0, 1), result
    return result["results"][0]["error"]


def test_a_rep_names_another_teams_record_or_an_unknown_one_alike(world: World) -> None:
    for what, case in CASES.items():
        theirs, name = refusal(world, "rob", case, named(world, case, "eve")), unknown(case)
        assert (theirs["status"], theirs["rule"], theirs.get("field")) == (403, "not-your-record", case.field), what
        nothing = refusal(world, "rob", case, name)
        # The same answer, but for the id (or e-mail) it repeats: it does not tell which exists.
        same = theirs["detail"].replace(named(world, case, "eve"), name)
        assert {**nothing, "detail": same} == {**theirs, "detail": same} and nothing["detail"] == same, what


def test_a_rep_names_a_record_in_reach(world: World) -> None:
    for what, case in CASES.items():
        response = world.call("rob", *case.request(world, named(world, case, case.in_reach)))
        assert response.status_code == case.status, f"{what}: {response.text}"
        if case.batch:
            assert (response.json()["accepted"], response.json()["errors"]) == (1, 0), f"{what}: {response.text}"


def test_an_admin_hears_that_an_unknown_record_is_not_found(world: World) -> None:
    for what, case in CASES.items():
        problem = refusal(world, "admin", case, unknown(case))
        assert (problem["status"], problem["rule"]) == (404, "not-found"), f"{what}: {problem}"
        assert (problem["field"] if case.batch else problem["errors"][0]["field"]) == case.field, what


def test_what_a_rep_changes_through_a_reference_must_be_theirs_to_write(world: World) -> None:
    """Rita's deal is read by Rob (same team) but not his to change: an interaction is
    mirrored on its deal, so naming hers is refused; a task merely about it is not."""
    case = CASES["interaction's deal"]
    problem = assert_problem(world.call("rob", *case.request(world, world.ids["rita_deal"])), 403, "not-your-record")
    assert problem["field"] == "deal_id"
    ok(world.call("rob", *CASES["task's deal"].request(world, world.ids["rita_deal"])))


def test_a_rep_reading_only_their_own_records_names_only_those(world: World) -> None:
    world.services.settings = replace(world.services.settings, rep_reads=Reach.OWN)
    case = CASES["task's contact"]
    problem = assert_problem(world.call("rob", *case.request(world, world.ids["rita_contact"])), 403, "not-your-record")
    assert problem["field"] == "contact_id"
    ok(world.call("rob", *case.request(world, world.ids["rob_contact"])))


def test_a_company_is_named_freely(world: World) -> None:
    """No owner, read by every sales role: an unknown one is a 404, for a rep too."""
    body = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "company_id": str(uuid4())}
    problem = assert_problem(world.call("rob", "POST", "/contacts", body), 404, "not-found")
    assert problem["errors"][0]["field"] == "company_id"
    company = world.admin("POST", "/companies", {"name": "Acme"})["id"]
    ok(world.call("rob", "POST", "/contacts", {**body, "company_id": company}))
