"""A French browser (Accept-Language: fr-FR) gets the console in French: <html lang="fr">,
the catalog's French strings, none of the English ones, and amounts written the French way."""

from __future__ import annotations

import re
from typing import Any

from crm_es.entrypoints.web.i18n import CATALOG, LABELS
from tests.e2e.pages import expect, shoot, sign_in
from tests.e2e.served import Console

# The English strings that must not show on a French page: those French writes otherwise,
# of two words or more (a single word could be a customer's data), without placeholders.
ENGLISH_ONLY = [text for key, text in CATALOG["en"].items()
                if text != CATALOG["fr"][key] and " " in text and "{" not in text]


def assert_french(page: Any) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    shown = page.locator("body").inner_text()
    assert not [text for text in ENGLISH_ONLY if text in shown], [text for text in ENGLISH_ONLY if text in shown]


def test_a_french_browser_gets_the_sign_in_page_and_the_board_in_french(console: Console, browse: Any) -> None:
    page = browse(console.url, locale="fr-FR")
    page.goto("/app/sign-in")
    assert_french(page)
    expect(page.locator("#sign-in button[type=submit]")).to_have_text(CATALOG["fr"]["sign_in"])
    shoot(page, "sign-in-fr")

    sign_in(page, console.admin)
    assert_french(page)
    expect(page.locator("#sign-out [type=submit]")).to_have_text(CATALOG["fr"]["sign_out"])
    expect(page.locator("#who")).to_contain_text(LABELS["fr"]["role.admin"])
    amounts = page.locator("#board .column .total").all_inner_texts()
    assert amounts and all(re.search(r"\d,\d\d\D*$", amount) for amount in amounts), amounts
    shoot(page, "board-fr")


def test_an_english_browser_gets_the_same_pages_in_english(console: Console, browse: Any) -> None:
    page = browse(console.url, console.admin, locale="en-US")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#sign-out [type=submit]")).to_have_text(CATALOG["en"]["sign_out"])
    amounts = page.locator("#board .column .total").all_inner_texts()
    assert amounts and all(re.search(r"\d\.\d\d\D*$", amount) for amount in amounts), amounts
