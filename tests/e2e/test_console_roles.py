"""Roles hold in the pages: an auditor reads the board and a contact without one write control
(an admin, on the same pages, has them: the check can find them)."""

from __future__ import annotations

from typing import Any

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console


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
