"""The board's segment filter (the JSON board's ?segment=, and the page's), the stale mark
and each card's next step (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_pages import World, bearer, columns, dom, expected, json_board, ok, sign_in, world

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock

BEFORE_GOLD = "2026-03-01T23:59:59.999999+00:00"  # Acme's contact was tagged Gold on 2 March


@pytest.fixture
def w(client: TestClient, services: Services, clock: FrozenClock) -> World:
    """The world of web_pages.py (Acme: every deal), plus Beta (a Silver contact, one deal of
    Rob's); Acme's Rob contact tagged Gold the next day."""
    w = world(client, services)
    w.ids["beta"] = w.write("POST", "/companies", {"name": "Beta"})["id"]
    w.ids["beta_contact"] = w.write("POST", "/contacts", {"first_name": "Bea", "last_name": "Ta", "email": "bea@beta.example",
                                                          "owner_id": w.ids["rob"], "company_id": w.ids["beta"],
                                                          "tags": ["Silver"]})["id"]
    w.ids["beta_deal"] = w.write("POST", "/deals", {"title": "Beta's vans", "pipeline_id": w.ids["pipeline"], "stage": "Demo",
                                                    "amount": "900.00", "currency": "EUR", "owner_id": w.ids["rob"],
                                                    "company_id": w.ids["beta"], "contact_ids": [w.ids["beta_contact"]]})["id"]
    clock.advance(days=1)
    w.write("PATCH", f"/contacts/{w.ids['rob_contact']}", {"tags": ["Gold"]}, 200)
    assert services.projector.wait_for(w.position, 10)
    return w


def deal_ids(board: dict) -> set[str]:
    return {deal["id"] for stage in board["stages"] for deal in stage["deals"]}


def test_the_json_board_keeps_the_deals_of_companies_in_the_segment_then(w: World) -> None:
    acme = {w.ids["rob_deal"], w.ids["rita_deal"], w.ids["eve_deal"]}
    assert deal_ids(json_board(w, "admin", segment="Gold")) == acme
    assert deal_ids(json_board(w, "admin", segment="Silver")) == {w.ids["beta_deal"]}
    assert deal_ids(json_board(w, "admin", segment="Bronze")) == set()
    assert deal_ids(json_board(w, "admin", segment="Gold", as_of=BEFORE_GOLD)) == set()  # not Gold yet then
    assert deal_ids(json_board(w, "rob", segment="Gold")) == {w.ids["rob_deal"], w.ids["rita_deal"]}  # West's reach
    board = json_board(w, "admin", segment="Gold")
    assert sum(stage["count"] for stage in board["stages"]) == 3


@pytest.mark.parametrize("as_of", [None, "2026-03-01"])
@pytest.mark.parametrize("segment", ["Gold", "Silver"])
def test_the_page_filtered_by_segment_shows_the_json_boards_numbers(w: World, segment: str, as_of: str | None) -> None:
    sign_in(w.client, w.tokens["mia"])
    page = dom(w.client.get("/app/board", params={"segment": segment, **({"as_of": as_of} if as_of else {})}).text)
    answer = json_board(w, "mia", segment=segment, **({"as_of": BEFORE_GOLD} if as_of else {}))
    assert columns(page) == expected(answer)
    offered = [o.attrs["value"] for o in page.one("select[name=segment]").all("option")]
    assert offered == ["", "Gold", "Silver", "Bronze"]
    assert page.one("select[name=segment]").one(f"option[value={segment}]").attrs.get("selected") is not None


def test_a_segment_too_long_is_refused_by_the_api_and_the_page_naming_it(w: World) -> None:
    long = "G" * 101
    answer = w.client.get(f"/pipelines/{w.ids['pipeline']}/board", params={"segment": long}, headers=bearer(w, "admin"))
    assert answer.status_code == 422 and "segment" in answer.text
    sign_in(w.client, w.tokens["admin"])
    page = w.client.get("/app/board", params={"segment": long})
    assert page.status_code == 422 and "query.segment" in page.text


def test_a_deal_quiet_for_thirty_days_is_marked_stale_until_something_happens(w: World, clock: FrozenClock,
                                                                              services: Services) -> None:
    clock.advance(days=30)
    w.write("POST", f"/contacts/{w.ids['rita_contact']}/interactions", {"type": "call", "deal_id": w.ids["rita_deal"],
                                                                         "outcome": "connected"})
    w.write("POST", f"/deals/{w.ids['eve_deal']}/stage", {"stage": "Demo"}, 200)
    w.write("POST", "/tasks", {"type": "call", "title": "Chase Rob's fleet", "due_at": "2026-04-10T09:00:00Z",
                               "owner_id": w.ids["rob"], "deal_id": w.ids["rob_deal"]})
    assert services.projector.wait_for(w.position, 10)
    sign_in(w.client, w.tokens["admin"])
    page = dom(w.client.get("/app/board").text)
    card = {c.attrs["data-deal-id"]: c for c in page.one("#board").all("article.deal-card")}
    assert "stale" in card[w.ids["rob_deal"]].classes
    assert card[w.ids["rob_deal"]].one(".stale-note").attrs["data-days"] == "31"
    assert "stale" not in card[w.ids["rita_deal"]].classes  # a call about it today
    assert "stale" not in card[w.ids["eve_deal"]].classes  # moved today
    assert "Chase Rob's fleet" in card[w.ids["rob_deal"]].one(".next-step").text
    past = dom(w.client.get("/app/board", params={"as_of": "2026-03-15"}).text)  # quiet for 14 days then
    assert not [c for c in past.one("#board").all("article.deal-card") if "stale" in c.classes]
