"""Signing in to the console with an API key, the session cookie it gives, signing out,
and the session's end (SQLite and PostgreSQL: the key is read from the store)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_pages import World, dom, sign_in, world

from crm_es.auth.roles import Role
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.entrypoints.web.session import SESSION_COOKIE


@pytest.fixture
def w(client: TestClient, services: Services) -> World:
    return world(client, services)


def session_cookie_header(response) -> str:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}=")]
    return header


def test_a_good_key_opens_a_session_in_an_httponly_strict_cookie(w: World) -> None:
    answer = sign_in(w.client, w.tokens["auditor"])
    assert answer.status_code == 303 and answer.headers["location"] == "/app/board"
    cookie = session_cookie_header(answer).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http here: a Secure cookie would never come back
    page = dom(w.client.get("/app/board").text)
    assert "auditor key" in page.one("#who").text and page.one("#who").attrs["data-role"] == "auditor"
    assert page.one("form#sign-out").attrs["action"] == "/app/sign-out"
    assert w.client.get(f"/deals/{w.ids['rob_deal']}").status_code == 200  # the JSON API takes the cookie too


def test_the_cookie_is_secure_over_https(w: World) -> None:
    https = TestClient(w.client.app, base_url="https://testserver")
    form = dom(https.get("/app/sign-in").text).one("#sign-in")
    answer = https.post("/app/sign-in", data={"api_key": w.tokens["auditor"],
                                              "csrf": form.one("input[name=csrf]").attrs["value"]}, follow_redirects=False)
    assert answer.status_code == 303 and "secure" in session_cookie_header(answer).lower()


def test_an_unknown_key_gets_the_form_again_with_an_error_and_no_session(w: World) -> None:
    for token in ("crm_000000000000_unknown", "not a key", w.tokens["admin"] + "x"):
        answer = sign_in(w.client, token)
        assert answer.status_code == 401
        page = dom(answer.text)
        assert page.one("form#sign-in") and page.one(".error").text
        assert SESSION_COOKIE not in answer.cookies
    assert dom(w.client.get("/app/board").text).all("#sign-in")  # still signed out


def test_a_revoked_key_cannot_sign_in_and_its_open_session_ends_at_once(w: World) -> None:
    assert sign_in(w.client, w.tokens["rob"]).status_code == 303
    assert w.client.get("/app/board").status_code == 200
    key_id = w.tokens["rob"].split("_")[1]
    w.services.api_keys.revoke(key_id)
    page = w.client.get("/app/board")
    assert page.status_code == 401 and dom(page.text).one(".error")
    assert w.client.get(f"/deals/{w.ids['rob_deal']}").json()["rule"] == "api-key-unknown"
    assert sign_in(w.client, w.tokens["rob"]).status_code == 401


def test_the_sign_in_form_needs_its_csrf_token(w: World) -> None:
    w.client.cookies.clear()
    w.client.get("/app/sign-in")
    answer = w.client.post("/app/sign-in", data={"api_key": w.tokens["admin"], "csrf": "forged"}, follow_redirects=False)
    assert answer.status_code == 403 and dom(answer.text).one(".error")
    assert SESSION_COOKIE not in answer.cookies


def test_signing_out_ends_the_session(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    page = dom(w.client.get("/app/board").text)
    csrf = page.one("form#sign-out").one("input[name=csrf]").attrs["value"]
    session = w.client.cookies[SESSION_COOKIE]
    refused = w.client.post("/app/sign-out", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403 and w.client.get("/app/board").status_code == 200  # not by another site
    answer = w.client.post("/app/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/app/sign-in"
    w.client.cookies.set(SESSION_COOKIE, session)  # the old cookie, sent again: the session is gone
    assert w.client.get("/app/board").status_code == 401
    assert w.client.get(f"/deals/{w.ids['rob_deal']}").json()["rule"] == "api-key-required"


def test_a_session_lasts_twelve_hours(w: World, clock: FrozenClock) -> None:
    sign_in(w.client, w.tokens["admin"])
    clock.advance(hours=11, minutes=59)
    assert w.client.get("/app/board").status_code == 200
    clock.advance(minutes=2)
    assert w.client.get("/app/board").status_code == 401


def test_the_way_in(w: World) -> None:
    w.client.cookies.clear()
    assert w.client.get("/", follow_redirects=False).headers["location"] == "/app/"
    assert w.client.get("/app/", follow_redirects=False).headers["location"] == "/app/sign-in"
    answer = w.client.get(f"/app/contacts/{w.ids['rob_contact']}")
    assert answer.status_code == 401  # the sign-in form, which brings the person back here
    assert dom(answer.text).one("input[name=next]").attrs["value"] == f"/app/contacts/{w.ids['rob_contact']}"
    sign_in(w.client, w.tokens["admin"])
    assert w.client.get("/app/", follow_redirects=False).headers["location"] == "/app/board"


def test_sign_in_goes_back_only_within_the_console(w: World) -> None:
    for wanted, landing in ((f"/app/contacts/{w.ids['rob_contact']}", f"/app/contacts/{w.ids['rob_contact']}"),
                            ("https://evil.example/app/x", "/app/board"), ("//evil.example/app/", "/app/board")):
        w.client.cookies.clear()
        csrf = dom(w.client.get("/app/sign-in").text).one("input[name=csrf]").attrs["value"]
        answer = w.client.post("/app/sign-in", data={"api_key": w.tokens["admin"], "csrf": csrf, "next": wanted},
                               follow_redirects=False)
        assert answer.headers["location"] == landing


def test_open_development_mode_needs_no_sign_in_and_says_so(client: TestClient) -> None:
    page = dom(client.get("/app/board").text)
    assert page.one("#dev-banner").text
    assert dom(client.get("/app/sign-in").text).one("#dev-banner")
    assert client.get("/app/", follow_redirects=False).headers["location"] == "/app/board"
    client.app.state.services.api_keys.create(Role.ADMIN, name="first")
    after = client.get("/app/board")
    assert after.status_code == 401 and not dom(after.text).all("#dev-banner")
