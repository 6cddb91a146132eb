"""Any list as CSV with ``Accept: text/csv`` (SQLite and PostgreSQL): the same rows as the
JSON page, nested values as JSON in one cell, the next page in a Link header, the same
role and visibility rules, errors still problem+json."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from uuid import UUID

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from helpers import assert_problem, deal, ok, pipeline, read

from crm_es.entrypoints.http.csv_pages import wants_csv
from crm_es.auth.roles import Role
from crm_es.bootstrap import Services

CSV = {"Accept": "text/csv"}
LISTS = ["/contacts", "/companies", "/deals", "/reps", "/teams", "/pipelines"]


def rows_of(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv"), response.headers
    reader = csv.DictReader(io.StringIO(response.text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def same_cell(value: Any, text: str) -> bool:
    if isinstance(value, (list, dict)):
        return json.loads(text) == value
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    return text == str(value)


def assert_same_page(page: dict[str, Any], response: Any) -> None:
    """The CSV holds the JSON page's items: its columns, in order, and every value."""
    columns, rows = rows_of(response)
    assert len(rows) == len(page["items"])
    if page["items"]:
        assert columns == list(page["items"][0])
    for item, row in zip(page["items"], rows, strict=True):
        assert all(same_cell(item[c], row[c]) for c in columns), (item, row)
    if page["next_cursor"]:
        assert response.headers["x-next-cursor"] == page["next_cursor"]
        assert response.headers["link"].endswith('>; rel="next"')
    else:
        assert "link" not in response.headers


@pytest.fixture
def crm(client: TestClient) -> dict[str, Any]:
    """Three contacts (one with awkward text: a comma, quotes, a newline, accents), a deal
    naming two of them, reps in a team, a pipeline. Returns ids and the last position."""
    rob = ok(client.post("/reps", json={"name": "Rob", "email": "rob@example.com"}))
    eve = ok(client.post("/reps", json={"name": "Ève", "email": "eve@example.com"}))
    team = ok(client.post("/teams", json={"name": "West", "manager_id": rob["id"]}))
    ok(client.post(f"/teams/{team['id']}/members", json={"rep_id": rob["id"]}), 200)
    company = ok(client.post("/companies", json={"name": "Acme, Inc.", "properties": {"tier": 1, "hq": "Lyon"}}))
    contacts = [
        ok(client.post("/contacts", json={
            "first_name": "Zoé", "last_name": 'O"Brien', "email": f"zoe{i}@acme.example", "owner_id": owner,
            "tags": ["Gold", "a, b"], "properties": {"note": "line one\nline two", "score": 3}, "company_id": company["id"],
        }))
        for i, owner in enumerate((rob["id"], rob["id"], eve["id"]))
    ]
    p = pipeline(client)
    d = deal(client, p["id"], owner_id=rob["id"], contact_ids=[c["id"] for c in contacts[:2]])
    return {"rob": rob["id"], "eve": eve["id"], "contacts": [c["id"] for c in contacts], "position": d["position"]}


def test_every_list_answers_csv_with_the_rows_of_its_json(client: TestClient, crm: dict[str, Any]) -> None:
    for path in LISTS:
        page = read(client, path, crm["position"])
        assert page["items"], path
        assert_same_page(page, client.get(path, headers=CSV))
        # JSON stays the default, and wins when preferred.
        for accept in (None, "application/json", "application/json, text/csv;q=0.5", "*/*"):
            answer = client.get(path, headers={"Accept": accept} if accept else {})
            assert answer.headers["content-type"].startswith("application/json") and answer.json() == page, (path, accept)


def test_lists_added_later_answer_csv_too(client: TestClient, crm: dict[str, Any]) -> None:
    """Nothing to opt in to: every GET route that answers a page (those added by later
    features too) answers CSV; other answers stay JSON whatever Accept says."""
    pages = 0
    for route in iter_route_contexts(client.app.routes):
        if "GET" not in route.methods or "{" in route.path:
            continue
        answer = client.get(f"{route.path}?after={crm['position']}")
        if answer.status_code != 200 or not answer.headers["content-type"].startswith("application/json"):
            continue
        body = answer.json()
        as_csv = client.get(route.path, headers=CSV)
        if isinstance(body, dict) and set(body) == {"items", "next_cursor"}:
            pages += 1
            assert_same_page(body, as_csv)
        else:
            assert as_csv.headers["content-type"] == answer.headers["content-type"], route.path
    assert pages >= len(LISTS)


def test_awkward_values_round_trip_in_one_cell(client: TestClient, crm: dict[str, Any]) -> None:
    _, rows = rows_of(client.get(f"/contacts?after={crm['position']}", headers=CSV))
    assert {r["last_name"] for r in rows} == {'O"Brien'}
    assert all(json.loads(r["tags"]) == ["Gold", "a, b"] for r in rows)
    assert all(json.loads(r["properties"]) == {"note": "line one\nline two", "score": 3} for r in rows)
    assert all(r["first_name"] == "Zoé" for r in rows)
    _, deals = rows_of(client.get("/deals", headers=CSV))
    assert set(json.loads(deals[0]["contact_ids"])) == set(crm["contacts"][:2])


def test_pages_follow_the_link_header(client: TestClient, crm: dict[str, Any]) -> None:
    wanted = [c["id"] for c in read(client, "/contacts?limit=1000", crm["position"])["items"]]
    seen, url, pages = [], f"/contacts?limit=2&after={crm['position']}", 0
    while url:
        answer = client.get(url, headers={"Accept": "text/csv, application/json;q=0.9"})
        seen += [row["id"] for row in rows_of(answer)[1]]
        link = answer.headers.get("link")
        url = link[link.index("<") + 1:link.index(">")] if link else None
        pages += 1
    assert seen == wanted and pages == 2
    json_page = client.get("/contacts?limit=2").json()
    assert client.get("/contacts?limit=2", headers=CSV).headers["x-next-cursor"] == json_page["next_cursor"]


def test_an_empty_page_is_an_empty_csv(client: TestClient, crm: dict[str, Any]) -> None:
    answer = client.get("/contacts?q=nobody-has-this-name", headers=CSV)
    assert rows_of(answer) == ([], []) and answer.text == ""


def test_errors_stay_problems(client: TestClient, crm: dict[str, Any]) -> None:
    assert_problem(client.get("/contacts?limit=0", headers=CSV), 422, "invalid-field")
    assert_problem(client.get("/contacts?cursor=not-ours", headers=CSV), 422, "invalid-field")
    assert_problem(client.get("/deals?owner=not-a-uuid", headers=CSV), 422)


def test_a_rep_sees_in_csv_only_what_their_json_shows(client: TestClient, services: Services, crm: dict[str, Any]) -> None:
    _, admin = services.api_keys.create(Role.ADMIN, name="admin")
    _, eve = services.api_keys.create(Role.REP, UUID(crm["eve"]), "eve")
    _, analyst = services.api_keys.create(Role.ANALYST, name="analyst")
    as_eve = {"Authorization": f"Bearer {eve}"}
    for path, owned in (("/contacts", crm["contacts"][2:]), ("/deals", [])):
        page = read_as(client, path, crm["position"], as_eve)
        assert [item["id"] for item in page["items"]] == owned
        answer = client.get(path, headers={**CSV, **as_eve})
        assert_same_page(page, answer)
    everyone = client.get("/contacts", headers={**CSV, "Authorization": f"Bearer {admin}"})
    assert len(rows_of(everyone)[1]) == 3
    refused = client.get("/contacts", headers={**CSV, "Authorization": f"Bearer {analyst}"})
    assert_problem(refused, 403, "role-not-allowed")
    assert_problem(client.get("/contacts", headers=CSV), 401, "api-key-required")


def read_as(client: TestClient, path: str, position: int, headers: dict[str, str]) -> dict[str, Any]:
    return ok(client.get(f"{path}?after={position}", headers=headers), 200)


@pytest.mark.parametrize(("accept", "csv_wanted"), [
    (None, False),
    ("", False),
    ("text/csv", True),
    ("TEXT/CSV; charset=utf-8", True),
    ("text/csv, application/json", True),
    ("application/json, text/csv", False),
    ("application/json;q=0.5, text/csv", True),
    ("text/csv;q=0.5, application/json", False),
    ("text/csv, */*;q=0.8", True),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # a browser: JSON
    ("*/*", False),
    ("text/*", True),
    ("text/csv;q=0", False),
    ("text/csv;q=oops", False),
    ("application/*, text/csv", True),  # the more specific range wins a tie
])
def test_accept_negotiation(accept: str | None, csv_wanted: bool) -> None:
    assert wants_csv(accept) is csv_wanted
