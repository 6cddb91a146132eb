"""The news feed page: GET /feed's items for the caller's reach, newest first, each linked
to its contact's page, a page at a time with the API's cursor (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_pages import Element, World, bearer, dom, ok, sign_in, world

from crm_es.bootstrap import Services


@pytest.fixture
def w(client: TestClient, services: Services) -> World:
    """The world's contacts and deals, and Rob's deal moved and won: news on both kinds of record."""
    w = world(client, services)
    w.write("POST", f"/deals/{w.ids['rob_deal']}/stage", {"stage": "Demo"}, 200)
    w.write("POST", f"/deals/{w.ids['rob_deal']}/won", {}, 200)
    assert services.projector.wait_for(w.position, 10)
    return w


def api_feed(w: World, who: str, **params: Any) -> dict[str, Any]:
    return ok(w.client.get("/feed", params=params, headers=bearer(w, who)), 200)


def news(page: Element) -> list[tuple[int, str, str]]:
    return [(int(li.attrs["data-position"]), li.attrs["data-type"], li.attrs["data-record-id"])
            for li in page.all("li.news")]


def answered(feed: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(item["position"], item["type"], str(item["record_id"])) for item in feed["items"]]


@pytest.mark.parametrize("who", ["admin", "rob", "mia", "auditor"])
def test_the_feed_page_shows_get_feeds_items_in_the_callers_reach_newest_first(w: World, who: str) -> None:
    sign_in(w.client, w.tokens[who])
    page = dom(w.client.get("/app/feed").text)
    shown = news(page)
    assert shown == answered(api_feed(w, who))
    assert [p for p, _, _ in shown] == sorted((p for p, _, _ in shown), reverse=True) and len(shown) >= 4
    eve = {w.ids["eve_contact"], w.ids["eve_deal"]}
    assert bool({record for _, _, record in shown} & eve) == (who in ("admin", "auditor"))  # East is outside West's reach


def test_each_item_links_to_its_contacts_page(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get("/app/feed").text)
    for item in page.all("li.news"):
        record = item.attrs["data-record-id"]
        contact = record if item.attrs["data-record-type"] == "contact" else w.ids[
            next(name for name in ("rob", "rita") if w.ids[f"{name}_deal"] == record) + "_contact"]
        assert item.one("a.contact-link").attrs["href"] == f"/app/contacts/{contact}"
    won = next(i for i in page.all("li.news") if i.attrs["data-type"] == "deal_won")
    assert "Rob's fleet" in won.text and "key:" in won.one(".who").text  # the admin's key, as the API names it


def test_the_feed_is_paged_with_the_apis_cursor(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    first = dom(w.client.get("/app/feed?limit=3").text)
    answer = api_feed(w, "admin", limit=3)
    assert news(first) == answered(answer) and answer["next_cursor"]
    older = first.one("a.older").attrs["href"]
    second = dom(w.client.get(older).text)
    assert news(second) == answered(api_feed(w, "admin", limit=3, cursor=answer["next_cursor"]))
    assert second.one("a.newest").attrs["href"] == "/app/feed?limit=3"
    everything = api_feed(w, "admin", limit=1000)
    last = dom(w.client.get("/app/feed?limit=1000").text)
    assert news(last) == answered(everything) and not last.all("a.older")


@pytest.mark.parametrize("query, field", [("cursor=nonsense", "query.cursor"), ("limit=0", "query.limit"),
                                          ("limit=many", "query.limit")])
def test_a_bad_cursor_or_limit_is_a_422_page_naming_it(w: World, query: str, field: str) -> None:
    sign_in(w.client, w.tokens["rob"])
    answer = w.client.get(f"/app/feed?{query}")
    assert answer.status_code == 422 and dom(answer.text).one(".error").attrs["data-field"] == field


def test_an_analyst_gets_the_not_allowed_page(w: World) -> None:
    sign_in(w.client, w.tokens["analyst"])
    assert w.client.get("/app/feed").status_code == 403


def test_a_deal_naming_a_contact_outside_the_readers_reach_is_not_linked_to_it(w: World) -> None:
    deal = w.write("POST", "/deals", {"title": "Shared fleet", "pipeline_id": w.ids["pipeline"], "stage": "Contact",
                                      "amount": "10.00", "currency": "EUR", "owner_id": w.ids["rob"],
                                      "contact_ids": [w.ids["eve_contact"]]})
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get(f"/app/feed?after={deal['position']}").text)
    item = page.one(f"li.news[data-record-id={deal['id']}]")
    assert "Shared fleet" in item.text and not item.all("a.contact-link")  # Eve's contact: a 403 page for Rob
    sign_in(w.client, w.tokens["admin"])
    admin = dom(w.client.get("/app/feed").text).one(f"li.news[data-record-id={deal['id']}]")
    assert admin.one("a.contact-link").attrs["href"] == f"/app/contacts/{w.ids['eve_contact']}"
