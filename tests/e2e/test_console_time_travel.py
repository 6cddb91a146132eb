"""The board as it stood on a past date: the same figures as the API's board of that date,
said plainly, and nothing to move."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.e2e.pages import columns_answered, columns_shown, expect, shoot
from tests.e2e.served import Console


def quiet_past_day(console: Console) -> date:
    """A past day on which the board differed from today's and nothing happened on it, nor
    half a day around it: so whichever moment of the day the page means by a date (its
    start or its end, in any time zone), the API's board of that day is the same."""
    now = columns_answered(console.board())
    for back in range(14, 365):
        day = date.today() - timedelta(days=back)
        before, after = (columns_answered(console.board(as_of=f"{moment}T12:00:00Z"))
                         for moment in (day - timedelta(days=1), day + timedelta(days=1)))
        if before == after != now and any(column["deals"] for column in before):
            return day
    pytest.fail("the demo's history has no quiet past day on its first pipeline")


def show(page: Any, as_of: date, known_then: bool) -> None:
    form = page.locator("#time-travel")
    form.locator("input[name=as_of]").fill(as_of.isoformat())
    form.locator("input[name=known_at_then]").set_checked(known_then)
    before, submit = page.url, form.locator("[type=submit]")
    if submit.count():
        submit.first.click()
    else:
        form.evaluate("form => form.requestSubmit()")
    page.wait_for_url(lambda url: url != before)


def test_the_board_as_of_a_past_date_is_the_apis_board_of_that_date_and_nothing_moves(
        console: Console, browse: Any) -> None:
    day = quiet_past_day(console)
    page = browse(console.url, console.admin)
    page.goto(f"/app/board?pipeline={console.pipeline_id}")
    expect(page.locator("#as-of-notice")).to_be_hidden()

    show(page, day, known_then=False)

    assert f"as_of={day.isoformat()}" in page.url
    expect(page.locator("#board")).to_have_attribute("data-as-of", day.isoformat())
    notice = page.locator("#as-of-notice")
    expect(notice).to_be_visible()
    assert columns_shown(page) == columns_answered(console.board(as_of=f"{day}T12:00:00Z"))
    expect(page.locator(".deal-card[draggable=true]")).to_have_count(0)
    expect(page.locator(".write")).to_have_count(0)
    shoot(page, "board-as-of")
    as_known_now = notice.inner_text()

    # "As we knew it then": only what had been recorded by that date (the demo was recorded today).
    show(page, day, known_then=True)

    expect(notice).to_be_visible()
    as_known_then = notice.inner_text()
    assert as_known_then != as_known_now
    moment = f"{day}T12:00:00Z"
    then = columns_answered(console.board(as_of=moment, known_at=moment))
    assert columns_shown(page) == then
    # The same page by its address, as a link would open it (known_at named outright).
    page.goto(f"/app/board?pipeline={console.pipeline_id}&as_of={day}&known_at={day}")
    expect(notice).to_have_text(as_known_then)
    assert columns_shown(page) == then


def test_the_slider_moved_back_shows_the_board_of_that_day_and_back_to_zero_today(console: Console, browse: Any) -> None:
    day = quiet_past_day(console)
    page = browse(console.url, console.admin)
    page.goto(f"/app/board?pipeline={console.pipeline_id}")
    slider = page.locator("#time-travel input[data-as-of-slider]")
    today = date.fromisoformat(slider.get_attribute("data-today"))
    before = page.url
    slider.fill(str((day - today).days))  # as a drag would leave it: its input, then its change
    page.wait_for_url(lambda url: url != before)
    assert f"as_of={day.isoformat()}" in page.url
    expect(page.locator("#board")).to_have_attribute("data-as-of", day.isoformat())
    assert columns_shown(page) == columns_answered(console.board(as_of=f"{day}T12:00:00Z"))
    assert page.locator("#time-travel input[data-as-of-slider]").input_value() == str((day - today).days)
    shoot(page, "board-slider")

    before = page.url
    page.locator("#time-travel input[data-as-of-slider]").fill("0")
    page.wait_for_url(lambda url: url != before)
    expect(page.locator("#as-of-notice")).to_have_count(0)
    assert columns_shown(page) == columns_answered(console.board())
