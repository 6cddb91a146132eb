"""The record pages in the browser: a note, a task and a quote from a contact's page (sent
through the JSON API by console.js, kept by it), then the contact's deal opened from its page and its
timeline filtered by type, as GET /deals/{id}/timeline?type= answers."""

from __future__ import annotations

from typing import Any

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console

TIMELINE_JS = "() => [...document.querySelectorAll('#timeline li.event')].map(e => Number(e.dataset.position))"


def test_a_note_a_task_and_a_quote_from_a_contacts_page_then_its_deal_filtered_by_type(console: Console, browse: Any) -> None:
    deal, _stages = console.take_deal()
    contact_id = console.get(f"/deals/{deal['id']}")["contact_ids"][0]
    page = browse(console.url, console.admin)
    page.goto(f"/app/contacts/{contact_id}")

    text = f"Wants the quote in French ({deal['id'][:8]})"
    page.locator("#add-note textarea[name=text]").fill(text)
    page.locator("#add-note [type=submit]").click()
    expect(page.locator("#timeline li.event").first).to_have_attribute("data-type", "note")
    expect(page.locator("#timeline li.event").first).to_contain_text(text)
    assert any(e["type"] == "note" and e["data"].get("text") == text for e in console.timeline("contacts", contact_id))

    title = f"Send the French quote ({deal['id'][:8]})"
    task = page.locator("#schedule-task")
    task.locator("select[name=type]").select_option("email")
    task.locator("input[name=title]").fill(title)
    task.locator("input[name=due_at]").fill("2030-01-15T09:30")
    task.locator("[type=submit]").click()
    expect(task.locator(".result")).not_to_be_empty()
    planned = console.settled("the task in the contact's tasks", lambda: [
        t for t in console.get("/tasks", contact=contact_id, limit=1000)["items"] if t["title"] == title])
    assert planned[0]["type"] == "email" and planned[0]["due_at"].startswith("2030-01-15")
    form = page.locator("#issue-document")
    form.locator("select[name=kind]").select_option("quote")
    form.locator("input[name=description]").fill("Data migration, fixed price")
    form.locator("input[name=quantity]").fill("2")
    form.locator("input[name=unit_price]").fill("1250.00")
    form.locator("[type=submit]").click()
    quote = page.locator("#documents li.document").first
    expect(quote).to_be_visible()
    document = console.get(f"/documents/{quote.get_attribute('data-document-id')}")
    assert (document["kind"], document["total"], document["contact_id"]) == ("quote", "2500.00", contact_id)
    expect(quote).to_contain_text(document["number"])
    shoot(page, "contact-note-task-quote")

    page.locator(f'#open-deals a[href="/app/deals/{deal["id"]}"]').click()
    page.wait_for_url(f"**/app/deals/{deal['id']}")
    expect(page.locator("h1.title")).to_have_text(deal["title"])
    assert page.evaluate(TIMELINE_JS) == [e["position"] for e in console.timeline("deals", deal["id"])][::-1]
    page.locator('#timeline-filters input[name=type][value="deal_opened"]').check()
    page.locator("#timeline-filters [type=submit]").click()
    page.wait_for_url("**type=deal_opened**")
    opened = [e["position"] for e in console.timeline("deals", deal["id"]) if e["type"] == "deal_opened"]
    assert page.evaluate(TIMELINE_JS) == opened[::-1] and len(opened) == 1
    shoot(page, "deal")
