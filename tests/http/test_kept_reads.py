"""The board, the contact card and the funnel are computed once per read-side position and
caller's reach, then given again until the next batch (queries/answer_cache.py): on SQLite
and PostgreSQL, a kept answer is the query's answer at that position, never another
caller's, never one from before a write, and the present board's time is the clock's."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from helpers import STAGES, assert_problem, ok
from pydantic import TypeAdapter

from crm_es.auth.roles import Reach, Role
from crm_es.bootstrap import Services
from crm_es.entrypoints.http.answers import ContactCard
from crm_es.queries import answer_cache, records
from crm_es.queries.analytics.funnel import funnel
from crm_es.queries.analytics.period import Period
from crm_es.queries.board import board_currency, get_board
from crm_es.queries.visibility import EVERYONE, Visibility

YEAR = {"from": "2025-06-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}


class Sales:
    """Two reps, each managing a team of their own, each with a contact and a deal; a rep's and a
    manager's key for each, and an admin's."""

    def __init__(self, client: TestClient, services: Services) -> None:
        self.client, self.services, self.position = client, services, 0
        _, admin = services.api_keys.create(Role.ADMIN, name="admin")
        self.tokens = {"admin": admin}
        self.ids: dict[str, str] = {}
        for name in ("rob", "eve"):
            self.ids[name] = self.write("POST", "/reps", {"name": name.title(), "email": f"{name}@example.com"})["id"]
            team = self.write("POST", "/teams", {"name": f"{name}'s team", "manager_id": self.ids[name]})["id"]
            self.write("POST", f"/teams/{team}/members", {"rep_id": self.ids[name]}, 200)
            _, self.tokens[name] = services.api_keys.create(Role.REP, UUID(self.ids[name]), name)
            _, self.tokens[f"{name}_manager"] = services.api_keys.create(Role.MANAGER, UUID(self.ids[name]), f"{name}_manager")
        self.ids["pipeline"] = self.write("POST", "/pipelines", {"name": "New business", "stages": STAGES,
                                                              "occurred_at": "2025-01-01T00:00:00Z"})["id"]
        for name in ("rob", "eve"):
            self.ids[f"{name}_contact"] = self.write("POST", "/contacts", {
                "first_name": name.title(), "last_name": "Client", "email": f"{name}.client@example.com",
                "owner_id": self.ids[name]})["id"]
            self.deal(name, f"{name}'s deal")

    def write(self, method: str, path: str, body: Any, status: int = 201) -> dict[str, Any]:
        answer = ok(self.client.request(method, path, json=body, headers=self.auth("admin")), status)
        self.position = max(self.position, answer.get("position", 0))
        return answer

    def deal(self, owner: str, title: str) -> str:
        return self.write("POST", "/deals", {"title": title, "pipeline_id": self.ids["pipeline"], "stage": "Contact",
                                             "amount": "1000.00", "currency": "EUR", "owner_id": self.ids[owner],
                                             "occurred_at": "2026-02-01T09:00:00Z"})["id"]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, path: str, **params: str) -> Any:
        return self.client.get(path, params={**params, "after": str(self.position)}, headers=self.auth(who))

    def board(self, who: str = "admin", **params: str) -> dict[str, Any]:
        return ok(self.get(who, f"/pipelines/{self.ids['pipeline']}/board", **params), 200)


@pytest.fixture
def sales(client: TestClient, services: Services) -> Sales:
    return Sales(client, services)


def _titles(board: dict[str, Any]) -> list[str]:
    return sorted(d["title"] for s in board["stages"] for d in s["deals"])


def test_a_board_read_twice_at_one_position_is_the_same_board_at_the_clock_s_time(sales: Sales, clock) -> None:
    first = sales.board()
    clock.advance(minutes=5)
    second = sales.board()
    assert second["stages"] == first["stages"] and _titles(second) == ["eve's deal", "rob's deal"]
    assert second["as_of"] == clock.now().isoformat() != first["as_of"]


def test_a_write_shows_on_the_next_read_of_the_board_the_card_and_the_funnel(sales: Sales) -> None:
    board, card = sales.board(), ok(sales.get("admin", f"/contacts/{sales.ids['rob_contact']}"), 200)
    before = ok(sales.get("admin", "/analytics/funnel", pipeline=sales.ids["pipeline"], **YEAR), 200)
    sales.deal("rob", "rob's second deal")
    sales.write("PATCH", f"/contacts/{sales.ids['rob_contact']}", {"job_title": "Buyer"}, 200)
    assert _titles(sales.board()) == [*_titles(board), "rob's second deal"]
    changed = sales.get("admin", f"/contacts/{sales.ids['rob_contact']}")
    assert ok(changed, 200)["job_title"] == "Buyer" and changed.headers["ETag"] == f'"{card["version"] + 1}"'
    after = ok(sales.get("admin", "/analytics/funnel", pipeline=sales.ids["pipeline"], **YEAR), 200)
    assert after["groups"][0]["opened"] == before["groups"][0]["opened"] + 1


def test_each_caller_gets_the_answer_of_their_own_reach(sales: Sales) -> None:
    assert _titles(sales.board("admin")) == ["eve's deal", "rob's deal"]
    assert _titles(sales.board("rob")) == ["rob's deal"]
    assert _titles(sales.board("eve")) == ["eve's deal"]
    funnel_of = {who: ok(sales.get(who, "/analytics/funnel", pipeline=sales.ids["pipeline"], **YEAR), 200)
                 for who in ("admin", "rob_manager", "eve_manager")}  # reps read no reports; managers, their team's
    assert [funnel_of[who]["groups"][0]["opened"] for who in ("admin", "rob_manager", "eve_manager")] == [2, 1, 1]
    eves = f"/contacts/{sales.ids['eve_contact']}"
    assert ok(sales.get("admin", eves), 200)["first_name"] == "Eve"  # kept for the admin …
    assert_problem(sales.get("rob", eves), 403, None)  # … never given to a rep of another team


def test_a_kept_answer_is_what_the_queries_answer_at_its_position(sales: Sales, services: Services) -> None:
    pipeline, contact = UUID(sales.ids["pipeline"]), UUID(sales.ids["rob_contact"])
    board = sales.board()
    answered = sales.get("admin", f"/contacts/{contact}")
    kept = sales.get("admin", f"/contacts/{contact}")  # the second from what the first kept
    fun = ok(sales.get("admin", "/analytics/funnel", pipeline=str(pipeline), **YEAR), 200)
    with services.read_side.cursor() as cur:
        currency = board_currency(cur, pipeline)
        stages = get_board(cur, pipeline, currency=currency, visible=EVERYONE)
        card = records.get_contact(cur, contact)
        expected_funnel = funnel(cur, pipeline, Period(datetime.fromisoformat(YEAR["from"]),
                                                       datetime.fromisoformat(YEAR["to"])), None, EVERYONE)
    assert (board["currency"], board["stages"]) == (currency, stages)
    assert kept.content == answered.content
    assert kept.content == TypeAdapter(ContactCard).dump_json(TypeAdapter(ContactCard).validate_python(card), by_alias=True)
    assert kept.headers["ETag"] == answered.headers["ETag"] == f'"{card["version"]}"'
    assert kept.headers["X-Position"] == answered.headers["X-Position"]
    assert fun["groups"] == expected_funnel["groups"]


def test_a_past_moment_is_answered_in_the_offset_it_was_asked_in(sales: Sales) -> None:
    utc = sales.board(as_of="2026-03-01T08:00:00+00:00")
    paris = sales.board(as_of="2026-03-01T09:00:00+01:00")  # the same instant
    assert utc["as_of"] == "2026-03-01T08:00:00+00:00" and paris["as_of"] == "2026-03-01T09:00:00+01:00"
    assert utc["stages"] == paris["stages"] and _titles(utc) == ["eve's deal", "rob's deal"]
    assert _titles(sales.board(as_of="2026-01-01T00:00:00Z")) == []  # before the deals opened


def test_an_unknown_pipeline_or_contact_is_still_a_404(sales: Sales) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    for _ in range(2):
        assert_problem(sales.get("admin", f"/pipelines/{unknown}/board"), 404)
        assert_problem(sales.get("admin", f"/contacts/{unknown}"), 404)


def test_the_card_s_one_statement_answers_as_its_three_queries_for_every_reach(sales: Sales, services: Services) -> None:
    contact = sales.ids["rob_contact"]
    sales.write("POST", "/tasks", {"type": "call", "title": "Call back", "due_at": "2026-03-02T10:00:00+01:00",
                                   "owner_id": sales.ids["rob"], "contact_id": contact})
    sales.write("POST", "/deals", {"title": "Named deal", "pipeline_id": sales.ids["pipeline"], "stage": "Contact",
                                   "amount": "10.00", "currency": "EUR", "owner_id": sales.ids["rob"],
                                   "contact_ids": [contact]})
    ok(sales.get("admin", f"/contacts/{contact}"), 200)  # caught up
    rob, eve = (Visibility(Reach.TEAM, UUID(sales.ids[who])) for who in ("rob", "eve"))
    with services.read_side.cursor() as cur:
        expected = records.get_contact(cur, UUID(contact))
        for visible, reached in ((EVERYONE, True), (rob, True), (eve, False), (Visibility(Reach.OWN, UUID(sales.ids["rob"])), True)):
            card, in_reach, position = records.get_contact_card(cur, UUID(contact), visible)
            assert (card, in_reach, position) == (expected, reached, services.projector.position)
        assert records.get_contact_card(cur, UUID(int=0)) == (None, False, 0)
    assert expected is not None and expected["open_deals"] == 1 and expected["next_step"]["title"] == "Call back"


def test_what_is_kept_goes_when_the_next_batch_commits(sales: Sales, services: Services) -> None:
    ok(sales.client.get(f"/contacts/{sales.ids['rob_contact']}?after={sales.position}", headers=sales.auth("admin")), 200)
    assert services.read_side.db in answer_cache._kept  # the card, kept at this position
    sales.deal("rob", "one more")
    assert services.projector.wait_for(sales.position, 10)
    assert services.read_side.db not in answer_cache._kept  # gone with the batch, before any read
