"""What the tests do and read in the console's pages, by its DOM contract
(/work/notes/briefs/console-server.md; docs/console.md): sign-in, the board's columns and
cards, screenshots."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.served import Key

try:
    from playwright.sync_api import expect
except ImportError:  # without playwright the `browser` fixture skips these tests (fails under CI), saying why
    expect = None

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-')}.png"


TALLEST = 4000  # pixels: a longer page (the API docs) is cut there, its screenshot takes seconds else


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot, tests/artifacts/<name>.png (the README shows some of them)."""
    path = artifact(name)
    height = min(page.evaluate("document.documentElement.scrollHeight"), TALLEST)
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": page.viewport_size["width"],
                                                          "height": height})
    return path


def sign_in(page: Any, key: Key) -> None:
    """Through the sign-in form, as a person does: the key typed in, the form sent."""
    page.goto("/app/sign-in")
    page.locator("#sign-in input[name=api_key]").fill(key.secret)
    page.locator("#sign-in button[type=submit]").click()
    page.wait_for_url(lambda url: "/app/sign-in" not in url)  # the role's home: the board, or the dashboards


def card(page: Any, deal_id: str, stage: str | None = None) -> Any:
    """A deal's card, in the named stage's column when given."""
    column = f'.column[data-stage="{stage}"] ' if stage is not None else ""
    return page.locator(f'#board {column}.deal-card[data-deal-id="{deal_id}"]')


COLUMNS_JS = """() => [...document.querySelectorAll('#board .column')].map(column => ({
    stage: column.dataset.stage,
    count: column.querySelector('.count').textContent,
    amount: column.querySelector('.total').dataset.amount,
    weighted: column.querySelector('.weighted').dataset.amount,
    deals: [...column.querySelectorAll('.deal-card')].map(card => card.dataset.dealId).sort(),
}))"""


def columns_shown(page: Any) -> list[dict[str, Any]]:
    """The board's columns as the page shows them: stage, count, totals, the cards' deals."""
    columns = page.evaluate(COLUMNS_JS)
    for column in columns:
        number = re.search(r"\d+", column["count"])
        column["count"] = int(number.group()) if number else column["count"]
    return columns


def columns_answered(board: dict[str, Any]) -> list[dict[str, Any]]:
    """The same, from ``GET /pipelines/{id}/board``'s JSON."""
    return [{"stage": stage["name"], "count": stage["count"], "amount": stage["amount"],
             "weighted": stage["weighted_amount"], "deals": sorted(deal["id"] for deal in stage["deals"])}
            for stage in board["stages"]]


def total(columns: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(column["amount"]) for column in columns), Decimal(0))
