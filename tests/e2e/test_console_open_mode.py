"""Open development mode (no key made yet): the pages work without signing in, and every one
says so in #dev-banner. A service of its own: the session's has keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.pages import expect, shoot
from tests.e2e.served import DemoService, demo_store


@pytest.fixture(scope="module")
def open_service(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoService]:
    service = DemoService(demo_store(tmp_path_factory.mktemp("open-mode") / "var"))
    try:
        yield service
    finally:
        service.stop()


def test_without_any_key_every_page_opens_and_shows_the_open_mode_banner(
        open_service: DemoService, browse: Any) -> None:
    page = browse(open_service.url)
    page.goto("/app/")
    page.wait_for_url("**/app/board**")
    expect(page.locator("#dev-banner")).to_be_visible()
    expect(page.locator("#board .deal-card").first).to_be_visible()
    shoot(page, "board-open-mode")

    contact_id = open_service.get("/contacts", limit=1)["items"][0]["id"]
    page.goto(f"/app/contacts/{contact_id}")
    expect(page.locator("#record")).to_have_attribute("data-contact-id", contact_id)
    expect(page.locator("#dev-banner")).to_be_visible()
