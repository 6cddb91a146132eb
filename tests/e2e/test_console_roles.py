"""Roles hold in the pages: an auditor reads the board and a contact without one write control
(an admin, on the same pages, has them: the check can find them)."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console, create_key, demo_store


def test_an_auditor_sees_the_board_and_a_contact_without_one_write_control(console: Console, browse: Any) -> None:
    deals = [deal for stage in console.board()["stages"] for deal in stage["deals"]]
    contact_id = next(ids[0] for deal in deals if (ids := console.get(f"/deals/{deal['id']}")["contact_ids"]))
    auditor, admin = browse(console.url, console.auditor), browse(console.url, console.admin)
    for page in (auditor, admin):
        page.goto(f"/app/board?pipeline={console.pipeline_id}")
        expect(page.locator("#board .deal-card")).to_have_count(len(deals))

    expect(auditor.locator("#who")).to_contain_text("auditor")
    expect(auditor.locator(".write")).to_have_count(0)
    expect(auditor.locator(".deal-card[draggable=true]")).to_have_count(0)
    shoot(auditor, "board-auditor")
    assert admin.locator(".write").count() >= len(deals)  # every card at least: the check finds them

    for page in (auditor, admin):
        page.goto(f"/app/contacts/{contact_id}")
        expect(page.locator("#record")).to_have_attribute("data-contact-id", contact_id)
        expect(page.locator("#timeline li.event").first).to_be_visible()
    expect(auditor.locator(".write")).to_have_count(0)
    expect(auditor.locator("#log-call")).to_have_count(0)
    expect(admin.locator("#log-call.write")).to_be_visible()


def test_an_auditor_walks_every_page_of_the_menu_and_finds_no_write_control(console: Console, browse: Any) -> None:
    """Every page an auditor may open, from the board to the audit pages, read as a person
    would (the menu's links, then a record of each kind): no control that writes, on any."""
    deal = next(deal for stage in console.board()["stages"] for deal in stage["deals"])
    record = console.get(f"/deals/{deal['id']}")
    company = record["company_id"] or console.get("/companies")["items"][0]["id"]
    page = browse(console.url, console.auditor)
    page.goto(f"/app/board?pipeline={console.pipeline_id}")
    menu = page.evaluate("() => [...document.querySelectorAll('header nav a')].map(a => a.getAttribute('href'))")
    assert "/app/admin" not in menu and {"/app/board", "/app/contacts", "/app/agenda", "/app/dashboards",
                                         "/app/audit"} <= set(menu)
    for path in [*menu, f"/app/deals/{deal['id']}", f"/app/companies/{company}", f"/app/contacts/{record['contact_ids'][0]}",
                 f"/app/contacts/{record['contact_ids'][0]}/history", f"/app/deals/{deal['id']}/history"]:
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        expect(page.locator("main")).to_be_visible()
        assert page.locator(".write").count() == 0, path
    shoot(page, "auditor-walk")


def test_an_analyst_finds_the_dashboards_only(console: Console, browse: Any) -> None:
    analyst = create_key(demo_store(console.service.log.parent), "analyst", "e2e-analyst-roles")
    page = browse(console.url, analyst)
    expect(page).to_have_url(re.compile(r"/app/dashboards"))  # signing in lands there
    expect(page.locator("section.report[data-report=funnel]")).to_be_visible()
    menu = page.evaluate("() => [...document.querySelectorAll('header nav a')].map(a => a.getAttribute('href'))")
    assert menu == ["/app/dashboards"]
    for path in ("/app/board", "/app/contacts", "/app/agenda", "/app/audit", "/app/admin"):
        assert page.goto(path).status == 403, path
