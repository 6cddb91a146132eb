"""Commands sent with the console's session cookie: the session's CSRF token or nothing
happens; the role rules and If-Match hold as for a Bearer key (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_pages import World, csrf_of, dom, ok, sign_in, world

from crm_es.bootstrap import Services

PROBLEM = "application/problem+json"


@pytest.fixture
def w(client: TestClient, services: Services) -> World:
    return world(client, services)


def stage_of(w: World, deal_id: str) -> tuple[str, int]:
    deal = ok(w.client.get(f"/deals/{deal_id}?after={w.position}",
                           headers={"Authorization": f"Bearer {w.tokens['admin']}"}), 200)
    return deal["stage"], deal["version"]


def test_a_cookie_command_without_the_csrf_token_is_refused_and_changes_nothing(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    deal = w.ids["rob_deal"]
    before = w.services.store.max_position()
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
        answer = w.client.post(f"/deals/{deal}/stage", json={"stage": "Demo"}, headers=headers)
        assert answer.status_code == 403 and answer.headers["content-type"].startswith(PROBLEM)
        assert answer.json()["rule"] == "csrf-token-required"
    assert w.services.store.max_position() == before
    assert stage_of(w, deal) == ("Contact", 1)


def test_a_cookie_command_with_the_csrf_token_goes_through(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    token = csrf_of(dom(w.client.get("/app/board").text))
    deal = w.ids["rob_deal"]
    moved = w.client.post(f"/deals/{deal}/stage", json={"stage": "Demo"},
                          headers={"X-CSRF-Token": token, "If-Match": '"1"', "Idempotency-Key": "move-1"})
    w.position = ok(moved, 200)["position"]
    assert stage_of(w, deal) == ("Demo", 2)
    stale = w.client.post(f"/deals/{deal}/stage", json={"stage": "Signature"},
                          headers={"X-CSRF-Token": token, "If-Match": '"1"'})
    assert stale.status_code == 412  # the card's version: a move made meanwhile is not overwritten
    assert stage_of(w, deal) == ("Demo", 2)


def test_bearer_callers_need_no_csrf_token(w: World) -> None:
    answer = w.client.post(f"/deals/{w.ids['rob_deal']}/stage", json={"stage": "Demo"},
                           headers={"Authorization": f"Bearer {w.tokens['rob']}"})
    assert answer.status_code == 200


def test_reads_with_the_cookie_need_no_csrf_token(w: World) -> None:
    sign_in(w.client, w.tokens["auditor"])
    assert w.client.get(f"/contacts/{w.ids['eve_contact']}/timeline?after={w.position}").status_code == 200


def test_an_auditors_cookie_command_is_refused_by_role(w: World) -> None:
    sign_in(w.client, w.tokens["auditor"])
    token = csrf_of(dom(w.client.get("/app/board").text))
    before = w.services.store.max_position()
    answer = w.client.post(f"/deals/{w.ids['rob_deal']}/stage", json={"stage": "Demo"}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 403 and answer.json()["rule"] == "role-not-allowed"
    call = w.client.post(f"/contacts/{w.ids['rob_contact']}/interactions", json={"type": "call"},
                         headers={"X-CSRF-Token": token})
    assert call.status_code == 403 and call.json()["rule"] == "role-not-allowed"
    assert w.services.store.max_position() == before


def test_a_call_logged_from_the_page_shows_first_in_its_timeline(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    contact = w.ids["rob_contact"]
    page = dom(w.client.get(f"/app/contacts/{contact}").text)
    form = page.one("form#log-call")
    assert {"summary", "outcome", "duration_minutes"} <= {e.attrs.get("name") for e in form.walk()}
    body = {"type": "call", "notes": "Wants a quote", "outcome": "connected", "duration_seconds": 600}  # as console.js sends it
    logged = ok(w.client.post(f"/contacts/{contact}/interactions", json=body,
                              headers={"X-CSRF-Token": csrf_of(page), "Idempotency-Key": "call-1"}))
    after = dom(w.client.get(f"/app/contacts/{contact}?after={logged['position']}").text)
    first = after.one("#timeline").all("li.event")[0]
    assert first.attrs["data-type"] == "call" and "Wants a quote" in first.text and "Rob" in first.one(".actor").text
    assert after.one("#record").attrs["data-version"] == str(logged["version"])
