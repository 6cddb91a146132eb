"""The lists' CSV (SQLite and PostgreSQL): every row the filters match — more than one of the
API's pages, read page after page — with the table's columns and the API's values, in the
caller's reach, as an attachment a spreadsheet opens (UTF-8 with a byte order mark); a
forgotten person's row holds none of their old data."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_pages import World, bearer, ok, sign_in, world

from crm_es.bootstrap import Services
from crm_es.entrypoints.web import csv_download

MANY = 60  # more than the API's default page (50)


@pytest.fixture
def w(client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch) -> World:
    """The web world and MANY more contacts of Rob's, accented; the file read 7 rows at a
    time, so that it is made of many reads of the list."""
    monkeypatch.setattr(csv_download, "PAGE_SIZE", 7)
    w = world(client, services)
    for n in range(MANY):
        w.write("POST", "/contacts", {"first_name": "Hélène", "last_name": f"Dupré {n}", "email": f"h{n}@example.com",
                                      "owner_id": w.ids["rob"], "status": "lead" if n % 2 else "customer",
                                      "tags": ["Gold"] if n % 3 == 0 else [], "company_id": w.ids["company"]})
    assert services.projector.wait_for(w.position, 10)
    return w


def every_api_item(w: World, who: str, kind: str, **query: str) -> list[dict[str, Any]]:
    """GET /<kind> page after page (its default page of 50), as any client reads the whole list."""
    items, cursor = [], None
    while True:
        answer = ok(w.client.get(f"/{kind}", params={**query, **({"cursor": cursor} if cursor else {})},
                                 headers=bearer(w, who)), 200)
        items += answer["items"]
        cursor = answer["next_cursor"]
        if not cursor:
            return items


def download(w: World, path: str) -> tuple[Any, list[str], list[dict[str, str]]]:
    answer = w.client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the byte order mark
    header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))
    return answer, header, [dict(zip(header, row, strict=True)) for row in rows]


def test_the_csv_has_every_matching_row_with_the_apis_values(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    answer, header, rows = download(w, "/app/contacts.csv")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="contacts-2026-03-01.csv"'
    assert header == ["id", "Name", "E-mail", "Phone", "Company", "Status", "Owner", "Tags", "Source", "Created"]
    items = every_api_item(w, "admin", "contacts")
    assert len(items) == MANY + 3 and [r["id"] for r in rows] == [i["id"] for i in items]
    for row, item in zip(rows, items, strict=True):
        assert row["Name"] == f"{item['first_name']} {item['last_name']}" and row["E-mail"] == item["email"]
        assert (row["Status"], row["Created"], row["Company"]) == (item["status"] or "", item["created_at"], "Acme SA")
        assert row["Tags"] == ", ".join(item["tags"] or [])
    assert "Hélène Dupré 0" in {r["Name"] for r in rows}


def test_the_csv_takes_the_lists_filters_and_the_callers_reach(w: World) -> None:
    for who, kind, query in (("admin", "contacts", "status=lead&tag=Gold"), ("rob", "contacts", "q=dupr"),
                             ("mia", "deals", "stage=Contact"), ("rob", "deals", ""), ("auditor", "companies", "q=acme")):
        sign_in(w.client, w.tokens[who])
        _, _, rows = download(w, f"/app/{kind}.csv?{query}")
        params = dict(part.split("=") for part in query.split("&") if part)
        assert [r["id"] for r in rows] == [i["id"] for i in every_api_item(w, who, kind, **params)] != [], (who, kind)
    sign_in(w.client, w.tokens["rob"])
    _, _, rows = download(w, "/app/contacts.csv")
    assert w.ids["eve_contact"] not in {r["id"] for r in rows}  # East's: outside Rob's reach


def test_a_deals_csv_writes_amounts_as_decimals_beside_their_currency(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    w.client.cookies.set("crm_es_lang", "fr")
    _, header, rows = download(w, "/app/deals.csv")
    assert header[:6] == ["id", "Intitulé", "Pipeline", "Étape", "Statut", "Montant"] and "Devise" in header
    items = {i["id"]: i for i in every_api_item(w, "admin", "deals")}
    assert {r["id"] for r in rows} == set(items)
    for row in rows:
        item = items[row["id"]]
        assert (row["Montant"], row["Devise"], row["Responsable"]) == (item["amount"], item["currency"], item["owner_name"])
        assert (row["Intitulé"], row["Pipeline"], row["Étape"]) == (item["title"], "New business", "Contact")


def test_a_forgotten_persons_row_holds_none_of_their_old_data(w: World) -> None:
    w.write("POST", f"/contacts/{w.ids['rita_contact']}/forget", {}, 200)
    assert w.services.projector.wait_for(w.position, 10)
    sign_in(w.client, w.tokens["admin"])
    answer, _, rows = download(w, "/app/contacts.csv")
    [row] = [r for r in rows if r["id"] == w.ids["rita_contact"]]
    assert (row["Name"], row["E-mail"], row["Phone"]) == ("", "", "")
    assert "client.rita" not in answer.text and "Rita Client" not in answer.text


def test_a_text_a_spreadsheet_would_run_as_a_formula_is_written_inert(w: World) -> None:
    named = w.write("POST", "/contacts", {"first_name": "=HYPERLINK(\"http://evil.example\")", "last_name": "Doe",
                                          "email": "evil@example.com", "phone": "+33 6 40 71 88 18"})["id"]
    assert w.services.projector.wait_for(w.position, 10)
    sign_in(w.client, w.tokens["admin"])
    _, _, rows = download(w, "/app/contacts.csv")
    [row] = [r for r in rows if r["id"] == named]
    assert row["Name"] == "'=HYPERLINK(\"http://evil.example\") Doe" and row["Phone"] == "'+33 6 40 71 88 18"
