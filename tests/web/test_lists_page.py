"""The lists of contacts, companies and deals (SQLite and PostgreSQL): with each of the API's
filters a list shows exactly the rows GET /<list> answers for the same query, in the
caller's reach, paged as the API pages; a forgotten person shows as forgotten; a bad
filter is a 422 page naming it; saved views are offered to who may keep them."""

from __future__ import annotations

import json

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_pages import Element, World, bearer, dom, ok, sign_in, world

from crm_es.bootstrap import Services


@pytest.fixture
def w(client: TestClient, services: Services) -> World:
    """The web world, plus contacts with statuses, sources and tags, a second company with a
    sector, and a won deal."""
    w = world(client, services)
    ids = w.ids
    ids["garage"] = w.write("POST", "/companies", {"name": "Garage Hélène", "sector": "automotive"})["id"]
    for n, (owner, status, source, tags) in enumerate([("rob", "customer", "referral", ["Gold"]),
                                                       ("rob", "lead", "web form", []),
                                                       ("rita", "lead", "referral", ["Silver"]),
                                                       ("eve", "customer", "trade show", ["Gold"])]):
        ids[f"extra_{n}"] = w.write("POST", "/contacts", {
            "first_name": "Zoé", "last_name": f"Extra{n}", "email": f"extra{n}@example.com", "owner_id": ids[owner],
            "status": status, "source": source, "tags": tags, "company_id": ids["garage"]})["id"]
    ids["won_deal"] = w.write("POST", "/deals", {
        "title": "Garage tyres", "pipeline_id": ids["pipeline"], "stage": "Demo", "amount": "99.00", "currency": "EUR",
        "owner_id": ids["rob"], "company_id": ids["garage"], "source": "referral"})["id"]
    w.write("POST", f"/deals/{ids['won_deal']}/won", {}, 200)
    assert services.projector.wait_for(w.position, 10)
    return w


def api_ids(w: World, who: str, kind: str, **query: str) -> list[str]:
    return [item["id"] for item in ok(w.client.get(f"/{kind}", params=query, headers=bearer(w, who)), 200)["items"]]


def page_of(w: World, path: str, **query: str) -> Element:
    answer = w.client.get(path, params=query) if query else w.client.get(path)  # params={} would drop the path's query
    assert answer.status_code == 200, answer.text
    return dom(answer.text)


def row_ids(page: Element) -> list[str]:
    return [row.attrs["data-id"] for row in page.one("table#list").all("tr.row")]


FILTERS: list[tuple[str, dict[str, str]]] = [
    ("contacts", {}), ("contacts", {"status": "lead"}), ("contacts", {"owner": "rob"}), ("contacts", {"tag": "Gold"}),
    ("contacts", {"source": "referral"}), ("contacts", {"company": "garage"}), ("contacts", {"q": "extra1"}),
    ("contacts", {"status": "customer", "tag": "Gold"}),
    ("companies", {}), ("companies", {"sector": "automotive"}), ("companies", {"q": "acme"}),
    ("deals", {}), ("deals", {"status": "won"}), ("deals", {"stage": "Contact"}), ("deals", {"owner": "eve"}),
    ("deals", {"pipeline": "pipeline"}), ("deals", {"source": "referral"}), ("deals", {"company": "garage"}),
    ("deals", {"q": "fleet"}),
]


@pytest.mark.parametrize("who", ["admin", "rob", "mia", "auditor"])
def test_each_list_with_each_filter_shows_the_rows_the_api_answers(w: World, who: str) -> None:
    sign_in(w.client, w.tokens[who])
    for kind, named in FILTERS:
        query = {name: w.ids.get(value, value) for name, value in named.items()}
        shown = row_ids(page_of(w, f"/app/{kind}", **query))
        assert shown == api_ids(w, who, kind, **query), (kind, query)
    if who == "rob":  # his team's contacts (CRM_ES_REP_READS=team), not East's
        assert w.ids["eve_contact"] not in row_ids(page_of(w, "/app/contacts"))


def test_a_row_shows_what_a_person_reads_and_links_to_its_page(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    page = page_of(w, "/app/contacts", q="extra0")
    row = page.one(f"tr.row[data-id={w.ids['extra_0']}]")
    assert row.one("td.col-name").one("a").attrs["href"] == f"/app/contacts/{w.ids['extra_0']}"
    assert row.one("td.col-name").text == "Zoé Extra0" and row.one("td.col-company").text == "Garage Hélène"
    assert (row.one("td.col-owner").text, row.one("td.col-status").text, row.one("td.col-tags").text) == ("Rob", "customer", "Gold")
    deals = page_of(w, "/app/deals", status="won")
    deal = deals.one(f"tr.row[data-id={w.ids['won_deal']}]")
    assert deal.one("td.col-title").one("a").attrs["href"] == f"/app/deals/{w.ids['won_deal']}"
    assert deal.one("td.col-amount").attrs["data-value"] == "99.00" and deal.one("td.col-amount").text == "€99.00"
    assert (deal.one("td.col-stage").text, deal.one("td.col-pipeline").text) == ("Demo", "New business")
    company = page_of(w, "/app/companies", q="garage").one("tr.row")
    assert company.one("a").attrs["href"] == f"/app/companies/{w.ids['garage']}"
    choices = page_of(w, "/app/deals")
    assert {o.attrs["value"] for o in choices.one("select[name=stage]").all("option")} == {"", "Contact", "Demo", "Signature"}
    assert {o.text for o in choices.one("select[name=owner]").all("option")} >= {"Rob", "Rita", "Eve"}


def test_a_list_is_paged_as_the_api_pages_it(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    everything = api_ids(w, "admin", "contacts")
    seen, page = [], page_of(w, "/app/contacts", limit="2")
    while True:
        ids = row_ids(page)
        assert 1 <= len(ids) <= 2
        seen += ids
        following = page.all("a.next-page")
        if not following:
            break
        page = page_of(w, following[0].attrs["href"])
        assert page.all("a.first-page")
    assert seen == everything and len(everything) == 7
    cursor = ok(w.client.get("/contacts?limit=2", headers=bearer(w, "admin")), 200)["next_cursor"]
    assert row_ids(page_of(w, "/app/contacts", limit="2", cursor=cursor)) == api_ids(w, "admin", "contacts", limit="2", cursor=cursor)


def test_a_forgotten_person_shows_as_forgotten_never_their_old_data(w: World) -> None:
    w.write("POST", f"/contacts/{w.ids['rita_contact']}/forget", {}, 200)
    w.write("POST", f"/deals/{w.ids['rita_deal']}/stage", {"stage": "Demo"}, 200)  # her deal read again after
    assert w.services.projector.wait_for(w.position, 10)
    sign_in(w.client, w.tokens["admin"])
    contacts = w.client.get("/app/contacts").text
    row = dom(contacts).one(f"tr.row[data-id={w.ids['rita_contact']}]")
    assert "forgotten" in row.classes and row.one("td.col-name").one("a").text == "(forgotten)"
    assert row.one("td.col-email").text == "" and row.one("td.col-owner").text == "Rita"  # her rep is named Rita too
    assert "client.rita" not in contacts and "Client" not in row.text


@pytest.mark.parametrize(("query", "field"), [
    ("owner=rob", "query.owner"), ("company=12", "query.company"), ("limit=0", "query.limit"),
    ("limit=1001", "query.limit"), ("limit=ten", "query.limit"), ("cursor=not-a-cursor", "query.cursor")])
def test_a_bad_filter_is_a_422_page_naming_it(w: World, query: str, field: str) -> None:
    sign_in(w.client, w.tokens["admin"])
    for kind in ("contacts", "deals", "companies"):
        if kind == "companies" and field in ("query.owner", "query.company"):
            continue  # GET /companies takes neither (and ignores them, as the page does)
        answer = w.client.get(f"/app/{kind}?{query}")
        assert answer.status_code == 422, (kind, query)
        assert dom(answer.text).one("#problem").one(".error").attrs["data-field"] == field
        csv = w.client.get(f"/app/{kind}.csv?{query}")
        if field != "query.limit" and field != "query.cursor":  # the file has no paging
            assert csv.status_code == 422 and "text/html" in csv.headers["content-type"]


def test_an_analyst_may_not_see_the_lists(w: World) -> None:
    sign_in(w.client, w.tokens["analyst"])
    for path in ("/app/contacts", "/app/companies", "/app/deals", "/app/contacts.csv"):
        answer = w.client.get(path)
        assert answer.status_code == 403 and dom(answer.text).one("#problem").attrs["data-rule"] == "role-not-allowed"


def saved_view(w: World, who: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok(w.client.post("/views", json=body, headers=bearer(w, who)))


def test_the_callers_views_are_offered_as_links_with_their_filters(w: World) -> None:
    mine = saved_view(w, "rob", {"list": "contacts", "name": "My leads", "filters": {"status": "lead", "source": "web form"}})
    saved_view(w, "rob", {"list": "deals", "name": "Won", "filters": {"status": "won"}})
    saved_view(w, "mia", {"list": "contacts", "name": "Mia's", "filters": {}})
    sign_in(w.client, w.tokens["rob"])
    page = page_of(w, "/app/contacts", after=str(mine["position"] + 2))
    [view] = page.one("#views").all("li.view")
    assert view.attrs["data-view-id"] == mine["id"] and view.attrs["data-version"] == "1"
    link = view.one("a.open-view")
    assert link.text == "My leads" and link.attrs["href"] == "/app/contacts?status=lead&source=web+form"
    opened = page_of(w, link.attrs["href"])
    assert row_ids(opened) == api_ids(w, "rob", "contacts", status="lead", source="web form") != []
    assert opened.one("select[name=status]").one("option[selected]").attrs["value"] == "lead"
    assert page.one("form#save-view").classes >= {"write"} and view.one("button.remove-view")


def test_an_auditor_sees_the_lists_and_no_control_to_save_a_view(w: World) -> None:
    """Auditors write nothing, saved views included (auth/roles.py): no write control."""
    sign_in(w.client, w.tokens["auditor"])
    for kind in ("contacts", "companies", "deals"):
        page = page_of(w, f"/app/{kind}")
        assert not [e for e in page.walk() if "write" in e.classes] and not page.all("#save-view")
        assert row_ids(page) == api_ids(w, "auditor", kind)


def test_the_nav_names_the_lists_in_french_too(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    w.client.cookies.set("crm_es_lang", "fr")
    page = page_of(w, "/app/deals")
    nav = {a.attrs["href"]: a.text for a in page.one("header").one("nav").all("a")}
    assert nav["/app/contacts"] == "Contacts" and nav["/app/deals"] == "Affaires" and nav["/app/companies"] == "Entreprises"
    assert page.one("th.col-amount").text == "Montant"


def test_the_save_form_says_the_contacts_search_text_is_not_kept(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    searched = page_of(w, "/app/contacts", q="zo", status="lead")
    form = searched.one("form#save-view")
    assert "q" not in json.loads(form.attrs["data-kept"]) and form.all("p.not-kept")
    assert not page_of(w, "/app/contacts", status="lead").one("form#save-view").all("p.not-kept")
    assert "q" in json.loads(page_of(w, "/app/deals", q="fleet").one("form#save-view").attrs["data-kept"])
