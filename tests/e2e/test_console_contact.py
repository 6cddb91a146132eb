"""A contact's page, opened from a card on the board: its timeline, and a call logged from
the page through the JSON API, shown at the top and kept in the contact's timeline."""

from __future__ import annotations

from typing import Any

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console


def test_a_call_logged_on_a_contact_opened_from_the_board_joins_its_timeline(console: Console, browse: Any) -> None:
    page = browse(console.url, console.admin)
    page.goto(f"/app/board?pipeline={console.pipeline_id}")
    linked = page.locator("#board .deal-card:has(a.contact-link)").first
    deal_id = linked.get_attribute("data-deal-id")
    linked.locator("a.contact-link").first.click()

    contact_id = console.get(f"/deals/{deal_id}")["contact_ids"][0]
    page.wait_for_url(f"**/app/contacts/{contact_id}**")
    expect(page.locator("#record")).to_have_attribute("data-contact-id", contact_id)
    events = page.locator("#timeline li.event")
    expect(events.first).to_be_visible()
    known = {event["position"] for event in console.timeline("contacts", contact_id)}

    summary = f"Asked for the fleet quote again ({deal_id[:8]})"
    form = page.locator("#log-call")
    form.locator("[name=summary]").fill(summary)
    outcome = form.locator("[name=outcome]")
    if outcome.evaluate("field => field.tagName") == "SELECT":
        chosen = outcome.locator("option:not([value=''])").first.get_attribute("value")
        outcome.select_option(chosen)
    else:
        chosen = "connected"
        outcome.fill(chosen)
    form.locator("[name=duration_minutes]").fill("7")
    form.locator("[type=submit]").click()

    expect(events.first).to_have_attribute("data-type", "call")
    expect(events.first).to_contain_text(summary)
    logged = console.settled("the call in the contact's timeline", lambda: [
        event for event in console.timeline("contacts", contact_id) if event["position"] not in known])
    assert [event["type"] for event in logged] == ["call"]
    call = logged[0]["data"]
    assert summary in call.values() and call["outcome"] == chosen and call["duration_seconds"] == 7 * 60, call
    assert logged[0]["actor"] == console.admin.actor
    shoot(page, "contact")
