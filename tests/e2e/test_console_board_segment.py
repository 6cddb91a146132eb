"""The board narrowed to a segment in the browser: the JSON board's figures for the same
?segment=, and stale deals marked on their cards as the page's numbers say."""

from __future__ import annotations

from typing import Any

from tests.e2e.pages import columns_answered, columns_shown, expect, shoot
from tests.e2e.served import Console


def test_choosing_a_segment_shows_the_json_board_of_that_segment(console: Console, browse: Any) -> None:
    page = browse(console.url, console.admin)
    page.goto(f"/app/board?pipeline={console.pipeline_id}")
    everything = columns_answered(console.board())
    segment = next(s for s in ("Gold", "Silver", "Bronze")
                   if 0 < sum(c["count"] for c in columns_answered(console.board(segment=s))) < sum(c["count"] for c in everything))
    page.locator("#time-travel select[name=segment]").select_option(segment)  # the board redraws at once
    page.wait_for_url(f"**segment={segment}**")
    assert columns_shown(page) == columns_answered(console.board(segment=segment))
    stale = page.locator("#board .deal-card.stale")
    for n in range(stale.count()):
        expect(stale.nth(n).locator(".stale-note")).to_be_visible()
        assert int(stale.nth(n).locator(".stale-note").get_attribute("data-days")) >= 30
    shoot(page, "board-segment")
