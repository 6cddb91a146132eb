"""The news feed in a real browser: GET /feed's items for the rep's reach, newest first, a
link to each contact's page, and older news a page further on."""

from __future__ import annotations

from typing import Any

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console

NEWS_JS = "() => [...document.querySelectorAll('#feed li.news')].map(li => Number(li.dataset.position))"


def test_a_reps_feed_is_get_feeds_and_leads_to_the_contacts(console: Console, browse: Any) -> None:
    page = browse(console.url, console.rep)
    page.goto("/app/feed?limit=20")
    first = console.get("/feed", console.rep, limit=20)
    assert page.evaluate(NEWS_JS) == [item["position"] for item in first["items"]]
    shoot(page, "feed")

    page.locator("a.older").click()
    page.wait_for_url("**cursor=**")
    second = console.get("/feed", console.rep, limit=20, cursor=first["next_cursor"])
    assert page.evaluate(NEWS_JS) == [item["position"] for item in second["items"]]

    link = page.locator("#feed a.contact-link").first
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(f"**{href}")
    expect(page.locator("section#record")).to_have_attribute("data-contact-id", href.rsplit("/", 1)[1])
