"""The board's second increment: filters by owner and team (the JSON board's own, in the
caller's reach), and won / lost from the card, sent as the page's script sends them — the
session's cookie and CSRF token, If-Match on the card's version (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_pages import (
    Element,
    World,
    bearer,
    columns,
    csrf_of,
    dom,
    expected,
    json_board,
    ok,
    sign_in,
    world,
)

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock

END_OF_2_MARCH = "2026-03-02T23:59:59.999999+00:00"


@pytest.fixture
def w(client: TestClient, services: Services, clock: FrozenClock) -> World:
    """The world of web_pages.py; Rob's deal moved to Demo on 4 March, seen on 6 March."""
    w = world(client, services)
    clock.advance(days=3)
    w.write("POST", f"/deals/{w.ids['rob_deal']}/stage", {"stage": "Demo"}, 200)
    clock.advance(days=2)
    assert services.projector.wait_for(w.position, 10)
    return w


def on_board(page: Element) -> set[str]:
    return {card.attrs["data-deal-id"] for card in page.all("article.deal-card")}


def offered(page: Element, name: str) -> set[str]:
    return {option.attrs["value"] for option in page.one(f"select[name={name}]").all("option")} - {""}


def card(page: Element, deal_id: str) -> Element:
    return page.one(f"article.deal-card[data-deal-id={deal_id}]")


def has_close_buttons(page: Element, deal_id: str) -> bool:
    found = card(page, deal_id)
    win, lose = found.all("button.win"), found.all("button.lose")
    assert len(win) == len(lose) and len(found.all("form.lost-reason")) == len(win)
    return bool(win)


# --- filters -----------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["admin", "mia", "rob"])
@pytest.mark.parametrize("filters", [{"owner": "rita"}, {"team": "east"}, {"owner": "rob", "team": "west"}], ids=str)
@pytest.mark.parametrize("as_of", [None, "2026-03-02"])
def test_a_filtered_board_shows_the_json_boards_numbers_with_the_same_filters(
        w: World, who: str, filters: dict[str, str], as_of: str | None) -> None:
    query = {name: w.ids[value] for name, value in filters.items()}
    sign_in(w.client, w.tokens[who])
    page = dom(w.client.get("/app/board", params={**query, **({"as_of": as_of} if as_of else {})}).text)
    answer = json_board(w, who, **query, **({"as_of": END_OF_2_MARCH} if as_of else {}))
    assert columns(page) == expected(answer)
    for name, value in query.items():  # kept in the URL's form, for the next submit
        assert page.one(f"select[name={name}]").one(f"option[value={value}]").attrs.get("selected") is not None


def test_the_filters_narrow_the_board_to_an_owner_or_a_team(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    everything = on_board(dom(w.client.get("/app/board").text))
    west = on_board(dom(w.client.get(f"/app/board?team={w.ids['west']}").text))
    rob = on_board(dom(w.client.get(f"/app/board?owner={w.ids['rob']}").text))
    assert west == {w.ids["rob_deal"], w.ids["rita_deal"]} < everything
    assert rob == {w.ids["rob_deal"]}
    # With a past day: the filter and the day together; the way back to today keeps the filter.
    past = dom(w.client.get(f"/app/board?owner={w.ids['rob']}&as_of=2026-03-02").text)
    assert [c["name"] for c in columns(past) if c["deals"] == [w.ids["rob_deal"]]] == ["Contact"]
    assert f"owner={w.ids['rob']}" in past.one("a.back-to-now").attrs["href"]


@pytest.mark.parametrize("who, reps, teams", [
    ("admin", ["rob", "rita", "mia", "eve"], ["west", "east"]),
    ("mia", ["rob", "rita", "mia"], ["west"]),
    ("rob", ["rob", "rita", "mia"], ["west"]),
])
def test_only_the_reps_and_teams_in_the_callers_reach_are_offered(
        w: World, who: str, reps: list[str], teams: list[str]) -> None:
    sign_in(w.client, w.tokens[who])
    page = dom(w.client.get("/app/board").text)
    visible_owners = {d["owner_id"] for s in json_board(w, who)["stages"] for d in s["deals"]}
    assert offered(page, "owner") == {w.ids[r] for r in reps} >= visible_owners
    assert offered(page, "team") == {w.ids[t] for t in teams}


def test_a_filter_outside_the_callers_reach_shows_nothing_and_names_no_one(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get(f"/app/board?owner={w.ids['eve']}").text)
    assert columns(page) == expected(json_board(w, "rob", owner=w.ids["eve"])) and not on_board(page)
    assert "Eve" not in [option.text for option in page.one("select[name=owner]").all("option")]
    assert page.one("select[name=owner]").one(f"option[value={w.ids['eve']}]").attrs.get("selected") is not None


@pytest.mark.parametrize("query, field", [("owner=rob", "query.owner"), ("team=42", "query.team")])
def test_a_bad_filter_is_named_and_changes_nothing(w: World, query: str, field: str) -> None:
    sign_in(w.client, w.tokens["admin"])
    before = w.services.store.max_position()
    answer = w.client.get(f"/app/board?{query}")
    assert answer.status_code == 422 and dom(answer.text).one(".error").attrs["data-field"] == field
    assert w.services.store.max_position() == before


# --- won / lost from the card ---------------------------------------------------------------

def test_won_and_lost_buttons_show_only_where_the_caller_may_close_the_deal(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])  # reads his team's deals, closes only his own
    page = dom(w.client.get("/app/board").text)
    assert has_close_buttons(page, w.ids["rob_deal"]) and not has_close_buttons(page, w.ids["rita_deal"])
    sign_in(w.client, w.tokens["mia"])  # West's manager: West's deals
    page = dom(w.client.get("/app/board").text)
    assert has_close_buttons(page, w.ids["rob_deal"]) and has_close_buttons(page, w.ids["rita_deal"])
    assert w.ids["eve_deal"] not in on_board(page)
    for who in ("auditor", "admin"):
        sign_in(w.client, w.tokens[who])
        past = dom(w.client.get("/app/board?as_of=2026-03-02").text)  # nothing closes in the past
        assert on_board(past) and not past.all("button.win") and not past.all("button.lose")
    sign_in(w.client, w.tokens["auditor"])
    page = dom(w.client.get("/app/board").text)
    assert on_board(page) and not page.all("button.win") and not page.all("form.lost-reason")
    assert not [e for e in page.walk() if "write" in e.classes]


def close_from_the_card(w: World, deal_id: str, outcome: str, body: dict[str, Any],
                        version: str | None = None) -> Any:
    """What the page's script sends: the card's version as If-Match, a new Idempotency-Key,
    the session's CSRF token; the answer is the API's own."""
    page = dom(w.client.get("/app/board").text)
    return w.client.post(f"/deals/{deal_id}/{outcome}", json=body, headers={
        "X-CSRF-Token": csrf_of(page), "If-Match": f'"{version or card(page, deal_id).attrs["data-version"]}"',
        "Idempotency-Key": f"{outcome}-{deal_id}-{version}"})


def test_a_deal_won_from_its_card_leaves_the_board_and_the_totals_follow(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    won = ok(close_from_the_card(w, w.ids["rob_deal"], "won", {}), 200)
    page = dom(w.client.get(f"/app/board?after={won['position']}").text)
    assert w.ids["rob_deal"] not in on_board(page)
    assert columns(page) == expected(json_board(w, "rob"))
    deal = ok(w.client.get(f"/deals/{w.ids['rob_deal']}", headers=bearer(w, "rob")), 200)
    assert (deal["status"], deal["version"]) == ("won", won["version"])


def test_a_deal_lost_from_its_card_keeps_its_reason(w: World) -> None:
    sign_in(w.client, w.tokens["mia"])
    lost = ok(close_from_the_card(w, w.ids["rita_deal"], "lost", {"reason": "Chose a cheaper offer"}), 200)
    page = dom(w.client.get(f"/app/board?after={lost['position']}").text)
    assert w.ids["rita_deal"] not in on_board(page) and columns(page) == expected(json_board(w, "mia"))
    deal = ok(w.client.get(f"/deals/{w.ids['rita_deal']}", headers=bearer(w, "mia")), 200)
    assert (deal["status"], deal["lost_reason"]) == ("lost", "Chose a cheaper offer")


def test_a_stale_win_is_412_and_changes_nothing(w: World) -> None:
    sign_in(w.client, w.tokens["mia"])
    stale = card(dom(w.client.get("/app/board").text), w.ids["rob_deal"]).attrs["data-version"]
    w.write("POST", f"/deals/{w.ids['rob_deal']}/stage", {"stage": "Signature"}, 200)  # meanwhile
    before = w.services.store.max_position()
    answer = close_from_the_card(w, w.ids["rob_deal"], "won", {}, version=stale)
    assert answer.status_code == 412 and answer.headers["content-type"].startswith("application/problem+json")
    assert w.services.store.max_position() == before
    page = dom(w.client.get(f"/app/board?after={w.position}").text)
    assert card(page, w.ids["rob_deal"]).attrs["data-stage"] == "Signature"


def test_a_loss_without_a_reason_is_refused_naming_it_and_changes_nothing(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    before = w.services.store.max_position()
    answer = close_from_the_card(w, w.ids["rob_deal"], "lost", {"reason": ""})
    assert answer.status_code == 422
    assert any("reason" in error.get("loc", error.get("field", "")) for error in answer.json()["errors"])
    assert w.services.store.max_position() == before
    assert w.ids["rob_deal"] in on_board(dom(w.client.get("/app/board").text))


def test_a_rep_cannot_close_a_team_mates_deal_from_the_api_either(w: World) -> None:
    """No button on Rita's card for Rob; and sending the command anyway is refused (403)."""
    sign_in(w.client, w.tokens["rob"])
    before = w.services.store.max_position()
    answer = close_from_the_card(w, w.ids["rita_deal"], "won", {})
    assert answer.status_code == 403
    assert w.services.store.max_position() == before


# --- the cards' details, read at once ---------------------------------------------------------

def test_each_card_names_its_own_company_and_first_contact(w: World) -> None:
    other = w.write("POST", "/companies", {"name": "Globex"})["id"]
    w.write("PATCH", f"/deals/{w.ids['rita_deal']}", {"company_id": other}, 200)
    bare = w.write("POST", "/deals", {"title": "No one's", "pipeline_id": w.ids["pipeline"], "stage": "Contact",
                                      "amount": "10.00", "currency": "EUR", "owner_id": w.ids["eve"]})["id"]
    assert w.services.projector.wait_for(w.position, 10)
    sign_in(w.client, w.tokens["admin"])
    page = dom(w.client.get("/app/board").text)
    for deal_id, company in ((w.ids["rob_deal"], "Acme SA"), (w.ids["rita_deal"], "Globex")):
        assert card(page, deal_id).one(".company").text == company
        stored = ok(w.client.get(f"/deals/{deal_id}", headers=bearer(w, "admin")), 200)
        assert card(page, deal_id).attrs["data-version"] == str(stored["version"])
        assert card(page, deal_id).one("a.contact-link").attrs["href"] == f"/app/contacts/{stored['contact_ids'][0]}"
    assert card(page, bare).one(".company").text == "No company" and not card(page, bare).all("a.contact-link")
