"""Moving deals on the board: by dragging a card or from the keyboard, through the JSON API
(If-Match on the card's version); a second browser's stale card gets the conflict, named."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pages import card, columns_answered, columns_shown, expect, shoot
from tests.e2e.served import Console


def drag(page: Any, deal_id: str, target: str) -> None:
    """Press on the card, move over the column in steps, release: as a person drags. (One
    jump, as drag_to makes, sometimes ends before Chromium starts the drag on a loaded
    machine, and no drop follows.)"""
    column = page.locator(f'#board .column[data-stage="{target}"]')
    card(page, deal_id).hover()
    page.mouse.down()
    box = column.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 40, steps=10)
    column.hover()
    page.mouse.up()


def arrow_right(page: Any, deal_id: str, target: str) -> None:
    card(page, deal_id).focus()
    page.keyboard.press("ArrowRight")


def board_url(console: Console) -> str:
    return f"/app/board?pipeline={console.pipeline_id}"


@pytest.mark.parametrize("move", [drag, arrow_right], ids=["drag", "keyboard"])
def test_a_card_moved_to_the_next_column_moves_the_deal_and_its_timeline_says_who(
        console: Console, browse: Any, move: Any) -> None:
    deal, stages = console.take_deal()
    target = stages[deal["stage_index"] + 1]
    page = browse(console.url, console.admin)
    page.goto(board_url(console))
    before = card(page, deal["id"], deal["stage"])
    expect(before).to_have_attribute("draggable", "true")
    version = int(before.get_attribute("data-version"))

    move(page, deal["id"], target)

    expect(card(page, deal["id"], target)).to_be_visible()
    expect(card(page, deal["id"], deal["stage"])).to_have_count(0)
    stored = console.deal_once_in(deal["id"], target)
    assert stored["version"] == version + 1
    expect(card(page, deal["id"], target)).to_have_attribute("data-version", str(stored["version"]))
    expect(card(page, deal["id"], target)).to_have_attribute("data-stage", target)
    moves = [event for event in console.timeline("deals", deal["id"]) if event["type"] == "deal_stage_changed"]
    assert moves[-1]["actor"] == console.admin.actor
    assert (moves[-1]["data"]["from_stage"], moves[-1]["data"]["to_stage"]) == (deal["stage"], target)
    # The columns' counts and totals follow the move.
    console.settled("the columns as the API counts them",
                    lambda: columns_shown(page) == columns_answered(console.board()))
    shoot(page, "board")


def test_a_second_browser_moving_a_stale_card_is_told_who_moved_it_and_sees_where_it_is(
        console: Console, browse: Any) -> None:
    deal, stages = console.take_deal(owner_id=console.rep.rep_id, left=1, right=1)
    here, ahead = deal["stage"], stages[deal["stage_index"] + 1]
    rep, admin = browse(console.url, console.rep), browse(console.url, console.admin)
    for page in (rep, admin):
        page.goto(board_url(console))
        expect(card(page, deal["id"], here)).to_be_visible()
    stale = card(admin, deal["id"]).get_attribute("data-version")

    arrow_right(rep, deal["id"], ahead)
    expect(card(rep, deal["id"], ahead)).to_be_visible()
    moved = console.deal_once_in(deal["id"], ahead)
    assert card(admin, deal["id"], here).get_attribute("data-version") == stale  # the admin's card is now stale

    card(admin, deal["id"]).focus()
    admin.keyboard.press("ArrowLeft")  # back a stage, decided on the stale version

    conflict = admin.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_have_attribute("role", "alert")
    mover = [e for e in console.timeline("deals", deal["id"]) if e["type"] == "deal_stage_changed"][-1]["actor"]
    assert mover == console.rep.actor
    names = {mover, console.rep.name, console.get(f"/reps/{console.rep.rep_id}")["name"]}
    moved_by = conflict.locator(".moved-by")
    expect(moved_by).to_be_visible()
    assert any(name in moved_by.inner_text() for name in names), (moved_by.inner_text(), names)
    # The card shows where the deal is now, at its current version; the refused move wrote nothing.
    expect(card(admin, deal["id"], ahead)).to_have_attribute("data-version", str(moved["version"]))
    expect(card(admin, deal["id"])).to_have_count(1)
    stored = console.get(f"/deals/{deal['id']}")
    assert (stored["stage"], stored["version"]) == (ahead, moved["version"])
    shoot(admin, "board-conflict")
