"""Won and lost from the card, in a real browser: the buttons are reached with the keyboard,
a win is confirmed, a loss asks its reason; each closed deal leaves the board, the columns'
figures follow, and the JSON API shows its status (and the reason)."""

from __future__ import annotations

from typing import Any

from tests.e2e.pages import card, columns_answered, columns_shown, expect, shoot
from tests.e2e.served import Console


def test_a_deal_won_and_another_lost_from_their_cards_leave_the_board_with_their_outcome(
        console: Console, browse: Any) -> None:
    won, _stages = console.take_deal(right=0)
    lost, _stages = console.take_deal(right=0)
    page = browse(console.url, console.admin)
    page.goto(f"/app/board?pipeline={console.pipeline_id}")
    win, lose = card(page, won["id"]).locator("button.win"), card(page, lost["id"]).locator("button.lose")
    expect(win).to_have_class("win write")
    expect(lose).to_have_class("lose write")

    # Win: from the keyboard (Tab from the card reaches its buttons), confirmed in the dialog.
    confirmed: list[str] = []
    page.once("dialog", lambda dialog: (confirmed.append(dialog.message), dialog.accept()))
    card(page, won["id"]).focus()
    page.keyboard.press("Tab")  # the deal's own link, in its title, comes first
    expect(card(page, won["id"]).locator("a.deal-link")).to_be_focused()
    page.keyboard.press("Tab")
    if card(page, won["id"]).locator("a.contact-link").count():  # then the contact's link
        page.keyboard.press("Tab")
    expect(win).to_be_focused()
    page.keyboard.press("Enter")
    expect(card(page, won["id"])).to_have_count(0)
    assert confirmed and won["title"] in confirmed[0]

    # Lose: the reason asked inline, then sent.
    lose.click()
    form = card(page, lost["id"]).locator("form.lost-reason")
    expect(form).to_be_visible()
    expect(form.locator("input[name=reason]")).to_be_focused()
    shoot(page, "board-lost-reason")
    page.keyboard.type("Went with a competitor")
    page.keyboard.press("Enter")
    expect(card(page, lost["id"])).to_have_count(0)
    expect(page.locator("#conflict")).to_be_hidden()

    assert console.settled("the won deal read back", lambda: console.get(f"/deals/{won['id']}")["status"] == "won")
    assert console.settled("the lost deal read back", lambda: console.get(f"/deals/{lost['id']}")["status"] == "lost")
    assert console.get(f"/deals/{lost['id']}")["lost_reason"] == "Went with a competitor"
    console.settled("the columns as the API counts them",
                    lambda: columns_shown(page) == columns_answered(console.board()))
    shoot(page, "board-won-lost")


def test_a_stale_win_is_told_who_changed_the_deal_and_writes_nothing(console: Console, browse: Any) -> None:
    deal, stages = console.take_deal(owner_id=console.rep.rep_id)
    ahead = stages[deal["stage_index"] + 1]
    page = browse(console.url, console.admin)
    page.goto(f"/app/board?pipeline={console.pipeline_id}")
    expect(card(page, deal["id"])).to_be_visible()
    with console.api(console.rep) as rep:  # meanwhile, the owner moves it
        assert rep.post(f"/deals/{deal['id']}/stage", json={"stage": ahead}).status_code == 200
    moved = console.deal_once_in(deal["id"], ahead)

    page.once("dialog", lambda dialog: dialog.accept())
    card(page, deal["id"]).locator("button.win").click()

    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict.locator(".moved-by")).to_be_visible()
    expect(card(page, deal["id"], ahead)).to_have_attribute("data-version", str(moved["version"]))
    stored = console.get(f"/deals/{deal['id']}")
    assert (stored["status"], stored["version"]) == ("open", moved["version"])


def test_the_owner_filter_shows_the_apis_board_for_that_owner_and_stays_in_the_url(
        console: Console, browse: Any) -> None:
    page = browse(console.url, console.admin)
    page.goto(f"/app/board?pipeline={console.pipeline_id}")
    page.locator("#time-travel select[name=owner]").select_option(console.rep.rep_id)
    page.wait_for_url(f"**owner={console.rep.rep_id}**")
    console.settled("the owner's columns as the API counts them",
                    lambda: columns_shown(page) == columns_answered(console.board(owner=console.rep.rep_id)))
    owners = {deal["owner_id"] for stage in console.board(owner=console.rep.rep_id)["stages"] for deal in stage["deals"]}
    assert owners == {console.rep.rep_id}
    shoot(page, "board-owner-filter")
