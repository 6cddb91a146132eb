"""The board page shows the JSON board's numbers — now, as it stood on a past day, and as
it was known then — with cards a person can read and move (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_pages import World, columns, dom, expected, json_board, ok, sign_in, world

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock

END_OF_2_MARCH = "2026-03-02T23:59:59.999999+00:00"  # what the page's "2026-03-02" means: that day's end, UTC


@pytest.fixture
def w(client: TestClient, services: Services, clock: FrozenClock) -> World:
    """Rob's deal moved to Demo on 4 March; Rita's moved on 2 March, but recorded only on 6 March."""
    w = world(client, services)
    clock.advance(days=3)
    w.write("POST", f"/deals/{w.ids['rob_deal']}/stage", {"stage": "Demo"}, 200)
    clock.advance(days=2)
    w.write("POST", f"/deals/{w.ids['rita_deal']}/stage", {"stage": "Demo", "occurred_at": "2026-03-02T10:00:00Z"}, 200)
    assert services.projector.wait_for(w.position, 10)
    return w


@pytest.mark.parametrize("who", ["admin", "rob", "auditor"])
def test_the_board_page_shows_the_json_boards_numbers_in_the_callers_reach(w: World, who: str) -> None:
    sign_in(w.client, w.tokens[who])
    page = dom(w.client.get("/app/board").text)
    assert page.one("#board").attrs["data-pipeline"] == w.ids["pipeline"]
    assert page.one("#board").attrs["data-as-of"] == ""
    assert columns(page) == expected(json_board(w, who))
    assert not page.all("#as-of-notice")


def test_each_card_carries_what_a_move_needs_and_what_a_person_reads(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get("/app/board").text)
    card = page.one(f"article.deal-card[data-deal-id={w.ids['rob_deal']}]")
    deal = ok(w.client.get(f"/deals/{w.ids['rob_deal']}", headers={"Authorization": f"Bearer {w.tokens['rob']}"}), 200)
    assert card.attrs["data-version"] == str(deal["version"]) == "2"
    assert card.attrs["data-stage"] == "Demo" and card.attrs["tabindex"] == "0" and card.attrs["draggable"] == "true"
    assert card.one(".title").text == "Rob's fleet" and card.one(".company").text == "Acme SA"
    assert card.one(".owner").text == "Rob" and card.one(".amount").attrs["data-amount"] == "1234.50"
    assert card.one(".days-in-stage").attrs["data-days"] == "2"  # moved on 4 March, now 6 March
    assert card.one("a.contact-link").attrs["href"] == f"/app/contacts/{w.ids['rob_contact']}"
    assert page.one("select[name=pipeline]")


def test_a_column_says_how_many_of_its_deals_its_totals_leave_out_for_their_currency(w: World) -> None:
    """The board adds up one currency (no exchange rates exist): a deal in another is shown,
    left out of the totals, and the column says so."""
    w.write("POST", "/deals", {"title": "London fleet", "pipeline_id": w.ids["pipeline"], "stage": "Contact",
                               "amount": "900.00", "currency": "GBP", "owner_id": w.ids["rob"]})
    assert w.services.projector.wait_for(w.position, 10)
    sign_in(w.client, w.tokens["admin"])
    page = dom(w.client.get("/app/board").text)
    assert page.one("#board").attrs["data-currency"] == "EUR"
    contact = page.one("div.column[data-stage=Contact]")
    assert contact.one(".other-currencies").attrs["data-count"] == "1"
    assert "1 in other currencies" in contact.one(".other-currencies").text
    assert contact.one(".total").attrs["data-amount"] == json_board(w, "admin")["stages"][0]["amount"]
    assert not page.one("div.column[data-stage=Demo]").all(".other-currencies")


def test_a_past_day_shows_the_board_as_it_stood_with_everything_known_now(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    page = dom(w.client.get(f"/app/board?as_of=2026-03-02&pipeline={w.ids['pipeline']}").text)
    board = page.one("#board")
    assert board.attrs["data-as-of"] == "2026-03-02" and board.attrs["data-as-of-instant"] == END_OF_2_MARCH
    then = json_board(w, "admin", as_of=END_OF_2_MARCH)
    assert columns(page) == expected(then)
    demo = next(c for c in columns(page) if c["name"] == "Demo")
    assert demo["deals"] == [w.ids["rita_deal"]]  # Rob's move came later; Rita's is known now
    assert "2026" in page.one("#as-of-notice").text
    assert not [e for e in page.walk() if "write" in e.classes] and not page.all("[draggable=true]")


def test_as_we_knew_it_then_leaves_out_what_was_recorded_later(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    page = dom(w.client.get("/app/board?as_of=2026-03-02&known_at_then=1").text)
    then = json_board(w, "admin", as_of=END_OF_2_MARCH, known_at=END_OF_2_MARCH)
    assert columns(page) == expected(then)
    assert next(c for c in columns(page) if c["name"] == "Demo")["deals"] == []  # Rita's move was not known yet
    notice_now = dom(w.client.get("/app/board?as_of=2026-03-02").text).one("#as-of-notice").text
    assert page.one("#as-of-notice").text != notice_now  # it says which
    assert page.one("input[name=known_at_then]").attrs.get("checked") is not None
    assert columns(dom(w.client.get("/app/board?as_of=2026-03-02&known_at=2026-03-02").text)) == columns(page)


@pytest.mark.parametrize("query, field", [("as_of=yesterday", "query.as_of"), ("as_of=2026-02-30", "query.as_of"),
                                          ("known_at=2026-3-1", "query.known_at"), ("pipeline=42", "query.pipeline")])
def test_a_bad_parameter_is_named_and_changes_nothing(w: World, query: str, field: str) -> None:
    sign_in(w.client, w.tokens["admin"])
    before = w.services.store.max_position()
    answer = w.client.get(f"/app/board?{query}")
    assert answer.status_code == 422 and dom(answer.text).one(".error").attrs["data-field"] == field
    assert w.services.store.max_position() == before
