"""Signing in to the console with an API key, through the form, and out again."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console


def test_an_admin_signs_in_through_the_form_sees_who_they_are_and_signs_out(console: Console, browse: Any) -> None:
    page = browse(console.url)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto("/app/")
    page.wait_for_url("**/app/sign-in**")
    expect(page.locator("#sign-in input[name=csrf]")).to_have_count(1)
    shoot(page, "sign-in")
    page.locator("#sign-in input[name=api_key]").fill(console.admin.secret)
    page.locator("#sign-in button[type=submit]").click()

    page.wait_for_url("**/app/board**")
    expect(page.locator("#board")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("admin")
    expect(page.locator("#who")).to_contain_text(console.admin.name)
    expect(page.locator("#dev-banner")).to_have_count(0)  # a key exists: no open development mode
    session = {cookie["name"]: cookie for cookie in page.context.cookies()}["crm_es_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict", session
    assert console.admin.secret not in session["value"]
    # The cookie is the session's, not the page's: it answers the JSON API's reads too ...
    cookie = {"Cookie": f"crm_es_session={session['value']}"}
    assert httpx.get(f"{console.url}/pipelines", headers=cookie).status_code == 200

    page.locator("#sign-out [type=submit]").click()
    page.wait_for_url(lambda url: "/app/board" not in url)
    page.goto("/app/")
    page.wait_for_url("**/app/sign-in**")
    # ... until sign-out ends it on the server: the same cookie, replayed, opens nothing.
    replayed = httpx.get(f"{console.url}/pipelines", headers=cookie)
    assert replayed.status_code == 401, replayed.text
    # Everything the pages needed came from the service itself: no CDN, no internet needed.
    assert any(url.endswith(".js") for url in asked), asked
    assert [url for url in asked if not url.startswith(console.url + "/")] == []


def test_an_unknown_key_is_refused_with_the_form_again_and_no_session(console: Console, browse: Any) -> None:
    page = browse(console.url)
    page.goto("/app/sign-in")
    page.locator("#sign-in input[name=api_key]").fill("crm-es-not-a-key-" + console.admin.secret[::-1])
    with page.expect_response(lambda r: r.request.method == "POST" and "/app/sign-in" in r.url) as sent:
        page.locator("#sign-in button[type=submit]").click()

    assert sent.value.status == 401
    expect(page.locator(".error").first).to_be_visible()
    expect(page.locator("#sign-in input[name=api_key]")).to_be_visible()
    assert "crm_es_session" not in {cookie["name"] for cookie in page.context.cookies()}
    page.goto("/app/")
    page.wait_for_url("**/app/sign-in**")
