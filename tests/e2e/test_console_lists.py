"""The contacts list in a browser, as a rep: filtered as GET /contacts filters, saved as a
view (POST /views through the page's script), still there after a reload, opened again from
the list of views, downloaded as CSV (every matching row, the ids of GET /contacts; an
admin's whole list too, several of the API's pages), and the view removed. The deals list
in French, filtered by stage."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from typing import Any

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console, Key


def every_contact(console: Console, key: Key | None = None, **query: str) -> list[str]:
    """GET /contacts as the key's holder (the rep's by default) reads it, page after page of
    50 (the API's default page): the ids, in order."""
    ids, cursor = [], None
    while True:
        page = console.get("/contacts", key or console.rep, limit=50, **query, **({"cursor": cursor} if cursor else {}))
        ids += [item["id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            return ids


def shown_ids(page: Any) -> list[str]:
    return page.locator("#list tr.row").evaluate_all("rows => rows.map(row => row.dataset.id)")


def downloaded_ids(page: Any) -> list[str]:
    """The ids of the CSV the page's download link gives (a real download, as a person gets it)."""
    with page.expect_download() as started:
        page.locator("a#csv").click()
    download = started.value
    assert download.suggested_filename.startswith("contacts-") and download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig", newline="") as file:
        header, *rows = list(csv.reader(io.StringIO(file.read(), newline="")))
    assert header[0] == "id"
    return [row[0] for row in rows]


def test_a_filtered_list_saved_as_a_view_opens_again_and_downloads_as_csv(console: Console, browse: Any) -> None:
    first = console.get("/contacts", console.rep, limit=1000)["items"]
    status, _ = Counter(item["status"] for item in first if item["status"]).most_common(1)[0]
    expected = every_contact(console, status=status)
    assert expected, "the demo gives the rep contacts with a status"

    page = browse(console.url, console.rep)
    page.goto("/app/contacts")
    page.locator("#list-filters select[name=status]").select_option(status)
    page.locator("#list-filters button[type=submit]").click()
    page.wait_for_url("**/app/contacts?*status=*")
    expect(page.locator("#list")).to_have_attribute("data-filters", f'{{"status": "{status}"}}')
    assert shown_ids(page) == expected[:50]
    shoot(page, "lists-contacts-filtered")

    name = f"E2E {status} {uuid.uuid4().hex[:6]}"
    page.locator("#save-view [name=name]").fill(name)
    page.locator("#save-view button[type=submit]").click()
    view = page.locator("#views li.view", has_text=name)
    expect(view).to_have_count(1)
    page.reload()
    expect(view).to_have_count(1)
    [saved] = [v for v in console.get("/views", console.rep, list="contacts")["items"] if v["name"] == name]
    assert saved["filters"] == {"status": status}

    page.goto("/app/contacts")
    expect(page.locator("#list")).to_have_attribute("data-filters", "{}")
    view.locator("a.open-view").click()
    page.wait_for_url("**/app/contacts?status=*")
    expect(page.locator("#list-filters select[name=status]")).to_have_value(status)
    assert shown_ids(page) == expected[:50]
    shoot(page, "lists-contacts-view-opened")

    assert downloaded_ids(page) == expected
    admin = browse(console.url, console.admin)  # every contact: more than one of the API's pages
    admin.goto("/app/contacts")
    everything = every_contact(console, console.admin)
    assert downloaded_ids(admin) == everything and len(everything) > 50

    view.locator("button.remove-view").click()
    expect(view).to_have_count(0)
    assert name not in {v["name"] for v in console.get("/views", console.rep, list="contacts")["items"]}
    shoot(page, "lists-contacts-view-removed")


def test_the_deals_list_filtered_by_stage_in_french_shows_what_get_deals_answers(console: Console, browse: Any) -> None:
    stage = console.board()["stages"][1]["name"]
    expected = [deal["id"] for deal in console.get("/deals", stage=stage, limit=50)["items"]]
    page = browse(console.url, console.admin, locale="fr-FR")
    page.goto("/app/deals")
    expect(page.locator("h1")).to_have_text("Affaires")
    page.locator("#list-filters select[name=stage]").select_option(stage)
    page.locator("#list-filters button[type=submit]").click()
    page.wait_for_url("**/app/deals?*stage=*")
    assert shown_ids(page) == expected != []
    expect(page.locator("#list th.col-amount")).to_have_text("Montant")
    shoot(page, "lists-deals-french")
