"""Roles and reach on the console's pages: what each role sees, and the write controls
shown only to those the matching command allows (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_pages import World, dom, sign_in, world

from crm_es.bootstrap import Services


@pytest.fixture
def w(client: TestClient, services: Services) -> World:
    return world(client, services)


def cards(page) -> dict[str, set[str]]:
    return {card.attrs["data-deal-id"]: card.classes for card in page.all("article.deal-card")}


def test_an_auditor_sees_every_page_and_no_write_control(w: World) -> None:
    sign_in(w.client, w.tokens["auditor"])
    board = dom(w.client.get(f"/app/board?after={w.position}").text)
    assert set(cards(board)) == {w.ids["rob_deal"], w.ids["rita_deal"], w.ids["eve_deal"]}
    contact = w.client.get(f"/app/contacts/{w.ids['eve_contact']}")
    assert contact.status_code == 200
    for page in (board, dom(contact.text)):
        assert not [e for e in page.walk() if "write" in e.classes]
        assert not page.all("[draggable=true]") and not page.all("#log-call")


def test_a_rep_sees_their_teams_deals_and_moves_only_their_own(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    shown = cards(dom(w.client.get(f"/app/board?after={w.position}").text))
    assert set(shown) == {w.ids["rob_deal"], w.ids["rita_deal"]}  # the team's (CRM_ES_REP_READS=team), not East's
    assert "write" in shown[w.ids["rob_deal"]] and "write" not in shown[w.ids["rita_deal"]]
    own = dom(w.client.get(f"/app/contacts/{w.ids['rob_contact']}").text)
    teammate = dom(w.client.get(f"/app/contacts/{w.ids['rita_contact']}").text)
    assert own.all("form#log-call") and not teammate.all("form#log-call")
    outside = w.client.get(f"/app/contacts/{w.ids['eve_contact']}")
    assert outside.status_code == 403 and dom(outside.text).one("#problem").attrs["data-rule"] == "not-your-record"


def test_a_manager_moves_their_teams_deals(w: World) -> None:
    sign_in(w.client, w.tokens["mia"])
    shown = cards(dom(w.client.get(f"/app/board?after={w.position}").text))
    assert set(shown) == {w.ids["rob_deal"], w.ids["rita_deal"]}
    assert all("write" in classes for classes in shown.values())


def test_an_analyst_may_not_open_record_pages(w: World) -> None:
    sign_in(w.client, w.tokens["analyst"])
    for path in ("/app/board", f"/app/contacts/{w.ids['rob_contact']}"):
        answer = w.client.get(path)
        assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html")
        assert dom(answer.text).one("#problem").attrs["data-rule"] == "role-not-allowed"


def test_pages_take_a_bearer_key_too(w: World) -> None:
    w.client.cookies.clear()
    answer = w.client.get("/app/board", headers={"Authorization": f"Bearer {w.tokens['auditor']}"})
    assert answer.status_code == 200 and dom(answer.text).one("#board")
    unknown = w.client.get("/app/board", headers={"Authorization": "Bearer crm_000000000000_nope"})
    assert unknown.status_code == 401


def test_unknown_records_and_bad_ids_are_pages_too(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    missing = w.client.get("/app/contacts/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and dom(missing.text).one("#problem").attrs["data-rule"] == "not-found"
    bad = w.client.get("/app/contacts/not-an-id")
    assert bad.status_code == 422 and dom(bad.text).one(".error").attrs["data-field"] == "path.contact_id"
    no_pipeline = w.client.get("/app/board?pipeline=00000000-0000-4000-8000-000000000000")
    assert no_pipeline.status_code == 404
